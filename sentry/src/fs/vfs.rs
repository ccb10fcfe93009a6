//! The VFS: a mount table and the path walk. Paths are resolved by the
//! sentry itself, component by component, so symlinks and `..` resolve
//! inside the sandbox's root; filesystems only ever see canonical paths.

use super::dentry::{Dcache, Dentry};
use super::file::{File, FileOps};
use crate::errno::{Errno, KResult};
use crate::fs::Stat;
use crate::kernel::{Ctx, KState};
use parking_lot::RwLock;
use std::sync::Arc;

pub const MAX_SYMLINKS: usize = 40;
pub const NAME_MAX: usize = 255;

/// Who is asking, for filesystems whose contents depend on it (proc).
pub struct Caller<'a> {
    /// The kernel state, when the caller holds the kernel lock. Without
    /// it (a lock-free call) what needs it answers `Errno::NEEDLOCK`.
    pub st: Option<&'a KState>,
    pub tid: i32,
    pub vfs: &'a Vfs,
    /// Without the lock: the task's credentials and mount namespace, as
    /// of its last event.
    own: Option<(&'a crate::kernel::Creds, &'a Arc<MountNs>)>,
}

/// A task's view for path walks: who it is (`c`), its root and working
/// directory, and its fds (for walks from a dirfd).
pub struct Walker<'a> {
    pub c: Caller<'a>,
    pub fs: &'a parking_lot::Mutex<crate::kernel::FsContext>,
    pub files: &'a parking_lot::Mutex<super::file::FdTable>,
}

/// An extended attribute operation; replies are the value (Get), the
/// NUL-separated names (List), or nothing.
pub enum XattrOp<'a> {
    Get(&'a [u8]),
    Set(&'a [u8], &'a [u8], i32),
    List,
    Remove(&'a [u8]),
}

pub const XATTR_CREATE: i32 = 1;
pub const XATTR_REPLACE: i32 = 2;

pub const MAY_READ: u32 = 4;
pub const MAY_WRITE: u32 = 2;
pub const MAY_EXEC: u32 = 1;

/// Whether `c` (by its filesystem ids and capabilities) may access `st`
/// for `want` (MAY_* bits). CAP_DAC_OVERRIDE allows everything but
/// executing a file with no execute bit at all; CAP_DAC_READ_SEARCH
/// reading any file and reading and searching any directory. A file's
/// access ACL decides for anyone but its owner.
pub fn may(c: &crate::kernel::Creds, st: &Stat, want: u32) -> bool {
    use crate::kernel::creds::cap;
    let dir = st.mode & libc::S_IFMT == libc::S_IFDIR;
    if c.capable_wrt(cap::DAC_OVERRIDE, st.uid, st.gid)
        && (want & MAY_EXEC == 0 || dir || st.mode & 0o111 != 0)
    {
        return true;
    }
    if c.capable_wrt(cap::DAC_READ_SEARCH, st.uid, st.gid)
        && want & MAY_WRITE == 0
        && (dir || want & MAY_EXEC == 0)
    {
        return true;
    }
    if st.uid == c.fsuid {
        return (st.mode >> 6) & 7 & want == want;
    }
    // Linux consults an ACL only while its mask (the group bits) grants
    // something: with a zero mask named entries fall back to "other".
    if st.acl != 0 && st.mode & 0o070 != 0 {
        if let Some(ok) = super::acl::permits(st.acl, c, st.gid, want) {
            return ok;
        }
    }
    let bits = if st.gid == c.fsgid || c.groups.contains(&st.gid) {
        (st.mode >> 3) & 7
    } else {
        st.mode & 7
    };
    bits & want == want
}

impl<'a> Caller<'a> {
    /// Task `tid`, holding the kernel lock (`st`).
    pub fn new(st: &'a KState, tid: i32, vfs: &'a Vfs) -> Caller<'a> {
        Caller {
            st: Some(st),
            tid,
            vfs,
            own: None,
        }
    }

    /// Task `tid` without the kernel lock, with its credentials and mount
    /// namespace.
    pub fn unlocked(
        tid: i32,
        vfs: &'a Vfs,
        creds: &'a crate::kernel::Creds,
        ns: &'a Arc<MountNs>,
    ) -> Caller<'a> {
        Caller {
            st: None,
            tid,
            vfs,
            own: Some((creds, ns)),
        }
    }

    /// The kernel state; NEEDLOCK on a lock-free call.
    pub fn state(&self) -> KResult<&'a KState> {
        self.st.ok_or(Errno::NEEDLOCK)
    }

    /// The calling task; NEEDLOCK on a lock-free call.
    pub fn task(&self) -> KResult<&'a crate::kernel::Task> {
        self.state()?.tasks.get(&self.tid).ok_or(Errno::ESRCH)
    }

    /// The calling task's process; NEEDLOCK on a lock-free call.
    pub fn process(&self) -> KResult<&'a crate::kernel::task::Process> {
        let tgid = self.task()?.tgid;
        self.state()?.procs.get(&tgid).ok_or(Errno::ESRCH)
    }

    /// The calling task's credentials.
    pub fn creds(&self) -> Option<&crate::kernel::Creds> {
        if let Some((creds, _)) = self.own {
            return Some(creds);
        }
        let st = self.st?;
        let t = st.tasks.get(&self.tid)?;
        st.procs.get(&t.tgid).map(|p| &p.creds)
    }

    /// EACCES unless the caller may access `st` for `want`.
    pub fn check(&self, st: &Stat, want: u32) -> KResult<()> {
        match self.creds() {
            Some(c) if !may(c, st, want) => Err(Errno::EACCES),
            _ => Ok(()),
        }
    }

    /// Whether the caller is exempt from permission bits and sticky
    /// directories (CAP_DAC_OVERRIDE and CAP_FOWNER, root's); without
    /// them the checks run, and `may` weighs each capability.
    pub fn overrides(&self) -> bool {
        use crate::kernel::creds::cap;
        self.creds()
            .is_none_or(|c| c.capable(cap::DAC_OVERRIDE) && c.capable(cap::FOWNER))
    }
}

pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;
pub const RESOLVE_CACHED: u64 = 0x20;

/// A filesystem as the VFS sees it. `rel` is the path inside the
/// filesystem, without a leading slash ("" is its root).
pub trait Filesystem: Send + Sync {
    fn fstype(&self) -> &'static str;
    fn lookup(&self, c: &Caller, rel: &[u8]) -> KResult<Stat>;
    fn readlink(&self, c: &Caller, rel: &[u8]) -> KResult<Vec<u8>> {
        let _ = (c, rel);
        Err(Errno::EINVAL)
    }
    fn open(&self, c: &Caller, rel: &[u8], flags: i32, mode: u32) -> KResult<Box<dyn FileOps>>;
    fn read_only(&self) -> bool {
        true
    }
    /// Every name is generated (proc): there is nothing to make a new
    /// one in, so creating one is ENOENT rather than a read-only error.
    fn names_fixed(&self) -> bool {
        false
    }
    /// Creates `rel` (absent; its parent exists and is a directory) as a
    /// node of `mode` (file type and permissions).
    fn mknod(
        &self,
        c: &Caller,
        rel: &[u8],
        mode: u32,
        rdev: u64,
        owner: (u32, u32),
    ) -> KResult<()> {
        let _ = (c, rel, mode, rdev, owner);
        Err(Errno::EROFS)
    }
    fn symlink(&self, c: &Caller, rel: &[u8], target: &[u8], owner: (u32, u32)) -> KResult<()> {
        let _ = (c, rel, target, owner);
        Err(Errno::EROFS)
    }
    /// open(O_TMPFILE) in directory `dir`: an open regular file of `mode`
    /// with no name, which `link_file` may name later if `linkable`.
    fn tmpfile(
        &self,
        c: &Caller,
        dir: &[u8],
        mode: u32,
        owner: (u32, u32),
        linkable: bool,
    ) -> KResult<Box<dyn FileOps>> {
        let _ = (c, dir, mode, owner, linkable);
        Err(Errno::EOPNOTSUPP)
    }
    /// linkat(2) of open file `f`, whose name is gone (or never was), at
    /// the absent `new`: ENOENT unless it is an O_TMPFILE file.
    fn link_file(&self, c: &Caller, f: &File, new: &[u8]) -> KResult<()> {
        let _ = (c, f, new);
        Err(Errno::ENOENT)
    }
    fn link(&self, c: &Caller, old: &[u8], new: &[u8]) -> KResult<()> {
        let _ = (c, old, new);
        Err(Errno::EROFS)
    }
    /// unlink(2) (`dir` false) or rmdir(2) (`dir` true) of an existing `rel`.
    fn unlink(&self, c: &Caller, rel: &[u8], dir: bool) -> KResult<()> {
        let _ = (c, rel, dir);
        Err(Errno::EROFS)
    }
    /// renameat2(2) within this filesystem (flags already validated).
    fn rename(&self, c: &Caller, old: &[u8], new: &[u8], flags: u32) -> KResult<()> {
        let _ = (c, old, new, flags);
        Err(Errno::EROFS)
    }
    fn setattr(&self, c: &Caller, rel: &[u8], attr: &SetAttr) -> KResult<()> {
        let _ = (c, rel, attr);
        Err(Errno::EROFS)
    }
    /// The open file a magic link /proc/pid/fd/N stands for.
    fn magic_file(&self, c: &Caller, rel: &[u8]) -> Option<Arc<File>> {
        let _ = (c, rel);
        None
    }
    /// Whether `rel` is a magic link (/proc/pid/fd/N, exe, cwd, root),
    /// which RESOLVE_NO_MAGICLINKS refuses to follow.
    fn is_magic_link(&self, rel: &[u8]) -> bool {
        let _ = rel;
        false
    }
    /// Extended attributes of `rel`: EOPNOTSUPP where they are not kept.
    fn xattr(&self, c: &Caller, rel: &[u8], op: &XattrOp) -> KResult<Vec<u8>> {
        let _ = (c, rel, op);
        Err(Errno::EOPNOTSUPP)
    }
    /// The ptys of a devpts instance (what /dev/ptmx opens from).
    fn ptys(&self) -> Option<Arc<super::pty::PtyTable>> {
        None
    }
    /// The pipe behind a FIFO this filesystem keeps (named pipes).
    /// Whether the filesystem opens its device nodes itself (/dev and
    /// devpts); anywhere else a device node opens the sentry's device of
    /// that number, never a host one.
    fn own_devices(&self) -> bool {
        false
    }
    fn fifo(&self, c: &Caller, rel: &[u8]) -> Option<Arc<super::pipe::Pipe>> {
        let _ = (c, rel);
        None
    }
    fn statfs(&self) -> KResult<crate::fs::StatFs> {
        Ok(crate::fs::StatFs {
            f_type: 0x0102_1994,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..Default::default()
        })
    }
    /// sync(2) and syncfs(2): write back what the filesystem has that
    /// storage has not. Memory filesystems have nothing to.
    fn sync_fs(&self) -> KResult<()> {
        Ok(())
    }
}

