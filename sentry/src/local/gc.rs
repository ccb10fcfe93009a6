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
//!
//! Garbage needs a cycle, and a cycle is closed by a send: each send of
//! sockets checks whether they reach back to the queue they went into
//! (`note_sent`), and a collection runs only while one may exist. A
//! collection that leaves no cycle behind clears that state again, so a
//! long chain of sockets in flight costs nothing per close.

use super::queue::Queue;
use super::{LocalFile, LocalSocket, Names};
use crate::fs::file::File;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How many sockets a send's check follows through queues before it
/// takes a cycle as possible (a collection then decides).
const PROBE: usize = 256;

fn key(f: &Arc<File>) -> usize {
    Arc::as_ptr(f) as usize
}

fn socket_of(f: &File) -> Option<&Arc<LocalSocket>> {
    f.ops.as_any().downcast_ref::<LocalFile>().map(|lf| &lf.0)
}

/// The sockets among files about to be sent, for `note_sent`.
pub fn sockets_in(rights: &[Arc<File>]) -> Vec<Arc<LocalSocket>> {
    rights
        .iter()
        .filter_map(|f| socket_of(f).cloned())
        .collect()
}

/// `sent` went into `into`: marks the graph cyclic when one of them
/// reaches `into` through queues (or the check gives up). Called with
/// no queue locked.
pub fn note_sent(names: &Names, into: &Arc<Queue>, sent: &[Arc<LocalSocket>]) {
    if !sent.is_empty() && reaches(sent, into) {
        names.mark_cyclic();
    }
}

fn reaches(from: &[Arc<LocalSocket>], to: &Arc<Queue>) -> bool {
    let mut seen: HashSet<usize> = HashSet::new();
    let mut work: Vec<Arc<LocalSocket>> = from.to_vec();
    while let Some(s) = work.pop() {
        if Arc::ptr_eq(&s.rx, to) {
            return true;
        }
        if !seen.insert(Arc::as_ptr(&s) as usize) {
            continue;
        }
        if seen.len() > PROBE || work.len() > 4 * PROBE {
            return true;
        }
        work.extend(s.rx.rights().iter().filter_map(|f| socket_of(f).cloned()));
    }
    false
}

