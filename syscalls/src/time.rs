//! Clocks, sleeps and timers.

use crate::abi::{self, get, put};
use crate::table::{Reg, Support::*};
use sentry::kernel::cpu;
use sentry::kernel::timers::{cpu_now, Clock, Target};
use sentry::kernel::Restart;
use sentry::{Ctx, Errno, KResult};
use std::time::Duration;

pub fn register(r: &mut Reg<'_>) {
    r("clock_gettime", "ia", Full, clock_gettime);
    r("clock_getres", "ia", Full, clock_getres);
    r(
        "clock_settime",
        "ia",
        Partial("setting clocks is refused (EPERM)"),
        clock_settime,
    );
    r(
        "settimeofday",
        "aa",
        Partial("setting clocks is refused (EPERM)"),
        clock_settime,
    );
    r("gettimeofday", "aa", Full, gettimeofday);
    r("time", "a", Full, time);
    r("nanosleep", "aa", Full, nanosleep);
    r("clock_nanosleep", "ixaa", Full, clock_nanosleep);
    r("restart_syscall", "", Full, restart_syscall);
    r("alarm", "u", Full, alarm);
    r(
        "getitimer",
        "ia",
        Partial("CPU timers tick every 4 ms"),
        getitimer,
    );
    r(
        "setitimer",
        "iaa",
        Partial("CPU timers tick every 4 ms"),
        setitimer,
    );
    r(
        "timer_create",
        "iaa",
        Partial("CPU-clock timers are checked every 4 ms"),
        timer_create,
    );
    r("timer_settime", "ixaa", Full, timer_settime);
    r("timer_gettime", "ia", Full, timer_gettime);
    r("timer_getoverrun", "i", Full, timer_getoverrun);
    r("timer_delete", "i", Full, timer_delete);
    r("times", "a", Full, times);
}

/// The value of clock `id` in ns, or EINVAL.
pub fn clock_ns(ctx: &Ctx<'_, '_>, id: i32) -> KResult<i64> {
    Ok(match id {
        libc::CLOCK_REALTIME
        | libc::CLOCK_REALTIME_COARSE
        | libc::CLOCK_TAI
        | libc::CLOCK_REALTIME_ALARM => ctx.k.clock.real_ns(),
        libc::CLOCK_MONOTONIC
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_BOOTTIME
        | libc::CLOCK_BOOTTIME_ALARM => {
            // The caller's time namespace's offset.
            let off = ctx.task_ref().time_ns.offset_of(id);
            ctx.k.clock.mono_ns().saturating_add(off)
        }
        libc::CLOCK_PROCESS_CPUTIME_ID => {
            let (u, s) = cpu::process_times(&ctx.st, ctx.tgid());
            crate::abi::long(u + s)
        }
        libc::CLOCK_THREAD_CPUTIME_ID => {
            let (u, s) = cpu::thread_times(&ctx.st, ctx.tid);
            crate::abi::long(u + s)
        }
        id if id < 0 => cpu_clock_ns(ctx, id)?,
        _ => return Err(Errno::EINVAL),
    })
}

/// A CPU clock named by id (clock_getcpuclockid, pthread_getcpuclockid),
/// read now (see `cpu_timer_clock`).
fn cpu_clock_ns(ctx: &Ctx<'_, '_>, id: i32) -> KResult<i64> {
    let clock = cpu_timer_clock(ctx, id)?;
    Ok(crate::abi::long(cpu_now(&ctx.st, clock)))
}

fn clock_gettime(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let ns = clock_ns(ctx, crate::abi::int(a[0]))?;
    put(ctx, a[1], &abi::ts_of_ns(ns))?;
    Ok(0)
}

fn clock_getres(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    clock_ns(ctx, crate::abi::int(a[0]))?;
    let res: i64 = match crate::abi::int(a[0]) {
        libc::CLOCK_REALTIME_COARSE | libc::CLOCK_MONOTONIC_COARSE => 4_000_000,
        _ => 1,
    };
    if a[1] != 0 {
        put(ctx, a[1], &[0i64, res])?;
    }
    Ok(0)
}

