//! Task life: the run loop on each task's sentry thread, clone, exit and
//! wait.

use super::ctx::Ctx;
use super::ptrace;
use super::signal::{self, bit, Default_, SigInfo, SIGCHLD, SIGKILL, SIG_DFL, SIG_IGN};
use super::task::{default_rlimits, ExitInfo, FsContext, Process, Task};
use super::waitq::EV_ALL;
use super::{Creds, KState, Kernel};
use crate::errno::{Errno, KResult};
use crate::fs::file::FdTable;
use crate::mm::{write_obj, Mm};
use parking_lot::{Mutex, MutexGuard};
use platform::{Context, Event, Regs};
use std::sync::Arc;

/// A free id: no task's, process's, group's or session's (Linux keeps a
/// group's id while any member has it).
pub fn alloc_pid(st: &mut KState) -> i32 {
    loop {
        let pid = st.next_pid;
        st.next_pid = super::pidns::next_number(pid);
        if !st.id_in_use(pid) && !st.id_ns.contains_key(&pid) {
            return pid;
        }
    }
}

/// Creates pid 1 and starts it on `argv`.
pub fn spawn_init(
    k: &Arc<Kernel>,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    cwd: Vec<u8>,
    files: FdTable,
    ctty: Option<Arc<crate::fs::pty::Pty>>,
) -> Result<(), super::BootError> {
    spawn(k, &k.init, true, None, argv, envp, cwd, files, ctty).map(|_| ())
}

/// Starts a process from outside the sandbox (a container's `exec`):
/// its parent is outside (ppid 0, as Linux shows a parent in an ancestor
/// pid namespace), it leads a session of its own, and its exit goes to
/// the kernel's `outside_exit` channel instead of a parent. `exe` is the
/// program when it is not `argv[0]`. Its pid.
#[allow(clippy::too_many_arguments)]
pub fn spawn_outside(
    k: &Arc<Kernel>,
    who: &super::InitProcess,
    exe: Option<Vec<u8>>,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    cwd: Vec<u8>,
    files: FdTable,
    ctty: Option<Arc<crate::fs::pty::Pty>>,
) -> Result<i32, super::BootError> {
    {
        let st = k.lock();
        if st.init_exit.is_some() {
            return Err(super::BootError::Exec(Errno::ESRCH));
        }
        if k.max_tasks().is_some_and(|m| st.tasks.len() >= m) {
            return Err(super::BootError::Exec(Errno::EAGAIN));
        }
    }
    spawn(k, who, false, exe, argv, envp, cwd, files, ctty)
}

/// Creates a process that is no one's child in the sandbox (pid 1, or
/// one from outside) and starts it on `exe` (default `argv[0]`): its pid.
/// Pid 1 is the first process's, even when a container's startContainer
/// hooks ran before it.
#[allow(clippy::too_many_arguments)]
fn spawn(
    k: &Arc<Kernel>,
    who: &super::InitProcess,
    first: bool,
    exe: Option<Vec<u8>>,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    cwd: Vec<u8>,
    files: FdTable,
    ctty: Option<Arc<crate::fs::pty::Pty>>,
) -> Result<i32, super::BootError> {
    use super::BootError;
    let mut pctx = k.platform.new_context();
    let mut regs = Regs::default();
    // Not in a system call: the exec below is the sentry's own.
    regs.gp.orig_rax = u64::MAX;
    let mut st = k.lock();
    let pid = if first { 1 } else { alloc_pid(&mut st) };
    let mm = Mm::new(k.platform.new_address_space(), k.memfile.clone());
    let task = Task {
        timer_slack: super::task::DEFAULT_SLACK,
        io: Arc::default(),
        tid: pid,
        tgid: pid,
        vtid: pid,
        vtgid: pid,
        pid_ns: super::pidns::first(),
        pid_ns_children: super::pidns::first(),
        time_ns: super::timens::first(),
        time_ns_children: super::timens::first(),
        mm,
        files: Arc::new(Mutex::new(files)),
        fs: Arc::new(Mutex::new(FsContext {
            cwd: k.vfs.init_ns.path_ref(b"/"),
            root: k.vfs.init_ns.path_ref(b"/"),
            umask: who.umask & 0o777,
        })),
        sig_mask: Default::default(),
        saved_mask: None,
        pending: Default::default(),
        alt_stack: (0, 0, signal::SS_DISABLE),
        clear_child_tid: 0,
        robust_list: 0,
        kicker: pctx.kicker(),
        comm: Vec::new(),
        killed: false,
        vfork_parent: None,
        restart: None,
        host_tid: 0,
        start: std::time::Instant::now(),
        waiter: super::Waiter::new(),
        in_app: Default::default(),
        exit_signal: SIGCHLD,
        pdeathsig: 0,
        mnt_ns: k.vfs.init_ns.clone(),
        uts_ns: k.init_uts.clone(),
        net_ns: k.sockets.clone(),
        cgroup_ns: super::cgroup::CgroupNs::first(),
        sched: Default::default(),
        seccomp: None,
        seccomp_strict: false,
        mempolicy: Default::default(),
        ioprio: 0,
        ptrace: None,
        exit_code: 0,
        exit_watch: crate::fs::pidfd::ExitWatch::new(),
    };
    st.tasks.insert(pid, task);
    let mut init = new_process(pid, 0, pid, pid, who.creds.clone(), Vec::new());
    init.no_new_privs = who.no_new_privs;
    for &(r, soft, hard) in &who.rlimits {
        if let Some(slot) = usize::try_from(r)
            .ok()
            .and_then(|i| init.rlimits.get_mut(i))
        {
            *slot = (soft, hard);
        }
    }
    st.procs.insert(pid, init);
    st.procs.get_mut(&pid).unwrap().threads.push(pid);
    if let Some(tty) = ctty {
        tty.set_session(pid, pid);
        st.procs.get_mut(&pid).unwrap().ctty = Some(tty);
    }
    let path = exe
        .or_else(|| argv.first().cloned())
        .ok_or(BootError::Exec(Errno::ENOENT))?;
    let mm = st.tasks[&pid].mm.clone();
    let mut ctx = Ctx {
        k,
        st,
        tid: pid,
        regs: &mut regs,
        pctx: &mut pctx,
        mm,
        no_return: false,
        prepared: None,
    };
    let loaded = (|| {
        let dir = k
            .vfs
            .resolve(&ctx, libc::AT_FDCWD, &cwd, true)
            .map_err(BootError::Cwd)?;
        if dir.stat.ok_or(BootError::Cwd(Errno::ENOENT))?.mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(BootError::Cwd(Errno::ENOTDIR));
        }
        ctx.task_ref().fs.lock().cwd = dir.place();
        let path = super::exec::search_path(&mut ctx, &path, &envp).map_err(BootError::Exec)?;
        super::exec::do_execve(&mut ctx, &path, argv, envp).map_err(BootError::Exec)
    })();
    let space = ctx.task_ref().mm.space.clone();
    drop(ctx);
    let started = loaded
        .and_then(|()| super::clone::start_thread(k.clone(), pctx, space).map_err(BootError::Exec));
    match started {
        Ok(thread) => {
            tracing::debug!(pid, "first program loaded");
            thread.go(pid, regs);
            Ok(pid)
        }
        Err(e) => {
            // Nothing of it stays.
            let mut st = k.lock();
            st.tasks.remove(&pid);
            st.procs.remove(&pid);
            Err(e)
        }
    }
}

