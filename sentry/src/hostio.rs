//! Host I/O helpers: positional I/O through preadv2/pwritev2 only, so
//! that the sandbox's seccomp policy needs one pair of calls for every
//! read and write at an offset (see runtime/src/seccomp.rs), and a poll of
//! one fd that never waits.

/// `pread(2)` as one-iovec `preadv2` (flags 0).
///
/// # Safety
/// `buf` must be valid for writes of `len` bytes.
pub unsafe fn pread(fd: i32, buf: *mut libc::c_void, len: usize, off: i64) -> isize {
    let iov = libc::iovec {
        iov_base: buf,
        iov_len: len,
    };
    // SAFETY: one iovec describing the caller's buffer.
    unsafe { libc::preadv2(fd, &iov, 1, off, 0) }
}

/// poll(2) of one host fd without waiting: its revents for `events`
/// (none when the poll fails).
pub fn poll_now(fd: std::os::fd::BorrowedFd<'_>, events: i16) -> i16 {
    let mut p = [rustix::event::PollFd::from_borrowed_fd(
        fd,
        rustix::event::PollFlags::from_bits_truncate(events.cast_unsigned()),
    )];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match rustix::event::poll(&mut p, Some(&zero)) {
        Ok(1) => p[0].revents().bits().cast_signed(),
        _ => 0,
    }
}

/// `pwrite(2)` as one-iovec `pwritev2` (flags 0).
///
/// # Safety
/// `buf` must be valid for reads of `len` bytes.
pub unsafe fn pwrite(fd: i32, buf: *const libc::c_void, len: usize, off: i64) -> isize {
    let iov = libc::iovec {
        iov_base: buf as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: one iovec describing the caller's buffer, only read.
    unsafe { libc::pwritev2(fd, &iov, 1, off, 0) }
}

/// The host's global memory barrier (membarrier MEMBARRIER_CMD_GLOBAL):
/// returns once every host thread, the stubs' included, has passed
/// through a barrier. The sandbox's policy allows this one command.
pub fn membarrier_global() -> crate::errno::KResult<()> {
    rustix::thread::membarrier(rustix::thread::MembarrierCommand::Global)
        .map_err(|e| crate::errno::Errno(e.raw_os_error()))
}
