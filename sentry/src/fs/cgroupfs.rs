//! cgroup2: the sandbox's cgroup hierarchy (`kernel::cgroup`) as files,
//! mounted at /sys/fs/cgroup and by `mount -t cgroup2`. Every mount
//! shows the same tree, rooted at the container's cgroup, with Linux's
//! nsdelegate rule: inside, the root's own files are read-only except
//! cgroup.procs, cgroup.threads and cgroup.subtree_control.
//! Directories are cgroups: mkdir makes one, rmdir removes an empty one.

use super::file::{File, FileOps};
use super::synth::{seek_in, stat_of, SynthDir};
use super::vfs::{Caller, Filesystem};
use crate::errno::{Errno, KResult};
use crate::fs::{DirEntry, Stat};
use crate::kernel::cgroup::{self, ctl, Tree, ROOT};
use crate::kernel::{Ctx, KState};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const DEV: u64 = 0x1c;
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Controllers,
    Events,
    Kill,
    MaxDepth,
    MaxDescendants,
    Procs,
    Stat,
    SubtreeControl,
    Threads,
    Type,
    CpuStat,
    CpuMax,
    CpuWeight,
    MemCurrent,
    MemMax,
    MemStat,
    PidsCurrent,
    PidsEvents,
    PidsMax,
}

/// Every file: name, kind, permissions, the controller it belongs to (0:
/// every cgroup has it).
const FILES: [(&str, Kind, u32, u8); 19] = [
    ("cgroup.controllers", Kind::Controllers, 0o444, 0),
    ("cgroup.events", Kind::Events, 0o444, 0),
    ("cgroup.kill", Kind::Kill, 0o200, 0),
    ("cgroup.max.depth", Kind::MaxDepth, 0o644, 0),
    ("cgroup.max.descendants", Kind::MaxDescendants, 0o644, 0),
    ("cgroup.procs", Kind::Procs, 0o644, 0),
    ("cgroup.stat", Kind::Stat, 0o444, 0),
    ("cgroup.subtree_control", Kind::SubtreeControl, 0o644, 0),
    ("cgroup.threads", Kind::Threads, 0o644, 0),
    ("cgroup.type", Kind::Type, 0o644, 0),
    ("cpu.max", Kind::CpuMax, 0o644, ctl::CPU),
    ("cpu.stat", Kind::CpuStat, 0o444, 0),
    ("cpu.weight", Kind::CpuWeight, 0o644, ctl::CPU),
    ("memory.current", Kind::MemCurrent, 0o444, ctl::MEMORY),
    ("memory.max", Kind::MemMax, 0o644, ctl::MEMORY),
    ("memory.stat", Kind::MemStat, 0o444, ctl::MEMORY),
    ("pids.current", Kind::PidsCurrent, 0o444, ctl::PIDS),
    ("pids.events", Kind::PidsEvents, 0o444, ctl::PIDS),
    ("pids.max", Kind::PidsMax, 0o644, ctl::PIDS),
];

/// The files the root may write from inside (nsdelegate).
fn delegatable(k: Kind) -> bool {
    matches!(k, Kind::Procs | Kind::Threads | Kind::SubtreeControl)
}

/// The container's own limits, which the host enforces on the sandbox.
#[derive(Default)]
struct HostLimits {
    /// cpu.max: (quota, period) in µs.
    cpu_max: Option<(u64, u64)>,
    cpu_weight: Option<u64>,
}

pub struct CgroupFs {
    pub tree: Arc<Mutex<Tree>>,
    host: Mutex<HostLimits>,
    /// The sandbox's task limit (0: none), the root's pids.max.
    root_pids_max: AtomicU64,
    memfile: Arc<crate::memfile::MemFile>,
}

impl CgroupFs {
    pub fn new(memfile: &Arc<crate::memfile::MemFile>) -> CgroupFs {
        CgroupFs {
            tree: Default::default(),
            host: Default::default(),
            root_pids_max: AtomicU64::new(0),
            memfile: memfile.clone(),
        }
    }

