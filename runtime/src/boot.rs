//! `husk boot`: the sandbox process. Builds the kernel over the ptrace
//! platform and runs the application as pid 1.

use crate::seccomp;
use anyhow::{Context, Result};
use sentry::memfile::MemFile;
use sentry::{Kernel, KernelConfig};
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct BootArgs {
    /// The gofer sockets (inherited fds), one per CPU.
    #[arg(long, value_delimiter = ',', required = true)]
    gofer_fd: Vec<i32>,
    #[arg(long)]
    cwd: String,
    #[arg(long, default_value = "husk")]
    hostname: String,
    /// Take the gofer's direct path when it offers one.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    directfs: bool,
    /// stdin and stdout are a terminal (in raw mode): give the sandbox a
    /// console pty relayed to it.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    console: bool,
    /// The gofer serves the root writable: no overlay above it.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    writable_root: bool,
    /// The root is read-only, with no overlay (a container's
    /// `root.readonly`).
    #[arg(long)]
    read_only_root: bool,
    /// A packet socket on the sandbox's interface (`--network sandbox`).
    #[arg(long)]
    net_fd: Option<i32>,
    /// That interface's configuration (`netstack::Config::parse`).
    #[arg(long, requires = "net_fd")]
    net_config: Option<String>,
    /// Stay in the host's network namespace; TCP and UDP sockets are host
    /// sockets (`--network host`).
    #[arg(long, conflicts_with = "net_fd")]
    host_network: bool,
    /// Stay in the network namespace the sandbox was started in (a
    /// container's, made by its monitor) instead of making an empty one.
    #[arg(long, conflicts_with = "host_network")]
    keep_netns: bool,
    /// A container's start gate: the first process starts once a byte
    /// can be read here (EOF: never).
    #[arg(long)]
    start_fd: Option<i32>,
    /// A host fd the first process gets, as fd 3 and up in the order
    /// given (a container's `--preserve-fds`).
    #[arg(long = "passed-fd")]
    passed_fds: Vec<i32>,
    /// A container's control socket to its monitor (`oci::monitor`):
    /// the sandbox says it is ready on it and takes signals from it.
    #[arg(long)]
    control_fd: Option<i32>,
    /// The first process's user and group ids and supplementary groups.
    #[arg(long, default_value_t = 0)]
    uid: u32,
    #[arg(long, default_value_t = 0)]
    gid: u32,
    #[arg(long, value_delimiter = ',')]
    groups: Vec<u32>,
    /// The first process's umask (octal).
    #[arg(long, value_parser = parse_octal)]
    umask: Option<u32>,
    /// A container's seccomp profile (OCI linux.seccomp JSON), enforced
    /// by the sentry on every application call.
    #[arg(long)]
    app_seccomp: Option<String>,
    /// A container's net.ipv4.ip_unprivileged_port_start (default 0).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=65535))]
    port_start: u32,
    /// A container's pids limit: at most this many tasks.
    #[arg(long)]
    pids_limit: Option<usize>,
    /// A tmpfs to mount: FLAGS:DATA:DEST (mount(2)'s flags and options).
    #[arg(long = "tmpfs")]
    tmpfs: Vec<String>,
    /// The first process's capability sets: effective, permitted,
    /// inheritable, bounding, ambient (hex). Default: for root, the sets
    /// husk itself runs with; for anyone else, none.
    #[arg(long)]
    caps: Option<String>,
    /// A container's uid and gid mappings ("C:H:N,..."): the ids of the
    /// gofer's files as the container sees them.
    #[arg(long, requires = "gid_map")]
    uid_map: Option<String>,
    #[arg(long, requires = "uid_map")]
    gid_map: Option<String>,
    /// The first process starts with no_new_privs set.
    #[arg(long)]
    no_new_privs: bool,
    /// The UTS namespace's domain name (a container's domainname).
    #[arg(long)]
    domainname: Option<String>,
    /// A path to mask (a container's maskedPaths).
    #[arg(long = "masked-path")]
    masked_paths: Vec<String>,
    /// A path to make read-only (a container's readonlyPaths).
    #[arg(long = "read-only-path")]
    read_only_paths: Vec<String>,
    /// The CPUs the sandbox reports (a container's cpuset); default: the
    /// host's.
    #[arg(long)]
    cpus: Option<usize>,
    /// The first process's limits: RESOURCE=SOFT:HARD (numbers).
    #[arg(long = "rlimit", value_parser = parse_rlimit)]
    rlimits: Vec<(u32, u64, u64)>,
    /// The container's CPU quota and period in µs (QUOTA:PERIOD), which
    /// the host enforces: the sandbox's cgroup shows it as cpu.max.
    #[arg(long, value_parser = parse_cpu_max)]
    cpu_max: Option<(u64, u64)>,
    /// The container's cgroup v2 cpu.weight (1-10000), shown likewise.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10000))]
    cpu_weight: Option<u64>,
    /// The sandbox's memory size (0: the host's).
    #[arg(long, default_value_t = 0)]
    memory_bytes: u64,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<std::ffi::OsString>,
}

