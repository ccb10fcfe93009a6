//! AF_UNIX stream socket pairs: two pipes, crossed.

use super::file::{File, FileOps};
use super::pipe::{new_pipe, PipeEnd};
use crate::errno::{Errno, KResult};
use crate::kernel::waitq::{Events, Queues, EV_IN, EV_OUT};
use gofer::FileStat;
use parking_lot::Mutex;
use std::any::Any;

/// One end of a socketpair.
pub struct UnixStream {
    rx: Mutex<Option<PipeEnd>>,
    tx: Mutex<Option<PipeEnd>>,
}

/// A connected pair.
pub fn stream_pair() -> (UnixStream, UnixStream) {
    let (r1, w1) = new_pipe();
    let (r2, w2) = new_pipe();
    (
        UnixStream {
            rx: Mutex::new(Some(r1)),
            tx: Mutex::new(Some(w2)),
        },
        UnixStream {
            rx: Mutex::new(Some(r2)),
            tx: Mutex::new(Some(w1)),
        },
    )
}

impl UnixStream {
    /// shutdown(2): SHUT_RD drops the receiving half, SHUT_WR the sending one.
    pub fn shutdown(&self, how: i32) -> KResult<()> {
        match how {
            libc::SHUT_RD => drop(self.rx.lock().take()),
            libc::SHUT_WR => drop(self.tx.lock().take()),
            libc::SHUT_RDWR => {
                drop(self.rx.lock().take());
                drop(self.tx.lock().take());
            }
            _ => return Err(Errno::EINVAL),
        }
        Ok(())
    }
}

impl FileOps for UnixStream {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        match &*self.rx.lock() {
            Some(rx) => rx.read(f, buf, None),
            None => Ok(0),
        }
    }
    fn write(&self, f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        match &*self.tx.lock() {
            Some(tx) => tx.write(f, buf, None),
            None => Err(Errno::EPIPE),
        }
    }
    fn stat(&self) -> KResult<FileStat> {
        Ok(FileStat {
            mode: libc::S_IFSOCK | 0o777,
            nlink: 1,
            blksize: 4096,
            ..Default::default()
        })
    }
    fn poll(&self, events: i16) -> i16 {
        let mut r = 0;
        match &*self.rx.lock() {
            Some(rx) => r |= rx.poll(libc::POLLIN) & (libc::POLLIN | libc::POLLHUP),
            None => r |= libc::POLLIN | libc::POLLRDHUP,
        }
        if let Some(tx) = &*self.tx.lock() {
            let w = tx.poll(libc::POLLOUT);
            if w & libc::POLLERR != 0 {
                r |= libc::POLLHUP;
            } else {
                r |= w & libc::POLLOUT;
            }
        }
        if r & libc::POLLHUP != 0 {
            r |= libc::POLLIN;
        }
        r & (events | libc::POLLHUP | libc::POLLERR)
    }
    fn wait_queues(&self, _c: &super::vfs::Caller, ev: Events) -> Queues {
        let mut q = Queues::new();
        // Incoming data and the peer's close arrive on the receiving pipe;
        // room to write and the peer's shutdown on the sending one.
        if let Some(rx) = &*self.rx.lock() {
            q.push((rx.pipe().queue().clone(), ev & !EV_OUT));
        }
        if let Some(tx) = &*self.tx.lock() {
            q.push((tx.pipe().queue().clone(), ev & !EV_IN));
        }
        q
    }
    fn ioctl(&self, f: &File, cmd: u64, arg: u64, mm: &crate::mm::Mm) -> KResult<u64> {
        match &*self.rx.lock() {
            Some(rx) => rx.ioctl(f, cmd, arg, mm),
            None => Err(Errno::ENOTTY),
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
