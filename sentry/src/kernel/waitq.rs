//! Wait queues. Every object a task can block on owns a `WaitQueue`; a
//! blocked task puts its `Waiter` on exactly the queues it waits for, with
//! the events it wants, and a `notify` wakes only entries whose events
//! match. epoll interests are wakers too (they feed the epoll's ready
//! list), so readiness reaches an epoll without anyone scanning.
//!
//! The protocol that loses no wake-up: start the wait (`Waiter::arm`),
//! register on the queues, re-check the condition, then sleep. A wake-up
//! after `arm` makes the sleep return at once, whoever sends it and
//! whatever locks either side holds.
//!
//! Lock order: a queue's lock is taken after the lock of the object that
//! owns it is released (objects notify after unlocking their state), and
//! a waker runs under the queue's lock, so a waker may take only locks
//! below it: a waiter's own lock, an epoll's ready list and the queue of
//! an epoll that contains this one (nesting is bounded, see `fs::epoll`).

use parking_lot::{Condvar, Mutex};
use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

/// Readiness events: poll(2) bits (POLLIN, POLLOUT, POLLHUP, ...).
pub type Events = u32;

pub const EV_IN: Events = (libc::POLLIN | libc::POLLRDNORM) as Events;
pub const EV_OUT: Events = (libc::POLLOUT | libc::POLLWRNORM) as Events;
pub const EV_ERR: Events = libc::POLLERR as Events;
pub const EV_HUP: Events = (libc::POLLHUP | libc::POLLRDHUP) as Events;
/// Every waiter: state changes that are not readiness (a FIFO's other
/// side opened, a lock released, a child changed state).
pub const EV_ALL: Events = Events::MAX;

/// The queues a waiter for some events must be on, with the events to
/// wait for on each (most objects have one queue).
pub type Queues = smallvec::SmallVec<[(Arc<WaitQueue>, Events); 2]>;

/// Something a queue can wake.
pub trait Waker: Send + Sync {
    fn wake(&self, ev: Events);
}

/// The waiters of one object.
#[derive(Default)]
pub struct WaitQueue {
    entries: Mutex<Vec<(Arc<dyn Waker>, Events)>>,
}

fn same(a: &Arc<dyn Waker>, b: &Arc<dyn Waker>) -> bool {
    // Compare data pointers only: the same object may be seen through
    // different vtables.
    std::ptr::eq(Arc::as_ptr(a).cast::<()>(), Arc::as_ptr(b).cast::<()>())
}

impl WaitQueue {
    pub fn new() -> Arc<WaitQueue> {
        Arc::new(WaitQueue::default())
    }

    /// Puts `w` on the queue for `ev` (errors and hang-ups always wake).
    pub fn add(&self, w: Arc<dyn Waker>, ev: Events) {
        self.entries.lock().push((w, ev | EV_ERR | EV_HUP));
    }

    /// Takes one entry of `w` off the queue.
    pub fn remove(&self, w: &Arc<dyn Waker>) {
        let mut e = self.entries.lock();
        if let Some(i) = e.iter().position(|(x, _)| same(x, w)) {
            e.swap_remove(i);
        }
    }

