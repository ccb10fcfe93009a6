//! File system calls: open/read/write and friends, stat, directories,
//! fcntl/ioctl, pipes and readiness (poll/select).

use crate::abi::{self, get, put, Pcx};
use crate::table::{Reg, Support::*};
use sentry::fs::file::{FdTable, File};
use sentry::fs::inotify::{IN_ACCESS, IN_OPEN};
use sentry::fs::io::{Opts, UserBuf};
use sentry::fs::pipe::new_pipe;
use sentry::fs::Stat;
use sentry::kernel::signal as ksig;
use sentry::kernel::userns::UserNs;
use sentry::mm::Mm;
use sentry::{Ctx, Errno, KResult};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn register(r: &mut Reg<'_>) {
    r("read", "dau", Full, read);
    r("write", "dsu", Full, write);
    r("pread64", "dauu", Full, pread64);
    r("pwrite64", "dsuu", Full, pwrite64);
    r("readv", "dau", Full, readv);
    r("writev", "dau", Full, writev);
    r("preadv", "dauu", Full, preadv);
    r("pwritev", "dauu", Full, pwritev);
    r(
        "preadv2",
        "dauux",
        Partial("RWF_* flags are accepted and ignored"),
        preadv2,
    );
    r(
        "pwritev2",
        "dauux",
        Partial("RWF_* flags are accepted and ignored"),
        pwritev2,
    );
    r("open", "pxo", Full, open);
    r("openat", "dpxo", Full, openat);
    r("openat2", "dpau", Full, openat2);
    r("creat", "po", Full, creat);
    r("close", "d", Full, close);
    r("close_range", "uux", Full, close_range);
    r("lseek", "did", Full, lseek);
    r("stat", "pa", Full, stat);
    r("lstat", "pa", Full, lstat);
    r("fstat", "da", Full, fstat);
    r("newfstatat", "dpax", Full, newfstatat);
    r("statx", "dpxxa", Full, statx);
    r("getdents", "dau", Full, getdents);
    r("getdents64", "dau", Full, getdents64);
    r("readlink", "pau", Full, readlink);
    r("readlinkat", "dpau", Full, readlinkat);
    r("access", "po", Full, access);
    r("faccessat", "dpo", Full, faccessat);
    r("faccessat2", "dpox", Full, faccessat2);
    r("getcwd", "au", Full, getcwd);
    r("chdir", "p", Full, chdir);
    r("fchdir", "d", Full, fchdir);
    r(
        "fcntl",
        "dxx",
        Partial("O_ASYNC's SIGIO for files with sentry wait queues (not host fds); /proc/locks does not list leases"),
        fcntl,
    );
    r("flock", "dx", Full, crate::locks::flock);
    r("dup", "d", Full, dup);
    r("dup2", "dd", Full, dup2);
    r("dup3", "ddx", Full, dup3);
    r("ioctl", "dxx", Partial("FIO* and terminal ioctls"), ioctl);
    r("pipe", "a", Full, pipe);
    r("pipe2", "ax", Full, pipe2);
    r("poll", "aui", Full, poll);
    r("ppoll", "auaau", Full, ppoll);
    r("select", "iaaaa", Full, select);
    r("pselect6", "iaaaaa", Full, pselect6);
    r("statfs", "pa", Full, statfs);
    r("fstatfs", "da", Full, fstatfs);
    r("fsync", "d", Full, fsync);
    r("fdatasync", "d", Full, fsync);
    r("sync", "", Full, sync);
    r("syncfs", "d", Full, syncfs);
    r("fadvise64", "diix", Full, fadvise64);
    r("sync_file_range", "diix", Full, sync_file_range);
    r("readahead", "diu", Full, readahead);
    r(
        "name_to_handle_at",
        "dpaax",
        Partial("no filesystem exports handles: EOPNOTSUPP after the path is checked"),
        name_to_handle_at,
    );
    r(
        "open_by_handle_at",
        "dax",
        Partial("no handles exist: EOPNOTSUPP"),
        open_by_handle_at,
    );
    r(
        "memfd_create",
        "px",
        Partial("no MFD_HUGETLB"),
        memfd_create,
    );
    r("ftruncate", "di", Full, ftruncate);
    r(
        "fallocate",
        "dxii",
        Partial("tmpfs: mode 0, KEEP_SIZE, PUNCH_HOLE; host files pass through"),
        fallocate,
    );
}

pub fn fdget(ctx: &mut Ctx<'_, '_>, fd: u64) -> KResult<Arc<File>> {
    if fd > i32::MAX as u64 {
        return Err(Errno::EBADF);
    }
    ctx.task().files.lock().get(crate::abi::int(fd))
}

/// The kernel's O_LARGEFILE (glibc's constant is 0 on 64-bit).
pub(crate) const O_LARGEFILE: i32 = 0o100_000;

/// open(2)'s flags as Linux keeps them: O_PATH's few only, every other
/// open with O_LARGEFILE (64-bit); O_DIRECTORY with O_CREAT is EINVAL
/// (Linux 6.4).
pub(crate) fn open_flags(flags: i32) -> KResult<i32> {
    if flags & libc::O_CREAT != 0 && flags & libc::O_DIRECTORY != 0 {
        return Err(Errno::EINVAL);
    }
    // O_TMPFILE carries O_DIRECTORY, and is for writing.
    let tmpfile = libc::O_TMPFILE & !libc::O_DIRECTORY;
    if flags & tmpfile != 0
        && (flags & libc::O_DIRECTORY == 0 || flags & libc::O_ACCMODE == libc::O_RDONLY)
    {
        return Err(Errno::EINVAL);
    }
    Ok(if flags & libc::O_PATH != 0 {
        flags & (libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
    } else {
        flags | O_LARGEFILE
    })
}

/// EBADF for an O_PATH file, which names a place but is no open file
/// for I/O, locks, ioctls or attributes.
pub(crate) fn not_path(f: &File) -> KResult<()> {
    if f.flags() & libc::O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    Ok(())
}

/// An fd's open file, not an O_PATH one (EBADF).
pub fn fdget_io(ctx: &mut Ctx<'_, '_>, fd: u64) -> KResult<Arc<File>> {
    let f = fdget(ctx, fd)?;
    not_path(&f)?;
    Ok(f)
}

fn nofile(ctx: &Ctx<'_, '_>) -> u64 {
    ctx.proc_ref().nofile()
}

pub fn install(ctx: &mut Ctx<'_, '_>, f: Arc<File>, cloexec: bool) -> KResult<u64> {
    let fd = ctx.install(f, cloexec)?;
    Ok(crate::abi::bits(i64::from(fd)))
}

pub use sentry::fs::io::wait_ready;

/// A read of fd `fd` into `buf` at `off` (None: the file's position).
pub(crate) fn read_fd(
    ctx: &mut Ctx<'_, '_>,
    fd: u64,
    buf: UserBuf,
    off: Option<u64>,
    opts: Opts,
) -> KResult<u64> {
    let f = fdget(ctx, fd)?;
    sentry::fs::io::read(ctx, &f, buf, off, opts).map(|n| n as u64)
}

/// A write to fd `fd` from `buf` at `off` (None: the file's position).
pub(crate) fn write_fd(
    ctx: &mut Ctx<'_, '_>,
    fd: u64,
    buf: UserBuf,
    off: Option<u64>,
    opts: Opts,
) -> KResult<u64> {
    let f = fdget(ctx, fd)?;
    sentry::fs::io::write(ctx, &f, buf, off, opts).map(|n| n as u64)
}

/// The offset of a positioned call: negative is EINVAL, before the fd
/// is looked at; pipes and sockets have none (ESPIPE).
fn position(ctx: &mut Ctx<'_, '_>, fd: u64, off: u64) -> KResult<Option<u64>> {
    if crate::abi::long(off) < 0 {
        return Err(Errno::EINVAL);
    }
    seekable(ctx, fd)?;
    Ok(Some(off))
}

fn read(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    read_fd(ctx, a[0], UserBuf::One(a[1], a[2]), None, Opts::default())
}
fn write(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    write_fd(ctx, a[0], UserBuf::One(a[1], a[2]), None, Opts::default())
}
fn pread64(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let off = position(ctx, a[0], a[3])?;
    read_fd(ctx, a[0], UserBuf::One(a[1], a[2]), off, Opts::default())
}
fn pwrite64(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let off = position(ctx, a[0], a[3])?;
    write_fd(ctx, a[0], UserBuf::One(a[1], a[2]), off, Opts::default())
}
fn readv(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    read_fd(ctx, a[0], UserBuf::Vec(a[1], a[2]), None, Opts::default())
}
fn writev(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    write_fd(ctx, a[0], UserBuf::Vec(a[1], a[2]), None, Opts::default())
}
fn preadv(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let off = position(ctx, a[0], a[3])?;
    read_fd(ctx, a[0], UserBuf::Vec(a[1], a[2]), off, Opts::default())
}
fn pwritev(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let off = position(ctx, a[0], a[3])?;
    write_fd(ctx, a[0], UserBuf::Vec(a[1], a[2]), off, Opts::default())
}
const RWF_NOWAIT: u64 = 8;

/// preadv2/pwritev2's offset: -1 is the file's position.
fn position2(ctx: &mut Ctx<'_, '_>, fd: u64, off: u64) -> KResult<Option<u64>> {
    if crate::abi::long(off) == -1 {
        return Ok(None);
    }
    position(ctx, fd, off)
}

fn preadv2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[5] & !0x1f != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let off = position2(ctx, a[0], a[3])?;
    let opts = Opts {
        nowait: a[5] & RWF_NOWAIT != 0,
        ..Opts::default()
    };
    read_fd(ctx, a[0], UserBuf::Vec(a[1], a[2]), off, opts)
}
fn pwritev2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[5] & !0x1f != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    // A buffered write to a file can always wait for its pages: tmpfs
    // and the host's filesystems refuse RWF_NOWAIT for it.
    if a[5] & RWF_NOWAIT != 0 && fdget(ctx, a[0])?.ops.stat()?.mode & libc::S_IFMT == libc::S_IFREG
    {
        return Err(Errno::EOPNOTSUPP);
    }
    let off = position2(ctx, a[0], a[3])?;
    let buf = UserBuf::Vec(a[1], a[2]);
    const RWF_APPEND: u64 = 0x10;
    if a[5] & RWF_APPEND != 0 {
        // Appends whatever the offset says; with -1 the position follows.
        let f = fdget(ctx, a[0])?;
        let end = crate::abi::bits(f.ops.stat()?.size.max(0));
        let n = write_fd(ctx, a[0], buf, Some(end), Opts::default())?;
        if off.is_none() {
            *f.pos.lock() = end + n;
        }
        return Ok(n);
    }
    write_fd(ctx, a[0], buf, off, Opts::default())
}

