//! The sandbox's cgroup v2 hierarchy: the tree of cgroups, which
//! controllers each one has, and the rules for making, removing and
//! populating them (cgroup-v2.rst). Its root is the container's own
//! cgroup as a cgroup namespace shows it: a non-root cgroup whose cpu,
//! memory and pids limits the host enforces on the whole sandbox. Below
//! it, only the pids controller can be enabled; it is enforced by clone.
//! Membership is `Process::cgroup`; the tree never holds pids.

use crate::errno::{Errno, KResult};
use std::collections::BTreeMap;

/// The namespace root's id.
pub const ROOT: u64 = 0;

/// Controllers as bits, in the order Linux lists them.
pub mod ctl {
    pub const CPU: u8 = 1;
    pub const MEMORY: u8 = 2;
    pub const PIDS: u8 = 4;
    pub const NAMES: [(u8, &str); 3] = [(CPU, "cpu"), (MEMORY, "memory"), (PIDS, "pids")];
    /// What a cgroup below the root may have: limits the sentry enforces.
    pub const DELEGABLE: u8 = PIDS;
}

/// Space-separated controller names of `mask`, newline-terminated (an
/// empty mask is an empty file).
pub fn names(mask: u8) -> String {
    let v: Vec<&str> = ctl::NAMES
        .iter()
        .filter(|(b, _)| mask & b != 0)
        .map(|&(_, n)| n)
        .collect();
    if v.is_empty() {
        return String::new();
    }
    format!("{}\n", v.join(" "))
}

/// "max" or a number, as the limit files take them; `negative` is the
/// error for a negative number (cgroup.max.* say ERANGE, pids.max
/// EINVAL).
pub fn parse_max(s: &[u8], negative: Errno) -> KResult<Option<u64>> {
    let s = std::str::from_utf8(s).map_err(|_| Errno::EINVAL)?.trim();
    if s == "max" {
        return Ok(None);
    }
    let n = s.parse::<i64>().map_err(|_| Errno::EINVAL)?;
    u64::try_from(n).map(Some).map_err(|_| negative)
}

/// A limit as the files show it.
pub fn show_max(v: Option<u64>) -> String {
    v.map_or_else(|| "max\n".to_string(), |n| format!("{n}\n"))
}

#[derive(Clone, Debug)]
pub struct Node {
    pub parent: Option<u64>,
    pub name: Vec<u8>,
    pub children: BTreeMap<Vec<u8>, u64>,
    /// Controllers enabled for the children (cgroup.subtree_control).
    pub subtree_control: u8,
    pub max_depth: Option<u64>,
    pub max_descendants: Option<u64>,
    /// pids.max (below the root; the root's is the sandbox's task limit).
    pub pids_max: Option<u64>,
    /// Forks refused by this cgroup's pids.max (pids.events "max").
    pub pids_refused: u64,
    /// CPU time (user, system) in ns of processes reaped while in it.
    pub dead_cpu: (u64, u64),
    /// When it was made (its directory's times).
    pub born: (i64, i64),
}

impl Node {
    fn new(parent: Option<u64>, name: &[u8]) -> Node {
        Node {
            parent,
            name: name.to_vec(),
            children: BTreeMap::new(),
            subtree_control: 0,
            max_depth: None,
            max_descendants: None,
            pids_max: None,
            pids_refused: 0,
            dead_cpu: (0, 0),
            born: {
                let ns = crate::kernel::time::host_ns(libc::CLOCK_REALTIME);
                (ns / 1_000_000_000, ns % 1_000_000_000)
            },
        }
    }
}

pub struct Tree {
    nodes: BTreeMap<u64, Node>,
    next: u64,
}

impl Default for Tree {
    fn default() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(ROOT, Node::new(None, b""));
        Tree {
            nodes,
            next: ROOT + 1,
        }
    }
}

