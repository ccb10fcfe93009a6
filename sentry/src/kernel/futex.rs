//! Futexes: wait queues keyed by address (private) or by memory-file
//! offset (shared), and robust-list cleanup on thread death. The table has
//! a lock of its own (`Kernel::futexes`), so waits and wakes need not take
//! the kernel lock.

use super::ctx::Ctx;
use super::wait::Deadline;
use super::waitq::{Waiter, Waker, EV_ALL};
use crate::errno::{Errno, KResult};
use crate::mm::{read_obj, write_obj, Mm};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[derive(Clone, Copy, Hash, PartialEq, Eq, Debug)]
pub struct Key {
    /// The address space of a private key; u64::MAX for a shared one.
    space: u64,
    /// What a shared key's offset is in: 0 for the memory file, or the
    /// (device, inode) of a mapped file, so that two files' futexes at the
    /// same offset never meet.
    obj: [u64; 2],
    addr: u64,
}

/// A waiter: its task, the bits it waits for, and how to wake it.
type Entry = (i32, u32, Arc<Waiter>);

#[derive(Default)]
pub struct Table {
    queues: HashMap<Key, Vec<Entry>>,
    /// Tasks a futex wake took off a queue, until they notice.
    woken: HashSet<i32>,
}

impl Table {
    fn enqueue(&mut self, k: Key, tid: i32, bits: u32, waiter: &Arc<Waiter>) {
        self.queues
            .entry(k)
            .or_default()
            .push((tid, bits, waiter.clone()));
    }

    /// Takes `tid` off every queue (a wait that ends without a wake).
    fn forget(&mut self, tid: i32) {
        for q in self.queues.values_mut() {
            q.retain(|e| e.0 != tid);
        }
        self.queues.retain(|_, q| !q.is_empty());
    }
}

/// The futex table and its lock.
pub type Futexes = Mutex<Table>;

pub fn key(mm: &Mm, addr: u64, private: bool) -> KResult<Key> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    // access_ok: a futex lies in user space, whether or not it is mapped.
    if addr > crate::mm::TASK_SIZE - 4 {
        return Err(Errno::EFAULT);
    }
    if !private {
        // Shared keys differ from private ones only for MAP_SHARED memory,
        // as on Linux, so a shared wake reaches private waiters.
        // Linux pins the page to key a shared futex: none that cannot be
        // read (get_user_pages fails on PROT_NONE).
        let v = mm
            .vma_at(addr)
            .filter(|v| v.prot & libc::PROT_READ != 0)
            .ok_or(Errno::EFAULT)?;
        if v.shared {
            let (obj, off) = mm.shared_key(addr).ok_or(Errno::EFAULT)?;
            return Ok(Key {
                space: u64::MAX,
                obj,
                addr: off,
            });
        }
    }
    Ok(Key {
        space: mm.id,
        obj: [0; 2],
        addr,
    })
}

/// FUTEX_WAIT(_BITSET): sleeps while `*addr == val`.
pub fn wait(
    ctx: &mut Ctx<'_, '_>,
    addr: u64,
    val: u32,
    bitset: u32,
    deadline: Deadline,
    private: bool,
) -> KResult<()> {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let k = key(&ctx.mm, addr, private)?;
    let cur: u32 = read_obj(&ctx.mm, addr)?;
    if cur != val {
        return Err(Errno::EAGAIN);
    }
    let tid = ctx.tid;
    let w = ctx.wait_start();
    let table = &ctx.k.futexes;
    table.lock().enqueue(k, tid, bitset, w.waiter());
    loop {
        w.rearm();
        if table.lock().woken.remove(&tid) {
            return Ok(());
        }
        let r = ctx.sleep(&w, deadline);
        let mut t = table.lock();
        if t.woken.remove(&tid) {
            return Ok(());
        }
        let timed_out = matches!(r, Ok(false));
        if r.is_err() || timed_out {
            t.forget(tid);
            return match r {
                Err(e) => Err(interrupted(e, deadline)),
                _ => Err(Errno::ETIMEDOUT),
            };
        }
    }
}