/// A session leader left its controlling terminal: the foreground group
/// gets SIGHUP and SIGCONT, and the session loses the terminal.
pub fn hang_up(st: &mut KState, sid: i32, tty: &Arc<crate::fs::pty::Pty>) {
    let (tty_sid, fg) = tty.session();
    if tty_sid != sid {
        return;
    }
    tty.clear_session();
    for p in st.procs.values_mut().filter(|p| p.sid == sid) {
        p.ctty = None;
    }
    signal::send_to_pgrp(st, fg, libc::SIGHUP);
    signal::send_to_pgrp(st, fg, libc::SIGCONT);
}

pub fn new_process(
    tgid: i32,
    ppid: i32,
    pgid: i32,
    sid: i32,
    creds: Creds,
    exe: Vec<u8>,
) -> Process {
    Process {
        tgid,
        pid_ns: super::pidns::first(),
        ppid,
        pgid,
        sid,
        threads: Vec::new(),
        children: Vec::new(),
        sighand: Arc::new(Mutex::new([Default::default(); 64])),
        shared_pending: Default::default(),
        exit: None,
        group_exit: None,
        stopped: false,
        stop_report: None,
        cont_report: false,
        creds,
        rlimits: default_rlimits(),
        exe,
        subreaper: false,
        oom_score_adj: 0,
        exit_signal: SIGCHLD,
        execed: false,
        loginuid: u32::MAX,
        coredump_filter: 0x33,
        dumpable: 1,
        no_new_privs: false,
        keepcaps: false,
        start: std::time::Instant::now(),
        child_times: (0, 0),
        child_switches: 0,
        dead_times: (0, 0),
        dead_switches: 0,
        dead_io: Default::default(),
        execing: None,
        itimer_real: None,
        itimer_cpu: [None, None],
        cpu_limit_timer: None,
        nice: 0,
        maxrss_kb: 0,
        child_maxrss_kb: 0,
        posix_timers: Vec::new(),
        next_timer_id: 0,
        ctty: None,
        child_wq: super::WaitQueue::new(),
        signal_wq: super::WaitQueue::new(),
        sem_undo: None,
        ipc_ns: 0,
        exit_watch: crate::fs::pidfd::ExitWatch::new(),
        aio: Default::default(),
        tracees: Vec::new(),
        dead_tracees: Vec::new(),
        stop_gen: 0,
        stop_sig: 0,
        leader_tracer: None,
        exit_held_by: None,
        parent_tid: 0,
        personality: 0,
        cgroup: super::cgroup::ROOT,
        leader_comm: Vec::new(),
    }
}

/// Host CPU time of the calling thread, in ns (user+sys are not split).
fn thread_cpu_ns() -> u64 {
    // SAFETY: clock_gettime with a valid out-pointer.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        crate::num::bits(ts.tv_sec) * 1_000_000_000 + crate::num::bits(ts.tv_nsec)
    }
}

/// Takes `now` as the task's copy `mine` when it was replaced (clone,
/// unshare and exec replace a task's fd table, mm, fs context or mount
/// namespace).
/// What a seccomp filter does to the task beyond failing its call.
#[derive(Clone, Copy, Debug)]
enum Denied {
    /// SIGSYS (SYS_SECCOMP) with the filter's data as si_errno.
    Trap(u16),
    KillThread,
    KillProcess,
    /// Strict mode: SIGKILL.
    Strict,
    /// SECCOMP_RET_TRACE: the tracer's event stop, if there is one.
    Trace(u16),
}

fn same_chain(
    a: &Option<Arc<super::seccomp::Chain>>,
    b: &Option<Arc<super::seccomp::Chain>>,
) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// The task's own seccomp state on the call in `regs`: None lets it go
/// on; Some(what more happens) when the call is not made (its return
/// value already in `regs`).
fn own_seccomp(
    regs: &mut Regs,
    strict: bool,
    filters: Option<&super::seccomp::Chain>,
    tid: i32,
) -> Option<Option<Denied>> {
    use super::seccomp::{strict_allows, Data, Verdict, ARCH_X86_64};
    let nr = regs.gp.orig_rax;
    if strict {
        return (!strict_allows(nr)).then_some(Some(Denied::Strict));
    }
    let d = Data {
        nr: crate::num::low_int(nr),
        arch: ARCH_X86_64,
        ip: regs.gp.rip,
        args: regs.syscall_args(),
    };
    let (ret, log) = filters?.run(&d);
    let v = Verdict::of(ret);
    if log && v != Verdict::Allow || v == Verdict::Log {
        tracing::info!(tid, nr, ?v, "seccomp");
    }
    match v {
        Verdict::Allow | Verdict::Log => None,
        Verdict::Errno(e) => {
            regs.gp.rax = crate::num::bits(-i64::from(e));
            Some(None)
        }
        // The call is rolled back: rax holds its number again.
        Verdict::Trap(data) => {
            regs.gp.rax = nr;
            Some(Some(Denied::Trap(data)))
        }
        // ENOSYS unless a tracer lets it go on (`seccomp_trace`).
        Verdict::Trace(data) => {
            regs.gp.rax = crate::num::bits(-i64::from(libc::ENOSYS));
            Some(Some(Denied::Trace(data)))
        }
        Verdict::KillThread => Some(Some(Denied::KillThread)),
        Verdict::KillProcess => Some(Some(Denied::KillProcess)),
    }
}

/// Carries out a seccomp denial on task `tid`.
fn deny(st: &mut KState, tid: i32, d: Denied, regs: &Regs) {
    let Some(tgid) = st.tasks.get(&tid).map(|t| t.tgid) else {
        return;
    };
    let alone = st.procs.get(&tgid).is_none_or(|p| p.threads.len() == 1);
    match d {
        Denied::Trap(data) => {
            let nr = crate::num::low_int(regs.gp.orig_rax);
            force_signal(st, tid, SigInfo::seccomp(nr, regs.gp.rip, i32::from(data)));
        }
        // The last thread killed ends the process with SIGSYS.
        Denied::KillThread if !alone => {
            if let Some(t) = st.tasks.get_mut(&tid) {
                t.killed = true;
            }
            signal::kick(st, tid);
        }
        Denied::KillThread | Denied::KillProcess => {
            group_exit(st, tgid, signal::fatal_info(libc::SIGSYS));
        }
        Denied::Strict => group_exit(st, tgid, signal::fatal_info(SIGKILL)),
        Denied::Trace(_) => {}
    }
}

fn refresh<T: ?Sized>(mine: &mut Arc<T>, now: &Arc<T>) {
    if !Arc::ptr_eq(mine, now) {
        *mine = now.clone();
    }
}

