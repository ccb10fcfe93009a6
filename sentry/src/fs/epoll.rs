//! epoll: an interest list, and a ready list fed by the files' wait
//! queues. Each interest is a waker on its file's queues; a notification
//! that matches its events puts it on the ready list (once) and wakes the
//! epoll's own queue, which is where `epoll_wait`, poll(2) on the epoll and
//! an enclosing epoll wait. `epoll_wait` polls only what is on the ready
//! list: level-triggered interests that are still ready go back on it,
//! edge-triggered ones wait for their next notification, one-shot ones are
//! disarmed. Host fds (host sockets, host stdio) are watched by a host
//! epoll of this epoll's own, edge-triggered: its edges put them on the
//! ready list, so they cost nothing until something happens and an
//! edge-triggered interest sees every new arrival, as on Linux. Files
//! with no queue that the host cannot watch (files whose readiness never
//! changes) are polled on every wait instead; there are few.
//!
//! Nesting is bounded as Linux bounds it: no cycles, and no chain of more
//! than `MAX_CHAIN` epolls (ELOOP), so every walk through nested epolls
//! (readiness, notification, the checks themselves) is at most that deep.

use super::file::{File, FileOps};
use super::vfs::Caller;
use crate::errno::{Errno, KResult};
use crate::fs::Stat;
use crate::kernel::waitq::{Events, Queues, WaitQueue, Waker, EV_ALL, EV_ERR, EV_HUP, EV_IN};
use parking_lot::Mutex;
use rustix::event::epoll::{self, EventFlags};
use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Weak};

pub const EPOLLET: u32 = 1 << 31;
pub const EPOLLONESHOT: u32 = 1 << 30;
/// Bits that select readiness (the rest are flags).
const EVENT_BITS: u32 = 0x3fff;
/// The longest chain of epolls inside epolls (Linux: EP_MAX_NESTS + 1).
pub const MAX_CHAIN: usize = 5;

struct Item {
    file: Weak<File>,
    /// The interest's events and flags (EPOLLET, EPOLLONESHOT).
    events: AtomicU32,
    data: Mutex<u64>,
    /// Cleared by a one-shot report, set again by EPOLL_CTL_MOD.
    armed: AtomicBool,
    /// On the ready list now.
    queued: AtomicBool,
    /// Taken out of the interest list.
    removed: AtomicBool,
    /// Polled on every wait: the file has no queue to tell us.
    always: bool,
    host_fd: Option<RawFd>,
    /// Its token in the host epoll watching its host fd, if it is there.
    host_token: Option<u64>,
    /// The queues this interest is on.
    queues: Queues,
    ep: Weak<Inner>,
    me: Weak<Item>,
}

impl Item {
    fn wants(&self) -> Events {
        (self.events.load(SeqCst) & EVENT_BITS) | EV_ERR | EV_HUP
    }

    /// Still in the list and armed.
    fn live(&self) -> bool {
        !self.removed.load(SeqCst) && self.armed.load(SeqCst)
    }

    /// The interest's ready bits in `f` now (errors and hang-ups always
    /// count), as the caller sees them when there is one.
    fn ready_bits(&self, f: &File, c: Option<&Caller>) -> u32 {
        let events = self.events.load(SeqCst) & EVENT_BITS;
        let want = events as i16 | libc::POLLERR | libc::POLLHUP;
        let r = match c {
            Some(c) => f.ops.poll_for(c, want),
            None => f.ops.poll(want),
        };
        u32::from(r.cast_unsigned()) & (events | 0x18)
    }

    fn unregister(&self) {
        if let Some(me) = self.me.upgrade() {
            let me: Arc<dyn Waker> = me;
            for (q, _) in &self.queues {
                q.remove(&me);
            }
        }
    }
}

impl Waker for Item {
    fn wake(&self, ev: Events) {
        if ev & self.wants() == 0 || !self.armed.load(SeqCst) {
            return;
        }
        if let Some(ep) = self.ep.upgrade() {
            if let Some(me) = self.me.upgrade() {
                ep.push_ready(me);
            }
        }
    }
}

