//! The garbage collector of files in flight: unix sockets that only the
//! queues of other such sockets reach (a socket sent over itself, or a
//! ring of them, and then closed) are cut loose, as Linux's unix_gc does.
//!
//! A socket file is a candidate when every reference to it is a queued
//! SCM_RIGHTS entry (no fd, no call holds it: its strong count is its
//! in-queue count). A candidate referenced from the queue of anything
//! that is not a candidate is alive, and so is everything a live
//! candidate's queue holds. The rest are garbage: their queues are
//! emptied, which drops the references that held the cycle. Counting
//! strong references errs on the side of life: a reference held for a
//! moment by a call in progress keeps a socket and what it reaches.

use super::{LocalFile, LocalSocket, Names};
use crate::fs::file::File;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

fn key(f: &Arc<File>) -> usize {
    Arc::as_ptr(f) as usize
}

/// Collects the unreachable cycles of the sandbox's sockets (`names`:
/// any of its namespaces); how many sockets' queues it emptied.
pub fn collect(names: &Names) -> usize {
    let socks: Vec<Arc<LocalSocket>> = names
        .sandbox_live()
        .into_iter()
        .filter(|s| !s.inet())
        .collect();
    // Every queued file once (held here: one more strong reference), how
    // often it is queued, and what each socket's queue holds.
    let mut files: HashMap<usize, (Arc<File>, usize)> = HashMap::new();
    let mut holds: HashMap<usize, Vec<usize>> = HashMap::new();
    for s in &socks {
        let queued = s.rx.rights();
        let mut keys = Vec::with_capacity(queued.len());
        for f in queued {
            let k = key(&f);
            files.entry(k).or_insert((f, 0)).1 += 1;
            keys.push(k);
        }
        if !keys.is_empty() {
            holds.insert(Arc::as_ptr(s) as usize, keys);
        }
    }
    // Candidates: socket files nothing but queues hold, by their socket.
    let mut cand: HashMap<usize, Arc<LocalSocket>> = HashMap::new();
    for (k, (f, queued)) in &files {
        if Arc::strong_count(f) != queued + 1 {
            continue;
        }
        if let Some(lf) = f.ops.as_any().downcast_ref::<LocalFile>() {
            cand.insert(*k, lf.0.clone());
        }
    }
    if cand.is_empty() {
        return 0;
    }
    let held_by = |s: &Arc<LocalSocket>| holds.get(&(Arc::as_ptr(s) as usize));
    // References from candidates' queues; more than that is a reference
    // from outside them.
    let mut from_cand: HashMap<usize, usize> = HashMap::new();
    for s in cand.values() {
        for k in held_by(s).into_iter().flatten() {
            *from_cand.entry(*k).or_default() += 1;
        }
    }
    let mut alive: HashSet<usize> = HashSet::new();
    let mut work: Vec<usize> = Vec::new();
    for k in cand.keys() {
        let queued = files.get(k).map_or(0, |e| e.1);
        if queued > from_cand.get(k).copied().unwrap_or(0) {
            alive.insert(*k);
            work.push(*k);
        }
    }
    while let Some(k) = work.pop() {
        for r in held_by(&cand[&k]).into_iter().flatten() {
            if cand.contains_key(r) && alive.insert(*r) {
                work.push(*r);
            }
        }
    }
    let garbage: Vec<Arc<LocalSocket>> = cand
        .iter()
        .filter(|(k, _)| !alive.contains(k))
        .map(|(_, s)| s.clone())
        .collect();
    // Let go of the counted references first: emptying the queues then
    // drops the last ones.
    drop(files);
    drop(cand);
    for s in &garbage {
        s.rx.discard();
    }
    garbage.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::Ancillary;

    fn queue_file(into: &Arc<LocalSocket>, f: &Arc<File>) {
        let anc = Ancillary {
            rights: vec![f.clone()],
            ..Default::default()
        };
        into.rx
            .send_stream(b"x", Vec::new(), anc, 1 << 20)
            .expect("room");
    }

    #[test]
    fn a_cycle_only_queues_reach_is_collected_and_a_reachable_one_is_not() {
        let names = Arc::new(Names::default());
        let cred = super::super::queue::Ucred::default();
        // Each end queued in the other's queue (sent over itself).
        let (a, b) = LocalSocket::pair(libc::SOCK_STREAM, &names, cred);
        let (fa, fb) = (LocalFile::file(a.clone(), 0), LocalFile::file(b.clone(), 0));
        queue_file(&b, &fa);
        queue_file(&a, &fb);
        // A third socket, reachable only through the cycle.
        let (c, d) = LocalSocket::pair(libc::SOCK_STREAM, &names, cred);
        let fc = LocalFile::file(c.clone(), 0);
        queue_file(&b, &fc);
        drop(fc);
        // While an fd (here: fb) holds one end, nothing is garbage.
        drop(fa);
        assert_eq!(collect(&names), 0);
        assert!(!a.rx.is_empty() && !b.rx.is_empty());
        drop(fb);
        assert_eq!(collect(&names), 3, "both ends and what they carried");
        assert!(a.rx.is_empty() && b.rx.is_empty());
        drop(c);
        // The peer of the freed socket sees its end.
        assert!(d.rx.is_empty());
        assert_eq!(
            names.in_flight.load(std::sync::atomic::Ordering::Relaxed),
            0
        );
    }
}
