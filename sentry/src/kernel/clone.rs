//! clone(2) and fork: the child's address space and host side are made
//! first (`prepare`, which needs no kernel lock: a copy-on-write fork of
//! the address space and a new stub are most of fork's cost), then the
//! task is registered under the lock (`do_clone`).

use super::ctx::{Ctx, Prepared};
use super::lifecycle::{alloc_pid, new_process, run_task};
use super::signal;
use super::task::Task;
use super::{Kernel, Waiter};
use crate::errno::{Errno, KResult};
use crate::mm::{write_obj, Mm};
use parking_lot::Mutex;
use platform::{AddressSpace, Context, Kicker, Regs};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;

pub const CLONE_CLEAR_SIGHAND: u64 = 1 << 32;
pub const CLONE_INTO_CGROUP: u64 = 1 << 33;

/// Clone flags this kernel implements.
pub struct CloneArgs {
    pub flags: u64,
    pub stack: u64,
    pub ptid: u64,
    pub ctid: u64,
    pub tls: u64,
    pub exit_signal: i32,
    /// CLONE_PIDFD: where the child's pidfd goes (an int).
    pub pidfd: u64,
    /// clone3's set_tid: the pid the child must have.
    pub set_tid: Option<i32>,
    /// CLONE_INTO_CGROUP: the cgroup the child starts in.
    pub cgroup: Option<u64>,
}

impl CloneArgs {
    /// clone(2)'s arguments, by register.
    pub fn legacy(flags: u64, stack: u64, ptid: u64, ctid: u64, tls: u64) -> CloneArgs {
        CloneArgs {
            flags: flags & !0xff,
            stack,
            ptid,
            ctid,
            tls,
            exit_signal: (flags & 0xff) as i32,
            // clone(2) puts the pidfd where the parent's tid would go.
            pidfd: ptid,
            set_tid: None,
            cgroup: None,
        }
    }
}

/// The namespaces clone and unshare make (besides a user namespace):
/// each takes CAP_SYS_ADMIN over the caller's user namespace.
pub const NEW_NAMESPACES: i32 = libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWTIME
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP;

