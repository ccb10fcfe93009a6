//! Starting one sandbox: a gofer over a root and the sandbox process
//! (`husk boot`) running a command, as `husk do` and a container's
//! monitor (`oci::monitor`) both do. The caller stays their parent and
//! waits for them.

use anyhow::{Context, Result};
use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// What to start.
pub struct Launch {
    /// Global flags repeated for the children (`--debug`, `--log`, ...).
    pub flags: Vec<String>,
    /// The root the gofer serves.
    pub root: PathBuf,
    /// The gofer serves it writable and the sandbox has no overlay.
    pub writable_root: bool,
    pub cwd: String,
    pub hostname: String,
    pub directfs: bool,
    /// The sandbox's stdin and stdout are a terminal: give it a console.
    pub console: bool,
    /// The sandbox's memory size in bytes.
    pub memory: u64,
    pub network: crate::Network,
    pub command: Vec<String>,
    /// The command's environment (None: this process's).
    pub env: Option<Vec<String>>,
    /// More `husk boot` arguments (the first process's ids and limits).
    pub boot_args: Vec<String>,
    /// The sandbox's stdin, stdout and stderr (None: this process's).
    pub stdio: Option<[OwnedFd; 3]>,
    /// Fds the sandbox inherits, with the boot flag naming each
    /// (`--start-fd`, `--control-fd`).
    pub fds: Vec<(&'static str, OwnedFd)>,
    /// Host fds the first process gets as its fds 3 and up (a
    /// container's `--preserve-fds`).
    pub passed: Vec<OwnedFd>,
    /// The host cgroup the caller is in: the gofer and the sandbox go
    /// into its child `sandbox` (see `cgroup`).
    pub cgroup: Option<crate::cgroup::Cgroup>,
    /// The cgroup goes when the sandbox does (`husk do`; a container's
    /// goes at `delete`).
    pub owns_cgroup: bool,
    /// Host files and directories the gofer serves inside the root.
    pub binds: Vec<gofer::Bind>,
    /// The sandbox stays in this process's network namespace (a
    /// container's, which its monitor made).
    pub keep_netns: bool,
}

/// The started processes.
pub struct Launched {
    pub gofer: Child,
    pub sandbox: Child,
    /// Removed when dropped.
    owned_cgroup: Option<crate::cgroup::Cgroup>,
}

impl Drop for Launched {
    fn drop(&mut self) {
        if let Some(c) = self.owned_cgroup.take() {
            c.leave();
            c.remove();
        }
    }
}

/// Puts the calling process back into its cgroup when dropped.
struct Back<'a>(Option<&'a crate::cgroup::Cgroup>);

impl Drop for Back<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0 {
            if let Err(e) = c.enter() {
                tracing::warn!("cannot return to the sandbox's cgroup: {e}");
            }
        }
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

/// `fd` inherited by children (CLOEXEC off).
pub fn inheritable(fd: &OwnedFd) -> Result<RawFd> {
    let raw = fd.as_raw_fd();
    // SAFETY: F_SETFD on an fd we own.
    if unsafe { libc::fcntl(raw, libc::F_SETFD, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).context("fcntl(F_SETFD)");
    }
    Ok(raw)
}

fn spawn(cmd: &mut Command, what: &str) -> Result<Child> {
    cmd.spawn().with_context(|| format!("starting the {what}"))
}

