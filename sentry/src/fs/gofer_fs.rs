//! The container root served by the gofer. Walks cost one round trip for a
//! whole path; results are cached so that warm walks cost none.
//!
//! The direct path: when the gofer donated its root directory (it does so
//! only when it pivoted into the root, so `..` cannot leave it from any fd,
//! and, serving read-only, made every mount read-only), lookups, opens and
//! readlinks of regular files and directories are host calls the sentry
//! makes itself: openat2 beneath that fd with no symlink followed. This
//! is gVisor's directfs trade-off: a compromised sentry can read whatever
//! the gofer could serve (and, on a writable root, change it), but nothing
//! outside the root. FIFOs, sockets and devices still go to the gofer.

use super::acl;
use super::attr::{Stat, StatFs};
use super::file::FileOps;
use super::host::HostFile;
use super::vfs::{Caller, Filesystem, SetAttr};
use crate::errno::{Errno, KResult};
use gofer::Client;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// Resolution for the direct path: beneath the root, no symlinks at all
/// (the VFS resolves them itself), no magic links.
const DIRECT_RESOLVE: u64 =
    libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;

/// openat2 of `path` (absolute in the gofer's root) beneath `root`.
fn direct_open(root: &OwnedFd, path: &[u8], flags: i32) -> KResult<OwnedFd> {
    let rel = path.strip_prefix(b"/").unwrap_or(path);
    let rel = CString::new(if rel.is_empty() { b"." } else { rel }).map_err(|_| Errno::ENOENT)?;
    // SAFETY: open_how is plain integers; all-zero is valid.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = crate::num::bits(i64::from(flags | libc::O_NOFOLLOW | libc::O_CLOEXEC));
    how.resolve = DIRECT_RESOLVE;
    loop {
        // SAFETY: a NUL-terminated path and an open_how of the size passed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                rel.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel just returned this new descriptor.
            return Ok(unsafe {
                OwnedFd::from_raw_fd(i32::try_from(fd).map_err(|_| Errno::EBADF)?)
            });
        }
        let e = Errno::last();
        if e != Errno::EINTR && e != Errno::EAGAIN {
            return Err(e);
        }
    }
}

/// The gofer's wire types stop here.
fn stat_of(s: &gofer::FileStat) -> Stat {
    let (uid, gid) = super::idmap::inward(s.uid, s.gid);
    Stat {
        dev: s.dev,
        ino: s.ino,
        mode: s.mode,
        nlink: s.nlink,
        uid,
        gid,
        rdev: s.rdev,
        size: s.size,
        blksize: s.blksize,
        blocks: s.blocks,
        atime: s.atime,
        mtime: s.mtime,
        ctime: s.ctime,
        btime: (0, 0),
        // The ACLs come with `GoferFs::with_acls`.
        ..Stat::default()
    }
}

fn statfs_of(s: &gofer::StatFs) -> StatFs {
    StatFs {
        f_type: s.f_type,
        bsize: s.bsize,
        blocks: s.blocks,
        bfree: s.bfree,
        bavail: s.bavail,
        files: s.files,
        ffree: s.ffree,
        namelen: s.namelen,
        frsize: s.frsize,
        flags: s.flags,
    }
}

fn fstat_fd(fd: &OwnedFd) -> KResult<Stat> {
    // SAFETY: fstat into a zeroed stat on an fd we own.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_raw_fd(), &mut st) != 0 {
            return Err(Errno::last());
        }
        let mut s = Stat::from_host(&st);
        (s.uid, s.gid) = super::idmap::inward(s.uid, s.gid);
        Ok(s)
    }
}

/// Errors after which the direct path hands the operation to the gofer:
/// a symlink or mount crossing the strict resolution refuses, or a file
/// the unprivileged sandbox may not open itself (the gofer may; the
/// sentry's own permission checks decide what the application gets).
fn retry_via_gofer(e: Errno) -> bool {
    e == Errno::ELOOP
        || e == Errno::EXDEV
        || e == Errno::EAGAIN
        || e == Errno::EACCES
        || e == Errno::EPERM
}

