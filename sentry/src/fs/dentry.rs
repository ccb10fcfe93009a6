//! Dentries: the identity of a name in a filesystem's tree.
//!
//! Filesystems are addressed by canonical paths, but open files, working
//! directories and roots must follow their object through renames and
//! know when it was removed. Each filesystem (shared by all its mounts)
//! has a `Dcache`: a tree of the dentries something still refers to, each
//! with a strong link to its parent and a name. `rename` moves a dentry,
//! `unlink`/`rmdir` kill it, and a dentry's path is read off its chain of
//! parents, so it is always where the object is now.
//!
//! Only referenced dentries exist: children are held weakly and a parent
//! strongly, so a dentry lives exactly as long as something below it does.
//! Dead weak entries are swept lazily, never from `Drop` (which can run
//! with the tree locked).

use crate::fs::Stat;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

pub struct Dentry {
    /// Written only with the owning `Dcache`'s lock held.
    node: Mutex<Node>,
}

struct Node {
    parent: Option<Arc<Dentry>>,
    name: Vec<u8>,
    children: HashMap<Vec<u8>, Weak<Dentry>>,
    /// Children count after the last sweep of dead entries.
    swept_at: usize,
    /// Set by unlink/rmdir/rename-over: what stat(2) of the removed object
    /// by this dentry says (st_nlink 0), when it was known.
    dead: Option<Option<Stat>>,
}

impl Dentry {
    fn new(parent: Option<Arc<Dentry>>, name: &[u8]) -> Arc<Dentry> {
        Arc::new(Dentry {
            node: Mutex::new(Node {
                parent,
                name: name.to_vec(),
                children: HashMap::new(),
                swept_at: 0,
                dead: None,
            }),
        })
    }

    /// Whether the name was removed (unlinked, or renamed over).
    pub fn is_dead(&self) -> bool {
        self.node.lock().dead.is_some()
    }

    /// stat of a removed object, when it was known at removal.
    pub fn dead_stat(&self) -> Option<Stat> {
        self.node.lock().dead.flatten()
    }
}

impl Drop for Dentry {
    fn drop(&mut self) {
        // Release the chain of parents iteratively: a chain is as deep as
        // the application made its directories.
        let mut next = self.node.get_mut().parent.take();
        while let Some(p) = next {
            match Arc::try_unwrap(p) {
                Ok(mut d) => next = d.node.get_mut().parent.take(),
                Err(_) => break,
            }
        }
    }
}

impl std::fmt::Debug for Dentry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.node.lock();
        write!(f, "Dentry({:?})", String::from_utf8_lossy(&n.name))
    }
}

/// One filesystem's dentry tree.
pub struct Dcache {
    /// Serialises changes to the tree's shape and reads of whole paths.
    tree: Mutex<()>,
    root: Arc<Dentry>,
}

impl Default for Dcache {
    fn default() -> Self {
        Dcache {
            tree: Mutex::new(()),
            root: Dentry::new(None, b""),
        }
    }
}

fn components(rel: &[u8]) -> impl Iterator<Item = &[u8]> {
    rel.split(|&c| c == b'/').filter(|c| !c.is_empty())
}

impl Dcache {
    pub fn new() -> Arc<Dcache> {
        Arc::new(Dcache::default())
    }

    /// The live child `name` of `d`, if cached. Tree lock held.
    fn child(d: &Dentry, name: &[u8]) -> Option<Arc<Dentry>> {
        d.node.lock().children.get(name).and_then(Weak::upgrade)
    }

    /// Adds `child` under `name` of `d`, sweeping dead entries when the
    /// map has doubled since the last sweep. Tree lock held.
    fn attach(d: &Dentry, name: &[u8], child: &Arc<Dentry>) {
        let mut n = d.node.lock();
        n.children.insert(name.to_vec(), Arc::downgrade(child));
        if n.children.len() >= 2 * n.swept_at.max(8) {
            n.children.retain(|_, w| w.strong_count() > 0);
            n.swept_at = n.children.len();
        }
    }

