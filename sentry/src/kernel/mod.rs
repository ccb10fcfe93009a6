//! The kernel proper: the global state, tasks and processes, and the loop
//! that runs each task on its own sentry thread.

pub mod aio;
pub mod appseccomp;
pub mod cgroup;
pub mod clone;
pub mod console;
pub mod cpu;
pub mod creds;
mod ctx;
pub mod exec;
pub mod futex;
pub mod ioacct;
pub mod ipc;
pub mod jobctl;
pub mod lease;
pub mod lifecycle;
pub mod pidns;
pub mod ptrace;
pub mod seccomp;
pub mod setid;
pub mod signal;
pub mod task;
mod taskpool;
pub mod time;
pub mod timens;
pub mod timers;
pub mod userns;
pub mod uts;
mod wait;
pub mod waitq;

pub use clone::{do_clone, CloneArgs};
pub use creds::Creds;
pub use ctx::{Ctx, Prepared, SyscallTable, Unlocked};
pub use lifecycle::{do_wait, group_exit, WaitResult, WaitSel};
pub use signal::{SigAction, SigInfo};
pub use task::{FsContext, Process, Restart, Task};
pub use wait::Deadline;
pub use waitq::{Events, Wait, WaitQueue, Waiter};

use crate::errno::KResult;
use crate::fs::vfs::Vfs;
use crate::loader::vdso::Vdso;
use crate::memfile::MemFile;
use parking_lot::{Mutex, MutexGuard};
use platform::Platform;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

/// Who the first process is: its credentials, umask and limits (a
/// container's `process.user` and `process.rlimits`).
#[derive(Clone, Debug)]
pub struct InitProcess {
    pub creds: Creds,
    pub umask: u32,
    /// (RLIMIT_*, soft, hard) replacing the host's.
    pub rlimits: Vec<(u32, u64, u64)>,
    /// Starts with no_new_privs set (a container's noNewPrivileges).
    pub no_new_privs: bool,
}

impl Default for InitProcess {
    fn default() -> Self {
        InitProcess {
            creds: Creds::root(),
            umask: 0o022,
            rlimits: Vec::new(),
            no_new_privs: false,
        }
    }
}

/// Why the first process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// The working directory does not exist in the sandbox or is not a
    /// directory.
    #[error("working directory: {}", std::io::Error::from_raw_os_error(.0 .0))]
    Cwd(crate::Errno),
    /// The program could not be executed.
    #[error("{}", std::io::Error::from_raw_os_error(.0 .0))]
    Exec(crate::Errno),
}

/// What the runtime decides when it builds a kernel.
pub struct KernelConfig {
    pub strace: bool,
    pub hostname: String,
    pub gofer: Arc<crate::fs::gofer_fs::GoferPool>,
    /// Host fds that become the first process's fds 0, 1, 2.
    pub stdio: [std::os::fd::OwnedFd; 3],
    /// stdin and stdout are a host terminal: give the sandbox a console
    /// pty relayed to it (see `console`).
    pub console: bool,
    /// The sandbox's TCP/IP stack on its interface (`--network sandbox`);
    /// None: loopback only.
    pub net: Option<netstack::Stack>,
    /// `--network host`: the host's network as the sandbox sees it; TCP
    /// and UDP sockets are host sockets.
    pub host_network: Option<Arc<crate::hostnet::HostNet>>,
    pub init: InitProcess,
    /// A container's seccomp profile, for every application call.
    pub app_seccomp: Option<appseccomp::Filter>,
    /// A container's pids limit: at most this many tasks.
    pub max_tasks: Option<usize>,
}

