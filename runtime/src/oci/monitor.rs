//! A container's monitor (`husk monitor`, started by `create`): the
//! process whose pid the caller is given. It starts the gofer and the
//! sandbox, tells `create` when the sandbox is ready, opens the start
//! gate when `start` reads the fifo, relays `kill` requests (its control
//! socket) and its own signals to the container, and exits with the
//! container's status. The sandbox dies with it.

use super::bundle::Plan;
use super::control::{self, FromSandbox, ToSandbox};
use super::state::Container;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex};

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
    /// Fds 3 to 3+N-1 go to the container's first process.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
}

/// The sandbox's pid, for the signal relay.
static SANDBOX: AtomicI32 = AtomicI32::new(0);

/// Ends the sandbox (and with it every process of the container).
fn kill_sandbox() {
    // SAFETY: kill with plain arguments, to our own child.
    unsafe { libc::kill(SANDBOX.load(Ordering::Relaxed), libc::SIGKILL) };
}

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

/// What the monitor's threads share.
struct Shared {
    /// The control socket to the sandbox (`control`).
    ctl: OwnedFd,
    /// Not started yet: a signal ends the sandbox.
    created: Mutex<bool>,
    /// The connection of the exec request the sandbox answers next.
    pending: Mutex<Option<UnixStream>>,
    answered: Condvar,
    /// One exec request at a time.
    exec_lock: Mutex<()>,
    /// Connections waiting for the exit of the process they started.
    execs: Mutex<HashMap<i32, UnixStream>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn created(&self) -> bool {
        *lock(&self.created)
    }

    /// Sends a signal request to the sandbox's control thread.
    fn relay(&self, sig: i32, all: bool) -> Result<()> {
        let sig = u8::try_from(sig).context("signal number")?;
        control::send(&self.ctl, &ToSandbox::Signal { sig, all }.encode(), &[])
    }

    /// Starts a process in the sandbox for the connection `c`; the
    /// sandbox's answer and, later, the exit go to `c` (`read_sandbox`).
    fn exec(&self, c: UnixStream, req: &[u8], stdio: &[OwnedFd]) -> Result<()> {
        let _one = lock(&self.exec_lock);
        *lock(&self.pending) = Some(c);
        let msg = ToSandbox::Exec(req.to_vec()).encode();
        let fds: Vec<_> = stdio.iter().map(|f| f.as_fd()).collect();
        if let Err(e) = control::send(&self.ctl, &msg, &fds) {
            lock(&self.pending).take();
            return Err(e);
        }
        let mut p = lock(&self.pending);
        while p.is_some() {
            p = self.answered.wait(p).unwrap_or_else(|e| e.into_inner());
        }
        Ok(())
    }

    /// The sandbox's messages after "ready": exec answers and exits.
    fn read_sandbox(&self) {
        loop {
            let Ok((msg, _)) = control::recv(&self.ctl) else {
                break;
            };
            let Some(m) = FromSandbox::decode(&msg) else {
                break;
            };
            match m {
                FromSandbox::Started(pid) => {
                    if let Some(mut c) = lock(&self.pending).take() {
                        let _ = writeln!(c, "pid {pid}");
                        lock(&self.execs).insert(pid, c);
                    }
                    self.answered.notify_all();
                }
                FromSandbox::Failed(e) => {
                    if let Some(mut c) = lock(&self.pending).take() {
                        let _ = writeln!(c, "error {}", std::io::Error::from_raw_os_error(e));
                    }
                    self.answered.notify_all();
                }
                FromSandbox::Exited(pid, status) => {
                    if let Some(mut c) = lock(&self.execs).remove(&pid) {
                        let _ = writeln!(c, "exit {status}");
                    }
                }
                FromSandbox::Ready => {}
            }
        }
        // The sandbox is gone: so is every process started in it.
        lock(&self.pending).take();
        self.answered.notify_all();
        for (_, mut c) in lock(&self.execs).drain() {
            let _ = writeln!(c, "exit 137");
        }
    }
}

