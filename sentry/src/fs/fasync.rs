//! O_ASYNC: signal-driven I/O.
//!
//! A file whose O_ASYNC flag is set (F_SETFL, FIOASYNC) has a `Fasync`
//! waker on its object's wait queues. A readiness wake-up there owes the
//! file's owner (F_SETOWN) a signal: SIGIO, or F_SETSIG's with si_band
//! and si_fd. Wake-ups come from any thread, with or without the kernel
//! lock, so they only record what is owed (`Owed`); the signals are sent
//! with the lock held, on the next return of any task to its application
//! or by the timer thread within its tick, whichever comes first.
//!
//! Files that are host fds (the sandbox's stdio, `--network host`
//! sockets) have no wait queues here and send no SIGIO.

use super::file::File;
use crate::kernel::waitq::{Events, Queues, Waker, EV_ERR, EV_HUP, EV_IN, EV_OUT};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

/// One owed signal: the file (its owner and F_SETSIG are read when it is
/// sent), the fd O_ASYNC was set through, and what happened.
pub struct Owe {
    pub file: Weak<File>,
    pub fd: i32,
    pub events: Events,
}

/// The signals owed to owners of O_ASYNC files, kernel-wide.
#[derive(Default)]
pub struct Owed {
    list: Mutex<Vec<Owe>>,
    pending: AtomicBool,
    /// Files with O_ASYNC registrations: while there are any, the timer
    /// thread looks at `pending` every tick.
    files: AtomicUsize,
}

impl Owed {
    /// Whether signals are owed (checked on every return to the
    /// application).
    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Whether any file asks for signals.
    pub fn any(&self) -> bool {
        self.files.load(Ordering::Relaxed) > 0
    }

    /// The signals owed, once.
    pub fn take(&self) -> Vec<Owe> {
        self.pending.store(false, Ordering::Release);
        std::mem::take(&mut *self.list.lock())
    }

    fn owe(&self, o: Owe) {
        let mut l = self.list.lock();
        // One owed signal per file and kind of event is enough: the
        // owner learns that something happened, not how many times.
        if !l
            .iter()
            .any(|x| x.events == o.events && Weak::ptr_eq(&x.file, &o.file))
        {
            l.push(o);
        }
        drop(l);
        self.pending.store(true, Ordering::Release);
    }
}

/// The waker a file with O_ASYNC puts on its object's queues.
struct Fasync {
    file: Weak<File>,
    fd: i32,
    /// The readiness that concerns the file (input for a reader, output
    /// for a writer; errors and hang-ups always).
    mask: Events,
    owed: Arc<Owed>,
}

impl Waker for Fasync {
    fn wake(&self, ev: Events) {
        let events = ev & self.mask;
        if events != 0 {
            self.owed.owe(Owe {
                file: self.file.clone(),
                fd: self.fd,
                events,
            });
        }
    }
}

/// A file's registration: the waker and the queues it is on.
pub struct Registration {
    waker: Arc<dyn Waker>,
    queues: Queues,
    owed: Arc<Owed>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        for (q, _) in &self.queues {
            q.remove(&self.waker);
        }
        self.owed.files.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Turns O_ASYNC on (`fd`: the fd it was set through) or off for `file`.
/// False when the file cannot signal (nothing here wakes for it: a
/// regular file, a host fd), which Linux's files without ->fasync are.
pub fn set(owed: &Arc<Owed>, c: &super::vfs::Caller, file: &Arc<File>, fd: i32, on: bool) -> bool {
    let mut slot = file.fasync.lock();
    if !on {
        *slot = None;
        return true;
    }
    if slot.is_some() {
        return true;
    }
    if !file.ops.has_fasync() {
        return false;
    }
    let mut mask = EV_ERR | EV_HUP;
    if file.readable() {
        mask |= EV_IN;
    }
    if file.writable() {
        mask |= EV_OUT;
    }
    let waker: Arc<dyn Waker> = Arc::new(Fasync {
        file: Arc::downgrade(file),
        fd,
        mask,
        owed: owed.clone(),
    });
    let queues = file.ops.wait_queues(c, mask);
    if queues.is_empty() {
        return false;
    }
    for (q, ev) in &queues {
        q.add(waker.clone(), *ev);
    }
    owed.files.fetch_add(1, Ordering::Relaxed);
    *slot = Some(Registration {
        waker,
        queues,
        owed: owed.clone(),
    });
    true
}

/// The si_code (POLL_*) and si_band of an owed signal, as Linux's
/// band table has them.
pub fn reason(events: Events) -> (i32, u64) {
    const POLL_IN: i32 = 1;
    const POLL_OUT: i32 = 2;
    const POLL_ERR: i32 = 4;
    const POLL_HUP: i32 = 6;
    if events & EV_IN != 0 {
        (POLL_IN, 0x41)
    } else if events & EV_OUT != 0 {
        (POLL_OUT, 0x304)
    } else if events & EV_HUP != 0 {
        (POLL_HUP, 0x18)
    } else {
        (POLL_ERR, 0x8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::waitq::WaitQueue;

    #[test]
    fn a_wake_up_is_owed_once_per_kind_and_only_for_the_mask() {
        let owed = Arc::new(Owed::default());
        let q = WaitQueue::new();
        let w: Arc<dyn Waker> = Arc::new(Fasync {
            file: Weak::new(),
            fd: 3,
            mask: EV_IN | EV_HUP,
            owed: owed.clone(),
        });
        q.add(w.clone(), EV_IN);
        q.notify(EV_OUT);
        assert!(!owed.pending(), "output is not a reader's business");
        q.notify(EV_IN);
        q.notify(EV_IN);
        assert!(owed.pending());
        let got = owed.take();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].fd, got[0].events), (3, EV_IN));
        assert!(!owed.pending());
        q.remove(&w);
        q.notify(EV_IN);
        assert!(!owed.pending(), "a removed registration owes nothing");
    }

    #[test]
    fn reasons_follow_the_band_table() {
        assert_eq!(reason(EV_IN | EV_HUP), (1, 0x41));
        assert_eq!(reason(EV_OUT), (2, 0x304));
        assert_eq!(reason(EV_HUP), (6, 0x18));
        assert_eq!(reason(EV_ERR), (4, 0x8));
    }
}
