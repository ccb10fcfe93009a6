//! inotify for changes made inside the sandbox. Watches name canonical
//! paths; the syscall layer reports each change with the path it touched
//! (and the directory that holds it), and every instance with a matching
//! watch queues an event. Host-side changes under a writable root are not
//! seen.

use super::file::{File, FileOps};
use crate::errno::{Errno, KResult};
use crate::fs::Stat;
use crate::kernel::waitq::{Events, Queues, WaitQueue, EV_IN};
use parking_lot::Mutex;
use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

pub const IN_ACCESS: u32 = 0x1;
pub const IN_MODIFY: u32 = 0x2;
pub const IN_ATTRIB: u32 = 0x4;
pub const IN_CLOSE_WRITE: u32 = 0x8;
pub const IN_CLOSE_NOWRITE: u32 = 0x10;
pub const IN_OPEN: u32 = 0x20;
pub const IN_MOVED_FROM: u32 = 0x40;
pub const IN_MOVED_TO: u32 = 0x80;
pub const IN_CREATE: u32 = 0x100;
pub const IN_DELETE: u32 = 0x200;
pub const IN_DELETE_SELF: u32 = 0x400;
pub const IN_MOVE_SELF: u32 = 0x800;
pub const IN_Q_OVERFLOW: u32 = 0x4000;
pub const IN_IGNORED: u32 = 0x8000;
pub const IN_ONLYDIR: u32 = 0x0100_0000;
pub const IN_DONT_FOLLOW: u32 = 0x0200_0000;
pub const IN_EXCL_UNLINK: u32 = 0x0400_0000;
pub const IN_MASK_CREATE: u32 = 0x1000_0000;
pub const IN_MASK_ADD: u32 = 0x2000_0000;
pub const IN_ISDIR: u32 = 0x4000_0000;
pub const IN_ONESHOT: u32 = 0x8000_0000;
pub const ALL_EVENTS: u32 = 0xfff;

/// Events a watch on a directory hears about its children.
const CHILD_EVENTS: u32 = IN_ACCESS
    | IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_CLOSE_NOWRITE
    | IN_OPEN
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE;
/// Events only the object itself reports.
const SELF_ONLY: u32 = IN_DELETE_SELF | IN_MOVE_SELF;
/// Events about a name, which only the directory holding it reports.
const DIR_ONLY: u32 = IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE;
const MAX_QUEUED: usize = 16384;

struct Watch {
    path: Vec<u8>,
    /// (dev, ino) of what was watched, so adding it again finds it.
    id: (u64, u64),
    mask: u32,
}

#[derive(Default)]
struct Inner {
    watches: BTreeMap<i32, Watch>,
    next_wd: i32,
    events: VecDeque<Vec<u8>>,
    overflowed: bool,
}

/// One inotify instance.
pub struct Inotify {
    inner: Mutex<Inner>,
    wq: Arc<WaitQueue>,
}

fn encode(wd: i32, mask: u32, cookie: u32, name: &[u8]) -> Vec<u8> {
    let len = if name.is_empty() {
        0
    } else {
        (name.len() + 1).div_ceil(16) * 16
    };
    let mut e = Vec::with_capacity(16 + len);
    e.extend_from_slice(&wd.to_ne_bytes());
    e.extend_from_slice(&mask.to_ne_bytes());
    e.extend_from_slice(&cookie.to_ne_bytes());
    e.extend_from_slice(&crate::num::len_u32(len).to_ne_bytes());
    e.extend_from_slice(name);
    e.resize(16 + len, 0);
    e
}

impl Inner {
    fn push(&mut self, ev: Vec<u8>) {
        if self.events.back() == Some(&ev) {
            return;
        }
        if self.events.len() >= MAX_QUEUED {
            if !self.overflowed {
                self.overflowed = true;
                self.events.push_back(encode(-1, IN_Q_OVERFLOW, 0, b""));
            }
            return;
        }
        self.events.push_back(ev);
    }

    fn drop_watch(&mut self, wd: i32) {
        if self.watches.remove(&wd).is_some() {
            self.push(encode(wd, IN_IGNORED, 0, b""));
        }
    }
}

