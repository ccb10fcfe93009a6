//! `husk do`: start a gofer over the host root and a sandbox running the
//! command, pass stdio through, and exit with the command's status.

use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command};
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

/// A socket pair both children inherit (no CLOEXEC, so that `Command` can
/// use posix_spawn); each child closes the fds that are not its own.
fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid out-array of two ints.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, fds.as_mut_ptr()) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("socketpair");
    }
    // SAFETY: both fds were just created and are owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn spawn(cmd: &mut Command, what: &str) -> Result<Child> {
    cmd.spawn().with_context(|| format!("starting the {what}"))
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
struct RawTerminal(libc::termios);

impl RawTerminal {
    /// Raw mode when stdin and stdout are both the terminal; None otherwise.
    fn enter() -> Option<RawTerminal> {
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
    let exe = std::env::current_exe().context("finding the husk binary")?;
    // The gofer runs as a child of its waiter; when the waiter goes, the
    // gofer (killed by its death signal) is reaped here, not by the
    // host's init, so nothing of the sandbox outlives `husk do`.
    // SAFETY: prctl on ourselves with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let cwd = match cwd {
        Some(c) => c,
        None => std::env::current_dir().context("current directory")?,
    };
    if !cwd.is_absolute() {
        anyhow::bail!("--cwd: must be an absolute path, got {}", cwd.display());
    }
    // The host-side bound: everything started from here on runs in a
    // cgroup whose memory limit is the sandbox's size plus husk's room.
    // SAFETY: getpid cannot fail.
    let name = format!("husk-{}", unsafe { libc::getpid() });
    let _cgroup = match crate::cgroup::SandboxCgroup::enter(&name, memory) {
        Ok(Some(cg)) => Some(cg),
        Ok(None) => {
            tracing::warn!("no memory cgroup available: the sandbox's memory is bounded by husk's own accounting only");
            None
        }
        Err(e) => {
            tracing::warn!("cannot make the sandbox's memory cgroup ({e}): bounded by husk's own accounting only");
            None
        }
    };
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut pairs = Vec::new();
    for _ in 0..ncpu {
        pairs.push(socketpair()?);
    }
    let list = |v: &[i32]| {
        v.iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let gofer_fds: Vec<i32> = pairs.iter().map(|p| p.1.as_raw_fd()).collect();
    let sentry_fds: Vec<i32> = pairs.iter().map(|p| p.0.as_raw_fd()).collect();
    // On a terminal the sandbox gets a console pty of its own; the host
    // terminal passes bytes through raw until the sandbox is gone.
    let terminal = RawTerminal::enter();
    let mut g = Command::new(&exe);
    g.args(flags)
        .arg("gofer")
        .arg("--fd")
        .arg(list(&gofer_fds))
        .arg("--root")
        .arg("/")
        .stdin(std::process::Stdio::null());
    if !writable_root {
        g.arg("--read-only");
    }
    let mut gofer = spawn(&mut g, "gofer")?;
    GOFER_PID.store(gofer.id() as i32, Ordering::Relaxed);
    let sentry_ends: Vec<OwnedFd> = pairs.into_iter().map(|(s, _)| s).collect();

    let net = match network {
        crate::Network::None | crate::Network::Host => None,
        crate::Network::Sandbox => match crate::netns::create() {
            Ok(n) => Some(n),
            Err(e) => {
                let _ = gofer.kill();
                let _ = gofer.wait();
                return Err(e).context("--network sandbox");
            }
        },
    };
    let mut s = Command::new(&exe);
    s.args(flags).arg("boot");
    if network == crate::Network::Host {
        s.arg("--host-network");
    }
    if let Some(n) = &net {
        tracing::info!(host_if = %n.host_if, host_addr = %n.host_addr, sandbox_addr = %n.config.addr, "sandbox network");
        s.arg(format!("--net-fd={}", n.inherit()?))
            .arg(format!("--net-config={}", n.config.render()));
    }
    s.arg("--gofer-fd")
        .arg(list(&sentry_fds))
        .arg("--cwd")
        .arg(&cwd)
        .arg("--hostname")
        .arg(&hostname)
        .arg(format!("--directfs={directfs}"))
        .arg(format!("--writable-root={writable_root}"))
        .arg(format!("--console={}", terminal.is_some()))
        .arg(format!("--memory-bytes={memory}"))
        .arg("--")
        .args(&command);
    // The sandbox is pid 1 of a pid namespace of its own: when it dies,
    // the kernel kills every stub process with it.
    // SAFETY: unshare on this single-threaded process; only children
    // created from now on (the sandbox) enter the new namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
        let err = std::io::Error::last_os_error();
        let _ = gofer.kill();
        let _ = gofer.wait();
        return Err(err).context("creating the sandbox's pid namespace");
    }
    let mut sandbox = match spawn(&mut s, "sandbox") {
        Ok(c) => c,
        Err(e) => {
            let _ = gofer.kill();
            let _ = gofer.wait();
            return Err(e);
        }
    };
    SANDBOX_PID.store(sandbox.id() as i32, Ordering::Relaxed);
    drop(sentry_ends);
    // The sandbox holds the packet socket now: the namespace goes with it.
    drop(net);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: installing a handler that only calls async-signal-safe functions.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
    let status = sandbox.wait().context("waiting for the sandbox")?;
    let _ = gofer.kill();
    let _ = gofer.wait();
    reap_orphans();
    use std::os::unix::process::ExitStatusExt;
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        _ => 125,
    })
}

/// Waits for the children left to this subreaper: the gofer, killed by
/// its death signal when its waiter went (so this returns at once).
fn reap_orphans() {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid out-pointer.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return; // ECHILD: nobody left
        }
    }
}