/// Runs the task's application code until its next event. A platform
/// failure ends its thread group (None: the next turn sees the exit).
fn run_app(
    k: &Kernel,
    tid: i32,
    pctx: &mut Box<dyn Context>,
    mm: &Mm,
    regs: &mut Regs,
    in_app: &super::cpu::AppTime,
) -> Option<Event> {
    super::waitq::flush_deferred();
    in_app.enter();
    let r = pctx.switch(&mm.space, regs);
    in_app.leave();
    match r {
        Ok(e) => Some(e),
        Err(e) => {
            // Logged, not printed: the application's stderr is its own. A
            // stub killed from outside (SIGKILL, status 0x9) is in practice
            // the memory cgroup's OOM killer. The process dies of what
            // killed its stub (SIGKILL when that is not a signal).
            let sig = match e {
                platform::PlatformError::StubDied(status) if libc::WIFSIGNALED(status) => {
                    libc::WTERMSIG(status)
                }
                _ => SIGKILL,
            };
            tracing::warn!(tid, signal = sig, "platform failure: {e}");
            let mut st = k.lock();
            let tgid = st.tasks[&tid].tgid;
            group_exit(&mut st, tgid, signal::fatal_info(sig));
            None
        }
    }
}

/// What an I/O event on `file` signals its owner: a plain SIGIO
/// (SI_KERNEL), or the file's F_SETSIG signal with `code` (POLL_*),
/// `band` and `fd`.
fn sigio_info(file: &crate::fs::file::File, code: i32, band: u64, fd: i32) -> SigInfo {
    const SI_KERNEL: i32 = 0x80;
    match file.owner_sig.load(std::sync::atomic::Ordering::Relaxed) {
        0 => SigInfo {
            signo: libc::SIGIO,
            code: SI_KERNEL,
            ..Default::default()
        },
        sig => SigInfo {
            signo: sig,
            code,
            value: band,
            status: fd,
            kind: signal::InfoKind::Poll,
            ..Default::default()
        },
    }
}

/// Sends the signals dnotify registrations owe: the file's F_SETSIG
/// signal with POLL_MSG and the fd, or a plain SIGIO.
fn send_dnotify(k: &Kernel, st: &mut KState) {
    const POLL_MSG: i32 = 3;
    for f in k.vfs.inotify.dnotify.take() {
        let Some(file) = f.file.upgrade() else {
            continue;
        };
        // POLLIN | POLLRDNORM | POLLMSG, as Linux's band table has it.
        let info = sigio_info(&file, POLL_MSG, 0x441, f.fd);
        signal::send_to_process(st, f.tgid, info);
    }
}

/// Sends the signals O_ASYNC files owe their owners: a plain SIGIO, or
/// the F_SETSIG signal with POLL_* in si_code, si_band and si_fd.
pub fn send_sigio(k: &Kernel, st: &mut KState) {
    for o in k.vfs.fasync.take() {
        let Some(file) = o.file.upgrade() else {
            continue;
        };
        let (code, band) = crate::fs::fasync::reason(o.events);
        let info = sigio_info(&file, code, band, o.fd);
        signal_owner(st, &file, info);
    }
}

/// A lease break's signal to the lease holder's file owner: POLL_MSG
/// with the band Linux gives it, and the fd F_SETLEASE was given.
pub fn signal_lease_break(st: &mut KState, file: &crate::fs::file::File, fd: i32) {
    const POLL_MSG: i32 = 3;
    signal_owner(st, file, sigio_info(file, POLL_MSG, 0x441, fd));
}

/// Sends `info` to what `file`'s owner (F_SETOWN) names: a thread, a
/// process or a process group; nothing without an owner.
fn signal_owner(st: &mut KState, file: &crate::fs::file::File, info: SigInfo) {
    const F_OWNER_TID: i32 = 0;
    const F_OWNER_PGRP: i32 = 2;
    let (kind, id) = *file.owner.lock();
    if id == 0 {
        return;
    }
    match kind {
        F_OWNER_TID => signal::send_to_thread(st, id, info),
        F_OWNER_PGRP => {
            let group: Vec<i32> = st
                .procs
                .values()
                .filter(|p| p.pgid == id && p.exit.is_none())
                .map(|p| p.tgid)
                .collect();
            for p in group {
                signal::send_to_process(st, p, info);
            }
        }
        _ => signal::send_to_process(st, id, info),
    }
}

