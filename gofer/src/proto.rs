//! Wire format between the sentry ([`crate::Client`]) and the gofer
//! ([`crate::serve`]).
//!
//! Transport: `AF_UNIX` `SOCK_SEQPACKET`; each request is one message and is
//! answered by exactly one reply message, with at most one fd attached via
//! `SCM_RIGHTS`. Messages are at most [`MAX_MSG`] bytes.
//!
//! Encoding: little-endian integers; a byte string is a `u32` length followed
//! by the bytes; a bool is a `u8` that is 0 or 1.
//!
//! Request: `u32` opcode ([`Op`]) followed by the fields of the operation, in
//! the order of the [`Request`] variant.
//!
//! Reply: `i32` status. Nonzero is the errno of a failed operation and ends
//! the message. Zero is followed by a `u8` payload kind and the payload (see
//! [`Reply`]).
//!
//! Paths are absolute byte strings (`/` first), at most [`MAX_PATH`] bytes,
//! without NUL, and without `..` components; empty and `.` components are
//! ignored. Both sides check them ([`components`]).

use crate::GoferError;

/// Largest message, request or reply, in bytes.
pub const MAX_MSG: usize = 64 * 1024;
/// Longest path accepted, in bytes.
pub const MAX_PATH: usize = 4096;
/// At most this many stats in one walk reply; the client continues longer
/// walks with further requests (`skip`).
pub(crate) const MAX_WALK_STATS: usize = 400;
/// Readdir replies carry at most this many bytes of encoded entries.
pub(crate) const READDIR_BUDGET: usize = 60 * 1024;

/// Metadata of a file, as `lstat(2)` reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileStat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
    /// (sec, nsec)
    pub atime: (i64, i64),
    /// (sec, nsec)
    pub mtime: (i64, i64),
    /// (sec, nsec)
    pub ctime: (i64, i64),
}

impl FileStat {
    /// Converts a host `struct stat`.
    // The field types differ between architectures, so some casts are
    // no-ops on x86-64.
    #[allow(clippy::unnecessary_cast)]
    pub fn from_libc(st: &libc::stat) -> Self {
        FileStat {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            mode: st.st_mode as u32,
            nlink: st.st_nlink as u64,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            rdev: st.st_rdev as u64,
            size: st.st_size as i64,
            blksize: st.st_blksize as i64,
            blocks: st.st_blocks as i64,
            atime: (st.st_atime as i64, st.st_atime_nsec as i64),
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }

    /// The file type bits (`S_IFMT`) of `mode`.
    pub fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }
}

/// File system statistics, as `statfs(2)` reports them.
#[derive(Clone, Copy, Debug, Default)]
pub struct StatFs {
    pub f_type: i64,
    pub bsize: i64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub namelen: i64,
    pub frsize: i64,
    pub flags: i64,
}

impl StatFs {
    /// Converts a host `struct statfs64`.
    #[allow(clippy::unnecessary_cast)]
    pub fn from_libc(st: &libc::statfs64) -> Self {
        StatFs {
            f_type: st.f_type as i64,
            bsize: st.f_bsize as i64,
            blocks: st.f_blocks as u64,
            bfree: st.f_bfree as u64,
            bavail: st.f_bavail as u64,
            files: st.f_files as u64,
            ffree: st.f_ffree as u64,
            namelen: st.f_namelen as i64,
            frsize: st.f_frsize as i64,
            flags: st.f_flags as i64,
        }
    }
}

/// One directory entry (never `.` or `..`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    /// `DT_*`
    pub kind: u8,
    pub name: Vec<u8>,
}

/// Result of walking a path component by component (lstat of each prefix).
#[derive(Debug, Default)]
pub struct WalkReply {
    /// lstat of each successfully reached prefix, in order (stats[i] is the prefix ending at component i)
    pub stats: Vec<FileStat>,
    /// set when the last entry of `stats` is a symlink: its target (the walk stops there)
    pub symlink_target: Option<Vec<u8>>,
    /// set when component stats.len() could not be reached: the errno (ENOENT, ENOTDIR, EACCES...)
    pub error: Option<i32>,
    /// For each of `stats`, which POSIX ACLs the file has ([`ACL_ACCESS_SET`],
    /// [`ACL_DEFAULT_SET`]); the client asks for a value it needs.
    pub acls: Vec<u8>,
}

