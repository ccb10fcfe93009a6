//! `husk do`: start a gofer over the host root and a sandbox running the
//! command, pass stdio through, and exit with the command's status.

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

static SANDBOX_PID: AtomicI32 = AtomicI32::new(0);
static GOFER_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    for p in [&SANDBOX_PID, &GOFER_PID] {
        let pid = p.load(Ordering::Relaxed);
        if pid > 0 {
            // SAFETY: kill is async-signal-safe.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    // SAFETY: restore the default action and re-raise, so our own status
    // says how we ended.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// What `husk do` was asked for besides the command.
pub struct Options {
    pub cwd: Option<PathBuf>,
    pub hostname: String,
    pub directfs: bool,
    /// `--overlay=none`: the gofer serves the root writable.
    pub writable_root: bool,
    /// The sandbox's memory size in bytes.
    pub memory: u64,
    pub network: crate::Network,
}

/// The host terminal in raw mode; its settings come back when dropped.
pub struct RawTerminal(libc::termios);

impl RawTerminal {
    /// Raw mode when stdin and stdout are both the terminal; None otherwise.
    pub fn enter() -> Option<RawTerminal> {
        // SAFETY: isatty/tcgetattr/tcsetattr on our stdio with a termios
        // we own.
        unsafe {
            if libc::isatty(0) != 1 || libc::isatty(1) != 1 {
                return None;
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return None;
            }
            let mut raw = t;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(0, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            Some(RawTerminal(t))
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restoring the settings saved from this terminal.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.0) };
    }
}

pub fn run(flags: &[String], opts: Options, command: Vec<String>) -> Result<i32> {
    let Options {
        cwd,
        hostname,
        directfs,
        writable_root,
        memory,
        network,
    } = opts;
    let cwd = match cwd {
        Some(c) => c,
        None => std::env::current_dir().context("current directory")?,
    };
    if !cwd.is_absolute() {
        anyhow::bail!("--cwd: must be an absolute path, got {}", cwd.display());
    }
    // On a terminal the sandbox gets a console pty of its own; the host
    // terminal passes bytes through raw until the sandbox is gone.
    let terminal = RawTerminal::enter();
    let launched = crate::launch::Launch {
        flags: flags.to_vec(),
        root: "/".into(),
        writable_root,
        cwd: cwd.display().to_string(),
        hostname,
        directfs,
        console: terminal.is_some(),
        memory,
        network,
        command,
        env: None,
        // The program starts with the caller's umask, as it would run
        // on the host.
        boot_args: vec![format!("--umask={:o}", caller_umask())],
        stdio: None,
        fds: Vec::new(),
        passed: Vec::new(),
        cgroup: crate::cgroup::own(memory),
        owns_cgroup: true,
        binds: Vec::new(),
        keep_netns: false,
    }
    .start()?;
    GOFER_PID.store(launched.gofer.id() as i32, Ordering::Relaxed);
    SANDBOX_PID.store(launched.sandbox.id() as i32, Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: installing a handler that only calls async-signal-safe functions.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
    launched.wait()
}

/// This process's umask (read by setting it and putting it back).
fn caller_umask() -> u32 {
    let m = rustix::process::umask(rustix::fs::Mode::empty());
    rustix::process::umask(m);
    m.bits()
}
