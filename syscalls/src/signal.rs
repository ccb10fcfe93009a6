//! Signal system calls.

use crate::abi::{self, get, put};
use crate::table::{Reg, Support::*};
use sentry::kernel::signal::{
    self as ksig, bit, restore_frame, InfoKind, SigAction, SigInfo, SS_DISABLE, SS_ONSTACK,
};
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    r("rt_sigaction", "iaau", Full, rt_sigaction);
    r("rt_sigprocmask", "iaau", Full, rt_sigprocmask);
    r("rt_sigreturn", "", Full, rt_sigreturn);
    r("rt_sigpending", "au", Full, rt_sigpending);
    r("rt_sigsuspend", "au", Full, rt_sigsuspend);
    r("rt_sigtimedwait", "aaau", Full, rt_sigtimedwait);
    r("rt_sigqueueinfo", "iia", Full, rt_sigqueueinfo);
    r("rt_tgsigqueueinfo", "iiia", Full, rt_tgsigqueueinfo);
    r("kill", "ii", Full, kill);
    r("tkill", "ii", Full, tkill);
    r("tgkill", "iii", Full, tgkill);
    r("pause", "", Full, pause);
    r("sigaltstack", "aa", Full, sigaltstack);
}

fn rt_sigaction(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let h = ctx.proc_ref().sighand.clone();
    if let Some(sig) = sigaction_in(&ctx.mm, &h, a, false)? {
        // Setting a signal to be ignored discards it where pending.
        let threads = ctx.proc_ref().threads.clone();
        ctx.proc_().shared_pending.remove(bit(sig));
        for t in threads {
            if let Some(t) = ctx.st.tasks.get_mut(&t) {
                t.pending.remove(bit(sig));
            }
        }
    }
    Ok(0)
}

/// rt_sigaction(2) on the actions `h`, arguments in `mm`. Some(signal)
/// when the new action ignores it: its pending instances are the
/// caller's to discard, under the kernel lock; without it (`lock_free`)
/// such a change answers NEEDLOCK before anything is done.
/// The sa_flags Linux keeps: NOCLDSTOP, NOCLDWAIT, SIGINFO,
/// EXPOSE_TAGBITS, RESTORER, ONSTACK, RESTART, NODEFER, RESETHAND.
const UAPI_SA_FLAGS: u64 =
    0x1 | 0x2 | 0x4 | 0x800 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x4000_0000 | 0x8000_0000;

pub(crate) fn sigaction_in(
    mm: &sentry::mm::Mm,
    h: &parking_lot::Mutex<[SigAction; 64]>,
    a: [u64; 6],
    lock_free: bool,
) -> KResult<Option<i32>> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let sig = abi::signo(a[0])?;
    let new = if a[1] != 0 {
        let v: [u64; 4] = sentry::mm::read_obj(mm, a[1])?;
        if sig == ksig::SIGKILL || sig == ksig::SIGSTOP {
            return Err(Errno::EINVAL);
        }
        Some(SigAction {
            handler: v[0],
            // Unknown flags are dropped, so programs can probe for them.
            flags: v[1] & UAPI_SA_FLAGS,
            restorer: v[2],
            mask: v[3] & !ksig::UNBLOCKABLE,
        })
    } else {
        None
    };
    let ignores = new.is_some_and(|n| {
        n.handler == ksig::SIG_IGN
            || (n.handler == ksig::SIG_DFL && ksig::default_action(sig) == ksig::Default_::Ign)
    });
    if ignores && lock_free {
        return Err(Errno::NEEDLOCK);
    }
    // `sig` was checked to be 1..=64.
    let slot = usize::try_from(sig - 1).map_err(|_| Errno::EINVAL)?;
    let old = h.lock()[slot];
    if a[2] != 0 {
        sentry::mm::write_obj(mm, a[2], &[old.handler, old.flags, old.restorer, old.mask])?;
    }
    if let Some(n) = new {
        h.lock()[slot] = n;
    }
    Ok(ignores.then_some(sig))
}