/// How a signal ends a wait: with a timeout, Linux's restart block makes
/// it EINTR whenever a handler runs, SA_RESTART or not (ERESTARTNOHAND
/// gives that; a restart after a stop starts the timeout afresh).
fn interrupted(e: Errno, deadline: Deadline) -> Errno {
    if e == Errno::ERESTARTSYS && deadline.is_some() {
        Errno::ERESTARTNOHAND
    } else {
        e
    }
}

/// FUTEX_WAIT(_BITSET) until `deadline`, made without the kernel lock by
/// task `tid` (its `waiter`; `signalled` is set by anyone who kicks it).
/// None, having changed nothing, when a signal may be pending: the locked
/// handler then waits. A wait a signal ends is ERESTARTSYS (with a
/// timeout, ERESTARTNOHAND), for the
/// locked signal path to restart or interrupt (as with the locked wait, a
/// relative timeout then restarts whole).
#[allow(clippy::too_many_arguments)]
pub fn wait_unlocked(
    table: &Futexes,
    mm: &Mm,
    tid: i32,
    waiter: &Arc<Waiter>,
    addr: u64,
    val: u32,
    bitset: u32,
    private: bool,
    deadline: Deadline,
) -> Option<KResult<()>> {
    use std::sync::atomic::Ordering::SeqCst;
    if bitset == 0 || waiter.signalled.load(SeqCst) {
        return None;
    }
    let k = match key(mm, addr, private) {
        Ok(k) => k,
        Err(e) => return Some(Err(e)),
    };
    let w = super::waitq::Wait::start(waiter);
    table.lock().enqueue(k, tid, bitset, waiter);
    let cur = read_obj::<u32>(mm, addr);
    // A kick after the arm is seen here or wakes the sleep below.
    let bail = if waiter.signalled.load(SeqCst) {
        None
    } else {
        match cur {
            Ok(v) if v == val => Some(Ok(())),
            Ok(_) => Some(Err(Errno::EAGAIN)),
            Err(e) => Some(Err(e)),
        }
    };
    if bail != Some(Ok(())) {
        let mut t = table.lock();
        if t.woken.remove(&tid) {
            // A wake already chose this waiter: it counts as woken.
            return Some(Ok(()));
        }
        t.forget(tid);
        return bail;
    }
    loop {
        let woke = w.waiter().sleep(deadline);
        let mut t = table.lock();
        if t.woken.remove(&tid) {
            return Some(Ok(()));
        }
        if !woke {
            t.forget(tid);
            return Some(Err(Errno::ETIMEDOUT));
        }
        if waiter.signalled.load(SeqCst) {
            t.forget(tid);
            return Some(Err(interrupted(Errno::ERESTARTSYS, deadline)));
        }
        // Woken by something else (a stale queue entry): wait on.
        drop(t);
        w.rearm();
        if table.lock().woken.remove(&tid) {
            return Some(Ok(()));
        }
        if waiter.signalled.load(SeqCst) {
            table.lock().forget(tid);
            return Some(Err(interrupted(Errno::ERESTARTSYS, deadline)));
        }
    }
}

fn wake_key(table: &mut Table, k: Key, n: u32, bitset: u32) -> u32 {
    let mut woke = 0;
    if let Some(q) = table.queues.get_mut(&k) {
        let mut i = 0;
        while i < q.len() && woke < n {
            if q[i].1 & bitset != 0 {
                let (tid, _, waiter) = q.remove(i);
                table.woken.insert(tid);
                waiter.wake(EV_ALL);
                woke += 1;
            } else {
                i += 1;
            }
        }
        if q.is_empty() {
            table.queues.remove(&k);
        }
    }
    woke
}

pub fn wake(
    table: &Futexes,
    mm: &Mm,
    addr: u64,
    n: u32,
    bitset: u32,
    private: bool,
) -> KResult<u32> {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let k = key(mm, addr, private)?;
    Ok(wake_key(&mut table.lock(), k, n, bitset))
}

