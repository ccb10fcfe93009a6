//! /dev: the character devices every program expects, implemented in the
//! sentry.

use super::devpts::DevPtsFs;
use super::file::{File, FileOps};
use super::pty::PtyTable;
use super::synth::{stat_of, SynthDir};
use super::vfs::{Caller, Filesystem};
use crate::errno::{Errno, KResult};
use crate::fs::{DirEntry, Stat};
use std::any::Any;
use std::sync::Arc;

const DEV: u64 = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
    Ptmx,
    Tty,
    Console,
}

struct Node {
    name: &'static [u8],
    kind: Option<Kind>,
    link: Option<&'static [u8]>,
    dir: bool,
    rdev: u64,
}

const NODES: &[Node] = &[
    Node {
        name: b"null",
        kind: Some(Kind::Null),
        link: None,
        dir: false,
        rdev: (1 << 8) | 3,
    },
    Node {
        name: b"zero",
        kind: Some(Kind::Zero),
        link: None,
        dir: false,
        rdev: (1 << 8) | 5,
    },
    Node {
        name: b"full",
        kind: Some(Kind::Full),
        link: None,
        dir: false,
        rdev: (1 << 8) | 7,
    },
    Node {
        name: b"random",
        kind: Some(Kind::Random),
        link: None,
        dir: false,
        rdev: (1 << 8) | 8,
    },
    Node {
        name: b"urandom",
        kind: Some(Kind::Urandom),
        link: None,
        dir: false,
        rdev: (1 << 8) | 9,
    },
    Node {
        name: b"ptmx",
        kind: Some(Kind::Ptmx),
        link: None,
        dir: false,
        rdev: (5 << 8) | 2,
    },
    Node {
        name: b"tty",
        kind: Some(Kind::Tty),
        link: None,
        dir: false,
        rdev: (5 << 8),
    },
    Node {
        name: b"console",
        kind: Some(Kind::Console),
        link: None,
        dir: false,
        rdev: (5 << 8) | 1,
    },
    Node {
        name: b"fd",
        kind: None,
        link: Some(b"/proc/self/fd"),
        dir: false,
        rdev: 0,
    },
    Node {
        name: b"stdin",
        kind: None,
        link: Some(b"/proc/self/fd/0"),
        dir: false,
        rdev: 0,
    },
    Node {
        name: b"stdout",
        kind: None,
        link: Some(b"/proc/self/fd/1"),
        dir: false,
        rdev: 0,
    },
    Node {
        name: b"stderr",
        kind: None,
        link: Some(b"/proc/self/fd/2"),
        dir: false,
        rdev: 0,
    },
    Node {
        name: b"pts",
        kind: None,
        link: None,
        dir: true,
        rdev: 0,
    },
    Node {
        name: b"shm",
        kind: None,
        link: None,
        dir: true,
        rdev: 0,
    },
    Node {
        name: b"mqueue",
        kind: None,
        link: None,
        dir: true,
        rdev: 0,
    },
];

pub struct DevFs {
    /// Its /dev/pts (until another devpts is mounted over it).
    pts: DevPtsFs,
}

impl DevFs {
    pub fn new() -> DevFs {
        DevFs::with_ptys(Arc::new(PtyTable::default()))
    }

    /// A /dev whose /dev/pts shows `ptys`.
    pub fn with_ptys(ptys: Arc<PtyTable>) -> DevFs {
        DevFs {
            pts: DevPtsFs::new(ptys),
        }
    }
}

/// `rel` inside /dev/pts ("" for the directory itself), if it is there.
fn in_pts(rel: &[u8]) -> Option<&[u8]> {
    if rel == b"pts" {
        return Some(b"");
    }
    rel.strip_prefix(b"pts/")
}

impl Default for DevFs {
    fn default() -> Self {
        DevFs::new()
    }
}

fn node(rel: &[u8]) -> Option<(usize, &'static Node)> {
    NODES.iter().enumerate().find(|(_, n)| n.name == rel)
}

fn node_stat(i: usize, n: &Node) -> Stat {
    let ino = 100 + i as u64;
    if n.dir {
        stat_of(libc::S_IFDIR | 0o755, ino, DEV, 0)
    } else if let Some(l) = n.link {
        stat_of(
            libc::S_IFLNK | 0o777,
            ino,
            DEV,
            crate::num::len_i64(l.len()),
        )
    } else {
        Stat {
            rdev: n.rdev,
            ..stat_of(libc::S_IFCHR | 0o666, ino, DEV, 0)
        }
    }
}

/// A device node elsewhere (made by mknod on tmpfs, or in a root that
/// has its own /dev): the device of its number that needs no place
/// (null, zero, full, random, urandom, the controlling terminal); any
/// other number is ENXIO, as a device without a driver is.
pub fn open_number(c: &Caller, stat: Stat) -> KResult<Box<dyn FileOps>> {
    if stat.mode & libc::S_IFMT != libc::S_IFCHR {
        return Err(Errno::ENXIO);
    }
    let kind = NODES
        .iter()
        .find(|n| n.rdev == stat.rdev && n.kind.is_some())
        .and_then(|n| n.kind)
        .ok_or(Errno::ENXIO)?;
    match kind {
        Kind::Null | Kind::Zero | Kind::Full | Kind::Random | Kind::Urandom => {
            Ok(Box::new(CharDev { kind, stat }))
        }
        Kind::Tty => controlling_tty(c),
        Kind::Ptmx | Kind::Console => Err(Errno::ENXIO),
    }
}

