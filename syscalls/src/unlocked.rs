//! System calls handled without the kernel lock: the memory calls that
//! need only the address space (anonymous mmap, munmap, mprotect, brk,
//! mremap, madvise: `mm::unlocked`), futex waits and wakes, reads and writes of
//! files whose operations never wait for another task and need no kernel
//! state (regular tmpfs and host files), pipe I/O that completes at once,
//! fstat, lseek, fsync, ftruncate and fallocate; and calls on paths: the
//! walks (the stat family, access, readlink, getdents64, opens of regular
//! files and directories) and the changes of the tree (creating, linking,
//! removing, renaming, chmod/chown), under the VFS namespace lock. The
//! copies, walks, host calls and gofer round trips, which are most of the
//! cost, then run beside other tasks' calls, and the task goes back to
//! its application without taking the kernel lock.
//!
//! Anything unusual (a bad fd or buffer, a file that can block, inotify
//! watches to tell, zero-length calls, a walk into procfs) returns None
//! before any side effect, and the locked handler does the whole call, so
//! every error path stays in one place.

use crate::abi::{int, Pcx, CWD};
use crate::fs;
use crate::fs_mutate as fm;
use libc::AT_FDCWD;
use sentry::fs::file::File;
use sentry::fs::io::{Segs, UserBuf as Buf};
use sentry::kernel::Unlocked;
use sentry::{Errno, KResult};
use std::sync::Arc;

const NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;

pub fn dispatch(cx: &Unlocked<'_>, nr: u64, a: [u64; 6]) -> Option<KResult<u64>> {
    let nr = i64::try_from(nr).ok()?;
    // A call either family does not know is None from both.
    match nr {
        libc::SYS_futex => return futex(cx, a),
        libc::SYS_clone | libc::SYS_clone3 | libc::SYS_fork | libc::SYS_vfork => {
            return crate::process::prepare_clone(cx, nr, a)
        }
        libc::SYS_execve => return crate::process::prepare_exec(cx, a),
        libc::SYS_epoll_wait | libc::SYS_epoll_pwait | libc::SYS_epoll_pwait2 => {
            return crate::events::wait_unlocked(cx, nr, a)
        }
        _ => {}
    }
    if let Some(r) = task_call(cx, nr, a) {
        return Some(r);
    }
    // RLIMIT_DATA is checked with the lock.
    let grows = matches!(nr, libc::SYS_mmap | libc::SYS_brk | libc::SYS_mremap);
    if grows && cx.data != u64::MAX {
        return None;
    }
    if let Some(r) = crate::mm::unlocked(cx.mm, cx.as_limit, nr, a) {
        return Some(r);
    }
    if nr == libc::SYS_mmap {
        return crate::mm::map_file_unlocked(cx, a);
    }
    file_call(cx, nr, a).or_else(|| path_call(cx, nr, a))
}

/// FUTEX_WAIT(_BITSET) and FUTEX_WAKE(_BITSET): the futex table has its
/// own lock. Requeues, PI and robust futexes go to the locked handler.
fn futex(cx: &Unlocked<'_>, a: [u64; 6]) -> Option<KResult<u64>> {
    use sentry::kernel::futex;
    let op = int(a[1]);
    let private = op & libc::FUTEX_PRIVATE_FLAG != 0;
    let cmd = op & !(libc::FUTEX_PRIVATE_FLAG | libc::FUTEX_CLOCK_REALTIME);
    let bitset = |c| {
        if c == libc::FUTEX_WAIT || c == libc::FUTEX_WAKE {
            u32::MAX
        } else {
            crate::abi::uint(a[5])
        }
    };
    let (addr, val) = (a[0], crate::abi::uint(a[2]));
    // FUTEX_CLOCK_REALTIME belongs to FUTEX_WAIT_BITSET here; with the
    // others the locked handler says what it means (misc::futex_clock_ok).
    if op & libc::FUTEX_CLOCK_REALTIME != 0 && cmd != libc::FUTEX_WAIT_BITSET {
        return None;
    }
    match cmd {
        libc::FUTEX_WAIT | libc::FUTEX_WAIT_BITSET => {
            let realtime = op & libc::FUTEX_CLOCK_REALTIME != 0;
            let deadline =
                match crate::misc::futex_deadline(cx.mm, cx.k, cmd, realtime, a[3], cx.mono_off) {
                    Ok(d) => d,
                    Err(e) => return Some(Err(e)),
                };
            let (table, b) = (&cx.k.futexes, bitset(cmd));
            let (mm, tid, waiter) = (cx.mm, cx.tid, cx.waiter);
            futex::wait_unlocked(table, mm, tid, waiter, addr, val, b, private, deadline)
                .map(|r| r.map(|()| 0))
        }
        libc::FUTEX_WAKE | libc::FUTEX_WAKE_BITSET => {
            let r = futex::wake(&cx.k.futexes, cx.mm, addr, val, bitset(cmd), private);
            Some(r.map(u64::from))
        }
        _ => None,
    }
}