fn clock_settime(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    // Only CLOCK_REALTIME is settable; the sandbox may not change it.
    if ctx.regs.gp.orig_rax == libc::SYS_clock_settime as u64 {
        clock_ns(ctx, crate::abi::int(a[0]))?;
        if crate::abi::int(a[0]) != libc::CLOCK_REALTIME {
            return Err(Errno::EINVAL);
        }
        abi::timespec(ctx, a[1])?;
    }
    Err(Errno::EPERM)
}

fn gettimeofday(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let ns = ctx.k.clock.real_ns();
    if a[0] != 0 {
        put(
            ctx,
            a[0],
            &[ns / 1_000_000_000, (ns % 1_000_000_000) / 1000],
        )?;
    }
    if a[1] != 0 {
        put(ctx, a[1], &[0i32, 0i32])?;
    }
    Ok(0)
}

fn time(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let s = ctx.k.clock.real_ns() / 1_000_000_000;
    if a[0] != 0 {
        put(ctx, a[0], &s)?;
    }
    Ok(crate::abi::bits(s))
}

/// Sleeps until `deadline_ns` on `clock`. On a signal, records a restart
/// block and returns ERESTART_RESTARTBLOCK (relative sleeps) or
/// ERESTARTNOHAND (absolute ones).
fn sleep_until(
    ctx: &mut Ctx<'_, '_>,
    clock: i32,
    deadline_ns: i64,
    rmtp: u64,
    absolute: bool,
) -> KResult<u64> {
    loop {
        let now = clock_ns(ctx, clock)?;
        if now >= deadline_ns {
            return Ok(0);
        }
        let when =
            sentry::kernel::time::after(Duration::from_nanos(crate::abi::bits(deadline_ns - now)));
        if ctx.block(Some(when)).is_err() {
            if absolute {
                return Err(Errno::ERESTARTNOHAND);
            }
            let left = (deadline_ns - clock_ns(ctx, clock)?).max(0);
            if rmtp != 0 {
                put(ctx, rmtp, &abi::ts_of_ns(left))?;
            }
            ctx.task().restart = Some(Restart::Sleep {
                clock,
                deadline_ns,
                rmtp,
            });
            return Err(Errno::ERESTART_RESTARTBLOCK);
        }
    }
}

fn nanosleep(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let d = abi::timespec(ctx, a[0])?;
    let deadline = clock_ns(ctx, libc::CLOCK_MONOTONIC)?.saturating_add(crate::abi::ns_of(d));
    sleep_until(ctx, libc::CLOCK_MONOTONIC, deadline, a[1], false)
}

fn clock_nanosleep(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let clock = crate::abi::int(a[0]);
    if clock == libc::CLOCK_THREAD_CPUTIME_ID {
        return Err(Errno::EINVAL);
    }
    if matches!(clock, libc::CLOCK_PROCESS_CPUTIME_ID) {
        ctx.log_once("clock_nanosleep on a CPU clock");
        return Err(Errno::EOPNOTSUPP);
    }
    // Clocks Linux reads but cannot sleep on.
    if matches!(
        clock,
        libc::CLOCK_MONOTONIC_RAW | libc::CLOCK_REALTIME_COARSE | libc::CLOCK_MONOTONIC_COARSE
    ) {
        return Err(Errno::EOPNOTSUPP);
    }
    clock_ns(ctx, clock)?;
    let d = abi::timespec(ctx, a[2])?;
    let abs = a[1] & libc::TIMER_ABSTIME as u64 != 0;
    let deadline = if abs {
        crate::abi::ns_of(d)
    } else {
        clock_ns(ctx, clock)?.saturating_add(crate::abi::ns_of(d))
    };
    sleep_until(ctx, clock, deadline, if abs { 0 } else { a[3] }, abs)
}

fn restart_syscall(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    match ctx.task().restart.take() {
        Some(Restart::Sleep {
            clock,
            deadline_ns,
            rmtp,
        }) => sleep_until(ctx, clock, deadline_ns, rmtp, false),
        None => Err(Errno::EINTR),
    }
}

