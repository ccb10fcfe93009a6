//! Interval and POSIX timers, fired by one timer thread.

use super::signal::{self, InfoKind, SigInfo};
use super::wait;
use super::{wake_all, Kernel};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// ITIMER_REAL / alarm: SIGALRM to the process.
    Real { tgid: i32 },
    /// POSIX timer with SIGEV_SIGNAL (or SIGEV_THREAD_ID when `tid` is set).
    Posix {
        tgid: i32,
        tid: Option<i32>,
        signo: i32,
        value: u64,
        id: i32,
        notify: bool,
    },
}

#[derive(Clone, Debug)]
pub struct Timer {
    pub target: Target,
    pub deadline: Option<Instant>,
    pub interval: Duration,
    pub overrun: i32,
    /// Whether the last expiry's signal is still queued (overrun counting).
    pub queued: bool,
}

#[derive(Default)]
pub struct Timers {
    next: u64,
    pub all: HashMap<u64, Timer>,
}

impl Timers {
    pub fn create(&mut self, target: Target) -> u64 {
        self.next += 1;
        self.all.insert(
            self.next,
            Timer {
                target,
                deadline: None,
                interval: Duration::ZERO,
                overrun: 0,
                queued: false,
            },
        );
        self.next
    }

    pub fn cancel(&mut self, id: u64) {
        self.all.remove(&id);
    }

    /// Arms (or disarms with `value == 0`); returns the old (remaining, interval).
    pub fn set(&mut self, id: u64, value: Duration, interval: Duration) -> (Duration, Duration) {
        let Some(t) = self.all.get_mut(&id) else {
            return (Duration::ZERO, Duration::ZERO);
        };
        let old = Self::remaining(t);
        t.deadline = (!value.is_zero()).then(|| Instant::now() + value);
        t.interval = interval;
        t.overrun = 0;
        wake_all();
        old
    }

    fn remaining(t: &Timer) -> (Duration, Duration) {
        let rem = t
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()).max(Duration::from_nanos(1)))
            .unwrap_or_default();
        (rem, t.interval)
    }

    pub fn get(&self, id: u64) -> (Duration, Duration) {
        self.all.get(&id).map(Self::remaining).unwrap_or_default()
    }
}

pub fn start_timer_thread(k: Arc<Kernel>) {
    let _ = std::thread::Builder::new()
        .name("timers".into())
        .spawn(move || {
            let mut st = k.lock();
            loop {
                let now = Instant::now();
                let due: Vec<u64> = st
                    .timers
                    .all
                    .iter()
                    .filter(|(_, t)| t.deadline.is_some_and(|d| d <= now))
                    .map(|(&id, _)| id)
                    .collect();
                for id in due {
                    let t = st.timers.all.get_mut(&id).unwrap();
                    let target = t.target;
                    if t.interval.is_zero() {
                        t.deadline = None;
                    } else {
                        let mut d = t.deadline.unwrap() + t.interval;
                        while d <= now {
                            d += t.interval;
                            t.overrun += 1;
                        }
                        t.deadline = Some(d);
                    }
                    match target {
                        Target::Real { tgid } => {
                            signal::send_to_process(&mut st, tgid, SigInfo::user(libc::SIGALRM, signal::SI_KERNEL, 0, 0));
                        }
                        Target::Posix { tgid, tid, signo, value, id: tid_id, notify } => {
                            if !notify {
                                continue;
                            }
                            let info = SigInfo {
                                signo,
                                code: signal::SI_TIMER,
                                pid: tid_id,
                                status: 0,
                                value,
                                kind: InfoKind::Timer,
                                ..Default::default()
                            };
                            match tid {
                                Some(t) => signal::send_to_thread(&mut st, t, info),
                                None => signal::send_to_process(&mut st, tgid, info),
                            }
                        }
                    }
                }
                let next = st.timers.all.values().filter_map(|t| t.deadline).min();
                wait::wait(&mut st, next);
            }
        });
}