fn seekable(ctx: &mut Ctx<'_, '_>, fd: u64) -> KResult<()> {
    let f = fdget(ctx, fd)?;
    // Anonymous-inode files (eventfd, timerfd, signalfd, epoll, inotify,
    // pidfd) have no positions either: Linux never gives them FMODE_PREAD.
    if f.place().is_none() && f.path().starts_with(b"anon_inode:") {
        return Err(Errno::ESPIPE);
    }
    let st = f.ops.stat()?;
    match st.mode & libc::S_IFMT {
        libc::S_IFIFO | libc::S_IFSOCK => Err(Errno::ESPIPE),
        _ => Ok(()),
    }
}

fn do_open(ctx: &mut Ctx<'_, '_>, dirfd: u64, path: u64, flags: u64, mode: u64) -> KResult<u64> {
    do_open_how(ctx, dirfd, path, flags, mode, 0)
}

fn do_open_how(
    ctx: &mut Ctx<'_, '_>,
    dirfd: u64,
    path: u64,
    flags: u64,
    mode: u64,
    how: u64,
) -> KResult<u64> {
    let p = abi::path(ctx, path)?;
    let flags = open_flags(crate::abi::int(flags))?;
    // The umask applies where the file is made (not under a default ACL).
    let mode = crate::abi::uint(mode) & 0o7777;
    let leases = flags & libc::O_PATH == 0 && !ctx.st.leases.is_empty();
    // A truncating open breaks leases before it truncates.
    if leases && flags & libc::O_TRUNC != 0 {
        let follow = flags & libc::O_NOFOLLOW == 0;
        let st = ctx
            .k
            .vfs
            .resolve(ctx, crate::abi::int(dirfd), &p, follow)
            .ok()
            .and_then(|r| r.stat);
        if let Some(st) = st {
            break_leases(ctx, &st, flags)?;
        }
    }
    let f = ctx
        .k
        .vfs
        .open_how(ctx, crate::abi::int(dirfd), &p, flags, mode, how)?;
    if let (true, Ok(st)) = (leases, f.ops.stat()) {
        break_leases(ctx, &st, flags)?;
    }
    // A FIFO's rendezvous, a terminal becoming the controlling one.
    f.ops.opened(ctx, &f, flags)?;
    if flags & libc::O_PATH == 0 {
        f.note(IN_OPEN);
        // O_TRUNC of a regular file is a modification after the open.
        if flags & libc::O_TRUNC != 0
            && flags & libc::O_ACCMODE != libc::O_RDONLY
            && f.stat()
                .is_ok_and(|s| s.mode & libc::S_IFMT == libc::S_IFREG)
        {
            f.note(sentry::fs::inotify::IN_MODIFY);
        }
    }
    install(ctx, f, flags & libc::O_CLOEXEC != 0)
}
fn open(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_open(
        ctx,
        crate::abi::bits(i64::from(libc::AT_FDCWD)),
        a[0],
        a[1],
        a[2],
    )
}
fn openat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_open(ctx, a[0], a[1], a[2], a[3])
}
fn openat2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    use sentry::fs::vfs::{RESOLVE_BENEATH, RESOLVE_CACHED, RESOLVE_IN_ROOT};
    const VER0: u64 = 24;
    let size = a[3];
    if size < VER0 {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let raw = sentry::mm::read_vec(&ctx.mm, a[2], crate::abi::size(size))?;
    if raw[crate::abi::size(VER0)..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let word = |i: usize| u64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap());
    let (flags, mode, resolve) = (word(0), word(1), word(2));
    const VALID: u64 = (libc::O_ACCMODE
        | libc::O_CREAT
        | libc::O_EXCL
        | libc::O_NOCTTY
        | libc::O_TRUNC
        | libc::O_APPEND
        | libc::O_NONBLOCK
        | libc::O_DSYNC
        | libc::O_ASYNC
        | libc::O_DIRECT
        | libc::O_LARGEFILE
        | libc::O_DIRECTORY
        | libc::O_NOFOLLOW
        | libc::O_NOATIME
        | libc::O_CLOEXEC
        | libc::O_PATH
        | libc::O_TMPFILE
        | libc::O_SYNC) as u64;
    if flags & !VALID != 0 || resolve & !0x3f != 0 {
        return Err(Errno::EINVAL);
    }
    if resolve & RESOLVE_BENEATH != 0 && resolve & RESOLVE_IN_ROOT != 0 {
        return Err(Errno::EINVAL);
    }
    let fl = crate::abi::int(flags);
    let creates = fl & libc::O_CREAT != 0 || fl & libc::O_TMPFILE == libc::O_TMPFILE;
    if (creates && mode & !0o7777 != 0) || (!creates && mode != 0) {
        return Err(Errno::EINVAL);
    }
    let path_flags = libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC;
    if fl & libc::O_PATH != 0 && fl & !path_flags != 0 {
        return Err(Errno::EINVAL);
    }
    if resolve & RESOLVE_CACHED != 0 && (creates || fl & libc::O_TRUNC != 0) {
        return Err(Errno::EAGAIN);
    }
    do_open_how(ctx, a[0], a[1], flags, mode, resolve)
}
fn creat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_open(
        ctx,
        crate::abi::bits(i64::from(libc::AT_FDCWD)),
        a[0],
        (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64,
        a[1],
    )
}

fn close(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] > i32::MAX as u64 {
        return Err(Errno::EBADF);
    }
    let f = ctx.task().files.lock().close(crate::abi::int(a[0]))?;
    crate::locks::on_close(ctx, &f);
    // A unix socket closed while files are in flight may leave a cycle
    // only queues reach: collected now, as Linux's close does.
    let unix = f.ops.as_any().is::<sentry::local::LocalFile>();
    // The last reference raises IN_CLOSE_* as it goes.
    drop(f);
    collect_after_close(ctx.k, unix);
    Ok(0)
}

/// After close(2) of a unix socket (`unix`): with files in flight, a
/// cycle only queues reach may be left, which is collected now, as
/// Linux's close does.
pub(crate) fn collect_after_close(k: &sentry::Kernel, unix: bool) {
    let names = &k.sockets;
    if unix && names.in_flight.load(std::sync::atomic::Ordering::Relaxed) > 0 {
        sentry::local::gc::collect(names);
    }
}

fn close_range(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (lo, hi, flags) = (crate::abi::uint(a[0]), crate::abi::uint(a[1]), a[2]);
    if flags & !6 != 0 || lo > hi {
        return Err(Errno::EINVAL);
    }
    if flags & 2 != 0 {
        let t = ctx.task();
        let copy = t.files.lock().clone();
        t.files = Arc::new(parking_lot::Mutex::new(copy));
    }
    let files = ctx.task().files.clone();
    let mut ft = files.lock();
    let fds: Vec<i32> = ft
        .fds
        .range(crate::abi::sbits(lo)..=crate::abi::sbits(hi.min(i32::MAX as u32)))
        .map(|(&k, _)| k)
        .collect();
    for fd in fds {
        if flags & 4 != 0 {
            ft.fds.get_mut(&fd).unwrap().cloexec = true;
        } else {
            ft.fds.remove(&fd);
        }
    }
    Ok(0)
}

fn lseek(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    seek(&f, a[1], a[2])
}

/// lseek(2) on an open file (needs nothing of the kernel's state).
pub(crate) fn seek(f: &Arc<File>, off: u64, whence: u64) -> KResult<u64> {
    not_path(f)?;
    let whence = crate::abi::int(whence);
    if !(0..=4).contains(&whence) {
        return Err(Errno::EINVAL);
    }
    if f.ops
        .stat()
        .is_ok_and(|s| s.mode & libc::S_IFMT == libc::S_IFDIR)
    {
        // Directory offsets are entry indices (the d_off getdents64 gives).
        let mut dp = f.dir_pos.lock();
        let new = match whence {
            libc::SEEK_SET => crate::abi::long(off),
            libc::SEEK_CUR => crate::abi::signed(dp.0 as u64).saturating_add(crate::abi::long(off)),
            _ => return Err(Errno::EINVAL),
        };
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        dp.0 = crate::abi::usize_of(crate::abi::bits(new));
        if new == 0 {
            dp.1 = None;
        }
        return Ok(crate::abi::bits(new));
    }
    f.ops.seek(f, crate::abi::long(off), whence)
}

/// The kernel's struct stat for x86-64, owners as user namespace `ns`
/// sees them.
pub fn linux_stat(s: &Stat, ns: &UserNs) -> linux_raw_sys::general::stat {
    linux_raw_sys::general::stat {
        st_dev: s.dev,
        st_ino: s.ino,
        st_nlink: s.nlink,
        st_mode: s.mode,
        st_uid: ns.uid_shown(s.uid),
        st_gid: ns.gid_shown(s.gid),
        __pad0: 0,
        st_rdev: s.rdev,
        st_size: s.size,
        st_blksize: s.blksize,
        st_blocks: s.blocks,
        // Unsigned in the kernel's layout: times before 1970 wrap.
        st_atime: crate::abi::bits(s.atime.0),
        st_atime_nsec: crate::abi::bits(s.atime.1),
        st_mtime: crate::abi::bits(s.mtime.0),
        st_mtime_nsec: crate::abi::bits(s.mtime.1),
        st_ctime: crate::abi::bits(s.ctime.0),
        st_ctime_nsec: crate::abi::bits(s.ctime.1),
        __unused: [0; 3],
    }
}

fn stat_path(ctx: &mut Ctx<'_, '_>, dirfd: i32, path: u64, flags: u64) -> KResult<Stat> {
    stat_path_in(&abi::pcx(ctx), dirfd, path, flags)
}

/// The stat of `path` from `dirfd` (a *stat*at call's flags), for a
/// walker with or without the kernel lock.
/// An fd argument back as the register `Pcx::resolve` takes.
fn reg(dirfd: i32) -> u64 {
    abi::bits(i64::from(dirfd))
}

pub(crate) fn stat_path_in(px: &Pcx<'_>, dirfd: i32, path: u64, flags: u64) -> KResult<Stat> {
    if flags & !STAT_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    let p = if path == 0 {
        Vec::new()
    } else {
        sentry::mm::read_cstr(px.mm, path, abi::PATH_MAX - 1)?
    };
    if p.is_empty() {
        if flags & libc::AT_EMPTY_PATH as u64 == 0 {
            return Err(if path == 0 {
                Errno::EFAULT
            } else {
                Errno::ENOENT
            });
        }
        if dirfd == libc::AT_FDCWD {
            let r = px.resolve(abi::CWD, b".", true)?;
            return r.stat.ok_or(Errno::ENOENT);
        }
        return px.w.files.lock().get(dirfd)?.stat();
    }
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW as u64 == 0;
    let r = px.resolve(reg(dirfd), &p, follow)?;
    r.stat.ok_or(Errno::ENOENT)
}

