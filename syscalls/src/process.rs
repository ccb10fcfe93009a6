//! Process and thread system calls: clone/fork/exec/exit/wait, ids,
//! sessions, credentials, limits, prctl and arch_prctl.

use crate::abi::{self, get, put};
use crate::table::{Reg, Support::*};
use sentry::kernel::creds::cap;
use sentry::kernel::exec;
use sentry::kernel::lifecycle::{WCONTINUED, WEXITED, WNOHANG, WNOWAIT, WUNTRACED};
use sentry::kernel::signal::CLD_EXITED;
use sentry::kernel::task::ExitInfo;
use sentry::kernel::Prepared;
use sentry::kernel::{do_clone, do_wait, group_exit, CloneArgs, WaitSel};
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    r(
        "clone",
        "xaaax",
        Partial("of namespace flags all but CLONE_NEWPID and CLONE_NEWTIME"),
        clone,
    );
    r(
        "clone3",
        "au",
        Partial("namespace flags as clone's; set_tid in the one pid namespace"),
        clone3,
    );
    r("fork", "", Full, fork);
    r("vfork", "", Full, vfork);
    r("execve", "paa", Full, execve);
    r("execveat", "dpaax", Full, execveat);
    r("exit", "i", Full, exit);
    r("exit_group", "i", Full, exit_group);
    r("wait4", "iaxa", Full, wait4);
    r("waitid", "uiaxa", Full, waitid);
    r("getpid", "", Full, getpid);
    r("gettid", "", Full, gettid);
    r("getppid", "", Full, getppid);
    r("getpgrp", "", Full, getpgrp);
    r("getpgid", "i", Full, getpgid);
    r("setpgid", "ii", Full, setpgid);
    r("getsid", "i", Full, getsid);
    r("setsid", "", Full, setsid);
    r("set_tid_address", "a", Full, set_tid_address);
    r("set_robust_list", "au", Full, set_robust_list);
    r("get_robust_list", "iaa", Full, get_robust_list);
    r("arch_prctl", "xx", Full, arch_prctl);
    r(
        "prctl",
        "ixxxx",
        Partial("common options; others EINVAL"),
        prctl,
    );
    r("getuid", "", Full, getuid);
    r("geteuid", "", Full, geteuid);
    r("getgid", "", Full, getgid);
    r("getegid", "", Full, getegid);
    r("getresuid", "aaa", Full, getresuid);
    r("getresgid", "aaa", Full, getresgid);
    r("setuid", "u", Full, setuid);
    r("setgid", "u", Full, setgid);
    r("setreuid", "ii", Full, setreuid);
    r("setregid", "ii", Full, setregid);
    r("setresuid", "iii", Full, setresuid);
    r("setresgid", "iii", Full, setresgid);
    r("setfsuid", "u", Full, setfsuid);
    r("setfsgid", "u", Full, setfsgid);
    r("getgroups", "ia", Full, getgroups);
    r("setgroups", "ia", Full, setgroups);
    r("capget", "aa", Full, capget);
    r("capset", "aa", Full, capset);
    r("getrlimit", "ia", Full, getrlimit);
    r("setrlimit", "ia", Partial(RLIMIT_NOTE), setrlimit);
    r("prlimit64", "iiaa", Partial(RLIMIT_NOTE), prlimit64);
    r("umask", "o", Full, umask);
}

/// What the resource limits do here.
const RLIMIT_NOTE: &str = "NOFILE, AS, DATA, FSIZE, CPU, NPROC (per sandbox user), MEMLOCK, SIGPENDING, MSGQUEUE, RTPRIO and STACK (exec's argument room) act; RSS, CORE, LOCKS, NICE and RTTIME are recorded";

fn clone(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let args = CloneArgs::legacy(a[0], a[1], a[2], a[3], a[4]);
    let both = (libc::CLONE_PIDFD | libc::CLONE_PARENT_SETTID) as u64;
    if a[0] & both == both {
        return Err(Errno::EINVAL);
    }
    do_clone(ctx, args).map(|t| crate::abi::bits(i64::from(t)))
}

/// struct clone_args as Linux 5.7 has it: eleven u64s.
const CLONE_ARGS_SIZE: usize = 88;

