//! pidfds: a file that names a process (pidfd_open, CLONE_PIDFD) and
//! becomes readable when it exits.

use super::file::{File, FileOps};
use super::Stat;
use crate::errno::{Errno, KResult};
use crate::kernel::waitq::{Events, Queues, WaitQueue, EV_HUP, EV_IN};
use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether a process has exited, and who waits to hear it (one per
/// process, made with it).
#[derive(Default)]
pub struct ExitWatch {
    exited: AtomicBool,
    /// Reaped (a thread: gone): its pidfd hangs up too.
    gone: AtomicBool,
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

    /// The process was reaped (a thread: it is gone).
    pub fn gone(&self) {
        self.gone.store(true, Ordering::Release);
        self.wq.notify(EV_IN | EV_HUP);
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
    fn has_fasync(&self) -> bool {
        false
    }
    fn read(&self, _f: &File, _buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(super::synth::anon_stat())
    }
    /// Readable once it has exited; hung up too once it is reaped.
    fn poll(&self, events: i16) -> i16 {
        if self.watch.gone.load(Ordering::Acquire) {
            (events & (libc::POLLIN | libc::POLLRDNORM)) | libc::POLLHUP
        } else if self.watch.has_exited() {
            events & (libc::POLLIN | libc::POLLRDNORM)
        } else {
            0
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
    // PIDFD_THREAD is O_EXCL, and F_GETFL shows it.
    let flags = libc::O_RDWR
        | if nonblock { libc::O_NONBLOCK } else { 0 }
        | if thread { libc::O_EXCL } else { 0 };
    File::new(
        Box::new(PidFd { pid, watch, thread }),
        flags,
        b"anon_inode:[pidfd]".to_vec(),
    )
}