/// Attribute changes (chmod, chown, truncate, utimens); None keeps a field.
#[derive(Clone, Copy, Debug, Default)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<(i64, i64)>,
    pub mtime: Option<(i64, i64)>,
    /// A chown(2) family call (set-user-ID bits drop even when neither
    /// id changes).
    pub chown: bool,
    /// Times set to now by a call given no times (or UTIME_NOW for
    /// both): write permission is enough, where explicit times need the
    /// owner (Linux's ATTR_TOUCH).
    pub touch: bool,
}

#[derive(Clone)]
pub struct Mount {
    /// Unique id (mountinfo's first field).
    pub id: u64,
    /// The mount this one is mounted on (its own id for a namespace root).
    pub parent: u64,
    pub point: Vec<u8>,
    pub fs: Arc<dyn Filesystem>,
    /// The directory of `fs` mounted here ("" for its root; bind mounts
    /// of a subdirectory name it).
    pub root: Vec<u8>,
    pub source: String,
    pub flags: u64,
    /// The filesystem's dentries (shared by every mount of it).
    pub dcache: Arc<Dcache>,
    /// The mount this one is a namespace copy of (its own id when it is
    /// no copy): an fd opened before an unshare walks through the copy.
    pub origin: u64,
}

static NEXT_MOUNT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(21);

impl Mount {
    pub fn new(
        point: &[u8],
        fs: Arc<dyn Filesystem>,
        root: &[u8],
        source: &str,
        flags: u64,
    ) -> Mount {
        let id = NEXT_MOUNT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Mount {
            id,
            parent: id,
            point: point.to_vec(),
            fs,
            root: root.to_vec(),
            source: source.into(),
            flags,
            dcache: Dcache::new(),
            origin: id,
        }
    }

    /// A bind mount of `root` (inside this mount's filesystem) at `point`.
    pub fn bind(&self, point: &[u8], root: &[u8], flags: u64) -> Mount {
        Mount {
            dcache: self.dcache.clone(),
            ..Mount::new(point, self.fs.clone(), root, &self.source, flags)
        }
    }
}

/// A place in the tree: a dentry and the mount it is seen through. Open
/// files, the working directory and the root hold one, so they follow
/// their object through renames and know when it was removed.
#[derive(Clone)]
pub struct PathRef {
    pub mount: Arc<Mount>,
    pub dentry: Arc<Dentry>,
}

impl std::fmt::Debug for PathRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PathRef({:?})", String::from_utf8_lossy(&self.path()))
    }
}

impl PathRef {
    /// The path inside the filesystem, and whether the object is still
    /// linked there.
    pub fn rel(&self) -> (Vec<u8>, bool) {
        self.mount.dcache.rel_path(&self.dentry)
    }

    /// The absolute path as seen through the mount, and whether the object
    /// is still linked.
    pub fn locate(&self) -> (Vec<u8>, bool) {
        let (rel, live) = self.rel();
        let root = &self.mount.root;
        let inner = if root.is_empty() {
            &rel[..]
        } else if rel == *root {
            &[][..]
        } else if rel.starts_with(root) && rel.get(root.len()) == Some(&b'/') {
            &rel[root.len() + 1..]
        } else {
            // Moved out of a bind mount's subtree: the filesystem's path.
            &rel[..]
        };
        let point = &self.mount.point;
        let path = match (point.as_slice(), inner.is_empty()) {
            (_, true) => point.clone(),
            (b"/", false) => [b"/", inner].concat(),
            (_, false) => [point.as_slice(), b"/", inner].concat(),
        };
        (path, live)
    }

    /// The absolute path (its last place, if removed).
    pub fn path(&self) -> Vec<u8> {
        self.locate().0
    }

    /// Whether the object was removed.
    pub fn is_dead(&self) -> bool {
        !self.locate().1
    }

    /// What /proc shows: the path, with " (deleted)" once removed.
    pub fn display(&self) -> Vec<u8> {
        let (mut p, live) = self.locate();
        if !live {
            p.extend_from_slice(b" (deleted)");
        }
        p
    }
}

/// A mount namespace: its mount table, in mount order (a later mount on
/// the same point hides the earlier one).
pub struct MountNs {
    pub mounts: RwLock<Vec<Arc<Mount>>>,
    /// The user namespace it belongs to: CAP_SYS_ADMIN over it mounts.
    pub owner: Arc<crate::kernel::userns::UserNs>,
    /// Mounts it got from a namespace of a more privileged user
    /// namespace (Linux's MNT_LOCKED): they cannot be unmounted alone,
    /// so what they cover stays covered.
    pub locked: parking_lot::Mutex<std::collections::HashSet<u64>>,
    /// Mounts an MNT_EXPIRE umount has marked (the next one unmounts).
    pub expiring: parking_lot::Mutex<std::collections::HashSet<u64>>,
}

impl MountNs {
    /// A namespace of `mounts`, owned by the sandbox's first user
    /// namespace.
    pub fn of(mounts: Vec<Arc<Mount>>) -> MountNs {
        MountNs {
            mounts: RwLock::new(mounts),
            owner: crate::kernel::userns::init(),
            locked: Default::default(),
            expiring: Default::default(),
        }
    }

    /// A copy for unshare/clone(CLONE_NEWNS) by a process of user
    /// namespace `owner`: the same filesystems, mounts of its own (new
    /// ids, so changes stay inside); locked when `owner` is not this
    /// namespace's owner.
    pub fn copy(&self, owner: &Arc<crate::kernel::userns::UserNs>) -> Arc<MountNs> {
        let old = self.mounts.read();
        let ids: std::collections::HashMap<u64, u64> = old
            .iter()
            .map(|m| {
                let id = NEXT_MOUNT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (m.id, id)
            })
            .collect();
        let mounts = old
            .iter()
            .map(|m| {
                Arc::new(Mount {
                    id: ids[&m.id],
                    parent: ids.get(&m.parent).copied().unwrap_or(ids[&m.id]),
                    ..(**m).clone()
                })
            })
            .collect();
        let lock = !Arc::ptr_eq(owner, &self.owner);
        let locked = if lock {
            ids.values().copied().collect()
        } else {
            self.locked
                .lock()
                .iter()
                .filter_map(|i| ids.get(i).copied())
                .collect()
        };
        Arc::new(MountNs {
            mounts: RwLock::new(mounts),
            owner: owner.clone(),
            locked: parking_lot::Mutex::new(locked),
            expiring: Default::default(),
        })
    }

    pub fn mounts(&self) -> Vec<Arc<Mount>> {
        self.mounts.read().clone()
    }

    /// The place of canonical `path` (which exists now).
    pub fn path_ref(&self, path: &[u8]) -> PathRef {
        let (mount, rel) = self.mount_of(path);
        PathRef {
            dentry: mount.dcache.get(&rel),
            mount,
        }
    }