/// One gofer connection per CPU: the gofer serves each on a thread pinned
/// to that CPU, so a request never needs a cross-CPU wake-up.
pub struct GoferPool {
    clients: Vec<Client>,
    /// The root fd for the direct path, when enabled and donated.
    direct: Option<OwnedFd>,
    /// The gofer accepts changes (`husk do --overlay=none`).
    pub writable: bool,
    /// The root is read-only as it is, with no overlay above it (a
    /// container whose `root.readonly` is set).
    pub read_only_root: bool,
}

impl GoferPool {
    pub fn new(clients: Vec<Client>) -> GoferPool {
        assert!(!clients.is_empty(), "at least one gofer connection");
        GoferPool {
            clients,
            direct: None,
            writable: false,
            read_only_root: false,
        }
    }

    /// Asks the gofer for its root fd to take the direct path; false (and
    /// every operation a round trip) when the gofer refuses.
    pub fn enable_direct(&mut self) -> bool {
        match self.clients[0].root_fd() {
            Ok(fd) => {
                self.direct = Some(fd);
                true
            }
            Err(e) => {
                tracing::info!("gofer direct path unavailable: {e}");
                false
            }
        }
    }

    /// The connection served on the caller's CPU.
    pub fn pick(&self) -> &Client {
        // SAFETY: sched_getcpu has no arguments.
        let cpu = usize::try_from(unsafe { libc::sched_getcpu() }).unwrap_or(0);
        &self.clients[cpu % self.clients.len()]
    }
}

pub struct GoferFs {
    client: Arc<GoferPool>,
    stats: Mutex<HashMap<Vec<u8>, Result<Stat, Errno>>>,
    links: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    acls: Arc<AclCache>,
    /// The directory the direct path last read ACLs in, by path and
    /// (dev, ino): lookups come a directory at a time.
    acl_dir: Mutex<Option<AclDir>>,
}

/// A directory held open for ACL reads: its path, (dev, ino) and fd.
type AclDir = (Vec<u8>, (u64, u64), Arc<OwnedFd>);

/// The POSIX ACLs of the host files looked up, by (dev, ino).
#[derive(Default)]
struct AclCache(Mutex<HashMap<(u64, u64), HostAcls>>);

/// An open host file's stat: the container's ids, and the ACLs its
/// last lookup found (whatever has changed its change time since; an
/// ACL changed in the sandbox is forgotten at once).
impl super::host::StatView for AclCache {
    fn adjust(&self, st: &mut Stat) {
        (st.uid, st.gid) = super::idmap::inward(st.uid, st.gid);
        if let Some(h) = self.0.lock().get(&(st.dev, st.ino)) {
            st.acl = h.access.as_ref().map_or(0, acl::Held::key);
            st.default_acl = h.default;
        }
    }
}

/// A host file's POSIX ACLs as last read: good while its change time is,
/// which every change of an ACL moves.
struct HostAcls {
    ctime: (i64, i64),
    access: Option<acl::Held>,
    default: bool,
}

/// A host file's ACL value (host ids) with the container's ids.
fn acl_from_host(v: &[u8]) -> Option<acl::Acl> {
    let inward = super::idmap::id_inward;
    acl::Acl::from_host(v, |u| inward(u, true), |g| inward(g, false))
}

fn abs(rel: &[u8]) -> Vec<u8> {
    let mut p = vec![b'/'];
    p.extend_from_slice(rel);
    p
}

impl GoferFs {
    pub fn new(client: Arc<GoferPool>) -> GoferFs {
        GoferFs {
            client,
            stats: Mutex::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
            acls: Arc::default(),
            acl_dir: Mutex::new(None),
        }
    }

