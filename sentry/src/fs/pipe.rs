//! Pipes: a ring of page-sized buffers with reader and writer ends.
//!
//! The capacity is counted in pages, as Linux counts it: a write first
//! tops up the last page with its odd bytes, then takes whole pages, so
//! many small writes share a page while a page-sized one takes a page
//! of its own; a read that empties a page frees it. Writers hear of room
//! only when a page comes free in a full pipe. In packet mode (O_DIRECT)
//! every write of up to a page is a page of its own, never topped up,
//! and a read takes one packet, dropping whatever of it did not fit.

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
const PAGE: usize = 4096;
/// Sixteen pages.
const DEFAULT_SLOTS: usize = 16;
/// Freed pages a pipe keeps for its next writes.
const SPARE_PAGES: usize = 4;
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
    /// What fchmod, fchown and futimens set on an anonymous pipe.
    attrs: super::attr::AnonAttrs,
}

/// One page of the ring: bytes `start..end` of `data` are queued.
struct Chunk {
    data: Box<[u8]>,
    start: usize,
    end: usize,
    /// Written in packet mode: read whole (or cut), never topped up.
    packet: bool,
}

struct Inner {
    bufs: VecDeque<Chunk>,
    spare: Vec<Box<[u8]>>,
    /// Bytes queued.
    len: usize,
    /// Pages the pipe may hold.
    slots: usize,
    readers: usize,
    writers: usize,
}

impl Inner {
    fn new(readers: usize, writers: usize) -> Inner {
        Inner {
            bufs: VecDeque::new(),
            spare: Vec::new(),
            len: 0,
            slots: DEFAULT_SLOTS,
            readers,
            writers,
        }
    }

    fn full(&self) -> bool {
        self.bufs.len() >= self.slots
    }

    /// How many of a write's first bytes top up the last page: the odd
    /// bytes (length modulo a page), if they fit there.
    fn merge_len(&self, n: usize) -> usize {
        let chars = n % PAGE;
        match self.bufs.back() {
            Some(c) if chars > 0 && !c.packet && c.end + chars <= PAGE => chars,
            _ => 0,
        }
    }

    /// Whether all of a write of `n` bytes fits now.
    fn fits(&self, n: usize, packet: bool) -> bool {
        let merged = if packet { 0 } else { self.merge_len(n) };
        (n - merged).div_ceil(PAGE) <= self.slots.saturating_sub(self.bufs.len())
    }

    /// Queues as much of `data` as fits now, as Linux's pipe_write does:
    /// the odd bytes into the last page, then a page at a time.
    fn push(&mut self, data: &[u8], packet: bool) -> usize {
        let mut done = if packet {
            0
        } else {
            self.merge_len(data.len())
        };
        if done > 0 {
            if let Some(c) = self.bufs.back_mut() {
                c.data[c.end..c.end + done].copy_from_slice(&data[..done]);
                c.end += done;
            }
        }
        while done < data.len() && !self.full() {
            let n = (data.len() - done).min(PAGE);
            let mut page = self
                .spare
                .pop()
                .unwrap_or_else(|| vec![0u8; PAGE].into_boxed_slice());
            page[..n].copy_from_slice(&data[done..done + n]);
            self.bufs.push_back(Chunk {
                data: page,
                start: 0,
                end: n,
                packet,
            });
            done += n;
        }
        self.len += done;
        done
    }

    /// Frees the first page once read; whether the pipe was full.
    fn pop_front(&mut self) -> bool {
        let was_full = self.full();
        if let Some(c) = self.bufs.pop_front() {
            if self.spare.len() < SPARE_PAGES {
                self.spare.push(c.data);
            }
        }
        was_full
    }