/// Calls on the task's own ids, signal actions and fd table.
fn task_call(cx: &Unlocked<'_>, nr: i64, a: [u64; 6]) -> Option<KResult<u64>> {
    let id = |v: u32| Some(Ok(u64::from(v)));
    match nr {
        libc::SYS_getpid => Some(Ok(crate::abi::bits(i64::from(cx.vtgid)))),
        libc::SYS_gettid => Some(Ok(crate::abi::bits(i64::from(cx.vtid)))),
        libc::SYS_getuid => id(cx.creds.userns.uid_shown(cx.creds.ruid)),
        libc::SYS_geteuid => id(cx.creds.userns.uid_shown(cx.creds.euid)),
        libc::SYS_getgid => id(cx.creds.userns.gid_shown(cx.creds.rgid)),
        libc::SYS_getegid => id(cx.creds.userns.gid_shown(cx.creds.egid)),
        libc::SYS_rt_sigprocmask => {
            lock_free(crate::signal::sigprocmask_in(cx.mm, cx.sig_mask, a, true).map(|()| 0))
        }
        libc::SYS_rt_sigaction => {
            lock_free(crate::signal::sigaction_in(cx.mm, cx.sighand, a, true).map(|_| 0))
        }
        libc::SYS_dup => Some(fs::dup_in(cx.files, cx.nofile, a[0], 0, false)),
        // Replacing an fd closes it: plain closes only.
        libc::SYS_dup2 | libc::SYS_dup3 if a[0] != a[1] && close_is_plain(cx) => {
            if nr == libc::SYS_dup3 && a[2] & !(libc::O_CLOEXEC as u64) != 0 {
                return Some(Err(Errno::EINVAL));
            }
            let flags = if nr == libc::SYS_dup3 { a[2] } else { 0 };
            let r = fs::dup3_in(cx.files, cx.nofile, a[0], a[1], flags);
            // The replaced file's last reference goes outside the table's lock.
            Some(r.map(|(fd, _prev)| fd))
        }
        libc::SYS_fcntl => fs::fcntl_fd(cx.files, cx.nofile, a),
        _ => None,
    }
}