impl Inotify {
    /// fdinfo's line for each watch, as Linux's inotify_fdinfo prints it
    /// for a filesystem without file handles.
    pub fn fdinfo(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        for (wd, w) in &self.inner.lock().watches {
            let sdev = super::attr::kernel_dev(w.id.0);
            let _ = writeln!(
                s,
                "inotify wd:{wd:x} ino:{:x} sdev:{sdev:x} mask:{:x} ignored_mask:0",
                w.id.1, w.mask
            );
        }
        s
    }

    fn changed(&self) {
        self.wq.notify(EV_IN);
    }

    /// Drops the queued events; whether there were any (dnotify).
    pub fn take_events(&self) -> bool {
        let mut inner = self.inner.lock();
        let any = !inner.events.is_empty();
        inner.events.clear();
        any
    }

    /// inotify_add_watch: returns the watch descriptor.
    pub fn add_watch(&self, path: &[u8], st: &Stat, mask: u32) -> KResult<i32> {
        let mut inner = self.inner.lock();
        let id = (st.dev, st.ino);
        let events = mask & (ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK);
        if let Some((&wd, w)) = inner.watches.iter_mut().find(|(_, w)| w.id == id) {
            if mask & IN_MASK_CREATE != 0 {
                return Err(Errno::EEXIST);
            }
            w.mask = if mask & IN_MASK_ADD != 0 {
                w.mask | events
            } else {
                events
            };
            w.path = path.to_vec();
            return Ok(wd);
        }
        inner.next_wd += 1;
        let wd = inner.next_wd;
        inner.watches.insert(
            wd,
            Watch {
                path: path.to_vec(),
                id,
                mask: events,
            },
        );
        Ok(wd)
    }

    pub fn rm_watch(&self, wd: i32) -> KResult<()> {
        let mut inner = self.inner.lock();
        if !inner.watches.contains_key(&wd) {
            return Err(Errno::EINVAL);
        }
        inner.drop_watch(wd);
        drop(inner);
        self.changed();
        Ok(())
    }

    fn deliver(&self, ev: &Event) -> bool {
        let mut inner = self.inner.lock();
        let mut hits = Vec::new();
        for (&wd, w) in &inner.watches {
            let want = w.mask & ev.mask;
            if want == 0 {
                continue;
            }
            if (w.path == ev.path || ev.id == Some(w.id)) && ev.mask & DIR_ONLY == 0 {
                hits.push((wd, b"".as_slice(), w.mask & IN_ONESHOT != 0));
            } else if ev.mask & SELF_ONLY == 0
                && !ev.self_only
                && ev.mask & CHILD_EVENTS != 0
                && parent(ev.path) == Some(w.path.as_slice())
            {
                hits.push((wd, basename(ev.path), w.mask & IN_ONESHOT != 0));
            }
        }
        if hits.is_empty() {
            return false;
        }
        let dir = if ev.is_dir { IN_ISDIR } else { 0 };
        for (wd, name, oneshot) in hits {
            let mask = ev.mask | if ev.mask & SELF_ONLY == 0 { dir } else { 0 };
            inner.push(encode(wd, mask, ev.cookie, name));
            if oneshot || ev.mask & IN_DELETE_SELF != 0 && name.is_empty() {
                inner.drop_watch(wd);
            }
        }
        true
    }

    /// Drops (with IN_IGNORED) the watches of the object at `path`.
    fn forget(&self, path: &[u8]) {
        let mut inner = self.inner.lock();
        let gone: Vec<i32> = inner
            .watches
            .iter()
            .filter(|(_, w)| w.path == path)
            .map(|(&wd, _)| wd)
            .collect();
        for wd in &gone {
            inner.drop_watch(*wd);
        }
        drop(inner);
        if !gone.is_empty() {
            self.changed();
        }
    }

    /// A rename moved `from` to `to`: watches follow what they watch.
    fn moved(&self, from: &[u8], to: &[u8]) {
        for w in self.inner.lock().watches.values_mut() {
            if let Some(p) = rebased(&w.path, from, to) {
                w.path = p;
            }
        }
    }

