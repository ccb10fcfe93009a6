//! ptrace(2) among the sandbox's own tasks: who traces whom, the
//! ptrace-stops a tracee enters (signal delivery, group stop, syscall
//! entry and exit, events), and what wait(2) reports of them.
//!
//! A tracee in a ptrace-stop sleeps on its own sentry thread with its
//! registers published in its `Tracee` (FPU state loaded), so the
//! tracer's requests read and change them under the kernel lock; the
//! tracee takes them back when it is resumed. The tracer is the thread
//! that attached (only it makes requests, and its exit lets the tracee
//! go); any thread of its group may wait. With PTRACE_TRACEME it is the
//! parent thread that forked (`Process::parent_tid`), or any thread of
//! the parent when that one is gone (Linux hands the child to another).

use super::signal::{self, SigInfo, SIGKILL};
use super::task::ExitInfo;
use super::KState;
use parking_lot::MutexGuard;
use platform::Context;
pub use platform::{app_xfeatures, host_xfeatures, Regs};

pub const O_TRACESYSGOOD: u32 = 1;
pub const O_TRACEFORK: u32 = 2;
pub const O_TRACEVFORK: u32 = 4;
pub const O_TRACECLONE: u32 = 8;
pub const O_TRACEEXEC: u32 = 0x10;
pub const O_TRACEVFORKDONE: u32 = 0x20;
pub const O_TRACEEXIT: u32 = 0x40;
pub const O_TRACESECCOMP: u32 = 0x80;
pub const O_EXITKILL: u32 = 0x10_0000;
pub const O_SUSPEND_SECCOMP: u32 = 0x20_0000;
/// Every option Linux 6.18 knows.
pub const O_MASK: u32 = 0xff | O_EXITKILL | O_SUSPEND_SECCOMP;

pub const EVENT_FORK: u32 = 1;
pub const EVENT_VFORK: u32 = 2;
pub const EVENT_CLONE: u32 = 3;
pub const EVENT_EXEC: u32 = 4;
pub const EVENT_VFORK_DONE: u32 = 5;
pub const EVENT_EXIT: u32 = 6;
pub const EVENT_SECCOMP: u32 = 7;
pub const EVENT_STOP: u32 = 128;

/// waitid's si_code for a ptrace-stop.
pub const CLD_TRAPPED: i32 = 4;
const EFLAGS_TF: u64 = 0x100;

/// How the tracer let the tracee go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Cont,
    /// Stop at every syscall entry and exit (PTRACE_SYSCALL).
    Syscall,
    /// Stop at syscall entry and skip the call (PTRACE_SYSEMU).
    Sysemu,
    /// One instruction (PTRACE_SINGLESTEP).
    Step,
    SysemuStep,
}

impl Mode {
    fn steps(self) -> bool {
        matches!(self, Mode::Step | Mode::SysemuStep)
    }
    /// Whether syscall entries stop.
    pub fn stops_at_entry(self) -> bool {
        matches!(self, Mode::Syscall | Mode::Sysemu | Mode::SysemuStep)
    }
    pub fn emulates(self) -> bool {
        matches!(self, Mode::Sysemu | Mode::SysemuStep)
    }
}

/// Which ptrace-stop a tracee is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    Signal,
    Group,
    SyscallEnter,
    SyscallExit,
    Event(u32),
}

/// A traced task's ptrace state.
#[derive(Debug)]
pub struct Tracee {
    /// The tracing thread group, and the thread that attached (None:
    /// PTRACE_TRACEME, any thread of the group).
    pub tracer: i32,
    pub tracer_tid: Option<i32>,
    pub seized: bool,
    pub options: u32,
    /// The stop it is in, and its 16-bit code (what wait shows above
    /// 0x7f).
    pub stop: Option<(StopKind, i32)>,
    /// The stop has not been collected by wait yet.
    pub unreported: bool,
    /// Its registers while stopped.
    pub regs: Option<Box<Regs>>,
    /// The tracer changed the FPU state.
    pub fp_changed: bool,
    /// What PTRACE_GETSIGINFO shows (none in a group-stop).
    pub siginfo: Option<SigInfo>,
    pub event_msg: u64,
    pub mode: Mode,
    /// Set by the tracer's resume: the mode and the signal to deliver.
    pub resume: Option<(Mode, i32)>,
    /// Resumed by PTRACE_DETACH: no longer traced once it wakes.
    pub detach: bool,
    /// PTRACE_INTERRUPT is pending.
    pub interrupt: bool,
    /// PTRACE_LISTEN: stays in its group-stop without being in a
    /// ptrace-stop, and traps again when that ends.
    pub listening: bool,
    /// The group stop (`Process::stop_gen`) last reported.
    pub group_gen: u64,
    /// The trap flag is set for single-stepping, not by the program.
    pub forced_tf: bool,
    /// Debug registers as PTRACE_POKEUSER left them (DR6 as the last
    /// trap did), and whether the tracer changed them since it stopped.
    pub debugreg: [u64; 8],
    pub debug_changed: bool,
    /// The tracer has set debug registers at some point.
    pub debug_used: bool,
}