    /// Hands up to `want` queued bytes to `copy` as (offset in the
    /// destination, bytes) pieces and takes them (`take`) or not (a
    /// peek, which ignores packets). A read stops after a packet and
    /// drops its rest. Ok((count, whether a page came free in a full
    /// pipe)); Ok(0) at end of file, EAGAIN when empty with writers left.
    fn read(
        &mut self,
        mut want: usize,
        take: bool,
        mut copy: impl FnMut(usize, &[u8]),
    ) -> KResult<(usize, bool)> {
        if self.bufs.is_empty() {
            return if self.writers == 0 {
                Ok((0, false))
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let (mut n, mut freed) = (0, false);
        let mut i = 0;
        while want > 0 {
            let Some(c) = (if take {
                self.bufs.front_mut()
            } else {
                self.bufs.get_mut(i)
            }) else {
                break;
            };
            let chars = (c.end - c.start).min(want);
            copy(n, &c.data[c.start..c.start + chars]);
            n += chars;
            want -= chars;
            if !take {
                i += 1;
                continue;
            }
            let before = c.end - c.start;
            c.start += chars;
            if c.packet {
                c.start = c.end;
                want = 0;
            }
            self.len -= before - (c.end - c.start);
            if c.start == c.end {
                freed |= self.pop_front();
            }
        }
        Ok((n, freed))
    }

    /// Takes `n` bytes from the front, packets or not (splice's consume).
    fn drop_front(&mut self, mut n: usize) -> bool {
        let mut freed = false;
        while n > 0 {
            let Some(c) = self.bufs.front_mut() else {
                break;
            };
            let k = (c.end - c.start).min(n);
            c.start += k;
            n -= k;
            self.len -= k;
            if c.start == c.end {
                freed |= self.pop_front();
            }
        }
        freed
    }

    /// Drops everything (a FIFO nobody holds open any more).
    fn reset(&mut self) {
        self.bufs = VecDeque::new();
        self.spare = Vec::new();
        self.len = 0;
        self.slots = DEFAULT_SLOTS;
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
        inner: Mutex::new(Inner::new(1, 1)),
        ino: anon_ino(),
        wq: WaitQueue::new(),
        opens: [AtomicU64::new(1), AtomicU64::new(1)],
        named: false,
        attrs: Default::default(),
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
        inner: Mutex::new(Inner::new(0, 0)),
        ino: anon_ino(),
        wq: WaitQueue::new(),
        opens: [AtomicU64::new(0), AtomicU64::new(0)],
        named: true,
        attrs: Default::default(),
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
        if size / PAGE < p.bufs.len() {
            return Err(Errno::EBUSY);
        }
        p.slots = size / PAGE;
        drop(p);
        self.pipe.wq.notify(EV_OUT);
        Ok(size)
    }

    pub fn capacity(&self) -> usize {
        self.pipe.inner.lock().slots * PAGE
    }

    /// Copies up to `buf.len()` queued bytes without taking them: Ok(0) at
    /// end of file, EAGAIN when empty with writers left (splice, tee).
    pub fn peek(&self, buf: &mut [u8]) -> KResult<usize> {
        let mut p = self.pipe.inner.lock();
        let (n, _) = p.read(buf.len(), false, |at, s| {
            buf[at..at + s.len()].copy_from_slice(s)
        })?;
        Ok(n)
    }

    /// How many bytes are queued.
    pub fn queued(&self) -> usize {
        self.pipe.inner.lock().len
    }

    /// Drops `n` queued bytes that a `peek` passed on.
    pub fn consume(&self, n: usize) {
        let freed = self.pipe.inner.lock().drop_front(n);
        if freed {
            self.pipe.wq.notify(EV_OUT);
        }
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
            p.reset();
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
    /// `packet`: the writer's file is in packet mode (O_DIRECT).
    pub fn write_all_now(&self, data: &[u8], packet: bool) -> Option<KResult<usize>> {
        if !self.write {
            return Some(Err(Errno::EBADF));
        }
        let mut p = self.pipe.inner.lock();
        if p.readers == 0 || !p.fits(data.len(), packet) {
            return None;
        }
        p.push(data, packet);
        drop(p);
        self.pipe.wq.notify(EV_IN);
        Some(Ok(data.len()))
    }

    /// A read of up to `want` bytes through `copy` (see `Inner::read`):
    /// what was copied leaves the queue, and writers hear of a freed
    /// page.
    fn take(
        &self,
        off: Option<u64>,
        want: usize,
        copy: impl FnMut(usize, &[u8]),
    ) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let (n, freed) = self.pipe.inner.lock().read(want, true, copy)?;
        if freed {
            self.pipe.wq.notify(EV_OUT);
        }
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

    fn write(&self, f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let mut p = self.pipe.inner.lock();
        if p.readers == 0 {
            return Err(Errno::EPIPE);
        }
        // A write of up to a page goes in whole or not at all.
        let n = p.push(buf, f.flags() & libc::O_DIRECT != 0);
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
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
        Ok(self.pipe.attrs.apply(Stat {
            dev: 12,
            ino: self.pipe.ino,
            mode: libc::S_IFIFO | 0o600,
            nlink: 1,
            blksize: 4096,
            ..Default::default()
        }))
    }

    /// An anonymous pipe's inode is its own; a FIFO's is its node's,
    /// changed by path.
    fn setattr(&self, attr: &super::vfs::SetAttr) -> KResult<()> {
        if self.pipe.named {
            return Err(Errno::EROFS);
        }
        self.pipe.attrs.set(attr);
        Ok(())
    }

    fn poll(&self, events: i16) -> i16 {
        let p = self.pipe.inner.lock();
        let mut r = 0;
        if self.write {
            if p.readers == 0 {
                r |= libc::POLLERR;
            }
            if !p.full() {
                r |= libc::POLLOUT;
            }
        } else {
            if p.len > 0 {
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
            let n = crate::num::saturating_i32(self.pipe.inner.lock().len);
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
    fn setattr(&self, attr: &super::vfs::SetAttr) -> KResult<()> {
        self.rd.setattr(attr)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(p: &mut Inner, want: usize) -> Vec<u8> {
        let mut out = vec![0u8; want];
        let (n, _) = p
            .read(want, true, |at, s| out[at..at + s.len()].copy_from_slice(s))
            .unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn small_writes_share_pages_and_large_ones_take_their_own() {
        let mut p = Inner::new(1, 1);
        for _ in 0..40 {
            assert_eq!(p.push(&[1; 100], false), 100);
        }
        assert_eq!(p.bufs.len(), 1, "4000 bytes in one page");
        assert_eq!(p.push(&[2; 100], false), 100);
        assert_eq!(p.bufs.len(), 2, "the odd bytes did not fit the last page");
        assert_eq!(p.push(&[3; 4096], false), 4096);
        assert_eq!(p.bufs.len(), 3, "a whole page is never merged");
        assert_eq!(p.len, 4196 + 4000);
    }

    #[test]
    fn a_full_pipe_frees_room_only_by_the_page() {
        let mut p = Inner::new(1, 1);
        for _ in 0..DEFAULT_SLOTS {
            assert_eq!(p.push(&[0; PAGE], false), PAGE);
        }
        assert!(p.full());
        assert_eq!(p.push(&[0; 1], false), 0);
        let (_, freed) = p.read(1, true, |_, _| {}).unwrap();
        assert!(!freed, "a partly read page stays");
        assert_eq!(p.push(&[0; 1], false), 0);
        let (n, freed) = p.read(PAGE, true, |_, _| {}).unwrap();
        assert_eq!(n, PAGE, "a read runs on into the next page");
        assert!(freed);
        assert!(!p.full());
        assert!(p.fits(PAGE, false));
        assert!(
            !p.fits(PAGE + 1, false),
            "the odd byte cannot top up a full page"
        );
    }

    #[test]
    fn packets_are_read_whole_or_cut() {
        let mut p = Inner::new(1, 1);
        p.push(b"abc", true);
        p.push(b"defgh", true);
        assert_eq!(p.bufs.len(), 2, "packets never merge");
        assert_eq!(drain(&mut p, 100), b"abc");
        assert_eq!(drain(&mut p, 2), b"de", "the rest of the packet is dropped");
        assert_eq!(p.len, 0);
        assert_eq!(p.read(10, true, |_, _| {}), Err(Errno::EAGAIN));
        p.writers = 0;
        assert_eq!(p.read(10, true, |_, _| {}), Ok((0, false)));
    }

    #[test]
    fn a_peek_takes_nothing_and_consume_frees_pages() {
        let mut p = Inner::new(1, 1);
        p.push(&[7; PAGE + 10], false);
        let mut seen = 0;
        let (n, _) = p.read(PAGE + 10, false, |_, s| seen += s.len()).unwrap();
        assert_eq!((n, seen, p.len), (PAGE + 10, PAGE + 10, PAGE + 10));
        p.drop_front(PAGE + 5);
        assert_eq!((p.len, p.bufs.len()), (5, 1));
    }
}
