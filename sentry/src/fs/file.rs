//! Open files and the per-process fd table.

use super::vfs::PathRef;
use crate::errno::{Errno, KResult};
use crate::fs::{DirEntry, Stat};
use crate::kernel::waitq::{Events, Queues};
use crate::kernel::Ctx;
use parking_lot::Mutex;
use std::any::Any;
use std::collections::BTreeMap;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// A file's fd for a shared mapping and the token the mapping keeps.
pub type SharedMap = (Arc<OwnedFd>, Option<Arc<dyn Any + Send + Sync>>);

/// What a kind of file can do. Offsets are explicit: `None` means the
/// file's own position (the implementation decides whether it has one).
/// A caller-written file's answer to a write past position 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetWrite {
    /// As at 0.
    Apply,
    /// Taken and ignored (a numeric sysctl: Linux's
    /// sysctl_writes_strict).
    Ignore,
    /// EINVAL (timens_offsets, uid_map and their kin).
    Refuse,
}

pub trait FileOps: Send + Sync + Any {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        let _ = (f, buf, off);
        Err(Errno::EINVAL)
    }
    fn write(&self, f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        let _ = (f, buf, off);
        Err(Errno::EINVAL)
    }
    /// Reads into host memory pieces (application memory) when the file can
    /// do so without a bounce buffer; None to use `read`.
    fn read_iov(&self, f: &File, iov: &[libc::iovec], off: Option<u64>) -> Option<KResult<usize>> {
        let _ = (f, iov, off);
        None
    }
    fn write_iov(&self, f: &File, iov: &[libc::iovec], off: Option<u64>) -> Option<KResult<usize>> {
        let _ = (f, iov, off);
        None
    }
    fn stat(&self) -> KResult<Stat>;
    /// Whether a read takes one value (a counter) before copying it out,
    /// so that a bad buffer loses it with EFAULT, as Linux's eventfd and
    /// timerfd do, and nothing there is EAGAIN first.
    fn reads_value(&self) -> bool {
        false
    }
    /// Whether a read of nothing still reaches the file, which refuses a
    /// buffer too small for its value or event (EINVAL): Linux's read(2)
    /// of count 0 asks counters and event files. Others read 0.
    fn empty_read_asks(&self) -> bool {
        self.reads_value()
    }
    /// The file position, as fdinfo shows it: the open file's own, unless
    /// the object keeps it elsewhere (a host fd's offset).
    fn position(&self, f: &File) -> u64 {
        *f.pos.lock()
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        let _ = (f, off, whence);
        Err(Errno::ESPIPE)
    }
    /// All directory entries (without "." and "..").
    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        Err(Errno::ENOTDIR)
    }
    /// Directory entries as seen by `c` (procfs lists live state).
    fn readdir_for(&self, c: &super::vfs::Caller) -> KResult<Vec<DirEntry>> {
        let _ = c;
        self.readdir()
    }
    /// Readiness now, as poll(2) revents for `events`.
    fn poll(&self, events: i16) -> i16 {
        events & (libc::POLLIN | libc::POLLOUT)
    }
    /// Readiness as task `c` sees it (signalfd depends on the poller).
    fn poll_for(&self, c: &super::vfs::Caller, events: i16) -> i16 {
        let _ = c;
        self.poll(events)
    }
    /// Whether O_ASYNC can make it signal (Linux's f_op->fasync): files
    /// whose readiness is a counter or a list (eventfd, epoll, timerfd,
    /// signalfd, pidfd) have none, and F_SETFL drops the flag.
    fn has_fasync(&self) -> bool {
        true
    }
    /// The wait queues whose notifications can make `poll_for(c, ev)`
    /// change. Empty for files whose readiness never changes (and for
    /// host files, whose readiness is waited for with `host_fd`).
    fn wait_queues(&self, c: &super::vfs::Caller, ev: Events) -> Queues {
        let _ = (c, ev);
        Queues::new()
    }
    /// The host fd behind the file, for host-side waiting.
    fn host_fd(&self) -> Option<RawFd> {
        None
    }
    /// A host fd an address space may map directly (regular host files).
    fn mappable_fd(&self) -> Option<Arc<std::os::fd::OwnedFd>> {
        None
    }
    /// What a MAP_SHARED mapping maps: the fd, and a token to keep while
    /// the mapping lives (`writable`: it may be written). None: shared
    /// mappings of this file are private copies.
    fn shared_map(&self, writable: bool) -> Option<SharedMap> {
        let _ = writable;
        self.mappable_fd().map(|fd| (fd, None))
    }
    /// A new open file description of the same object, for an open of
    /// /proc/pid/fd/N (with the new open's flags); None when the object
    /// is reopened by its path instead.
    fn reopen(&self, flags: i32) -> Option<KResult<Box<dyn FileOps>>> {
        let _ = flags;
        None
    }
    /// Whether a writable shared mapping of the file exists (F_SEAL_WRITE).
    fn writably_mapped(&self) -> bool {
        false
    }
    /// ioctl(2) by the calling task (a terminal's job control and
    /// controlling-terminal ioctls depend on who asks).
    fn ioctl(&self, cx: &mut Ctx<'_, '_>, f: &Arc<File>, cmd: u64, arg: u64) -> KResult<u64> {
        let _ = (cx, f, cmd, arg);
        Err(Errno::ENOTTY)
    }
    /// What Linux decides by the caller before a read or write moves
    /// bytes (`write` for writes): a terminal's job control (SIGTTIN,
    /// SIGTTOU). Runs with the kernel lock, once per call.
    fn before_transfer(&self, cx: &mut Ctx<'_, '_>, write: bool) -> KResult<()> {
        let _ = (cx, write);
        Ok(())
    }
    /// After a write, its consequences for other tasks: a pty master
    /// raises the signal characters it typed.
    fn after_write(&self, cx: &mut Ctx<'_, '_>) {
        let _ = cx;
    }
    /// Before a read at `off` (None: the file's position): a generated
    /// file read from its start generates its contents again, as Linux's
    /// seq_file does, so a monitor that seeks back and reads sees the
    /// present (vmstat, top).
    fn refresh(&self, cx: &mut Ctx<'_, '_>, f: &File, off: Option<u64>) -> KResult<()> {
        let _ = (cx, f, off);
        Ok(())
    }
    /// A read whose data belongs to the caller (signalfd: its own pending
    /// signals), up to `room` bytes; None for files read with `read`.
    fn read_by(
        &self,
        cx: &mut Ctx<'_, '_>,
        f: &File,
        room: usize,
        nowait: bool,
    ) -> Option<KResult<Vec<u8>>> {
        let _ = (cx, f, room, nowait);
        None
    }
    /// An unnamed file (O_TMPFILE) takes the access ACL (stored form) its
    /// directory's default ACL makes; false where it cannot keep one.
    fn take_acl(&self, stored: &[u8]) -> bool {
        let _ = stored;
        false
    }
    /// Whether a write takes its bytes unread (/dev/null, /dev/zero):
    /// the count is the answer, whatever the buffer holds, mapped or not.
    fn discards_writes(&self) -> bool {
        false
    }
    /// Whether writes act on the kernel as the writer (cgroup control
    /// files): they go to `write_by` with the bytes, at most a page.
    fn caller_writes(&self) -> bool {
        false
    }
    /// What a write past position 0 does to a file `caller_writes`.
    fn offset_write(&self) -> OffsetWrite {
        OffsetWrite::Apply
    }
    fn write_by(&self, cx: &mut Ctx<'_, '_>, data: &[u8]) -> KResult<usize> {
        let _ = (cx, data);
        Err(Errno::EINVAL)
    }
    /// A new open file description of this object, opened by the caller
    /// with `flags`, before it has an fd: a FIFO waits for its other side,
    /// a terminal may become the caller's controlling terminal.
    fn opened(&self, cx: &mut Ctx<'_, '_>, f: &File, flags: i32) -> KResult<()> {
        let _ = (cx, f, flags);
        Ok(())
    }
    fn truncate(&self, len: u64) -> KResult<()> {
        let _ = len;
        Err(Errno::EINVAL)
    }
    /// fchmod/fchown/futimens on the open file.
    fn setattr(&self, attr: &super::vfs::SetAttr) -> KResult<()> {
        let _ = attr;
        Err(Errno::EROFS)
    }
    /// fallocate(2) on an open file (arguments already checked).
    fn fallocate(&self, mode: i32, off: u64, len: u64) -> KResult<()> {
        let _ = (mode, off, len);
        Err(Errno::EOPNOTSUPP)
    }
    /// fsync(2): EINVAL for objects that cannot be synced (pipes, devices).
    fn sync(&self) -> KResult<()> {
        Err(Errno::EINVAL)
    }
    /// Whether reads and writes of this file never wait for another task
    /// and need no kernel state (regular files), so they may run without
    /// the kernel lock.
    fn lockless(&self) -> bool {
        false
    }
    /// The pipe end behind the file, for the calls that work on pipes
    /// (splice, tee, vmsplice, F_SETPIPE_SZ): the end to read from
    /// (`write` false) or to write to. An end answers for itself either
    /// way (callers check its direction); a FIFO opened O_RDWR holds both.
    fn pipe(&self, write: bool) -> Option<&super::pipe::PipeEnd> {
        let _ = write;
        None
    }
    /// The socket behind the file, for socket calls (ENOTSOCK without).
    fn socket(&self) -> Option<&dyn crate::socket::Socket> {
        None
    }
    /// Whether the object of a fixed-name file lost its name (a message
    /// queue after mq_unlink): /proc shows " (deleted)".
    fn unlinked(&self) -> bool {
        false
    }
    /// File seals (memfd_create files only): F_GET_SEALS/F_ADD_SEALS.
    fn seals(&self) -> Option<&std::sync::atomic::AtomicU32> {
        None
    }
    fn as_any(&self) -> &dyn Any;
}