/// The process's timer for setitimer `which` (REAL, VIRTUAL, PROF).
fn itimer(ctx: &mut Ctx<'_, '_>, which: i32) -> KResult<(u64, Clock)> {
    let tgid = ctx.tgid();
    let (slot, sig, clock) = match which {
        libc::ITIMER_REAL => (None, libc::SIGALRM, Clock::Wall),
        libc::ITIMER_VIRTUAL => (
            Some(0),
            libc::SIGVTALRM,
            Clock::Cpu {
                tgid,
                user_only: true,
            },
        ),
        libc::ITIMER_PROF => (
            Some(1),
            libc::SIGPROF,
            Clock::Cpu {
                tgid,
                user_only: false,
            },
        ),
        _ => return Err(Errno::EINVAL),
    };
    let existing = match slot {
        None => ctx.proc_ref().itimer_real,
        Some(i) => ctx.proc_ref().itimer_cpu[i],
    };
    if let Some(id) = existing {
        return Ok((id, clock));
    }
    let id = ctx.st.timers.create(Target::Itimer { tgid, sig }, clock);
    match slot {
        None => ctx.proc_().itimer_real = Some(id),
        Some(i) => ctx.proc_().itimer_cpu[i] = Some(id),
    }
    Ok((id, clock))
}

fn alarm(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (id, _) = itimer(ctx, libc::ITIMER_REAL)?;
    let (old, _) = ctx.st.timers.set(
        id,
        Duration::from_secs(a[0].min(u32::MAX as u64)),
        Duration::ZERO,
        0,
    );
    let mut secs = old.as_secs();
    if old.subsec_nanos() >= 500_000_000 || (secs == 0 && !old.is_zero()) {
        secs += 1;
    }
    // Linux returns an unsigned int.
    Ok(secs & u64::from(u32::MAX))
}

fn put_itimerval(ctx: &mut Ctx<'_, '_>, addr: u64, v: (Duration, Duration)) -> KResult<()> {
    let (a, b) = (abi::tv_of(v.1), abi::tv_of(v.0));
    put(ctx, addr, &[a[0], a[1], b[0], b[1]])
}

fn getitimer(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (id, clock) = itimer(ctx, crate::abi::int(a[0]))?;
    let now = cpu_now(&ctx.st, clock);
    let v = ctx.st.timers.get(id, now);
    put_itimerval(ctx, a[1], v)?;
    Ok(0)
}

fn setitimer(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (interval, value) = if a[1] != 0 {
        (abi::timeval(ctx, a[1])?, abi::timeval(ctx, a[1] + 16)?)
    } else {
        (Duration::ZERO, Duration::ZERO)
    };
    let which = crate::abi::int(a[0]);
    let (id, clock) = itimer(ctx, which)?;
    // A disarmed ITIMER_REAL keeps no interval.
    let interval = if which == libc::ITIMER_REAL && value.is_zero() {
        Duration::ZERO
    } else {
        interval
    };
    // Linux adds a tick (4 ms here) to a CPU itimer's first expiry, and
    // getitimer shows it.
    let value = if which != libc::ITIMER_REAL && !value.is_zero() {
        value.saturating_add(Duration::from_millis(4))
    } else {
        value
    };
    let now = cpu_now(&ctx.st, clock);
    let old = ctx.st.timers.set(id, value, interval, now);
    if a[2] != 0 {
        put_itimerval(ctx, a[2], old)?;
    }
    Ok(0)
}

/// POSIX timer `id` of the caller's process: its `Timers` key.
fn timer_of(ctx: &Ctx<'_, '_>, id: u64) -> KResult<(i32, u64)> {
    let id = crate::abi::int(id);
    ctx.proc_ref()
        .posix_timers
        .iter()
        .find(|(t, _)| *t == id)
        .copied()
        .ok_or(Errno::EINVAL)
}

/// The id for a process's next timer: the next unused one from its
/// counter, in 0..=INT_MAX (EAGAIN when every one is taken).
fn next_timer_id(p: &mut sentry::kernel::task::Process) -> KResult<i32> {
    for _ in 0..=p.posix_timers.len() {
        let id = p.next_timer_id & i32::MAX;
        p.next_timer_id = id.wrapping_add(1) & i32::MAX;
        if !p.posix_timers.iter().any(|(t, _)| *t == id) {
            return Ok(id);
        }
    }
    Err(Errno::EAGAIN)
}