/// FUTEX_(CMP_)REQUEUE.
pub fn requeue(
    ctx: &mut Ctx<'_, '_>,
    a1: u64,
    a2: u64,
    nwake: u32,
    nreq: u32,
    cmp: Option<u32>,
    private: bool,
) -> KResult<u32> {
    let k1 = key(&ctx.mm, a1, private)?;
    let k2 = key(&ctx.mm, a2, private)?;
    if let Some(v) = cmp {
        let cur: u32 = read_obj(&ctx.mm, a1)?;
        if cur != v {
            return Err(Errno::EAGAIN);
        }
    }
    Ok(requeue_keys(&mut ctx.k.futexes.lock(), k1, k2, nwake, nreq))
}

/// Wakes up to `nwake` waiters of `k1` and moves up to `nreq` of the
/// rest, in order, to the end of `k2`'s queue; returns both counts' sum.
fn requeue_keys(table: &mut Table, k1: Key, k2: Key, nwake: u32, nreq: u32) -> u32 {
    let woke = wake_key(table, k1, nwake, u32::MAX);
    let mut moved = 0;
    if let Some(mut q) = table.queues.remove(&k1) {
        let take = (nreq as usize).min(q.len());
        let rest = q.split_off(take);
        moved = crate::num::len_u32(q.len());
        table.queues.entry(k2).or_default().extend(q);
        if !rest.is_empty() {
            table.queues.insert(k1, rest);
        }
    }
    woke + moved
}

/// FUTEX_WAKE_OP.
pub fn wake_op(
    ctx: &mut Ctx<'_, '_>,
    a1: u64,
    a2: u64,
    n1: u32,
    n2: u32,
    op: u32,
    private: bool,
) -> KResult<u32> {
    let k1 = key(&ctx.mm, a1, private)?;
    let k2 = key(&ctx.mm, a2, private)?;
    let (kind, cmp) = ((op >> 28) & 0xf, (op >> 24) & 0xf);
    let mut oparg = (op >> 12) & 0xfff;
    let cmparg = op & 0xfff;
    if kind & 8 != 0 {
        oparg = 1u32.checked_shl(oparg).unwrap_or(0);
    }
    let old: u32 = read_obj(&ctx.mm, a2)?;
    let new = match kind & 7 {
        0 => oparg,
        1 => old.wrapping_add(oparg),
        2 => old | oparg,
        3 => old & !oparg,
        4 => old ^ oparg,
        _ => return Err(Errno::ENOSYS),
    };
    write_obj(&ctx.mm, a2, &new)?;
    let (o, c) = (crate::num::sbits32(old), crate::num::sbits32(cmparg));
    let hit = match cmp {
        0 => o == c,
        1 => o != c,
        2 => o < c,
        3 => o <= c,
        4 => o > c,
        5 => o >= c,
        _ => return Err(Errno::ENOSYS),
    };
    let mut table = ctx.k.futexes.lock();
    let mut woke = wake_key(&mut table, k1, n1, u32::MAX);
    if hit {
        woke += wake_key(&mut table, k2, n2, u32::MAX);
    }
    Ok(woke)
}

const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// Marks futexes held by a dying thread (`tid`: its id in its own PID
/// namespace, what the words hold) as owner-died and wakes a waiter. A
/// PI futex (an entry with bit 0 set) with a waiter in FUTEX_LOCK_PI is
/// handed to it, as Linux's exit_pi_state_list does: the word names the
/// waiter (`vtid_of` gives a waiting task's id) and keeps
/// FUTEX_OWNER_DIED, so its lock returns EOWNERDEAD.
pub fn exit_robust_list(
    table: &Futexes,
    mm: &Mm,
    tid: i32,
    head: u64,
    vtid_of: &dyn Fn(i32) -> i32,
) {
    if head == 0 {
        return;
    }
    let Ok(h) = read_obj::<[u64; 3]>(mm, head) else {
        return;
    };
    let (mut entry, offset, pending) = (h[0], crate::num::sbits(h[1]), h[2]);
    let handle = |e: u64| {
        let pi = e & 1 != 0;
        let addr = crate::num::bits(crate::num::sbits(e & !1) + offset);
        let Ok(v) = read_obj::<u32>(mm, addr) else {
            return;
        };
        if v & FUTEX_TID_MASK != crate::num::ubits32(tid) {
            return;
        }
        if pi && v & FUTEX_WAITERS != 0 && hand_over_pi(table, mm, addr, vtid_of) {
            return;
        }
        let nv = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        if write_obj(mm, addr, &nv).is_ok() && v & FUTEX_WAITERS != 0 {
            let _ = wake(table, mm, addr, 1, u32::MAX, true);
            let _ = wake(table, mm, addr, 1, u32::MAX, false);
        }
    };
    for _ in 0..2048 {
        if entry == head || entry == 0 {
            break;
        }
        let next = read_obj::<u64>(mm, entry).unwrap_or(0);
        if entry != pending {
            handle(entry);
        }
        entry = next;
    }
    if pending != 0 {
        handle(pending);
    }
}