type Key = (i32, usize);

/// The host epoll that watches an epoll's host fds, and whose interest
/// each of its tokens stands for.
struct HostWatch {
    ep: OwnedFd,
    items: HashMap<u64, Weak<Item>>,
    next: u64,
}

/// The host epoll flags for an interest's events: always edge-triggered
/// (an edge queues the interest; `collect` polls it as level- or
/// edge-triggered as the application asked).
fn host_flags(events: u32) -> EventFlags {
    EventFlags::from_bits_truncate(events & EVENT_BITS) | EventFlags::ET
}

#[derive(Default)]
struct Inner {
    /// Keyed by (fd, open file description), as Linux keys them.
    items: Mutex<BTreeMap<Key, Arc<Item>>>,
    ready: Mutex<VecDeque<Arc<Item>>>,
    /// Interests polled on every wait.
    always: Mutex<Vec<Arc<Item>>>,
    /// Waiters for this epoll's readiness (epoll_wait, poll, outer epolls).
    wq: Arc<WaitQueue>,
    /// The epolls this one is an interest of.
    parents: Mutex<Vec<Weak<Inner>>>,
    /// Size of the interest list after the last sweep of closed files.
    swept_at: Mutex<usize>,
    /// Made when first needed (a host fd added, or this epoll put in
    /// another or polled).
    host: Mutex<Option<HostWatch>>,
}

impl Inner {
    /// The host epoll, made if there is none yet (None: the host refused).
    fn host_watch<'a>(
        &self,
        h: &'a mut parking_lot::MutexGuard<'_, Option<HostWatch>>,
    ) -> Option<&'a mut HostWatch> {
        if h.is_none() {
            let ep = epoll::create(epoll::CreateFlags::CLOEXEC).ok()?;
            **h = Some(HostWatch {
                ep,
                items: HashMap::new(),
                next: 0,
            });
        }
        h.as_mut()
    }

    /// Puts `fd` under the host epoll for `events`: its token, or None
    /// when the host will not watch it (a regular file, or the same host
    /// fd added through another fd number); `register` runs under the
    /// watch's lock, so no edge comes before the token has its interest.
    fn watch(
        &self,
        fd: RawFd,
        events: u32,
        register: impl FnOnce(u64) -> Arc<Item>,
    ) -> Option<Arc<Item>> {
        let mut h = self.host.lock();
        let w = self.host_watch(&mut h)?;
        let token = w.next;
        // SAFETY: the caller holds the file whose fd this is, so it stays
        // open for the call.
        let src = unsafe { BorrowedFd::borrow_raw(fd) };
        epoll::add(
            &w.ep,
            src,
            epoll::EventData::new_u64(token),
            host_flags(events),
        )
        .ok()?;
        w.next += 1;
        let it = register(token);
        w.items.insert(token, Arc::downgrade(&it));
        Some(it)
    }

    /// Queues the interests whose host fds had an edge since last time.
    fn harvest(&self) {
        let mut edges = Vec::new();
        {
            let h = self.host.lock();
            let Some(w) = h.as_ref() else {
                return;
            };
            let zero = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            loop {
                let mut evs: Vec<epoll::Event> = Vec::with_capacity(64);
                let n = epoll::wait(&w.ep, rustix::buffer::spare_capacity(&mut evs), Some(&zero))
                    .unwrap_or(0);
                edges.extend(
                    evs.iter()
                        .filter_map(|e| w.items.get(&e.data.u64()).and_then(Weak::upgrade)),
                );
                if n < 64 {
                    break;
                }
            }
        }
        for it in edges {
            self.push_ready(it);
        }
    }

    /// The host epoll's fd, for sleeping on it.
    fn host_ep(&self) -> Option<RawFd> {
        let mut h = self.host.lock();
        self.host_watch(&mut h).map(|w| w.ep.as_raw_fd())
    }

    fn push_ready(&self, it: Arc<Item>) {
        if !it.queued.swap(true, SeqCst) {
            self.ready.lock().push_back(it);
        }
        // Even when it was queued already: an outer epoll may have polled
        // this one (without consuming) and dropped it since.
        self.wq.notify(EV_IN);
    }

    /// The epolls directly inside this one.
    fn children(&self) -> Vec<Arc<Inner>> {
        self.items
            .lock()
            .values()
            .filter_map(|it| it.file.upgrade())
            .filter_map(|f| f.downcast::<Epoll>().map(|e| e.inner.clone()))
            .collect()
    }

    fn parents(&self) -> Vec<Arc<Inner>> {
        self.parents
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// What to poll: the ready list (left in place) and the always-polled.
    fn candidates(&self) -> Vec<Arc<Item>> {
        let mut v: Vec<Arc<Item>> = self.ready.lock().iter().cloned().collect();
        v.extend(self.always.lock().iter().cloned());
        v
    }
}

