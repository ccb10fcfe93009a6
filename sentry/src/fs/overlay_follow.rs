//! A lower file open for reading in an overlay follows its copy-up. When
//! another open (for writing, or a chmod) copies the file to the upper
//! layer, the reader's later reads, stat, seeks and new mappings see the
//! copy, as on Linux's overlayfs since 4.19. Without this a `tail -f` of
//! an image's log file never saw what was appended, and a flock on it did
//! not meet a flock taken after the copy-up.

use super::file::{File, FileOps};
use crate::errno::KResult;
use crate::fs::{DirEntry, Stat};
use crate::kernel::waitq::{Events, Queues};
use crate::kernel::Ctx;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

/// Where a copy-up finds the open lower files of a path.
#[derive(Default)]
pub struct Followers {
    open: Mutex<HashMap<Vec<u8>, Vec<Weak<Slot>>>>,
}

/// The upper copy of one open lower file, once there is one.
#[derive(Default)]
pub struct Slot {
    upper: OnceLock<Box<dyn FileOps>>,
}

impl Followers {
    /// Wraps `lower`, a regular file at `rel` opened for reading, so that
    /// it follows a copy-up of `rel`.
    pub fn follow(self: &Arc<Self>, lower: Box<dyn FileOps>, rel: &[u8]) -> Box<dyn FileOps> {
        let slot = Arc::new(Slot::default());
        self.open
            .lock()
            .entry(rel.to_vec())
            .or_default()
            .push(Arc::downgrade(&slot));
        Box::new(LowerFile {
            lower,
            slot,
            followers: self.clone(),
            rel: rel.to_vec(),
            moved: AtomicBool::new(false),
            move_lock: Mutex::new(()),
        })
    }

    /// `rel` was copied up: each of its open lower files gets its own
    /// read-only open of the copy from `open`. A file that cannot have one
    /// keeps reading the lower file.
    pub fn copied_up(&self, rel: &[u8], open: impl Fn() -> KResult<Box<dyn FileOps>>) {
        let Some(slots) = self.open.lock().remove(rel) else {
            return;
        };
        for s in slots.iter().filter_map(Weak::upgrade) {
            if let Ok(up) = open() {
                let _ = s.upper.set(up);
            }
        }
    }

