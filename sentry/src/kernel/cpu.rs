//! CPU time accounting. Application code runs in the stub process, whose
//! CPU clock is user time; the sentry threads that serve a process's tasks
//! account its system time.

use super::KState;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

fn clock_ns(clock: libc::clockid_t) -> u64 {
    // SAFETY: clock_gettime with a valid out-pointer.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        if libc::clock_gettime(clock, &mut ts) != 0 {
            return 0;
        }
        crate::num::bits(ts.tv_sec) * 1_000_000_000 + crate::num::bits(ts.tv_nsec)
    }
}

/// CPU time of a sentry thread of this process (any thread of ours).
/// The host CPU this thread runs on (a task's sentry thread is pinned to
/// its stub's CPU, so this is the task's CPU too).
pub fn current_cpu() -> u32 {
    // SAFETY: sched_getcpu takes no arguments (glibc answers from the
    // vDSO or rseq, with no system call the sandbox's filter refuses).
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).unwrap_or(0)
}

pub fn host_thread_ns(host_tid: i32) -> u64 {
    if host_tid <= 0 {
        return 0;
    }
    clock_ns(((!host_tid) << 3) | 6)
}

/// (user, system) CPU time of process `tgid`, in ns.
pub fn process_times(st: &KState, tgid: i32) -> (u64, u64) {
    let Some(p) = st.procs.get(&tgid) else {
        return (0, 0);
    };
    let mut user = p.dead_times.0;
    let mut sys = p.dead_times.1;
    if let Some(t) = p.threads.first().and_then(|t| st.tasks.get(t)) {
        user += t.mm.space.cpu_time_ns();
    }
    for t in &p.threads {
        if let Some(t) = st.tasks.get(t) {
            sys += host_thread_ns(t.host_tid);
        }
    }
    (user, sys)
}

/// (user, system) CPU time of one thread. The host counts user time for
/// the stub as a whole: a thread's is the time its code had to run
/// (`Task::in_app_ns`), scaled down where the threads' sum is more than
/// the stub's (time the host did not give them).
pub fn thread_times(st: &KState, tid: i32) -> (u64, u64) {
    let Some(t) = st.tasks.get(&tid) else {
        return (0, 0);
    };
    let stub = t.mm.space.cpu_time_ns();
    let all: u64 = st.procs.get(&t.tgid).map_or(0, |p| {
        p.threads
            .iter()
            .filter_map(|x| st.tasks.get(x))
            .map(|x| x.in_app.ns())
            .sum()
    });
    let mine = t.in_app.ns();
    let user = if all > stub && all > 0 {
        u64::try_from(u128::from(mine) * u128::from(stub) / u128::from(all)).unwrap_or(stub)
    } else {
        mine.min(stub)
    };
    (user, host_thread_ns(t.host_tid))
}

/// The time a task's application code has had to run: the total of its
/// turns, and the start of the one going on (0: none).
#[derive(Default)]
pub struct AppTime {
    total: AtomicU64,
    since: AtomicU64,
}

impl AppTime {
    fn now() -> u64 {
        u64::try_from(super::time::host_ns(libc::CLOCK_MONOTONIC)).unwrap_or(0)
    }

    /// The application's code runs from now.
    pub fn enter(&self) {
        self.since.store(Self::now().max(1), Relaxed);
    }

    /// ... until now.
    pub fn leave(&self) {
        let since = self.since.swap(0, Relaxed);
        self.total
            .fetch_add(Self::now().saturating_sub(since), Relaxed);
    }

    /// Its time so far, the turn going on included.
    pub fn ns(&self) -> u64 {
        let since = self.since.load(Relaxed);
        let now = if since == 0 {
            0
        } else {
            Self::now().saturating_sub(since)
        };
        self.total.load(Relaxed) + now
    }
}

/// Voluntary context switches of process `tgid`: its threads' blocking
/// sleeps, the exited ones' included.
pub fn process_switches(st: &KState, tgid: i32) -> u64 {
    st.procs.get(&tgid).map_or(0, |p| {
        p.dead_switches
            + p.threads
                .iter()
                .filter_map(|t| st.tasks.get(t))
                .map(|t| t.waiter.voluntary())
                .sum::<u64>()
    })
}

/// Resident size of an address space in KiB (pages present in the
/// memory file behind its VMAs). It costs a walk of the memory file's
/// extents, about 4 us per MiB resident.
pub fn rss_kb(mm: &crate::mm::Mm) -> u64 {
    let (anon, shmem) = resident(mm, 0, u64::MAX);
    let kb = (anon + shmem) / 1024;
    *mm.rss_seen.lock() = Some((std::time::Instant::now(), kb));
    mm.hiwater_kb
        .fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
    kb
}

/// How old a measured resident size may be for getrusage's ru_maxrss and
/// the peak kept at exec and exit.
const RSS_FRESH: std::time::Duration = std::time::Duration::from_millis(200);

/// `rss_kb`, measured at most every `RSS_FRESH`: G1's collector calls
/// getrusage all the time, and a vfork child's exec or exit would
/// measure its parent's whole memory each time.
pub fn rss_kb_recent(mm: &crate::mm::Mm) -> u64 {
    if let Some((at, kb)) = *mm.rss_seen.lock() {
        if at.elapsed() < RSS_FRESH {
            return kb;
        }
    }
    rss_kb(mm)
}

