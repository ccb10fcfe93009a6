//! How many users each page of the memory file has, kept as ranges.
//!
//! A page in use has one user unless this map says more: fork makes the
//! private pages of both processes the same pages, counted twice, and the
//! first write copies the page (or, for its last user, takes it over).
//! Ranges rather than pages, so that forking a process with a 1 GiB heap
//! adds one entry, and pages nobody shares cost nothing.

use std::collections::BTreeMap;

/// Extra users of ranges of the memory file: `start -> (end, extra)`,
/// with `extra >= 1`, ranges disjoint; absent means one user (or none,
/// for free space: the map does not know which).
#[derive(Default, Debug)]
pub struct RefMap {
    ranges: BTreeMap<u64, (u64, u32)>,
}

impl RefMap {
    /// Makes sure no range straddles `at`.
    fn split(&mut self, at: u64) {
        let hit = self
            .ranges
            .range(..at)
            .next_back()
            .filter(|(_, &(end, _))| end > at)
            .map(|(&s, &(end, x))| (s, end, x));
        if let Some((s, end, x)) = hit {
            self.ranges.insert(s, (at, x));
            self.ranges.insert(at, (end, x));
        }
    }

    /// Joins neighbouring ranges with the same count around `[s, e)`.
    fn merge(&mut self, s: u64, e: u64) {
        let from = self.ranges.range(..s).next_back().map_or(s, |(&k, _)| k);
        let keys: Vec<u64> = self.ranges.range(from..=e).map(|(&k, _)| k).collect();
        for k in keys {
            // A range removed by an earlier join is skipped.
            while let Some(&(end, x)) = self.ranges.get(&k) {
                match self.ranges.get(&end) {
                    Some(&(nend, nx)) if nx == x => {
                        self.ranges.remove(&end);
                        self.ranges.insert(k, (nend, x));
                    }
                    _ => break,
                }
            }
        }
    }

    /// The ranges within `[s, e)`, split at its ends: (start, end, extra).
    fn pieces(&mut self, s: u64, e: u64) -> Vec<(u64, u64, u32)> {
        self.split(s);
        self.split(e);
        self.ranges
            .range(s..e)
            .map(|(&k, &(end, x))| (k, end, x))
            .collect()
    }

    /// One more user for every page of `[s, e)`.
    pub fn add(&mut self, s: u64, e: u64) {
        if s >= e {
            return;
        }
        let inside = self.pieces(s, e);
        let mut pos = s;
        for (k, end, x) in inside {
            if k > pos {
                self.ranges.insert(pos, (k, 1));
            }
            self.ranges.insert(k, (end, x.saturating_add(1)));
            pos = end;
        }
        if pos < e {
            self.ranges.insert(pos, (e, 1));
        }
        self.merge(s, e);
    }

    /// One user fewer for every page of `[s, e)`; returns the ranges that
    /// had only that one user (now free), joined where adjacent.
    pub fn sub(&mut self, s: u64, e: u64) -> Vec<(u64, u64)> {
        let mut freed: Vec<(u64, u64)> = Vec::new();
        if s >= e {
            return freed;
        }
        let mut free = |a: u64, b: u64| match freed.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => freed.push((a, b)),
        };
        let inside = self.pieces(s, e);
        let mut pos = s;
        for (k, end, x) in inside {
            if k > pos {
                free(pos, k);
            }
            if x > 1 {
                self.ranges.insert(k, (end, x - 1));
            } else {
                self.ranges.remove(&k);
            }
            pos = end;
        }
        if pos < e {
            free(pos, e);
        }
        self.merge(s, e);
        freed
    }

    /// Users of the page at `off` beyond the first.
    pub fn extra(&self, off: u64) -> u32 {
        self.ranges
            .range(..=off)
            .next_back()
            .filter(|(_, &(end, _))| end > off)
            .map_or(0, |(_, &(_, x))| x)
    }

    /// The parts of `[s, e)` that have more than one user, joined where
    /// adjacent.
    pub fn shared_in(&self, s: u64, e: u64) -> Vec<(u64, u64)> {
        let from = self.ranges.range(..s).next_back().map_or(s, |(&k, _)| k);
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (&k, &(end, _)) in self.ranges.range(from..e) {
            let (a, b) = (k.max(s), end.min(e));
            if a >= b {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 == a => last.1 = b,
                _ => out.push((a, b)),
            }
        }
        out
    }

    /// The largest part of `[lo, hi)` around `off` (which has one user)
    /// whose pages all have one user.
    pub fn sole_run(&self, off: u64, lo: u64, hi: u64) -> (u64, u64) {
        let a = self
            .ranges
            .range(..off)
            .next_back()
            .map_or(lo, |(_, &(end, _))| end.max(lo));
        let b = self
            .ranges
            .range(off..)
            .next()
            .map_or(hi, |(&k, _)| k.min(hi));
        (a, b)
    }

    #[cfg(test)]
    fn entries(&self) -> Vec<(u64, u64, u32)> {
        self.ranges.iter().map(|(&k, &(e, x))| (k, e, x)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_twice_then_release_in_pieces() {
        let mut m = RefMap::default();
        m.add(0, 100);
        assert_eq!(m.entries(), vec![(0, 100, 1)]);
        m.add(40, 60);
        assert_eq!(m.entries(), vec![(0, 40, 1), (40, 60, 2), (60, 100, 1)]);
        assert_eq!(
            (m.extra(39), m.extra(40), m.extra(59), m.extra(60)),
            (1, 2, 2, 1)
        );
        assert_eq!(m.extra(100), 0);
        // One user leaves the middle: nothing is freed, the counts join.
        assert!(m.sub(40, 60).is_empty());
        assert_eq!(m.entries(), vec![(0, 100, 1)]);
        // Release a part twice: the second time it is free.
        assert!(m.sub(10, 20).is_empty());
        assert_eq!(m.sub(10, 20), vec![(10, 20)]);
        assert_eq!(m.entries(), vec![(0, 10, 1), (20, 100, 1)]);
    }

    #[test]
    fn release_across_shared_and_sole_pages() {
        let mut m = RefMap::default();
        m.add(20, 30);
        m.add(50, 60);
        // [0,20) sole, [20,30) shared, [30,50) sole, [50,60) shared, [60,80) sole.
        assert_eq!(m.sub(0, 80), vec![(0, 20), (30, 50), (60, 80)]);
        assert!(m.entries().is_empty());
    }

    #[test]
    fn shared_runs_and_sole_runs() {
        let mut m = RefMap::default();
        m.add(20, 30);
        m.add(30, 40);
        m.add(30, 35);
        assert_eq!(m.shared_in(0, 100), vec![(20, 40)]);
        assert_eq!(m.shared_in(25, 33), vec![(25, 33)]);
        assert!(m.shared_in(40, 50).is_empty());
        assert_eq!(m.sole_run(10, 0, 100), (0, 20));
        assert_eq!(m.sole_run(45, 0, 100), (40, 100));
        assert_eq!(m.sole_run(45, 42, 90), (42, 90));
    }

    #[test]
    fn empty_ranges_change_nothing() {
        let mut m = RefMap::default();
        m.add(5, 5);
        assert!(m.sub(7, 7).is_empty());
        assert!(m.entries().is_empty());
    }
}