fn stat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let s = stat_path(ctx, libc::AT_FDCWD, a[0], 0)?;
    let out = linux_stat(&s, &ctx.proc_ref().creds.userns);
    put(ctx, a[1], &out)?;
    Ok(0)
}
fn lstat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let s = stat_path(ctx, libc::AT_FDCWD, a[0], libc::AT_SYMLINK_NOFOLLOW as u64)?;
    let out = linux_stat(&s, &ctx.proc_ref().creds.userns);
    put(ctx, a[1], &out)?;
    Ok(0)
}
fn fstat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let s = fdget(ctx, a[0])?.stat()?;
    let out = linux_stat(&s, &ctx.proc_ref().creds.userns);
    put(ctx, a[1], &out)?;
    Ok(0)
}
fn newfstatat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let s = stat_path(ctx, crate::abi::int(a[0]), a[1], a[3])?;
    let out = linux_stat(&s, &ctx.proc_ref().creds.userns);
    put(ctx, a[2], &out)?;
    Ok(0)
}

fn statx(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    // AT_STATX_FORCE_SYNC and AT_STATX_DONT_SYNC are one or the other.
    if a[2] & 0x6000 == 0x6000 || a[3] & 0x8000_0000 != 0 {
        return Err(Errno::EINVAL);
    }
    let flags = a[2] & !0x6000;
    let s = stat_path(ctx, crate::abi::int(a[0]), a[1], flags)?;
    let mnt = mount_of_path(&abi::pcx(ctx), crate::abi::int(a[0]), a[1], flags);
    let out = statx_bytes(&s, &ctx.proc_ref().creds.userns, mnt);
    put(ctx, a[4], &out)?;
    Ok(0)
}

/// The mount a *stat*at call's object is on: its id and whether the
/// object is that mount's root (statx's stx_mnt_id and
/// STATX_ATTR_MOUNT_ROOT).
pub(crate) fn mount_of_path(
    px: &Pcx<'_>,
    dirfd: i32,
    path: u64,
    flags: u64,
) -> Option<(u64, bool)> {
    let p = if path == 0 {
        Vec::new()
    } else {
        sentry::mm::read_cstr(px.mm, path, abi::PATH_MAX - 1).ok()?
    };
    if p.is_empty() {
        let pl = if dirfd == libc::AT_FDCWD {
            px.w.fs.lock().cwd.clone()
        } else {
            px.w.files.lock().get(dirfd).ok()?.place()?.clone()
        };
        let (rel, _) = pl.rel();
        return Some((pl.mount.id, rel == pl.mount.root));
    }
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW as u64 == 0;
    let r = px.resolve(reg(dirfd), &p, follow).ok()?;
    Some((r.mount.id, r.rel == r.mount.root))
}

/// The flags stat_path accepts.
pub(crate) const STAT_FLAGS: u64 = crate::abi::bits(
    (libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT | 0x6000) as i64,
);

/// struct statx for `s` (the basic stats, and the birth time where the
/// filesystem keeps one), owners as `ns` sees them; `mnt`: the mount's
/// id and whether `s` is its root, when known.
pub(crate) fn statx_bytes(s: &Stat, ns: &UserNs, mnt: Option<(u64, bool)>) -> [u8; 256] {
    const STATX_BTIME: u32 = 0x800;
    const STATX_MNT_ID: u32 = 0x1000;
    // What every filesystem reports (Linux's generic attributes mask).
    const ATTR_AUTOMOUNT: u64 = 0x1000;
    const ATTR_MOUNT_ROOT: u64 = 0x2000;
    const ATTR_DAX: u64 = 0x20_0000;
    let mut b = [0u8; 256];
    let w32 = |b: &mut [u8; 256], o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    let w64 = |b: &mut [u8; 256], o: usize, v: u64| b[o..o + 8].copy_from_slice(&v.to_le_bytes());
    let mut mask = 0x7ff; // STATX_BASIC_STATS
    if s.btime != (0, 0) {
        mask |= STATX_BTIME;
        w64(&mut b, 80, crate::abi::bits(s.btime.0));
        w32(&mut b, 88, u32::try_from(s.btime.1).unwrap_or(0));
    }
    if let Some((id, root)) = mnt {
        mask |= STATX_MNT_ID;
        w64(&mut b, 144, id);
        if root {
            w64(&mut b, 8, ATTR_MOUNT_ROOT);
        }
    }
    w64(&mut b, 56, ATTR_AUTOMOUNT | ATTR_MOUNT_ROOT | ATTR_DAX);
    w32(&mut b, 0, mask);
    w32(&mut b, 4, u32::try_from(s.blksize).unwrap_or(4096));
    w32(&mut b, 16, crate::abi::uint(s.nlink));
    w32(&mut b, 20, ns.uid_shown(s.uid));
    w32(&mut b, 24, ns.gid_shown(s.gid));
    // stx_mode is 16 bits: type and permissions fit.
    b[28..30].copy_from_slice(&u16::try_from(s.mode & 0xffff).unwrap_or(0).to_le_bytes());
    w64(&mut b, 32, s.ino);
    w64(&mut b, 40, crate::abi::bits(s.size));
    w64(&mut b, 48, crate::abi::bits(s.blocks));
    for (o, t) in [(64, s.atime), (96, s.ctime), (112, s.mtime)] {
        w64(&mut b, o, crate::abi::bits(t.0));
        w32(&mut b, o + 8, u32::try_from(t.1).unwrap_or(0));
    }
    let maj = |d: u64| crate::abi::uint(((d >> 8) & 0xfff) | ((d >> 32) & !0xfff));
    let min = |d: u64| crate::abi::uint((d & 0xff) | ((d >> 12) & !0xff));
    w32(&mut b, 128, maj(s.rdev));
    w32(&mut b, 132, min(s.rdev));
    w32(&mut b, 136, maj(s.dev));
    w32(&mut b, 140, min(s.dev));
    b
}

fn getdents64(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    getdents_in(&ctx.caller(), &ctx.mm, &f, a[1], a[2])
}

/// getdents(2), the old record: `struct linux_dirent` (the type in the
/// record's last byte).
fn getdents(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    list_dir(&ctx.caller(), &ctx.mm, &f, a[1], a[2], true)
}

/// getdents64(2) of open directory `f` into `buf` (`len` bytes), with or
/// without the kernel lock (procfs lists kernel state: NEEDLOCK without).
pub(crate) fn getdents_in(
    c: &sentry::fs::vfs::Caller<'_>,
    mm: &Mm,
    f: &File,
    buf: u64,
    len: u64,
) -> KResult<u64> {
    list_dir(c, mm, f, buf, len, false)
}

/// getdents (`old`) or getdents64 of `f`.
fn list_dir(
    c: &sentry::fs::vfs::Caller<'_>,
    mm: &Mm,
    f: &File,
    buf: u64,
    len: u64,
    old: bool,
) -> KResult<u64> {
    not_path(f)?;
    // The count is an unsigned int, and one past INT_MAX is refused.
    let len = u64::from(crate::abi::uint(len));
    if len > i32::MAX as u64 {
        return Err(Errno::EINVAL);
    }
    let st = f.ops.stat()?;
    if st.mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    // A removed directory lists nothing, not even "." and "..".
    if f.place().is_some_and(|p| p.is_dead()) {
        return Err(Errno::ENOENT);
    }
    let cap = (crate::abi::size(len)).min(1 << 20);
    let mut dp = f.dir_pos.lock();
    if dp.1.is_none() || dp.0 == 0 {
        let mut list = vec![
            sentry::fs::DirEntry {
                ino: st.ino,
                kind: libc::DT_DIR,
                name: b".".to_vec(),
            },
            sentry::fs::DirEntry {
                ino: st.ino,
                kind: libc::DT_DIR,
                name: b"..".to_vec(),
            },
        ];
        list.extend(f.ops.readdir_for(c)?);
        dp.1 = Some(list);
    }
    let list = dp.1.as_ref().unwrap();
    let mut out = Vec::new();
    let first = dp.0;
    let mut ends = Vec::new();
    let mut i = dp.0;
    while i < list.len() {
        let e = &list[i];
        // linux_dirent64: ino, off, reclen, type, name, NUL; the old
        // linux_dirent: ino, off, reclen, name, NUL, type last.
        let head = if old { 18 } else { 19 };
        let reclen = (head + e.name.len() + 1 + usize::from(old) + 7) & !7;
        if out.len() + reclen > cap {
            break;
        }
        let start = out.len();
        out.extend_from_slice(&e.ino.to_le_bytes());
        out.extend_from_slice(&crate::abi::signed(i as u64 + 1).to_le_bytes());
        // A name is at most 255 bytes: reclen fits.
        out.extend_from_slice(&u16::try_from(reclen).unwrap_or(u16::MAX).to_le_bytes());
        if !old {
            out.push(e.kind);
        }
        out.extend_from_slice(&e.name);
        out.resize(start + reclen, 0);
        if old {
            out[start + reclen - 1] = e.kind;
        }
        ends.push(out.len());
        i += 1;
    }
    if out.is_empty() && i < list.len() {
        return Err(Errno::EINVAL);
    }
    // Entries go out one by one: those before the first that faults,
    // EFAULT if that is the first.
    let acc = mm.accessible(buf, out.len(), true);
    if acc < out.len() {
        let keep = ends.iter().filter(|&&e| e <= acc).count();
        if keep == 0 {
            return Err(Errno::EFAULT);
        }
        out.truncate(ends[keep - 1]);
        i = first + keep;
    }
    drop(dp);
    mm.write(buf, &out)?;
    f.dir_pos.lock().0 = i;
    f.note(IN_ACCESS);
    Ok(out.len() as u64)
}

/// readlinkat(2), with or without the kernel lock.
pub(crate) fn readlink_in(px: &Pcx<'_>, dirfd: i32, path: u64, buf: u64, len: u64) -> KResult<u64> {
    if crate::abi::long(len) <= 0 {
        return Err(Errno::EINVAL);
    }
    // `path` refuses the empty path; readlinkat takes it.
    let empty = sentry::mm::read_cstr(px.mm, path, 1).is_ok_and(|p| p.is_empty());
    let p = if empty { Vec::new() } else { px.path(path)? };
    let target = if p.is_empty() {
        // The empty path names the dirfd itself: an O_PATH fd of a
        // symlink is read; anything else is ENOENT.
        if dirfd == libc::AT_FDCWD {
            return Err(Errno::ENOENT);
        }
        let f = px.w.files.lock().get(dirfd)?;
        if f.ops.stat()?.mode & libc::S_IFMT != libc::S_IFLNK {
            return Err(Errno::ENOENT);
        }
        let place = f.place().ok_or(Errno::ENOENT)?;
        let (rel, _) = place.rel();
        place.mount.fs.readlink(&px.w.c, &rel)?
    } else {
        let r = px.resolve(reg(dirfd), &p, false)?;
        let st = r.stat.ok_or(Errno::ENOENT)?;
        if st.mode & libc::S_IFMT != libc::S_IFLNK {
            return Err(Errno::EINVAL);
        }
        r.mount.fs.readlink(&px.w.c, &r.rel)?
    };
    let n = target.len().min(crate::abi::size(len));
    px.mm.write(buf, &target[..n])?;
    Ok(n as u64)
}
fn readlink(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    readlink_in(&abi::pcx(ctx), libc::AT_FDCWD, a[0], a[1], a[2])
}
fn readlinkat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    readlink_in(&abi::pcx(ctx), abi::int(a[0]), a[1], a[2], a[3])
}