    /// Mounts `m` on top of whatever is at its point now.
    pub fn add(&self, mut m: Mount) {
        m.parent = self.mount_of(&m.point).0.id;
        self.mounts.write().push(Arc::new(m));
    }

    /// The visible mount whose mount point is exactly `path`.
    pub fn mounted_at(&self, path: &[u8]) -> Option<Arc<Mount>> {
        let (m, _) = self.mount_of(path);
        (m.point == path).then_some(m)
    }

    /// Ids of `id` and every mount beneath it.
    pub fn subtree(&self, id: u64) -> Vec<u64> {
        let mounts = self.mounts.read();
        let mut out = vec![id];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i];
            out.extend(
                mounts
                    .iter()
                    .filter(|m| m.parent == cur && m.id != cur)
                    .map(|m| m.id),
            );
            i += 1;
        }
        out
    }

    /// The mount holding canonical `path`, and the path inside its
    /// filesystem.
    pub fn mount_of(&self, path: &[u8]) -> (Arc<Mount>, Vec<u8>) {
        let mounts = self.mounts.read();
        let m = visible_mount(&mounts, path).clone();
        let inner = if m.point == b"/" {
            path.get(1..).unwrap_or_default()
        } else {
            path.get(m.point.len() + 1..).unwrap_or_default()
        };
        let rel = match (m.root.is_empty(), inner.is_empty()) {
            (true, _) => inner.to_vec(),
            (false, true) => m.root.clone(),
            (false, false) => [&m.root[..], b"/", inner].concat(),
        };
        (m, rel)
    }
}

/// The mount `path` lies in: down from the root mount, at each step the
/// deepest mount on the current one that holds the path (the latest of
/// those on one point). A mount on a covered mount stays hidden, as on
/// Linux: a tmpfs over /dev hides what was mounted on /dev/shm. A mount
/// whose parent is not in the table is placed by its point alone.
fn visible_mount<'m>(mounts: &'m [Arc<Mount>], path: &[u8]) -> &'m Arc<Mount> {
    let holds = |m: &Mount| {
        let p = &m.point;
        p == b"/"
            || path == p.as_slice()
            || (path.starts_with(p) && path.get(p.len()) == Some(&b'/'))
    };
    let known = |id: u64| mounts.iter().any(|m| m.id == id);
    // The root: the namespace's root mount (the latest of them), else
    // whatever holds "/".
    let mut cur = mounts
        .iter()
        .rposition(|m| m.parent == m.id && m.point == b"/")
        .or_else(|| mounts.iter().rposition(|m| m.point == b"/"))
        .expect("root mount");
    loop {
        let c = &mounts[cur];
        let mut next: Option<usize> = None;
        for (i, m) in mounts.iter().enumerate() {
            // Each step goes deeper, or up the stack on one point, so
            // the descent ends.
            let deeper =
                m.point.len() > c.point.len() || (m.point.len() == c.point.len() && i > cur);
            let on_it = m.parent == c.id || !known(m.parent);
            if !deeper || !on_it || !holds(m) {
                continue;
            }
            // A mount stacked on this one covers everything beneath it.
            let stacked = |n: usize| mounts[n].point.len() == c.point.len();
            if next.is_none_or(|n| {
                !stacked(n)
                    && (m.point.len() == c.point.len() || mounts[n].point.len() <= m.point.len())
            }) {
                next = Some(i);
            }
        }
        match next {
            Some(n) => cur = n,
            None => return c,
        }
    }
}

pub struct Vfs {
    /// The first process's mount namespace.
    pub init_ns: Arc<MountNs>,
    /// inotify instances, told about every change the syscalls make.
    pub inotify: Arc<super::inotify::Registry>,
    /// Who writes and who runs each regular file (ETXTBSY).
    pub write_access: Arc<super::write_access::WriteAccess>,
    /// SIGIO owed to the owners of O_ASYNC files.
    pub fasync: Arc<super::fasync::Owed>,
    /// The ptys /dev/pts shows (the console is one of them).
    pub ptys: Arc<super::pty::PtyTable>,
    /// The POSIX message queues: mq_open's names, and what /dev/mqueue
    /// (and any mqueue mount) shows.
    pub mqueue: Arc<super::mqueue::MqueueFs>,
    /// The cgroup2 hierarchy every cgroup2 mount shows.
    pub cgroup: Arc<super::cgroupfs::CgroupFs>,
    /// The namespace lock: every walk holds it shared (`reading`), every
    /// change of the tree exclusively (`changing`: a call that creates,
    /// removes, renames or changes attributes, from its walks to its
    /// dentry update; an open that may copy up into the overlay), so no
    /// walk sees half of a change, with or without the kernel lock.
    /// Taken after the kernel lock, never held across a sleep.
    tree: RwLock<()>,
}

/// The result of a path walk.
pub struct Resolved {
    /// Canonical absolute path.
    pub path: Vec<u8>,
    /// lstat (or stat, when the last link was followed); None if the last
    /// component does not exist (its parent does).
    pub stat: Option<Stat>,
    pub mount: Arc<Mount>,
    pub rel: Vec<u8>,
    /// A /proc/pid/fd/N link whose open file is opened again as itself
    /// rather than by path (pipes, memfds, deleted files).
    pub reopen: Option<Arc<File>>,
    /// The place, when the walk ended on one it did not reach by path: a
    /// removed directory (the cwd or a dirfd), or a reopened file's.
    pub found: Option<PathRef>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("path", &String::from_utf8_lossy(&self.path))
            .field("exists", &self.stat.is_some())
            .field("mount", &String::from_utf8_lossy(&self.mount.point))
            .finish_non_exhaustive()
    }
}

impl Resolved {
    /// The place the walk ended on (which must exist).
    pub fn place(&self) -> PathRef {
        self.found.clone().unwrap_or_else(|| PathRef {
            dentry: self.mount.dcache.get(&self.rel),
            mount: self.mount.clone(),
        })
    }

    /// Whether the walk ended on a removed object, which cannot be
    /// reached by its old path any more.
    pub fn removed(&self) -> bool {
        self.found.as_ref().is_some_and(|p| p.is_dead())
    }
}

/// A path as its components.
pub type Components = Vec<Vec<u8>>;

/// The host's memory in bytes (tmpfs sizes are fractions of it).
/// The sandbox's memory size in bytes (`husk do --memory`); 0: the host's.
static MEMORY_LIMIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets the sandbox's memory size: what /proc/meminfo and sysinfo report
/// as total memory, and the budget of every in-memory filesystem together.
pub fn set_memory_limit(bytes: u64) {
    MEMORY_LIMIT.store(bytes, std::sync::atomic::Ordering::Relaxed);
}

/// The sandbox's memory limit in bytes (0: none).
pub fn memory_limit() -> u64 {
    MEMORY_LIMIT.load(std::sync::atomic::Ordering::Relaxed)
}

/// (total, free) host memory in bytes.
fn host_memory() -> (u64, u64) {
    // SAFETY: sysinfo fills a plain struct.
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::sysinfo(&mut si) };
    let u = u64::from(si.mem_unit);
    (si.totalram.saturating_mul(u), si.freeram.saturating_mul(u))
}

/// The sandbox's memory size: its limit, at most the host's memory.
pub fn total_memory() -> u64 {
    static HOST: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let host = *HOST.get_or_init(|| host_memory().0);
    match MEMORY_LIMIT.load(std::sync::atomic::Ordering::Relaxed) {
        0 => host,
        l => l.min(host),
    }
}

/// Free memory as the sandbox sees it: the host's, at most what its
/// in-memory filesystems leave of its size.
pub fn free_memory() -> u64 {
    let left = total_memory().saturating_sub(super::tmpfs::sandbox_bytes());
    host_memory().1.min(left)
}

/// What the sandbox's memory leaves free (/proc/meminfo's MemFree and
/// sysinfo's freeram): tmpfs pages live in the memory file too (files
/// mapped shared are memfds of their own), so the larger of the two is in
/// use, and never more than the host has free.
pub fn sandbox_free(mf: &crate::memfile::MemFile) -> u64 {
    let used = mf.resident().max(super::tmpfs::sandbox_bytes());
    free_memory().min(total_memory().saturating_sub(used))
}

/// tmpfs size limit: half of memory, as Linux defaults.
fn tmpfs_limit() -> u64 {
    (total_memory() / 2).max(64 << 20)
}

pub fn join(comps: &[Vec<u8>]) -> Vec<u8> {
    if comps.is_empty() {
        return b"/".to_vec();
    }
    let mut p = Vec::new();
    for c in comps {
        p.push(b'/');
        p.extend_from_slice(c);
    }
    p
}

pub fn split(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&c| c == b'/')
        .filter(|c| !c.is_empty())
        .map(|c| c.to_vec())
        .collect()
}

/// How this thread holds the namespace lock, so nested walks and changes
/// do not take it again (a fair RwLock would deadlock on a nested read
/// with a writer waiting in between).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Held {
    No,
    Shared,
    Exclusive,
}

