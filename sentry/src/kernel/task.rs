//! Tasks (threads) and processes (thread groups).

use super::creds::Creds;
use super::signal::{SigAction, SigQueue};
use crate::fs::file::FdTable;
use crate::mm::Mm;
use parking_lot::Mutex;
use platform::Kicker;
use std::sync::Arc;

/// Per-thread filesystem context (CLONE_FS shares it).
#[derive(Clone, Debug)]
pub struct FsContext {
    pub cwd: crate::fs::vfs::PathRef,
    pub root: crate::fs::vfs::PathRef,
    pub umask: u32,
}

/// What to re-run when restart_syscall(2) is called.
#[derive(Clone, Copy, Debug)]
pub enum Restart {
    Sleep {
        clock: i32,
        deadline_ns: i64,
        rmtp: u64,
    },
}

pub struct Task {
    pub tid: i32,
    pub tgid: i32,
    /// Its thread and process ids in its own PID namespace (`tid` and
    /// `tgid` in the first).
    pub vtid: i32,
    pub vtgid: i32,
    /// Its PID namespace (its process's, for life) and the one its
    /// children are made in (unshare(CLONE_NEWPID) and setns change it).
    pub pid_ns: Arc<super::pidns::PidNs>,
    pub pid_ns_children: Arc<super::pidns::PidNs>,
    /// Its time namespace and the one its forked children enter.
    pub time_ns: Arc<super::timens::TimeNs>,
    pub time_ns_children: Arc<super::timens::TimeNs>,
    pub mm: Arc<Mm>,
    pub files: Arc<Mutex<FdTable>>,
    pub fs: Arc<Mutex<FsContext>>,
    pub sig_mask: Arc<super::signal::SigMask>,
    /// Mask to restore after a signal handler runs (sigsuspend, pselect).
    pub saved_mask: Option<u64>,
    pub pending: SigQueue,
    pub alt_stack: (u64, u64, i32),
    pub clear_child_tid: u64,
    /// PR_SET_TIMERSLACK, in ns (inherited; 0 asks for the default).
    pub timer_slack: u64,
    /// Its read and write counts (/proc/PID/task/TID/io).
    pub io: Arc<super::ioacct::IoAcct>,
    pub robust_list: u64,
    pub kicker: Arc<dyn Kicker>,
    pub comm: Vec<u8>,
    /// The thread must exit as soon as it reaches the kernel.
    pub killed: bool,
    /// The vfork parent waiting for this task to exec or exit.
    pub vfork_parent: Option<i32>,
    pub restart: Option<Restart>,
    /// Host thread of the sentry running this task (for CPU time).
    pub host_tid: i32,
    pub start: std::time::Instant,
    /// What the task sleeps on when it blocks (see `waitq`).
    pub waiter: Arc<super::Waiter>,
    /// Time its application code has had to run (wall time from each
    /// resume to the next trap): how the process's user CPU time, which
    /// the host counts for the stub as a whole, is told apart by thread.
    pub in_app: Arc<super::cpu::AppTime>,
    pub exit_signal: i32,
    pub pdeathsig: i32,
    /// Mount namespace (unshare/clone with CLONE_NEWNS copy it).
    pub mnt_ns: Arc<crate::fs::vfs::MountNs>,
    /// UTS namespace (host and domain names).
    pub uts_ns: Arc<super::uts::UtsNs>,
    /// Network namespace: the sockets it makes are there.
    pub net_ns: Arc<crate::local::Names>,
    /// Cgroup namespace: where its view of the cgroup tree starts.
    pub cgroup_ns: Arc<super::cgroup::CgroupNs>,
    /// Scheduling policy and affinity, recorded and reported (the host
    /// schedules the sentry's threads its own way).
    pub sched: Sched,
    /// Its seccomp filters (mode 2), shared with whoever inherited them.
    pub seccomp: Option<Arc<super::seccomp::Chain>>,
    /// Seccomp strict mode (mode 1).
    pub seccomp_strict: bool,
    /// Its NUMA memory policy (set_mempolicy), inherited by children.
    pub mempolicy: crate::mm::MemPolicy,
    /// Its I/O priority (ioprio_set), inherited by children.
    pub ioprio: u16,
    /// Its ptrace state when traced.
    pub ptrace: Option<Box<super::ptrace::Tracee>>,
    /// The wait status of its own exit(2) (a thread leaving alone).
    pub exit_code: i32,
    /// Told when the thread is gone (its PIDFD_THREAD pidfds wait on it).
    pub exit_watch: Arc<crate::fs::pidfd::ExitWatch>,
}

/// A thread's scheduling attributes (sched_setscheduler, sched_setaffinity).
#[derive(Clone, Debug, Default)]
pub struct Sched {
    pub policy: i32,
    /// rt_priority: 1..=99 under SCHED_FIFO/SCHED_RR, 0 otherwise.
    pub priority: i32,
    pub reset_on_fork: bool,
    /// CPUs allowed, one bit each; empty means all of them.
    pub affinity: Vec<u8>,
}

