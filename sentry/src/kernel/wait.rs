//! Blocking: every sleeping task waits on one condition variable tied to
//! the kernel lock, or in a host poll() that includes its wake-up eventfd.
//! Whatever may unblock someone calls `wake_all`. The timer thread and the
//! main thread have condition variables of their own, so the wake-ups of
//! every pipe write do not reach them.

use super::KState;
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::os::fd::RawFd;
use std::time::Instant;

static COND: Condvar = Condvar::new();
/// The timer thread sleeps here: arming a timer wakes it, nothing else.
static TIMER_COND: Condvar = Condvar::new();
/// The main thread sleeps here until pid 1 exits.
static INIT_COND: Condvar = Condvar::new();
static HOST_POLLERS: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

/// When a wait gives up.
pub type Deadline = Option<Instant>;

/// Wakes every blocked task so it re-checks its condition.
pub fn wake_all() {
    COND.notify_all();
    for &fd in HOST_POLLERS.lock().iter() {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes to an eventfd we own.
        unsafe {
            libc::write(fd, (&one as *const u64).cast(), 8);
        }
    }
}

/// Wakes the timer thread (a timer was armed or changed).
pub fn wake_timers() {
    TIMER_COND.notify_all();
}

/// Wakes the main thread (pid 1 exited).
pub fn wake_init_waiter() {
    INIT_COND.notify_all();
}

/// The timer thread's sleep, until `wake_timers` or `deadline`.
pub fn wait_timers(st: &mut MutexGuard<'_, KState>, deadline: Deadline) {
    match deadline {
        None => TIMER_COND.wait(st),
        Some(d) => {
            TIMER_COND.wait_until(st, d);
        }
    }
}

/// The main thread's sleep, until `wake_init_waiter`.
pub fn wait_init(st: &mut MutexGuard<'_, KState>) {
    INIT_COND.wait(st);
}

/// Sleeps until woken or `deadline`; returns false on timeout.
pub fn wait(st: &mut MutexGuard<'_, KState>, deadline: Deadline) -> bool {
    match deadline {
        None => {
            COND.wait(st);
            true
        }
        Some(d) => !COND.wait_until(st, d).timed_out(),
    }
}

/// Sleeps in a host poll() over `fds` plus `wake_fd` (an eventfd), with
/// the kernel lock released. Returns the revents of `fds` (empty on timeout
/// or wake-up).
pub fn wait_host(
    st: &mut MutexGuard<'_, KState>,
    wake_fd: RawFd,
    fds: &[(RawFd, i16)],
    deadline: Deadline,
) -> Vec<i16> {
    HOST_POLLERS.lock().push(wake_fd);
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, ev)| libc::pollfd {
            fd,
            events: ev,
            revents: 0,
        })
        .collect();
    pfds.push(libc::pollfd {
        fd: wake_fd,
        events: libc::POLLIN,
        revents: 0,
    });
    let timeout = match deadline {
        None => -1,
        Some(d) => {
            let now = Instant::now();
            if d <= now {
                0
            } else {
                (d - now).as_millis().min(i32::MAX as u128) as i32 + 1
            }
        }
    };
    MutexGuard::unlocked(st, || {
        // SAFETY: pfds is a valid array of pollfd.
        unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
    });
    HOST_POLLERS.lock().retain(|&f| f != wake_fd);
    let mut buf = 0u64;
    // SAFETY: draining our own non-blocking eventfd.
    unsafe { libc::read(wake_fd, (&mut buf as *mut u64).cast(), 8) };
    pfds.pop();
    pfds.iter().map(|p| p.revents).collect()
}