thread_local! {
    static HELD: std::cell::Cell<Held> = const { std::cell::Cell::new(Held::No) };
}

/// Forgets the hold when a walk or change ends, however it ends.
struct HoldEnd;

impl Drop for HoldEnd {
    fn drop(&mut self) {
        HELD.with(|h| h.set(Held::No));
    }
}

impl Vfs {
    /// Runs `f`, which walks but changes nothing, with the namespace lock
    /// shared (or within this thread's own walk or change).
    pub fn reading<T>(&self, f: impl FnOnce() -> T) -> T {
        if HELD.with(std::cell::Cell::get) != Held::No {
            return f();
        }
        let _shared = self.tree.read();
        HELD.with(|h| h.set(Held::Shared));
        let _end = HoldEnd;
        f()
    }

    /// Runs `f`, a change of the tree with the walks it needs, with the
    /// namespace lock held exclusively.
    pub fn changing<T>(&self, f: impl FnOnce() -> T) -> T {
        match HELD.with(std::cell::Cell::get) {
            Held::Exclusive => return f(),
            // By construction no change starts inside a walk (it could not
            // upgrade without deadlocking).
            Held::Shared => {
                debug_assert!(false, "a change inside a walk");
                return f();
            }
            Held::No => {}
        }
        let _exclusive = self.tree.write();
        HELD.with(|h| h.set(Held::Exclusive));
        let _end = HoldEnd;
        f()
    }

    /// A VFS of one tmpfs, for unit tests.
    #[cfg(test)]
    pub fn for_tests() -> Vfs {
        let mf = Arc::new(crate::memfile::MemFile::new().expect("memory file"));
        let fs = super::tmpfs::TmpFs::new(0x2d, 0o755, tmpfs_limit(), &mf);
        let ns = MountNs::of(vec![Arc::new(Mount::new(
            b"/",
            Arc::new(fs),
            b"",
            "tmpfs",
            0,
        ))]);
        Vfs {
            init_ns: Arc::new(ns),
            inotify: Default::default(),
            write_access: Default::default(),
            fasync: Default::default(),
            ptys: Default::default(),
            mqueue: Default::default(),
            cgroup: Arc::new(super::cgroupfs::CgroupFs::new(&mf)),
            tree: RwLock::new(()),
        }
    }

    pub fn new(gofer: Arc<super::gofer_fs::GoferPool>, mf: &Arc<crate::memfile::MemFile>) -> Vfs {
        let writable = gofer.writable;
        let read_only = gofer.read_only_root;
        let root = Arc::new(super::gofer_fs::GoferFs::new(gofer));
        // /tmp: writable, over the host's /tmp, which stays untouched.
        // The root is an overlay: an in-memory upper layer over the host
        // root (read-only through the gofer), so nothing the application
        // does changes the host.
        let overlay = super::overlay::OverlayFs::new(
            super::tmpfs::TmpFs::new(0x2d, 0o755, tmpfs_limit(), mf),
            root.clone(),
            b"",
        );
        let nosuid = libc::MS_NOSUID;
        let ptys = Arc::new(super::pty::PtyTable::default());
        let mqueue = Arc::new(super::mqueue::MqueueFs::default());
        let cgroup = Arc::new(super::cgroupfs::CgroupFs::new(mf));
        let top = if writable {
            // --overlay=none: the host root itself, changed through the gofer.
            Mount::new(b"/", root, b"", "gofer", 0)
        } else if read_only {
            // A read-only container root: the root itself, unchangeable.
            Mount::new(b"/", root, b"", "gofer", libc::MS_RDONLY)
        } else {
            Mount::new(b"/", overlay, b"", "overlay", 0)
        };
        let mut mounts = vec![
            top,
            Mount::new(
                b"/proc",
                Arc::new(super::proc::ProcFs::new()),
                b"",
                "proc",
                nosuid | libc::MS_NODEV | libc::MS_NOEXEC,
            ),
            Mount::new(
                b"/dev",
                Arc::new(super::dev::DevFs::with_ptys(ptys.clone())),
                b"",
                "none",
                nosuid,
            ),
            Mount::new(
                b"/sys",
                Arc::new(super::sysfs::SysFs::new(super::proc::ncpu())),
                b"",
                "sysfs",
                libc::MS_RDONLY | nosuid | libc::MS_NODEV | libc::MS_NOEXEC,
            ),
            Mount::new(
                b"/sys/fs/cgroup",
                cgroup.clone(),
                b"",
                "cgroup2",
                nosuid | libc::MS_NODEV | libc::MS_NOEXEC,
            ),
            Mount::new(
                b"/dev/shm",
                Arc::new(super::tmpfs::TmpFs::new(0x2e, 0o1777, tmpfs_limit(), mf)),
                b"",
                "shm",
                nosuid | libc::MS_NODEV,
            ),
            Mount::new(
                b"/dev/mqueue",
                mqueue.clone(),
                b"",
                "mqueue",
                nosuid | libc::MS_NODEV | libc::MS_NOEXEC,
            ),
        ];
        let ns = MountNs::of(vec![Arc::new(mounts.remove(0))]);
        for m in mounts {
            ns.add(m);
        }
        Vfs {
            init_ns: Arc::new(ns),
            inotify: Default::default(),
            write_access: Default::default(),
            fasync: Default::default(),
            ptys,
            mqueue,
            cgroup,
            tree: RwLock::new(()),
        }
    }

    /// The mount namespace of the calling task.
    pub fn ns(&self, c: &Caller) -> Arc<MountNs> {
        if let Some((_, ns)) = c.own {
            return ns.clone();
        }
        c.task()
            .map_or_else(|_| self.init_ns.clone(), |t| t.mnt_ns.clone())
    }

    /// The mount namespace of `t`.
    pub fn ns_of_task(&self, t: &crate::kernel::Task) -> Arc<MountNs> {
        t.mnt_ns.clone()
    }

    /// The caller's mounts, in mount order.
    pub fn mounts(&self, c: &Caller) -> Vec<Arc<Mount>> {
        self.ns(c).mounts()
    }

    /// The caller's mount holding canonical `path`, and the path inside it.
    pub fn mount_of(&self, c: &Caller, path: &[u8]) -> (Arc<Mount>, Vec<u8>) {
        self.ns(c).mount_of(path)
    }

    pub(super) fn lstat(&self, c: &Caller, comps: &[Vec<u8>]) -> KResult<Stat> {
        let path = join(comps);
        let (m, rel) = self.mount_of(c, &path);
        m.fs.lookup(c, &rel)
    }

    fn readlink_at(&self, c: &Caller, comps: &[Vec<u8>]) -> KResult<Vec<u8>> {
        let path = join(comps);
        let (m, rel) = self.mount_of(c, &path);
        m.fs.readlink(c, &rel)
    }

    /// Where a walk starts (the root, the cwd, or the directory behind
    /// `dirfd`), and the root.
    fn start(&self, w: &Walker<'_>, dirfd: i32, path: &[u8]) -> KResult<(PathRef, PathRef)> {
        let fs = w.fs.lock();
        let root = fs.root.clone();
        if path.first() == Some(&b'/') {
            return Ok((root.clone(), root));
        }
        let at = if dirfd == libc::AT_FDCWD {
            fs.cwd.clone()
        } else {
            let f = w.files.lock().get(dirfd)?;
            let st = f.ops.stat()?;
            if st.mode & libc::S_IFMT != libc::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            f.place().ok_or(Errno::ENOTDIR)?.clone()
        };
        Ok((at, root))
    }

    /// Walks `path` from `dirfd`; follows a final symlink when `follow`.
    pub fn resolve(
        &self,
        ctx: &Ctx<'_, '_>,
        dirfd: i32,
        path: &[u8],
        follow: bool,
    ) -> KResult<Resolved> {
        self.resolve_how(ctx, dirfd, path, follow, 0)
    }

    /// `resolve` with openat2's RESOLVE_* restrictions in `how`.
    pub fn resolve_how(
        &self,
        ctx: &Ctx<'_, '_>,
        dirfd: i32,
        path: &[u8],
        follow: bool,
        how: u64,
    ) -> KResult<Resolved> {
        self.resolve_in(&ctx.walker(), dirfd, path, follow, how)
    }