fn parse_octal(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8).map_err(|e| format!("{s}: {e}"))
}

/// QUOTA:PERIOD in µs, both positive.
fn parse_cpu_max(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("{s}: expected QUOTA:PERIOD (µs, positive)");
    let (q, p) = s.split_once(':').ok_or_else(bad)?;
    let (q, p) = (
        q.parse::<u64>().map_err(|_| bad())?,
        p.parse::<u64>().map_err(|_| bad())?,
    );
    if q == 0 || p == 0 {
        return Err(bad());
    }
    Ok((q, p))
}

/// RESOURCE=SOFT:HARD, the resource as its number.
fn parse_rlimit(s: &str) -> Result<(u32, u64, u64), String> {
    let bad = || format!("{s}: expected RESOURCE=SOFT:HARD");
    let (r, v) = s.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = v.split_once(':').ok_or_else(bad)?;
    Ok((
        r.parse().map_err(|_| bad())?,
        soft.parse().map_err(|_| bad())?,
        hard.parse().map_err(|_| bad())?,
    ))
}

/// A container's control socket (`oci::control`), after "ready": the
/// monitor's signal and exec requests, and the exits of the processes it
/// started, for the life of the sandbox.
fn serve_control(kernel: Arc<Kernel>, fd: OwnedFd, exits: std::sync::mpsc::Receiver<(i32, i32)>) {
    use crate::oci::control::{self, FromSandbox, ToSandbox};
    let fd = Arc::new(fd);
    let out = fd.clone();
    let _ = std::thread::Builder::new()
        .name("exits".into())
        .spawn(move || {
            for (pid, status) in exits {
                let _ = control::send(&out, &FromSandbox::Exited(pid, status).encode(), &[]);
            }
        });
    let _ = std::thread::Builder::new()
        .name("control".into())
        .spawn(move || loop {
            let Ok((msg, fds)) = control::recv(&*fd) else {
                return;
            };
            if msg.is_empty() {
                return;
            }
            match ToSandbox::decode(&msg) {
                Some(ToSandbox::Signal { sig, all }) => {
                    kernel.signal_from_host(i32::from(sig), all)
                }
                Some(ToSandbox::Update { memory, pids }) => {
                    if let Some(m) = memory {
                        sentry::fs::vfs::set_memory_limit(m);
                    }
                    if let Some(p) = pids {
                        kernel.set_max_tasks(usize::try_from(p).ok().filter(|&p| p > 0));
                    }
                }
                Some(ToSandbox::Exec(json)) => {
                    let reply = match exec_request(&kernel, &json, fds) {
                        Ok(pid) => FromSandbox::Started(pid),
                        Err(e) => FromSandbox::Failed(e.0),
                    };
                    let _ = control::send(&fd, &reply.encode(), &[]);
                }
                None => tracing::warn!("control: malformed request"),
            }
        });
}

