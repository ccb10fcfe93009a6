//! Interval and POSIX timers, on wall clocks or on a process's CPU time,
//! fired by one timer thread.

use super::signal::{self, InfoKind, SigInfo};
use super::waitq::Signal;
use super::{cpu, KState, Kernel};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub enum Target {
    /// A timerfd: expirations are counted in the file (gone with it).
    Counter(std::sync::Weak<crate::fs::timerfd::Expirations>),
    /// setitimer/alarm: `sig` to the process.
    Itimer { tgid: i32, sig: i32 },
    /// RLIMIT_CPU of a process: SIGXCPU at the soft limit and each second
    /// after, SIGKILL at the hard one.
    CpuLimit { tgid: i32 },
    /// POSIX timer with SIGEV_SIGNAL (or SIGEV_THREAD_ID when `tid` is set;
    /// SIGEV_NONE sends nothing).
    Posix {
        tgid: i32,
        tid: Option<i32>,
        signo: i32,
        value: u64,
        /// The id timer_create gave (the process's own numbering).
        id: i32,
        /// sigev_notify as given (SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD,
        /// with SIGEV_THREAD_ID), for /proc/PID/timers.
        how: i32,
        /// The clock it was created on, for TIMER_ABSTIME.
        clockid: i32,
    },
}

/// What a timer measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    Wall,
    /// CPU time of a process: user only (ITIMER_VIRTUAL) or user+system.
    Cpu {
        tgid: i32,
        user_only: bool,
    },
    /// CPU time of one thread.
    ThreadCpu {
        tid: i32,
        user_only: bool,
    },
}

#[derive(Clone, Debug)]
pub struct Timer {
    pub target: Target,
    pub clock: Clock,
    pub deadline: Option<Instant>,
    /// For CPU timers: the CPU time (ns) at which it fires.
    pub cpu_deadline: Option<u64>,
    pub interval: Duration,
    pub overrun: i32,
    /// The overrun count of the last expiry delivered (timer_getoverrun).
    pub overrun_last: i32,
}

#[derive(Default)]
pub struct Timers {
    next: u64,
    pub all: HashMap<u64, Timer>,
    /// The timer thread sleeps here: arming a timer wakes it, nothing else.
    wake: Arc<Signal>,
}

/// Current reading of a CPU clock.
pub fn cpu_now(st: &KState, clock: Clock) -> u64 {
    match clock {
        Clock::Wall => 0,
        Clock::Cpu { tgid, user_only } => {
            let (u, s) = cpu::process_times(st, tgid);
            if user_only {
                u
            } else {
                u + s
            }
        }
        Clock::ThreadCpu { tid, user_only } => {
            let (u, s) = cpu::thread_times(st, tid);
            if user_only {
                u
            } else {
                u + s
            }
        }
    }
}

/// A POSIX timer's signal was taken (delivered, or read by sigwait or a
/// signalfd) by process `tgid`: its overrun count is what
/// timer_getoverrun reports now.
pub fn taken(st: &mut KState, tgid: i32, info: &SigInfo) {
    if info.kind != InfoKind::Timer || info.code != signal::SI_TIMER {
        return;
    }
    let key = st.procs.get(&tgid).and_then(|p| {
        p.posix_timers
            .iter()
            .find(|(id, _)| *id == info.pid)
            .map(|(_, key)| *key)
    });
    if let Some(t) = key.and_then(|k| st.timers.all.get_mut(&k)) {
        t.overrun_last = info.status;
    }
}

/// Deletes every POSIX timer of process `tgid` (exec, as Linux's
/// exit_itimers), with the signals they left queued.
pub fn delete_posix(st: &mut KState, tgid: i32) {
    let Some(p) = st.procs.get_mut(&tgid) else {
        return;
    };
    for (id, key) in std::mem::take(&mut p.posix_timers) {
        st.timers.cancel(key);
        drop_pending(st, tgid, id);
    }
}

impl Timers {
    pub fn create(&mut self, target: Target, clock: Clock) -> u64 {
        self.next += 1;
        self.all.insert(
            self.next,
            Timer {
                target,
                clock,
                deadline: None,
                cpu_deadline: None,
                interval: Duration::ZERO,
                overrun: 0,
                overrun_last: 0,
            },
        );
        self.next
    }

    pub fn cancel(&mut self, id: u64) {
        self.all.remove(&id);
    }