    /// `resolve_how` for a walker, which may be without the kernel lock.
    pub fn resolve_in(
        &self,
        w: &Walker<'_>,
        dirfd: i32,
        path: &[u8],
        follow: bool,
        how: u64,
    ) -> KResult<Resolved> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let anchored = how & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) != 0;
        let (at, root) = self.start(w, dirfd, if anchored { b"." } else { path })?;
        self.reading(|| self.walk(&w.c, &at, &root, path, follow, how))
    }

    /// The path walk: `path` from `at` (the root for absolute paths),
    /// never above `root`, with openat2's RESOLVE_* restrictions in `how`.
    /// A removed `at` has no entries: only "." and ".." walk from it.
    pub fn walk(
        &self,
        c: &Caller,
        at: &PathRef,
        root: &PathRef,
        path: &[u8],
        follow: bool,
        how: u64,
    ) -> KResult<Resolved> {
        if path.len() >= 4096 {
            return Err(Errno::ENAMETOOLONG);
        }
        let beneath = how & RESOLVE_BENEATH != 0;
        let in_root = how & RESOLVE_IN_ROOT != 0;
        // Linux's fds name a mount, not a path: a directory opened before
        // its mount moved (pivot_root, a move mount) is walked from where
        // that mount is now, and one opened before an unshare through
        // the namespace's copy of its mount.
        let moved = {
            let ns = self.ns(c);
            let mounts = ns.mounts.read();
            match mounts.iter().find(|m| m.id == at.mount.id) {
                Some(m) if m.point == at.mount.point => None,
                Some(m) => Some(m.clone()),
                None => mounts.iter().find(|m| m.origin == at.mount.origin).cloned(),
            }
        }
        .map(|mount| PathRef {
            mount,
            dentry: at.dentry.clone(),
        });
        let at = moved.as_ref().unwrap_or(at);
        let (start, live) = at.locate();
        let mut comps = split(&start);
        let mut removed = (!live).then(|| at.clone());
        let mut root = split(&root.path());
        if beneath || in_root {
            // The walk is anchored at the starting directory, whatever the
            // path says.
            if beneath && path.first() == Some(&b'/') {
                return Err(Errno::EXDEV);
            }
            root = comps.clone();
        }
        let start_mount = if how & RESOLVE_NO_XDEV != 0 {
            Some(self.mount_of(c, &join(&comps)).0.id)
        } else {
            None
        };
        let same_mount = |comps: &Components| -> KResult<()> {
            match &start_mount {
                Some(p) if self.mount_of(c, &join(comps)).0.id != *p => Err(Errno::EXDEV),
                _ => Ok(()),
            }
        };
        let must_dir = path.last() == Some(&b'/');
        let mut pending: std::collections::VecDeque<Vec<u8>> = split(path).into();
        let mut links = 0;
        let mut cur_stat: Option<Stat> = None;
        if pending.is_empty() && removed.is_none() {
            cur_stat = Some(self.lstat(c, &comps)?);
        }
        let checks = !c.overrides();
        while let Some(name) = pending.pop_front() {
            let last = pending.is_empty();
            if name.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            if removed.is_some() {
                // A removed directory has no entries; ".." leaves it.
                match name.as_slice() {
                    b"." => continue,
                    b".." => removed = None,
                    _ => return Err(Errno::ENOENT),
                }
            } else if checks {
                // Searching a directory needs its execute bit.
                let dir = self.lstat(c, &comps)?;
                c.check(&dir, MAY_EXEC)?;
            }
            if name == b"." || name == b".." {
                if name == b".." && comps.len() > root.len() {
                    comps.pop();
                } else if name == b".." && beneath {
                    return Err(Errno::EXDEV);
                }
                same_mount(&comps)?;
                cur_stat = Some(self.lstat(c, &comps)?);
                continue;
            }
            comps.push(name);
            same_mount(&comps)?;
            let st = match self.lstat(c, &comps) {
                Ok(s) => s,
                Err(e) if e == Errno::ENOENT && last => {
                    let p = join(&comps);
                    let (mount, rel) = self.mount_of(c, &p);
                    return Ok(Resolved {
                        path: p,
                        stat: None,
                        mount,
                        rel,
                        reopen: None,
                        found: None,
                    });
                }
                Err(e) => return Err(e),
            };
            if st.mode & libc::S_IFMT == libc::S_IFLNK && (!last || follow || must_dir) {
                if how & RESOLVE_NO_SYMLINKS != 0 {
                    return Err(Errno::ELOOP);
                }
                let (m, rel) = self.mount_of(c, &join(&comps));
                if how & RESOLVE_NO_MAGICLINKS != 0 && m.fs.is_magic_link(&rel) {
                    return Err(Errno::ELOOP);
                }
                if last && pending.is_empty() {
                    if let Some(f) = m.fs.magic_file(c, &rel) {
                        // An object with no path (a socket, an eventfd)
                        // is reached itself: stat sees it, open is ENXIO.
                        if f.ops.reopen(f.flags()).is_some() || f.place().is_none() {
                            return Ok(Resolved {
                                path: f.path(),
                                stat: Some(f.ops.stat()?),
                                mount: m,
                                rel,
                                found: f.place().cloned(),
                                reopen: Some(f),
                            });
                        }
                    }
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = self.readlink_at(c, &comps)?;
                comps.pop();
                if target.first() == Some(&b'/') {
                    if beneath {
                        return Err(Errno::EXDEV);
                    }
                    comps = root.clone();
                }
                for t in split(&target).into_iter().rev() {
                    pending.push_front(t);
                }
                if pending.is_empty() {
                    cur_stat = Some(self.lstat(c, &comps)?);
                }
                continue;
            }
            if !last && st.mode & libc::S_IFMT != libc::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            cur_stat = Some(st);
        }
        if let Some(place) = removed {
            let stat = place.dentry.dead_stat().ok_or(Errno::ENOENT)?;
            return Ok(Resolved {
                path: place.path(),
                stat: Some(stat),
                mount: place.mount.clone(),
                rel: place.rel().0,
                reopen: None,
                found: Some(place),
            });
        }
        let stat = cur_stat.ok_or(Errno::ENOENT)?;
        if must_dir && stat.mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let p = join(&comps);
        let (mount, rel) = self.mount_of(c, &p);
        Ok(Resolved {
            path: p,
            stat: Some(stat),
            mount,
            rel,
            reopen: None,
            found: None,
        })
    }

    pub fn open_resolved(
        &self,
        ctx: &Ctx<'_, '_>,
        r: &Resolved,
        flags: i32,
        mode: u32,
    ) -> KResult<Arc<File>> {
        self.open_resolved_by(&Caller::new(&ctx.st, ctx.tid, self), r, flags, mode)
    }

    /// `open_resolved` for a caller that may be without the kernel lock.
    pub fn open_resolved_by(
        &self,
        c: &Caller<'_>,
        r: &Resolved,
        flags: i32,
        mode: u32,
    ) -> KResult<Arc<File>> {
        let stat = r.stat.ok_or(Errno::ENOENT)?;
        let fmt = stat.mode & libc::S_IFMT;
        if flags & libc::O_DIRECTORY != 0 && fmt != libc::S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let acc = flags & libc::O_ACCMODE;
        if fmt == libc::S_IFDIR
            && (acc != libc::O_RDONLY || flags & libc::O_TRUNC != 0)
            && flags & libc::O_PATH == 0
        {
            return Err(Errno::EISDIR);
        }
        if fmt == libc::S_IFLNK && flags & libc::O_PATH == 0 {
            return Err(Errno::ELOOP);
        }
        let device = fmt == libc::S_IFCHR || fmt == libc::S_IFBLK;
        if device && r.mount.flags & libc::MS_NODEV != 0 && flags & libc::O_PATH == 0 {
            return Err(Errno::EACCES);
        }
        let writes = acc != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        // FIFOs, sockets and devices are not written to the filesystem.
        let stored = fmt == libc::S_IFREG || fmt == libc::S_IFDIR || fmt == libc::S_IFLNK;
        if writes && r.mount.flags & libc::MS_RDONLY != 0 && stored {
            return Err(Errno::EROFS);
        }
        if flags & libc::O_PATH == 0 && !c.overrides() {
            let want = match acc {
                libc::O_RDONLY => MAY_READ,
                libc::O_WRONLY => MAY_WRITE,
                _ => MAY_READ | MAY_WRITE,
            } | if flags & libc::O_TRUNC != 0 {
                MAY_WRITE
            } else {
                0
            };
            c.check(&stat, want)?;
        }
        // O_NOATIME is the owner's (or CAP_FOWNER's) to ask for.
        if flags & (libc::O_NOATIME | libc::O_PATH) == libc::O_NOATIME {
            let owner = c.creds().is_none_or(|cr| cr.owns(stat.uid, stat.gid));
            if !owner {
                return Err(Errno::EPERM);
            }
        }
        // Write access first: a running executable is ETXTBSY before
        // anything (O_TRUNC, a copy-up) touches it.
        let write_hold = writes && fmt == libc::S_IFREG && flags & libc::O_PATH == 0;
        if write_hold {
            self.write_access.check_writable((stat.dev, stat.ino))?;
        }
        let ops = if flags & libc::O_PATH != 0 {
            Box::new(PathFile { stat }) as Box<dyn FileOps>
        } else if r.reopen.is_none() && r.removed() {
            // A removed directory (a walk reaches one only as "." of a
            // removed working directory or dirfd): its old path is not it
            // any more, but it is still an empty, dead directory.
            Box::new(DeadDir { stat })
        } else if let Some(f) = &r.reopen {
            f.ops.reopen(flags).ok_or(Errno::ENXIO)??
        } else if device && !r.mount.fs.own_devices() {
            super::dev::open_number(c, stat)?
        } else if let Some(pipe) = (fmt == libc::S_IFIFO)
            .then(|| r.mount.fs.fifo(c, &r.rel))
            .flatten()
        {
            // A named pipe: the caller (open(2)) waits for the other side.
            let write = match acc {
                libc::O_RDONLY => false,
                libc::O_WRONLY => true,
                // O_RDWR: both ends at once, never waits.
                _ => {
                    let both = super::pipe::PipeRdWr {
                        rd: pipe.open_end(false),
                        wr: pipe.open_end(true),
                    };
                    let f = File::at(Box::new(both), flags, r.place());
                    f.watch_with(&self.inotify);
                    return Ok(f);
                }
            };
            if write && flags & libc::O_NONBLOCK != 0 && pipe.ends().0 == 0 {
                return Err(Errno::ENXIO);
            }
            Box::new(pipe.open_end(write))
        } else {
            // Opening for writing may copy a file up into the overlay.
            if flags & (libc::O_ACCMODE | libc::O_TRUNC) != libc::O_RDONLY {
                self.changing(|| r.mount.fs.open(c, &r.rel, flags, mode))?
            } else {
                r.mount.fs.open(c, &r.rel, flags, mode)?
            }
        };
        // Held on the object opened: a copy-up makes a new one.
        let hold = if write_hold {
            let st = ops.stat().unwrap_or(stat);
            Some(self.write_access.writer((st.dev, st.ino))?)
        } else {
            None
        };
        let keep = flags
            & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_TRUNC | libc::O_CLOEXEC);
        let f = match &r.reopen {
            Some(f) => File::named(ops, keep, f.name.clone()),
            None => File::at(ops, keep, r.place()),
        };
        f.watch_with(&self.inotify);
        if let Some(h) = hold {
            f.hold_write(h);
        }
        // A truncating open takes set-ID bits away as a write does.
        if flags & libc::O_TRUNC != 0 && r.stat.is_some() {
            if let Some(creds) = c.creds() {
                super::io::strip_privs(creds, &f);
            }
        }
        Ok(f)
    }

    /// An open file's place as a walk result, for calls that reach the
    /// object behind an fd through its filesystem (xattrs, the gofer's
    /// fchown). EOPNOTSUPP for files with no place, ENOENT once removed:
    /// its old path is not it any more.
    pub fn resolve_file(&self, ctx: &Ctx<'_, '_>, f: &File) -> KResult<Resolved> {
        let place = f.place().ok_or(Errno::EOPNOTSUPP)?;
        let (rel, live) = place.rel();
        if !live {
            return Err(Errno::ENOENT);
        }
        let c = Caller::new(&ctx.st, ctx.tid, self);
        let stat = place.mount.fs.lookup(&c, &rel)?;
        Ok(Resolved {
            path: place.path(),
            stat: Some(stat),
            mount: place.mount.clone(),
            rel,
            reopen: None,
            found: Some(place.clone()),
        })
    }

    /// openat2(2) minus fd allocation: `how` holds RESOLVE_* flags.
    pub fn open_how(
        &self,
        ctx: &Ctx<'_, '_>,
        dirfd: i32,
        path: &[u8],
        flags: i32,
        mode: u32,
        how: u64,
    ) -> KResult<Arc<File>> {
        self.open_in(&ctx.walker(), dirfd, path, flags, mode, how)
    }

    /// `open_how` for a walker, which may be without the kernel lock.
    /// Creating, truncating or writing (an overlay copy-up) changes the
    /// tree: the whole open holds the namespace lock exclusively.
    pub fn open_in(
        &self,
        w: &Walker<'_>,
        dirfd: i32,
        path: &[u8],
        flags: i32,
        mode: u32,
        how: u64,
    ) -> KResult<Arc<File>> {
        let open = || self.open_now(w, dirfd, path, flags, mode, how);
        if flags & (libc::O_CREAT | libc::O_TRUNC | libc::O_ACCMODE) != 0 {
            self.changing(open)
        } else {
            self.reading(open)
        }
    }

    /// open(O_TMPFILE): the directory at `path` must take new files
    /// (write and search permission, a writable mount).
    fn open_tmpfile(
        &self,
        w: &Walker<'_>,
        dirfd: i32,
        path: &[u8],
        flags: i32,
        mode: u32,
        how: u64,
    ) -> KResult<Arc<File>> {
        let r = self.resolve_in(w, dirfd, path, flags & libc::O_NOFOLLOW == 0, how)?;
        let st = r.stat.ok_or(Errno::ENOENT)?;
        if !st.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if r.mount.flags & libc::MS_RDONLY != 0 || r.mount.fs.read_only() {
            return Err(Errno::EROFS);
        }
        let c = &w.c;
        if !c.overrides() {
            c.check(&st, MAY_WRITE | MAY_EXEC)?;
        }
        let cr = c.creds().ok_or(Errno::NEEDLOCK)?;
        let umask = w.fs.lock().umask;
        self.tmpfile(c, &r, flags, mode, umask, (cr.fsuid, cr.fsgid))
    }

    fn open_now(
        &self,
        w: &Walker<'_>,
        dirfd: i32,
        path: &[u8],
        flags: i32,
        mode: u32,
        how: u64,
    ) -> KResult<Arc<File>> {
        if flags & libc::O_TMPFILE == libc::O_TMPFILE {
            return self.open_tmpfile(w, dirfd, path, flags, mode, how);
        }
        // O_CREAT|O_EXCL never follows a last symlink, dangling or not:
        // the name itself exists (what makes mkstemp safe).
        let excl = flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL;
        let follow = flags & libc::O_NOFOLLOW == 0 && !excl;
        if flags & libc::O_CREAT != 0 && path.last() == Some(&b'/') {
            // Linux refuses to create through a trailing slash once the
            // directory part resolves, whatever is (or is not) there.
            let base = path.trim_ascii_end();
            let base = &base[..base.iter().rposition(|&c| c != b'/').map_or(0, |i| i + 1)];
            if !base.is_empty() {
                self.resolve_in(w, dirfd, base, false, how)?;
            }
            return Err(Errno::EISDIR);
        }
        let mut r = self.resolve_in(w, dirfd, path, follow, how)?;
        if let Some(st) = r.stat.filter(|_| w.c.st.is_none()) {
            // Without the kernel lock only what opens without the caller:
            // a FIFO waits for its other side and a terminal may become
            // the controlling one (`FileOps::opened`), after the open.
            let fmt = st.mode & libc::S_IFMT;
            let plain = fmt == libc::S_IFREG || fmt == libc::S_IFDIR;
            if r.reopen.is_some() || (!plain && flags & libc::O_PATH == 0) {
                return Err(Errno::NEEDLOCK);
            }
        }
        if r.stat.is_none() {
            if flags & libc::O_CREAT == 0 {
                return Err(Errno::ENOENT);
            }
            if r.mount.flags & libc::MS_RDONLY == 0 && r.mount.fs.names_fixed() {
                return Err(Errno::ENOENT);
            }
            if r.mount.flags & libc::MS_RDONLY != 0 || r.mount.fs.read_only() {
                return Err(Errno::EROFS);
            }
            let caller = &w.c;
            let cr = caller.creds().ok_or(Errno::NEEDLOCK)?;
            if !caller.overrides() {
                // Creating needs write and search on the directory.
                let mut parent = split(&r.path);
                parent.pop();
                let dir = self.lstat(caller, &parent)?;
                caller.check(&dir, MAY_WRITE | MAY_EXEC)?;
            }
            let umask = w.fs.lock().umask;
            self.mknod(
                caller,
                &r,
                libc::S_IFREG | (mode & 0o7777),
                umask,
                0,
                (cr.fsuid, cr.fsgid),
            )?;
            r = self.resolve_in(w, dirfd, path, follow, how)?;
            return self.open_resolved_by(caller, &r, flags & !libc::O_TRUNC, mode);
        }
        if flags & libc::O_CREAT != 0 && flags & libc::O_EXCL != 0 {
            return Err(Errno::EEXIST);
        }
        if flags & libc::O_CREAT != 0 && r.stat.is_some_and(|s| s.is_dir()) {
            return Err(Errno::EISDIR);
        }
        self.open_resolved_by(&w.c, &r, flags, mode)
    }
}