impl Sched {
    /// What a child created by fork or clone starts with.
    pub fn inherited(&self) -> Sched {
        let mut s = self.clone();
        if s.reset_on_fork {
            if matches!(s.policy, libc::SCHED_FIFO | libc::SCHED_RR) {
                s.policy = libc::SCHED_OTHER;
            }
            s.priority = 0;
            s.reset_on_fork = false;
        }
        s
    }
}

/// Why and how a process ended, for wait(2).
#[derive(Clone, Copy, Debug)]
pub struct ExitInfo {
    /// wait status word.
    pub status: i32,
    /// si_code for waitid: CLD_EXITED, CLD_KILLED, CLD_DUMPED.
    pub code: i32,
    /// exit code or signal number (waitid si_status).
    pub value: i32,
}

impl ExitInfo {
    /// The status as a shell shows it: the exit code, or 128 + the
    /// signal that ended the process.
    pub fn shell_status(&self) -> i32 {
        if self.code == super::signal::CLD_EXITED {
            (self.status >> 8) & 0xff
        } else {
            128 + self.value
        }
    }
}

/// Linux's default timer slack (50 µs).
pub const DEFAULT_SLACK: u64 = 50_000;

pub struct Process {
    pub tgid: i32,
    /// Its PID namespace, where `tgid` leaves when it is reaped.
    pub pid_ns: Arc<super::pidns::PidNs>,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub threads: Vec<i32>,
    pub children: Vec<i32>,
    pub sighand: Arc<Mutex<[SigAction; 64]>>,
    pub shared_pending: SigQueue,
    /// Set once the process is a zombie.
    pub exit: Option<ExitInfo>,
    /// exit_group or fatal signal in progress: the status all threads use.
    pub group_exit: Option<ExitInfo>,
    pub stopped: bool,
    /// Stop/continue not yet reported to wait(WUNTRACED/WCONTINUED).
    pub stop_report: Option<i32>,
    pub cont_report: bool,
    pub creds: Creds,
    pub rlimits: [(u64, u64); 16],
    pub exe: Vec<u8>,
    pub subreaper: bool,
    /// /proc/PID/oom_score_adj (-1000..=1000): kept and shown; the
    /// sandbox's memory limit, not an OOM killer of its own, acts on it.
    pub oom_score_adj: i32,
    /// The signal its parent gets when it exits (clone's exit_signal; 0
    /// for none). A child with another than SIGCHLD is a "clone" child
    /// to wait(2), which __WCLONE selects.
    pub exit_signal: i32,
    /// It ran execve since it was forked (Linux's !PF_FORKNOEXEC): its
    /// parent may no longer move it to another process group.
    pub execed: bool,
    /// /proc/PID/loginuid, a sandbox uid (u32::MAX: unset).
    pub loginuid: u32,
    /// /proc/PID/coredump_filter's bits (kept across fork and exec; no
    /// core is written here).
    pub coredump_filter: u32,
    pub dumpable: u64,
    pub no_new_privs: bool,
    /// PR_SET_KEEPCAPS: recorded and reported (capabilities follow the
    /// effective uid here; see capset).
    pub keepcaps: bool,
    pub start: std::time::Instant,
    /// Accumulated CPU time of reaped children (user, sys) in ns.
    pub child_times: (u64, u64),
    /// Voluntary context switches of reaped children (RUSAGE_CHILDREN).
    pub child_switches: u64,
    /// CPU time of exited threads (user, sys) in ns.
    pub dead_times: (u64, u64),
    /// Voluntary context switches of exited threads.
    pub dead_switches: u64,
    /// I/O counts of exited threads and reaped children.
    pub dead_io: super::ioacct::IoTotals,
    /// A task is exec'ing and waiting for the other threads to go.
    pub execing: Option<i32>,
    pub itimer_real: Option<u64>,
    /// ITIMER_VIRTUAL and ITIMER_PROF.
    pub itimer_cpu: [Option<u64>; 2],
    /// The RLIMIT_CPU timer, while the soft limit is finite.
    pub cpu_limit_timer: Option<u64>,
    pub nice: i32,
    /// Peak resident size seen, in KiB (getrusage ru_maxrss).
    pub maxrss_kb: u64,
    /// ru_maxrss of the largest reaped child.
    pub child_maxrss_kb: u64,
    /// POSIX timers: (the id timer_create gave, the `Timers` key).
    pub posix_timers: Vec<(i32, u64)>,
    /// The id the next timer_create tries first (kept across exec, as
    /// Linux's signal struct keeps it).
    pub next_timer_id: i32,
    /// Controlling terminal (a pty of the sandbox), inherited on fork.
    pub ctty: Option<Arc<crate::fs::pty::Pty>>,
    /// wait(2)ers: a child changed state (or was reparented away).
    pub child_wq: Arc<super::WaitQueue>,
    /// signalfd readers and pollers: a signal became pending.
    pub signal_wq: Arc<super::WaitQueue>,
    /// Its SEM_UNDO list, made at its first SEM_UNDO (shared with
    /// CLONE_SYSVSEM).
    pub sem_undo: Option<Arc<super::ipc::sem::UndoList>>,
    /// Its IPC namespace (System V objects and POSIX message queues).
    pub ipc_ns: super::ipc::NsId,
    /// Told when the process exits (its pidfds wait on it).
    pub exit_watch: Arc<crate::fs::pidfd::ExitWatch>,
    /// Its AIO contexts by id (not inherited by fork, gone at exec).
    pub aio: std::collections::BTreeMap<u64, Arc<super::aio::AioCtx>>,
    /// Tasks its threads trace.
    pub tracees: Vec<i32>,
    /// Traced tasks that exited and that it has not waited for.
    pub dead_tracees: Vec<super::ptrace::DeadTracee>,
    /// Counts group stops (a tracee reports each one once), and the
    /// signal of the current one.
    pub stop_gen: u64,
    pub stop_sig: i32,
    /// The tracer of its leader, which exited before the other threads.
    pub leader_tracer: Option<i32>,
    /// The thread of the parent that created it (Linux's real_parent),
    /// 0 when not known.
    pub parent_tid: i32,
    /// A zombie its tracer (not its parent) has not waited for yet: the
    /// parent hears of the exit only then.
    pub exit_held_by: Option<i32>,
    /// personality(2): PER_LINUX, with ADDR_NO_RANDOMIZE or not (the
    /// sandbox lays memory out the same way every time anyway).
    pub personality: u32,
    /// Its cgroup (`cgroup::Tree` id).
    pub cgroup: u64,
    /// The leader thread's name once that thread is gone (what
    /// /proc/PID of a zombie shows).
    pub leader_comm: Vec<u8>,
}