fn rt_sigprocmask(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let mask = ctx.task_ref().sig_mask.clone();
    sigprocmask_in(&ctx.mm, &mask, a, false).map(|()| 0)
}

/// rt_sigprocmask(2) on the caller's `mask`, arguments in `mm`. Without
/// the kernel lock (`lock_free`) a change that unblocks a signal answers
/// NEEDLOCK before anything is done: one may be pending, and is then
/// delivered on the locked return.
pub(crate) fn sigprocmask_in(
    mm: &sentry::mm::Mm,
    mask: &ksig::SigMask,
    a: [u64; 6],
    lock_free: bool,
) -> KResult<()> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let old = mask.get();
    if a[1] != 0 {
        let set: u64 = sentry::mm::read_obj(mm, a[1])?;
        let new = match crate::abi::int(a[0]) {
            libc::SIG_BLOCK => old | set,
            libc::SIG_UNBLOCK => old & !set,
            libc::SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        } & !ksig::UNBLOCKABLE;
        if lock_free && old & !new != 0 {
            return Err(Errno::NEEDLOCK);
        }
        mask.set(new);
    }
    if a[2] != 0 {
        sentry::mm::write_obj(mm, a[2], &old)?;
    }
    Ok(())
}

fn rt_sigreturn(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    let mm = ctx.mm.clone();
    ctx.no_return = true;
    let rsp = ctx.regs.gp.rsp;
    match restore_frame(&mm, ctx.regs) {
        Ok((mask, alt)) => {
            let t = ctx.task();
            t.sig_mask.set(mask);
            if let Some(alt) = alt {
                // As sigaltstack(2): not while running on the current one
                // (a handler that set a new stack it is on keeps that).
                if !ksig::on_alt_stack(rsp, t.alt_stack) {
                    t.alt_stack = (alt.0, alt.1, alt.2 & (SS_DISABLE | ksig::SS_AUTODISARM));
                }
            }
            Ok(0)
        }
        Err(_) => {
            let tid = ctx.tid;
            sentry::kernel::lifecycle::force_signal(
                &mut ctx.st,
                tid,
                SigInfo::user(libc::SIGSEGV, ksig::SI_KERNEL, 0, 0),
            );
            Ok(0)
        }
    }
}

fn rt_sigpending(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    // Any size up to the set's is accepted, and that much written.
    if a[1] > 8 {
        return Err(Errno::EINVAL);
    }
    let t = ctx.task_ref();
    let set = (t.pending.set | ctx.proc_ref().shared_pending.set) & t.sig_mask.get();
    let bytes = set.to_le_bytes();
    ctx.mm.write(a[0], &bytes[..sentry::num::usize_of(a[1])])?;
    Ok(0)
}

fn rt_sigsuspend(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[1] != 8 {
        return Err(Errno::EINVAL);
    }
    let m: u64 = get(ctx, a[0])?;
    let t = ctx.task();
    t.saved_mask = Some(t.sig_mask.get());
    t.sig_mask.set(m & !ksig::UNBLOCKABLE);
    loop {
        if ctx.block(None).is_err() {
            return Err(Errno::ERESTARTNOHAND);
        }
    }
}

fn pause(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    loop {
        if ctx.block(None).is_err() {
            return Err(Errno::ERESTARTNOHAND);
        }
    }
}

fn take_in(ctx: &mut Ctx<'_, '_>, set: u64) -> Option<SigInfo> {
    let (tid, tgid) = (ctx.tid, ctx.tgid());
    ksig::dequeue(&mut ctx.st, tid, tgid, !set)
}