/// Gives the PI futex at `addr` of a dead owner to its first waiter
/// (private or shared key): the word names it, with FUTEX_OWNER_DIED.
/// Whether there was one.
fn hand_over_pi(table: &Futexes, mm: &Mm, addr: u64, vtid_of: &dyn Fn(i32) -> i32) -> bool {
    let Ok(w) = word(mm, addr) else {
        return false;
    };
    let mut t = table.lock();
    for private in [true, false] {
        let Ok(k) = key(mm, addr, private) else {
            continue;
        };
        let Some(q) = t.queues.get_mut(&k).filter(|q| !q.is_empty()) else {
            continue;
        };
        let (next, _, waiter) = q.remove(0);
        let more = !q.is_empty();
        let nv = crate::num::ubits32(vtid_of(next))
            | FUTEX_OWNER_DIED
            | if more { FUTEX_WAITERS } else { 0 };
        w.store(nv, std::sync::atomic::Ordering::SeqCst);
        t.woken.insert(next);
        waiter.wake(EV_ALL);
        return true;
    }
    false
}

/// The futex word as an atomic in the sentry's view of application memory.
fn word(mm: &Mm, addr: u64) -> KResult<&std::sync::atomic::AtomicU32> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let iov = mm.iovecs(addr, 4)?;
    // SAFETY: a 4-byte aligned range inside one page of the memory file
    // (aligned words never straddle pages), valid while the kernel lock is
    // held; application threads access it atomically too.
    Ok(unsafe { &*(iov[0].iov_base as *const std::sync::atomic::AtomicU32) })
}

/// FUTEX_LOCK_PI / FUTEX_TRYLOCK_PI: takes the lock, or waits until the
/// owner hands it over in `unlock_pi`.
pub fn lock_pi(
    ctx: &mut Ctx<'_, '_>,
    addr: u64,
    deadline: Deadline,
    private: bool,
    try_only: bool,
) -> KResult<()> {
    use std::sync::atomic::Ordering::SeqCst;
    let k = key(&ctx.mm, addr, private)?;
    // The word holds thread ids as the caller's PID namespace numbers
    // them (what gettid gives).
    let tid = crate::num::ubits32(ctx.task_ref().vtid);
    loop {
        let mm = ctx.mm.clone();
        let w = word(&mm, addr)?;
        let v = w.load(SeqCst);
        let owner = v & FUTEX_TID_MASK;
        if owner == 0 {
            let queued = ctx
                .k
                .futexes
                .lock()
                .queues
                .get(&k)
                .is_some_and(|q| !q.is_empty());
            let nv = tid | (v & FUTEX_OWNER_DIED) | if queued { FUTEX_WAITERS } else { 0 };
            if w.compare_exchange(v, nv, SeqCst, SeqCst).is_ok() {
                return Ok(());
            }
            continue;
        }
        if owner == tid {
            return Err(Errno::EDEADLK);
        }
        // A word naming no task is ESRCH, before a trylock's EAGAIN.
        let owner = ctx.find_pid(crate::num::sbits32(owner));
        if !owner.is_some_and(|o| ctx.st.tasks.contains_key(&o)) {
            return Err(Errno::ESRCH);
        }
        if try_only {
            return Err(Errno::EAGAIN);
        }
        if v & FUTEX_WAITERS == 0
            && w.compare_exchange(v, v | FUTEX_WAITERS, SeqCst, SeqCst)
                .is_err()
        {
            continue;
        }
        let wait = ctx.wait_start();
        let table = ctx.k.clone();
        let table = &table.futexes;
        table.lock().enqueue(k, ctx.tid, u32::MAX, wait.waiter());
        loop {
            wait.rearm();
            if table.lock().woken.remove(&ctx.tid) {
                return Ok(());
            }
            let r = ctx.sleep(&wait, deadline);
            if table.lock().woken.remove(&ctx.tid) {
                return Ok(());
            }
            match r {
                Ok(true) => continue,
                other => {
                    let me = ctx.tid;
                    if let Some(q) = table.lock().queues.get_mut(&k) {
                        q.retain(|e| e.0 != me);
                    }
                    return Err(match other {
                        Err(_) => Errno::ERESTARTNOINTR,
                        _ => Errno::ETIMEDOUT,
                    });
                }
            }
        }
    }
}

