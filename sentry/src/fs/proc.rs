//! procfs, generated from the kernel's own state at open time.

use super::file::File;
use super::file::FileOps;
use super::synth::{stat_of, SynthFile};
use super::vfs::{Caller, Filesystem};
use crate::errno::{Errno, KResult};
use crate::fs::{DirEntry, Stat};
use crate::kernel::pidns::PidNs;
use crate::kernel::userns::UserNs;
use crate::kernel::{KState, Task};
use crate::mm::VmaName;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

const DEV: u64 = 4;
pub const RELEASE: &str = "6.1.0-husk";
pub const VERSION: &str = "#1 SMP husk";

static HOST_CPUINFO: OnceLock<Vec<u8>> = OnceLock::new();
static START: OnceLock<Instant> = OnceLock::new();
static NCPU: OnceLock<usize> = OnceLock::new();

/// Sets the number of CPUs the sandbox reports (a container's cpuset),
/// before anything reads it.
pub fn set_ncpu(n: usize) {
    let _ = NCPU.set(n.max(1));
}

/// Number of CPUs: the host's as seen at start-up (reading it later would
/// need host paths: cgroup files), or the container's cpuset.
pub fn ncpu() -> usize {
    *NCPU.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// Snapshots host facts procfs repeats; called once before the sandbox
/// loses access to host paths.
pub fn snapshot_host() {
    let _ = HOST_CPUINFO.set(std::fs::read("/proc/cpuinfo").unwrap_or_default());
    let _ = ncpu();
    super::sysfs::snapshot_host();
    super::host::snapshot_stdio_names();
    let _ = START.set(Instant::now());
}

/// A proc instance: it shows the processes of the PID namespace it was
/// mounted in, by that namespace's numbers.
pub struct ProcFs {
    ns: Arc<PidNs>,
}

impl ProcFs {
    pub fn new() -> ProcFs {
        ProcFs::of(crate::kernel::pidns::first())
    }

    /// An instance for PID namespace `ns` (the mounter's).
    pub fn of(ns: Arc<PidNs>) -> ProcFs {
        let _ = START.set(Instant::now());
        ProcFs { ns }
    }
}

impl Default for ProcFs {
    fn default() -> Self {
        ProcFs::new()
    }
}

/// `global`'s numbers from namespace `view` down to `own` (its own),
/// tab-separated: status's NSpid and its kin. An id a level cannot see
/// is 0 there.
fn ns_ids(view: &PidNs, own: &PidNs, global: i32) -> String {
    let mut v = Vec::new();
    let mut n = Some(own);
    while let Some(x) = n {
        v.push(x.vnr(global).to_string());
        if std::ptr::eq(x, view) || x.level <= view.level {
            break;
        }
        n = x.parent.as_deref();
    }
    v.reverse();
    v.join("\t")
}

enum Node {
    Dir(Vec<(Vec<u8>, u8)>),
    /// /proc/PID/fd or fdinfo: the fd table, listed only when read (a
    /// walk through it to one fd must not list thousands), and the
    /// entries' type.
    FdDir(Arc<parking_lot::Mutex<super::file::FdTable>>, u8),
    File(Vec<u8>),
    Link(Vec<u8>),
    /// /proc/PID/mem: the address space, and whether the caller may open
    /// it (its own, or ptrace's rule).
    Mem(Arc<crate::mm::Mm>, bool),
    /// /proc/PID/{uid_map,gid_map,setgroups} of a process in a user
    /// namespace of the application's: what it reads now, and the
    /// namespace a write sets up.
    IdMap(Vec<u8>, Arc<UserNs>, MapFile, (u32, u32)),
    /// /proc/sys/net/ipv4/ip_unprivileged_port_start of the reader's
    /// network namespace.
    PortStart(Vec<u8>, Arc<crate::local::Names>),
    /// /proc/sys/kernel/ns_last_pid of the reader's PID namespace.
    LastPid(Vec<u8>, Arc<PidNs>),
    /// /proc/PID/timens_offsets: the time namespace its children enter.
    Timens(Vec<u8>, Arc<crate::kernel::timens::TimeNs>),
    /// Something of another process the caller may not look into
    /// (ptrace's read check): it can be stat'ed, not opened or read.
    Denied(u32),
    /// A file a write changes: what it reads now, and what it sets.
    Knob(Vec<u8>, Knob),
    /// /proc/PID/attr/*: there, mode 0666, but with no security module
    /// every read and write is EINVAL.
    NoLsm,
}

/// What a writable per-process file sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Knob {
    /// A thread's name (comm), by its tid.
    Comm(i32),
    /// A process's oom_score_adj, by its tgid.
    OomScoreAdj(i32),
    /// The same, in oom_adj's old -17..=15 scale.
    OomAdj(i32),
    /// The audit login uid, by tgid.
    LoginUid(i32),
    /// Which mappings a core dump would hold, by tgid.
    CoredumpFilter(i32),
    /// A thread's timer slack, by tid.
    TimerSlack(i32),
    /// clear_refs of a process, by tgid: write-only.
    ClearRefs(i32),
}

impl Knob {
    /// The file's permissions, Linux's.
    fn mode(self) -> u32 {
        match self {
            Knob::TimerSlack(_) => 0o666,
            Knob::ClearRefs(_) => 0o200,
            _ => 0o644,
        }
    }
}