pub const F_SEAL_SEAL: u32 = 1;
pub const F_SEAL_SHRINK: u32 = 2;
pub const F_SEAL_GROW: u32 = 4;
pub const F_SEAL_WRITE: u32 = 8;
pub const F_SEAL_FUTURE_WRITE: u32 = 0x10;
pub const F_SEAL_EXEC: u32 = 0x20;

/// An open file description.
pub struct File {
    pub ops: Box<dyn FileOps>,
    /// O_ACCMODE | O_APPEND | O_NONBLOCK | ... as given to open.
    pub flags: AtomicU32,
    pub pos: Mutex<u64>,
    /// Where the file is (for /proc/pid/fd, maps, and walks from it).
    pub name: FileName,
    /// getdents position for directories.
    pub dir_pos: Mutex<(usize, Option<Vec<DirEntry>>)>,
    /// F_SETOWN(_EX)'s owner as (F_OWNER_TID/PID/PGRP, id) and F_SETSIG's
    /// signal, whom O_ASYNC's SIGIO goes to.
    pub owner: Mutex<(i32, i32)>,
    pub owner_sig: std::sync::atomic::AtomicI32,
    /// O_ASYNC's registration on the object's wait queues.
    pub fasync: Mutex<Option<super::fasync::Registration>>,
    /// The inotify registry of the kernel that opened the file by path:
    /// its reads, writes, attribute changes and last close are reported.
    watched: std::sync::OnceLock<Arc<super::inotify::Registry>>,
    /// The lock waiters' queue, once a lock owned by this open file
    /// description (flock, OFD) was taken: its last reference going
    /// releases them, and the waiters must hear it.
    lock_waiters: std::sync::OnceLock<Arc<crate::kernel::WaitQueue>>,
    /// Write access to a regular file, held while it is open for writing
    /// (a running executable refuses it: ETXTBSY).
    write_hold: std::sync::OnceLock<super::write_access::Hold>,
}

