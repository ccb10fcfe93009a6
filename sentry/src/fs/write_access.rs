//! Write access and its denial, per file object (Linux's i_writecount):
//! a file open for writing cannot be executed, and a running executable
//! cannot be opened for writing or truncated (ETXTBSY). Each side is held
//! by a guard whose drop gives it back, so nothing can leak a count.

use crate::errno::{Errno, KResult};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// Counts per file (dev, ino): positive, writers; negative, executables
/// that deny writing.
#[derive(Default)]
pub struct WriteAccess {
    counts: Mutex<HashMap<(u64, u64), i64>>,
}

/// One writer or one denial, given back when dropped.
pub struct Hold {
    table: Arc<WriteAccess>,
    key: (u64, u64),
    delta: i64,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut m = self.table.counts.lock();
        if let Some(c) = m.get_mut(&self.key) {
            *c -= self.delta;
            if *c == 0 {
                m.remove(&self.key);
            }
        }
    }
}

impl WriteAccess {
    fn take(self: &Arc<Self>, key: (u64, u64), delta: i64) -> KResult<Hold> {
        let mut m = self.counts.lock();
        let c = m.entry(key).or_insert(0);
        if (*c > 0 && delta < 0) || (*c < 0 && delta > 0) {
            if *c == 0 {
                m.remove(&key);
            }
            return Err(Errno::ETXTBSY);
        }
        *c += delta;
        Ok(Hold {
            table: self.clone(),
            key,
            delta,
        })
    }

    /// Opening file `key` for writing: ETXTBSY while it runs.
    pub fn writer(self: &Arc<Self>, key: (u64, u64)) -> KResult<Hold> {
        self.take(key, 1)
    }

    /// Running file `key`: ETXTBSY while it is open for writing.
    pub fn deny(self: &Arc<Self>, key: (u64, u64)) -> KResult<Hold> {
        self.take(key, -1)
    }

    /// Whether `key` may be run now: every file execve opens (a script,
    /// its interpreter, the dynamic loader) is refused while open for
    /// writing.
    pub fn check_runnable(&self, key: (u64, u64)) -> KResult<()> {
        if self.counts.lock().get(&key).is_some_and(|&c| c > 0) {
            return Err(Errno::ETXTBSY);
        }
        Ok(())
    }

    /// Whether `key` may be written now (truncate(2) of a path).
    pub fn check_writable(&self, key: (u64, u64)) -> KResult<()> {
        if self.counts.lock().get(&key).is_some_and(|&c| c < 0) {
            return Err(Errno::ETXTBSY);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::WriteAccess;
    use crate::errno::Errno;
    use std::sync::Arc;

    #[test]
    fn writers_and_executables_exclude_each_other() {
        let t = Arc::new(WriteAccess::default());
        let k = (1, 2);
        let w = t.writer(k).unwrap();
        assert_eq!(t.deny(k).err(), Some(Errno::ETXTBSY));
        let w2 = t.writer(k).unwrap();
        drop(w);
        assert_eq!(t.deny(k).err(), Some(Errno::ETXTBSY));
        drop(w2);
        let d = t.deny(k).unwrap();
        let d2 = t.deny(k).unwrap();
        assert_eq!(t.writer(k).err(), Some(Errno::ETXTBSY));
        assert_eq!(t.check_writable(k), Err(Errno::ETXTBSY));
        drop(d);
        assert_eq!(t.writer(k).err(), Some(Errno::ETXTBSY));
        drop(d2);
        assert!(t.writer(k).is_ok());
        assert!(t.counts.lock().is_empty(), "no count outlives its holds");
        // Other files are independent.
        let _d = t.deny((1, 3)).unwrap();
        assert!(t.writer(k).is_ok());
    }
}
