//! fcntl record locks (POSIX and OFD) and flock(2).

use crate::abi::{get, put};
use crate::fs::fdget;
use sentry::fs::file::File;
use sentry::fs::locks::{Lock, Owner};
use sentry::kernel::waitq::EV_ALL;
use sentry::{Ctx, Errno, KResult};
use std::sync::Arc;

/// struct flock: l_type, l_whence, l_start, l_len, l_pid, with the
/// kernel's alignment holes as fields, so none of the sentry's bytes go
/// out with it.
#[derive(Clone, Copy)]
#[repr(C)]
struct Flock {
    ty: i16,
    whence: i16,
    hole: i32,
    start: i64,
    len: i64,
    pid: i32,
    pad: i32,
}

const _: () = assert!(std::mem::size_of::<Flock>() == 32);

// struct flock's 16-bit l_type and l_whence values (0, 1, 2, 0).
const F_RDLCK: i16 = 0;
const F_WRLCK: i16 = 1;
const F_UNLCK: i16 = 2;
const SEEK_SET: i16 = 0;
const _: () = assert!(
    libc::F_RDLCK == F_RDLCK as i32
        && libc::F_WRLCK == F_WRLCK as i32
        && libc::F_UNLCK == F_UNLCK as i32
        && libc::SEEK_SET == SEEK_SET as i32
);
sentry::plain!(Flock);

fn key_of(f: &File) -> KResult<(u64, u64)> {
    let st = f.ops.stat()?;
    Ok((st.dev, st.ino))
}

/// The byte range a struct flock names, relative to `f`.
fn range(f: &File, fl: &Flock) -> KResult<(u64, u64)> {
    let base: i64 = match fl.whence as i32 {
        libc::SEEK_SET => 0,
        libc::SEEK_CUR => crate::abi::long(*f.pos.lock()),
        libc::SEEK_END => f.ops.stat()?.size,
        _ => return Err(Errno::EINVAL),
    };
    let start = base.checked_add(fl.start).ok_or(Errno::EOVERFLOW)?;
    // The last byte must fit in an off_t.
    if fl.len > 0 && fl.len - 1 > i64::MAX - start.max(0) {
        return Err(Errno::EOVERFLOW);
    }
    let (start, end) = match fl.len {
        0 => (start, u64::MAX as i128),
        l if l > 0 => (start, start as i128 + l as i128),
        l => (start + l, start as i128),
    };
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    Ok((
        crate::abi::bits(start),
        u64::try_from(end).unwrap_or(u64::MAX),
    ))
}