/// Bytes resident in `[start, end)` of an address space: (private,
/// shared) memory-file pages. Host-file views are the host's page cache,
/// not counted.
pub fn resident(mm: &crate::mm::Mm, start: u64, end: u64) -> (u64, u64) {
    let st = mm.state.lock();
    let fd = mm.memfile.fd();
    let (mut private, mut shared) = (0u64, 0u64);
    for v in st
        .overlapping(start, end)
        .map(|(_, v)| v)
        .filter(|v| v.end > start)
    {
        let (off, into) = match &v.backing {
            crate::mm::Backing::Private { off } => (*off, &mut private),
            crate::mm::Backing::Shared { off, .. } => (*off, &mut shared),
            crate::mm::Backing::File { .. } | crate::mm::Backing::Reserved => continue,
        };
        let (a, b) = (v.start.max(start), v.end.min(end));
        let from = off + (a - v.start);
        *into += present_bytes(fd, from, from + (b - a));
    }
    (private, shared)
}

/// Bytes of the memory file with data in `[pos, end)`.
fn present_bytes(fd: std::os::fd::RawFd, mut pos: u64, end: u64) -> u64 {
    let mut bytes = 0;
    while pos < end {
        // SAFETY: lseek on the memory file.
        let d = unsafe { libc::lseek(fd, crate::num::sbits(pos), libc::SEEK_DATA) };
        if d < 0 || crate::num::bits(d) >= end {
            break;
        }
        // SAFETY: as above.
        let h = unsafe { libc::lseek(fd, d, libc::SEEK_HOLE) };
        let h = if h < 0 {
            end
        } else {
            crate::num::bits(h).min(end)
        };
        bytes += h - crate::num::bits(d);
        pos = h;
    }
    bytes
}

/// The CPU time (user, system) in ns of every process in the sandbox,
/// live or reaped.
pub fn sandbox_times(st: &KState) -> (u64, u64) {
    let (mut user, mut sys) = (0u64, 0u64);
    for p in st.procs.values() {
        let (u, s) = process_times(st, p.tgid);
        user += u;
        sys += s;
    }
    let tree = st.cgroups.lock();
    for id in tree.ids() {
        if let Some(n) = tree.get(id) {
            user += n.dead_cpu.0;
            sys += n.dead_cpu.1;
        }
    }
    (user, sys)
}

/// The load averages as Linux keeps them: every 5 s, each of the 1, 5 and
/// 15 minute averages moves towards the number of tasks running, in
/// 11-bit fixed point (FSHIFT) with Linux's decay factors.
#[derive(Default)]
pub struct LoadAvg {
    avg: [u64; 3],
    next: Option<std::time::Instant>,
}

const FSHIFT: u32 = 11;
const FIXED_1: u64 = 1 << FSHIFT;
/// 1/exp(5s/1min), 1/exp(5s/5min), 1/exp(5s/15min), in fixed point.
const EXP: [u64; 3] = [1884, 2014, 2037];
pub const LOAD_FREQ: std::time::Duration = std::time::Duration::from_secs(5);

impl LoadAvg {
    /// Takes a sample of the tasks `running` counts if one is due at
    /// `now`; when the next is due.
    pub fn tick(
        &mut self,
        now: std::time::Instant,
        running: impl FnOnce() -> u64,
    ) -> std::time::Instant {
        let next = *self.next.get_or_insert(now + LOAD_FREQ);
        if now < next {
            return next;
        }
        let active = running() * FIXED_1;
        for (a, e) in self.avg.iter_mut().zip(EXP) {
            let v = *a * e + active * (FIXED_1 - e);
            // Rounds up while rising, as Linux's calc_load.
            *a = (v + if active >= *a { FIXED_1 - 1 } else { 0 }) / FIXED_1;
        }
        let next = now + LOAD_FREQ;
        self.next = Some(next);
        next
    }

    /// "1.00 0.50 0.25": /proc/loadavg's first three fields.
    pub fn show(&self) -> String {
        let f = |a: u64| {
            let a = a + FIXED_1 / 200;
            format!(
                "{}.{:02}",
                a >> FSHIFT,
                ((a & (FIXED_1 - 1)) * 100) >> FSHIFT
            )
        };
        format!("{} {} {}", f(self.avg[0]), f(self.avg[1]), f(self.avg[2]))
    }

    /// sysinfo's loads: the averages shifted to 16 bits of fraction.
    pub fn loads(&self) -> [u64; 3] {
        self.avg.map(|a| a << (16 - FSHIFT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_rises_towards_the_running_count_and_decays() {
        let t0 = std::time::Instant::now();
        let mut l = LoadAvg::default();
        assert_eq!(l.tick(t0, || 2), t0 + LOAD_FREQ);
        assert_eq!(l.show(), "0.00 0.00 0.00");
        let mut t = t0;
        for _ in 0..120 {
            t += LOAD_FREQ;
            l.tick(t, || 2);
        }
        // Ten minutes at 2: the 1-minute average is there, the 15 is not.
        let v: Vec<f64> = l.show().split(' ').map(|x| x.parse().unwrap()).collect();
        assert!(v[0] > 1.95 && v[0] <= 2.0, "{v:?}");
        assert!(v[2] > 0.9 && v[2] < 1.9, "{v:?}");
        for _ in 0..120 {
            t += LOAD_FREQ;
            l.tick(t, || 0);
        }
        let v: Vec<f64> = l.show().split(' ').map(|x| x.parse().unwrap()).collect();
        assert!(v[0] < 0.05 && v[2] > v[0], "{v:?}");
    }
}
