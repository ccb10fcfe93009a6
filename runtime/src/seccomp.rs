//! Seccomp policies of husk's own processes, kept here as data (one row
//! per allowed host call, with the reason, and argument rules wherever an
//! argument decides the danger) and compiled with `seccompiler`.
//!
//! A call outside a policy is not answered with an errno: the process
//! reports it in one line (the log file, or stderr) and exits, because a
//! refused call means either a bug in the policy or a compromised process.
//! Unconditional rows cost nothing at run time: the kernel caches, per
//! call number, filters whose answer does not depend on the arguments.

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum SysError {
    #[error("{what}: {err}")]
    Host {
        what: &'static str,
        err: std::io::Error,
    },
    #[error("seccomp policy: {0}")]
    Policy(#[from] seccompiler::BackendError),
    #[error("installing the seccomp filter: {0}")]
    Install(#[from] seccompiler::Error),
}

impl SysError {
    pub fn last(what: &'static str) -> SysError {
        SysError::Host {
            what,
            err: std::io::Error::last_os_error(),
        }
    }
}

pub use platform::hostcalls::{any, one_of, when, Allowed, Arg};

fn condition(a: Arg) -> Result<SeccompCondition, SysError> {
    let (n, op, v) = match a {
        Arg::Eq(n, v) => (n, SeccompCmpOp::Eq, v),
        Arg::MaskEq(n, m, v) => (n, SeccompCmpOp::MaskedEq(m), v),
    };
    Ok(SeccompCondition::new(n, SeccompCmpArgLen::Qword, op, v)?)
}

/// Calls answered with ENOSYS instead of trapping, because the C library
/// copes without them: clone3 (its flags are in memory, where no filter
/// can check them; glibc falls back to clone, whose flags the policy
/// checks), robust futex lists (glibc's threads run without them; husk's
/// locks are not robust futexes), and opens by path (below). rseq stays allowed: glibc aborts
/// a new thread whose registration fails once the first thread's worked.
fn enosys_calls() -> Vec<Allowed> {
    use libc::*;
    vec![
        any(SYS_clone3),
        any(SYS_set_robust_list),
        // No process of husk opens host paths once confined; glibc still
        // tries now and then (the CPU count, when a thread first
        // allocates) and copes with a failure.
        any(SYS_open),
        any(SYS_openat),
    ]
}

/// The filter answering [`enosys_calls`] (stacked on the policy, which
/// lets them through to it).
fn compile_enosys() -> Result<BpfProgram, SysError> {
    build(
        &enosys_calls(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
    )
}

/// A filter answering `on_match` for the calls of `list` (as their rules
/// say) and `otherwise` for the rest.
fn build(
    list: &[Allowed],
    otherwise: SeccompAction,
    on_match: SeccompAction,
) -> Result<BpfProgram, SysError> {
    let filter = SeccompFilter::new(rule_map(list)?, otherwise, on_match, TargetArch::x86_64)?;
    Ok(filter.try_into()?)
}

/// A compiled policy: the filter that answers ENOSYS and the policy proper.
pub struct Policy {
    enosys: BpfProgram,
    main: BpfProgram,
}

/// Compiles a policy: the calls in `list` are allowed (rows for the same
/// call are merged), everything else traps.
pub fn compile(list: &[Allowed]) -> Result<Policy, SysError> {
    let passed: Vec<Allowed> = enosys_calls().iter().map(|a| any(a.nr)).collect();
    let list = [list, &passed[..]].concat();
    Ok(Policy {
        enosys: compile_enosys()?,
        main: build(&list, SeccompAction::Trap, SeccompAction::Allow)?,
    })
}

/// seccompiler's rule map of a list: an unconditional row wins over
/// conditional ones for the same call.
fn rule_map(list: &[Allowed]) -> Result<BTreeMap<i64, Vec<SeccompRule>>, SysError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut always = std::collections::BTreeSet::new();
    for a in list {
        if a.rules.is_empty() {
            always.insert(a.nr);
            rules.insert(a.nr, vec![]);
            continue;
        }
        if always.contains(&a.nr) {
            continue;
        }
        let entry = rules.entry(a.nr).or_default();
        for r in &a.rules {
            let conds = r.iter().map(|&c| condition(c)).collect::<Result<_, _>>()?;
            entry.push(SeccompRule::new(conds)?);
        }
    }
    Ok(rules)
}

/// Where refusals are reported (the log file or stderr) and who reports.
static REPORT_FD: AtomicI32 = AtomicI32::new(2);
static WHO: AtomicU8 = AtomicU8::new(0);
const WHO_NAMES: [&[u8]; 2] = [b"sandbox", b"gofer"];

/// Which process a policy confines (named in the refusal report).
#[derive(Clone, Copy, Debug)]
pub enum Who {
    Sandbox = 0,
    Gofer = 1,
}

/// Exit status of a process that made a refused call.
pub const REFUSED_EXIT: i32 = 125;

/// Reports the refused call and ends the process.
extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: for SIGSYS from seccomp the kernel fills si_syscall, an int
    // at byte 24 of siginfo, and passes the interrupted registers; only
    // async-signal-safe calls follow.
    unsafe {
        let nr = *(info as *const u8).add(24).cast::<i32>();
        let arg0 = (*(uc as *const libc::ucontext_t)).uc_mcontext.gregs[libc::REG_RDI as usize];
        let who = WHO_NAMES[usize::from(WHO.load(Ordering::Relaxed)).min(1)];
        let mut msg = [0u8; 128];
        let mut n = 0;
        for part in [
            b"husk: ".as_slice(),
            who,
            b" refused host syscall ".as_slice(),
        ] {
            msg[n..n + part.len()].copy_from_slice(part);
            n += part.len();
        }
        n += put_decimal(&mut msg[n..], u64::from(nr.max(0) as u32));
        msg[n..n + 11].copy_from_slice(b" (1st arg 0");
        n += 11;
        n += put_hex(&mut msg[n..], arg0 as u64);
        msg[n..n + 2].copy_from_slice(b")\n");
        n += 2;
        libc::write(REPORT_FD.load(Ordering::Relaxed), msg.as_ptr().cast(), n);
        libc::syscall(libc::SYS_exit_group, REFUSED_EXIT);
    }
}

/// Writes `v` in decimal at the start of `out`; returns the length.
fn put_decimal(out: &mut [u8], mut v: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut d = 0;
    loop {
        digits[d] = b'0' + (v % 10) as u8;
        d += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..d {
        out[i] = digits[d - 1 - i];
    }
    d
}

/// Writes `v` in hex ("x..." after the caller's "0") at the start of `out`.
fn put_hex(out: &mut [u8], v: u64) -> usize {
    out[0] = b'x';
    for i in 0..16 {
        let nib = ((v >> (60 - 4 * i)) & 0xf) as u8;
        out[1 + i] = if nib < 10 {
            b'0' + nib
        } else {
            b'a' + nib - 10
        };
    }
    17
}

/// Installs `prog` on the calling thread (or, with `all_threads`, on every
/// thread of the process) after NoNewPrivs; refusals are reported on
/// `report_fd`. Threads and processes created later inherit it.
pub fn install(
    policy: &Policy,
    who: Who,
    report_fd: i32,
    all_threads: bool,
) -> Result<(), SysError> {
    REPORT_FD.store(report_fd, Ordering::Relaxed);
    WHO.store(who as u8, Ordering::Relaxed);
    // SAFETY: installing a handler that only makes async-signal-safe calls.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        if libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()) != 0 {
            return Err(SysError::last("SIGSYS handler"));
        }
    }
    // The ENOSYS filter first: installing one calls prctl(NO_NEW_PRIVS),
    // which the policy itself does not allow. Nothing here allocates, so a
    // freshly forked child may call this.
    for p in [&policy.enosys, &policy.main] {
        if all_threads {
            seccompiler::apply_filter_all_threads(p)?;
        } else {
            seccompiler::apply_filter(p)?;
        }
    }
    Ok(())
}