impl Process {
    /// The soft RLIMIT_NOFILE: fds must stay below it.
    pub fn nofile(&self) -> u64 {
        self.rlimits[libc::RLIMIT_NOFILE as usize].0
    }

    /// The soft RLIMIT_FSIZE: no regular file grows past it.
    pub fn fsize_limit(&self) -> u64 {
        self.rlimits[libc::RLIMIT_FSIZE as usize].0
    }

    /// The soft RLIMIT_DATA: private writable memory may not grow past it.
    pub fn data_limit(&self) -> u64 {
        self.rlimits[libc::RLIMIT_DATA as usize].0
    }

    /// The soft RLIMIT_AS: the address space may not grow past it.
    pub fn as_limit(&self) -> u64 {
        self.rlimits[libc::RLIMIT_AS as usize].0
    }

    /// The soft RLIMIT_STACK: a growing stack may not pass it.
    pub fn stack_limit(&self) -> u64 {
        self.rlimits[libc::RLIMIT_STACK as usize].0
    }

    /// Whether `caller` may look into and change this process as ptrace
    /// would (process_vm_*, pidfd_getfd, kcmp, /proc/PID/mem): its own
    /// thread group always, another under `Creds::may_ptrace`.
    pub fn inspectable_by(&self, caller: &Process) -> bool {
        caller.tgid == self.tgid || caller.creds.may_ptrace(&self.creds, self.dumpable == 1)
    }
}

/// Wakes task `tid` out of a sleep whose waker knows the task rather
/// than a queue (a futex wake, a vfork child's exec, the last other
/// thread of an exec'ing process going).
pub fn wake_task(tasks: &std::collections::HashMap<i32, Task>, tid: i32) {
    if let Some(t) = tasks.get(&tid) {
        super::waitq::Waker::wake(&*t.waiter, super::waitq::EV_ALL);
    }
}

pub const RLIM_INFINITY: u64 = u64::MAX;

/// The host's limits, read once (the first call happens while the
/// sandbox starts, before its seccomp filter forbids the call).
pub fn default_rlimits() -> [(u64, u64); 16] {
    static HOST: std::sync::OnceLock<[(u64, u64); 16]> = std::sync::OnceLock::new();
    *HOST.get_or_init(|| {
        let mut r = [(RLIM_INFINITY, RLIM_INFINITY); 16];
        for (i, slot) in r.iter_mut().enumerate() {
            // SAFETY: getrlimit fills a plain struct.
            unsafe {
                let mut l: libc::rlimit = std::mem::zeroed();
                if libc::getrlimit(crate::num::len_u32(i), &mut l) == 0 {
                    *slot = (l.rlim_cur, l.rlim_max);
                }
            }
        }
        r
    })
}