/// A startContainer hook as the monitor sends it.
#[derive(serde::Deserialize)]
struct Hook {
    path: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: Vec<String>,
}

/// Starts a startContainer hook inside the sandbox, as the container's
/// process (its ids and capabilities) in `/`, its stdin the container's
/// state and its stdout and stderr the monitor's pipe: its pid.
fn start_hook(kernel: &Arc<Kernel>, json: &[u8], fds: Vec<OwnedFd>) -> Result<i32, sentry::Errno> {
    let h: Hook = serde_json::from_slice(json).map_err(|_| sentry::Errno::EINVAL)?;
    let [stdin, out] = <[OwnedFd; 2]>::try_from(fds).map_err(|_| sentry::Errno::EINVAL)?;
    let err = out.try_clone().map_err(|e| sentry::Errno::from_io(&e))?;
    let argv = if h.args.is_empty() {
        vec![h.path.clone().into_bytes()]
    } else {
        h.args.into_iter().map(String::into_bytes).collect()
    };
    let envp = h.env.into_iter().map(String::into_bytes).collect();
    kernel.start_clocks();
    kernel
        .exec_outside(
            &kernel.init,
            Some(h.path.into_bytes()),
            argv,
            envp,
            b"/".to_vec(),
            [stdin, out, err],
        )
        .map_err(|(sentry::BootError::Cwd(e) | sentry::BootError::Exec(e))| e)
}

/// Starts the process an exec request asks for, with its three fds.
fn exec_request(
    kernel: &Arc<Kernel>,
    json: &[u8],
    fds: Vec<OwnedFd>,
) -> Result<i32, sentry::Errno> {
    let r: crate::oci::bundle::Process =
        serde_json::from_slice(json).map_err(|_| sentry::Errno::EINVAL)?;
    let stdio = <[OwnedFd; 3]>::try_from(fds).map_err(|_| sentry::Errno::EINVAL)?;
    let mut creds = sentry::kernel::creds::Creds::of(r.uid, r.gid, r.groups);
    if let Some(c) = r
        .caps
        .as_deref()
        .and_then(sentry::kernel::creds::Caps::parse)
    {
        creds.caps = c;
    } else if r.uid == 0 {
        // runc's exec without capabilities: the container's first process's.
        creds.caps = kernel.init.creds.caps;
    }
    let who = sentry::kernel::InitProcess {
        creds,
        umask: r.umask.unwrap_or(0o022),
        // The container's limits, as runc gives them.
        rlimits: kernel.init.rlimits.clone(),
        no_new_privs: r.no_new_privs,
    };
    let argv = r.args.into_iter().map(String::into_bytes).collect();
    let envp = r.env.into_iter().map(String::into_bytes).collect();
    let cwd = r.cwd.into_bytes();
    let started = if r.terminal {
        let [tty, _, _] = stdio;
        kernel.exec_outside_tty(&who, argv, envp, cwd, tty)
    } else {
        kernel.exec_outside(&who, None, argv, envp, cwd, stdio)
    };
    started.map_err(|(sentry::BootError::Cwd(e) | sentry::BootError::Exec(e))| e)
}

/// The capability sets this process runs with (root's, as the host gave
/// them), read before it gives them up: what root in `husk do` starts
/// with, so a program has inside what it had outside.
fn own_caps() -> sentry::kernel::creds::Caps {
    use sentry::kernel::creds::{Caps, ALL};
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .map(|v| v & ALL)
    };
    match (
        field("CapEff:"),
        field("CapPrm:"),
        field("CapInh:"),
        field("CapBnd:"),
        field("CapAmb:"),
    ) {
        (Some(effective), Some(permitted), Some(inheritable), Some(bounding), Some(ambient)) => {
            Caps {
                effective,
                permitted,
                inheritable,
                bounding,
                ambient,
            }
        }
        _ => Caps::FULL,
    }
}