/// Calls on an open file: reads and writes, stat, seek, sync, size.
fn file_call(cx: &Unlocked<'_>, nr: i64, a: [u64; 6]) -> Option<KResult<u64>> {
    let (buf, off, write) = match nr {
        libc::SYS_fstat => return fstat(cx, a[0], a[1], false),
        libc::SYS_newfstatat if empty_path_of_fd(cx, a[0], a[1], a[3]) => {
            return fstat(cx, a[0], a[2], false)
        }
        libc::SYS_statx
            if a[3] & 0x8000_0000 == 0
                && a[2] & 0x6000 != 0x6000
                && empty_path_of_fd(cx, a[0], a[1], a[2] & !0x6000) =>
        {
            return fstat(cx, a[0], a[4], true)
        }
        libc::SYS_lseek => {
            let f = file(cx, a[0])?;
            return Some(crate::fs::seek(&f, a[1], a[2]));
        }
        // close(2) is the fd table's, unless record locks exist (released
        // by a close) or inotify watches want IN_CLOSE in order.
        libc::SYS_close if close_is_plain(cx) => {
            let fd = i32::try_from(a[0]).ok()?;
            let f = cx.files.lock().close(fd);
            let unix = f
                .as_ref()
                .is_ok_and(|f| f.ops.as_any().is::<sentry::local::LocalFile>());
            // The last reference goes here, outside the fd table's lock.
            let r = f.map(|_| 0);
            crate::fs::collect_after_close(cx.k, unix);
            return Some(r);
        }
        // Host calls that can block (fsync of a host file) or change a
        // file's size: the open file is all they need.
        libc::SYS_fsync | libc::SYS_fdatasync => {
            let f = file(cx, a[0])?;
            return Some(fs::not_path(&f).and_then(|()| f.ops.sync().map(|()| 0)));
        }
        // A file size limit is checked, and signalled, with the lock.
        libc::SYS_ftruncate | libc::SYS_fallocate if cx.fsize != u64::MAX => return None,
        libc::SYS_ftruncate if !cx.k.vfs.inotify.active() => {
            let f = file(cx, a[0])?;
            return Some(fs::ftruncate_file(cx.creds, &f, a[1]));
        }
        libc::SYS_fallocate if !cx.k.vfs.inotify.active() => {
            return Some(fs::fallocate_file(cx.creds, &file(cx, a[0])?, a));
        }
        libc::SYS_read => (Buf::One(a[1], a[2]), None, false),
        libc::SYS_write => (Buf::One(a[1], a[2]), None, true),
        libc::SYS_pread64 => (Buf::One(a[1], a[2]), Some(a[3]), false),
        libc::SYS_pwrite64 => (Buf::One(a[1], a[2]), Some(a[3]), true),
        libc::SYS_readv => (Buf::Vec(a[1], a[2]), None, false),
        libc::SYS_writev => (Buf::Vec(a[1], a[2]), None, true),
        libc::SYS_preadv => (Buf::Vec(a[1], a[2]), Some(a[3]), false),
        libc::SYS_pwritev => (Buf::Vec(a[1], a[2]), Some(a[3]), true),
        _ => return None,
    };
    transfer(cx, a[0], buf, off, write)
}

/// Whether close(2) needs nothing but the fd table now.
fn close_is_plain(cx: &Unlocked<'_>) -> bool {
    !cx.k
        .record_locks_used
        .load(std::sync::atomic::Ordering::SeqCst)
        && !cx.k.vfs.inotify.active()
}