fn clone3(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    use sentry::kernel::clone::{CLONE_CLEAR_SIGHAND, CLONE_INTO_CGROUP};
    if a[1] > 4096 {
        return Err(Errno::E2BIG);
    }
    if a[1] < 64 {
        return Err(Errno::EINVAL);
    }
    // A bigger struct than this kernel's must be zero past its end.
    let raw = sentry::mm::read_vec(&ctx.mm, a[0], crate::abi::size(a[1]))?;
    if raw.len() > CLONE_ARGS_SIZE && raw[CLONE_ARGS_SIZE..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let mut c = [0u64; 11];
    for (i, w) in raw.chunks_exact(8).take(11).enumerate() {
        c[i] = u64::from_le_bytes(w.try_into().unwrap());
    }
    let [flags, pidfd, ctid, ptid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup] =
        c;
    // One pid namespace level: at most one pid to choose.
    if set_tid_size > 1 || (set_tid == 0) != (set_tid_size == 0) {
        return Err(Errno::EINVAL);
    }
    if exit_signal > 64 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_INTO_CGROUP != 0
        && (cgroup > i32::MAX as u64 || crate::abi::size(a[1]) < CLONE_ARGS_SIZE)
    {
        return Err(Errno::EINVAL);
    }
    // The legacy flags and the two clone3 added; the CSIGNAL byte and
    // CLONE_DETACHED are not flags here.
    const KNOWN: u64 = 0xffff_ffff | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP;
    let csignal = 0xff & !(libc::CLONE_NEWTIME as u64);
    if flags & !KNOWN != 0 || flags & (libc::CLONE_DETACHED as u64 | csignal) != 0 {
        return Err(Errno::EINVAL);
    }
    let sighand = libc::CLONE_SIGHAND as u64 | CLONE_CLEAR_SIGHAND;
    if flags & sighand == sighand {
        return Err(Errno::EINVAL);
    }
    if flags & (libc::CLONE_THREAD | libc::CLONE_PARENT) as u64 != 0 && exit_signal != 0 {
        return Err(Errno::EINVAL);
    }
    // clone3_stack_valid: both or neither, and the stack within user
    // space (access_ok); a stack+size that wraps would be a stack at 0.
    if (stack == 0) != (stack_size == 0)
        || stack
            .checked_add(stack_size)
            .is_none_or(|end| end > sentry::mm::TASK_SIZE)
    {
        return Err(Errno::EINVAL);
    }
    let both = (libc::CLONE_PIDFD | libc::CLONE_PARENT_SETTID) as u64;
    if flags & both == both && pidfd == ptid {
        return Err(Errno::EINVAL);
    }
    let set_tid = if set_tid != 0 {
        Some(get::<i32>(ctx, set_tid)?)
    } else {
        None
    };
    let cgroup = if flags & CLONE_INTO_CGROUP != 0 {
        Some(cgroup_of_fd(ctx, crate::abi::int(cgroup))?)
    } else {
        None
    };
    let args = CloneArgs {
        flags,
        stack: if stack != 0 { stack + stack_size } else { 0 },
        ptid,
        ctid,
        tls,
        exit_signal: crate::abi::int(exit_signal),
        pidfd,
        set_tid,
        cgroup,
    };
    do_clone(ctx, args).map(|t| crate::abi::bits(i64::from(t)))
}

/// The cgroup a directory fd of a cgroup2 mount names (EBADF for any
/// other fd), which a process may join.
fn cgroup_of_fd(ctx: &mut Ctx<'_, '_>, fd: i32) -> KResult<u64> {
    let f = ctx.task().files.lock().get(fd)?;
    let place = f.place().ok_or(Errno::EBADF)?;
    if place.mount.fs.fstype() != "cgroup2" || !f.ops.stat()?.is_dir() {
        return Err(Errno::EBADF);
    }
    let (rel, live) = place.rel();
    if !live {
        return Err(Errno::ENOENT);
    }
    let tree = ctx.st.cgroups.lock();
    let id = tree
        .resolve(rel.split(|&b| b == b'/').filter(|c| !c.is_empty()))
        .ok_or(Errno::ENOENT)?;
    tree.may_join(id)?;
    Ok(id)
}

/// The lock-free part of clone, clone3, fork and vfork: the child's
/// address space and host side (`sentry::kernel::clone::prepare`). Always
/// None: the locked handler registers the child, using what was made
/// when the flags it reads are the same.
pub(crate) fn prepare_clone(
    cx: &sentry::kernel::Unlocked<'_>,
    nr: i64,
    a: [u64; 6],
) -> Option<KResult<u64>> {
    let flags = match nr {
        libc::SYS_clone => a[0] & !0xff,
        libc::SYS_fork => 0,
        libc::SYS_vfork => (libc::CLONE_VM | libc::CLONE_VFORK) as u64,
        libc::SYS_clone3 if (64..=4096).contains(&a[1]) => {
            sentry::mm::read_obj::<u64>(cx.mm, a[0]).ok()?
        }
        _ => return None,
    };
    sentry::kernel::clone::check_flags(flags, cx.creds).ok()?;
    let mut pctx = cx.pctx.borrow_mut();
    // A failure is the locked handler's to report (it checks more first).
    let prep = sentry::kernel::clone::prepare(cx.k, cx.mm, &mut pctx, flags).ok()?;
    *cx.prepared.borrow_mut() = Some(sentry::kernel::Prepared::Clone(prep));
    None
}

fn fork(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    clone(ctx, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0])
}

fn vfork(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    clone(
        ctx,
        [
            (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64,
            0,
            0,
            0,
            0,
            0,
        ],
    )
}

fn execve(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if let Some(Prepared::Exec(p)) = ctx.prepared.take() {
        if p.fits(ctx) {
            exec::commit(ctx, *p)?;
            return Ok(0);
        }
    }
    let path = abi::path(ctx, a[0])?;
    let argv = abi::str_array(ctx, a[1])?;
    let envp = abi::str_array(ctx, a[2])?;
    exec::do_execveat(ctx, libc::AT_FDCWD, &path, argv, envp)?;
    Ok(0)
}

fn execveat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let flags = crate::abi::int(a[4]);
    if flags & !(libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let raw = sentry::mm::read_cstr(&ctx.mm, a[1], abi::PATH_MAX - 1)?;
    let argv = abi::str_array(ctx, a[2])?;
    let envp = abi::str_array(ctx, a[3])?;
    let is_link =
        |st: Option<sentry::fs::Stat>| st.is_some_and(|s| s.mode & libc::S_IFMT == libc::S_IFLNK);
    let (dirfd, path) = if raw.is_empty() {
        if flags & libc::AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        let f = crate::fs::fdget(ctx, a[0])?;
        // An fd of a symlink (O_PATH|O_NOFOLLOW) is not followed.
        if is_link(f.stat().ok()) {
            return Err(Errno::ELOOP);
        }
        // The open file itself: it may have no name (a memfd, a removed
        // file).
        let fd = crate::abi::int(a[0]);
        let cloexec = ctx
            .task_ref()
            .files
            .lock()
            .fds
            .get(&fd)
            .is_some_and(|e| e.cloexec);
        exec::do_execve_fd(ctx, fd, f, cloexec, argv, envp)?;
        return Ok(0);
    } else {
        (crate::abi::int(a[0]), raw)
    };
    if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
        let k = ctx.k.clone();
        if is_link(k.vfs.resolve(ctx, dirfd, &path, false)?.stat) {
            return Err(Errno::ELOOP);
        }
    }
    exec::do_execveat(ctx, dirfd, &path, argv, envp)?;
    Ok(0)
}

