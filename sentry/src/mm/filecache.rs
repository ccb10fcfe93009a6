//! Contents of files that are mapped, kept in the memory file so that
//! read-only file mappings (program text, locale data) share one copy
//! instead of being read again by every exec. Entries are keyed by the
//! file's identity and modification time, so a changed file gets a new
//! entry; least recently used entries beyond the budget are dropped (the
//! memory stays alive while mappings use it).

use super::SharedMem;
use crate::errno::{Errno, KResult};
use crate::fs::file::File;
use crate::memfile::{page_up, MemFile};
use gofer::FileStat;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// Files larger than this are mapped by copying, not cached.
const MAX_FILE: u64 = 64 << 20;
/// Total size of cached contents.
const BUDGET: u64 = 512 << 20;

#[derive(Clone, Copy, Hash, PartialEq, Eq)]
struct Key {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, (Arc<SharedMem>, u64)>,
    total: u64,
    tick: u64,
}

#[derive(Default)]
pub struct FileCache {
    inner: Mutex<Inner>,
}

impl FileCache {
    /// The cached contents of `f` (whole file, page-rounded), loading them
    /// on first use. None when the file is not cacheable.
    pub fn get(
        &self,
        memfile: &Arc<MemFile>,
        f: &File,
        st: &FileStat,
    ) -> KResult<Option<Arc<SharedMem>>> {
        if st.mode & libc::S_IFMT != libc::S_IFREG || st.size <= 0 || st.size as u64 > MAX_FILE {
            return Ok(None);
        }
        let key = Key {
            dev: st.dev,
            ino: st.ino,
            size: st.size,
            mtime: st.mtime,
            ctime: st.ctime,
        };
        {
            let mut i = self.inner.lock();
            i.tick += 1;
            let tick = i.tick;
            if let Some((m, t)) = i.map.get_mut(&key) {
                *t = tick;
                return Ok(Some(m.clone()));
            }
        }
        let size = st.size as u64;
        let mem = SharedMem::new(memfile, page_up(size))?;
        let n = match f.host_fd() {
            Some(fd) => memfile
                .fill_from_fd(fd, 0, mem.off, size)
                .map_err(|e| Errno::from_io(&e))?,
            None => {
                // SAFETY: the fresh range belongs to `mem`; nothing else sees it yet.
                let dst = unsafe { mem.memfile_slice(mem.off, size as usize) };
                let iov = [libc::iovec {
                    iov_base: dst.as_mut_ptr().cast(),
                    iov_len: dst.len(),
                }];
                crate::loader::elf::ReadAt::read_into(f, &iov, 0)? as u64
            }
        };
        if n < size {
            return Err(Errno::EIO);
        }
        let mut i = self.inner.lock();
        i.total += mem.len;
        let tick = i.tick;
        i.map.insert(key, (mem.clone(), tick));
        while i.total > BUDGET {
            let Some((&k, _)) = i.map.iter().min_by_key(|(_, (_, t))| *t) else {
                break;
            };
            if let Some((m, _)) = i.map.remove(&k) {
                i.total -= m.len;
            }
        }
        Ok(Some(mem))
    }
}
