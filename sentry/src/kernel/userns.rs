//! User namespaces made by the application (unshare/clone with
//! CLONE_NEWUSER), user_namespaces(7). Credentials keep the sandbox's
//! own ids (Linux's kuids); a namespace's uid and gid maps translate them
//! at every boundary where the application gives or sees an id. The
//! sandbox's first namespace is `init()`, whose maps are the identity
//! (the container's own mapping onto host ids is `fs::idmap`, below
//! this).

use crate::errno::{Errno, KResult};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// An id with no mapping reads as this (overflowuid, overflowgid).
pub const OVERFLOW: u32 = 65534;
/// Linux's nesting limit: a namespace of this level has no children.
pub const MAX_DEPTH: u32 = 33;
/// Most extents in one map.
const MAX_EXTENTS: usize = 340;

/// One extent of a map: ids `first..first+count` inside stand for
/// sandbox ids `lower..lower+count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub first: u32,
    pub lower: u32,
    pub count: u32,
}

pub struct UserNs {
    pub parent: Option<Arc<UserNs>>,
    pub level: u32,
    /// Its creator's effective ids (sandbox ids): the owner has every
    /// capability in it from the parent namespace.
    pub owner: u32,
    pub group: u32,
    uid_map: OnceLock<Vec<Extent>>,
    gid_map: OnceLock<Vec<Extent>>,
    /// /proc/PID/setgroups said "deny".
    setgroups_denied: AtomicBool,
    /// Its /proc/PID/ns/user inode number.
    pub ino: u64,
}

static NEXT_INO: AtomicU64 = AtomicU64::new(4026532000);

impl std::fmt::Debug for UserNs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserNs(level {}, ino {})", self.level, self.ino)
    }
}

/// The sandbox's first user namespace.
pub fn init() -> Arc<UserNs> {
    static INIT: OnceLock<Arc<UserNs>> = OnceLock::new();
    INIT.get_or_init(|| {
        Arc::new(UserNs {
            parent: None,
            level: 0,
            owner: 0,
            group: 0,
            uid_map: OnceLock::new(),
            gid_map: OnceLock::new(),
            setgroups_denied: AtomicBool::new(false),
            ino: 4026531837,
        })
    })
    .clone()
}

fn down(map: &[Extent], id: u32) -> Option<u32> {
    map.iter()
        .find(|e| id >= e.first && id - e.first < e.count)
        .map(|e| e.lower + (id - e.first))
}

fn up(map: &[Extent], kid: u32) -> Option<u32> {
    map.iter()
        .find(|e| kid >= e.lower && kid - e.lower < e.count)
        .map(|e| e.first + (kid - e.lower))
}

impl UserNs {
    /// A child of `parent` made by a process whose effective ids are
    /// `owner`/`group`: ENOSPC past the nesting limit (Linux since 4.9),
    /// EPERM when those ids have no mapping in `parent`.
    pub fn child(parent: &Arc<UserNs>, owner: u32, group: u32) -> KResult<Arc<UserNs>> {
        if parent.level >= MAX_DEPTH {
            return Err(Errno::ENOSPC);
        }
        if parent.uid_to_ns(owner).is_none() || parent.gid_to_ns(group).is_none() {
            return Err(Errno::EPERM);
        }
        Ok(Arc::new(UserNs {
            parent: Some(parent.clone()),
            level: parent.level + 1,
            owner,
            group,
            uid_map: OnceLock::new(),
            gid_map: OnceLock::new(),
            setgroups_denied: AtomicBool::new(parent.setgroups_denied()),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
        }))
    }

    pub fn is_init(&self) -> bool {
        self.parent.is_none()
    }

    fn map(&self, uid: bool) -> Option<&Vec<Extent>> {
        if uid {
            self.uid_map.get()
        } else {
            self.gid_map.get()
        }
    }

