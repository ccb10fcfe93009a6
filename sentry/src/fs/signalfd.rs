//! signalfd: a file that is readable while the reading task has a signal
//! of its mask pending. Reads take those signals from the reading task
//! (then its process) as signalfd_siginfo records; readiness is computed
//! for the polling task.

use super::file::{File, FileOps};
use super::vfs::Caller;
use crate::errno::{Errno, KResult};
use crate::fs::Stat;
use crate::kernel::signal::{InfoKind, SigInfo};
use crate::kernel::waitq::{Events, Queues, EV_IN};
use crate::kernel::Ctx;
use crate::num::ubits32;
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct SignalFd {
    mask: AtomicU64,
}

impl SignalFd {
    pub fn new(mask: u64) -> SignalFd {
        SignalFd {
            mask: AtomicU64::new(mask),
        }
    }

    pub fn mask(&self) -> u64 {
        self.mask.load(Ordering::Relaxed)
    }

    pub fn set_mask(&self, mask: u64) {
        self.mask.store(mask, Ordering::Relaxed);
    }
}

/// Signals of `mask` pending for task `tid` (its own and its process's).
pub fn pending_in(c: &Caller, mask: u64) -> u64 {
    let (Ok(st), Ok(t)) = (c.state(), c.task()) else {
        return 0;
    };
    let shared = st.procs.get(&t.tgid).map_or(0, |p| p.shared_pending.set);
    (t.pending.set | shared) & mask
}

/// The size of one signalfd_siginfo record.
const RECORD: usize = 128;

/// One signalfd_siginfo record.
fn record(i: &SigInfo) -> [u8; RECORD] {
    let mut b = [0u8; RECORD];
    let mut put32 = |o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_ne_bytes());
    put32(0, ubits32(i.signo));
    put32(4, ubits32(i.errno));
    put32(8, ubits32(i.code));
    // ssi_int/ssi_ptr carry sigval; its low half is the int.
    let low = u32::try_from(i.value & 0xffff_ffff).unwrap_or(0);
    match i.kind {
        InfoKind::Kill | InfoKind::Queue => {
            put32(12, ubits32(i.pid));
            put32(16, i.uid);
            put32(44, low);
        }
        InfoKind::Child => {
            put32(12, ubits32(i.pid));
            put32(16, i.uid);
            put32(40, ubits32(i.status));
        }
        InfoKind::Timer => {
            put32(24, ubits32(i.pid));
            put32(32, ubits32(i.status));
            put32(44, low);
        }
        InfoKind::Poll => {
            put32(20, ubits32(i.status));
            put32(28, u32::try_from(i.value & 0xffff_ffff).unwrap_or(0));
        }
        InfoKind::Fault => {}
        InfoKind::Sys => {
            put32(84, ubits32(i.pid));
            put32(96, ubits32(i.status));
        }
    }
    match i.kind {
        InfoKind::Kill | InfoKind::Queue | InfoKind::Timer => {
            b[48..56].copy_from_slice(&i.value.to_ne_bytes());
        }
        InfoKind::Child => {
            b[56..64].copy_from_slice(&i.value.to_ne_bytes());
            b[64..72].copy_from_slice(&i.stime.to_ne_bytes());
        }
        InfoKind::Fault => b[72..80].copy_from_slice(&i.value.to_ne_bytes()),
        InfoKind::Sys => b[88..96].copy_from_slice(&i.value.to_ne_bytes()),
        InfoKind::Poll => {}
    }
    b
}

/// Takes one pending signal of `mask`: the thread's own first.
fn take(cx: &mut Ctx<'_, '_>, mask: u64) -> Option<SigInfo> {
    let (tid, tgid) = (cx.tid, cx.tgid());
    crate::kernel::signal::dequeue(&mut cx.st, tid, tgid, !mask)
}

impl FileOps for SignalFd {
    fn has_fasync(&self) -> bool {
        false
    }
    fn read_by(
        &self,
        cx: &mut Ctx<'_, '_>,
        f: &File,
        room: usize,
        nowait: bool,
    ) -> Option<KResult<Vec<u8>>> {
        if room < RECORD {
            return Some(Err(Errno::EINVAL));
        }
        let mut out = Vec::new();
        loop {
            while out.len() + RECORD <= room {
                match take(cx, self.mask()) {
                    Some(i) => out.extend_from_slice(&record(&i)),
                    None => break,
                }
            }
            if !out.is_empty() {
                return Some(Ok(out));
            }
            if nowait || f.nonblocking() {
                return Some(Err(Errno::EAGAIN));
            }
            let q = cx.proc_ref().signal_wq.clone();
            let mut w = cx.wait_start();
            w.on(&q, EV_IN);
            // Nothing was pending just above, under the kernel lock that
            // every sender holds, so no signal can slip in before the queue.
            if let Err(e) = cx.sleep(&w, None) {
                return Some(Err(e));
            }
        }
    }
    fn stat(&self) -> crate::errno::KResult<Stat> {
        Ok(super::synth::anon_stat())
    }
    fn poll(&self, _events: i16) -> i16 {
        // Without a task there is nothing pending to see.
        0
    }
    fn poll_for(&self, c: &Caller, events: i16) -> i16 {
        if pending_in(c, self.mask()) != 0 {
            events & libc::POLLIN
        } else {
            0
        }
    }
    fn wait_queues(&self, c: &Caller, ev: Events) -> Queues {
        // The poller's process: its signals are what this file shows.
        c.process()
            .map(|p| Queues::from_iter([(p.signal_wq.clone(), ev)]))
            .unwrap_or_default()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