/// Kernel state guarded by the big kernel lock.
#[derive(Default)]
pub struct KState {
    pub tasks: HashMap<i32, Task>,
    pub procs: HashMap<i32, Process>,
    /// Ids that have numbers in PID namespaces below the first, with the
    /// namespace they were given in: an id is not reused while it is
    /// here, so a stale number never names another task.
    pub id_ns: HashMap<i32, Arc<pidns::PidNs>>,
    /// Ids freed in those namespaces whose numbers still read out,
    /// oldest first (`release_id`).
    pub lingering: std::collections::VecDeque<i32>,
    pub next_pid: i32,
    pub timers: timers::Timers,
    /// Set when pid 1 has exited: the sandbox is over.
    pub init_exit: Option<i32>,
    /// Advisory file locks (fcntl record locks, OFD locks, flock).
    pub locks: crate::fs::locks::Locks,
    /// File leases (F_SETLEASE).
    pub leases: lease::Leases,
    /// The main thread waits here for pid 1 to exit.
    pub init_done: Arc<waitq::Signal>,
    /// The kernel's sockets (`Kernel::sockets`), for /proc/net.
    pub sockets: Arc<crate::local::Names>,
    /// Where processes started from outside report their exit: (pid,
    /// status as a shell shows it).
    pub outside_exit: Option<std::sync::mpsc::Sender<(i32, i32)>>,
    /// System V IPC objects, by IPC namespace.
    pub ipc: ipc::Spaces,
    /// Write-life hints by file (dev, inode): F_SET_RW_HINT.
    pub rw_hints: HashMap<(u64, u64), u64>,
    /// /proc/loadavg's averages, sampled by the timer thread.
    pub loadavg: cpu::LoadAvg,
    /// The cgroup tree (the one cgroup2 mounts show), taken after this
    /// lock.
    pub cgroups: Arc<Mutex<cgroup::Tree>>,
}

impl KState {
    /// Removes process `tgid` for good (reaped), its CPU time kept by
    /// its cgroup.
    pub fn reap(&mut self, tgid: i32) -> Option<Process> {
        let p = self.procs.remove(&tgid)?;
        p.exit_watch.gone();
        if let Some(n) = self.cgroups.lock().get_mut(p.cgroup) {
            n.dead_cpu.0 += p.dead_times.0;
            n.dead_cpu.1 += p.dead_times.1;
        }
        // Its id, and its group's and session's, go once nothing holds
        // them (a group's number lives while any member has it).
        for id in [tgid, p.pgid, p.sid] {
            self.release_id(id);
        }
        Some(p)
    }

    /// Whether `id` is still in use: a task's, a process's, or a group's
    /// or session's with a member left.
    pub fn id_in_use(&self, id: i32) -> bool {
        self.tasks.contains_key(&id)
            || self.procs.contains_key(&id)
            || self.procs.values().any(|p| p.pgid == id || p.sid == id)
    }

    /// Frees `id`'s numbers in the PID namespaces that give it one, once
    /// nothing uses it. They are still read out for it (a dead peer's
    /// credentials, an IPC object's last pid) while it is among the
    /// last `LINGER` ids freed, and the id is not reused until then.
    pub fn release_id(&mut self, id: i32) {
        const LINGER: usize = 4096;
        let Some(ns) = self.id_ns.get(&id).cloned() else {
            return;
        };
        if ns.local(id).is_none() || self.id_in_use(id) {
            return;
        }
        ns.retire(id);
        self.lingering.push_back(id);
        while self.lingering.len() > LINGER {
            let old = self.lingering.pop_front().unwrap_or(0);
            if let Some(n) = self.id_ns.remove(&old) {
                n.leave(old);
            }
        }
        lifecycle::pid_left(self, &ns);
    }

    /// `global` as task or process `viewer` numbers it in its PID
    /// namespace (0: it cannot see it, or there is no such viewer).
    pub fn pid_seen_by(&self, viewer: i32, global: i32) -> i32 {
        if let Some(t) = self.tasks.get(&viewer) {
            t.pid_ns.vnr(global)
        } else if let Some(p) = self.procs.get(&viewer) {
            p.pid_ns.vnr(global)
        } else {
            0
        }
    }

    /// `global` as the tracer of `tid` numbers it (ptrace event
    /// messages).
    pub fn tracer_sees(&self, tid: i32, global: i32) -> i32 {
        match self.tasks.get(&tid).and_then(|t| t.ptrace.as_ref()) {
            Some(tr) => self.pid_seen_by(tr.tracer, global),
            None => global,
        }
    }

    /// Whether process `tgid` is the init of its PID namespace (the
    /// sandbox's pid 1 for the first).
    pub fn is_ns_init(&self, tgid: i32) -> bool {
        self.procs
            .get(&tgid)
            .is_some_and(|p| p.pid_ns.init() == tgid)
    }
}