    /// The cached dentry of canonical `rel`, if any. Tree lock held.
    fn find(&self, rel: &[u8]) -> Option<Arc<Dentry>> {
        let mut d = self.root.clone();
        for c in components(rel) {
            d = Self::child(&d, c)?;
        }
        Some(d)
    }

    /// The dentry of canonical `rel` (a path that exists now), made with
    /// its ancestors where they are not cached.
    pub fn get(&self, rel: &[u8]) -> Arc<Dentry> {
        let _g = self.tree.lock();
        let mut d = self.root.clone();
        for c in components(rel) {
            d = match Self::child(&d, c) {
                Some(x) => x,
                None => {
                    let x = Dentry::new(Some(d.clone()), c);
                    Self::attach(&d, c, &x);
                    x
                }
            };
        }
        d
    }

    /// A dentry that was never linked: `name` under the directory at
    /// canonical `dir`, dead from the start (an O_TMPFILE file's, which
    /// /proc shows as "dir/#ino (deleted)").
    pub fn orphan(&self, dir: &[u8], name: &[u8]) -> Arc<Dentry> {
        let parent = self.get(dir);
        let d = Dentry::new(Some(parent), name);
        d.node.lock().dead = Some(None);
        d
    }

    /// `d`'s path inside the filesystem ("" for its root), and whether it
    /// is still linked (it and every ancestor alive, and it reaches root).
    pub fn rel_path(&self, d: &Arc<Dentry>) -> (Vec<u8>, bool) {
        let _g = self.tree.lock();
        let mut names = Vec::new();
        let mut live = true;
        let mut cur = d.clone();
        loop {
            let parent = {
                let n = cur.node.lock();
                live &= n.dead.is_none();
                if n.parent.is_some() {
                    names.push(n.name.clone());
                }
                n.parent.clone()
            };
            match parent {
                Some(p) => cur = p,
                None => break,
            }
        }
        live &= Arc::ptr_eq(&cur, &self.root);
        names.reverse();
        (names.join(&b'/'), live)
    }

    /// unlink/rmdir of `rel` succeeded: its dentry (if cached) dies, and a
    /// later lookup of the name makes a new one. `stat` is what the dead
    /// object's stat says from now on (st_nlink set to 0 here).
    pub fn removed(&self, rel: &[u8], stat: Option<Stat>) {
        let _g = self.tree.lock();
        let Some(d) = self.find(rel) else { return };
        Self::kill(&d, stat);
    }

    fn kill(d: &Arc<Dentry>, stat: Option<Stat>) {
        let mut n = d.node.lock();
        let stat = stat.map(|mut s| {
            s.nlink = 0;
            s
        });
        n.dead = Some(stat);
        drop(n);
        Self::detach_from_parent(d);
    }

    /// rename(`old`, `new`) succeeded: the dentry of `old` moves to `new`;
    /// the one it replaced dies (`new_stat`: its stat), or with `exchange`
    /// moves to `old`.
    pub fn renamed(&self, old: &[u8], new: &[u8], exchange: bool, new_stat: Option<Stat>) {
        let _g = self.tree.lock();
        let src = self.find(old);
        let dst = self.find(new);
        match (&dst, exchange) {
            (Some(d), false) => Self::kill(d, new_stat),
            (Some(d), true) => Self::detach_from_parent(d),
            _ => {}
        }
        if let Some(s) = &src {
            Self::detach_from_parent(s);
        }
        if let Some(s) = src {
            self.place(&s, new);
        }
        if let (Some(d), true) = (dst, exchange) {
            self.place(&d, old);
        }
    }

    fn detach_from_parent(d: &Arc<Dentry>) {
        let (parent, name) = {
            let n = d.node.lock();
            (n.parent.clone(), n.name.clone())
        };
        if let Some(p) = parent {
            let mut pn = p.node.lock();
            if pn
                .children
                .get(&name)
                .is_some_and(|w| w.as_ptr() == Arc::as_ptr(d))
            {
                pn.children.remove(&name);
            }
        }
    }

