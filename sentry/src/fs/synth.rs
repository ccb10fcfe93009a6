//! Synthetic files and directories for proc and dev.

use super::file::{File, FileOps};
use crate::errno::{Errno, KResult};
use crate::fs::{DirEntry, Stat};
use std::any::Any;

/// A read-only file whose contents were generated at open.
pub struct SynthFile {
    pub data: Vec<u8>,
    pub stat: Stat,
}

/// A read of `data` (a file's whole contents) at `off`, or at the file's
/// position, which moves on.
pub fn read_in(f: &File, data: &[u8], buf: &mut [u8], off: Option<u64>) -> usize {
    let mut pos = f.pos.lock();
    let at = crate::num::usize_of(off.unwrap_or(*pos)).min(data.len());
    let n = buf.len().min(data.len() - at);
    buf[..n].copy_from_slice(&data[at..at + n]);
    if off.is_none() {
        *pos += n as u64;
    }
    n
}

impl FileOps for SynthFile {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        Ok(read_in(f, &self.data, buf, off))
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EACCES)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        seek_in(f, off, whence, self.data.len() as u64)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub fn seek_in(f: &File, off: i64, whence: i32, size: u64) -> KResult<u64> {
    let mut pos = f.pos.lock();
    let base = match whence {
        libc::SEEK_SET => 0,
        libc::SEEK_CUR => crate::num::sbits(*pos),
        libc::SEEK_END => crate::num::sbits(size),
        _ => return Err(Errno::EINVAL),
    };
    // Past the largest offset is EINVAL, as vfs_setpos says.
    let new = base.checked_add(off).ok_or(Errno::EINVAL)?;
    if new < 0 {
        return Err(Errno::EINVAL);
    }
    *pos = crate::num::bits(new);
    Ok(crate::num::bits(new))
}

/// A directory whose entries were listed at open.
pub struct SynthDir {
    pub entries: Vec<DirEntry>,
    pub stat: Stat,
}

impl FileOps for SynthDir {
    fn read(&self, _f: &File, _buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EISDIR)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        Ok(self.entries.clone())
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        if whence != libc::SEEK_SET || off < 0 {
            return Err(Errno::EINVAL);
        }
        let mut dp = f.dir_pos.lock();
        dp.0 = crate::num::usize_of(crate::num::bits(off));
        Ok(crate::num::bits(off))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub fn stat_of(mode: u32, ino: u64, dev: u64, size: i64) -> Stat {
    Stat {
        dev,
        ino,
        mode,
        nlink: if mode & libc::S_IFMT == libc::S_IFDIR {
            2
        } else {
            1
        },
        size,
        blksize: 4096,
        ..Default::default()
    }
}

/// The stat of an anonymous inode (epoll, eventfd, timerfd).
pub fn anon_stat() -> Stat {
    Stat {
        mode: 0o600,
        nlink: 1,
        blksize: 4096,
        ..Default::default()
    }
}