pub struct Kernel {
    lock: Mutex<KState>,
    /// The futex table, under a lock of its own.
    pub futexes: futex::Futexes,
    /// Set once any record lock (fcntl F_SETLK and its kin) has been
    /// taken: from then on close(2) must look at the lock table, so it
    /// takes the kernel lock.
    pub record_locks_used: std::sync::atomic::AtomicBool,
    /// Set once a signalfd exists: its readiness is its poller's pending
    /// signals, kernel state, so from then on epoll_wait takes the lock.
    pub signalfds_used: std::sync::atomic::AtomicBool,
    /// Set once a file lease has been taken: from then on opens take the
    /// kernel lock, to break leases.
    pub leases_used: std::sync::atomic::AtomicBool,
    /// The names unix sockets are bound to (one network namespace).
    pub sockets: Arc<crate::local::Names>,
    pub platform: Arc<dyn Platform>,
    pub memfile: Arc<MemFile>,
    pub vdso: Vdso,
    pub vfs: Vfs,
    pub table: OnceLock<Arc<dyn SyscallTable>>,
    pub strace: bool,
    /// The first process's UTS namespace.
    pub init_uts: Arc<uts::UtsNs>,
    pub clock: time::Clock,
    logged: Mutex<HashSet<String>>,
    clocks: std::sync::Once,
    pub boot_time: std::time::Instant,
    pub console: Option<Arc<console::Console>>,
    pub init: InitProcess,
    pub app_seccomp: Option<appseccomp::Filter>,
    /// A container's pids limit (0: none); `update` changes it.
    max_tasks: std::sync::atomic::AtomicUsize,
}

impl Kernel {
    /// The most tasks at once, if limited.
    pub fn max_tasks(&self) -> Option<usize> {
        match self.max_tasks.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    /// Changes the pids limit (tasks past it stay; new ones wait for
    /// room).
    pub fn set_max_tasks(&self, limit: Option<usize>) {
        self.max_tasks
            .store(limit.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
        self.vfs.cgroup.set_root_pids_max(limit);
    }

    pub fn new(
        platform: Arc<dyn Platform>,
        memfile: Arc<MemFile>,
        cfg: &KernelConfig,
    ) -> KResult<Arc<Kernel>> {
        let vdso = Vdso::new(&memfile)?;
        let clock = time::Clock::new(vdso.vvar());
        let vfs = Vfs::new(cfg.gofer.clone(), &memfile);
        let console = if cfg.console {
            let dup =
                |fd: &std::os::fd::OwnedFd| fd.try_clone().map_err(|e| crate::Errno::from_io(&e));
            Some(Arc::new(console::Console::new(
                &vfs,
                dup(&cfg.stdio[0])?,
                dup(&cfg.stdio[1])?,
            )?))
        } else {
            None
        };
        let sockets: Arc<crate::local::Names> = Default::default();
        if let Some(n) = &cfg.net {
            let _ = sockets.net.set(n.clone());
        }
        if let Some(h) = &cfg.host_network {
            let _ = sockets.host.set(h.clone());
        }
        Ok(Arc::new(Kernel {
            futexes: Default::default(),
            record_locks_used: Default::default(),
            signalfds_used: Default::default(),
            leases_used: Default::default(),
            sockets: sockets.clone(),
            lock: Mutex::new(KState {
                tasks: HashMap::new(),
                procs: HashMap::new(),
                id_ns: HashMap::new(),
                lingering: Default::default(),
                // 1 is the first process's (`lifecycle::spawn`).
                next_pid: 2,
                timers: timers::Timers::default(),
                init_exit: None,
                locks: Default::default(),
                leases: Default::default(),
                init_done: Default::default(),
                sockets,
                outside_exit: None,
                ipc: Default::default(),
                rw_hints: HashMap::new(),
                loadavg: cpu::LoadAvg::default(),
                cgroups: vfs.cgroup.tree.clone(),
            }),
            platform,
            memfile,
            vdso,
            vfs,
            table: OnceLock::new(),
            strace: cfg.strace,
            init_uts: uts::UtsNs::new(cfg.hostname.as_bytes()),
            clock,
            logged: Mutex::new(HashSet::new()),
            clocks: std::sync::Once::new(),
            boot_time: std::time::Instant::now(),
            console,
            init: cfg.init.clone(),
            app_seccomp: cfg.app_seccomp.clone(),
            max_tasks: std::sync::atomic::AtomicUsize::new(cfg.max_tasks.unwrap_or(0)),
        }))
        .inspect(|k| k.vfs.cgroup.set_root_pids_max(cfg.max_tasks))
    }

    pub fn lock(&self) -> MutexGuard<'_, KState> {
        self.lock.lock()
    }

    /// A signal from outside the sandbox (a container's `kill`): to pid
    /// 1, or with `all` to every process. The sender is pid 0, as Linux
    /// shows one in an ancestor pid namespace; init's protection applies
    /// (a default action other than SIGKILL's and SIGSTOP's is dropped).
    pub fn signal_from_host(&self, sig: i32, all: bool) {
        if !(1..=64).contains(&sig) {
            return;
        }
        let mut st = self.lock();
        let pids: Vec<i32> = if all {
            st.procs
                .iter()
                .filter(|(_, p)| p.exit.is_none())
                .map(|(&pid, _)| pid)
                .collect()
        } else {
            vec![1]
        };
        for pid in pids {
            signal::send_to_process(&mut st, pid, SigInfo::user(sig, 0, 0, 0));
        }
        drop(st);
        waitq::flush_deferred();
    }

    /// Starts `argv` as a process from outside the sandbox (a container's
    /// `exec`, a startContainer hook) with `stdio` as its fds 0-2, on
    /// `exe` (default `argv[0]`): its pid. Its exit reaches the receiver
    /// `outside_exits` returned.
    pub fn exec_outside(
        self: &Arc<Kernel>,
        who: &InitProcess,
        exe: Option<Vec<u8>>,
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
        cwd: Vec<u8>,
        stdio: [std::os::fd::OwnedFd; 3],
    ) -> Result<i32, BootError> {
        let files = crate::fs::file::FdTable::with_stdio(stdio);
        lifecycle::spawn_outside(self, who, exe, argv, envp, cwd, files, None)
    }

    /// `exec_outside` on a terminal: the process gets a pty of the
    /// sandbox's own as stdio and controlling terminal, relayed to the
    /// host terminal `tty` (a pty slave in raw mode) while it is open.
    pub fn exec_outside_tty(
        self: &Arc<Kernel>,
        who: &InitProcess,
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
        cwd: Vec<u8>,
        tty: std::os::fd::OwnedFd,
    ) -> Result<i32, BootError> {
        let dup = |fd: &std::os::fd::OwnedFd| {
            fd.try_clone()
                .map_err(|e| BootError::Exec(crate::Errno::from_io(&e)))
        };
        let c = Arc::new(
            console::Console::relayed(&self.vfs, dup(&tty)?, tty).map_err(BootError::Exec)?,
        );
        let files = c.slave_stdio().map_err(BootError::Exec)?;
        let pid =
            lifecycle::spawn_outside(self, who, None, argv, envp, cwd, files, Some(c.pty.clone()))?;
        console::start_relays(self, c, true);
        Ok(pid)
    }

    /// The exits of processes started with `exec_outside` (once).
    /// Starts the clock and timer threads, once: before the first
    /// process, or before a container's startContainer hooks.
    pub fn start_clocks(self: &Arc<Kernel>) {
        self.clocks.call_once(|| {
            time::start_clock_thread(self.clone());
            timers::start_timer_thread(self.clone());
        });
    }

    pub fn outside_exits(&self) -> std::sync::mpsc::Receiver<(i32, i32)> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.lock().outside_exit = Some(tx);
        rx
    }

