//! The gofer side: [`confine`] the process into the container root, then
//! [`serve`] requests until the sentry closes the socket.
//!
//! Containment: every lookup is an `openat2` relative to the root fd with
//! `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS`, so neither
//! `..` nor a symlink (even one swapped in concurrently) can lead outside the
//! root; mutations are `*at()` calls on a parent directory fd obtained that
//! way plus one final name, with `AT_SYMLINK_NOFOLLOW` semantics. The sentry
//! resolves symlinks itself (see [`crate::Client::walk`]), so a path sent
//! here never needs to follow one.
//!
//! Policy beyond the kernel's checks (the gofer typically runs with more
//! privilege than the application; permission checks are the sentry's job):
//! * opens never block the gofer: they are made with `O_NONBLOCK`, which is
//!   cleared again unless requested (a FIFO opened write-only without a
//!   reader therefore fails with `ENXIO`);
//! * character and block devices are never opened (`EACCES`, as on a
//!   `nodev` mount), and `mknod` creates only regular files, FIFOs, sockets
//!   and overlay whiteouts (char 0:0) (`EPERM` otherwise).

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::proto::{
    components, dirent_wire_size, encode_reply, DirEntry, FileStat, Reply, Request, StatFs,
    WalkReply, ACL_ACCESS_SET, ACL_DEFAULT_SET, FCAPS, MAX_MSG, MAX_PATH, MAX_WALK_STATS,
    READDIR_BUDGET, XATTR_GET, XATTR_LIST, XATTR_REMOVE, XATTR_SET,
};
use crate::sys;
use crate::GoferError;

/// How [`serve`] behaves.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServeOptions {
    /// Refuse every mutation with `EROFS`.
    pub read_only: bool,
    /// Hand the root fd to the sentry (`Request::RootFd`): only when
    /// [`confine`] reported the root contained.
    pub donate_root: bool,
}

/// Serves requests on `sock` until the peer closes it. `root` is an
/// O_PATH|O_DIRECTORY fd of the container root. Malformed messages get an
/// error reply (EINVAL) and serving continues. In read_only mode every
/// mutating op and any open with O_WRONLY/O_RDWR/O_CREAT/O_TRUNC/O_APPEND
/// returns EROFS.
pub fn serve(root: OwnedFd, sock: OwnedFd, opts: ServeOptions) -> Result<(), GoferError> {
    let server = Server {
        root,
        read_only: opts.read_only,
        donate_root: opts.donate_root,
    };
    let mut buf = vec![0u8; MAX_MSG];
    let mut out = Vec::with_capacity(MAX_MSG);
    loop {
        let msg = match sys::recv_msg(sock.as_fd(), &mut buf) {
            Ok(m) => m,
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Ok(()),
            Err(e) => return Err(GoferError::Transport(e)),
        };
        // The sentry never sends fds; close any that arrive.
        drop(msg.fds);
        if msg.len == 0 && !msg.truncated && sys::peer_closed(sock.as_fd()) {
            return Ok(());
        }
        let (reply, fd) = if msg.truncated {
            tracing::debug!("gofer: oversized request");
            (Err(libc::EINVAL), None)
        } else {
            match Request::decode(&buf[..msg.len]) {
                Ok(req) => match server.handle(&req) {
                    Ok((reply, fd)) => (Ok(reply), fd),
                    Err(e) => (Err(e), None),
                },
                Err(why) => {
                    tracing::debug!("gofer: malformed request: {why}");
                    (Err(libc::EINVAL), None)
                }
            }
        };
        out.clear();
        encode_reply(&reply, &mut out);
        match sys::send_msg(sock.as_fd(), &out, fd.as_ref().map(|f| f.as_fd())) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) => {
                return Ok(())
            }
            Err(e) => return Err(GoferError::Transport(e)),
        }
    }
}

/// A directory fd: the root itself or one opened beneath it.
enum Dir<'a> {
    Root(BorrowedFd<'a>),
    Owned(OwnedFd),
}

impl Dir<'_> {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Dir::Root(fd) => *fd,
            Dir::Owned(fd) => fd.as_fd(),
        }
    }
}

/// A resolved mutation target: parent directory and final name (`None` for
/// the root itself).
struct Target<'a> {
    parent: Dir<'a>,
    name: Option<CString>,
}