    /// A sandbox id as this namespace sees it (None: unmapped).
    fn seen(&self, kid: u32, uid: bool) -> Option<u32> {
        if self.is_init() {
            return Some(kid);
        }
        up(self.map(uid)?, kid)
    }

    /// An id of this namespace as a sandbox id (None: unmapped).
    fn kernel_id(&self, id: u32, uid: bool) -> Option<u32> {
        if self.is_init() {
            return Some(id);
        }
        down(self.map(uid)?, id)
    }

    pub fn uid_to_ns(&self, kuid: u32) -> Option<u32> {
        self.seen(kuid, true)
    }
    pub fn gid_to_ns(&self, kgid: u32) -> Option<u32> {
        self.seen(kgid, false)
    }
    pub fn uid_from_ns(&self, uid: u32) -> Option<u32> {
        self.kernel_id(uid, true)
    }
    pub fn gid_from_ns(&self, gid: u32) -> Option<u32> {
        self.kernel_id(gid, false)
    }
    /// As the namespace shows a sandbox uid: overflowuid if unmapped.
    pub fn uid_shown(&self, kuid: u32) -> u32 {
        self.uid_to_ns(kuid).unwrap_or(OVERFLOW)
    }
    pub fn gid_shown(&self, kgid: u32) -> u32 {
        self.gid_to_ns(kgid).unwrap_or(OVERFLOW)
    }

    pub fn setgroups_denied(&self) -> bool {
        self.setgroups_denied.load(Ordering::Relaxed)
    }

    /// setgroups(2) is allowed here: the gid map is written and
    /// /proc/PID/setgroups does not say "deny".
    pub fn may_setgroups(&self) -> bool {
        self.is_init() || (self.gid_map.get().is_some() && !self.setgroups_denied())
    }

    /// Whether `anc` is this namespace or one of its ancestors.
    pub fn within(self: &Arc<UserNs>, anc: &Arc<UserNs>) -> bool {
        let mut at = Some(self.clone());
        while let Some(n) = at {
            if Arc::ptr_eq(&n, anc) {
                return true;
            }
            at = n.parent.clone();
        }
        false
    }

    /// /proc/PID/uid_map or gid_map as a process of `reader` reads it:
    /// the lower ids in the reader's namespace, or in the parent when
    /// the reader is inside this one.
    pub fn render(self: &Arc<UserNs>, uid: bool, reader: &Arc<UserNs>) -> Vec<u8> {
        let Some(map) = self.map(uid) else {
            return Vec::new();
        };
        let view = if Arc::ptr_eq(self, reader) {
            self.parent.clone().unwrap_or_else(init)
        } else {
            reader.clone()
        };
        let mut s = String::new();
        for e in map {
            let Some(lower) = view.seen(e.lower, uid) else {
                continue;
            };
            s.push_str(&format!("{:>10} {:>10} {:>10}\n", e.first, lower, e.count));
        }
        s.into_bytes()
    }