fn do_access(ctx: &mut Ctx<'_, '_>, dirfd: i32, path: u64, mode: u64, flags: u64) -> KResult<u64> {
    access_in(&abi::pcx(ctx), dirfd, path, mode, flags)
}

/// faccessat2(2), with or without the kernel lock.
pub(crate) fn access_in(
    px: &Pcx<'_>,
    dirfd: i32,
    path: u64,
    mode: u64,
    flags: u64,
) -> KResult<u64> {
    if mode & !7 != 0
        || flags & !((libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) as u64)
            != 0
    {
        return Err(Errno::EINVAL);
    }
    let st = stat_path_in(px, dirfd, path, flags & !(libc::AT_EACCESS as u64))?;
    // The check is made as the real ids (AT_EACCESS: as the caller is),
    // a real uid other than root having no capabilities for it (Linux's
    // access_override_creds).
    let mut c = px.creds()?.clone();
    if flags & libc::AT_EACCESS as u64 == 0 {
        c.fsuid = c.ruid;
        c.fsgid = c.rgid;
        use sentry::kernel::creds::secbit;
        if c.securebits & secbit::NO_SETUID_FIXUP == 0 {
            c.caps.effective = if c.userns.uid_from_ns(0) == Some(c.ruid) {
                c.caps.permitted
            } else {
                0
            };
        }
    }
    let mode = crate::abi::uint(mode);
    if mode & 3 != 0 {
        let p = sentry::mm::read_cstr(px.mm, path, 4095).unwrap_or_default();
        if !p.is_empty() {
            let follow = flags & libc::AT_SYMLINK_NOFOLLOW as u64 == 0;
            if let Ok(r) = px.resolve(reg(dirfd), &p, follow) {
                let fmt = st.mode & libc::S_IFMT;
                if mode & 2 != 0
                    && r.mount.flags & libc::MS_RDONLY != 0
                    && (fmt == libc::S_IFREG || fmt == libc::S_IFDIR || fmt == libc::S_IFLNK)
                {
                    return Err(Errno::EROFS);
                }
                // Nothing on a noexec mount is executable.
                if mode & 1 != 0 && r.mount.flags & libc::MS_NOEXEC != 0 && fmt == libc::S_IFREG {
                    return Err(Errno::EACCES);
                }
            }
        }
    }
    // The same check as every access: mode bits, ACLs, capabilities.
    if mode != 0 && !sentry::fs::vfs::may(&c, &st, mode) {
        return Err(Errno::EACCES);
    }
    Ok(0)
}
fn access(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_access(ctx, libc::AT_FDCWD, a[0], a[1], 0)
}
fn faccessat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_access(ctx, crate::abi::int(a[0]), a[1], a[2], 0)
}
fn faccessat2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_access(ctx, crate::abi::int(a[0]), a[1], a[2], a[3])
}

fn getcwd(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (cwd, root) = {
        let fs = ctx.task_ref().fs.lock();
        (fs.cwd.locate(), fs.root.path())
    };
    let (cwd, live) = cwd;
    if !live {
        return Err(Errno::ENOENT);
    }
    let mut cwd = if crate::mount::under(&cwd, &root) {
        crate::mount::rebase(&cwd, &root, b"/")
    } else {
        [&b"(unreachable)"[..], &cwd].concat()
    };
    cwd.push(0);
    if (crate::abi::size(a[1])) < cwd.len() {
        return Err(Errno::ERANGE);
    }
    ctx.mm.write(a[0], &cwd)?;
    Ok(cwd.len() as u64)
}

fn set_cwd(
    ctx: &mut Ctx<'_, '_>,
    st: sentry::fs::Stat,
    place: sentry::fs::vfs::PathRef,
) -> KResult<u64> {
    if st.mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    if !sentry::fs::vfs::may(&ctx.proc_ref().creds, &st, sentry::fs::vfs::MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    ctx.task().fs.lock().cwd = place;
    Ok(0)
}
fn chdir(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let p = abi::path(ctx, a[0])?;
    let r = ctx.k.vfs.resolve(ctx, libc::AT_FDCWD, &p, true)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    set_cwd(ctx, st, r.place())
}
fn fchdir(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    let place = f.place().ok_or(Errno::ENOTDIR)?.clone();
    let st = f.ops.stat()?;
    set_cwd(ctx, st, place)
}

fn dup_to(ctx: &mut Ctx<'_, '_>, old: u64, min: u64, cloexec: bool) -> KResult<u64> {
    let files = ctx.task().files.clone();
    dup_in(&files, nofile(ctx), old, min, cloexec)
}

/// dup(2) and F_DUPFD: the lowest free fd at or above `min`.
pub(crate) fn dup_in(
    files: &parking_lot::Mutex<sentry::fs::file::FdTable>,
    lim: u64,
    old: u64,
    min: u64,
    cloexec: bool,
) -> KResult<u64> {
    let mut t = files.lock();
    let f = t.get(i32::try_from(old).map_err(|_| Errno::EBADF)?)?;
    if min >= lim {
        return Err(Errno::EINVAL);
    }
    let fd = t.alloc(f, cloexec, crate::abi::int(min), lim)?;
    Ok(crate::abi::bits(i64::from(fd)))
}

fn dup(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    dup_to(ctx, a[0], 0, false)
}

fn do_dup3(ctx: &mut Ctx<'_, '_>, old: u64, new: u64, flags: u64) -> KResult<u64> {
    let files = ctx.task().files.clone();
    let (fd, prev) = dup3_in(&files, nofile(ctx), old, new, flags)?;
    if let Some(p) = prev {
        crate::locks::on_close(ctx, &p.file);
    }
    Ok(fd)
}

/// dup2/dup3 of `old` onto `new` (equal ones are the callers'): the
/// entry it replaced, for the caller to close.
pub(crate) fn dup3_in(
    files: &parking_lot::Mutex<sentry::fs::file::FdTable>,
    lim: u64,
    old: u64,
    new: u64,
    flags: u64,
) -> KResult<(u64, Option<sentry::fs::file::FdEntry>)> {
    let mut t = files.lock();
    let f = t.get(i32::try_from(old).map_err(|_| Errno::EBADF)?)?;
    if new >= lim || new > i32::MAX as u64 {
        return Err(Errno::EBADF);
    }
    let prev = t.install(crate::abi::int(new), f, flags & libc::O_CLOEXEC as u64 != 0);
    Ok((new, prev))
}

fn dup2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] == a[1] {
        fdget(ctx, a[0])?;
        return Ok(a[1]);
    }
    do_dup3(ctx, a[0], a[1], 0)
}

fn dup3(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] == a[1] || a[2] & !(libc::O_CLOEXEC as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    do_dup3(ctx, a[0], a[1], a[2])
}

/// The fcntl(2) commands that need only the fd table and the open file
/// (`lim`: RLIMIT_NOFILE); None for the others.
pub(crate) fn fcntl_fd(
    files: &parking_lot::Mutex<sentry::fs::file::FdTable>,
    lim: u64,
    a: [u64; 6],
) -> Option<KResult<u64>> {
    let fd = a[0];
    let cmd = crate::abi::int(a[1]);
    let f = match i32::try_from(fd)
        .map_err(|_| Errno::EBADF)
        .and_then(|fd| files.lock().get(fd))
    {
        Ok(f) => f,
        Err(e) => return Some(Err(e)),
    };
    // An O_PATH file takes only the fd-level commands and F_GETFL.
    let fd_level = [
        libc::F_DUPFD,
        libc::F_DUPFD_CLOEXEC,
        libc::F_GETFD,
        libc::F_SETFD,
        libc::F_GETFL,
        1027,
    ];
    if f.flags() & libc::O_PATH != 0 && !fd_level.contains(&cmd) {
        return Some(Err(Errno::EBADF));
    }
    Some(match cmd {
        libc::F_DUPFD => dup_in(files, lim, fd, a[2], false),
        libc::F_DUPFD_CLOEXEC => dup_in(files, lim, fd, a[2], true),
        libc::F_GETFD => {
            let c = files
                .lock()
                .fds
                .get(&crate::abi::int(fd))
                .map(|e| e.cloexec)
                .unwrap_or(false);
            Ok(u64::from(c))
        }
        libc::F_SETFD => {
            if let Some(e) = files.lock().fds.get_mut(&crate::abi::int(fd)) {
                e.cloexec = a[2] & 1 != 0;
            }
            Ok(0)
        }
        // F_DUPFD_QUERY: whether the two fds share an open file.
        1027 => i32::try_from(a[2])
            .map_err(|_| Errno::EBADF)
            .and_then(|other| files.lock().get(other))
            .map(|o| u64::from(Arc::ptr_eq(&f, &o))),
        libc::F_GETFL => Ok(crate::abi::bits(i64::from(f.flags()))),
        libc::F_SETFL => {
            let changeable = libc::O_APPEND
                | libc::O_NONBLOCK
                | libc::O_ASYNC
                | libc::O_DIRECT
                | libc::O_NOATIME;
            let nf = (f.flags() & !changeable) | (crate::abi::int(a[2]) & changeable);
            // Turning O_ASYNC on or off registers with the object, and
            // turning O_NOATIME on takes the file's owner: locked.
            if (nf ^ f.flags()) & libc::O_ASYNC != 0 || nf & !f.flags() & libc::O_NOATIME != 0 {
                return None;
            }
            f.set_flags(nf);
            Ok(0)
        }
        _ => return None,
    })
}