    /// Arms (or disarms with `value == 0`); returns the old (remaining,
    /// interval). `now_cpu` is the timer's CPU clock reading for CPU timers.
    pub fn set(
        &mut self,
        id: u64,
        value: Duration,
        interval: Duration,
        now_cpu: u64,
    ) -> (Duration, Duration) {
        let Some(t) = self.all.get_mut(&id) else {
            return (Duration::ZERO, Duration::ZERO);
        };
        let old = Self::remaining(t, now_cpu);
        t.deadline = None;
        t.cpu_deadline = None;
        if !value.is_zero() {
            match t.clock {
                Clock::Wall => t.deadline = Some(super::time::after(value)),
                Clock::Cpu { .. } | Clock::ThreadCpu { .. } => {
                    t.cpu_deadline =
                        Some(now_cpu.saturating_add(crate::num::narrow(value.as_nanos())))
                }
            }
        }
        t.interval = interval;
        t.overrun = 0;
        t.overrun_last = 0;
        self.wake.notify();
        old
    }

    fn remaining(t: &Timer, now_cpu: u64) -> (Duration, Duration) {
        let rem = match (t.deadline, t.cpu_deadline) {
            (Some(d), _) => d
                .saturating_duration_since(Instant::now())
                .max(Duration::from_nanos(1)),
            (_, Some(c)) => Duration::from_nanos(c.saturating_sub(now_cpu).max(1)),
            _ => Duration::ZERO,
        };
        (rem, t.interval)
    }

    pub fn get(&self, id: u64, now_cpu: u64) -> (Duration, Duration) {
        self.all
            .get(&id)
            .map(|t| Self::remaining(t, now_cpu))
            .unwrap_or_default()
    }

    pub fn clock_of(&self, id: u64) -> Clock {
        self.all.get(&id).map(|t| t.clock).unwrap_or(Clock::Wall)
    }
}

/// Drops the queued signal of POSIX timer `id` of process `tgid` (as
/// Linux does when the timer is re-armed or deleted before delivery).
pub fn drop_pending(st: &mut KState, tgid: i32, id: i32) {
    if let Some(p) = st.procs.get_mut(&tgid) {
        p.shared_pending.drop_timer_signal(id);
        let threads = p.threads.clone();
        for t in threads {
            if let Some(t) = st.tasks.get_mut(&t) {
                t.pending.drop_timer_signal(id);
            }
        }
    }
}

/// Fires `target`; `missed` expiries passed unseen since the last.
fn fire(st: &mut KState, target: Target, missed: i32) {
    match target {
        Target::Counter(c) => {
            if let Some(c) = c.upgrade() {
                c.fire(1 + u64::from(missed.unsigned_abs()));
            }
        }
        Target::Itimer { tgid, sig } => {
            signal::send_to_process(st, tgid, SigInfo::user(sig, signal::SI_KERNEL, 0, 0));
        }
        Target::CpuLimit { tgid } => cpu_limit_reached(st, tgid),
        Target::Posix {
            tgid,
            tid,
            signo,
            value,
            id,
            how,
            ..
        } => {
            if how == libc::SIGEV_NONE {
                return;
            }
            // Still queued: this expiry is an overrun of that signal.
            let queued = match tid {
                Some(t) => st.tasks.get_mut(&t).map(|t| &mut t.pending),
                None => st.procs.get_mut(&tgid).map(|p| &mut p.shared_pending),
            }
            .and_then(|q| q.timer_signal(id));
            if let Some(q) = queued {
                q.status = q.status.saturating_add(1).saturating_add(missed);
                return;
            }
            let info = SigInfo {
                signo,
                code: signal::SI_TIMER,
                pid: id,
                status: missed,
                value,
                kind: InfoKind::Timer,
                ..Default::default()
            };
            match tid {
                Some(t) => signal::send_to_thread(st, t, info),
                None => signal::send_to_process(st, tgid, info),
            }
        }
    }
}

/// (Re)arms process `tgid`'s RLIMIT_CPU timer after its limit changed
/// (or it was forked with one): none while the soft limit is infinite.
pub fn arm_cpu_limit(st: &mut KState, tgid: i32) {
    let Some(p) = st.procs.get_mut(&tgid) else {
        return;
    };
    if let Some(old) = p.cpu_limit_timer.take() {
        st.timers.cancel(old);
    }
    let soft = p.rlimits[libc::RLIMIT_CPU as usize].0;
    if soft == u64::MAX {
        return;
    }
    let clock = Clock::Cpu {
        tgid,
        user_only: false,
    };
    let id = st.timers.create(Target::CpuLimit { tgid }, clock);
    let now = cpu_now(st, clock);
    let at = soft.saturating_mul(1_000_000_000);
    // A limit already passed fires at the next tick.
    let value = Duration::from_nanos(at.saturating_sub(now).max(1));
    st.timers.set(id, value, Duration::from_secs(1), now);
    if let Some(p) = st.procs.get_mut(&tgid) {
        p.cpu_limit_timer = Some(id);
    }
}