impl Tree {
    pub fn get(&self, id: u64) -> Option<&Node> {
        self.nodes.get(&id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Node> {
        self.nodes.get_mut(&id)
    }

    /// The cgroup at `rel` (components below the root), if there is one.
    pub fn resolve<'a>(&self, rel: impl IntoIterator<Item = &'a [u8]>) -> Option<u64> {
        let mut id = ROOT;
        for c in rel {
            id = *self.nodes.get(&id)?.children.get(c)?;
        }
        Some(id)
    }

    /// Its path from the root ("/" for the root), as /proc/PID/cgroup
    /// shows it.
    pub fn path(&self, id: u64) -> Vec<u8> {
        let mut parts = Vec::new();
        let mut at = Some(id);
        while let Some(n) = at.and_then(|i| self.nodes.get(&i)) {
            if n.parent.is_some() {
                parts.push(n.name.clone());
            }
            at = n.parent;
        }
        if parts.is_empty() {
            return b"/".to_vec();
        }
        parts.reverse();
        parts
            .iter()
            .flat_map(|p| [b"/".as_slice(), p])
            .flatten()
            .copied()
            .collect()
    }

    /// The path of `id` as a cgroup namespace rooted at `root` shows it:
    /// from that root, or with ".." up to a common ancestor for a cgroup
    /// outside it (Linux's kernfs_path_from_node).
    pub fn path_from(&self, id: u64, root: u64) -> Vec<u8> {
        let (to, from) = (self.ancestry(id), self.ancestry(root));
        // Ancestries run from the node up: compare from the top.
        let common = to
            .iter()
            .rev()
            .zip(from.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let mut out = Vec::new();
        for _ in common..from.len() {
            out.extend_from_slice(b"/..");
        }
        for &n in to.iter().rev().skip(common) {
            out.push(b'/');
            out.extend_from_slice(self.nodes.get(&n).map_or(&[][..], |n| &n.name));
        }
        if out.is_empty() {
            out.push(b'/');
        }
        out
    }

    /// Whether `id` is `anc` or lies below it.
    pub fn within(&self, id: u64, anc: u64) -> bool {
        let mut at = Some(id);
        while let Some(i) = at {
            if i == anc {
                return true;
            }
            at = self.nodes.get(&i).and_then(|n| n.parent);
        }
        false
    }

    /// `id` and its ancestors, nearest first.
    pub fn ancestry(&self, id: u64) -> Vec<u64> {
        let mut v = Vec::new();
        let mut at = Some(id);
        while let Some(i) = at.filter(|i| self.nodes.contains_key(i)) {
            v.push(i);
            at = self.nodes[&i].parent;
        }
        v
    }

    /// Cgroups below `id`.
    pub fn descendants(&self, id: u64) -> usize {
        self.nodes.get(&id).map_or(0, |n| {
            n.children.values().map(|&c| 1 + self.descendants(c)).sum()
        })
    }

    /// The controllers `id` has (cgroup.controllers): the root's are the
    /// container's; a child has what its parent enabled.
    pub fn controllers(&self, id: u64) -> u8 {
        match self.nodes.get(&id).and_then(|n| n.parent) {
            None => ctl::CPU | ctl::MEMORY | ctl::PIDS,
            Some(p) => self.nodes.get(&p).map_or(0, |p| p.subtree_control),
        }
    }

    /// mkdir: a new child `name` of `parent`. EAGAIN past an ancestor's
    /// cgroup.max.depth or cgroup.max.descendants.
    pub fn mkdir(&mut self, parent: u64, name: &[u8]) -> KResult<u64> {
        let p = self.nodes.get(&parent).ok_or(Errno::ENOENT)?;
        if p.children.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        for (depth, a) in self.ancestry(parent).into_iter().enumerate() {
            let n = &self.nodes[&a];
            if n.max_depth.is_some_and(|m| depth as u64 + 1 > m)
                || n.max_descendants
                    .is_some_and(|m| self.descendants(a) as u64 >= m)
            {
                return Err(Errno::EAGAIN);
            }
        }
        let id = self.next;
        self.next += 1;
        self.nodes.insert(id, Node::new(Some(parent), name));
        if let Some(p) = self.nodes.get_mut(&parent) {
            p.children.insert(name.to_vec(), id);
        }
        Ok(id)
    }

    /// rmdir of `id`, which has no processes: EBUSY while it has
    /// children; the root cannot go.
    pub fn rmdir(&mut self, id: u64) -> KResult<()> {
        let n = self.nodes.get(&id).ok_or(Errno::ENOENT)?;
        let Some(parent) = n.parent else {
            return Err(Errno::EBUSY);
        };
        if !n.children.is_empty() {
            return Err(Errno::EBUSY);
        }
        let n = self.nodes.remove(&id).ok_or(Errno::ENOENT)?;
        if let Some(p) = self.nodes.get_mut(&parent) {
            p.children.remove(&n.name);
        }
        Ok(())
    }

    /// A write to cgroup.subtree_control of `id` ("+pids -memory"):
    /// ENOENT for a controller it does not have, EBUSY to enable one
    /// while it has processes (the no-internal-process rule) or to
    /// disable one a child passes on, EOPNOTSUPP for a controller the
    /// sentry cannot enforce below the root.
    pub fn subtree_control(&mut self, id: u64, text: &[u8], populated: bool) -> KResult<()> {
        let text = std::str::from_utf8(text).map_err(|_| Errno::EINVAL)?;
        let (mut on, mut off) = (0u8, 0u8);
        for tok in text.split_whitespace() {
            let (add, name) = match tok.as_bytes()[0] {
                b'+' => (true, &tok[1..]),
                b'-' => (false, &tok[1..]),
                _ => return Err(Errno::EINVAL),
            };
            let bit = ctl::NAMES
                .iter()
                .find(|(_, n)| *n == name)
                .map(|&(b, _)| b)
                .ok_or(Errno::EINVAL)?;
            if add {
                on |= bit;
                off &= !bit;
            } else {
                off |= bit;
                on &= !bit;
            }
        }
        let have = self.controllers(id);
        if (on | off) & !have != 0 {
            return Err(Errno::ENOENT);
        }
        let n = self.nodes.get(&id).ok_or(Errno::ENOENT)?;
        let new_on = on & !n.subtree_control;
        if new_on & !ctl::DELEGABLE != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if new_on != 0 && populated {
            return Err(Errno::EBUSY);
        }
        let passed_on = n
            .children
            .values()
            .filter_map(|c| self.nodes.get(c))
            .fold(0u8, |m, c| m | c.subtree_control);
        if off & n.subtree_control & passed_on != 0 {
            return Err(Errno::EBUSY);
        }
        let n = self.nodes.get_mut(&id).ok_or(Errno::ENOENT)?;
        n.subtree_control = (n.subtree_control | on) & !off;
        Ok(())
    }

    /// Whether a process may join `id`: not one that passes controllers
    /// to children (EBUSY). The root is no exception: it is the
    /// container's cgroup, not the host's root.
    pub fn may_join(&self, id: u64) -> KResult<()> {
        let n = self.nodes.get(&id).ok_or(Errno::ENOENT)?;
        if n.subtree_control != 0 {
            return Err(Errno::EBUSY);
        }
        Ok(())
    }

    /// The cgroup, among `id` and its ancestors below the root, whose
    /// pids.max one more task would pass, given each one's task count.
    pub fn pids_limited(&self, id: u64, tasks_in: impl Fn(u64) -> u64) -> Option<u64> {
        self.ancestry(id).into_iter().find(|&a| {
            self.nodes[&a].parent.is_some()
                && self.controllers(a) & ctl::PIDS != 0
                && self.nodes[&a].pids_max.is_some_and(|m| tasks_in(a) >= m)
        })
    }

    /// Every cgroup id.
    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }
}

/// A cgroup namespace: the cgroup its members see as the root
/// (/proc/PID/cgroup's paths, what `mount -t cgroup2` mounts), taken as
/// the maker's cgroup at unshare or clone with CLONE_NEWCGROUP.
pub struct CgroupNs {
    pub root: u64,
    /// The user namespace it belongs to.
    pub owner: std::sync::Arc<super::userns::UserNs>,
    /// Its nsfs inode number (0: the sandbox's first, the base).
    pub ino: u64,
}

static NEXT_NS_INO: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(4026535000);

impl CgroupNs {
    /// The sandbox's first cgroup namespace, rooted at its root.
    pub fn first() -> std::sync::Arc<CgroupNs> {
        std::sync::Arc::new(CgroupNs {
            root: ROOT,
            owner: super::userns::init(),
            ino: 0,
        })
    }