impl Tracee {
    pub fn new(tracer: i32, seized: bool, options: u32) -> Tracee {
        Tracee {
            tracer,
            tracer_tid: None,
            seized,
            options,
            stop: None,
            unreported: false,
            regs: None,
            fp_changed: false,
            siginfo: None,
            event_msg: 0,
            mode: Mode::Cont,
            resume: None,
            detach: false,
            interrupt: false,
            listening: false,
            group_gen: 0,
            forced_tf: false,
            debugreg: [0; 8],
            debug_changed: false,
            debug_used: false,
        }
    }

    /// Whether task `tid` of process `tgid` is its tracer.
    pub fn traced_by(&self, tgid: i32, tid: i32) -> bool {
        self.tracer == tgid && !self.detach && self.tracer_tid.is_none_or(|t| t == tid)
    }

    /// Whether it is in a ptrace-stop the tracer has not ended yet.
    pub fn stopped(&self) -> bool {
        self.stop.is_some() && self.resume.is_none()
    }

    pub fn has(&self, opt: u32) -> bool {
        self.options & opt != 0
    }
}

/// The tracing process of `tid`, if traced.
pub fn tracer_of(st: &KState, tid: i32) -> Option<i32> {
    st.tasks.get(&tid)?.ptrace.as_ref().map(|t| t.tracer)
}

/// Whether `tid`'s tracer suspended its seccomp filters.
pub fn seccomp_suspended(st: &KState, tid: i32) -> bool {
    st.tasks
        .get(&tid)
        .and_then(|t| t.ptrace.as_ref())
        .is_some_and(|tr| tr.has(O_SUSPEND_SECCOMP))
}

/// The traced task's mode (None: not traced).
pub fn mode_of(st: &KState, tid: i32) -> Option<Mode> {
    st.tasks.get(&tid)?.ptrace.as_ref().map(|t| t.mode)
}

/// Whether `tid` is traced (one being let go by PTRACE_DETACH, which
/// has not woken up yet, is not).
pub fn traced(st: &KState, tid: i32) -> bool {
    st.tasks
        .get(&tid)
        .and_then(|t| t.ptrace.as_ref())
        .is_some_and(|tr| !tr.detach)
}

/// Starts tracing `tid` by process `tracer` (its thread `by`, or any).
pub fn attach(st: &mut KState, tid: i32, tracer: i32, by: Option<i32>, seized: bool, options: u32) {
    if let Some(t) = st.tasks.get_mut(&tid) {
        match t.ptrace.as_mut() {
            // Detached but not awake yet: it still goes on as the detach
            // said, now traced by the new tracer.
            Some(tr) if tr.detach => {
                let (stop, regs, resume, siginfo, mode) = (
                    tr.stop.take(),
                    tr.regs.take(),
                    tr.resume.take(),
                    tr.siginfo.take(),
                    tr.mode,
                );
                let mut new = Tracee::new(tracer, seized, options);
                (new.stop, new.regs, new.resume, new.siginfo, new.mode) =
                    (stop, regs, resume, siginfo, mode);
                new.tracer_tid = by;
                **tr = new;
            }
            _ => {
                let mut new = Tracee::new(tracer, seized, options);
                new.tracer_tid = by;
                t.ptrace = Some(Box::new(new));
            }
        }
    }
    if let Some(p) = st.procs.get_mut(&tracer) {
        if !p.tracees.contains(&tid) {
            p.tracees.push(tid);
        }
    }
}

fn forget(st: &mut KState, tracer: i32, tid: i32) {
    if let Some(p) = st.procs.get_mut(&tracer) {
        p.tracees.retain(|&t| t != tid);
    }
}

