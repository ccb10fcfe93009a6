//! Pipes: a bounded byte queue with reader and writer ends.

use super::file::{File, FileOps};
use super::vfs::Caller;
use crate::errno::{Errno, KResult};
use crate::fs::Stat;
use crate::kernel::waitq::{Events, Queues, WaitQueue, EV_ALL, EV_ERR, EV_HUP, EV_IN, EV_OUT};
use parking_lot::Mutex;
use std::any::Any;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub const PIPE_BUF: usize = 4096;
const DEFAULT_CAP: usize = 65536;
static NEXT_INO: AtomicU64 = AtomicU64::new(1000);

/// An inode number for an object of no filesystem (a pipe, a socket).
pub fn anon_ino() -> u64 {
    NEXT_INO.fetch_add(1, Ordering::Relaxed)
}

pub struct Pipe {
    inner: Mutex<Inner>,
    ino: u64,
    /// Readers wait for EV_IN, writers for EV_OUT, FIFO openers for any.
    wq: Arc<WaitQueue>,
    /// Opens of each side so far (read, write): a FIFO opener waits for
    /// the other side to be opened, even if it closed again since.
    opens: [AtomicU64; 2],
    /// A named FIFO (mkfifo), whose blocking opens wait for the other
    /// side; an anonymous pipe reopened through /proc never waits.
    pub named: bool,
}

struct Inner {
    buf: VecDeque<u8>,
    cap: usize,
    readers: usize,
    writers: usize,
}

