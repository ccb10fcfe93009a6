//! tmpfs: an in-memory filesystem (/tmp, /dev/shm) with files,
//! directories, symlinks, hard links and a size limit.

use super::acl;
use super::file::{
    File, FileOps, SharedMap, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_WRITE,
};
use super::filepages::FilePages;
use super::vfs::{Caller, Filesystem, SetAttr, XattrOp, XATTR_CREATE, XATTR_REPLACE};
use crate::errno::{Errno, KResult};
use crate::fs::{DirEntry, Stat, StatFs};
use crate::memfile::{MemFile, PAGE};
use parking_lot::Mutex;
use std::any::Any;
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

type Node = Arc<Mutex<Inode>>;

enum Data {
    Dir(BTreeMap<Vec<u8>, Node>),
    File(Contents),
    Link(Vec<u8>),
    /// A FIFO: the pipe every opener shares.
    Fifo(Arc<super::pipe::Pipe>),
    /// Sockets and device nodes: metadata only.
    Special,
}

/// A regular file's bytes: up to a page written from the start, on the
/// sentry's heap (most files are small, and a memory-file page costs an
/// allocation and a hole punch per file); beyond that, or with a hole,
/// sparse pages of the memory file; once mapped shared, a memfd of its
/// own, which the mappings map, so that writes through either are seen by
/// both.
enum Contents {
    /// No holes, at most a page; counted as the page Linux would use.
    Small {
        data: Vec<u8>,
        mf: Arc<MemFile>,
    },
    Pages(FilePages),
    Memfd {
        fd: Arc<OwnedFd>,
        size: u64,
        /// Writable shared mappings alive (F_SEAL_WRITE is EBUSY while
        /// there are any).
        writers: Arc<AtomicUsize>,
    },
}

/// The largest file size (MAX_LFS_FILESIZE).
const MAX_SIZE: u64 = u64::MAX >> 1;

/// Held by a writable shared mapping: counts it while it lives.
struct MapWriter(Arc<AtomicUsize>);

impl Drop for MapWriter {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn io_err(r: isize) -> KResult<usize> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(crate::num::count(r))
    }
}

impl Contents {
    fn new(mf: &Arc<MemFile>) -> Contents {
        Contents::Small {
            data: Vec::new(),
            mf: mf.clone(),
        }
    }

    /// The contents as memory-file pages (moving small contents there).
    fn paged(&mut self) -> KResult<&mut FilePages> {
        if let Contents::Small { data, mf } = self {
            let mut p = FilePages::new(mf.clone());
            p.write_at(0, data)?;
            *self = Contents::Pages(p);
        }
        match self {
            Contents::Pages(p) => Ok(p),
            _ => Err(Errno::EINVAL),
        }
    }

    fn len(&self) -> u64 {
        match self {
            Contents::Small { data, .. } => data.len() as u64,
            Contents::Pages(p) => p.size(),
            Contents::Memfd { size, .. } => *size,
        }
    }

    /// Memory the contents take, which the size limits count: pages with
    /// data (a memfd's size, which does not say where its holes are).
    fn held(&self) -> u64 {
        match self {
            Contents::Small { data, .. } => crate::memfile::page_up(data.len() as u64),
            Contents::Pages(p) => p.allocated(),
            Contents::Memfd { size, .. } => *size,
        }
    }

    /// How much more memory a write of `len` bytes at `at` takes, at most.
    fn write_cost(&self, at: u64, len: u64) -> u64 {
        match self {
            Contents::Small { data, .. } => {
                let held = crate::memfile::page_up(data.len() as u64);
                let end = at.saturating_add(len);
                if len == 0 {
                    0
                } else if at <= data.len() as u64 && end <= PAGE {
                    crate::memfile::page_up(end).saturating_sub(held)
                } else {
                    // Moves to pages: the write's pages, but the first one
                    // if the data held there already.
                    let pages = (end - 1) / PAGE - at / PAGE + 1;
                    let have = u64::from(held > 0 && at < PAGE);
                    (pages - have) * PAGE
                }
            }
            Contents::Pages(p) => p.missing(at, len) * PAGE,
            Contents::Memfd { size, .. } => at.saturating_add(len).saturating_sub(*size),
        }
    }

    /// fallocate(2)'s allocation of `[at, end)`: pages where there were
    /// holes (a small file holds all of its bytes; a memfd's are the
    /// host's to allocate).
    fn allocate(&mut self, at: u64, end: u64, keep_size: bool) -> KResult<()> {
        // A small file holds its bytes; pages past them make it paged.
        if let Contents::Small { data, .. } = self {
            if end <= data.len() as u64 {
                return Ok(());
            }
        }
        match self {
            Contents::Small { .. } => self.paged()?.allocate(at, end),
            Contents::Pages(p) => p.allocate(at, end),
            Contents::Memfd { fd, .. } => {
                let mode = if keep_size {
                    rustix::fs::FallocateFlags::KEEP_SIZE
                } else {
                    rustix::fs::FallocateFlags::empty()
                };
                rustix::fs::fallocate(&**fd, mode, at, end - at)
                    .map_err(|e| Errno(e.raw_os_error()))
            }
        }
    }

    /// 512-byte blocks allocated (st_blocks): a memfd's are the host's
    /// count, which knows its holes.
    fn blocks(&self) -> i64 {
        if let Contents::Memfd { fd, .. } = self {
            // newfstatat: the sandbox's policy has no fstat(2).
            let empty = rustix::fs::AtFlags::EMPTY_PATH;
            if let Ok(st) = rustix::fs::statat(&**fd, c"", empty) {
                return st.st_blocks;
            }
        }
        crate::num::sbits(self.held().div_ceil(512))
    }

    fn read_at(&self, at: u64, buf: &mut [u8]) -> KResult<usize> {
        let len = self.len();
        if at >= len {
            return Ok(0);
        }
        let k = buf.len().min(crate::num::usize_of(len - at));
        match self {
            Contents::Small { data, .. } => {
                let at = crate::num::usize_of(at);
                buf[..k].copy_from_slice(&data[at..at + k]);
                Ok(k)
            }
            Contents::Pages(p) => Ok(p.read_at(at, &mut buf[..k])),
            Contents::Memfd { fd, .. } => {
                // SAFETY: pread into our buffer from the file's memfd.
                io_err(unsafe {
                    crate::hostio::pread(
                        fd.as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        k,
                        crate::num::sbits(at),
                    )
                })
            }
        }
    }