/// Collects the unreachable cycles of the sandbox's sockets (`names`:
/// any of its namespaces); how many sockets' queues it emptied.
pub fn collect(names: &Names) -> usize {
    let mark = names.cyclic_mark();
    if mark == 0 {
        return 0;
    }
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
    // Which sockets each socket's queue holds, to see whether a cycle
    // is left once the garbage is gone.
    let points_to: HashMap<usize, Vec<usize>> = holds
        .iter()
        .map(|(s, keys)| {
            let to = keys
                .iter()
                .filter_map(|k| socket_of(&files[k].0))
                .map(|t| Arc::as_ptr(t) as usize)
                .collect();
            (*s, to)
        })
        .collect();
    // Candidates: socket files nothing but queues hold, by their socket.
    let mut cand: HashMap<usize, Arc<LocalSocket>> = HashMap::new();
    for (k, (f, queued)) in &files {
        if Arc::strong_count(f) != queued + 1 {
            continue;
        }
        if let Some(s) = socket_of(f) {
            cand.insert(*k, s.clone());
        }
    }
    if cand.is_empty() {
        if !has_cycle(&points_to, &HashSet::new()) {
            names.clear_cyclic(mark);
        }
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
    let gone: HashSet<usize> = garbage.iter().map(|s| Arc::as_ptr(s) as usize).collect();
    if !has_cycle(&points_to, &gone) {
        names.clear_cyclic(mark);
    }
    garbage.len()
}

/// Whether the graph of which socket's queue holds which socket has a
/// cycle among sockets not in `gone`. Iterative: the application picks
/// the graph's depth.
fn has_cycle(points_to: &HashMap<usize, Vec<usize>>, gone: &HashSet<usize>) -> bool {
    // 1: on the current path; 2: done.
    let mut state: HashMap<usize, u8> = HashMap::new();
    let none = Vec::new();
    for &root in points_to.keys() {
        if gone.contains(&root) || state.contains_key(&root) {
            continue;
        }
        state.insert(root, 1);
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some((node, next)) = path.last_mut() {
            let out = points_to.get(node).unwrap_or(&none);
            if let Some(&t) = out.get(*next) {
                *next += 1;
                if gone.contains(&t) {
                    continue;
                }
                match state.get(&t) {
                    Some(1) => return true,
                    Some(_) => {}
                    None => {
                        state.insert(t, 1);
                        path.push((t, 0));
                    }
                }
            } else {
                state.insert(*node, 2);
                path.pop();
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::Ancillary;

    /// Queues `f` in `into` as a send does, noting a possible cycle.
    fn queue_file(names: &Names, into: &Arc<LocalSocket>, f: &Arc<File>) {
        let anc = Ancillary {
            rights: vec![f.clone()],
            ..Default::default()
        };
        let sent = sockets_in(&anc.rights);
        into.rx
            .send_stream(b"x", Vec::new(), anc, 1 << 20)
            .expect("room");
        note_sent(names, &into.rx, &sent);
    }

    #[test]
    fn a_cycle_only_queues_reach_is_collected_and_a_reachable_one_is_not() {
        let names = Arc::new(Names::default());
        let cred = super::super::queue::Ucred::default();
        // Each end queued in the other's queue (sent over itself).
        let (a, b) = LocalSocket::pair(libc::SOCK_STREAM, &names, cred);
        let (fa, fb) = (LocalFile::file(a.clone(), 0), LocalFile::file(b.clone(), 0));
        queue_file(&names, &b, &fa);
        queue_file(&names, &a, &fb);
        // A third socket, reachable only through the cycle.
        let (c, d) = LocalSocket::pair(libc::SOCK_STREAM, &names, cred);
        let fc = LocalFile::file(c.clone(), 0);
        queue_file(&names, &b, &fc);
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
        assert_eq!(names.cyclic_mark(), 0, "no cycle is left");
    }

    #[test]
    fn a_chain_never_marks_and_a_live_cycle_stays_marked() {
        let names = Arc::new(Names::default());
        let cred = super::super::queue::Ucred::default();
        // Each pair sent inside the one before, the old ends closed: a
        // chain only queues hold, and no cycle.
        let (head, _head_peer) = LocalSocket::pair(libc::SOCK_STREAM, &names, cred);
        let mut into = head.clone();
        let mut keep = Vec::new();
        for _ in 0..300 {
            let (a, b) = LocalSocket::pair(libc::SOCK_STREAM, &names, cred);
            let (fa, fb) = (LocalFile::file(a.clone(), 0), LocalFile::file(b.clone(), 0));
            queue_file(&names, &into, &fa);
            queue_file(&names, &into, &fb);
            into = b;
            keep.push(a);
        }
        assert_eq!(names.cyclic_mark(), 0, "a chain is no cycle");
        assert_eq!(collect(&names), 0);
        // A socket sent over itself while an fd still holds it: marked,
        // nothing collected, and still marked after the collection.
        let (c, d) = LocalSocket::pair(libc::SOCK_STREAM, &names, cred);
        let fc = LocalFile::file(c.clone(), 0);
        queue_file(&names, &d, &fc);
        let fd_ = LocalFile::file(d.clone(), 0);
        queue_file(&names, &c, &fd_);
        assert_ne!(names.cyclic_mark(), 0);
        assert_eq!(collect(&names), 0);
        assert_ne!(names.cyclic_mark(), 0, "the cycle is alive, not gone");
        drop(fd_);
        drop(fc);
        assert_eq!(collect(&names), 2);
        assert_eq!(names.cyclic_mark(), 0);
    }

    #[test]
    fn a_cycle_longer_than_the_probe_is_still_found() {
        let names = Arc::new(Names::default());
        let cred = super::super::queue::Ucred::default();
        // A ring of PROBE * 2 sockets, each queued in the one before it,
        // closed by the last send.
        let ring: Vec<_> = (0..PROBE * 2)
            .map(|_| LocalSocket::pair(libc::SOCK_STREAM, &names, cred).0)
            .collect();
        let files: Vec<_> = ring.iter().map(|s| LocalFile::file(s.clone(), 0)).collect();
        for i in 1..ring.len() {
            queue_file(&names, &ring[i - 1], &files[i]);
        }
        assert_eq!(names.cyclic_mark(), 0);
        queue_file(&names, &ring[ring.len() - 1], &files[0]);
        assert_ne!(
            names.cyclic_mark(),
            0,
            "the probe gave up: a cycle is possible"
        );
        drop(files);
        assert_eq!(collect(&names), PROBE * 2);
        assert_eq!(names.cyclic_mark(), 0);
    }
}