fn timer_create(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let clock = crate::abi::int(a[0]);
    let tgid = ctx.tgid();
    let tclock = match clock {
        libc::CLOCK_REALTIME
        | libc::CLOCK_MONOTONIC
        | libc::CLOCK_BOOTTIME
        | libc::CLOCK_TAI
        | libc::CLOCK_REALTIME_ALARM
        | libc::CLOCK_BOOTTIME_ALARM => Clock::Wall,
        // Clocks Linux reads but has no timers on.
        libc::CLOCK_MONOTONIC_RAW | libc::CLOCK_REALTIME_COARSE | libc::CLOCK_MONOTONIC_COARSE => {
            return Err(Errno::EOPNOTSUPP)
        }
        libc::CLOCK_PROCESS_CPUTIME_ID => cpu_timer_clock(ctx, PROCESS_CLOCK)?,
        libc::CLOCK_THREAD_CPUTIME_ID => cpu_timer_clock(ctx, THREAD_CLOCK)?,
        id if id < 0 => cpu_timer_clock(ctx, id)?,
        _ => return Err(Errno::EINVAL),
    };
    // Each POSIX timer holds a queued signal of its own, which Linux
    // counts against the real user's RLIMIT_SIGPENDING: past it, EAGAIN.
    let (uid, limit) = {
        let p = ctx.proc_ref();
        (p.creds.ruid, p.rlimits[libc::RLIMIT_SIGPENDING as usize].0)
    };
    let held: usize = ctx
        .st
        .procs
        .values()
        .filter(|p| p.creds.ruid == uid)
        .map(|p| p.posix_timers.len())
        .sum();
    if held as u64 >= limit {
        return Err(Errno::EAGAIN);
    }
    // The id is taken before the sigevent is checked: a refused one
    // still uses it up, as on Linux.
    let ev: Option<[u8; 64]> = if a[1] != 0 {
        Some(get(ctx, a[1])?)
    } else {
        None
    };
    let uid = next_timer_id(ctx.proc_())?;
    // Linux keeps the signal number and value even of a timer that
    // sends nothing, and shows them in /proc/PID/timers.
    let (signo, value, tid, how) = if let Some(ev) = ev {
        let value = u64::from_le_bytes(ev[0..8].try_into().unwrap());
        let signo = i32::from_le_bytes(ev[8..12].try_into().unwrap());
        let how = i32::from_le_bytes(ev[12..16].try_into().unwrap());
        let tid = i32::from_le_bytes(ev[16..20].try_into().unwrap());
        let valid = || abi::signo(crate::abi::bits(i64::from(signo)));
        match how {
            libc::SIGEV_NONE => (signo, value, None, how),
            // SIGEV_THREAD is the C library's; to the kernel it is a
            // signal to the process.
            libc::SIGEV_SIGNAL | libc::SIGEV_THREAD => (valid()?, value, None, how),
            libc::SIGEV_THREAD_ID => {
                let t = ctx
                    .st
                    .tasks
                    .get(&ctx.pid_arg(tid))
                    .filter(|t| t.tgid == tgid)
                    .ok_or(Errno::EINVAL)?;
                let t = t.tid;
                (valid()?, value, Some(t), how)
            }
            _ => return Err(Errno::EINVAL),
        }
    } else {
        // No sigevent: SIGALRM to the process, its value the timer's id.
        let value = u64::from(uid.unsigned_abs());
        (libc::SIGALRM, value, None, libc::SIGEV_SIGNAL)
    };
    let key = ctx.st.timers.create(
        Target::Posix {
            tgid,
            tid,
            signo,
            value,
            id: uid,
            how,
            clockid: clock,
        },
        tclock,
    );
    ctx.proc_().posix_timers.push((uid, key));
    if let Err(e) = put(ctx, a[2], &uid) {
        ctx.st.timers.cancel(key);
        ctx.proc_().posix_timers.retain(|&(_, k)| k != key);
        return Err(e);
    }
    Ok(0)
}

fn put_itimerspec(ctx: &mut Ctx<'_, '_>, addr: u64, v: (Duration, Duration)) -> KResult<()> {
    let (a, b) = (abi::ts_of(v.1), abi::ts_of(v.0));
    put(ctx, addr, &[a[0], a[1], b[0], b[1]])
}