    /// Writes `data` at `at`, growing the file as needed.
    fn write_at(&mut self, at: u64, data: &[u8]) -> KResult<usize> {
        if let Contents::Small { data: v, .. } = self {
            let end = at.saturating_add(data.len() as u64);
            if at <= v.len() as u64 && end <= PAGE {
                let (at, end) = (crate::num::usize_of(at), crate::num::usize_of(end));
                if end > v.len() {
                    v.resize(end, 0);
                }
                v[at..end].copy_from_slice(data);
                return Ok(data.len());
            }
            if !data.is_empty() {
                return self.paged()?.write_at(at, data);
            }
            return Ok(0);
        }
        match self {
            Contents::Small { .. } => Ok(0),
            Contents::Pages(p) => p.write_at(at, data),
            Contents::Memfd { fd, size, .. } => {
                // SAFETY: pwrite of our buffer into the file's memfd.
                let n = io_err(unsafe {
                    crate::hostio::pwrite(
                        fd.as_raw_fd(),
                        data.as_ptr().cast(),
                        data.len(),
                        crate::num::sbits(at),
                    )
                })?;
                *size = (*size).max(at + n as u64);
                Ok(n)
            }
        }
    }

    fn resize(&mut self, len: u64) -> KResult<()> {
        if let Contents::Small { data, .. } = self {
            if len <= data.len() as u64 {
                data.truncate(crate::num::usize_of(len));
                return Ok(());
            }
            // Growing leaves a hole: pages.
            self.paged()?;
        }
        match self {
            Contents::Small { .. } => {}
            Contents::Pages(p) => p.resize(len),
            Contents::Memfd { fd, size, .. } => {
                // SAFETY: ftruncate of the file's memfd.
                if unsafe { libc::ftruncate(fd.as_raw_fd(), crate::num::sbits(len)) } != 0 {
                    return Err(Errno::last());
                }
                *size = len;
            }
        }
        Ok(())
    }

    /// Punches `[start, end)`: reads give zeros, the memory goes back.
    fn zero(&mut self, start: u64, end: u64) -> KResult<()> {
        let end = end.min(self.len());
        if start >= end {
            return Ok(());
        }
        match self {
            Contents::Small { data, .. } => {
                data[crate::num::usize_of(start)..crate::num::usize_of(end)].fill(0);
                Ok(())
            }
            Contents::Pages(p) => {
                p.punch(start, end);
                Ok(())
            }
            Contents::Memfd { fd, .. } => {
                let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
                // SAFETY: fallocate on the file's memfd.
                if unsafe {
                    libc::fallocate(
                        fd.as_raw_fd(),
                        mode,
                        crate::num::sbits(start),
                        crate::num::sbits(end - start),
                    )
                } != 0
                {
                    return Err(Errno::last());
                }
                Ok(())
            }
        }
    }

    /// SEEK_DATA and SEEK_HOLE from `off`: None is ENXIO.
    fn seek_data_hole(&self, off: u64, data: bool) -> Option<u64> {
        let size = self.len();
        if off >= size {
            return None;
        }
        match self {
            Contents::Small { .. } if data => Some(off),
            Contents::Small { .. } => Some(size),
            Contents::Pages(p) if data => p.seek_data(off),
            Contents::Pages(p) => Some(p.seek_hole(off)),
            Contents::Memfd { fd, .. } => {
                let whence = if data {
                    libc::SEEK_DATA
                } else {
                    libc::SEEK_HOLE
                };
                // SAFETY: lseek on the file's memfd (its own offset is unused).
                let r = unsafe { libc::lseek(fd.as_raw_fd(), crate::num::sbits(off), whence) };
                (r >= 0).then(|| crate::num::bits(r).min(size))
            }
        }
    }