    /// The ACLs of `path` (absolute in the root) on the direct path: the
    /// access ACL's value (host ids) and whether a directory has a
    /// default ACL, asked of its name in its directory (opened beneath
    /// `root`) without opening the file itself.
    fn direct_acls(
        &self,
        root: &OwnedFd,
        path: &[u8],
        dir: bool,
    ) -> KResult<(Option<Vec<u8>>, bool)> {
        let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
            _ if path == b"/" => (None, &b"."[..]),
            Some(0) => (None, &path[1..]),
            Some(i) => (Some(self.acl_dir(root, &path[..i])?), &path[i + 1..]),
            None => return Err(Errno::ENOENT),
        };
        // One name in its directory: getxattrat resolves it without the
        // RESOLVE_IN_ROOT rules, so nothing but a plain name is asked.
        if name.is_empty() || name == b".." || (name == b"." && path != b"/") {
            return Err(Errno::ENOENT);
        }
        let name = CString::new(name).map_err(|_| Errno::ENOENT)?;
        let at = parent.as_deref().unwrap_or(root).as_fd();
        let get = |attr| match gofer::getxattrat(at, &name, attr) {
            Err(libc::EOPNOTSUPP) => Ok(None),
            r => r.map_err(Errno),
        };
        let access = get(gofer::ACL_ACCESS)?;
        let default = dir && get(gofer::ACL_DEFAULT)?.is_some();
        Ok((access, default))
    }

    /// The directory `path` opened beneath `root`: the last one again
    /// while the lookup cache still knows it as the same inode (a
    /// directory renamed or replaced since is opened afresh).
    fn acl_dir(&self, root: &OwnedFd, path: &[u8]) -> KResult<Arc<OwnedFd>> {
        let now = match self.stats.lock().get(path) {
            Some(Ok(st)) => Some((st.dev, st.ino)),
            _ => None,
        };
        if let Some((p, id, fd)) = &*self.acl_dir.lock() {
            if p == path && now == Some(*id) {
                return Ok(fd.clone());
            }
        }
        let fd = Arc::new(direct_open(root, path, libc::O_PATH | libc::O_DIRECTORY)?);
        let st = fstat_fd(&fd)?;
        *self.acl_dir.lock() = Some((path.to_vec(), (st.dev, st.ino), fd.clone()));
        Ok(fd)
    }

    /// `st`, the stat of `path`, with its ACLs: from the cache while its
    /// change time holds, else read (`flags`, a walk's, say which there
    /// are).
    fn with_acls(&self, path: &[u8], mut st: Stat, flags: Option<u8>) -> Stat {
        if st.file_type() == libc::S_IFLNK {
            return st;
        }
        let key = (st.dev, st.ino);
        if let Some(h) = self.acls.0.lock().get(&key).filter(|h| h.ctime == st.ctime) {
            st.acl = h.access.as_ref().map_or(0, acl::Held::key);
            st.default_acl = h.default;
            return st;
        }
        let (access, default) = self.read_acls(path, st.is_dir(), flags);
        let access = access.and_then(|v| acl_from_host(&v));
        let mut cache = self.acls.0.lock();
        // A file whose change time moved for another reason (a write)
        // keeps its key, so stats taken before stay good.
        let access = match (access, cache.remove(&key).and_then(|h| h.access)) {
            (Some(new), Some(old)) if *old.acl() == new => Some(old),
            (new, _) => new.map(acl::Held::new),
        };
        st.acl = access.as_ref().map_or(0, acl::Held::key);
        st.default_acl = default;
        // Most files have no ACL. Their stats are cached by path anyway,
        // except on a writable root with the direct path, where every
        // lookup stats afresh and the cache spares it the read.
        let fresh = self.client.writable && self.client.direct.is_some();
        if access.is_some() || default || fresh {
            let h = HostAcls {
                ctime: st.ctime,
                access,
                default,
            };
            cache.insert(key, h);
        }
        st
    }

    /// The access ACL's value (host ids) of `path`, and whether a
    /// directory has a default ACL.
    fn read_acls(&self, path: &[u8], dir: bool, flags: Option<u8>) -> (Option<Vec<u8>>, bool) {
        let ask = |name: &[u8]| {
            self.client
                .pick()
                .xattr(path, 0, name, &[], 0)
                .ok()
                .filter(|v| !v.is_empty())
        };
        if let Some(f) = flags {
            let access = (f & gofer::proto::ACL_ACCESS_SET != 0)
                .then(|| ask(acl::ACCESS))
                .flatten();
            return (access, f & gofer::proto::ACL_DEFAULT_SET != 0);
        }
        if let Some(root) = &self.client.direct {
            match self.direct_acls(root, path, dir) {
                Ok(r) => return r,
                Err(e) => tracing::debug!("ACLs of {:?} through the gofer: {e:?}", path),
            }
        }
        (ask(acl::ACCESS), dir && ask(acl::DEFAULT).is_some())
    }

    fn walk(&self, path: &[u8]) -> KResult<()> {
        let reply = self.client.pick().walk(path)?;
        let comps = super::vfs::split(path);
        let mut prefix = b"/".to_vec();
        let mut found = Vec::with_capacity(reply.stats.len());
        for (i, st) in reply.stats.iter().enumerate() {
            if i > 0 {
                if prefix.len() > 1 {
                    prefix.push(b'/');
                }
                prefix.extend_from_slice(&comps[i - 1]);
            }
            let flags = reply.acls.get(i).copied().unwrap_or(0);
            found.push((
                prefix.clone(),
                self.with_acls(&prefix, stat_of(st), Some(flags)),
            ));
        }
        let mut stats = self.stats.lock();
        for (p, st) in found {
            stats.insert(p, Ok(st));
        }
        if let Some(t) = reply.symlink_target {
            self.links.lock().insert(prefix.clone(), t);
        }
        if let Some(e) = reply.error {
            let i = reply.stats.len();
            if i >= 1 && i <= comps.len() {
                let mut p = prefix.clone();
                if p.len() > 1 {
                    p.push(b'/');
                }
                p.extend_from_slice(&comps[i - 1]);
                stats.insert(p, Err(Errno(e)));
            }
        }
        Ok(())
    }
}