    /// A new one rooted at `root`, made by a process of `owner`.
    pub fn new(
        root: u64,
        owner: std::sync::Arc<super::userns::UserNs>,
    ) -> std::sync::Arc<CgroupNs> {
        std::sync::Arc::new(CgroupNs {
            root,
            owner,
            ino: NEXT_NS_INO.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_sees_paths_from_its_root() {
        let mut t = Tree::default();
        let a = t.mkdir(ROOT, b"a").unwrap();
        let b = t.mkdir(a, b"b").unwrap();
        let c = t.mkdir(a, b"c").unwrap();
        assert_eq!(t.path_from(b, b), b"/");
        assert_eq!(t.path_from(b, ROOT), b"/a/b");
        assert_eq!(t.path_from(c, b), b"/../c");
        assert_eq!(t.path_from(ROOT, b), b"/../..");
        assert_eq!(t.path_from(b, a), b"/b");
    }

    #[test]
    fn paths_and_lookup() {
        let mut t = Tree::default();
        let a = t.mkdir(ROOT, b"a").unwrap();
        let b = t.mkdir(a, b"b").unwrap();
        assert_eq!(t.path(ROOT), b"/");
        assert_eq!(t.path(b), b"/a/b");
        assert_eq!(t.resolve([b"a".as_slice(), b"b"]), Some(b));
        assert_eq!(t.resolve([b"a".as_slice(), b"c"]), None);
        assert!(t.within(b, a) && t.within(b, ROOT) && !t.within(a, b));
        assert_eq!(t.mkdir(a, b"b"), Err(Errno::EEXIST));
        assert_eq!(t.descendants(ROOT), 2);
    }

    #[test]
    fn rmdir_rules() {
        let mut t = Tree::default();
        let a = t.mkdir(ROOT, b"a").unwrap();
        let b = t.mkdir(a, b"b").unwrap();
        assert_eq!(t.rmdir(a), Err(Errno::EBUSY));
        assert_eq!(t.rmdir(ROOT), Err(Errno::EBUSY));
        t.rmdir(b).unwrap();
        t.rmdir(a).unwrap();
        assert_eq!(t.resolve([b"a".as_slice()]), None);
        assert_eq!(t.descendants(ROOT), 0);
    }

    #[test]
    fn depth_and_descendant_limits() {
        let mut t = Tree::default();
        let a = t.mkdir(ROOT, b"a").unwrap();
        t.get_mut(a).unwrap().max_depth = Some(1);
        let b = t.mkdir(a, b"b").unwrap();
        assert_eq!(t.mkdir(b, b"c"), Err(Errno::EAGAIN));
        t.get_mut(a).unwrap().max_descendants = Some(2);
        t.mkdir(a, b"d").unwrap();
        assert_eq!(t.mkdir(a, b"e"), Err(Errno::EAGAIN));
        t.get_mut(a).unwrap().max_depth = Some(0);
        assert_eq!(t.mkdir(a, b"f"), Err(Errno::EAGAIN));
    }

    #[test]
    fn subtree_control_rules() {
        let mut t = Tree::default();
        let a = t.mkdir(ROOT, b"a").unwrap();
        assert_eq!(t.controllers(a), 0);
        assert_eq!(t.subtree_control(ROOT, b"+pids", true), Err(Errno::EBUSY));
        assert_eq!(
            t.subtree_control(ROOT, b"+bogus", false),
            Err(Errno::EINVAL)
        );
        assert_eq!(t.subtree_control(ROOT, b"pids", false), Err(Errno::EINVAL));
        assert_eq!(
            t.subtree_control(ROOT, b"+memory", false),
            Err(Errno::EOPNOTSUPP)
        );
        t.subtree_control(ROOT, b"+pids", false).unwrap();
        assert_eq!(names(t.controllers(a)), "pids\n");
        assert_eq!(names(0), "");
        assert_eq!(t.subtree_control(a, b"+cpu", false), Err(Errno::ENOENT));
        t.subtree_control(a, b"+pids", false).unwrap();
        assert_eq!(t.subtree_control(ROOT, b"-pids", false), Err(Errno::EBUSY));
        assert_eq!(t.may_join(a), Err(Errno::EBUSY));
        assert_eq!(t.may_join(ROOT), Err(Errno::EBUSY));
        t.subtree_control(a, b"-pids", false).unwrap();
        t.subtree_control(ROOT, b"-pids +pids -pids", false)
            .unwrap();
        assert_eq!(t.controllers(a), 0);
    }

    #[test]
    fn pids_limit_found_on_the_path() {
        let mut t = Tree::default();
        t.subtree_control(ROOT, b"+pids", false).unwrap();
        let a = t.mkdir(ROOT, b"a").unwrap();
        t.subtree_control(a, b"+pids", false).unwrap();
        let b = t.mkdir(a, b"b").unwrap();
        t.get_mut(a).unwrap().pids_max = Some(3);
        assert_eq!(t.pids_limited(b, |_| 2), None);
        assert_eq!(t.pids_limited(b, |c| if c == a { 3 } else { 0 }), Some(a));
        assert_eq!(parse_max(b"max\n", Errno::ERANGE), Ok(None));
        assert_eq!(parse_max(b" 12 ", Errno::ERANGE), Ok(Some(12)));
        assert_eq!(parse_max(b"-1", Errno::ERANGE), Err(Errno::ERANGE));
        assert_eq!(parse_max(b"x", Errno::ERANGE), Err(Errno::EINVAL));
        assert_eq!(show_max(None), "max\n");
    }
}
