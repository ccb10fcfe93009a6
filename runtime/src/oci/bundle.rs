//! A bundle's `config.json`, read with `oci-spec` and checked field by
//! field: what husk honours becomes a [`Plan`]; a field it cannot honour
//! is an error that names it (never ignored). Fields that the sandbox
//! meets by being one (its own pid, ipc, uts, mount, network and cgroup
//! namespaces, its own /proc, /sys and /dev) are accepted as such.

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    #[error("{path}: {err}")]
    Parse {
        path: PathBuf,
        err: oci_spec::OciSpecError,
    },
    /// A field husk refuses, and why.
    #[error("config.json: {field}: {why}")]
    Field { field: String, why: String },
}

fn refuse(field: impl Into<String>, why: impl Into<String>) -> BundleError {
    BundleError::Field {
        field: field.into(),
        why: why.into(),
    }
}

/// linux.resources as husk applies them: the host cgroup's limits, and
/// the sentry's (its memory size, its task limit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// For the host cgroup; `memory` is the container's own limit (the
    /// cgroup gets `cgroup::hard_limit` of it).
    pub cgroup: crate::cgroup::Resources,
    /// pids.limit: `Some(0)` for none.
    pub pids: Option<u64>,
}

impl Limits {
    /// The memory limit, when one is set.
    pub fn memory(&self) -> Option<u64> {
        self.cgroup
            .memory
            .and_then(|m| u64::try_from(m).ok())
            .filter(|&m| m > 0)
    }

    /// The CPUs the container may use, when its cpuset says.
    pub fn cpus(&self) -> Option<usize> {
        cpu_count(self.cgroup.cpuset_cpus.as_deref()?)
    }
}

/// The number of CPUs in a cpuset list ("0-3,6"); None if malformed.
pub fn cpu_count(list: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ),
            None => {
                let a = part.trim().parse::<usize>().ok()?;
                (a, a)
            }
        };
        if b < a || b > 4096 {
            return None;
        }
        n += b - a + 1;
    }
    (n > 0).then_some(n)
}

/// linux.resources (config.json, or `update --resources`), checked:
/// what husk does not apply is refused by name. Unset fields, and the
/// zeros callers send for them, are not a request.
pub fn resources(r: &oci_spec::runtime::LinuxResources) -> Result<Limits, BundleError> {
    let mut out = Limits::default();
    let blkio = r.block_io().as_ref().is_some_and(|b| {
        b.weight().is_some_and(|w| w != 0)
            || b.leaf_weight().is_some_and(|w| w != 0)
            || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
            || b.throttle_read_bps_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty())
            || b.throttle_write_bps_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty())
            || b.throttle_read_iops_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty())
            || b.throttle_write_iops_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty())
    });
    let unsupported = "not supported yet (memory, cpu and pids are)";
    for (set, field) in [
        (blkio, "linux.resources.blockIO"),
        (
            r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty()),
            "linux.resources.hugepageLimits",
        ),
        (r.network().is_some(), "linux.resources.network"),
        (
            r.rdma().as_ref().is_some_and(|v| !v.is_empty()),
            "linux.resources.rdma",
        ),
        (
            r.unified().as_ref().is_some_and(|u| !u.is_empty()),
            "linux.resources.unified",
        ),
    ] {
        if set {
            return Err(refuse(field, unsupported));
        }
    }
    if let Some(c) = r.cpu() {
        for (set, field) in [
            (
                c.realtime_runtime().is_some_and(|v| v != 0),
                "realtimeRuntime",
            ),
            (
                c.realtime_period().is_some_and(|v| v != 0),
                "realtimePeriod",
            ),
            (c.idle().is_some_and(|v| v != 0), "idle"),
            (c.burst().is_some_and(|v| v != 0), "burst"),
        ] {
            if set {
                return Err(refuse(format!("linux.resources.cpu.{field}"), unsupported));
            }
        }
        let g = &mut out.cgroup;
        g.cpu_shares = c.shares().filter(|&v| v != 0);
        g.cpu_quota = c.quota().filter(|&v| v != 0);
        g.cpu_period = c.period().filter(|&v| v != 0);
        g.cpuset_cpus = c.cpus().clone().filter(|v| !v.is_empty());
        g.cpuset_mems = c.mems().clone().filter(|v| !v.is_empty());
        if let Some(cpus) = &g.cpuset_cpus {
            if cpu_count(cpus).is_none() {
                return Err(refuse(
                    "linux.resources.cpu.cpus",
                    format!("{cpus:?} is not a CPU list"),
                ));
            }
        }
    }
    if let Some(m) = r.memory() {
        for (set, field) in [
            (m.kernel().is_some_and(|v| v != 0), "kernel"),
            (m.kernel_tcp().is_some_and(|v| v != 0), "kernelTCP"),
            (m.swappiness().is_some_and(|v| v <= 100), "swappiness"),
            (m.disable_oom_killer() == Some(true), "disableOOMKiller"),
        ] {
            if set {
                return Err(refuse(
                    format!("linux.resources.memory.{field}"),
                    unsupported,
                ));
            }
        }
        let g = &mut out.cgroup;
        g.memory = m.limit().filter(|&v| v != 0);
        g.memory_reservation = m.reservation().filter(|&v| v != 0);
        g.memory_swap = m.swap().filter(|&v| v != 0);
    }
    out.pids = r
        .pids()
        .as_ref()
        .map(|p| u64::try_from(p.limit()).unwrap_or(0));
    Ok(out)
}

