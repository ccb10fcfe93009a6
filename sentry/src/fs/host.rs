//! Files backed by a host fd: the sandbox's stdio and fds the gofer donated.

use super::file::{File, FileOps};
use crate::errno::{Errno, KResult};
use crate::fs::{DirEntry, Stat};
use std::any::Any;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

pub struct HostFile {
    fd: std::sync::Arc<OwnedFd>,
    seekable: bool,
    is_tty: bool,
    /// fchmod/fchown/futimens reach the host file (a writable root).
    attrs: bool,
    /// A host file with no path in the sandbox (the sandbox's stdio):
    /// /proc/self/fd/N reopens the host object itself.
    pathless: bool,
    /// The offset of a reopened regular file, kept here because the host
    /// fd (a duplicate) shares its offset with every other copy.
    own_pos: Option<parking_lot::Mutex<u64>>,
    /// What the file's filesystem adds to the host's fstat.
    view: Option<std::sync::Arc<dyn StatView>>,
}

/// A filesystem's view of its host files' attributes: a container's id
/// mapping, the ACLs it keeps.
pub trait StatView: Send + Sync {
    fn adjust(&self, st: &mut Stat);
}

pub fn fd_flags(fd: &OwnedFd) -> i32 {
    // SAFETY: F_GETFL on an fd we own.
    let f = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if f < 0 {
        libc::O_RDWR
    } else {
        f & !(libc::O_CLOEXEC | 0o100000)
    }
}

fn cvt(r: isize) -> KResult<usize> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(crate::num::count(r))
    }
}

/// The paths of the regular files the sandbox's stdio were when it
/// started, by (dev, ino): read while the host's /proc is still there.
static STDIO_NAMES: std::sync::OnceLock<Vec<(FileId, Vec<u8>)>> = std::sync::OnceLock::new();

/// A host file's (dev, ino).
type FileId = (u64, u64);

/// Records what stdio (fds 0 to 2) are, for their /proc/PID/fd links.
pub fn snapshot_stdio_names() {
    let names = (0..3)
        .filter_map(|fd| {
            let path = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
            let md = std::fs::metadata(format!("/proc/self/fd/{fd}")).ok()?;
            use std::os::unix::fs::MetadataExt;
            md.is_file().then(|| {
                use std::os::unix::ffi::OsStrExt;
                ((md.dev(), md.ino()), path.as_os_str().as_bytes().to_vec())
            })
        })
        .collect();
    let _ = STDIO_NAMES.set(names);
}

impl HostFile {
    pub fn new(fd: OwnedFd) -> HostFile {
        // SAFETY: fstat and isatty on an fd we own.
        let (seekable, is_tty) = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            libc::fstat(fd.as_raw_fd(), &mut st);
            let fmt = st.st_mode & libc::S_IFMT;
            (
                fmt == libc::S_IFREG || fmt == libc::S_IFDIR || fmt == libc::S_IFBLK,
                libc::isatty(fd.as_raw_fd()) == 1,
            )
        };
        HostFile {
            fd: std::sync::Arc::new(fd),
            seekable,
            is_tty,
            attrs: false,
            pathless: false,
            own_pos: None,
            view: None,
        }
    }

    /// A file whose stat `view` adjusts.
    pub fn with_view(mut self, view: std::sync::Arc<dyn StatView>) -> HostFile {
        self.view = Some(view);
        self
    }

    /// One of the sandbox's stdio files, handed over by the host.
    pub fn stdio(fd: OwnedFd) -> HostFile {
        HostFile {
            pathless: true,
            ..HostFile::new(fd)
        }
    }

    /// A file of a writable root: attribute changes through the fd go to
    /// the host file.
    pub fn with_attrs(mut self) -> HostFile {
        self.attrs = true;
        self
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn describe(&self) -> Vec<u8> {
        let st = self.stat().unwrap_or_default();
        match st.mode & libc::S_IFMT {
            libc::S_IFIFO => format!("pipe:[{}]", st.ino).into_bytes(),
            libc::S_IFSOCK => format!("socket:[{}]", st.ino).into_bytes(),
            _ if self.is_tty => b"/dev/pts/0".to_vec(),
            // A regular file the caller redirected stdio to: its path.
            libc::S_IFREG => STDIO_NAMES
                .get()
                .and_then(|n| n.iter().find(|(id, _)| *id == (st.dev, st.ino)))
                .map_or_else(|| b"/dev/null".to_vec(), |(_, p)| p.clone()),
            _ => b"/dev/null".to_vec(),
        }
    }

    /// Host read without blocking on non-regular files.
    fn nb_flags(&self) -> i32 {
        if self.seekable {
            0
        } else {
            libc::RWF_NOWAIT
        }
    }
}