type Handled = Result<(Reply, Option<OwnedFd>), i32>;

/// The kernel's value of O_LARGEFILE (libc defines it as 0 on 64-bit
/// targets, where the kernel still accepts it from callers).
#[cfg(target_arch = "x86_64")]
const KERNEL_O_LARGEFILE: i32 = 0o100000;
#[cfg(target_arch = "aarch64")]
const KERNEL_O_LARGEFILE: i32 = 0o400000;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const KERNEL_O_LARGEFILE: i32 = libc::O_LARGEFILE;

/// Flags openat2 accepts (the kernel's VALID_OPEN_FLAGS).
const VALID_OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | KERNEL_O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_PATH
    | libc::O_TMPFILE;

struct Server {
    root: OwnedFd,
    read_only: bool,
    donate_root: bool,
}

fn cstring(b: &[u8]) -> Result<CString, i32> {
    CString::new(b).map_err(|_| libc::EINVAL)
}

/// The relative path of `comps` beneath the root ("." for the root).
fn rel_path(comps: &[&[u8]]) -> Result<CString, i32> {
    if comps.is_empty() {
        return Ok(c".".to_owned());
    }
    cstring(&comps.join(&b'/'))
}

fn is_type(st: &libc::stat, ty: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == ty
}

/// Which POSIX ACLs the file `name` in `dir` (stat `st`) has, as
/// [`ACL_ACCESS_SET`] and [`ACL_DEFAULT_SET`] bits. A symlink has none.
/// Kernels before getxattrat (6.13) are asked through an open fd, and
/// then only for regular files and directories, so that no device or
/// FIFO is ever opened.
fn acl_flags(dir: BorrowedFd<'_>, name: &CStr, st: &libc::stat) -> u8 {
    static NO_GETXATTRAT: AtomicBool = AtomicBool::new(false);
    let is_dir = is_type(st, libc::S_IFDIR);
    if is_type(st, libc::S_IFLNK) {
        return 0;
    }
    let wanted = [
        (sys::ACL_ACCESS, ACL_ACCESS_SET, true),
        (sys::ACL_DEFAULT, ACL_DEFAULT_SET, is_dir),
    ];
    if !NO_GETXATTRAT.load(Ordering::Relaxed) {
        let mut flags = 0;
        for (attr, bit, ask) in wanted {
            if !ask {
                continue;
            }
            match sys::getxattrat(dir, name, attr) {
                Ok(Some(_)) => flags |= bit,
                Ok(None) => {}
                Err(libc::ENOSYS) => {
                    NO_GETXATTRAT.store(true, Ordering::Relaxed);
                    return acl_flags(dir, name, st);
                }
                // A filesystem without ACLs, or a file gone.
                Err(_) => {}
            }
        }
        return flags;
    }
    if !is_dir && !is_type(st, libc::S_IFREG) {
        return 0;
    }
    let open = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    let Ok(fd) = sys::openat2(dir, name, open as u64, 0) else {
        return 0;
    };
    match sys::fstat(fd.as_fd()) {
        Ok(again) if (again.st_dev, again.st_ino) == (st.st_dev, st.st_ino) => {}
        _ => return 0,
    }
    wanted
        .iter()
        .filter(|&&(attr, _, ask)| ask && sys::fgetxattr(fd.as_fd(), attr).is_ok())
        .fold(0, |f, &(_, bit, _)| f | bit)
}

/// Attributes of host files the gofer reads and (on a writable root)
/// changes for the sentry.
fn served_xattr(name: &[u8]) -> bool {
    name.starts_with(b"user.")
        || name == sys::ACL_ACCESS.to_bytes()
        || name == sys::ACL_DEFAULT.to_bytes()
}

fn ok() -> Handled {
    Ok((Reply::Empty, None))
}