pub(super) fn run_task(k: Arc<Kernel>, tid0: i32, mut pctx: Box<dyn Context>, mut regs: Regs) {
    let mut tid = tid0;
    super::waitq::defer_wakeups(true);
    let mut st = k.lock();
    if let Some(t) = st.tasks.get_mut(&tid) {
        t.kicker = pctx.kicker();
        // SAFETY: gettid cannot fail.
        t.host_tid = unsafe { libc::gettid() };
    }
    let table = k.table.get().expect("syscall table installed").clone();
    let mut event: Option<Event> = None;
    // The task's fd table and memory, for calls made without the lock
    // (refreshed under the lock after every event: clone, unshare and
    // exec replace them).
    let in_app = st.tasks[&tid].in_app.clone();
    let (mut files, mut mm, mut fs, mut mnt_ns, mut creds, mut sighand, mut tgid) = {
        let t = &st.tasks[&tid];
        let p = &st.procs[&t.tgid];
        (
            t.files.clone(),
            t.mm.clone(),
            t.fs.clone(),
            t.mnt_ns.clone(),
            p.creds.clone(),
            p.sighand.clone(),
            t.tgid,
        )
    };
    let (mut nofile, mut as_limit, mut fsize, mut data, mut stack) = {
        let p = &st.procs[&st.tasks[&tid].tgid];
        (
            p.nofile(),
            p.as_limit(),
            p.fsize_limit(),
            p.data_limit(),
            p.stack_limit(),
        )
    };
    let waiter = st.tasks[&tid].waiter.clone();
    let io = st.tasks[&tid].io.clone();
    let mut vids = (st.tasks[&tid].vtid, st.tasks[&tid].vtgid);
    let mut mono_off = st.tasks[&tid].time_ns.offset_of(libc::CLOCK_MONOTONIC);
    let sig_mask = st.tasks[&tid].sig_mask.clone();
    // The task's seccomp filters and mode (changed only by locked calls,
    // after which they are read again).
    let (mut filters, mut strict) = {
        let t = &st.tasks[&tid];
        (t.seccomp.clone(), t.seccomp_strict)
    };
    // Traced: how (changed only while it is in a ptrace-stop, on this
    // thread, under the lock).
    let mut trace_mode = ptrace::mode_of(&st, tid);
    // A tracer may suspend the task's filters (PTRACE_O_SUSPEND_SECCOMP).
    let mut suspended = ptrace::seccomp_suspended(&st, tid);
    drop(st);
    // The address and fork count of the protection fault last retried,
    // while nothing but faults has happened since.
    let mut last_fault: Option<(u64, u64)> = None;
    let mut st = loop {
        if !matches!(event, Some(Event::Fault { .. })) {
            last_fault = None;
        }
        let (mut done, mut restart) = (false, false);
        let mut prepared = None;
        let syscall_event = matches!(event, Some(Event::Syscall));
        if syscall_event && trace_mode.is_some_and(|m| m.stops_at_entry()) {
            done = syscall_entry_stop(&k, tid, &mut regs, &mut pctx, trace_mode);
        }
        // A container's seccomp profile decides first, then the task's
        // own filters (seccomp(2)).
        let mut seccomp_signal = None;
        if let (Some(Event::Syscall), Some(f)) = (&event, &k.app_seccomp) {
            use super::appseccomp::Action;
            let nr = regs.gp.orig_rax;
            let fail = |e: i32| crate::num::bits(-i64::from(e));
            match f.check(nr, &regs.syscall_args()) {
                Action::Allow => {}
                Action::Log => tracing::info!(tid, nr, "seccomp: logged"),
                Action::Errno(e) => {
                    regs.gp.rax = fail(i32::from(e));
                    done = true;
                }
                Action::Trace => {
                    regs.gp.rax = fail(libc::ENOSYS);
                    done = true;
                }
                Action::Trap => {
                    regs.gp.rax = fail(libc::ENOSYS);
                    done = true;
                    seccomp_signal = Some(Denied::Trap(0));
                }
                Action::KillProcess | Action::KillThread => {
                    done = true;
                    seccomp_signal = Some(Denied::KillProcess);
                }
            }
        }
        if matches!(event, Some(Event::Syscall))
            && !done
            && !suspended
            && (strict || filters.is_some())
        {
            if let Some(d) = own_seccomp(&mut regs, strict, filters.as_deref(), tid) {
                done = true;
                seccomp_signal = d;
            }
        }
        if matches!(event, Some(Event::Syscall)) && !k.strace && !done && trace_mode.is_none() {
            let cx = super::Unlocked {
                k: &k,
                tid,
                tgid,
                vtid: vids.0,
                vtgid: vids.1,
                mono_off,
                files: &files,
                mm: &mm,
                fs: &fs,
                mnt_ns: &mnt_ns,
                creds: &creds,
                sig_mask: &sig_mask,
                sighand: &sighand,
                nofile,
                as_limit,
                fsize,
                data,
                waiter: &waiter,
                pctx: std::cell::RefCell::new(&mut pctx),
                prepared: std::cell::RefCell::new(None),
            };
            if let Some(r) = table.dispatch_unlocked(&cx, regs.gp.orig_rax, regs.syscall_args()) {
                io.record(regs.gp.orig_rax, &r);
                // A call a signal interrupted goes through the signal path.
                restart = matches!(r, Err(e) if e == Errno::ERESTARTSYS);
                regs.gp.rax = match r {
                    Ok(v) => v,
                    Err(e) => crate::num::bits(-(e.0 as i64)),
                };
                done = true;
            }
            prepared = cx.prepared.into_inner();
        }
        if done
            && !restart
            && seccomp_signal.is_none()
            && trace_mode.is_none()
            && !k.vfs.inotify.dnotify.pending()
            && !k.vfs.fasync.pending()
        {
            // Back to the application without the kernel lock: the call
            // changed nothing the lock guards for this task, and a signal,
            // stop or kill sent meanwhile has kicked its stub, which traps
            // back (Event::Interrupted) before running an instruction.
            if mm.has_pending_release() {
                // Pages an munmap or a copy-on-write let go are freed only
                // once the host no longer maps them.
                mm.flush_and_release(|| pctx.flush(&mm.space).is_ok());
            }
            event = run_app(&k, tid, &mut pctx, &mm, &mut regs, &in_app);
            continue;
        }
        if let Some(Event::Fault { signo, code, addr }) = event {
            // Copy-on-write and stack growth need only the address space.
            // A protection fault is retried once per fork: retried again
            // with nothing new, it was not a write to fix.
            // The count is read before the fix: a fork by another thread
            // right after it write-protects the page again, and the retry's
            // fault must then count as new.
            let forks = mm.fork_count();
            let again = last_fault == Some((addr, forks));
            let fixed = signo == libc::SIGSEGV
                && ((code == 1 && mm.grow_stack(addr, stack))
                    || (code == 2 && !again && mm.write_fault(addr)));
            if fixed {
                last_fault = (code == 2).then_some((addr, forks));
                // The new mapping is applied now, and what it replaced
                // let go.
                mm.flush_and_release(|| pctx.flush(&mm.space).is_ok());
                event = run_app(&k, tid, &mut pctx, &mm, &mut regs, &in_app);
                continue;
            }
        }
        let mut st = k.lock();
        if let Some(Denied::Trace(data)) = seccomp_signal {
            seccomp_signal = None;
            // The tracer may let the call go on: the filters decide again.
            let m = crate::num::bits(i64::from(data));
            let ev = (ptrace::EVENT_SECCOMP, ptrace::O_TRACESECCOMP);
            if ptrace::event(&mut st, tid, &mut regs, &mut pctx, ev.0, ev.1, m)
                && regs.gp.orig_rax != u64::MAX
            {
                match own_seccomp(&mut regs, strict, filters.as_deref(), tid) {
                    None | Some(Some(Denied::Trace(_))) => done = false,
                    Some(d) => seccomp_signal = d,
                }
            }
        }
        if let Some(d) = seccomp_signal {
            deny(&mut st, tid, d, &regs);
        }
        match event.take() {
            Some(Event::Syscall) if done => {}
            Some(Event::Syscall) => {
                let nr = regs.gp.orig_rax;
                let args = regs.syscall_args();
                let mm = st.tasks[&tid].mm.clone();
                let mut ctx = Ctx {
                    k: &k,
                    st,
                    tid,
                    regs: &mut regs,
                    pctx: &mut pctx,
                    mm,
                    no_return: false,
                    prepared: prepared.take(),
                };
                let r = table.dispatch(&mut ctx, nr, args);
                io.record(nr, &r);
                if !ctx.no_return {
                    ctx.regs.gp.rax = match r {
                        Ok(v) => v,
                        Err(e) => crate::num::bits(-(e.0 as i64)),
                    };
                }
                tid = ctx.tid;
                st = ctx.st;
            }
            Some(Event::CompatSyscall) => {
                // No i386 table: never reinterpret the number as a 64-bit one.
                k.log_once("i386 system call ABI (int 0x80)");
                regs.gp.rax = crate::num::bits(-(libc::ENOSYS as i64));
            }
            // Not one the address space explains (tried above).
            Some(Event::Fault { signo, code, addr }) => {
                // A fault inside a mapping is an access error, whatever
                // the host had there (memory never made accessible is not
                // mapped in the host at all).
                const SEGV_MAPERR: i32 = 1;
                const SEGV_ACCERR: i32 = 2;
                let code =
                    if signo == libc::SIGSEGV && code == SEGV_MAPERR && mm.vma_at(addr).is_some() {
                        SEGV_ACCERR
                    } else {
                        code
                    };
                force_signal(&mut st, tid, SigInfo::fault(signo, code, addr));
            }
            Some(Event::Interrupted) | None => {}
        }
        if syscall_event && trace_mode.is_some() {
            syscall_exit_stop(&mut st, tid, &mut regs, &mut pctx);
        }
        if k.vfs.inotify.dnotify.pending() {
            send_dnotify(&k, &mut st);
        }
        if k.vfs.fasync.pending() {
            send_sigio(&k, &mut st);
        }
        if !super::exec::signals_and_exit(&mut st, tid, &mut regs, &mut pctx) {
            break st;
        }
        let t = &st.tasks[&tid];
        if !same_chain(&filters, &t.seccomp) || strict != t.seccomp_strict {
            (filters, strict) = (t.seccomp.clone(), t.seccomp_strict);
        }
        refresh(&mut files, &t.files);
        refresh(&mut mm, &t.mm);
        refresh(&mut fs, &t.fs);
        refresh(&mut mnt_ns, &t.mnt_ns);
        tgid = t.tgid;
        vids = (t.vtid, t.vtgid);
        mono_off = t.time_ns.offset_of(libc::CLOCK_MONOTONIC);
        trace_mode = t.ptrace.as_ref().map(|tr| tr.mode);
        suspended = ptrace::seccomp_suspended(&st, tid);
        if let Some(p) = st.procs.get(&t.tgid) {
            if p.creds != creds {
                creds = p.creds.clone();
            }
            refresh(&mut sighand, &p.sighand);
            nofile = p.nofile();
            as_limit = p.as_limit();
            fsize = p.fsize_limit();
            data = p.data_limit();
            stack = p.stack_limit();
        }
        drop(st);
        event = run_app(&k, tid, &mut pctx, &mm, &mut regs, &in_app);
    };
    // The task's own references go first: its fd table closing (pipe
    // ends, sockets) is what others wait for.
    drop((files, mm, fs, mnt_ns));
    // A traced task reports its exit, however it ends (SIGKILL too).
    {
        let status = st.tasks.get(&tid).map_or(0, |t| {
            st.procs
                .get(&t.tgid)
                .and_then(|p| p.group_exit)
                .map_or(t.exit_code, |e| e.status)
        });
        let msg = crate::num::bits(i64::from(status));
        ptrace::event(
            &mut st,
            tid,
            &mut regs,
            &mut pctx,
            ptrace::EVENT_EXIT,
            ptrace::O_TRACEEXIT,
            msg,
        );
    }
    exit_thread_prepare(&k, &mut st, tid);
    let cpu = thread_cpu_ns();
    drop(st);
    super::waitq::flush_deferred();
    pctx.release();
    drop(pctx);
    let mut st = k.lock();
    exit_thread_finish(&mut st, tid, cpu);
    drop(st);
    super::waitq::flush_deferred();
}