    /// A write of /proc/PID/uid_map (`uid`) or gid_map: extents whose
    /// lower ids are in the parent namespace's terms. `privileged`: the
    /// writer has CAP_SETUID (CAP_SETGID) over the parent, so any ids
    /// mapped there may be used; otherwise the writer must own the
    /// namespace (`euid`) and map one id, its own effective one (`own`:
    /// its euid or egid, sandbox ids), for gid_map only after setgroups
    /// was denied.
    pub fn write_map(
        &self,
        uid: bool,
        text: &[u8],
        privileged: bool,
        euid: u32,
        own: u32,
    ) -> KResult<()> {
        let parent = self.parent.as_ref().ok_or(Errno::EPERM)?;
        if self.map(uid).is_some() {
            return Err(Errno::EPERM);
        }
        let text = std::str::from_utf8(text).map_err(|_| Errno::EINVAL)?;
        let mut map: Vec<Extent> = Vec::new();
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            let [a, b, c] = f[..] else {
                return Err(Errno::EINVAL);
            };
            let num = |s: &str| s.parse::<u32>().map_err(|_| Errno::EINVAL);
            let (first, lower, count) = (num(a)?, num(b)?, num(c)?);
            // Linux's checks: no -1 start, no empty or wrapping range.
            if first == u32::MAX
                || lower == u32::MAX
                || first.wrapping_add(count) <= first
                || lower.wrapping_add(count) <= lower
            {
                return Err(Errno::EINVAL);
            }
            let overlaps =
                |x: u32, y: u32, n: u32, m: u32| x < y.saturating_add(m) && y < x.saturating_add(n);
            if map.iter().any(|e| {
                overlaps(e.first, first, e.count, count) || overlaps(e.lower, lower, e.count, count)
            }) {
                return Err(Errno::EINVAL);
            }
            map.push(Extent {
                first,
                lower,
                count,
            });
            if map.len() > MAX_EXTENTS {
                return Err(Errno::EINVAL);
            }
        }
        if map.is_empty() {
            return Err(Errno::EINVAL);
        }
        // The lower ids, in sandbox terms: each extent must lie within
        // one extent of the parent's map.
        for e in map.iter_mut() {
            let lo = parent.kernel_id(e.lower, uid).ok_or(Errno::EPERM)?;
            let hi = parent
                .kernel_id(e.lower + (e.count - 1), uid)
                .ok_or(Errno::EPERM)?;
            if hi.checked_sub(lo) != Some(e.count - 1) {
                return Err(Errno::EPERM);
            }
            e.lower = lo;
        }
        if !privileged {
            let one =
                map.len() == 1 && map[0].count == 1 && map[0].lower == own && self.owner == euid;
            if !one || (!uid && !self.setgroups_denied()) {
                return Err(Errno::EPERM);
            }
        }
        let slot = if uid { &self.uid_map } else { &self.gid_map };
        slot.set(map).map_err(|_| Errno::EPERM)
    }

    /// A write of /proc/PID/setgroups: "allow" or "deny". Denying is too
    /// late once the gid map is written; allowing after a deny is never
    /// possible.
    pub fn write_setgroups(&self, text: &[u8]) -> KResult<()> {
        let deny = match std::str::from_utf8(text).map(str::trim) {
            Ok("deny") => true,
            Ok("allow") => false,
            _ => return Err(Errno::EINVAL),
        };
        if self.is_init() {
            return Err(Errno::EPERM);
        }
        if deny {
            if self.gid_map.get().is_some() && !self.setgroups_denied() {
                return Err(Errno::EPERM);
            }
            self.setgroups_denied.store(true, Ordering::Relaxed);
        } else if self.setgroups_denied() {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    pub fn setgroups_text(&self) -> &'static [u8] {
        if self.setgroups_denied() {
            b"deny\n"
        } else {
            b"allow\n"
        }
    }

    /// The sandbox uid that is root here, if root is mapped.
    pub fn root_uid(&self) -> Option<u32> {
        self.uid_from_ns(0)
    }
}

/// A credential's user namespace: compared by identity.
#[derive(Clone, Debug)]
pub struct NsRef(pub Arc<UserNs>);

impl PartialEq for NsRef {
    fn eq(&self, o: &NsRef) -> bool {
        Arc::ptr_eq(&self.0, &o.0)
    }
}
impl Eq for NsRef {}

impl Default for NsRef {
    fn default() -> Self {
        NsRef(init())
    }
}