fn fcntl(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let files = ctx.task().files.clone();
    if let Some(r) = fcntl_fd(&files, nofile(ctx), a) {
        return r;
    }
    let fd = a[0];
    let f = fdget(ctx, fd)?;
    match crate::abi::int(a[1]) {
        libc::F_GETLK
        | libc::F_SETLK
        | libc::F_SETLKW
        | libc::F_OFD_GETLK
        | libc::F_OFD_SETLK
        | libc::F_OFD_SETLKW => crate::locks::fcntl_lock(ctx, fd, crate::abi::int(a[1]), a[2]),
        libc::F_GETOWN => {
            let (kind, id) = *f.owner.lock();
            let id = owner_shown(ctx, kind, id);
            Ok(crate::abi::bits(
                if kind == F_OWNER_PGRP { -id } else { id } as i64,
            ))
        }
        libc::F_SETOWN => {
            let who = crate::abi::int(a[2]);
            let owner = if who < 0 {
                (F_OWNER_PGRP, who.checked_neg().ok_or(Errno::EINVAL)?)
            } else {
                (F_OWNER_PID, who)
            };
            set_owner(ctx, &f, owner)
        }
        F_GETOWN_EX => {
            let o = *f.owner.lock();
            put(ctx, a[2], &[o.0, owner_shown(ctx, o.0, o.1)])?;
            Ok(0)
        }
        F_SETOWN_EX => {
            let [kind, id]: [i32; 2] = get(ctx, a[2])?;
            if !(0..=2).contains(&kind) {
                return Err(Errno::EINVAL);
            }
            set_owner(ctx, &f, (kind, id))
        }
        libc::F_NOTIFY => {
            let dn = crate::abi::uint(a[2]);
            let fdn = crate::abi::int(fd);
            let r = ctx.k.vfs.resolve(ctx, fdn, b".", true)?;
            let st = f.ops.stat()?;
            let tgid = ctx.tgid();
            let reg = ctx.k.vfs.inotify.clone();
            reg.dnotify
                .register(&reg, &f, &r.path, &st, (tgid, fdn), dn)?;
            Ok(0)
        }
        libc::F_SETFL => {
            let want = crate::abi::int(a[2]) & libc::O_ASYNC != 0;
            // A file that cannot signal keeps O_ASYNC off.
            let mut changeable =
                libc::O_APPEND | libc::O_NONBLOCK | libc::O_DIRECT | libc::O_NOATIME;
            let noatime = crate::abi::int(a[2]) & libc::O_NOATIME != 0;
            if noatime && f.flags() & libc::O_NOATIME == 0 {
                owner_or_capable(ctx, &f.stat()?)?;
            }
            if set_async(ctx, &f, crate::abi::int(fd), want) {
                changeable |= libc::O_ASYNC;
            }
            f.set_flags((f.flags() & !changeable) | (crate::abi::int(a[2]) & changeable));
            Ok(0)
        }
        F_SETLEASE => set_lease(ctx, &f, crate::abi::int(fd), crate::abi::int(a[2])),
        F_GETLEASE => Ok(crate::abi::bits(i64::from(ctx.st.leases.get(&f)))),
        F_GETSIG => Ok(crate::abi::bits(i64::from(
            f.owner_sig.load(std::sync::atomic::Ordering::Relaxed),
        ))),
        F_SETSIG => {
            if a[2] > 64 {
                return Err(Errno::EINVAL);
            }
            f.owner_sig
                .store(crate::abi::int(a[2]), std::sync::atomic::Ordering::Relaxed);
            Ok(0)
        }
        libc::F_SETPIPE_SZ => match f.ops.pipe(false) {
            Some(p) => {
                let privileged = ctx
                    .proc_ref()
                    .creds
                    .capable(sentry::kernel::creds::cap::SYS_RESOURCE);
                // The argument is an unsigned int.
                let size = u32::try_from(a[2] & 0xffff_ffff).unwrap_or(u32::MAX);
                Ok(p.set_capacity(size, privileged)? as u64)
            }
            None => Err(Errno::EBADF),
        },
        libc::F_GETPIPE_SZ => match f.ops.pipe(false) {
            Some(p) => Ok(p.capacity() as u64),
            None => Err(Errno::EBADF),
        },
        libc::F_GET_SEALS => {
            let s = f.ops.seals().ok_or(Errno::EINVAL)?;
            Ok(s.load(std::sync::atomic::Ordering::Relaxed) as u64)
        }
        libc::F_ADD_SEALS => {
            use sentry::fs::file::{
                F_SEAL_EXEC, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK,
                F_SEAL_WRITE,
            };
            // Linux's order: the fd's mode, the seals, the file.
            if !f.writable() {
                return Err(Errno::EPERM);
            }
            let mut add = crate::abi::uint(a[2]);
            if a[2] > u32::MAX as u64 || add & !(F_SEAL_EXEC * 2 - 1) != 0 {
                return Err(Errno::EINVAL);
            }
            let s = f.ops.seals().ok_or(Errno::EINVAL)?;
            let now = s.load(std::sync::atomic::Ordering::Relaxed);
            if now & F_SEAL_SEAL != 0 {
                return Err(Errno::EPERM);
            }
            // Sealing an executable file's exec bits seals its contents
            // too: W^X from then on.
            if add & F_SEAL_EXEC != 0 && f.ops.stat()?.mode & 0o111 != 0 {
                add |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
            }
            if add & F_SEAL_WRITE != 0 && now & F_SEAL_WRITE == 0 && f.ops.writably_mapped() {
                return Err(Errno::EBUSY);
            }
            s.fetch_or(add, std::sync::atomic::Ordering::Relaxed);
            Ok(0)
        }
        // The write-life hint of the file (its inode's, for every fd).
        F_GET_RW_HINT => {
            let st = f.ops.stat()?;
            let h = ctx.st.rw_hints.get(&(st.dev, st.ino)).copied().unwrap_or(0);
            put(ctx, a[2], &h)?;
            Ok(0)
        }
        F_SET_RW_HINT => {
            let h: u64 = get(ctx, a[2])?;
            if h > RWH_WRITE_LIFE_EXTREME {
                return Err(Errno::EINVAL);
            }
            let st = f.ops.stat()?;
            if h == 0 {
                ctx.st.rw_hints.remove(&(st.dev, st.ino));
            } else {
                ctx.st.rw_hints.insert((st.dev, st.ino), h);
            }
            Ok(0)
        }
        _ => {
            ctx.log_once(&format!("fcntl cmd {}", a[1]));
            Err(Errno::EINVAL)
        }
    }
}

const F_GET_RW_HINT: i32 = 1035;
const F_SET_RW_HINT: i32 = 1036;
const RWH_WRITE_LIFE_EXTREME: u64 = 5;

const F_SETSIG: i32 = 10;
const F_GETSIG: i32 = 11;
const F_SETOWN_EX: i32 = 15;
const F_GETOWN_EX: i32 = 16;
const F_OWNER_TID: i32 = 0;
const F_OWNER_PID: i32 = 1;
const F_OWNER_PGRP: i32 = 2;

/// O_ASYNC on or off for `f`, set through `fd`: SIGIO for its owner.
fn set_async(ctx: &mut Ctx<'_, '_>, f: &Arc<File>, fd: i32, on: bool) -> bool {
    let owed = ctx.k.vfs.fasync.clone();
    let c = ctx.caller();
    sentry::fs::fasync::set(&owed, &c, f, fd, on)
}

/// A file owner's id as the caller numbers it: 0 once the owner is gone
/// (Linux's f_getown looks the task or group up first).
fn owner_shown(ctx: &Ctx<'_, '_>, kind: i32, id: i32) -> i32 {
    // A process owner that is a zombie reads as gone too.
    let live = owner_exists(ctx, kind, id)
        && (kind != F_OWNER_PID || ctx.st.procs.get(&id).is_some_and(|p| p.exit.is_none()));
    if live {
        ctx.task_ref().pid_ns.local(id).unwrap_or(0)
    } else {
        0
    }
}

/// Whether owner `id` of `kind` is there: a thread, a process (a zombie
/// too), or a group with a live member.
fn owner_exists(ctx: &Ctx<'_, '_>, kind: i32, id: i32) -> bool {
    match kind {
        F_OWNER_TID => ctx.st.tasks.contains_key(&id),
        F_OWNER_PID => ctx.st.procs.contains_key(&id),
        _ => ctx
            .st
            .procs
            .values()
            .any(|p| p.pgid == id && p.exit.is_none()),
    }
}

const F_SETLEASE: i32 = 1024;
const F_GETLEASE: i32 = 1025;

/// F_SETLEASE: the file's owner's (or CAP_LEASE's), on regular files,
/// as Linux's vfs_setlease; the file's owner for signals becomes the
/// caller's process.
fn set_lease(ctx: &mut Ctx<'_, '_>, f: &Arc<File>, fd: i32, kind: i32) -> KResult<u64> {
    use sentry::kernel::creds::cap;
    let st = f.ops.stat()?;
    let c = &ctx.proc_ref().creds;
    if c.fsuid != st.uid && !c.capable(cap::LEASE) {
        return Err(Errno::EACCES);
    }
    if st.mode & libc::S_IFMT != libc::S_IFREG
        || !matches!(kind, libc::F_RDLCK | libc::F_WRLCK | libc::F_UNLCK)
    {
        return Err(Errno::EINVAL);
    }
    let inode = (st.dev, st.ino);
    let others = if kind == libc::F_UNLCK {
        Vec::new()
    } else {
        open_files_of(ctx, inode, f)
    };
    ctx.st
        .leases
        .set(f, fd, inode, kind, &others, f.writable())?;
    if kind != libc::F_UNLCK {
        *f.owner.lock() = (F_OWNER_PID, ctx.tgid());
        ctx.k
            .leases_used
            .store(true, std::sync::atomic::Ordering::Release);
    }
    Ok(0)
}

/// The open files of `inode` other than `me` in any fd table of the
/// sandbox: whether each is open for writing.
fn open_files_of(ctx: &Ctx<'_, '_>, inode: (u64, u64), me: &Arc<File>) -> Vec<bool> {
    let mut tables = std::collections::HashSet::new();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for t in ctx.st.tasks.values() {
        if !tables.insert(Arc::as_ptr(&t.files) as usize) {
            continue;
        }
        let files: Vec<Arc<File>> = t
            .files
            .lock()
            .fds
            .values()
            .map(|e| e.file.clone())
            .collect();
        for f in files {
            if Arc::ptr_eq(&f, me) || !seen.insert(Arc::as_ptr(&f) as usize) {
                continue;
            }
            if f.flags() & libc::O_PATH != 0 {
                continue;
            }
            if f.ops.stat().is_ok_and(|s| (s.dev, s.ino) == inode) {
                out.push(f.writable());
            }
        }
    }
    out
}