    /// Moves the bytes into a memfd (once) for shared mappings.
    fn memfd(&mut self) -> KResult<(Arc<OwnedFd>, Arc<AtomicUsize>)> {
        let p = match self {
            Contents::Memfd { fd, writers, .. } => return Ok((fd.clone(), writers.clone())),
            _ => self.paged()?,
        };
        // SAFETY: memfd_create with a constant name; the result is checked.
        let raw = unsafe { libc::memfd_create(c"husk-tmpfs".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(Errno::last());
        }
        // SAFETY: the kernel just returned this new descriptor.
        let fd = Arc::new(unsafe { OwnedFd::from_raw_fd(raw) });
        let size = p.size();
        // SAFETY: ftruncate of the new memfd.
        if unsafe { libc::ftruncate(raw, crate::num::sbits(size)) } != 0 {
            return Err(Errno::last());
        }
        // Only the pages with data: holes stay holes.
        let mut page = vec![0u8; crate::num::usize_of(PAGE)];
        for (at, _) in p.each() {
            let n = p.read_at(at, &mut page);
            let mut done = 0;
            while done < n {
                // SAFETY: pwrite from our buffer into the new memfd.
                let w = unsafe {
                    crate::hostio::pwrite(
                        raw,
                        page[done..n].as_ptr().cast(),
                        n - done,
                        crate::num::sbits(at + done as u64),
                    )
                };
                if w <= 0 {
                    return Err(Errno::last());
                }
                done += crate::num::count(w);
            }
        }
        let writers = Arc::new(AtomicUsize::new(0));
        *self = Contents::Memfd {
            fd: fd.clone(),
            size,
            writers: writers.clone(),
        };
        Ok((fd, writers))
    }
}

struct Inode {
    ino: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    rdev: u64,
    atime: (i64, i64),
    mtime: (i64, i64),
    ctime: (i64, i64),
    /// When it was made.
    btime: (i64, i64),
    data: Data,
    /// Extended attributes, by full name ("user.x"); ACLs as stored
    /// (`acl::Acl::stored`).
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The access ACL, registered for permission checks.
    acl: Option<super::acl::Held>,
    /// The instance whose size limit a regular file's bytes count
    /// against; its bytes are given back (there and to the sandbox's
    /// budget) when the inode goes.
    charged_to: Option<Arc<AtomicU64>>,
    /// What this inode has charged there.
    charged: u64,
    /// What its extended attributes have charged to the sandbox's memory
    /// (`xattr_cost`).
    xattr_charged: u64,
    /// An O_TMPFILE file not opened O_EXCL that no name was given yet:
    /// linkat may give it one.
    linkable: bool,
    /// An overlay upper layer's copy of a lower file keeps the lower
    /// file's identity (dev, ino), as Linux's overlayfs reports it, so
    /// that locks, `find` and `pwd` see one file across the copy-up.
    origin: Option<(u64, u64)>,
}

/// Bytes of file data held by every in-memory filesystem of the sandbox
/// (tmpfs mounts, the overlay's upper layer, memfds): one budget, the
/// sandbox's memory size, so that many mounts cannot add up past it.
static SANDBOX_BYTES: AtomicU64 = AtomicU64::new(0);

/// Takes `grow` bytes from an instance (`used`, at most `limit`) and from
/// the sandbox's budget; `err` when either is exhausted.
fn charge(used: &AtomicU64, limit: u64, grow: u64, err: Errno) -> KResult<()> {
    if used.load(Ordering::Relaxed).saturating_add(grow) > limit {
        return Err(err);
    }
    let budget = super::vfs::total_memory();
    let before = SANDBOX_BYTES.fetch_add(grow, Ordering::Relaxed);
    if before.saturating_add(grow) > budget {
        SANDBOX_BYTES.fetch_sub(grow, Ordering::Relaxed);
        return Err(err);
    }
    used.fetch_add(grow, Ordering::Relaxed);
    Ok(())
}

/// Gives back `n` bytes taken by [`charge`].
fn uncharge(used: &AtomicU64, n: u64) {
    used.fetch_sub(n, Ordering::Relaxed);
    SANDBOX_BYTES.fetch_sub(n, Ordering::Relaxed);
}

impl Inode {
    /// Makes what this inode has charged what its contents hold (after
    /// they shrank, or grew past what was charged ahead of time).
    fn settle(&mut self) {
        let (Data::File(v), Some(used)) = (&self.data, &self.charged_to) else {
            return;
        };
        let held = v.held();
        if held < self.charged {
            uncharge(used, self.charged - held);
        } else if held > self.charged {
            // Already in memory: counted, whatever the limit says.
            used.fetch_add(held - self.charged, Ordering::Relaxed);
            SANDBOX_BYTES.fetch_add(held - self.charged, Ordering::Relaxed);
        }
        self.charged = held;
    }
}

/// Bytes of file data the sandbox's in-memory filesystems hold.
pub fn sandbox_bytes() -> u64 {
    SANDBOX_BYTES.load(Ordering::Relaxed)
}

impl Drop for Inode {
    fn drop(&mut self) {
        if let Some(used) = &self.charged_to {
            uncharge(used, self.charged);
        }
        SANDBOX_BYTES.fetch_sub(self.xattr_charged, Ordering::Relaxed);
    }
}

/// What one extended attribute costs against the sandbox's memory: its
/// name, its value and the bookkeeping around them (Linux's tmpfs charges
/// simple_xattr_space against its inode space the same way).
fn xattr_cost(name: &[u8], value: &[u8]) -> u64 {
    (name.len() + value.len() + 48) as u64
}

pub struct TmpFs {
    root: Node,
    dev: u64,
    next_ino: AtomicU64,
    used: Arc<AtomicU64>,
    limit: u64,
    /// Where file data lives.
    mf: Arc<MemFile>,
    /// Its files show tmpfs's seals (F_SEAL_SEAL); not as an overlay's
    /// upper layer, whose files are the overlay's.
    seals_shown: bool,
}

fn now() -> (i64, i64) {
    let ns = crate::kernel::time::host_ns(libc::CLOCK_REALTIME);
    (ns / 1_000_000_000, ns % 1_000_000_000)
}

fn components(rel: &[u8]) -> impl Iterator<Item = &[u8]> {
    rel.split(|&c| c == b'/').filter(|c| !c.is_empty())
}

/// The namespaces a tmpfs keeps, and the two ACLs of system.*: others
/// are EOPNOTSUPP, as on Linux.
pub fn known_namespace(name: &[u8]) -> bool {
    [&b"user."[..], b"trusted.", b"security."]
        .iter()
        .any(|p| name.len() > p.len() && name.starts_with(p))
        || acl::is_acl(name)
}

impl Inode {
    /// A new access ACL (stored form), None to have none: the mode's
    /// permission bits follow it, and one the mode says all of is not
    /// kept (Linux's posix_acl_update_mode).
    fn set_access_acl(&mut self, v: Option<&[u8]>) {
        self.acl = None;
        self.xattrs.remove(acl::ACCESS);
        let Some(a) = v.and_then(acl::Acl::from_stored) else {
            return;
        };
        let (bits, equiv) = a.mode();
        self.mode = (self.mode & !0o777) | bits;
        if !equiv {
            self.xattrs.insert(acl::ACCESS.to_vec(), a.stored());
            self.acl = Some(acl::Held::new(a));
        }
    }

    /// An ACL operation; the caller checked the value and who asks.
    fn acl_xattr(&mut self, op: &XattrOp) -> KResult<Vec<u8>> {
        if self.mode & libc::S_IFMT == libc::S_IFLNK {
            return Err(Errno::EOPNOTSUPP);
        }
        match *op {
            XattrOp::Get(n) => return self.xattrs.get(n).cloned().ok_or(Errno::ENODATA),
            XattrOp::Set(n, v, _) if n == acl::ACCESS => self.set_access_acl(Some(v)),
            XattrOp::Remove(n) if n == acl::ACCESS => self.set_access_acl(None),
            XattrOp::Set(n, v, _) => {
                self.xattrs.insert(n.to_vec(), v.to_vec());
            }
            XattrOp::Remove(n) => {
                self.xattrs.remove(n);
            }
            XattrOp::List => return Err(Errno::EINVAL),
        }
        self.ctime = now();
        Ok(Vec::new())
    }