/// A walked file has an access ACL.
pub const ACL_ACCESS_SET: u8 = 1;
/// A walked directory has a default ACL.
pub const ACL_DEFAULT_SET: u8 = 2;

/// Splits an absolute wire path into its components, dropping empty and `.`
/// components. Refuses (with the errno to report) relative paths, NUL bytes,
/// `..` components and paths longer than [`MAX_PATH`].
pub fn components(path: &[u8]) -> Result<Vec<&[u8]>, i32> {
    if path.len() > MAX_PATH {
        return Err(libc::ENAMETOOLONG);
    }
    if path.first() != Some(&b'/') || path.contains(&0) {
        return Err(libc::EINVAL);
    }
    let mut out = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(libc::EINVAL),
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// Operation codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Op {
    Ping = 1,
    Walk = 2,
    Lstat = 3,
    Open = 4,
    Readlink = 5,
    Readdir = 6,
    Mkdir = 7,
    Mknod = 8,
    Unlink = 9,
    Rename = 10,
    Link = 11,
    Symlink = 12,
    Chmod = 13,
    Chown = 14,
    Utimens = 15,
    Truncate = 16,
    Statfs = 17,
    RootFd = 18,
    Xattr = 19,
}

impl Op {
    fn from_u32(v: u32) -> Option<Op> {
        Some(match v {
            1 => Op::Ping,
            2 => Op::Walk,
            3 => Op::Lstat,
            4 => Op::Open,
            5 => Op::Readlink,
            6 => Op::Readdir,
            7 => Op::Mkdir,
            8 => Op::Mknod,
            9 => Op::Unlink,
            10 => Op::Rename,
            11 => Op::Link,
            12 => Op::Symlink,
            13 => Op::Chmod,
            14 => Op::Chown,
            15 => Op::Utimens,
            16 => Op::Truncate,
            17 => Op::Statfs,
            18 => Op::RootFd,
            19 => Op::Xattr,
            _ => return None,
        })
    }
}

/// A request, borrowing its byte strings from the message buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Request<'a> {
    Ping,
    /// Walk `path`; the reply omits the first `skip` stats.
    Walk {
        path: &'a [u8],
        skip: u32,
    },
    Lstat {
        path: &'a [u8],
    },
    Open {
        path: &'a [u8],
        flags: i32,
        mode: u32,
    },
    Readlink {
        path: &'a [u8],
    },
    /// Read entries starting at directory offset `cookie` (0 = start).
    Readdir {
        path: &'a [u8],
        cookie: u64,
    },
    Mkdir {
        path: &'a [u8],
        mode: u32,
    },
    Mknod {
        path: &'a [u8],
        mode: u32,
        dev: u64,
    },
    Unlink {
        path: &'a [u8],
        remove_dir: bool,
    },
    Rename {
        old: &'a [u8],
        new: &'a [u8],
        flags: u32,
    },
    Link {
        old: &'a [u8],
        new: &'a [u8],
    },
    Symlink {
        target: &'a [u8],
        linkpath: &'a [u8],
    },
    Chmod {
        path: &'a [u8],
        mode: u32,
    },
    Chown {
        path: &'a [u8],
        uid: u32,
        gid: u32,
    },
    Utimens {
        path: &'a [u8],
        times: [(i64, i64); 2],
    },
    Truncate {
        path: &'a [u8],
        len: i64,
    },
    Statfs {
        path: &'a [u8],
    },
    /// The root directory as an O_PATH fd, for the sentry's direct path.
    RootFd,
    /// An extended attribute of `path` (user.* only): `op` is one of
    /// [`XATTR_GET`], [`XATTR_SET`] (with `value` and `flags`),
    /// [`XATTR_LIST`] (the name is empty) or [`XATTR_REMOVE`].
    Xattr {
        path: &'a [u8],
        op: u32,
        name: &'a [u8],
        value: &'a [u8],
        flags: u32,
    },
}

pub(crate) const XATTR_GET: u32 = 0;
pub(crate) const XATTR_SET: u32 = 1;
pub(crate) const XATTR_LIST: u32 = 2;
/// File capabilities: the one attribute outside user.* the gofer serves
/// (read only).
pub(crate) const FCAPS: &[u8] = b"security.capability";
pub(crate) const XATTR_REMOVE: u32 = 3;