/// A process as husk starts it: the container's first one
/// (config.json's `process`), or one `exec` starts (sent to the sandbox
/// as JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    /// For `exec`: the fds are a host terminal (a pty slave in raw
    /// mode), and the process gets a pty of the sandbox's own relayed to
    /// it.
    #[serde(default)]
    pub terminal: bool,
    /// Starts with no_new_privs set (noNewPrivileges).
    #[serde(default)]
    pub no_new_privs: bool,
    /// Its capability sets (`Caps::render`); None: by its uid.
    #[serde(default)]
    pub caps: Option<String>,
}

/// An OCI `process` (config.json's, or `exec --process`'s), checked.
pub fn process(p: &oci_spec::runtime::Process) -> Result<Process, BundleError> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(refuse("process.args", "empty"));
    }
    let cwd = p.cwd().display().to_string();
    if !p.cwd().is_absolute() {
        return Err(refuse(
            "process.cwd",
            format!("{cwd} is not an absolute path"),
        ));
    }
    let user = p.user();
    if user.username().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(refuse("process.user.username", "not supported on Linux"));
    }
    Ok(Process {
        args,
        env: p.env().clone().unwrap_or_default(),
        cwd,
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        terminal: p.terminal().unwrap_or(false),
        no_new_privs: p.no_new_privileges().unwrap_or(false),
        caps: match p.capabilities() {
            Some(c) => Some(capabilities(c)?),
            None => None,
        },
    })
}

/// What the container is to be, as husk will run it.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The first process.
    pub process: Process,
    /// (rows, columns) of the console.
    pub console_size: Option<(u16, u16)>,
    /// (RLIMIT_*, soft, hard).
    pub rlimits: Vec<(u32, u64, u64)>,
    pub rootfs: PathBuf,
    pub readonly: bool,
    pub hostname: String,
    /// linux.resources, as husk applies them.
    pub limits: Limits,
    /// linux.cgroupsPath.
    pub cgroups_path: Option<String>,
    /// Bind mounts, served by the gofer inside the root.
    pub binds: Vec<gofer::Bind>,
    /// tmpfs mounts, the sentry's own.
    pub tmpfs: Vec<Tmpfs>,
    /// domainname (the UTS namespace's).
    pub domainname: Option<String>,
    /// linux.uidMappings and gidMappings ("C:H:N,..."), with a user
    /// namespace: the host ids of the gofer's files as the container's.
    pub uid_map: Option<String>,
    /// linux.sysctl's net.ipv4.ip_unprivileged_port_start.
    pub port_start: Option<u32>,
    pub gid_map: Option<String>,
    /// process.oomScoreAdj.
    pub oom_score_adj: Option<i32>,
    /// linux.maskedPaths and linux.readonlyPaths.
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// No network namespace asked for, or the host's named: the host's
    /// network.
    pub host_network: bool,
    /// A network namespace to join (not the host's).
    pub netns: Option<PathBuf>,
    /// linux.seccomp as JSON, for the sandbox to enforce.
    pub seccomp: Option<String>,
    pub hooks: Hooks,
    /// The config's annotations, for the state.
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// Whether the namespace file `p` is this process's own network
/// namespace (the host's, when the runtime runs there).
fn same_netns(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(p), std::fs::metadata("/proc/self/ns/net")) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// One hook: a host program, run with the container's state on stdin.
#[derive(Clone, Debug)]
pub struct HookCmd {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<std::time::Duration>,
}

