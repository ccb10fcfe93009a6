//! eventfd: a 64-bit counter as a file.

use super::file::{File, FileOps};
use crate::errno::{Errno, KResult};
use crate::fs::Stat;
use crate::kernel::waitq::{Events, Queues, WaitQueue, EV_IN, EV_OUT};
use parking_lot::Mutex;
use std::any::Any;
use std::sync::Arc;

const MAX: u64 = u64::MAX - 1;

pub struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    wq: Arc<WaitQueue>,
}

impl EventFd {
    /// Its count and whether it is a semaphore (for fdinfo).
    pub fn state(&self) -> (u64, bool) {
        (*self.count.lock(), self.semaphore)
    }

    pub fn new(init: u64, semaphore: bool) -> EventFd {
        EventFd {
            count: Mutex::new(init),
            semaphore,
            wq: WaitQueue::new(),
        }
    }
}

impl EventFd {
    /// Adds `n` (saturating), as the kernel's eventfd_signal does for an
    /// AIO completion.
    pub fn signal(&self, n: u64) {
        let mut c = self.count.lock();
        *c = c.saturating_add(n).min(MAX);
        drop(c);
        self.wq.notify(EV_IN);
    }
}

impl FileOps for EventFd {
    fn has_fasync(&self) -> bool {
        false
    }
    fn reads_value(&self) -> bool {
        true
    }
    fn read(&self, _f: &File, buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let mut c = self.count.lock();
        if *c == 0 {
            return Err(Errno::EAGAIN);
        }
        let v = if self.semaphore { 1 } else { *c };
        *c -= v;
        buf[..8].copy_from_slice(&v.to_ne_bytes());
        drop(c);
        self.wq.notify(EV_OUT);
        Ok(8)
    }

    fn write(&self, _f: &File, buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        // Exactly one counter value (Linux 6.9 on).
        if buf.len() != 8 {
            return Err(Errno::EINVAL);
        }
        let v = u64::from_ne_bytes(buf[..8].try_into().unwrap());
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        let mut c = self.count.lock();
        if MAX - *c < v {
            return Err(Errno::EAGAIN);
        }
        *c += v;
        drop(c);
        self.wq.notify(EV_IN);
        Ok(8)
    }

    fn stat(&self) -> KResult<Stat> {
        Ok(super::synth::anon_stat())
    }

    /// Linux's eventfd seeks nowhere and succeeds (noop_llseek).
    fn seek(&self, _f: &File, _off: i64, _whence: i32) -> KResult<u64> {
        Ok(0)
    }

    fn poll(&self, events: i16) -> i16 {
        let c = *self.count.lock();
        let mut r = 0;
        if c > 0 {
            r |= libc::POLLIN;
        }
        if c < MAX {
            r |= libc::POLLOUT;
        }
        r & events
    }

    fn wait_queues(&self, _c: &super::vfs::Caller, ev: Events) -> Queues {
        Queues::from_iter([(self.wq.clone(), ev)])
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
