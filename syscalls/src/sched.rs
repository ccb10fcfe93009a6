//! Scheduling: policies, priorities, nice values and CPU affinity, kept
//! per thread and reported back as Linux would (the host schedules the
//! sentry's threads its own way), and yielding.

use crate::abi::{get, put};
use crate::table::{Reg, Support::*};
use sentry::kernel::task::Sched;
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    r("sched_yield", "", Full, sched_yield);
    r("sched_getaffinity", "iua", Full, sched_getaffinity);
    r(
        "sched_setaffinity",
        "iua",
        Partial("recorded and reported, not enforced"),
        sched_setaffinity,
    );
    r("getcpu", "aaa", Full, getcpu);
    r("getpriority", "ii", Full, getpriority);
    r(
        "setpriority",
        "iii",
        Partial("recorded, not enforced"),
        setpriority,
    );
    r(
        "sched_setscheduler",
        "iia",
        Partial("recorded and reported, not enforced; no SCHED_DEADLINE"),
        sched_setscheduler,
    );
    r(
        "sched_setparam",
        "ia",
        Partial("recorded and reported, not enforced"),
        sched_setparam,
    );
    r("sched_getscheduler", "i", Full, sched_getscheduler);
    r(
        "sched_setattr",
        "iax",
        Partial("no SCHED_DEADLINE and no utilization clamps"),
        sched_setattr,
    );
    r("sched_getattr", "iaux", Full, sched_getattr);
    r("sched_getparam", "ia", Full, sched_getparam);
    r("sched_rr_get_interval", "ia", Full, sched_rr_get_interval);
    r("sched_get_priority_max", "i", Full, prio_max);
    r("sched_get_priority_min", "i", Full, prio_min);
}

/// The thread a sched_* call names: 0 is the caller; a negative id is
/// `negative` (EINVAL for the policy calls, ESRCH for affinity).
fn target(ctx: &Ctx<'_, '_>, pid: u64, negative: Errno) -> KResult<i32> {
    match ctx.pid_arg(crate::abi::int(pid)) {
        p if p < 0 => Err(negative),
        0 => Ok(ctx.tid),
        p if ctx.st.tasks.contains_key(&p) => Ok(p),
        _ => Err(Errno::ESRCH),
    }
}