/// Number of levels reachable from `start` by `next` (`start` is level
/// 1), or None when `avoid` is among them or they run past `MAX_CHAIN`.
/// Breadth first, so the walk is as deep as the chain, never deeper.
fn levels(
    start: &Arc<Inner>,
    avoid: &Arc<Inner>,
    next: impl Fn(&Inner) -> Vec<Arc<Inner>>,
) -> Option<usize> {
    let mut level = vec![start.clone()];
    let mut n = 0;
    while !level.is_empty() {
        n += 1;
        if n > MAX_CHAIN {
            return None;
        }
        let mut seen = HashSet::new();
        let mut below = Vec::new();
        for e in &level {
            if Arc::ptr_eq(e, avoid) {
                return None;
            }
            for c in next(e) {
                if seen.insert(Arc::as_ptr(&c)) {
                    below.push(c);
                }
            }
        }
        level = below;
    }
    Some(n)
}

#[derive(Default)]
pub struct Epoll {
    inner: Arc<Inner>,
}

fn key(fd: i32, f: &Arc<File>) -> Key {
    (fd, Arc::as_ptr(f) as usize)
}

impl Epoll {
    /// EPOLL_CTL_ADD. `c` is the caller (whose signals a signalfd shows).
    pub fn add(&self, c: &Caller, fd: i32, f: &Arc<File>, events: u32, data: u64) -> KResult<()> {
        let inner = &self.inner;
        let nested = f.downcast::<Epoll>().map(|e| e.inner.clone());
        if let Some(t) = &nested {
            // Check and insert must not interleave with another ADD of
            // epolls (two crossing ADDs would each pass and make a cycle):
            // the kernel lock, held for the whole call, serialises them
            // today; like Linux's epnested_mutex, this needs a lock of its
            // own once system calls run without it.
            // The new chain: the epolls above this one, this one, and the
            // levels inside the target. A cycle shows as this epoll met
            // below the target.
            let above = levels(inner, t, Inner::parents).ok_or(Errno::ELOOP)?;
            let below = levels(t, inner, Inner::children).ok_or(Errno::ELOOP)?;
            if above + below > MAX_CHAIN {
                return Err(Errno::ELOOP);
            }
        }
        let mut items = inner.items.lock();
        let k = key(fd, f);
        if let Some(old) = items.get(&k) {
            // The same address may belong to a new file after a close.
            if old.file.strong_count() > 0 && !old.removed.load(SeqCst) {
                return Err(Errno::EEXIST);
            }
            let old = items.remove(&k).expect("present");
            forget(inner, &old);
        }
        sweep(inner, &mut items);
        let queues = f.ops.wait_queues(c, EV_ALL);
        let host_fd = f.ops.host_fd();
        let make = |host_token: Option<u64>, queues: Queues| {
            Arc::new_cyclic(|me| Item {
                file: Arc::downgrade(f),
                events: AtomicU32::new(events),
                data: Mutex::new(data),
                armed: AtomicBool::new(true),
                queued: AtomicBool::new(false),
                removed: AtomicBool::new(false),
                always: queues.is_empty() && host_token.is_none(),
                host_fd,
                host_token,
                queues,
                ep: Arc::downgrade(inner),
                me: me.clone(),
            })
        };
        let watched = host_fd.and_then(|h| {
            let q = queues.clone();
            inner.watch(h, events, |t| make(Some(t), q))
        });
        let it = match watched {
            Some(it) => it,
            None => make(None, queues),
        };
        for (q, ev) in &it.queues {
            q.add(it.clone(), *ev);
        }
        items.insert(k, it.clone());
        drop(items);
        if let Some(t) = nested {
            t.parents.lock().push(Arc::downgrade(inner));
        }
        if it.always {
            inner.always.lock().push(it);
            inner.wq.notify(EV_IN);
        } else {
            // Whether it is ready now is found out by polling it.
            inner.push_ready(it);
        }
        Ok(())
    }