/// Answers one request on the control socket: `kill SIG ALL`, `update
/// MEMORY PIDS` (`u64::MAX` for unchanged), or `exec` with a JSON
/// `bundle::Process` and three fds.
fn serve_request(c: UnixStream, shared: &Shared) -> Result<()> {
    let (msg, fds) = control::recv(&c)?;
    let text = String::from_utf8_lossy(&msg);
    let (word, rest) = text
        .trim_end()
        .split_once(' ')
        .unwrap_or((text.trim_end(), ""));
    let reply = match word {
        "kill" => {
            let mut w = rest.split_whitespace();
            let sig: i32 = w.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let all = w.next() == Some("1");
            // SIGKILL, or any signal before the first process exists,
            // ends the sandbox itself.
            if sig == libc::SIGKILL || shared.created() {
                kill_sandbox();
                Ok(())
            } else {
                shared.relay(sig, all)
            }
        }
        "update" => {
            let mut w = rest.split_whitespace().map(|v| v.parse::<u64>().ok());
            let (memory, pids) = (w.next().flatten(), w.next().flatten());
            let some = |v: Option<u64>| v.filter(|&v| v != u64::MAX);
            control::send(
                &shared.ctl,
                &ToSandbox::Update {
                    memory: some(memory),
                    pids: some(pids),
                }
                .encode(),
                &[],
            )
        }
        "exec" if shared.created() => Err(anyhow::anyhow!("the container has not started")),
        "exec" if fds.len() == 3 => return shared.exec(c, rest.as_bytes(), &fds),
        _ => Err(anyhow::anyhow!("malformed request")),
    };
    let mut w = &c;
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
    // SAFETY: the fds were handed to this process by `create`, which
    // checked that the passed ones are open.
    let passed: Vec<OwnedFd> = (3..3 + a.preserve_fds as i32)
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    for fd in &passed {
        // Only the sandbox gets them, not the hooks or the gofer.
        let _ = rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC);
    }
    // SAFETY: as above.
    let mut ready = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(a.ready_fd) });
    let console = a.console_fd.map(|fd| unsafe {
        // SAFETY: as above.
        OwnedFd::from_raw_fd(fd)
    });
    match start(g, &a.id, console, a.tty_stdio, passed) {
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

type Started = (crate::launch::Launched, Arc<Shared>);

/// Where a container's resolv.conf is.
enum ResolvConf {
    /// A bind mount's source.
    Bound(std::path::PathBuf),
    /// The root's own /etc/resolv.conf (the root directory given).
    InRoot(std::path::PathBuf),
}

/// Whether the container's resolv.conf (read at start: the engine writes
/// it after create) names the engine's resolver at 127.0.0.11: a bind
/// mount's source (the engine's file), or the root's own, resolved
/// inside the root so that no symlink of the image leads out of it.
fn uses_local_resolver(resolv: &ResolvConf) -> bool {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let f = match resolv {
        ResolvConf::Bound(p) => rustix::fs::open(
            p,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ),
        ResolvConf::InRoot(root) => rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .and_then(|dir| {
            rustix::fs::openat2(
                &dir,
                "etc/resolv.conf",
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            )
        }),
    };
    let Ok(f) = f else { return false };
    let mut text = String::new();
    let _ = std::io::Read::read_to_string(
        &mut std::io::Read::take(std::fs::File::from(f), 64 << 10),
        &mut text,
    );
    crate::netns::takeover::names_local_resolver(&text)
}

/// Makes the container's cgroup with its limits (memory: the sandbox's
/// size plus husk's room) and moves the monitor into it. Without limits
/// asked for, a host that cannot give one only costs a warning.
fn enter_cgroup(
    rec: &super::state::Record,
    plan: &Plan,
    memory: u64,
) -> Result<Option<crate::cgroup::Cgroup>> {
    let Some(cg) = rec.cgroup() else {
        return Ok(None);
    };
    match cg.make(&plan.limits.cgroup.clone().with_room(memory)) {
        Ok(()) => Ok(Some(cg)),
        Err(e) if plan.limits.cgroup == crate::cgroup::Resources::default() => {
            tracing::warn!("the container's cgroup ({e}): no host limits");
            cg.leave();
            Ok(None)
        }
        Err(e) => Err(e).context("linux.resources"),
    }
}

/// Starts the sandbox and waits for it to be ready.
fn start(
    g: &super::Global,
    id: &str,
    console: Option<OwnedFd>,
    tty_stdio: bool,
    passed: Vec<OwnedFd>,
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
    let memory = plan
        .limits
        .memory()
        .unwrap_or_else(|| sentry::fs::vfs::total_memory() / 2);
    let cgroup = enter_cgroup(&rec, &plan, memory)?;
    // The container's OOM score is the sandbox's on the host (its
    // children, the gofer, sandbox and stubs, inherit it).
    if let Some(adj) = plan.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .with_context(|| format!("process.oomScoreAdj {adj}"))?;
    }
    // The container's network namespace is the monitor's own, so that
    // its pid names it (hooks such as Docker's libnetwork-setkey
    // configure /proc/PID/ns/net): a new, empty one, never the host's.
    // Without a network namespace in config.json the container is on
    // the host's network (`--network host`).
    let network = if plan.host_network {
        crate::Network::Host
    } else if let Some(p) = &plan.netns {
        // Joined: someone else's (a pod's), which the sandbox shares.
        let f = std::fs::File::open(p).with_context(|| p.display().to_string())?;
        rustix::thread::move_into_link_name_space(
            f.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .with_context(|| format!("joining {}", p.display()))?;
        g.network
    } else {
        // SAFETY: unshare on this (still single-threaded) process.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error())
                .context("the container's network namespace");
        }
        g.network
    };
    // The start gate: "s", with the container's interface (a packet
    // socket and its netstack configuration) when the sandbox takes it
    // over (see `netns::takeover`).
    let (gate_r, gate_w) = socketpair()?;
    let take_over = network == crate::Network::Sandbox;
    // The container's resolv.conf: a bind mount's (Docker's), or the root's.
    let resolv_conf = plan
        .binds
        .iter()
        .find(|b| b.dest == std::path::Path::new("/etc/resolv.conf"))
        .map(|b| ResolvConf::Bound(b.source.clone()))
        .unwrap_or_else(|| ResolvConf::InRoot(plan.rootfs.clone()));
    let (ctl, ctl_sandbox) = socketpair()?;
    let stdio = match &console {
        Some(s) => Some([s.try_clone()?, s.try_clone()?, s.try_clone()?]),
        None => None,
    };
    let writable = match g.overlay {
        Some(o) => o == crate::Overlay::None && !plan.readonly,
        None => !plan.readonly,
    };
    // A read-only root is read-only inside too, unless a memory overlay
    // was asked for above it.
    let read_only_root = plan.readonly && g.overlay != Some(crate::Overlay::Memory);
    let mut boot_args = vec![
        format!("--uid={}", plan.process.uid),
        format!("--gid={}", plan.process.gid),
    ];
    if !plan.process.groups.is_empty() {
        let g: Vec<String> = plan.process.groups.iter().map(u32::to_string).collect();
        boot_args.push(format!("--groups={}", g.join(",")));
    }
    if let Some(m) = plan.process.umask {
        boot_args.push(format!("--umask={m:o}"));
    }
    if read_only_root {
        boot_args.push("--read-only-root".into());
    }
    if let Some(sc) = &plan.seccomp {
        boot_args.push(format!("--app-seccomp={sc}"));
    }
    if let Some(n) = plan.port_start {
        boot_args.push(format!("--port-start={n}"));
    }
    if let Some(n) = plan.limits.pids.filter(|&n| n > 0) {
        boot_args.push(format!("--pids-limit={n}"));
    }
    for t in &plan.tmpfs {
        boot_args.push(format!("--tmpfs={}", t.arg()));
    }
    if let Some(d) = &plan.domainname {
        boot_args.push(format!("--domainname={d}"));
    }
    if let (Some(u), Some(g)) = (&plan.uid_map, &plan.gid_map) {
        boot_args.push(format!("--uid-map={u}"));
        boot_args.push(format!("--gid-map={g}"));
    }
    if let Some(c) = &plan.process.caps {
        boot_args.push(format!("--caps={c}"));
    }
    if plan.process.no_new_privs {
        boot_args.push("--no-new-privs".into());
    }
    for p in &plan.masked_paths {
        boot_args.push(format!("--masked-path={p}"));
    }
    for p in &plan.readonly_paths {
        boot_args.push(format!("--read-only-path={p}"));
    }
    let cg = &plan.limits.cgroup;
    if let (Some(q), p) = (cg.cpu_quota.filter(|&q| q > 0), cg.cpu_period) {
        boot_args.push(format!(
            "--cpu-max={q}:{}",
            p.filter(|&p| p > 0).unwrap_or(100_000)
        ));
    }
    if let Some(s) = cg.cpu_shares.filter(|&s| s > 0) {
        boot_args.push(format!(
            "--cpu-weight={}",
            crate::cgroup::shares_to_weight(s)
        ));
    }
    if let Some(n) = plan.limits.cpus() {
        boot_args.push(format!("--cpus={n}"));
    }
    for (r, soft, hard) in &plan.rlimits {
        boot_args.push(format!("--rlimit={r}={soft}:{hard}"));
    }
    let launched = crate::launch::Launch {
        flags: g.flags.clone(),
        root: plan.rootfs.clone(),
        writable_root: writable,
        cwd: plan.process.cwd.clone(),
        hostname: plan.hostname.clone(),
        // The sandbox's own user namespace sees host ids beyond 65535 as
        // overflow: with a mapping, every stat comes from the gofer.
        directfs: g.directfs && plan.uid_map.is_none(),
        console: console.is_some() || tty_stdio,
        memory,
        // The container's interface is taken over at start, not made.
        network: if take_over {
            crate::Network::None
        } else {
            network
        },
        command: plan.process.args.clone(),
        env: Some(plan.process.env.clone()),
        boot_args,
        stdio,
        fds: vec![("--start-fd", gate_r), ("--control-fd", ctl_sandbox)],
        passed,
        cgroup,
        owns_cgroup: false,
        binds: plan.binds.clone(),
        keep_netns: network != crate::Network::Host,
    }
    .start()?;
    drop(console);
    SANDBOX.store(launched.sandbox.id() as i32, Ordering::Relaxed);
    // Ready: the sandbox says so once its kernel is built and confined.
    let ready = control::recv(&ctl)
        .ok()
        .and_then(|(m, _)| FromSandbox::decode(&m));
    if ready != Some(FromSandbox::Ready) {
        let code = launched.wait().unwrap_or(125);
        anyhow::bail!("the sandbox did not start (status {code})");
    }
    let control = Arc::new(Shared {
        ctl,
        created: Mutex::new(true),
        pending: Mutex::new(None),
        answered: Condvar::new(),
        exec_lock: Mutex::new(()),
        execs: Mutex::new(HashMap::new()),
    });
    let reader = control.clone();
    std::thread::spawn(move || reader.read_sandbox());
    // The start gate: `start` opens the fifo for reading, which lets this
    // open return; the byte it reads says the gate is open.
    let fifo = c.fifo();
    let gate = control.clone();
    let here = Container { dir: c.dir.clone() };
    let start_hooks = plan.hooks.start_container.clone();
    std::thread::spawn(move || {
        let opened = std::fs::OpenOptions::new().write(true).open(&fifo);
        if let Ok(mut f) = opened {
            let _ = f.write_all(b".");
            *lock(&gate.created) = false;
            // Now: the engine's hooks have configured the namespace.
            let taken = if take_over {
                crate::netns::takeover::take_over().unwrap_or_else(|e| {
                    tracing::error!("taking over the container's network: {e}; loopback only");
                    None
                })
            } else {
                None
            };
            // The engine's resolver, when resolv.conf names 127.0.0.11.
            let resolver = taken
                .as_ref()
                .filter(|_| uses_local_resolver(&resolv_conf))
                .and_then(|_| {
                    crate::netns::takeover::resolver_socket()
                        .map_err(|e| tracing::warn!("the engine's resolver: {e}"))
                        .ok()
                });
            let sent = match &taken {
                Some(t) => {
                    let msg = format!("s{}", t.config.render());
                    let mut fds = vec![t.fd.as_fd()];
                    fds.extend(resolver.as_ref().map(|r| r.as_fd()));
                    control::send(&gate_w, msg.as_bytes(), &fds)
                }
                None => control::send(&gate_w, b"s", &[]),
            };
            drop(taken);
            let ran = sent
                .and_then(|()| {
                    let state = super::state_json(&here, &here.read()?);
                    start_container_hooks(&gate_w, &start_hooks, &state)
                })
                .and_then(|()| control::send(&gate_w, b"g", &[]));
            match ran {
                Ok(()) => {
                    let _ = f.write_all(b"0");
                }
                Err(e) => {
                    kill_sandbox();
                    let _ = f.write_all(format!("1{e:#}").as_bytes());
                }
            }
        }
    });
    // `kill` and friends.
    let _ = std::fs::remove_file(c.control());
    let (_dir, short) = c.control_short()?;
    let listener = UnixListener::bind(short).context("the control socket")?;
    let served = control.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            // An exec waits for the sandbox's answer: each on its own.
            let shared = served.clone();
            std::thread::spawn(move || {
                if let Err(e) = serve_request(conn, &shared) {
                    tracing::warn!("control request: {e:#}");
                }
            });
        }
    });
    Ok((launched, control))
}