/// The hooks husk runs, by when: on the host, in the runtime's
/// namespaces, but for createContainer (on the host, in the container's
/// network namespace: its mount namespace is the sandbox's own) and
/// startContainer (inside the sandbox).
#[derive(Clone, Debug, Default)]
pub struct Hooks {
    /// prestart and createRuntime: at `create`, the sandbox ready.
    pub create: Vec<HookCmd>,
    /// createContainer: at `create`, after those.
    pub create_container: Vec<HookCmd>,
    /// startContainer: at `start`, in the sandbox, before the process.
    pub start_container: Vec<HookCmd>,
    /// poststart: once the process has started.
    pub poststart: Vec<HookCmd>,
    /// poststop: at `delete`.
    pub poststop: Vec<HookCmd>,
}

fn hook_list(
    field: &str,
    list: &Option<Vec<oci_spec::runtime::Hook>>,
) -> Result<Vec<HookCmd>, BundleError> {
    let mut out = Vec::new();
    for (i, h) in list.iter().flatten().enumerate() {
        if !h.path().is_absolute() {
            return Err(refuse(
                format!("hooks.{field}[{i}].path"),
                "not an absolute path",
            ));
        }
        let timeout = match h.timeout() {
            Some(t) if t <= 0 => {
                return Err(refuse(
                    format!("hooks.{field}[{i}].timeout"),
                    "must be positive",
                ))
            }
            t => t.map(|t| std::time::Duration::from_secs(t.unsigned_abs())),
        };
        out.push(HookCmd {
            path: h.path().clone(),
            args: h.args().clone().unwrap_or_default(),
            env: h.env().clone().unwrap_or_default(),
            timeout,
        });
    }
    Ok(out)
}

/// Sysctls the sandbox accepts: the first ports that need no privilege
/// (the sandbox's network namespace starts at 0, as Docker sets it);
/// ping_group_range because it already behaves so for Docker's value
/// (ping sockets are refused, and ping falls back to its raw socket,
/// root's).
const SYSCTLS: [&str; 2] = [
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",
];

/// Top-level, process and linux keys `oci-spec` reads (anything else in
/// the file would otherwise pass unseen).
const KNOWN: [(&str, &[&str]); 3] = [
    (
        "",
        &[
            "ociVersion",
            "root",
            "mounts",
            "process",
            "hostname",
            "domainname",
            "hooks",
            "annotations",
            "linux",
        ],
    ),
    (
        "process",
        &[
            "terminal",
            "consoleSize",
            "user",
            "args",
            "env",
            "cwd",
            "capabilities",
            "rlimits",
            "noNewPrivileges",
            "apparmorProfile",
            "oomScoreAdj",
            "selinuxLabel",
        ],
    ),
    (
        "linux",
        &[
            "uidMappings",
            "gidMappings",
            "sysctl",
            "resources",
            "cgroupsPath",
            "namespaces",
            "devices",
            "seccomp",
            "rootfsPropagation",
            "maskedPaths",
            "readonlyPaths",
            "mountLabel",
        ],
    ),
];

/// Mounts the sandbox provides itself, by destination and the types that
/// may be asked for there.
const OWN_MOUNTS: [(&str, &[&str]); 7] = [
    ("/proc", &["proc"]),
    ("/sys", &["sysfs"]),
    ("/sys/fs/cgroup", &["cgroup", "cgroup2"]),
    ("/dev", &["tmpfs", "devtmpfs"]),
    ("/dev/pts", &["devpts"]),
    // Podman binds a directory of its own there: the sandbox's tmpfs
    // stands for it (it is never shared across sandboxes).
    ("/dev/shm", &["tmpfs", "bind"]),
    ("/dev/mqueue", &["mqueue"]),
];

/// Checks process.capabilities' names before `oci-spec` parses them (its
/// error would not say which).
fn capability_names(raw: &serde_json::Value) -> Result<(), BundleError> {
    let Some(sets) = raw
        .pointer("/process/capabilities")
        .and_then(|v| v.as_object())
    else {
        return Ok(());
    };
    for (set, names) in sets {
        for (i, n) in names.as_array().into_iter().flatten().enumerate() {
            let name = n.as_str().unwrap_or_default();
            if sentry::kernel::creds::cap::by_name(name).is_none() || !name.starts_with("CAP_") {
                return Err(refuse(
                    format!("process.capabilities.{set}[{i}]"),
                    format!("{n}: not a capability"),
                ));
            }
        }
    }
    Ok(())
}