/// An open that conflicts with a lease on its file breaks it: the holder
/// is signalled and the opener waits for it to give way (or the break
/// time to pass); a non-blocking open is refused with EWOULDBLOCK.
pub(crate) fn break_leases(ctx: &mut Ctx<'_, '_>, st: &Stat, flags: i32) -> KResult<()> {
    if st.mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(());
    }
    let inode = (st.dev, st.ino);
    let write = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
    loop {
        let (signal, conflict) = ctx.st.leases.break_for(inode, write);
        for (holder, fd) in signal {
            sentry::kernel::lifecycle::signal_lease_break(&mut ctx.st, &holder, fd);
        }
        if !conflict {
            return Ok(());
        }
        if flags & libc::O_NONBLOCK != 0 {
            return Err(Errno::EAGAIN);
        }
        // Woken when a lease changes; a holder's close is noticed by
        // looking again every little while.
        let recheck = Instant::now() + Duration::from_millis(20);
        let until = ctx
            .st
            .leases
            .next_deadline(inode)
            .map_or(recheck, |d| d.min(recheck));
        let q = ctx.st.leases.wq.clone();
        let mut w = ctx.wait_start();
        w.on(&q, sentry::kernel::waitq::EV_ALL);
        ctx.sleep(&w, Some(until))?;
    }
}

/// O_NOATIME is the file owner's (or CAP_FOWNER's) to ask for: EPERM
/// for anyone else, as Linux's inode_owner_or_capable.
pub(crate) fn owner_or_capable(ctx: &Ctx<'_, '_>, st: &Stat) -> KResult<()> {
    if ctx.proc_ref().creds.owns(st.uid, st.gid) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// Records the owner F_SETOWN(_EX) names: an id in use (0: none).
fn set_owner(ctx: &mut Ctx<'_, '_>, f: &File, owner: (i32, i32)) -> KResult<u64> {
    let (kind, id) = owner;
    // Ids are the caller's namespace's (a group as its negative).
    let id = ctx.pid_arg(id);
    // Any id in use is taken (Linux finds its struct pid): a thread's
    // id as a process or group owner names no one and sends nothing.
    if id != 0 && !owner_exists(ctx, kind, id) && !ctx.st.tasks.contains_key(&id) {
        return Err(Errno::ESRCH);
    }
    *f.owner.lock() = (kind, id);
    Ok(0)
}

fn ioctl(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget_io(ctx, a[0])?;
    match a[1] as libc::c_ulong {
        libc::FIOCLEX | libc::FIONCLEX => {
            let files = ctx.task().files.clone();
            if let Some(e) = files.lock().fds.get_mut(&(crate::abi::int(a[0]))) {
                e.cloexec = a[1] as libc::c_ulong == libc::FIOCLEX;
            }
            Ok(0)
        }
        libc::FIONBIO => {
            let on: i32 = get(ctx, a[2])?;
            let fl = f.flags();
            f.set_flags(if on != 0 {
                fl | libc::O_NONBLOCK
            } else {
                fl & !libc::O_NONBLOCK
            });
            Ok(0)
        }
        // The ioctl form of F_SETFL's O_ASYNC (nginx sets it on its
        // channel to the workers), with the same limit.
        libc::FIOASYNC => {
            let on: i32 = get(ctx, a[2])?;
            let fl = f.flags();
            let change = (fl & libc::O_ASYNC != 0) != (on != 0);
            if change && !set_async(ctx, &f, crate::abi::int(a[0]), on != 0) {
                return Err(Errno::ENOTTY);
            }
            f.set_flags(if on != 0 {
                fl | libc::O_ASYNC
            } else {
                fl & !libc::O_ASYNC
            });
            Ok(0)
        }
        // A socket's owner by ioctl: FIOSETOWN/SIOCSPGRP and
        // FIOGETOWN/SIOCGPGRP are F_SETOWN and F_GETOWN.
        0x8901 | 0x8902 if f.ops.socket().is_some() => {
            let who: i32 = get(ctx, a[2])?;
            let owner = if who < 0 {
                (F_OWNER_PGRP, who.checked_neg().ok_or(Errno::EINVAL)?)
            } else {
                (F_OWNER_PID, who)
            };
            set_owner(ctx, &f, owner)
        }
        // SIOCATMARK: never at an urgent mark (urgent data is refused).
        0x8905 if f.ops.socket().is_some() => {
            put(ctx, a[2], &0i32)?;
            Ok(0)
        }
        0x8903 | 0x8904 if f.ops.socket().is_some() => {
            let (kind, id) = *f.owner.lock();
            let id = owner_shown(ctx, kind, id);
            put(ctx, a[2], &if kind == F_OWNER_PGRP { -id } else { id })?;
            Ok(0)
        }
        // FICLONE, FICLONERANGE and FIDEDUPERANGE: no filesystem here
        // shares extents, so Linux's answer for one without remapping
        // (cp --reflink=auto then copies), after the checks it makes first.
        0x4004_9409 | 0x4020_940d | 0xc018_9436 => {
            let clone = a[1] != 0xc018_9436;
            if clone {
                let src = if a[1] == 0x4004_9409 {
                    a[2]
                } else {
                    get::<[u64; 4]>(ctx, a[2])?[0]
                };
                let s = fdget_io(ctx, src & 0xffff_ffff)?;
                // Only within one mount (a pipe has none).
                let same = match (s.place(), f.place()) {
                    (Some(a), Some(b)) => Arc::ptr_eq(&a.mount, &b.mount),
                    _ => false,
                };
                if !same {
                    return Err(Errno::EXDEV);
                }
                let (from, to) = (s.ops.stat()?.mode, f.ops.stat()?.mode);
                if from & libc::S_IFMT == libc::S_IFDIR || to & libc::S_IFMT == libc::S_IFDIR {
                    return Err(Errno::EISDIR);
                }
                if from & libc::S_IFMT != libc::S_IFREG || to & libc::S_IFMT != libc::S_IFREG {
                    return Err(Errno::EINVAL);
                }
                if !s.readable() || !f.writable() || f.flags() & libc::O_APPEND != 0 {
                    return Err(Errno::EBADF);
                }
            }
            Err(Errno::EOPNOTSUPP)
        }
        // FIGETBSZ: the block size of the file's filesystem, any file.
        2 => {
            let st = f.ops.stat()?;
            put(ctx, a[2], &i32::try_from(st.blksize).unwrap_or(4096))?;
            Ok(0)
        }
        // FIOQSIZE: the bytes a file, directory or symlink takes
        // (inode_get_bytes); no answer for anything else.
        0x5460 => {
            let st = f.ops.stat()?;
            if !matches!(
                st.mode & libc::S_IFMT,
                libc::S_IFREG | libc::S_IFDIR | libc::S_IFLNK
            ) {
                return Err(Errno::ENOTTY);
            }
            put(ctx, a[2], &st.blocks.saturating_mul(512))?;
            Ok(0)
        }
        // Inode flags (lsattr, chattr): a host file has the host's (its
        // ioctl below); the sandbox's own files have none, and none can
        // be set (nothing here would honour them).
        0x8008_6601 | 0x801c_581f | 0x4008_6602 | 0x401c_5820 if f.ops.host_fd().is_none() => {
            let kind = f.ops.stat()?.mode & libc::S_IFMT;
            if kind != libc::S_IFREG && kind != libc::S_IFDIR {
                return Err(Errno::ENOTTY);
            }
            match a[1] {
                0x8008_6601 => put(ctx, a[2], &0i32)?,
                0x801c_581f => put(ctx, a[2], &[0u8; 28])?,
                0x4008_6602 => {
                    let flags: i32 = get(ctx, a[2])?;
                    if flags != 0 {
                        return Err(Errno::EOPNOTSUPP);
                    }
                }
                _ => {
                    let x: [u8; 28] = get(ctx, a[2])?;
                    if x.iter().any(|&b| b != 0) {
                        return Err(Errno::EOPNOTSUPP);
                    }
                }
            }
            Ok(0)
        }
        libc::FIONREAD if f.ops.stat()?.mode & libc::S_IFMT == libc::S_IFREG => {
            // Regular files: the bytes from the position to the end, an
            // int (negative past the end, as Linux's i_size - f_pos).
            let size = f.ops.stat()?.size.max(0);
            let pos = crate::abi::long(f.ops.position(&f));
            let n = size
                .saturating_sub(pos)
                .clamp(i64::from(i32::MIN), i64::from(i32::MAX));
            put(ctx, a[2], &i32::try_from(n).unwrap_or(i32::MAX))?;
            Ok(0)
        }
        _ => f.ops.ioctl(ctx, &f, a[1], a[2]),
    }
}

fn do_pipe(ctx: &mut Ctx<'_, '_>, addr: u64, flags: u64) -> KResult<u64> {
    // O_NOTIFICATION_PIPE (O_EXCL): a kernel without watch queues.
    const O_NOTIFICATION_PIPE: u64 = libc::O_EXCL as u64;
    if flags & !((libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) as u64 | O_NOTIFICATION_PIPE)
        != 0
    {
        return Err(Errno::EINVAL);
    }
    if flags & O_NOTIFICATION_PIPE != 0 {
        return Err(Errno::ENOPKG);
    }
    // O_DIRECT makes the write end write packets; Linux sets it on that
    // end only.
    let fl = crate::abi::int(flags) & (libc::O_NONBLOCK | libc::O_DIRECT);
    let (r, w) = new_pipe();
    let (rn, wn) = (r.name(), w.name());
    let rf = File::new(Box::new(r), libc::O_RDONLY | (fl & !libc::O_DIRECT), rn);
    let wf = File::new(Box::new(w), libc::O_WRONLY | fl, wn);
    let cloexec = flags & libc::O_CLOEXEC as u64 != 0;
    let lim = nofile(ctx);
    let files = ctx.task().files.clone();
    let mut ft = files.lock();
    let a = ft.alloc(rf, cloexec, 0, lim)?;
    let b = match ft.alloc(wf, cloexec, 0, lim) {
        Ok(b) => b,
        Err(e) => {
            ft.fds.remove(&a);
            return Err(e);
        }
    };
    drop(ft);
    if let Err(e) = put(ctx, addr, &[a, b]) {
        let mut ft = files.lock();
        ft.fds.remove(&a);
        ft.fds.remove(&b);
        return Err(e);
    }
    Ok(0)
}
fn pipe(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_pipe(ctx, a[0], 0)
}
fn pipe2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_pipe(ctx, a[0], a[1])
}

