//! CPU time accounting. Application code runs in the stub process, whose
//! CPU clock is user time; the sentry threads that serve a process's tasks
//! account its system time.

use super::KState;

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

/// (user, system) CPU time of one thread. User time of a thread is not
/// visible separately; threads share their process's stub time evenly.
pub fn thread_times(st: &KState, tid: i32) -> (u64, u64) {
    let Some(t) = st.tasks.get(&tid) else {
        return (0, 0);
    };
    let n = st
        .procs
        .get(&t.tgid)
        .map(|p| p.threads.len().max(1))
        .unwrap_or(1) as u64;
    (t.mm.space.cpu_time_ns() / n, host_thread_ns(t.host_tid))
}

/// Resident size of an address space in KiB (pages present in the
/// memory file behind its VMAs).
pub fn rss_kb(mm: &crate::mm::Mm) -> u64 {
    let st = mm.state.lock();
    let fd = mm.memfile.fd();
    let mut bytes = 0u64;
    for v in st.vmas.values() {
        let (start, len) = match &v.backing {
            crate::mm::Backing::Private { off } | crate::mm::Backing::Shared { off, .. } => {
                (*off, v.end - v.start)
            }
            crate::mm::Backing::File { .. } => continue,
        };
        let end = start + len;
        let mut pos = start;
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
    }
    bytes / 1024
}
