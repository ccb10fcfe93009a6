//! The OCI runtime's commands, as runc has them: `create`, `start`,
//! `run`, `state`, `kill`, `delete`, `list`, `spec` and `features` here;
//! `pause`, `resume`, `update`, `ps` and `events` in `resources`. A
//! container is a directory in `--root` (`state`), a monitor process
//! (`monitor`) that owns its sandbox, and the bundle it was made from
//! (`bundle`).

pub mod bundle;
pub mod console;
pub mod control;
pub mod hooks;
pub mod monitor;
pub mod profile;
pub mod resources;
pub mod state;

use anyhow::{Context, Result};
use state::{Container, Record, Status};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// The bundle: a directory with config.json (default: the current one).
    #[arg(long, short = 'b', default_value = ".")]
    bundle: PathBuf,
    /// Write the container's pid (its monitor's) here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// A unix socket to send the console's pty master to (a terminal).
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Accepted for runc's callers: the sandbox's root is never pivoted
    /// on the host.
    #[arg(long)]
    no_pivot: bool,
    /// Pass this many more fds (3 and up) to the container's first
    /// process, as its own 3 and up (socket activation, sd_notify).
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    /// Not supported: husk never opens a new session keyring.
    #[arg(long)]
    no_new_keyring: bool,
    pub id: String,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    create: CreateArgs,
    /// Return once the container runs, leaving it in the background.
    #[arg(long, short = 'd')]
    detach: bool,
}

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// The process as a runtime-spec `process` JSON file (instead of
    /// COMMAND and the flags below).
    #[arg(long, short = 'p')]
    process: Option<PathBuf>,
    /// A terminal for the process: a pty whose master goes to
    /// --console-socket (or this terminal, in the foreground).
    #[arg(long, short = 't')]
    tty: bool,
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Write the pid of the process that waits for it here (its exit
    /// status is the process's).
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Return once the process runs; a child of this command waits for it.
    #[arg(long, short = 'd')]
    detach: bool,
    #[arg(long)]
    cwd: Option<String>,
    /// NAME=VALUE, added to the container's environment (repeated).
    #[arg(long, short = 'e')]
    env: Vec<String>,
    /// UID[:GID].
    #[arg(long, short = 'u')]
    user: Option<String>,
    #[arg(long = "additional-gids", short = 'g')]
    additional_gids: Vec<u32>,
    /// Set no_new_privs for the process (as the container's
    /// noNewPrivileges does).
    #[arg(long)]
    no_new_privs: bool,
    /// Internal: where a detached exec's waiter says the process runs.
    #[arg(long, hide = true)]
    started_fd: Option<i32>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal every process of the container.
    #[arg(long, short = 'a')]
    all: bool,
    pub id: String,
    /// A name (TERM, SIGTERM) or number; SIGTERM by default.
    #[arg(default_value = "SIGTERM")]
    signal: String,
}

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// Kill the container if it still runs.
    #[arg(long, short = 'f')]
    force: bool,
    pub id: String,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
    /// Ids only.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct SpecArgs {
    /// Where to write config.json (default: the current directory).
    #[arg(long, short = 'b', default_value = ".")]
    bundle: PathBuf,
    /// Accepted for runc's callers; the spec is the same.
    #[arg(long)]
    rootless: bool,
}

/// What every command is given beside its own arguments.
pub struct Global {
    pub root: PathBuf,
    /// Global flags for the processes a command starts.
    pub flags: Vec<String>,
    pub overlay: Option<crate::Overlay>,
    pub network: crate::Network,
    pub directfs: bool,
    /// `cgroupsPath` is in systemd's form.
    pub systemd_cgroup: bool,
}

/// The state JSON of the runtime spec.
pub(crate) fn state_json(c: &Container, r: &Record) -> serde_json::Value {
    let status = c.status(r);
    serde_json::json!({
        "ociVersion": "1.0.2",
        "id": r.id,
        "pid": if status == Status::Stopped { 0 } else { r.pid },
        "status": status.to_string(),
        "bundle": r.bundle,
        "rootfs": r.rootfs,
        "created": r.created,
        "owner": "",
        "annotations": r.annotations,
    })
}

