//! Time namespaces: offsets for CLOCK_MONOTONIC and CLOCK_BOOTTIME (and
//! their variants), set through /proc/PID/timens_offsets after
//! unshare(CLONE_NEWTIME) and before the first task enters. Clocks are
//! read through `clock_ns` (syscalls/src/time.rs), which adds them, so
//! sleeps, timers and timerfds with absolute times see the same clock.
//! A task in a namespace below the first reads its clocks with system
//! calls: its vDSO parameter page is one that sends every call there
//! (`Vdso::map_fallback`).

use super::userns::UserNs;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

static NEXT_INO: AtomicU64 = AtomicU64::new(4026537000);

/// Linux's KTIME_SEC_MAX.
const KTIME_SEC_MAX: i64 = i64::MAX / 1_000_000_000;

pub struct TimeNs {
    /// The user namespace it belongs to.
    pub owner: Arc<UserNs>,
    /// Its nsfs inode number (0: the first, the base).
    pub ino: u64,
    mono: AtomicI64,
    boot: AtomicI64,
    /// A task has entered it: the offsets are fixed.
    frozen: AtomicBool,
}

impl std::fmt::Debug for TimeNs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TimeNs(ino {})", self.ino)
    }
}

/// The sandbox's first time namespace (no offsets).
pub fn first() -> Arc<TimeNs> {
    static FIRST: OnceLock<Arc<TimeNs>> = OnceLock::new();
    FIRST
        .get_or_init(|| {
            Arc::new(TimeNs {
                owner: super::userns::init(),
                ino: 0,
                mono: AtomicI64::new(0),
                boot: AtomicI64::new(0),
                frozen: AtomicBool::new(true),
            })
        })
        .clone()
}

impl TimeNs {
    /// A new namespace owned by `owner`, with its parent's offsets (as
    /// Linux's copy_time_ns starts from the old ones).
    pub fn child(parent: &TimeNs, owner: Arc<UserNs>) -> Arc<TimeNs> {
        let (mono, boot) = parent.offsets();
        Arc::new(TimeNs {
            owner,
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            mono: AtomicI64::new(mono),
            boot: AtomicI64::new(boot),
            frozen: AtomicBool::new(false),
        })
    }

    pub fn is_first(&self) -> bool {
        self.ino == 0
    }

    /// (monotonic, boottime) offsets in ns.
    pub fn offsets(&self) -> (i64, i64) {
        (
            self.mono.load(Ordering::Relaxed),
            self.boot.load(Ordering::Relaxed),
        )
    }

    /// A task enters it: its offsets can no longer change.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::Relaxed);
    }

    /// Sets the offset of `clock` (CLOCK_MONOTONIC or CLOCK_BOOTTIME) to
    /// `off` ns, given the clock's value now in the first namespace:
    /// EACCES once a task has entered, ERANGE for an offset that would
    /// take the clock below 0 or past half of ktime's range, EINVAL for
    /// another clock.
    pub fn check_offset(&self, clock: i32, secs: i64, nsec: i64, now: i64) -> crate::KResult<i64> {
        if self.frozen.load(Ordering::Relaxed) {
            return Err(crate::Errno::EACCES);
        }
        if clock != libc::CLOCK_MONOTONIC && clock != libc::CLOCK_BOOTTIME {
            return Err(crate::Errno::EINVAL);
        }
        if !(0..1_000_000_000).contains(&nsec) {
            return Err(crate::Errno::EINVAL);
        }
        if !(-KTIME_SEC_MAX..=KTIME_SEC_MAX).contains(&secs) {
            return Err(crate::Errno::ERANGE);
        }
        let off = secs
            .checked_mul(1_000_000_000)
            .and_then(|v| v.checked_add(nsec))
            .ok_or(crate::Errno::ERANGE)?;
        let then = now.checked_add(off).ok_or(crate::Errno::ERANGE)?;
        if then < 0 || then / 1_000_000_000 > KTIME_SEC_MAX / 2 {
            return Err(crate::Errno::ERANGE);
        }
        Ok(off)
    }

    /// Applies offsets `check_offset` allowed.
    pub fn set_offset(&self, clock: i32, off: i64) {
        if clock == libc::CLOCK_MONOTONIC {
            self.mono.store(off, Ordering::Relaxed);
        } else {
            self.boot.store(off, Ordering::Relaxed);
        }
    }

    /// What /proc/PID/timens_offsets shows.
    pub fn offsets_text(&self) -> String {
        let (m, b) = self.offsets();
        let split = |v: i64| (v.div_euclid(1_000_000_000), v.rem_euclid(1_000_000_000));
        let ((ms, mn), (bs, bn)) = (split(m), split(b));
        format!(
            "{:<10} {ms:>10} {mn:>9}\n{:<10} {bs:>10} {bn:>9}\n",
            "monotonic", "boottime"
        )
    }

    /// The offset clock `id` reads with here (0 for the clocks time
    /// namespaces leave alone).
    pub fn offset_of(&self, id: i32) -> i64 {
        match id {
            libc::CLOCK_MONOTONIC | libc::CLOCK_MONOTONIC_RAW | libc::CLOCK_MONOTONIC_COARSE => {
                self.mono.load(Ordering::Relaxed)
            }
            libc::CLOCK_BOOTTIME | libc::CLOCK_BOOTTIME_ALARM => self.boot.load(Ordering::Relaxed),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_checked_and_freeze() {
        let ns = TimeNs::child(&first(), crate::kernel::userns::init());
        let now = 5_000_000_000;
        assert_eq!(
            ns.check_offset(libc::CLOCK_REALTIME, 1, 0, now),
            Err(crate::Errno::EINVAL)
        );
        assert_eq!(
            ns.check_offset(libc::CLOCK_MONOTONIC, 1, 1_000_000_000, now),
            Err(crate::Errno::EINVAL)
        );
        // Below zero.
        assert_eq!(
            ns.check_offset(libc::CLOCK_MONOTONIC, -6, 0, now),
            Err(crate::Errno::ERANGE)
        );
        let off = ns.check_offset(libc::CLOCK_BOOTTIME, -2, 500, now).unwrap();
        ns.set_offset(libc::CLOCK_BOOTTIME, off);
        assert_eq!(ns.offset_of(libc::CLOCK_BOOTTIME_ALARM), -1_999_999_500);
        assert_eq!(ns.offset_of(libc::CLOCK_REALTIME), 0);
        assert_eq!(
            ns.offsets_text(),
            "monotonic           0         0\nboottime           -2       500\n"
        );
        ns.freeze();
        assert_eq!(
            ns.check_offset(libc::CLOCK_MONOTONIC, 1, 0, now),
            Err(crate::Errno::EACCES)
        );
        // The largest offsets do not overflow the arithmetic.
        let fresh = TimeNs::child(&first(), crate::kernel::userns::init());
        assert_eq!(
            fresh.check_offset(libc::CLOCK_MONOTONIC, KTIME_SEC_MAX, 999_999_999, now),
            Err(crate::Errno::ERANGE)
        );
        assert_eq!(
            fresh.check_offset(libc::CLOCK_MONOTONIC, i64::MIN, 0, now),
            Err(crate::Errno::ERANGE)
        );
        // A child starts from its parent's offsets.
        let c = TimeNs::child(&ns, crate::kernel::userns::init());
        assert_eq!(c.offsets(), ns.offsets());
    }
}