    /// The container's CPU quota and period (µs) and weight, for the
    /// root's cpu.max and cpu.weight.
    pub fn set_host_cpu(&self, max: Option<(u64, u64)>, weight: Option<u64>) {
        let mut h = self.host.lock();
        h.cpu_max = max;
        h.cpu_weight = weight;
    }

    /// The sandbox's task limit, for the root's pids.max.
    pub fn set_root_pids_max(&self, limit: Option<usize>) {
        let v = limit.map_or(0, |n| n as u64);
        self.root_pids_max.store(v, Ordering::Relaxed);
    }

    /// The path of cgroup `id` as /proc/PID/cgroup shows it.
    pub fn path_of(&self, id: u64) -> Vec<u8> {
        self.tree.lock().path(id)
    }
}

/// Where `rel` points: a cgroup, or one of a cgroup's files.
enum Place {
    Dir(u64),
    File(u64, usize),
}

/// The index in FILES of `name` if cgroup `id` has that file.
fn file_of(tree: &Tree, id: u64, name: &[u8]) -> Option<usize> {
    let have = tree.controllers(id);
    FILES
        .iter()
        .position(|&(n, _, _, c)| n.as_bytes() == name && (c == 0 || have & c != 0))
}

fn locate(tree: &Tree, rel: &[u8]) -> KResult<Place> {
    let parts: Vec<&[u8]> = rel
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty())
        .collect();
    if let Some(id) = tree.resolve(parts.iter().copied()) {
        return Ok(Place::Dir(id));
    }
    let (last, dir) = parts.split_last().ok_or(Errno::ENOENT)?;
    let id = tree.resolve(dir.iter().copied()).ok_or(Errno::ENOENT)?;
    file_of(tree, id, last)
        .map(|i| Place::File(id, i))
        .ok_or(Errno::ENOENT)
}

fn dir_stat(tree: &Tree, id: u64) -> Stat {
    let n = tree.get(id);
    let born = n.map_or((0, 0), |n| n.born);
    Stat {
        nlink: 2 + n.map_or(0, |n| n.children.len() as u64),
        atime: born,
        mtime: born,
        ctime: born,
        ..stat_of(libc::S_IFDIR | 0o755, (id + 1) << 8, DEV, 0)
    }
}

fn file_stat(tree: &Tree, id: u64, i: usize) -> Stat {
    let born = tree.get(id).map_or((0, 0), |n| n.born);
    Stat {
        atime: born,
        mtime: born,
        ctime: born,
        ..stat_of(
            libc::S_IFREG | FILES[i].2,
            ((id + 1) << 8) | (i as u64 + 1),
            DEV,
            0,
        )
    }
}

/// Processes (live ones) in cgroup `id` itself, by tgid.
fn members(st: &KState, id: u64) -> Vec<i32> {
    let mut v: Vec<i32> = st
        .procs
        .values()
        .filter(|p| p.cgroup == id && p.exit.is_none() && !p.threads.is_empty())
        .map(|p| p.tgid)
        .collect();
    v.sort_unstable();
    v
}

/// Tasks counted against cgroup `id` (its subtree): every task not yet
/// reaped, as the pids controller charges them.
pub fn tasks_in(st: &KState, tree: &Tree, id: u64) -> u64 {
    st.tasks
        .values()
        .filter(|t| {
            st.procs
                .get(&t.tgid)
                .is_some_and(|p| tree.within(p.cgroup, id))
        })
        .count() as u64
}

fn populated(st: &KState, tree: &Tree, id: u64) -> bool {
    st.procs
        .values()
        .any(|p| p.exit.is_none() && !p.threads.is_empty() && tree.within(p.cgroup, id))
}

