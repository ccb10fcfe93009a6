//! Advisory file locks: POSIX record locks (owned by a process), OFD locks
//! (owned by an open file description) and flock(2) locks (also per open
//! file description, in a table of their own, as on Linux).

use super::file::File;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// Who holds a lock.
#[derive(Clone, Debug)]
pub enum Owner {
    Process(i32),
    /// An open file description; the lock dies with it.
    File(usize, Weak<File>),
}

impl Owner {
    pub fn of_file(f: &Arc<File>) -> Owner {
        Owner::File(Arc::as_ptr(f) as usize, Arc::downgrade(f))
    }

    fn same(&self, o: &Owner) -> bool {
        match (self, o) {
            (Owner::Process(a), Owner::Process(b)) => a == b,
            (Owner::File(a, _), Owner::File(b, _)) => a == b,
            _ => false,
        }
    }

    fn alive(&self) -> bool {
        match self {
            Owner::Process(_) => true,
            Owner::File(_, w) => w.strong_count() > 0,
        }
    }
}

/// A locked byte range `[start, end)` (`end == u64::MAX`: to infinity).
#[derive(Clone, Debug)]
pub struct Lock {
    pub owner: Owner,
    pub write: bool,
    pub start: u64,
    pub end: u64,
    /// Who took it, as /proc/locks shows it (-1 for an OFD lock).
    pub pid: i32,
}

/// Locks of one table (record or flock), by file identity (dev, ino).
#[derive(Default)]
pub struct LockTable {
    files: HashMap<(u64, u64), Vec<Lock>>,
}

impl LockTable {
    /// The first lock that conflicts with `want`, if any.
    pub fn conflict(&mut self, key: (u64, u64), want: &Lock) -> Option<Lock> {
        let locks = self.files.get_mut(&key)?;
        locks.retain(|l| l.owner.alive());
        locks
            .iter()
            .find(|l| {
                !l.owner.same(&want.owner)
                    && l.start < want.end
                    && want.start < l.end
                    && (l.write || want.write)
            })
            .cloned()
    }

    /// Removes `owner`'s locks on `[start, end)`, splitting partial ones.
    pub fn unlock(&mut self, key: (u64, u64), owner: &Owner, start: u64, end: u64) {
        let Some(locks) = self.files.get_mut(&key) else {
            return;
        };
        let mut out = Vec::with_capacity(locks.len());
        for l in locks.drain(..) {
            if !l.owner.same(owner) || l.end <= start || end <= l.start {
                out.push(l);
                continue;
            }
            if l.start < start {
                out.push(Lock {
                    end: start,
                    ..l.clone()
                });
            }
            if end < l.end {
                out.push(Lock {
                    start: end,
                    ..l.clone()
                });
            }
        }
        if out.is_empty() {
            self.files.remove(&key);
        } else {
            *locks = out;
        }
    }

    /// Takes `want` (the caller checked for conflicts): replaces the
    /// owner's locks on that range and merges it with the owner's locks
    /// of its type that it touches, as Linux's posix_lock_inode. An
    /// owner's locks stay together and by start: the order Linux keeps
    /// them in, and the one F_GETLK finds a conflict in.
    pub fn lock(&mut self, key: (u64, u64), mut want: Lock) {
        self.unlock(key, &want.owner, want.start, want.end);
        let locks = self.files.entry(key).or_default();
        locks.retain(|l| {
            let touches = l.owner.same(&want.owner)
                && l.write == want.write
                && (l.end == want.start || want.end == l.start);
            if touches {
                want.start = want.start.min(l.start);
                want.end = want.end.max(l.end);
            }
            !touches
        });
        let pos = match locks.iter().position(|l| l.owner.same(&want.owner)) {
            Some(first) => {
                let mine = locks[first..]
                    .iter()
                    .take_while(|l| l.owner.same(&want.owner) && l.start < want.start)
                    .count();
                first + mine
            }
            None => locks.len(),
        };
        locks.insert(pos, want);
    }

    /// Drops every lock `owner` holds on `key` (a process closing an fd).
    pub fn release_file(&mut self, key: (u64, u64), owner: &Owner) {
        self.unlock(key, owner, 0, u64::MAX);
    }