impl Inner {
    /// Hands up to `want` of the first queued bytes, without taking them,
    /// to `copy` as (offset in the destination, bytes) pieces: Ok(count),
    /// Ok(0) at end of file, EAGAIN when empty with writers left.
    fn copy_front(&self, want: usize, mut copy: impl FnMut(usize, &[u8])) -> KResult<usize> {
        if self.buf.is_empty() {
            return if self.writers == 0 {
                Ok(0)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let n = want.min(self.buf.len());
        let (a, b) = self.buf.as_slices();
        let na = n.min(a.len());
        copy(0, &a[..na]);
        copy(na, &b[..n - na]);
        Ok(n)
    }
}

pub struct PipeEnd {
    pipe: Arc<Pipe>,
    write: bool,
    /// Writer opens of the pipe when this end was opened: a reader sees
    /// a hang-up only once a writer came after it and left (a FIFO
    /// reader that no writer has joined yet is not hung up).
    writers_seen: u64,
}

/// Creates a pipe; returns (read end, write end).
pub fn new_pipe() -> (PipeEnd, PipeEnd) {
    let pipe = Arc::new(Pipe {
        inner: Mutex::new(Inner {
            buf: VecDeque::new(),
            cap: DEFAULT_CAP,
            readers: 1,
            writers: 1,
        }),
        ino: anon_ino(),
        wq: WaitQueue::new(),
        opens: [AtomicU64::new(1), AtomicU64::new(1)],
        named: false,
    });
    (
        PipeEnd {
            pipe: pipe.clone(),
            write: false,
            writers_seen: 0,
        },
        PipeEnd {
            pipe,
            write: true,
            writers_seen: 0,
        },
    )
}

/// The pipe behind a named FIFO: no ends until someone opens it.
pub fn new_fifo() -> Arc<Pipe> {
    Arc::new(Pipe {
        inner: Mutex::new(Inner {
            buf: VecDeque::new(),
            cap: DEFAULT_CAP,
            readers: 0,
            writers: 0,
        }),
        ino: anon_ino(),
        wq: WaitQueue::new(),
        opens: [AtomicU64::new(0), AtomicU64::new(0)],
        named: true,
    })
}

impl Pipe {
    /// Opens one end of a FIFO.
    pub fn open_end(self: &Arc<Self>, write: bool) -> PipeEnd {
        let mut p = self.inner.lock();
        if write {
            p.writers += 1;
        } else {
            p.readers += 1;
        }
        drop(p);
        let before = self.opens[usize::from(write)].fetch_add(1, Ordering::Relaxed);
        self.wq.notify(EV_ALL);
        let writers_seen = if write {
            before + 1
        } else {
            self.opens[1].load(Ordering::Relaxed)
        };
        PipeEnd {
            pipe: self.clone(),
            write,
            writers_seen,
        }
    }

    /// (readers, writers) open now.
    pub fn ends(&self) -> (usize, usize) {
        let p = self.inner.lock();
        (p.readers, p.writers)
    }

    /// The pipe's waiters.
    pub fn queue(&self) -> &Arc<WaitQueue> {
        &self.wq
    }

    /// How many times the read (false) or write (true) side was opened.
    pub fn opens(&self, write: bool) -> u64 {
        self.opens[usize::from(write)].load(Ordering::Relaxed)
    }
}

impl PipeEnd {
    /// The pipe this end belongs to.
    pub fn pipe(&self) -> &Arc<Pipe> {
        &self.pipe
    }

    pub fn is_write(&self) -> bool {
        self.write
    }

    pub fn name(&self) -> Vec<u8> {
        format!("pipe:[{}]", self.pipe.ino).into_bytes()
    }

    /// F_SETPIPE_SZ: `size` rounded up to a power of two of pages;
    /// EINVAL past 2^31, EPERM past /proc/sys/fs/pipe-max-size (1 MiB)
    /// unless `privileged` (CAP_SYS_RESOURCE).
    pub fn set_capacity(&self, size: u32, privileged: bool) -> KResult<usize> {
        if size > 1 << 31 {
            return Err(Errno::EINVAL);
        }
        let size = (size as usize).max(PIPE_BUF).next_power_of_two();
        if size > 1 << 20 && !privileged {
            return Err(Errno::EPERM);
        }
        let mut p = self.pipe.inner.lock();
        if size < p.buf.len() {
            return Err(Errno::EBUSY);
        }
        p.cap = size;
        Ok(size)
    }

    /// Sets how many bytes may wait in the pipe, exactly (a socket's
    /// send buffer); what already waits stays.
    pub fn set_limit(&self, bytes: usize) {
        self.pipe.inner.lock().cap = bytes;
    }

    pub fn capacity(&self) -> usize {
        self.pipe.inner.lock().cap
    }

    /// Copies up to `buf.len()` queued bytes without taking them: Ok(0) at
    /// end of file, EAGAIN when empty with writers left (splice, tee).
    pub fn peek(&self, buf: &mut [u8]) -> KResult<usize> {
        self.pipe
            .inner
            .lock()
            .copy_front(buf.len(), |at, s| buf[at..at + s.len()].copy_from_slice(s))
    }

    /// How many bytes are queued.
    pub fn queued(&self) -> usize {
        self.pipe.inner.lock().buf.len()
    }

    /// Drops `n` queued bytes that a `peek` passed on.
    pub fn consume(&self, n: usize) {
        let mut p = self.pipe.inner.lock();
        let n = n.min(p.buf.len());
        p.buf.drain(..n);
        drop(p);
        self.pipe.wq.notify(EV_OUT);
    }

    /// Whether both ends are of the same pipe.
    pub fn same_pipe(&self, other: &PipeEnd) -> bool {
        Arc::ptr_eq(&self.pipe, &other.pipe)
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut p = self.pipe.inner.lock();
        if self.write {
            p.writers -= 1;
        } else {
            p.readers -= 1;
        }
        // A FIFO nobody has open any more starts afresh, as Linux frees
        // its pipe: what was left unread and a size set are gone.
        if self.pipe.named && p.readers == 0 && p.writers == 0 {
            p.buf = VecDeque::new();
            p.cap = DEFAULT_CAP;
        }
        drop(p);
        // Readers see a hang-up, writers an error.
        self.pipe.wq.notify(if self.write {
            EV_IN | EV_HUP
        } else {
            EV_OUT | EV_ERR
        });
    }
}

impl PipeEnd {
    /// Writes all of `data` if it fits now and someone reads: Some(Ok).
    /// None, having done nothing, when the caller must wait or the pipe is
    /// broken (so a caller that can sleep and signal does it instead).
    pub fn write_all_now(&self, data: &[u8]) -> Option<KResult<usize>> {
        if !self.write {
            return Some(Err(Errno::EBADF));
        }
        let mut p = self.pipe.inner.lock();
        if p.readers == 0 || p.cap - p.buf.len() < data.len() {
            return None;
        }
        p.buf.extend(data);
        drop(p);
        self.pipe.wq.notify(EV_IN);
        Some(Ok(data.len()))
    }

    /// A read of up to `want` bytes through `copy` (see `copy_front`):
    /// what was copied leaves the queue, and writers hear of the room.
    fn take(
        &self,
        off: Option<u64>,
        want: usize,
        copy: impl FnMut(usize, &[u8]),
    ) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let mut p = self.pipe.inner.lock();
        let n = p.copy_front(want, copy)?;
        if n == 0 {
            return Ok(0);
        }
        p.buf.drain(..n);
        drop(p);
        self.pipe.wq.notify(EV_OUT);
        Ok(n)
    }
}

impl FileOps for PipeEnd {
    /// A blocking open of one side of a named pipe waits until the other
    /// side is (or has been, since this open began) opened.
    fn opened(&self, cx: &mut crate::kernel::Ctx<'_, '_>, _f: &File, flags: i32) -> KResult<()> {
        if flags & libc::O_NONBLOCK != 0 || !self.pipe.named {
            return Ok(());
        }
        let write = self.is_write();
        let seen = self.pipe.opens(!write);
        loop {
            let mut w = cx.wait_start();
            w.on(self.pipe.queue(), crate::kernel::waitq::EV_ALL);
            let (readers, writers) = self.pipe.ends();
            let peers = if write { readers } else { writers };
            if peers > 0 || self.pipe.opens(!write) != seen {
                return Ok(());
            }
            cx.sleep(&w, None)?;
        }
    }