impl CgroupFs {
    /// The contents of file `kind` of cgroup `id` now.
    fn contents(&self, st: &KState, tree: &Tree, id: u64, kind: Kind) -> Vec<u8> {
        let node = tree.get(id);
        let s = match kind {
            Kind::Controllers => cgroup::names(tree.controllers(id)),
            Kind::SubtreeControl => cgroup::names(node.map_or(0, |n| n.subtree_control)),
            Kind::Events => format!(
                "populated {}\nfrozen 0\n",
                u8::from(populated(st, tree, id))
            ),
            Kind::Kill => String::new(),
            Kind::MaxDepth => cgroup::show_max(node.and_then(|n| n.max_depth)),
            Kind::MaxDescendants => cgroup::show_max(node.and_then(|n| n.max_descendants)),
            Kind::Procs => members(st, id).iter().map(|p| format!("{p}\n")).collect(),
            Kind::Threads => {
                let mut tids: Vec<i32> = members(st, id)
                    .iter()
                    .flat_map(|p| st.procs[p].threads.iter().copied())
                    .collect();
                tids.sort_unstable();
                tids.iter().map(|t| format!("{t}\n")).collect()
            }
            Kind::Stat => format!(
                "nr_descendants {}\nnr_dying_descendants 0\n",
                tree.descendants(id)
            ),
            Kind::Type => "domain\n".into(),
            Kind::CpuStat => {
                let (mut user, mut sys) = (0u64, 0u64);
                for p in st.procs.values().filter(|p| tree.within(p.cgroup, id)) {
                    let (u, s) = crate::kernel::cpu::process_times(st, p.tgid);
                    user += u;
                    sys += s;
                }
                for n in tree.ids().into_iter().filter(|&n| tree.within(n, id)) {
                    if let Some(n) = tree.get(n) {
                        user += n.dead_cpu.0;
                        sys += n.dead_cpu.1;
                    }
                }
                let (user, sys) = (user / 1000, sys / 1000);
                format!(
                    "usage_usec {}\nuser_usec {user}\nsystem_usec {sys}\n",
                    user + sys
                )
            }
            Kind::CpuMax => match self.host.lock().cpu_max {
                Some((q, p)) => format!("{q} {p}\n"),
                None => "max 100000\n".into(),
            },
            Kind::CpuWeight => format!("{}\n", self.host.lock().cpu_weight.unwrap_or(100)),
            Kind::MemCurrent => format!("{}\n", self.memfile.resident()),
            Kind::MemMax => cgroup::show_max(Some(super::vfs::memory_limit()).filter(|&m| m > 0)),
            Kind::MemStat => format!("anon {}\n", self.memfile.resident()),
            Kind::PidsCurrent => format!("{}\n", tasks_in(st, tree, id)),
            Kind::PidsEvents => format!("max {}\n", node.map_or(0, |n| n.pids_refused)),
            Kind::PidsMax => {
                if id == ROOT {
                    let m = self.root_pids_max.load(Ordering::Relaxed);
                    cgroup::show_max(Some(m).filter(|&m| m > 0))
                } else {
                    cgroup::show_max(node.and_then(|n| n.pids_max))
                }
            }
        };
        s.into_bytes()
    }
}

/// The pid a cgroup.procs or cgroup.threads write names (0: the caller).
fn written_pid(data: &[u8]) -> KResult<i32> {
    let s = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
    let n: i64 = s.parse().map_err(|_| Errno::EINVAL)?;
    i32::try_from(n)
        .ok()
        .filter(|&n| n >= 0)
        .ok_or(Errno::EINVAL)
}