/// Flags of the clone(2) calls that make threads (glibc's and Rust's).
pub const THREAD_CLONE_FLAGS: u64 = (libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SIGHAND
    | libc::CLONE_THREAD
    | libc::CLONE_SYSVSEM
    | libc::CLONE_SETTLS
    | libc::CLONE_PARENT_SETTID
    | libc::CLONE_CHILD_CLEARTID) as u64;

/// fcntl commands on held fds: their flags, and duplicates (the standard
/// library's `try_clone`).
const HELD_FD_FCNTL: &[u64] = &[
    libc::F_GETFL as u64,
    libc::F_SETFL as u64,
    libc::F_GETFD as u64,
    libc::F_SETFD as u64,
    libc::F_DUPFD_CLOEXEC as u64,
];

/// What any Rust process of husk needs to run threads and allocate:
/// memory (never executable), thread creation by clone with thread
/// flags only (clone3, whose flags are in memory, gets ENOSYS from the
/// policy's caller and falls back), signals to itself, time.
fn runtime_basics() -> Vec<Allowed> {
    use libc::*;
    let no_exec = &[Arg::MaskEq(2, PROT_EXEC as u64, 0)][..];
    vec![
        when(SYS_mmap, &[no_exec]),
        when(SYS_mprotect, &[no_exec]),
        any(SYS_munmap),
        any(SYS_mremap),
        any(SYS_madvise),
        any(SYS_brk),
        any(SYS_futex),
        when(SYS_clone, &[&[Arg::Eq(0, THREAD_CLONE_FLAGS)]]),
        any(SYS_rseq),
        any(SYS_sigaltstack),
        any(SYS_rt_sigaction),
        any(SYS_rt_sigprocmask),
        any(SYS_rt_sigreturn),
        // The kernel's restart of a sleep a stop interrupted (the cgroup
        // freezer's, `pause`): the call it restarts was allowed.
        any(SYS_restart_syscall),
        any(SYS_sched_yield),
        any(SYS_sched_getaffinity),
        // Pinning itself (pid 0) only.
        when(SYS_sched_setaffinity, &[&[Arg::Eq(0, 0)]]),
        // Thread names only.
        one_of(SYS_prctl, 0, &[PR_SET_NAME as u64, PR_GET_NAME as u64]),
        any(SYS_getpid),
        any(SYS_gettid),
        any(SYS_clock_gettime),
        any(SYS_clock_nanosleep),
        any(SYS_getrandom),
        any(SYS_exit),
        any(SYS_exit_group),
        any(SYS_close),
        // Diagnostics: log lines, and glibc's fatal messages (writev).
        any(SYS_write),
        any(SYS_writev),
    ]
}

