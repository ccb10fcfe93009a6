//! `husk`: the runtime CLI. `husk do` runs a program from the host's root
//! filesystem inside the sandbox; `boot` and `gofer` are the sandbox and
//! gofer processes it starts.

mod boot;
mod caps;
mod cgroup;
mod do_cmd;
mod gofer_cmd;
mod launch;
mod logging;
mod netns;
mod oci;
mod sandbox;
mod seccomp;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "husk",
    version,
    about = "A userspace kernel sandbox for containers"
)]
pub struct Cli {
    /// Log at debug level.
    #[arg(long, global = true)]
    debug: bool,
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Log format.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Print every system call of the application, strace-style, on stderr.
    #[arg(long, global = true)]
    strace: bool,
    /// How application system calls are trapped.
    #[arg(long, global = true, value_enum, default_value_t = PlatformKind::Ptrace)]
    platform: PlatformKind,
    /// Where containers' state is kept (the OCI commands).
    #[arg(long, global = true, default_value = "/run/husk", value_name = "DIR")]
    root: PathBuf,
    /// A container's cgroupsPath is systemd's slice:prefix:name; the
    /// directory systemd would make is used, without asking systemd.
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Let the sentry open and stat files of the root itself, beneath
    /// a directory fd the gofer donates, instead of asking the gofer
    /// each time (see README: "The direct path").
    #[arg(long, global = true, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    directfs: bool,
    /// The root's overlay: `memory` keeps every change in memory and
    /// the root unchanged; `none` writes through the gofer. Default:
    /// `memory` for `husk do`, `none` for a container (unless its root
    /// is read-only).
    #[arg(long, global = true, value_enum)]
    overlay: Option<Overlay>,
    /// `none`: loopback only. `sandbox`: for `husk do`, an interface
    /// eth0 on a private /30 of 10.213.0.0/16 whose other end, huskN, is
    /// on the host; for a container, the interface its engine put in its
    /// network namespace, taken over at start; the sandbox's own TCP/IP
    /// stack serves it. `host`: the host's network; TCP and UDP sockets
    /// are host sockets (see README: "Networking"). Default: `none` for
    /// `husk do`, `sandbox` for a container.
    #[arg(long, global = true, value_enum)]
    network: Option<Network>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Overlay {
    Memory,
    None,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Network {
    /// Loopback only.
    None,
    /// A veth pair to the host, the sandbox's own TCP/IP stack on it.
    Sandbox,
    /// The host's network namespace: TCP and UDP sockets are host sockets
    /// the sentry opens and checks.
    Host,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum PlatformKind {
    Ptrace,
    Systrap,
    Kvm,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a command in a sandbox whose root is the host's root filesystem
    /// (served read-only by the gofer).
    Do {
        /// Working directory inside the sandbox (default: the current one).
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// Hostname of the sandbox (default: the host's, which the host's
        /// /etc/hosts knows, so `hostname -f` and getaddrinfo of it work).
        #[arg(long)]
        hostname: Option<String>,
        /// The sandbox's memory size (bytes, or with a K, M or G suffix):
        /// what it reports as total memory, the budget of its in-memory
        /// filesystems, and (with room for husk's own processes) the limit
        /// of the host cgroup it runs in. Default: half of the host's.
        #[arg(long, value_parser = parse_size, value_name = "SIZE")]
        memory: Option<u64>,
        /// The program and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Print the system call compatibility table.
    Syscalls {
        /// As a Markdown table (the README's compatibility table).
        #[arg(long)]
        markdown: bool,
    },
    /// Create a container from a bundle, ready to start (OCI).
    Create(oci::CreateArgs),
    /// Start a created container's process.
    Start { id: String },
    /// Create and start a container; wait for it unless --detach.
    Run(oci::RunArgs),
    /// Print a container's state as JSON.
    State { id: String },
    /// Run a new process in a running container.
    Exec(oci::ExecArgs),
    /// Send a signal to a container's process (or all with --all).
    Kill(oci::KillArgs),
    /// Remove a container (--force: even a running one).
    Delete(oci::DeleteArgs),
    /// List the containers.
    List(oci::ListArgs),
    /// Write a default config.json.
    Spec(oci::SpecArgs),
    /// Print the runtime's features as JSON.
    Features,
    /// Freeze every process of a running container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Change a container's resource limits.
    Update(oci::resources::UpdateArgs),
    /// List a container's host processes.
    Ps(oci::resources::PsArgs),
    /// A container's statistics (--stats: once) and OOM events.
    Events(oci::resources::EventsArgs),
    /// Internal: a container's monitor.
    #[command(hide = true)]
    Monitor(oci::monitor::MonitorArgs),
    /// Internal: the sandbox process (the sentry).
    #[command(hide = true)]
    Boot(boot::BootArgs),
    /// Internal: the gofer process.
    #[command(hide = true)]
    Gofer(gofer_cmd::GoferArgs),
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = logging::init(cli.debug, cli.log.as_deref(), cli.log_format) {
        eprintln!("husk: {e:#}");
        std::process::exit(125);
    }
    // runc's commands fail with 1; `husk do` and the internal ones with
    // 125, beside a program's own statuses.
    let fail = match cli.cmd {
        Cmd::Do { .. } | Cmd::Boot(_) | Cmd::Gofer(_) | Cmd::Monitor(_) => 125,
        _ => 1,
    };
    // Commands that print end quietly when their reader goes (`husk ps
    // c | head`), as other command-line tools do.
    if matches!(
        cli.cmd,
        Cmd::State { .. }
            | Cmd::List(_)
            | Cmd::Ps(_)
            | Cmd::Events(_)
            | Cmd::Features
            | Cmd::Syscalls { .. }
    ) {
        // SAFETY: restoring the default disposition of one signal, before
        // any thread exists.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let json_log = cli.log.is_some() && cli.log_format == LogFormat::Json;
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("husk: {e:#}");
            if fail == 1 && json_log {
                logging::runc_error(&format!("{e:#}"), &oci::state::now_rfc3339());
            }
            std::process::exit(fail);
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    if cli.platform != PlatformKind::Ptrace {
        let name = format!("{:?}", cli.platform).to_lowercase();
        anyhow::bail!("--platform: {name} is not available yet; use ptrace");
    }
    let flags = cli_flags(&cli.log, cli.debug, cli.strace, cli.log_format);
    let g = oci::Global {
        root: cli.root.clone(),
        flags: flags.clone(),
        overlay: cli.overlay,
        // A container takes over the interface its engine gives it.
        network: cli.network.unwrap_or(Network::Sandbox),
        directfs: cli.directfs,
        systemd_cgroup: cli.systemd_cgroup,
    };
    match cli.cmd {
        Cmd::Do {
            cwd,
            hostname,
            memory,
            command,
        } => do_cmd::run(
            &flags,
            do_cmd::Options {
                cwd,
                hostname: hostname.unwrap_or_else(|| {
                    rustix::system::uname()
                        .nodename()
                        .to_string_lossy()
                        .into_owned()
                }),
                directfs: cli.directfs,
                writable_root: cli.overlay == Some(Overlay::None),
                memory: memory.unwrap_or_else(|| sentry::fs::vfs::total_memory() / 2),
                network: cli.network.unwrap_or(Network::None),
            },
            command,
        ),
        Cmd::Create(a) => oci::create(&g, &a),
        Cmd::Start { id } => oci::start(&g, &id),
        Cmd::Run(a) => oci::run(&g, &a),
        Cmd::State { id } => oci::state(&g, &id),
        Cmd::Exec(a) => oci::exec(&g, &a),
        Cmd::Kill(a) => oci::kill(&g, &a),
        Cmd::Delete(a) => oci::delete(&g, &a),
        Cmd::List(a) => oci::list(&g, &a),
        Cmd::Spec(a) => oci::spec(&a),
        Cmd::Features => oci::features(),
        Cmd::Pause { id } => oci::resources::pause(&g, &id),
        Cmd::Resume { id } => oci::resources::resume(&g, &id),
        Cmd::Update(a) => oci::resources::update(&g, &a),
        Cmd::Ps(a) => oci::resources::ps(&g, &a),
        Cmd::Events(a) => oci::resources::events(&g, &a),
        Cmd::Monitor(a) => oci::monitor::run(&g, a),
        Cmd::Syscalls { markdown } => {
            if markdown {
                print!("{}", syscalls::markdown());
            } else {
                for e in syscalls::Table::new()
                    .entries
                    .iter()
                    .filter(|e| !e.name.is_empty())
                {
                    println!("{:>4} {:<24} {:?}", e.nr, e.name, e.support);
                }
            }
            Ok(0)
        }
        Cmd::Boot(args) => boot::run(args, cli.strace, platform::Kind::Ptrace),
        Cmd::Gofer(args) => gofer_cmd::run(args),
    }
}

/// A size in bytes: a number with an optional K, M or G (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size '{s}' (a number of bytes, or with K, M or G)"))?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("size '{s}' is too large"))?;
    if bytes < (16 << 20) {
        return Err(format!("size '{s}' is below the minimum of 16M"));
    }
    Ok(bytes)
}

/// Global flags repeated for the child processes.
fn cli_flags(log: &Option<PathBuf>, debug: bool, strace: bool, fmt: LogFormat) -> Vec<String> {
    let mut v = Vec::new();
    if debug {
        v.push("--debug".into());
    }
    if strace {
        v.push("--strace".into());
    }
    if let Some(l) = log {
        v.push("--log".into());
        v.push(l.display().to_string());
    }
    if fmt == LogFormat::Json {
        v.push("--log-format=json".into());
    }
    v
}

/// Closes every fd above 2 except `keep`: children of `husk do` inherit
/// both ends of every socket pair.
/// Closes every fd above 2 but `keep` and the log file.
pub fn close_other_fds(keep: &[i32]) {
    let log = logging::LOG_FD.load(std::sync::atomic::Ordering::Relaxed);
    let mut keep: Vec<u32> = keep
        .iter()
        .copied()
        .chain((log >= 0).then_some(log))
        .map(|f| f as u32)
        .filter(|&f| f > 2)
        .collect();
    keep.sort_unstable();
    let mut lo = 3u32;
    for k in keep {
        if k > lo {
            // SAFETY: closing fds this process does not use.
            unsafe { libc::syscall(libc::SYS_close_range, lo, k - 1, 0) };
        }
        lo = k + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, lo, u32::MAX, 0) };
}