fn list(v: &[i32]) -> String {
    v.iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl Launch {
    /// Starts the gofer and the sandbox. The calling process unshares a pid namespace for the sandbox
    /// (so it must be a process of its own for this one sandbox).
    pub fn start(self) -> Result<Launched> {
        let exe = std::env::current_exe().context("finding the husk binary")?;
        // The gofer runs as a child of its waiter; when the waiter goes,
        // the gofer (killed by its death signal) is reaped here, not by
        // the host's init, so nothing of the sandbox outlives the caller.
        // SAFETY: prctl on ourselves with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        // The children go into the cgroup's child `sandbox`, which
        // `pause` freezes; this process returns to the cgroup after.
        let back = match &self.cgroup {
            Some(cg) => match cg.child("sandbox").and_then(|c| c.enter()) {
                Ok(()) => Back(Some(cg)),
                Err(e) => {
                    tracing::warn!("the sandbox's cgroup: {e}");
                    Back(None)
                }
            },
            None => Back(None),
        };
        let ncpu = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let mut pairs = Vec::new();
        for _ in 0..ncpu {
            pairs.push(socketpair()?);
        }
        let gofer_fds: Vec<i32> = pairs.iter().map(|p| p.1.as_raw_fd()).collect();
        let sentry_fds: Vec<i32> = pairs.iter().map(|p| p.0.as_raw_fd()).collect();
        let mut g = Command::new(&exe);
        g.args(&self.flags)
            .arg("gofer")
            .arg("--fd")
            .arg(list(&gofer_fds))
            .arg("--root")
            .arg(&self.root)
            .stdin(Stdio::null());
        if !self.writable_root {
            g.arg("--read-only");
        }
        for b in &self.binds {
            g.arg("--bind")
                .arg(if b.read_only { "ro" } else { "rw" })
                .arg(&b.dest)
                .arg(&b.source);
        }
        let mut gofer = spawn(&mut g, "gofer")?;
        let sentry_ends: Vec<OwnedFd> = pairs.into_iter().map(|(s, _)| s).collect();
        let kill_gofer = |gofer: &mut Child| {
            let _ = gofer.kill();
            let _ = gofer.wait();
        };
        let net = match self.network {
            crate::Network::None | crate::Network::Host => None,
            crate::Network::Sandbox => match crate::netns::create() {
                Ok(n) => Some(n),
                Err(e) => {
                    kill_gofer(&mut gofer);
                    return Err(e).context("--network sandbox");
                }
            },
        };
        let mut s = Command::new(&exe);
        s.args(&self.flags).arg("boot");
        if self.network == crate::Network::Host {
            s.arg("--host-network");
        } else if self.keep_netns {
            s.arg("--keep-netns");
        }
        if let Some(n) = &net {
            tracing::info!(host_if = %n.host_if, host_addr = %n.host_addr, sandbox_addr = %n.config.addr, "sandbox network");
            s.arg(format!("--net-fd={}", n.inherit()?))
                .arg(format!("--net-config={}", n.config.render()));
        }
        for (flag, fd) in &self.fds {
            s.arg(format!("{flag}={}", inheritable(fd)?));
        }
        for fd in &self.passed {
            s.arg(format!("--passed-fd={}", inheritable(fd)?));
        }
        s.arg("--gofer-fd")
            .arg(list(&sentry_fds))
            .arg("--cwd")
            .arg(&self.cwd)
            .arg("--hostname")
            .arg(&self.hostname)
            .arg(format!("--directfs={}", self.directfs))
            .arg(format!("--writable-root={}", self.writable_root))
            .arg(format!("--console={}", self.console))
            .arg(format!("--memory-bytes={}", self.memory))
            .args(&self.boot_args)
            .arg("--")
            .args(&self.command);
        if let Some(env) = &self.env {
            s.env_clear();
            for e in env {
                let (k, v) = e.split_once('=').unwrap_or((e, ""));
                s.env(OsString::from(k), OsString::from(v));
            }
        }
        if let Some([i, o, e]) = self.stdio {
            s.stdin(Stdio::from(i))
                .stdout(Stdio::from(o))
                .stderr(Stdio::from(e));
        }
        // The sandbox is pid 1 of a pid namespace of its own: when it
        // dies, the kernel kills every stub process with it. This
        // process's own namespace is put back for its later children
        // (a process whose children go elsewhere cannot make threads).
        let own_ns = std::fs::File::open("/proc/self/ns/pid").context("/proc/self/ns/pid")?;
        // SAFETY: unshare on this process; only children created from
        // now on (the sandbox) enter the new namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
            let err = std::io::Error::last_os_error();
            kill_gofer(&mut gofer);
            return Err(err).context("creating the sandbox's pid namespace");
        }
        let spawned = spawn(&mut s, "sandbox");
        // SAFETY: setns to the namespace this process is in.
        if unsafe { libc::setns(own_ns.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
            tracing::warn!(
                "cannot restore the pid namespace for children: {}",
                std::io::Error::last_os_error()
            );
        }
        let sandbox = match spawned {
            Ok(c) => c,
            Err(e) => {
                kill_gofer(&mut gofer);
                return Err(e);
            }
        };
        drop(back);
        drop(sentry_ends);
        // The sandbox holds the packet socket now: the namespace goes
        // with it.
        drop(net);
        Ok(Launched {
            gofer,
            sandbox,
            owned_cgroup: if self.owns_cgroup { self.cgroup } else { None },
        })
    }
}

impl Launched {
    /// Waits for the sandbox, then takes the gofer down: the sandbox's
    /// exit status (128+N when killed by signal N).
    pub fn wait(mut self) -> Result<i32> {
        let status = self.sandbox.wait().context("waiting for the sandbox")?;
        let _ = self.gofer.kill();
        let _ = self.gofer.wait();
        reap_orphans();
        Ok(shell_status(status))
    }
}

/// A child's status as a shell shows it: its exit code, or 128 + the
/// signal that ended it (125 when it says neither).
pub fn shell_status(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        _ => 125,
    }
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