impl Server {
    fn handle(&self, req: &Request<'_>) -> Handled {
        let mutating = !matches!(
            req,
            Request::Ping
                | Request::Walk { .. }
                | Request::Lstat { .. }
                | Request::Open { .. }
                | Request::Readlink { .. }
                | Request::Readdir { .. }
                | Request::Statfs { .. }
                | Request::RootFd
                | Request::Xattr {
                    op: XATTR_GET | XATTR_LIST,
                    ..
                }
        );
        if mutating && self.read_only {
            return Err(libc::EROFS);
        }
        match *req {
            Request::Ping => ok(),
            Request::RootFd => {
                if !self.donate_root {
                    return Err(libc::EPERM);
                }
                let fd = self
                    .root
                    .try_clone()
                    .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
                Ok((Reply::Empty, Some(fd)))
            }
            Request::Walk { path, skip } => self.walk(path, skip),
            Request::Lstat { path } => {
                let fd = self.open_path(path)?;
                Ok((
                    Reply::Stat(FileStat::from_libc(&sys::fstat(fd.as_fd())?)),
                    None,
                ))
            }
            Request::Open { path, flags, mode } => self.open(path, flags, mode),
            Request::Readlink { path } => {
                let fd = self.open_path(path)?;
                let st = sys::fstat(fd.as_fd())?;
                if !is_type(&st, libc::S_IFLNK) {
                    return Err(libc::EINVAL);
                }
                Ok((Reply::Bytes(sys::readlinkat(fd.as_fd(), c"")?), None))
            }
            Request::Readdir { path, cookie } => self.readdir(path, cookie),
            Request::Mkdir { path, mode } => {
                let t = self.target(path)?;
                let name = t.name.ok_or(libc::EEXIST)?;
                sys::mkdirat(t.parent.fd(), &name, mode & 0o7777)?;
                ok()
            }
            Request::Mknod { path, mode, dev } => {
                let ty = mode & libc::S_IFMT;
                match ty {
                    0 | libc::S_IFREG | libc::S_IFIFO | libc::S_IFSOCK => {}
                    libc::S_IFCHR if dev == 0 => {}
                    libc::S_IFCHR | libc::S_IFBLK | libc::S_IFDIR => return Err(libc::EPERM),
                    _ => return Err(libc::EINVAL),
                }
                let t = self.target(path)?;
                let name = t.name.ok_or(libc::EEXIST)?;
                sys::mknodat(t.parent.fd(), &name, ty | (mode & 0o7777), dev)?;
                ok()
            }
            Request::Unlink { path, remove_dir } => {
                let t = self.target(path)?;
                let name = t.name.ok_or(if remove_dir {
                    libc::EBUSY
                } else {
                    libc::EISDIR
                })?;
                let flags = if remove_dir { libc::AT_REMOVEDIR } else { 0 };
                sys::unlinkat(t.parent.fd(), &name, flags)?;
                ok()
            }
            Request::Rename { old, new, flags } => {
                let from = self.target(old)?;
                let to = self.target(new)?;
                let (Some(from_name), Some(to_name)) = (&from.name, &to.name) else {
                    return Err(libc::EBUSY);
                };
                sys::renameat2(from.parent.fd(), from_name, to.parent.fd(), to_name, flags)?;
                ok()
            }
            Request::Link { old, new } => {
                let from = self.target(old)?;
                let to = self.target(new)?;
                let from_name = from.name.as_ref().ok_or(libc::EPERM)?;
                let to_name = to.name.as_ref().ok_or(libc::EEXIST)?;
                sys::linkat(from.parent.fd(), from_name, to.parent.fd(), to_name)?;
                ok()
            }
            Request::Symlink { target, linkpath } => {
                if target.is_empty() {
                    return Err(libc::ENOENT);
                }
                if target.len() >= MAX_PATH {
                    return Err(libc::ENAMETOOLONG);
                }
                let target = cstring(target)?;
                let t = self.target(linkpath)?;
                let name = t.name.ok_or(libc::EEXIST)?;
                sys::symlinkat(&target, t.parent.fd(), &name)?;
                ok()
            }
            Request::Chmod { path, mode } => self.chmod(path, mode & 0o7777),
            Request::Chown { path, uid, gid } => {
                let fd = self.open_path(path)?;
                sys::fchown_empty(fd.as_fd(), uid, gid)?;
                ok()
            }
            Request::Utimens { path, times } => {
                let fd = self.open_path(path)?;
                sys::utimens_empty(fd.as_fd(), times)?;
                ok()
            }
            Request::Truncate { path, len } => self.truncate(path, len),
            Request::Xattr {
                path,
                op,
                name,
                value,
                flags,
            } => self.xattr(path, op, name, value, flags),
            Request::Statfs { path } => {
                let fd = self.open_path(path)?;
                Ok((
                    Reply::StatFs(StatFs::from_libc(&sys::fstatfs(fd.as_fd())?)),
                    None,
                ))
            }
        }
    }

