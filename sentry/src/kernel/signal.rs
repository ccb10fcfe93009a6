//! Signals: actions, queues, sending, and delivery with the x86-64
//! rt_sigframe (including the XSAVE state), and rt_sigreturn.

use super::task::ExitInfo;
use super::waitq::{Waker, EV_ALL, EV_IN};
use super::KState;
use crate::errno::{Errno, KResult};
use crate::mm::{read_obj, Mm};
use platform::Regs;

pub const SIGKILL: i32 = 9;
pub const SIGSTOP: i32 = 19;
pub const SIGCONT: i32 = 18;
pub const SIGCHLD: i32 = 17;
pub const SA_SIGINFO: u64 = 4;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_NOCLDWAIT: u64 = 2;
pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
/// sigaltstack: the stack is disarmed while a handler runs on it.
pub const SS_AUTODISARM: i32 = i32::MIN;
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
pub const UNBLOCKABLE: u64 = bit(SIGKILL) | bit(SIGSTOP);

pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TIMER: i32 = -2;
pub const SI_TKILL: i32 = -6;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

/// sigaltstack: (base, size, flags).
pub type AltStack = (u64, u64, i32);

pub const fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// A queued signal with the siginfo fields that matter.
#[derive(Clone, Copy, Debug, Default)]
pub struct SigInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    /// si_pid / si_tid(timer id) / fault address low half, by kind.
    pub pid: i32,
    pub uid: u32,
    /// si_status for SIGCHLD, si_overrun for timers.
    pub status: i32,
    /// si_value / si_addr / si_utime, by kind.
    pub value: u64,
    pub stime: u64,
    pub kind: InfoKind,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InfoKind {
    #[default]
    Kill,
    Fault,
    Child,
    Timer,
    Queue,
    /// SIGIO-style (si_band in `value`, si_fd in `status`).
    Poll,
    /// A seccomp SIGSYS (si_call_addr in `value`, si_syscall in `pid`,
    /// si_arch in `status`).
    Sys,
}

impl SigInfo {
    pub fn user(signo: i32, code: i32, pid: i32, uid: u32) -> SigInfo {
        SigInfo {
            signo,
            code,
            pid,
            uid,
            ..Default::default()
        }
    }

    /// SIGSYS from a seccomp filter (SYS_SECCOMP): call `nr` made at
    /// `ip`, with the filter's data as si_errno.
    pub fn seccomp(nr: i32, ip: u64, errno: i32) -> SigInfo {
        SigInfo {
            signo: libc::SIGSYS,
            errno,
            code: 1,
            pid: nr,
            status: crate::num::sbits32(super::seccomp::ARCH_X86_64),
            value: ip,
            kind: InfoKind::Sys,
            ..Default::default()
        }
    }

    pub fn fault(signo: i32, code: i32, addr: u64) -> SigInfo {
        SigInfo {
            signo,
            code,
            value: addr,
            kind: InfoKind::Fault,
            ..Default::default()
        }
    }

    /// The 128-byte siginfo_t as Linux lays it out on x86-64.
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[4..8].copy_from_slice(&self.errno.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        match self.kind {
            InfoKind::Fault => b[16..24].copy_from_slice(&self.value.to_le_bytes()),
            InfoKind::Kill | InfoKind::Queue => {
                b[16..20].copy_from_slice(&self.pid.to_le_bytes());
                b[20..24].copy_from_slice(&self.uid.to_le_bytes());
                b[24..32].copy_from_slice(&self.value.to_le_bytes());
            }
            InfoKind::Child => {
                b[16..20].copy_from_slice(&self.pid.to_le_bytes());
                b[20..24].copy_from_slice(&self.uid.to_le_bytes());
                b[24..28].copy_from_slice(&self.status.to_le_bytes());
                b[32..40].copy_from_slice(&self.value.to_le_bytes());
                b[40..48].copy_from_slice(&self.stime.to_le_bytes());
            }
            InfoKind::Timer => {
                b[16..20].copy_from_slice(&self.pid.to_le_bytes());
                b[20..24].copy_from_slice(&self.status.to_le_bytes());
                b[24..32].copy_from_slice(&self.value.to_le_bytes());
            }
            InfoKind::Poll => {
                b[16..24].copy_from_slice(&self.value.to_le_bytes());
                b[24..28].copy_from_slice(&self.status.to_le_bytes());
            }
            InfoKind::Sys => {
                b[16..24].copy_from_slice(&self.value.to_le_bytes());
                b[24..28].copy_from_slice(&self.pid.to_le_bytes());
                b[28..32].copy_from_slice(&self.status.to_le_bytes());
            }
        }
        b
    }