    /// RENAME_EXCHANGE swapped `a` and `b`.
    fn swapped(&self, a: &[u8], b: &[u8]) {
        for w in self.inner.lock().watches.values_mut() {
            if let Some(p) = rebased(&w.path, a, b).or_else(|| rebased(&w.path, b, a)) {
                w.path = p;
            }
        }
    }
}

/// `path` moved from under `from` to under `to`, if it was there.
fn rebased(path: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    if path == from {
        return Some(to.to_vec());
    }
    if path.starts_with(from) && path.get(from.len()) == Some(&b'/') {
        return Some([to, &path[from.len()..]].concat());
    }
    None
}

fn parent(path: &[u8]) -> Option<&[u8]> {
    match path.iter().rposition(|&b| b == b'/')? {
        0 if path.len() > 1 => Some(b"/"),
        0 => None,
        i => Some(&path[..i]),
    }
}

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// A change to report.
pub struct Event<'a> {
    /// Canonical path of the object the change is about.
    pub path: &'a [u8],
    pub mask: u32,
    pub cookie: u32,
    pub is_dir: bool,
    /// Not reported to the watch of the containing directory (the link
    /// count change of an unlink).
    pub self_only: bool,
    /// (dev, ino) of the object, so a watch made through another hard
    /// link hears about it too.
    pub id: Option<(u64, u64)>,
}

/// Every inotify instance that has watches.
#[derive(Default)]
pub struct Registry {
    live: Mutex<Vec<Weak<Inotify>>>,
    /// Instances registered: zero means nothing to do on any change.
    count: AtomicUsize,
    cookie: AtomicU32,
    /// fcntl(F_NOTIFY) registrations, each an instance here too.
    pub dnotify: super::dnotify::Dnotify,
}

