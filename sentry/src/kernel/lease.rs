//! File leases (fcntl F_SETLEASE/F_GETLEASE), as Linux's fs/locks.c
//! keeps them: a lease belongs to one open file description; a read
//! lease stands while nobody has the file open for writing, a write
//! lease while nobody else has it open at all. An open that conflicts
//! breaks it: the holder is signalled (SIGIO, or its F_SETSIG signal)
//! and has the lease-break time to give the lease up or take a read
//! lease instead; the opener waits (or, non-blocking, is refused with
//! EWOULDBLOCK) and past that time the lease is taken away.

use super::waitq::WaitQueue;
use crate::fs::file::File;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// /proc/sys/fs/lease-break-time: how long a holder has.
pub const BREAK_TIME: Duration = Duration::from_secs(45);

pub struct Lease {
    /// The open file description holding it.
    pub file: Weak<File>,
    /// The file's (dev, inode).
    pub inode: (u64, u64),
    /// F_RDLCK or F_WRLCK.
    pub kind: i32,
    /// The fd F_SETLEASE was given (si_fd of the break's signal).
    pub fd: i32,
    /// Being broken: the type it must come down to (F_RDLCK, or
    /// F_UNLCK for none) and when it is taken away.
    pub breaking: Option<(i32, Instant)>,
}

#[derive(Default)]
pub struct Leases {
    all: Vec<Lease>,
    /// Openers waiting for a break wait here; a change of a lease wakes
    /// them.
    pub wq: Arc<WaitQueue>,
}

fn holds(l: &Lease, f: &Arc<File>) -> bool {
    std::ptr::eq(l.file.as_ptr(), Arc::as_ptr(f))
}