/// Signal numbers by name (with or without SIG) or number.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        anyhow::bail!("invalid signal {s}");
    }
    let name = s.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    const NAMES: [(&str, i32); 31] = [
        ("HUP", 1),
        ("INT", 2),
        ("QUIT", 3),
        ("ILL", 4),
        ("TRAP", 5),
        ("ABRT", 6),
        ("IOT", 6),
        ("BUS", 7),
        ("FPE", 8),
        ("KILL", 9),
        ("USR1", 10),
        ("SEGV", 11),
        ("USR2", 12),
        ("PIPE", 13),
        ("ALRM", 14),
        ("TERM", 15),
        ("STKFLT", 16),
        ("CHLD", 17),
        ("CONT", 18),
        ("STOP", 19),
        ("TSTP", 20),
        ("TTIN", 21),
        ("TTOU", 22),
        ("URG", 23),
        ("XCPU", 24),
        ("XFSZ", 25),
        ("VTALRM", 26),
        ("PROF", 27),
        ("WINCH", 28),
        ("IO", 29),
        ("PWR", 30),
    ];
    if let Some(&(_, n)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(n);
    }
    if let Some(off) = name.strip_prefix("RTMIN") {
        let k: i32 = if off.is_empty() { 0 } else { off.parse()? };
        if (0..=30).contains(&k) {
            return Ok(34 + k);
        }
    }
    if let Some(off) = name.strip_prefix("RTMAX") {
        let k: i32 = if off.is_empty() { 0 } else { off.parse()? };
        if (-30..=0).contains(&k) {
            return Ok(64 + k);
        }
    }
    anyhow::bail!("unknown signal {s}")
}

/// Writes `pid` to `path` as runc does: whole, via a temporary name.
fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("husk-tmp");
    std::fs::write(&tmp, pid.to_string())
        .with_context(|| format!("--pid-file {}", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("--pid-file {}", path.display()))
}

/// Undoes a create that failed half way: the monitor, its cgroup and
/// the directory.
struct Undo<'a> {
    c: Option<&'a Container>,
    monitor: Option<std::process::Child>,
    cgroup: Option<crate::cgroup::Cgroup>,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if let Some(m) = &mut self.monitor {
            let _ = m.kill();
            let _ = m.wait();
        }
        if self.c.is_some() {
            if let Some(cg) = &self.cgroup {
                cg.remove();
            }
        }
        if let Some(c) = self.c {
            let _ = std::fs::remove_dir_all(&c.dir);
        }
    }
}