fn rt_sigtimedwait(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let set: u64 = get::<u64>(ctx, a[0])? & !ksig::UNBLOCKABLE;
    let deadline = if a[2] != 0 {
        Some(sentry::kernel::time::after(abi::timespec(ctx, a[2])?))
    } else {
        None
    };
    // Signals being waited for must not interrupt the wait as "pending".
    let old = ctx.task_ref().sig_mask.get();
    ctx.task().sig_mask.set(old | set);
    let r = loop {
        // Every signal posted to the process notifies its signal queue,
        // whichever thread it was aimed at.
        let q = ctx.proc_ref().signal_wq.clone();
        let mut w = ctx.wait_start();
        w.on(&q, sentry::kernel::waitq::EV_IN);
        if let Some(info) = take_in(ctx, set) {
            break Ok(info);
        }
        match ctx.sleep(&w, deadline) {
            Ok(false) => {
                if let Some(info) = take_in(ctx, set) {
                    break Ok(info);
                }
                break Err(Errno::EAGAIN);
            }
            Ok(true) => {}
            Err(_) => {
                if let Some(info) = take_in(ctx, set) {
                    break Ok(info);
                }
                break Err(Errno::EINTR);
            }
        }
    };
    ctx.task().sig_mask.set(old);
    let info = r?;
    if a[1] != 0 {
        put(ctx, a[1], &info.to_bytes())?;
    }
    Ok(crate::abi::bits(i64::from(info.signo)))
}

pub(crate) fn sender(ctx: &Ctx<'_, '_>, sig: i32, code: i32) -> SigInfo {
    SigInfo::user(sig, code, ctx.tgid(), ctx.proc_ref().creds.ruid)
}

/// Whether the caller may signal process `tgid` (Linux's
/// check_kill_permission): its own group, a matching real or effective
/// uid against the target's real or saved one, CAP_KILL, or SIGCONT in
/// its own session.
pub(crate) fn may_signal(ctx: &Ctx<'_, '_>, tgid: i32, sig: i32) -> bool {
    if tgid == ctx.tgid() {
        return true;
    }
    let me = ctx.proc_ref();
    let Some(them) = ctx.st.procs.get(&tgid) else {
        return false;
    };
    let (c, t) = (&me.creds, &them.creds);
    [c.euid, c.ruid]
        .iter()
        .any(|u| *u == t.suid || *u == t.ruid)
        || c.capable_in(&t.userns, sentry::kernel::creds::cap::KILL)
        || (sig == libc::SIGCONT && them.sid == me.sid)
}

fn kill(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (pid, sig) = (crate::abi::int(a[0]), a[1]);
    if sig > 64 {
        return Err(Errno::EINVAL);
    }
    let sig = crate::abi::int(sig);
    let me = ctx.tgid();
    // Zombies count as targets (the signal is lost on them) until they
    // are reaped.
    let in_group = |ctx: &Ctx<'_, '_>, g: i32| -> Vec<i32> {
        ctx.st
            .procs
            .iter()
            .filter(|(_, p)| p.pgid == g)
            .map(|(&k, _)| k)
            .collect()
    };
    // Ids are the caller's namespace's; -1 reaches those it sees but its
    // namespace's init and itself.
    let ns = ctx.task_ref().pid_ns.clone();
    let targets: Vec<i32> = match pid {
        p if p > 0 => match ns.global(p) {
            Some(g) if ctx.st.tasks.contains_key(&g) => vec![ctx.st.tasks[&g].tgid],
            Some(g) if ctx.st.procs.contains_key(&g) => vec![g],
            _ => return Err(Errno::ESRCH),
        },
        0 => in_group(ctx, ctx.proc_ref().pgid),
        -1 => ctx
            .st
            .procs
            .iter()
            .filter(|(&k, p)| ns.vnr(k) > 1 && k != me && p.exit.is_none())
            .map(|(&k, _)| k)
            .collect(),
        p => match ns.global(p.wrapping_neg()) {
            Some(g) => in_group(ctx, g),
            None => Vec::new(),
        },
    };
    if targets.is_empty() {
        return Err(Errno::ESRCH);
    }
    // A group: those it may signal, EPERM if none; everyone (-1): 0 even
    // when each one refused, as Linux.
    let targets: Vec<i32> = targets
        .into_iter()
        .filter(|&t| may_signal(ctx, t, sig))
        .collect();
    if targets.is_empty() {
        return if pid == -1 { Ok(0) } else { Err(Errno::EPERM) };
    }
    if sig == 0 {
        return Ok(0);
    }
    let info = sender(ctx, sig, ksig::SI_USER);
    for t in targets {
        let live = ctx.st.procs.get(&t).is_some_and(|p| p.exit.is_none());
        if live && !ksig::init_protected(&ctx.st, me, t, sig, None) {
            ksig::send_to_process(&mut ctx.st, t, info);
        }
    }
    Ok(0)
}

