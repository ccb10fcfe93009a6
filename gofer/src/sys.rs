//! Small, named wrappers around the host system calls the gofer uses. All of
//! the crate's `unsafe` lives here. File-system wrappers return `Err(errno)`.

use std::ffi::CStr;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The calling thread's errno.
pub(crate) fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Maps a `-1`-on-error return to `Err(errno)`, retrying on `EINTR`.
fn retry<T: PartialEq + From<i8>>(mut f: impl FnMut() -> T) -> Result<T, i32> {
    loop {
        let r = f();
        if r != T::from(-1) {
            return Ok(r);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// The resolution flags used for every path lookup beneath the root: `..`
/// and absolute symlinks stay inside, and no symlink is followed at all.
pub(crate) const RESOLVE_FLAGS: u64 =
    libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_SYMLINKS;

/// `openat2(dirfd, path, {flags | O_CLOEXEC, mode, RESOLVE_FLAGS})`.
pub(crate) fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: u64,
    mode: u64,
) -> Result<OwnedFd, i32> {
    // SAFETY: open_how is three integers; all-zero is valid (and is how
    // the kernel reads fields a newer libc might add).
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags | libc::O_CLOEXEC as u64;
    how.mode = mode;
    how.resolve = RESOLVE_FLAGS;
    let mut attempts = 0;
    loop {
        // SAFETY: `path` is a valid NUL-terminated string and `how` a fully
        // initialised open_how whose size we pass; the kernel reads both and
        // writes nothing.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                size_of::<libc::open_how>(),
            )
        };
        if r >= 0 {
            // SAFETY: the kernel just returned this new descriptor to us and
            // nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(r as RawFd) };
            // Kernel interfaces are never served, however they were reached.
            let st = fstatfs(fd.as_fd())?;
            if !crate::fstype::magic_allowed(st.f_type) {
                tracing::warn!(
                    f_type = st.f_type,
                    "gofer: refused a file on a kernel filesystem"
                );
                return Err(libc::EACCES);
            }
            return Ok(fd);
        }
        let e = errno();
        // EAGAIN: a concurrent rename or mount raced with an in-root lookup;
        // the kernel asks us to try again.
        attempts += 1;
        if e == libc::EINTR || (e == libc::EAGAIN && attempts < 16) {
            continue;
        }
        return Err(e);
    }
}

/// `fstat(fd)`; on an `O_PATH|O_NOFOLLOW` fd of a symlink this is the lstat.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> Result<libc::stat, i32> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is valid for writes of one struct stat.
    retry(|| unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so it filled `st`.
    Ok(unsafe { st.assume_init() })
}

