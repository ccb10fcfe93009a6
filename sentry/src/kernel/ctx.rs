//! The context a system call handler runs in: the kernel lock, the calling
//! task, its registers and its platform context.

use super::signal;
use super::task::{Process, Task};
use super::wait::Deadline;
use super::waitq::Wait;
use super::{KState, Kernel};
use crate::errno::{Errno, KResult};
use crate::mm::Mm;
use parking_lot::MutexGuard;
use platform::{Context, Regs};
use std::os::fd::RawFd;
use std::sync::Arc;

/// The syscall table the runtime hands to the kernel.
pub trait SyscallTable: Send + Sync {
    /// Handles syscall `nr`; returns the value for rax (negative errno
    /// encoding is done by the caller).
    fn dispatch(&self, ctx: &mut Ctx<'_, '_>, nr: u64, args: [u64; 6]) -> KResult<u64>;

    /// Handles syscall `nr` without the kernel lock when it can; None
    /// (before any side effect) to have `dispatch` do it with the lock.
    fn dispatch_unlocked(
        &self,
        cx: &Unlocked<'_>,
        nr: u64,
        args: [u64; 6],
    ) -> Option<KResult<u64>> {
        let _ = (cx, nr, args);
        None
    }
}

/// What a system call handled without the kernel lock may use: the
/// kernel's shared parts, and the calling task's fd table and memory.
pub struct Unlocked<'a> {
    pub k: &'a Arc<Kernel>,
    pub tid: i32,
    pub tgid: i32,
    /// `tid` and `tgid` as its own PID namespace numbers them.
    pub vtid: i32,
    pub vtgid: i32,
    /// Its time namespace's CLOCK_MONOTONIC offset.
    pub mono_off: i64,
    pub files: &'a parking_lot::Mutex<crate::fs::file::FdTable>,
    pub mm: &'a Arc<Mm>,
    /// The task's root and working directory.
    pub fs: &'a parking_lot::Mutex<super::FsContext>,
    /// Its mount namespace and credentials as of its last event (another
    /// thread's setuid reaches it at its own next event, as Linux's
    /// per-thread credentials do).
    pub mnt_ns: &'a Arc<crate::fs::vfs::MountNs>,
    pub creds: &'a super::Creds,
    /// Its blocked-signal mask.
    pub sig_mask: &'a super::signal::SigMask,
    /// Its process's signal actions (their own lock).
    pub sighand: &'a Arc<parking_lot::Mutex<[super::SigAction; 64]>>,
    /// Its RLIMIT_NOFILE and RLIMIT_AS (soft), as of its last event.
    pub nofile: u64,
    pub as_limit: u64,
    /// Its RLIMIT_FSIZE (soft): calls that may grow a file go to the
    /// locked handler unless it is unlimited.
    pub fsize: u64,
    /// Its RLIMIT_DATA (soft): mmap, brk and mremap go to the locked
    /// handler unless it is unlimited.
    pub data: u64,
    /// Its waiter (futex waits sleep on it).
    pub waiter: &'a Arc<super::waitq::Waiter>,
    /// Its platform context, for a change of the address space the host
    /// must accept before the call returns (a file mapping).
    pub pctx: std::cell::RefCell<&'a mut Box<dyn Context>>,
    /// What the call made before it needs the lock, for the locked
    /// handler to finish (set with a None answer).
    pub prepared: std::cell::RefCell<Option<Prepared>>,
}

/// The part of a call done without the kernel lock, handed to the locked
/// part of the same call.
pub enum Prepared {
    Clone(super::clone::ClonePrep),
    Exec(Box<super::exec::ExecPrep>),
}

impl Unlocked<'_> {
    /// Applies the address space's pending changes on the host now.
    pub fn flush_mm(&self) -> KResult<()> {
        flush_space(self.mm, &mut self.pctx.borrow_mut())
    }

    /// The caller as a path walk without the kernel lock sees it.
    pub fn walker(&self) -> crate::fs::vfs::Walker<'_> {
        crate::fs::vfs::Walker {
            c: crate::fs::vfs::Caller::unlocked(self.tid, &self.k.vfs, self.creds, self.mnt_ns),
            fs: self.fs,
            files: self.files,
        }
    }
}

pub struct Ctx<'k, 'r> {
    pub k: &'k Arc<Kernel>,
    pub st: MutexGuard<'k, KState>,
    pub tid: i32,
    pub regs: &'r mut Regs,
    pub pctx: &'r mut Box<dyn Context>,
    pub mm: Arc<Mm>,
    /// Registers were replaced wholesale (sigreturn, execve): do not store
    /// a return value.
    pub no_return: bool,
    /// What the call's lock-free part made, if it had one.
    pub prepared: Option<Prepared>,
}

impl Ctx<'_, '_> {
    pub fn task(&mut self) -> &mut Task {
        self.st.tasks.get_mut(&self.tid).expect("current task")
    }

    pub fn task_ref(&self) -> &Task {
        self.st.tasks.get(&self.tid).expect("current task")
    }

    pub fn tgid(&self) -> i32 {
        self.task_ref().tgid
    }