impl Drop for File {
    fn drop(&mut self) {
        // The last reference to the open file description: close(2) of
        // the last fd, exit, dup2 over it, CLOEXEC, munmap, epoll's.
        if self.flags() & libc::O_PATH == 0 {
            let m = if self.writable() {
                super::inotify::IN_CLOSE_WRITE
            } else {
                super::inotify::IN_CLOSE_NOWRITE
            };
            self.note(m);
        }
        if let Some(q) = self.lock_waiters.get() {
            q.notify(crate::kernel::waitq::EV_ALL);
        }
    }
}

impl File {
    /// A lock owned by this open file description was taken; waiters on
    /// `q` are woken when the description goes.
    pub fn holds_locks(&self, q: &Arc<crate::kernel::WaitQueue>) {
        let _ = self.lock_waiters.set(q.clone());
    }
}

/// What an open file is called: its place in the tree, or a fixed name
/// for objects that have none ("pipe:[5]", "anon_inode:[eventfd]", host
/// stdio).
#[derive(Clone, Debug)]
pub enum FileName {
    Place(PathRef),
    Fixed(Vec<u8>),
}

impl PartialEq for FileName {
    fn eq(&self, o: &FileName) -> bool {
        match (self, o) {
            (FileName::Place(a), FileName::Place(b)) => {
                Arc::ptr_eq(&a.dentry, &b.dentry) && a.mount.id == b.mount.id
            }
            (FileName::Fixed(a), FileName::Fixed(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for FileName {}

impl FileName {
    /// The current path (the last one, if removed), or the fixed name.
    pub fn path(&self) -> Vec<u8> {
        match self {
            FileName::Place(p) => p.path(),
            FileName::Fixed(n) => n.clone(),
        }
    }

    /// What /proc shows: the path with " (deleted)" once removed.
    pub fn display(&self) -> Vec<u8> {
        match self {
            FileName::Place(p) => p.display(),
            FileName::Fixed(n) => n.clone(),
        }
    }
}

impl File {
    /// A file with a fixed name (no place in the tree).
    pub fn new(ops: Box<dyn FileOps>, flags: i32, name: Vec<u8>) -> Arc<File> {
        Self::named(ops, flags, FileName::Fixed(name))
    }

    /// A file opened at `place`.
    pub fn at(ops: Box<dyn FileOps>, flags: i32, place: PathRef) -> Arc<File> {
        Self::named(ops, flags, FileName::Place(place))
    }

    pub fn named(ops: Box<dyn FileOps>, flags: i32, name: FileName) -> Arc<File> {
        Arc::new(File {
            ops,
            flags: AtomicU32::new(crate::num::ubits32(flags)),
            pos: Mutex::new(0),
            name,
            dir_pos: Mutex::new((0, None)),
            owner: Mutex::new((0, 0)),
            owner_sig: Default::default(),
            fasync: Default::default(),
            watched: Default::default(),
            lock_waiters: Default::default(),
            write_hold: Default::default(),
        })
    }

    /// Keeps write access `h` for as long as this open file lives.
    pub fn hold_write(&self, h: super::write_access::Hold) {
        let _ = self.write_hold.set(h);
    }

    /// Reports the file's reads, writes and closes to `reg`'s watches.
    pub fn watch_with(&self, reg: &Arc<super::inotify::Registry>) {
        let _ = self.watched.set(reg.clone());
    }

    /// Tells inotify watches of the file about `mask` (IN_ACCESS,
    /// IN_MODIFY, IN_ATTRIB, ...). A removed file is reported to watches
    /// of the object itself only: its old path may name another now.
    pub fn note(&self, mask: u32) {
        let (Some(reg), Some(place)) = (self.watched.get(), self.place()) else {
            return;
        };
        if !reg.active() {
            return;
        }
        let st = self.ops.stat().ok();
        let (path, live) = place.locate();
        if live {
            // By path, and by identity for a watch made through another
            // hard link.
            reg.note_object(&path, mask, st);
        } else {
            reg.note_self(&path, mask, st);
        }
    }

    /// Truncates the file to `len` (IN_MODIFY).
    pub fn truncate(&self, len: u64) -> KResult<()> {
        self.ops.truncate(len)?;
        self.note(super::inotify::IN_MODIFY);
        Ok(())
    }

    /// fallocate(2) (IN_MODIFY).
    pub fn fallocate(&self, mode: i32, off: u64, len: u64) -> KResult<()> {
        self.ops.fallocate(mode, off, len)?;
        self.note(super::inotify::IN_MODIFY);
        Ok(())
    }

    /// The file's place in the tree, if it has one.
    pub fn place(&self) -> Option<&PathRef> {
        match &self.name {
            FileName::Place(p) => Some(p),
            FileName::Fixed(_) => None,
        }
    }

    /// fstat(2): the object's attributes. A removed directory has no
    /// links, whatever a snapshot of it says.
    pub fn stat(&self) -> KResult<Stat> {
        let mut st = self.ops.stat()?;
        if st.mode & libc::S_IFMT == libc::S_IFDIR && self.place().is_some_and(|p| p.is_dead()) {
            st.nlink = 0;
        }
        Ok(st)
    }

    /// The current path (or fixed name).
    pub fn path(&self) -> Vec<u8> {
        self.name.path()
    }

    pub fn flags(&self) -> i32 {
        crate::num::sbits32(self.flags.load(Ordering::Relaxed))
    }

    pub fn set_flags(&self, f: i32) {
        self.flags.store(crate::num::ubits32(f), Ordering::Relaxed);
    }

    pub fn readable(&self) -> bool {
        let m = self.flags() & libc::O_ACCMODE;
        (m == libc::O_RDONLY || m == libc::O_RDWR) && self.flags() & libc::O_PATH == 0
    }

    pub fn writable(&self) -> bool {
        let m = self.flags() & libc::O_ACCMODE;
        (m == libc::O_WRONLY || m == libc::O_RDWR) && self.flags() & libc::O_PATH == 0
    }

    pub fn nonblocking(&self) -> bool {
        self.flags() & libc::O_NONBLOCK != 0
    }

    /// pread-style read used by the loader.
    pub fn read_at(&self, buf: &mut [u8], off: u64) -> KResult<usize> {
        self.ops.read(self, buf, Some(off))
    }

    /// The host fd behind a regular file, if any (for in-kernel copies).
    pub fn host_fd(&self) -> Option<RawFd> {
        self.ops.host_fd()
    }

    pub fn downcast<T: 'static>(&self) -> Option<&T> {
        self.ops.as_any().downcast_ref::<T>()
    }
}

impl crate::loader::elf::ReadAt for File {
    fn read_at(&self, buf: &mut [u8], off: u64) -> KResult<usize> {
        let mut done = 0;
        while done < buf.len() {
            let n = self
                .ops
                .read(self, &mut buf[done..], Some(off + done as u64))?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    fn host_fd(&self) -> Option<RawFd> {
        self.ops.host_fd()
    }

    fn read_into(&self, iov: &[libc::iovec], off: u64) -> KResult<usize> {
        if let Some(r) = self.ops.read_iov(self, iov, Some(off)) {
            return r;
        }
        // Through a buffer of our own: no Rust reference is ever made to
        // application memory.
        let total = crate::mm::iov_len(iov);
        let mut tmp = vec![0u8; total.min(1 << 20)];
        let mut done = 0usize;
        while done < total {
            let want = (total - done).min(tmp.len());
            let n = crate::loader::elf::ReadAt::read_at(self, &mut tmp[..want], off + done as u64)?;
            crate::mm::scatter_at(iov, done, &tmp[..n]);
            done += n;
            if n < want {
                break;
            }
        }
        Ok(done)
    }
}

#[derive(Clone)]
pub struct FdEntry {
    pub file: Arc<File>,
    pub cloexec: bool,
}

/// The fd table (shared by CLONE_FILES).
#[derive(Clone, Default)]
pub struct FdTable {
    pub fds: BTreeMap<i32, FdEntry>,
}

impl FdTable {
    pub fn with_stdio(stdio: [OwnedFd; 3]) -> FdTable {
        let mut t = FdTable::default();
        for (i, fd) in stdio.into_iter().enumerate() {
            t.add_host(crate::num::saturating_i32(i), fd);
        }
        t
    }

    /// Installs the host fd `fd` as `no` (stdio, or fds a container's
    /// caller passes on with `--preserve-fds`).
    pub fn add_host(&mut self, no: i32, fd: OwnedFd) {
        let flags = super::host::fd_flags(&fd);
        let ops = super::host::HostFile::stdio(fd);
        let path = ops.describe();
        self.fds.insert(
            no,
            FdEntry {
                file: File::new(Box::new(ops), flags, path),
                cloexec: false,
            },
        );
    }

    pub fn get(&self, fd: i32) -> KResult<Arc<File>> {
        self.fds
            .get(&fd)
            .map(|e| e.file.clone())
            .ok_or(Errno::EBADF)
    }

    /// Lowest free fd >= `min`, below `limit`.
    pub fn alloc(&mut self, file: Arc<File>, cloexec: bool, min: i32, limit: u64) -> KResult<i32> {
        let mut fd = min;
        for &k in self.fds.range(min..).map(|(k, _)| k) {
            if k != fd {
                break;
            }
            fd += 1;
        }
        if crate::num::bits(i64::from(fd)) >= limit {
            return Err(Errno::EMFILE);
        }
        self.fds.insert(fd, FdEntry { file, cloexec });
        Ok(fd)
    }

    pub fn install(&mut self, fd: i32, file: Arc<File>, cloexec: bool) -> Option<FdEntry> {
        self.fds.insert(fd, FdEntry { file, cloexec })
    }

    pub fn close(&mut self, fd: i32) -> KResult<Arc<File>> {
        self.fds.remove(&fd).map(|e| e.file).ok_or(Errno::EBADF)
    }

    pub fn close_on_exec(&mut self) {
        self.fds.retain(|_, e| !e.cloexec);
    }
}