    /// Drops every lock a process holds (it exited).
    pub fn release_process(&mut self, pid: i32) {
        let owner = Owner::Process(pid);
        for locks in self.files.values_mut() {
            locks.retain(|l| !l.owner.same(&owner));
        }
        self.files.retain(|_, v| !v.is_empty());
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The live locks, by file.
    pub fn entries(&self) -> impl Iterator<Item = ((u64, u64), &Lock)> {
        self.files
            .iter()
            .flat_map(|(k, v)| v.iter().filter(|l| l.owner.alive()).map(|l| (*k, l)))
    }
}

#[derive(Default)]
pub struct Locks {
    pub record: LockTable,
    pub flock: LockTable,
    /// Tasks waiting for a lock (F_SETLKW, flock): woken on every release.
    pub wq: std::sync::Arc<crate::kernel::WaitQueue>,
    /// What each process sleeping in F_SETLKW waits for (its file and
    /// the lock it wants), for deadlock detection.
    pub blocked: HashMap<i32, ((u64, u64), Lock)>,
}

impl Locks {
    /// Whether process `me` waiting for `want` on `key` would close a
    /// cycle of POSIX-lock waiters (Linux follows ten links).
    pub fn would_deadlock(&mut self, me: i32, key: (u64, u64), want: &Lock) -> bool {
        let mut next = self.record.conflict(key, want);
        for _ in 0..10 {
            let Some(Lock {
                owner: Owner::Process(p),
                ..
            }) = next
            else {
                return false;
            };
            if p == me {
                return true;
            }
            let Some((k, w)) = self.blocked.get(&p).cloned() else {
                return false;
            };
            next = self.record.conflict(k, &w);
        }
        false
    }
}

impl Locks {
    /// /proc/locks: one line per lock, in Linux's format.
    /// /proc/locks; `pid` shows an owner's id as the reader's PID
    /// namespace numbers it.
    pub fn proc_text(&self, pid: impl Fn(i32) -> i32) -> Vec<u8> {
        let mut lines: Vec<((u64, u64), &Lock, &str)> = Vec::new();
        for (k, l) in self.record.entries() {
            let kind = match l.owner {
                Owner::File(..) => "OFDLCK",
                Owner::Process(_) => "POSIX ",
            };
            lines.push((k, l, kind));
        }
        lines.extend(self.flock.entries().map(|(k, l)| (k, l, "FLOCK ")));
        let mut out = String::new();
        for (i, ((dev, ino), l, kind)) in lines.into_iter().enumerate() {
            let ty = if l.write { "WRITE" } else { "READ" };
            let (maj, min) = (libc::major(dev), libc::minor(dev));
            // A flock lock is always the whole file: "0 EOF", as Linux
            // prints it.
            let range = if l.end == u64::MAX {
                format!("{} EOF", l.start)
            } else {
                format!("{} {}", l.start, l.end - 1)
            };
            out.push_str(&format!(
                "{}: {kind} ADVISORY  {ty} {} {maj:02x}:{min:02x}:{ino} {range}\n",
                i + 1,
                pid(l.pid)
            ));
        }
        out.into_bytes()
    }

    /// Some lock was released or changed: waiters re-check.
    pub fn released(&self) {
        self.wq.notify(crate::kernel::waitq::EV_ALL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(pid: i32, write: bool, start: u64, end: u64) -> Lock {
        Lock {
            owner: Owner::Process(pid),
            write,
            start,
            end,
            pid,
        }
    }

    fn ranges(t: &LockTable) -> Vec<(i32, bool, u64, u64)> {
        t.files
            .values()
            .flatten()
            .map(|l| (l.pid, l.write, l.start, l.end))
            .collect()
    }

    #[test]
    fn an_owners_touching_locks_of_a_type_merge_and_stay_in_order() {
        let mut t = LockTable::default();
        let k = (1, 1);
        t.lock(k, lock(1, false, 10, 20));
        t.lock(k, lock(1, false, 0, 10));
        assert_eq!(ranges(&t), vec![(1, false, 0, 20)]);
        // Overlapping: one lock.
        t.lock(k, lock(1, false, 15, 30));
        assert_eq!(ranges(&t), vec![(1, false, 0, 30)]);
        // Another type in the middle splits it, in order.
        t.lock(k, lock(1, true, 5, 10));
        assert_eq!(
            ranges(&t),
            vec![(1, false, 0, 5), (1, true, 5, 10), (1, false, 10, 30)]
        );
        // Taking the read lock back merges all three.
        t.lock(k, lock(1, false, 5, 10));
        assert_eq!(ranges(&t), vec![(1, false, 0, 30)]);
        // The conflict reported is the owner's lowest.
        t.lock(k, lock(1, true, 40, 50));
        let c = t.conflict(k, &lock(2, true, 0, u64::MAX)).unwrap();
        assert_eq!((c.start, c.end), (0, 30));
        // To the end of the file.
        t.lock(k, lock(1, true, 50, u64::MAX));
        assert_eq!(ranges(&t).last(), Some(&(1, true, 40, u64::MAX)));
    }
}