/// A traced task's syscall-entry stop (the mode it was resumed with
/// says there is one). Whether the call is skipped: PTRACE_SYSEMU, or
/// the tracer set its number to -1 (its return value is then whatever
/// the tracer left in rax).
fn syscall_entry_stop(
    k: &Kernel,
    tid: i32,
    regs: &mut Regs,
    pctx: &mut Box<dyn Context>,
    mode: Option<ptrace::Mode>,
) -> bool {
    let mut st = k.lock();
    regs.gp.rax = crate::num::bits(-i64::from(libc::ENOSYS));
    let r = ptrace::stop(
        &mut st,
        tid,
        regs,
        pctx,
        ptrace::Report::of(ptrace::StopKind::SyscallEnter, libc::SIGTRAP),
    );
    match r {
        // Killed (or no longer traced): the locked path sees to it.
        None => st
            .tasks
            .get(&tid)
            .is_none_or(|t| t.killed || t.ptrace.is_some()),
        Some((_, sig, _)) => {
            if sig != 0 {
                signal::send_to_thread(&mut st, tid, SigInfo::user(sig, signal::SI_KERNEL, 0, 0));
            }
            mode.is_some_and(|m| m.emulates()) || regs.gp.orig_rax == u64::MAX
        }
    }
}

/// After a traced task's syscall: the syscall-exit stop under
/// PTRACE_SYSCALL, or the single-step trap a stepped `syscall`
/// instruction gives.
fn syscall_exit_stop(
    st: &mut MutexGuard<'_, KState>,
    tid: i32,
    regs: &mut Regs,
    pctx: &mut Box<dyn Context>,
) {
    match ptrace::mode_of(st, tid) {
        Some(ptrace::Mode::Syscall) => {
            let r = ptrace::stop(
                st,
                tid,
                regs,
                pctx,
                ptrace::Report::of(ptrace::StopKind::SyscallExit, libc::SIGTRAP),
            );
            if let Some((_, sig, _)) = r.filter(|r| r.1 != 0) {
                signal::send_to_thread(st, tid, SigInfo::user(sig, signal::SI_KERNEL, 0, 0));
            }
        }
        Some(ptrace::Mode::Step) => {
            const TRAP_BRKPT: i32 = 1;
            force_signal(st, tid, SigInfo::fault(libc::SIGTRAP, TRAP_BRKPT, 0));
        }
        _ => {}
    }
}

/// A synchronous fault: blocked or ignored means the default action.
pub fn force_signal(st: &mut KState, tid: i32, info: SigInfo) {
    let Some(t) = st.tasks.get_mut(&tid) else {
        return;
    };
    let tgid = t.tgid;
    let blocked = t.sig_mask.get() & bit(info.signo) != 0;
    t.sig_mask.set(t.sig_mask.get() & !bit(info.signo));
    let p = &st.procs[&tgid];
    {
        let mut h = p.sighand.lock();
        let a = &mut h[crate::num::sig_index(info.signo)];
        if blocked || a.handler == SIG_IGN {
            a.handler = SIG_DFL;
        }
    }
    st.tasks.get_mut(&tid).unwrap().pending.push(info);
}

/// Starts the exit of a whole process with `info`: every thread is told
/// to leave.
pub fn group_exit(st: &mut KState, tgid: i32, info: ExitInfo) {
    let Some(p) = st.procs.get_mut(&tgid) else {
        return;
    };
    if p.group_exit.is_none() {
        p.group_exit = Some(info);
    }
    p.stopped = false;
    for t in p.threads.clone() {
        if let Some(t) = st.tasks.get_mut(&t) {
            t.killed = true;
        }
        signal::kick(st, t);
    }
}

/// First half of a thread's exit, while its stub still exists:
/// clear_child_tid and robust futexes.
fn exit_thread_prepare(k: &Kernel, st: &mut KState, tid: i32) {
    let Some(t) = st.tasks.get(&tid) else { return };
    let tgid = t.tgid;
    if st.procs.get(&tgid).is_some_and(|p| p.threads.len() == 1) {
        // The stub is about to go: keep its CPU time and peak size.
        let (user, rss) = (t.mm.space.cpu_time_ns(), super::cpu::rss_kb_recent(&t.mm));
        if let Some(p) = st.procs.get_mut(&tgid) {
            p.dead_times.0 += user;
            p.maxrss_kb = p.maxrss_kb.max(rss);
        }
    }
    let Some(t) = st.tasks.get_mut(&tid) else {
        return;
    };
    let (mm, ctid, robust) = (t.mm.clone(), t.clear_child_tid, t.robust_list);
    t.clear_child_tid = 0;
    // Robust futex words hold the id the thread's namespace gave it.
    let vtid = t.vtid;
    let vtid_of = |g: i32| st.tasks.get(&g).map_or(g, |x| x.vtid);
    super::futex::exit_robust_list(&k.futexes, &mm, vtid, robust, &vtid_of);
    if ctid != 0 && write_obj::<u32>(&mm, ctid, &0).is_ok() {
        let _ = super::futex::wake(&k.futexes, &mm, ctid, 1, u32::MAX, false);
    }
    release_vfork(st, tid);
}