    pub fn modify(&self, fd: i32, f: &Arc<File>, events: u32, data: u64) -> KResult<()> {
        let it = self
            .inner
            .items
            .lock()
            .get(&key(fd, f))
            .filter(|it| it.file.strong_count() > 0)
            .cloned()
            .ok_or(Errno::ENOENT)?;
        // One added for exclusive wake-ups stays as it was added.
        if it.events.load(SeqCst) & libc::EPOLLEXCLUSIVE as u32 != 0 {
            return Err(Errno::EINVAL);
        }
        it.events.store(events, SeqCst);
        *it.data.lock() = data;
        it.armed.store(true, SeqCst);
        if let (Some(t), Some(h)) = (it.host_token, it.host_fd) {
            if let Some(w) = self.inner.host.lock().as_ref() {
                // SAFETY: `f` holds the file, so its fd stays open.
                let src = unsafe { BorrowedFd::borrow_raw(h) };
                let _ = epoll::modify(&w.ep, src, epoll::EventData::new_u64(t), host_flags(events));
            }
        }
        if !it.always {
            self.inner.push_ready(it);
        }
        Ok(())
    }

    pub fn delete(&self, fd: i32, f: &Arc<File>) -> KResult<()> {
        let it = self
            .inner
            .items
            .lock()
            .remove(&key(fd, f))
            .ok_or(Errno::ENOENT)?;
        forget(&self.inner, &it);
        Ok(())
    }

    /// Ready (events, data) pairs, at most `max`; consumes edges and
    /// one-shot arms. Polls only the ready list and the always-polled.
    pub fn collect(&self, c: &Caller, max: usize) -> Vec<(u32, u64)> {
        let inner = &self.inner;
        inner.harvest();
        let mut todo: VecDeque<Arc<Item>> = std::mem::take(&mut *inner.ready.lock());
        let always = inner.always.lock().clone();
        let mut out = Vec::new();
        let mut again = Vec::new();
        let mut dead = Vec::new();
        for it in todo.iter() {
            // A notification from now on queues it anew.
            it.queued.store(false, SeqCst);
        }
        let mut all = todo.drain(..).chain(always);
        for it in all.by_ref() {
            if !it.live() {
                continue;
            }
            let Some(f) = it.file.upgrade() else {
                dead.push(it);
                continue;
            };
            let bits = it.ready_bits(&f, Some(c));
            if bits == 0 {
                continue;
            }
            let events = it.events.load(SeqCst);
            if events & EPOLLONESHOT != 0 {
                it.armed.store(false, SeqCst);
            } else if events & EPOLLET == 0 && !it.always {
                again.push(it.clone());
            }
            out.push((bits, *it.data.lock()));
            if out.len() >= max {
                break;
            }
        }
        // Not looked at (the caller's buffer is full): still candidates,
        // ahead of those just returned, so that ready files take turns
        // (Linux moves a returned level-triggered file to the tail).
        let rest: Vec<Arc<Item>> = all.filter(|it| !it.always).collect();
        for it in rest.into_iter().chain(again) {
            inner.push_ready(it);
        }
        if !dead.is_empty() {
            let mut items = inner.items.lock();
            for it in dead {
                items.retain(|_, x| !Arc::ptr_eq(x, &it));
                forget(inner, &it);
            }
        }
        out
    }