/// The gofer: file operations beneath its root on the fds it holds, and
/// the sockets to the sentry. No open by path (only openat2 beneath a
/// directory fd), no exec, no network, no mounts, no signals to others.
pub fn gofer_policy() -> Vec<Allowed> {
    use libc::*;
    let mut v = runtime_basics();
    v.extend([
        // The sentry connections.
        any(SYS_recvmsg),
        any(SYS_sendmsg),
        any(SYS_poll),
        any(SYS_ppoll),
        // Lookups beneath the root (RESOLVE_IN_ROOT, see gofer::sys).
        any(SYS_openat2),
        any(SYS_fstat),
        any(SYS_newfstatat),
        any(SYS_statx),
        any(SYS_fstatfs),
        any(SYS_readlinkat),
        any(SYS_getdents64),
        any(SYS_lseek),
        // Flags of held fds, and duplicates of them (F_DUPFD_CLOEXEC).
        one_of(SYS_fcntl, 1, HELD_FD_FCNTL),
        // Changes beneath the root, for a writable root.
        any(SYS_ftruncate),
        any(SYS_fchmod),
        any(SYS_fchmodat),
        any(SYS_fchown),
        any(SYS_fchownat),
        any(SYS_utimensat),
        any(SYS_mkdirat),
        any(SYS_mknodat),
        any(SYS_unlinkat),
        any(SYS_renameat2),
        any(SYS_linkat),
        any(SYS_symlinkat),
        // user.* attributes of files beneath the root, on fds it opened
        // (the gofer refuses every other namespace itself).
        any(SYS_fgetxattr),
        any(SYS_flistxattr),
        any(SYS_fsetxattr),
        any(SYS_fremovexattr),
        // POSIX ACLs of the files it walks and serves, without opening
        // them (so a FIFO or device has them too).
        xattrat_nofollow(SYS_GETXATTRAT),
        xattrat_nofollow(SYS_SETXATTRAT),
        xattrat_nofollow(SYS_REMOVEXATTRAT),
    ]);
    // fchmodat2 (Linux 6.6), tried first where the kernel has it.
    v.push(any(SYS_fchmodat2));
    v
}