/// clone's checks of its flags alone (`creds`: the caller's).
pub fn check_flags(flags: u64, creds: &super::Creds) -> KResult<()> {
    let f = crate::num::sbits32(u32::try_from(flags & 0xffff_ffff).unwrap_or(0));
    if f & libc::CLONE_THREAD != 0 && f & libc::CLONE_SIGHAND == 0 {
        return Err(Errno::EINVAL);
    }
    if f & libc::CLONE_SIGHAND != 0 && f & libc::CLONE_VM == 0 {
        return Err(Errno::EINVAL);
    }
    if f & libc::CLONE_NEWPID != 0 && f & libc::CLONE_THREAD != 0 {
        return Err(Errno::EINVAL);
    }
    // CLONE_DETACHED is the old meaning of CLONE_PIDFD's bit; with
    // CLONE_THREAD the pidfd names the thread (Linux 6.9).
    if f & libc::CLONE_PIDFD != 0 && f & libc::CLONE_DETACHED != 0 {
        return Err(Errno::EINVAL);
    }
    if f & libc::CLONE_NEWNS != 0 && (f & libc::CLONE_FS != 0) {
        return Err(Errno::EINVAL);
    }
    // A new user namespace needs a process of its own, with its own fs
    // context; the other new namespaces then belong to it.
    if f & libc::CLONE_NEWUSER != 0 && f & (libc::CLONE_THREAD | libc::CLONE_FS) != 0 {
        return Err(Errno::EINVAL);
    }
    // A new IPC namespace leaves the semaphore undo list behind (so not
    // with CLONE_SYSVSEM), and is the whole process's here (Linux keeps
    // namespaces per thread; refused with CLONE_THREAD).
    if f & libc::CLONE_NEWIPC != 0 && f & (libc::CLONE_SYSVSEM | libc::CLONE_THREAD) != 0 {
        return Err(Errno::EINVAL);
    }
    if f & NEW_NAMESPACES != 0
        && f & libc::CLONE_NEWUSER == 0
        && !creds.ns_capable(super::creds::cap::SYS_ADMIN)
    {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// A child's address space and host side, made before it is registered.
pub struct ClonePrep {
    /// First, so that dropped unused the thread has torn its host side
    /// down before the address space (which its context points into)
    /// goes.
    thread: Started,
    /// The flags it was made for.
    flags: u64,
    mm: Arc<Mm>,
    kicker: Arc<dyn Kicker>,
}

/// Makes the child of a clone with `flags` by the task running in `mm`
/// on `pctx`: its address space (the parent's, or a copy-on-write fork of
/// it) and its sentry thread with its host side (a stub thread, or a stub
/// process). Needs no kernel lock; dropped unused, it is all undone.
pub fn prepare(
    k: &Arc<Kernel>,
    mm: &Arc<Mm>,
    pctx: &mut Box<dyn Context>,
    flags: u64,
) -> KResult<ClonePrep> {
    let (child_mm, child_pctx) = if flags & libc::CLONE_VM as u64 != 0 {
        let c = pctx.new_thread(&mm.space).map_err(|e| {
            tracing::warn!("cannot create a stub thread: {e}");
            Errno::EAGAIN
        })?;
        (mm.clone(), c)
    } else {
        // The parent's write-protection reaches the host before fork goes
        // on: its other threads may be running. Where the platform can,
        // the child's host side is a copy of the parent's, made then.
        let space = mm.space.clone();
        let inherit = k.platform.forks_spaces();
        mm.fork(k.platform.new_address_space(), inherit, |child| {
            if inherit {
                return pctx.fork_space(&space, child).map_err(|e| {
                    tracing::warn!("fork: copying the parent's host side failed: {e}");
                    // The host refusing a process (a pids limit) is fork's
                    // EAGAIN, as Linux's own refusal is.
                    match e {
                        platform::PlatformError::StubSyscall { nr, .. }
                            if nr == libc::SYS_clone =>
                        {
                            Errno::EAGAIN
                        }
                        _ => Errno::ENOMEM,
                    }
                });
            }
            pctx.flush(&space).map_err(|e| {
                tracing::warn!("fork: write-protecting the parent failed: {e}");
                Errno::ENOMEM
            })?;
            Ok(k.platform.new_context())
        })?
    };
    let kicker = child_pctx.kicker();
    let thread = start_thread(k.clone(), child_pctx, child_mm.space.clone())?;
    Ok(ClonePrep {
        flags,
        mm: child_mm,
        kicker,
        thread,
    })
}

/// The pids controller: EAGAIN when a cgroup on the caller's path is at
/// its pids.max (counted in its pids.events).
fn pids_charge(ctx: &mut Ctx<'_, '_>, into: Option<u64>) -> KResult<()> {
    let id = into.unwrap_or(ctx.proc_ref().cgroup);
    let st = &*ctx.st;
    let mut tree = st.cgroups.lock();
    if let Some(at) = tree.pids_limited(id, |a| crate::fs::cgroupfs::tasks_in(st, &tree, a)) {
        if let Some(n) = tree.get_mut(at) {
            n.pids_refused += 1;
        }
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

/// RLIMIT_NPROC: EAGAIN when the caller's real user already has that
/// many tasks in the sandbox (root and CAP_SYS_RESOURCE or
/// CAP_SYS_ADMIN holders are not held to it).
fn nproc_charge(ctx: &Ctx<'_, '_>) -> KResult<()> {
    let p = ctx.proc_ref();
    let limit = p.rlimits[libc::RLIMIT_NPROC as usize].0;
    let c = &p.creds;
    if limit == u64::MAX
        || c.ruid == 0
        || c.capable(super::creds::cap::SYS_RESOURCE)
        || c.capable(super::creds::cap::SYS_ADMIN)
    {
        return Ok(());
    }
    let uid = c.ruid;
    let tasks: usize = ctx
        .st
        .procs
        .values()
        .filter(|q| q.creds.ruid == uid && q.exit.is_none())
        .map(|q| q.threads.len())
        .sum();
    if tasks as u64 >= limit {
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

/// clone(2): registers the child made by the call's lock-free part
/// (`ctx.prepared`), or makes it now. The child's id as the caller's PID
/// namespace numbers it.
pub fn do_clone(ctx: &mut Ctx<'_, '_>, a: CloneArgs) -> KResult<i32> {
    check_flags(a.flags, &ctx.proc_ref().creds)?;
    // A container's pids limit counts tasks, as the pids controller does.
    if ctx.k.max_tasks().is_some_and(|m| ctx.st.tasks.len() >= m) {
        return Err(Errno::EAGAIN);
    }
    pids_charge(ctx, a.cgroup)?;
    nproc_charge(ctx)?;
    // The new thread's fs base must be a user address, as arch_prctl's.
    if a.flags & libc::CLONE_SETTLS as u64 != 0 && a.tls >= crate::mm::TASK_SIZE {
        return Err(Errno::EPERM);
    }
    let f = crate::num::sbits32(u32::try_from(a.flags & 0xffff_ffff).unwrap_or(0));
    {
        let t = ctx.task_ref();
        // A thread must stay in its process's PID namespace, and a
        // namespace's init cannot give itself a sibling (its parent is
        // outside).
        if f & libc::CLONE_THREAD != 0 && !Arc::ptr_eq(&t.pid_ns, &t.pid_ns_children) {
            return Err(Errno::EINVAL);
        }
        if f & libc::CLONE_PARENT != 0 && t.vtgid == 1 {
            return Err(Errno::EINVAL);
        }
    }
    let prep = match ctx.prepared.take() {
        Some(Prepared::Clone(p)) if p.flags == a.flags => p,
        _ => {
            let mm = ctx.mm.clone();
            prepare(ctx.k, &mm, ctx.pctx, a.flags)?
        }
    };
    // The child's credentials: in a new user namespace, with every
    // capability there, which its other new namespaces belong to.
    let mut child_creds = ctx.proc_ref().creds.clone();
    if f & libc::CLONE_NEWUSER != 0 {
        let c = &child_creds;
        let ns = super::userns::UserNs::child(&c.userns, c.euid, c.egid)?;
        child_creds.userns = super::userns::NsRef(ns);
        child_creds.caps = super::creds::Caps::FULL;
    }
    let owner = child_creds.userns.0.clone();
    let parent_tid = ctx.tid;
    let parent = ctx.task_ref();
    let parent_ns = parent.pid_ns.clone();
    let child_ns = if f & libc::CLONE_THREAD != 0 {
        parent.pid_ns.clone()
    } else if f & libc::CLONE_NEWPID != 0 {
        super::pidns::PidNs::child(&parent.pid_ns_children, owner.clone())?
    } else {
        parent.pid_ns_children.clone()
    };
    let parent_vtgid = parent.vtgid;
    // A child sharing the address space stays in its parent's time
    // namespace (its vDSO page is the parent's); a forked one enters the
    // one for children, a new one with CLONE_NEWTIME (clone3's).
    let time_children = if f & libc::CLONE_NEWTIME != 0 {
        super::timens::TimeNs::child(&parent.time_ns_children, owner.clone())
    } else {
        parent.time_ns_children.clone()
    };
    let time_ns = if f & libc::CLONE_VM != 0 {
        parent.time_ns.clone()
    } else {
        time_children.clone()
    };
    let parent_slack = parent.timer_slack;
    let tgid = parent.tgid;
    let mnt_ns = if f & libc::CLONE_NEWNS != 0 {
        parent.mnt_ns.copy(&owner)
    } else {
        parent.mnt_ns.clone()
    };
    let uts_ns = if f & libc::CLONE_NEWUTS != 0 {
        parent.uts_ns.copy(&owner)
    } else {
        parent.uts_ns.clone()
    };
    let net_ns = if f & libc::CLONE_NEWNET != 0 {
        parent.net_ns.child(owner.clone())
    } else {
        parent.net_ns.clone()
    };
    // A new cgroup namespace is rooted at the maker's cgroup.
    let cgroup_ns = if f & libc::CLONE_NEWCGROUP != 0 {
        let cg = ctx.st.procs.get(&parent.tgid).map_or(0, |p| p.cgroup);
        super::cgroup::CgroupNs::new(cg, owner.clone())
    } else {
        parent.cgroup_ns.clone()
    };
    let files = if f & libc::CLONE_FILES != 0 {
        parent.files.clone()
    } else {
        Arc::new(Mutex::new(parent.files.lock().clone()))
    };
    let fs = if f & libc::CLONE_FS != 0 {
        parent.fs.clone()
    } else {
        Arc::new(Mutex::new(parent.fs.lock().clone()))
    };
    let sig_mask = Arc::new(signal::SigMask::new(parent.sig_mask.get()));
    let (alt_stack, comm) = (parent.alt_stack, parent.comm.clone());
    let sched = parent.sched.inherited();
    // Seccomp filters and mode are inherited by every child.
    let (seccomp, seccomp_strict) = (parent.seccomp.clone(), parent.seccomp_strict);
    let (mempolicy, ioprio) = (parent.mempolicy, parent.ioprio);
    let mut regs = ctx.regs.clone();
    if f & libc::CLONE_VM == 0 {
        ctx.pctx.load_fp(ctx.regs).map_err(|_| Errno::EAGAIN)?;
        regs.fp = ctx.regs.fp.clone();
        regs.fp_len = ctx.regs.fp_len;
        regs.fp_dirty = regs.fp_len > 0;
    } else {
        regs.fp_len = 0;
        regs.fp_dirty = false;
    }
    regs.gp.rax = 0;
    if a.stack != 0 {
        regs.gp.rsp = a.stack;
    }
    if f & libc::CLONE_SETTLS != 0 {
        regs.gp.fs_base = a.tls;
    }
    let tid = match a.set_tid {
        None => alloc_pid(&mut ctx.st),
        Some(want) => {
            // Checkpoint/restore's pid choice: the root's, for a free pid.
            use super::creds::cap;
            if !(1..1 << 22).contains(&want) {
                return Err(Errno::EINVAL);
            }
            let c = &ctx.proc_ref().creds;
            if !c.capable(cap::SYS_ADMIN) && !c.capable(cap::LAST) {
                return Err(Errno::EPERM);
            }
            if ctx.st.tasks.contains_key(&want) || ctx.st.procs.contains_key(&want) {
                return Err(Errno::EEXIST);
            }
            // One pid for a child in a namespace below the first would
            // be its innermost number, which is not modelled.
            if !child_ns.is_first() {
                ctx.k.log_once("clone3 set_tid in a nested PID namespace");
                return Err(Errno::EINVAL);
            }
            want
        }
    };
    // Its numbers in its namespace and those above (ENOMEM once the
    // namespace's init has gone).
    let joined = child_ns.enter(tid)?;
    let vtid = child_ns.vnr(tid);
    let seen = parent_ns.vnr(tid);
    let child_vtgid = if f & libc::CLONE_THREAD != 0 {
        parent_vtgid
    } else {
        vtid
    };
    // The child's pidfd, in the parent's fd table and at the address
    // given, before anything of the child exists (nothing after fails).
    let watch = crate::fs::pidfd::ExitWatch::new();
    let thread_watch = crate::fs::pidfd::ExitWatch::new();
    if f & libc::CLONE_PIDFD != 0 {
        let thread = f & libc::CLONE_THREAD != 0;
        let w = if thread { &thread_watch } else { &watch };
        let file = crate::fs::pidfd::file(tid, w.clone(), false, thread);
        let fd = ctx.install(file, true)?;
        if let Err(e) = write_obj::<i32>(&ctx.mm, a.pidfd, &fd) {
            let _ = ctx.task().files.lock().close(fd);
            return Err(e);
        }
    }
    joined.keep();
    // A forked child entering another time namespace reads its clocks
    // through system calls (its vDSO page sends them there).
    if !time_ns.is_first() {
        time_ns.freeze();
        if f & libc::CLONE_VM == 0 && !Arc::ptr_eq(&time_ns, &ctx.task_ref().time_ns) {
            let _ = ctx.k.vdso.map_fallback(&prep.mm);
        }
    }
    if !child_ns.is_first() {
        ctx.st.id_ns.insert(tid, child_ns.clone());
    }
    let ClonePrep {
        mm, thread, kicker, ..
    } = prep;
    let st = &mut ctx.st;
    let child_tgid = if f & libc::CLONE_THREAD != 0 {
        tgid
    } else {
        tid
    };
    if f & libc::CLONE_THREAD == 0 {
        let pp_ipc_ns = if f & libc::CLONE_NEWIPC != 0 {
            st.ipc.create(owner.clone(), &ctx.k.vfs.mqueue)
        } else {
            st.procs[&tgid].ipc_ns
        };
        let pp = &st.procs[&tgid];
        let ppid = if f & libc::CLONE_PARENT != 0 {
            pp.ppid
        } else {
            tgid
        };
        let mut np = new_process(tid, ppid, pp.pgid, pp.sid, child_creds, pp.exe.clone());
        np.pid_ns = child_ns.clone();
        np.rlimits = pp.rlimits;
        np.sighand = if f & libc::CLONE_SIGHAND != 0 {
            pp.sighand.clone()
        } else {
            let mut acts = *pp.sighand.lock();
            // CLONE_CLEAR_SIGHAND: handled signals go back to default;
            // ignored ones stay ignored.
            if a.flags & CLONE_CLEAR_SIGHAND != 0 {
                for act in acts.iter_mut().filter(|x| x.handler != signal::SIG_IGN) {
                    *act = Default::default();
                }
            }
            Arc::new(Mutex::new(acts))
        };
        np.dumpable = pp.dumpable;
        np.oom_score_adj = pp.oom_score_adj;
        // A sibling made by CLONE_PARENT exits as its creator would.
        np.exit_signal = if f & libc::CLONE_PARENT != 0 {
            pp.exit_signal
        } else {
            a.exit_signal
        };
        np.loginuid = pp.loginuid;
        np.coredump_filter = pp.coredump_filter;
        np.parent_tid = if f & libc::CLONE_PARENT != 0 {
            pp.parent_tid
        } else {
            parent_tid
        };
        np.personality = pp.personality;
        np.cgroup = a.cgroup.unwrap_or(pp.cgroup);
        np.no_new_privs = pp.no_new_privs;
        np.keepcaps = pp.keepcaps;
        np.ctty = pp.ctty.clone();
        np.ipc_ns = pp_ipc_ns;
        np.exit_watch = watch;
        if f & libc::CLONE_SYSVSEM != 0 {
            let list = match &pp.sem_undo {
                Some(l) => l.clone(),
                None => {
                    let l = st.ipc.of(pp_ipc_ns).new_undo_list();
                    if let Some(pp) = st.procs.get_mut(&tgid) {
                        pp.sem_undo = Some(l.clone());
                    }
                    l
                }
            };
            np.sem_undo = Some(list);
        }
        let cpu_limited = np.rlimits[libc::RLIMIT_CPU as usize].0 != u64::MAX;
        st.procs.insert(tid, np);
        if let Some(pp) = st.procs.get_mut(&ppid) {
            pp.children.push(tid);
        }
        // Its own CPU time, from zero, against the limit it inherited.
        if cpu_limited {
            super::timers::arm_cpu_limit(st, tid);
        }
    }
    st.procs.get_mut(&child_tgid).unwrap().threads.push(tid);
    st.tasks.insert(
        tid,
        Task {
            timer_slack: parent_slack,
            io: Arc::default(),
            tid,
            tgid: child_tgid,
            vtid,
            vtgid: child_vtgid,
            pid_ns: child_ns.clone(),
            pid_ns_children: child_ns,
            time_ns: time_ns.clone(),
            time_ns_children: time_children,
            mm: mm.clone(),
            files,
            fs,
            sig_mask,
            saved_mask: None,
            pending: Default::default(),
            alt_stack: if f & libc::CLONE_VM != 0 && f & libc::CLONE_VFORK == 0 {
                (0, 0, signal::SS_DISABLE)
            } else {
                alt_stack
            },
            clear_child_tid: if f & libc::CLONE_CHILD_CLEARTID != 0 {
                a.ctid
            } else {
                0
            },
            robust_list: 0,
            kicker,
            comm,
            killed: false,
            vfork_parent: (f & libc::CLONE_VFORK != 0).then_some(parent_tid),
            restart: None,
            host_tid: 0,
            start: std::time::Instant::now(),
            waiter: Waiter::new(),
            in_app: Default::default(),
            exit_signal: a.exit_signal,
            pdeathsig: 0,
            mnt_ns,
            uts_ns,
            net_ns,
            cgroup_ns,
            sched,
            seccomp,
            seccomp_strict,
            mempolicy,
            ioprio,
            ptrace: None,
            exit_code: 0,
            exit_watch: thread_watch,
        },
    );
    // A traced parent's child may be traced too, before it runs.
    let event = super::ptrace::clone_event(&ctx.st, parent_tid, a.flags, a.exit_signal);
    if let Some((_, true)) = event {
        super::ptrace::inherit(&mut ctx.st, parent_tid, tid);
    }
    // Registered: the child's thread may run it once the lock is free.
    thread.go(tid, regs);
    if f & libc::CLONE_PARENT_SETTID != 0 {
        let _ = write_obj::<i32>(&ctx.mm, a.ptid, &seen);
    }
    if f & libc::CLONE_CHILD_SETTID != 0 {
        let _ = write_obj::<i32>(&mm, a.ctid, &vtid);
    }
    if let Some((ev, _)) = event {
        let opt = match ev {
            super::ptrace::EVENT_VFORK => super::ptrace::O_TRACEVFORK,
            super::ptrace::EVENT_FORK => super::ptrace::O_TRACEFORK,
            _ => super::ptrace::O_TRACECLONE,
        };
        let msg = crate::num::bits(i64::from(ctx.st.tracer_sees(parent_tid, tid)));
        super::ptrace::event(&mut ctx.st, parent_tid, ctx.regs, ctx.pctx, ev, opt, msg);
    }
    if f & libc::CLONE_VFORK != 0 {
        // Only a fatal signal ends the wait early; the child's exec or
        // exit wakes this task directly (`release_vfork`).
        let w = ctx.wait_start();
        loop {
            w.rearm();
            let waiting = ctx
                .st
                .tasks
                .get(&tid)
                .is_some_and(|c| c.vfork_parent.is_some());
            let me = &ctx.st.tasks[&parent_tid];
            if !waiting || me.killed {
                break;
            }
            ctx.sleep_through_signals(&w);
        }
        if event.is_some() {
            let (ev, opt) = (
                super::ptrace::EVENT_VFORK_DONE,
                super::ptrace::O_TRACEVFORKDONE,
            );
            let msg = crate::num::bits(i64::from(ctx.st.tracer_sees(parent_tid, tid)));
            super::ptrace::event(&mut ctx.st, parent_tid, ctx.regs, ctx.pctx, ev, opt, msg);
        }
    }
    Ok(seen)
}

/// A task's sentry thread whose host side exists, waiting for its task
/// to be registered before it runs it. Dropped without `go`, the thread
/// tears the host side down and ends, and the drop waits for that: the
/// context points into the address space, which may go right after.
/// (Without the wait, a refused fork's space was freed under a release
/// still in progress, which read a freed count and left the stub parked
/// and untraced: `refused_clones_leave_no_host_process_or_thread`, under
/// load.)
pub struct Started {
    go: Option<SyncSender<(i32, Regs)>>,
    /// Disconnected when the thread has let its host side go.
    released: std::sync::mpsc::Receiver<()>,
}

impl Started {
    /// Runs task `tid` (registered by now, or about to be under the
    /// kernel lock the caller holds) from `regs`.
    pub fn go(mut self, tid: i32, regs: Regs) {
        if let Some(g) = self.go.take() {
            let _ = g.send((tid, regs));
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(g) = self.go.take() {
            drop(g);
            let _ = self.released.recv();
        }
    }
}

/// Starts a sentry thread for a new task and has it create the task's
/// host side in `space` (a stub process, or the adoption of a stub
/// thread or process made already) before it runs the task. A stub
/// process it must make itself is made before this returns, so that when
/// the host refuses it, fork and clone fail with EAGAIN and leave nothing
/// behind; an adoption (of what the host already made) is not waited
/// for, and if it fails the task dies as when its stub is killed.
pub fn start_thread(
    k: Arc<Kernel>,
    mut pctx: Box<dyn Context>,
    space: Arc<dyn AddressSpace>,
) -> KResult<Started> {
    let wait = !pctx.adopts();
    let (ready_tx, ready) = sync_channel(1);
    let (go, go_rx) = sync_channel::<(i32, Regs)>(1);
    let (released_tx, released) = sync_channel::<()>(0);
    let r = super::taskpool::run(Box::new(move || {
        let made = pctx.prepare(&space);
        drop(space);
        if let Err(e) = made {
            tracing::warn!("cannot create a task's stub: {e}");
            if wait {
                let _ = ready_tx.send(false);
                return;
            }
        }
        let _ = ready_tx.send(true);
        match go_rx.recv() {
            Ok((tid, regs)) => {
                if let Ok(name) = std::ffi::CString::new(format!("task-{tid}")) {
                    let _ = rustix::thread::set_name(&name);
                }
                run_task(k, tid, pctx, regs)
            }
            Err(_) => {
                pctx.release();
                drop(released_tx);
            }
        }
    }));
    if let Err(e) = r {
        tracing::warn!("cannot start a sentry thread: {e}");
        return Err(Errno::EAGAIN);
    }
    if wait && ready.recv() != Ok(true) {
        return Err(Errno::EAGAIN);
    }
    Ok(Started {
        go: Some(go),
        released,
    })
}
