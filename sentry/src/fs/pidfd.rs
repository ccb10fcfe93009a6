//! pidfds: a file that names a process (pidfd_open, CLONE_PIDFD) and
//! becomes readable when it exits.

use super::file::{File, FileOps};
use super::Stat;
use crate::errno::{Errno, KResult};
use crate::kernel::waitq::{Events, Queues, WaitQueue, EV_IN};
use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether a process has exited, and who waits to hear it (one per
/// process, made with it).
#[derive(Default)]
pub struct ExitWatch {
    exited: AtomicBool,
    pub wq: Arc<WaitQueue>,
}

impl ExitWatch {
    pub fn new() -> Arc<ExitWatch> {
        Arc::new(ExitWatch::default())
    }

    /// The process's last thread is gone.
    pub fn exited(&self) {
        self.exited.store(true, Ordering::Release);
        self.wq.notify(EV_IN);
    }

    pub fn has_exited(&self) -> bool {
        self.exited.load(Ordering::Acquire)
    }
}

pub struct PidFd {
    /// The process (its thread-group id), or with `thread` the thread.
    pub pid: i32,
    pub watch: Arc<ExitWatch>,
    /// PIDFD_THREAD: it names one thread, readable once that thread is
    /// gone, and signals go to that thread.
    pub thread: bool,
}

impl FileOps for PidFd {
    fn read(&self, _f: &File, _buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(super::synth::anon_stat())
    }
    fn poll(&self, events: i16) -> i16 {
        if self.watch.has_exited() {
            events & (libc::POLLIN | libc::POLLRDNORM)
        } else {
            0
        }
    }
    /// Readable once it has exited; hung up too once it is reaped.
    fn poll_for(&self, c: &super::vfs::Caller, events: i16) -> i16 {
        let r = self.poll(events);
        let reaped = c.st.is_some_and(|st| {
            if self.thread {
                !st.tasks.contains_key(&self.pid)
            } else {
                !st.procs.contains_key(&self.pid)
            }
        });
        if r != 0 && reaped {
            r | libc::POLLHUP
        } else {
            r
        }
    }
    fn wait_queues(&self, _c: &super::vfs::Caller, ev: Events) -> Queues {
        Queues::from_iter([(self.watch.wq.clone(), ev)])
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A new pidfd file for process `pid` (or with `thread` the thread
/// `pid`; O_RDWR, and O_NONBLOCK if asked).
pub fn file(pid: i32, watch: Arc<ExitWatch>, nonblock: bool, thread: bool) -> Arc<File> {
    let flags = libc::O_RDWR | if nonblock { libc::O_NONBLOCK } else { 0 };
    File::new(
        Box::new(PidFd { pid, watch, thread }),
        flags,
        b"anon_inode:[pidfd]".to_vec(),
    )
}