pub fn release_vfork(st: &mut KState, tid: i32) {
    if let Some(t) = st.tasks.get_mut(&tid) {
        if let Some(parent) = t.vfork_parent.take() {
            super::task::wake_task(&st.tasks, parent);
        }
    }
}

/// Second half: the task disappears; the last thread makes the process a
/// zombie.
fn exit_thread_finish(st: &mut KState, tid: i32, cpu_ns: u64) {
    let Some(t) = st.tasks.remove(&tid) else {
        return;
    };
    let (tgid, tracer, own_exit) = (t.tgid, t.ptrace.as_ref().map(|tr| tr.tracer), t.exit_code);
    let io = t.io.totals();
    let switches = t.waiter.voluntary();
    t.exit_watch.exited();
    t.exit_watch.gone();
    let comm = (tid == tgid).then(|| t.comm.clone());
    // A thread's id goes now; the leader's stays with the process until
    // it is reaped.
    drop(t);
    if tid != tgid {
        st.release_id(tid);
    }
    let Some(p) = st.procs.get_mut(&tgid) else {
        return;
    };
    if let Some(c) = comm {
        p.leader_comm = c;
    }
    p.threads.retain(|&x| x != tid);
    p.dead_times.1 += cpu_ns;
    p.dead_io.add(io);
    p.dead_switches += switches;
    let attached = !p.tracees.is_empty();
    if attached {
        ptrace::tracer_thread_gone(st, tgid, tid);
    }
    let Some(p) = st.procs.get_mut(&tgid) else {
        return;
    };
    if let Some(tracer) = tracer {
        let info = p.group_exit.unwrap_or(ExitInfo {
            status: own_exit,
            code: signal::CLD_EXITED,
            value: (own_exit >> 8) & 0xff,
        });
        ptrace::task_gone(st, tid, tgid, tracer, info);
    }
    let Some(p) = st.procs.get_mut(&tgid) else {
        return;
    };
    if !p.threads.is_empty() {
        // An exec'ing thread waits for the others to go.
        if let Some(e) = p.execing {
            super::task::wake_task(&st.tasks, e);
        }
        // Its children now belong to a thread still there, and hear of
        // the change (PR_SET_PDEATHSIG is about the thread that forked).
        let heir = if p.threads.contains(&tgid) {
            tgid
        } else {
            p.threads[0]
        };
        let orphans: Vec<i32> = p.children.clone();
        for c in orphans {
            let Some(cp) = st.procs.get_mut(&c).filter(|cp| cp.parent_tid == tid) else {
                continue;
            };
            cp.parent_tid = heir;
            let threads = cp.threads.clone();
            send_pdeathsig(st, &threads);
        }
        return;
    }
    let info = p.group_exit.unwrap_or(ExitInfo {
        status: 0,
        code: signal::CLD_EXITED,
        value: 0,
    });
    p.exit = Some(info);
    p.exit_watch.exited();
    let leader_tracer = p.leader_tracer.take().filter(|&t| t != p.ppid);
    let tracing = !p.tracees.is_empty() || !p.dead_tracees.is_empty();
    let undo = p.sem_undo.take();
    let ipc_ns = p.ipc_ns;
    let hangup = (p.sid == tgid).then(|| p.ctty.take()).flatten();
    let (ppid, children) = (p.ppid, std::mem::take(&mut p.children));
    if let Some(u) = undo {
        st.ipc.of(ipc_ns).exit_undo(u, tgid);
    }
    if !st.locks.record.is_empty() {
        st.locks.record.release_process(tgid);
        st.locks.released();
    }
    for pt in p
        .posix_timers
        .drain(..)
        .map(|(_, key)| key)
        .chain(p.cpu_limit_timer.take())
    {
        st.timers.cancel(pt);
    }
    for t in p
        .itimer_cpu
        .iter_mut()
        .filter_map(|t| t.take())
        .collect::<Vec<_>>()
    {
        st.timers.cancel(t);
    }
    if let Some(t) = st.procs.get_mut(&tgid).and_then(|p| p.itimer_real.take()) {
        st.timers.cancel(t);
    }
    // The last process out of an IPC namespace takes it with it.
    if ipc_ns != 0 {
        super::ipc::forget_unused(st);
    }
    if let Some(tracer) = leader_tracer {
        ptrace::dead(st, tgid, tgid, tracer, info);
    }
    if tracing {
        ptrace::tracer_gone(st, tgid);
    }
    if let Some(tty) = hangup {
        hang_up(st, tgid, &tty);
    }
    // The init of a namespace below the first takes the namespace with
    // it: nothing joins any more and everything in it is killed; its own
    // exit is told once they are all gone (`pid_left`).
    let ns = st.procs.get(&tgid).map(|p| p.pid_ns.clone());
    let ns_init = ns
        .as_ref()
        .filter(|ns| !ns.is_first() && ns.init() == tgid)
        .cloned();
    if let Some(ns) = &ns_init {
        ns.close();
        for (g, _) in ns.members() {
            if g != tgid && st.procs.get(&g).is_some_and(|p| p.exit.is_none()) {
                group_exit(st, g, signal::fatal_info(SIGKILL));
            }
        }
    }
    // Orphans go to the nearest subreaper or to init.
    let reaper = find_reaper(st, tgid, ppid);
    for c in children {
        if c == 1 {
            continue;
        }
        let Some(cp) = st.procs.get_mut(&c) else {
            continue;
        };
        cp.ppid = reaper;
        cp.parent_tid = reaper;
        // A new parent hears of the exit as of any child's.
        cp.exit_signal = SIGCHLD;
        // A zombie whose exit is not told yet (its tracer's, or an
        // init's whose namespace still empties) is no orphan to reap.
        let zombie = cp.exit.is_some() && cp.exit_held_by.is_none() && !cp.pid_ns.holds_exit_of(c);
        let pdeath: Vec<i32> = cp.threads.clone();
        if let Some(rp) = st.procs.get_mut(&reaper) {
            rp.children.push(c);
        }
        send_pdeathsig(st, &pdeath);
        if zombie {
            if zapping(st, reaper) {
                reap_orphan(st, c, reaper);
            } else {
                signal::notify_parent(st, c, reaper, signal::CLD_EXITED, 0);
            }
        }
    }
    if ppid == 0 && tgid != 1 {
        // Started from outside (`spawn_outside`): the host reaps it.
        st.reap(tgid);
        if let Some(tx) = &st.outside_exit {
            let _ = tx.send((tgid, info.shell_status()));
        }
        return;
    }
    if tgid == 1 {
        st.init_exit = Some(info.shell_status());
        st.init_done.notify();
        let all: Vec<i32> = st.procs.keys().copied().collect();
        for p in all {
            group_exit(st, p, signal::fatal_info(SIGKILL));
        }
        return;
    }
    // A tracer that is not the parent sees the exit first.
    if st
        .procs
        .get(&tgid)
        .is_some_and(|p| p.exit_held_by.is_some())
    {
        return;
    }
    if let Some(ns) = ns_init {
        ns.hold_exit(tgid, info);
        pid_left(st, &ns);
        return;
    }
    exit_notify(st, tgid, ppid, info);
}