/// The lock-free part of execve: reading the arguments, finding and
/// loading the image into a new address space, building its stack (the
/// walks, gofer round trips and copies). On success None, with the result
/// in `cx.prepared` for the locked handler's point of no return; an error
/// before it is the call's answer. execveat and anything that needs the
/// kernel lock (a walk into procfs, inotify watches to tell) are the
/// locked handler's.
pub(crate) fn prepare_exec(cx: &sentry::kernel::Unlocked<'_>, a: [u64; 6]) -> Option<KResult<u64>> {
    if cx.k.vfs.inotify.active() {
        return None;
    }
    let prep = (|| {
        let path = abi::path_in(cx.mm, a[0])?;
        let argv = abi::str_array_in(cx.mm, a[1])?;
        let envp = abi::str_array_in(cx.mm, a[2])?;
        exec::prepare(
            cx.k,
            &cx.walker(),
            cx.creds,
            libc::AT_FDCWD,
            &path,
            argv,
            envp,
        )
    })();
    match prep {
        Ok(p) => {
            *cx.prepared.borrow_mut() = Some(Prepared::Exec(Box::new(p)));
            None
        }
        Err(e) if e == Errno::NEEDLOCK => None,
        Err(e) => Some(Err(e)),
    }
}

fn exit(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if ctx.proc_ref().threads.len() == 1 {
        return exit_group(ctx, a);
    }
    ctx.task().killed = true;
    ctx.task().exit_code = crate::abi::int(a[0] & 0xff) << 8;
    ctx.no_return = true;
    Ok(0)
}

fn exit_group(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let code = (a[0] & 0xff) as i32;
    let tgid = ctx.tgid();
    group_exit(
        &mut ctx.st,
        tgid,
        ExitInfo {
            status: code << 8,
            code: CLD_EXITED,
            value: code,
        },
    );
    ctx.no_return = true;
    Ok(0)
}

/// A wait selection from the caller's numbers; one its namespace does
/// not have selects nobody (ECHILD).
fn sel_of(ctx: &Ctx<'_, '_>, pid: i32) -> WaitSel {
    let global = |p: i32| ctx.find_pid(p).unwrap_or(NOBODY);
    match pid {
        -1 => WaitSel::Any,
        0 => WaitSel::Pgid(ctx.proc_ref().pgid),
        p if p < -1 => WaitSel::Pgid(global(-p)),
        p => WaitSel::Pid(global(p)),
    }
}

/// An id no task or group has (pids stay below 1 << 22).
const NOBODY: i32 = i32::MAX;

/// struct rusage at `addr`: user and system time, peak size, and
/// voluntary context switches (involuntary ones, the host's preemptions
/// of the stub, are not seen).
pub(crate) fn put_rusage(
    ctx: &mut Ctx<'_, '_>,
    addr: u64,
    ns: (u64, u64),
    maxrss_kb: u64,
    nvcsw: u64,
) -> KResult<()> {
    let mut ru = [0i64; 18];
    ru[4] = crate::abi::long(maxrss_kb);
    ru[0] = crate::abi::long(ns.0 / 1_000_000_000);
    ru[1] = crate::abi::long((ns.0 % 1_000_000_000) / 1000);
    ru[2] = crate::abi::long(ns.1 / 1_000_000_000);
    ru[3] = crate::abi::long((ns.1 % 1_000_000_000) / 1000);
    ru[16] = crate::abi::long(nvcsw);
    put(ctx, addr, &ru)
}

fn wait4(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let opts = crate::abi::int(a[2]);
    let allowed =
        WNOHANG | WUNTRACED | WCONTINUED | libc::__WNOTHREAD | libc::__WCLONE | libc::__WALL;
    if opts & !allowed != 0 {
        return Err(Errno::EINVAL);
    }
    // -INT_MIN has no process group to name.
    if crate::abi::int(a[0]) == i32::MIN {
        return Err(Errno::ESRCH);
    }
    let sel = sel_of(ctx, crate::abi::int(a[0]));
    match do_wait(ctx, sel, opts | WEXITED)? {
        None => Ok(0),
        Some(w) => {
            if a[1] != 0 {
                put(ctx, a[1], &w.status)?;
            }
            if a[3] != 0 {
                put_rusage(ctx, a[3], w.rusage_ns, w.maxrss_kb, w.switches)?;
            }
            Ok(crate::abi::bits(i64::from(w.pid)))
        }
    }
}