/// Calls on paths: walks, and changes of the tree.
fn path_call(cx: &Unlocked<'_>, nr: i64, a: [u64; 6]) -> Option<KResult<u64>> {
    match nr {
        libc::SYS_stat => walk(cx, |p| stat_to(p, AT_FDCWD, a[0], 0, a[1], false)),
        libc::SYS_lstat => walk(cx, |p| stat_to(p, AT_FDCWD, a[0], NOFOLLOW, a[1], false)),
        libc::SYS_newfstatat => walk(cx, |p| stat_to(p, int(a[0]), a[1], a[3], a[2], false)),
        libc::SYS_statx if a[3] & 0x8000_0000 == 0 && a[2] & 0x6000 != 0x6000 => walk(cx, |p| {
            stat_to(p, int(a[0]), a[1], a[2] & !0x6000, a[4], true)
        }),
        libc::SYS_access => walk(cx, |p| fs::access_in(p, AT_FDCWD, a[0], a[1], 0)),
        libc::SYS_faccessat => walk(cx, |p| fs::access_in(p, int(a[0]), a[1], a[2], 0)),
        libc::SYS_faccessat2 => walk(cx, |p| fs::access_in(p, int(a[0]), a[1], a[2], a[3])),
        libc::SYS_readlink => walk(cx, |p| fs::readlink_in(p, AT_FDCWD, a[0], a[1], a[2])),
        libc::SYS_readlinkat => walk(cx, |p| fs::readlink_in(p, int(a[0]), a[1], a[2], a[3])),
        libc::SYS_getdents64 if !cx.k.vfs.inotify.active() => {
            let f = file(cx, a[0])?;
            walk(cx, |p| fs::getdents_in(&p.w.c, p.mm, &f, a[1], a[2]))
        }
        libc::SYS_open => open(cx, AT_FDCWD, a[0], a[1], a[2]),
        libc::SYS_openat => open(cx, int(a[0]), a[1], a[2], a[3]),
        libc::SYS_creat => {
            let flags = (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64;
            open(cx, AT_FDCWD, a[0], flags, a[1])
        }
        libc::SYS_mkdir => change(cx, |p| fm::do_mkdir(p, CWD, a[0], a[1])),
        libc::SYS_mkdirat => change(cx, |p| fm::do_mkdir(p, a[0], a[1], a[2])),
        libc::SYS_mknod => change(cx, |p| fm::do_mknod(p, CWD, a[0], a[1], a[2])),
        libc::SYS_mknodat => change(cx, |p| fm::do_mknod(p, a[0], a[1], a[2], a[3])),
        libc::SYS_symlink => change(cx, |p| fm::do_symlink(p, a[0], CWD, a[1])),
        libc::SYS_symlinkat => change(cx, |p| fm::do_symlink(p, a[0], a[1], a[2])),
        libc::SYS_link => change(cx, |p| fm::do_link(p, CWD, a[0], CWD, a[1], 0)),
        libc::SYS_linkat => change(cx, |p| fm::do_link(p, a[0], a[1], a[2], a[3], a[4])),
        libc::SYS_unlink => change(cx, |p| fm::remove(p, CWD, a[0], false)),
        libc::SYS_rmdir => change(cx, |p| fm::remove(p, CWD, a[0], true)),
        libc::SYS_unlinkat => change(cx, |p| fm::unlinkat_by(p, a[0], a[1], a[2])),
        libc::SYS_rename => change(cx, |p| fm::do_rename(p, CWD, a[0], CWD, a[1], 0)),
        libc::SYS_renameat => change(cx, |p| fm::do_rename(p, a[0], a[1], a[2], a[3], 0)),
        libc::SYS_renameat2 => change(cx, |p| fm::do_rename(p, a[0], a[1], a[2], a[3], a[4])),
        libc::SYS_chmod => change(cx, |p| {
            fm::set_path(p, CWD, a[0], true, fm::mode_attr(a[1]))
        }),
        libc::SYS_fchmodat => change(cx, |p| {
            fm::set_path(p, a[0], a[1], true, fm::mode_attr(a[2]))
        }),
        libc::SYS_chown => change(cx, |p| {
            fm::set_path(p, CWD, a[0], true, fm::own_attr(a[1], a[2]))
        }),
        libc::SYS_lchown => change(cx, |p| {
            fm::set_path(p, CWD, a[0], false, fm::own_attr(a[1], a[2]))
        }),
        _ => None,
    }
}

/// read(2), write(2) and their vectored and positioned forms on `fd`.
fn transfer(
    cx: &Unlocked<'_>,
    fd: u64,
    buf: Buf,
    off: Option<u64>,
    write: bool,
) -> Option<KResult<u64>> {
    if cx.k.vfs.inotify.active() {
        return None;
    }
    if write && cx.fsize != u64::MAX {
        return None;
    }
    let f = file(cx, fd)?;
    let allowed = if write { f.writable() } else { f.readable() };
    if !allowed {
        return None;
    }
    if let Some(end) = f.ops.pipe(write) {
        return if off.is_none() {
            pipe_io(cx, &f, end, buf, write)
        } else {
            None
        };
    }
    if !f.ops.lockless() {
        return None;
    }
    let segs = segments(cx, buf, off, write)?;
    // Pages stay this space's own until the copy is done.
    let _pinned = cx.mm.io_pin.read();
    // A shared host-file mapping has no pages to point at: locked.
    let iov = segs.host_iovecs(cx.mm, !write).ok()?;
    let r = if write {
        f.ops.write_iov(&f, &iov, off)
    } else {
        f.ops.read_iov(&f, &iov, off)
    };
    let r = match r {
        Some(r) => r.map(|n| n as u64),
        None => bounce(cx, &f, &segs, off, write),
    };
    // A write takes set-ID bits away, however it went.
    if write && matches!(r, Ok(n) if n > 0) {
        sentry::fs::io::strip_privs(cx.creds, &f);
    }
    Some(r)
}

/// A call that walks paths, without the kernel lock: the tree lock keeps
/// multi-step changes whole, and what needs the kernel's state (procfs)
/// is handed to the locked handler.
fn walk(cx: &Unlocked<'_>, call: impl FnOnce(&Pcx<'_>) -> KResult<u64>) -> Option<KResult<u64>> {
    lock_free(cx.k.vfs.reading(|| call(&pcx(cx))))
}