    /// Whether `collect` could find something now, without consuming.
    fn any_ready(&self, c: Option<&Caller>) -> bool {
        self.inner.harvest();
        self.inner
            .candidates()
            .iter()
            .any(|it| it.live() && it.file.upgrade().is_some_and(|f| it.ready_bits(&f, c) != 0))
    }

    /// Host fds to wait on in a host poll: the host epoll watching the
    /// interests' host fds, and any host fd it could not take.
    /// fdinfo's line for each interest: "tfd: FD events: EV data: DATA
    /// pos:POS ino:INO sdev:DEV", as Linux's ep_show_fdinfo.
    pub fn fdinfo(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        // A copy of the list: a file's stat takes its own locks, never
        // under the epoll's.
        let items: Vec<(i32, Arc<Item>)> = self
            .inner
            .items
            .lock()
            .iter()
            .map(|((fd, _), it)| (*fd, it.clone()))
            .collect();
        for (fd, it) in items {
            let Some(f) = it.file.upgrade() else {
                continue;
            };
            let st = f.ops.stat().unwrap_or_default();
            let sdev = super::attr::kernel_dev(st.dev);
            let _ = writeln!(
                s,
                "tfd: {fd:8} events: {:8x} data: {:16x}  pos:{} ino:{:x} sdev:{sdev:x}",
                it.events.load(std::sync::atomic::Ordering::Relaxed),
                *it.data.lock(),
                f.ops.position(&f),
                st.ino,
            );
        }
        s
    }

    pub fn host_fds(&self) -> Vec<(RawFd, i16)> {
        let mut v: Vec<(RawFd, i16)> = self
            .inner
            .always
            .lock()
            .iter()
            .filter(|it| it.live())
            .filter_map(|it| {
                let events = it.events.load(SeqCst);
                it.host_fd.map(|h| (h, (events & EVENT_BITS) as i16))
            })
            .collect();
        if let Some(w) = self.inner.host.lock().as_ref() {
            if !w.items.is_empty() {
                v.push((w.ep.as_raw_fd(), libc::POLLIN));
            }
        }
        v
    }

    /// The queue `epoll_wait` sleeps on.
    pub fn queue(&self) -> &Arc<WaitQueue> {
        &self.inner.wq
    }