fn waitid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let opts = crate::abi::int(a[3]);
    let allowed = WNOHANG
        | WUNTRACED
        | WCONTINUED
        | WEXITED
        | WNOWAIT
        | libc::__WNOTHREAD
        | libc::__WCLONE
        | libc::__WALL;
    if opts & !allowed != 0 || opts & (WEXITED | WUNTRACED | WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    let mut opts = opts;
    let mut nonblock_pidfd = false;
    let sel = match crate::abi::uint(a[0]) {
        libc::P_ALL => WaitSel::Any,
        // P_PIDFD: the process a pidfd names; a non-blocking one does
        // not wait (EAGAIN when nothing has happened).
        3 => {
            // A pidfd is an fd: a negative one is EINVAL.
            if crate::abi::int(a[1]) < 0 {
                return Err(Errno::EINVAL);
            }
            let (pid, nb, thread) = crate::pidfd::pid_of(ctx, a[1])?;
            // A thread is nobody's child, but a thread pidfd of a
            // process's leader names the process.
            let leader = ctx.st.tasks.get(&pid).is_none_or(|t| t.tgid == pid);
            if thread && !leader {
                return Err(Errno::ECHILD);
            }
            if nb {
                // EAGAIN only for a call that did not ask for WNOHANG.
                nonblock_pidfd = opts & WNOHANG == 0;
                opts |= WNOHANG;
            }
            WaitSel::Pid(pid)
        }
        libc::P_PID if (crate::abi::int(a[1])) > 0 => {
            WaitSel::Pid(ctx.find_pid(crate::abi::int(a[1])).unwrap_or(NOBODY))
        }
        libc::P_PGID => {
            if crate::abi::int(a[1]) < 0 {
                return Err(Errno::EINVAL);
            }
            if crate::abi::int(a[1]) == 0 {
                WaitSel::Pgid(ctx.proc_ref().pgid)
            } else {
                WaitSel::Pgid(ctx.find_pid(crate::abi::int(a[1])).unwrap_or(NOBODY))
            }
        }
        _ => return Err(Errno::EINVAL),
    };
    let r = do_wait(ctx, sel, opts)?;
    if r.is_none() && nonblock_pidfd {
        return Err(Errno::EAGAIN);
    }
    let mut info = [0u8; 128];
    if let Some(w) = &r {
        info[0..4].copy_from_slice(&libc::SIGCHLD.to_le_bytes());
        info[8..12].copy_from_slice(&w.code.to_le_bytes());
        info[16..20].copy_from_slice(&w.pid.to_le_bytes());
        info[20..24].copy_from_slice(&w.uid.to_le_bytes());
        let v = if w.code == CLD_EXITED {
            (w.status >> 8) & 0xff
        } else {
            w.value
        };
        info[24..28].copy_from_slice(&v.to_le_bytes());
    }
    if a[2] != 0 {
        put(ctx, a[2], &info)?;
    }
    if let (Some(w), true) = (&r, a[4] != 0) {
        put_rusage(ctx, a[4], w.rusage_ns, w.maxrss_kb, w.switches)?;
    }
    Ok(0)
}

fn getpid(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(crate::abi::bits(i64::from(ctx.task_ref().vtgid)))
}
fn gettid(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(crate::abi::bits(i64::from(ctx.task_ref().vtid)))
}
/// An id the caller's namespace shows (the parent of its init, outside
/// it, is 0).
fn shown(ctx: &Ctx<'_, '_>, global: i32) -> KResult<u64> {
    Ok(crate::abi::bits(i64::from(ctx.vnr(global))))
}
fn getppid(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    shown(ctx, ctx.proc_ref().ppid)
}
fn getpgrp(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    shown(ctx, ctx.proc_ref().pgid)
}

fn target_proc(ctx: &Ctx<'_, '_>, pid: i32) -> KResult<i32> {
    // No process has a negative id (Linux looks it up and finds none).
    if pid < 0 {
        return Err(Errno::ESRCH);
    }
    if pid == 0 {
        return Ok(ctx.tgid());
    }
    let pid = ctx.find_pid(pid).ok_or(Errno::ESRCH)?;
    // A zombie is still there until it is reaped.
    match ctx.st.tasks.get(&pid) {
        Some(t) => Ok(t.tgid),
        None if ctx.st.procs.contains_key(&pid) => Ok(pid),
        None => Err(Errno::ESRCH),
    }
}

fn getpgid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let p = target_proc(ctx, crate::abi::int(a[0]))?;
    shown(ctx, ctx.st.procs[&p].pgid)
}
fn getsid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let p = target_proc(ctx, crate::abi::int(a[0]))?;
    shown(ctx, ctx.st.procs[&p].sid)
}

fn setpgid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let me = ctx.tgid();
    let (pid, pgid) = (crate::abi::int(a[0]), crate::abi::int(a[1]));
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let pid = if pid == 0 {
        me
    } else {
        ctx.find_pid(pid).ok_or(Errno::ESRCH)?
    };
    // A group the caller's namespace has no number for matches nobody
    // (EPERM below).
    let pgid = if pgid == 0 {
        pid
    } else {
        ctx.find_pid(pgid).unwrap_or(NOBODY)
    };
    let sid = ctx.proc_ref().sid;
    let target = ctx.st.procs.get(&pid).ok_or(Errno::ESRCH)?;
    if pid != me && target.ppid != me {
        return Err(Errno::ESRCH);
    }
    if pid != me && target.sid != sid {
        return Err(Errno::EPERM);
    }
    if pid != me && target.execed {
        return Err(Errno::EACCES);
    }
    if target.sid == pid {
        return Err(Errno::EPERM);
    }
    if pgid != pid
        && !ctx
            .st
            .procs
            .values()
            .any(|p| p.pgid == pgid && p.sid == sid)
    {
        return Err(Errno::EPERM);
    }
    let old = std::mem::replace(&mut ctx.st.procs.get_mut(&pid).unwrap().pgid, pgid);
    ctx.st.release_id(old);
    Ok(0)
}

fn setsid(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    let me = ctx.tgid();
    if ctx.st.procs.values().any(|p| p.pgid == me) {
        return Err(Errno::EPERM);
    }
    let p = ctx.proc_();
    let old = (p.pgid, p.sid);
    p.sid = me;
    p.pgid = me;
    p.ctty = None;
    // Ids the old group and session no longer keep.
    ctx.st.release_id(old.0);
    ctx.st.release_id(old.1);
    shown(ctx, me)
}

fn set_tid_address(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    ctx.task().clear_child_tid = a[0];
    Ok(crate::abi::bits(i64::from(ctx.task_ref().vtid)))
}
fn set_robust_list(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[1] != 24 {
        return Err(Errno::EINVAL);
    }
    ctx.task().robust_list = a[0];
    Ok(0)
}
fn get_robust_list(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let pid = crate::abi::int(a[0]);
    let head = if pid == 0 {
        ctx.task_ref().robust_list
    } else {
        let g = ctx.find_pid(pid).ok_or(Errno::ESRCH)?;
        ctx.st.tasks.get(&g).ok_or(Errno::ESRCH)?.robust_list
    };
    put(ctx, a[1], &head)?;
    put(ctx, a[2], &24u64)?;
    Ok(0)
}