    /// An extended attribute of `path`. user.* is served; so are the
    /// POSIX ACLs (`system.posix_acl_access` and `_default`, with host
    /// ids: the sentry maps them), which a writable root also takes; and
    /// file capabilities (security.capability) for reading alone, so
    /// that exec in the sandbox honours them (any host user may read
    /// them too). Other trusted.*, security.* (security labels) and
    /// system.* attributes of host files are the host's, and a list
    /// shows the served names alone. Only regular files and directories
    /// are opened.
    fn xattr(&self, path: &[u8], op: u32, name: &[u8], value: &[u8], flags: u32) -> Handled {
        // cp -a and friends take EOPNOTSUPP as "not kept here".
        let read_fcaps = op == XATTR_GET && name == FCAPS;
        if op != XATTR_LIST && !served_xattr(name) && !read_fcaps {
            return Err(libc::EOPNOTSUPP);
        }
        let acl = name == sys::ACL_ACCESS.to_bytes() || name == sys::ACL_DEFAULT.to_bytes();
        if acl && op != XATTR_LIST {
            match self.acl_at(path, op, name, value, flags) {
                Err(libc::ENOSYS) => {}
                r => return r,
            }
        }
        let comps = components(path)?;
        let at = self.open_comps(&comps, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        let st = sys::fstat(at.as_fd())?;
        let kind = st.st_mode & libc::S_IFMT;
        if kind != libc::S_IFREG && kind != libc::S_IFDIR {
            return match op {
                XATTR_LIST => Ok((Reply::Bytes(Vec::new()), None)),
                XATTR_GET => Err(libc::ENODATA),
                // Not kept here, rather than refused (cp -a then chmods).
                _ if acl => Err(libc::EOPNOTSUPP),
                _ => Err(libc::EPERM),
            };
        }
        // The attribute calls need an fd that is open: the same file
        // again, checked to be the one looked at.
        let open = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
        let fd = self.open_comps(&comps, open, 0)?;
        let again = sys::fstat(fd.as_fd())?;
        if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) {
            return Err(libc::EAGAIN);
        }
        let name = cstring(name)?;
        match op {
            XATTR_GET => Ok((Reply::Bytes(sys::fgetxattr(fd.as_fd(), &name)?), None)),
            XATTR_SET => {
                let flags = i32::try_from(flags).map_err(|_| libc::EINVAL)?;
                sys::fsetxattr(fd.as_fd(), &name, value, flags)?;
                ok()
            }
            XATTR_REMOVE => {
                sys::fremovexattr(fd.as_fd(), &name)?;
                ok()
            }
            XATTR_LIST => {
                let all = sys::flistxattr(fd.as_fd())?;
                let user: Vec<u8> = all
                    .split_inclusive(|&b| b == 0)
                    .filter(|n| {
                        let n = n.strip_suffix(b"\0").unwrap_or(n);
                        served_xattr(n) || n == FCAPS
                    })
                    .flatten()
                    .copied()
                    .collect();
                Ok((Reply::Bytes(user), None))
            }
            _ => Err(libc::EINVAL),
        }
    }

    /// A POSIX ACL of `path` by its name in its directory: nothing is
    /// opened, so a FIFO, socket or device has its ACLs as on Linux.
    /// ENOSYS before Linux 6.13.
    fn acl_at(&self, path: &[u8], op: u32, name: &[u8], value: &[u8], flags: u32) -> Handled {
        let t = self.target(path)?;
        let file = t.name.as_deref().unwrap_or(c".");
        let attr = cstring(name)?;
        match op {
            XATTR_GET => match sys::getxattrat(t.parent.fd(), file, &attr)? {
                Some(v) => Ok((Reply::Bytes(v), None)),
                None => Err(libc::ENODATA),
            },
            XATTR_SET => {
                sys::setxattrat(t.parent.fd(), file, &attr, value, flags)?;
                ok()
            }
            XATTR_REMOVE => {
                sys::removexattrat(t.parent.fd(), file, &attr)?;
                ok()
            }
            _ => Err(libc::EINVAL),
        }
    }