/// A lease that ends takes the file's owner and F_SETSIG signal with it
/// (Linux's lease_modify: f_delown, signum 0).
fn ended(l: &Lease) {
    if let Some(f) = l.file.upgrade() {
        *f.owner.lock() = (0, 0);
        f.owner_sig.store(0, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Leases {
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Forgets leases whose file is closed and takes away those whose
    /// break time is over (down to the type the break asked for).
    fn settle(&mut self, now: Instant) -> bool {
        let before = self.all.len();
        self.all.retain(|l| l.file.strong_count() > 0);
        let mut changed = before != self.all.len();
        for l in &mut self.all {
            if let Some((to, at)) = l.breaking {
                if at <= now {
                    l.kind = to;
                    l.breaking = None;
                    changed = true;
                    if to == libc::F_UNLCK {
                        ended(l);
                    }
                }
            }
        }
        self.all.retain(|l| l.kind != libc::F_UNLCK);
        changed
    }

    /// F_GETLEASE: the type held through `f` (the type it is being
    /// broken to while a break is on), F_UNLCK for none.
    pub fn get(&mut self, f: &Arc<File>) -> i32 {
        self.settle(Instant::now());
        self.all
            .iter()
            .find(|l| holds(l, f))
            .map_or(libc::F_UNLCK, |l| l.breaking.map_or(l.kind, |(to, _)| to))
    }

    /// F_SETLEASE of `kind` through `f` (fd `fd`) on `inode`; `others`
    /// are the other open files of the inode (whether each is open for
    /// writing), `writer` whether `f` itself is. EAGAIN where Linux's
    /// check_conflicting_open refuses, or for F_UNLCK with no lease.
    pub fn set(
        &mut self,
        f: &Arc<File>,
        fd: i32,
        inode: (u64, u64),
        kind: i32,
        others: &[bool],
        writer: bool,
    ) -> Result<(), crate::Errno> {
        use crate::Errno;
        self.settle(Instant::now());
        let mine = self.all.iter().position(|l| holds(l, f));
        if kind == libc::F_UNLCK {
            let i = mine.ok_or(Errno::EAGAIN)?;
            ended(&self.all.remove(i));
            self.wq.notify(super::waitq::EV_ALL);
            return Ok(());
        }
        let ok = match kind {
            // Nobody, this file included, has it open for writing.
            libc::F_RDLCK => !writer && !others.iter().any(|&w| w),
            // Nobody else has it open at all.
            _ => others.is_empty(),
        };
        // A lease of another file on the inode being broken holds new
        // ones off, as does a write lease on it.
        let blocked = self.all.iter().any(|l| {
            l.inode == inode && !holds(l, f) && (l.breaking.is_some() || kind == libc::F_WRLCK)
        });
        // A lease being broken cannot be raised to a write lease.
        let raising = mine.is_some_and(|i| self.all[i].breaking.is_some() && kind == libc::F_WRLCK);
        if !ok || blocked || raising {
            return Err(Errno::EAGAIN);
        }
        match mine {
            Some(i) => {
                let l = &mut self.all[i];
                // Coming down to what a break asked for ends the break.
                if l.breaking.is_some_and(|(to, _)| to == kind) {
                    l.breaking = None;
                }
                l.kind = kind;
                l.fd = fd;
            }
            None => self.all.push(Lease {
                file: Arc::downgrade(f),
                inode,
                kind,
                fd,
                breaking: None,
            }),
        }
        self.wq.notify(super::waitq::EV_ALL);
        Ok(())
    }

    /// An open of `inode` (`write`: for writing or truncating) by a new
    /// file: the leases it conflicts with start breaking (a write lease
    /// to a read one for a reader, any lease to none for a writer).
    /// Returns the files to signal (those whose break starts now, with
    /// their lease's fd) and whether a conflict remains (the opener must
    /// wait, or be refused when non-blocking).
    pub fn break_for(&mut self, inode: (u64, u64), write: bool) -> (Vec<(Arc<File>, i32)>, bool) {
        let now = Instant::now();
        if self.settle(now) {
            self.wq.notify(super::waitq::EV_ALL);
        }
        let mut signal = Vec::new();
        let mut conflict = false;
        for l in self.all.iter_mut().filter(|l| l.inode == inode) {
            let want = if write { libc::F_UNLCK } else { libc::F_RDLCK };
            let clash = write || l.kind == libc::F_WRLCK;
            if !clash {
                continue;
            }
            conflict = true;
            match &mut l.breaking {
                // Already breaking: a writer asks for all of it.
                Some((to, _)) => {
                    if write {
                        *to = libc::F_UNLCK;
                    }
                }
                None => {
                    l.breaking = Some((want, now + BREAK_TIME));
                    if let Some(f) = l.file.upgrade() {
                        signal.push((f, l.fd));
                    }
                }
            }
        }
        (signal, conflict)
    }

    /// When the first break on `inode` ends by itself, to sleep until.
    pub fn next_deadline(&self, inode: (u64, u64)) -> Option<Instant> {
        self.all
            .iter()
            .filter(|l| l.inode == inode)
            .filter_map(|l| l.breaking.map(|(_, at)| at))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<File> {
        crate::fs::file::File::new(
            Box::new(crate::fs::synth::SynthFile {
                data: Vec::new(),
                stat: Default::default(),
            }),
            libc::O_RDONLY,
            b"f".to_vec(),
        )
    }

    #[test]
    fn read_and_write_leases_follow_the_open_files() {
        let mut l = Leases::default();
        let (a, b) = (file(), file());
        let ino = (1, 2);
        // A read lease while another reader is open; not with a writer.
        assert!(l.set(&a, 3, ino, libc::F_RDLCK, &[false], false).is_ok());
        assert_eq!(l.get(&a), libc::F_RDLCK);
        assert_eq!(
            l.set(&b, 4, ino, libc::F_RDLCK, &[true], false),
            Err(crate::Errno::EAGAIN)
        );
        // No write lease while another file is open.
        assert_eq!(
            l.set(&a, 3, ino, libc::F_WRLCK, &[false], false),
            Err(crate::Errno::EAGAIN)
        );
        assert!(l.set(&a, 3, ino, libc::F_WRLCK, &[], false).is_ok());
        assert_eq!(l.get(&a), libc::F_WRLCK);
        assert!(l.set(&a, 3, ino, libc::F_UNLCK, &[], false).is_ok());
        assert_eq!(
            l.set(&a, 3, ino, libc::F_UNLCK, &[], false),
            Err(crate::Errno::EAGAIN)
        );
        // A closed file's lease is gone.
        assert!(l.set(&b, 4, ino, libc::F_RDLCK, &[], false).is_ok());
        drop(b);
        let (sig, conflict) = l.break_for(ino, true);
        assert!(sig.is_empty() && !conflict);
        assert!(l.is_empty());
    }

    #[test]
    fn an_open_breaks_what_it_conflicts_with_once() {
        let mut l = Leases::default();
        let a = file();
        let ino = (1, 2);
        l.set(&a, 3, ino, libc::F_WRLCK, &[], false).unwrap();
        // A reader breaks a write lease down to a read lease.
        let (sig, conflict) = l.break_for(ino, false);
        assert!(conflict && sig.len() == 1 && sig[0].1 == 3);
        assert_eq!(l.get(&a), libc::F_RDLCK);
        // A second opener signals nobody again.
        let (sig, conflict) = l.break_for(ino, false);
        assert!(conflict && sig.is_empty());
        // Taking the read lease ends the break: readers go through.
        l.set(&a, 3, ino, libc::F_RDLCK, &[], false).unwrap();
        assert!(!l.break_for(ino, false).1);
        // A writer breaks it to nothing; giving it up lets the writer in.
        let (sig, conflict) = l.break_for(ino, true);
        assert!(conflict && sig.len() == 1);
        assert_eq!(l.get(&a), libc::F_UNLCK);
        l.set(&a, 3, ino, libc::F_UNLCK, &[], false).unwrap();
        assert!(!l.break_for(ino, true).1);
    }

    #[test]
    fn a_break_past_its_time_takes_the_lease_away() {
        let mut l = Leases::default();
        let a = file();
        let ino = (1, 2);
        l.set(&a, 3, ino, libc::F_RDLCK, &[], false).unwrap();
        l.break_for(ino, true);
        let past = Instant::now() + BREAK_TIME + Duration::from_secs(1);
        assert!(l.settle(past));
        assert!(l.is_empty());
        assert!(!l.break_for(ino, true).1);
    }
}