impl Filesystem for CgroupFs {
    fn fstype(&self) -> &'static str {
        "cgroup2"
    }

    fn lookup(&self, _c: &Caller, rel: &[u8]) -> KResult<Stat> {
        let tree = self.tree.lock();
        Ok(match locate(&tree, rel)? {
            Place::Dir(id) => dir_stat(&tree, id),
            Place::File(id, i) => file_stat(&tree, id, i),
        })
    }

    fn open(&self, c: &Caller, rel: &[u8], flags: i32, _mode: u32) -> KResult<Box<dyn FileOps>> {
        let tree = self.tree.lock();
        match locate(&tree, rel)? {
            Place::Dir(id) => {
                let have = tree.controllers(id);
                let mut entries: Vec<DirEntry> = FILES
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.3 == 0 || have & f.3 != 0)
                    .map(|(i, f)| DirEntry {
                        ino: ((id + 1) << 8) | (i as u64 + 1),
                        kind: libc::DT_REG,
                        name: f.0.as_bytes().to_vec(),
                    })
                    .collect();
                if let Some(n) = tree.get(id) {
                    entries.extend(n.children.iter().map(|(name, &cid)| DirEntry {
                        ino: (cid + 1) << 8,
                        kind: libc::DT_DIR,
                        name: name.clone(),
                    }));
                }
                Ok(Box::new(SynthDir {
                    entries,
                    stat: dir_stat(&tree, id),
                }))
            }
            Place::File(id, i) => {
                let (_, kind, mode, _) = FILES[i];
                // What a file cannot do fails at the read or write, not
                // at the open (root may open any of them either way).
                let readable = mode & 0o444 != 0;
                let data = if readable && flags & libc::O_ACCMODE != libc::O_WRONLY {
                    self.contents(c.state()?, &tree, id, kind)
                } else {
                    Vec::new()
                };
                Ok(Box::new(CgroupFile {
                    tree: self.tree.clone(),
                    id,
                    kind,
                    readable,
                    data,
                    stat: file_stat(&tree, id, i),
                }))
            }
        }
    }

    fn read_only(&self) -> bool {
        false
    }

    fn mknod(&self, _c: &Caller, rel: &[u8], mode: u32, _rdev: u64, _o: (u32, u32)) -> KResult<()> {
        match mode & libc::S_IFMT {
            libc::S_IFDIR => {}
            libc::S_IFREG => return Err(Errno::EACCES),
            _ => return Err(Errno::EPERM),
        }
        let (dir, name) = match rel.iter().rposition(|&b| b == b'/') {
            Some(i) => (&rel[..i], &rel[i + 1..]),
            None => (&b""[..], rel),
        };
        let mut tree = self.tree.lock();
        let Place::Dir(parent) = locate(&tree, dir)? else {
            return Err(Errno::ENOTDIR);
        };
        if file_of(&tree, parent, name).is_some() {
            return Err(Errno::EEXIST);
        }
        tree.mkdir(parent, name).map(|_| ())
    }

    fn unlink(&self, c: &Caller, rel: &[u8], dir: bool) -> KResult<()> {
        let mut tree = self.tree.lock();
        match locate(&tree, rel)? {
            Place::Dir(id) if dir => {
                let st = c.state()?;
                if populated(st, &tree, id) {
                    return Err(Errno::EBUSY);
                }
                tree.rmdir(id)
            }
            Place::Dir(_) => Err(Errno::EISDIR),
            Place::File(..) if dir => Err(Errno::ENOTDIR),
            Place::File(..) => Err(Errno::EPERM),
        }
    }

    /// cgroup2 has no rename (cgroup v1 had one).
    fn rename(&self, _c: &Caller, _old: &[u8], _new: &[u8], _flags: u32) -> KResult<()> {
        Err(Errno::EPERM)
    }

    fn statfs(&self) -> KResult<crate::fs::StatFs> {
        Ok(crate::fs::StatFs {
            f_type: CGROUP2_SUPER_MAGIC,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..Default::default()
        })
    }
}

/// An open cgroup file: what it read at open, and writes that act on
/// the kernel as the writer.
struct CgroupFile {
    tree: Arc<Mutex<Tree>>,
    id: u64,
    kind: Kind,
    readable: bool,
    data: Vec<u8>,
    stat: Stat,
}