/// /dev/tty: the caller's controlling terminal (ENXIO without one).
fn controlling_tty(c: &Caller) -> KResult<Box<dyn FileOps>> {
    let pty = c.process()?.ctty.clone().ok_or(Errno::ENXIO)?;
    Ok(Box::new(pty.open_slave()?))
}

impl Filesystem for DevFs {
    fn fstype(&self) -> &'static str {
        "tmpfs"
    }

    fn own_devices(&self) -> bool {
        true
    }

    fn lookup(&self, c: &Caller, rel: &[u8]) -> KResult<Stat> {
        if rel.is_empty() {
            return Ok(stat_of(libc::S_IFDIR | 0o755, 2, DEV, 0));
        }
        if let Some(p) = in_pts(rel) {
            return self.pts.lookup(c, p);
        }
        node(rel).map(|(i, n)| node_stat(i, n)).ok_or(Errno::ENOENT)
    }

    fn readlink(&self, _c: &Caller, rel: &[u8]) -> KResult<Vec<u8>> {
        node(rel)
            .and_then(|(_, n)| n.link)
            .map(|l| l.to_vec())
            .ok_or(Errno::EINVAL)
    }

    fn open(&self, c: &Caller, rel: &[u8], flags: i32, mode: u32) -> KResult<Box<dyn FileOps>> {
        if let Some(p) = in_pts(rel) {
            return self.pts.open(c, p, flags, mode);
        }
        if rel.is_empty() {
            let entries = NODES
                .iter()
                .enumerate()
                .map(|(i, n)| DirEntry {
                    ino: 100 + i as u64,
                    kind: if n.dir {
                        libc::DT_DIR
                    } else if n.link.is_some() {
                        libc::DT_LNK
                    } else {
                        libc::DT_CHR
                    },
                    name: n.name.to_vec(),
                })
                .collect();
            return Ok(Box::new(SynthDir {
                entries,
                stat: stat_of(libc::S_IFDIR | 0o755, 2, DEV, 0),
            }));
        }
        let (i, n) = node(rel).ok_or(Errno::ENOENT)?;
        if n.dir {
            return Ok(Box::new(SynthDir {
                entries: Vec::new(),
                stat: node_stat(i, n),
            }));
        }
        let kind = n.kind.ok_or(Errno::ENXIO)?;
        match kind {
            Kind::Ptmx => return self.open_ptmx(c),
            Kind::Tty => return controlling_tty(c),
            Kind::Console => {
                // The console pty when husk runs on a terminal; no device
                // behind it otherwise.
                let pty = self.pts.ptys.console().ok_or(Errno::ENXIO)?;
                return Ok(Box::new(pty.open_slave()?));
            }
            _ => {}
        }
        Ok(Box::new(CharDev {
            kind,
            stat: node_stat(i, n),
        }))
    }
}

impl DevFs {
    /// /dev/ptmx: a new pty of the devpts instance at /dev/pts in the
    /// caller's mount namespace, as Linux's ptmx node looks for "pts"
    /// beside it.
    fn open_ptmx(&self, c: &Caller) -> KResult<Box<dyn FileOps>> {
        let (m, rel) = c.vfs.mount_of(c, b"/dev/pts");
        let ptys = if rel.is_empty() { m.fs.ptys() } else { None };
        super::devpts::open_master(&ptys.unwrap_or_else(|| self.pts.ptys.clone()), c)
    }
}

struct CharDev {
    kind: Kind,
    stat: Stat,
}

impl FileOps for CharDev {
    fn read(&self, _f: &File, buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        match self.kind {
            Kind::Null => Ok(0),
            Kind::Zero | Kind::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            Kind::Ptmx | Kind::Tty | Kind::Console => Err(Errno::EIO),
            Kind::Random | Kind::Urandom => {
                // SAFETY: filling our own buffer.
                let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
                if n < 0 {
                    Err(Errno::last())
                } else {
                    Ok(crate::num::count(n))
                }
            }
        }
    }
    fn write(&self, _f: &File, buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        match self.kind {
            Kind::Full => Err(Errno::ENOSPC),
            _ => Ok(buf.len()),
        }
    }
    fn discards_writes(&self) -> bool {
        matches!(self.kind, Kind::Null | Kind::Zero)
    }
    // Whole iovecs, so bulk I/O on these devices makes no bounce copy.
    fn read_iov(&self, f: &File, iov: &[libc::iovec], off: Option<u64>) -> Option<KResult<usize>> {
        // Through a buffer of our own: no Rust reference is ever made to
        // application memory.
        let total = crate::mm::iov_len(iov);
        let mut tmp = vec![0u8; total.min(64 << 10)];
        let mut done = 0;
        while done < total {
            let want = (total - done).min(tmp.len());
            match self.read(f, &mut tmp[..want], off) {
                Ok(n) => {
                    crate::mm::scatter_at(iov, done, &tmp[..n]);
                    done += n;
                    if n < want {
                        break;
                    }
                }
                Err(e) => return Some(if done > 0 { Ok(done) } else { Err(e) }),
            }
        }
        Some(Ok(done))
    }
    fn write_iov(
        &self,
        _f: &File,
        iov: &[libc::iovec],
        _off: Option<u64>,
    ) -> Option<KResult<usize>> {
        Some(match self.kind {
            Kind::Full => Err(Errno::ENOSPC),
            _ => Ok(iov.iter().map(|v| v.iov_len).sum()),
        })
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn seek(&self, _f: &File, _off: i64, _whence: i32) -> KResult<u64> {
        Ok(0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