    /// Parses a siginfo_t given by the application (rt_sigqueueinfo).
    pub fn from_bytes(b: &[u8; 128]) -> SigInfo {
        let i32at = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        SigInfo {
            signo: i32at(0),
            errno: i32at(4),
            code: i32at(8),
            pid: i32at(16),
            uid: crate::num::ubits32(i32at(20)),
            value: u64::from_le_bytes(b[24..32].try_into().unwrap()),
            kind: InfoKind::Queue,
            ..Default::default()
        }
    }
}

/// Pending signals: standard ones coalesce, real-time ones queue.
#[derive(Clone, Default, Debug)]
pub struct SigQueue {
    pub set: u64,
    pub infos: Vec<SigInfo>,
}

impl SigQueue {
    pub fn push(&mut self, info: SigInfo) {
        let b = bit(info.signo);
        if info.signo < 32 && self.set & b != 0 {
            return;
        }
        self.set |= b;
        self.infos.push(info);
    }

    /// The pending signal of POSIX timer `id`, if any: a timer has one
    /// signal queued at most, its later expiries counted as overruns.
    pub fn timer_signal(&mut self, id: i32) -> Option<&mut SigInfo> {
        self.infos
            .iter_mut()
            .find(|s| s.kind == InfoKind::Timer && s.code == SI_TIMER && s.pid == id)
    }

    /// Drops the pending signal of POSIX timer `id` (re-armed or deleted).
    pub fn drop_timer_signal(&mut self, id: i32) {
        let Some(i) = self
            .infos
            .iter()
            .position(|s| s.kind == InfoKind::Timer && s.code == SI_TIMER && s.pid == id)
        else {
            return;
        };
        let sig = self.infos.remove(i).signo;
        if !self.infos.iter().any(|s| s.signo == sig) {
            self.set &= !bit(sig);
        }
    }

    /// Takes the lowest pending signal not in `blocked`.
    pub fn take(&mut self, blocked: u64) -> Option<SigInfo> {
        let ready = self.set & !blocked;
        if ready == 0 {
            return None;
        }
        let sig = crate::num::sbits32(ready.trailing_zeros()) + 1;
        let i = self.infos.iter().position(|s| s.signo == sig)?;
        let info = self.infos.remove(i);
        if !self.infos.iter().any(|s| s.signo == sig) {
            self.set &= !bit(sig);
        }
        Some(info)
    }

