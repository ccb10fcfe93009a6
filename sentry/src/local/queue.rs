//! A unix socket's receive queue: the messages sent to it (datagrams,
//! packets, or a stream's chunks as each send made them), with the open
//! files and credentials sent beside them.

use crate::errno::{Errno, KResult};
use crate::kernel::waitq::{WaitQueue, EV_HUP, EV_IN, EV_OUT};
pub use crate::socket::{Ancillary, Received, Ucred};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// One message.
struct Msg {
    data: Vec<u8>,
    /// Bytes of `data` a stream has already read.
    read: usize,
    /// The sender's address (datagrams).
    from: Vec<u8>,
    anc: Ancillary,
    /// When a datagram was queued (SO_TIMESTAMP).
    at: Option<std::time::SystemTime>,
}

#[derive(Default)]
struct State {
    msgs: VecDeque<Msg>,
    /// Unread bytes queued.
    bytes: usize,
    /// The receiving side is gone: sends fail with EPIPE.
    closed: bool,
}

/// The queue; its wait queue is the receiving socket's (data in, room
/// out, hang-ups).
pub struct Queue {
    state: Mutex<State>,
    pub wq: Arc<WaitQueue>,
    /// The namespace's count of files in flight, which this queue's
    /// files are part of.
    in_flight: Arc<AtomicUsize>,
}

impl Default for Queue {
    fn default() -> Self {
        Queue::new(Arc::default())
    }
}