impl Registry {
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// A new instance, registered.
    pub fn create(&self) -> Arc<Inotify> {
        let i = Arc::new(Inotify {
            inner: Mutex::new(Inner::default()),
            wq: WaitQueue::new(),
        });
        let mut live = self.live.lock();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&i));
        self.count.store(live.len(), Ordering::Relaxed);
        i
    }

    fn each(&self, mut f: impl FnMut(&Inotify)) {
        let live: Vec<Arc<Inotify>> = {
            let mut l = self.live.lock();
            l.retain(|w| w.strong_count() > 0);
            self.count.store(l.len(), Ordering::Relaxed);
            l.iter().filter_map(Weak::upgrade).collect()
        };
        for i in live {
            f(&i);
        }
    }

    /// Reports `mask` on the object at canonical `path`, and to the watch
    /// of its directory.
    pub fn note(&self, path: &[u8], mask: u32, is_dir: bool) {
        self.emit(path, mask, is_dir, false, None);
    }

    /// `note`, and also to watches of the same object (`st`) made through
    /// another of its names.
    pub fn note_object(&self, path: &[u8], mask: u32, st: Option<Stat>) {
        let is_dir = st.is_some_and(|s| s.is_dir());
        self.emit(path, mask, is_dir, false, st.map(|s| (s.dev, s.ino)));
    }

    /// Reports `mask` to watches of the object itself only, found by path
    /// or by its identity in `st` (another hard link).
    pub fn note_self(&self, path: &[u8], mask: u32, st: Option<Stat>) {
        let is_dir = st.is_some_and(|s| s.is_dir());
        self.emit(path, mask, is_dir, true, st.map(|s| (s.dev, s.ino)));
    }

    fn emit(&self, path: &[u8], mask: u32, is_dir: bool, self_only: bool, id: Option<(u64, u64)>) {
        if !self.active() || !path.starts_with(b"/") {
            return;
        }
        self.notify(Event {
            path,
            mask,
            cookie: 0,
            is_dir,
            self_only,
            id,
        });
    }

    pub fn notify(&self, ev: Event) {
        if !self.active() {
            return;
        }
        self.each(|i| {
            if i.deliver(&ev) {
                i.changed();
            }
        });
        self.dnotify.check();
    }

    /// RENAME_EXCHANGE of `a` and `b`: a move each way (its own cookie
    /// and MOVE_SELF), then watches follow.
    pub fn exchange(&self, a: &[u8], b: &[u8], a_dir: bool, b_dir: bool) {
        if !self.active() {
            return;
        }
        for (from, to, is_dir) in [(a, b, a_dir), (b, a, b_dir)] {
            self.moved(from, to, is_dir);
        }
        self.each(|i| i.swapped(a, b));
    }

    /// One object moved: MOVED_FROM and MOVED_TO sharing a new cookie,
    /// then MOVE_SELF.
    fn moved(&self, from: &[u8], to: &[u8], is_dir: bool) {
        let cookie = self.cookie.fetch_add(1, Ordering::Relaxed) + 1;
        for (path, mask) in [(from, IN_MOVED_FROM), (to, IN_MOVED_TO)] {
            self.notify(Event {
                path,
                mask,
                cookie,
                is_dir,
                self_only: false,
                id: None,
            });
        }
        self.notify(Event {
            path: from,
            mask: IN_MOVE_SELF,
            cookie: 0,
            is_dir,
            self_only: true,
            id: None,
        });
    }

    /// A rename: MOVED_FROM and MOVED_TO sharing a cookie, MOVE_SELF, and
    /// watches following the move. What it `replaced` at `to` loses its
    /// link (ATTRIB) and goes (DELETE_SELF, then IGNORED, its watches
    /// dropped) before the moved object's watches take its name.
    pub fn rename(&self, from: &[u8], to: &[u8], is_dir: bool, replaced: Option<Stat>) {
        if !self.active() {
            return;
        }
        let victim = |mask| Event {
            path: to,
            mask,
            cookie: 0,
            is_dir: replaced.is_some_and(|v| v.is_dir()),
            self_only: true,
            id: replaced.map(|v| (v.dev, v.ino)),
        };
        if replaced.is_some() {
            self.notify(victim(IN_ATTRIB));
        }
        self.moved(from, to, is_dir);
        if replaced.is_some() {
            self.notify(victim(IN_DELETE_SELF));
            // Watches the victim had by path and not by identity.
            self.each(|i| i.forget(to));
        }
        self.each(|i| i.moved(from, to));
    }
}

/// The file an inotify fd refers to.
pub struct InotifyFile {
    pub ino: Arc<Inotify>,
}

impl FileOps for InotifyFile {
    fn empty_read_asks(&self) -> bool {
        true
    }
    fn read(&self, _f: &File, buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        let mut inner = self.ino.inner.lock();
        let Some(first) = inner.events.front() else {
            return Err(Errno::EAGAIN);
        };
        if first.len() > buf.len() {
            return Err(Errno::EINVAL);
        }
        let mut n = 0;
        while let Some(e) = inner.events.front() {
            if n + e.len() > buf.len() {
                break;
            }
            buf[n..n + e.len()].copy_from_slice(e);
            n += e.len();
            inner.events.pop_front();
        }
        if inner.events.is_empty() {
            inner.overflowed = false;
        }
        Ok(n)
    }
    fn write(&self, _f: &File, _buf: &[u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(super::synth::anon_stat())
    }
    fn poll(&self, events: i16) -> i16 {
        if self.ino.inner.lock().events.is_empty() {
            0
        } else {
            events & libc::POLLIN
        }
    }
    fn wait_queues(&self, _c: &super::vfs::Caller, ev: Events) -> Queues {
        Queues::from_iter([(self.ino.wq.clone(), ev)])
    }
    fn ioctl(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        _f: &std::sync::Arc<File>,
        cmd: u64,
        arg: u64,
    ) -> KResult<u64> {
        let mm = &*cx.mm;
        if cmd as libc::c_ulong != libc::FIONREAD {
            return Err(Errno::ENOTTY);
        }
        let n: usize = self.ino.inner.lock().events.iter().map(Vec::len).sum();
        crate::mm::write_obj(mm, arg, &crate::num::saturating_i32(n))?;
        Ok(0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