/// The *xattrat(2) calls (Linux 6.13; libc has no numbers for them yet).
const SYS_SETXATTRAT: libc::c_long = 463;
const SYS_GETXATTRAT: libc::c_long = 464;
const SYS_REMOVEXATTRAT: libc::c_long = 466;

/// One of the *xattrat calls with AT_SYMLINK_NOFOLLOW alone.
fn xattrat_nofollow(nr: libc::c_long) -> Allowed {
    when(nr, &[&[Arg::Eq(2, libc::AT_SYMLINK_NOFOLLOW as u64)]])
}

/// The gofer's waiter (the parent left in the host's pid namespace): it
/// waits for the gofer and exits with its status.
pub fn waiter_policy() -> Vec<Allowed> {
    use libc::*;
    vec![
        any(SYS_wait4),
        any(SYS_exit_group),
        any(SYS_exit),
        any(SYS_rt_sigreturn),
        any(SYS_restart_syscall),
        any(SYS_write),
        any(SYS_munmap),
        any(SYS_brk),
        any(SYS_futex),
        any(SYS_sigaltstack),
        any(SYS_rt_sigprocmask),
    ]
}

/// The sandbox: the sentry and the stubs it forks (they inherit it). What
/// the sentry does with the fds it holds, what the platform declares its
/// tracer side needs (`platform`, from `Platform::host_calls`), and
/// nothing that reaches a host path beyond the gofer's root fd, the
/// network, another process or new privileges. See `sandbox_policy_size`
/// in the tests for the bound on its size.
pub fn sandbox_policy(platform: &[Allowed]) -> Vec<Allowed> {
    use libc::*;
    let mut v = runtime_basics();
    v.extend(platform.to_vec());
    v.extend([
        // I/O on fds already held: stdio, the memory file, gofer sockets
        // and donated fds.
        any(SYS_read),
        any(SYS_preadv2),
        any(SYS_pwritev2),
        any(SYS_lseek),
        any(SYS_newfstatat),
        any(SYS_getdents64),
        any(SYS_splice),
        any(SYS_poll),
        // The netstack thread's wait (rustix's poll is ppoll).
        any(SYS_ppoll),
        // Host epolls watching the host fds in the application's epolls
        // (`sentry::fs::epoll`); rustix waits with epoll_pwait.
        one_of(SYS_epoll_create1, 0, &[EPOLL_CLOEXEC as u64]),
        any(SYS_epoll_ctl),
        any(SYS_epoll_pwait),
        any(SYS_recvmsg),
        any(SYS_sendmsg),
        // The gofer's direct path: beneath the root fd it donated, and
        // the POSIX ACLs of what it looks up there (one name in a
        // directory fd opened beneath it).
        any(SYS_openat2),
        any(SYS_readlinkat),
        xattrat_nofollow(SYS_GETXATTRAT),
        // Memory file holes; changes through fds of a writable root.
        any(SYS_fallocate),
        any(SYS_ftruncate),
        any(SYS_fsync),
        // sync(2) and syncfs(2) of a writable root: its filesystem.
        any(SYS_syncfs),
        any(SYS_fchmod),
        any(SYS_fchown),
        any(SYS_utimensat),
        // Sentry-side objects: pipes for splice, memfds for shared tmpfs
        // mappings, an eventfd to wake waits on host fds.
        any(SYS_pipe2),
        any(SYS_memfd_create),
        any(SYS_eventfd2),
        one_of(SYS_fcntl, 1, HELD_FD_FCNTL),
        // The splice pipes' size.
        one_of(SYS_fcntl, 1, &[F_SETPIPE_SZ as u64, F_GETPIPE_SZ as u64]),
        // Terminal requests on host stdio, copied through the sentry.
        one_of(
            SYS_ioctl,
            1,
            &[
                TCGETS,
                TCSETS,
                TCSETSW,
                TCSETSF,
                TIOCGWINSZ,
                TIOCSWINSZ,
                FIONREAD,
                // A host file's inode flags (lsattr), read only.
                0x8008_6601,
                0x801c_581f,
            ],
        ),
        any(SYS_sysinfo),
        // membarrier(2) for the application: the host's global barrier
        // (only timing, no data), MEMBARRIER_CMD_GLOBAL with no flags.
        when(SYS_membarrier, &[&[Arg::Eq(0, 1), Arg::Eq(1, 0)]]),
    ]);
    v
}