/// `fstatfs(fd)` (works on `O_PATH` fds).
pub(crate) fn fstatfs(fd: BorrowedFd<'_>) -> Result<libc::statfs64, i32> {
    let mut st = MaybeUninit::<libc::statfs64>::uninit();
    // SAFETY: `st` is valid for writes of one struct statfs64.
    retry(|| unsafe { libc::fstatfs64(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatfs succeeded, so it filled `st`.
    Ok(unsafe { st.assume_init() })
}

/// `readlinkat(dirfd, name)`; an empty `name` reads the symlink `dirfd`
/// itself refers to (an `O_PATH|O_NOFOLLOW` fd).
pub(crate) fn readlinkat(dirfd: BorrowedFd<'_>, name: &CStr) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `name` is NUL-terminated and `buf` is valid for `buf.len()`
    // bytes of writes.
    let n = retry(|| unsafe {
        libc::readlinkat(
            dirfd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    })?;
    buf.truncate(n as usize);
    Ok(buf)
}

const EMPTY: &CStr = c"";

/// `fchownat(fd, "", uid, gid, AT_EMPTY_PATH)`: never follows a symlink.
pub(crate) fn fchown_empty(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> Result<(), i32> {
    // SAFETY: plain syscall on a valid fd with a static empty string.
    retry(|| unsafe {
        libc::fchownat(
            fd.as_raw_fd(),
            EMPTY.as_ptr(),
            uid,
            gid,
            libc::AT_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// `utimensat(fd, "", times, AT_EMPTY_PATH)`: never follows a symlink.
pub(crate) fn utimens_empty(fd: BorrowedFd<'_>, times: [(i64, i64); 2]) -> Result<(), i32> {
    let ts = times.map(|(sec, nsec)| libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as _,
    });
    // SAFETY: `ts` points to two initialised timespecs, read only.
    retry(|| unsafe {
        libc::utimensat(
            fd.as_raw_fd(),
            EMPTY.as_ptr(),
            ts.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// `fchmodat2(fd, "", mode, AT_EMPTY_PATH)` (Linux 6.6+).
pub(crate) fn fchmod_empty(fd: BorrowedFd<'_>, mode: u32) -> Result<(), i32> {
    // SAFETY: plain syscall on a valid fd with a static empty string.
    retry(|| unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            fd.as_raw_fd(),
            EMPTY.as_ptr(),
            mode as libc::c_uint,
            libc::AT_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// `fchmodat(dirfd, name, mode, 0)`. Follows a final symlink: callers check
/// first (this is the fallback for kernels without fchmodat2).
pub(crate) fn fchmodat(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<(), i32> {
    // SAFETY: `name` is NUL-terminated; no memory is written.
    retry(|| unsafe { libc::fchmodat(dirfd.as_raw_fd(), name.as_ptr(), mode, 0) })?;
    Ok(())
}

pub(crate) fn mkdirat(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<(), i32> {
    // SAFETY: `name` is NUL-terminated; no memory is written.
    retry(|| unsafe { libc::mkdirat(dirfd.as_raw_fd(), name.as_ptr(), mode) })?;
    Ok(())
}

pub(crate) fn mknodat(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32, dev: u64) -> Result<(), i32> {
    // SAFETY: `name` is NUL-terminated; no memory is written.
    retry(|| unsafe { libc::mknodat(dirfd.as_raw_fd(), name.as_ptr(), mode, dev as libc::dev_t) })?;
    Ok(())
}

pub(crate) fn unlinkat(dirfd: BorrowedFd<'_>, name: &CStr, flags: i32) -> Result<(), i32> {
    // SAFETY: `name` is NUL-terminated; no memory is written.
    retry(|| unsafe { libc::unlinkat(dirfd.as_raw_fd(), name.as_ptr(), flags) })?;
    Ok(())
}

pub(crate) fn renameat2(
    olddir: BorrowedFd<'_>,
    oldname: &CStr,
    newdir: BorrowedFd<'_>,
    newname: &CStr,
    flags: u32,
) -> Result<(), i32> {
    // SAFETY: both names are NUL-terminated; no memory is written.
    retry(|| unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            olddir.as_raw_fd(),
            oldname.as_ptr(),
            newdir.as_raw_fd(),
            newname.as_ptr(),
            flags as libc::c_uint,
        )
    })?;
    Ok(())
}

/// `linkat(..., 0)`: never follows a final symlink of `oldname`.
pub(crate) fn linkat(
    olddir: BorrowedFd<'_>,
    oldname: &CStr,
    newdir: BorrowedFd<'_>,
    newname: &CStr,
) -> Result<(), i32> {
    // SAFETY: both names are NUL-terminated; no memory is written.
    retry(|| unsafe {
        libc::linkat(
            olddir.as_raw_fd(),
            oldname.as_ptr(),
            newdir.as_raw_fd(),
            newname.as_ptr(),
            0,
        )
    })?;
    Ok(())
}

pub(crate) fn symlinkat(target: &CStr, dirfd: BorrowedFd<'_>, name: &CStr) -> Result<(), i32> {
    // SAFETY: both strings are NUL-terminated; no memory is written.
    retry(|| unsafe { libc::symlinkat(target.as_ptr(), dirfd.as_raw_fd(), name.as_ptr()) })?;
    Ok(())
}

pub(crate) fn ftruncate(fd: BorrowedFd<'_>, len: i64) -> Result<(), i32> {
    // SAFETY: plain syscall on a valid fd.
    retry(|| unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) })?;
    Ok(())
}

pub(crate) fn get_fl(fd: BorrowedFd<'_>) -> Result<i32, i32> {
    // SAFETY: F_GETFL takes no pointer argument.
    retry(|| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })
}

pub(crate) fn set_fl(fd: BorrowedFd<'_>, fl: i32) -> Result<(), i32> {
    // SAFETY: F_SETFL takes an integer argument.
    retry(|| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl) })?;
    Ok(())
}

pub(crate) fn lseek_set(fd: BorrowedFd<'_>, off: u64) -> Result<(), i32> {
    // SAFETY: plain syscall on a valid fd.
    retry(|| unsafe { libc::lseek(fd.as_raw_fd(), off as libc::off_t, libc::SEEK_SET) })?;
    Ok(())
}

/// `getdents64` into `buf`; returns the number of bytes filled (0 at end).
pub(crate) fn getdents64(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    let n = retry(|| unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            fd.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    })?;
    Ok(n as usize)
}

/// One record of a `getdents64` buffer.
pub(crate) struct RawDirent<'a> {
    pub ino: u64,
    pub off: u64,
    pub kind: u8,
    pub name: &'a [u8],
}

/// Parses `linux_dirent64` records (d_ino u64, d_off s64, d_reclen u16,
/// d_type u8, NUL-terminated d_name). Stops at the first malformed record.
pub(crate) fn parse_dirents(mut buf: &[u8]) -> impl Iterator<Item = RawDirent<'_>> {
    std::iter::from_fn(move || {
        if buf.len() < 19 {
            return None;
        }
        let reclen = u16::from_ne_bytes([buf[16], buf[17]]) as usize;
        if reclen < 19 || reclen > buf.len() {
            return None;
        }
        let (rec, rest) = buf.split_at(reclen);
        buf = rest;
        let mut ino = [0u8; 8];
        ino.copy_from_slice(&rec[0..8]);
        let mut off = [0u8; 8];
        off.copy_from_slice(&rec[8..16]);
        let name = &rec[19..];
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        Some(RawDirent {
            ino: u64::from_ne_bytes(ino),
            off: u64::from_ne_bytes(off),
            kind: rec[18],
            name,
        })
    })
}

// ---- confinement ----

pub(crate) fn unshare_mount_ns() -> Result<(), i32> {
    // SAFETY: unshare takes no pointers.
    retry(|| unsafe { libc::unshare(libc::CLONE_NEWNS) })?;
    Ok(())
}

/// `mount(NULL, "/", NULL, flags, NULL)`: change propagation of `/`.
pub(crate) fn remount_root_propagation(flags: libc::c_ulong) -> Result<(), i32> {
    // SAFETY: all strings are NUL-terminated or null, as mount(2) allows for a
    // propagation change.
    retry(|| unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        )
    })?;
    Ok(())
}

const AT_RECURSIVE: libc::c_uint = 0x8000;

/// A detached copy of the mount tree at `path` (open_tree with
/// OPEN_TREE_CLONE): later mounts made here do not show in it.
pub(crate) fn clone_tree(path: &CStr) -> Result<OwnedFd, i32> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: open_tree with a NUL-terminated path; returns a new fd.
    let fd = retry(|| unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE,
        ) as i32
    })?;
    // SAFETY: the kernel just returned this new descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Attaches the detached tree `tree` on the file or directory `place`.
pub(crate) fn attach(tree: BorrowedFd<'_>, place: BorrowedFd<'_>) -> Result<(), i32> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
    const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
    // SAFETY: move_mount between two fds we hold, with empty paths.
    retry(|| unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            place.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        ) as i32
    })?;
    Ok(())
}

