//! timerfd: a timer whose expirations are read from a file. The timer
//! thread counts expirations through a weak reference, so the timer ends
//! with the file.

use super::file::{File, FileOps};
use crate::errno::{Errno, KResult};
use gofer::FileStat;
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct TimerFd {
    pub count: Arc<AtomicU64>,
    /// The timer's id in the kernel's timer table.
    pub timer: u64,
    pub clock: i32,
}

impl FileOps for TimerFd {
    fn read(&self, _f: &File, buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let n = self.count.swap(0, Ordering::Relaxed);
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        buf[..8].copy_from_slice(&n.to_ne_bytes());
        Ok(8)
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> KResult<FileStat> {
        Ok(super::synth::anon_stat())
    }
    fn poll(&self, events: i16) -> i16 {
        if self.count.load(Ordering::Relaxed) > 0 {
            events & libc::POLLIN
        } else {
            0
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