/// What `--network host` adds to the sandbox's policy: TCP and UDP
/// sockets of AF_INET and AF_INET6 only (never raw, packet or netlink
/// ones), always non-blocking, and only the socket options the sentry
/// passes on (`sentry::hostnet::HOST_SOCKOPTS`, the same table).
pub fn host_network_policy() -> Vec<Allowed> {
    use libc::*;
    let flags = (SOCK_NONBLOCK | SOCK_CLOEXEC) as u64;
    let mut sockets: Vec<Vec<Arg>> = Vec::new();
    for fam in [AF_INET, AF_INET6] {
        for (ty, proto) in [(SOCK_STREAM, IPPROTO_TCP), (SOCK_DGRAM, IPPROTO_UDP)] {
            sockets.push(vec![
                Arg::Eq(0, fam as u64),
                Arg::Eq(1, ty as u64 | flags),
                Arg::Eq(2, proto as u64),
            ]);
        }
    }
    let opts: Vec<Vec<Arg>> = sentry::hostnet::HOST_SOCKOPTS
        .iter()
        .filter(|o| o.2)
        .map(|&(level, name, _)| vec![Arg::Eq(1, level as u64), Arg::Eq(2, name as u64)])
        .collect();
    vec![
        Allowed {
            nr: SYS_socket,
            rules: sockets,
        },
        any(SYS_bind),
        any(SYS_connect),
        any(SYS_listen),
        one_of(SYS_accept4, 3, &[flags]),
        any(SYS_getsockname),
        any(SYS_getpeername),
        any(SYS_shutdown),
        any(SYS_getsockopt),
        Allowed {
            nr: SYS_setsockopt,
            rules: opts,
        },
        // SIOCOUTQ and SIOCATMARK (FIONREAD is in the base policy).
        one_of(SYS_ioctl, 1, &[TIOCOUTQ, sentry::hostnet::SIOCATMARK]),
    ]
}

