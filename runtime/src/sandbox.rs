//! Confining `husk boot`: own namespaces, an empty read-only root, and a
//! seccomp allowlist of the host calls the sentry (and the stubs it forks)
//! make. Everything the sentry touches on the host after this is an fd it
//! already holds.

use std::ffi::CStr;
use std::sync::atomic::{AtomicI32, Ordering};

/// Where refused calls are reported: the log file, stderr with --debug,
/// or nowhere (-1), since the sentry's stderr is the application's.
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{what}: {err}")]
    Host {
        what: &'static str,
        err: std::io::Error,
    },
}

fn check(r: libc::c_int, what: &'static str) -> Result<(), SandboxError> {
    if r < 0 {
        Err(SandboxError::Host {
            what,
            err: std::io::Error::last_os_error(),
        })
    } else {
        Ok(())
    }
}

/// New mount, network, IPC and UTS namespaces; the root becomes an empty
/// read-only tmpfs. Must run while the process is single-threaded.
pub fn enter_empty_root() -> Result<(), SandboxError> {
    let c = |s: &'static CStr| s.as_ptr();
    // SAFETY: plain syscalls with constant, NUL-terminated arguments.
    unsafe {
        check(
            libc::unshare(
                libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS,
            ),
            "unshare",
        )?;
        check(
            libc::mount(
                std::ptr::null(),
                c(c"/"),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
            "making mounts private",
        )?;
        // /tmp serves as the mount point; in this private namespace the
        // host's /tmp is untouched.
        check(
            libc::mount(
                c(c"none"),
                c(c"/tmp"),
                c(c"tmpfs"),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c(c"size=4k,mode=0555").cast(),
            ),
            "mounting the empty root",
        )?;
        check(libc::chroot(c(c"/tmp")), "chroot")?;
        check(libc::chdir(c(c"/")), "chdir")?;
        check(
            libc::mount(
                std::ptr::null(),
                c(c"/"),
                std::ptr::null(),
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                std::ptr::null(),
            ),
            "remounting the root read-only",
        )?;
    }
    Ok(())
}

/// Host calls the sentry and its stubs make after start-up. Everything
/// else — above all open/openat, exec, sockets — is refused.
const ALLOWED: &[libc::c_long] = &[
    // The hot path first: the filter checks in order.
    libc::SYS_ptrace,
    libc::SYS_wait4,
    libc::SYS_futex,
    // I/O on fds already held (stdio, memory file, gofer sockets, donated fds).
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_preadv,
    libc::SYS_pwritev,
    libc::SYS_preadv2,
    libc::SYS_pwritev2,
    libc::SYS_lseek,
    libc::SYS_close,
    libc::SYS_close_range,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_getdents64,
    // The gofer's direct path: beneath the root fd it donated (see
    // sentry::fs::gofer_fs); the sentry's own root is empty.
    libc::SYS_openat2,
    libc::SYS_readlinkat,
    // tmpfs files move into memfds of their own when mapped shared.
    libc::SYS_memfd_create,
    // Attribute changes through fds of a writable root (--overlay=none).
    libc::SYS_fchmod,
    libc::SYS_fchown,
    libc::SYS_utimensat,
    libc::SYS_fcntl,
    libc::SYS_ioctl,
    libc::SYS_dup,
    libc::SYS_dup3,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_ftruncate,
    libc::SYS_fallocate,
    libc::SYS_splice,
    libc::SYS_pipe2,
    libc::SYS_eventfd2,
    libc::SYS_poll,
    libc::SYS_ppoll,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    // Memory.
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mprotect,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_brk,
    // Threads, stubs and their tracing.
    libc::SYS_clone,
    libc::SYS_clone3,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_waitid,
    libc::SYS_kill,
    libc::SYS_tgkill,
    libc::SYS_tkill,
    libc::SYS_setsid,
    libc::SYS_pidfd_getfd,
    libc::SYS_pause,
    libc::SYS_set_robust_list,
    libc::SYS_rseq,
    libc::SYS_set_tid_address,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_sched_setaffinity,
    libc::SYS_getcpu,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getppid,
    libc::SYS_prctl,
    libc::SYS_arch_prctl,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_sigaltstack,
    libc::SYS_restart_syscall,
    // Time, randomness, facts about the host.
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_gettimeofday,
    libc::SYS_getrandom,
    libc::SYS_getrlimit,
    libc::SYS_prlimit64,
    libc::SYS_sysinfo,
    libc::SYS_uname,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
];

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Reports a refused call once per occurrence and makes it fail with
/// EPERM instead of killing the sentry.
extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: for SIGSYS from seccomp the kernel fills si_syscall (an int
    // at byte 24 of siginfo) and passes a ucontext; writes go to the
    // interrupted thread's saved registers.
    unsafe {
        let nr = *(info as *const u8).add(24).cast::<i32>();
        let mut msg = *b"husk: sandbox refused host syscall 0000\n";
        let mut n = nr.max(0) as u32;
        for i in (35..39).rev() {
            msg[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let fd = REPORT_FD.load(Ordering::Relaxed);
        if fd >= 0 {
            libc::write(fd, msg.as_ptr().cast(), msg.len());
        }
        let ctx = &mut *(uc as *mut libc::ucontext_t);
        ctx.uc_mcontext.gregs[libc::REG_RAX as usize] = -(libc::EPERM as i64);
    }
}

/// Installs the allowlist on every thread of the process (TSYNC); stubs
/// forked later inherit it. Refusals are reported on `report_fd` (if any).
pub fn install_seccomp(report_fd: Option<i32>) -> Result<(), SandboxError> {
    REPORT_FD.store(report_fd.unwrap_or(-1), Ordering::Relaxed);
    // BPF_LD|BPF_W|BPF_ABS = 0x20; BPF_JMP|BPF_JEQ|BPF_K = 0x15;
    // BPF_JMP|BPF_JGE|BPF_K = 0x35; BPF_RET|BPF_K = 0x06.
    let mut prog: Vec<libc::sock_filter> = vec![
        stmt(0x20, 4), // arch
        jump(0x15, AUDIT_ARCH_X86_64, 1, 0),
        stmt(0x06, SECCOMP_RET_KILL_PROCESS),
        stmt(0x20, 0),                 // nr
        jump(0x35, 0x4000_0000, 0, 1), // x32 numbers
        stmt(0x06, SECCOMP_RET_KILL_PROCESS),
    ];
    let n = ALLOWED.len();
    for (i, &nr) in ALLOWED.iter().enumerate() {
        // On a match jump to the ALLOW at the end (after the TRAP).
        let to_allow = (n - i) as u8;
        prog.push(jump(0x15, nr as u32, to_allow, 0));
    }
    prog.push(stmt(0x06, SECCOMP_RET_TRAP));
    prog.push(stmt(0x06, SECCOMP_RET_ALLOW));
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: installing a signal handler that is async-signal-safe, then
    // a well-formed filter program that outlives the call.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        check(
            libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()),
            "SIGSYS handler",
        )?;
        check(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            "no_new_privs",
        )?;
        let r = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &fprog as *const libc::sock_fprog,
        );
        check(r as libc::c_int, "seccomp")?;
    }
    Ok(())
}