    /// Hangs `d` at canonical `rel` (its parent made where not cached).
    /// Tree lock held.
    fn place(&self, d: &Arc<Dentry>, rel: &[u8]) {
        let mut parent = self.root.clone();
        let comps: Vec<&[u8]> = components(rel).collect();
        let Some((last, dirs)) = comps.split_last() else {
            return;
        };
        for c in dirs {
            parent = match Self::child(&parent, c) {
                Some(x) => x,
                None => {
                    let x = Dentry::new(Some(parent.clone()), c);
                    Self::attach(&parent, c, &x);
                    x
                }
            };
        }
        {
            let mut n = d.node.lock();
            n.parent = Some(parent.clone());
            n.name = last.to_vec();
        }
        Self::attach(&parent, last, d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(c: &Dcache, d: &Arc<Dentry>) -> (String, bool) {
        let (p, live) = c.rel_path(d);
        (String::from_utf8(p).unwrap(), live)
    }

    #[test]
    fn same_name_same_dentry() {
        let c = Dcache::default();
        let a = c.get(b"a/b/c");
        let b = c.get(b"a/b/c");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(path(&c, &a), ("a/b/c".into(), true));
        assert_eq!(path(&c, &c.get(b"")), (String::new(), true));
    }

    #[test]
    fn rename_of_an_ancestor_moves_descendants() {
        let c = Dcache::default();
        let f = c.get(b"d1/in/f");
        let d = c.get(b"d1");
        c.renamed(b"d1", b"x/d2", false, None);
        assert_eq!(path(&c, &f), ("x/d2/in/f".into(), true));
        assert_eq!(path(&c, &d), ("x/d2".into(), true));
        // A new d1 is a new dentry; the old one is still d2.
        let d1 = c.get(b"d1");
        assert!(!Arc::ptr_eq(&d1, &d));
        assert!(Arc::ptr_eq(&c.get(b"x/d2/in/f"), &f));
    }

    #[test]
    fn removal_kills_and_forgets() {
        let c = Dcache::default();
        let f = c.get(b"dir/f");
        let st = Stat {
            nlink: 1,
            ..Default::default()
        };
        c.removed(b"dir/f", Some(st));
        assert!(f.is_dead());
        assert_eq!(f.dead_stat().map(|s| s.nlink), Some(0));
        assert_eq!(path(&c, &f), ("dir/f".into(), false));
        let again = c.get(b"dir/f");
        assert!(!again.is_dead() && !Arc::ptr_eq(&again, &f));
        // Removing an uncached name is a no-op.
        c.removed(b"nothing/here", None);
    }

    #[test]
    fn rename_over_kills_target_and_exchange_swaps() {
        let c = Dcache::default();
        let a = c.get(b"a");
        let b = c.get(b"b");
        c.renamed(b"a", b"b", true, None);
        assert_eq!(path(&c, &a), ("b".into(), true));
        assert_eq!(path(&c, &b), ("a".into(), true));
        c.renamed(b"a", b"b", false, None);
        assert_eq!(path(&c, &b), ("b".into(), true));
        assert!(a.is_dead());
        assert!(Arc::ptr_eq(&c.get(b"b"), &b));
    }

    #[test]
    fn a_dead_ancestor_makes_descendants_unlinked() {
        let c = Dcache::default();
        let f = c.get(b"d/e");
        c.removed(b"d", None);
        assert!(!f.is_dead());
        assert!(!path(&c, &f).1);
    }

    #[test]
    fn deep_chains_drop_without_recursion() {
        let c = Dcache::default();
        let mut rel = Vec::new();
        for _ in 0..200_000 {
            rel.extend_from_slice(b"d/");
        }
        rel.push(b'f');
        let leaf = c.get(&rel);
        assert_eq!(c.rel_path(&leaf).0.len(), rel.len());
        drop(leaf);
        // Everything below the root went with the leaf.
        assert!(c.find(b"d").is_none());
    }

    #[test]
    fn children_maps_are_swept() {
        let c = Dcache::default();
        for i in 0..10_000 {
            drop(c.get(format!("f{i}").as_bytes()));
        }
        let n = c.root.node.lock().children.len();
        assert!(n < 64, "{n} entries left");
    }
}
