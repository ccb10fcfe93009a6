//! Thin wrappers over the ptrace and wait system calls.

use crate::{PlatformError, XSTATE_MAX};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

pub const PTRACE_SYSEMU: libc::c_uint = 31;
pub const PTRACE_SEIZE: libc::c_uint = 0x4206;
pub const PTRACE_INTERRUPT: libc::c_uint = 0x4207;
pub const PTRACE_EVENT_STOP: i32 = 128;
pub const NT_X86_XSTATE: libc::c_int = 0x202;
pub const KICK_SIGNAL: i32 = libc::SIGUSR2;
pub const OPTIONS: libc::c_int = libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACESYSGOOD;

fn req(r: libc::c_uint, tid: i32, addr: usize, data: usize) -> libc::c_long {
    // SAFETY: ptrace with integer/pointer arguments the callers vouch for;
    // a bad tid only yields an error.
    unsafe {
        libc::ptrace(
            r as _,
            tid,
            addr as *mut libc::c_void,
            data as *mut libc::c_void,
        )
    }
}

pub fn check(r: libc::c_long, op: &'static str) -> Result<(), PlatformError> {
    if r < 0 {
        Err(PlatformError::last(op))
    } else {
        Ok(())
    }
}

pub fn get_regs(tid: i32, regs: &mut libc::user_regs_struct) -> Result<(), PlatformError> {
    check(
        req(libc::PTRACE_GETREGS as _, tid, 0, regs as *mut _ as usize),
        "PTRACE_GETREGS",
    )
}

pub fn set_regs(tid: i32, regs: &libc::user_regs_struct) -> Result<(), PlatformError> {
    check(
        req(libc::PTRACE_SETREGS as _, tid, 0, regs as *const _ as usize),
        "PTRACE_SETREGS",
    )
}

pub fn get_fp(tid: i32, buf: &mut [u8; XSTATE_MAX]) -> Result<usize, PlatformError> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: XSTATE_MAX,
    };
    check(
        req(
            libc::PTRACE_GETREGSET as _,
            tid,
            NT_X86_XSTATE as usize,
            &mut iov as *mut _ as usize,
        ),
        "PTRACE_GETREGSET",
    )?;
    crate::regs::note_host_layout(iov.iov_len, buf);
    Ok(iov.iov_len)
}

pub fn set_fp(tid: i32, buf: &[u8; XSTATE_MAX], len: usize) -> Result<(), PlatformError> {
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: len,
    };
    check(
        req(
            libc::PTRACE_SETREGSET as _,
            tid,
            NT_X86_XSTATE as usize,
            &mut iov as *mut _ as usize,
        ),
        "PTRACE_SETREGSET",
    )
}

/// offsetof(struct user, u_debugreg).
const DEBUGREG_OFF: usize = 848;

/// Loads the application's debug registers into stub thread `tid`: DR7
/// off first, so no half-set breakpoint is ever armed.
pub fn set_debug_regs(tid: i32, dr: &[u64; 8]) -> Result<(), PlatformError> {
    let poke = |n: usize, v: u64| {
        check(
            req(
                libc::PTRACE_POKEUSER as _,
                tid,
                DEBUGREG_OFF + n * 8,
                v as usize,
            ),
            "PTRACE_POKEUSER (debug register)",
        )
    };
    poke(7, 0)?;
    for n in [0, 1, 2, 3, 6] {
        poke(n, dr[n])?;
    }
    poke(7, dr[7])
}

/// Debug register `n` of stub thread `tid`.
pub fn debug_reg(tid: i32, n: usize) -> Result<u64, PlatformError> {
    // SAFETY: as `req`; PEEKUSER returns the value (errno tells errors).
    let v = unsafe {
        *libc::__errno_location() = 0;
        libc::ptrace(libc::PTRACE_PEEKUSER, tid, DEBUGREG_OFF + n * 8, 0)
    };
    // SAFETY: reading our own errno.
    if v == -1 && unsafe { *libc::__errno_location() } != 0 {
        return Err(PlatformError::last("PTRACE_PEEKUSER"));
    }
    Ok(v as u64)
}

pub fn resume(r: libc::c_uint, tid: i32, sig: i32) -> Result<(), PlatformError> {
    check(req(r, tid, 0, sig as usize), "ptrace resume")
}