    /// Wakes the entries that wait for any of `ev`.
    pub fn notify(&self, ev: Events) {
        let e = self.entries.lock();
        for (w, want) in e.iter() {
            if want & ev != 0 {
                w.wake(ev);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one thread sleeps on: a flag, a condition variable, and (only
/// while the thread sleeps in a host poll) an eventfd that a wake-up
/// writes, so host fds and sandbox objects can be waited on together.
#[derive(Default)]
pub struct Waiter {
    /// Set by whoever kicks the task (a signal, a stop, a kill), cleared
    /// by the task under the kernel lock before it looks at its signals:
    /// a wait without the kernel lock that sees it defers to the locked
    /// path.
    pub signalled: AtomicBool,
    woken: Mutex<bool>,
    cv: Condvar,
    in_host: AtomicBool,
    /// In a sleep now (/proc's S state rather than R).
    asleep: AtomicBool,
    /// Sleeps that blocked: the task's voluntary context switches.
    voluntary: std::sync::atomic::AtomicU64,
    host: OnceLock<OwnedFd>,
    me: OnceLock<Weak<Waiter>>,
}

impl Waker for Waiter {
    fn wake(&self, _ev: Events) {
        *self.woken.lock() = true;
        if DEFER.with(Cell::get) {
            // A task thread holds the kernel lock until it returns to the
            // application: waking the sleeper now would only have it block
            // on that lock (a second wake-up, across CPUs). The flag is
            // set, so a sleeper not yet asleep sees it; the notification
            // goes out when this thread lets go (`flush_deferred`).
            if let Some(me) = self.me.get().and_then(Weak::upgrade) {
                PENDING.with(|p| p.borrow_mut().push(me));
                return;
            }
        }
        self.notify();
    }
}

thread_local! {
    static DEFER: Cell<bool> = const { Cell::new(false) };
    static PENDING: RefCell<Vec<Arc<Waiter>>> = const { RefCell::new(Vec::new()) };
}

/// Makes wake-ups this thread sends wait for `flush_deferred` (task
/// threads, which hold the kernel lock for whole system calls).
pub fn defer_wakeups(on: bool) {
    DEFER.with(|d| d.set(on));
}

/// Sends the wake-ups this thread deferred. Called when the thread lets
/// go of the kernel lock to run the application or to exit, and before
/// it sleeps itself.
pub fn flush_deferred() {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    for w in pending {
        w.notify();
    }
}

impl Waiter {
    pub fn new() -> Arc<Waiter> {
        let w = Arc::new(Waiter::default());
        let _ = w.me.set(Arc::downgrade(&w));
        w
    }

    fn notify(&self) {
        self.cv.notify_one();
        // Pairs with `sleep_host`: either it sees `woken`, or this sees
        // `in_host` and interrupts its poll.
        if self.in_host.load(SeqCst) {
            if let Some(fd) = self.host.get() {
                // An eventfd write of 8 bytes cannot block (the counter
                // cannot reach its maximum in practice); an error loses a
                // spurious wake-up, never a wait.
                let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
            }
        }
    }

    /// Starts a wait: a wake-up from now on ends the next sleep.
    pub fn arm(&self) {
        *self.woken.lock() = false;
    }

    /// Whether a wake-up came since `arm`.
    pub fn woken(&self) -> bool {
        *self.woken.lock()
    }

    /// Whether the task is sleeping in the sentry now.
    pub fn asleep(&self) -> bool {
        self.asleep.load(SeqCst)
    }

    /// How many times the task has blocked (voluntary_ctxt_switches).
    pub fn voluntary(&self) -> u64 {
        self.voluntary.load(SeqCst)
    }

    /// Sleeps until woken or `deadline`; false on timeout.
    pub fn sleep(&self, deadline: Option<Instant>) -> bool {
        flush_deferred();
        let mut w = self.woken.lock();
        self.asleep.store(true, SeqCst);
        if !*w {
            self.voluntary.fetch_add(1, SeqCst);
        }
        let mut r = true;
        while !*w {
            match deadline {
                None => self.cv.wait(&mut w),
                Some(d) => {
                    if self.cv.wait_until(&mut w, d).timed_out() {
                        r = *w;
                        break;
                    }
                }
            }
        }
        self.asleep.store(false, SeqCst);
        r
    }

    fn host_fd(&self) -> std::io::Result<RawFd> {
        if let Some(fd) = self.host.get() {
            return Ok(fd.as_raw_fd());
        }
        use rustix::event::{eventfd, EventfdFlags};
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(self.host.get_or_init(|| fd).as_raw_fd())
    }

    /// Sleeps in a host poll over `fds` until one is ready, a wake-up, or
    /// `deadline`. Returns the fds' revents (all 0 when woken or timed
    /// out).
    pub fn sleep_host(
        &self,
        fds: &[(RawFd, i16)],
        deadline: Option<Instant>,
    ) -> std::io::Result<Vec<i16>> {
        flush_deferred();
        let wake = self.host_fd()?;
        let mut pfds: Vec<libc::pollfd> = fds
            .iter()
            .map(|&(fd, events)| libc::pollfd {
                fd,
                events,
                revents: 0,
            })
            .collect();
        pfds.push(libc::pollfd {
            fd: wake,
            events: libc::POLLIN,
            revents: 0,
        });
        self.in_host.store(true, SeqCst);
        self.asleep.store(true, SeqCst);
        if !self.woken() {
            self.voluntary.fetch_add(1, SeqCst);
            let timeout = deadline.map_or(-1, |d| {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so a sleep never ends before its deadline.
                i32::try_from(left.as_millis() + u128::from(!left.is_zero())).unwrap_or(i32::MAX)
            });
            // SAFETY: pfds is a valid array of pollfd for the call.
            unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
        }
        self.in_host.store(false, SeqCst);
        self.asleep.store(false, SeqCst);
        if let Some(fd) = self.host.get() {
            // Drain (non-blocking): the next host sleep starts clean.
            let _ = rustix::io::read(fd, &mut [0u8; 8]);
        }
        pfds.pop();
        Ok(pfds.iter().map(|p| p.revents).collect())
    }
}

/// One wait in progress: the waiter, armed, and the queues it is on;
/// dropping it takes the waiter off them.
pub struct Wait {
    waiter: Arc<Waiter>,
    on: Vec<Arc<WaitQueue>>,
}

impl Wait {
    /// Arms `waiter` for a new wait.
    pub fn start(waiter: &Arc<Waiter>) -> Wait {
        waiter.arm();
        Wait {
            waiter: waiter.clone(),
            on: Vec::new(),
        }
    }

    /// Forgets wake-ups so far, before the condition is checked again.
    pub fn rearm(&self) {
        self.waiter.arm();
    }

    /// Waits on `q` for `ev` too.
    pub fn on(&mut self, q: &Arc<WaitQueue>, ev: Events) {
        q.add(self.waiter.clone(), ev);
        self.on.push(q.clone());
    }

    pub fn waiter(&self) -> &Arc<Waiter> {
        &self.waiter
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        let me: Arc<dyn Waker> = self.waiter.clone();
        for q in self.on.drain(..) {
            q.remove(&me);
        }
    }
}

/// A condition variable paired with a mutex the caller holds: for the
/// sentry's own threads (timer, init), never for tasks.
#[derive(Default)]
pub struct Signal {
    cv: Condvar,
}

impl Signal {
    pub fn notify(&self) {
        self.cv.notify_all();
    }

    pub fn wait<T>(&self, g: &mut parking_lot::MutexGuard<'_, T>, deadline: Option<Instant>) {
        match deadline {
            None => self.cv.wait(g),
            Some(d) => {
                self.cv.wait_until(g, d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    #[derive(Default)]
    struct Count(AtomicU32);
    impl Waker for Count {
        fn wake(&self, _ev: Events) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn notify_wakes_only_matching_events() {
        let q = WaitQueue::new();
        let rd = Arc::new(Count::default());
        let wr = Arc::new(Count::default());
        q.add(rd.clone(), EV_IN);
        q.add(wr.clone(), EV_OUT);
        q.notify(EV_IN);
        assert_eq!(rd.0.load(Ordering::Relaxed), 1);
        assert_eq!(wr.0.load(Ordering::Relaxed), 0);
        q.notify(EV_OUT);
        assert_eq!(wr.0.load(Ordering::Relaxed), 1);
        // A hang-up reaches everyone.
        q.notify(EV_HUP);
        assert_eq!(rd.0.load(Ordering::Relaxed), 2);
        assert_eq!(wr.0.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn remove_takes_one_entry_off() {
        let q = WaitQueue::new();
        let a = Arc::new(Count::default());
        let b: Arc<dyn Waker> = Arc::new(Count::default());
        q.add(a.clone(), EV_IN);
        q.add(b.clone(), EV_IN);
        let a_dyn: Arc<dyn Waker> = a.clone();
        q.remove(&a_dyn);
        assert_eq!(q.len(), 1);
        q.notify(EV_IN);
        assert_eq!(a.0.load(Ordering::Relaxed), 0);
        q.remove(&b);
        assert!(q.is_empty());
    }

    #[test]
    fn wait_guard_leaves_its_queues() {
        let w = Waiter::new();
        let (q1, q2) = (WaitQueue::new(), WaitQueue::new());
        {
            let mut g = Wait::start(&w);
            g.on(&q1, EV_IN);
            g.on(&q2, EV_OUT);
            assert_eq!((q1.len(), q2.len()), (1, 1));
        }
        assert!(q1.is_empty() && q2.is_empty());
    }

    #[test]
    fn wake_after_arm_is_not_lost() {
        let w = Waiter::new();
        let q = WaitQueue::new();
        let mut g = Wait::start(&w);
        g.on(&q, EV_IN);
        // The event comes between the check and the sleep.
        q.notify(EV_IN);
        assert!(w.sleep(Some(Instant::now() + Duration::from_secs(5))));
        // Re-arming forgets it.
        w.arm();
        assert!(!w.sleep(Some(Instant::now() + Duration::from_millis(10))));
    }

    #[test]
    fn wake_from_another_thread_ends_a_sleep() {
        for _ in 0..200 {
            let w = Waiter::new();
            let q = WaitQueue::new();
            let mut g = Wait::start(&w);
            g.on(&q, EV_IN);
            let q2 = q.clone();
            let t = std::thread::spawn(move || q2.notify(EV_IN));
            assert!(w.sleep(Some(Instant::now() + Duration::from_secs(10))));
            t.join().unwrap();
        }
    }

    #[test]
    fn host_sleep_is_ended_by_a_wake_up() {
        for _ in 0..100 {
            let w = Waiter::new();
            w.arm();
            let (r, _keep) = rustix::pipe::pipe().unwrap();
            let w2 = w.clone();
            let t = std::thread::spawn(move || w2.wake(EV_IN));
            let rev = w
                .sleep_host(
                    &[(r.as_raw_fd(), libc::POLLIN)],
                    Some(Instant::now() + Duration::from_secs(10)),
                )
                .unwrap();
            t.join().unwrap();
            assert_eq!(rev, vec![0]);
            assert!(w.woken());
        }
    }

    #[test]
    fn deferred_wake_sets_the_flag_now_and_notifies_on_flush() {
        let w = Waiter::new();
        w.arm();
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            defer_wakeups(true);
            w2.wake(EV_IN);
            // Seen by a sleeper that has not gone to sleep yet ...
            assert!(w2.woken());
            std::thread::sleep(Duration::from_millis(20));
            // ... and the notification goes out here.
            flush_deferred();
        });
        assert!(w.sleep(Some(Instant::now() + Duration::from_secs(10))));
        t.join().unwrap();
    }

    #[test]
    fn a_deferring_thread_flushes_before_it_sleeps() {
        let (a, b) = (Waiter::new(), Waiter::new());
        a.arm();
        b.arm();
        let (a2, b2) = (a.clone(), b.clone());
        let t = std::thread::spawn(move || {
            defer_wakeups(true);
            a2.wake(EV_IN);
            // Sleeping sends what was deferred, or `a` would wait forever.
            assert!(b2.sleep(Some(Instant::now() + Duration::from_secs(10))));
        });
        assert!(a.sleep(Some(Instant::now() + Duration::from_secs(10))));
        b.wake(EV_IN);
        t.join().unwrap();
    }

    #[test]
    fn host_sleep_reports_a_ready_fd() {
        let w = Waiter::new();
        w.arm();
        let (r, wr) = rustix::pipe::pipe().unwrap();
        rustix::io::write(&wr, b"x").unwrap();
        let rev = w
            .sleep_host(&[(r.as_raw_fd(), libc::POLLIN)], None)
            .unwrap();
        assert_eq!(rev, vec![libc::POLLIN]);
    }
}
