//! pidfd_open, pidfd_send_signal and pidfd_getfd (a pidfd's own file is
//! `sentry::fs::pidfd`; CLONE_PIDFD is clone's, waitid's P_PIDFD
//! waitid's).

use crate::abi;
use crate::table::{Reg, Support::*};
use sentry::fs::pidfd::PidFd;
use sentry::kernel::signal as ksig;
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    r("pidfd_open", "iu", Full, pidfd_open);
    r("pidfd_send_signal", "iiax", Full, pidfd_send_signal);
    r("pidfd_getfd", "iix", Full, pidfd_getfd);
}

/// PIDFD_NONBLOCK (O_NONBLOCK) and PIDFD_THREAD (O_EXCL).
const PIDFD_NONBLOCK: u32 = 0o4000;
const PIDFD_THREAD: u32 = 0o200;

fn pidfd_open(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (pid, flags) = (abi::int(a[0]), abi::uint(a[1]));
    if flags & !(PIDFD_NONBLOCK | PIDFD_THREAD) != 0 || pid <= 0 {
        return Err(Errno::EINVAL);
    }
    let nonblock = flags & PIDFD_NONBLOCK != 0;
    let pid = ctx.find_pid(pid).ok_or(Errno::ESRCH)?;
    let t = ctx.st.tasks.get(&pid);
    let p = ctx.st.procs.get(&pid);
    let f = match (t, p) {
        // PIDFD_THREAD: that thread (the leader's too).
        (Some(t), _) if flags & PIDFD_THREAD != 0 => {
            sentry::fs::pidfd::file(pid, t.exit_watch.clone(), nonblock, true)
        }
        // A zombie's leader: its thread went with it, the pidfd is still
        // a thread's.
        (None, Some(p)) if flags & PIDFD_THREAD != 0 => {
            sentry::fs::pidfd::file(pid, p.exit_watch.clone(), nonblock, true)
        }
        (_, Some(p)) => sentry::fs::pidfd::file(pid, p.exit_watch.clone(), nonblock, false),
        // A thread that leads no process: only with PIDFD_THREAD.
        (Some(_), None) => return Err(Errno::ENOENT),
        (None, None) => return Err(Errno::ESRCH),
    };
    let fd = ctx.install(f, true)?;
    Ok(abi::bits(i64::from(fd)))
}

/// What a pidfd names: the process or thread id, whether the file is
/// non-blocking, whether it names a thread. EBADF for another file.
pub(crate) fn pid_of(ctx: &mut Ctx<'_, '_>, fd: u64) -> KResult<(i32, bool, bool)> {
    let f = crate::fs::fdget(ctx, fd)?;
    let p = f.ops.as_any().downcast_ref::<PidFd>().ok_or(Errno::EBADF)?;
    Ok((p.pid, f.nonblocking(), p.thread))
}

/// The process of a pidfd's target, and the thread when it names one:
/// ESRCH once the thread is gone.
fn target(ctx: &mut Ctx<'_, '_>, fd: u64) -> KResult<(i32, Option<i32>)> {
    let (pid, _, thread) = pid_of(ctx, fd)?;
    if !thread {
        return Ok((pid, None));
    }
    let t = ctx.st.tasks.get(&pid).ok_or(Errno::ESRCH)?;
    Ok((t.tgid, Some(pid)))
}

/// Whether the pidfd's process is still running: ESRCH once it has been
/// reaped, Ok(false) while a zombie.
fn live(ctx: &Ctx<'_, '_>, pid: i32) -> KResult<bool> {
    match ctx.st.procs.get(&pid) {
        Some(p) => Ok(p.exit.is_none()),
        None => Err(Errno::ESRCH),
    }
}

/// pidfd_send_signal's scopes: the thread, its thread group, its
/// process group (one at most; none: the thread group).
const SIGNAL_THREAD: u64 = 1;
const SIGNAL_THREAD_GROUP: u64 = 2;
const SIGNAL_PROCESS_GROUP: u64 = 4;