/// Checks the JSON for keys `oci-spec` would drop unread.
fn unknown_keys(raw: &serde_json::Value) -> Result<(), BundleError> {
    for (section, known) in KNOWN {
        let obj = if section.is_empty() {
            raw.as_object()
        } else {
            raw.get(section).and_then(|v| v.as_object())
        };
        for k in obj.into_iter().flat_map(|o| o.keys()) {
            if !known.contains(&k.as_str()) {
                let field = if section.is_empty() {
                    k.clone()
                } else {
                    format!("{section}.{k}")
                };
                return Err(refuse(field, "not supported"));
            }
        }
    }
    Ok(())
}

/// RLIMIT_* by the name config.json gives it.
fn rlimit_number(name: &str) -> Option<u32> {
    const NAMES: [&str; 16] = [
        "RLIMIT_CPU",
        "RLIMIT_FSIZE",
        "RLIMIT_DATA",
        "RLIMIT_STACK",
        "RLIMIT_CORE",
        "RLIMIT_RSS",
        "RLIMIT_NPROC",
        "RLIMIT_NOFILE",
        "RLIMIT_MEMLOCK",
        "RLIMIT_AS",
        "RLIMIT_LOCKS",
        "RLIMIT_SIGPENDING",
        "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE",
        "RLIMIT_RTPRIO",
        "RLIMIT_RTTIME",
    ];
    NAMES
        .iter()
        .position(|n| *n == name)
        .and_then(|i| u32::try_from(i).ok())
}

/// process.capabilities as the five sets (`Caps::render`); a set not
/// given is empty, a name husk does not know is refused.
pub fn capabilities(c: &oci_spec::runtime::LinuxCapabilities) -> Result<String, BundleError> {
    use sentry::kernel::creds::{cap, Caps};
    let set =
        |field: &str, v: &Option<oci_spec::runtime::Capabilities>| -> Result<u64, BundleError> {
            let mut bits = 0u64;
            for c in v.iter().flatten() {
                let name = serde_json::to_value(c)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let n = cap::by_name(&name).ok_or_else(|| {
                    refuse(
                        format!("process.capabilities.{field}"),
                        format!("{name}: not a capability this kernel has"),
                    )
                })?;
                bits |= 1 << n;
            }
            Ok(bits)
        };
    let caps = Caps {
        effective: set("effective", c.effective())?,
        permitted: set("permitted", c.permitted())?,
        inheritable: set("inheritable", c.inheritable())?,
        bounding: set("bounding", c.bounding())?,
        ambient: set("ambient", c.ambient())?,
    };
    // As runc: what the process cannot hold is not given.
    let caps = Caps {
        effective: caps.effective & caps.permitted,
        ambient: caps.ambient & caps.permitted & caps.inheritable,
        ..caps
    };
    Ok(caps.render())
}

/// Paths inside the sandbox (maskedPaths, readonlyPaths): absolute,
/// without '..'.
fn sandbox_paths(field: &str, paths: &Option<Vec<String>>) -> Result<Vec<String>, BundleError> {
    let mut out = Vec::new();
    for (i, p) in paths.iter().flatten().enumerate() {
        if !p.starts_with('/') || p.split('/').any(|c| c == "..") || p.contains('\0') {
            return Err(refuse(
                format!("{field}[{i}]"),
                format!("{p:?}: not an absolute path without '..'"),
            ));
        }
        out.push(p.clone());
    }
    Ok(out)
}

/// A tmpfs mount: where, mount(2)'s flags and its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tmpfs {
    pub dest: String,
    pub flags: u64,
    pub data: String,
}

impl Tmpfs {
    /// As `husk boot --tmpfs` takes it: FLAGS:DATA:DEST.
    pub fn arg(&self) -> String {
        format!("{}:{}:{}", self.flags, self.data, self.dest)
    }
}

