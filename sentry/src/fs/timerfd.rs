//! timerfd: a timer whose expirations are read from a file. The timer
//! thread counts expirations through a weak reference, so the timer ends
//! with the file.

use super::file::{File, FileOps};
use super::vfs::Caller;
use crate::errno::{Errno, KResult};
use crate::fs::Stat;
use crate::kernel::waitq::{Events, Queues, WaitQueue, EV_IN};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A timerfd's expirations since the last read, and its readers.
#[derive(Default)]
pub struct Expirations {
    pub count: AtomicU64,
    pub wq: Arc<WaitQueue>,
}

impl Expirations {
    /// The timer fired `n` times (the timer thread calls this).
    pub fn fire(&self, n: u64) {
        self.count.fetch_add(n, Ordering::Relaxed);
        self.wq.notify(EV_IN);
    }
}

pub struct TimerFd {
    pub count: Arc<Expirations>,
    /// The timer's id in the kernel's timer table.
    pub timer: u64,
    pub clock: i32,
    /// The flags of the last timerfd_settime (fdinfo's "settime flags").
    pub settime_flags: std::sync::atomic::AtomicU32,
}

impl FileOps for TimerFd {
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
        let n = self.count.count.swap(0, Ordering::Relaxed);
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        buf[..8].copy_from_slice(&n.to_ne_bytes());
        Ok(8)
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(super::synth::anon_stat())
    }
    /// Linux's timerfd seeks nowhere and succeeds (noop_llseek).
    fn seek(&self, _f: &File, _off: i64, _whence: i32) -> KResult<u64> {
        Ok(0)
    }
    fn poll(&self, events: i16) -> i16 {
        if self.count.count.load(Ordering::Relaxed) > 0 {
            events & libc::POLLIN
        } else {
            0
        }
    }
    fn wait_queues(&self, _c: &Caller, ev: Events) -> Queues {
        Queues::from_iter([(self.count.wq.clone(), ev)])
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