fn pidfd_send_signal(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let scope = a[3];
    if scope & !(SIGNAL_THREAD | SIGNAL_THREAD_GROUP | SIGNAL_PROCESS_GROUP) != 0
        || scope.count_ones() > 1
    {
        return Err(Errno::EINVAL);
    }
    if a[1] > 64 {
        return Err(Errno::EINVAL);
    }
    // A /proc/PID directory stands for its process, as a pidfd would.
    let dir = crate::fs::fdget(ctx, a[0])
        .ok()
        .and_then(|f| sentry::fs::proc::process_dir_pid(&f));
    let (pid, thread) = match dir {
        Some(pid) => (pid, None),
        None => target(ctx, a[0])?,
    };
    // Only a process the caller's PID namespace can see (the caller's or
    // one below it), as Linux's access_pidfd_pidns.
    let theirs = match ctx.st.procs.get(&pid) {
        Some(p) => p.pid_ns.clone(),
        None => ctx
            .st
            .id_ns
            .get(&pid)
            .cloned()
            .unwrap_or_else(sentry::kernel::pidns::first),
    };
    if !ctx.task_ref().pid_ns.contains(&theirs) {
        return Err(Errno::EINVAL);
    }
    let running = live(ctx, pid)?;
    let sig = abi::int(a[1]);
    // A thread's pidfd signals that thread unless told otherwise.
    let scope = if scope == 0 && thread.is_some() {
        SIGNAL_THREAD
    } else {
        scope
    };
    // A thread other than the leader leads no process group.
    // The group the pid names (Linux's kill_pgrp_info on the pidfd's
    // pid): none when the process leads no group.
    if scope == SIGNAL_PROCESS_GROUP
        && (thread.is_some_and(|t| t != pid) || abi::group_members(ctx, pid).is_empty())
    {
        return Err(Errno::ESRCH);
    }
    let mut info = if a[2] == 0 {
        crate::signal::sender(ctx, sig, ksig::SI_USER)
    } else {
        let me = thread.unwrap_or(pid) == ctx.tid;
        let i = crate::signal::queue_info(ctx, me, a[1], a[2])?;
        // The siginfo must be the signal's.
        let raw: [i32; 1] = abi::get(ctx, a[2])?;
        if raw[0] != sig {
            return Err(Errno::EINVAL);
        }
        i
    };
    if !crate::signal::may_signal(ctx, pid, sig) {
        return Err(Errno::EPERM);
    }
    // A zombie takes the signal and nothing comes of it.
    if sig == 0 || !running {
        return Ok(0);
    }
    crate::signal::over_limit(ctx, pid, &info)?;
    crate::signal::hide_sender(ctx, pid, &mut info);
    match scope {
        SIGNAL_THREAD => {
            let tid = thread.unwrap_or(pid);
            if !ksig::init_protected(&ctx.st, ctx.tgid(), pid, sig, Some(tid)) {
                ksig::send_to_thread(&mut ctx.st, tid, info);
            }
        }
        SIGNAL_PROCESS_GROUP => {
            for t in abi::group_members(ctx, pid) {
                if crate::signal::may_signal(ctx, t, sig)
                    && !ksig::init_protected(&ctx.st, ctx.tgid(), t, sig, None)
                {
                    ksig::send_to_process(&mut ctx.st, t, info);
                }
            }
        }
        _ => {
            if !ksig::init_protected(&ctx.st, ctx.tgid(), pid, sig, None) {
                ksig::send_to_process(&mut ctx.st, pid, info);
            }
        }
    }
    Ok(0)
}

fn pidfd_getfd(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[2] != 0 {
        return Err(Errno::EINVAL);
    }
    let (pid, _) = target(ctx, a[0])?;
    let running = live(ctx, pid)?;
    let p = &ctx.st.procs[&pid];
    if !p.inspectable_by(ctx.proc_ref()) {
        return Err(Errno::EPERM);
    }
    // A zombie has no fds left: Linux finds no task to take them from.
    if !running {
        return Err(Errno::ESRCH);
    }
    let leader = p.threads.first().copied().ok_or(Errno::ESRCH)?;
    let files = ctx.st.tasks.get(&leader).ok_or(Errno::ESRCH)?.files.clone();
    let target = abi::int(a[1]);
    let f = files.lock().get(target)?;
    let fd = ctx.install(f, true)?;
    Ok(abi::bits(i64::from(fd)))
}