fn timer_settime(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (uid, id) = timer_of(ctx, a[0])?;
    // Flags other than TIMER_ABSTIME are ignored, as Linux ignores them.
    let interval = abi::timespec(ctx, a[2])?;
    let mut value = abi::timespec(ctx, a[2] + 16)?;
    if a[1] & libc::TIMER_ABSTIME as u64 != 0 && !value.is_zero() {
        let clockid = match ctx.st.timers.all.get(&id).map(|t| &t.target) {
            Some(Target::Posix { clockid, .. }) => *clockid,
            _ => libc::CLOCK_REALTIME,
        };
        let now = match ctx.st.timers.clock_of(id) {
            Clock::Wall => clock_ns(ctx, clockid)?,
            c => crate::abi::long(cpu_now(&ctx.st, c)),
        };
        let rel = crate::abi::ns_of(value).saturating_sub(now).max(1);
        value = Duration::from_nanos(crate::abi::bits(rel));
    }
    let now = cpu_now(&ctx.st, ctx.st.timers.clock_of(id));
    let old = ctx.st.timers.set(id, value, interval, now);
    // A signal still queued from before is dropped, as Linux drops it.
    let tgid = ctx.tgid();
    sentry::kernel::timers::drop_pending(&mut ctx.st, tgid, uid);
    if a[3] != 0 {
        put_itimerspec(ctx, a[3], old)?;
    }
    Ok(0)
}

fn timer_gettime(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (_, id) = timer_of(ctx, a[0])?;
    let now = cpu_now(&ctx.st, ctx.st.timers.clock_of(id));
    let v = ctx.st.timers.get(id, now);
    put_itimerspec(ctx, a[1], v)?;
    Ok(0)
}

fn timer_getoverrun(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (_, id) = timer_of(ctx, a[0])?;
    Ok(crate::abi::bits(i64::from(
        ctx.st
            .timers
            .all
            .get(&id)
            .map(|t| t.overrun_last)
            .unwrap_or(0),
    )))
}

/// glibc's names for the caller's process and thread CPU clocks.
const PROCESS_CLOCK: i32 = -6;
const THREAD_CLOCK: i32 = -2;

/// The clock of CPU clock id `id`: `~pid << 3`, bit 2 for a thread, the
/// low two bits for what it counts (0 user+system, 1 user, 2 scheduled
/// time). A thread's clock is one of the caller's process, a process's
/// any live process.
fn cpu_timer_clock(ctx: &Ctx<'_, '_>, id: i32) -> KResult<Clock> {
    let which = id & 3;
    if which == 3 {
        return Err(Errno::EINVAL);
    }
    let user_only = which == 1;
    let pid = !(id >> 3);
    if id & 4 != 0 {
        let tid = if pid == 0 { ctx.tid } else { ctx.pid_arg(pid) };
        match ctx.st.tasks.get(&tid) {
            Some(t) if t.tgid == ctx.tgid() => Ok(Clock::ThreadCpu { tid, user_only }),
            _ => Err(Errno::EINVAL),
        }
    } else {
        let tgid = if pid == 0 {
            ctx.tgid()
        } else {
            ctx.pid_arg(pid)
        };
        match ctx.st.procs.get(&tgid) {
            Some(p) if p.exit.is_none() => Ok(Clock::Cpu { tgid, user_only }),
            _ => Err(Errno::EINVAL),
        }
    }
}

fn timer_delete(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (uid, id) = timer_of(ctx, a[0])?;
    ctx.st.timers.cancel(id);
    let tgid = ctx.tgid();
    sentry::kernel::timers::drop_pending(&mut ctx.st, tgid, uid);
    ctx.proc_().posix_timers.retain(|&(_, k)| k != id);
    Ok(0)
}

fn times(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (u, s) = cpu::process_times(&ctx.st, ctx.tgid());
    let p = ctx.proc_ref();
    let tick = |ns: u64| crate::abi::long(ns / 10_000_000);
    let v = [
        tick(u),
        tick(s),
        tick(p.child_times.0),
        tick(p.child_times.1),
    ];
    if a[0] != 0 {
        put(ctx, a[0], &v)?;
    }
    Ok(crate::abi::bits(tick(crate::abi::bits(
        ctx.k.clock.mono_ns(),
    ))))
}