fn thread_kill(ctx: &mut Ctx<'_, '_>, tgid: Option<i32>, tid: i32, sig: u64) -> KResult<u64> {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) || sig > 64 {
        return Err(Errno::EINVAL);
    }
    let tid = ctx.find_pid(tid).ok_or(Errno::ESRCH)?;
    let tgid = match tgid {
        Some(g) => Some(ctx.find_pid(g).ok_or(Errno::ESRCH)?),
        None => None,
    };
    let Some(t) = ctx.st.tasks.get(&tid) else {
        // A process's leader that is gone while its process is still
        // there (a zombie, or a leader that left its other threads) is
        // still a task to Linux: the signal is taken and comes to nothing.
        let leader = ctx.st.procs.contains_key(&tid) && tgid.is_none_or(|g| g == tid);
        if leader && may_signal(ctx, tid, crate::abi::int(sig)) {
            return Ok(0);
        }
        return Err(if leader { Errno::EPERM } else { Errno::ESRCH });
    };
    if tgid.is_some_and(|g| g != t.tgid) {
        return Err(Errno::ESRCH);
    }
    if !may_signal(ctx, t.tgid, crate::abi::int(sig)) {
        return Err(Errno::EPERM);
    }
    if sig == 0 {
        return Ok(0);
    }
    let info = sender(ctx, crate::abi::int(sig), ksig::SI_TKILL);
    if !ksig::init_protected(&ctx.st, ctx.tgid(), t.tgid, crate::abi::int(sig), Some(tid)) {
        ksig::send_to_thread(&mut ctx.st, tid, info);
    }
    Ok(0)
}
fn tkill(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    thread_kill(ctx, None, crate::abi::int(a[0]), a[1])
}
fn tgkill(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    thread_kill(
        ctx,
        Some(crate::abi::int(a[0])),
        crate::abi::int(a[1]),
        a[2],
    )
}

/// The siginfo a queueing call passes for `sig`, in Linux's order of
/// errors: the copy (EFAULT), then a caller posing as the kernel or as
/// kill(2) to a thread not itself (`to_self`: the target is the calling
/// thread; EPERM otherwise).
/// The target's lookup (ESRCH) and the signal number (EINVAL) come after.
pub(crate) fn queue_info(
    ctx: &mut Ctx<'_, '_>,
    to_self: bool,
    sig: u64,
    addr: u64,
) -> KResult<SigInfo> {
    let raw: [u8; 128] = get(ctx, addr)?;
    let mut info = SigInfo::from_bytes(&raw);
    info.signo = crate::abi::int(sig);
    info.kind = InfoKind::Queue;
    if (info.code >= 0 || info.code == ksig::SI_TKILL) && !to_self {
        return Err(Errno::EPERM);
    }
    Ok(info)
}

/// A sender the target's PID namespace cannot see (it is in an ancestor)
/// shows as pid 0, whatever its siginfo said, as Linux's send_signal.
pub(crate) fn hide_sender(ctx: &Ctx<'_, '_>, tgid: i32, info: &mut SigInfo) {
    let me = ctx.tgid();
    if ctx
        .st
        .procs
        .get(&tgid)
        .is_some_and(|p| p.pid_ns.local(me).is_none())
    {
        info.pid = 0;
    }
}

