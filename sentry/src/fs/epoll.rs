//! epoll: interest lists over the files' readiness. Level-triggered
//! interests report while a file is ready; edge-triggered ones report when
//! the file's readiness generation (or its ready bits) changed since the
//! last report; EPOLLONESHOT disarms an interest after one report.

use super::file::{File, FileOps};
use crate::errno::{Errno, KResult};
use gofer::FileStat;
use parking_lot::Mutex;
use std::any::Any;
use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::sync::{Arc, Weak};

pub const EPOLLET: u32 = 1 << 31;
pub const EPOLLONESHOT: u32 = 1 << 30;
/// Bits that select readiness (the rest are flags).
const EVENT_BITS: u32 = 0x3fff;

struct Interest {
    file: Weak<File>,
    events: u32,
    data: u64,
    last_gen: u64,
    last_bits: u32,
    armed: bool,
}

#[derive(Default)]
pub struct Epoll {
    /// Keyed by (fd, open file description), as Linux keys them.
    items: Mutex<BTreeMap<(i32, usize), Interest>>,
}

impl Epoll {
    pub fn add(&self, fd: i32, f: &Arc<File>, events: u32, data: u64) -> KResult<()> {
        let mut items = self.items.lock();
        let key = (fd, Arc::as_ptr(f) as usize);
        if items.contains_key(&key) {
            return Err(Errno::EEXIST);
        }
        items.insert(
            key,
            Interest {
                file: Arc::downgrade(f),
                events,
                data,
                last_gen: 0,
                last_bits: 0,
                armed: true,
            },
        );
        Ok(())
    }

    pub fn modify(&self, fd: i32, f: &Arc<File>, events: u32, data: u64) -> KResult<()> {
        let mut items = self.items.lock();
        let it = items
            .get_mut(&(fd, Arc::as_ptr(f) as usize))
            .ok_or(Errno::ENOENT)?;
        it.events = events;
        it.data = data;
        it.armed = true;
        it.last_gen = 0;
        it.last_bits = 0;
        Ok(())
    }

    pub fn delete(&self, fd: i32, f: &Arc<File>) -> KResult<()> {
        self.items
            .lock()
            .remove(&(fd, Arc::as_ptr(f) as usize))
            .map(|_| ())
            .ok_or(Errno::ENOENT)
    }

    /// Ready (events, data) pairs, at most `max`; consumes edges and
    /// one-shot arms.
    pub fn collect(&self, c: &super::vfs::Caller, max: usize) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        let mut items = self.items.lock();
        items.retain(|_, it| it.file.strong_count() > 0);
        for it in items.values_mut() {
            if out.len() >= max {
                break;
            }
            if !it.armed {
                continue;
            }
            let Some(f) = it.file.upgrade() else { continue };
            let want = (it.events & EVENT_BITS) as i16 | libc::POLLERR | libc::POLLHUP;
            let bits = (f.ops.poll_for(c, want) as u16 as u32) & ((it.events & EVENT_BITS) | 0x18);
            if bits == 0 {
                it.last_bits = 0;
                continue;
            }
            if it.events & EPOLLET != 0 {
                let gen = f.ops.generation();
                let edge = gen == 0 || gen != it.last_gen || bits & !it.last_bits != 0;
                it.last_gen = gen;
                it.last_bits = bits;
                if !edge {
                    continue;
                }
            }
            if it.events & EPOLLONESHOT != 0 {
                it.armed = false;
            }
            out.push((bits, it.data));
        }
        out
    }

    /// Host fds among the interests, for waiting in a host poll.
    pub fn host_fds(&self) -> Vec<(RawFd, i16)> {
        self.items
            .lock()
            .values()
            .filter(|it| it.armed)
            .filter_map(|it| {
                let f = it.file.upgrade()?;
                f.ops
                    .host_fd()
                    .map(|h| (h, (it.events & EVENT_BITS) as i16))
            })
            .collect()
    }

    /// Whether `target` is this epoll (directly or through nesting).
    pub fn contains_epoll(&self, target: *const Epoll) -> bool {
        self.items.lock().values().any(|it| {
            it.file
                .upgrade()
                .and_then(|f| {
                    f.downcast::<Epoll>()
                        .map(|e| std::ptr::eq(e, target) || e.contains_epoll(target))
                })
                .unwrap_or(false)
        })
    }
}

impl FileOps for Epoll {
    fn read(&self, _f: &File, _b: &mut [u8], _o: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _f: &File, _b: &[u8], _o: Option<u64>) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> KResult<FileStat> {
        Ok(super::synth::anon_stat())
    }
    fn poll(&self, events: i16) -> i16 {
        // Readable when some interest is ready (without consuming it).
        let items = self.items.lock();
        let ready = items.values().any(|it| {
            it.armed
                && it.file.upgrade().is_some_and(|f| {
                    f.ops
                        .poll((it.events & EVENT_BITS) as i16 | libc::POLLERR | libc::POLLHUP)
                        != 0
                })
        });
        if ready {
            events & libc::POLLIN
        } else {
            0
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