/// `create`: the container's directory, its monitor and sandbox, ready to
/// start. Returns the monitor (a child of this process), and whether the
/// container's console is this terminal.
fn create_container(
    g: &Global,
    a: &CreateArgs,
    foreground: bool,
) -> Result<(std::process::Child, bool)> {
    state::check_id(&a.id)?;
    for fd in 3..3u32.saturating_add(a.preserve_fds) {
        let open = i32::try_from(fd).is_ok_and(|fd| {
            // SAFETY: F_GETFD only asks whether the fd is open.
            unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
        });
        if !open {
            anyhow::bail!("--preserve-fds {}: fd {fd} is not open", a.preserve_fds);
        }
    }
    let bundle = std::fs::canonicalize(&a.bundle)
        .with_context(|| format!("--bundle {}", a.bundle.display()))?;
    // Every check before anything is made.
    let plan = bundle::load(&bundle)?;
    // A terminal container's console: the caller's socket, or (`run` in
    // the foreground) this terminal, relayed as `husk do` relays it.
    let own_tty = plan.process.terminal && a.console_socket.is_none();
    // SAFETY: isatty on our stdio.
    if own_tty && !(foreground && unsafe { libc::isatty(0) == 1 && libc::isatty(1) == 1 }) {
        anyhow::bail!("process.terminal is set: a --console-socket is needed (or run it in the foreground on a terminal)");
    }
    // Where its cgroup is, fixed now: relative paths are relative to
    // this process's cgroup, which later commands need not share.
    let path =
        crate::cgroup::container_path(plan.cgroups_path.as_deref(), g.systemd_cgroup, &a.id)?;
    let cgroup = crate::cgroup::Cgroup::at(&path);
    let c = Container::create(&g.root, &a.id)?;
    let mut undo = Undo {
        c: Some(&c),
        monitor: None,
        cgroup: cgroup.clone(),
    };
    let mut rec = Record {
        id: a.id.clone(),
        pid: 0,
        bundle: bundle.clone(),
        rootfs: plan.rootfs.clone(),
        created: state::now_rfc3339(),
        status: Status::Creating,
        annotations: plan.annotations.clone(),
        cgroup: cgroup.map(|c| c.dirs).unwrap_or_default(),
    };
    c.write(&rec)?;
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        c.fifo(),
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .context("making the start fifo")?;
    let slave = match &a.console_socket {
        Some(sock) if plan.process.terminal => {
            let (master, slave) = console::open_pty(plan.console_size)?;
            console::send_master(sock, &master)?;
            Some(slave)
        }
        _ => None,
    };
    let (ready_r, ready_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let exe = std::env::current_exe().context("finding the husk binary")?;
    let mut m = Command::new(exe);
    m.args(&g.flags)
        .arg("--root")
        .arg(&g.root)
        .arg(format!("--network={}", flag_value(g.network)))
        .arg(format!("--directfs={}", g.directfs));
    if let Some(o) = g.overlay {
        m.arg(format!("--overlay={}", flag_value(o)));
    }
    m.arg("monitor").arg("--id").arg(&a.id).arg(format!(
        "--ready-fd={}",
        crate::launch::inheritable(&ready_w)?
    ));
    if a.preserve_fds > 0 {
        m.arg(format!("--preserve-fds={}", a.preserve_fds));
    }
    if let Some(s) = &slave {
        m.arg(format!("--console-fd={}", crate::launch::inheritable(s)?));
        // The container's stdio is the console; the caller's pipes are
        // not held open (husk's own messages go to --log).
        m.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    if own_tty {
        m.arg("--tty-stdio");
    }
    let monitor = m.spawn().context("starting the container's monitor")?;
    drop(ready_w);
    drop(slave);
    let pid = monitor.id() as i32;
    undo.monitor = Some(monitor);
    let mut said = String::new();
    std::fs::File::from(ready_r)
        .read_to_string(&mut said)
        .context("waiting for the sandbox")?;
    if said.trim() != "ok" {
        anyhow::bail!("{}", said.trim());
    }
    rec.pid = pid;
    // prestart and createRuntime hooks: the sandbox and its network
    // namespace (the monitor's) exist; the process has not started.
    hooks::run("createRuntime", &plan.hooks.create, &state_json(&c, &rec))?;
    // createContainer: in the container's network namespace (the
    // monitor's); its mount namespace is the sandbox's own VFS, which no
    // host program can enter.
    if !plan.hooks.create_container.is_empty() {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
            .context("the container's network namespace")?;
        hooks::run_in(
            "createContainer",
            &plan.hooks.create_container,
            &state_json(&c, &rec),
            Some(&ns),
        )?;
    }
    rec.status = Status::Created;
    c.locked(|| c.write(&rec))??;
    if let Some(p) = &a.pid_file {
        write_pid_file(p, pid)?;
    }
    undo.c = None;
    let monitor = undo.monitor.take().context("the monitor")?;
    Ok((monitor, own_tty))
}

/// A flag's value as the command line spells it.
fn flag_value(v: impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}

pub fn create(g: &Global, a: &CreateArgs) -> Result<i32> {
    // The monitor outlives this command: it goes to whoever reaps
    // orphans here (containerd's shim is a subreaper).
    let (m, _) = create_container(g, a, false)?;
    std::mem::forget(m);
    Ok(0)
}

/// `start`: opens the gate of a created container.
pub fn start(g: &Global, id: &str) -> Result<i32> {
    let c = Container::open(&g.root, id)?;
    let rec = c.read()?;
    match c.status(&rec) {
        Status::Created => {}
        Status::Stopped => anyhow::bail!("cannot start a container that has stopped"),
        s => anyhow::bail!("cannot start an already {s} container"),
    }
    let fifo = rustix::fs::open(
        c.fifo(),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .context("the start fifo (already started?)")?;
    let mut p = [rustix::event::PollFd::new(
        &fifo,
        rustix::event::PollFlags::IN,
    )];
    let ten = rustix::event::Timespec {
        tv_sec: 10,
        tv_nsec: 0,
    };
    // The monitor writes "." when it sees the gate open, then "0" once
    // the process runs, or "1" and why it did not (a startContainer hook
    // failed), and closes its end. The startContainer hooks take as long
    // as they take, as with runc.
    let mut said = Vec::new();
    let mut b = [0u8; 512];
    loop {
        let wait = if said.is_empty() { Some(&ten) } else { None };
        match rustix::event::poll(&mut p, wait) {
            Ok(0) => break,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e).context("waiting on the start fifo"),
        }
        match rustix::io::read(&fifo, &mut b) {
            Ok(0) => break,
            Ok(n) if said.len() < 4096 => said.extend_from_slice(&b[..n]),
            Ok(_) | Err(rustix::io::Errno::AGAIN) => continue,
            Err(_) => break,
        }
    }
    match said.strip_prefix(b".").unwrap_or_default().split_first() {
        Some((b'0', _)) => {}
        Some((b'1', why)) => {
            let _ = std::fs::remove_file(c.fifo());
            anyhow::bail!("{}", String::from_utf8_lossy(why).trim());
        }
        _ => anyhow::bail!("container {id}: its monitor did not answer"),
    }
    let _ = std::fs::remove_file(c.fifo());
    c.locked(|| {
        let mut r = c.read()?;
        r.status = Status::Running;
        c.write(&r)
    })??;
    // poststart: a failure is a warning (runtime-spec).
    let rec = c.read()?;
    if let Ok(plan) = bundle::load(&rec.bundle) {
        if let Err(e) = hooks::run("poststart", &plan.hooks.poststart, &state_json(&c, &rec)) {
            tracing::warn!("{e:#}");
        }
    }
    Ok(0)
}

/// `run`: create, start, and (unless detached) wait for the container.
pub fn run(g: &Global, a: &RunArgs) -> Result<i32> {
    let (mut monitor, own_tty) = create_container(g, &a.create, !a.detach)?;
    // The sandbox's console relays this terminal, raw, while it runs.
    let _raw = if own_tty {
        crate::do_cmd::RawTerminal::enter()
    } else {
        None
    };
    if let Err(e) = start(g, &a.create.id) {
        let _ = monitor.kill();
        let _ = monitor.wait();
        discard(g, &a.create.id);
        return Err(e);
    }
    if a.detach {
        std::mem::forget(monitor);
        return Ok(0);
    }
    let status = monitor.wait().context("waiting for the container")?;
    // runc run removes the container it ran in the foreground.
    discard(g, &a.create.id);
    Ok(crate::launch::shell_status(status))
}

pub fn state(g: &Global, id: &str) -> Result<i32> {
    let c = Container::open(&g.root, id)?;
    let r = c.read()?;
    println!("{}", serde_json::to_string_pretty(&state_json(&c, &r))?);
    Ok(0)
}

/// Sends one request to the monitor's control socket.
fn ask(c: &Container, line: &str) -> Result<()> {
    let (_dir, path) = c.control_short()?;
    let s = UnixStream::connect(path).context("the container's control socket")?;
    control::send(&s, format!("{line}\n").as_bytes(), &[])?;
    let mut reply = String::new();
    BufReader::new(&s).read_line(&mut reply)?;
    match reply.trim() {
        "ok" => Ok(()),
        r => anyhow::bail!("{}", r.strip_prefix("error ").unwrap_or(r)),
    }
}

pub fn kill(g: &Global, a: &KillArgs) -> Result<i32> {
    let sig = parse_signal(&a.signal)?;
    let c = Container::open(&g.root, &a.id)?;
    let r = c.read()?;
    if c.status(&r) == Status::Stopped {
        anyhow::bail!("container not running");
    }
    ask(&c, &format!("kill {sig} {}", u8::from(a.all)))?;
    // A frozen process dies only once thawed.
    if sig == libc::SIGKILL && c.status(&r) == Status::Paused {
        resources::thaw(&c)?;
    }
    Ok(0)
}

/// The process `exec` asks for: the container's own, changed by the
/// arguments (runc's rules), or a process.json whole (no_new_privs and,
/// when it names none, capabilities from the container's).
fn exec_request(c: &Record, a: &ExecArgs) -> Result<bundle::Process> {
    let own = bundle::load(&c.bundle)?.process;
    if let Some(p) = &a.process {
        let what = || format!("--process {}", p.display());
        let text = std::fs::read_to_string(p).with_context(what)?;
        let proc: oci_spec::runtime::Process = serde_json::from_str(&text).with_context(what)?;
        let mut r = bundle::process(&proc).with_context(what)?;
        r.no_new_privs |= own.no_new_privs;
        r.caps = r.caps.or(own.caps);
        return Ok(r);
    }
    if a.command.is_empty() {
        anyhow::bail!("exec: a COMMAND or --process is needed");
    }
    let (mut uid, mut gid) = (own.uid, own.gid);
    if let Some(u) = &a.user {
        let (x, y) = u.split_once(':').unwrap_or((u, ""));
        uid = x
            .parse()
            .with_context(|| format!("--user {u}: numeric ids only"))?;
        if !y.is_empty() {
            gid = y
                .parse()
                .with_context(|| format!("--user {u}: numeric ids only"))?;
        }
    }
    let mut env = own.env.clone();
    for e in &a.env {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        env.retain(|x| x.split_once('=').map_or(x.as_str(), |(k, _)| k) != key);
        env.push(e.clone());
    }
    Ok(bundle::Process {
        args: a.command.clone(),
        env,
        cwd: a.cwd.clone().unwrap_or(own.cwd),
        uid,
        gid,
        groups: if a.additional_gids.is_empty() {
            own.groups
        } else {
            a.additional_gids.clone()
        },
        umask: own.umask,
        terminal: a.tty,
        no_new_privs: a.no_new_privs || own.no_new_privs,
        caps: own.caps,
    })
}

/// `exec`: a new process in a running container. In the foreground this
/// command waits for it and exits with its status; with `--detach` a
/// child of it does (its pid in `--pid-file`).
pub fn exec(g: &Global, a: &ExecArgs) -> Result<i32> {
    let c = Container::open(&g.root, &a.id)?;
    let rec = c.read()?;
    match c.status(&rec) {
        Status::Running => {}
        Status::Paused => anyhow::bail!("cannot exec in a paused container (use resume first)"),
        _ => anyhow::bail!("cannot exec in a container that is not running"),
    }
    let req = exec_request(&rec, a)?;
    if a.detach {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let args: Vec<String> = std::env::args()
            .skip(1)
            .filter(|x| x != "-d" && x != "--detach")
            .collect();
        let pos = args.iter().position(|x| x == "exec").context("exec")?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(&args[..=pos])
            .arg(format!("--started-fd={}", crate::launch::inheritable(&w)?))
            .args(&args[pos + 1..]);
        if req.terminal && a.console_socket.is_some() {
            // The process's stdio is the console: the waiter holds none
            // of the caller's pipes, which a caller reading this
            // command's output to its end (containerd's shim) would
            // otherwise wait on for the life of the process.
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        }
        let child = cmd.spawn().context("starting the exec's waiter")?;
        drop(w);
        let mut said = String::new();
        std::fs::File::from(r).read_to_string(&mut said)?;
        if said.trim() != "ok" {
            anyhow::bail!("{}", said.trim());
        }
        if let Some(p) = &a.pid_file {
            write_pid_file(p, child.id() as i32)?;
        }
        std::mem::forget(child);
        return Ok(0);
    }
    if let Some(p) = &a.pid_file {
        write_pid_file(p, std::process::id() as i32)?;
    }
    let (_dir, path) = c.control_short()?;
    let s = UnixStream::connect(path).context("the container's control socket")?;
    let line = format!("exec {}", serde_json::to_string(&req)?);
    use std::os::fd::AsFd;
    let (i, o, e) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    // A terminal: a new pty whose master goes to the console socket, or
    // this terminal itself (raw while the process runs).
    let mut _raw = None;
    let tty = match (&a.console_socket, req.terminal) {
        (Some(sock), true) => {
            let (master, slave) = console::open_pty(None)?;
            console::send_master(sock, &master)?;
            Some(slave)
        }
        (None, true) => {
            // SAFETY: isatty on our stdio.
            if unsafe { libc::isatty(0) != 1 } {
                anyhow::bail!("--tty: stdin is not a terminal and no --console-socket was given");
            }
            _raw = crate::do_cmd::RawTerminal::enter();
            None
        }
        _ => None,
    };
    match &tty {
        Some(t) => control::send(&s, line.as_bytes(), &[t.as_fd(), t.as_fd(), t.as_fd()])?,
        None => control::send(&s, line.as_bytes(), &[i.as_fd(), o.as_fd(), e.as_fd()])?,
    }
    drop(tty);
    let mut lines = BufReader::new(&s).lines();
    let first = lines.next().transpose()?.unwrap_or_default();
    let started = first.strip_prefix("pid ").is_some();
    if let Some(fd) = a.started_fd {
        // SAFETY: the fd was handed to this process by `exec --detach`.
        let mut f = std::fs::File::from(unsafe {
            <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
        });
        let _ = std::io::Write::write_all(&mut f, if started { b"ok\n" } else { first.as_bytes() });
    }
    if !started {
        anyhow::bail!("{}", first.strip_prefix("error ").unwrap_or(&first));
    }
    // No answer: the container went away, and its processes with it (as
    // killed). Said in the log only: stderr is the process's.
    let last = lines.next().transpose().ok().flatten().unwrap_or_default();
    Ok(last
        .strip_prefix("exit ")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            tracing::warn!("exec in {}: the container went away", a.id);
            128 + libc::SIGKILL
        }))
}