/// A queued realtime signal past the target's RLIMIT_SIGPENDING.
pub(crate) fn over_limit(ctx: &Ctx<'_, '_>, tgid: i32, info: &SigInfo) -> KResult<()> {
    if info.signo >= 32 && info.code != ksig::SI_USER && !ksig::may_queue(&ctx.st, tgid) {
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

fn valid_sig(sig: u64) -> KResult<()> {
    if sig > 64 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

fn rt_sigqueueinfo(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let pid = crate::abi::int(a[0]);
    let mut info = queue_info(ctx, pid == ctx.task_ref().vtid, a[1], a[2])?;
    let tgid = ctx
        .find_pid(pid)
        .and_then(|g| ctx.st.tasks.get(&g))
        .map(|t| t.tgid)
        .ok_or(Errno::ESRCH)?;
    valid_sig(a[1])?;
    if !may_signal(ctx, tgid, info.signo) {
        return Err(Errno::EPERM);
    }
    over_limit(ctx, tgid, &info)?;
    hide_sender(ctx, tgid, &mut info);
    if info.signo != 0 && !ksig::init_protected(&ctx.st, ctx.tgid(), tgid, info.signo, None) {
        ksig::send_to_process(&mut ctx.st, tgid, info);
    }
    Ok(0)
}
fn rt_tgsigqueueinfo(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (tgid, tid) = (crate::abi::int(a[0]), crate::abi::int(a[1]));
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let mut info = queue_info(ctx, tid == ctx.task_ref().vtid, a[2], a[3])?;
    let (tgid, tid) = match (ctx.find_pid(tgid), ctx.find_pid(tid)) {
        (Some(g), Some(t)) => (g, t),
        _ => return Err(Errno::ESRCH),
    };
    let t = ctx
        .st
        .tasks
        .get(&tid)
        .filter(|t| t.tgid == tgid)
        .ok_or(Errno::ESRCH)?;
    let tg = t.tgid;
    valid_sig(a[2])?;
    if !may_signal(ctx, tg, info.signo) {
        return Err(Errno::EPERM);
    }
    over_limit(ctx, tg, &info)?;
    hide_sender(ctx, tg, &mut info);
    if info.signo != 0 && !ksig::init_protected(&ctx.st, ctx.tgid(), tg, info.signo, Some(tid)) {
        ksig::send_to_thread(&mut ctx.st, tid, info);
    }
    Ok(0)
}

const MINSIGSTKSZ: u64 = 2048;

fn sigaltstack(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let rsp = ctx.regs.gp.rsp;
    let cur = ctx.task_ref().alt_stack;
    let on = ksig::on_alt_stack(rsp, cur);
    if a[0] != 0 {
        let ss: [u64; 3] = get(ctx, a[0])?;
        let flags = crate::abi::int(ss[1]);
        if on {
            return Err(Errno::EPERM);
        }
        let mode = flags & !ksig::SS_AUTODISARM;
        if mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK {
            return Err(Errno::EINVAL);
        }
        if mode == SS_DISABLE {
            ctx.task().alt_stack = (0, 0, SS_DISABLE);
        } else {
            if ss[2] < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            ctx.task().alt_stack = (ss[0], ss[2], flags & ksig::SS_AUTODISARM);
        }
    }
    if a[1] != 0 {
        let flags = if cur.2 & SS_DISABLE != 0 {
            SS_DISABLE
        } else if on {
            SS_ONSTACK
        } else {
            0
        } | (cur.2 & ksig::SS_AUTODISARM);
        put(ctx, a[1], &[cur.0, u64::from(flags.cast_unsigned()), cur.1])?;
    }
    Ok(0)
}