/// A directory opened after its removal: metadata, and no entries.
pub struct DeadDir {
    pub stat: Stat,
}

impl FileOps for DeadDir {
    fn read(&self, _f: &File, _b: &mut [u8], _o: Option<u64>) -> KResult<usize> {
        Err(Errno::EISDIR)
    }
    fn write(&self, _f: &File, _b: &[u8], _o: Option<u64>) -> KResult<usize> {
        Err(Errno::EBADF)
    }
    fn seek(&self, _f: &File, _off: i64, _whence: i32) -> KResult<u64> {
        Ok(0)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn readdir(&self) -> KResult<Vec<crate::fs::DirEntry>> {
        Err(Errno::ENOENT)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An O_PATH file: identity and metadata only.
pub struct PathFile {
    pub stat: Stat,
}

impl FileOps for PathFile {
    fn read(&self, _f: &File, _b: &mut [u8], _o: Option<u64>) -> KResult<usize> {
        Err(Errno::EBADF)
    }
    fn write(&self, _f: &File, _b: &[u8], _o: Option<u64>) -> KResult<usize> {
        Err(Errno::EBADF)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KState;

    #[test]
    fn a_covering_mount_hides_what_is_mounted_beneath() {
        let fs: Arc<dyn Filesystem> = Arc::new(crate::fs::proc::ProcFs::new());
        let mount = |point: &[u8], parent: Option<&Mount>| {
            let mut m = Mount::new(point, fs.clone(), b"", "x", 0);
            if let Some(p) = parent {
                m.parent = p.id;
            }
            m
        };
        let root = mount(b"/", None);
        let dev = mount(b"/dev", Some(&root));
        let shm = mount(b"/dev/shm", Some(&dev));
        let over = mount(b"/dev", Some(&dev));
        let ids = (root.id, dev.id, shm.id, over.id);
        let mut v: Vec<Arc<Mount>> = [root, dev, shm].into_iter().map(Arc::new).collect();
        let at = |v: &[Arc<Mount>], p: &[u8]| visible_mount(v, p).id;
        assert_eq!(at(&v, b"/dev/shm/x"), ids.2);
        assert_eq!(at(&v, b"/dev/null"), ids.1);
        assert_eq!(at(&v, b"/etc"), ids.0);
        v.push(Arc::new(over));
        assert_eq!(
            at(&v, b"/dev/shm/x"),
            ids.3,
            "the tmpfs over /dev hides /dev/shm"
        );
        assert_eq!(at(&v, b"/dev"), ids.3);
        // A mount whose parent left the table is placed by its point.
        let mut stray = Mount::new(b"/srv", fs.clone(), b"", "x", 0);
        stray.parent = 9_999_999;
        let stray_id = stray.id;
        v.push(Arc::new(stray));
        assert_eq!(at(&v, b"/srv/a"), stray_id);
    }

    const DIR: u32 = libc::S_IFDIR | 0o755;
    const REG: u32 = libc::S_IFREG | 0o644;

    struct Fixture {
        vfs: Vfs,
        st: KState,
    }

    impl Fixture {
        /// A tmpfs root holding /a/b/f, /a/rel -> b/f, /a/abs -> /a/b,
        /// the loop /l1 -> l2 -> l1, and a second tmpfs mounted on /a/m.
        fn new() -> Fixture {
            let f = Fixture {
                vfs: Vfs::for_tests(),
                st: KState::default(),
            };
            let fs = f.vfs.init_ns.mount_of(b"/").0.fs.clone();
            let c = f.caller();
            for (rel, mode) in [
                (&b"a"[..], DIR),
                (b"a/b", DIR),
                (b"a/b/f", REG),
                (b"a/m", DIR),
            ] {
                fs.mknod(&c, rel, mode, 0, (0, 0)).unwrap();
            }
            fs.symlink(&c, b"a/rel", b"b/f", (0, 0)).unwrap();
            fs.symlink(&c, b"a/abs", b"/a/b", (0, 0)).unwrap();
            fs.symlink(&c, b"l1", b"l2", (0, 0)).unwrap();
            fs.symlink(&c, b"l2", b"l1", (0, 0)).unwrap();
            let mf = Arc::new(crate::memfile::MemFile::new().expect("memory file"));
            let other = super::super::tmpfs::TmpFs::new(0x77, 0o755, 1 << 20, &mf);
            other.mknod(&c, b"x", REG, 0, (0, 0)).unwrap();
            f.vfs
                .init_ns
                .add(Mount::new(b"/a/m", Arc::new(other), b"", "tmpfs", 0));
            f
        }

        fn caller(&self) -> Caller<'_> {
            Caller::new(&self.st, 0, &self.vfs)
        }

        fn place(&self, path: &[u8]) -> PathRef {
            self.vfs.init_ns.path_ref(path)
        }

        fn walk_from(&self, at: &[u8], path: &[u8], follow: bool, how: u64) -> KResult<Resolved> {
            let root = self.place(b"/");
            self.vfs
                .walk(&self.caller(), &self.place(at), &root, path, follow, how)
        }

        /// The canonical path `path` walks to from /, following links.
        fn path(&self, path: &[u8]) -> KResult<String> {
            let r = self.walk_from(b"/", path, true, 0)?;
            Ok(String::from_utf8(r.path).unwrap())
        }
    }

    #[test]
    fn tmpfs_attributes_are_not_bounded_by_the_mount_size() {
        // Linux's size= bounds pages; attributes count against the
        // sandbox's memory instead (the robustness suite runs that out).
        let f = Fixture::new();
        let c = f.caller();
        let mf = Arc::new(crate::memfile::MemFile::new().expect("memory file"));
        let fs = super::super::tmpfs::TmpFs::new(0x78, 0o755, 64 << 10, &mf);
        fs.mknod(&c, b"f", libc::S_IFREG | 0o644, 0, (0, 0))
            .unwrap();
        let big = vec![7u8; 16 << 10];
        for i in 0..8 {
            let name = format!("user.k{i}");
            fs.xattr(&c, b"f", &XattrOp::Set(name.as_bytes(), &big, 0))
                .unwrap();
        }
        fs.unlink(&c, b"f", false).unwrap();
    }

    #[test]
    fn namespace_lock_nests_and_excludes() {
        let vfs = Arc::new(Vfs::for_tests());
        // Nested walks and changes in one thread take it once.
        assert_eq!(vfs.changing(|| vfs.reading(|| vfs.changing(|| 7))), 7);
        assert_eq!(vfs.reading(|| vfs.reading(|| 8)), 8);
        // A change excludes walks of other threads for its whole length.
        let inside = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (v2, in2) = (vfs.clone(), inside.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        let changer = std::thread::spawn(move || {
            v2.changing(|| {
                in2.store(true, std::sync::atomic::Ordering::SeqCst);
                tx.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(50));
                in2.store(false, std::sync::atomic::Ordering::SeqCst);
            })
        });
        rx.recv().unwrap();
        let seen = vfs.reading(|| inside.load(std::sync::atomic::Ordering::SeqCst));
        assert!(!seen, "a walk ran inside another thread's change");
        changer.join().unwrap();
        // The hold ends with the call, even when it unwinds.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            vfs.changing::<()>(|| panic!("boom"))
        }));
        assert!(r.is_err());
        assert_eq!(vfs.reading(|| 9), 9);
    }