/// Lets `tid` go (PTRACE_DETACH, or its tracer's exit): a stopped
/// tracee resumes with `sig`, a running one simply is no longer traced.
pub fn detach(st: &mut KState, tid: i32, sig: i32) {
    let Some(t) = st.tasks.get_mut(&tid) else {
        return;
    };
    let Some(tr) = t.ptrace.as_mut() else { return };
    let tracer = tr.tracer;
    if tr.stop.is_some() {
        tr.resume = Some((Mode::Cont, sig));
        tr.detach = true;
        tr.unreported = false;
    } else {
        t.ptrace = None;
    }
    forget(st, tracer, tid);
    super::task::wake_task(&st.tasks, tid);
}

/// A thread of process `tracer` is gone: the tracees it attached are
/// let go (or killed, with PTRACE_O_EXITKILL).
pub fn tracer_thread_gone(st: &mut KState, tracer: i32, tid: i32) {
    let Some(p) = st.procs.get(&tracer) else {
        return;
    };
    let mine: Vec<i32> = p
        .tracees
        .iter()
        .copied()
        .filter(|t| {
            st.tasks
                .get(t)
                .and_then(|t| t.ptrace.as_ref())
                .is_some_and(|tr| tr.tracer_tid == Some(tid))
        })
        .collect();
    for t in mine {
        let_go(st, t);
    }
}

/// Detaches `tid` for a tracer that is gone; PTRACE_O_EXITKILL kills it.
fn let_go(st: &mut KState, tid: i32) {
    let kill = st
        .tasks
        .get(&tid)
        .and_then(|t| t.ptrace.as_ref())
        .is_some_and(|tr| tr.has(O_EXITKILL));
    detach(st, tid, 0);
    if kill {
        signal::send_to_thread(st, tid, SigInfo::user(SIGKILL, signal::SI_USER, 0, 0));
    }
}

/// A tracer process is gone: its tracees are let go (or killed, with
/// PTRACE_O_EXITKILL), and the exits it never collected go to the
/// parents.
pub fn tracer_gone(st: &mut KState, tracer: i32) {
    let Some(p) = st.procs.get_mut(&tracer) else {
        return;
    };
    let tracees = std::mem::take(&mut p.tracees);
    for d in std::mem::take(&mut p.dead_tracees) {
        release_held(st, d.tid, tracer);
    }
    for tid in tracees {
        let_go(st, tid);
    }
}

/// The wait status code (above 0x7f) and siginfo of a stop of `kind`.
fn code_of(tr: &Tracee, kind: StopKind, sig: i32) -> i32 {
    match kind {
        StopKind::Signal => sig,
        StopKind::Group if tr.seized => sig | (EVENT_STOP << 8).cast_signed(),
        StopKind::Group => sig,
        StopKind::SyscallEnter | StopKind::SyscallExit => {
            libc::SIGTRAP | if tr.has(O_TRACESYSGOOD) { 0x80 } else { 0 }
        }
        StopKind::Event(e) => sig | (e << 8).cast_signed(),
    }
}

/// Whether a SIGKILL is pending for `tid`: it ends any ptrace-stop.
fn sigkill_pending(st: &KState, tid: i32) -> bool {
    let Some(t) = st.tasks.get(&tid) else {
        return true;
    };
    let shared = st.procs.get(&t.tgid).map_or(0, |p| p.shared_pending.set);
    (t.pending.set | shared) & signal::bit(SIGKILL) != 0
}

/// What a ptrace-stop reports: its kind and signal, the siginfo of a
/// signal-delivery-stop, and PTRACE_GETEVENTMSG's value.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    pub kind: StopKind,
    pub sig: i32,
    pub info: Option<SigInfo>,
    pub msg: u64,
}

impl Report {
    pub fn signal(info: SigInfo) -> Report {
        Report {
            kind: StopKind::Signal,
            sig: info.signo,
            info: Some(info),
            msg: 0,
        }
    }
    pub fn of(kind: StopKind, sig: i32) -> Report {
        Report {
            kind,
            sig,
            info: None,
            msg: 0,
        }
    }
    pub fn event(ev: u32, msg: u64) -> Report {
        Report {
            kind: StopKind::Event(ev),
            sig: libc::SIGTRAP,
            info: None,
            msg,
        }
    }
}