/// FUTEX_UNLOCK_PI: hands the lock to the first waiter, or frees it.
pub fn unlock_pi(ctx: &mut Ctx<'_, '_>, addr: u64, private: bool) -> KResult<()> {
    use std::sync::atomic::Ordering::SeqCst;
    let k = key(&ctx.mm, addr, private)?;
    let mm = ctx.mm.clone();
    let w = word(&mm, addr)?;
    let v = w.load(SeqCst);
    if v & FUTEX_TID_MASK != crate::num::ubits32(ctx.task_ref().vtid) {
        return Err(Errno::EPERM);
    }
    let mut table = ctx.k.futexes.lock();
    let next = table
        .queues
        .get_mut(&k)
        .and_then(|q| (!q.is_empty()).then(|| q.remove(0)));
    match next {
        Some((t, _, waiter)) => {
            let more = table.queues.get(&k).is_some_and(|q| !q.is_empty());
            let shown = ctx.st.tasks.get(&t).map_or(t, |x| x.vtid);
            w.store(
                crate::num::ubits32(shown) | if more { FUTEX_WAITERS } else { 0 },
                SeqCst,
            );
            table.woken.insert(t);
            waiter.wake(EV_ALL);
        }
        None => w.store(0, SeqCst),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(addr: u64) -> Key {
        Key {
            space: 1,
            obj: [0; 2],
            addr,
        }
    }

    fn waiting(st: &Table, key: Key) -> Vec<i32> {
        st.queues
            .get(&key)
            .map(|q| q.iter().map(|e| e.0).collect())
            .unwrap_or_default()
    }

    fn queue(st: &mut Table, key: Key, tids: &[i32], bits: u32) {
        for &t in tids {
            st.enqueue(key, t, bits, &Waiter::new());
        }
    }

    #[test]
    fn wake_takes_waiters_in_order_and_by_bitset() {
        let mut st = Table::default();
        queue(&mut st, k(8), &[1, 2], 0b01);
        queue(&mut st, k(8), &[3], 0b10);
        assert_eq!(wake_key(&mut st, k(8), 5, 0b10), 1);
        assert_eq!(waiting(&st, k(8)), vec![1, 2]);
        assert_eq!(wake_key(&mut st, k(8), 1, u32::MAX), 1);
        assert_eq!(waiting(&st, k(8)), vec![2]);
        assert!(st.woken.contains(&3) && st.woken.contains(&1));
        assert_eq!(wake_key(&mut st, k(16), 1, u32::MAX), 0);
    }

    #[test]
    fn requeue_wakes_then_moves_the_rest_in_order() {
        let mut st = Table::default();
        queue(&mut st, k(8), &[1, 2, 3, 4, 5], u32::MAX);
        queue(&mut st, k(16), &[9], u32::MAX);
        // Wake one, move two, leave two.
        assert_eq!(requeue_keys(&mut st, k(8), k(16), 1, 2), 3);
        assert_eq!(waiting(&st, k(8)), vec![4, 5]);
        assert_eq!(waiting(&st, k(16)), vec![9, 2, 3]);
        assert!(st.woken.contains(&1));
        // Moving everything leaves no empty queue behind.
        assert_eq!(requeue_keys(&mut st, k(8), k(16), 0, 10), 2);
        assert!(!st.queues.contains_key(&k(8)));
    }
}