/// Makes every mount of the detached tree `tree` read-only.
pub(crate) fn make_read_only(tree: BorrowedFd<'_>) -> Result<(), i32> {
    const MOUNT_ATTR_RDONLY: u64 = 1;
    mount_setattr(tree, MOUNT_ATTR_RDONLY, 0)
}

/// `mount_setattr` on every mount of `tree`: attributes to set and a
/// propagation type (0 leaves it).
fn mount_setattr(
    tree: BorrowedFd<'_>,
    attr_set: u64,
    propagation: libc::c_ulong,
) -> Result<(), i32> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set,
        attr_clr: 0,
        propagation,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr on an fd we hold, an empty path, and a
    // mount_attr of the size passed.
    retry(|| unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        ) as i32
    })?;
    Ok(())
}

/// Makes the detached tree `tree` the root of this mount namespace: it is
/// attached on a scratch tmpfs, pivoted into, and the old root detached.
pub(crate) fn pivot_into(tree: BorrowedFd<'_>) -> Result<(), i32> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
    // Any existing directory serves as the scratch mount point: this mount
    // namespace is private and the old root goes away below.
    let spot = [c"/tmp", c"/mnt", c"/run", c"/dev"]
        .into_iter()
        .find(|d| {
            // SAFETY: constant NUL-terminated strings.
            unsafe {
                libc::mount(
                    c"none".as_ptr(),
                    d.as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    c"size=4k,mode=0700".as_ptr().cast(),
                ) == 0
            }
        })
        .ok_or(libc::ENOENT)?;
    // SAFETY: constant NUL-terminated paths, fds we hold.
    let r = unsafe {
        (|| {
            retry(|| libc::chdir(spot.as_ptr()))?;
            retry(|| libc::mkdir(c"root".as_ptr(), 0o700))?;
            retry(|| {
                libc::syscall(
                    libc::SYS_move_mount,
                    tree.as_raw_fd(),
                    c"".as_ptr(),
                    libc::AT_FDCWD,
                    c"root".as_ptr(),
                    MOVE_MOUNT_F_EMPTY_PATH,
                ) as i32
            })?;
            detach_special_mounts(spot, c"root")?;
            retry(|| libc::chdir(c"root".as_ptr()))?;
            retry(|| libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as i32)?;
            // The old root is now stacked on the new one: detach it.
            retry(|| libc::umount2(c".".as_ptr(), libc::MNT_DETACH))
        })()
    };
    if let Err(e) = r {
        // Leave no scratch mount behind.
        // SAFETY: constant NUL-terminated paths.
        unsafe {
            libc::chdir(c"/".as_ptr());
            libc::umount2(spot.as_ptr(), libc::MNT_DETACH);
        }
        return Err(e);
    }
    chdir(c"/")
}