impl GoferFs {
    /// Drops what the caches know about `path` and its directory.
    fn forget(&self, path: &[u8]) {
        let parent = match path.iter().rposition(|&b| b == b'/') {
            Some(0) => b"/".to_vec(),
            Some(i) => path[..i].to_vec(),
            None => b"/".to_vec(),
        };
        let mut st = self.stats.lock();
        if let Some(Ok(s)) = st.remove(path) {
            self.acls.0.lock().remove(&(s.dev, s.ino));
        }
        st.remove(&parent);
        self.links.lock().remove(path);
    }

    /// Like `forget`, for everything beneath `path` too (renames and
    /// removals of directories).
    fn forget_tree(&self, path: &[u8]) {
        self.forget(path);
        let inside = |k: &Vec<u8>| k.starts_with(path) && k.get(path.len()) == Some(&b'/');
        self.stats.lock().retain(|k, _| !inside(k));
        self.links.lock().retain(|k, _| !inside(k));
    }

    fn host_file(&self, fd: OwnedFd) -> HostFile {
        let f = HostFile::new(fd).with_view(self.acls.clone());
        if self.client.writable {
            f.with_attrs()
        } else {
            f
        }
    }

    /// New files belong to the creating task's fs ids, as on Linux; the
    /// gofer creates them as itself (host root), so a mapped root's too
    /// are given away.
    fn own(&self, path: &[u8], owner: (u32, u32)) -> KResult<()> {
        if owner != (0, 0) || super::idmap::active() {
            let (uid, gid) = super::idmap::outward(owner.0, owner.1)?;
            self.client.pick().chown(path, uid, gid)?;
            self.forget(path);
        }
        Ok(())
    }
}

fn readlink_fd(fd: &OwnedFd) -> KResult<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: readlinkat of an O_PATH symlink fd with an empty path, into
    // our buffer of the length passed.
    let n = unsafe {
        libc::readlinkat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(Errno::last());
    }
    buf.truncate(crate::num::count(n));
    Ok(buf)
}