/// Whether `tgid` is the init of a namespace below the first that has
/// exited: the processes left in it are its children, which it reaps
/// itself as it goes (Linux's zap_pid_ns_processes).
fn zapping(st: &KState, tgid: i32) -> bool {
    st.procs
        .get(&tgid)
        .is_some_and(|p| p.exit.is_some() && !p.pid_ns.is_first() && p.pid_ns.init() == tgid)
}

fn reap_orphan(st: &mut KState, child: i32, init: i32) {
    if let Some(ip) = st.procs.get_mut(&init) {
        ip.children.retain(|&c| c != child);
    }
    st.reap(child);
}

/// An id left PID namespace `ns` (and those above it): an init whose
/// namespace is now empty but for itself has its exit told.
pub fn pid_left(st: &mut KState, ns: &Arc<super::pidns::PidNs>) {
    let mut n = Some(ns.clone());
    while let Some(cur) = n.filter(|x| !x.is_first()) {
        if let Some((init, info)) = cur.take_held_exit() {
            let ppid = st.procs.get(&init).map_or(0, |p| p.ppid);
            if zapping(st, ppid) {
                reap_orphan(st, init, ppid);
            } else {
                exit_notify(st, init, ppid, info);
            }
        }
        n = cur.parent.clone();
    }
}

/// The threads of a child whose parent went: each that asked for a
/// PR_SET_PDEATHSIG signal gets it.
fn send_pdeathsig(st: &mut KState, threads: &[i32]) {
    for &th in threads {
        let sig = st.tasks.get(&th).map(|t| t.pdeathsig).unwrap_or(0);
        if sig != 0 {
            signal::send_to_thread(st, th, SigInfo::user(sig, signal::SI_USER, 0, 0));
        }
    }
}

/// Tells the parent of zombie `tgid` about its exit with its exit signal
/// (none for 0), or reaps it at once when that is SIGCHLD and the
/// parent ignores it.
pub fn exit_notify(st: &mut KState, tgid: i32, ppid: i32, info: ExitInfo) {
    let sig = st.procs.get(&tgid).map_or(SIGCHLD, |p| p.exit_signal);
    let act = st
        .procs
        .get(&ppid)
        .map(|pp| pp.sighand.lock()[SIGCHLD as usize - 1]);
    let ignored = sig == SIGCHLD && act.is_some_and(|a| a.handler == SIG_IGN);
    let nocldwait = sig == SIGCHLD && act.is_some_and(|a| a.flags & signal::SA_NOCLDWAIT != 0);
    if ignored || nocldwait || zapping(st, ppid) {
        st.reap(tgid);
        if let Some(pp) = st.procs.get_mut(&ppid) {
            pp.children.retain(|&c| c != tgid);
        }
        if nocldwait && !ignored {
            // SA_NOCLDWAIT reaps, but a handler still hears of the exit.
            signal::notify_parent_by(st, tgid, ppid, info.code, info.value, sig);
        } else {
            signal::notify_children_changed(st, ppid);
        }
    } else {
        signal::notify_parent_by(st, tgid, ppid, info.code, info.value, sig);
    }
}

/// Who adopts the children of `father` (whose parent is `ppid`): the
/// nearest living subreaper among its ancestors in its PID namespace, or
/// that namespace's init (the exiting init itself, which reaps them as
/// it goes).
fn find_reaper(st: &KState, father: i32, mut pid: i32) -> i32 {
    let Some(ns) = st.procs.get(&father).map(|p| p.pid_ns.clone()) else {
        return 1;
    };
    let init = ns.init();
    if init == father {
        return father;
    }
    while let Some(p) = st.procs.get(&pid) {
        if !Arc::ptr_eq(&p.pid_ns, &ns) {
            break;
        }
        if p.subreaper && p.exit.is_none() {
            return pid;
        }
        if pid == init {
            break;
        }
        pid = p.ppid;
    }
    init
}

/// Which children wait(2) considers.
#[derive(Clone, Copy, Debug)]
pub enum WaitSel {
    Any,
    Pid(i32),
    Pgid(i32),
}

/// What wait(2) found.
pub struct WaitResult {
    /// The child's id as the waiter's PID namespace numbers it.
    pub pid: i32,
    pub uid: u32,
    /// wait status word
    pub status: i32,
    /// waitid si_code and si_status
    pub code: i32,
    pub value: i32,
    pub rusage_ns: (u64, u64),
    /// The child's peak resident size and its children's, in KiB.
    pub maxrss_kb: u64,
    /// Its voluntary context switches and its reaped children's.
    pub switches: u64,
}

impl WaitResult {
    /// A stop: `code` above 0x7f in the status word, and waitid's
    /// si_code (CLD_STOPPED, or CLD_TRAPPED for a ptrace-stop).
    fn stop(pid: i32, uid: u32, code: i32, si_code: i32) -> WaitResult {
        WaitResult {
            pid,
            uid,
            status: (code << 8) | 0x7f,
            code: si_code,
            value: code,
            rusage_ns: (0, 0),
            switches: 0,
            maxrss_kb: 0,
        }
    }
}

pub const WNOHANG: i32 = 1;
pub const WUNTRACED: i32 = 2;
pub const WEXITED: i32 = 4;
pub const WCONTINUED: i32 = 8;
pub const WNOWAIT: i32 = 0x0100_0000;
const WCLONE: i32 = 0x8000_0000_u32.cast_signed();
const WALL: i32 = 0x4000_0000;
const WNOTHREAD: i32 = 0x2000_0000;