fn arch_prctl(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    const SET_GS: u64 = 0x1001;
    const SET_FS: u64 = 0x1002;
    const GET_FS: u64 = 0x1003;
    const GET_GS: u64 = 0x1004;
    const GET_CPUID: u64 = 0x1011;
    const SET_CPUID: u64 = 0x1012;
    let canonical = |v: u64| v < sentry::mm::TASK_SIZE;
    match a[0] {
        SET_FS => {
            if !canonical(a[1]) {
                return Err(Errno::EPERM);
            }
            ctx.regs.gp.fs_base = a[1];
            Ok(0)
        }
        SET_GS => {
            if !canonical(a[1]) {
                return Err(Errno::EPERM);
            }
            ctx.regs.gp.gs_base = a[1];
            Ok(0)
        }
        GET_FS => put(ctx, a[1], &ctx.regs.gp.fs_base.clone()).map(|_| 0),
        GET_GS => put(ctx, a[1], &ctx.regs.gp.gs_base.clone()).map(|_| 0),
        GET_CPUID => Ok(1),
        SET_CPUID => {
            ctx.log_once("arch_prctl ARCH_SET_CPUID");
            Err(Errno::ENODEV)
        }
        _ => Err(Errno::EINVAL),
    }
}

fn prctl(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    match crate::abi::int(a[0]) {
        libc::PR_SET_NAME => {
            let mut n = sentry::mm::read_vec(&ctx.mm, a[1], 16)
                .or_else(|_| sentry::mm::read_cstr(&ctx.mm, a[1], 15))?;
            if let Some(i) = n.iter().position(|&c| c == 0) {
                n.truncate(i);
            }
            n.truncate(15);
            ctx.task().comm = n;
            Ok(0)
        }
        libc::PR_GET_NAME => {
            let mut n = ctx.task_ref().comm.clone();
            n.resize(16, 0);
            ctx.mm.write(a[1], &n)?;
            Ok(0)
        }
        libc::PR_SET_PDEATHSIG => {
            if a[1] > 64 {
                return Err(Errno::EINVAL);
            }
            ctx.task().pdeathsig = crate::abi::int(a[1]);
            Ok(0)
        }
        libc::PR_GET_PDEATHSIG => {
            let s = ctx.task_ref().pdeathsig;
            put(ctx, a[1], &s)?;
            Ok(0)
        }
        libc::PR_SET_NO_NEW_PRIVS => {
            if a[1] != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
                return Err(Errno::EINVAL);
            }
            ctx.proc_().no_new_privs = true;
            Ok(0)
        }
        libc::PR_GET_NO_NEW_PRIVS => {
            if a[1] != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
                return Err(Errno::EINVAL);
            }
            Ok(u64::from(ctx.proc_ref().no_new_privs))
        }
        libc::PR_GET_SECUREBITS => {
            let p = ctx.proc_ref();
            let keep = if p.keepcaps {
                sentry::kernel::creds::secbit::KEEP_CAPS
            } else {
                0
            };
            Ok(u64::from(p.creds.securebits | keep))
        }
        libc::PR_SET_SECUREBITS => {
            use sentry::kernel::creds::secbit;
            let p = ctx.proc_ref();
            let keep = if p.keepcaps { secbit::KEEP_CAPS } else { 0 };
            let old = p.creds.securebits | keep;
            let new = u32::try_from(a[1]).map_err(|_| Errno::EPERM)?;
            // Locked bits stay, locks stay, nothing unknown, CAP_SETPCAP.
            if ((old & secbit::ALL_LOCKS) >> 1) & (old ^ new) != 0
                || old & secbit::ALL_LOCKS & !new != 0
                || new & !(secbit::ALL_LOCKS | secbit::ALL_BITS) != 0
                || !p.creds.ns_capable(cap::SETPCAP)
            {
                return Err(Errno::EPERM);
            }
            let p = ctx.proc_();
            p.keepcaps = new & secbit::KEEP_CAPS != 0;
            p.creds.securebits = new & !secbit::KEEP_CAPS;
            Ok(0)
        }
        libc::PR_SET_MM => {
            // PR_SET_MM_MAP_SIZE: the size of struct prctl_mm_map.
            if a[1] == 15 {
                put(ctx, a[2], &104u32)?;
                return Ok(0);
            }
            if !ctx.proc_ref().creds.capable(cap::SYS_RESOURCE) {
                return Err(Errno::EPERM);
            }
            ctx.log_once("prctl PR_SET_MM");
            Err(Errno::EINVAL)
        }
        // The defaults Linux reports for what the sandbox never changes.
        libc::PR_GET_TSC => {
            put(ctx, a[1], &1i32)?;
            Ok(0)
        }
        libc::PR_MCE_KILL_GET if a[1] == 0 && a[2] == 0 && a[3] == 0 && a[4] == 0 => Ok(2),
        libc::PR_GET_TIMING => Ok(0),
        // PR_GET_IO_FLUSHER: no task here is an I/O flusher.
        58 => {
            if !ctx.proc_ref().creds.capable(cap::SYS_RESOURCE) {
                return Err(Errno::EPERM);
            }
            Ok(0)
        }
        libc::PR_SET_DUMPABLE => {
            if a[1] > 1 {
                return Err(Errno::EINVAL);
            }
            ctx.proc_().dumpable = a[1];
            Ok(0)
        }
        libc::PR_GET_DUMPABLE => Ok(ctx.proc_ref().dumpable),
        libc::PR_SET_CHILD_SUBREAPER => {
            ctx.proc_().subreaper = a[1] != 0;
            Ok(0)
        }
        libc::PR_GET_CHILD_SUBREAPER => {
            let v = i32::from(ctx.proc_ref().subreaper);
            put(ctx, a[1], &v)?;
            Ok(0)
        }
        libc::PR_GET_SECCOMP => Ok(crate::seccomp::prctl_get(ctx)),
        libc::PR_SET_SECCOMP => crate::seccomp::prctl_set(ctx, a[1], a[2]),
        libc::PR_CAPBSET_READ => {
            if a[1] > u64::from(cap::LAST) {
                return Err(Errno::EINVAL);
            }
            Ok((ctx.proc_ref().creds.caps.bounding >> a[1]) & 1)
        }
        libc::PR_CAPBSET_DROP => {
            if a[1] > u64::from(cap::LAST) {
                return Err(Errno::EINVAL);
            }
            let c = &mut ctx.proc_().creds;
            if !c.ns_capable(cap::SETPCAP) {
                return Err(Errno::EPERM);
            }
            c.caps.bounding &= !(1 << a[1]);
            Ok(0)
        }
        libc::PR_CAP_AMBIENT => {
            let c = &mut ctx.proc_().creds;
            let bit = |n: u64| {
                if n > u64::from(cap::LAST) {
                    Err(Errno::EINVAL)
                } else {
                    Ok(1u64 << n)
                }
            };
            match crate::abi::int(a[1]) {
                libc::PR_CAP_AMBIENT_IS_SET if a[3] == 0 && a[4] == 0 => {
                    Ok(u64::from(c.caps.ambient & bit(a[2])? != 0))
                }
                libc::PR_CAP_AMBIENT_RAISE if a[3] == 0 && a[4] == 0 => {
                    let b = bit(a[2])?;
                    if c.securebits & sentry::kernel::creds::secbit::NO_CAP_AMBIENT_RAISE != 0 {
                        return Err(Errno::EPERM);
                    }
                    if c.caps.permitted & b == 0 || c.caps.inheritable & b == 0 {
                        return Err(Errno::EPERM);
                    }
                    c.caps.ambient |= b;
                    Ok(0)
                }
                libc::PR_CAP_AMBIENT_LOWER if a[3] == 0 && a[4] == 0 => {
                    c.caps.ambient &= !bit(a[2])?;
                    Ok(0)
                }
                libc::PR_CAP_AMBIENT_CLEAR_ALL if a[2] == 0 && a[3] == 0 && a[4] == 0 => {
                    c.caps.ambient = 0;
                    Ok(0)
                }
                _ => Err(Errno::EINVAL),
            }
        }
        libc::PR_SET_KEEPCAPS => {
            if a[1] > 1 {
                return Err(Errno::EINVAL);
            }
            // SECBIT_KEEP_CAPS_LOCKED.
            if ctx.proc_ref().creds.securebits & (sentry::kernel::creds::secbit::KEEP_CAPS << 1)
                != 0
            {
                return Err(Errno::EPERM);
            }
            ctx.proc_().keepcaps = a[1] == 1;
            Ok(0)
        }
        libc::PR_GET_KEEPCAPS => Ok(u64::from(ctx.proc_ref().keepcaps)),
        libc::PR_GET_TID_ADDRESS => {
            let v = ctx.task_ref().clear_child_tid;
            put(ctx, a[1], &v)?;
            Ok(0)
        }
        libc::PR_GET_THP_DISABLE => Ok(0),
        libc::PR_GET_TIMERSLACK => Ok(ctx.task_ref().timer_slack),
        libc::PR_SET_TIMERSLACK => {
            ctx.task().timer_slack = if a[1] == 0 {
                sentry::kernel::task::DEFAULT_SLACK
            } else {
                a[1]
            };
            Ok(0)
        }
        o => {
            ctx.log_once(&format!("prctl option {o}"));
            Err(Errno::EINVAL)
        }
    }
}