fn iov_of(buf: &[u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    }
}

impl HostFile {
    /// Runs `io` at the explicit offset, or at this file's own offset
    /// (advanced by what was done), or at the host fd's.
    fn at_offset(
        &self,
        off: Option<u64>,
        append: bool,
        io: impl FnOnce(i64) -> KResult<usize>,
    ) -> KResult<usize> {
        match (off, &self.own_pos) {
            (Some(o), _) => io(i64::try_from(o).map_err(|_| Errno::EINVAL)?),
            (None, Some(pos)) => {
                let mut pos = pos.lock();
                if append {
                    *pos = crate::num::bits(self.stat()?.size);
                }
                let n = io(i64::try_from(*pos).map_err(|_| Errno::EINVAL)?)?;
                *pos += n as u64;
                Ok(n)
            }
            (None, None) => io(-1),
        }
    }

    fn preadv(&self, iov: &[libc::iovec], off: Option<u64>) -> KResult<usize> {
        self.at_offset(off, false, |off| self.preadv_at(iov, off))
    }

    fn preadv_at(&self, iov: &[libc::iovec], off: i64) -> KResult<usize> {
        loop {
            // SAFETY: the iovecs point at memory valid for the call.
            let r = unsafe {
                libc::preadv2(
                    self.raw(),
                    iov.as_ptr(),
                    crate::num::saturating_i32(iov.len()),
                    off,
                    self.nb_flags(),
                )
            };
            if r < 0 && Errno::last() == Errno::EOPNOTSUPP {
                // RWF_NOWAIT unsupported: poll first so read cannot block.
                let mut p = libc::pollfd {
                    fd: self.raw(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one pollfd.
                if unsafe { libc::poll(&mut p, 1, 0) } == 0 {
                    return Err(Errno::EAGAIN);
                }
                // SAFETY: as above, without flags.
                let r = unsafe {
                    libc::preadv2(
                        self.raw(),
                        iov.as_ptr(),
                        crate::num::saturating_i32(iov.len()),
                        -1,
                        0,
                    )
                };
                return cvt(r);
            }
            if r < 0 && Errno::last() == Errno::EINTR {
                continue;
            }
            return cvt(r);
        }
    }

    /// `append`: the open file has O_APPEND (the host fd may not, when it
    /// is a duplicate made for a reopen).
    fn pwritev(&self, iov: &[libc::iovec], off: Option<u64>, append: bool) -> KResult<usize> {
        self.at_offset(off, append, |off| self.pwritev_at(iov, off))
    }

    fn pwritev_at(&self, iov: &[libc::iovec], off: i64) -> KResult<usize> {
        let mut p = libc::pollfd {
            fd: self.raw(),
            events: libc::POLLOUT,
            revents: 0,
        };
        if !self.seekable {
            // SAFETY: one pollfd.
            if unsafe { libc::poll(&mut p, 1, 0) } == 0 {
                return Err(Errno::EAGAIN);
            }
        }
        // SAFETY: the iovecs point at memory valid for the call.
        let r = unsafe {
            libc::pwritev2(
                self.raw(),
                iov.as_ptr(),
                crate::num::saturating_i32(iov.len()),
                off,
                0,
            )
        };
        cvt(r)
    }
}

/// FS_IOC_GETFLAGS and FS_IOC_FSGETXATTR (an int; struct fsxattr).
pub const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
pub const FS_IOC_FSGETXATTR: libc::c_ulong = 0x801c_581f;

impl FileOps for HostFile {
    fn read(&self, _f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        self.preadv(&[iov_of(buf)], off)
    }
    fn write(&self, f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        self.pwritev(&[iov_of(buf)], off, f.flags() & libc::O_APPEND != 0)
    }
    fn read_iov(&self, _f: &File, iov: &[libc::iovec], off: Option<u64>) -> Option<KResult<usize>> {
        Some(self.preadv(iov, off))
    }
    fn lockless(&self) -> bool {
        // Regular files, directories and block devices: host I/O that
        // never waits for another task.
        self.seekable
    }
    fn write_iov(&self, f: &File, iov: &[libc::iovec], off: Option<u64>) -> Option<KResult<usize>> {
        Some(self.pwritev(iov, off, f.flags() & libc::O_APPEND != 0))
    }
    fn stat(&self) -> KResult<Stat> {
        // SAFETY: fstat on an fd we own.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(self.raw(), &mut st) != 0 {
                return Err(Errno::last());
            }
            let mut st = Stat::from_host(&st);
            if let Some(v) = &self.view {
                v.adjust(&mut st);
            }
            Ok(st)
        }
    }
    fn position(&self, _f: &File) -> u64 {
        match &self.own_pos {
            Some(pos) => *pos.lock(),
            None if self.seekable => rustix::fs::tell(&*self.fd).unwrap_or(0),
            None => 0,
        }
    }
    fn seek(&self, _f: &File, off: i64, whence: i32) -> KResult<u64> {
        if !self.seekable {
            return Err(Errno::ESPIPE);
        }
        if let Some(pos) = &self.own_pos {
            let mut pos = pos.lock();
            let base = match whence {
                libc::SEEK_SET => 0,
                libc::SEEK_CUR => crate::num::sbits(*pos),
                libc::SEEK_END => self.stat()?.size,
                _ => return Err(Errno::EINVAL),
            };
            let new = base
                .checked_add(off)
                .filter(|&n| n >= 0)
                .ok_or(Errno::EINVAL)?;
            *pos = crate::num::bits(new);
            return Ok(*pos);
        }
        // SAFETY: lseek on an fd we own.
        let r = unsafe { libc::lseek(self.raw(), off, whence) };
        if r < 0 {
            Err(Errno::last())
        } else {
            Ok(crate::num::bits(r))
        }
    }
    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        let mut out = Vec::new();
        // SAFETY: rewinding our own directory fd.
        unsafe { libc::lseek(self.raw(), 0, libc::SEEK_SET) };
        let mut buf = vec![0u8; 32768];
        loop {
            // SAFETY: getdents64 into our buffer.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    self.raw(),
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            };
            if n < 0 {
                return Err(Errno::last());
            }
            if n == 0 {
                break;
            }
            let mut p = 0usize;
            while p < crate::num::usize_of(crate::num::nonneg(n)) {
                let ino = u64::from_le_bytes(buf[p..p + 8].try_into().unwrap());
                let reclen = u16::from_le_bytes([buf[p + 16], buf[p + 17]]) as usize;
                let kind = buf[p + 18];
                let name = &buf[p + 19..p + reclen];
                let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
                if name != b"." && name != b".." {
                    out.push(DirEntry {
                        ino,
                        kind,
                        name: name.to_vec(),
                    });
                }
                p += reclen.max(1);
            }
        }
        Ok(out)
    }
    fn poll(&self, events: i16) -> i16 {
        crate::hostio::poll_now(self.fd.as_fd(), events)
    }
    fn host_fd(&self) -> Option<RawFd> {
        Some(self.raw())
    }
    fn mappable_fd(&self) -> Option<std::sync::Arc<OwnedFd>> {
        self.seekable.then(|| self.fd.clone())
    }
    fn ioctl(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        _f: &std::sync::Arc<File>,
        cmd: u64,
        arg: u64,
    ) -> KResult<u64> {
        let mm = &*cx.mm;
        // Terminal ioctls pass through on ttys; the structures are copied
        // through the sentry, never handed to the host as pointers.
        let size = match cmd as libc::c_ulong {
            // The kernel's struct termios (36 bytes), not glibc's (60).
            libc::TCGETS | libc::TCSETS | libc::TCSETSW | libc::TCSETSF => {
                std::mem::size_of::<linux_raw_sys::general::termios>()
            }
            libc::TIOCGWINSZ | libc::TIOCSWINSZ => {
                std::mem::size_of::<linux_raw_sys::general::winsize>()
            }
            libc::TIOCGPGRP | libc::TIOCSPGRP | libc::FIONREAD => 4,
            // A host file's inode flags (lsattr), read only.
            FS_IOC_GETFLAGS if self.seekable => 4,
            FS_IOC_FSGETXATTR if self.seekable => 28,
            _ => return Err(Errno::ENOTTY),
        };
        if matches!(cmd as libc::c_ulong, FS_IOC_GETFLAGS | FS_IOC_FSGETXATTR) {
            let mut buf = vec![0u8; size];
            // SAFETY: the request writes `size` bytes into our buffer.
            if unsafe { libc::ioctl(self.raw(), cmd as libc::c_ulong, buf.as_mut_ptr()) } < 0 {
                return Err(Errno::last());
            }
            mm.write(arg, &buf)?;
            return Ok(0);
        }
        if cmd as libc::c_ulong == libc::FIONREAD {
            let mut n: i32 = 0;
            // SAFETY: FIONREAD writes an int.
            if unsafe { libc::ioctl(self.raw(), libc::FIONREAD, &mut n) } < 0 {
                return Err(Errno::last());
            }
            crate::mm::write_obj(mm, arg, &n)?;
            return Ok(0);
        }
        if !self.is_tty {
            return Err(Errno::ENOTTY);
        }
        if matches!(cmd as libc::c_ulong, libc::TIOCGPGRP | libc::TIOCSPGRP) {
            // The sandbox has its own process groups; report the caller's.
            return Err(Errno::ENOTTY);
        }
        let mut buf = vec![0u8; size];
        let setter = matches!(
            cmd as libc::c_ulong,
            libc::TCSETS | libc::TCSETSW | libc::TCSETSF | libc::TIOCSWINSZ
        );
        if setter {
            mm.read(arg, &mut buf)?;
        }
        // SAFETY: buf has the size the ioctl expects.
        if unsafe { libc::ioctl(self.raw(), cmd as libc::c_ulong, buf.as_mut_ptr()) } < 0 {
            return Err(Errno::last());
        }
        if !setter {
            mm.write(arg, &buf)?;
        }
        Ok(0)
    }
    fn truncate(&self, len: u64) -> KResult<()> {
        // SAFETY: ftruncate on an fd we own.
        if unsafe { libc::ftruncate(self.raw(), crate::num::sbits(len)) } != 0 {
            return Err(Errno::last());
        }
        Ok(())
    }
    /// Files of the root are reopened by path (None). A host stdio file
    /// reopened through /proc/self/fd is a duplicate of the host fd with
    /// an offset of its own. Without a host path the access mode cannot
    /// grow: asking for more than the fd allows is EACCES.
    fn reopen(&self, flags: i32) -> Option<KResult<Box<dyn super::file::FileOps>>> {
        if !self.pathless {
            return None;
        }
        let have = fd_flags(&self.fd) & libc::O_ACCMODE;
        let want = flags & libc::O_ACCMODE;
        let reads = want != libc::O_WRONLY;
        let writes = want != libc::O_RDONLY;
        if (reads && have == libc::O_WRONLY) || (writes && have == libc::O_RDONLY) {
            return Some(Err(Errno::EACCES));
        }
        let mut dup = match self.fd.try_clone() {
            Ok(fd) => HostFile::stdio(fd),
            Err(e) => return Some(Err(Errno::from_io(&e))),
        };
        if dup.seekable {
            // A new open starts at 0 with an offset of its own.
            dup.own_pos = Some(parking_lot::Mutex::new(0));
        }
        if flags & libc::O_TRUNC != 0 && writes && self.seekable {
            if let Err(e) = super::file::FileOps::truncate(&dup, 0) {
                return Some(Err(e));
            }
        }
        Some(Ok(Box::new(dup)))
    }
    fn setattr(&self, a: &super::vfs::SetAttr) -> KResult<()> {
        if !self.attrs {
            return Err(Errno::EROFS);
        }
        if a.mode.is_some() || a.uid.is_some() || a.gid.is_some() {
            // The sandbox runs unprivileged in a user namespace of its own:
            // ownership and mode are the gofer's to change, by path (the
            // caller falls back to that on EPERM).
            return Err(Errno::EPERM);
        }
        let fd = self.raw();
        let ok = |r: i32| if r < 0 { Err(Errno::last()) } else { Ok(()) };
        // SAFETY: attribute calls on an fd we own, with plain arguments.
        unsafe {
            if let Some(m) = a.mode {
                ok(libc::fchmod(fd, m & 0o7777))?;
            }
            if a.uid.is_some() || a.gid.is_some() {
                ok(libc::fchown(
                    fd,
                    a.uid.unwrap_or(u32::MAX),
                    a.gid.unwrap_or(u32::MAX),
                ))?;
            }
            if let Some(len) = a.size {
                ok(libc::ftruncate(fd, crate::num::sbits(len)))?;
            }
            if a.atime.is_some() || a.mtime.is_some() {
                let ts = |t: Option<(i64, i64)>| {
                    let (s, n) = t.unwrap_or((0, libc::UTIME_OMIT));
                    libc::timespec {
                        tv_sec: s,
                        tv_nsec: n,
                    }
                };
                let times = [ts(a.atime), ts(a.mtime)];
                ok(libc::futimens(fd, times.as_ptr()))?;
            }
        }
        Ok(())
    }
    fn fallocate(&self, mode: i32, off: u64, len: u64) -> KResult<()> {
        // SAFETY: fallocate on an fd we own.
        if unsafe {
            libc::fallocate(
                self.raw(),
                mode,
                crate::num::sbits(off),
                crate::num::sbits(len),
            )
        } != 0
        {
            return Err(Errno::last());
        }
        Ok(())
    }
    fn sync(&self) -> KResult<()> {
        // SAFETY: fsync on an fd we own.
        if unsafe { libc::fsync(self.raw()) } != 0 {
            return Err(Errno::last());
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