pub fn do_wait(ctx: &mut Ctx<'_, '_>, sel: WaitSel, opts: i32) -> KResult<Option<WaitResult>> {
    let (me, tid) = (ctx.tgid(), ctx.tid);
    // A signal ends the sleep, but what changed meanwhile (the exit that
    // sent the SIGCHLD) is reported first, as Linux looks again before
    // it returns for a signal.
    let mut interrupted = None;
    loop {
        let (found, mut any) = wait_tracees(&mut ctx.st, me, sel, opts);
        if found.is_some() {
            return Ok(found);
        }
        let st = &mut ctx.st;
        let children = st.procs[&me].children.clone();
        let ns = st.procs[&me].pid_ns.clone();
        for c in children {
            let Some(cp) = st.procs.get(&c) else { continue };
            // The id as the waiter numbers it, taken before the reap
            // lets it go.
            let seen = ns.vnr(c);
            let ok = match sel {
                WaitSel::Any => true,
                WaitSel::Pid(p) => p == c,
                WaitSel::Pgid(g) => cp.pgid == g,
            };
            if !ok {
                continue;
            }
            // Children that exit with another signal than SIGCHLD are
            // waited for with __WCLONE only (or __WALL).
            let clone_child = cp.exit_signal != SIGCHLD;
            if opts & WALL == 0 && clone_child != (opts & WCLONE != 0) {
                continue;
            }
            // __WNOTHREAD: only the calling thread's own children.
            if opts & WNOTHREAD != 0 && cp.parent_tid != tid {
                continue;
            }
            // A zombie has only its exit to report: without WEXITED it is
            // no child to wait for (ECHILD, Linux's wait_task_zombie),
            // and a stop it had not reported went with it.
            if cp.exit.is_some() && opts & WEXITED == 0 {
                continue;
            }
            any = true;
            let uid = cp.creds.ruid;
            if cp.exit_held_by.is_some() || cp.pid_ns.holds_exit_of(c) {
                // Its tracer has not waited for it yet, or it is an init
                // whose namespace is still emptying.
                continue;
            }
            if let (Some(e), true) = (cp.exit, opts & WEXITED != 0) {
                let times = (
                    cp.dead_times.0 + cp.child_times.0,
                    cp.dead_times.1 + cp.child_times.1,
                );
                let rss = cp.maxrss_kb.max(cp.child_maxrss_kb);
                let io = cp.dead_io;
                let switches = cp.dead_switches + cp.child_switches;
                if opts & WNOWAIT == 0 {
                    st.reap(c);
                    let p = st.procs.get_mut(&me).unwrap();
                    p.children.retain(|&x| x != c);
                    p.child_times.0 += times.0;
                    p.child_times.1 += times.1;
                    p.child_maxrss_kb = p.child_maxrss_kb.max(rss);
                    p.child_switches += switches;
                    p.dead_io.add(io);
                }
                return Ok(Some(WaitResult {
                    pid: seen,
                    uid,
                    status: e.status,
                    code: e.code,
                    value: e.value,
                    rusage_ns: times,
                    maxrss_kb: rss,
                    switches,
                }));
            }
            if let (Some(sig), true) = (cp.stop_report, opts & WUNTRACED != 0) {
                // A stopped child's usage so far, its children's too (Linux's
                // getrusage RUSAGE_BOTH in wait_task_stopped).
                let (u, s) = super::cpu::process_times(st, c);
                let rss = cp
                    .threads
                    .first()
                    .and_then(|t| st.tasks.get(t))
                    .map_or(0, |t| super::cpu::rss_kb_recent(&t.mm));
                let usage = (
                    (u + cp.child_times.0, s + cp.child_times.1),
                    rss.max(cp.maxrss_kb).max(cp.child_maxrss_kb),
                );
                if opts & WNOWAIT == 0 {
                    st.procs.get_mut(&c).unwrap().stop_report = None;
                }
                let mut w = WaitResult::stop(seen, uid, sig, signal::CLD_STOPPED);
                (w.rusage_ns, w.maxrss_kb) = usage;
                return Ok(Some(w));
            }
            if cp.cont_report && opts & WCONTINUED != 0 {
                if opts & WNOWAIT == 0 {
                    st.procs.get_mut(&c).unwrap().cont_report = false;
                }
                return Ok(Some(WaitResult {
                    pid: seen,
                    uid,
                    status: 0xffff,
                    code: signal::CLD_CONTINUED,
                    value: signal::SIGCONT,
                    rusage_ns: (0, 0),
                    switches: 0,
                    maxrss_kb: 0,
                }));
            }
        }
        if !any {
            return Err(Errno::ECHILD);
        }
        if opts & WNOHANG != 0 {
            return Ok(None);
        }
        if let Some(e) = interrupted {
            return Err(e);
        }
        // Checked under the kernel lock, which every change of a child
        // holds; the queue ends the sleep.
        let q = ctx.proc_ref().child_wq.clone();
        let mut w = ctx.wait_start();
        w.on(&q, EV_ALL);
        interrupted = ctx.sleep(&w, None).err();
    }
}

/// wait(2) on the tasks process `me` traces: a ptrace-stop not yet
/// reported, or a traced task's exit. Traced tasks are waited for
/// whatever __WALL and __WCLONE say, as on Linux. Also whether any
/// tracee matched.
fn wait_tracees(st: &mut KState, me: i32, sel: WaitSel, opts: i32) -> (Option<WaitResult>, bool) {
    let matches = |tid: i32, pgid: i32| match sel {
        WaitSel::Any => true,
        WaitSel::Pid(p) => p == tid,
        WaitSel::Pgid(g) => pgid == g,
    };
    let Some(p) = st.procs.get(&me) else {
        return (None, false);
    };
    let ns = p.pid_ns.clone();
    let mut any = false;
    if let Some(i) = p.dead_tracees.iter().position(|d| matches(d.tid, d.pgid)) {
        if opts & WEXITED != 0 {
            let d = p.dead_tracees[i];
            let seen = ns.vnr(d.tid);
            if opts & WNOWAIT == 0 {
                st.procs.get_mut(&me).unwrap().dead_tracees.remove(i);
                ptrace::release_held(st, d.tid, me);
            }
            let r = WaitResult {
                pid: seen,
                uid: 0,
                status: d.info.status,
                code: d.info.code,
                value: d.info.value,
                rusage_ns: (0, 0),
                switches: 0,
                maxrss_kb: 0,
            };
            return (Some(r), true);
        }
        any = true;
    }
    for &tid in &p.tracees {
        let Some(t) = st.tasks.get(&tid) else {
            continue;
        };
        let Some(tp) = st.procs.get(&t.tgid) else {
            continue;
        };
        if !matches(tid, tp.pgid) {
            continue;
        }
        any = true;
        let uid = tp.creds.ruid;
        let Some(tr) = t.ptrace.as_ref() else {
            continue;
        };
        let Some((_, code)) = tr.stop.filter(|_| tr.unreported && tr.stopped()) else {
            continue;
        };
        if opts & WNOWAIT == 0 {
            if let Some(tr) = st.tasks.get_mut(&tid).and_then(|t| t.ptrace.as_mut()) {
                tr.unreported = false;
            }
        }
        return (
            Some(WaitResult::stop(
                ns.vnr(tid),
                uid,
                code,
                ptrace::CLD_TRAPPED,
            )),
            true,
        );
    }
    (None, any)
}

/// Handles a default action `d` for `sig` on the process of `tid`.
/// Returns false when the task must exit.
pub fn default_signal(st: &mut MutexGuard<'_, KState>, tid: i32, sig: i32, d: Default_) -> bool {
    let tgid = st.tasks[&tid].tgid;
    match d {
        Default_::Ign | Default_::Cont => true,
        Default_::Stop => {
            let p = st.procs.get_mut(&tgid).unwrap();
            p.stopped = true;
            p.stop_gen += 1;
            p.stop_sig = sig;
            p.stop_report = Some(sig);
            p.cont_report = false;
            let (ppid, threads) = (p.ppid, p.threads.clone());
            for t in threads {
                signal::kick(st, t);
            }
            signal::notify_parent(st, tgid, ppid, signal::CLD_STOPPED, sig);
            true
        }
        Default_::Term | Default_::Core => {
            group_exit(st, tgid, signal::fatal_info(sig));
            false
        }
    }
}