/// Runs the startContainer hooks inside the sandbox, through its start
/// gate: `h` and the hook as JSON, with its stdin (the state) and its
/// output; the sandbox answers as the control socket reports an exec's
/// end (`FromSandbox::Exited`, or `Failed` with the errno that kept it
/// from starting). A hook past its timeout is an error (and the sandbox
/// is ended with it).
fn start_container_hooks(
    gate: &OwnedFd,
    hooks: &[super::bundle::HookCmd],
    state: &serde_json::Value,
) -> Result<()> {
    use rustix::pipe::{pipe_with, PipeFlags};
    let input = serde_json::to_vec(state)?;
    for (i, h) in hooks.iter().enumerate() {
        let name = format!("hooks.startContainer[{i}] ({})", h.path.display());
        let (in_r, in_w) = pipe_with(PipeFlags::CLOEXEC)?;
        let (out_r, out_w) = pipe_with(PipeFlags::CLOEXEC)?;
        let req = serde_json::json!({"path": h.path, "args": h.args, "env": h.env});
        let mut msg = vec![b'h'];
        msg.extend(serde_json::to_vec(&req)?);
        control::send(gate, &msg, &[in_r.as_fd(), out_w.as_fd()])?;
        drop((in_r, out_w));
        let input = input.clone();
        std::thread::spawn(move || {
            // A hook that does not read its state may close stdin early.
            let _ = std::fs::File::from(in_w).write_all(&input);
        });
        let (tx, output) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut said = String::new();
            let _ = std::io::Read::read_to_string(
                &mut std::io::Read::take(std::fs::File::from(out_r), 4096),
                &mut said,
            );
            let _ = tx.send(said);
        });
        let deadline = h.timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let left = deadline.map(|d| {
                let t = d.saturating_duration_since(std::time::Instant::now());
                rustix::event::Timespec {
                    tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
                    tv_nsec: i64::from(t.subsec_nanos()),
                }
            });
            let mut p = [rustix::event::PollFd::new(
                gate,
                rustix::event::PollFlags::IN,
            )];
            match rustix::event::poll(&mut p, left.as_ref()) {
                Ok(0) => anyhow::bail!("{name}: timed out"),
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e).context(name),
            }
        }
        let (reply, _) = control::recv(gate).context(name.clone())?;
        let said = || {
            let s = output
                .recv_timeout(std::time::Duration::from_secs(1))
                .unwrap_or_default();
            let s = s.trim();
            if s.is_empty() {
                String::new()
            } else {
                format!(": {s}")
            }
        };
        match FromSandbox::decode(&reply) {
            Some(FromSandbox::Exited(_, 0)) => {}
            Some(FromSandbox::Exited(_, status)) => {
                anyhow::bail!("{name}: exit status {status}{}", said())
            }
            Some(FromSandbox::Failed(e)) => {
                anyhow::bail!("{name}: {}", std::io::Error::from_raw_os_error(e))
            }
            _ => anyhow::bail!("{name}: the sandbox did not answer"),
        }
    }
    Ok(())
}

/// Relays the monitor's own signals and waits for the sandbox.
fn watch(
    launched: crate::launch::Launched,
    control: Arc<Shared>,
    set: libc::sigset_t,
) -> Result<i32> {
    std::thread::spawn(move || loop {
        let mut sig = 0;
        // SAFETY: sigwait on a set of blocked signals.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            return;
        }
        if control.created() {
            kill_sandbox();
        } else if sig != libc::SIGWINCH {
            let _ = control.relay(sig, false);
        }
    });
    launched.wait()
}