/// The lock-free caller as the path calls take it.
fn pcx<'a>(cx: &'a Unlocked<'_>) -> Pcx<'a> {
    Pcx {
        w: cx.walker(),
        mm: cx.mm,
    }
}

/// open(2)/openat(2) of a regular file or directory (or O_PATH): the
/// walk and the filesystem's open (a gofer round trip for a host file,
/// a copy-up into the overlay, a creation), under the namespace lock
/// `Vfs::open_in` takes. Opens of FIFOs (which wait), terminals (which
/// concern the caller) and procfs go to the locked handler.
fn open(cx: &Unlocked<'_>, dirfd: i32, path: u64, flags: u64, mode: u64) -> Option<KResult<u64>> {
    let flags = match crate::fs::open_flags(int(flags)) {
        Ok(f) => f,
        Err(e) => return Some(Err(e)),
    };
    let tmpfile = libc::O_TMPFILE & !libc::O_DIRECTORY;
    let leases = cx.k.leases_used.load(std::sync::atomic::Ordering::Acquire);
    if flags & tmpfile != 0 || cx.k.vfs.inotify.active() || leases {
        return None;
    }
    let mode = crate::abi::uint(mode) & 0o7777;
    let px = pcx(cx);
    lock_free((|| {
        let p = px.path(path)?;
        let f = px.vfs().open_in(&px.w, dirfd, &p, flags, mode, 0)?;
        let cloexec = flags & libc::O_CLOEXEC != 0;
        let fd = cx.files.lock().alloc(f, cloexec, 0, cx.nofile)?;
        Ok(crate::abi::bits(i64::from(fd)))
    })())
}

/// A lock-free call's answer: None for one that needs the kernel lock.
fn lock_free(r: KResult<u64>) -> Option<KResult<u64>> {
    match r {
        Err(e) if e == Errno::NEEDLOCK => None,
        r => Some(r),
    }
}

/// A call that changes the tree, without the kernel lock: it holds the
/// namespace lock exclusively from its first walk to its last change.
/// With inotify watches, the locked handler raises the events in order.
fn change(cx: &Unlocked<'_>, call: impl FnOnce(&Pcx<'_>) -> KResult<u64>) -> Option<KResult<u64>> {
    if cx.k.vfs.inotify.active() {
        return None;
    }
    lock_free(cx.k.vfs.changing(|| call(&pcx(cx))))
}

/// stat/lstat/newfstatat/statx of a path into `out`.
fn stat_to(p: &Pcx<'_>, dirfd: i32, path: u64, flags: u64, out: u64, statx: bool) -> KResult<u64> {
    let s = fs::stat_path_in(p, dirfd, path, flags)?;
    if statx {
        let mnt = fs::mount_of_path(p, dirfd, path, flags);
        sentry::mm::write_obj(p.mm, out, &fs::statx_bytes(&s, &p.creds()?.userns, mnt))?;
    } else {
        sentry::mm::write_obj(p.mm, out, &fs::linux_stat(&s, &p.creds()?.userns))?;
    }
    Ok(0)
}