    pub fn remove(&mut self, mask: u64) {
        self.set &= !mask;
        self.infos.retain(|s| mask & bit(s.signo) == 0);
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Default_ {
    Term,
    Core,
    Stop,
    Cont,
    Ign,
}

pub fn default_action(sig: i32) -> Default_ {
    match sig {
        libc::SIGQUIT
        | libc::SIGILL
        | libc::SIGTRAP
        | libc::SIGABRT
        | libc::SIGBUS
        | libc::SIGFPE
        | libc::SIGSEGV
        | libc::SIGXCPU
        | libc::SIGXFSZ
        | libc::SIGSYS => Default_::Core,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => Default_::Stop,
        libc::SIGCONT => Default_::Cont,
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH => Default_::Ign,
        _ => Default_::Term,
    }
}

/// Whether a signal sent now would be discarded (ignored and not blocked).
fn ignored(st: &KState, tgid: i32, sig: i32) -> bool {
    let Some(p) = st.procs.get(&tgid) else {
        return true;
    };
    let act = p.sighand.lock()[crate::num::sig_index(sig)];
    act.handler == SIG_IGN || (act.handler == SIG_DFL && default_action(sig) == Default_::Ign)
}

/// Whether a signal sent by process `from` to `tgid` is dropped because
/// `tgid` is the init of its PID namespace and has no handler for it:
/// Linux protects every namespace's init this way (SIGNAL_UNKILLABLE).
/// SIGKILL and SIGSTOP reach it only from an ancestor namespace (a
/// sender the namespace cannot see); the sandbox's pid 1 has none.
/// A signal the target blocks is queued all the same (it may be taken
/// with sigwait or signalfd); `tid` is the target thread, or the leader's
/// mask decides for a process-directed signal. Delivery drops default
/// actions of init the same way ([`init_discards`]).
pub fn init_protected(st: &KState, from: i32, tgid: i32, sig: i32, tid: Option<i32>) -> bool {
    if !(1..=64).contains(&sig) || !st.is_ns_init(tgid) {
        return false;
    }
    let Some(p) = st.procs.get(&tgid) else {
        return false;
    };
    if (sig == SIGKILL || sig == SIGSTOP) && p.pid_ns.local(from).is_none() {
        return false;
    }
    let Some(t) = tid.or(p.threads.first().copied()) else {
        return false;
    };
    let blocked = st
        .tasks
        .get(&t)
        .is_some_and(|t| t.sig_mask.get() & bit(sig) != 0);
    !blocked && p.sighand.lock()[crate::num::sig_index(sig)].handler == SIG_DFL
}

/// Whether a namespace's init discards a signal with the default action at
/// delivery: every one but a fault raised by its own instruction (Linux
/// clears the protection for those) and SIGKILL/SIGSTOP (which can only
/// come from outside).
pub fn init_discards(st: &KState, tgid: i32, info: &SigInfo) -> bool {
    st.is_ns_init(tgid)
        && info.kind != InfoKind::Fault
        && info.signo != libc::SIGKILL
        && info.signo != libc::SIGSTOP
}

/// Whether `sig` is ignored or blocked by the thread `tid` (job-control
/// signals a terminal would raise are then replaced by EIO).
pub fn ignored_or_blocked(st: &KState, tid: i32, sig: i32) -> bool {
    let Some(t) = st.tasks.get(&tid) else {
        return true;
    };
    if t.sig_mask.get() & bit(sig) != 0 {
        return true;
    }
    let act = st
        .procs
        .get(&t.tgid)
        .map(|p| p.sighand.lock()[crate::num::sig_index(sig)]);
    act.is_some_and(|a| a.handler == SIG_IGN)
}

/// Sends a kernel-generated signal to every live process in group `pgid`.
pub fn send_to_pgrp(st: &mut KState, pgid: i32, signo: i32) {
    if pgid <= 0 {
        return;
    }
    let members: Vec<i32> = st
        .procs
        .iter()
        .filter(|(_, p)| p.pgid == pgid && p.exit.is_none())
        .map(|(&k, _)| k)
        .collect();
    for m in members {
        send_to_process(st, m, SigInfo::user(signo, SI_KERNEL, 0, 0));
    }
}

/// Wakes `tid` so it notices a new signal: out of a sleep or out of the
/// application.
pub fn kick(st: &KState, tid: i32) {
    if let Some(t) = st.tasks.get(&tid) {
        t.waiter
            .signalled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        t.kicker.kick();
        t.waiter.wake(EV_ALL);
    }
}

/// A signal became pending in process `tgid`: its signalfds may be ready.
fn note_pending(st: &KState, tgid: i32) {
    if let Some(p) = st.procs.get(&tgid) {
        p.signal_wq.notify(EV_IN);
    }
}

/// Queues a signal on one thread.
/// Takes the first pending signal not in `blocked` for thread `tid` of
/// process `tgid` (the thread's own first), as delivery, sigwait and
/// signalfd take it; a POSIX timer's fixes its overrun count.
pub fn dequeue(st: &mut KState, tid: i32, tgid: i32, blocked: u64) -> Option<SigInfo> {
    let own = st.tasks.get_mut(&tid).and_then(|t| t.pending.take(blocked));
    let info = own.or_else(|| st.procs.get_mut(&tgid)?.shared_pending.take(blocked))?;
    super::timers::taken(st, tgid, &info);
    Some(info)
}

/// Whether one more queued signal for process `tgid` stays within its
/// RLIMIT_SIGPENDING: Linux counts the signals pending for the process's
/// real user, here across the sandbox. Only sigqueue-style realtime
/// signals are refused past it (EAGAIN); kill(2) and the kernel's own
/// signals are not.
pub fn may_queue(st: &KState, tgid: i32) -> bool {
    let Some(p) = st.procs.get(&tgid) else {
        return true;
    };
    let (uid, limit) = (p.creds.ruid, p.rlimits[libc::RLIMIT_SIGPENDING as usize].0);
    let mut n = 0usize;
    for q in st.procs.values().filter(|q| q.creds.ruid == uid) {
        n += q.shared_pending.infos.len();
        n += q
            .threads
            .iter()
            .filter_map(|t| st.tasks.get(t))
            .map(|t| t.pending.infos.len())
            .sum::<usize>();
    }
    (n as u64) < limit
}

/// The sender or child a kernel-made siginfo names, as the receiving
/// process's PID namespace numbers it (0 when it cannot see it), which
/// Linux works out at send time. What sigqueue callers wrote stays.
fn localize(st: &KState, tgid: i32, mut info: SigInfo) -> SigInfo {
    if matches!(info.kind, InfoKind::Kill | InfoKind::Child) && info.pid > 0 {
        if let Some(p) = st.procs.get(&tgid).filter(|p| !p.pid_ns.is_first()) {
            info.pid = p.pid_ns.vnr(info.pid);
        }
    }
    info
}

pub fn send_to_thread(st: &mut KState, tid: i32, info: SigInfo) {
    let Some(t) = st.tasks.get(&tid) else { return };
    let tgid = t.tgid;
    let info = localize(st, tgid, info);
    if prepare(st, tgid, info.signo) {
        return;
    }
    let full = over_queue_limit(st, tgid, &info);
    if let Some(t) = st.tasks.get_mut(&tid) {
        if full && t.pending.set & bit(info.signo) != 0 {
            return;
        }
        t.pending.push(info);
    }
    note_pending(st, tgid);
    kick(st, tid);
}

/// A realtime signal past RLIMIT_SIGPENDING (callers that may fail have
/// refused it with EAGAIN already): Linux still makes it pending, but
/// does not queue another of one already pending. That also bounds what
/// a flood of kill(2)s can make the sentry hold.
fn over_queue_limit(st: &KState, tgid: i32, info: &SigInfo) -> bool {
    info.signo >= 32 && info.kind != InfoKind::Timer && !may_queue(st, tgid)
}

/// Queues a signal on a process; some thread not blocking it is woken.
pub fn send_to_process(st: &mut KState, tgid: i32, info: SigInfo) {
    if prepare(st, tgid, info.signo) {
        return;
    }
    let info = localize(st, tgid, info);
    let full = over_queue_limit(st, tgid, &info);
    let Some(p) = st.procs.get_mut(&tgid) else {
        return;
    };
    if full && p.shared_pending.set & bit(info.signo) != 0 {
        return;
    }
    p.shared_pending.push(info);
    let threads = p.threads.clone();
    let target = threads
        .iter()
        .find(|t| {
            st.tasks
                .get(t)
                .is_some_and(|t| t.sig_mask.get() & bit(info.signo) == 0)
        })
        .or(threads.first())
        .copied();
    note_pending(st, tgid);
    if let Some(t) = target {
        kick(st, t);
    }
}

/// Side effects at send time (SIGKILL, SIGCONT, stop signals). Returns true
/// when the signal is to be discarded.
fn prepare(st: &mut KState, tgid: i32, sig: i32) -> bool {
    let Some(p) = st.procs.get_mut(&tgid) else {
        return true;
    };
    if p.exit.is_some() {
        return true;
    }
    if sig == SIGKILL {
        p.stopped = false;
    }
    if sig == SIGCONT {
        p.shared_pending
            .remove(bit(SIGSTOP) | bit(libc::SIGTSTP) | bit(libc::SIGTTIN) | bit(libc::SIGTTOU));
        let threads = p.threads.clone();
        if p.stopped {
            p.stopped = false;
            p.stop_report = None;
            p.cont_report = true;
            let ppid = p.ppid;
            notify_parent(st, tgid, ppid, CLD_CONTINUED, SIGCONT);
        }
        for t in threads {
            if let Some(t) = st.tasks.get_mut(&t) {
                t.pending.remove(
                    bit(SIGSTOP) | bit(libc::SIGTSTP) | bit(libc::SIGTTIN) | bit(libc::SIGTTOU),
                );
            }
        }
        // Stopped threads sleep in signal delivery: resume them.
        if let Some(p) = st.procs.get(&tgid) {
            for t in p.threads.clone() {
                kick(st, t);
            }
        }
    }
    if matches!(
        sig,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    ) {
        let p = st.procs.get_mut(&tgid).unwrap();
        p.shared_pending.remove(bit(SIGCONT));
    }
    // A blocked ignored signal stays pending; an unblocked one vanishes,
    // unless a tracer is to see it.
    let traced = st.procs[&tgid]
        .threads
        .iter()
        .any(|t| st.tasks.get(t).is_some_and(|t| t.ptrace.is_some()));
    if sig != SIGKILL && sig != SIGSTOP && !traced && ignored(st, tgid, sig) {
        let p = &st.procs[&tgid];
        let all_block = p.threads.iter().all(|t| {
            st.tasks
                .get(t)
                .is_some_and(|t| t.sig_mask.get() & bit(sig) != 0)
        });
        if !all_block {
            return true;
        }
    }
    false
}

/// Tells a parent about a child's state change (SIGCHLD + waiters).
pub fn notify_parent(st: &mut KState, child: i32, ppid: i32, code: i32, status: i32) {
    notify_parent_by(st, child, ppid, code, status, SIGCHLD);
}

/// `notify_parent` with signal `sig` (an exit's; none for 0).
pub fn notify_parent_by(st: &mut KState, child: i32, ppid: i32, code: i32, status: i32, sig: i32) {
    if ppid == 0 {
        return;
    }
    if sig == 0 {
        notify_children_changed(st, ppid);
        return;
    }
    if let Some(pp) = st.procs.get(&ppid) {
        let act = pp.sighand.lock()[SIGCHLD as usize - 1];
        let stop_cont =
            code == CLD_STOPPED || code == CLD_CONTINUED || code == super::ptrace::CLD_TRAPPED;
        if stop_cont && act.flags & 1 != 0 {
            // SA_NOCLDSTOP
            pp.child_wq.notify(EV_ALL);
            return;
        }
        let info = SigInfo {
            signo: sig,
            code,
            pid: child,
            status,
            kind: InfoKind::Child,
            ..Default::default()
        };
        send_to_process(st, ppid, info);
    }
    notify_children_changed(st, ppid);
}

/// Wakes the wait(2)ers of process `pid`.
pub fn notify_children_changed(st: &KState, pid: i32) {
    if let Some(p) = st.procs.get(&pid) {
        p.child_wq.notify(EV_ALL);
    }
}

/// Whether `tid` has a signal it does not block.
pub fn has_pending(st: &KState, tid: i32) -> bool {
    let Some(t) = st.tasks.get(&tid) else {
        return true;
    };
    if t.killed || t.ptrace.as_ref().is_some_and(|tr| tr.interrupt) {
        return true;
    }
    let p = &st.procs[&t.tgid];
    // A traced thread owes its tracer the report of a group stop, even
    // from the middle of a blocking call.
    if p.stopped
        && t.ptrace
            .as_ref()
            .is_some_and(|tr| !tr.listening && tr.group_gen != p.stop_gen)
    {
        return true;
    }
    if p.group_exit.is_some() {
        return true;
    }
    let pend = (t.pending.set | p.shared_pending.set) & !t.sig_mask.get();
    pend != 0
}

/// The fatal exit a default action produces. The sandbox writes no core
/// files, so a core-dumping signal is reported as a kill (no core bit,
/// CLD_KILLED), as Linux reports one whose dump did not happen.
pub fn fatal_info(sig: i32) -> ExitInfo {
    ExitInfo {
        status: sig & 0x7f,
        code: CLD_KILLED,
        value: sig,
    }
}

// Layout of the frame: pretcode, then ucontext, then siginfo.
const UC_SIZE: u64 = 304;
const FRAME_SIZE: u64 = 8 + UC_SIZE + 128;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;

/// The trap number, error code and fault address a handler's sigcontext
/// shows for a fault, as the CPU reported them to Linux. The platform
/// does not see the page-fault error code, so it is rebuilt: an
/// instruction fetch at rip, a write to a readable page (a protection
/// fault elsewhere), or a read of an unmapped one.
fn fault_context(mm: &Mm, g: &libc::user_regs_struct, info: &SigInfo) -> (u64, u64, u64) {
    const USER: u64 = 4;
    if info.kind != InfoKind::Fault {
        return (0, 0, 0);
    }
    match info.signo {
        libc::SIGSEGV if info.code == SI_KERNEL => (13, 0, 0),
        libc::SIGSEGV | libc::SIGBUS => {
            let addr = info.value;
            // Whether the page was present is not known either; an
            // untouched page is not, and that is the usual case.
            let accerr = info.code == 2; // SEGV_ACCERR
            let err = if addr == g.rip {
                USER | 16
            } else if accerr
                && mm
                    .vma_at(addr)
                    .is_some_and(|v| v.prot & libc::PROT_READ != 0)
            {
                USER | 2
            } else {
                USER
            };
            (14, err, addr)
        }
        libc::SIGILL => (6, 0, 0),
        // int3 (SI_KERNEL) is #BP; single steps and hardware breakpoints #DB.
        libc::SIGTRAP if info.code == SI_KERNEL => (3, 0, 0),
        libc::SIGTRAP => (1, 0, 0),
        // Integer division is #DE; floating point comes from SSE (#XM).
        libc::SIGFPE if info.code <= 2 => (0, 0, 0),
        libc::SIGFPE => (19, 0, 0),
        _ => (0, 0, 0),
    }
}

/// Whether `rsp` lies on the alternate stack `alt` (an armed one).
pub fn on_alt_stack(rsp: u64, alt: (u64, u64, i32)) -> bool {
    alt.2 & SS_DISABLE == 0 && alt.1 > 0 && rsp > alt.0 && rsp <= alt.0 + alt.1
}

/// Whether a handler for `act` entered at `rsp` runs on the alternate
/// stack `alt` (armed, and not already on it).
pub fn switches_stack(rsp: u64, act: &SigAction, alt: (u64, u64, i32)) -> bool {
    act.flags & SA_ONSTACK != 0 && alt.2 & SS_DISABLE == 0 && alt.1 > 0 && !on_alt_stack(rsp, alt)
}

/// Builds the rt_sigframe for `info` and points `regs` at the handler.
/// `fp` must hold the loaded XSAVE state.
pub fn setup_frame(
    mm: &Mm,
    regs: &mut Regs,
    act: &SigAction,
    info: &SigInfo,
    old_mask: u64,
    alt: (u64, u64, i32),
) -> KResult<()> {
    let g = regs.gp;
    let on_alt = on_alt_stack(g.rsp, alt);
    let mut sp = if switches_stack(g.rsp, act, alt) {
        alt.0 + alt.1
    } else {
        g.rsp - 128
    };
    // The frame holds the default features only (no AMX tiles), as
    // Linux's does for a task without that permission.
    let fp_len = if regs.fp_len > 0 {
        regs.fp_len.min(platform::sigframe_xstate_len()) as u64
    } else {
        0
    };
    sp -= fp_len + 4;
    sp &= !63;
    let fpstate = sp;
    sp -= FRAME_SIZE;
    sp = ((sp + 8) & !15) - 8;
    let frame = sp;
    let uc = frame + 8;
    let si = uc + UC_SIZE;

    if fp_len > 0 {
        let mut fp = regs.fp[..crate::num::usize_of(fp_len)].to_vec();
        // Software-reserved bytes of the FXSAVE area describe the XSAVE frame.
        let xfeatures =
            u64::from_le_bytes(fp[512..520].try_into().unwrap()) & platform::app_xfeatures();
        if fp.len() >= 520 {
            fp[512..520].copy_from_slice(&xfeatures.to_le_bytes());
        }
        fp[464..468].copy_from_slice(&FP_XSTATE_MAGIC1.to_le_bytes());
        fp[468..472].copy_from_slice(&u32::try_from(fp_len + 4).unwrap_or(u32::MAX).to_le_bytes());
        fp[472..480].copy_from_slice(&xfeatures.max(3).to_le_bytes());
        fp[480..484].copy_from_slice(&u32::try_from(fp_len).unwrap_or(u32::MAX).to_le_bytes());
        fp.extend_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());
        mm.write(fpstate, &fp)?;
    }
    let mut u = Vec::with_capacity(crate::num::usize_of(UC_SIZE));
    let push = |u: &mut Vec<u8>, v: u64| u.extend_from_slice(&v.to_le_bytes());
    push(&mut u, if fp_len > 0 { 1 | 2 } else { 2 }); // uc_flags
    push(&mut u, 0); // uc_link
    push(&mut u, alt.0);
    let ss_flags = if alt.2 & SS_DISABLE != 0 {
        SS_DISABLE
    } else if on_alt {
        SS_ONSTACK
    } else {
        0
    } | (alt.2 & SS_AUTODISARM);
    push(&mut u, u64::from(crate::num::ubits32(ss_flags)));
    push(&mut u, alt.1);
    for v in [
        g.r8, g.r9, g.r10, g.r11, g.r12, g.r13, g.r14, g.r15, g.rdi, g.rsi, g.rbp, g.rbx, g.rdx,
        g.rax, g.rcx, g.rsp, g.rip, g.eflags,
    ] {
        push(&mut u, v);
    }
    // cs, gs, fs, ss as u16s
    let seg = (g.cs & 0xffff) | ((g.ss & 0xffff) << 48);
    push(&mut u, seg);
    let (trapno, err, cr2) = fault_context(mm, &g, info);
    push(&mut u, err);
    push(&mut u, trapno);
    push(&mut u, old_mask);
    push(&mut u, cr2);
    push(&mut u, if fp_len > 0 { fpstate } else { 0 });
    for _ in 0..8 {
        push(&mut u, 0);
    }
    push(&mut u, old_mask);
    debug_assert_eq!(u.len() as u64, UC_SIZE);
    let restorer = if act.flags & SA_RESTORER != 0 {
        act.restorer
    } else {
        return Err(Errno::EFAULT);
    };
    mm.write(frame, &restorer.to_le_bytes())?;
    mm.write(uc, &u)?;
    mm.write(si, &info.to_bytes())?;

    let r = &mut regs.gp;
    r.rsp = frame;
    r.rip = act.handler;
    r.rdi = crate::num::bits(i64::from(info.signo));
    r.rsi = si;
    r.rdx = uc;
    r.rax = 0;
    r.eflags &= !(0x100 | 0x400 | 0x40000); // TF, DF, AC
    r.orig_rax = u64::MAX;
    Ok(())
}

/// rt_sigreturn: restores registers, FPU state, mask and alt stack from the
/// frame at rsp. Returns the restored mask and alt-stack setting.
pub fn restore_frame(mm: &Mm, regs: &mut Regs) -> KResult<(u64, Option<AltStack>)> {
    let uc = regs.gp.rsp;
    let raw = crate::mm::read_vec(mm, uc, crate::num::usize_of(UC_SIZE))?;
    let w = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap());
    let flags = w(0);
    let alt = (
        w(2),
        w(4),
        crate::num::sbits32(u32::try_from(w(3) & 0xffff_ffff).unwrap_or(0)),
    );
    let m = 5; // sigcontext starts at word 5
    let g = &mut regs.gp;
    g.r8 = w(m);
    g.r9 = w(m + 1);
    g.r10 = w(m + 2);
    g.r11 = w(m + 3);
    g.r12 = w(m + 4);
    g.r13 = w(m + 5);
    g.r14 = w(m + 6);
    g.r15 = w(m + 7);
    g.rdi = w(m + 8);
    g.rsi = w(m + 9);
    g.rbp = w(m + 10);
    g.rbx = w(m + 11);
    g.rdx = w(m + 12);
    g.rax = w(m + 13);
    g.rcx = w(m + 14);
    g.rsp = w(m + 15);
    g.rip = w(m + 16);
    // Only the flags user code may change (CF PF AF ZF SF TF DF OF NT AC RF).
    const USER_FLAGS: u64 = 0x40dd5 | 0x100 | 0x4000 | 0x10000;
    g.eflags = (g.eflags & !USER_FLAGS) | (w(m + 17) & USER_FLAGS);
    g.cs = 0x33;
    g.ss = 0x2b;
    g.orig_rax = u64::MAX;
    let fpstate = w(m + 23);
    let mask = w(37) & !UNBLOCKABLE;
    if fpstate != 0 {
        let hdr: [u8; 512] = read_obj(mm, fpstate)?;
        let magic = u32::from_le_bytes(hdr[464..468].try_into().unwrap());
        let size = u32::from_le_bytes(hdr[480..484].try_into().unwrap()) as usize;
        let len = if flags & 1 != 0 && magic == FP_XSTATE_MAGIC1 && size <= platform::XSTATE_MAX {
            size
        } else {
            512
        };
        let fp = crate::mm::read_vec(mm, fpstate, len)?;
        if len > 512 {
            // The host takes only a standard-format header with reserved
            // bytes clear; Linux fails such a sigreturn too.
            let xcomp = u64::from_le_bytes(fp[520..528].try_into().unwrap());
            if len < 576 || xcomp != 0 || fp[528..576].iter().any(|&b| b != 0) {
                return Err(Errno::EFAULT);
            }
        }
        regs.fp[..len].copy_from_slice(&fp);
        if len == 512 {
            // A legacy frame: keep x87/SSE, clear the XSAVE header.
            regs.fp[512..576].fill(0);
            regs.fp[512] = 3;
        } else {
            // Features the frame names beyond what a task may use (or
            // beyond the frame) are left in their initial state.
            let bv = u64::from_le_bytes(regs.fp[512..520].try_into().unwrap())
                & platform::app_xfeatures();
            regs.fp[512..520].copy_from_slice(&bv.to_le_bytes());
        }
        // The host's regset is set whole.
        regs.fp_len = platform::xstate_len();
        regs.fp_dirty = true;
    }
    Ok((mask, Some(alt)))
}

/// A task's blocked-signal mask. Only its own task changes it (with the
/// kernel lock, or without it in rt_sigprocmask when nothing gets
/// unblocked); senders read it under the lock.
#[derive(Debug, Default)]
pub struct SigMask(std::sync::atomic::AtomicU64);

impl SigMask {
    pub fn new(mask: u64) -> SigMask {
        SigMask(std::sync::atomic::AtomicU64::new(mask))
    }
    pub fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub fn set(&self, mask: u64) {
        self.0.store(mask, std::sync::atomic::Ordering::SeqCst)
    }
}