pub fn siginfo(tid: i32) -> Result<libc::siginfo_t, PlatformError> {
    // SAFETY: siginfo_t is plain data.
    let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
    check(
        req(
            libc::PTRACE_GETSIGINFO as _,
            tid,
            0,
            &mut si as *mut _ as usize,
        ),
        "PTRACE_GETSIGINFO",
    )?;
    Ok(si)
}

pub fn seize(tid: i32) -> Result<(), PlatformError> {
    check(req(PTRACE_SEIZE, tid, 0, OPTIONS as usize), "PTRACE_SEIZE")?;
    check(req(PTRACE_INTERRUPT, tid, 0, 0), "PTRACE_INTERRUPT")
}

pub fn set_options(tid: i32) -> Result<(), PlatformError> {
    check(
        req(libc::PTRACE_SETOPTIONS as _, tid, 0, OPTIONS as usize),
        "PTRACE_SETOPTIONS",
    )
}

pub fn detach(tid: i32) -> Result<(), PlatformError> {
    check(req(libc::PTRACE_DETACH as _, tid, 0, 0), "PTRACE_DETACH")
}

/// waitpid(tid, __WALL), retried on EINTR.
pub fn wait(tid: i32) -> Result<i32, PlatformError> {
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer.
        let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL) };
        if r == tid {
            return Ok(status);
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(PlatformError::Host { op: "waitpid", err });
        }
    }
}

pub fn pin_to_cpu(tid: i32, cpu: usize) {
    // SAFETY: cpu_set_t is plain data manipulated through libc's helpers.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

pub fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// A pair of connected `SOCK_SEQPACKET` unix sockets (close-on-exec).
pub fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd), PlatformError> {
    let mut fds = [0; 2];
    // SAFETY: socketpair into a two-int array.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(PlatformError::last("socketpair"));
    }
    // SAFETY: both fds were just created and are owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends one byte with `fd` attached (SCM_RIGHTS) on `sock`.
pub fn send_fd(sock: RawFd, fd: RawFd) -> Result<(), PlatformError> {
    let byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_ptr() as *mut libc::c_void,
        iov_len: 1,
    };
    // Room for one cmsghdr and one int, 8-byte aligned.
    let mut cbuf = [0u64; 3];
    // SAFETY: msghdr is plain data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is arithmetic.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(4) } as usize;
    // SAFETY: the control buffer holds CMSG_SPACE(4) bytes, so the first
    // header and its data fit.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<i32>(), fd);
    }
    // SAFETY: every pointer in msg is valid for the call.
    let r = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if r != 1 {
        return Err(PlatformError::last("sendmsg to a stub"));
    }
    Ok(())
}

/// Writes, at `offset` of the memory file, a msghdr for receiving one fd
/// as it will be seen at `at` in a stub: the header, one iovec of one
/// byte, and a control buffer for one fd.
pub fn write_recv_buffers(memfd: RawFd, offset: u64, at: u64) -> Result<(), PlatformError> {
    // Layout: msghdr at 0, iovec at 64, control at 128, data at 256.
    let mut page = [0u8; 512];
    // SAFETY: CMSG_SPACE is arithmetic.
    let controllen = unsafe { libc::CMSG_SPACE(4) } as u64;
    let put = |page: &mut [u8; 512], at_off: usize, v: u64| {
        page[at_off..at_off + 8].copy_from_slice(&v.to_ne_bytes());
    };
    // struct msghdr: name, namelen(+pad), iov, iovlen, control, controllen, flags.
    put(&mut page, 16, at + 64);
    put(&mut page, 24, 1);
    put(&mut page, 32, at + 128);
    put(&mut page, 40, controllen);
    // struct iovec: base, len.
    put(&mut page, 64, at + 256);
    put(&mut page, 72, 1);
    let iov = libc::iovec {
        iov_base: page.as_mut_ptr().cast(),
        iov_len: page.len(),
    };
    // SAFETY: one iovec over a local buffer.
    let r = unsafe { libc::pwritev2(memfd, &iov, 1, offset as i64, 0) };
    if r != page.len() as isize {
        return Err(PlatformError::last("writing a stub's receive buffers"));
    }
    Ok(())
}

/// Writes `data` at `offset` of the memory file.
pub fn write_memfile(memfd: RawFd, offset: u64, data: &[u8]) -> Result<(), PlatformError> {
    let iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: one iovec over a live slice, which pwritev2 only reads.
    let r = unsafe { libc::pwritev2(memfd, &iov, 1, offset as i64, 0) };
    if r != data.len() as isize {
        return Err(PlatformError::last("writing a stub's batch page"));
    }
    Ok(())
}