// Ids cross into and out of the caller's user namespace here.
fn getuid(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    let c = &ctx.proc_ref().creds;
    Ok(u64::from(c.userns.uid_shown(c.ruid)))
}
fn geteuid(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    let c = &ctx.proc_ref().creds;
    Ok(u64::from(c.userns.uid_shown(c.euid)))
}
fn getgid(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    let c = &ctx.proc_ref().creds;
    Ok(u64::from(c.userns.gid_shown(c.rgid)))
}
fn getegid(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    let c = &ctx.proc_ref().creds;
    Ok(u64::from(c.userns.gid_shown(c.egid)))
}
fn getresuid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let c = ctx.proc_ref().creds.clone();
    put(ctx, a[0], &c.userns.uid_shown(c.ruid))?;
    put(ctx, a[1], &c.userns.uid_shown(c.euid))?;
    put(ctx, a[2], &c.userns.uid_shown(c.suid))?;
    Ok(0)
}
fn getresgid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let c = ctx.proc_ref().creds.clone();
    put(ctx, a[0], &c.userns.gid_shown(c.rgid))?;
    put(ctx, a[1], &c.userns.gid_shown(c.egid))?;
    put(ctx, a[2], &c.userns.gid_shown(c.sgid))?;
    Ok(0)
}

/// setres[ug]id core: -1 keeps a field; unprivileged callers may only
/// pick among their current ids.
fn set_ids(ctx: &mut Ctx<'_, '_>, uid: bool, r: i64, e: i64, s: i64) -> KResult<u64> {
    use sentry::kernel::creds::cap;
    let keepcaps = ctx.proc_ref().keepcaps;
    let c = &mut ctx.proc_().creds;
    let old = c.clone();
    // The ids are the caller's namespace's: EINVAL for one it has not.
    let inward = |v: i64| -> KResult<i64> {
        if v == -1 {
            return Ok(-1);
        }
        let v = crate::abi::uint(crate::abi::bits(v));
        let k = if uid {
            old.userns.uid_from_ns(v)
        } else {
            old.userns.gid_from_ns(v)
        };
        k.map(i64::from).ok_or(Errno::EINVAL)
    };
    let (r, e, s) = (inward(r)?, inward(e)?, inward(s)?);
    let priv_ = c.ns_capable(if uid { cap::SETUID } else { cap::SETGID });
    let cur = if uid {
        [c.ruid, c.euid, c.suid]
    } else {
        [c.rgid, c.egid, c.sgid]
    };
    for v in [r, e, s] {
        if v != -1 && !priv_ && !cur.contains(&crate::abi::uint(crate::abi::bits(v))) {
            return Err(Errno::EPERM);
        }
    }
    let f = |old: u32, v: i64| {
        if v == -1 {
            old
        } else {
            crate::abi::uint(crate::abi::bits(v))
        }
    };
    if uid {
        c.ruid = f(c.ruid, r);
        c.euid = f(c.euid, e);
        c.suid = f(c.suid, s);
        c.fsuid = c.euid;
        c.fix_setuid(&old, keepcaps);
    } else {
        c.rgid = f(c.rgid, r);
        c.egid = f(c.egid, e);
        c.sgid = f(c.sgid, s);
        c.fsgid = c.egid;
    }
    let new = c.clone();
    creds_changed(ctx, &old, &new);
    Ok(0)
}