    fn read(&self, _f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        self.take(off, buf.len(), |at, s| {
            buf[at..at + s.len()].copy_from_slice(s)
        })
    }

    fn write(&self, _f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let mut p = self.pipe.inner.lock();
        if p.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let space = p.cap - p.buf.len();
        if space == 0 || (buf.len() <= PIPE_BUF && space < buf.len()) {
            return Err(Errno::EAGAIN);
        }
        let n = buf.len().min(space);
        p.buf.extend(&buf[..n]);
        drop(p);
        self.pipe.wq.notify(EV_IN);
        Ok(n)
    }

    // /proc/pid/fd/N of a pipe opens the pipe again, either end.
    fn reopen(&self, flags: i32) -> Option<KResult<Box<dyn FileOps>>> {
        Some(Ok(match flags & libc::O_ACCMODE {
            libc::O_RDONLY => Box::new(self.pipe.open_end(false)),
            libc::O_WRONLY => Box::new(self.pipe.open_end(true)),
            _ => Box::new(PipeRdWr {
                rd: self.pipe.open_end(false),
                wr: self.pipe.open_end(true),
            }),
        }))
    }

    fn pipe(&self, _write: bool) -> Option<&PipeEnd> {
        Some(self)
    }

    // Reads go straight from the queue into application memory: no
    // bounce buffer.
    fn read_iov(&self, _f: &File, iov: &[libc::iovec], off: Option<u64>) -> Option<KResult<usize>> {
        Some(self.take(off, crate::mm::iov_len(iov), |at, s| {
            crate::mm::scatter_at(iov, at, s)
        }))
    }

    fn stat(&self) -> KResult<Stat> {
        Ok(Stat {
            dev: 12,
            ino: self.pipe.ino,
            mode: libc::S_IFIFO | 0o600,
            nlink: 1,
            blksize: 4096,
            ..Default::default()
        })
    }

    fn poll(&self, events: i16) -> i16 {
        let p = self.pipe.inner.lock();
        let mut r = 0;
        if self.write {
            if p.readers == 0 {
                r |= libc::POLLERR;
            }
            if p.cap - p.buf.len() >= PIPE_BUF.min(p.cap) {
                r |= libc::POLLOUT;
            }
        } else {
            if !p.buf.is_empty() {
                r |= libc::POLLIN;
            }
            if p.writers == 0 && self.pipe.opens[1].load(Ordering::Relaxed) != self.writers_seen {
                r |= libc::POLLHUP;
            }
        }
        r & (events | libc::POLLERR | libc::POLLHUP)
    }

    fn wait_queues(&self, _c: &Caller, ev: Events) -> Queues {
        Queues::from_iter([(self.pipe.wq.clone(), ev)])
    }

    fn ioctl(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        _f: &std::sync::Arc<File>,
        cmd: u64,
        arg: u64,
    ) -> KResult<u64> {
        let mm = &*cx.mm;
        if cmd as libc::c_ulong == libc::FIONREAD {
            let n = crate::num::saturating_i32(self.pipe.inner.lock().buf.len());
            crate::mm::write_obj(mm, arg, &n)?;
            return Ok(0);
        }
        Err(Errno::ENOTTY)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A FIFO opened O_RDWR: both ends in one file.
pub struct PipeRdWr {
    pub rd: PipeEnd,
    pub wr: PipeEnd,
}

impl FileOps for PipeRdWr {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        self.rd.read(f, buf, off)
    }
    fn pipe(&self, write: bool) -> Option<&PipeEnd> {
        Some(if write { &self.wr } else { &self.rd })
    }
    fn write(&self, f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        self.wr.write(f, buf, off)
    }
    fn stat(&self) -> KResult<Stat> {
        self.rd.stat()
    }
    fn poll(&self, events: i16) -> i16 {
        (self.rd.poll(events & libc::POLLIN) | self.wr.poll(events & libc::POLLOUT))
            & !libc::POLLHUP
    }
    fn wait_queues(&self, c: &Caller, ev: Events) -> Queues {
        self.rd.wait_queues(c, ev)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
