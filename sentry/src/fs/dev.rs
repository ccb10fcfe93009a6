//! /dev: the character devices every program expects, implemented in the
//! sentry.

use super::file::{File, FileOps};
use super::synth::{stat_of, SynthDir};
use super::vfs::{Caller, Filesystem};
use crate::errno::{Errno, KResult};
use gofer::{DirEntry, FileStat};
use std::any::Any;

const DEV: u64 = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
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
];

pub struct DevFs;

impl DevFs {
    pub fn new() -> DevFs {
        DevFs
    }
}

impl Default for DevFs {
    fn default() -> Self {
        DevFs::new()
    }
}

fn node(rel: &[u8]) -> Option<(usize, &'static Node)> {
    NODES.iter().enumerate().find(|(_, n)| n.name == rel)
}

fn node_stat(i: usize, n: &Node) -> FileStat {
    let ino = 100 + i as u64;
    if n.dir {
        stat_of(libc::S_IFDIR | 0o755, ino, DEV, 0)
    } else if let Some(l) = n.link {
        stat_of(libc::S_IFLNK | 0o777, ino, DEV, l.len() as i64)
    } else {
        FileStat {
            rdev: n.rdev,
            ..stat_of(libc::S_IFCHR | 0o666, ino, DEV, 0)
        }
    }
}

impl Filesystem for DevFs {
    fn fstype(&self) -> &'static str {
        "tmpfs"
    }

    fn lookup(&self, _c: &Caller, rel: &[u8]) -> KResult<FileStat> {
        if rel.is_empty() {
            return Ok(stat_of(libc::S_IFDIR | 0o755, 2, DEV, 0));
        }
        node(rel).map(|(i, n)| node_stat(i, n)).ok_or(Errno::ENOENT)
    }

    fn readlink(&self, _c: &Caller, rel: &[u8]) -> KResult<Vec<u8>> {
        node(rel)
            .and_then(|(_, n)| n.link)
            .map(|l| l.to_vec())
            .ok_or(Errno::EINVAL)
    }

    fn open(&self, _c: &Caller, rel: &[u8], _flags: i32, _mode: u32) -> KResult<Box<dyn FileOps>> {
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
        Ok(Box::new(CharDev {
            kind,
            stat: node_stat(i, n),
        }))
    }
}

struct CharDev {
    kind: Kind,
    stat: FileStat,
}

impl FileOps for CharDev {
    fn read(&self, _f: &File, buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        match self.kind {
            Kind::Null => Ok(0),
            Kind::Zero | Kind::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            Kind::Random | Kind::Urandom => {
                // SAFETY: filling our own buffer.
                let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
                if n < 0 {
                    Err(Errno::last())
                } else {
                    Ok(n as usize)
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
    fn stat(&self) -> KResult<FileStat> {
        Ok(self.stat)
    }
    fn seek(&self, _f: &File, _off: i64, _whence: i32) -> KResult<u64> {
        Ok(0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