/// Detaches every mount of a kernel filesystem (procfs, sysfs, devtmpfs,
/// cgroupfs, ...) from the tree attached at `dir/name` (the topmost of
/// each subtree), so the directories beneath them are what gets served. Reads this process's
/// mountinfo, which still shows the original root's /proc.
fn detach_special_mounts(dir: &CStr, name: &CStr) -> Result<(), i32> {
    let prefix = format!("{}/{}", dir.to_string_lossy(), name.to_string_lossy());
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| {
        tracing::error!("gofer: cannot read /proc/self/mountinfo: {e}");
        e.raw_os_error().unwrap_or(libc::EIO)
    })?;
    for point in crate::fstype::special_mounts_under(&info, &prefix) {
        let p = std::ffi::CString::new(point.as_bytes()).map_err(|_| libc::EINVAL)?;
        // SAFETY: a NUL-terminated path.
        retry(|| unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) }).inspect_err(|&e| {
            tracing::error!("gofer: cannot detach {point}: errno {e}");
        })?;
        tracing::debug!("gofer: detached {point}");
    }
    Ok(())
}

/// Makes every mount of the detached tree `tree` private: mounts made on
/// the host later do not propagate into what the gofer serves.
pub(crate) fn make_private(tree: BorrowedFd<'_>) -> Result<(), i32> {
    mount_setattr(tree, 0, libc::MS_PRIVATE)
}

pub(crate) fn chdir(path: &CStr) -> Result<(), i32> {
    // SAFETY: `path` is NUL-terminated.
    retry(|| unsafe { libc::chdir(path.as_ptr()) })?;
    Ok(())
}