/// Linux's commit_creds rule: a process whose effective or filesystem
/// ids change, or whose capabilities grow, stops being dumpable
/// (fs.suid_dumpable, 0), so ptrace and process_vm_readv need
/// CAP_SYS_PTRACE until it sets PR_SET_DUMPABLE again.
fn creds_changed(ctx: &mut Ctx<'_, '_>, old: &sentry::kernel::Creds, new: &sentry::kernel::Creds) {
    if old.euid != new.euid
        || old.egid != new.egid
        || old.fsuid != new.fsuid
        || old.fsgid != new.fsgid
        || new.caps.permitted & !old.caps.permitted != 0
    {
        ctx.proc_().dumpable = 0;
    }
}
fn id(v: u64) -> i64 {
    i64::from(crate::abi::int(v))
}
fn setresuid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set_ids(ctx, true, id(a[0]), id(a[1]), id(a[2]))
}
fn setresgid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set_ids(ctx, false, id(a[0]), id(a[1]), id(a[2]))
}
fn setreuid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (r, e) = (id(a[0]), id(a[1]));
    let s = if r != -1 || e != -1 {
        if e != -1 {
            e
        } else {
            -1
        }
    } else {
        -1
    };
    set_ids(ctx, true, r, e, s)
}
fn setregid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (r, e) = (id(a[0]), id(a[1]));
    let s = if e != -1 { e } else { -1 };
    set_ids(ctx, false, r, e, s)
}
fn setuid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let v = id(a[0]);
    if v == -1 {
        return Err(Errno::EINVAL);
    }
    if ctx
        .proc_ref()
        .creds
        .ns_capable(sentry::kernel::creds::cap::SETUID)
    {
        set_ids(ctx, true, v, v, v)
    } else {
        set_ids(ctx, true, -1, v, -1)
    }
}
fn setgid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let v = id(a[0]);
    if v == -1 {
        return Err(Errno::EINVAL);
    }
    if ctx
        .proc_ref()
        .creds
        .ns_capable(sentry::kernel::creds::cap::SETGID)
    {
        set_ids(ctx, false, v, v, v)
    } else {
        set_ids(ctx, false, -1, v, -1)
    }
}
fn setfsuid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let c = &mut ctx.proc_().creds;
    let before = c.clone();
    // An id the namespace has not (or -1) changes nothing.
    let asked = crate::abi::uint(a[0]);
    if let Some(want) = c.userns.uid_from_ns(asked).filter(|_| asked != u32::MAX) {
        if c.ns_capable(sentry::kernel::creds::cap::SETUID)
            || [c.ruid, c.euid, c.suid, c.fsuid].contains(&want)
        {
            c.fsuid = want;
            c.fix_setuid(&before, false);
        }
    }
    let new = c.clone();
    creds_changed(ctx, &before, &new);
    Ok(u64::from(before.userns.uid_shown(before.fsuid)))
}
fn setfsgid(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let c = &mut ctx.proc_().creds;
    let before = c.clone();
    let asked = crate::abi::uint(a[0]);
    if let Some(want) = c.userns.gid_from_ns(asked).filter(|_| asked != u32::MAX) {
        if c.ns_capable(sentry::kernel::creds::cap::SETGID)
            || [c.rgid, c.egid, c.sgid, c.fsgid].contains(&want)
        {
            c.fsgid = want;
        }
    }
    let new = c.clone();
    creds_changed(ctx, &before, &new);
    Ok(u64::from(before.userns.gid_shown(before.fsgid)))
}
fn getgroups(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let c = &ctx.proc_ref().creds;
    let g: Vec<u32> = c.groups.iter().map(|&g| c.userns.gid_shown(g)).collect();
    let n = crate::abi::int(a[0]);
    if n < 0 {
        return Err(Errno::EINVAL);
    }
    if n == 0 {
        return Ok(g.len() as u64);
    }
    if usize::try_from(n).unwrap_or(0) < g.len() {
        return Err(Errno::EINVAL);
    }
    let b: Vec<u8> = g.iter().flat_map(|x| x.to_le_bytes()).collect();
    ctx.mm.write(a[1], &b)?;
    Ok(g.len() as u64)
}
fn setgroups(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] > 65536 {
        return Err(Errno::EINVAL);
    }
    let c = &ctx.proc_ref().creds;
    if !c.ns_capable(sentry::kernel::creds::cap::SETGID) || !c.userns.may_setgroups() {
        return Err(Errno::EPERM);
    }
    let b = sentry::mm::read_vec(&ctx.mm, a[1], crate::abi::size(a[0]) * 4)?;
    let groups = b
        .chunks(4)
        .map(|x| {
            let g = u32::from_le_bytes(x.try_into().unwrap());
            c.userns.gid_from_ns(g).ok_or(Errno::EINVAL)
        })
        .collect::<KResult<Vec<u32>>>()?;
    ctx.proc_().creds.groups = groups;
    Ok(0)
}