impl Filesystem for GoferFs {
    fn fstype(&self) -> &'static str {
        "9p"
    }

    fn read_only(&self) -> bool {
        !self.client.writable
    }

    fn lookup(&self, _c: &Caller, rel: &[u8]) -> KResult<Stat> {
        let path = abs(rel);
        // A writable root is shared with the host: with the direct path a
        // fresh stat is cheap, so nothing is cached.
        let fresh = self.client.writable && self.client.direct.is_some();
        if !fresh {
            if let Some(r) = self.stats.lock().get(&path) {
                // A writable root's regular files change through open
                // files (writes, truncates) and from the host: their
                // size and times are asked for afresh.
                let file = r.is_ok_and(|s| s.mode & libc::S_IFMT == libc::S_IFREG);
                if !(self.client.writable && file) {
                    return *r;
                }
            }
        }
        if let Some(root) = &self.client.direct {
            let r = direct_open(root, &path, libc::O_PATH)
                .and_then(|fd| fstat_fd(&fd))
                .map(|st| self.with_acls(&path, st, None));
            if !r.is_err_and(retry_via_gofer) {
                self.stats.lock().insert(path, r);
                return r;
            }
        }
        self.walk(&path)?;
        if let Some(r) = self.stats.lock().get(&path) {
            return *r;
        }
        let r = self
            .client
            .pick()
            .lstat(&path)
            .map(|s| self.with_acls(&path, stat_of(&s), None))
            .map_err(Errno::from);
        self.stats.lock().insert(path, r);
        r
    }

    fn readlink(&self, _c: &Caller, rel: &[u8]) -> KResult<Vec<u8>> {
        let path = abs(rel);
        if let Some(t) = self.links.lock().get(&path) {
            return Ok(t.clone());
        }
        let t = match &self.client.direct {
            Some(root) => match direct_open(root, &path, libc::O_PATH) {
                Ok(fd) => readlink_fd(&fd)?,
                Err(e) if retry_via_gofer(e) => self.client.pick().readlink(&path)?,
                Err(e) => return Err(e),
            },
            None => self.client.pick().readlink(&path)?,
        };
        self.links.lock().insert(path, t.clone());
        Ok(t)
    }

    fn open(&self, _c: &Caller, rel: &[u8], flags: i32, mode: u32) -> KResult<Box<dyn FileOps>> {
        // O_SYNC and O_DSYNC make the host's writes durable, as the
        // program asked (a database's log). O_DIRECT is not passed: the
        // sentry's buffers are not aligned for it.
        let keep = libc::O_ACCMODE
            | libc::O_APPEND
            | libc::O_DIRECTORY
            | libc::O_TRUNC
            | libc::O_NONBLOCK
            | libc::O_SYNC
            | libc::O_DSYNC;
        let path = abs(rel);
        if let Some(root) = &self.client.direct {
            let plain = self.stats.lock().get(&path).is_some_and(|r| {
                r.is_ok_and(|st| matches!(st.file_type(), libc::S_IFREG | libc::S_IFDIR))
            });
            // Only reads: writes to the root go through the overlay's upper
            // layer, or to the gofer on a writable root.
            let read = flags & libc::O_ACCMODE == libc::O_RDONLY && flags & libc::O_TRUNC == 0;
            if plain && read {
                let want = flags & (libc::O_DIRECTORY | libc::O_NONBLOCK);
                match direct_open(
                    root,
                    &path,
                    libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | want,
                ) {
                    Ok(fd) => {
                        let st = fstat_fd(&fd)?;
                        if matches!(st.file_type(), libc::S_IFREG | libc::S_IFDIR) {
                            return Ok(Box::new(self.host_file(fd)));
                        }
                    }
                    Err(e) if retry_via_gofer(e) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let fd = self.client.pick().open(&path, flags & keep, mode)?;
        if flags & (libc::O_TRUNC | libc::O_CREAT) != 0 {
            self.forget(&path);
        }
        Ok(Box::new(self.host_file(fd)))
    }

    fn statfs(&self) -> KResult<StatFs> {
        Ok(statfs_of(&self.client.pick().statfs(b"/")?))
    }

    /// A writable root is the host's: its filesystem's dirty data goes to
    /// storage (syncfs on the root directory, opened for it). A read-only
    /// one has none of the sandbox's.
    fn sync_fs(&self) -> KResult<()> {
        if !self.client.writable {
            return Ok(());
        }
        let fd = self
            .client
            .pick()
            .open(b"/", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        rustix::fs::syncfs(&fd).map_err(|e| Errno(e.raw_os_error()))
    }

    fn mknod(
        &self,
        _c: &Caller,
        rel: &[u8],
        mode: u32,
        rdev: u64,
        owner: (u32, u32),
    ) -> KResult<()> {
        let path = abs(rel);
        let g = self.client.pick();
        if mode & libc::S_IFMT == libc::S_IFDIR {
            g.mkdir(&path, mode & 0o7777)?;
        } else {
            g.mknod(&path, mode, rdev)?;
        }
        self.forget(&path);
        self.own(&path, owner)
    }

    fn symlink(&self, _c: &Caller, rel: &[u8], target: &[u8], owner: (u32, u32)) -> KResult<()> {
        let path = abs(rel);
        self.client.pick().symlink(target, &path)?;
        self.forget(&path);
        self.own(&path, owner)
    }

    fn link(&self, _c: &Caller, old: &[u8], new: &[u8]) -> KResult<()> {
        let (old, new) = (abs(old), abs(new));
        self.client.pick().link(&old, &new)?;
        self.forget(&old);
        self.forget(&new);
        Ok(())
    }

    fn unlink(&self, _c: &Caller, rel: &[u8], dir: bool) -> KResult<()> {
        let path = abs(rel);
        self.client.pick().unlink(&path, dir)?;
        self.forget_tree(&path);
        Ok(())
    }

    fn rename(&self, _c: &Caller, old: &[u8], new: &[u8], flags: u32) -> KResult<()> {
        let (old, new) = (abs(old), abs(new));
        self.client.pick().rename(&old, &new, flags)?;
        self.forget_tree(&old);
        self.forget_tree(&new);
        Ok(())
    }

    /// user.* attributes and POSIX ACLs of host files, through the
    /// gofer, and their file capabilities to read (it serves no other:
    /// the host's trusted.* and security.* are not the sandbox's). ACLs
    /// cross with their ids mapped: the gofer's are the host's.
    fn xattr(&self, _c: &Caller, rel: &[u8], op: &super::vfs::XattrOp) -> KResult<Vec<u8>> {
        use super::vfs::XattrOp;
        let host_acl;
        let op = match *op {
            XattrOp::Set(n, v, f) if acl::is_acl(n) => {
                let a = acl::Acl::from_stored(v).ok_or(Errno::EINVAL)?;
                let host_id = super::idmap::id_outward;
                host_acl = a.to_host(|u| host_id(u, true), |g| host_id(g, false))?;
                &XattrOp::Set(n, &host_acl, f)
            }
            _ => op,
        };
        let path = abs(rel);
        let (code, name, value, flags) = match *op {
            XattrOp::Get(n) => (0, n, &[][..], 0),
            XattrOp::Set(n, v, f) => (1, n, v, u32::try_from(f).map_err(|_| Errno::EINVAL)?),
            XattrOp::List => (2, &[][..], &[][..], 0),
            XattrOp::Remove(n) => (3, n, &[][..], 0),
        };
        let r = self.client.pick().xattr(&path, code, name, value, flags);
        if code == 1 || code == 3 {
            // Its change time moved, and its mode with an access ACL.
            self.forget(&path);
        }
        let r = r?;
        if code == 0 && acl::is_acl(name) {
            return acl_from_host(&r).map(|a| a.stored()).ok_or(Errno::ENODATA);
        }
        Ok(r)
    }

    fn setattr(&self, _c: &Caller, rel: &[u8], a: &SetAttr) -> KResult<()> {
        let path = abs(rel);
        let g = self.client.pick();
        let (uid, gid) =
            super::idmap::outward(a.uid.unwrap_or(u32::MAX), a.gid.unwrap_or(u32::MAX))?;
        let r = (|| {
            if let Some(m) = a.mode {
                g.chmod(&path, m & 0o7777)?;
            }
            if a.uid.is_some() || a.gid.is_some() {
                g.chown(&path, uid, gid)?;
            }
            if let Some(len) = a.size {
                g.truncate(&path, crate::num::sbits(len))?;
            }
            if a.atime.is_some() || a.mtime.is_some() {
                let omit = (0, libc::UTIME_OMIT);
                g.utimens(&path, [a.atime.unwrap_or(omit), a.mtime.unwrap_or(omit)])?;
            }
            Ok::<(), gofer::GoferError>(())
        })();
        self.forget(&path);
        Ok(r?)
    }
}
