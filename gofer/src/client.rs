//! The sentry's side of the gofer protocol.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};

use crate::proto::{
    components, decode_reply, DirEntry, FileStat, Reply, Request, StatFs, WalkReply, MAX_MSG,
};
use crate::sys;
use crate::GoferError;

/// Upper bound on readdir continuation requests for one directory, so a
/// misbehaving file system cannot keep the client looping forever.
const MAX_READDIR_ROUNDS: usize = 1 << 20;

/// A connection to a gofer. `Send + Sync`: requests from many threads are
/// serialized, one round trip at a time.
pub struct Client {
    inner: Mutex<Inner>,
}

struct Inner {
    sock: OwnedFd,
    /// request encoding buffer
    out: Vec<u8>,
    /// reply receive buffer
    buf: Vec<u8>,
}

fn check_path(path: &[u8]) -> Result<(), GoferError> {
    components(path).map(|_| ()).map_err(GoferError::Errno)
}

impl Client {
    /// Wraps the sentry's end of a `SOCK_SEQPACKET` socket connected to a
    /// gofer running [`crate::serve`].
    pub fn new(sock: OwnedFd) -> Client {
        Client {
            inner: Mutex::new(Inner {
                sock,
                out: Vec::with_capacity(1024),
                buf: vec![0u8; MAX_MSG],
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the socket mid-message
        // in a way that matters more than the panic itself.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One round trip: the decoded reply and the fd attached to it, if any.
    fn call(&self, req: &Request<'_>) -> Result<(Reply, Option<OwnedFd>), GoferError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.out.clear();
        req.encode(&mut inner.out);
        if inner.out.len() > MAX_MSG {
            return Err(GoferError::Errno(libc::ENAMETOOLONG));
        }
        sys::send_msg(inner.sock.as_fd(), &inner.out, None).map_err(GoferError::Transport)?;
        let msg =
            sys::recv_msg(inner.sock.as_fd(), &mut inner.buf).map_err(GoferError::Transport)?;
        // At most one fd is meaningful; any others are closed here.
        let fd = msg.fds.into_iter().next();
        if msg.len == 0 {
            return Err(GoferError::Transport(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "gofer closed the connection",
            )));
        }
        if msg.truncated {
            return Err(GoferError::Protocol("oversized reply"));
        }
        match decode_reply(&inner.buf[..msg.len])? {
            Ok(reply) => Ok((reply, fd)),
            Err(errno) => Err(GoferError::Errno(errno)),
        }
    }

    /// A round trip whose successful reply carries nothing.
    fn call_empty(&self, req: &Request<'_>) -> Result<(), GoferError> {
        match self.call(req)?.0 {
            Reply::Empty => Ok(()),
            _ => Err(GoferError::Protocol("unexpected reply kind")),
        }
    }

    /// Walks `path` (absolute, e.g. b"/usr/lib/x") component by component
    /// from the root, lstat-ing each prefix, in ONE round trip (paths of more
    /// than 400 components take more). An intermediate non-directory gives
    /// error ENOTDIR. Path "/" gives stats=[stat of root] (one entry for the
    /// root itself, then one per component: so stats.len() == components+1
    /// on full success).
    pub fn walk(&self, path: &[u8]) -> Result<WalkReply, GoferError> {
        check_path(path)?;
        let mut result = WalkReply::default();
        loop {
            let skip = u32::try_from(result.stats.len())
                .map_err(|_| GoferError::Protocol("walk too long"))?;
            let (walk, truncated) = match self.call(&Request::Walk { path, skip })?.0 {
                Reply::Walk { walk, truncated } => (walk, truncated),
                _ => return Err(GoferError::Protocol("unexpected reply kind")),
            };
            let progressed = !walk.stats.is_empty();
            result.stats.extend(walk.stats);
            result.acls.extend(walk.acls);
            result.symlink_target = walk.symlink_target;
            result.error = walk.error;
            if !truncated {
                return Ok(result);
            }
            if !progressed || result.stats.len() > path.len() + 1 {
                return Err(GoferError::Protocol("walk made no progress"));
            }
        }
    }

    /// The container root as an O_PATH directory fd, when the gofer is
    /// confined so that no path beneath it can leave the root (and, when
    /// serving read-only, the mounts are read-only): EPERM otherwise.
    pub fn root_fd(&self) -> Result<OwnedFd, GoferError> {
        match self.call(&Request::RootFd)? {
            (Reply::Empty, Some(fd)) => Ok(fd),
            (Reply::Empty, None) => Err(GoferError::Protocol("root reply without fd")),
            _ => Err(GoferError::Protocol("unexpected reply kind")),
        }
    }

    /// lstat of `path` (a final symlink is not followed).
    pub fn lstat(&self, path: &[u8]) -> Result<FileStat, GoferError> {
        check_path(path)?;
        match self.call(&Request::Lstat { path })?.0 {
            Reply::Stat(st) => Ok(st),
            _ => Err(GoferError::Protocol("unexpected reply kind")),
        }
    }

    /// flags are Linux open(2) flags; O_NOFOLLOW and O_CLOEXEC are always
    /// added by the server. Returns the donated host fd.
    ///
    /// The gofer never blocks in an open: a FIFO opened write-only without a
    /// reader fails with `ENXIO`. Device nodes are refused with `EACCES`.
    pub fn open(&self, path: &[u8], flags: i32, mode: u32) -> Result<OwnedFd, GoferError> {
        check_path(path)?;
        match self.call(&Request::Open { path, flags, mode })? {
            (Reply::Empty, Some(fd)) => Ok(fd),
            (Reply::Empty, None) => Err(GoferError::Protocol("open reply without fd")),
            _ => Err(GoferError::Protocol("unexpected reply kind")),
        }
    }

    /// Target of the symlink `path` (`EINVAL` if it is not one).
    pub fn readlink(&self, path: &[u8]) -> Result<Vec<u8>, GoferError> {
        check_path(path)?;
        match self.call(&Request::Readlink { path })?.0 {
            Reply::Bytes(b) => Ok(b),
            _ => Err(GoferError::Protocol("unexpected reply kind")),
        }
    }

    /// An extended attribute of `path` (user.* names only): `op` is 0 get,
    /// 1 set (`value`, `flags`), 2 list (no name) or 3 remove. Get and
    /// list answer the bytes; set and remove nothing.
    pub fn xattr(
        &self,
        path: &[u8],
        op: u32,
        name: &[u8],
        value: &[u8],
        flags: u32,
    ) -> Result<Vec<u8>, GoferError> {
        check_path(path)?;
        let req = Request::Xattr {
            path,
            op,
            name,
            value,
            flags,
        };
        match self.call(&req)?.0 {
            Reply::Bytes(b) => Ok(b),
            Reply::Empty => Ok(Vec::new()),
            _ => Err(GoferError::Protocol("unexpected reply kind")),
        }
    }

    /// All entries of the directory `path`, excluding "." and "..". Large
    /// directories take several round trips.
    pub fn readdir(&self, path: &[u8]) -> Result<Vec<DirEntry>, GoferError> {
        check_path(path)?;
        let mut all = Vec::new();
        let mut cookie = 0u64;
        for _ in 0..MAX_READDIR_ROUNDS {
            match self.call(&Request::Readdir { path, cookie })?.0 {
                Reply::Dir {
                    entries,
                    next,
                    done,
                } => {
                    all.extend(entries);
                    if done {
                        return Ok(all);
                    }
                    if next == cookie {
                        return Err(GoferError::Protocol("readdir made no progress"));
                    }
                    cookie = next;
                }
                _ => return Err(GoferError::Protocol("unexpected reply kind")),
            }
        }
        Err(GoferError::Protocol("readdir does not end"))
    }

    pub fn mkdir(&self, path: &[u8], mode: u32) -> Result<(), GoferError> {
        check_path(path)?;
        self.call_empty(&Request::Mkdir { path, mode })
    }

    /// Creates a regular file, FIFO or socket (or an overlay whiteout, char
    /// 0:0); other device nodes are refused with `EPERM`.
    pub fn mknod(&self, path: &[u8], mode: u32, dev: u64) -> Result<(), GoferError> {
        check_path(path)?;
        self.call_empty(&Request::Mknod { path, mode, dev })
    }

    /// unlink(2), or rmdir(2) when `remove_dir`.
    pub fn unlink(&self, path: &[u8], remove_dir: bool) -> Result<(), GoferError> {
        check_path(path)?;
        self.call_empty(&Request::Unlink { path, remove_dir })
    }

    /// renameat2(2) with `flags` (RENAME_NOREPLACE, RENAME_EXCHANGE, ...).
    pub fn rename(&self, old: &[u8], new: &[u8], flags: u32) -> Result<(), GoferError> {
        check_path(old)?;
        check_path(new)?;
        self.call_empty(&Request::Rename { old, new, flags })
    }

    /// Hard link; a final symlink of `old` is linked, not followed.
    pub fn link(&self, old: &[u8], new: &[u8]) -> Result<(), GoferError> {
        check_path(old)?;
        check_path(new)?;
        self.call_empty(&Request::Link { old, new })
    }

    /// Creates `linkpath` pointing at `target` (stored as given, never
    /// resolved by the gofer).
    pub fn symlink(&self, target: &[u8], linkpath: &[u8]) -> Result<(), GoferError> {
        check_path(linkpath)?;
        if target.len() > crate::proto::MAX_PATH || target.contains(&0) {
            return Err(GoferError::Errno(if target.contains(&0) {
                libc::EINVAL
            } else {
                libc::ENAMETOOLONG
            }));
        }
        self.call_empty(&Request::Symlink { target, linkpath })
    }

    /// Never follows a final symlink (whose mode cannot change:
    /// `EOPNOTSUPP`).
    pub fn chmod(&self, path: &[u8], mode: u32) -> Result<(), GoferError> {
        check_path(path)?;
        self.call_empty(&Request::Chmod { path, mode })
    }

    /// u32::MAX = unchanged, never follows final symlink
    pub fn chown(&self, path: &[u8], uid: u32, gid: u32) -> Result<(), GoferError> {
        check_path(path)?;
        self.call_empty(&Request::Chown { path, uid, gid })
    }

    /// `times` are (atime, mtime) as (sec, nsec); nsec may be UTIME_NOW /
    /// UTIME_OMIT. Never follows a final symlink.
    pub fn utimens(&self, path: &[u8], times: [(i64, i64); 2]) -> Result<(), GoferError> {
        check_path(path)?;
        self.call_empty(&Request::Utimens { path, times })
    }

    /// truncate(2) of a regular file (`EISDIR`/`EINVAL` otherwise).
    pub fn truncate(&self, path: &[u8], len: i64) -> Result<(), GoferError> {
        check_path(path)?;
        self.call_empty(&Request::Truncate { path, len })
    }

    /// statfs(2) of the file system holding `path`.
    pub fn statfs(&self, path: &[u8]) -> Result<StatFs, GoferError> {
        check_path(path)?;
        match self.call(&Request::Statfs { path })?.0 {
            Reply::StatFs(s) => Ok(s),
            _ => Err(GoferError::Protocol("unexpected reply kind")),
        }
    }

    /// Measures nothing itself; a no-op round trip used to benchmark the transport.
    pub fn ping(&self) -> Result<(), GoferError> {
        self.call_empty(&Request::Ping)
    }
}