    /// `O_PATH|O_NOFOLLOW` fd of `path` itself (a final symlink is not
    /// followed: the fd refers to the link).
    fn open_path(&self, path: &[u8]) -> Result<OwnedFd, i32> {
        let comps = components(path)?;
        self.open_comps(&comps, libc::O_PATH | libc::O_NOFOLLOW, 0)
    }

    fn open_comps(&self, comps: &[&[u8]], flags: i32, mode: u32) -> Result<OwnedFd, i32> {
        let rel = rel_path(comps)?;
        sys::openat2(
            self.root.as_fd(),
            &rel,
            u64::from(flags as u32),
            u64::from(mode),
        )
    }

    /// Parent directory fd and final name of `path`.
    fn target(&self, path: &[u8]) -> Result<Target<'_>, i32> {
        let comps = components(path)?;
        let Some((last, dir)) = comps.split_last() else {
            return Ok(Target {
                parent: Dir::Root(self.root.as_fd()),
                name: None,
            });
        };
        let parent = if dir.is_empty() {
            Dir::Root(self.root.as_fd())
        } else {
            Dir::Owned(self.open_comps(dir, libc::O_PATH | libc::O_DIRECTORY, 0)?)
        };
        // `components` never yields "", "." or ".." and refuses NUL; a '/'
        // cannot occur in a component by construction.
        Ok(Target {
            parent,
            name: Some(cstring(last)?),
        })
    }

    fn walk(&self, path: &[u8], skip: u32) -> Handled {
        let comps = components(path)?;
        let skip = skip as usize;
        let mut walk = WalkReply::default();
        let mut truncated = false;
        // Records the stat of prefix `index` (`name` in `dir`); false once
        // the reply is full.
        let record = |index: usize,
                      dir: BorrowedFd<'_>,
                      name: &CStr,
                      st: &libc::stat,
                      walk: &mut WalkReply|
         -> bool {
            if index < skip {
                return true;
            }
            if walk.stats.len() >= MAX_WALK_STATS {
                return false;
            }
            walk.stats.push(FileStat::from_libc(st));
            walk.acls.push(acl_flags(dir, name, st));
            true
        };
        let root_st = sys::fstat(self.root.as_fd())?;
        record(0, self.root.as_fd(), c".", &root_st, &mut walk);
        let mut cur = Dir::Root(self.root.as_fd());
        for (i, comp) in comps.iter().enumerate() {
            let name = cstring(comp)?;
            let fd =
                match sys::openat2(cur.fd(), &name, (libc::O_PATH | libc::O_NOFOLLOW) as u64, 0) {
                    Ok(fd) => fd,
                    Err(e) => {
                        walk.error = Some(e);
                        break;
                    }
                };
            let st = match sys::fstat(fd.as_fd()) {
                Ok(st) => st,
                Err(e) => {
                    walk.error = Some(e);
                    break;
                }
            };
            if !record(i + 1, cur.fd(), &name, &st, &mut walk) {
                truncated = true;
                break;
            }
            if is_type(&st, libc::S_IFLNK) {
                if i + 1 >= skip {
                    match sys::readlinkat(fd.as_fd(), c"") {
                        Ok(t) => walk.symlink_target = Some(t),
                        Err(e) => {
                            // The link is there but unreadable: report it as
                            // the failure to reach the next component.
                            walk.stats.pop();
                            walk.acls.pop();
                            walk.error = Some(e);
                        }
                    }
                }
                break;
            }
            if i + 1 == comps.len() {
                break;
            }
            if !is_type(&st, libc::S_IFDIR) {
                walk.error = Some(libc::ENOTDIR);
                break;
            }
            cur = Dir::Owned(fd);
        }
        Ok((Reply::Walk { walk, truncated }, None))
    }

    fn open(&self, path: &[u8], flags: i32, mode: u32) -> Handled {
        let comps = components(path)?;
        let acc = flags & libc::O_ACCMODE;
        let writes = acc == libc::O_WRONLY
            || acc == libc::O_RDWR
            || flags & (libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND) != 0
            || flags & libc::O_TMPFILE == libc::O_TMPFILE;
        if self.read_only && writes {
            return Err(libc::EROFS);
        }
        let o_path = flags & libc::O_PATH != 0;
        let creates = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
        let mode = if creates { mode & 0o7777 } else { 0 };
        // open(2) ignores unknown flags where openat2 refuses them.
        let mut host_flags = (flags & VALID_OPEN_FLAGS) | libc::O_NOFOLLOW;
        if !o_path {
            // Never block the gofer on a FIFO or device open.
            host_flags |= libc::O_NONBLOCK;
        }
        let fd = self.open_comps(&comps, host_flags, mode)?;
        let st = sys::fstat(fd.as_fd())?;
        if !o_path {
            if is_type(&st, libc::S_IFCHR) || is_type(&st, libc::S_IFBLK) {
                return Err(libc::EACCES);
            }
            if flags & libc::O_NONBLOCK == 0 {
                let fl = sys::get_fl(fd.as_fd())?;
                sys::set_fl(fd.as_fd(), fl & !libc::O_NONBLOCK)?;
            }
        }
        Ok((Reply::Empty, Some(fd)))
    }

    fn readdir(&self, path: &[u8], cookie: u64) -> Handled {
        let comps = components(path)?;
        let fd = self.open_comps(
            &comps,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )?;
        if cookie != 0 {
            sys::lseek_set(fd.as_fd(), cookie)?;
        }
        let mut entries = Vec::new();
        let mut used = 0usize;
        let mut next = cookie;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = sys::getdents64(fd.as_fd(), &mut buf)?;
            if n == 0 {
                return Ok((
                    Reply::Dir {
                        entries,
                        next,
                        done: true,
                    },
                    None,
                ));
            }
            for ent in sys::parse_dirents(&buf[..n.min(buf.len())]) {
                if ent.name == b"." || ent.name == b".." {
                    next = ent.off;
                    continue;
                }
                let size = dirent_wire_size(ent.name.len());
                if used + size > READDIR_BUDGET {
                    return Ok((
                        Reply::Dir {
                            entries,
                            next,
                            done: false,
                        },
                        None,
                    ));
                }
                used += size;
                entries.push(DirEntry {
                    ino: ent.ino,
                    kind: ent.kind,
                    name: ent.name.to_vec(),
                });
                next = ent.off;
            }
        }
    }

    fn chmod(&self, path: &[u8], mode: u32) -> Handled {
        let fd = self.open_path(path)?;
        let st = sys::fstat(fd.as_fd())?;
        if is_type(&st, libc::S_IFLNK) {
            // Linux cannot change a symlink's mode.
            return Err(libc::EOPNOTSUPP);
        }
        match sys::fchmod_empty(fd.as_fd(), mode) {
            Err(libc::ENOSYS) => {
                // Kernel without fchmodat2: the name was just checked not to
                // be a symlink; a concurrent swap can at worst follow one that
                // the pivoted root of `confine` still contains.
                let t = self.target(path)?;
                match &t.name {
                    Some(name) => sys::fchmodat(t.parent.fd(), name, mode)?,
                    None => sys::fchmodat(t.parent.fd(), c".", mode)?,
                }
                ok()
            }
            r => {
                r?;
                ok()
            }
        }
    }

    fn truncate(&self, path: &[u8], len: i64) -> Handled {
        if len < 0 {
            return Err(libc::EINVAL);
        }
        let comps = components(path)?;
        // Check the type first so a FIFO or device is never opened.
        let probe = self.open_comps(&comps, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        let st = sys::fstat(probe.as_fd())?;
        if is_type(&st, libc::S_IFDIR) {
            return Err(libc::EISDIR);
        }
        if !is_type(&st, libc::S_IFREG) {
            return Err(libc::EINVAL);
        }
        let fd = self.open_comps(
            &comps,
            libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOFOLLOW,
            0,
        )?;
        if !is_type(&sys::fstat(fd.as_fd())?, libc::S_IFREG) {
            return Err(libc::EINVAL);
        }
        sys::ftruncate(fd.as_fd(), len)?;
        ok()
    }
}
