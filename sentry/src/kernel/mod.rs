//! The kernel proper: the global state, tasks and processes, and the loop
//! that runs each task on its own sentry thread.

pub mod cpu;
mod creds;
mod ctx;
pub mod exec;
pub mod futex;
pub mod lifecycle;
pub mod signal;
pub mod task;
pub mod time;
pub mod timers;
mod wait;

pub use creds::Creds;
pub use ctx::{Ctx, SyscallTable};
pub use lifecycle::{do_clone, do_wait, group_exit, CloneArgs, WaitResult, WaitSel};
pub use signal::{SigAction, SigInfo};
pub use task::{FsContext, Process, Restart, Task};
pub use wait::{wake_all, Deadline};

use crate::errno::KResult;
use crate::fs::vfs::Vfs;
use crate::loader::vdso::Vdso;
use crate::memfile::MemFile;
use parking_lot::{Mutex, MutexGuard};
use platform::Platform;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

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
}

/// Kernel state guarded by the big kernel lock.
pub struct KState {
    pub tasks: HashMap<i32, Task>,
    pub procs: HashMap<i32, Process>,
    pub next_pid: i32,
    pub futexes: futex::Table,
    pub timers: timers::Timers,
    /// Set when pid 1 has exited: the sandbox is over.
    pub init_exit: Option<i32>,
    /// Advisory file locks (fcntl record locks, OFD locks, flock).
    pub locks: crate::fs::locks::Locks,
}

pub struct Kernel {
    lock: Mutex<KState>,
    pub platform: Arc<dyn Platform>,
    pub memfile: Arc<MemFile>,
    pub vdso: Vdso,
    pub vfs: Vfs,
    pub table: OnceLock<Arc<dyn SyscallTable>>,
    pub strace: bool,
    pub hostname: Mutex<String>,
    pub domainname: Mutex<String>,
    pub clock: time::Clock,
    logged: Mutex<HashSet<String>>,
    pub boot_time: std::time::Instant,
}

impl Kernel {
    pub fn new(
        platform: Arc<dyn Platform>,
        memfile: Arc<MemFile>,
        cfg: &KernelConfig,
    ) -> KResult<Arc<Kernel>> {
        let vdso = Vdso::new(&memfile)?;
        let clock = time::Clock::new(vdso.vvar());
        Ok(Arc::new(Kernel {
            lock: Mutex::new(KState {
                tasks: HashMap::new(),
                procs: HashMap::new(),
                next_pid: 1,
                futexes: futex::Table::default(),
                timers: timers::Timers::default(),
                init_exit: None,
                locks: Default::default(),
            }),
            platform,
            memfile,
            vdso,
            vfs: Vfs::new(cfg.gofer.clone()),
            table: OnceLock::new(),
            strace: cfg.strace,
            hostname: Mutex::new(cfg.hostname.clone()),
            domainname: Mutex::new("(none)".into()),
            clock,
            logged: Mutex::new(HashSet::new()),
            boot_time: std::time::Instant::now(),
        }))
    }

    pub fn lock(&self) -> MutexGuard<'_, KState> {
        self.lock.lock()
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
    ) -> Result<i32, BootError> {
        time::start_clock_thread(self.clone());
        timers::start_timer_thread(self.clone());
        lifecycle::spawn_init(self, argv, envp, cwd, stdio)?;
        let mut st = self.lock();
        loop {
            if let Some(code) = st.init_exit {
                return Ok(code);
            }
            wait::wait_init(&mut st);
        }
    }
}