/// Puts the traced task `tid` in the ptrace-stop `r` describes, tells
/// its tracer, and sleeps until the tracer resumes it. Its registers
/// are the tracer's to read and change meanwhile.
///
/// Some((mode, signal, siginfo)) when resumed (the signal the tracer
/// gave, and the siginfo it may have changed), None when it was not
/// traced, or a kill (or, except for the exit stop, the end of its
/// process) ended the stop.
pub fn stop(
    st: &mut MutexGuard<'_, KState>,
    tid: i32,
    regs: &mut Regs,
    pctx: &mut Box<dyn Context>,
    r: Report,
) -> Option<(Mode, i32, Option<SigInfo>)> {
    let Report {
        kind,
        sig,
        info,
        msg,
    } = r;
    // The FPU state goes with the registers (PTRACE_GETFPREGS).
    if pctx.load_fp(regs).is_err() {
        regs.fp_len = 0;
    }
    let s: &mut KState = st;
    let tgid = s.tasks.get(&tid)?.tgid;
    let uid = s.procs.get(&tgid).map_or(0, |p| p.creds.ruid);
    let t = s.tasks.get_mut(&tid)?;
    let tr = t.ptrace.as_mut()?;
    let code = code_of(tr, kind, sig);
    let mut shown = regs.clone();
    if shown.fp_len == 0 {
        // Not run since its exec: the state it will start with.
        shown.init_fp();
    }
    if tr.forced_tf {
        shown.gp.eflags &= !EFLAGS_TF;
    }
    if tr.debug_used {
        tr.debugreg[6] = pctx.debug_status();
    }
    tr.stop = Some((kind, code));
    tr.unreported = true;
    tr.regs = Some(Box::new(shown));
    tr.fp_changed = false;
    tr.siginfo = match kind {
        StopKind::Signal => info,
        // A seized tracee's group stop is a trap with a siginfo; the
        // old kind has none.
        StopKind::Group if tr.seized => Some(SigInfo::user(sig, code, tid, uid)),
        StopKind::Group => None,
        _ => Some(SigInfo::user(libc::SIGTRAP, code, tid, uid)),
    };
    tr.event_msg = msg;
    tr.resume = None;
    tr.detach = false;
    let tracer = tr.tracer;
    let waiter = t.waiter.clone();
    signal::notify_parent(st, tid, tracer, CLD_TRAPPED, code & 0x7f);
    let exit_stop = kind == StopKind::Event(EVENT_EXIT);
    loop {
        waiter.arm();
        let s: &mut KState = st;
        let ended =
            s.tasks.get(&tid)?.killed || s.procs.get(&tgid).is_none_or(|p| p.group_exit.is_some());
        let t = s.tasks.get_mut(&tid)?;
        let tr = t.ptrace.as_mut()?;
        if let Some((mode, sig)) = tr.resume.take() {
            let info = tr.siginfo.take();
            let mut back = tr.regs.take().map(|r| *r);
            let fp_changed = tr.fp_changed;
            tr.stop = None;
            tr.unreported = false;
            tr.mode = mode;
            let detach = tr.detach;
            if std::mem::take(&mut tr.debug_changed) {
                let _ = pctx.set_debug_regs(tr.debugreg);
            }
            let was_forced = tr.forced_tf;
            tr.forced_tf = mode.steps() && (was_forced || regs.gp.eflags & EFLAGS_TF == 0);
            let forced = tr.forced_tf;
            if detach {
                t.ptrace = None;
            }
            if let Some(mut b) = back.take() {
                b.fp_dirty = fp_changed && b.fp_len > 0;
                if !fp_changed {
                    b.fp_len = regs.fp_len;
                }
                *regs = b;
            }
            if forced {
                regs.gp.eflags |= EFLAGS_TF;
            } else if was_forced {
                regs.gp.eflags &= !EFLAGS_TF;
            }
            return Some((mode, if detach && sig == 0 { 0 } else { sig }, info));
        }
        // An exiting task takes no more signals (Linux: PF_EXITING): only
        // its tracer (resuming, detaching, exiting) or the sandbox's end
        // lets it out of the exit stop.
        let leave = if exit_stop {
            s.init_exit.is_some()
        } else {
            sigkill_pending(s, tid) || ended
        };
        if leave {
            let t = s.tasks.get_mut(&tid)?;
            if let Some(tr) = t.ptrace.as_mut() {
                tr.stop = None;
                tr.unreported = false;
                tr.regs = None;
            }
            return None;
        }
        MutexGuard::unlocked(st, || waiter.sleep(None));
    }
}