/// Kills the monitor (its sandbox dies with it) and waits until it is
/// gone (it is not our child: its parent reaps it).
fn kill_monitor(pid: i32) {
    if !state::alive(pid) {
        return;
    }
    // SAFETY: kill with plain arguments.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    for _ in 0..500 {
        if !state::alive(pid) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

pub fn delete(g: &Global, a: &DeleteArgs) -> Result<i32> {
    let c = match Container::open(&g.root, &a.id) {
        Ok(c) => c,
        // runc: deleting what is not there is an error unless forced.
        Err(state::StateError::Missing(_)) if a.force => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let r = c.read()?;
    match c.status(&r) {
        Status::Running if !a.force => anyhow::bail!(
            "cannot delete container {} that is not stopped: running",
            a.id
        ),
        Status::Stopped => {}
        _ => kill_monitor(r.pid),
    }
    if let Some(cg) = r.frozen_part() {
        let _ = cg.freeze(false);
    }
    // poststop: a failure is a warning (runtime-spec).
    if let Ok(plan) = bundle::load(&r.bundle) {
        let mut st = state_json(&c, &r);
        st["status"] = "stopped".into();
        if let Err(e) = hooks::run("poststop", &plan.hooks.poststop, &st) {
            tracing::warn!("{e:#}");
        }
    }
    if let Some(cg) = r.cgroup() {
        cg.remove();
    }
    c.remove()?;
    Ok(0)
}

/// Removes a container whose processes are gone: its cgroup and its
/// directory.
fn discard(g: &Global, id: &str) {
    if let Ok(c) = Container::open(&g.root, id) {
        if let Some(cg) = c.read().ok().and_then(|r| r.cgroup()) {
            cg.remove();
        }
        let _ = c.remove();
    }
}

pub fn list(g: &Global, a: &ListArgs) -> Result<i32> {
    let mut all = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&g.root) {
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if let Ok(c) = Container::open(&g.root, &id) {
                if let Ok(r) = c.read() {
                    all.push(state_json(&c, &r));
                }
            }
        }
    }
    all.sort_by(|x, y| x["id"].as_str().cmp(&y["id"].as_str()));
    if a.quiet {
        for s in &all {
            println!("{}", s["id"].as_str().unwrap_or_default());
        }
    } else if a.format == ListFormat::Json {
        println!("{}", serde_json::Value::Array(all));
    } else {
        println!("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER");
        for s in &all {
            println!(
                "{}\t{}\t{}\t{}\t{}\troot",
                s["id"].as_str().unwrap_or_default(),
                s["pid"],
                s["status"].as_str().unwrap_or_default(),
                s["bundle"].as_str().unwrap_or_default(),
                s["created"].as_str().unwrap_or_default(),
            );
        }
    }
    Ok(0)
}

pub fn spec(a: &SpecArgs) -> Result<i32> {
    let _ = a.rootless;
    let path = a.bundle.join("config.json");
    if path.exists() {
        anyhow::bail!("File {} exists. Remove it first", path.display());
    }
    let text = serde_json::to_string_pretty(&bundle::default_spec())?;
    std::fs::write(&path, text + "\n").with_context(|| path.display().to_string())?;
    Ok(0)
}

/// `features`: what this runtime supports (runtime-spec features.md).
pub fn features() -> Result<i32> {
    let v = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
        "mountOptions": ["bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "uts"],
            "capabilities": [],
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": profile::ACTIONS,
                "operators": profile::OPERATORS,
                "archs": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
        },
        "annotations": {
            "io.github.husk.version": env!("CARGO_PKG_VERSION"),
        },
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("TERM").unwrap(), 15);
        assert_eq!(parse_signal("SIGKILL").unwrap(), 9);
        assert_eq!(parse_signal("sigusr1").unwrap(), 10);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("RTMIN+2").unwrap(), 36);
        assert_eq!(parse_signal("RTMAX").unwrap(), 64);
        for bad in ["0", "65", "FOO", "SIG", "-1"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
