//! Time: the vDSO parameter page kept close to host time by slewing the
//! TSC rate, so vDSO readings and syscalls agree and never go backwards.

use super::Kernel;
use crate::loader::vdso::VvarPage;
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn host_ns(clock: libc::clockid_t) -> i64 {
    // SAFETY: clock_gettime with a valid out-pointer.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(clock, &mut ts);
        ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    }
}

/// `from + d`, saturating where Linux's ktime saturates (KTIME_MAX
/// nanoseconds of CLOCK_MONOTONIC): an application's timeout may be as long
/// as it likes without overflowing an `Instant`.
pub fn later(from: Instant, d: Duration) -> Instant {
    let now = Instant::now();
    let left = u64::try_from(i64::MAX - host_ns(libc::CLOCK_MONOTONIC)).unwrap_or(0);
    let cap = now + Duration::from_nanos(left);
    from.checked_add(d).map_or(cap, |t| t.min(cap))
}

/// `d` from now, saturating as `later`.
pub fn after(d: Duration) -> Instant {
    // Short of a century from now is far below the limit: the common
    // case reads one clock, not three.
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    let now = Instant::now();
    if d < CENTURY {
        return now + d;
    }
    later(now, d)
}

fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no memory effects; lfence orders it.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

const SHIFT: u32 = 32;

pub struct Clock {
    vvar: *mut VvarPage,
    start: (u64, i64),
}

// SAFETY: the page is only written by the clock thread under the seqlock
// protocol and read with it.
unsafe impl Send for Clock {}
// SAFETY: see Send.
unsafe impl Sync for Clock {}

impl Clock {
    pub fn new(vvar: *mut VvarPage) -> Clock {
        let (t0, h0) = (rdtsc(), host_ns(libc::CLOCK_MONOTONIC));
        // A short first calibration; the clock thread refines it.
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_micros(300) {}
        let (t1, h1) = (rdtsc(), host_ns(libc::CLOCK_MONOTONIC));
        let mult = (crate::num::wide(h1 - h0) << SHIFT) / u128::from((t1 - t0).max(1));
        let c = Clock {
            vvar,
            start: (t0, h0),
        };
        c.publish(t1, h1, crate::num::narrow(mult));
        c
    }

    fn publish(&self, tsc: u64, mono: i64, mult: u64) {
        let real_off = host_ns(libc::CLOCK_REALTIME) - host_ns(libc::CLOCK_MONOTONIC);
        // SAFETY: vvar points at the parameter page; seqlock write protocol.
        unsafe {
            let v = &mut *self.vvar;
            let seq = std::ptr::read_volatile(&v.seq);
            std::ptr::write_volatile(&mut v.seq, seq + 1);
            fence(Ordering::SeqCst);
            v.tsc_base = tsc;
            v.mono_base = mono;
            v.real_offset = real_off;
            v.mult = mult;
            v.shift = SHIFT;
            v.enabled = 1;
            fence(Ordering::SeqCst);
            std::ptr::write_volatile(&mut v.seq, seq + 2);
        }
    }

    fn read(&self) -> (i64, i64, u64) {
        loop {
            // SAFETY: seqlock read of the parameter page.
            unsafe {
                let v = &*self.vvar;
                let s1 = std::ptr::read_volatile(&v.seq);
                fence(Ordering::SeqCst);
                let d = crate::num::sbits(rdtsc().wrapping_sub(v.tsc_base));
                let d = crate::num::wide(d);
                let mono =
                    v.mono_base + crate::num::narrow_i64((d * u128::from(v.mult)) >> v.shift);
                let (off, mult) = (v.real_offset, v.mult);
                fence(Ordering::SeqCst);
                let s2 = std::ptr::read_volatile(&v.seq);
                if s1 == s2 && s1 & 1 == 0 {
                    return (mono, off, mult);
                }
            }
        }
    }

    /// CLOCK_MONOTONIC as the application sees it.
    pub fn mono_ns(&self) -> i64 {
        self.read().0
    }

    /// CLOCK_REALTIME as the application sees it.
    pub fn real_ns(&self) -> i64 {
        let (m, off, _) = self.read();
        m + off
    }

    /// Re-bases the page: keeps it continuous, steers it towards host time
    /// over the next `period`.
    fn tick(&self, period: Duration) {
        let (cur, _, old_mult) = self.read();
        let (tsc, host) = (rdtsc(), host_ns(libc::CLOCK_MONOTONIC));
        let base = (tsc - self.start.0).max(1) as u128;
        let rate = (crate::num::wide(host - self.start.1) << SHIFT) / base;
        let rate = if rate == 0 { old_mult as u128 } else { rate };
        let p = crate::num::narrow_i64(period.as_nanos());
        let (mono, mult) = if cur < host - 1_000_000 {
            (host, rate)
        } else {
            let want = crate::num::wide((host + p - cur).clamp(p / 2, p * 2));
            let ticks = (crate::num::wide(p) << SHIFT) / rate.max(1);
            (cur, (want << SHIFT) / ticks.max(1))
        };
        self.publish(tsc, mono, crate::num::narrow(mult));
    }
}

pub fn start_clock_thread(k: Arc<Kernel>) {
    let _ = std::thread::Builder::new()
        .name("clock".into())
        .spawn(move || {
            let mut period = Duration::from_millis(10);
            loop {
                std::thread::sleep(period);
                k.clock.tick(period);
                period = (period * 2).min(Duration::from_millis(500));
            }
        });
}

#[cfg(test)]
mod tests {
    use super::{after, later};
    use std::time::{Duration, Instant};

    #[test]
    fn deadlines_saturate_instead_of_overflowing() {
        let now = Instant::now();
        // Linux's limit is about 292 years of uptime; never less than 200
        // from now, whatever the host's uptime.
        let far = Duration::from_secs(200 * 365 * 86_400);
        assert!(after(Duration::MAX) > now + far);
        assert!(later(now + far, Duration::MAX) >= now + far);
    }

    #[test]
    fn ordinary_deadlines_are_exact() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert_eq!(later(now, Duration::ZERO), now);
    }
}