impl<'a> Request<'a> {
    pub(crate) fn op(&self) -> Op {
        match self {
            Request::Ping => Op::Ping,
            Request::Walk { .. } => Op::Walk,
            Request::Lstat { .. } => Op::Lstat,
            Request::Open { .. } => Op::Open,
            Request::Readlink { .. } => Op::Readlink,
            Request::Readdir { .. } => Op::Readdir,
            Request::Mkdir { .. } => Op::Mkdir,
            Request::Mknod { .. } => Op::Mknod,
            Request::Unlink { .. } => Op::Unlink,
            Request::Rename { .. } => Op::Rename,
            Request::Link { .. } => Op::Link,
            Request::Symlink { .. } => Op::Symlink,
            Request::Chmod { .. } => Op::Chmod,
            Request::Chown { .. } => Op::Chown,
            Request::Utimens { .. } => Op::Utimens,
            Request::Truncate { .. } => Op::Truncate,
            Request::Statfs { .. } => Op::Statfs,
            Request::RootFd => Op::RootFd,
            Request::Xattr { .. } => Op::Xattr,
        }
    }

    /// Appends the encoding of `self` to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let mut e = Enc(out);
        e.u32(self.op() as u32);
        match *self {
            Request::Ping | Request::RootFd => {}
            Request::Walk { path, skip } => {
                e.bytes(path);
                e.u32(skip);
            }
            Request::Lstat { path } | Request::Readlink { path } | Request::Statfs { path } => {
                e.bytes(path)
            }
            Request::Open { path, flags, mode } => {
                e.bytes(path);
                e.i32(flags);
                e.u32(mode);
            }
            Request::Readdir { path, cookie } => {
                e.bytes(path);
                e.u64(cookie);
            }
            Request::Mkdir { path, mode } | Request::Chmod { path, mode } => {
                e.bytes(path);
                e.u32(mode);
            }
            Request::Mknod { path, mode, dev } => {
                e.bytes(path);
                e.u32(mode);
                e.u64(dev);
            }
            Request::Unlink { path, remove_dir } => {
                e.bytes(path);
                e.bool(remove_dir);
            }
            Request::Rename { old, new, flags } => {
                e.bytes(old);
                e.bytes(new);
                e.u32(flags);
            }
            Request::Link { old, new } => {
                e.bytes(old);
                e.bytes(new);
            }
            Request::Symlink { target, linkpath } => {
                e.bytes(target);
                e.bytes(linkpath);
            }
            Request::Chown { path, uid, gid } => {
                e.bytes(path);
                e.u32(uid);
                e.u32(gid);
            }
            Request::Xattr {
                path,
                op,
                name,
                value,
                flags,
            } => {
                e.bytes(path);
                e.u32(op);
                e.bytes(name);
                e.bytes(value);
                e.u32(flags);
            }
            Request::Utimens { path, times } => {
                e.bytes(path);
                for (sec, nsec) in times {
                    e.i64(sec);
                    e.i64(nsec);
                }
            }
            Request::Truncate { path, len } => {
                e.bytes(path);
                e.i64(len);
            }
        }
    }

    /// Decodes one whole request message.
    pub(crate) fn decode(buf: &'a [u8]) -> Result<Request<'a>, &'static str> {
        let mut d = Dec::new(buf);
        let op = Op::from_u32(d.u32()?).ok_or("unknown opcode")?;
        let req = match op {
            Op::Ping => Request::Ping,
            Op::Walk => Request::Walk {
                path: d.bytes()?,
                skip: d.u32()?,
            },
            Op::Lstat => Request::Lstat { path: d.bytes()? },
            Op::Open => Request::Open {
                path: d.bytes()?,
                flags: d.i32()?,
                mode: d.u32()?,
            },
            Op::Readlink => Request::Readlink { path: d.bytes()? },
            Op::Readdir => Request::Readdir {
                path: d.bytes()?,
                cookie: d.u64()?,
            },
            Op::Mkdir => Request::Mkdir {
                path: d.bytes()?,
                mode: d.u32()?,
            },
            Op::Mknod => Request::Mknod {
                path: d.bytes()?,
                mode: d.u32()?,
                dev: d.u64()?,
            },
            Op::Unlink => Request::Unlink {
                path: d.bytes()?,
                remove_dir: d.bool()?,
            },
            Op::Rename => Request::Rename {
                old: d.bytes()?,
                new: d.bytes()?,
                flags: d.u32()?,
            },
            Op::Link => Request::Link {
                old: d.bytes()?,
                new: d.bytes()?,
            },
            Op::Symlink => Request::Symlink {
                target: d.bytes()?,
                linkpath: d.bytes()?,
            },
            Op::Chmod => Request::Chmod {
                path: d.bytes()?,
                mode: d.u32()?,
            },
            Op::Chown => Request::Chown {
                path: d.bytes()?,
                uid: d.u32()?,
                gid: d.u32()?,
            },
            Op::Utimens => Request::Utimens {
                path: d.bytes()?,
                times: [(d.i64()?, d.i64()?), (d.i64()?, d.i64()?)],
            },
            Op::Truncate => Request::Truncate {
                path: d.bytes()?,
                len: d.i64()?,
            },
            Op::Statfs => Request::Statfs { path: d.bytes()? },
            Op::RootFd => Request::RootFd,
            Op::Xattr => Request::Xattr {
                path: d.bytes()?,
                op: d.u32()?,
                name: d.bytes()?,
                value: d.bytes()?,
                flags: d.u32()?,
            },
        };
        d.finish()?;
        Ok(req)
    }
}