    /// Logs `what` once per sandbox (unimplemented syscalls and flags).
    pub fn log_once(&self, what: &str) {
        if self.logged.lock().insert(what.to_string()) {
            tracing::warn!("unsupported: {what}");
        }
    }

    /// Runs the sandbox: starts `argv[0]` as pid 1 and returns its exit
    /// status (128+signal when killed) once it has exited.
    pub fn run(
        self: &Arc<Kernel>,
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
        cwd: Vec<u8>,
        stdio: [std::os::fd::OwnedFd; 3],
        passed: Vec<std::os::fd::OwnedFd>,
    ) -> Result<i32, BootError> {
        self.start_clocks();
        let (mut files, ctty) = match &self.console {
            Some(c) => (
                c.slave_stdio().map_err(BootError::Exec)?,
                Some(c.pty.clone()),
            ),
            None => (crate::fs::file::FdTable::with_stdio(stdio), None),
        };
        // Fds passed on to the first process, from 3 up.
        for (no, fd) in (3..).zip(passed) {
            files.add_host(no, fd);
        }
        lifecycle::spawn_init(self, argv, envp, cwd, files, ctty)?;
        if self.console.is_some() {
            console::start(self);
        }
        let mut st = self.lock();
        loop {
            if let Some(code) = st.init_exit {
                drop(st);
                if let Some(c) = &self.console {
                    c.flush();
                }
                return Ok(code);
            }
            let done = st.init_done.clone();
            done.wait(&mut st, None);
        }
    }
}