/// The user_cap_header version: how many 32-bit words each set takes
/// (v1: one; v2 and v3: two). None for any other, with the header
/// rewritten to the preferred version.
fn cap_words(ctx: &mut Ctx<'_, '_>, hdr_at: u64, hdr: [u32; 2]) -> KResult<Option<usize>> {
    match hdr[0] {
        0x1998_0330 => Ok(Some(1)),
        0x2007_1026 | 0x2008_0522 => Ok(Some(2)),
        _ => {
            put(ctx, hdr_at, &[0x2008_0522u32, hdr[1]])?;
            Ok(None)
        }
    }
}

fn capget(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let hdr: [u32; 2] = get(ctx, a[0])?;
    // A version probe (no data) is answered with the version.
    let Some(n) = cap_words(ctx, a[0], hdr)? else {
        return if a[1] == 0 { Ok(0) } else { Err(Errno::EINVAL) };
    };
    let pid = crate::abi::sbits(hdr[1]);
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let tgid = if pid == 0 {
        ctx.tgid()
    } else {
        let g = ctx.pid_arg(pid);
        ctx.st.tasks.get(&g).map(|t| t.tgid).ok_or(Errno::ESRCH)?
    };
    if a[1] == 0 {
        return Ok(0);
    }
    let c = ctx.st.procs.get(&tgid).ok_or(Errno::ESRCH)?.creds.caps;
    let mut v = Vec::new();
    for i in 0..n {
        let w = |set: u64| u32::try_from((set >> (32 * i)) & 0xffff_ffff).unwrap_or(0);
        v.extend_from_slice(&[w(c.effective), w(c.permitted), w(c.inheritable)]);
    }
    let b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    ctx.mm.write(a[1], &b)?;
    Ok(0)
}
fn capset(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let hdr: [u32; 2] = get(ctx, a[0])?;
    let Some(n) = cap_words(ctx, a[0], hdr)? else {
        return Err(Errno::EINVAL);
    };
    let pid = crate::abi::sbits(hdr[1]);
    if pid != 0 && pid != ctx.tid && pid != ctx.tgid() {
        return Err(Errno::EPERM);
    }
    let raw = sentry::mm::read_vec(&ctx.mm, a[1], n * 12)?;
    let word = |i: usize, k: usize| {
        let at = (i * 3 + k) * 4;
        u64::from(u32::from_le_bytes(
            raw[at..at + 4].try_into().unwrap_or_default(),
        ))
    };
    let set = |k: usize| (0..n).fold(0u64, |acc, i| acc | word(i, k) << (32 * i));
    ctx.proc_().creds.capset(set(0), set(1), set(2))?;
    Ok(0)
}

fn rlimit_get(ctx: &Ctx<'_, '_>, tgid: i32, res: u64) -> KResult<(u64, u64)> {
    if res >= 16 {
        return Err(Errno::EINVAL);
    }
    Ok(ctx.st.procs[&tgid].rlimits[crate::abi::size(res)])
}
fn rlimit_set(ctx: &mut Ctx<'_, '_>, tgid: i32, res: u64, v: (u64, u64)) -> KResult<()> {
    if res >= 16 || v.0 > v.1 {
        return Err(Errno::EINVAL);
    }
    if res == libc::RLIMIT_NOFILE as u64 && v.1 > 1 << 20 {
        return Err(Errno::EPERM);
    }
    let may_raise = ctx
        .proc_ref()
        .creds
        .capable(sentry::kernel::creds::cap::SYS_RESOURCE);
    let p = ctx.st.procs.get_mut(&tgid).ok_or(Errno::ESRCH)?;
    if v.1 > p.rlimits[crate::abi::size(res)].1 && !may_raise {
        return Err(Errno::EPERM);
    }
    p.rlimits[crate::abi::size(res)] = v;
    if res == libc::RLIMIT_CPU as u64 {
        sentry::kernel::timers::arm_cpu_limit(&mut ctx.st, tgid);
        return Ok(());
    }
    let copied = [
        libc::RLIMIT_NOFILE,
        libc::RLIMIT_AS,
        libc::RLIMIT_FSIZE,
        libc::RLIMIT_DATA,
    ];
    if copied.iter().any(|&r| res == r as u64) {
        // Threads opening files or mapping memory without the kernel lock
        // hold a copy: each refreshes it at the event this kick causes.
        for t in p.threads.clone() {
            sentry::kernel::signal::kick(&ctx.st, t);
        }
    }
    Ok(())
}
fn getrlimit(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let v = rlimit_get(ctx, ctx.tgid(), a[0])?;
    put(ctx, a[1], &[v.0, v.1])?;
    Ok(0)
}
fn setrlimit(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let v: [u64; 2] = get(ctx, a[1])?;
    let me = ctx.tgid();
    rlimit_set(ctx, me, a[0], (v[0], v[1]))?;
    Ok(0)
}
fn prlimit64(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let tgid = target_proc(ctx, crate::abi::int(a[0]))?;
    let old = rlimit_get(ctx, tgid, a[1])?;
    if a[2] != 0 {
        let v: [u64; 2] = get(ctx, a[2])?;
        rlimit_set(ctx, tgid, a[1], (v[0], v[1]))?;
    }
    if a[3] != 0 {
        put(ctx, a[3], &[old.0, old.1])?;
    }
    Ok(0)
}

fn umask(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let fs = ctx.task().fs.clone();
    let mut fs = fs.lock();
    let old = fs.umask;
    fs.umask = crate::abi::uint(a[0]) & 0o777;
    Ok(old as u64)
}