/// The stubs' own filter, stacked on the sandbox's: only the calls the
/// platform declares its stubs make (`Platform::stub_calls`). A stub has
/// no handler to report with, so anything else kills it (the sentry then
/// reports the stub's death).
pub fn stub_filter(list: &[Allowed]) -> Result<Vec<libc::sock_filter>, SysError> {
    let prog = build(list, SeccompAction::KillProcess, SeccompAction::Allow)?;
    Ok(prog
        .into_iter()
        .map(|f| libc::sock_filter {
            code: f.code,
            jt: f.jt,
            jf: f.jf,
            k: f.k,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The platform husk builds, as the sandbox's policy sees it.
    fn platform_calls() -> Vec<Allowed> {
        platform::Kind::Ptrace.host_calls()
    }

    fn distinct(list: &[Allowed]) -> usize {
        list.iter()
            .map(|a| a.nr)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }

    #[test]
    fn policies_compile_and_stay_small() {
        let host = [sandbox_policy(&platform_calls()), host_network_policy()].concat();
        for (name, p, max) in [
            ("sandbox", sandbox_policy(&platform_calls()), 69),
            ("sandbox --network host", host, 79),
            ("gofer", gofer_policy(), 61),
            ("waiter", waiter_policy(), 12),
        ] {
            let n = distinct(&p);
            assert!(n <= max, "{name} policy allows {n} calls (at most {max})");
            assert!(compile(&p).is_ok_and(|b| !b.main.is_empty()), "{name}");
        }
    }

    /// A call outside the policy ends the process with one line saying
    /// which call it was: checked in a forked child that makes one.
    #[test]
    fn a_refused_call_ends_the_process_with_a_report() {
        let policy = compile(&sandbox_policy(&platform_calls())).expect("policy");
        let mut fds = [0; 2];
        // SAFETY: pipe2 into a two-int array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: the child makes only raw calls (install allocates
        // nothing) and never returns into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            if install(&policy, Who::Sandbox, fds[1], false).is_err() {
                // SAFETY: leaving the forked child.
                unsafe { libc::_exit(1) };
            }
            // SAFETY: socket(2) with constant arguments: refused.
            unsafe {
                libc::syscall(libc::SYS_socket, libc::AF_INET, libc::SOCK_STREAM, 0);
                libc::_exit(0);
            }
        }
        // SAFETY: closing our copy of the write end.
        unsafe { libc::close(fds[1]) };
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let mut buf = [0u8; 256];
        // SAFETY: reading into a local buffer.
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        // SAFETY: closing the read end.
        unsafe { libc::close(fds[0]) };
        let line = String::from_utf8_lossy(&buf[..n.max(0) as usize]).into_owned();
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), REFUSED_EXIT, "{line}");
        assert!(
            line.starts_with(&format!(
                "husk: sandbox refused host syscall {}",
                libc::SYS_socket
            )),
            "{line}"
        );
    }

    /// Under `--network host` a raw, packet or netlink socket, a
    /// blocking accept and an option outside the table still end the
    /// sandbox; a TCP socket is allowed.
    #[test]
    fn host_network_allows_tcp_and_udp_sockets_only() {
        let list = [sandbox_policy(&platform_calls()), host_network_policy()].concat();
        let policy = compile(&list).expect("policy");
        let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        let tcp = [
            libc::SYS_socket,
            libc::AF_INET as i64,
            (libc::SOCK_STREAM | flags) as i64,
            libc::IPPROTO_TCP as i64,
        ];
        let refused: [[i64; 4]; 4] = [
            [
                libc::SYS_socket,
                libc::AF_INET as i64,
                (libc::SOCK_RAW | flags) as i64,
                libc::IPPROTO_ICMP as i64,
            ],
            [
                libc::SYS_socket,
                libc::AF_PACKET as i64,
                (libc::SOCK_RAW | flags) as i64,
                0,
            ],
            [
                libc::SYS_socket,
                libc::AF_NETLINK as i64,
                (libc::SOCK_RAW | flags) as i64,
                0,
            ],
            // SO_MARK on fd 0.
            [
                libc::SYS_setsockopt,
                0,
                libc::SOL_SOCKET as i64,
                libc::SO_MARK as i64,
            ],
        ];
        for (call, allowed) in std::iter::once((tcp, true)).chain(refused.map(|c| (c, false))) {
            // SAFETY: the child makes only raw calls and never returns
            // into the test harness.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                if install(&policy, Who::Sandbox, 2, false).is_err() {
                    // SAFETY: leaving the forked child.
                    unsafe { libc::_exit(1) };
                }
                // SAFETY: the call under test, with plain arguments (an
                // option's value pointer is null: EFAULT if it passed).
                unsafe {
                    libc::syscall(call[0], call[1], call[2], call[3], 0, 0);
                    libc::_exit(0);
                }
            }
            let mut status = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            let code = libc::WEXITSTATUS(status);
            let want = if allowed { 0 } else { REFUSED_EXIT };
            assert_eq!(code, want, "call {call:?}");
        }
    }

    #[test]
    fn stub_calls_pass_the_sandbox_policy_too() {
        // Stubs inherit the sandbox's filter before adding their own.
        let p = sandbox_policy(&platform_calls());
        for s in platform::Kind::Ptrace.stub_calls() {
            assert!(p.iter().any(|a| a.nr == s.nr), "stub call {} refused", s.nr);
        }
    }

    #[test]
    fn dangerous_calls_are_not_in_the_sandbox_policy() {
        let p = sandbox_policy(&platform_calls());
        for nr in [
            libc::SYS_open,
            libc::SYS_openat,
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_kill,
            libc::SYS_mount,
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_bpf,
            libc::SYS_ptrace + 1000,
        ] {
            assert!(p.iter().all(|a| a.nr != nr), "syscall {nr} allowed");
        }
        let unconditional = |nr| p.iter().any(|a| a.nr == nr && a.rules.is_empty());
        for nr in [
            libc::SYS_ioctl,
            libc::SYS_fcntl,
            libc::SYS_clone,
            libc::SYS_prctl,
        ] {
            assert!(
                !unconditional(nr),
                "syscall {nr} allowed without argument rules"
            );
        }
    }
}