/// Payload of a successful reply.
#[derive(Debug)]
pub(crate) enum Reply {
    /// kind 0: nothing (the fd of an open travels beside the message)
    Empty,
    /// kind 1
    Stat(FileStat),
    /// kind 2: `truncated` means more stats follow; ask again with `skip`
    Walk { walk: WalkReply, truncated: bool },
    /// kind 3: readlink target
    Bytes(Vec<u8>),
    /// kind 4: entries from the requested cookie on; `next` is the cookie
    /// after the last entry; `done` when the end of the directory was reached
    Dir {
        entries: Vec<DirEntry>,
        next: u64,
        done: bool,
    },
    /// kind 5
    StatFs(StatFs),
}

/// Appends the encoding of a reply (`Err` = errno) to `out`.
pub(crate) fn encode_reply(reply: &Result<Reply, i32>, out: &mut Vec<u8>) {
    let mut e = Enc(out);
    let reply = match reply {
        Err(errno) => {
            // A zero status would mean success: never send it for an error.
            e.i32(if *errno > 0 { *errno } else { libc::EIO });
            return;
        }
        Ok(r) => r,
    };
    e.i32(0);
    match reply {
        Reply::Empty => e.u8(0),
        Reply::Stat(st) => {
            e.u8(1);
            e.stat(st);
        }
        Reply::Walk { walk, truncated } => {
            e.u8(2);
            e.u32(walk.stats.len() as u32);
            for st in &walk.stats {
                e.stat(st);
            }
            e.bytes(&walk.acls);
            match &walk.symlink_target {
                Some(t) => {
                    e.bool(true);
                    e.bytes(t);
                }
                None => e.bool(false),
            }
            e.i32(walk.error.unwrap_or(0));
            e.bool(*truncated);
        }
        Reply::Bytes(b) => {
            e.u8(3);
            e.bytes(b);
        }
        Reply::Dir {
            entries,
            next,
            done,
        } => {
            e.u8(4);
            e.bool(*done);
            e.u64(*next);
            e.u32(entries.len() as u32);
            for ent in entries {
                e.u64(ent.ino);
                e.u8(ent.kind);
                e.bytes(&ent.name);
            }
        }
        Reply::StatFs(s) => {
            e.u8(5);
            e.i64(s.f_type);
            e.i64(s.bsize);
            e.u64(s.blocks);
            e.u64(s.bfree);
            e.u64(s.bavail);
            e.u64(s.files);
            e.u64(s.ffree);
            e.i64(s.namelen);
            e.i64(s.frsize);
            e.i64(s.flags);
        }
    }
}

/// Encoded size of one directory entry in a [`Reply::Dir`].
pub(crate) fn dirent_wire_size(name_len: usize) -> usize {
    8 + 1 + 4 + name_len
}

