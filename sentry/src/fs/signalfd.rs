//! signalfd: a file that is readable while the reading task has a signal
//! of its mask pending. Reads take those signals (in the syscall layer,
//! which knows the task); readiness is computed for the polling task.

use super::file::FileOps;
use super::vfs::Caller;
use crate::fs::Stat;
use crate::kernel::waitq::{Events, Queues};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct SignalFd {
    mask: AtomicU64,
}

impl SignalFd {
    pub fn new(mask: u64) -> SignalFd {
        SignalFd {
            mask: AtomicU64::new(mask),
        }
    }

    pub fn mask(&self) -> u64 {
        self.mask.load(Ordering::Relaxed)
    }

    pub fn set_mask(&self, mask: u64) {
        self.mask.store(mask, Ordering::Relaxed);
    }
}

/// Signals of `mask` pending for task `tid` (its own and its process's).
pub fn pending_in(c: &Caller, mask: u64) -> u64 {
    let Some(t) = c.st.tasks.get(&c.tid) else {
        return 0;
    };
    let shared = c.st.procs.get(&t.tgid).map_or(0, |p| p.shared_pending.set);
    (t.pending.set | shared) & mask
}

impl FileOps for SignalFd {
    fn stat(&self) -> crate::errno::KResult<Stat> {
        Ok(super::synth::anon_stat())
    }
    fn poll(&self, _events: i16) -> i16 {
        // Without a task there is nothing pending to see.
        0
    }
    fn poll_for(&self, c: &Caller, events: i16) -> i16 {
        if pending_in(c, self.mask()) != 0 {
            events & libc::POLLIN
        } else {
            0
        }
    }
    fn wait_queues(&self, c: &Caller, ev: Events) -> Queues {
        // The poller's process: its signals are what this file shows.
        let tgid = c.st.tasks.get(&c.tid).map(|t| t.tgid);
        tgid.and_then(|g| c.st.procs.get(&g))
            .map(|p| Queues::from_iter([(p.signal_wq.clone(), ev)]))
            .unwrap_or_default()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