fn dup_stdio(fd: i32) -> Result<OwnedFd> {
    // SAFETY: 0..2 are open for the life of this process.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    b.try_clone_to_owned()
        .with_context(|| format!("stdio fd {fd}"))
}

pub fn run(a: BootArgs, strace: bool, kind: platform::Kind) -> Result<i32> {
    let keep: Vec<i32> = a
        .gofer_fd
        .iter()
        .copied()
        .chain(a.net_fd)
        .chain(a.start_fd)
        .chain(a.control_fd)
        .chain(a.passed_fds.iter().copied())
        .collect();
    crate::close_other_fds(&keep);
    // Host files the sentry makes (directfs) get the modes the sandbox's
    // own umask gave them, not the caller's umask on top.
    rustix::process::umask(rustix::fs::Mode::empty());
    let net_config = match (&a.net_fd, &a.net_config) {
        (Some(_), Some(c)) => {
            Some(netstack::Config::parse(c).map_err(|e| anyhow::anyhow!("--net-config: {e}"))?)
        }
        (Some(_), None) => anyhow::bail!("--net-fd needs --net-config"),
        _ => None,
    };
    let gofer: Vec<gofer::Client> = a
        .gofer_fd
        .iter()
        // SAFETY: the fds were handed over by `husk do` for this use.
        .map(|&fd| gofer::Client::new(unsafe { OwnedFd::from_raw_fd(fd) }))
        .collect();
    // SAFETY: PR_SET_PDEATHSIG on ourselves.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let t0 = std::time::Instant::now();
    let caps = match &a.caps {
        Some(c) => sentry::kernel::creds::Caps::parse(c).context("--caps")?,
        None if a.uid == 0 => own_caps(),
        None => sentry::kernel::creds::Caps::NONE,
    };
    if let Some(n) = a.cpus {
        sentry::fs::proc::set_ncpu(n);
    }
    if let (Some(u), Some(g)) = (&a.uid_map, &a.gid_map) {
        let parse =
            |s: &str| sentry::fs::idmap::Ranges::parse(s).with_context(|| format!("id map {s}"));
        sentry::fs::idmap::set(parse(u)?, parse(g)?);
    }
    sentry::fs::proc::snapshot_host();
    let host_net = a
        .host_network
        .then(|| Arc::new(sentry::hostnet::HostNet::snapshot()));
    sentry::fs::vfs::set_memory_limit(a.memory_bytes);
    let memfile = Arc::new(MemFile::new().context("creating the memory file")?);
    let mut platform = platform::create(kind, memfile.fd()).context("platform")?;
    let stub_filter = crate::seccomp::stub_filter(&kind.stub_calls());
    platform.set_stub_filter(stub_filter.context("the stubs' seccomp filter")?);
    let platform: Arc<dyn platform::Platform> = Arc::from(platform);
    // From here on the sentry is nobody on the host and sees no host paths.
    crate::sandbox::enter_user_namespace().context("the sandbox's user namespace")?;
    crate::sandbox::enter_empty_root(a.host_network || a.keep_netns)
        .context("confining the sandbox")?;
    crate::sandbox::become_nobody().context("leaving root")?;
    // The id change cleared the parent-death signal: the sandbox still
    // dies with whoever started it (`husk do`, a container's monitor).
    // SAFETY: PR_SET_PDEATHSIG on ourselves.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // Its thread starts only now: the namespaces above need a single
    // thread.
    let net = match (a.net_fd, net_config) {
        // SAFETY: the fd was handed over by `husk do` for this use.
        (Some(fd), Some(c)) => Some(
            netstack::Stack::start(unsafe { OwnedFd::from_raw_fd(fd) }, c)
                .context("starting the network stack")?,
        ),
        _ => None,
    };
    // The first gofer round trip comes after the sandbox's own set-up,
    // which so overlaps the gofer's.
    let mut pool = sentry::fs::gofer_fs::GoferPool::new(gofer);
    pool.writable = a.writable_root;
    pool.read_only_root = a.read_only_root;
    if a.directfs {
        pool.enable_direct();
    }
    let stdio = [dup_stdio(0)?, dup_stdio(1)?, dup_stdio(2)?];
    let app_seccomp = match &a.app_seccomp {
        Some(j) => {
            let sc: oci_spec::runtime::LinuxSeccomp =
                serde_json::from_str(j).context("--app-seccomp")?;
            Some(
                crate::oci::profile::compile(&sc)
                    .map_err(|e| anyhow::anyhow!("--app-seccomp: {e}"))?,
            )
        }
        None => None,
    };
    let cfg = KernelConfig {
        strace,
        hostname: a.hostname.clone(),
        gofer: Arc::new(pool),
        stdio: [dup_stdio(0)?, dup_stdio(1)?, dup_stdio(2)?],
        console: a.console,
        net,
        host_network: host_net,
        init: sentry::kernel::InitProcess {
            creds: sentry::kernel::creds::Creds {
                caps,
                ..sentry::kernel::creds::Creds::of(a.uid, a.gid, a.groups.clone())
            },
            umask: a.umask.unwrap_or(0o022),
            rlimits: a.rlimits.clone(),
            no_new_privs: a.no_new_privs,
        },
        app_seccomp,
        max_tasks: a.pids_limit,
    };
    let kernel = Kernel::new(platform, memfile, &cfg)
        .map_err(|e| anyhow::anyhow!("starting the kernel: {e:?}"))?;
    let _ = kernel.table.set(Arc::new(syscalls::Table::new()));
    kernel.vfs.cgroup.set_host_cpu(a.cpu_max, a.cpu_weight);
    kernel
        .sockets
        .port_start
        .store(a.port_start, std::sync::atomic::Ordering::Relaxed);
    for t in &a.tmpfs {
        let mut p = t.splitn(3, ':');
        let (Some(flags), Some(data), Some(dest)) = (p.next(), p.next(), p.next()) else {
            anyhow::bail!("--tmpfs {t}: not FLAGS:DATA:DEST");
        };
        let flags: u64 = flags.parse().with_context(|| format!("--tmpfs {t}"))?;
        syscalls::mount_tmpfs(&kernel, dest.as_bytes(), flags, data.as_bytes())
            .map_err(|e| anyhow::anyhow!("--tmpfs {t}: {e:?}"))?;
    }
    if let Some(d) = &a.domainname {
        kernel.init_uts.set_domainname(d.as_bytes());
    }
    // After the mounts, as runc orders them; a path not there is skipped.
    for p in &a.masked_paths {
        if !syscalls::mask_path(&kernel, p.as_bytes()) {
            tracing::debug!("maskedPaths: {p} is not in the sandbox");
        }
    }
    for p in &a.read_only_paths {
        if !syscalls::read_only_path(&kernel, p.as_bytes()) {
            tracing::debug!("readonlyPaths: {p} is not in the sandbox");
        }
    }
    tracing::debug!(elapsed_us = t0.elapsed().as_micros() as u64, "kernel ready");
    // A refused call ends the sandbox; the line saying so goes to the log
    // file, or to stderr (a failure of husk, like its other errors).
    // Limits read now, while the call is still allowed.
    let _ = sentry::kernel::task::default_rlimits();
    let mut allowed = seccomp::sandbox_policy(&kind.host_calls());
    if a.host_network {
        allowed.extend(seccomp::host_network_policy());
    }
    let policy = seccomp::compile(&allowed).context("sandbox seccomp policy")?;
    seccomp::install(
        &policy,
        seccomp::Who::Sandbox,
        crate::logging::report_fd(),
        true,
    )
    .context("installing the seccomp filter")?;
    // A container: ready (its kernel built and confined, its gofer
    // answering), then the first process waits for `husk start`.
    // SAFETY: the fds were handed over by the monitor for this use.
    let control = a.control_fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    if let Some(c) = &control {
        cfg.gofer
            .pick()
            .lstat(b"/")
            .map_err(|e| anyhow::anyhow!("the gofer did not answer: {e}"))?;
        crate::oci::control::send(c, &crate::oci::control::FromSandbox::Ready.encode(), &[])
            .context("telling the monitor the sandbox is ready")?;
    }
    // The exits of processes started from outside: exec's, and the
    // startContainer hooks'.
    let exits = control.as_ref().map(|_| kernel.outside_exits());
    if let Some(fd) = a.start_fd {
        // SAFETY: as above.
        let gate = unsafe { OwnedFd::from_raw_fd(fd) };
        // "s", or "s" and a netstack configuration with the packet
        // socket of the container's interface, taken over at start.
        let (msg, fds) = match crate::oci::control::recv(&gate) {
            Ok(m) if m.0.first() == Some(&b's') => m,
            // The container was deleted before it started.
            _ => return Ok(0),
        };
        let mut fds = fds.into_iter();
        if let (Some(conf), Some(fd)) = (msg.get(1..).filter(|c| !c.is_empty()), fds.next()) {
            let conf = netstack::Config::parse(&String::from_utf8_lossy(conf))
                .map_err(|e| anyhow::anyhow!("the container's interface: {e}"))?;
            let stack = netstack::Stack::start(fd, conf).context("starting the network stack")?;
            let _ = kernel.sockets.net.set(stack);
            // The engine's resolver at 127.0.0.11, reached through a
            // socket in the container's namespace.
            if let Some(dns) = fds.next() {
                sentry::local::dns::start(&kernel.sockets, dns);
            }
        }
        // The startContainer hooks, one by one, then "g". Each is
        // answered as an exec's exit is (or its failure to start).
        loop {
            use crate::oci::control::FromSandbox;
            match crate::oci::control::recv(&gate) {
                Ok((m, fds)) if m.first() == Some(&b'h') => {
                    let reply = match (start_hook(&kernel, &m[1..], fds), &exits) {
                        (Ok(pid), Some(exits)) => {
                            let status = exits
                                .iter()
                                .find(|&(p, _)| p == pid)
                                .map_or(137, |(_, s)| s);
                            FromSandbox::Exited(pid, status)
                        }
                        (Ok(_), None) => FromSandbox::Failed(libc::EINVAL),
                        (Err(e), _) => FromSandbox::Failed(e.0),
                    };
                    crate::oci::control::send(&gate, &reply.encode(), &[])
                        .context("answering the monitor")?;
                }
                Ok((m, _)) if m == b"g" => break,
                // The container was deleted before it started.
                _ => return Ok(0),
            }
        }
    }
    if let (Some(c), Some(exits)) = (control, exits) {
        serve_control(kernel.clone(), c, exits);
    }
    let argv: Vec<Vec<u8>> = a.command.into_iter().map(|s| s.into_vec()).collect();
    let envp: Vec<Vec<u8>> = std::env::vars_os()
        .map(|(k, v)| {
            let mut e = k.into_vec();
            e.push(b'=');
            e.extend(v.into_vec());
            e
        })
        .collect();
    let cwd = a.cwd.clone();
    // SAFETY: handed over by the monitor for this use (kept open above).
    let passed = a
        .passed_fds
        .iter()
        .map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    match kernel.run(argv.clone(), envp, a.cwd.into_bytes(), stdio, passed) {
        Ok(code) => Ok(code),
        Err(sentry::BootError::Cwd(e)) => {
            eprintln!(
                "husk: --cwd {}: {}",
                cwd,
                std::io::Error::from_raw_os_error(e.0)
            );
            Ok(125)
        }
        Err(sentry::BootError::Exec(e)) => {
            let name = String::from_utf8_lossy(&argv[0]);
            eprintln!("husk: {name}: {}", std::io::Error::from_raw_os_error(e.0));
            Ok(if e.0 == libc::ENOENT { 127 } else { 126 })
        }
    }
}