/// Decodes one whole reply message: `Ok(Err(errno))` for a failed operation.
pub(crate) fn decode_reply(buf: &[u8]) -> Result<Result<Reply, i32>, GoferError> {
    decode_reply_inner(buf).map_err(GoferError::Protocol)
}

fn decode_reply_inner(buf: &[u8]) -> Result<Result<Reply, i32>, &'static str> {
    let mut d = Dec::new(buf);
    let status = d.i32()?;
    if status != 0 {
        d.finish()?;
        if status < 0 {
            return Err("negative errno");
        }
        return Ok(Err(status));
    }
    let reply = match d.u8()? {
        0 => Reply::Empty,
        1 => Reply::Stat(d.stat()?),
        2 => {
            let n = d.u32()?;
            let mut stats = Vec::new();
            for _ in 0..n {
                stats.push(d.stat()?);
            }
            let acls = d.bytes()?.to_vec();
            if acls.len() != stats.len() {
                return Err("walk ACL flags do not match its stats");
            }
            let symlink_target = if d.bool()? {
                Some(d.bytes()?.to_vec())
            } else {
                None
            };
            let error = match d.i32()? {
                0 => None,
                e if e > 0 => Some(e),
                _ => return Err("negative errno in walk"),
            };
            let truncated = d.bool()?;
            Reply::Walk {
                walk: WalkReply {
                    stats,
                    symlink_target,
                    error,
                    acls,
                },
                truncated,
            }
        }
        3 => Reply::Bytes(d.bytes()?.to_vec()),
        4 => {
            let done = d.bool()?;
            let next = d.u64()?;
            let n = d.u32()?;
            let mut entries = Vec::new();
            for _ in 0..n {
                entries.push(DirEntry {
                    ino: d.u64()?,
                    kind: d.u8()?,
                    name: d.bytes()?.to_vec(),
                });
            }
            Reply::Dir {
                entries,
                next,
                done,
            }
        }
        5 => Reply::StatFs(StatFs {
            f_type: d.i64()?,
            bsize: d.i64()?,
            blocks: d.u64()?,
            bfree: d.u64()?,
            bavail: d.u64()?,
            files: d.u64()?,
            ffree: d.u64()?,
            namelen: d.i64()?,
            frsize: d.i64()?,
            flags: d.i64()?,
        }),
        _ => return Err("unknown reply kind"),
    };
    d.finish()?;
    Ok(Ok(reply))
}

/// Little-endian encoder appending to a buffer.
struct Enc<'a>(&'a mut Vec<u8>);

impl Enc<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        // Callers bound their strings far below 4 GiB; a longer one would
        // make an oversized message, which the sender refuses.
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(b);
    }
    fn stat(&mut self, st: &FileStat) {
        self.u64(st.dev);
        self.u64(st.ino);
        self.u32(st.mode);
        self.u64(st.nlink);
        self.u32(st.uid);
        self.u32(st.gid);
        self.u64(st.rdev);
        self.i64(st.size);
        self.i64(st.blksize);
        self.i64(st.blocks);
        for (sec, nsec) in [st.atime, st.mtime, st.ctime] {
            self.i64(sec);
            self.i64(nsec);
        }
    }
}

/// Little-endian decoder over a message; every read is bounds-checked.
struct Dec<'a> {
    buf: &'a [u8],
}

impl<'a> Dec<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Dec { buf }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.buf.len() < n {
            return Err("message too short");
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.array::<1>()?[0])
    }
    fn bool(&mut self) -> Result<bool, &'static str> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err("bad bool"),
        }
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, &'static str> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, &'static str> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, &'static str> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn bytes(&mut self) -> Result<&'a [u8], &'static str> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn stat(&mut self) -> Result<FileStat, &'static str> {
        Ok(FileStat {
            dev: self.u64()?,
            ino: self.u64()?,
            mode: self.u32()?,
            nlink: self.u64()?,
            uid: self.u32()?,
            gid: self.u32()?,
            rdev: self.u64()?,
            size: self.i64()?,
            blksize: self.i64()?,
            blocks: self.i64()?,
            atime: (self.i64()?, self.i64()?),
            mtime: (self.i64()?, self.i64()?),
            ctime: (self.i64()?, self.i64()?),
        })
    }
    fn finish(&self) -> Result<(), &'static str> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err("trailing bytes")
        }
    }
}