    fn forget(&self, rel: &[u8], slot: &Arc<Slot>) {
        let mut open = self.open.lock();
        if let Some(v) = open.get_mut(rel) {
            v.retain(|w| w.upgrade().is_some_and(|s| !Arc::ptr_eq(&s, slot)));
            if v.is_empty() {
                open.remove(rel);
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.open.lock().values().map(Vec::len).sum()
    }
}

struct LowerFile {
    lower: Box<dyn FileOps>,
    slot: Arc<Slot>,
    followers: Arc<Followers>,
    rel: Vec<u8>,
    /// The open file's position was carried over to the copy (the lower
    /// file may keep it in its host fd).
    moved: AtomicBool,
    move_lock: Mutex<()>,
}

impl Drop for LowerFile {
    fn drop(&mut self) {
        if self.slot.upper.get().is_none() {
            self.followers.forget(&self.rel, &self.slot);
        }
    }
}

impl LowerFile {
    /// The file for calls that do not use the position.
    fn cur(&self) -> &dyn FileOps {
        match self.slot.upper.get() {
            Some(up) => up.as_ref(),
            None => self.lower.as_ref(),
        }
    }

    /// The file for calls on `f` that may use its position.
    fn cur_at(&self, f: &File) -> &dyn FileOps {
        let Some(up) = self.slot.upper.get() else {
            return self.lower.as_ref();
        };
        if !self.moved.load(Ordering::Acquire) {
            let _g = self.move_lock.lock();
            if !self.moved.load(Ordering::Acquire) {
                let pos = self.lower.position(f);
                *f.pos.lock() = pos;
                self.moved.store(true, Ordering::Release);
            }
        }
        up.as_ref()
    }
}

impl FileOps for LowerFile {
    fn read(&self, f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        self.cur_at(f).read(f, buf, off)
    }
    fn write(&self, f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        self.cur_at(f).write(f, buf, off)
    }
    fn read_iov(&self, f: &File, iov: &[libc::iovec], off: Option<u64>) -> Option<KResult<usize>> {
        self.cur_at(f).read_iov(f, iov, off)
    }
    fn write_iov(&self, f: &File, iov: &[libc::iovec], off: Option<u64>) -> Option<KResult<usize>> {
        self.cur_at(f).write_iov(f, iov, off)
    }
    fn stat(&self) -> KResult<Stat> {
        self.cur().stat()
    }
    fn position(&self, f: &File) -> u64 {
        self.cur_at(f).position(f)
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        self.cur_at(f).seek(f, off, whence)
    }
    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        self.cur().readdir()
    }
    fn poll(&self, events: i16) -> i16 {
        self.cur().poll(events)
    }
    fn wait_queues(&self, c: &super::vfs::Caller, ev: Events) -> Queues {
        self.cur().wait_queues(c, ev)
    }
    fn host_fd(&self) -> Option<RawFd> {
        self.cur().host_fd()
    }
    fn mappable_fd(&self) -> Option<Arc<OwnedFd>> {
        self.cur().mappable_fd()
    }
    fn shared_map(&self, writable: bool) -> Option<super::file::SharedMap> {
        self.cur().shared_map(writable)
    }
    fn reopen(&self, flags: i32) -> Option<KResult<Box<dyn FileOps>>> {
        self.cur().reopen(flags)
    }
    fn writably_mapped(&self) -> bool {
        self.cur().writably_mapped()
    }
    fn ioctl(&self, cx: &mut Ctx<'_, '_>, f: &Arc<File>, cmd: u64, arg: u64) -> KResult<u64> {
        self.cur_at(f).ioctl(cx, f, cmd, arg)
    }
    fn opened(&self, cx: &mut Ctx<'_, '_>, f: &File, flags: i32) -> KResult<()> {
        self.lower.opened(cx, f, flags)
    }
    fn truncate(&self, len: u64) -> KResult<()> {
        self.cur().truncate(len)
    }
    fn setattr(&self, attr: &super::vfs::SetAttr) -> KResult<()> {
        self.cur().setattr(attr)
    }
    fn fallocate(&self, mode: i32, off: u64, len: u64) -> KResult<()> {
        self.cur().fallocate(mode, off, len)
    }
    fn sync(&self) -> KResult<()> {
        self.cur().sync()
    }
    fn lockless(&self) -> bool {
        self.cur().lockless()
    }
    fn unlinked(&self) -> bool {
        self.cur().unlinked()
    }
    fn seals(&self) -> Option<&std::sync::atomic::AtomicU32> {
        self.cur().seals()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::Errno;

    /// A file that only says which layer it is, by its size.
    struct Layer(i64);
    impl FileOps for Layer {
        fn stat(&self) -> KResult<Stat> {
            Ok(Stat {
                size: self.0,
                ..Default::default()
            })
        }
        fn read(&self, _f: &File, buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
            buf[0] = u8::try_from(self.0).unwrap_or(0);
            Ok(1)
        }
        fn position(&self, _f: &File) -> u64 {
            // The lower layer keeps its position elsewhere (a host fd).
            7
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    #[test]
    fn an_open_lower_file_follows_its_copy_up_only() {
        let fl = Arc::new(Followers::default());
        let a = File::new(
            fl.follow(Box::new(Layer(1)), b"a"),
            libc::O_RDONLY,
            Vec::new(),
        );
        let other = File::new(
            fl.follow(Box::new(Layer(1)), b"b"),
            libc::O_RDONLY,
            Vec::new(),
        );
        assert_eq!(fl.tracked(), 2);
        let mut b = [0u8; 1];
        a.ops.read(&a, &mut b, None).unwrap();
        assert_eq!(b[0], 1);
        fl.copied_up(b"a", || Ok(Box::new(Layer(2))));
        assert_eq!(a.ops.stat().unwrap().size, 2);
        a.ops.read(&a, &mut b, None).unwrap();
        assert_eq!(b[0], 2);
        // The copy reads on from where the lower file was.
        assert_eq!(*a.pos.lock(), 7);
        assert_eq!(other.ops.stat().unwrap().size, 1);
        // A failed open of the copy leaves the lower file in place.
        fl.copied_up(b"b", || Err(Errno::ENOMEM));
        assert_eq!(other.ops.stat().unwrap().size, 1);
        drop(other);
        drop(a);
        assert_eq!(fl.tracked(), 0);
    }

    #[test]
    fn closed_files_are_forgotten() {
        let fl = Arc::new(Followers::default());
        let keep = fl.follow(Box::new(Layer(1)), b"x");
        for _ in 0..100 {
            drop(fl.follow(Box::new(Layer(1)), b"x"));
        }
        assert_eq!(fl.tracked(), 1);
        drop(keep);
        assert_eq!(fl.tracked(), 0);
    }
}