/// Linux's check_process_timers for RLIMIT_CPU: SIGKILL at the hard
/// limit; below it SIGXCPU, and the soft limit moves a second on.
fn cpu_limit_reached(st: &mut KState, tgid: i32) {
    let clock = Clock::Cpu {
        tgid,
        user_only: false,
    };
    let secs = cpu_now(st, clock) / 1_000_000_000;
    let Some(p) = st.procs.get_mut(&tgid) else {
        return;
    };
    let (soft, hard) = p.rlimits[libc::RLIMIT_CPU as usize];
    if hard != u64::MAX && secs >= hard {
        signal::send_to_process(
            st,
            tgid,
            SigInfo::user(libc::SIGKILL, signal::SI_KERNEL, 0, 0),
        );
        return;
    }
    if soft < hard {
        p.rlimits[libc::RLIMIT_CPU as usize].0 = soft + 1;
    }
    signal::send_to_process(
        st,
        tgid,
        SigInfo::user(libc::SIGXCPU, signal::SI_KERNEL, 0, 0),
    );
}

/// While O_ASYNC files exist, owed SIGIO is looked for at this period.
const SIGIO_TICK: Duration = Duration::from_millis(10);

/// CPU timers are checked at this period (a jiffy-like tick).
const CPU_TICK: Duration = Duration::from_millis(4);

pub fn start_timer_thread(k: Arc<Kernel>) {
    let _ = std::thread::Builder::new()
        .name("timers".into())
        .spawn(move || {
            let mut st = k.lock();
            loop {
                let now = Instant::now();
                let ids: Vec<u64> = st.timers.all.keys().copied().collect();
                let mut any_cpu = false;
                for id in ids {
                    let t = st.timers.all[&id].clone();
                    if let Target::Counter(c) = &t.target {
                        if c.strong_count() == 0 {
                            st.timers.all.remove(&id);
                            continue;
                        }
                    }
                    let due = match (t.deadline, t.cpu_deadline) {
                        (Some(d), _) => d <= now,
                        (_, Some(c)) => {
                            any_cpu = true;
                            cpu_now(&st, t.clock) >= c
                        }
                        _ => false,
                    };
                    if !due {
                        continue;
                    }
                    let t = st.timers.all.get_mut(&id).unwrap();
                    let before = t.overrun;
                    if t.interval.is_zero() {
                        t.deadline = None;
                        t.cpu_deadline = None;
                    } else if let Some(d) = t.deadline {
                        // Whole periods missed since `d`, by division: a
                        // 1 ns interval must not make this loop.
                        let late = now.saturating_duration_since(d).as_nanos();
                        let missed = late / t.interval.as_nanos();
                        let step = t.interval.as_nanos().saturating_mul(missed + 1);
                        let step = Duration::from_nanos(crate::num::narrow(step));
                        t.deadline = Some(super::time::later(d, step));
                        let missed = i32::try_from(missed).unwrap_or(i32::MAX);
                        t.overrun = t.overrun.saturating_add(missed);
                    } else if let Some(c) = t.cpu_deadline {
                        t.cpu_deadline =
                            Some(c.saturating_add(crate::num::narrow(t.interval.as_nanos())));
                    }
                    let (target, missed) = (t.target.clone(), t.overrun - before);
                    fire(&mut st, target, missed);
                }
                // O_ASYNC signals a lock-free wake-up owed, which no task
                // returning to its application has sent yet.
                if k.vfs.fasync.pending() {
                    super::lifecycle::send_sigio(&k, &mut st);
                }
                let ks = &mut *st;
                let tasks = &ks.tasks;
                let running = || tasks.values().filter(|t| !t.waiter.asleep()).count() as u64;
                let sample = ks.loadavg.tick(now, running);
                let mut next = st.timers.all.values().filter_map(|t| t.deadline).min();
                next = Some(next.map_or(sample, |n| n.min(sample)));
                if k.vfs.fasync.any() {
                    let tick = Instant::now() + SIGIO_TICK;
                    next = Some(next.map_or(tick, |n| n.min(tick)));
                }
                if any_cpu {
                    let tick = Instant::now() + CPU_TICK;
                    next = Some(next.map_or(tick, |n| n.min(tick)));
                }
                let wake = st.timers.wake.clone();
                wake.wait(&mut st, next);
            }
        });
}