/// Polls `fds` (fd, events) until something is ready or the deadline;
/// returns revents per entry.
fn poll_wait(
    ctx: &mut Ctx<'_, '_>,
    fds: &[(i32, i16)],
    deadline: Option<Instant>,
    path_nval: bool,
) -> KResult<Vec<i16>> {
    // A sleep a signal ended looks at the files once more: what became
    // ready with the signal (a child's pidfd with its SIGCHLD) is
    // reported, as Linux's do_poll checks the files before signals.
    let mut interrupted = None;
    loop {
        let files: Vec<Option<Arc<File>>> = {
            let ft = ctx.task().files.clone();
            let ft: parking_lot::MutexGuard<'_, FdTable> = ft.lock();
            // To poll(2) an O_PATH file is no file (POLLNVAL); select(2)
            // finds it ready, as Linux's do.
            fds.iter()
                .map(|&(fd, _)| if fd < 0 { None } else { ft.get(fd).ok() })
                .map(|f| f.filter(|f| !path_nval || f.flags() & libc::O_PATH == 0))
                .collect()
        };
        // On every file's queues before polling it, so a change after its
        // poll wakes the sleep.
        let mut w = ctx.wait_start();
        let mut rev = Vec::with_capacity(fds.len());
        let mut hosts = Vec::new();
        let mut ready = false;
        {
            let c = ctx.caller();
            for (i, &(fd, ev)) in fds.iter().enumerate() {
                // POLLRDNORM and POLLWRNORM are POLLIN and POLLOUT to
                // files here, and reported with them, as Linux's are.
                let norm = |b: i16, n: i16, v: i16| if b & n != 0 { v } else { 0 };
                let ask = ev
                    | norm(ev, libc::POLLRDNORM, libc::POLLIN)
                    | norm(ev, libc::POLLWRNORM, libc::POLLOUT);
                let want = ask | libc::POLLERR | libc::POLLHUP;
                let r = match (&files[i], fd < 0) {
                    (_, true) => 0,
                    (None, false) => libc::POLLNVAL,
                    (Some(f), _) => {
                        if !ready {
                            for (q, e) in f.ops.wait_queues(&c, u32::from(want.cast_unsigned())) {
                                w.on(&q, e);
                            }
                        }
                        let mut r = f.ops.poll_for(&c, want);
                        r |= norm(r, libc::POLLIN, libc::POLLRDNORM)
                            | norm(r, libc::POLLOUT, libc::POLLWRNORM);
                        if let Some(h) = f.ops.host_fd() {
                            hosts.push((h, ask));
                        }
                        r & (ev | libc::POLLERR | libc::POLLHUP | libc::POLLNVAL)
                    }
                };
                ready |= r != 0;
                rev.push(r);
            }
        }
        // A pending signal ends a call that found nothing, even one
        // that would not wait (Linux's do_poll and core_sys_select).
        if !ready {
            if let Some(e) = interrupted {
                return Err(e);
            }
            if ctx.interrupted() {
                return Err(Errno::ERESTARTSYS);
            }
        }
        if ready || deadline.is_some_and(|d| d <= Instant::now()) {
            return Ok(rev);
        }
        let slept = if hosts.is_empty() {
            ctx.sleep(&w, deadline).map(|_| ())
        } else {
            ctx.sleep_host(&w, &hosts, deadline).map(|_| ())
        };
        interrupted = slept.err();
    }
}

fn deadline_of(d: Option<Duration>) -> Option<Instant> {
    d.map(sentry::kernel::time::after)
}

fn do_poll(ctx: &mut Ctx<'_, '_>, addr: u64, n: u64, deadline: Option<Instant>) -> KResult<u64> {
    // nfds is an unsigned int: the register's high half is not looked at.
    let n = u64::from(crate::abi::uint(n));
    if n > nofile(ctx) {
        return Err(Errno::EINVAL);
    }
    let mut raw: Vec<[u8; 8]> = Vec::with_capacity(crate::abi::size(n));
    for i in 0..n {
        raw.push(get(ctx, addr + i * 8)?);
    }
    let fds: Vec<(i32, i16)> = raw
        .iter()
        .map(|b| {
            (
                i32::from_le_bytes(b[0..4].try_into().unwrap()),
                i16::from_le_bytes([b[4], b[5]]),
            )
        })
        .collect();
    let rev = poll_wait(ctx, &fds, deadline, true)?;
    let mut count = 0;
    for (i, r) in rev.iter().enumerate() {
        let mut b = raw[i];
        b[6..8].copy_from_slice(&r.to_le_bytes());
        put(ctx, addr + i as u64 * 8, &b)?;
        count += u64::from(*r != 0);
    }
    Ok(count)
}

fn poll(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let t = crate::abi::int(a[2]);
    let d = (t >= 0).then(|| {
        sentry::kernel::time::after(Duration::from_millis(crate::abi::bits(i64::from(t))))
    });
    match do_poll(ctx, a[0], a[1], d) {
        Err(e) if e == Errno::ERESTARTSYS => Err(Errno::ERESTARTNOHAND),
        r => r,
    }
}

/// Installs a temporary signal mask for ppoll/pselect; restored after the
/// call (or by the signal frame when a handler runs).
pub(crate) fn temp_mask(ctx: &mut Ctx<'_, '_>, maskp: u64, size: u64) -> KResult<()> {
    if maskp == 0 {
        return Ok(());
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let m: u64 = get(ctx, maskp)?;
    let t = ctx.task();
    t.saved_mask = Some(t.sig_mask.get());
    t.sig_mask.set(m & !ksig::UNBLOCKABLE);
    Ok(())
}

/// Ends a call that installed a temporary mask: unless a signal
/// interrupted it (the signal's frame then restores the old mask), the
/// old mask is back before the return, so a signal the temporary mask
/// let in stays pending (Linux's restore_saved_sigmask_unless).
pub(crate) fn end_temp_mask(ctx: &mut Ctx<'_, '_>, r: KResult<u64>) -> KResult<u64> {
    let interrupted = matches!(r, Err(e) if e == Errno::ERESTARTSYS
        || e == Errno::ERESTARTNOHAND
        || e == Errno::EINTR);
    if !interrupted {
        let t = ctx.task();
        if let Some(m) = t.saved_mask.take() {
            t.sig_mask.set(m);
        }
    }
    r
}

fn ppoll(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let d = if a[2] != 0 {
        Some(abi::timespec(ctx, a[2])?)
    } else {
        None
    };
    temp_mask(ctx, a[3], a[4])?;
    let start = Instant::now();
    let r = do_poll(ctx, a[0], a[1], deadline_of(d));
    if let (Some(d), true) = (d, a[2] != 0) {
        let left = d.saturating_sub(start.elapsed());
        let _ = put(ctx, a[2], &abi::ts_of(left));
    }
    end_temp_mask(
        ctx,
        match r {
            Err(e) if e == Errno::ERESTARTSYS => Err(Errno::ERESTARTNOHAND),
            r => r,
        },
    )
}

fn do_select(
    ctx: &mut Ctx<'_, '_>,
    n: u64,
    sets: [u64; 3],
    deadline: Option<Instant>,
) -> KResult<u64> {
    if crate::abi::int(n) < 0 {
        return Err(Errno::EINVAL);
    }
    // Linux looks no further than its fd table's size: 64 fds, grown to
    // 128 times a power of two past the highest fd opened.
    let top = ctx
        .task_ref()
        .files
        .lock()
        .fds
        .keys()
        .next_back()
        .copied()
        .unwrap_or(0);
    let size = if top < 64 {
        64
    } else {
        (u64::from(top.unsigned_abs()) / 128 + 1).next_power_of_two() * 128
    };
    let n = n.min(size);
    let words = crate::abi::size(n.div_ceil(64));
    let mut bits = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    for (k, set) in bits.iter_mut().enumerate() {
        if sets[k] != 0 {
            for (w, word) in set.iter_mut().enumerate() {
                *word = get(ctx, sets[k] + w as u64 * 8)?;
            }
        }
    }
    let mut fds = Vec::new();
    for fd in 0..crate::abi::size(n) {
        let (w, b) = (fd / 64, fd % 64);
        let mut ev = 0i16;
        if bits[0][w] >> b & 1 != 0 {
            ev |= libc::POLLIN;
        }
        if bits[1][w] >> b & 1 != 0 {
            ev |= libc::POLLOUT;
        }
        if bits[2][w] >> b & 1 != 0 {
            ev |= libc::POLLPRI;
        }
        if ev != 0 {
            fds.push((crate::abi::int_len(fd), ev));
        }
    }
    let rev = poll_wait(ctx, &fds, deadline, false)?;
    let mut out = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    let mut count = 0;
    for (i, &(fd, ev)) in fds.iter().enumerate() {
        let r = rev[i];
        if r & libc::POLLNVAL != 0 {
            return Err(Errno::EBADF);
        }
        let fd = usize::try_from(fd).unwrap_or(0);
        let (w, b) = (fd / 64, fd % 64);
        if ev & libc::POLLIN != 0 && r & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            out[0][w] |= 1 << b;
            count += 1;
        }
        if ev & libc::POLLOUT != 0 && r & (libc::POLLOUT | libc::POLLERR) != 0 {
            out[1][w] |= 1 << b;
            count += 1;
        }
        if ev & libc::POLLPRI != 0 && r & libc::POLLPRI != 0 {
            out[2][w] |= 1 << b;
            count += 1;
        }
    }
    for (k, set) in out.iter().enumerate() {
        if sets[k] != 0 {
            for (w, word) in set.iter().enumerate() {
                put(ctx, sets[k] + w as u64 * 8, word)?;
            }
        }
    }
    Ok(count)
}

fn select(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let d = if a[4] != 0 {
        Some(abi::timeval(ctx, a[4])?)
    } else {
        None
    };
    let start = Instant::now();
    let r = do_select(ctx, a[0], [a[1], a[2], a[3]], deadline_of(d));
    if let Some(d) = d {
        let _ = put(ctx, a[4], &abi::tv_of(d.saturating_sub(start.elapsed())));
    }
    match r {
        Err(e) if e == Errno::ERESTARTSYS => Err(Errno::ERESTARTNOHAND),
        r => r,
    }
}

fn pselect6(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let d = if a[4] != 0 {
        Some(abi::timespec(ctx, a[4])?)
    } else {
        None
    };
    if a[5] != 0 {
        let m: [u64; 2] = get(ctx, a[5])?;
        temp_mask(ctx, m[0], m[1])?;
    }
    let start = Instant::now();
    let r = do_select(ctx, a[0], [a[1], a[2], a[3]], deadline_of(d));
    if let Some(d) = d {
        let _ = put(ctx, a[4], &abi::ts_of(d.saturating_sub(start.elapsed())));
    }
    end_temp_mask(
        ctx,
        match r {
            Err(e) if e == Errno::ERESTARTSYS => Err(Errno::ERESTARTNOHAND),
            r => r,
        },
    )
}

/// statfs's f_flags for a mount with `mflags` (MS_*): ST_VALID and the
/// mount's flags (ST_RELATIME, the default, unless noatime or
/// strictatime).
fn st_flags(mflags: u64) -> i64 {
    const ST_VALID: u64 = 0x20;
    const ST_RELATIME: u64 = 0x1000;
    let same = libc::MS_RDONLY
        | libc::MS_NOSUID
        | libc::MS_NODEV
        | libc::MS_NOEXEC
        | libc::MS_SYNCHRONOUS
        | libc::MS_NOATIME
        | libc::MS_NODIRATIME;
    let relatime = if mflags & (libc::MS_NOATIME | libc::MS_STRICTATIME) == 0 {
        ST_RELATIME
    } else {
        0
    };
    crate::abi::long(ST_VALID | (mflags & same) | relatime)
}