    /// Number of interests.
    pub fn len(&self) -> usize {
        self.inner.items.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Takes an interest out for good: off its queues, the always-polled
/// list, and (if it is an epoll) its parents' list.
fn forget(inner: &Arc<Inner>, it: &Arc<Item>) {
    it.removed.store(true, SeqCst);
    it.unregister();
    if let Some(t) = it.host_token {
        let file = it.file.upgrade();
        let mut h = inner.host.lock();
        if let Some(w) = h.as_mut() {
            w.items.remove(&t);
            // A closed file's fd left the host epoll with it (and its
            // number may be another file's now): only a live one is taken
            // out.
            if let (Some(_f), Some(fd)) = (&file, it.host_fd) {
                // SAFETY: `_f` holds the file, so its fd stays open.
                let _ = epoll::delete(&w.ep, unsafe { BorrowedFd::borrow_raw(fd) });
            }
        }
    }
    if it.always {
        inner.always.lock().retain(|x| !Arc::ptr_eq(x, it));
    }
    if let Some(f) = it.file.upgrade() {
        if let Some(e) = f.downcast::<Epoll>() {
            let mut p = e.inner.parents.lock();
            if let Some(i) = p
                .iter()
                .position(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(inner)))
            {
                p.swap_remove(i);
            }
        }
    }
}

/// Drops interests whose files were closed, once the list has doubled
/// since the last sweep, so adding and closing without EPOLL_CTL_DEL
/// cannot grow the list without bound.
fn sweep(inner: &Arc<Inner>, items: &mut BTreeMap<Key, Arc<Item>>) {
    let mut at = inner.swept_at.lock();
    if items.len() < 64 || items.len() < *at * 2 {
        return;
    }
    let dead: Vec<Key> = items
        .iter()
        .filter(|(_, it)| it.file.strong_count() == 0)
        .map(|(k, _)| *k)
        .collect();
    for k in dead {
        if let Some(it) = items.remove(&k) {
            forget(inner, &it);
        }
    }
    *at = items.len();
}

impl Drop for Epoll {
    fn drop(&mut self) {
        let items = std::mem::take(&mut *self.inner.items.lock());
        for it in items.values() {
            forget(&self.inner, it);
        }
        self.inner.ready.lock().clear();
    }
}

impl FileOps for Epoll {
    fn has_fasync(&self) -> bool {
        false
    }
    fn read(&self, _f: &File, _b: &mut [u8], _o: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _f: &File, _b: &[u8], _o: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(super::synth::anon_stat())
    }
    fn poll(&self, events: i16) -> i16 {
        if self.any_ready(None) {
            events & libc::POLLIN
        } else {
            0
        }
    }
    fn poll_for(&self, c: &Caller, events: i16) -> i16 {
        if self.any_ready(Some(c)) {
            events & libc::POLLIN
        } else {
            0
        }
    }
    fn wait_queues(&self, _c: &Caller, ev: Events) -> Queues {
        Queues::from_iter([(self.inner.wq.clone(), ev)])
    }
    /// The host epoll, so that an epoll this one is in (or a poll of it)
    /// also wakes for its host fds.
    fn host_fd(&self) -> Option<RawFd> {
        self.inner.host_ep()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
// Small test indices and fds.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]
mod tests {
    use super::*;
    use crate::fs::pipe::new_pipe;

    fn file(ops: impl FileOps) -> Arc<File> {
        File::new(Box::new(ops), libc::O_RDWR, b"t".to_vec())
    }

    fn epoll() -> Arc<File> {
        file(Epoll::default())
    }

    fn ep(f: &Arc<File>) -> &Epoll {
        f.downcast::<Epoll>().unwrap()
    }

    /// A caller for tests: no tasks exist, which only signalfd looks at.
    fn with_caller<R>(f: impl FnOnce(&Caller) -> R) -> R {
        let st = crate::kernel::KState::default();
        let vfs = crate::fs::vfs::Vfs::for_tests();
        f(&Caller::new(&st, 0, &vfs))
    }

    #[test]
    fn ready_list_holds_only_what_was_notified() {
        with_caller(|c| {
            let e = epoll();
            let mut ends = Vec::new();
            for i in 0..100 {
                let (r, w) = new_pipe();
                let r = file(r);
                ep(&e)
                    .add(c, i, &r, libc::EPOLLIN as u32, i as u64)
                    .unwrap();
                ends.push((r, file(w)));
            }
            // The first wait polls every new interest once, then none.
            assert!(ep(&e).collect(c, 10).is_empty());
            assert!(e.downcast::<Epoll>().unwrap().inner.ready.lock().is_empty());
            ends[42].1.ops.write(&ends[42].1, b"x", None).unwrap();
            assert_eq!(ep(&e).inner.ready.lock().len(), 1);
            assert_eq!(ep(&e).collect(c, 10), vec![(libc::EPOLLIN as u32, 42)]);
            // Level-triggered: still there while data is.
            assert_eq!(ep(&e).collect(c, 10).len(), 1);
            let mut b = [0u8; 1];
            ends[42].0.ops.read(&ends[42].0, &mut b, None).unwrap();
            assert!(ep(&e).collect(c, 10).is_empty());
            assert!(ep(&e).inner.ready.lock().is_empty());
        });
    }

    #[test]
    fn edge_triggered_reports_once_per_notification() {
        with_caller(|c| {
            let e = epoll();
            let (r, w) = new_pipe();
            let (r, w) = (file(r), file(w));
            ep(&e)
                .add(c, 3, &r, libc::EPOLLIN as u32 | EPOLLET, 7)
                .unwrap();
            w.ops.write(&w, b"a", None).unwrap();
            assert_eq!(ep(&e).collect(c, 4).len(), 1);
            assert!(ep(&e).collect(c, 4).is_empty());
            w.ops.write(&w, b"b", None).unwrap();
            assert_eq!(ep(&e).collect(c, 4).len(), 1);
        });
    }

    #[test]
    fn one_shot_disarms_until_modified() {
        with_caller(|c| {
            let e = epoll();
            let (r, w) = new_pipe();
            let (r, w) = (file(r), file(w));
            let ev = libc::EPOLLIN as u32 | EPOLLONESHOT;
            ep(&e).add(c, 3, &r, ev, 7).unwrap();
            w.ops.write(&w, b"a", None).unwrap();
            assert_eq!(ep(&e).collect(c, 4).len(), 1);
            w.ops.write(&w, b"b", None).unwrap();
            assert!(ep(&e).collect(c, 4).is_empty());
            ep(&e).modify(3, &r, ev, 8).unwrap();
            assert_eq!(ep(&e).collect(c, 4), vec![(libc::EPOLLIN as u32, 8)]);
        });
    }

    #[test]
    fn full_buffer_leaves_the_rest_ready() {
        with_caller(|c| {
            let e = epoll();
            let mut keep = Vec::new();
            for i in 0..5 {
                let (r, w) = new_pipe();
                let (r, w) = (file(r), file(w));
                ep(&e)
                    .add(c, i, &r, libc::EPOLLIN as u32 | EPOLLET, i as u64)
                    .unwrap();
                w.ops.write(&w, b"x", None).unwrap();
                keep.push((r, w));
            }
            let first = ep(&e).collect(c, 2);
            let rest = ep(&e).collect(c, 10);
            assert_eq!(first.len() + rest.len(), 5);
            assert_eq!(rest.len(), 3);
        });
    }

    #[test]
    fn closed_files_leave_queues_and_list() {
        with_caller(|c| {
            let e = epoll();
            let (r, w) = new_pipe();
            let (r, w) = (file(r), file(w));
            let q = match r.downcast::<crate::fs::pipe::PipeEnd>() {
                Some(p) => p.pipe().queue().clone(),
                None => unreachable!(),
            };
            ep(&e).add(c, 3, &r, libc::EPOLLIN as u32, 0).unwrap();
            assert_eq!(q.len(), 1);
            // The reader's close notifies the pipe's queue (EPIPE here).
            drop(r);
            assert_eq!(w.ops.write(&w, b"x", None), Err(Errno::EPIPE));
            assert!(ep(&e).collect(c, 4).is_empty());
            assert_eq!(q.len(), 0);
            assert_eq!(ep(&e).len(), 0);
            // Closing the epoll takes its interests off every queue.
            let (r2, _w2) = new_pipe();
            let r2 = file(r2);
            ep(&e).add(c, 4, &r2, libc::EPOLLIN as u32, 0).unwrap();
            let q2 = r2
                .downcast::<crate::fs::pipe::PipeEnd>()
                .unwrap()
                .pipe()
                .queue()
                .clone();
            assert_eq!(q2.len(), 1);
            drop(e);
            assert_eq!(q2.len(), 0);
        });
    }

    #[test]
    fn adding_and_closing_without_delete_stays_bounded() {
        with_caller(|c| {
            let e = epoll();
            for i in 0..10_000 {
                let (r, _w) = new_pipe();
                let r = file(r);
                ep(&e).add(c, i, &r, libc::EPOLLIN as u32, 0).unwrap();
            }
            assert!(ep(&e).len() < 200, "{}", ep(&e).len());
        });
    }

    #[test]
    fn nesting_is_bounded_and_acyclic() {
        with_caller(|c| {
            let ev = libc::EPOLLIN as u32;
            // A chain of MAX_CHAIN, grown downwards, refuses one more.
            let chain: Vec<Arc<File>> = (0..=MAX_CHAIN).map(|_| epoll()).collect();
            for i in 1..MAX_CHAIN {
                ep(&chain[i - 1])
                    .add(c, i as i32, &chain[i], ev, 0)
                    .unwrap();
            }
            let last = &chain[MAX_CHAIN];
            assert_eq!(
                ep(&chain[MAX_CHAIN - 1]).add(c, 9, last, ev, 0),
                Err(Errno::ELOOP)
            );
            // ... and grown upwards.
            assert_eq!(ep(last).add(c, 9, &chain[0], ev, 0), Err(Errno::ELOOP));
            // Cycles.
            assert_eq!(
                ep(&chain[MAX_CHAIN - 1]).add(c, 9, &chain[0], ev, 0),
                Err(Errno::ELOOP)
            );
            // After a delete, the chain is short enough again.
            ep(&chain[0]).delete(1, &chain[1]).unwrap();
            ep(last).add(c, 9, &chain[0], ev, 0).unwrap();
        });
    }

    #[test]
    fn readiness_climbs_the_chain() {
        with_caller(|c| {
            let ev = libc::EPOLLIN as u32;
            let (a, b) = (epoll(), epoll());
            let (r, w) = new_pipe();
            let (r, w) = (file(r), file(w));
            ep(&a).add(c, 3, &r, ev, 1).unwrap();
            ep(&b).add(c, 4, &a, ev, 2).unwrap();
            let top = epoll();
            ep(&top).add(c, 5, &b, ev, 3).unwrap();
            assert!(ep(&top).collect(c, 4).is_empty());
            w.ops.write(&w, b"x", None).unwrap();
            assert_eq!(ep(&top).collect(c, 4), vec![(libc::EPOLLIN as u32, 3)]);
            assert_eq!(ep(&b).collect(c, 4), vec![(libc::EPOLLIN as u32, 2)]);
        });
    }

    /// A host pipe's read end, by level and by edge, and inside a second
    /// epoll: every write is an edge (even onto unread data), a level
    /// interest stays ready until drained, and closing the file takes
    /// it out of the host epoll.
    #[test]
    fn host_fds_are_watched_by_edges() {
        use rustix::pipe::{pipe_with, PipeFlags};
        let (r, w) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).unwrap();
        let hf = file(crate::fs::host::HostFile::new(r));
        let et = epoll();
        let lt = epoll();
        let top = epoll();
        let inb = libc::EPOLLIN as u32;
        with_caller(|c| {
            ep(&et).add(c, 3, &hf, inb | EPOLLET, 1).unwrap();
            ep(&lt).add(c, 3, &hf, inb, 2).unwrap();
            ep(&top).add(c, 4, &et, inb, 9).unwrap();
            assert!(ep(&et).host_fds().iter().any(|&(_, e)| e == libc::POLLIN));
            assert_eq!(ep(&et).collect(c, 4), vec![]);
            assert_eq!(ep(&top).collect(c, 4), vec![]);
            rustix::io::write(&w, b"a").unwrap();
            assert_eq!(ep(&et).collect(c, 4), vec![(inb, 1)]);
            assert_eq!(ep(&et).collect(c, 4), vec![]);
            assert_eq!(ep(&lt).collect(c, 4), vec![(inb, 2)]);
            assert_eq!(ep(&lt).collect(c, 4), vec![(inb, 2)]);
            rustix::io::write(&w, b"b").unwrap();
            // The nested epoll's host epoll wakes the outer one.
            assert_eq!(ep(&top).collect(c, 4), vec![(inb, 9)]);
            assert_eq!(ep(&et).collect(c, 4), vec![(inb, 1)]);
            let mut buf = [0u8; 8];
            assert_eq!(hf.ops.read(&hf, &mut buf, None), Ok(2));
            assert_eq!(ep(&lt).collect(c, 4), vec![]);
            let watched = |e: &Arc<File>| {
                ep(e)
                    .inner
                    .host
                    .lock()
                    .as_ref()
                    .map_or(0, |w| w.items.len())
            };
            assert_eq!(watched(&lt), 1);
            ep(&lt).delete(3, &hf).unwrap();
            assert_eq!(watched(&lt), 0);
        });
    }
}