thread_local! {
    /// Files whose last reference goes, waiting for `release`'s loop.
    static RELEASING: std::cell::RefCell<Vec<Arc<crate::fs::file::File>>> =
        const { std::cell::RefCell::new(Vec::new()) };
    static DRAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Lets go of files that were in flight. A file may be a socket whose
/// own queue holds more sockets, to any depth the application likes:
/// they are dropped one after another from a list here, never by
/// recursion.
pub fn release(files: Vec<Arc<crate::fs::file::File>>) {
    if files.is_empty() {
        return;
    }
    RELEASING.with(|r| r.borrow_mut().extend(files));
    if DRAINING.with(|d| d.replace(true)) {
        // An outer call on this thread is draining the list.
        return;
    }
    while let Some(f) = RELEASING.with(|r| r.borrow_mut().pop()) {
        drop(f);
    }
    DRAINING.with(|d| d.set(false));
}

/// The most messages a datagram socket's queue holds
/// (net.unix.max_dgram_qlen).
pub const MAX_DGRAM_QLEN: usize = 10;

impl Queue {
    pub fn new(in_flight: Arc<AtomicUsize>) -> Queue {
        Queue {
            state: Mutex::new(State::default()),
            wq: WaitQueue::new(),
            in_flight,
        }
    }

    /// Counts files going into the queue (or, `out`, leaving it).
    fn count(&self, n: usize, out: bool) {
        if n > 0 {
            if out {
                self.in_flight.fetch_sub(n, Ordering::Relaxed);
            } else {
                self.in_flight.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Queues `data` from a stream: as much as `limit` (the sender's send
    /// buffer) leaves room for, at least one byte; EAGAIN when full.
    pub fn send_stream(
        &self,
        data: &[u8],
        from: Vec<u8>,
        anc: Ancillary,
        limit: usize,
    ) -> KResult<usize> {
        let mut s = self.state.lock();
        if s.closed {
            return Err(Errno::EPIPE);
        }
        let room = limit.saturating_sub(s.bytes);
        if room == 0 {
            return Err(Errno::EAGAIN);
        }
        let n = data.len().min(room);
        s.bytes += n;
        self.count(anc.rights.len(), false);
        s.msgs.push_back(Msg {
            data: data[..n].to_vec(),
            read: 0,
            from,
            anc,
            at: None,
        });
        drop(s);
        self.wq.notify(EV_IN);
        Ok(n)
    }

    /// Queues a whole packet or datagram, or nothing: EAGAIN while the
    /// queue holds `limit` bytes or `max_msgs` messages.
    pub fn send_packet(
        &self,
        data: &[u8],
        from: Vec<u8>,
        anc: Ancillary,
        limit: usize,
        max_msgs: usize,
    ) -> KResult<usize> {
        let mut s = self.state.lock();
        if s.closed {
            return Err(Errno::EPIPE);
        }
        // As Linux's: a message is taken while the queue is under its
        // limit (the last may go past it), and while no more than
        // `max_msgs` wait (max_dgram_qlen's "more than" is full).
        let full = !s.msgs.is_empty() && (s.bytes >= limit || s.msgs.len() > max_msgs);
        if full {
            return Err(Errno::EAGAIN);
        }
        s.bytes += data.len();
        self.count(anc.rights.len(), false);
        s.msgs.push_back(Msg {
            data: data.to_vec(),
            read: 0,
            from,
            anc,
            at: Some(std::time::SystemTime::now()),
        });
        drop(s);
        self.wq.notify(EV_IN);
        Ok(data.len())
    }

    /// Takes up to `max` bytes of a stream. Files sent with a chunk are
    /// taken with its first byte read, and the read stops after that
    /// chunk, as Linux's does; a read also stops where the sender's
    /// credentials change. `peek` leaves it all queued (and duplicates
    /// the files). EAGAIN when empty (end of file is the socket's to
    /// tell: its shutdown bits).
    pub fn recv_stream(&self, max: usize, peek: bool) -> KResult<Received> {
        self.recv_stream_at(max, peek, 0)
    }

    /// `recv_stream`, a peek starting `skip` bytes in (SO_PEEK_OFF).
    pub fn recv_stream_at(&self, max: usize, peek: bool, skip: usize) -> KResult<Received> {
        let mut s = self.state.lock();
        // Nothing there is nothing there, even for a read of none.
        if s.msgs.is_empty() {
            return Err(Errno::EAGAIN);
        }
        let mut out = Received::default();
        let mut taken = 0usize;
        let mut i = 0;
        // A peek past what is queued finds nothing yet.
        let mut skip = if peek { skip } else { 0 };
        while skip > 0 && i < s.msgs.len() {
            let left = s.msgs[i].data.len() - s.msgs[i].read;
            if skip < left {
                break;
            }
            skip -= left;
            i += 1;
        }
        if i == s.msgs.len() {
            return Err(Errno::EAGAIN);
        }
        while out.data.len() < max && i < s.msgs.len() {
            let m = &mut s.msgs[i];
            if !out.data.is_empty() && m.anc.creds != out.creds {
                break;
            }
            if out.data.is_empty() {
                out.creds = m.anc.creds;
                out.from = m.from.clone();
            }
            let start = m.read + std::mem::take(&mut skip);
            let n = (m.data.len() - start).min(max - out.data.len());
            out.data.extend_from_slice(&m.data[start..start + n]);
            let had_rights = !m.anc.rights.is_empty();
            if had_rights {
                if peek {
                    out.rights = m.anc.rights.clone();
                } else {
                    out.rights = std::mem::take(&mut m.anc.rights);
                    self.count(out.rights.len(), true);
                }
            }
            if !peek {
                m.read += n;
                taken += n;
            }
            i += 1;
            if had_rights {
                break;
            }
        }
        if !peek {
            s.bytes -= taken;
            while s.msgs.front().is_some_and(|m| m.read == m.data.len()) {
                s.msgs.pop_front();
            }
        }
        out.len = out.data.len();
        drop(s);
        if !peek {
            self.wq.notify(EV_OUT);
        }
        Ok(out)
    }

    /// Takes the first packet, cut to `max` bytes (the rest is lost
    /// unless `peek`). EAGAIN when there is none.
    pub fn recv_packet(&self, max: usize, peek: bool) -> KResult<Received> {
        let mut s = self.state.lock();
        let Some(m) = s.msgs.front_mut() else {
            return Err(Errno::EAGAIN);
        };
        let n = m.data.len().min(max);
        let mut out = Received {
            data: m.data[..n].to_vec(),
            len: m.data.len(),
            from: m.from.clone(),
            rights: Vec::new(),
            creds: m.anc.creds,
            dst: m.anc.dst,
            stamp: m.at,
            ttl: m.anc.ttl,
            tos: m.anc.tos,
            ..Default::default()
        };
        if peek {
            out.rights = m.anc.rights.clone();
            return Ok(out);
        }
        let m = s.msgs.pop_front().expect("looked at");
        s.bytes -= m.data.len();
        out.rights = m.anc.rights;
        self.count(out.rights.len(), true);
        drop(s);
        self.wq.notify(EV_OUT);
        Ok(out)
    }

    /// Unread bytes (FIONREAD on a stream).
    /// read(2) of a datagram socket (netlink, raw ICMP) with this queue:
    /// one message, cut to `buf`.
    pub fn read_packet(&self, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let r = self.recv_packet(buf.len(), false)?;
        buf[..r.data.len()].copy_from_slice(&r.data);
        Ok(r.data.len())
    }

    /// poll(2) of a socket that can always send and reads this queue.
    pub fn poll_always_writable(&self, events: i16) -> i16 {
        let mut r = libc::POLLOUT | libc::POLLWRNORM;
        if !self.is_empty() {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        r & events
    }

    pub fn queued(&self) -> usize {
        self.state.lock().bytes
    }

    /// The first packet's length (FIONREAD on a datagram socket).
    pub fn next_len(&self) -> usize {
        self.state.lock().msgs.front().map_or(0, |m| m.data.len())
    }

    /// Whether a packet sender may send now (what poll reports): the
    /// queue is at most a quarter full (Linux's unix_writable) and not
    /// past `max_msgs`, or it is closed (the send then fails at once).
    /// When this holds, `send_packet` with the same limits succeeds.
    pub fn room(&self, limit: usize, max_msgs: usize) -> bool {
        let s = self.state.lock();
        s.closed || s.msgs.is_empty() || (s.bytes * 4 <= limit && s.msgs.len() <= max_msgs)
    }

    pub fn is_empty(&self) -> bool {
        self.state.lock().msgs.is_empty()
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// The files queued in this queue (references to them), for the
    /// collector of unreachable cycles.
    pub fn rights(&self) -> Vec<Arc<crate::fs::file::File>> {
        let s = self.state.lock();
        s.msgs
            .iter()
            .flat_map(|m| m.anc.rights.iter().cloned())
            .collect()
    }

    /// Drops what is queued (a reset connection's data), staying open.
    pub fn discard(&self) {
        let msgs = {
            let mut s = self.state.lock();
            s.bytes = 0;
            std::mem::take(&mut s.msgs)
        };
        let files: Vec<_> = msgs.into_iter().flat_map(|m| m.anc.rights).collect();
        self.count(files.len(), true);
        release(files);
        self.wq.notify(EV_OUT);
    }

    /// The receiving side is gone: senders get EPIPE, and its queued
    /// files are let go (outside the lock, and one at a time: see
    /// `release`). Whether anything was unread.
    pub fn close(&self) -> bool {
        let msgs = {
            let mut s = self.state.lock();
            s.closed = true;
            s.bytes = 0;
            std::mem::take(&mut s.msgs)
        };
        self.wq.notify(EV_OUT | EV_HUP);
        let unread = !msgs.is_empty();
        let files: Vec<_> = msgs.into_iter().flat_map(|m| m.anc.rights).collect();
        self.count(files.len(), true);
        release(files);
        unread
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Queue {
        fn send_stream_t(&self, d: &[u8], anc: Ancillary, limit: usize) -> KResult<usize> {
            self.send_stream(d, Vec::new(), anc, limit)
        }
    }

    fn creds(pid: i32) -> Ancillary {
        Ancillary {
            rights: Vec::new(),
            creds: Some(Ucred {
                pid,
                uid: 0,
                gid: 0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn stream_reads_across_chunks_and_keeps_the_rest() {
        let q = Queue::default();
        assert_eq!(q.send_stream_t(b"hello ", Ancillary::default(), 100), Ok(6));
        assert_eq!(q.send_stream_t(b"world", Ancillary::default(), 100), Ok(5));
        let r = q.recv_stream(8, false).unwrap();
        assert_eq!(r.data, b"hello wo");
        assert_eq!(q.queued(), 3);
        let r = q.recv_stream(100, true).unwrap();
        assert_eq!(r.data, b"rld");
        assert_eq!(q.queued(), 3, "a peek takes nothing");
        assert_eq!(q.recv_stream(100, false).unwrap().data, b"rld");
        assert_eq!(q.recv_stream(100, false).err(), Some(Errno::EAGAIN));
    }

    #[test]
    fn stream_send_is_limited_by_the_buffer() {
        let q = Queue::default();
        assert_eq!(q.send_stream_t(&[1; 10], Ancillary::default(), 16), Ok(10));
        assert_eq!(q.send_stream_t(&[2; 10], Ancillary::default(), 16), Ok(6));
        assert_eq!(
            q.send_stream_t(&[3; 1], Ancillary::default(), 16).err(),
            Some(Errno::EAGAIN)
        );
        q.recv_stream(4, false).unwrap();
        assert_eq!(q.send_stream_t(&[3; 9], Ancillary::default(), 16), Ok(4));
    }

    #[test]
    fn stream_read_stops_where_credentials_change() {
        let q = Queue::default();
        q.send_stream_t(b"ab", creds(1), 100).unwrap();
        q.send_stream_t(b"cd", creds(1), 100).unwrap();
        q.send_stream_t(b"ef", creds(2), 100).unwrap();
        let r = q.recv_stream(100, false).unwrap();
        assert_eq!((r.data.as_slice(), r.creds.unwrap().pid), (&b"abcd"[..], 1));
        let r = q.recv_stream(100, false).unwrap();
        assert_eq!((r.data.as_slice(), r.creds.unwrap().pid), (&b"ef"[..], 2));
    }

    #[test]
    fn packets_are_whole_or_cut() {
        let q = Queue::default();
        let send = |d: &[u8]| q.send_packet(d, b"x".to_vec(), Ancillary::default(), 100, 3);
        assert_eq!(send(b"one"), Ok(3));
        assert_eq!(send(b"three"), Ok(5));
        let r = q.recv_packet(2, true).unwrap();
        assert_eq!((r.data.as_slice(), r.len), (&b"on"[..], 3));
        let r = q.recv_packet(2, false).unwrap();
        assert_eq!(
            (r.data.as_slice(), r.len, r.from.as_slice()),
            (&b"on"[..], 3, &b"x"[..])
        );
        assert_eq!(q.recv_packet(100, false).unwrap().data, b"three");
        assert_eq!(q.recv_packet(100, false).err(), Some(Errno::EAGAIN));
        // An empty packet is a message of its own.
        assert_eq!(send(b""), Ok(0));
        assert_eq!(q.recv_packet(100, false).unwrap().len, 0);
    }

    #[test]
    fn packet_queue_limits_bytes_and_count() {
        let q = Queue::default();
        let send = |n: usize| q.send_packet(&vec![0; n], Vec::new(), Ancillary::default(), 100, 2);
        // One message always fits, whatever its size.
        assert_eq!(send(150), Ok(150));
        assert_eq!(send(1).err(), Some(Errno::EAGAIN));
        q.recv_packet(1000, false).unwrap();
        assert!(q.room(100, 2));
        assert_eq!(send(10), Ok(10));
        assert_eq!(send(10), Ok(10));
        assert_eq!(send(10), Ok(10), "more than 2 is full, as max_dgram_qlen");
        assert!(!q.room(100, 2), "poll agrees the queue is full");
        assert_eq!(send(10).err(), Some(Errno::EAGAIN));
        // Bytes: a message is taken while under the limit, and poll says
        // room only while a quarter or less is used.
        let q = Queue::default();
        let send = |n: usize| q.send_packet(&vec![0; n], Vec::new(), Ancillary::default(), 100, 99);
        assert_eq!(send(20), Ok(20));
        assert!(q.room(100, 99));
        assert_eq!(send(90), Ok(90), "under the limit, the last may pass it");
        assert!(!q.room(100, 99));
        assert_eq!(send(1).err(), Some(Errno::EAGAIN));
    }

    #[test]
    fn closed_queue_refuses_and_drops() {
        let q = Queue::default();
        q.send_stream_t(b"x", Ancillary::default(), 10).unwrap();
        assert!(q.close(), "unread data was dropped");
        assert_eq!(
            q.send_stream_t(b"y", Ancillary::default(), 10).err(),
            Some(Errno::EPIPE)
        );
        assert_eq!(q.queued(), 0);
    }
}