    pub fn proc_(&mut self) -> &mut Process {
        let tgid = self.tgid();
        self.st.procs.get_mut(&tgid).expect("current process")
    }

    pub fn proc_ref(&self) -> &Process {
        &self.st.procs[&self.tgid()]
    }

    /// Whether a signal (or a kill) should interrupt a blocking call.
    pub fn interrupted(&self) -> bool {
        signal::has_pending(&self.st, self.tid)
    }

    /// Starts a wait on the task's waiter: register on queues with
    /// `Wait::on`, re-check the condition, then `sleep`.
    pub fn wait_start(&self) -> Wait {
        Wait::start(&self.task_ref().waiter)
    }

    /// Sleeps (kernel lock released) until a queue of `w` reports, the
    /// task is woken directly (a signal, a futex wake, a vfork child's
    /// exec), or the deadline passes. Err(ERESTARTSYS) when a signal is
    /// pending, Ok(false) on timeout.
    pub fn sleep(&mut self, w: &Wait, deadline: Deadline) -> KResult<bool> {
        if self.interrupted() {
            return Err(Errno::ERESTARTSYS);
        }
        let waiter = w.waiter().clone();
        let woke = MutexGuard::unlocked(&mut self.st, || waiter.sleep(deadline));
        if self.interrupted() {
            return Err(Errno::ERESTARTSYS);
        }
        Ok(woke)
    }

    /// Sleeps (kernel lock released) until woken, whatever signals are
    /// pending: for waits only their own waker or a kill ends (exec
    /// waiting for the other threads, a vfork parent).
    pub fn sleep_through_signals(&mut self, w: &Wait) {
        let waiter = w.waiter().clone();
        MutexGuard::unlocked(&mut self.st, || waiter.sleep(None));
    }

    /// Like `sleep`, but also returns when one of the host fds is ready;
    /// returns their revents.
    pub fn sleep_host(
        &mut self,
        w: &Wait,
        fds: &[(RawFd, i16)],
        deadline: Deadline,
    ) -> KResult<Vec<i16>> {
        if self.interrupted() {
            return Err(Errno::ERESTARTSYS);
        }
        let waiter = w.waiter().clone();
        let r = MutexGuard::unlocked(&mut self.st, || waiter.sleep_host(fds, deadline))
            .map_err(|e| Errno::from_io(&e))?;
        if self.interrupted() {
            return Err(Errno::ERESTARTSYS);
        }
        Ok(r)
    }

    /// Sleeps until a signal, a direct wake-up or the deadline, on no
    /// queue (nanosleep, pause). Ok(false) on timeout.
    pub fn block(&mut self, deadline: Deadline) -> KResult<bool> {
        let w = self.wait_start();
        self.sleep(&w, deadline)
    }

    /// Applies pending address-space changes and frees what they released.
    pub fn flush_mm(&mut self) -> KResult<()> {
        flush_space(&self.mm, self.pctx)
    }

    /// The caller as the VFS and file operations see it.
    pub fn caller(&self) -> crate::fs::vfs::Caller<'_> {
        crate::fs::vfs::Caller::new(&self.st, self.tid, &self.k.vfs)
    }

    /// The caller as a path walk sees it.
    pub fn walker(&self) -> crate::fs::vfs::Walker<'_> {
        let t = self.task_ref();
        crate::fs::vfs::Walker {
            c: self.caller(),
            fs: &t.fs,
            files: &t.files,
        }
    }

    /// Gives `f` the lowest free fd, within RLIMIT_NOFILE.
    pub fn install(&mut self, f: Arc<crate::fs::file::File>, cloexec: bool) -> KResult<i32> {
        let lim = self.proc_ref().nofile();
        self.task().files.lock().alloc(f, cloexec, 0, lim)
    }

    pub fn log_once(&self, what: &str) {
        self.k.log_once(what);
    }

    /// Global id `global` as the caller's PID namespace numbers it (0:
    /// it cannot see it).
    pub fn vnr(&self, global: i32) -> i32 {
        self.task_ref().pid_ns.vnr(global)
    }

    /// The global id of the caller's number `local` (None for numbers
    /// below 1 and those nothing in its namespace has).
    pub fn find_pid(&self, local: i32) -> Option<i32> {
        self.task_ref().pid_ns.global(local)
    }

    /// A pid argument as a global id, for calls that look it up next:
    /// numbers below 1 (the caller, groups) stay as they are, and one
    /// the caller's namespace has not given becomes an id no task has.
    pub fn pid_arg(&self, local: i32) -> i32 {
        if local <= 0 {
            return local;
        }
        self.find_pid(local).unwrap_or(super::pidns::NOBODY)
    }
}

/// Applies `mm`'s pending changes on the host through `pctx`, then frees
/// what they let go. ENOMEM when the host refuses them.
fn flush_space(mm: &Mm, pctx: &mut Box<dyn Context>) -> KResult<()> {
    let ok = mm.flush_and_release(|| match pctx.flush(&mm.space) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("address space update failed: {e}");
            false
        }
    });
    if ok {
        Ok(())
    } else {
        Err(Errno::ENOMEM)
    }
}