/// A mount's destination: absolute, without '..', and not beneath the
/// sandbox's own /proc and /sys (and /dev, for `dev_too`), which would
/// hide it.
fn destination(
    field: &str,
    m: &oci_spec::runtime::Mount,
    dev_too: bool,
) -> Result<String, BundleError> {
    let dest = m.destination();
    if !dest.is_absolute()
        || dest
            .components()
            .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(refuse(
            field,
            format!("{}: not an absolute path without '..'", dest.display()),
        ));
    }
    for own in ["/proc", "/sys", "/dev"] {
        if dest.starts_with(own) && (dev_too || own != "/dev" || dest == Path::new("/dev")) {
            return Err(refuse(
                field,
                format!("{}: beneath the sandbox's own {own}", dest.display()),
            ));
        }
    }
    let d = dest.display().to_string();
    Ok(if d.len() > 1 {
        d.trim_end_matches('/').to_owned()
    } else {
        d
    })
}

/// A tmpfs mount's options, checked: flags and mount(2) data.
fn tmpfs_mount(
    i: usize,
    m: &oci_spec::runtime::Mount,
    options: &[String],
) -> Result<Tmpfs, BundleError> {
    let field = format!("mounts[{i}]");
    let dest = destination(&field, m, false)?;
    let mut flags = 0u64;
    let mut data = Vec::new();
    for o in options {
        match o.as_str() {
            "ro" => flags |= libc::MS_RDONLY,
            "nosuid" => flags |= libc::MS_NOSUID,
            "nodev" => flags |= libc::MS_NODEV,
            "noexec" => flags |= libc::MS_NOEXEC,
            "noatime" => flags |= libc::MS_NOATIME,
            "nodiratime" => flags |= libc::MS_NODIRATIME,
            "relatime" => flags |= libc::MS_RELATIME,
            "strictatime" => flags |= libc::MS_STRICTATIME,
            "rw" | "suid" | "dev" | "exec" | "atime" | "diratime" | "norelatime"
            | "nostrictatime" | "private" | "rprivate" | "slave" | "rslave" | "tmpcopyup" => {}
            o if o.contains('=') => data.push(o.to_owned()),
            o => {
                return Err(refuse(
                    field,
                    format!("{dest}: option {o:?} is not supported"),
                ))
            }
        }
    }
    let data = data.join(",");
    if syscalls::check_tmpfs_options(data.as_bytes()).is_err() {
        return Err(refuse(
            field,
            format!("{dest}: tmpfs options {data:?} are not valid"),
        ));
    }
    Ok(Tmpfs { dest, flags, data })
}

/// A bind mount's source, destination and options, checked.
fn bind_mount(
    i: usize,
    m: &oci_spec::runtime::Mount,
    bundle: &Path,
    options: &[String],
) -> Result<gofer::Bind, BundleError> {
    let field = format!("mounts[{i}]");
    destination(&field, m, true)?;
    let dest = m.destination();
    let source = m
        .source()
        .clone()
        .ok_or_else(|| refuse(field.clone(), "a bind mount needs a source"))?;
    let source = if source.is_absolute() {
        source
    } else {
        bundle.join(source)
    };
    if !source.exists() {
        return Err(refuse(
            field,
            format!("source {} does not exist", source.display()),
        ));
    }
    if !gofer::serves(&source) {
        return Err(refuse(
            field,
            format!(
                "source {} is a kernel filesystem, never served",
                source.display()
            ),
        ));
    }
    let mut read_only = false;
    for o in options {
        match o.as_str() {
            "ro" | "rro" => read_only = true,
            "rw" | "rrw" | "bind" | "rbind" | "private" | "rprivate" | "slave" | "rslave"
            | "nosuid" | "nodev" | "suid" | "dev" | "exec" | "relatime" | "norelatime"
            | "noatime" | "strictatime" | "nodiratime" => {}
            other => {
                return Err(refuse(
                    field,
                    format!("option {other} on a bind mount is not supported yet"),
                ))
            }
        }
    }
    Ok(gofer::Bind {
        source,
        dest: dest.clone(),
        read_only,
    })
}

/// Reads and checks `bundle/config.json`.
pub fn load(bundle: &Path) -> Result<Plan, BundleError> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|err| BundleError::Read {
        path: path.clone(),
        err,
    })?;
    let raw: serde_json::Value = serde_json::from_str(&text).map_err(|e| BundleError::Parse {
        path: path.clone(),
        err: oci_spec::OciSpecError::SerDe(e),
    })?;
    unknown_keys(&raw)?;
    capability_names(&raw)?;
    let spec: Spec = serde_json::from_value(raw).map_err(|e| BundleError::Parse {
        path: path.clone(),
        err: oci_spec::OciSpecError::SerDe(e),
    })?;
    check(&spec, bundle)
}

