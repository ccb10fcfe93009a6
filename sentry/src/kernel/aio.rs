//! Linux AIO contexts (io_setup): the completions a process has not yet
//! collected, and the tasks waiting for them. The operations themselves
//! complete when submitted (as Linux's buffered AIO does), so a context
//! holds only finished work.

use super::waitq::{WaitQueue, EV_IN};
use crate::errno::{Errno, KResult};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;

/// `struct io_event`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct IoEvent {
    pub data: u64,
    pub obj: u64,
    pub res: i64,
    pub res2: i64,
}
crate::plain!(IoEvent);

pub struct AioCtx {
    /// Its id: the address of its ring mapping.
    pub id: u64,
    /// The most completions it holds (io_submit is EAGAIN past them).
    pub max: usize,
    done: Mutex<(VecDeque<IoEvent>, bool)>,
    pub wq: Arc<WaitQueue>,
}

impl AioCtx {
    pub fn new(id: u64, max: usize) -> AioCtx {
        AioCtx {
            id,
            max,
            done: Mutex::new((VecDeque::new(), false)),
            wq: WaitQueue::new(),
        }
    }

    /// Whether one more completion fits.
    pub fn has_room(&self) -> bool {
        self.done.lock().0.len() < self.max
    }

    pub fn complete(&self, ev: IoEvent) {
        self.done.lock().0.push_back(ev);
        self.wq.notify(EV_IN);
    }

    /// Up to `n` completions, oldest first; EINVAL once destroyed.
    pub fn take(&self, n: usize) -> KResult<Vec<IoEvent>> {
        let mut d = self.done.lock();
        if d.1 {
            return Err(Errno::EINVAL);
        }
        let n = n.min(d.0.len());
        Ok(d.0.drain(..n).collect())
    }

    pub fn available(&self) -> usize {
        self.done.lock().0.len()
    }

    /// io_destroy: waiters see it gone.
    pub fn destroy(&self) {
        self.done.lock().1 = true;
        self.wq.notify(EV_IN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_are_taken_in_order_until_destroyed() {
        let c = AioCtx::new(0x1000, 2);
        let ev = |d| IoEvent {
            data: d,
            ..Default::default()
        };
        c.complete(ev(1));
        assert!(c.has_room());
        c.complete(ev(2));
        assert!(!c.has_room());
        assert_eq!(c.take(1).unwrap(), [ev(1)]);
        assert_eq!(c.take(5).unwrap(), [ev(2)]);
        assert!(c.take(5).unwrap().is_empty());
        c.destroy();
        assert_eq!(c.take(1), Err(Errno::EINVAL));
    }
}