    fn xattr(&mut self, op: &XattrOp) -> KResult<Vec<u8>> {
        let name = match op {
            XattrOp::Get(n) | XattrOp::Set(n, ..) | XattrOp::Remove(n) => Some(*n),
            XattrOp::List => None,
        };
        if let Some(n) = name {
            if !known_namespace(n) {
                return Err(Errno::EOPNOTSUPP);
            }
            if acl::is_acl(n) {
                return self.acl_xattr(op);
            }
            // user.* exists only on regular files and directories.
            let plain = matches!(self.mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR);
            if n.starts_with(b"user.") && !plain {
                return Err(match op {
                    XattrOp::Get(_) => Errno::ENODATA,
                    _ => Errno::EPERM,
                });
            }
        }
        match *op {
            XattrOp::Get(n) => self.xattrs.get(n).cloned().ok_or(Errno::ENODATA),
            // Linux's tmpfs lists its ACLs first, then the other names
            // in descending order.
            XattrOp::List => Ok([acl::ACCESS, acl::DEFAULT]
                .into_iter()
                .filter(|n| self.xattrs.contains_key(*n))
                .chain(
                    self.xattrs
                        .keys()
                        .rev()
                        .map(Vec::as_slice)
                        .filter(|k| !acl::is_acl(k)),
                )
                .flat_map(|k| k.iter().copied().chain([0]))
                .collect()),
            XattrOp::Set(n, v, flags) => {
                let exists = self.xattrs.contains_key(n);
                if flags & XATTR_CREATE != 0 && exists {
                    return Err(Errno::EEXIST);
                }
                if flags & XATTR_REPLACE != 0 && !exists {
                    return Err(Errno::ENODATA);
                }
                self.xattrs.insert(n.to_vec(), v.to_vec());
                self.ctime = now();
                Ok(Vec::new())
            }
            XattrOp::Remove(n) => {
                self.xattrs.remove(n).ok_or(Errno::ENODATA)?;
                self.ctime = now();
                Ok(Vec::new())
            }
        }
    }
}

impl TmpFs {
    /// A tmpfs whose root has `mode`, holding at most `limit` bytes of
    /// the memory file `mf`.
    pub fn new(dev: u64, mode: u32, limit: u64, mf: &Arc<MemFile>) -> TmpFs {
        TmpFs::with_owner(dev, mode, limit, (0, 0), mf)
    }

    /// A tmpfs whose root has `mode` and `owner` (uid, gid).
    pub fn with_owner(
        dev: u64,
        mode: u32,
        limit: u64,
        owner: (u32, u32),
        mf: &Arc<MemFile>,
    ) -> TmpFs {
        let t = now();
        TmpFs {
            root: Arc::new(Mutex::new(Inode {
                ino: 1,
                mode: libc::S_IFDIR | mode,
                uid: owner.0,
                gid: owner.1,
                nlink: 2,
                rdev: 0,
                atime: t,
                mtime: t,
                ctime: t,
                btime: t,
                data: Data::Dir(BTreeMap::new()),
                xattrs: BTreeMap::new(),
                acl: None,
                charged_to: None,
                charged: 0,
                xattr_charged: 0,
                linkable: false,
                origin: None,
            })),
            dev,
            next_ino: AtomicU64::new(2),
            used: Arc::new(AtomicU64::new(0)),
            limit,
            mf: mf.clone(),
            seals_shown: true,
        }
    }

    /// This tmpfs as an overlay's upper layer.
    pub fn upper_layer(mut self) -> TmpFs {
        self.seals_shown = false;
        self
    }

    /// Makes the upper copy at `rel` report `id`, the (dev, ino) of the
    /// lower file it was copied from.
    pub fn set_origin(&self, rel: &[u8], id: (u64, u64)) -> KResult<()> {
        self.walk(rel)?.lock().origin = Some(id);
        Ok(())
    }

    /// What a new open handle's seals are (see `seals_shown`).
    fn plain_seals(&self) -> Option<Arc<AtomicU32>> {
        self.seals_shown
            .then(|| Arc::new(AtomicU32::new(super::file::F_SEAL_SEAL)))
    }

    fn walk(&self, rel: &[u8]) -> KResult<Node> {
        let mut cur = self.root.clone();
        for name in components(rel) {
            let next = match &cur.lock().data {
                Data::Dir(d) => d.get(name).cloned().ok_or(Errno::ENOENT)?,
                _ => return Err(Errno::ENOTDIR),
            };
            cur = next;
        }
        Ok(cur)
    }

    /// The parent directory of `rel` and the last name.
    fn parent<'a>(&self, rel: &'a [u8]) -> KResult<(Node, &'a [u8])> {
        let name = components(rel).last().ok_or(Errno::EBUSY)?;
        let dir = &rel[..rel.len() - name.len()];
        let p = self.walk(dir)?;
        if !matches!(p.lock().data, Data::Dir(_)) {
            return Err(Errno::ENOTDIR);
        }
        Ok((p, name))
    }

    fn stat_of(&self, n: &Inode) -> Stat {
        stat_of(self.dev, n)
    }

    fn insert(&self, rel: &[u8], node: Inode) -> KResult<()> {
        let (p, name) = self.parent(rel)?;
        let is_dir = matches!(node.data, Data::Dir(_));
        let mut pl = p.lock();
        let t = now();
        pl.mtime = t;
        pl.ctime = t;
        if is_dir {
            pl.nlink += 1;
        }
        let Data::Dir(d) = &mut pl.data else {
            return Err(Errno::ENOTDIR);
        };
        if d.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        d.insert(name.to_vec(), Arc::new(Mutex::new(node)));
        Ok(())
    }

    /// Gives `node` one more name, `new` (absent): its directory and its
    /// own change time are now.
    fn add_link(&self, node: &Node, new: &[u8]) -> KResult<()> {
        let (p, name) = self.parent(new)?;
        let t = now();
        {
            let mut pl = p.lock();
            let Data::Dir(d) = &mut pl.data else {
                return Err(Errno::ENOTDIR);
            };
            if d.contains_key(name) {
                return Err(Errno::EEXIST);
            }
            d.insert(name.to_vec(), node.clone());
            pl.mtime = t;
            pl.ctime = t;
        }
        let mut n = node.lock();
        n.nlink += 1;
        n.ctime = t;
        Ok(())
    }