/// The open file behind register `fd`; None (the locked handler gives
/// EBADF) when there is none.
fn file(cx: &Unlocked<'_>, fd: u64) -> Option<Arc<File>> {
    cx.files.lock().get(i32::try_from(fd).ok()?).ok()
}

/// Whether a *stat*at call names the open file `dirfd` itself: an empty
/// (or NULL) path with AT_EMPTY_PATH and only flags stat accepts.
fn empty_path_of_fd(cx: &Unlocked<'_>, dirfd: u64, path: u64, flags: u64) -> bool {
    let fd_ok = crate::abi::int(dirfd) >= 0;
    let flags_ok = flags & !crate::fs::STAT_FLAGS == 0 && flags & libc::AT_EMPTY_PATH as u64 != 0;
    let empty = path == 0 || sentry::mm::read_vec(cx.mm, path, 1).is_ok_and(|b| b[0] == 0);
    fd_ok && flags_ok && empty
}

/// fstat(2) of `fd` into `out` (a struct stat, or a struct statx).
fn fstat(cx: &Unlocked<'_>, fd: u64, out: u64, statx: bool) -> Option<KResult<u64>> {
    if out == 0 {
        return None;
    }
    let f = file(cx, fd)?;
    let s = f.stat();
    Some(s.and_then(|s| {
        if statx {
            let mnt = f
                .place()
                .map(|pl| (pl.mount.id, pl.rel().0 == pl.mount.root));
            let b = crate::fs::statx_bytes(&s, &cx.creds.userns, mnt);
            sentry::mm::write_obj(cx.mm, out, &b)?;
        } else {
            sentry::mm::write_obj(cx.mm, out, &crate::fs::linux_stat(&s, &cx.creds.userns))?;
        }
        Ok(0)
    }))
}

/// The (address, length) pieces a call moves, checked as the locked
/// handler checks them; None for what it must judge (nothing to move, an
/// error, a buffer the copy would fault in).
fn segments(cx: &Unlocked<'_>, buf: Buf, off: Option<u64>, write: bool) -> Option<Segs> {
    let segs = buf.parse(cx.mm).ok()?;
    sentry::fs::io::verify_area(off, segs.total).ok()?;
    let whole = segs.total > 0 && segs.accessible(cx.mm, !write).total == segs.total;
    whole.then_some(segs)
}

/// A pipe's read or write when it can complete now: a read that finds
/// data (or end of file), a write that fits whole. Otherwise (it would
/// wait, or the pipe is broken and SIGPIPE is due) None, having done
/// nothing.
fn pipe_io(
    cx: &Unlocked<'_>,
    f: &Arc<File>,
    end: &sentry::fs::pipe::PipeEnd,
    buf: Buf,
    write: bool,
) -> Option<KResult<u64>> {
    let segs = segments(cx, buf, None, write)?;
    if write {
        let data = segs.bytes(cx.mm).ok()?;
        let packet = f.flags() & libc::O_DIRECT != 0;
        return end
            .write_all_now(&data, packet)
            .map(|r| r.map(|n| n as u64));
    }
    let _pinned = cx.mm.io_pin.read();
    let iov = segs.host_iovecs(cx.mm, true).ok()?;
    match f.ops.read_iov(f, &iov, None)? {
        Err(e) if e == sentry::Errno::EAGAIN => None,
        r => Some(r.map(|n| n as u64)),
    }
}

/// Files without iovec I/O: through a buffer.
fn bounce(
    cx: &Unlocked<'_>,
    f: &Arc<File>,
    segs: &Segs,
    off: Option<u64>,
    write: bool,
) -> KResult<u64> {
    if write {
        f.ops.write(f, &segs.bytes(cx.mm)?, off).map(|n| n as u64)
    } else {
        let mut tmp = vec![0u8; segs.total.min(1 << 20)];
        let n = f.ops.read(f, &mut tmp, off)?;
        segs.fill(cx.mm, &tmp[..n])?;
        Ok(n as u64)
    }
}
