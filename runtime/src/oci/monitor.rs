//! A container's monitor (`husk monitor`, started by `create`): the
//! process whose pid the caller is given. It starts the gofer and the
//! sandbox, tells `create` when the sandbox is ready, opens the start
//! gate when `start` reads the fifo, relays `kill` requests (its control
//! socket) and its own signals to the container, and exits with the
//! container's status. The sandbox dies with it.

use super::bundle::Plan;
use super::state::Container;
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

#[derive(clap::Args, Debug)]
pub struct MonitorArgs {
    #[arg(long)]
    id: String,
    /// Where `create` hears "ok", or the error that stopped the sandbox.
    #[arg(long)]
    ready_fd: i32,
    /// The console's slave (a terminal container).
    #[arg(long)]
    console_fd: Option<i32>,
    /// The console is this process's stdio (a terminal `run` in the
    /// foreground).
    #[arg(long)]
    tty_stdio: bool,
}

/// The sandbox's pid, for the signal relay.
static SANDBOX: AtomicI32 = AtomicI32::new(0);

/// Signals the monitor passes on to the container's first process.
const RELAYED: [i32; 7] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .context("socketpair")
}

/// Sends a signal request to the sandbox's control thread.
fn relay(control: &OwnedFd, sig: i32, all: bool) -> Result<()> {
    let sig = u8::try_from(sig).context("signal number")?;
    rustix::io::write(control, &[b'k', sig, u8::from(all)])
        .context("the sandbox's control socket")?;
    Ok(())
}

/// Answers one request on the control socket: `kill SIG ALL`.
fn serve_request(c: UnixStream, control: &OwnedFd, created: bool) -> Result<()> {
    let mut line = String::new();
    BufReader::new(&c).read_line(&mut line)?;
    let mut w = &c;
    let words: Vec<&str> = line.split_whitespace().collect();
    let reply = match words.as_slice() {
        ["kill", sig, all] => {
            let sig: i32 = sig.parse().unwrap_or(0);
            let sandbox = SANDBOX.load(Ordering::Relaxed);
            // SIGKILL, or any signal before the first process exists,
            // ends the sandbox itself.
            if sig == libc::SIGKILL || created {
                // SAFETY: kill with plain arguments, to our own child.
                unsafe { libc::kill(sandbox, libc::SIGKILL) };
                Ok(())
            } else {
                relay(control, sig, *all == "1")
            }
        }
        _ => Err(anyhow::anyhow!("unknown request")),
    };
    match reply {
        Ok(()) => writeln!(w, "ok")?,
        Err(e) => writeln!(w, "error {e:#}")?,
    }
    Ok(())
}

/// Blocks the relayed signals in this thread and every thread it makes
/// from now on (children reset their mask): `watch` takes them.
fn block_relayed() -> libc::sigset_t {
    // SAFETY: a sigset built and used locally; pthread_sigmask on this
    // thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in RELAYED {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

pub fn run(g: &super::Global, a: MonitorArgs) -> Result<i32> {
    let set = block_relayed();
    // SAFETY: the fds were handed to this process by `create`.
    let mut ready = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(a.ready_fd) });
    let console = a.console_fd.map(|fd| unsafe {
        // SAFETY: as above.
        OwnedFd::from_raw_fd(fd)
    });
    match start(g, &a.id, console, a.tty_stdio) {
        Ok((launched, control)) => {
            let _ = writeln!(ready, "ok");
            drop(ready);
            watch(launched, control, set)
        }
        Err(e) => {
            let _ = writeln!(ready, "{e:#}");
            Ok(125)
        }
    }
}

type Started = (crate::launch::Launched, Arc<(OwnedFd, Mutex<bool>)>);