    fn new_inode(&self, mode: u32, owner: (u32, u32), data: Data) -> Inode {
        let t = now();
        let nlink = if matches!(data, Data::Dir(_)) { 2 } else { 1 };
        Inode {
            ino: self.next_ino.fetch_add(1, Ordering::Relaxed),
            mode,
            uid: owner.0,
            gid: owner.1,
            nlink,
            rdev: 0,
            atime: t,
            mtime: t,
            ctime: t,
            btime: t,
            data,
            xattrs: BTreeMap::new(),
            acl: None,
            charged_to: Some(self.used.clone()),
            charged: 0,
            xattr_charged: 0,
            linkable: false,
            origin: None,
        }
    }
}

impl Filesystem for TmpFs {
    /// Attributes count against the sandbox's memory as file data does
    /// (past it, a set is ENOSPC), not against the mount's size, which
    /// Linux's tmpfs applies to pages alone.
    fn xattr(&self, _c: &Caller, rel: &[u8], op: &XattrOp) -> KResult<Vec<u8>> {
        let node = self.walk(rel)?;
        let mut n = node.lock();
        let grow = match *op {
            XattrOp::Set(name, v, _) => xattr_cost(name, v),
            _ => 0,
        };
        let before = SANDBOX_BYTES.fetch_add(grow, Ordering::Relaxed);
        if before.saturating_add(grow) > super::vfs::total_memory() {
            SANDBOX_BYTES.fetch_sub(grow, Ordering::Relaxed);
            return Err(Errno::ENOSPC);
        }
        let r = n.xattr(op);
        let held: u64 = n.xattrs.iter().map(|(k, v)| xattr_cost(k, v)).sum();
        // What the attributes hold is what stays charged.
        SANDBOX_BYTES.fetch_add(held, Ordering::Relaxed);
        SANDBOX_BYTES.fetch_sub(n.xattr_charged + grow, Ordering::Relaxed);
        n.xattr_charged = held;
        r
    }

