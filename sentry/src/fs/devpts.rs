//! devpts: a directory of the ptys of one `PtyTable`, with `ptmx` to
//! make a new one. The sandbox's /dev/pts is one instance; every
//! `mount -t devpts` makes another, whose ptys and numbers are its own
//! (Linux's behaviour since 4.7).

use super::file::FileOps;
use super::pty::PtyTable;
use super::synth::{stat_of, SynthDir};
use super::vfs::{Caller, Filesystem};
use crate::errno::{Errno, KResult};
use crate::fs::{DirEntry, Stat};
use std::sync::Arc;

/// devpts' magic number (statfs).
const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

pub struct DevPtsFs {
    pub ptys: Arc<PtyTable>,
}

/// What a name in the directory is: "ptmx", or pty `n` (u32::MAX for a
/// name no pty can have).
enum Name {
    Ptmx,
    Pty(u32),
}

fn name(rel: &[u8]) -> Name {
    if rel == b"ptmx" {
        return Name::Ptmx;
    }
    let canonical = !rel.is_empty()
        && rel.len() <= 9
        && rel.iter().all(u8::is_ascii_digit)
        && !(rel[0] == b'0' && rel.len() > 1);
    let n = canonical
        .then(|| std::str::from_utf8(rel).ok()?.parse().ok())
        .flatten();
    Name::Pty(n.unwrap_or(u32::MAX))
}

impl DevPtsFs {
    pub fn new(ptys: Arc<PtyTable>) -> DevPtsFs {
        DevPtsFs { ptys }
    }

    fn dir_stat(&self) -> Stat {
        stat_of(libc::S_IFDIR | 0o755, 1, self.ptys.opts.dev, 0)
    }

    fn ptmx_stat(&self) -> Stat {
        Stat {
            rdev: (5 << 8) | 2,
            ..stat_of(
                libc::S_IFCHR | self.ptys.opts.ptmx_mode,
                2,
                self.ptys.opts.dev,
                0,
            )
        }
    }

    /// A new pty of this instance, for the caller.
    pub fn open_ptmx(&self, c: &Caller) -> KResult<Box<dyn FileOps>> {
        open_master(&self.ptys, c)
    }
}

/// A new pty in `ptys` whose slave the caller owns.
pub fn open_master(ptys: &PtyTable, c: &Caller) -> KResult<Box<dyn FileOps>> {
    let cr = c.creds().ok_or(Errno::NEEDLOCK)?;
    Ok(Box::new(ptys.open_master((cr.fsuid, cr.fsgid))?))
}

impl Filesystem for DevPtsFs {
    fn own_devices(&self) -> bool {
        true
    }

    fn fstype(&self) -> &'static str {
        "devpts"
    }

    fn lookup(&self, _c: &Caller, rel: &[u8]) -> KResult<Stat> {
        if rel.is_empty() {
            return Ok(self.dir_stat());
        }
        match name(rel) {
            Name::Ptmx => Ok(self.ptmx_stat()),
            Name::Pty(i) => self.ptys.stat(i).ok_or(Errno::ENOENT),
        }
    }

    fn open(&self, c: &Caller, rel: &[u8], _flags: i32, _mode: u32) -> KResult<Box<dyn FileOps>> {
        if rel.is_empty() {
            let mut entries = vec![DirEntry {
                ino: 2,
                kind: libc::DT_CHR,
                name: b"ptmx".to_vec(),
            }];
            entries.extend(self.ptys.indexes().into_iter().map(|i| DirEntry {
                ino: u64::from(i) + 3,
                kind: libc::DT_CHR,
                name: i.to_string().into_bytes(),
            }));
            return Ok(Box::new(SynthDir {
                entries,
                stat: self.dir_stat(),
            }));
        }
        match name(rel) {
            Name::Ptmx => self.open_ptmx(c),
            Name::Pty(i) => {
                let pty = self.ptys.get(i).ok_or(Errno::ENOENT)?;
                Ok(Box::new(pty.open_slave()?))
            }
        }
    }

    fn ptys(&self) -> Option<Arc<PtyTable>> {
        Some(self.ptys.clone())
    }

    fn statfs(&self) -> KResult<crate::fs::StatFs> {
        Ok(crate::fs::StatFs {
            f_type: DEVPTS_SUPER_MAGIC,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_canonical_numbers() {
        assert!(matches!(name(b"ptmx"), Name::Ptmx));
        assert!(matches!(name(b"0"), Name::Pty(0)));
        assert!(matches!(name(b"17"), Name::Pty(17)));
        assert!(matches!(name(b"017"), Name::Pty(u32::MAX)));
        assert!(matches!(name(b"x"), Name::Pty(u32::MAX)));
        assert!(matches!(name(b"99999999999"), Name::Pty(u32::MAX)));
    }

    #[test]
    fn options_parse_as_linux_takes_them() {
        use super::super::pty::PtsOpts;
        let o = PtsOpts::parse(b"newinstance,ptmxmode=0666,mode=620,gid=5", 9).unwrap();
        assert_eq!(
            (o.dev, o.mode, o.gid, o.ptmx_mode),
            (9, 0o620, Some(5), 0o666)
        );
        let d = PtsOpts::parse(b"", 9).unwrap();
        assert_eq!((d.mode, d.gid, d.ptmx_mode), (0o600, None, 0));
        assert_eq!(PtsOpts::parse(b"mode=9", 9), Err(Errno::EINVAL));
        assert_eq!(PtsOpts::parse(b"size=10", 9), Err(Errno::EINVAL));
        assert_eq!(PtsOpts::parse(b"gid=x", 9), Err(Errno::EINVAL));
    }
}