pub(crate) fn open(path: &CStr, flags: i32) -> Result<OwnedFd, i32> {
    // SAFETY: `path` is NUL-terminated; no mode is needed without O_CREAT.
    let fd = retry(|| unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just returned this new descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

// ---- socket transport ----

/// Room for this many fds in one received message; more are closed.
const MAX_RECV_FDS: usize = 8;

/// A received message.
pub(crate) struct Received {
    /// bytes stored at the start of the buffer
    pub len: usize,
    /// fds that came with it (close-on-exec)
    pub fds: Vec<OwnedFd>,
    /// the message did not fit the buffer (`MSG_TRUNC`) or fds were dropped
    /// (`MSG_CTRUNC`)
    pub truncated: bool,
}

/// Receives one message (retrying on `EINTR`) with `MSG_CMSG_CLOEXEC`.
pub(crate) fn recv_msg(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Received> {
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut cbuf = [0u64; 2 + MAX_RECV_FDS / 2 + 2];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data for which all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    let n = loop {
        // SAFETY: `msg` points to `iov` (valid for `buf.len()` bytes) and to
        // `cbuf` (valid for `msg_controllen` bytes), both live for the call.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    let mut fds = Vec::new();
    // SAFETY: `msg` was filled by recvmsg; its control pointer and length
    // describe `cbuf`.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: CMSG_FIRSTHDR/CMSG_NXTHDR only return pointers to headers
        // lying wholly inside `cbuf`, which is aligned for cmsghdr.
        let hdr = unsafe { &*cmsg };
        if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS {
            // SAFETY: `cmsg` is a valid header inside `cbuf`.
            let data = unsafe { libc::CMSG_DATA(cmsg) };
            let header = data as usize - cmsg as usize;
            let payload = (hdr.cmsg_len as usize).saturating_sub(header);
            for i in 0..payload / size_of::<libc::c_int>() {
                // SAFETY: the kernel wrote `payload` bytes of fds after the
                // header, inside `cbuf`; read_unaligned needs no alignment.
                let raw = unsafe { std::ptr::read_unaligned(data.cast::<libc::c_int>().add(i)) };
                if raw >= 0 {
                    // SAFETY: SCM_RIGHTS installed this fd in our table for
                    // us; nothing else owns it.
                    fds.push(unsafe { OwnedFd::from_raw_fd(raw) });
                }
            }
        }
        // SAFETY: `cmsg` is a valid header of `msg`'s control buffer.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    let truncated = msg.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0;
    Ok(Received {
        len: n.min(buf.len()),
        fds,
        truncated,
    })
}

/// Sends `data` as one message, with `fd` attached via `SCM_RIGHTS`.
/// Never raises `SIGPIPE`; retries on `EINTR`.
pub(crate) fn send_msg(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let mut cbuf = [0u64; 4];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data for which all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE is pure arithmetic.
        let space = unsafe { libc::CMSG_SPACE(size_of::<libc::c_int>() as u32) } as usize;
        debug_assert!(space <= std::mem::size_of_val(&cbuf));
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer is `space` bytes of zeroed, aligned
        // memory, enough for one header carrying one int, so CMSG_FIRSTHDR
        // returns a valid pointer into it and CMSG_DATA has room for the fd.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::c_int>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd.as_raw_fd());
        }
    }
    loop {
        // SAFETY: `msg` points to `iov` (valid for `data.len()` bytes, only
        // read) and, if set, to the initialised control buffer.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            if n as usize != data.len() {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "short seqpacket send",
                ));
            }
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// After a zero-length receive: has the peer closed the socket (rather than
/// sent an empty message)?
pub(crate) fn peer_closed(sock: BorrowedFd<'_>) -> bool {
    let mut pfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd; timeout 0 never blocks.
    let r = unsafe { libc::poll(&mut pfd, 1, 0) };
    r < 0 || pfd.revents & (libc::POLLHUP | libc::POLLRDHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

/// A connected `AF_UNIX` `SOCK_SEQPACKET` pair, as the runtime creates it.
#[cfg(test)]
pub(crate) fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as libc::c_int; 2];
    // SAFETY: `fds` is valid for writes of two ints.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socketpair succeeded and returned two new descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The largest attribute value or name list the gofer passes on (a reply
/// must fit in one message).
const XATTR_MAX: usize = 60 * 1024;

/// fgetxattr(2) into a buffer of [`XATTR_MAX`] (E2BIG past it).
pub(crate) fn fgetxattr(fd: BorrowedFd<'_>, name: &CStr) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; XATTR_MAX];
    // SAFETY: the buffer is valid for its length; the name is a C string.
    let n = retry(|| unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        ) as libc::c_int
    })
    .map_err(|e| if e == libc::ERANGE { libc::E2BIG } else { e })?;
    buf.truncate(usize::try_from(n).unwrap_or(0));
    Ok(buf)
}

/// fsetxattr(2).
pub(crate) fn fsetxattr(
    fd: BorrowedFd<'_>,
    name: &CStr,
    value: &[u8],
    flags: i32,
) -> Result<(), i32> {
    // SAFETY: the value is valid for its length; the name is a C string.
    retry(|| unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    })?;
    Ok(())
}