fn put_statfs(
    ctx: &mut Ctx<'_, '_>,
    addr: u64,
    s: sentry::fs::StatFs,
    mflags: u64,
) -> KResult<u64> {
    let mut v = [0i64; 15];
    v[0] = s.f_type;
    v[1] = s.bsize;
    v[2] = crate::abi::long(s.blocks);
    v[3] = crate::abi::long(s.bfree);
    v[4] = crate::abi::long(s.bavail);
    v[5] = crate::abi::long(s.files);
    v[6] = crate::abi::long(s.ffree);
    v[8] = s.namelen;
    v[9] = s.frsize;
    v[10] = s.flags | st_flags(mflags);
    put(ctx, addr, &v)?;
    Ok(0)
}
fn statfs(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let p = abi::path(ctx, a[0])?;
    let r = ctx.k.vfs.resolve(ctx, libc::AT_FDCWD, &p, true)?;
    r.stat.ok_or(Errno::ENOENT)?;
    let s = r.mount.fs.statfs()?;
    put_statfs(ctx, a[1], s, r.mount.flags)
}
fn fstatfs(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    if f.ops.pipe(false).is_some() {
        let pipefs = sentry::fs::StatFs {
            f_type: 0x5049_5045,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..Default::default()
        };
        return put_statfs(ctx, a[1], pipefs, 0);
    }
    let m = match f.place() {
        Some(p) => p.mount.clone(),
        None => ctx.k.vfs.ns_of_task(ctx.task_ref()).mount_of(&f.path()).0,
    };
    let s = m.fs.statfs()?;
    put_statfs(ctx, a[1], s, m.flags)
}

fn fsync(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    fdget_io(ctx, a[0])?.ops.sync()?;
    Ok(0)
}
/// sync(2): every filesystem of the caller's mounts writes back (only a
/// writable host root has anything to); it cannot fail.
fn sync(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    let c = ctx.caller();
    let mut done: Vec<*const ()> = Vec::new();
    for m in ctx.k.vfs.mounts(&c) {
        let id = Arc::as_ptr(&m.fs).cast::<()>();
        if !done.contains(&id) {
            done.push(id);
            let _ = m.fs.sync_fs();
        }
    }
    Ok(0)
}
/// syncfs(2): the filesystem the file is on.
fn syncfs(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget_io(ctx, a[0])?;
    if let Some(place) = f.place() {
        place.mount.fs.sync_fs()?;
    }
    Ok(0)
}
fn sync_file_range(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    const KNOWN: u64 = 1 | 2 | 4; // WAIT_BEFORE, WRITE, WAIT_AFTER
    let (off, n, flags) = (crate::abi::long(a[1]), crate::abi::long(a[2]), a[3]);
    if flags & !KNOWN != 0 || off < 0 || n < 0 || off.checked_add(n).is_none() {
        return Err(Errno::EINVAL);
    }
    let f = fdget_io(ctx, a[0])?;
    match f.ops.stat()?.mode & libc::S_IFMT {
        libc::S_IFREG | libc::S_IFDIR | libc::S_IFBLK | libc::S_IFLNK => {}
        _ => return Err(Errno::ESPIPE),
    }
    if flags == 0 {
        return Ok(0);
    }
    // Writing the whole file out covers any range.
    match f.ops.sync() {
        Err(e) if e == Errno::EINVAL => Ok(0),
        r => r.map(|_| 0),
    }
}
fn readahead(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    if !f.readable() {
        return Err(Errno::EBADF);
    }
    if f.ops.stat()?.mode & libc::S_IFMT != libc::S_IFREG || (crate::abi::long(a[1])) < 0 {
        return Err(Errno::EINVAL);
    }
    // A hint: the data is in memory (tmpfs) or the host page cache fills
    // on the first read, so there is nothing to start early.
    Ok(0)
}
fn name_to_handle_at(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    const AT_HANDLE_FID: u64 = 0x200;
    let follow = libc::AT_SYMLINK_FOLLOW as u64;
    if a[4] & !(follow | libc::AT_EMPTY_PATH as u64 | AT_HANDLE_FID) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = sentry::mm::read_cstr(&ctx.mm, a[1], 4096)?;
    if p.is_empty() {
        if a[4] & libc::AT_EMPTY_PATH as u64 == 0 {
            return Err(Errno::ENOENT);
        }
        fdget(ctx, a[0])?;
    } else {
        let r = ctx
            .k
            .vfs
            .resolve(ctx, crate::abi::int(a[0]), &p, a[4] & follow != 0)?;
        r.stat.ok_or(Errno::ENOENT)?;
    }
    // No filesystem here exports file handles.
    Err(Errno::EOPNOTSUPP)
}
fn open_by_handle_at(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if !ctx
        .proc_ref()
        .creds
        .capable(sentry::kernel::creds::cap::DAC_READ_SEARCH)
    {
        return Err(Errno::EPERM);
    }
    fdget(ctx, a[0])?;
    // Handles are never handed out (name_to_handle_at is EOPNOTSUPP).
    Err(Errno::EOPNOTSUPP)
}
fn fadvise64(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget_io(ctx, a[0])?;
    if a[3] > 5 || crate::abi::long(a[2]) < 0 {
        return Err(Errno::EINVAL);
    }
    if f.ops.stat()?.mode & libc::S_IFMT == libc::S_IFIFO {
        return Err(Errno::ESPIPE);
    }
    Ok(0)
}

fn fallocate(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    if crate::abi::int(a[1]) & libc::FALLOC_FL_KEEP_SIZE == 0 {
        grows_within_limit(ctx, &f, a[2].saturating_add(a[3]))?;
    }
    fallocate_file(&ctx.proc_ref().creds, &f, a)
}

/// A regular file grown to `len` must stay within RLIMIT_FSIZE.
pub(crate) fn grows_within_limit(ctx: &mut Ctx<'_, '_>, f: &File, len: u64) -> KResult<()> {
    match f.ops.stat() {
        Ok(st) if st.mode & libc::S_IFMT == libc::S_IFREG && len > crate::abi::bits(st.size) => {
            sentry::fs::io::fsize_ok(ctx, len)
        }
        _ => Ok(()),
    }
}

/// fallocate(2) on open file `f` (registers `a`) by `creds` (whose
/// change takes set-ID bits as a write does), with or without the
/// kernel lock.
pub(crate) fn fallocate_file(
    creds: &sentry::kernel::Creds,
    f: &Arc<File>,
    a: [u64; 6],
) -> KResult<u64> {
    let (mode, off, len) = (
        crate::abi::int(a[1]),
        crate::abi::long(a[2]),
        crate::abi::long(a[3]),
    );
    const KNOWN: i32 = libc::FALLOC_FL_KEEP_SIZE
        | libc::FALLOC_FL_PUNCH_HOLE
        | libc::FALLOC_FL_COLLAPSE_RANGE
        | libc::FALLOC_FL_ZERO_RANGE
        | libc::FALLOC_FL_INSERT_RANGE
        | libc::FALLOC_FL_UNSHARE_RANGE;
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if a[1] > i32::MAX as u64 || mode & !KNOWN != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if mode & libc::FALLOC_FL_PUNCH_HOLE != 0 && mode & libc::FALLOC_FL_KEEP_SIZE == 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if !f.writable() {
        return Err(Errno::EBADF);
    }
    match f.ops.stat()?.mode & libc::S_IFMT {
        libc::S_IFDIR => return Err(Errno::EISDIR),
        libc::S_IFIFO => return Err(Errno::ESPIPE),
        libc::S_IFREG => {}
        _ => return Err(Errno::ENODEV),
    }
    if off.checked_add(len).is_none() {
        return Err(Errno::EFBIG);
    }
    f.fallocate(mode, crate::abi::bits(off), crate::abi::bits(len))?;
    sentry::fs::io::strip_privs(creds, f);
    Ok(0)
}

fn ftruncate(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    if crate::abi::long(a[1]) >= 0 && f.writable() {
        grows_within_limit(ctx, &f, a[1])?;
    }
    ftruncate_file(&ctx.proc_ref().creds, &f, a[1])
}

/// ftruncate(2) of open file `f` to `len` by `creds` (whose truncate
/// takes set-ID bits as a write does), with or without the kernel lock.
pub(crate) fn ftruncate_file(
    creds: &sentry::kernel::Creds,
    f: &Arc<File>,
    len: u64,
) -> KResult<u64> {
    not_path(f)?;
    if (crate::abi::long(len)) < 0 || !f.writable() {
        return Err(Errno::EINVAL);
    }
    f.truncate(len)?;
    sentry::fs::io::strip_privs(creds, f);
    Ok(0)
}

fn memfd_create(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    const MFD_CLOEXEC: u64 = 1;
    const MFD_ALLOW_SEALING: u64 = 2;
    const MFD_HUGETLB: u64 = 4;
    const MFD_NOEXEC_SEAL: u64 = 8;
    const MFD_EXEC: u64 = 0x10;
    let flags = a[1];
    if flags & MFD_HUGETLB != 0 {
        ctx.log_once("memfd_create MFD_HUGETLB");
        return Err(Errno::EINVAL);
    }
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC) != 0
        || (flags & MFD_NOEXEC_SEAL != 0 && flags & MFD_EXEC != 0)
    {
        return Err(Errno::EINVAL);
    }
    if a[0] == 0 {
        return Err(Errno::EFAULT);
    }
    // The name is at most 249 bytes (NAME_MAX minus "memfd:").
    let name = sentry::mm::read_cstr(&ctx.mm, a[0], 4096)?;
    if name.len() > 249 {
        return Err(Errno::EINVAL);
    }
    let mut path = b"/memfd:".to_vec();
    path.extend_from_slice(&name);
    path.extend_from_slice(b" (deleted)");
    let (mode, seals) = if flags & MFD_NOEXEC_SEAL != 0 {
        (0o666, sentry::fs::file::F_SEAL_EXEC)
    } else if flags & MFD_ALLOW_SEALING != 0 {
        (0o777, 0)
    } else {
        (0o777, sentry::fs::file::F_SEAL_SEAL)
    };
    let ops = sentry::fs::tmpfs::anonymous_file(1 << 34, mode, seals, &ctx.k.memfile);
    let f = File::new(ops, libc::O_RDWR | O_LARGEFILE, path);
    install(ctx, f, flags & MFD_CLOEXEC != 0)
}