/// F_GETLK/F_SETLK/F_SETLKW and their OFD forms.
pub fn fcntl_lock(ctx: &mut Ctx<'_, '_>, fd: u64, cmd: i32, arg: u64) -> KResult<u64> {
    let f = fdget(ctx, fd)?;
    let mut fl: Flock = get(ctx, arg)?;
    let ofd = matches!(
        cmd,
        libc::F_OFD_GETLK | libc::F_OFD_SETLK | libc::F_OFD_SETLKW
    );
    let owner = if ofd {
        Owner::of_file(&f)
    } else {
        Owner::Process(ctx.tgid())
    };
    let write = match fl.ty as i32 {
        libc::F_RDLCK => false,
        libc::F_WRLCK => true,
        libc::F_UNLCK => false,
        _ => return Err(Errno::EINVAL),
    };
    let (start, end) = range(&f, &fl)?;
    // An OFD lock names no process (checked after the type and range,
    // and for a set after the fd's mode, as Linux orders them).
    let get = matches!(cmd, libc::F_GETLK | libc::F_OFD_GETLK);
    let mode_ok = match fl.ty as i32 {
        libc::F_RDLCK => f.readable(),
        libc::F_WRLCK => f.writable(),
        _ => true,
    };
    if !get && !mode_ok {
        return Err(Errno::EBADF);
    }
    if ofd && fl.pid != 0 {
        return Err(Errno::EINVAL);
    }
    let key = key_of(&f)?;
    let want = Lock {
        owner: owner.clone(),
        write,
        start,
        end,
        pid: if ofd { -1 } else { ctx.tgid() },
    };
    if matches!(cmd, libc::F_GETLK | libc::F_OFD_GETLK) {
        // F_GETLK asks about a lock type; F_OFD_GETLK may ask about
        // F_UNLCK, which finds nothing in the way.
        if fl.ty as i32 == libc::F_UNLCK && !ofd {
            return Err(Errno::EINVAL);
        }
        let found = if fl.ty as i32 == libc::F_UNLCK {
            None
        } else {
            ctx.st.locks.record.conflict(key, &want)
        };
        match found {
            None => fl.ty = F_UNLCK,
            Some(c) => {
                fl.ty = if c.write { F_WRLCK } else { F_RDLCK };
                fl.whence = SEEK_SET;
                fl.start = crate::abi::long(c.start);
                fl.len = if c.end == u64::MAX {
                    0
                } else {
                    crate::abi::long(c.end - c.start)
                };
                fl.pid = match c.owner {
                    Owner::Process(p) => ctx.vnr(p),
                    Owner::File(..) => -1,
                };
            }
        }
        put(ctx, arg, &fl)?;
        return Ok(0);
    }
    if fl.ty as i32 == libc::F_UNLCK {
        ctx.st.locks.record.unlock(key, &owner, start, end);
        ctx.st.locks.released();
        return Ok(0);
    }
    // A read lock needs a readable fd, a write lock a writable one.
    if (write && !f.writable()) || (!write && !f.readable()) {
        return Err(Errno::EBADF);
    }
    let wait = matches!(cmd, libc::F_SETLKW | libc::F_OFD_SETLKW);
    loop {
        let mut w = ctx.wait_start();
        let q = ctx.st.locks.wq.clone();
        w.on(&q, EV_ALL);
        if ctx.st.locks.record.conflict(key, &want).is_none() {
            ctx.k
                .record_locks_used
                .store(true, std::sync::atomic::Ordering::SeqCst);
            if ofd {
                f.holds_locks(&q);
            }
            ctx.st.locks.record.lock(key, want);
            // A lock that replaced a wider one of ours released ranges.
            ctx.st.locks.released();
            return Ok(0);
        }
        if !wait {
            return Err(Errno::EAGAIN);
        }
        // Sleeping on a process that (through others) waits for us would
        // never end: EDEADLK, for POSIX locks (not OFD ones), as Linux.
        let me = ctx.tgid();
        if !ofd {
            if ctx.st.locks.would_deadlock(me, key, &want) {
                return Err(Errno::EDEADLK);
            }
            ctx.st.locks.blocked.insert(me, (key, want.clone()));
        }
        let slept = ctx.sleep(&w, None);
        if !ofd {
            ctx.st.locks.blocked.remove(&me);
        }
        slept?;
    }
}

/// flock(2).
pub fn flock(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    const LOCK_SH: u64 = 1;
    const LOCK_EX: u64 = 2;
    const LOCK_NB: u64 = 4;
    const LOCK_UN: u64 = 8;
    // LOCK_MAND never worked; Linux 5.15 on ignores it, before the fd.
    const LOCK_MAND: u64 = 32;
    if a[1] & LOCK_MAND != 0 {
        ctx.log_once("flock LOCK_MAND (ignored)");
        return Ok(0);
    }
    let f = crate::fs::fdget_io(ctx, a[0])?;
    let op = a[1];
    let owner = Owner::of_file(&f);
    let key = key_of(&f)?;
    let write = match op & !LOCK_NB {
        LOCK_SH => false,
        LOCK_EX => true,
        LOCK_UN => {
            ctx.st.locks.flock.release_file(key, &owner);
            ctx.st.locks.released();
            return Ok(0);
        }
        _ => return Err(Errno::EINVAL),
    };
    let want = Lock {
        owner,
        write,
        start: 0,
        end: u64::MAX,
        pid: ctx.tgid(),
    };
    loop {
        let mut w = ctx.wait_start();
        let q = ctx.st.locks.wq.clone();
        w.on(&q, EV_ALL);
        if ctx.st.locks.flock.conflict(key, &want).is_none() {
            f.holds_locks(&q);
            ctx.st.locks.flock.lock(key, want);
            // Converting exclusive to shared lets other sharers in.
            ctx.st.locks.released();
            return Ok(0);
        }
        if op & LOCK_NB != 0 {
            return Err(Errno::EAGAIN);
        }
        ctx.sleep(&w, None)?;
    }
}

/// A process closed an fd of `f`: POSIX semantics drop all its record
/// locks on that file.
pub fn on_close(ctx: &mut Ctx<'_, '_>, f: &Arc<File>) {
    if ctx.st.locks.record.is_empty() {
        return;
    }
    if let Ok(key) = key_of(f) {
        let owner = Owner::Process(ctx.tgid());
        ctx.st.locks.record.release_file(key, &owner);
        ctx.st.locks.released();
    }
}