/// Starts the sandbox and waits for it to be ready.
fn start(
    g: &super::Global,
    id: &str,
    console: Option<OwnedFd>,
    tty_stdio: bool,
) -> Result<Started> {
    // A session of its own: the caller's terminal signals are not ours
    // (unless the caller's terminal is the console).
    if !tty_stdio {
        // SAFETY: setsid on ourselves.
        unsafe { libc::setsid() };
    }
    let c = Container::open(&g.root, id)?;
    let rec = c.read()?;
    let plan: Plan = super::bundle::load(&rec.bundle)?;
    let (gate_r, gate_w) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).context("pipe")?;
    let (ctl, ctl_sandbox) = socketpair()?;
    let stdio = match &console {
        Some(s) => Some([s.try_clone()?, s.try_clone()?, s.try_clone()?]),
        None => None,
    };
    let writable = match g.overlay {
        Some(o) => o == crate::Overlay::None && !plan.readonly,
        None => !plan.readonly,
    };
    let mut boot_args = vec![format!("--uid={}", plan.uid), format!("--gid={}", plan.gid)];
    if !plan.groups.is_empty() {
        let g: Vec<String> = plan.groups.iter().map(u32::to_string).collect();
        boot_args.push(format!("--groups={}", g.join(",")));
    }
    if let Some(m) = plan.umask {
        boot_args.push(format!("--umask={m:o}"));
    }
    for (r, soft, hard) in &plan.rlimits {
        boot_args.push(format!("--rlimit={r}={soft}:{hard}"));
    }
    let launched = crate::launch::Launch {
        flags: g.flags.clone(),
        root: plan.rootfs.clone(),
        writable_root: writable,
        cwd: plan.cwd.clone(),
        hostname: plan.hostname.clone(),
        directfs: g.directfs,
        console: console.is_some() || tty_stdio,
        memory: plan
            .memory
            .unwrap_or_else(|| sentry::fs::vfs::total_memory() / 2),
        network: g.network,
        command: plan.args.clone(),
        env: Some(plan.env.clone()),
        boot_args,
        stdio,
        fds: vec![("--start-fd", gate_r), ("--control-fd", ctl_sandbox)],
        cgroup_name: format!("husk-{id}"),
        binds: plan.binds.clone(),
    }
    .start()?;
    drop(console);
    SANDBOX.store(launched.sandbox.id() as i32, Ordering::Relaxed);
    // Ready: the sandbox says so once its kernel is built and confined.
    let mut b = [0u8; 1];
    match rustix::io::read(&ctl, &mut b) {
        Ok(1) if b[0] == b'r' => {}
        _ => {
            let code = launched.wait().unwrap_or(125);
            anyhow::bail!("the sandbox did not start (status {code})");
        }
    }
    let control = Arc::new((ctl, Mutex::new(true)));
    // The start gate: `start` opens the fifo for reading, which lets this
    // open return; the byte it reads says the gate is open.
    let fifo = c.fifo();
    let gate = control.clone();
    std::thread::spawn(move || {
        let opened = std::fs::OpenOptions::new().write(true).open(&fifo);
        if let Ok(mut f) = opened {
            *gate.1.lock().unwrap_or_else(|e| e.into_inner()) = false;
            let _ = rustix::io::write(&gate_w, b"s");
            let _ = f.write_all(b"0");
        }
    });
    // `kill` and friends.
    let _ = std::fs::remove_file(c.control());
    let listener = UnixListener::bind(c.control()).context("the control socket")?;
    let served = control.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            let created = *served.1.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = serve_request(conn, &served.0, created) {
                tracing::warn!("control request: {e:#}");
            }
        }
    });
    Ok((launched, control))
}

/// Relays the monitor's own signals and waits for the sandbox.
fn watch(
    launched: crate::launch::Launched,
    control: Arc<(OwnedFd, Mutex<bool>)>,
    set: libc::sigset_t,
) -> Result<i32> {
    std::thread::spawn(move || loop {
        let mut sig = 0;
        // SAFETY: sigwait on a set of blocked signals.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            return;
        }
        let created = *control.1.lock().unwrap_or_else(|e| e.into_inner());
        if created {
            // SAFETY: kill with plain arguments, to our own child.
            unsafe { libc::kill(SANDBOX.load(Ordering::Relaxed), libc::SIGKILL) };
        } else if sig != libc::SIGWINCH {
            let _ = relay(&control.0, sig, false);
        }
    });
    launched.wait()
}