/// oom_score_adj in oom_adj's scale, as Linux converts it.
fn oom_adj_of(adj: i32) -> i32 {
    if adj == 1000 {
        15
    } else {
        adj * 17 / 1000
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MapFile {
    Uid,
    Gid,
    Setgroups,
}

/// The process's place in the one v2 hierarchy as task `reader` sees
/// it: the path from the root of the reader's cgroup namespace.
fn cgroup_path(st: &KState, p: &crate::kernel::task::Process, reader: i32) -> Vec<u8> {
    let root = st
        .tasks
        .get(&reader)
        .map_or(crate::kernel::cgroup::ROOT, |t| t.cgroup_ns.root);
    st.cgroups.lock().path_from(p.cgroup, root)
}

/// /proc/PID/cgroup as task `reader` sees it.
fn cgroup_file(st: &KState, p: &crate::kernel::task::Process, reader: i32) -> Node {
    let mut v = b"0::".to_vec();
    v.extend(cgroup_path(st, p, reader));
    v.push(b'\n');
    Node::File(v)
}

fn ino_of(path: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in path {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h >> 16
}

fn dir(names: &[&str]) -> Vec<(Vec<u8>, u8)> {
    names
        .iter()
        .map(|n| (n.as_bytes().to_vec(), libc::DT_REG))
        .collect()
}

const PID_FILES: &[&str] = &[
    "auxv",
    "cgroup",
    "cmdline",
    "comm",
    "environ",
    "limits",
    "maps",
    "mountinfo",
    "mounts",
    "oom_score",
    "oom_score_adj",
    "smaps",
    "stat",
    "statm",
    "status",
    "loginuid",
    "uid_map",
    "gid_map",
    "mem",
    "setgroups",
    "sessionid",
    "coredump_filter",
    "wchan",
    "personality",
    "timerslack_ns",
    "schedstat",
    "oom_adj",
    "smaps_rollup",
    "io",
    "cpuset",
    "projid_map",
    "timens_offsets",
    "clear_refs",
    "ksm_merging_pages",
    "ksm_stat",
    "mountstats",
    "timers",
];
/// What a process's directory has and its threads' directories do not.
const PROCESS_ONLY: &[&[u8]] = &[
    b"task",
    b"coredump_filter",
    b"timerslack_ns",
    b"timens_offsets",
    b"mountstats",
    b"timers",
];
/// /proc/PID/attr's files, which a kernel without a security module has.
const ATTR_FILES: &[&str] = &[
    "current",
    "exec",
    "fscreate",
    "keycreate",
    "prev",
    "sockcreate",
];
const PID_LINKS: &[&str] = &["cwd", "exe", "root"];
const PID_DIRS: &[&str] = &["fd", "fdinfo", "task", "net", "ns", "attr"];

/// The namespaces /proc/PID/ns shows, with the inode numbers Linux gives
/// its initial ones (every namespace here is the sandbox's one, but for
/// mount and UTS namespaces a task unshared).
const NAMESPACES: &[(&str, u64)] = &[
    ("cgroup", 4026531835),
    ("ipc", 4026531839),
    ("mnt", 4026531841),
    ("net", 4026531840),
    ("pid", 4026531836),
    ("pid_for_children", 4026531836),
    ("time", 4026531834),
    ("time_for_children", 4026531834),
    ("user", 4026531837),
    ("uts", 4026531838),
];

/// The character devices /dev has here, as /proc/devices lists them.
const DEVICES: &[u8] = b"Character devices:\n  1 mem\n  4 /dev/vc/0\n  4 tty\n  5 /dev/tty\n  5 /dev/console\n  5 /dev/ptmx\n136 pts\n\nBlock devices:\n";

/// /proc/net's files: the sockets, and the one interface, lo.
const NET_FILES: &[&str] = &[
    "unix",
    "tcp",
    "tcp6",
    "udp",
    "udp6",
    "dev",
    "if_inet6",
    "route",
    "sockstat",
    "sockstat6",
    "snmp",
    "snmp6",
    "netstat",
    "raw",
    "raw6",
    "arp",
    "packet",
    "ipv6_route",
    "igmp",
    "igmp6",
];
const IF_INET6: &[u8] = b"00000000000000000000000000000001 01 80 10 80       lo\n";

fn parse_pid(s: &[u8]) -> Option<i32> {
    std::str::from_utf8(s)
        .ok()?
        .parse()
        .ok()
        .filter(|&p: &i32| p > 0)
}

/// /proc/cgroups: the controllers, all on the one cgroup2 hierarchy
/// (hierarchy 0).
fn cgroups(st: &KState) -> Vec<u8> {
    let n = st.cgroups.lock().ids().len();
    let mut s = String::from("#subsys_name\thierarchy\tnum_cgroups\tenabled\n");
    for (_, name) in crate::kernel::cgroup::ctl::NAMES {
        s.push_str(&format!("{name}\t0\t{n}\t1\n"));
    }
    s.into_bytes()
}

fn node(ns: &PidNs, c: &Caller, rel: &[u8]) -> KResult<Node> {
    let comps: Vec<&[u8]> = rel
        .split(|&b| b == b'/')
        .filter(|s| !s.is_empty())
        .collect();
    let st = c.state()?;
    let me = c.task()?;
    match comps.as_slice() {
        [] => {
            let mut d: Vec<(Vec<u8>, u8)> = dir(&[
                "cpuinfo",
                "meminfo",
                "stat",
                "uptime",
                "loadavg",
                "version",
                "filesystems",
                "cmdline",
                "swaps",
                "partitions",
                "diskstats",
                "locks",
                "devices",
                "cgroups",
                "vmstat",
                "interrupts",
                "softirqs",
            ]);
            d.push((b"self".to_vec(), libc::DT_LNK));
            d.push((b"thread-self".to_vec(), libc::DT_LNK));
            d.push((b"mounts".to_vec(), libc::DT_LNK));
            d.push((b"net".to_vec(), libc::DT_LNK));
            d.push((b"sys".to_vec(), libc::DT_DIR));
            d.push((b"sysvipc".to_vec(), libc::DT_DIR));
            let mut pids: Vec<i32> = st.procs.keys().filter_map(|&g| ns.local(g)).collect();
            pids.sort();
            for p in pids {
                d.push((p.to_string().into_bytes(), libc::DT_DIR));
            }
            Ok(Node::Dir(d))
        }
        // A reader this instance's namespace cannot see has no self.
        [b"self"] => Ok(Node::Link(
            ns.local(me.tgid)
                .ok_or(Errno::ENOENT)?
                .to_string()
                .into_bytes(),
        )),
        [b"thread-self"] => {
            let (g, t) = (ns.local(me.tgid), ns.local(me.tid));
            let (g, t) = g.zip(t).ok_or(Errno::ENOENT)?;
            Ok(Node::Link(format!("{g}/task/{t}").into_bytes()))
        }
        [b"mounts"] => Ok(Node::Link(b"self/mounts".to_vec())),
        [b"net"] => Ok(Node::Link(b"self/net".to_vec())),
        [b"cpuinfo"] => Ok(Node::File(HOST_CPUINFO.get().cloned().unwrap_or_default())),
        [b"meminfo"] => Ok(Node::File(meminfo(&me.mm.memfile))),
        // Its idle time is /proc/stat's: every CPU's, less what the
        // sandbox ran.
        [b"uptime"] => {
            // CLOCK_BOOTTIME as the reader's time namespace has it.
            let boot = me.time_ns.offset_of(libc::CLOCK_BOOTTIME) as f64 / 1e9;
            let up = START
                .get()
                .map(|s| s.elapsed().as_secs_f64())
                .unwrap_or(0.0)
                + boot;
            let idle = idle_ns(st) as f64 / 1e9;
            Ok(Node::File(format!("{up:.2} {idle:.2}\n").into_bytes()))
        }
        // No device interrupts reach the sandbox, and it runs no softirqs:
        // the CPUs' columns with no lines, and every softirq at 0.
        [b"interrupts"] => Ok(Node::File(irq_head(11).into_bytes())),
        [b"softirqs"] => {
            let mut s = irq_head(20);
            for name in [
                "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER",
                "RCU",
            ] {
                s.push_str(&format!("{:>12}:", name));
                for _ in 0..ncpu() {
                    s.push_str(&format!("{:>11}", 0));
                }
                s.push('\n');
            }
            Ok(Node::File(s.into_bytes()))
        }
        [b"loadavg"] => Ok(Node::File(
            format!(
                "{} {}/{} {}\n",
                st.loadavg.show(),
                st.tasks.values().filter(|t| !t.waiter.asleep()).count().max(1),
                st.tasks.len(),
                ns.last().unwrap_or(st.next_pid - 1)
            )
            .into_bytes(),
        )),
        [b"version"] => Ok(Node::File(
            format!("Linux version {RELEASE} (husk@husk) (gcc) {VERSION}\n").into_bytes(),
        )),
        [b"filesystems"] => Ok(Node::File(
            b"nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevpts\nnodev\t9p\nnodev\toverlay\nnodev\tcgroup2\nnodev\tmqueue\n"
                .to_vec(),
        )),
        [b"cmdline"] => Ok(Node::File(b"BOOT_IMAGE=/husk\n".to_vec())),
        // No swap and no block devices in the sandbox.
        [b"swaps"] => Ok(Node::File(
            b"Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n".to_vec(),
        )),
        [b"partitions"] => Ok(Node::File(b"major minor  #blocks  name\n\n".to_vec())),
        [b"diskstats"] => Ok(Node::File(Vec::new())),
        [b"locks"] => Ok(Node::File(st.locks.proc_text(|p| if p > 0 { ns.vnr(p) } else { p }))),
        [b"devices"] => Ok(Node::File(DEVICES.to_vec())),
        [b"cgroups"] => Ok(Node::File(cgroups(st))),
        [b"vmstat"] => Ok(Node::File(vmstat(&me.mm.memfile))),
        [b"stat"] => Ok(Node::File(sys_stat(st))),
        [b"sys", rest @ ..] => sys_node(c, rest),
        [b"sysvipc"] => Ok(Node::Dir(dir(&["msg", "sem", "shm"]))),
        // The reader's IPC namespace's objects.
        [b"sysvipc", b"shm"] => Ok(Node::File(st.ipc.get(ipc_ns_of(st, me)).proc_shm())),
        [b"sysvipc", b"sem"] => Ok(Node::File(st.ipc.get(ipc_ns_of(st, me)).proc_sem())),
        [b"sysvipc", b"msg"] => Ok(Node::File(st.ipc.get(ipc_ns_of(st, me)).proc_msg())),
        [pid, rest @ ..] => {
            let pid = parse_pid(pid)
                .and_then(|p| ns.global(p))
                .ok_or(Errno::ENOENT)?;
            let Some(t) = st.tasks.get(&pid) else {
                // A process whose leader thread is gone (a zombie).
                let p = st.procs.get(&pid).ok_or(Errno::ENOENT)?;
                return gone_leader_node(ns, c, st, p, rest);
            };
            match rest {
                [b"task"] => {
                    let p = &st.procs[&t.tgid];
                    Ok(Node::Dir(
                        p.threads
                            .iter()
                            .filter_map(|&t| ns.local(t))
                            .map(|t| (t.to_string().into_bytes(), libc::DT_DIR))
                            .collect(),
                    ))
                }
                [b"task", tid, more @ ..] => {
                    let tid = parse_pid(tid)
                        .and_then(|t| ns.global(t))
                        .ok_or(Errno::ENOENT)?;
                    let tt = st
                        .tasks
                        .get(&tid)
                        .filter(|x| x.tgid == t.tgid)
                        .ok_or(Errno::ENOENT)?;
                    match more {
                        // A thread's directory has its children, and not
                        // what only a process has.
                        [name, ..] if PROCESS_ONLY.contains(name) => Err(Errno::ENOENT),
                        [b"children"] => Ok(Node::File(children(ns, st, tt))),
                        // A thread's own CPU times.
                        [b"stat"] => Ok(Node::File(stat(ns, st, tt, c.tid, true))),
                        // A thread's own counts; the process's are all of them.
                        [b"io"] => match pid_node(ns, c, tt, more)? {
                            Node::Denied(m) => Ok(Node::Denied(m)),
                            _ => Ok(Node::File(tt.io.totals().proc_file())),
                        },
                        [] => {
                            let Node::Dir(mut d) = pid_node(ns, c, tt, more)? else {
                                return Err(Errno::ENOENT);
                            };
                            d.retain(|(n, _)| !PROCESS_ONLY.contains(&&n[..]));
                            d.push((b"children".to_vec(), libc::DT_REG));
                            Ok(Node::Dir(d))
                        }
                        _ => pid_node(ns, c, tt, more),
                    }
                }
                _ => pid_node(ns, c, t, rest),
            }
        }
    }
}

/// /proc/PID/task/TID/children: the processes thread `t` forked that
/// are still its children, as "pid pid ... ".
fn children(ns: &PidNs, st: &KState, t: &Task) -> Vec<u8> {
    let Some(p) = st.procs.get(&t.tgid) else {
        return Vec::new();
    };
    let mut s = String::new();
    for c in &p.children {
        if st.procs.get(c).is_some_and(|cp| cp.parent_tid == t.tid) {
            if let Some(l) = ns.local(*c) {
                let _ = write!(s, "{l} ");
            }
        }
    }
    s.into_bytes()
}

/// /proc/PID/ns/NAME of task `t`: its kind ("mnt") and namespace file.
fn ns_file(
    c: &Caller,
    st: &KState,
    t: &Task,
    name: &[u8],
) -> Option<(&'static str, super::nsfs::NsFile)> {
    use super::nsfs::{Ns, NsFile};
    let (n, base) = NAMESPACES.iter().find(|(n, _)| n.as_bytes() == name)?;
    // An unshared mount or UTS namespace is another one (the first
    // process's UTS namespace stands for the initial one).
    let other = |p: u64| 4026532000 + (p >> 4 & 0xffff);
    let init_uts = st.tasks.get(&1).map(|i| Arc::as_ptr(&i.uts_ns));
    let kind = n.trim_end_matches("_for_children");
    let f = match kind {
        "mnt" => NsFile {
            ino: if Arc::ptr_eq(&t.mnt_ns, &c.vfs.init_ns) {
                *base
            } else {
                other(Arc::as_ptr(&t.mnt_ns) as u64)
            },
            ns: Ns::Mnt(t.mnt_ns.clone()),
        },
        "uts" => NsFile {
            ino: if init_uts.is_some_and(|u| !std::ptr::eq(u, Arc::as_ptr(&t.uts_ns))) {
                other(Arc::as_ptr(&t.uts_ns) as u64)
            } else {
                *base
            },
            ns: Ns::Uts(t.uts_ns.clone()),
        },
        "user" => NsFile::user(st.procs.get(&t.tgid)?.creds.userns.0.clone()),
        "ipc" => {
            let id = ipc_ns_of(st, t);
            NsFile {
                // The first namespace keeps the base number; others are
                // numbered after it.
                ino: if id == 0 {
                    *base
                } else {
                    4026533000 + (id & 0xffff)
                },
                ns: Ns::Ipc(st.ipc.reference(id)),
            }
        }
        "net" => NsFile {
            ino: match t.net_ns.ino {
                0 => *base,
                n => n,
            },
            ns: Ns::Net(t.net_ns.clone()),
        },
        "cgroup" => NsFile {
            ino: match t.cgroup_ns.ino {
                0 => *base,
                n => n,
            },
            ns: Ns::Cgroup(t.cgroup_ns.clone()),
        },
        // The namespace children go to is hidden until its init exists.
        "pid" => {
            let ns = if n.ends_with("_for_children") {
                if t.pid_ns_children.init() == 0 {
                    return None;
                }
                t.pid_ns_children.clone()
            } else {
                t.pid_ns.clone()
            };
            NsFile {
                ino: super::nsfs::pid_ns_ino(&ns),
                ns: Ns::Pid(ns),
            }
        }
        "time" => {
            let ns = if n.ends_with("_for_children") {
                t.time_ns_children.clone()
            } else {
                t.time_ns.clone()
            };
            NsFile {
                ino: super::nsfs::time_ns_ino(&ns),
                ns: Ns::Time(ns),
            }
        }
        _ => NsFile {
            ino: *base,
            ns: Ns::Only(libc::CLONE_NEWIPC),
        },
    };
    Some((kind, f))
}

/// /proc/PID of a process whose leader thread has exited (a zombie, or
/// one whose other threads still run): what Linux shows of the leader
/// then, state Z and no memory.
fn gone_leader_node(
    ns: &PidNs,
    c: &Caller,
    st: &KState,
    p: &crate::kernel::Process,
    rest: &[&[u8]],
) -> KResult<Node> {
    let reader = &c.creds().ok_or(Errno::ESRCH)?.userns;
    let comm = String::from_utf8_lossy(&p.leader_comm).into_owned();
    let ticks = |ns: u64| ns / 10_000_000;
    let (utime, stime) = crate::kernel::cpu::process_times(st, p.tgid);
    match rest {
        [] => {
            let mut d = dir(&[
                "stat", "status", "cmdline", "comm", "cgroup", "environ", "maps",
            ]);
            d.extend(["task", "fd", "fdinfo"].map(|n| (n.as_bytes().to_vec(), libc::DT_DIR)));
            Ok(Node::Dir(d))
        }
        [b"task"] => Ok(Node::Dir(vec![(
            ns.vnr(p.tgid).to_string().into_bytes(),
            libc::DT_DIR,
        )])),
        [b"fd" | b"fdinfo"] => Ok(Node::Dir(Vec::new())),
        [b"cmdline" | b"environ" | b"maps"] => Ok(Node::File(Vec::new())),
        [b"comm"] => Ok(Node::File(format!("{comm}\n").into_bytes())),
        [b"cgroup"] => Ok(cgroup_file(st, p, c.tid)),
        [b"stat"] => {
            let start = START
                .get()
                .map(|s| p.start.saturating_duration_since(*s).as_millis() / 10)
                .unwrap_or(0);
            let code = p.exit.as_ref().map_or(0, |e| e.status);
            Ok(Node::File(
                format!(
                    "{} ({comm}) Z {} {} {} 0 -1 4227084 0 0 0 0 {} {} {} {} {} {} {} 0 {start} 0 0 {} 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 {code}\n",
                    ns.vnr(p.tgid),
                    ns.vnr(p.ppid),
                    ns.vnr(p.pgid),
                    ns.vnr(p.sid),
                    ticks(utime),
                    ticks(stime),
                    ticks(p.child_times.0),
                    ticks(p.child_times.1),
                    20 + p.nice,
                    p.nice,
                    // The exited leader counts until the group is gone.
                    p.threads.len() + usize::from(!p.threads.contains(&p.tgid)),
                    p.rlimits[libc::RLIMIT_RSS as usize].0,
                )
                .into_bytes(),
            ))
        }
        [b"status"] => {
            let cr = &p.creds;
            let (u, g) = (|x| reader.uid_shown(x), |x| reader.gid_shown(x));
            Ok(Node::File(
                format!(
                    "Name:\t{comm}\nState:\tZ (zombie)\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\nTracerPid:\t0\nUid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t0\nThreads:\t{}\nCapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nCapAmb:\t{:016x}\n",
                    ns.vnr(p.tgid),
                    ns.vnr(p.tgid),
                    ns.vnr(p.ppid),
                    u(cr.ruid), u(cr.euid), u(cr.suid), u(cr.fsuid),
                    g(cr.rgid), g(cr.egid), g(cr.sgid), g(cr.fsgid),
                    // The exited leader counts until the group is gone.
                    p.threads.len() + usize::from(!p.threads.contains(&p.tgid)),
                    cr.caps.inheritable,
                    cr.caps.permitted,
                    cr.caps.effective,
                    cr.caps.bounding,
                    cr.caps.ambient,
                )
                .into_bytes(),
            ))
        }
        _ => Err(Errno::ENOENT),
    }
}

/// What of /proc/PID only a process allowed to inspect it (ptrace's
/// PTRACE_MODE_READ) may open or read, and its type and permissions.
fn guarded(rest: &[&[u8]]) -> Option<u32> {
    Some(match rest {
        [b"environ" | b"auxv" | b"io"] => libc::S_IFREG | 0o400,
        [b"timerslack_ns"] => libc::S_IFREG | 0o666,
        [b"maps" | b"smaps" | b"stack" | b"syscall"] => libc::S_IFREG | 0o444,
        [b"exe" | b"cwd" | b"root"] | [b"ns", _] => libc::S_IFLNK | 0o777,
        [b"fd" | b"fdinfo"] => libc::S_IFDIR | 0o500,
        [b"fd" | b"fdinfo", _, ..] => libc::S_IFREG | 0o400,
        _ => return None,
    })
}

fn pid_node(ns: &PidNs, c: &Caller, t: &Task, rest: &[&[u8]]) -> KResult<Node> {
    let st = c.state()?;
    let p = &st.procs[&t.tgid];
    // Ids are shown in the reader's user namespace.
    let reader = &c.creds().ok_or(Errno::ESRCH)?.userns;
    if let Some(mode) = guarded(rest) {
        let me = c.process().ok();
        // The fd directories themselves are listed by their owner too
        // (their mode, 0500), ptrace's rules or not.
        let owner = if p.dumpable != 0 { p.creds.euid } else { 0 };
        let dir_owner =
            matches!(rest, [b"fd" | b"fdinfo"]) && me.is_some_and(|me| me.creds.fsuid == owner);
        if !dir_owner && !me.is_some_and(|me| p.inspectable_by(me)) {
            return Ok(Node::Denied(mode));
        }
    }
    match rest {
        [] => {
            let mut d = dir(PID_FILES);
            d.extend(
                PID_LINKS
                    .iter()
                    .map(|n| (n.as_bytes().to_vec(), libc::DT_LNK)),
            );
            d.extend(
                PID_DIRS
                    .iter()
                    .map(|n| (n.as_bytes().to_vec(), libc::DT_DIR)),
            );
            Ok(Node::Dir(d))
        }
        // Where the program is now (renamed, or " (deleted)").
        [b"exe"] => Ok(Node::Link(match &t.mm.state.lock().exe_file {
            Some(f) => f.name.display(),
            None => p.exe.clone(),
        })),
        [b"cwd"] => Ok(Node::Link(t.fs.lock().cwd.display())),
        [b"root"] => Ok(Node::Link(t.fs.lock().root.display())),
        [b"fd"] | [b"fdinfo"] => {
            let kind = if rest[0] == b"fd" {
                libc::DT_LNK
            } else {
                libc::DT_REG
            };
            Ok(Node::FdDir(t.files.clone(), kind))
        }
        [b"fd", n] => {
            let fd = std::str::from_utf8(n)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(Errno::ENOENT)?;
            let f = t.files.lock().get(fd).map_err(|_| Errno::ENOENT)?;
            let mut name = f.name.display();
            if f.ops.unlinked() {
                name.extend_from_slice(b" (deleted)");
            }
            Ok(Node::Link(name))
        }
        [b"fdinfo", n] => {
            let fd = std::str::from_utf8(n)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(Errno::ENOENT)?;
            let e = t.files.lock().fds.get(&fd).cloned().ok_or(Errno::ENOENT)?;
            let ino = e.file.ops.stat().map(|s| s.ino).unwrap_or(0);
            let mut flags = crate::num::ubits32(e.file.flags());
            if e.cloexec {
                flags |= libc::O_CLOEXEC as u32;
            }
            // The mount it was opened through (mountinfo's first field);
            // files with no place (pipes, sockets) are on an internal
            // mount, shown as the root's.
            let mnt = e.file.place().map_or(1, |p| p.mount.id);
            let mut s = format!(
                "pos:\t{}\nflags:\t0{:o}\nmnt_id:\t{mnt}\nino:\t{}\n",
                e.file.ops.position(&e.file),
                flags,
                ino
            );
            // What Linux adds for the kinds of file programs ask about.
            if let Some(pf) = e.file.downcast::<super::pidfd::PidFd>() {
                match st.tasks.get(&pf.pid) {
                    Some(tt) => {
                        let ids = ns_ids(ns, &tt.pid_ns, pf.pid);
                        let _ = write!(s, "Pid:\t{}\nNSpid:\t{ids}\n", ns.vnr(pf.pid));
                    }
                    None => {
                        let _ = write!(s, "Pid:\t-1\nNSpid:\t-1\n");
                    }
                }
            } else if let Some(sf) = e.file.downcast::<super::signalfd::SignalFd>() {
                let _ = writeln!(s, "sigmask:\t{:016x}", sf.mask());
            } else if let Some(tf) = e.file.downcast::<super::timerfd::TimerFd>() {
                let now = crate::kernel::timers::cpu_now(st, st.timers.clock_of(tf.timer));
                let (value, interval) = st.timers.get(tf.timer, now);
                let _ = write!(
                    s,
                    "clockid: {}\nticks: {}\nsettime flags: 0{:o}\nit_value: ({}, {})\nit_interval: ({}, {})\n",
                    tf.clock,
                    tf.count.count.load(std::sync::atomic::Ordering::Relaxed),
                    tf.settime_flags.load(std::sync::atomic::Ordering::Relaxed),
                    value.as_secs(),
                    value.subsec_nanos(),
                    interval.as_secs(),
                    interval.subsec_nanos()
                );
            } else if let Some(ep) = e.file.downcast::<super::epoll::Epoll>() {
                s.push_str(&ep.fdinfo());
            } else if let Some(i) = e.file.downcast::<super::inotify::InotifyFile>() {
                s.push_str(&i.ino.fdinfo());
            } else if let Some(ev) = e.file.downcast::<super::eventfd::EventFd>() {
                let (count, sem) = ev.state();
                let _ = write!(
                    s,
                    "eventfd-count: {count:16x}\neventfd-id: {ino}\neventfd-semaphore: {}\n",
                    u8::from(sem)
                );
            }
            Ok(Node::File(s.into_bytes()))
        }
        [b"net"] => Ok(Node::Dir(dir(NET_FILES))),
        [b"net", f] => {
            use crate::local::procnet;
            // The task's namespace (/proc/net is /proc/self/net).
            let n = &t.net_ns;
            if let Some(v) = n.host.get().and_then(|h| h.proc_file(f)) {
                return Ok(Node::File(v));
            }
            Ok(Node::File(match *f {
                b"unix" => procnet::unix(n),
                b"tcp" => procnet::table(n, true, false),
                b"tcp6" => procnet::table(n, true, true),
                b"udp" => procnet::table(n, false, false),
                b"udp6" => procnet::table(n, false, true),
                b"dev" => crate::local::iface::proc_dev(n),
                b"if_inet6" if n.lo_up() => IF_INET6.to_vec(),
                b"if_inet6" => Vec::new(),
                b"route" => crate::local::iface::proc_route(n),
                b"sockstat" => procnet::sockstat(n, false),
                b"sockstat6" => procnet::sockstat(n, true),
                b"snmp" => procnet::snmp(n),
                b"snmp6" => n.mib.snmp6().into_bytes(),
                b"netstat" => n.mib.netstat().into_bytes(),
                b"raw" => procnet::raw(n, false),
                b"raw6" => procnet::raw(n, true),
                b"arp" => procnet::ARP.to_vec(),
                b"packet" => procnet::PACKET.to_vec(),
                b"ipv6_route" => procnet::ipv6_route(n),
                b"igmp" => procnet::igmp(n),
                b"igmp6" => procnet::igmp6(n),
                _ => return Err(Errno::ENOENT),
            }))
        }
        [b"comm"] => {
            let mut v = t.comm.clone();
            v.push(b'\n');
            Ok(Node::Knob(v, Knob::Comm(t.tid)))
        }
        [b"cmdline"] => Ok(Node::File(cmdline(t))),
        [b"environ"] => {
            let (a, b) = t.mm.state.lock().env_range;
            Ok(Node::File(
                crate::mm::read_vec(&t.mm, a, crate::num::usize_of(b - a)).unwrap_or_default(),
            ))
        }
        [b"auxv"] => {
            let aux = t.mm.state.lock().auxv.clone();
            Ok(Node::File(
                aux.iter()
                    .flat_map(|(k, v)| [k.to_le_bytes(), v.to_le_bytes()])
                    .flatten()
                    .collect(),
            ))
        }
        [b"maps"] => Ok(Node::File(maps(t, false))),
        [b"smaps"] => Ok(Node::File(maps(t, true))),
        [b"status"] => Ok(Node::File(status(ns, st, t, reader, c.tid))),
        [b"stat"] => Ok(Node::File(stat(ns, st, t, c.tid, false))),
        [b"statm"] => {
            let (vsz, _) = vm_size(t);
            // resident, and of it shared (shared memory; host-file pages
            // are the host's and not counted).
            let (anon, shmem) = crate::kernel::cpu::resident(&t.mm, 0, u64::MAX);
            let (rss, shared) = ((anon + shmem) / 4096, shmem / 4096);
            Ok(Node::File(
                format!(
                    "{} {rss} {shared} {} 0 {} 0\n",
                    vsz / 4096,
                    code_kb(t).0 / 4,
                    data_kb(t) / 4
                )
                .into_bytes(),
            ))
        }
        [b"limits"] => Ok(Node::File(limits(&p.rlimits))),
        [b"mounts"] | [b"mountinfo"] => Ok(Node::File(mounts(c, rest[0] == b"mountinfo"))),
        [b"mountstats"] => Ok(Node::File(mountstats(c))),
        [b"timers"] => Ok(Node::File(timers(ns, st, p))),
        // Nothing is ever merged; whether the process asked to be is
        // kept (MADV_MERGEABLE).
        [b"ksm_merging_pages"] => Ok(Node::File(b"0\n".to_vec())),
        [b"ksm_stat"] => Ok(Node::File(
            format!(
                "ksm_rmap_items 0\nksm_zero_pages 0\nksm_merging_pages 0\nksm_process_profit 0\nksm_merge_any: no\nksm_mergeable: {}\n",
                if t.mm.ksm_mergeable.load(std::sync::atomic::Ordering::Relaxed) { "yes" } else { "no" }
            )
            .into_bytes(),
        )),
        [b"clear_refs"] => Ok(Node::Knob(Vec::new(), Knob::ClearRefs(p.tgid))),
        [b"oom_score_adj"] => Ok(Node::Knob(
            format!("{}\n", p.oom_score_adj).into_bytes(),
            Knob::OomScoreAdj(p.tgid),
        )),
        [b"oom_adj"] => Ok(Node::Knob(
            format!("{}\n", oom_adj_of(p.oom_score_adj)).into_bytes(),
            Knob::OomAdj(p.tgid),
        )),
        [b"oom_score"] => Ok(Node::File(b"0\n".to_vec())),
        [b"loginuid"] => Ok(Node::Knob(
            reader
                .uid_to_ns(p.loginuid)
                .unwrap_or(u32::MAX)
                .to_string()
                .into_bytes(),
            Knob::LoginUid(p.tgid),
        )),
        // No security module: Linux's attr files then refuse reads and
        // writes alike.
        [b"attr"] => Ok(Node::Dir(dir(ATTR_FILES))),
        [b"attr", f] if ATTR_FILES.iter().any(|a| a.as_bytes() == *f) => Ok(Node::NoLsm),
        [b"smaps_rollup"] => Ok(Node::File(smaps_rollup(t))),
        [b"io"] => {
            let mut io = p.dead_io;
            for th in p.threads.iter().filter_map(|x| st.tasks.get(x)) {
                io.add(th.io.totals());
            }
            Ok(Node::File(io.proc_file()))
        }
        [b"cgroup"] => Ok(cgroup_file(st, p, c.tid)),
        // cgroup v2: the cpuset controller's place is the process's cgroup.
        [b"cpuset"] => {
            let mut v = cgroup_path(st, p, c.tid);
            v.push(b'\n');
            Ok(Node::File(v))
        }
        // Project ids are not mapped by any namespace made inside: only the
        // first one has them all, as Linux's initial namespace.
        [b"projid_map"] => Ok(Node::File(if p.creds.userns.0.is_init() {
            b"         0          0 4294967295\n".to_vec()
        } else {
            Vec::new()
        })),
        // The offsets of the time namespace its children enter.
        [b"timens_offsets"] => Ok(Node::Timens(
            t.time_ns_children.offsets_text().into_bytes(),
            t.time_ns_children.clone(),
        )),
        [b"mem"] => {
            let allowed = st
                .tasks
                .get(&c.tid)
                .and_then(|me| st.procs.get(&me.tgid))
                .is_some_and(|caller| p.inspectable_by(caller));
            Ok(Node::Mem(t.mm.clone(), allowed))
        }
        // No audit session, and no kernel symbols to name a wait by.
        [b"sessionid"] => Ok(Node::File(b"4294967295".to_vec())),
        [b"wchan"] => Ok(Node::File(b"0".to_vec())),
        [b"coredump_filter"] => Ok(Node::Knob(
            format!("{:08x}\n", p.coredump_filter).into_bytes(),
            Knob::CoredumpFilter(p.tgid),
        )),
        [b"personality"] => Ok(Node::File(format!("{:08x}\n", p.personality).into_bytes())),
        [b"timerslack_ns"] => Ok(Node::Knob(
            format!("{}\n", t.timer_slack).into_bytes(),
            Knob::TimerSlack(t.tid),
        )),
        [b"schedstat"] => {
            let (u, s) = crate::kernel::cpu::thread_times(st, t.tid);
            Ok(Node::File(format!("{} 0 0\n", u + s).into_bytes()))
        }
        [b"ns"] => Ok(Node::Dir(
            NAMESPACES
                .iter()
                .map(|(n, _)| (n.as_bytes().to_vec(), libc::DT_LNK))
                .collect(),
        )),
        [b"ns", name] => {
            let (kind, ns) = ns_file(c, st, t, name).ok_or(Errno::ENOENT)?;
            Ok(Node::Link(format!("{kind}:[{}]", ns.ino).into_bytes()))
        }
        [name @ (b"uid_map" | b"gid_map" | b"setgroups")] => {
            let ns = p.creds.userns.0.clone();
            let uid = *name == b"uid_map";
            if ns.is_init() {
                // The container's own mapping onto the host's ids.
                return Ok(Node::File(match *name {
                    b"setgroups" => b"allow\n".to_vec(),
                    _ => super::idmap::render(uid),
                }));
            }
            let (data, which) = match *name {
                b"setgroups" => (ns.setgroups_text().to_vec(), MapFile::Setgroups),
                _ if uid => (ns.render(true, reader), MapFile::Uid),
                _ => (ns.render(false, reader), MapFile::Gid),
            };
            // Owned by the process, as Linux's /proc/PID files are (by
            // root while it is not dumpable).
            let owner = if p.dumpable != 0 {
                (p.creds.euid, p.creds.egid)
            } else {
                (0, 0)
            };
            Ok(Node::IdMap(data, ns, which, owner))
        }
        _ => Err(Errno::ENOENT),
    }
}

/// A name of the caller's UTS namespace, as /proc/sys/kernel shows it.
fn uts_name(c: &Caller, f: fn(&crate::kernel::uts::UtsNs) -> Vec<u8>) -> Node {
    let mut v = c.task().map(|t| f(&t.uts_ns)).unwrap_or_default();
    v.push(b'\n');
    Node::File(v)
}

/// /proc/sys/net/ipv4: what the sandbox's own stack does (its
/// TTL and TCP defaults; no forwarding; ping sockets refused; Linux's
/// buffer triples).
const NET_IPV4: &[(&str, &str)] = &[
    ("ip_forward", "0"),
    ("ip_default_ttl", "64"),
    ("ip_nonlocal_bind", "0"),
    ("ping_group_range", "1\t0"),
    ("tcp_congestion_control", "cubic"),
    ("tcp_available_congestion_control", "reno cubic"),
    ("tcp_allowed_congestion_control", "reno cubic"),
    ("tcp_keepalive_time", "7200"),
    ("tcp_keepalive_intvl", "75"),
    ("tcp_keepalive_probes", "9"),
    ("tcp_syn_retries", "6"),
    ("tcp_fin_timeout", "60"),
    ("tcp_rmem", "4096\t131072\t6291456"),
    ("tcp_wmem", "4096\t16384\t4194304"),
    ("tcp_max_syn_backlog", "4096"),
    ("tcp_timestamps", "1"),
    ("tcp_sack", "1"),
    ("tcp_window_scaling", "1"),
    ("tcp_fastopen", "1"),
];

fn sys_node(c: &Caller, rest: &[&[u8]]) -> KResult<Node> {
    let uts = |f: fn() -> String| Node::File(format!("{}\n", f()).into_bytes());
    Ok(match rest {
        [] => Node::Dir(vec![
            (b"kernel".to_vec(), libc::DT_DIR),
            (b"fs".to_vec(), libc::DT_DIR),
            (b"vm".to_vec(), libc::DT_DIR),
            (b"net".to_vec(), libc::DT_DIR),
        ]),
        [b"kernel"] => Node::Dir(dir(&[
            "hostname",
            "domainname",
            "osrelease",
            "ostype",
            "version",
            "pid_max",
            "ns_last_pid",
            "ngroups_max",
            "cap_last_cap",
            "overflowuid",
            "overflowgid",
            "core_pattern",
            "random",
            "shmmax",
            "shmall",
            "shmmni",
            "sem",
            "msgmax",
            "msgmnb",
            "msgmni",
        ])),
        [b"kernel", b"osrelease"] => uts(|| RELEASE.to_string()),
        [b"kernel", b"ostype"] => uts(|| "Linux".to_string()),
        [b"kernel", b"version"] => uts(|| VERSION.to_string()),
        [b"kernel", b"hostname"] => uts_name(c, |u| u.hostname()),
        [b"kernel", b"domainname"] => uts_name(c, |u| u.domainname()),
        [b"kernel", b"pid_max"] => uts(|| "4194304".to_string()),
        [b"kernel", b"ns_last_pid"] => {
            let ns = c.task()?.pid_ns.clone();
            let v = ns.last().unwrap_or(c.state()?.next_pid - 1);
            Node::LastPid(format!("{v}\n").into_bytes(), ns)
        }
        [b"kernel", b"ngroups_max"] => uts(|| "65536".to_string()),
        [b"kernel", b"cap_last_cap"] => uts(|| "40".to_string()),
        [b"kernel", b"overflowuid"] | [b"kernel", b"overflowgid"] => uts(|| "65534".to_string()),
        [b"kernel", b"core_pattern"] => uts(|| "core".to_string()),
        [b"kernel", b"random"] => Node::Dir(dir(&["boot_id", "uuid"])),
        [b"kernel", name] if crate::kernel::ipc::sysctl(name).is_some() => Node::File(
            format!("{}\n", crate::kernel::ipc::sysctl(name).unwrap_or_default()).into_bytes(),
        ),
        [b"kernel", b"random", _] => {
            let mut b = [0u8; 16];
            // SAFETY: filling our own buffer.
            unsafe { libc::getrandom(b.as_mut_ptr().cast(), 16, 0) };
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            Node::File(
                format!(
                    "{}-{}-{}-{}-{}\n",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                )
                .into_bytes(),
            )
        }
        [b"fs"] => Node::Dir({
            let mut d = dir(&[
                "file-max",
                "nr_open",
                "pipe-max-size",
                "pipe-user-pages-hard",
                "pipe-user-pages-soft",
            ]);
            d.push((b"mqueue".to_vec(), libc::DT_DIR));
            d
        }),
        [b"fs", b"file-max"] => uts(|| "9223372036854775807".to_string()),
        [b"fs", b"nr_open"] => uts(|| "1048576".to_string()),
        // What F_SETPIPE_SZ grows a pipe to at most.
        [b"fs", b"pipe-max-size"] => uts(|| "1048576".to_string()),
        // Linux's defaults; pipes here are bounded by the sandbox's memory.
        [b"fs", b"pipe-user-pages-hard"] => uts(|| "0".to_string()),
        [b"fs", b"pipe-user-pages-soft"] => uts(|| "16384".to_string()),
        [b"fs", b"mqueue"] => Node::Dir(dir(&[
            "msg_max",
            "msgsize_max",
            "queues_max",
            "msg_default",
            "msgsize_default",
        ])),
        [b"fs", b"mqueue", name] => {
            use super::mqueue::{MSGSIZE_MAX, MSG_MAX, QUEUES_MAX};
            let v = match *name {
                b"msg_max" | b"msg_default" => MSG_MAX,
                b"msgsize_max" | b"msgsize_default" => MSGSIZE_MAX,
                b"queues_max" => QUEUES_MAX,
                _ => return Err(Errno::ENOENT),
            };
            Node::File(format!("{v}\n").into_bytes())
        }
        [b"net"] => Node::Dir(
            ["core", "ipv4", "ipv6"]
                .iter()
                .map(|n| (n.as_bytes().to_vec(), libc::DT_DIR))
                .collect(),
        ),
        [b"net", b"core"] => Node::Dir(dir(&[
            "somaxconn",
            "rmem_default",
            "rmem_max",
            "wmem_default",
            "wmem_max",
        ])),
        [b"net", b"core", b"somaxconn"] => uts(|| crate::local::SOMAXCONN.to_string()),
        // The socket buffers' default and the most SO_RCVBUF/SO_SNDBUF
        // takes (doubled, as on Linux).
        [b"net", b"core", b"rmem_default" | b"rmem_max" | b"wmem_default" | b"wmem_max"] => {
            uts(|| crate::local::BUF_DEFAULT.to_string())
        }
        [b"net", b"ipv4", b"ip_unprivileged_port_start"] => {
            let ns = c.task()?.net_ns.clone();
            let v = ns.port_start.load(std::sync::atomic::Ordering::Relaxed);
            Node::PortStart(format!("{v}\n").into_bytes(), ns)
        }
        [b"net", b"ipv4"] => Node::Dir(dir(&["ip_local_port_range", "ip_unprivileged_port_start"]
            .into_iter()
            .chain(NET_IPV4.iter().map(|(n, _)| *n))
            .collect::<Vec<_>>())),
        [b"net", b"ipv4", b"ip_local_port_range"] => uts(|| {
            let r = crate::local::inet::EPHEMERAL;
            format!("{}\t{}", r.start(), r.end())
        }),
        [b"net", b"ipv4", name] => {
            let (_, v) = NET_IPV4
                .iter()
                .find(|(n, _)| n.as_bytes() == *name)
                .ok_or(Errno::ENOENT)?;
            Node::File(format!("{v}\n").into_bytes())
        }
        [b"net", b"ipv6"] => Node::Dir(vec![(b"conf".to_vec(), libc::DT_DIR)]),
        [b"net", b"ipv6", b"conf"] => Node::Dir({
            let mut d = dir(&["all", "default"]);
            for i in crate::local::iface::list(&c.task()?.net_ns) {
                d.push((i.name.into_bytes(), libc::DT_DIR));
            }
            d.iter_mut().for_each(|e| e.1 = libc::DT_DIR);
            d
        }),
        [b"net", b"ipv6", b"conf", _] => Node::Dir(dir(&["disable_ipv6"])),
        // IPv6 is on (lo has ::1).
        [b"net", b"ipv6", b"conf", _, b"disable_ipv6"] => uts(|| "0".to_string()),
        [b"vm"] => Node::Dir(dir(&[
            "overcommit_memory",
            "max_map_count",
            "mmap_min_addr",
        ])),
        [b"vm", b"overcommit_memory"] => uts(|| "0".to_string()),
        [b"vm", b"max_map_count"] => uts(|| "65530".to_string()),
        [b"vm", b"mmap_min_addr"] => uts(|| "65536".to_string()),
        _ => return Err(Errno::ENOENT),
    })
}

/// /proc/vmstat: the page counts the sandbox knows (free, anonymous,
/// shared memory); the event counters (faults, paging, swapping) are not
/// kept and read 0, as no paging to disk or swap happens inside.
fn vmstat(mf: &crate::memfile::MemFile) -> Vec<u8> {
    let page = 4096;
    let files = super::tmpfs::sandbox_bytes();
    let resident = mf.resident();
    let used = resident.max(files);
    let free = super::vfs::free_memory().min(super::vfs::total_memory().saturating_sub(used));
    let mut s = format!(
        "nr_free_pages {}\nnr_anon_pages {}\nnr_shmem {}\n",
        free / page,
        resident.saturating_sub(files) / page,
        files / page
    );
    for k in [
        "nr_file_pages",
        "nr_dirty",
        "nr_writeback",
        "pgpgin",
        "pgpgout",
        "pswpin",
        "pswpout",
        "pgfault",
        "pgmajfault",
        "pgfree",
        "pgsteal_kswapd",
        "pgscan_kswapd",
        "oom_kill",
    ] {
        s.push_str(k);
        s.push_str(" 0\n");
    }
    s.into_bytes()
}

/// A task's state letter: stopped (by a tracer or a signal), a zombie,
/// asleep in the sentry (S), or else running (R), as the reader is.
fn state_of(p: &crate::kernel::task::Process, t: &Task, reader: i32) -> char {
    if t.ptrace.as_ref().is_some_and(|tr| tr.stop.is_some()) {
        't'
    } else if p.stopped {
        'T'
    } else if p.exit.is_some() {
        'Z'
    } else if t.tid == reader || !t.waiter.asleep() {
        'R'
    } else {
        'S'
    }
}

/// Cpus_allowed and Cpus_allowed_list of an affinity mask (one bit per
/// CPU; empty: all `ncpu`): the hex mask in 32-bit groups, and the CPUs
/// as ranges.
pub(crate) fn cpus_allowed(affinity: &[u8], ncpu: usize) -> (String, String) {
    let on = |c: usize| {
        affinity.is_empty() || affinity.get(c / 8).is_some_and(|b| b & (1 << (c % 8)) != 0)
    };
    let top = ncpu.div_ceil(32).max(1) - 1;
    let mask: Vec<String> = (0..=top)
        .rev()
        .map(|g| {
            let word = (0..32)
                .filter(|b| g * 32 + b < ncpu && on(g * 32 + b))
                .fold(0u32, |w, b| w | (1 << b));
            // The top group is as wide as its CPUs need (%*pb).
            let width = match ncpu % 32 {
                r if g == top && r != 0 => r.div_ceil(4),
                _ => 8,
            };
            format!("{word:0width$x}")
        })
        .collect();
    let mask = mask.join(",");
    let mut list = Vec::new();
    let mut c = 0;
    while c < ncpu {
        if !on(c) {
            c += 1;
            continue;
        }
        let start = c;
        while c + 1 < ncpu && on(c + 1) {
            c += 1;
        }
        list.push(if start == c {
            start.to_string()
        } else {
            format!("{start}-{c}")
        });
        c += 1;
    }
    (mask, list.join(","))
}

fn meminfo(mf: &crate::memfile::MemFile) -> Vec<u8> {
    // SAFETY: sysinfo is a plain C struct; all-zero is valid.
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: sysinfo fills a plain struct.
    unsafe { libc::sysinfo(&mut si) };
    let u = si.mem_unit as u64;
    let kb = |x: u64| x * u / 1024;
    // The sandbox's size and what its memory and files leave free, not
    // the host's.
    let total = super::vfs::total_memory() / 1024;
    let files = super::tmpfs::sandbox_bytes();
    let resident = mf.resident();
    let free = super::vfs::sandbox_free(mf) / 1024;
    // The sandbox has no block devices, so no buffers of its own.
    let buffers = 0;
    let mut s = String::new();
    for (k, v) in [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", (free + buffers).min(total)),
        ("Buffers", buffers),
        // Linux's page cache holds tmpfs files (Shmem is part of it),
        // which is where free puts them (buff/cache), not in "used".
        ("Cached", files / 1024),
        ("SwapCached", 0),
        ("Active", 0),
        ("Inactive", 0),
        ("SwapTotal", kb(si.totalswap)),
        ("SwapFree", kb(si.freeswap)),
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", resident.saturating_sub(files) / 1024),
        ("Mapped", 0),
        ("Shmem", files / 1024),
        ("Slab", 0),
        ("CommitLimit", total),
        ("Committed_AS", 0),
        ("VmallocTotal", 34359738367),
        ("HugePages_Total", 0),
        ("Hugepagesize", 2048),
    ] {
        if k.starts_with("HugePages") {
            let _ = writeln!(s, "{:<16}{:>8}", format!("{k}:"), v);
        } else {
            let _ = writeln!(s, "{:<16}{:>8} kB", format!("{k}:"), v);
        }
    }
    s.into_bytes()
}

/// /proc/stat. The sandbox's CPU time (its processes', live and reaped)
/// is user and system time; the rest of its CPUs' time since it started
/// is idle. Which CPU ran what is not known: each line gets its share.
/// The CPU columns' header of /proc/interrupts and softirqs, after
/// `indent` spaces.
fn irq_head(indent: usize) -> String {
    let mut s = " ".repeat(indent);
    for i in 0..ncpu() {
        s.push_str(&format!("{:<11}", format!("CPU{i}")));
    }
    s.push('\n');
    s
}

/// The sandbox's CPUs' time since it started that it did not use.
fn idle_ns(st: &KState) -> u64 {
    let (user, sys) = crate::kernel::cpu::sandbox_times(st);
    let up = START.get().map_or(0, |s| s.elapsed().as_nanos());
    let all = u64::try_from(up)
        .unwrap_or(u64::MAX)
        .saturating_mul(ncpu() as u64);
    all.saturating_sub(user + sys)
}

fn sys_stat(st: &KState) -> Vec<u8> {
    let ncpu = ncpu();
    let (user, sys) = crate::kernel::cpu::sandbox_times(st);
    let ticks = |ns: u64| ns / 10_000_000;
    let idle = idle_ns(st);
    let line = |name: String, d: u64| {
        format!(
            "{name} {} 0 {} {} 0 0 0 0 0 0\n",
            ticks(user) / d,
            ticks(sys) / d,
            ticks(idle) / d
        )
    };
    let mut s = line("cpu ".into(), 1);
    for i in 0..ncpu {
        s.push_str(&line(format!("cpu{i}"), ncpu as u64));
    }
    let running = st
        .tasks
        .values()
        .filter(|t| !t.waiter.asleep())
        .count()
        .max(1);
    let btime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        - START.get().map(|s| s.elapsed().as_secs()).unwrap_or(0);
    let _ = write!(
        s,
        "intr 0\nctxt 0\nbtime {btime}\nprocesses {}\nprocs_running {running}\nprocs_blocked 0\n",
        st.next_pid - 1
    );
    s.into_bytes()
}

/// VmData: private writable mappings other than the stack, in KiB.
fn data_kb(t: &Task) -> u64 {
    t.mm.data_size() / 1024
}

fn vm_size(t: &Task) -> (u64, u64) {
    let st = t.mm.state.lock();
    let total: u64 = st.vmas.values().map(|v| v.end - v.start).sum();
    let stack: u64 = st
        .vmas
        .values()
        .filter(|v| v.name == VmaName::Stack)
        .map(|v| v.end - v.start)
        .sum();
    (total, stack)
}

fn devno(dev: u64) -> (u64, u64) {
    (
        ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff),
        (dev & 0xff) | ((dev >> 12) & !0xff),
    )
}

/// /proc/PID/cmdline. A program that overwrote the NUL ending its
/// arguments (setproctitle) shows its title instead, as Linux does: the
/// first string from the argument area on, running into the environment,
/// within a page.
fn cmdline(t: &Task) -> Vec<u8> {
    let (a, b, env_end) = {
        let m = t.mm.state.lock();
        (
            m.arg_range.0,
            m.arg_range.1,
            m.env_range.1.max(m.arg_range.1),
        )
    };
    if a >= b {
        return Vec::new();
    }
    let last = crate::mm::read_vec(&t.mm, b - 1, 1).unwrap_or_default();
    if last.first().is_some_and(|&c| c != 0) {
        let len = (env_end - a).min(4096);
        let mut v = crate::mm::read_vec(&t.mm, a, crate::num::usize_of(len)).unwrap_or_default();
        if let Some(n) = v.iter().position(|&c| c == 0) {
            v.truncate(n + 1);
        }
        return v;
    }
    crate::mm::read_vec(&t.mm, a, crate::num::usize_of(b - a)).unwrap_or_default()
}

/// /proc/PID/smaps_rollup: the whole address space as one region. The
/// resident memory is all the memory file's, private and dirty to the
/// sentry's accounting, as status's RssAnon shows it.
fn smaps_rollup(t: &Task) -> Vec<u8> {
    let regions = t.mm.regions();
    let (start, end) = match (regions.first(), regions.last()) {
        (Some(a), Some(b)) => (a.start, b.end),
        _ => (0, 0),
    };
    let rss = crate::kernel::cpu::rss_kb(&t.mm);
    let locked = (t.mm.locked_bytes() / 1024).min(rss);
    let mut s = format!("{start:08x}-{end:08x} ---p 00000000 00:00 0");
    while s.len() < 73 {
        s.push(' ');
    }
    s.push_str("[rollup]\n");
    for (name, v) in [
        ("Rss:", rss),
        ("Pss:", rss),
        ("Pss_Dirty:", rss),
        ("Pss_Anon:", rss),
        ("Pss_File:", 0),
        ("Pss_Shmem:", 0),
        ("Shared_Clean:", 0),
        ("Shared_Dirty:", 0),
        ("Private_Clean:", 0),
        ("Private_Dirty:", rss),
        ("Referenced:", rss),
        ("Anonymous:", rss),
    ] {
        let _ = writeln!(s, "{name:<16}{v:>8} kB");
    }
    unused_kinds(&mut s, locked);
    s.into_bytes()
}

/// The smaps and smaps_rollup lines for what this kernel never has (KSM,
/// lazy freeing, huge pages, swap), then Locked.
fn unused_kinds(s: &mut String, locked: u64) {
    for name in [
        "KSM:",
        "LazyFree:",
        "AnonHugePages:",
        "ShmemPmdMapped:",
        "FilePmdMapped:",
        "Shared_Hugetlb:",
        "Private_Hugetlb:",
        "Swap:",
        "SwapPss:",
    ] {
        let _ = writeln!(s, "{name:<16}{:>8} kB", 0);
    }
    let _ = writeln!(s, "{:<16}{locked:>8} kB", "Locked:");
}

fn maps(t: &Task, smaps: bool) -> Vec<u8> {
    let mut s = String::new();
    for v in &t.mm.regions() {
        let (off, dev, ino, name) = match &v.name {
            VmaName::File {
                path,
                dev,
                ino,
                off,
            } => (
                *off,
                *dev,
                *ino,
                String::from_utf8_lossy(&path.display()).into_owned(),
            ),
            VmaName::Heap => (0, 0, 0, "[heap]".into()),
            VmaName::Stack => (0, 0, 0, "[stack]".into()),
            VmaName::Vdso => (0, 0, 0, "[vdso]".into()),
            VmaName::Vvar => (0, 0, 0, "[vvar]".into()),
            // As Linux shows the segment's file: the id is its inode.
            VmaName::Shm { key, id } => (
                0,
                1,
                u64::try_from(*id).unwrap_or(0),
                format!("/SYSV{:08x} (deleted)", key.cast_unsigned()),
            ),
            // Shared anonymous memory is a deleted /dev/zero to Linux.
            VmaName::Anon if v.shared => (0, 1, 0, "/dev/zero (deleted)".into()),
            VmaName::Anon => (0, 0, 0, String::new()),
        };
        // The vDSO pages are the kernel's, private to each process.
        let shared = v.shared && !matches!(v.name, VmaName::Vdso | VmaName::Vvar);
        let (ma, mi) = devno(dev);
        let mut line = format!(
            "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
            v.start,
            v.end,
            if v.prot & libc::PROT_READ != 0 {
                'r'
            } else {
                '-'
            },
            if v.prot & libc::PROT_WRITE != 0 {
                'w'
            } else {
                '-'
            },
            if v.prot & libc::PROT_EXEC != 0 {
                'x'
            } else {
                '-'
            },
            if shared { 's' } else { 'p' },
            off,
            ma,
            mi,
            ino
        );
        if !name.is_empty() {
            while line.len() < 73 {
                line.push(' ');
            }
            line.push_str(&name);
        }
        s.push_str(&line);
        s.push('\n');
        if smaps {
            let kb = (v.end - v.start) / 1024;
            let mut flags: Vec<&str> = Vec::new();
            let prot = |b: i32| v.prot & b != 0;
            for (on, f) in [
                (prot(libc::PROT_READ), "rd"),
                (prot(libc::PROT_WRITE), "wr"),
                (prot(libc::PROT_EXEC), "ex"),
                (shared, "sh"),
                (true, "mr"),
                (v.maywrite, "mw"),
                (v.mayexec, "me"),
                (shared, "ms"),
                (v.growsdown, "gd"),
                (v.locked, "lo"),
                (!shared && prot(libc::PROT_WRITE), "ac"),
            ] {
                if on {
                    flags.push(f);
                }
            }
            let (private, shmem) = crate::kernel::cpu::resident(&t.mm, v.start, v.end);
            let (private, shmem) = (private / 1024, shmem / 1024);
            let rss = private + shmem;
            // A private copy of a file is anonymous memory, as Linux's
            // copied-on-write pages are.
            let anon = private;
            let locked = if v.locked { rss } else { 0 };
            // Every page here is dirty memory-file memory; no huge pages,
            // KSM, lazy freeing or swap; protection key 0 (shown where
            // the CPU has keys, as Linux shows it).
            for (name, v) in [
                ("Size:", kb),
                ("KernelPageSize:", 4),
                ("MMUPageSize:", 4),
                ("Rss:", rss),
                ("Pss:", rss),
                ("Pss_Dirty:", rss),
                ("Shared_Clean:", 0),
                ("Shared_Dirty:", shmem),
                ("Private_Clean:", 0),
                ("Private_Dirty:", private),
                ("Referenced:", rss),
                ("Anonymous:", anon),
            ] {
                let _ = writeln!(s, "{name:<16}{v:>8} kB");
            }
            unused_kinds(&mut s, locked);
            s.push_str("THPeligible:           0\n");
            if cpu_has_pkeys() {
                s.push_str("ProtectionKey:         0\n");
            }
            let _ = writeln!(s, "VmFlags: {} ", flags.join(" "));
        }
    }
    s.into_bytes()
}

/// Whether the host CPU has protection keys the kernel uses (cpuinfo's
/// "ospke"): smaps then shows each mapping's key.
fn cpu_has_pkeys() -> bool {
    static KEYS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KEYS.get_or_init(|| {
        HOST_CPUINFO.get().is_some_and(|c| {
            c.split(|&b| b == b'\n')
                .find(|l| l.starts_with(b"flags"))
                .is_some_and(|l| l.split(|&b| b == b' ').any(|w| w == b"ospke"))
        })
    })
}

fn sigset_hex(s: u64) -> String {
    format!("{s:016x}")
}

/// status's Mems_allowed: node 0 of Linux's 1024 possible nodes.
const MEMS_ALLOWED: &str = "00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000001";

fn status(ns: &PidNs, st: &KState, t: &Task, reader: &UserNs, reader_tid: i32) -> Vec<u8> {
    let p = &st.procs[&t.tgid];
    // Resident pages of the memory file; pages of host files mapped in
    // are not counted (RssFile stays 0).
    let (anon, shmem) = crate::kernel::cpu::resident(&t.mm, 0, u64::MAX);
    let (anon, shmem) = (anon / 1024, shmem / 1024);
    let rss = anon + shmem;
    let hwm =
        t.mm.hiwater_kb
            .fetch_max(rss, std::sync::atomic::Ordering::Relaxed)
            .max(rss);
    let (vsz, stack) = vm_size(t);
    let (text, lib) = code_kb(t);
    let c = &p.creds;
    let h = p.sighand.lock();
    let (mut ign, mut cgt) = (0u64, 0u64);
    for (i, a) in h.iter().enumerate() {
        if a.handler == 1 {
            ign |= 1 << i;
        } else if a.handler > 1 {
            cgt |= 1 << i;
        }
    }
    let state = match state_of(p, t, reader_tid) {
        't' => "t (tracing stop)",
        'T' => "T (stopped)",
        'Z' => "Z (zombie)",
        'R' => "R (running)",
        _ => "S (sleeping)",
    };
    let allowed = cpus_allowed(&t.sched.affinity, ncpu());
    let groups: Vec<String> = c
        .groups
        .iter()
        .map(|&g| reader.gid_shown(g).to_string())
        .collect();
    let (u, g) = (|x| reader.uid_shown(x), |x| reader.gid_shown(x));
    format!(
        "Name:\t{}\nUmask:\t{:04o}\nState:\t{}\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\nTracerPid:\t{}\nUid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t64\nGroups:\t{} \nNStgid:\t{}\nNSpid:\t{}\nNSpgid:\t{}\nNSsid:\t{}\nKthread:\t0\nVmPeak:\t{:>8} kB\nVmSize:\t{:>8} kB\nVmLck:\t{:>8} kB\nVmPin:\t       0 kB\nVmHWM:\t{:>8} kB\nVmRSS:\t{:>8} kB\nRssAnon:\t{:>8} kB\nRssFile:\t       0 kB\nRssShmem:\t{:>8} kB\nVmData:\t{:>8} kB\nVmStk:\t{:>8} kB\nVmExe:\t{:>8} kB\nVmLib:\t{:>8} kB\nVmPTE:\t       0 kB\nVmSwap:\t       0 kB\nHugetlbPages:\t       0 kB\nCoreDumping:\t0\nTHP_enabled:\t1\nuntag_mask:\t0xffffffffffffffff\nThreads:\t{}\nSigQ:\t{}/{}\nSigPnd:\t{}\nShdPnd:\t{}\nSigBlk:\t{}\nSigIgn:\t{}\nSigCgt:\t{}\nCapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nCapAmb:\t{:016x}\nNoNewPrivs:\t{}\nSeccomp:\t{}\nSeccomp_filters:\t{}\nSpeculation_Store_Bypass:\tthread vulnerable\nSpeculationIndirectBranch:\tconditional enabled\nCpus_allowed:\t{}\nCpus_allowed_list:\t{}\nMems_allowed:\t{MEMS_ALLOWED}\nMems_allowed_list:\t0\nvoluntary_ctxt_switches:\t{}\nnonvoluntary_ctxt_switches:\t0\n",
        String::from_utf8_lossy(&t.comm),
        t.fs.lock().umask,
        state,
        ns.vnr(t.tgid),
        ns.vnr(t.tid),
        ns.vnr(p.ppid),
        ns.vnr(t.ptrace.as_ref().map_or(0, |tr| tr.tracer)),
        u(c.ruid), u(c.euid), u(c.suid), u(c.fsuid),
        g(c.rgid), g(c.egid), g(c.sgid), g(c.fsgid),
        groups.join(" "),
        ns_ids(ns, &t.pid_ns, t.tgid),
        ns_ids(ns, &t.pid_ns, t.tid),
        ns_ids(ns, &t.pid_ns, p.pgid),
        ns_ids(ns, &t.pid_ns, p.sid),
        vsz / 1024, vsz / 1024, t.mm.locked_bytes() / 1024,
        hwm, rss, anon, shmem, data_kb(t), stack / 1024, text, lib,
        p.threads.len(),
        queued_signals(st, p.creds.ruid),
        p.rlimits[libc::RLIMIT_SIGPENDING as usize].0,
        sigset_hex(t.pending.set),
        sigset_hex(p.shared_pending.set),
        sigset_hex(t.sig_mask.get()),
        sigset_hex(ign),
        sigset_hex(cgt),
        c.caps.inheritable,
        c.caps.permitted,
        c.caps.effective,
        c.caps.bounding,
        c.caps.ambient,
        u8::from(p.no_new_privs),
        if t.seccomp_strict { 1 } else if t.seccomp.is_some() { 2 } else { 0 },
        t.seccomp.as_ref().map_or(0, |c| c.count()),
        allowed.0,
        allowed.1,
        // The task's own, as Linux's status shows them.
        t.waiter.voluntary(),
    )
    .into_bytes()
}

/// Signals queued for processes of real uid `uid` (status's SigQ, which
/// RLIMIT_SIGPENDING bounds per user).
fn queued_signals(st: &KState, uid: u32) -> usize {
    st.procs
        .values()
        .filter(|p| p.creds.ruid == uid)
        .map(|p| {
            p.shared_pending.infos.len()
                + p.threads
                    .iter()
                    .filter_map(|t| st.tasks.get(t))
                    .map(|t| t.pending.infos.len())
                    .sum::<usize>()
        })
        .sum()
}

/// What is mapped executable, in KiB: the executable's code (VmExe,
/// statm's text: its code span in whole pages, at most all there is)
/// and the rest (VmLib: the libraries, the vDSO). Linux's exec_vm counts
/// mappings executable and not writable, stacks aside.
fn code_kb(t: &Task) -> (u64, u64) {
    let exec: u64 = t
        .mm
        .regions()
        .iter()
        .filter(|v| v.prot & libc::PROT_EXEC != 0 && v.prot & libc::PROT_WRITE == 0 && !v.growsdown)
        .map(|v| v.end - v.start)
        .sum();
    let (start, end) = t.mm.state.lock().code_range;
    let text = crate::memfile::page_up(end)
        .saturating_sub(start & !0xfff)
        .min(exec);
    (text / 1024, (exec - text) / 1024)
}

/// /proc/PID/stat: proc(5)'s 52 fields (`thread`: task/TID/stat, with
/// the thread's own CPU times).
fn stat(ns: &PidNs, st: &KState, t: &Task, reader: i32, thread: bool) -> Vec<u8> {
    let p = &st.procs[&t.tgid];
    let (vsz, _) = vm_size(t);
    let rss_pages = crate::kernel::cpu::rss_kb(&t.mm) / 4;
    let m = t.mm.state.lock();
    let state = state_of(p, t, reader);
    let ticks = |ns: u64| ns / 10_000_000;
    let start_ticks = START
        .get()
        .map(|s| t.start.saturating_duration_since(*s).as_millis() / 10)
        .unwrap_or(0);
    let (utime, stime) = if thread {
        crate::kernel::cpu::thread_times(st, t.tid)
    } else {
        crate::kernel::cpu::process_times(st, t.tgid)
    };
    let (tty_nr, tpgid) = match &p.ctty {
        Some(pty) => (
            (136u64 << 8) | u64::from(pty.index),
            ns.vnr(pty.session().1),
        ),
        None => (0, -1),
    };
    let h = p.sighand.lock();
    let (mut ign, mut cgt) = (0u64, 0u64);
    for (i, a) in h.iter().enumerate() {
        if a.handler == 1 {
            ign |= 1 << i;
        } else if a.handler > 1 {
            cgt |= 1 << i;
        }
    }
    drop(h);
    let rsslim = p.rlimits[libc::RLIMIT_RSS as usize].0;
    // The layout is for readers ptrace would let look (Linux's
    // do_task_stat): code as 1 1, the rest as 0, for others.
    let permitted = st
        .tasks
        .get(&reader)
        .and_then(|r| st.procs.get(&r.tgid))
        .is_some_and(|r| p.inspectable_by(r));
    let shown = |v: u64| if permitted { v } else { 0 };
    let (code, data) = if permitted {
        (m.code_range, m.data_range)
    } else {
        ((1, 1), (0, 0))
    };
    let f: Vec<String> = vec![
        ns.vnr(t.tid).to_string(),
        format!("({})", String::from_utf8_lossy(&t.comm)),
        state.to_string(),
        ns.vnr(p.ppid).to_string(),
        ns.vnr(p.pgid).to_string(),
        ns.vnr(p.sid).to_string(),
        tty_nr.to_string(),
        tpgid.to_string(),
        // PF_RANDOMIZE, as a process not in a system call shows.
        "4194304".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        ticks(utime).to_string(),
        ticks(stime).to_string(),
        ticks(p.child_times.0).to_string(),
        ticks(p.child_times.1).to_string(),
        (20 + p.nice).to_string(),
        p.nice.to_string(),
        p.threads.len().to_string(),
        "0".into(),
        start_ticks.to_string(),
        vsz.to_string(),
        rss_pages.to_string(),
        rsslim.to_string(),
        code.0.to_string(),
        code.1.to_string(),
        shown(m.stack_top).to_string(),
        "0".into(),
        "0".into(),
        (t.pending.set | p.shared_pending.set).to_string(),
        t.sig_mask.get().to_string(),
        ign.to_string(),
        cgt.to_string(),
        "0".into(),
        "0".into(),
        "0".into(),
        // A thread other than the leader signals nobody (-1).
        if t.tid == t.tgid { p.exit_signal } else { -1 }.to_string(),
        crate::kernel::cpu::current_cpu().to_string(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        data.0.to_string(),
        data.1.to_string(),
        shown(m.brk_start).to_string(),
        shown(m.arg_range.0).to_string(),
        shown(m.arg_range.1).to_string(),
        shown(m.env_range.0).to_string(),
        shown(m.env_range.1).to_string(),
        p.exit.as_ref().map_or(0, |e| e.status).to_string(),
    ];
    debug_assert_eq!(f.len(), 52);
    format!("{}\n", f.join(" ")).into_bytes()
}

fn limits(r: &[(u64, u64); 16]) -> Vec<u8> {
    const NAMES: [(&str, &str); 16] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let f = |v: u64| {
        if v == u64::MAX {
            "unlimited".to_string()
        } else {
            v.to_string()
        }
    };
    let mut s = format!(
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    for (i, (n, u)) in NAMES.iter().enumerate() {
        // A limit without a unit has no padding after it.
        let _ = write!(s, "{:<25} {:<20} {:<20} ", n, f(r[i].0), f(r[i].1));
        if !u.is_empty() {
            let _ = write!(s, "{u:<10}");
        }
        s.push('\n');
    }
    s.into_bytes()
}

fn mounts(c: &Caller, info: bool) -> Vec<u8> {
    let mut s = String::new();
    for m in c.vfs.mounts(c).iter() {
        let mut opts = vec![if m.flags & libc::MS_RDONLY != 0 {
            "ro"
        } else {
            "rw"
        }];
        for (bit, name) in [
            (libc::MS_NOSUID, "nosuid"),
            (libc::MS_NODEV, "nodev"),
            (libc::MS_NOEXEC, "noexec"),
            (libc::MS_NOATIME, "noatime"),
            (libc::MS_NODIRATIME, "nodiratime"),
        ] {
            if m.flags & bit != 0 {
                opts.push(name);
            }
        }
        if m.flags & (libc::MS_NOATIME | libc::MS_STRICTATIME) == 0 {
            opts.push("relatime");
        }
        let opts = opts.join(",");
        let point = String::from_utf8_lossy(&m.point);
        let sb = if m.flags & libc::MS_RDONLY != 0 {
            "ro"
        } else {
            "rw"
        };
        if info {
            let root = format!("/{}", String::from_utf8_lossy(&m.root));
            let dev = m.fs.lookup(c, &m.root).map(|st| st.dev).unwrap_or(0);
            let _ = writeln!(
                s,
                "{} {} {}:{} {} {} {} - {} {} {}",
                m.id,
                m.parent,
                libc::major(dev),
                libc::minor(dev),
                root,
                point,
                opts,
                m.fs.fstype(),
                m.source,
                sb
            );
        } else {
            let _ = writeln!(s, "{} {} {} {} 0 0", m.source, point, m.fs.fstype(), opts);
        }
    }
    s.into_bytes()
}

/// /proc/PID/mountstats: a line for each mount of the caller's view.
fn mountstats(c: &Caller) -> Vec<u8> {
    let mut s = String::new();
    for m in c.vfs.mounts(c).iter() {
        let _ = writeln!(
            s,
            "device {} mounted on {} with fstype {}",
            m.source,
            String::from_utf8_lossy(&m.point),
            m.fs.fstype()
        );
    }
    s.into_bytes()
}

/// /proc/PID/timers: the process's POSIX timers, the newest first, as
/// Linux lists them (ids in the reader's PID namespace).
fn timers(ns: &PidNs, st: &KState, p: &crate::kernel::task::Process) -> Vec<u8> {
    use crate::kernel::timers::Target;
    let mut s = String::new();
    for (_, key) in p.posix_timers.iter().rev() {
        let Some(Target::Posix {
            tgid,
            tid,
            signo,
            value,
            id,
            how,
            clockid,
            ..
        }) = st.timers.all.get(key).map(|t| &t.target)
        else {
            continue;
        };
        let kind = match how & !libc::SIGEV_THREAD_ID {
            libc::SIGEV_NONE => "none",
            libc::SIGEV_THREAD => "thread",
            _ => "signal",
        };
        let (whom, pid) = match tid {
            Some(t) if how & libc::SIGEV_THREAD_ID != 0 => ("tid", *t),
            _ => ("pid", *tgid),
        };
        let _ = write!(
            s,
            "ID: {id}\nsignal: {signo}/{value:016x}\nnotify: {kind}/{whom}.{}\nClockID: {clockid}\n",
            ns.vnr(pid)
        );
    }
    s.into_bytes()
}

/// A directory's permissions: a process's fd directory is its owner's,
/// its ns directory searchable by all; the rest are r-x for all.
fn dir_mode(rel: &[u8]) -> u32 {
    match pid_entry(rel) {
        Some(b"fd") => 0o500,
        Some(b"ns") => 0o511,
        _ => 0o555,
    }
}

/// The name of `rel` when it is an entry of /proc/PID or of a thread's
/// directory under it.
fn pid_entry(rel: &[u8]) -> Option<&[u8]> {
    let p: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
    match p.as_slice() {
        [pid, b"task", _, name] | [pid, name] if parse_pid(pid).is_some() => Some(name),
        _ => None,
    }
}

/// The permissions of a generated file under /proc/PID (or a thread's
/// directory): Linux's, the private ones its owner's alone.
fn file_mode(rel: &[u8]) -> u32 {
    let Some(name) = pid_entry(rel) else {
        return 0o444;
    };
    match name {
        b"auxv" | b"environ" | b"io" | b"personality" | b"ksm_merging_pages" | b"ksm_stat"
        | b"mountstats" => 0o400,
        b"uid_map" | b"gid_map" | b"setgroups" | b"projid_map" => 0o644,
        _ => 0o444,
    }
}

impl Filesystem for ProcFs {
    fn fstype(&self) -> &'static str {
        "proc"
    }

    fn names_fixed(&self) -> bool {
        true
    }

    fn statfs(&self) -> KResult<crate::fs::StatFs> {
        Ok(crate::fs::StatFs {
            f_type: 0x9fa0,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..Default::default()
        })
    }

    fn lookup(&self, c: &Caller, rel: &[u8]) -> KResult<Stat> {
        let ino = ino_of(rel);
        let mut st = self.lookup_node(c, rel, ino)?;
        // What is under /proc/PID belongs to the process's effective
        // ids, or to root while it is not dumpable (as Linux's).
        if let Some((uid, gid)) = owner(&self.ns, c, rel) {
            st.uid = uid;
            st.gid = gid;
        }
        Ok(st)
    }

    fn magic_file(&self, c: &Caller, rel: &[u8]) -> Option<Arc<File>> {
        self.magic(c, rel)
    }

    fn is_magic_link(&self, rel: &[u8]) -> bool {
        self.is_magic(rel)
    }

    fn readlink(&self, c: &Caller, rel: &[u8]) -> KResult<Vec<u8>> {
        self.read_link(c, rel)
    }

    fn open(&self, c: &Caller, rel: &[u8], flags: i32, mode: u32) -> KResult<Box<dyn FileOps>> {
        self.open_node(c, rel, flags, mode)
    }
}

/// Whether Linux makes /proc file `rel` a seq_file, which seeks from its
/// start or the current position only (SEEK_END is EINVAL). The others,
/// sysctls and a process's cmdline, environ, auxv and a few knobs, seek
/// as a file of size 0.
fn seq_file(rel: &[u8]) -> bool {
    let last = rel.rsplit(|&b| b == b'/').next().unwrap_or(rel);
    !(rel.starts_with(b"sys/")
        || matches!(
            last,
            b"cmdline"
                | b"environ"
                | b"auxv"
                | b"oom_score_adj"
                | b"oom_adj"
                | b"coredump_filter"
                | b"loginuid"
                | b"sessionid"
        ))
}

/// lseek(2) on a generated /proc file, as `seq_file` says Linux does.
fn proc_seek(seq: bool, f: &File, off: i64, whence: i32) -> KResult<u64> {
    if seq && whence == libc::SEEK_END {
        return Err(Errno::EINVAL);
    }
    super::synth::seek_in(f, off, whence, 0)
}

/// A generated file: its contents as of the open, and again as of each
/// later read from its start (Linux's seq_file), which is how monitors
/// that keep it open (vmstat, top, free -s) see the present.
struct ProcFile {
    ns: Arc<PidNs>,
    rel: Vec<u8>,
    data: parking_lot::Mutex<Vec<u8>>,
    /// Made at the open and not read yet: the first read takes it.
    fresh: std::sync::atomic::AtomicBool,
    stat: Stat,
}

impl FileOps for ProcFile {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        Ok(super::synth::read_in(f, &self.data.lock(), buf, off))
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EACCES)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        proc_seek(seq_file(&self.rel), f, off, whence)
    }
    fn refresh(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        f: &File,
        off: Option<u64>,
    ) -> KResult<()> {
        use std::sync::atomic::Ordering;
        let at = off.unwrap_or_else(|| *f.pos.lock());
        if at != 0 || self.fresh.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        if let Node::File(d) = node(&self.ns, &cx.caller(), &self.rel)? {
            *self.data.lock() = d;
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A link's st_size as Linux gives it: 64 for an fd, 0 for a process's
/// other links and for self and thread-self, the target's length for
/// proc's fixed links (mounts, net).
fn link_size(rel: &[u8], target: &[u8]) -> i64 {
    let p: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
    match p.as_slice() {
        [_, b"fd", _] | [_, b"task", _, b"fd", _] => 64,
        [b"self" | b"thread-self"] => 0,
        [pid, ..] if parse_pid(pid).is_some() => 0,
        _ => crate::num::len_i64(target.len()),
    }
}

/// The owner of `rel` when it lies under /proc/PID.
fn owner(ns: &PidNs, c: &Caller, rel: &[u8]) -> Option<(u32, u32)> {
    let first = rel.split(|&b| b == b'/').next()?;
    let st = c.st?;
    let t = st.tasks.get(&ns.global(parse_pid(first)?)?)?;
    let p = st.procs.get(&t.tgid)?;
    Some(if p.dumpable != 0 {
        (p.creds.euid, p.creds.egid)
    } else {
        (0, 0)
    })
}

impl ProcFs {
    /// The global id of a /proc/PID name.
    fn pid_of(&self, name: &[u8]) -> Option<i32> {
        self.ns.global(parse_pid(name)?)
    }

    fn lookup_node(&self, c: &Caller, rel: &[u8], ino: u64) -> KResult<Stat> {
        let st = self.lookup_kind(c, rel, ino)?;
        // Linux's proc inodes are made when first looked up: their
        // times are about now.
        let ns = crate::kernel::time::host_ns(libc::CLOCK_REALTIME);
        let t = (ns / 1_000_000_000, ns % 1_000_000_000);
        Ok(Stat {
            atime: t,
            mtime: t,
            ctime: t,
            ..st
        })
    }

    fn lookup_kind(&self, c: &Caller, rel: &[u8], ino: u64) -> KResult<Stat> {
        Ok(match node(&self.ns, c, rel)? {
            Node::Dir(_) | Node::FdDir(..) => stat_of(libc::S_IFDIR | dir_mode(rel), ino, DEV, 0),
            Node::File(_) => stat_of(libc::S_IFREG | file_mode(rel), ino, DEV, 0),
            Node::Mem(..) => stat_of(libc::S_IFREG | 0o600, ino, DEV, 0),
            Node::IdMap(_, _, _, (uid, gid)) => Stat {
                uid,
                gid,
                ..stat_of(libc::S_IFREG | 0o644, ino, DEV, 0)
            },
            Node::Denied(mode) => stat_of(mode, ino, DEV, 0),
            Node::Knob(_, k) => stat_of(libc::S_IFREG | k.mode(), ino, DEV, 0),
            Node::PortStart(..) => stat_of(libc::S_IFREG | 0o644, ino, DEV, 0),
            Node::LastPid(..) => stat_of(libc::S_IFREG | 0o666, ino, DEV, 0),
            Node::Timens(..) => stat_of(libc::S_IFREG | 0o644, ino, DEV, 0),
            Node::NoLsm => stat_of(libc::S_IFREG | 0o666, ino, DEV, 0),
            Node::Link(l) => stat_of(
                libc::S_IFLNK | self.link_mode(c, rel),
                ino,
                DEV,
                link_size(rel, &l),
            ),
        })
    }

    /// A link's permission bits: an fd's say how it is open (r-x for
    /// reading, -wx for writing, both for both, none for O_PATH), as
    /// lsof reads them; other links are rwxrwxrwx.
    fn link_mode(&self, c: &Caller, rel: &[u8]) -> u32 {
        let p: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
        if !matches!(p.as_slice(), [_, b"fd", _] | [_, b"task", _, b"fd", _]) {
            return 0o777;
        }
        let Some(f) = self.magic(c, rel) else {
            return 0o777;
        };
        let flags = f.flags();
        if flags & libc::O_PATH != 0 {
            return 0;
        }
        let mut mode = 0;
        if f.readable() {
            mode |= 0o500;
        }
        if f.writable() {
            mode |= 0o300;
        }
        mode
    }

    fn magic(&self, c: &Caller, rel: &[u8]) -> Option<Arc<File>> {
        let p: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
        // Another's fds and namespaces are ptrace's business.
        {
            let st = c.st?;
            let t = st.tasks.get(&self.pid_of(p.first()?)?)?;
            let me = c.process().ok()?;
            if !st.procs.get(&t.tgid)?.inspectable_by(me) {
                return None;
            }
        }
        if let [pid, b"ns", name] = p.as_slice() {
            let st = c.st?;
            let t = st.tasks.get(&self.pid_of(pid)?)?;
            // Opening another's namespace is ptrace's business.
            let me = c.process().ok()?;
            if !st.procs.get(&t.tgid)?.inspectable_by(me) {
                return None;
            }
            let (kind, f) = ns_file(c, st, t, name)?;
            return Some(File::new(
                Box::new(f),
                libc::O_RDONLY,
                kind.as_bytes().to_vec(),
            ));
        }
        // The running program, open, even once removed.
        if let [who, b"exe"] | [_, b"task", who, b"exe"] = p.as_slice() {
            let st = c.st?;
            let t = st.tasks.get(&self.pid_of(who)?)?;
            return t.mm.state.lock().exe_file.clone();
        }
        let (who, fd) = match p.as_slice() {
            [pid, b"fd", n] => (*pid, *n),
            [_, b"task", tid, b"fd", n] => (*tid, *n),
            _ => return None,
        };
        let id = self.pid_of(who)?;
        let fd: i32 = std::str::from_utf8(fd).ok()?.parse().ok()?;
        let st = c.st?;
        let tid = if st.tasks.contains_key(&id) {
            id
        } else {
            *st.procs.get(&id)?.threads.first()?
        };
        st.tasks.get(&tid)?.files.lock().get(fd).ok()
    }

    fn is_magic(&self, rel: &[u8]) -> bool {
        let p: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
        let tail = match p.as_slice() {
            [_, b"task", _, rest @ ..] => rest,
            [_, rest @ ..] => rest,
            _ => return false,
        };
        matches!(
            tail,
            [b"fd", _] | [b"exe"] | [b"cwd"] | [b"root"] | [b"ns", _]
        )
    }

    fn read_link(&self, c: &Caller, rel: &[u8]) -> KResult<Vec<u8>> {
        match node(&self.ns, c, rel)? {
            Node::Link(l) => Ok(l),
            Node::Denied(_) => Err(Errno::EACCES),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open_node(
        &self,
        c: &Caller,
        rel: &[u8],
        flags: i32,
        _mode: u32,
    ) -> KResult<Box<dyn FileOps>> {
        let ino = ino_of(rel);
        match node(&self.ns, c, rel)? {
            Node::Dir(_) | Node::FdDir(..) => Ok(Box::new(ProcDir {
                ns: self.ns.clone(),
                rel: rel.to_vec(),
                stat: stat_of(libc::S_IFDIR | 0o555, ino, DEV, 0),
            })),
            Node::File(data) => {
                if flags & libc::O_ACCMODE != libc::O_RDONLY {
                    return Err(Errno::EACCES);
                }
                Ok(Box::new(ProcFile {
                    ns: self.ns.clone(),
                    rel: rel.to_vec(),
                    data: parking_lot::Mutex::new(data),
                    fresh: std::sync::atomic::AtomicBool::new(true),
                    stat: stat_of(libc::S_IFREG | file_mode(rel), ino, DEV, 0),
                }))
            }
            Node::Link(_) => Err(Errno::ELOOP),
            Node::Mem(_, false) | Node::Denied(_) => Err(Errno::EACCES),
            Node::Mem(mm, true) => Ok(Box::new(ProcMem {
                mm,
                stat: stat_of(libc::S_IFREG | 0o600, ino, DEV, 0),
            })),
            Node::Knob(data, knob) => Ok(Box::new(WritableFile {
                data: parking_lot::Mutex::new(data),
                sets: Sets::Knob(knob),
                seq: seq_file(rel),
                stat: stat_of(libc::S_IFREG | knob.mode(), ino, DEV, 0),
            })),
            Node::PortStart(data, ns) => Ok(Box::new(WritableFile {
                data: parking_lot::Mutex::new(data),
                sets: Sets::PortStart(ns),
                seq: seq_file(rel),
                stat: stat_of(libc::S_IFREG | 0o644, ino, DEV, 0),
            })),
            Node::LastPid(data, ns) => Ok(Box::new(WritableFile {
                data: parking_lot::Mutex::new(data),
                sets: Sets::LastPid(ns),
                seq: seq_file(rel),
                stat: stat_of(libc::S_IFREG | 0o666, ino, DEV, 0),
            })),
            Node::Timens(data, ns) => Ok(Box::new(WritableFile {
                data: parking_lot::Mutex::new(data),
                sets: Sets::Timens(ns),
                seq: seq_file(rel),
                stat: stat_of(libc::S_IFREG | 0o644, ino, DEV, 0),
            })),
            Node::NoLsm => Ok(Box::new(NoLsmFile {
                stat: stat_of(libc::S_IFREG | 0o666, ino, DEV, 0),
            })),
            Node::IdMap(data, ns, which, (uid, gid)) => Ok(Box::new(WritableFile {
                data: parking_lot::Mutex::new(data),
                sets: Sets::IdMap(ns, which),
                seq: seq_file(rel),
                stat: Stat {
                    uid,
                    gid,
                    ..stat_of(libc::S_IFREG | 0o644, ino, DEV, 0)
                },
            })),
        }
    }
}

/// An open /proc/PID/attr file: without a security module there is
/// nothing to read or set.
struct NoLsmFile {
    stat: Stat,
}

impl FileOps for NoLsmFile {
    fn read(&self, _f: &File, _buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        super::synth::seek_in(f, off, whence, 0)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// What a write to a writable /proc file sets.
enum Sets {
    Knob(Knob),
    /// uid_map, gid_map or setgroups of a user namespace the application
    /// made: written once, by a process of that namespace or of its
    /// parent with CAP_SYS_ADMIN over it, under user_namespaces(7)'s
    /// rules.
    IdMap(Arc<UserNs>, MapFile),
    PortStart(Arc<crate::local::Names>),
    LastPid(Arc<PidNs>),
    Timens(Arc<crate::kernel::timens::TimeNs>),
}

/// An open writable /proc file: reads what it held when opened; a write
/// sets it, with Linux's checks.
struct WritableFile {
    data: parking_lot::Mutex<Vec<u8>>,
    sets: Sets,
    /// Seeks as a seq_file (`seq_file`).
    seq: bool,
    stat: Stat,
}

impl FileOps for WritableFile {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        // clear_refs has nothing to read.
        if matches!(self.sets, Sets::Knob(Knob::ClearRefs(_))) {
            return Err(Errno::EINVAL);
        }
        SynthFile {
            data: self.data.lock().clone(),
            stat: self.stat,
        }
        .read(f, buf, off)
    }
    /// A read from the start sees the value now (one this file or
    /// another wrote meanwhile), as a sysctl's does.
    fn refresh(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        f: &File,
        off: Option<u64>,
    ) -> KResult<()> {
        if off.unwrap_or_else(|| *f.pos.lock()) != 0 {
            return Ok(());
        }
        let now = match &self.sets {
            Sets::LastPid(ns) => format!("{}\n", ns.last().unwrap_or(cx.st.next_pid - 1)),
            Sets::Timens(ns) => ns.offsets_text(),
            _ => return Ok(()),
        };
        *self.data.lock() = now.into_bytes();
        Ok(())
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn caller_writes(&self) -> bool {
        true
    }
    fn offset_write(&self) -> super::file::OffsetWrite {
        match self.sets {
            Sets::LastPid(_) | Sets::PortStart(_) => super::file::OffsetWrite::Ignore,
            Sets::Timens(_) => super::file::OffsetWrite::Refuse,
            _ => super::file::OffsetWrite::Apply,
        }
    }
    fn write_by(&self, cx: &mut crate::kernel::Ctx<'_, '_>, data: &[u8]) -> KResult<usize> {
        match &self.sets {
            Sets::Knob(k) => set_knob(*k, cx, data),
            Sets::IdMap(ns, which) => set_idmap(ns, *which, cx, data),
            Sets::PortStart(ns) => set_port_start(ns, cx, data),
            Sets::LastPid(ns) => set_last_pid(ns, cx, data),
            Sets::Timens(ns) => set_timens_offsets(ns, cx, data),
        }
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        proc_seek(self.seq, f, off, whence)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// comm (within the writer's thread group) or oom_score_adj.
fn set_knob(knob: Knob, cx: &mut crate::kernel::Ctx<'_, '_>, data: &[u8]) -> KResult<usize> {
    match knob {
        Knob::Comm(tid) => {
            // Only within the writer's own thread group; the name is
            // what was written, up to 15 bytes (a newline included).
            let own = cx.st.tasks.get(&tid).is_some_and(|t| t.tgid == cx.tgid());
            if !own {
                return Err(Errno::EINVAL);
            }
            let name = &data[..data.len().min(15)];
            let name = name.split(|&b| b == 0).next().unwrap_or_default().to_vec();
            if let Some(t) = cx.st.tasks.get_mut(&tid) {
                t.comm = name;
            }
            Ok(data.len())
        }
        Knob::OomScoreAdj(tgid) => {
            let v: i32 = knob_number(data)?;
            if !(-1000..=1000).contains(&v) {
                return Err(Errno::EINVAL);
            }
            set_oom_score_adj(cx, tgid, v)?;
            Ok(data.len())
        }
        Knob::OomAdj(tgid) => {
            let v: i32 = knob_number(data)?;
            if !(-17..=15).contains(&v) {
                return Err(Errno::EINVAL);
            }
            let adj = match v {
                15 => 1000,
                -17 => -1000,
                v => v * 1000 / 17,
            };
            set_oom_score_adj(cx, tgid, adj)?;
            Ok(data.len())
        }
        Knob::LoginUid(tgid) => {
            // Only a process's own, set once without CAP_AUDIT_CONTROL;
            // "-1" or 4294967295 unsets it.
            if tgid != cx.tgid() {
                return Err(Errno::EPERM);
            }
            let text = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
            let v: u32 = match text.parse::<i64>().map_err(|_| Errno::EINVAL)? {
                -1 => u32::MAX,
                v => u32::try_from(v).map_err(|_| Errno::EINVAL)?,
            };
            let p = cx.proc_ref();
            let may = p.creds.capable(crate::kernel::creds::cap::AUDIT_CONTROL);
            if !may && p.loginuid != u32::MAX {
                return Err(Errno::EPERM);
            }
            // A uid the writer's namespace cannot name is EINVAL.
            let v = if v == u32::MAX {
                v
            } else {
                p.creds.userns.0.uid_from_ns(v).ok_or(Errno::EINVAL)?
            };
            cx.proc_().loginuid = v;
            Ok(data.len())
        }
        Knob::CoredumpFilter(tgid) => {
            let text = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
            let v = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                Some(h) => u32::from_str_radix(h, 16),
                None if text.starts_with('0') && text.len() > 1 => {
                    u32::from_str_radix(&text[1..], 8)
                }
                None => text.parse(),
            }
            .map_err(|_| Errno::EINVAL)?;
            let p = cx.st.procs.get_mut(&tgid).ok_or(Errno::ESRCH)?;
            // Linux keeps the nine filter bits it knows.
            p.coredump_filter = v & 0x1ff;
            Ok(data.len())
        }
        Knob::ClearRefs(tgid) => {
            // 1-4 clear the referenced and soft-dirty bits, which this
            // kernel does not keep (smaps and pagemap do not show them);
            // 5 restarts the peak resident size (VmHWM) from now.
            let text = &data[..data.len().min(12)];
            let text = std::str::from_utf8(text).map_err(|_| Errno::EINVAL)?;
            let v: i32 = text
                .trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0')
                .parse()
                .map_err(|_| Errno::EINVAL)?;
            if !(1..=5).contains(&v) {
                return Err(Errno::EINVAL);
            }
            let p = cx.st.procs.get(&tgid).ok_or(Errno::ESRCH)?;
            let leader = p.threads.first().and_then(|t| cx.st.tasks.get(t));
            if let (5, Some(t)) = (v, leader) {
                t.mm.hiwater_kb
                    .store(0, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(data.len())
        }
        Knob::TimerSlack(tid) => {
            let v: u64 = knob_number(data)?;
            if tid != cx.tid
                && !cx
                    .proc_ref()
                    .creds
                    .capable(crate::kernel::creds::cap::SYS_NICE)
            {
                return Err(Errno::EPERM);
            }
            let t = cx.st.tasks.get_mut(&tid).ok_or(Errno::ESRCH)?;
            t.timer_slack = if v == 0 {
                crate::kernel::task::DEFAULT_SLACK
            } else {
                v
            };
            Ok(data.len())
        }
    }
}

/// Sets process `tgid`'s oom_score_adj; lowering it takes CAP_SYS_RESOURCE.
fn set_oom_score_adj(cx: &mut crate::kernel::Ctx<'_, '_>, tgid: i32, v: i32) -> KResult<()> {
    let cur = cx.st.procs.get(&tgid).ok_or(Errno::ESRCH)?.oom_score_adj;
    let may = cx
        .proc_ref()
        .creds
        .capable(crate::kernel::creds::cap::SYS_RESOURCE);
    if v < cur && !may {
        return Err(Errno::EACCES);
    }
    if let Some(p) = cx.st.procs.get_mut(&tgid) {
        p.oom_score_adj = v;
    }
    Ok(())
}

/// A decimal number written to a /proc file, surrounding blanks allowed.
/// ip_unprivileged_port_start: 0 to 65535, never past the start of the
/// ephemeral range (ipv4_privileged_ports); root of the namespace's
/// owner, or CAP_NET_ADMIN over it, writes it (net_ctl_permissions).
fn set_port_start(
    ns: &crate::local::Names,
    cx: &mut crate::kernel::Ctx<'_, '_>,
    data: &[u8],
) -> KResult<usize> {
    use crate::kernel::creds::cap;
    let c = &cx.proc_ref().creds;
    let owner = ns.owner();
    if !c.capable_in(&owner, cap::NET_ADMIN) && owner.uid_to_ns(c.euid) != Some(0) {
        return Err(Errno::EPERM);
    }
    let v: i64 = knob_number(data)?;
    let v = u32::try_from(v)
        .ok()
        .filter(|&v| v <= 65535)
        .ok_or(Errno::EINVAL)?;
    if u32::from(*crate::local::inet::EPHEMERAL.start()) < v {
        return Err(Errno::EINVAL);
    }
    ns.port_start.store(v, std::sync::atomic::Ordering::Relaxed);
    Ok(data.len())
}

/// ns_last_pid: where the namespace's next number search starts (what
/// checkpoint/restore tools set), for CAP_SYS_ADMIN or
/// CAP_CHECKPOINT_RESTORE over the namespace.
fn set_last_pid(ns: &PidNs, cx: &mut crate::kernel::Ctx<'_, '_>, data: &[u8]) -> KResult<usize> {
    use crate::kernel::creds::cap;
    let c = &cx.proc_ref().creds;
    if !c.capable_in(&ns.owner, cap::SYS_ADMIN) && !c.capable_in(&ns.owner, cap::LAST) {
        return Err(Errno::EPERM);
    }
    let Some((v, used)) = sysctl_int(data)? else {
        return Ok(0);
    };
    let v = i32::try_from(v)
        .ok()
        .filter(|v| (0..=crate::kernel::pidns::PID_MAX).contains(v))
        .ok_or(Errno::EINVAL)?;
    if ns.is_first() {
        // The search starts past it.
        cx.st.next_pid = crate::kernel::pidns::next_number(v).max(2);
    } else {
        ns.set_last(v);
    }
    Ok(used)
}

/// One integer as a sysctl (proc_dointvec) takes it: blanks around it, a
/// minus sign but no plus, a base given by its prefix (0x hex, 0 octal),
/// a blank or the end after it. None for an empty write; the value and
/// the bytes taken (through the blanks after it).
fn sysctl_int(data: &[u8]) -> KResult<Option<(i64, usize)>> {
    if data.is_empty() {
        return Ok(None);
    }
    let blank = |c: u8| c.is_ascii_whitespace() || c == 0;
    let mut i = data.iter().take_while(|&&c| blank(c)).count();
    let neg = data.get(i) == Some(&b'-');
    i += usize::from(neg);
    let rest = &data[i..];
    let (radix, skip) = match rest {
        [b'0', b'x' | b'X', ..] => (16, 2),
        [b'0', _, ..] => (8, 1),
        _ => (10, 0),
    };
    let digits = rest[skip..]
        .iter()
        .take_while(|c| char::from(**c).is_digit(radix))
        .count();
    if digits == 0 && skip != 1 {
        return Err(Errno::EINVAL);
    }
    let text = std::str::from_utf8(&rest[skip..skip + digits]).map_err(|_| Errno::EINVAL)?;
    let v = if text.is_empty() {
        0
    } else {
        i64::from_str_radix(text, radix).map_err(|_| Errno::EINVAL)?
    };
    let end = i + skip + digits;
    if data.get(end).is_some_and(|&c| !blank(c)) {
        return Err(Errno::EINVAL);
    }
    let used = end + data[end..].iter().take_while(|&&c| blank(c)).count();
    Ok(Some((if neg { -v } else { v }, used)))
}

/// timens_offsets as Linux's timens_offsets_write takes it: under a page,
/// read up to a NUL, lines of "CLOCK SECS NSECS" (CLOCK by name or
/// number; anything after the three fields ignored; no plus signs),
/// at most two, the bytes after the second not taken. CAP_SYS_TIME over
/// the namespace's owner; all checked before any is applied, and only
/// until a task has entered.
fn set_timens_offsets(
    ns: &crate::kernel::timens::TimeNs,
    cx: &mut crate::kernel::Ctx<'_, '_>,
    data: &[u8],
) -> KResult<usize> {
    use crate::kernel::creds::cap;
    if data.len() >= crate::num::usize_of(crate::memfile::PAGE) {
        return Err(Errno::EINVAL);
    }
    let text = &data[..data.iter().position(|&c| c == 0).unwrap_or(data.len())];
    let mut used = data.len();
    let mut want = Vec::new();
    let mut at = 0;
    loop {
        let line_end = text[at..].iter().position(|&c| c == b'\n').map(|n| at + n);
        let line = &text[at..line_end.unwrap_or(text.len())];
        want.push(timens_line(line)?);
        let next = match line_end {
            Some(e) if e + 1 < text.len() => e + 1,
            _ => break,
        };
        if want.len() == 2 {
            used = next;
            break;
        }
        at = next;
    }
    if !cx.proc_ref().creds.capable_in(&ns.owner, cap::SYS_TIME) {
        return Err(Errno::EPERM);
    }
    let now = cx.k.clock.mono_ns();
    let mut set = Vec::new();
    for (clock, secs, nsec) in want {
        set.push((clock, ns.check_offset(clock, secs, nsec, now)?));
    }
    for (clock, off) in set {
        ns.set_offset(clock, off);
    }
    Ok(used)
}

/// One timens_offsets line: (clock, seconds, nanoseconds). Seconds past
/// 64 bits are ERANGE, as the kernel's scanf gives them.
fn timens_line(line: &[u8]) -> KResult<(i32, i64, i64)> {
    let text = std::str::from_utf8(line).map_err(|_| Errno::EINVAL)?;
    let mut w = text.split_ascii_whitespace();
    let (Some(clock), Some(secs), Some(nsec)) = (w.next(), w.next(), w.next()) else {
        return Err(Errno::EINVAL);
    };
    let clock = match clock {
        "monotonic" | "1" => libc::CLOCK_MONOTONIC,
        "boottime" | "7" => libc::CLOCK_BOOTTIME,
        _ => return Err(Errno::EINVAL),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let (neg, mag) = match secs.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, secs),
    };
    if !digits(mag) || !digits(nsec) {
        return Err(Errno::EINVAL);
    }
    let big: i128 = mag.parse().unwrap_or(i128::MAX);
    let secs = i64::try_from(if neg { -big } else { big }).map_err(|_| Errno::ERANGE)?;
    let nsec: u64 = nsec.parse().unwrap_or(u64::MAX);
    if nsec >= 1_000_000_000 {
        return Err(Errno::EINVAL);
    }
    Ok((clock, secs, crate::num::sbits(nsec)))
}

fn knob_number<T: std::str::FromStr>(data: &[u8]) -> KResult<T> {
    let text = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
    text.trim().parse().map_err(|_| Errno::EINVAL)
}

fn set_idmap(
    ns: &Arc<UserNs>,
    which: MapFile,
    cx: &mut crate::kernel::Ctx<'_, '_>,
    data: &[u8],
) -> KResult<usize> {
    use crate::kernel::creds::cap;
    let c = &cx.proc_ref().creds;
    let parent = ns.parent.clone().ok_or(Errno::EPERM)?;
    let from_here = Arc::ptr_eq(&c.userns, ns) || Arc::ptr_eq(&c.userns, &parent);
    if !from_here || !c.capable_in(ns, cap::SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    match which {
        MapFile::Setgroups => ns.write_setgroups(data)?,
        MapFile::Uid => {
            let privileged = c.capable_in(&parent, cap::SETUID);
            ns.write_map(true, data, privileged, c.euid, c.euid)?;
        }
        MapFile::Gid => {
            let privileged = c.capable_in(&parent, cap::SETGID);
            ns.write_map(false, data, privileged, c.euid, c.egid)?;
        }
    }
    Ok(data.len())
}

/// /proc/PID/mem open: the process's memory at the file's offsets. A
/// transfer goes a page at a time and stops at the first page that is
/// not there (EIO if that is the first); writes reach read-only private
/// pages too, as Linux's FOLL_FORCE does (debuggers set breakpoints so).
struct ProcMem {
    mm: Arc<crate::mm::Mm>,
    stat: Stat,
}

impl ProcMem {
    fn transfer(
        &self,
        f: &File,
        len: usize,
        off: Option<u64>,
        mut one: impl FnMut(u64, usize, usize) -> KResult<()>,
    ) -> KResult<usize> {
        let mut pos = f.pos.lock();
        let start = off.unwrap_or(*pos);
        let mut done = 0usize;
        while done < len {
            let addr = start.wrapping_add(done as u64);
            let n = (4096 - crate::num::usize_of(addr & 4095)).min(len - done);
            if one(addr, done, n).is_err() {
                break;
            }
            done += n;
        }
        if done == 0 && len > 0 {
            return Err(Errno::EIO);
        }
        if off.is_none() {
            *pos = start.wrapping_add(done as u64);
        }
        Ok(done)
    }
}

impl FileOps for ProcMem {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        let mm = self.mm.clone();
        self.transfer(f, buf.len(), off, |addr, at, n| {
            mm.read_force(addr, &mut buf[at..at + n])
        })
    }
    fn write(&self, f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        let mm = self.mm.clone();
        self.transfer(f, buf.len(), off, |addr, at, n| {
            mm.write_force(addr, &buf[at..at + n])
        })
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        let mut pos = f.pos.lock();
        *pos = match whence {
            libc::SEEK_SET => crate::num::bits(off),
            libc::SEEK_CUR => pos.wrapping_add(crate::num::bits(off)),
            _ => return Err(Errno::EINVAL),
        };
        Ok(*pos)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The process whose /proc/PID directory `f` is open on, if it is one
/// (pidfd_send_signal takes such an fd for a pidfd).
pub fn process_dir_pid(f: &File) -> Option<i32> {
    let d = f.ops.as_any().downcast_ref::<ProcDir>()?;
    if d.rel.is_empty() || !d.rel.iter().all(u8::is_ascii_digit) {
        return None;
    }
    parse_pid(&d.rel).and_then(|p| d.ns.global(p))
}

/// A procfs directory: listed when read, so it shows the state of that
/// moment (an fd opened on /proc/self/fd sees itself).
struct ProcDir {
    ns: Arc<PidNs>,
    rel: Vec<u8>,
    stat: Stat,
}

impl FileOps for ProcDir {
    fn read(&self, _f: &File, _buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EISDIR)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn readdir_for(&self, c: &Caller) -> KResult<Vec<DirEntry>> {
        let entries = match node(&self.ns, c, &self.rel)? {
            Node::Dir(entries) => entries,
            Node::FdDir(files, kind) => files
                .lock()
                .fds
                .keys()
                .map(|f| (f.to_string().into_bytes(), kind))
                .collect(),
            _ => return Err(Errno::ENOTDIR),
        };
        Ok(entries
            .into_iter()
            .map(|(name, kind)| DirEntry {
                ino: ino_of(&[self.rel.as_slice(), b"/", &name].concat()),
                kind,
                name,
            })
            .collect())
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        super::synth::seek_in(f, off, whence, 0)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The IPC namespace of task `t`'s process.
fn ipc_ns_of(st: &KState, t: &crate::kernel::task::Task) -> crate::kernel::ipc::NsId {
    st.procs.get(&t.tgid).map_or(0, |p| p.ipc_ns)
}

#[cfg(test)]
mod tests {
    use super::cpus_allowed;

    #[test]
    fn cpus_allowed_reads_as_linux_prints_it() {
        assert_eq!(cpus_allowed(&[], 2), ("3".into(), "0-1".into()));
        assert_eq!(cpus_allowed(&[2], 2), ("2".into(), "1".into()));
        assert_eq!(cpus_allowed(&[0b1011], 4), ("b".into(), "0-1,3".into()));
        assert_eq!(cpus_allowed(&[], 40), ("ff,ffffffff".into(), "0-39".into()));
        assert_eq!(cpus_allowed(&[], 64).0, "ffffffff,ffffffff");
    }
}