/// fremovexattr(2).
pub(crate) fn fremovexattr(fd: BorrowedFd<'_>, name: &CStr) -> Result<(), i32> {
    // SAFETY: the name is a C string.
    retry(|| unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) })?;
    Ok(())
}

/// flistxattr(2) into a buffer of [`XATTR_MAX`].
pub(crate) fn flistxattr(fd: BorrowedFd<'_>) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; XATTR_MAX];
    // SAFETY: the buffer is valid for its length.
    let n = retry(|| unsafe {
        libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) as libc::c_int
    })
    .map_err(|e| if e == libc::ERANGE { libc::E2BIG } else { e })?;
    buf.truncate(usize::try_from(n).unwrap_or(0));
    Ok(buf)
}

/// The access ACL attribute, which every gofer-served stat reports.
pub const ACL_ACCESS: &CStr = c"system.posix_acl_access";
/// A directory's default ACL attribute.
pub const ACL_DEFAULT: &CStr = c"system.posix_acl_default";

/// getxattrat(2) (Linux 6.13) of attribute `attr` of `name` in directory
/// `dir`, `name` itself never followed: the value, or None when the file
/// has no such attribute. No permission on the file is needed, and
/// nothing is opened. ENOSYS on an older kernel.
pub fn getxattrat(dir: BorrowedFd<'_>, name: &CStr, attr: &CStr) -> Result<Option<Vec<u8>>, i32> {
    use linux_raw_sys::general::{__NR_getxattrat, xattr_args};
    let call = |buf: &mut [u8]| {
        let mut args = xattr_args {
            value: buf.as_mut_ptr() as u64,
            size: u32::try_from(buf.len()).unwrap_or(u32::MAX),
            flags: 0,
        };
        // SAFETY: C strings for the names, and an xattr_args of the size
        // passed whose buffer is valid for its length.
        retry(|| unsafe {
            libc::syscall(
                libc::c_long::from(__NR_getxattrat),
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
                attr.as_ptr(),
                &mut args as *mut xattr_args,
                size_of::<xattr_args>(),
            )
        })
    };
    // An ACL of a few entries fits the first buffer; a larger value is
    // asked for at its size (which may change between the calls).
    let mut buf = vec![0u8; 256];
    for _ in 0..4 {
        match call(&mut buf) {
            Ok(n) => {
                buf.truncate(usize::try_from(n).unwrap_or(0));
                return Ok(Some(buf));
            }
            Err(libc::ENODATA) => return Ok(None),
            Err(libc::ERANGE) => {
                let n = usize::try_from(call(&mut [])?).unwrap_or(0);
                buf = vec![0u8; n.clamp(1, XATTR_MAX)];
            }
            Err(e) => return Err(e),
        }
    }
    Err(libc::E2BIG)
}

/// setxattrat(2) (Linux 6.13) of attribute `attr` of `name` in `dir`,
/// `name` itself never followed. ENOSYS on an older kernel.
pub(crate) fn setxattrat(
    dir: BorrowedFd<'_>,
    name: &CStr,
    attr: &CStr,
    value: &[u8],
    flags: u32,
) -> Result<(), i32> {
    use linux_raw_sys::general::{__NR_setxattrat, xattr_args};
    let args = xattr_args {
        value: value.as_ptr() as u64,
        size: u32::try_from(value.len()).map_err(|_| libc::E2BIG)?,
        flags,
    };
    // SAFETY: C strings for the names, and an xattr_args of the size
    // passed whose value is valid for its length.
    retry(|| unsafe {
        libc::syscall(
            libc::c_long::from(__NR_setxattrat),
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            attr.as_ptr(),
            &args as *const xattr_args,
            size_of::<xattr_args>(),
        )
    })?;
    Ok(())
}

/// removexattrat(2) (Linux 6.13) of attribute `attr` of `name` in `dir`,
/// `name` itself never followed. ENOSYS on an older kernel.
pub(crate) fn removexattrat(dir: BorrowedFd<'_>, name: &CStr, attr: &CStr) -> Result<(), i32> {
    use linux_raw_sys::general::__NR_removexattrat;
    // SAFETY: C strings for the names.
    retry(|| unsafe {
        libc::syscall(
            libc::c_long::from(__NR_removexattrat),
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            attr.as_ptr(),
        )
    })?;
    Ok(())
}