/// Changing another thread's scheduling needs the same owner or privilege.
fn may_change(ctx: &Ctx<'_, '_>, tid: i32) -> KResult<()> {
    let me = &ctx.proc_ref().creds;
    if me.capable(sentry::kernel::creds::cap::SYS_NICE) {
        return Ok(());
    }
    let tgid = ctx.st.tasks[&tid].tgid;
    let them = &ctx.st.procs.get(&tgid).ok_or(Errno::ESRCH)?.creds;
    if me.euid == them.euid || me.euid == them.ruid {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

fn sched_setscheduler(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let policy = crate::abi::int(a[1]);
    if policy < 0 {
        return Err(Errno::EINVAL);
    }
    set_sched(ctx, a[0], Some(policy), a[2])
}

fn sched_setparam(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set_sched(ctx, a[0], None, a[1])
}

/// sched_setscheduler (a policy) and sched_setparam (None: keep it).
fn set_sched(ctx: &mut Ctx<'_, '_>, pid: u64, policy: Option<i32>, param: u64) -> KResult<u64> {
    if param == 0 || crate::abi::int(pid) < 0 {
        return Err(Errno::EINVAL);
    }
    let prio: i32 = get(ctx, param)?;
    let tid = target(ctx, pid, Errno::EINVAL)?;
    apply_sched(ctx, tid, policy, prio)
}

/// Sets task `tid`'s policy (with SCHED_RESET_ON_FORK; None: keep it)
/// and real-time priority, as Linux checks them.
fn apply_sched(ctx: &mut Ctx<'_, '_>, tid: i32, policy: Option<i32>, prio: i32) -> KResult<u64> {
    let cur = ctx.st.tasks[&tid].sched.clone();
    let (policy, reset) = match policy {
        Some(p) => (
            p & !libc::SCHED_RESET_ON_FORK,
            p & libc::SCHED_RESET_ON_FORK != 0,
        ),
        None => (cur.policy, cur.reset_on_fork),
    };
    let rt = matches!(policy, libc::SCHED_FIFO | libc::SCHED_RR);
    if !rt
        && !matches!(
            policy,
            libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE
        )
    {
        // SCHED_DEADLINE needs sched_setattr's parameters.
        return Err(Errno::EINVAL);
    }
    if !(0..=99).contains(&prio) || rt != (prio != 0) {
        return Err(Errno::EINVAL);
    }
    may_change(ctx, tid)?;
    let p = ctx.proc_ref();
    if !p.creds.capable(sentry::kernel::creds::cap::SYS_NICE) {
        let rtprio = p.rlimits[libc::RLIMIT_RTPRIO as usize].0;
        let prio_u = u64::from(prio.unsigned_abs());
        if rt && ((policy != cur.policy && rtprio == 0) || (prio > cur.priority && prio_u > rtprio))
        {
            return Err(Errno::EPERM);
        }
        // Only privilege clears SCHED_RESET_ON_FORK.
        if cur.reset_on_fork && !reset {
            return Err(Errno::EPERM);
        }
    }
    let t = ctx.st.tasks.get_mut(&tid).ok_or(Errno::ESRCH)?;
    t.sched = Sched {
        policy,
        priority: prio,
        reset_on_fork: reset,
        affinity: std::mem::take(&mut t.sched.affinity),
    };
    Ok(0)
}

fn sched_getscheduler(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let tid = target(ctx, a[0], Errno::EINVAL)?;
    let s = &ctx.st.tasks[&tid].sched;
    let flag = if s.reset_on_fork {
        libc::SCHED_RESET_ON_FORK
    } else {
        0
    };
    Ok(crate::abi::bits(i64::from(s.policy | flag)))
}

fn sched_getparam(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[1] == 0 || crate::abi::int(a[0]) < 0 {
        return Err(Errno::EINVAL);
    }
    let tid = target(ctx, a[0], Errno::EINVAL)?;
    let prio = ctx.st.tasks[&tid].sched.priority;
    put(ctx, a[1], &prio)?;
    Ok(0)
}

fn sched_rr_get_interval(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let tid = target(ctx, a[0], Errno::EINVAL)?;
    // Linux's defaults: 100 ms for SCHED_RR, none for SCHED_FIFO, and a
    // tick (4 ms at HZ=250) for the fair policies.
    let ns: i64 = match ctx.st.tasks[&tid].sched.policy {
        libc::SCHED_RR => 100_000_000,
        libc::SCHED_FIFO => 0,
        _ => 4_000_000,
    };
    put(ctx, a[1], &[ns / 1_000_000_000, ns % 1_000_000_000])?;
    Ok(0)
}

/// Bytes of a CPU mask (the kernel's cpumask_size()).
fn mask_bytes() -> usize {
    ncpu().div_ceil(64) * 8
}

fn sched_getaffinity(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let len = crate::abi::size(a[1]);
    if len.saturating_mul(8) < ncpu() || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let tid = target(ctx, a[0], Errno::ESRCH)?;
    let mut m = vec![0u8; mask_bytes()];
    let set = &ctx.st.tasks[&tid].sched.affinity;
    for c in 0..ncpu() {
        if set.is_empty() || set[c / 8] >> (c % 8) & 1 != 0 {
            m[c / 8] |= 1 << (c % 8);
        }
    }
    m.truncate(len);
    ctx.mm.write(a[2], &m)?;
    Ok(m.len() as u64)
}

fn sched_setaffinity(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    // Shorter masks are zero-extended, longer ones cut to the CPUs there are.
    let n = crate::abi::size(a[1]).min(mask_bytes());
    let mut m = sentry::mm::read_vec(&ctx.mm, a[2], n)?;
    m.resize(mask_bytes(), 0);
    let tid = target(ctx, a[0], Errno::ESRCH)?;
    may_change(ctx, tid)?;
    for c in ncpu()..m.len() * 8 {
        m[c / 8] &= !(1 << (c % 8));
    }
    if m.iter().all(|&b| b == 0) {
        return Err(Errno::EINVAL);
    }
    ctx.st
        .tasks
        .get_mut(&tid)
        .ok_or(Errno::ESRCH)?
        .sched
        .affinity = m;
    Ok(0)
}

fn sched_yield(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    parking_lot::MutexGuard::unlocked(&mut ctx.st, std::thread::yield_now);
    Ok(0)
}

fn ncpu() -> usize {
    sentry::fs::proc::ncpu()
}

fn getcpu(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let cpu = sentry::kernel::cpu::current_cpu();
    if a[0] != 0 {
        put(ctx, a[0], &cpu)?;
    }
    if a[1] != 0 {
        put(ctx, a[1], &0u32)?;
    }
    Ok(0)
}

/// The processes a *priority call names.
pub(crate) fn prio_targets(ctx: &Ctx<'_, '_>, which: u64, who: u64) -> KResult<Vec<i32>> {
    let who = crate::abi::int(who);
    let v: Vec<i32> = match crate::abi::uint(which) {
        // Process and group ids are the caller's namespace's.
        libc::PRIO_PROCESS => {
            if who == 0 {
                vec![ctx.tgid()]
            } else {
                let g = ctx.pid_arg(who);
                vec![ctx.st.tasks.get(&g).map(|t| t.tgid).ok_or(Errno::ESRCH)?]
            }
        }
        libc::PRIO_PGRP => {
            let g = if who == 0 {
                ctx.proc_ref().pgid
            } else {
                ctx.pid_arg(who)
            };
            crate::abi::group_members(ctx, g)
        }
        libc::PRIO_USER => {
            let u = if who == 0 {
                ctx.proc_ref().creds.ruid
            } else {
                crate::abi::ubits(who)
            };
            ctx.st
                .procs
                .iter()
                .filter(|(_, p)| p.creds.ruid == u && p.exit.is_none())
                .map(|(&k, _)| k)
                .collect()
        }
        _ => return Err(Errno::EINVAL),
    };
    if v.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(v)
}

fn getpriority(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let t = prio_targets(ctx, a[0], a[1])?;
    let best = t.iter().map(|p| ctx.st.procs[p].nice).min().unwrap_or(0);
    // The raw syscall returns 20 - nice so that it is never negative.
    Ok(crate::abi::bits(i64::from(20 - best)))
}

fn setpriority(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let t = prio_targets(ctx, a[0], a[1])?;
    let nice = (crate::abi::int(a[2])).clamp(-20, 19);
    let me = ctx.proc_ref().creds.clone();
    let privileged = me.capable(sentry::kernel::creds::cap::SYS_NICE);
    for p in t {
        let pr = ctx.st.procs.get_mut(&p).unwrap();
        // Another user's process takes CAP_SYS_NICE (set_one_prio).
        let theirs = pr.creds.ruid != me.euid && pr.creds.euid != me.euid;
        if theirs && !me.capable_in(&pr.creds.userns, sentry::kernel::creds::cap::SYS_NICE) {
            return Err(Errno::EPERM);
        }
        if nice < pr.nice && !privileged {
            return Err(Errno::EACCES);
        }
        pr.nice = nice;
    }
    ctx.log_once("setpriority (nice values are recorded, not enforced)");
    Ok(0)
}

fn prio_max(_ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    match crate::abi::int(a[0]) {
        libc::SCHED_FIFO | libc::SCHED_RR => Ok(99),
        // SCHED_DEADLINE (6) has no priorities either.
        libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE | 6 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

fn prio_min(_ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    match crate::abi::int(a[0]) {
        libc::SCHED_FIFO | libc::SCHED_RR => Ok(1),
        // SCHED_DEADLINE (6) has no priorities either.
        libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE | 6 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// `struct sched_attr` as far as this kernel knows it (SCHED_ATTR_SIZE_VER1).
const ATTR_SIZE: u32 = 56;
const ATTR_SIZE_VER0: u32 = 48;
const FLAG_RESET_ON_FORK: u64 = 0x01;
const FLAG_KEEP_POLICY: u64 = 0x08;
const FLAG_KEEP_PARAMS: u64 = 0x10;
const FLAG_UTIL_CLAMP: u64 = 0x20 | 0x40;
const FLAGS_KNOWN: u64 = 0x7f;

fn sched_getattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let size = crate::abi::uint(a[2]);
    if a[1] == 0 || crate::abi::int(a[0]) < 0 || a[3] != 0 {
        return Err(Errno::EINVAL);
    }
    if !(ATTR_SIZE_VER0..=4096).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let tid = target(ctx, a[0], Errno::EINVAL)?;
    let s = ctx.st.tasks[&tid].sched.clone();
    let nice = ctx.st.procs[&ctx.st.tasks[&tid].tgid].nice;
    let n = size.min(ATTR_SIZE);
    let mut out = Vec::with_capacity(64);
    out.extend(n.to_ne_bytes());
    out.extend(s.policy.cast_unsigned().to_ne_bytes());
    out.extend(u64::from(s.reset_on_fork).to_ne_bytes());
    out.extend(nice.to_ne_bytes());
    out.extend(s.priority.cast_unsigned().to_ne_bytes());
    // No deadline parameters and no utilization clamps (Linux built
    // without them reports zeros); a larger buffer is zero-filled.
    out.resize(crate::abi::usize_of(u64::from(size)), 0);
    ctx.mm.write(a[1], &out)?;
    Ok(0)
}

fn sched_setattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[1] == 0 || crate::abi::int(a[0]) < 0 || a[2] != 0 {
        return Err(Errno::EINVAL);
    }
    let mut size: u32 = get(ctx, a[1])?;
    if size == 0 {
        size = ATTR_SIZE_VER0;
    }
    let too_big = |ctx: &mut Ctx<'_, '_>| {
        // Linux tells the caller the size it knows.
        let _ = put(ctx, a[1], &ATTR_SIZE);
        Err(Errno::E2BIG)
    };
    if !(ATTR_SIZE_VER0..=4096).contains(&size) {
        return too_big(ctx);
    }
    let raw = sentry::mm::read_vec(&ctx.mm, a[1], crate::abi::usize_of(u64::from(size)))?;
    if raw
        .get(56..)
        .is_some_and(|rest| rest.iter().any(|&b| b != 0))
    {
        return too_big(ctx);
    }
    let word = |at: usize| u32::from_ne_bytes(raw[at..at + 4].try_into().unwrap_or_default());
    let policy = word(4).cast_signed();
    let flags = u64::from_ne_bytes(raw[8..16].try_into().unwrap_or_default());
    let nice = word(16).cast_signed();
    let prio = word(20).cast_signed();
    if flags & !FLAGS_KNOWN != 0 || policy < 0 {
        return Err(Errno::EINVAL);
    }
    if flags & FLAG_UTIL_CLAMP != 0 {
        ctx.log_once("sched_setattr utilization clamps");
        return Err(Errno::EOPNOTSUPP);
    }
    if policy == 6 {
        ctx.log_once("SCHED_DEADLINE");
        return Err(Errno::EINVAL);
    }
    let tid = target(ctx, a[0], Errno::ESRCH)?;
    let cur = ctx.st.tasks[&tid].sched.clone();
    // KEEP_POLICY is sched_setparam's path: the policy and its
    // reset-on-fork stay.
    let (policy, reset) = if flags & FLAG_KEEP_POLICY != 0 {
        (cur.policy, cur.reset_on_fork)
    } else {
        (policy, flags & FLAG_RESET_ON_FORK != 0)
    };
    let with_reset = policy | if reset { libc::SCHED_RESET_ON_FORK } else { 0 };
    if flags & FLAG_KEEP_PARAMS != 0 {
        // Checked as a change, but only reset-on-fork is applied.
        apply_sched(ctx, tid, Some(with_reset), prio)?;
        let t = ctx.st.tasks.get_mut(&tid).ok_or(Errno::ESRCH)?;
        t.sched = Sched {
            reset_on_fork: reset,
            ..cur
        };
        return Ok(0);
    }
    apply_sched(ctx, tid, Some(with_reset), prio)?;
    // The fair policies take their nice value too.
    if !matches!(policy, libc::SCHED_FIFO | libc::SCHED_RR) {
        let nice = nice.clamp(-20, 19);
        let tgid = ctx.st.tasks[&tid].tgid;
        let privileged = ctx
            .proc_ref()
            .creds
            .capable(sentry::kernel::creds::cap::SYS_NICE);
        let p = ctx.st.procs.get_mut(&tgid).ok_or(Errno::ESRCH)?;
        if nice < p.nice && !privileged {
            return Err(Errno::EPERM);
        }
        p.nice = nice;
    }
    Ok(0)
}