/// An event stop (PTRACE_EVENT_*) if the tracer asked for it with
/// `opt` (0: always). Whether it stopped.
#[allow(clippy::too_many_arguments)]
pub fn event(
    st: &mut MutexGuard<'_, KState>,
    tid: i32,
    regs: &mut Regs,
    pctx: &mut Box<dyn Context>,
    ev: u32,
    opt: u32,
    msg: u64,
) -> bool {
    let wanted = st
        .tasks
        .get(&tid)
        .and_then(|t| t.ptrace.as_ref())
        .is_some_and(|tr| opt == 0 || tr.has(opt));
    wanted && stop(st, tid, regs, pctx, Report::event(ev, msg)).is_some()
}

/// What `clone` does for a traced parent: the event it reports and
/// whether the child is traced too (`CLONE_PTRACE`, or the option for
/// the event). None when the parent is not traced or `CLONE_UNTRACED`.
pub fn clone_event(st: &KState, parent: i32, flags: u64, exit_signal: i32) -> Option<(u32, bool)> {
    let tr = st.tasks.get(&parent)?.ptrace.as_ref()?;
    if flags & libc::CLONE_UNTRACED as u64 != 0 {
        return None;
    }
    let (ev, opt) = if flags & libc::CLONE_VFORK as u64 != 0 {
        (EVENT_VFORK, O_TRACEVFORK)
    } else if exit_signal == libc::SIGCHLD {
        (EVENT_FORK, O_TRACEFORK)
    } else {
        (EVENT_CLONE, O_TRACECLONE)
    };
    let traced = tr.has(opt) || flags & libc::CLONE_PTRACE as u64 != 0;
    Some((ev, traced))
}

/// A new child of a traced task, traced by the same tracer: it starts
/// with a SIGSTOP (or, seized, a PTRACE_EVENT_STOP trap).
pub fn inherit(st: &mut KState, parent: i32, child: i32) {
    let Some(tr) = st.tasks.get(&parent).and_then(|t| t.ptrace.as_ref()) else {
        return;
    };
    let (tracer, by, seized, options) = (tr.tracer, tr.tracer_tid, tr.seized, tr.options);
    attach(st, child, tracer, by, seized, options);
    if let Some(t) = st.tasks.get_mut(&child) {
        if seized {
            if let Some(tr) = t.ptrace.as_mut() {
                tr.interrupt = true;
            }
        } else {
            t.pending
                .push(SigInfo::user(libc::SIGSTOP, signal::SI_USER, 0, 0));
        }
    }
}

/// A traced task is gone: its tracer sees the exit (a thread's, or the
/// whole process's when its parent is someone else; the parent's own
/// wait reports it otherwise).
pub fn task_gone(st: &mut KState, tid: i32, tgid: i32, tracer: i32, info: ExitInfo) {
    forget(st, tracer, tid);
    let last = st.procs.get(&tgid).is_none_or(|p| p.threads.is_empty());
    if tid == tgid && !last {
        // The leader went first: the process's end is reported then.
        if let Some(p) = st.procs.get_mut(&tgid) {
            p.leader_tracer = Some(tracer);
        }
        return;
    }
    let ppid = st.procs.get(&tgid).map_or(0, |p| p.ppid);
    if tid == tgid && ppid == tracer {
        return;
    }
    dead(st, tid, tgid, tracer, info);
}

/// Records the exit of traced `tid` for its tracer's wait.
pub fn dead(st: &mut KState, tid: i32, tgid: i32, tracer: i32, info: ExitInfo) {
    let pgid = st.procs.get(&tgid).map_or(0, |p| p.pgid);
    let Some(tp) = st.procs.get_mut(&tracer) else {
        return;
    };
    if tp.exit.is_some() {
        return;
    }
    tp.dead_tracees.push(DeadTracee { tid, pgid, info });
    if tid == tgid {
        if let Some(p) = st.procs.get_mut(&tgid) {
            p.exit_held_by = Some(tracer);
        }
    }
    signal::notify_parent(st, tid, tracer, info.code, info.value);
}

/// The tracer `tracer` is done with zombie `tgid` (it waited, or is
/// gone): now its parent hears of the exit.
pub fn release_held(st: &mut KState, tgid: i32, tracer: i32) {
    let Some(p) = st.procs.get_mut(&tgid) else {
        return;
    };
    if p.exit_held_by != Some(tracer) {
        return;
    }
    p.exit_held_by = None;
    let (ppid, info) = (p.ppid, p.exit);
    if let Some(info) = info {
        super::lifecycle::exit_notify(st, tgid, ppid, info);
    }
}

/// A traced task that exited and that its tracer has not waited for.
#[derive(Clone, Copy, Debug)]
pub struct DeadTracee {
    pub tid: i32,
    pub pgid: i32,
    pub info: ExitInfo,
}