    #[test]
    fn walks_without_the_kernel_lock_until_procfs() {
        let f = Fixture::new();
        f.vfs.init_ns.add(Mount::new(
            b"/a/b",
            Arc::new(super::super::proc::ProcFs::new()),
            b"",
            "proc",
            0,
        ));
        let creds = crate::kernel::Creds::root();
        let c = Caller::unlocked(0, &f.vfs, &creds, &f.vfs.init_ns);
        let root = f.place(b"/");
        let walk = |p: &[u8]| f.vfs.walk(&c, &root, &root, p, true, 0).map(|r| r.path);
        assert_eq!(walk(b"/a/m/x").unwrap(), b"/a/m/x");
        assert_eq!(walk(b"/l1").unwrap_err(), Errno::ELOOP);
        assert_eq!(walk(b"/a/nope/x").unwrap_err(), Errno::ENOENT);
        // procfs shows kernel state: the walk asks for the lock.
        assert_eq!(walk(b"/a/b/self").unwrap_err(), Errno::NEEDLOCK);
        assert_eq!(walk(b"/a/b").unwrap_err(), Errno::NEEDLOCK);
        // With the lock procfs answers itself (no task 0 exists here).
        let locked = f.caller();
        let r = f.vfs.walk(&locked, &root, &root, b"/a/b", true, 0);
        assert_eq!(r.map(|r| r.path).unwrap_err(), Errno::ESRCH);
    }

    #[test]
    fn dot_dotdot_and_slashes() {
        let f = Fixture::new();
        assert_eq!(f.path(b"/a/b/../b/./f").unwrap(), "/a/b/f");
        assert_eq!(f.path(b"//a///b//").unwrap(), "/a/b");
        assert_eq!(f.path(b"/../../a").unwrap(), "/a");
        assert_eq!(f.path(b"/a/b/f/").unwrap_err(), Errno::ENOTDIR);
        assert_eq!(f.path(b"/a/b/f/x").unwrap_err(), Errno::ENOTDIR);
        assert_eq!(f.path(b"/a/nope/x").unwrap_err(), Errno::ENOENT);
        let missing = f.walk_from(b"/", b"/a/new", true, 0).unwrap();
        assert!(missing.stat.is_none());
        assert_eq!(missing.path, b"/a/new");
        let long = vec![b'x'; NAME_MAX + 1];
        assert_eq!(f.path(&long).unwrap_err(), Errno::ENAMETOOLONG);
    }