    fn fstype(&self) -> &'static str {
        "tmpfs"
    }

    fn read_only(&self) -> bool {
        false
    }

    fn lookup(&self, _c: &Caller, rel: &[u8]) -> KResult<Stat> {
        let n = self.walk(rel)?;
        let n = n.lock();
        Ok(self.stat_of(&n))
    }

    fn readlink(&self, _c: &Caller, rel: &[u8]) -> KResult<Vec<u8>> {
        match &self.walk(rel)?.lock().data {
            Data::Link(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open(&self, _c: &Caller, rel: &[u8], flags: i32, _mode: u32) -> KResult<Box<dyn FileOps>> {
        let node = self.walk(rel)?;
        let kind = match &node.lock().data {
            Data::Dir(_) => 0,
            Data::File(_) => 1,
            Data::Link(_) => return Err(Errno::ELOOP),
            Data::Special | Data::Fifo(_) => return Err(Errno::ENXIO),
        };
        // O_TRUNC truncates even a read-only open (the VFS checked write
        // permission for it, as Linux's may_open does).
        if kind == 1 && flags & libc::O_TRUNC != 0 {
            let mut n = node.lock();
            if let Data::File(v) = &mut n.data {
                v.resize(0)?;
            }
            n.settle();
            n.kill_fcaps();
            let t = now();
            n.mtime = t;
            n.ctime = t;
        }
        Ok(Box::new(TmpHandle {
            node,
            dev: self.dev,
            used: self.used.clone(),
            limit: self.limit,
            seals: self.plain_seals(),
        }))
    }

    fn mknod(
        &self,
        _c: &Caller,
        rel: &[u8],
        mode: u32,
        rdev: u64,
        owner: (u32, u32),
    ) -> KResult<()> {
        let data = match mode & libc::S_IFMT {
            libc::S_IFDIR => Data::Dir(BTreeMap::new()),
            0 | libc::S_IFREG => Data::File(Contents::new(&self.mf)),
            libc::S_IFIFO => Data::Fifo(super::pipe::new_fifo()),
            _ => Data::Special,
        };
        let mode = if mode & libc::S_IFMT == 0 {
            mode | libc::S_IFREG
        } else {
            mode
        };
        let mut n = self.new_inode(mode, owner, data);
        n.rdev = rdev;
        self.insert(rel, n)
    }

    fn symlink(&self, _c: &Caller, rel: &[u8], target: &[u8], owner: (u32, u32)) -> KResult<()> {
        let n = self.new_inode(libc::S_IFLNK | 0o777, owner, Data::Link(target.to_vec()));
        self.insert(rel, n)
    }

    fn tmpfile(
        &self,
        _c: &Caller,
        dir: &[u8],
        mode: u32,
        owner: (u32, u32),
        linkable: bool,
    ) -> KResult<Box<dyn FileOps>> {
        if !self.walk(dir)?.lock().data_is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut n = self.new_inode(mode, owner, Data::File(Contents::new(&self.mf)));
        n.nlink = 0;
        n.linkable = linkable;
        Ok(Box::new(TmpHandle {
            node: Arc::new(Mutex::new(n)),
            dev: self.dev,
            used: self.used.clone(),
            limit: self.limit,
            seals: self.plain_seals(),
        }))
    }

    fn link_file(&self, _c: &Caller, f: &File, new: &[u8]) -> KResult<()> {
        let h = f
            .ops
            .as_any()
            .downcast_ref::<TmpHandle>()
            .filter(|h| h.dev == self.dev)
            .ok_or(Errno::EXDEV)?;
        {
            let n = h.node.lock();
            if n.data_is_dir() {
                return Err(Errno::EPERM);
            }
            // A removed file stays nameless; an O_TMPFILE one once.
            if n.nlink == 0 && !n.linkable {
                return Err(Errno::ENOENT);
            }
        }
        self.add_link(&h.node, new)?;
        h.node.lock().linkable = false;
        Ok(())
    }

    fn link(&self, _c: &Caller, old: &[u8], new: &[u8]) -> KResult<()> {
        let node = self.walk(old)?;
        if matches!(node.lock().data, Data::Dir(_)) {
            return Err(Errno::EPERM);
        }
        self.add_link(&node, new)
    }

    fn unlink(&self, _c: &Caller, rel: &[u8], dir: bool) -> KResult<()> {
        let (p, name) = self.parent(rel)?;
        let mut pl = p.lock();
        let Data::Dir(d) = &mut pl.data else {
            return Err(Errno::ENOTDIR);
        };
        let node = d.get(name).cloned().ok_or(Errno::ENOENT)?;
        {
            let n = node.lock();
            match (&n.data, dir) {
                (Data::Dir(c), true) if !c.is_empty() => return Err(Errno::ENOTEMPTY),
                (Data::Dir(_), true) => {}
                (Data::Dir(_), false) => return Err(Errno::EISDIR),
                (_, true) => return Err(Errno::ENOTDIR),
                _ => {}
            }
        }
        d.remove(name);
        let t = now();
        pl.mtime = t;
        pl.ctime = t;
        if dir {
            pl.nlink -= 1;
        }
        drop(pl);
        let mut n = node.lock();
        n.nlink = n.nlink.saturating_sub(if dir { 2 } else { 1 });
        n.ctime = t;
        Ok(())
    }

    fn rename(&self, _c: &Caller, old: &[u8], new: &[u8], flags: u32) -> KResult<()> {
        let (op, oname) = self.parent(old)?;
        let (np, nname) = self.parent(new)?;
        let node = match &op.lock().data {
            Data::Dir(d) => d.get(oname).cloned().ok_or(Errno::ENOENT)?,
            _ => return Err(Errno::ENOTDIR),
        };
        if Arc::ptr_eq(&op, &np) && oname == nname {
            // The name exists, so a rename that may not replace fails.
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            return Ok(());
        }
        // A directory cannot move below itself.
        let old_comps: Vec<&[u8]> = components(old).collect();
        let new_comps: Vec<&[u8]> = components(new).collect();
        if node.lock().data_is_dir()
            && new_comps.len() > old_comps.len()
            && new_comps.starts_with(&old_comps)
        {
            return Err(Errno::EINVAL);
        }
        let target = match &np.lock().data {
            Data::Dir(d) => d.get(nname).cloned(),
            _ => return Err(Errno::ENOTDIR),
        };
        if flags & libc::RENAME_NOREPLACE != 0 && target.is_some() {
            return Err(Errno::EEXIST);
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            let target = target.ok_or(Errno::ENOENT)?;
            // Nor may the other side move below itself.
            if target.lock().data_is_dir()
                && old_comps.len() > new_comps.len()
                && old_comps.starts_with(&new_comps)
            {
                return Err(Errno::EINVAL);
            }
            let (sd, td) = (node.lock().data_is_dir(), target.lock().data_is_dir());
            set_entry(&op, oname, Some(target.clone()))?;
            set_entry(&np, nname, Some(node.clone()))?;
            // A directory moving to the other parent takes its ".." along.
            if sd != td && !Arc::ptr_eq(&op, &np) {
                let (from, to) = if sd { (&op, &np) } else { (&np, &op) };
                from.lock().nlink -= 1;
                to.lock().nlink += 1;
            }
            let t = now();
            node.lock().ctime = t;
            target.lock().ctime = t;
            return Ok(());
        }
        if let Some(t) = &target {
            if Arc::ptr_eq(t, &node) {
                return Ok(());
            }
            let (sd, td) = (node.lock().data_is_dir(), t.lock().data_is_dir());
            match (sd, td) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !t.lock().dir_is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
            let mut tl = t.lock();
            tl.nlink = tl.nlink.saturating_sub(if td { 2 } else { 1 });
        }
        let is_dir = node.lock().data_is_dir();
        set_entry(&op, oname, None)?;
        set_entry(&np, nname, Some(node.clone()))?;
        if is_dir && !Arc::ptr_eq(&op, &np) {
            op.lock().nlink -= 1;
            if target.is_none() {
                np.lock().nlink += 1;
            }
        }
        node.lock().ctime = now();
        Ok(())
    }

    fn setattr(&self, _c: &Caller, rel: &[u8], a: &SetAttr) -> KResult<()> {
        let node = self.walk(rel)?;
        apply_attr(&node, a, &self.used, self.limit)
    }

    fn fifo(&self, _c: &Caller, rel: &[u8]) -> Option<Arc<super::pipe::Pipe>> {
        match &self.walk(rel).ok()?.lock().data {
            Data::Fifo(p) => Some(p.clone()),
            _ => None,
        }
    }

    fn statfs(&self) -> KResult<StatFs> {
        let used = self.used.load(Ordering::Relaxed);
        Ok(StatFs {
            f_type: 0x0102_1994,
            bsize: 4096,
            blocks: self.limit / 4096,
            bfree: self.limit.saturating_sub(used) / 4096,
            bavail: self.limit.saturating_sub(used) / 4096,
            files: 1 << 20,
            ffree: (1 << 20) - self.next_ino.load(Ordering::Relaxed),
            namelen: 255,
            frsize: 4096,
            flags: 0,
        })
    }
}

impl Inode {
    /// Linux's killpriv: a changed file keeps no file capabilities.
    fn kill_fcaps(&mut self) {
        self.xattrs.remove(&b"security.capability"[..]);
    }

    fn data_is_dir(&self) -> bool {
        matches!(self.data, Data::Dir(_))
    }
    fn dir_is_empty(&self) -> bool {
        matches!(&self.data, Data::Dir(d) if d.is_empty())
    }
}

fn set_entry(dir: &Node, name: &[u8], node: Option<Node>) -> KResult<()> {
    let mut dl = dir.lock();
    let t = now();
    dl.mtime = t;
    dl.ctime = t;
    let Data::Dir(d) = &mut dl.data else {
        return Err(Errno::ENOTDIR);
    };
    match node {
        Some(n) => d.insert(name.to_vec(), n),
        None => d.remove(name),
    };
    Ok(())
}

fn apply_attr(node: &Node, a: &SetAttr, used: &AtomicU64, limit: u64) -> KResult<()> {
    let mut n = node.lock();
    let t = now();
    if let Some(size) = a.size {
        let Data::File(v) = &mut n.data else {
            return Err(if n.data_is_dir() {
                Errno::EISDIR
            } else {
                Errno::EINVAL
            });
        };
        if size > MAX_SIZE {
            return Err(Errno::EFBIG);
        }
        // Growing takes memory only for a memfd (whose holes are not
        // known); shrinking gives back what the cut-off part held.
        let grow = match v {
            Contents::Memfd { size: cur, .. } => size.saturating_sub(*cur),
            Contents::Small { .. } | Contents::Pages(_) => 0,
        };
        charge(used, limit, grow, Errno::EFBIG)?;
        let r = v.resize(size);
        n.charged += grow;
        n.settle();
        r?;
        n.mtime = t;
    }
    // A truncate, or a chown of anything but a directory, takes the
    // file's capabilities away (Linux's ATTR_KILL_PRIV).
    if a.size.is_some() || ((a.uid.is_some() || a.gid.is_some()) && !n.data_is_dir()) {
        n.kill_fcaps();
    }
    if let Some(m) = a.mode {
        n.mode = (n.mode & libc::S_IFMT) | (m & 0o7777);
        // The access ACL follows a chmod (posix_acl_chmod).
        if let Some(held) = &n.acl {
            let mut acl = held.acl().clone();
            acl.chmod(m);
            n.xattrs.insert(acl::ACCESS.to_vec(), acl.stored());
            n.acl = Some(acl::Held::new(acl));
        }
    }
    if let Some(u) = a.uid {
        n.uid = u;
    }
    if let Some(g) = a.gid {
        n.gid = g;
    }
    if let Some(at) = a.atime {
        n.atime = at;
    }
    if let Some(mt) = a.mtime {
        n.mtime = mt;
    }
    n.ctime = t;
    Ok(())
}

/// An open tmpfs file or directory.
struct TmpHandle {
    node: Node,
    dev: u64,
    used: Arc<AtomicU64>,
    limit: u64,
    /// Seals: a memfd_create file's; any other file has F_SEAL_SEAL
    /// (nothing can be added), as Linux's tmpfs files do.
    seals: Option<Arc<AtomicU32>>,
}

impl TmpHandle {
    fn sealed(&self, s: u32) -> bool {
        self.seals
            .as_ref()
            .is_some_and(|x| x.load(Ordering::Relaxed) & s != 0)
    }

    /// A size change the seals refuse: EPERM.
    fn check_resize(&self, old: u64, new: u64) -> KResult<()> {
        if (new < old && self.sealed(F_SEAL_SHRINK)) || (new > old && self.sealed(F_SEAL_GROW)) {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        match &self.node.lock().data {
            Data::File(v) => v.len(),
            _ => 0,
        }
    }
}

impl FileOps for TmpHandle {
    fn take_acl(&self, stored: &[u8]) -> bool {
        self.node.lock().set_access_acl(Some(stored));
        true
    }
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        let mut pos = f.pos.lock();
        let mut n = self.node.lock();
        let Data::File(v) = &n.data else {
            return Err(Errno::EISDIR);
        };
        let at = off.unwrap_or(*pos);
        let k = v.read_at(at, buf)?;
        if off.is_none() {
            *pos += k as u64;
        }
        n.atime = now();
        Ok(k)
    }

    fn write(&self, f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        let mut pos = f.pos.lock();
        let mut n = self.node.lock();
        let append = f.flags() & libc::O_APPEND != 0;
        let Data::File(v) = &mut n.data else {
            return Err(Errno::EISDIR);
        };
        if self.sealed(F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) {
            return Err(Errno::EPERM);
        }
        let at = match (off, append) {
            (_, true) => v.len(),
            (Some(o), false) => o,
            (None, false) => *pos,
        };
        // The size limit counts memory, not offsets: files may be sparse
        // up to the largest offset there is.
        let end = at
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= MAX_SIZE)
            .ok_or(Errno::EFBIG)?;
        if end > v.len() && self.sealed(F_SEAL_GROW) {
            return Err(Errno::EPERM);
        }
        let cost = v.write_cost(at, buf.len() as u64);
        charge(&self.used, self.limit, cost, Errno::ENOSPC)?;
        let r = v.write_at(at, buf);
        // A short (or failed) write took less than was charged.
        n.charged += cost;
        n.settle();
        let wrote = r?;
        if wrote > 0 {
            n.kill_fcaps();
        }
        if off.is_none() {
            *pos = at + wrote as u64;
        }
        let t = now();
        n.mtime = t;
        n.ctime = t;
        Ok(wrote)
    }

    fn lockless(&self) -> bool {
        matches!(self.node.lock().data, Data::File(_))
    }

    fn mappable_fd(&self) -> Option<Arc<OwnedFd>> {
        match &self.node.lock().data {
            Data::File(Contents::Memfd { fd, .. }) => Some(fd.clone()),
            _ => None,
        }
    }

    fn shared_map(&self, writable: bool) -> Option<SharedMap> {
        let mut n = self.node.lock();
        let Data::File(c) = &mut n.data else {
            return None;
        };
        let (fd, writers) = c.memfd().ok()?;
        // A memfd's holes are not known: it counts at its size.
        n.settle();
        let hold = writable.then(|| {
            writers.fetch_add(1, Ordering::Relaxed);
            Arc::new(MapWriter(writers)) as Arc<dyn Any + Send + Sync>
        });
        Some((fd, hold))
    }

    fn writably_mapped(&self) -> bool {
        match &self.node.lock().data {
            Data::File(Contents::Memfd { writers, .. }) => writers.load(Ordering::Relaxed) > 0,
            _ => false,
        }
    }

    fn stat(&self) -> KResult<Stat> {
        Ok(stat_of(self.dev, &self.node.lock()))
    }

    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        let size = match &self.node.lock().data {
            Data::File(v) => v.len(),
            _ => 0,
        };
        match whence {
            libc::SEEK_DATA | libc::SEEK_HOLE => {
                let off = u64::try_from(off).map_err(|_| Errno::ENXIO)?;
                let found = match &self.node.lock().data {
                    Data::File(v) => v.seek_data_hole(off, whence == libc::SEEK_DATA),
                    _ => None,
                }
                .ok_or(Errno::ENXIO)?;
                *f.pos.lock() = found;
                Ok(found)
            }
            _ => super::synth::seek_in(f, off, whence, size),
        }
    }

    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        let n = self.node.lock();
        let Data::Dir(d) = &n.data else {
            return Err(Errno::ENOTDIR);
        };
        Ok(d.iter()
            .map(|(name, node)| {
                let c = node.lock();
                let kind = match c.mode & libc::S_IFMT {
                    libc::S_IFDIR => libc::DT_DIR,
                    libc::S_IFLNK => libc::DT_LNK,
                    libc::S_IFIFO => libc::DT_FIFO,
                    libc::S_IFSOCK => libc::DT_SOCK,
                    libc::S_IFCHR => libc::DT_CHR,
                    libc::S_IFBLK => libc::DT_BLK,
                    _ => libc::DT_REG,
                };
                DirEntry {
                    ino: c.origin.map_or(c.ino, |o| o.1),
                    kind,
                    name: name.clone(),
                }
            })
            .collect())
    }

    fn truncate(&self, len: u64) -> KResult<()> {
        self.check_resize(self.size(), len)?;
        apply_attr(
            &self.node,
            &SetAttr {
                size: Some(len),
                ..Default::default()
            },
            &self.used,
            self.limit,
        )
    }

    fn setattr(&self, a: &SetAttr) -> KResult<()> {
        if let Some(len) = a.size {
            self.check_resize(self.size(), len)?;
        }
        // F_SEAL_EXEC: the exec bits stay as they are.
        let exec_sealed = self
            .seals
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed) & super::file::F_SEAL_EXEC != 0);
        if let (true, Some(m)) = (exec_sealed, a.mode) {
            if (self.node.lock().mode ^ m) & 0o111 != 0 {
                return Err(Errno::EPERM);
            }
        }
        apply_attr(&self.node, a, &self.used, self.limit)
    }

    fn sync(&self) -> KResult<()> {
        Ok(())
    }

    // tmpfs allocates nothing ahead: mode 0 only grows the size; punching
    // a hole zeroes the range.
    fn fallocate(&self, mode: i32, off: u64, len: u64) -> KResult<()> {
        let end = off.checked_add(len).ok_or(Errno::EFBIG)?;
        match mode {
            0 | libc::FALLOC_FL_KEEP_SIZE => {
                let keep = mode == libc::FALLOC_FL_KEEP_SIZE;
                let size = self.size();
                if end > size && !keep {
                    self.check_resize(size, end)?;
                }
                // The pages are charged first: ENOSPC leaves the file
                // as it was.
                let cost = match &self.node.lock().data {
                    Data::File(v) => v.write_cost(off, len),
                    _ => return Err(Errno::ENODEV),
                };
                charge(&self.used, self.limit, cost, Errno::ENOSPC)?;
                if end > size && !keep {
                    if let Err(e) = self.truncate(end) {
                        uncharge(&self.used, cost);
                        return Err(e);
                    }
                }
                let mut n = self.node.lock();
                let r = match &mut n.data {
                    Data::File(v) => v.allocate(off, end, keep),
                    _ => Ok(()),
                };
                n.charged += cost;
                n.settle();
                r
            }
            m if m == libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE => {
                if self.sealed(F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) {
                    return Err(Errno::EPERM);
                }
                let mut n = self.node.lock();
                let r = match &mut n.data {
                    Data::File(v) => v.zero(off, end),
                    _ => Ok(()),
                };
                n.settle();
                r
            }
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    fn reopen(&self, _flags: i32) -> Option<KResult<Box<dyn FileOps>>> {
        Some(Ok(Box::new(TmpHandle {
            node: self.node.clone(),
            dev: self.dev,
            used: self.used.clone(),
            limit: self.limit,
            seals: self.seals.clone(),
        })))
    }

    fn seals(&self) -> Option<&AtomicU32> {
        self.seals.as_deref()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn stat_of(dev: u64, n: &Inode) -> Stat {
    let blocks = match &n.data {
        Data::File(v) => Some(v.blocks()),
        _ => None,
    };
    let size = match &n.data {
        Data::File(v) => crate::num::sbits(v.len()),
        Data::Link(t) => crate::num::len_i64(t.len()),
        Data::Dir(d) => 40 + 20 * crate::num::len_i64(d.len()),
        Data::Special | Data::Fifo(_) => 0,
    };
    let (dev, ino) = n.origin.unwrap_or((dev, n.ino));
    Stat {
        dev,
        ino,
        mode: n.mode,
        nlink: n.nlink,
        uid: n.uid,
        gid: n.gid,
        rdev: n.rdev,
        size,
        blksize: 4096,
        // Directories, links and nodes hold no pages.
        blocks: blocks.unwrap_or(0),
        atime: n.atime,
        mtime: n.mtime,
        ctime: n.ctime,
        btime: n.btime,
        acl: n.acl.as_ref().map_or(0, |a| a.key()),
        default_acl: n.xattrs.contains_key(super::acl::DEFAULT),
    }
}

static ANON_INO: AtomicU64 = AtomicU64::new(1 << 32);

/// An unnamed in-memory file (memfd_create), holding at most `limit`
/// bytes, with `seals` to start with (F_SEAL_SEAL: sealing not allowed).
pub fn anonymous_file(limit: u64, mode: u32, seals: u32, mf: &Arc<MemFile>) -> Box<dyn FileOps> {
    let t = now();
    let used = Arc::new(AtomicU64::new(0));
    Box::new(TmpHandle {
        node: Arc::new(Mutex::new(Inode {
            ino: ANON_INO.fetch_add(1, Ordering::Relaxed),
            mode: libc::S_IFREG | mode,
            uid: 0,
            gid: 0,
            nlink: 1,
            rdev: 0,
            atime: t,
            mtime: t,
            ctime: t,
            btime: t,
            data: Data::File(Contents::new(mf)),
            xattrs: BTreeMap::new(),
            acl: None,
            charged_to: Some(used.clone()),
            charged: 0,
            xattr_charged: 0,
            linkable: false,
            origin: None,
        })),
        dev: 0x30,
        used,
        limit,
        seals: Some(Arc::new(AtomicU32::new(seals))),
    })
}
