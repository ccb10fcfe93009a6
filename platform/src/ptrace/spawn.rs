//! Creating a fresh stub process from the calling sentry thread.

use super::stub::{StubPage, USER_END};
use super::sys;
use crate::PlatformError;
use std::os::fd::RawFd;

extern "C" {
    static __rseq_offset: isize;
    static __rseq_size: libc::c_uint;
}

const RSEQ_SIG: u32 = 0x5305_3053;

/// Forks a stub traced by the calling thread. The child drops every fd but
/// the memory file and `sock` (its end of the socket host fds reach it
/// through), leaves the terminal's session, installs its seccomp filter,
/// unmaps all of the sentry's memory and stops at the stub's first trap.
pub fn spawn_stub(
    stub: &StubPage,
    memfd: RawFd,
    sock: RawFd,
    filter: &[libc::sock_filter],
) -> Result<i32, PlatformError> {
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: a raw clone with SIGCHLD is fork without glibc's atfork
    // handlers; the child below only makes raw system calls and never
    // returns into Rust code.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_long, 0, 0, 0, 0) };
    if pid < 0 {
        return Err(PlatformError::last("clone stub"));
    }
    if pid == 0 {
        // SAFETY: child of a fork; nothing here allocates or takes locks.
        unsafe { child(stub, memfd, sock, &prog) }
    }
    let pid = pid as i32;
    let status = sys::wait(pid)?;
    if !libc::WIFSTOPPED(status) || libc::WSTOPSIG(status) != libc::SIGTRAP {
        return Err(PlatformError::StubDied(status));
    }
    sys::set_options(pid)?;
    Ok(pid)
}

/// # Safety
/// Only to be called in the child of `spawn_stub`'s fork.
unsafe fn child(stub: &StubPage, memfd: RawFd, sock: RawFd, prog: &libc::sock_fprog) -> ! {
    libc::syscall(libc::SYS_ptrace, libc::PTRACE_TRACEME, 0, 0, 0);
    libc::syscall(libc::SYS_setsid);
    let empty: u64 = 0;
    libc::syscall(
        libc::SYS_rt_sigprocmask,
        libc::SIG_SETMASK,
        &empty as *const u64,
        0,
        8,
    );
    // A kick (KICK_SIGNAL) that reaches a thread no tracer holds (the
    // parked leader, a thread the sentry is letting go) is dropped, not
    // fatal to the stub: traced threads still report ignored signals.
    let ignore: [u64; 4] = [1, 0, 0, 0]; // SIG_IGN, no flags, no restorer, empty mask
    libc::syscall(
        libc::SYS_rt_sigaction,
        sys::KICK_SIGNAL,
        ignore.as_ptr(),
        0,
        8,
    );
    // Stubs fork stubs (`fork_space`), whose tracers reap them: the
    // parent stub, which never waits, lets the kernel release them.
    libc::syscall(libc::SYS_rt_sigaction, libc::SIGCHLD, ignore.as_ptr(), 0, 8);
    // The kernel keeps writing a forked rseq area; it is about to vanish.
    let tp: u64;
    core::arch::asm!("mov {}, fs:0", out(reg) tp);
    let area = (tp as i64 + __rseq_offset as i64) as u64;
    for len in [32u32, __rseq_size] {
        if len > 0 && libc::syscall(libc::SYS_rseq, area, len, 1, RSEQ_SIG) == 0 {
            break;
        }
    }
    // Keep only the memory file and the stub's socket.
    let (a, b) = (memfd.min(sock), memfd.max(sock));
    if a > 0 {
        libc::syscall(libc::SYS_close_range, 0, a - 1, 0);
    }
    if b > a + 1 {
        libc::syscall(libc::SYS_close_range, a + 1, b - 1, 0);
    }
    libc::syscall(libc::SYS_close_range, b + 1, u32::MAX, 0);
    // The stub's own filter, on top of the one inherited from the sandbox
    // (NoNewPrivs is inherited too). A stub that cannot install it never
    // runs: its exit makes the fork or clone fail.
    if prog.len > 0
        && libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            prog as *const libc::sock_fprog,
        ) != 0
    {
        libc::syscall(libc::SYS_exit_group, 126);
    }
    core::arch::asm!(
        "jmp {entry}",
        entry = in(reg) stub.start,
        in("rdi") stub.base,
        in("rsi") stub.size(),
        in("rdx") USER_END,
        options(noreturn)
    );
}
