//! dnotify (fcntl F_NOTIFY): a directory's fd asks for a signal when the
//! directory's entries change. Each registration is an inotify instance
//! of its own with one watch (so renames move it and matching is
//! inotify's), whose events become a signal to the process that asked:
//! the file's F_SETSIG signal with si_code POLL_MSG and si_fd, or a plain
//! SIGIO. Without DN_MULTISHOT a registration fires once.

use super::file::File;
use super::inotify::{
    Inotify, Registry, IN_ACCESS, IN_ATTRIB, IN_CREATE, IN_DELETE, IN_MODIFY, IN_MOVED_FROM,
    IN_MOVED_TO,
};
use crate::errno::{Errno, KResult};
use crate::fs::Stat;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

pub const DN_ACCESS: u32 = 0x1;
pub const DN_MODIFY: u32 = 0x2;
pub const DN_CREATE: u32 = 0x4;
pub const DN_DELETE: u32 = 0x8;
pub const DN_RENAME: u32 = 0x10;
pub const DN_ATTRIB: u32 = 0x20;
pub const DN_MULTISHOT: u32 = 0x8000_0000;

/// The inotify events a dnotify mask hears.
fn events_of(dn: u32) -> u32 {
    let mut m = 0;
    for (d, i) in [
        (DN_ACCESS, IN_ACCESS),
        (DN_MODIFY, IN_MODIFY),
        (DN_CREATE, IN_CREATE | IN_MOVED_TO),
        (DN_DELETE, IN_DELETE | IN_MOVED_FROM),
        (DN_RENAME, IN_MOVED_FROM | IN_MOVED_TO),
        (DN_ATTRIB, IN_ATTRIB),
    ] {
        if dn & d != 0 {
            m |= i;
        }
    }
    m
}

struct Entry {
    file: Weak<File>,
    /// The process that asked, and the fd it asked through.
    tgid: i32,
    fd: i32,
    mask: u32,
    ino: Arc<Inotify>,
}

/// A signal owed to a process; sent by the kernel (`Kernel::send_dnotify`).
pub struct Fired {
    pub tgid: i32,
    pub fd: i32,
    pub file: Weak<File>,
}

#[derive(Default)]
pub struct Dnotify {
    entries: Mutex<Vec<Entry>>,
    fired: Mutex<Vec<Fired>>,
    /// Something is in `fired` (checked on every return to the application).
    pending: AtomicBool,
}

impl Dnotify {
    /// F_NOTIFY: adds `mask` (DN_*) to what `file`, a directory at `path`,
    /// asks for on behalf of `owner` (process, and the fd it asked
    /// through); 0 removes the request.
    pub fn register(
        &self,
        reg: &Registry,
        file: &Arc<File>,
        path: &[u8],
        st: &Stat,
        owner: (i32, i32),
        mask: u32,
    ) -> KResult<()> {
        let (tgid, fd) = owner;
        if !st.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut entries = self.entries.lock();
        entries.retain(|e| e.file.strong_count() > 0);
        let mine = |e: &Entry| std::ptr::eq(e.file.as_ptr(), Arc::as_ptr(file)) && e.tgid == tgid;
        if mask & !DN_MULTISHOT == 0 {
            entries.retain(|e| !mine(e));
            return Ok(());
        }
        if let Some(e) = entries.iter_mut().find(|e| mine(e)) {
            e.mask |= mask;
            e.fd = fd;
            e.ino.add_watch(path, st, events_of(e.mask))?;
            return Ok(());
        }
        let ino = reg.create();
        ino.add_watch(path, st, events_of(mask))?;
        entries.push(Entry {
            file: Arc::downgrade(file),
            tgid,
            fd,
            mask,
            ino,
        });
        Ok(())
    }

    /// After the registry delivered an event: registrations that heard it
    /// owe a signal.
    pub fn check(&self) {
        let mut entries = self.entries.lock();
        if entries.is_empty() {
            return;
        }
        let mut fired = Vec::new();
        entries.retain(|e| {
            if e.file.strong_count() == 0 {
                return false;
            }
            if !e.ino.take_events() {
                return true;
            }
            fired.push(Fired {
                tgid: e.tgid,
                fd: e.fd,
                file: e.file.clone(),
            });
            e.mask & DN_MULTISHOT != 0
        });
        drop(entries);
        if !fired.is_empty() {
            self.fired.lock().extend(fired);
            self.pending.store(true, Ordering::Release);
        }
    }

    /// Whether signals are owed.
    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// The signals owed, once.
    pub fn take(&self) -> Vec<Fired> {
        self.pending.store(false, Ordering::Release);
        std::mem::take(&mut *self.fired.lock())
    }
}