impl FileOps for CgroupFile {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        if !self.readable {
            return Err(Errno::EINVAL);
        }
        let mut pos = f.pos.lock();
        let at = crate::num::usize_of(off.unwrap_or(*pos)).min(self.data.len());
        let n = buf.len().min(self.data.len() - at);
        buf[..n].copy_from_slice(&self.data[at..at + n]);
        if off.is_none() {
            *pos += n as u64;
        }
        Ok(n)
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        // Only write(2) and its kin, which go through `write_by`.
        Err(Errno::EINVAL)
    }
    fn caller_writes(&self) -> bool {
        true
    }
    fn write_by(&self, cx: &mut Ctx<'_, '_>, data: &[u8]) -> KResult<usize> {
        self.apply(cx, data).map(|()| data.len())
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        seek_in(f, off, whence, self.data.len() as u64)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl CgroupFile {
    fn apply(&self, cx: &mut Ctx<'_, '_>, data: &[u8]) -> KResult<()> {
        let id = self.id;
        if id == ROOT && !delegatable(self.kind) {
            return Err(Errno::EPERM);
        }
        let mut tree = self.tree.lock();
        if tree.get(id).is_none() {
            return Err(Errno::ENODEV);
        }
        match self.kind {
            Kind::Procs => {
                let pid = written_pid(data)?;
                let tgid = if pid == 0 {
                    cx.tgid()
                } else {
                    cx.st.tasks.get(&pid).map(|t| t.tgid).ok_or(Errno::ESRCH)?
                };
                tree.may_join(id)?;
                let p = cx.st.procs.get_mut(&tgid).ok_or(Errno::ESRCH)?;
                if p.exit.is_some() || p.group_exit.is_some() {
                    return Err(Errno::ESRCH);
                }
                p.cgroup = id;
                Ok(())
            }
            Kind::Threads => {
                let tid = match written_pid(data)? {
                    0 => cx.tid,
                    t => t,
                };
                let t = cx.st.tasks.get(&tid).ok_or(Errno::ESRCH)?;
                let p = cx.st.procs.get(&t.tgid).ok_or(Errno::ESRCH)?;
                // Every cgroup here is a domain: a thread moves only with
                // its process.
                if p.cgroup != id {
                    cx.k.log_once("cgroup.threads: threaded cgroups");
                    return Err(Errno::EOPNOTSUPP);
                }
                Ok(())
            }
            Kind::SubtreeControl => {
                let busy = !members(&cx.st, id).is_empty();
                let r = tree.subtree_control(id, data, busy);
                if r == Err(Errno::EOPNOTSUPP) {
                    cx.k.log_once("cgroup.subtree_control: cpu and memory below the root");
                }
                r
            }
            Kind::MaxDepth | Kind::MaxDescendants | Kind::PidsMax => {
                let negative = if self.kind == Kind::PidsMax {
                    Errno::EINVAL
                } else {
                    Errno::ERANGE
                };
                let v = cgroup::parse_max(data, negative)?;
                let n = tree.get_mut(id).ok_or(Errno::ENODEV)?;
                match self.kind {
                    Kind::MaxDepth => n.max_depth = v,
                    Kind::MaxDescendants => n.max_descendants = v,
                    _ => n.pids_max = v,
                }
                Ok(())
            }
            Kind::Kill => {
                let s = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
                if s.parse::<i64>().map_err(|_| Errno::EINVAL)? != 1 {
                    return Err(Errno::ERANGE);
                }
                let victims: Vec<i32> = cx
                    .st
                    .procs
                    .values()
                    .filter(|p| p.exit.is_none() && tree.within(p.cgroup, id))
                    .map(|p| p.tgid)
                    .collect();
                drop(tree);
                for v in victims {
                    let info = crate::kernel::signal::SigInfo::user(libc::SIGKILL, 0x80, 0, 0);
                    crate::kernel::signal::send_to_process(&mut cx.st, v, info);
                }
                Ok(())
            }
            Kind::Type => {
                let s = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
                if s != "threaded" {
                    return Err(Errno::EINVAL);
                }
                cx.k.log_once("cgroup.type: threaded cgroups");
                Err(Errno::EOPNOTSUPP)
            }
            // Below the root these controllers are never enabled, so the
            // files exist only on the root, where they are the host's.
            Kind::CpuMax | Kind::CpuWeight | Kind::MemMax => Err(Errno::EPERM),
            _ => Err(Errno::EINVAL),
        }
    }
}