    #[test]
    fn symlinks() {
        let f = Fixture::new();
        assert_eq!(f.path(b"/a/rel").unwrap(), "/a/b/f");
        assert_eq!(f.path(b"/a/abs/f").unwrap(), "/a/b/f");
        assert_eq!(f.path(b"/a/abs/../rel").unwrap(), "/a/b/f");
        let link = f.walk_from(b"/", b"/a/rel", false, 0).unwrap();
        assert_eq!(link.stat.unwrap().mode & libc::S_IFMT, libc::S_IFLNK);
        assert_eq!(f.path(b"/l1").unwrap_err(), Errno::ELOOP);
        assert_eq!(
            f.walk_from(b"/", b"/a/rel", true, RESOLVE_NO_SYMLINKS)
                .unwrap_err(),
            Errno::ELOOP
        );
        // An absolute target is read from the walk's root.
        let r = f.vfs.walk(
            &f.caller(),
            &f.place(b"/a"),
            &f.place(b"/a"),
            b"abs",
            true,
            0,
        );
        assert_eq!(r.unwrap_err(), Errno::ENOENT); // /a/a/b does not exist
    }

    #[test]
    fn a_chain_of_links_stops_at_the_limit() {
        let f = Fixture::new();
        let fs = f.vfs.init_ns.mount_of(b"/").0.fs.clone();
        let c = f.caller();
        fs.symlink(&c, b"c0", b"a/b/f", (0, 0)).unwrap();
        for i in 1..=MAX_SYMLINKS {
            let (name, target) = (format!("c{i}"), format!("c{}", i - 1));
            fs.symlink(&c, name.as_bytes(), target.as_bytes(), (0, 0))
                .unwrap();
        }
        assert_eq!(
            f.path(format!("c{}", MAX_SYMLINKS - 1).as_bytes()).unwrap(),
            "/a/b/f"
        );
        assert_eq!(
            f.path(format!("c{MAX_SYMLINKS}").as_bytes()).unwrap_err(),
            Errno::ELOOP
        );
    }

    #[test]
    fn mounts() {
        let f = Fixture::new();
        let x = f.walk_from(b"/", b"/a/m/x", true, 0).unwrap();
        assert_eq!(x.mount.point, b"/a/m");
        assert_eq!(x.rel, b"x");
        assert_eq!(f.path(b"/a/m/../b").unwrap(), "/a/b");
        assert_eq!(
            f.walk_from(b"/a", b"m/x", true, RESOLVE_NO_XDEV)
                .unwrap_err(),
            Errno::EXDEV
        );
        // A place inside the mount shows the mount point in its path.
        assert_eq!(f.place(b"/a/m/x").path(), b"/a/m/x");
    }

    #[test]
    fn beneath_and_in_root() {
        let f = Fixture::new();
        let beneath = |p: &[u8]| f.walk_from(b"/a", p, true, RESOLVE_BENEATH);
        assert_eq!(beneath(b"b/f").unwrap().path, b"/a/b/f");
        assert_eq!(beneath(b"../a").unwrap_err(), Errno::EXDEV);
        assert_eq!(beneath(b"/a").unwrap_err(), Errno::EXDEV);
        assert_eq!(beneath(b"abs").unwrap_err(), Errno::EXDEV);
        let in_root = |p: &[u8]| f.walk_from(b"/a", p, true, RESOLVE_IN_ROOT);
        assert_eq!(in_root(b"/../b/f").unwrap().path, b"/a/b/f");
        assert_eq!(in_root(b"/rel").unwrap().path, b"/a/b/f");
    }

    #[test]
    fn walks_follow_renames_and_stop_at_removals() {
        let f = Fixture::new();
        let c = f.caller();
        let b = f.place(b"/a/b");
        let walk = |at: &PathRef, p: &[u8]| {
            f.vfs
                .walk(&c, at, &f.place(b"/"), p, true, 0)
                .map(|r| String::from_utf8(r.path).unwrap())
        };
        let old = f.walk_from(b"/", b"/a", false, 0).unwrap();
        let new = f.walk_from(b"/", b"/z", false, 0).unwrap();
        f.vfs.rename(&c, &old, &new, 0).unwrap();
        assert_eq!(b.path(), b"/z/b");
        assert_eq!(walk(&b, b"f").unwrap(), "/z/b/f");
        assert_eq!(walk(&b, b"../rel").unwrap(), "/z/b/f");
        // A new /a is not the old one.
        let fs = f.vfs.init_ns.mount_of(b"/").0.fs.clone();
        fs.mknod(&c, b"a", DIR, 0, (0, 0)).unwrap();
        assert!(!Arc::ptr_eq(&f.place(b"/a").dentry, &f.place(b"/z").dentry));

        // Remove a directory someone is in.
        fs.mknod(&c, b"z/b/gone", DIR, 0, (0, 0)).unwrap();
        let gone = f.place(b"/z/b/gone");
        let r = f.walk_from(b"/", b"/z/b/gone", false, 0).unwrap();
        f.vfs.remove(&c, &r, true).unwrap();
        assert!(gone.is_dead());
        assert_eq!(gone.display(), b"/z/b/gone (deleted)");
        assert_eq!(walk(&gone, b"x").unwrap_err(), Errno::ENOENT);
        assert_eq!(walk(&gone, b"..").unwrap(), "/z/b");
        let dot = f
            .vfs
            .walk(&c, &gone, &f.place(b"/"), b".", true, 0)
            .unwrap();
        assert!(dot.removed());
        assert_eq!(dot.stat.unwrap().nlink, 0);
        // Even once the name exists again.
        fs.mknod(&c, b"z/b/gone", DIR, 0, (0, 0)).unwrap();
        assert_eq!(walk(&gone, b"x").unwrap_err(), Errno::ENOENT);
        assert!(!f.place(b"/z/b/gone").is_dead());
    }

    #[test]
    fn new_nodes_inherit_a_default_acl_and_chmod_moves_the_access_acl() {
        use super::super::acl;
        use crate::kernel::Creds;
        let f = Fixture::new();
        let fs = f.vfs.init_ns.mount_of(b"/").0.fs.clone();
        let c = f.caller();
        // u::rwx u:1000:rwx g::r-x m::rwx o::---
        let mut dflt = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in [
            (acl::USER_OBJ, 7u16, u32::MAX),
            (acl::USER, 7, 1000),
            (acl::GROUP_OBJ, 5, u32::MAX),
            (acl::MASK, 7, u32::MAX),
            (acl::OTHER, 0, u32::MAX),
        ] {
            dflt.extend(tag.to_le_bytes());
            dflt.extend(perm.to_le_bytes());
            dflt.extend(id.to_le_bytes());
        }
        fs.xattr(&c, b"a", &XattrOp::Set(acl::DEFAULT, &dflt, 0))
            .unwrap();
        assert!(f.vfs.lstat(&c, &split(b"/a")).unwrap().default_acl);
        let made = |path: &[u8], mode: u32| {
            let r = f.walk_from(b"/", path, false, 0).unwrap();
            f.vfs.mknod(&c, &r, mode, 0o022, 0, (0, 0)).unwrap();
            f.vfs.lstat(&c, &split(path)).unwrap()
        };
        // The umask does not apply; the mask takes the group bits.
        let st = made(b"/a/new", libc::S_IFREG | 0o666);
        assert_eq!(st.mode & 0o7777, 0o660);
        assert_ne!(st.acl, 0);
        let named = Creds::of(1000, 1000, vec![]);
        assert!(may(&named, &st, MAY_READ | MAY_WRITE));
        assert!(!may(&Creds::of(1001, 1001, vec![]), &st, MAY_READ));
        // chmod cuts the mask, and with it the named user.
        let attr = SetAttr {
            mode: Some(0o640),
            ..Default::default()
        };
        fs.setattr(&c, b"a/new", &attr).unwrap();
        let st = f.vfs.lstat(&c, &split(b"/a/new")).unwrap();
        assert!(may(&named, &st, MAY_READ));
        assert!(!may(&named, &st, MAY_WRITE));
        // A directory takes the default ACL along.
        let st = made(b"/a/d", libc::S_IFDIR | 0o777);
        assert!(st.default_acl);
        assert_eq!(st.mode & 0o777, 0o770);
        // Without it the umask is back, and no ACL comes.
        fs.xattr(&c, b"a", &XattrOp::Remove(acl::DEFAULT)).unwrap();
        let st = made(b"/a/plain", libc::S_IFREG | 0o666);
        assert_eq!((st.mode & 0o7777, st.acl), (0o644, 0));
    }
}