fn check(spec: &Spec, bundle: &Path) -> Result<Plan, BundleError> {
    if !spec.version().starts_with("1.") {
        return Err(refuse(
            "ociVersion",
            format!("{} is not a 1.x version", spec.version()),
        ));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| refuse("root", "missing"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    if !rootfs.is_dir() {
        return Err(refuse(
            "root.path",
            format!("{} is not a directory", rootfs.display()),
        ));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| refuse("process", "missing"))?;
    let first = self::process(process)?;
    let mut rlimits = Vec::new();
    for r in process.rlimits().iter().flatten() {
        let name = serde_json::to_value(r.typ())
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let n = rlimit_number(&name)
            .ok_or_else(|| refuse("process.rlimits", format!("unknown limit {name}")))?;
        if r.soft() > r.hard() {
            return Err(refuse(
                "process.rlimits",
                format!("{name}: soft limit above the hard one"),
            ));
        }
        rlimits.push((n, r.soft(), r.hard()));
    }
    if process
        .apparmor_profile()
        .as_ref()
        .is_some_and(|p| !p.is_empty())
        || process
            .selinux_label()
            .as_ref()
            .is_some_and(|p| !p.is_empty())
    {
        tracing::info!("the host's LSM profile does not apply inside the sentry; the sandbox's own confinement does");
    }
    let mut binds = Vec::new();
    let mut tmpfs = Vec::new();
    // The sandbox's own mounts asked for read-only (Docker's cgroup2).
    let mut own_read_only = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = m.destination().display().to_string();
        let typ = m.typ().clone().unwrap_or_default();
        let options = m.options().clone().unwrap_or_default();
        let bind = typ == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
        let kind = if bind { "bind" } else { typ.as_str() };
        let own = OWN_MOUNTS
            .iter()
            .any(|(d, types)| *d == dest && types.contains(&kind));
        if own {
            if options.iter().any(|o| o == "ro") {
                own_read_only.push(dest);
            }
            continue;
        }
        if typ == "tmpfs" && !bind {
            tmpfs.push(tmpfs_mount(i, m, &options)?);
            continue;
        }
        if !bind {
            return Err(refuse(
                format!("mounts[{i}]"),
                format!("{dest} ({typ}): only bind and tmpfs mounts and the sandbox's own /proc, /sys, /dev and their kin are supported yet"),
            ));
        }
        binds.push(bind_mount(i, m, bundle, &options)?);
    }
    let mut hooks = Hooks::default();
    if let Some(h) = spec.hooks() {
        #[allow(deprecated)]
        let prestart = h.prestart();
        hooks.create = hook_list("prestart", prestart)?;
        hooks
            .create
            .extend(hook_list("createRuntime", h.create_runtime())?);
        hooks.create_container = hook_list("createContainer", h.create_container())?;
        hooks.start_container = hook_list("startContainer", h.start_container())?;
        hooks.poststart = hook_list("poststart", h.poststart())?;
        hooks.poststop = hook_list("poststop", h.poststop())?;
    }
    if spec
        .hostname()
        .as_ref()
        .is_some_and(|h| h.len() > 64 || h.contains('\0'))
    {
        return Err(refuse("hostname", "longer than 64 bytes or with a NUL"));
    }
    let domainname = spec.domainname().clone().filter(|d| !d.is_empty());
    if let Some(d) = &domainname {
        if d.len() > 64 || d.contains('\0') {
            return Err(refuse("domainname", "longer than 64 bytes or with a NUL"));
        }
    }
    let mut limits = Limits::default();
    let mut cgroups_path = None;
    let (mut masked_paths, mut readonly_paths) = (Vec::new(), Vec::new());
    let (mut uid_map, mut gid_map) = (None, None);
    let mut port_start = None;
    let mut netns = None;
    let mut seccomp = None;
    if let Some(linux) = spec.linux() {
        let userns = linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
        let ranges = |field: &str, m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
            let text: Vec<String> = m
                .iter()
                .flatten()
                .map(|r| format!("{}:{}:{}", r.container_id(), r.host_id(), r.size()))
                .collect();
            let text = text.join(",");
            match (userns, text.is_empty()) {
                (false, true) => Ok(None),
                (false, false) => Err(refuse(
                    field,
                    "mappings without a user namespace in linux.namespaces",
                )),
                (true, true) => Err(refuse(field, "a user namespace needs uid and gid mappings")),
                (true, false) => sentry::fs::idmap::Ranges::parse(&text)
                    .map(|_| Some(text.clone()))
                    .ok_or_else(|| {
                        refuse(
                            field,
                            format!("{text}: empty, overflowing or overlapping ranges"),
                        )
                    }),
            }
        };
        uid_map = ranges("linux.uidMappings", linux.uid_mappings())?;
        gid_map = ranges("linux.gidMappings", linux.gid_mappings())?;
        for (k, v) in linux.sysctl().iter().flatten() {
            if !SYSCTLS.contains(&k.as_str()) {
                return Err(refuse(format!("linux.sysctl.{k}"), "not supported yet"));
            }
            if k == "net.ipv4.ip_unprivileged_port_start" {
                // As the sysctl takes it: 0 to 65535, not past the
                // ephemeral ports' start.
                let max = u32::from(*sentry::local::inet::EPHEMERAL.start());
                let n = v.trim().parse::<u32>().ok().filter(|&n| n <= max);
                port_start = Some(n.ok_or_else(|| {
                    refuse(
                        format!("linux.sysctl.{k}"),
                        format!("{v:?}: not 0 to {max}"),
                    )
                })?);
                continue;
            }
            tracing::info!("linux.sysctl.{k}: the sandbox's own behaviour stands");
        }
        if linux.devices().as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(refuse("linux.devices", "the sandbox's /dev is its own"));
        }
        if let Some(sc) = linux.seccomp() {
            super::profile::compile(sc).map_err(|e| {
                let (field, why) = e.split_once(": ").unwrap_or(("linux.seccomp", &e));
                refuse(field, why)
            })?;
            seccomp = Some(serde_json::to_string(sc).unwrap_or_default());
        }
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            match ns.typ() {
                LinuxNamespaceType::Pid
                | LinuxNamespaceType::Ipc
                | LinuxNamespaceType::Uts
                | LinuxNamespaceType::Mount
                | LinuxNamespaceType::Cgroup
                | LinuxNamespaceType::Network
                | LinuxNamespaceType::User
                    if ns.path().is_none() => {}
                // Joined by the monitor (the sandbox stays in it).
                LinuxNamespaceType::Network => {
                    let p = ns.path().clone().unwrap_or_default();
                    let ok = std::fs::File::open(&p).is_ok_and(|f| {
                        rustix::fs::fstatfs(&f).is_ok_and(|st| st.f_type == libc::NSFS_MAGIC)
                    });
                    if !ok {
                        return Err(refuse(
                            format!("linux.namespaces[{i}].path"),
                            format!("{} is not a network namespace", p.display()),
                        ));
                    }
                    netns = Some(p);
                }
                t => {
                    return Err(refuse(
                        format!("linux.namespaces[{i}]"),
                        format!(
                            "{}{}: not supported yet",
                            format!("{t:?}").to_lowercase(),
                            if ns.path().is_some() {
                                " with a path"
                            } else {
                                ""
                            }
                        ),
                    ))
                }
            }
        }
        if let Some(p) = linux.rootfs_propagation() {
            if !["private", "rprivate", "slave", "rslave", ""].contains(&p.as_str()) {
                return Err(refuse(
                    "linux.rootfsPropagation",
                    format!("{p}: the sandbox's mounts never propagate"),
                ));
            }
        }
        if let Some(r) = linux.resources() {
            limits = resources(r)?;
        }
        cgroups_path = linux
            .cgroups_path()
            .as_ref()
            .map(|p| p.display().to_string());
        masked_paths = sandbox_paths("linux.maskedPaths", linux.masked_paths())?;
        readonly_paths = sandbox_paths("linux.readonlyPaths", linux.readonly_paths())?;
    }
    readonly_paths.extend(own_read_only);
    let size = process.console_size().as_ref().map(|b| {
        (
            u16::try_from(b.height()).unwrap_or(u16::MAX),
            u16::try_from(b.width()).unwrap_or(u16::MAX),
        )
    });
    Ok(Plan {
        process: first,
        console_size: size,
        rlimits,
        rootfs,
        readonly: root.readonly().unwrap_or(false),
        // A new UTS namespace without a name keeps the host's (runc).
        hostname: spec
            .hostname()
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| {
                rustix::system::uname()
                    .nodename()
                    .to_string_lossy()
                    .into_owned()
            }),
        limits,
        cgroups_path,
        binds,
        tmpfs,
        masked_paths,
        readonly_paths,
        domainname,
        uid_map,
        gid_map,
        port_start,
        oom_score_adj: process.oom_score_adj(),
        host_network: !spec.linux().as_ref().is_some_and(|l| {
            l.namespaces()
                .iter()
                .flatten()
                .any(|n| n.typ() == LinuxNamespaceType::Network)
        }) || netns.as_ref().is_some_and(|p| same_netns(p)),
        netns,
        hooks,
        seccomp,
        annotations: spec
            .annotations()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// The default config.json of `husk spec`: runc's, with husk's hostname.
pub fn default_spec() -> Spec {
    let mut s = Spec::default();
    s.set_hostname(Some("husk".into()));
    if let Some(p) = s.process_mut() {
        p.set_terminal(Some(true));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(config: &serde_json::Value) -> tempdir::Dir {
        let d = tempdir::Dir::new();
        std::fs::create_dir(d.path().join("rootfs")).unwrap();
        std::fs::write(d.path().join("config.json"), config.to_string()).unwrap();
        d
    }

    /// A scratch directory removed when dropped.
    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "husk-bundle-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn default_json() -> serde_json::Value {
        serde_json::to_value(default_spec()).unwrap()
    }

    #[test]
    fn the_default_spec_is_accepted() {
        let b = bundle(&default_json());
        let p = load(b.path()).unwrap();
        assert_eq!(p.process.args, ["sh"]);
        assert!(p.process.terminal);
        assert_eq!(p.hostname, "husk");
        assert_eq!(p.rlimits, [(7, 1024, 1024)]);
        assert!(p.readonly);
    }

    #[test]
    fn unsupported_fields_are_named() {
        let cases: [(&str, serde_json::Value); 7] = [
            (
                "process.ioPriority",
                serde_json::json!({"class": "IOPRIO_CLASS_RT"}),
            ),
            (
                "hooks.startContainer[0].path",
                serde_json::json!({"startContainer": [{"path": "bin/true"}]}),
            ),
            (
                "linux.seccomp.syscalls[0]",
                serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}),
            ),
            ("mounts[7]", serde_json::json!(null)),
            ("mounts[8]", serde_json::json!(null)),
            ("linux.namespaces[6]", serde_json::json!(null)),
            ("frobnicate", serde_json::json!(1)),
        ];
        for (field, value) in cases {
            let mut j = default_json();
            match field {
                "process.ioPriority" => j["process"]["ioPriority"] = value,
                "hooks.startContainer[0].path" => j["hooks"] = value,
                "linux.seccomp.syscalls[0]" => j["linux"]["seccomp"] = value,
                "mounts[7]" => j["mounts"].as_array_mut().unwrap().push(serde_json::json!({
                    "destination": "/data", "type": "overlay", "source": "overlay"
                })),
                "mounts[8]" => {
                    let m = j["mounts"].as_array_mut().unwrap();
                    m.push(serde_json::json!({
                        "destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind"]
                    }));
                    m.push(serde_json::json!({
                        "destination": "/dev/x", "type": "bind", "source": "/tmp", "options": ["rbind"]
                    }));
                }
                "linux.namespaces[6]" => j["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({"type": "user", "path": "/proc/1/ns/user"})),
                _ => j[field] = value,
            }
            let b = bundle(&j);
            let e = load(b.path()).unwrap_err().to_string();
            assert!(e.contains(field), "{field}: {e}");
        }
    }

    #[test]
    fn a_missing_rootfs_or_relative_cwd_is_refused() {
        let mut j = default_json();
        j["root"]["path"] = "nowhere".into();
        let b = bundle(&j);
        assert!(load(b.path())
            .unwrap_err()
            .to_string()
            .contains("root.path"));
        let mut j = default_json();
        j["process"]["cwd"] = "tmp".into();
        let b = bundle(&j);
        assert!(load(b.path())
            .unwrap_err()
            .to_string()
            .contains("process.cwd"));
    }
}
