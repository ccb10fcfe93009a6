//! Thin wrappers over the ptrace and wait system calls.

use crate::{PlatformError, XSTATE_MAX};

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