impl std::ops::Deref for NsRef {
    type Target = Arc<UserNs>;
    fn deref(&self) -> &Arc<UserNs> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_translate_both_ways() {
        let i = init();
        let n = UserNs::child(&i, 1000, 1000).unwrap();
        assert_eq!(n.uid_to_ns(1000), None);
        assert_eq!(n.uid_shown(1000), OVERFLOW);
        n.write_map(true, b"0 1000 1\n", false, 1000, 1000).unwrap();
        assert_eq!(n.uid_to_ns(1000), Some(0));
        assert_eq!(n.uid_from_ns(0), Some(1000));
        assert_eq!(n.uid_from_ns(1), None);
        assert_eq!(n.root_uid(), Some(1000));
        assert_eq!(
            n.write_map(true, b"0 1000 1", false, 1000, 1000),
            Err(Errno::EPERM)
        );
        assert_eq!(
            String::from_utf8(n.render(true, &i)).unwrap(),
            "         0       1000          1\n"
        );
        // A grandchild maps through its parent's map.
        n.write_setgroups(b"deny").unwrap();
        n.write_map(false, b"0 1000 1", false, 1000, 1000).unwrap();
        let g = UserNs::child(&n, 1000, 1000).unwrap();
        g.write_map(true, b"5 0 1", true, 1000, 1000).unwrap();
        assert_eq!(g.uid_from_ns(5), Some(1000));
        assert_eq!(
            String::from_utf8(g.render(true, &n))
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["5", "0", "1"]
        );
        assert_eq!(
            String::from_utf8(g.render(true, &i))
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["5", "1000", "1"]
        );
        assert!(g.within(&i) && g.within(&n) && !n.within(&g));
    }

    #[test]
    fn map_writes_follow_the_rules() {
        let i = init();
        let n = UserNs::child(&i, 1000, 1000).unwrap();
        // Unprivileged: one id, one's own, gid only after setgroups deny.
        assert_eq!(
            n.write_map(true, b"0 0 1", false, 1000, 1000),
            Err(Errno::EPERM)
        );
        assert_eq!(
            n.write_map(true, b"0 1000 2", false, 1000, 1000),
            Err(Errno::EPERM)
        );
        assert_eq!(
            n.write_map(false, b"0 1000 1", false, 1000, 1000),
            Err(Errno::EPERM)
        );
        n.write_setgroups(b"deny").unwrap();
        n.write_map(false, b"0 1000 1", false, 1000, 1000).unwrap();
        assert!(!n.may_setgroups());
        assert_eq!(n.write_setgroups(b"allow"), Err(Errno::EPERM));
        // Syntax and overlap.
        let m = UserNs::child(&i, 0, 0).unwrap();
        for bad in [
            &b"0 0"[..],
            b"0 0 0",
            b"a 0 1",
            b"0 0 1\n0 5 1",
            b"4294967295 0 1",
            b"5 0 4294967295",
            b"",
        ] {
            assert_eq!(
                m.write_map(true, bad, true, 0, 0),
                Err(Errno::EINVAL),
                "{bad:?}"
            );
        }
        m.write_map(true, b"0 0 10\n10 100 5\n", true, 0, 0)
            .unwrap();
        assert_eq!(m.uid_from_ns(12), Some(102));
        m.write_map(false, b"0 0 1", true, 0, 0).unwrap();
        // A child's lower ids must be mapped in its parent.
        let c = UserNs::child(&m, 0, 0).unwrap();
        assert_eq!(c.write_map(true, b"0 8 4", true, 0, 0), Err(Errno::EPERM));
        assert_eq!(c.write_map(true, b"0 20 1", true, 0, 0), Err(Errno::EPERM));
        c.write_map(true, b"0 10 5", true, 0, 0).unwrap();
        assert_eq!(c.uid_from_ns(1), Some(101));
        assert_eq!(UserNs::child(&c, 7, 0).map(|_| ()), Err(Errno::EPERM));
    }

    #[test]
    fn nesting_is_limited() {
        let mut n = init();
        for _ in 0..MAX_DEPTH {
            n = UserNs::child(&n, 0, 0).unwrap();
            n.write_map(true, b"0 0 1", true, 0, 0).unwrap();
            n.write_map(false, b"0 0 1", true, 0, 0).unwrap();
        }
        assert_eq!(UserNs::child(&n, 0, 0).map(|_| ()), Err(Errno::ENOSPC));
    }
}
