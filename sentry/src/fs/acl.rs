//! POSIX access control lists (acl(5)) as Linux keeps them: the
//! `system.posix_acl_access` and `system.posix_acl_default` attributes,
//! stored with sandbox ids in the kernel's xattr layout, and the rules
//! that tie them to the mode (chmod, creation under a default ACL) and to
//! permission checks.
//!
//! A `Stat` is Copy, so it cannot carry an ACL: a filesystem that keeps
//! one registers it (`Held`) and puts the key in `Stat::acl`, and `may`
//! looks the key up. The key goes when the ACL changes or its inode goes.

use crate::errno::{Errno, KResult};
use crate::kernel::userns::UserNs;
use crate::kernel::Creds;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

pub const ACCESS: &[u8] = b"system.posix_acl_access";
pub const DEFAULT: &[u8] = b"system.posix_acl_default";

const VERSION: u32 = 2;
const HEADER: usize = 4;
const ENTRY: usize = 8;
const UNDEFINED_ID: u32 = u32::MAX;

pub const USER_OBJ: u16 = 0x01;
pub const USER: u16 = 0x02;
pub const GROUP_OBJ: u16 = 0x04;
pub const GROUP: u16 = 0x08;
pub const MASK: u16 = 0x10;
pub const OTHER: u16 = 0x20;

/// Whether `name` is one of the two ACL attributes.
pub fn is_acl(name: &[u8]) -> bool {
    name == ACCESS || name == DEFAULT
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub tag: u16,
    pub perm: u16,
    /// A sandbox uid or gid for USER and GROUP entries.
    pub id: u32,
}

/// A valid ACL, entries in the order Linux requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acl(Vec<Entry>);

impl Acl {
    /// A value a caller gave setxattr, its ids as `ns` numbers them
    /// (posix_acl_from_xattr): None for an empty value or one without
    /// entries, which removes the ACL. Validity is checked apart
    /// (`check`), after the permission checks, as Linux orders them.
    pub fn from_xattr(v: &[u8], ns: &UserNs) -> KResult<Option<Acl>> {
        Self::parse(v, |tag, id| match tag {
            // -1 is no id (INVALID_UID), in any namespace.
            USER | GROUP if id == UNDEFINED_ID => None,
            USER => ns.uid_from_ns(id),
            GROUP => ns.gid_from_ns(id),
            _ => Some(UNDEFINED_ID),
        })
    }

    /// A stored value (sandbox ids, already valid).
    pub fn from_stored(v: &[u8]) -> Option<Acl> {
        Self::parse(v, |_, id| Some(id)).ok().flatten()
    }

    /// A value read from a host file, its ids the host's: `uid` and
    /// `gid` give the sandbox's, and an id without one becomes no id, an
    /// entry that matches nobody. None for an empty or invalid value.
    pub fn from_host(
        v: &[u8],
        uid: impl Fn(u32) -> Option<u32>,
        gid: impl Fn(u32) -> Option<u32>,
    ) -> Option<Acl> {
        let acl = Self::parse(v, |tag, id| {
            Some(match tag {
                USER => uid(id).unwrap_or(UNDEFINED_ID),
                GROUP => gid(id).unwrap_or(UNDEFINED_ID),
                _ => UNDEFINED_ID,
            })
        })
        .ok()
        .flatten()?;
        acl.check().ok()?;
        Some(acl)
    }

    /// The value written to a host file: `uid` and `gid` give the host's
    /// ids, EINVAL for an entry whose id the host has no place for.
    pub fn to_host(
        &self,
        uid: impl Fn(u32) -> Option<u32>,
        gid: impl Fn(u32) -> Option<u32>,
    ) -> KResult<Vec<u8>> {
        let mut host = self.clone();
        for e in &mut host.0 {
            e.id = match e.tag {
                USER => uid(e.id).ok_or(Errno::EINVAL)?,
                GROUP => gid(e.id).ok_or(Errno::EINVAL)?,
                _ => UNDEFINED_ID,
            };
        }
        Ok(host.stored())
    }

    fn parse(v: &[u8], id: impl Fn(u16, u32) -> Option<u32>) -> KResult<Option<Acl>> {
        if v.is_empty() {
            return Ok(None);
        }
        let head = v.get(..HEADER).ok_or(Errno::EINVAL)?;
        if u32::from_le_bytes([head[0], head[1], head[2], head[3]]) != VERSION {
            return Err(Errno::EOPNOTSUPP);
        }
        let body = &v[HEADER..];
        if !body.len().is_multiple_of(ENTRY) {
            return Err(Errno::EINVAL);
        }
        let mut out = Vec::with_capacity(body.len() / ENTRY);
        for e in body.chunks_exact(ENTRY) {
            let tag = u16::from_le_bytes([e[0], e[1]]);
            let perm = u16::from_le_bytes([e[2], e[3]]);
            let raw = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
            if ![USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER].contains(&tag) {
                return Err(Errno::EINVAL);
            }
            let id = id(tag, raw).ok_or(Errno::EINVAL)?;
            out.push(Entry { tag, perm, id });
        }
        Ok((!out.is_empty()).then_some(Acl(out)))
    }

    /// posix_acl_valid: one owner, named users, the owning group, named
    /// groups, a mask (needed once anything is named), others; in that
    /// order, and no permission but rwx.
    pub fn check(&self) -> KResult<()> {
        // 0 stands for "complete".
        let mut state = USER_OBJ;
        let mut needs_mask = false;
        for e in &self.0 {
            if e.perm & !7 != 0 {
                return Err(Errno::EINVAL);
            }
            state = match (e.tag, state) {
                (USER_OBJ, USER_OBJ) => USER,
                (USER, USER) | (GROUP, GROUP) => {
                    needs_mask = true;
                    state
                }
                (GROUP_OBJ, USER) => GROUP,
                (MASK, GROUP) => OTHER,
                (OTHER, OTHER) => 0,
                (OTHER, GROUP) if !needs_mask => 0,
                _ => return Err(Errno::EINVAL),
            };
        }
        if state == 0 {
            Ok(())
        } else {
            Err(Errno::EINVAL)
        }
    }

    /// The value as stored: sandbox ids.
    pub fn stored(&self) -> Vec<u8> {
        self.encode(|e| e.id)
    }

    /// The value as getxattr shows it to a reader in `ns`: its ids, -1
    /// for an id it cannot see (posix_acl_to_xattr's from_kuid, not the
    /// overflow id stat shows) and for unnamed entries.
    pub fn shown(&self, ns: &UserNs) -> Vec<u8> {
        self.encode(|e| match e.tag {
            USER => ns.uid_to_ns(e.id).unwrap_or(UNDEFINED_ID),
            GROUP => ns.gid_to_ns(e.id).unwrap_or(UNDEFINED_ID),
            _ => UNDEFINED_ID,
        })
    }

    fn encode(&self, id: impl Fn(&Entry) -> u32) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER + ENTRY * self.0.len());
        v.extend_from_slice(&VERSION.to_le_bytes());
        for e in &self.0 {
            v.extend_from_slice(&e.tag.to_le_bytes());
            v.extend_from_slice(&e.perm.to_le_bytes());
            v.extend_from_slice(&id(e).to_le_bytes());
        }
        v
    }

    fn perm_of(&self, tag: u16) -> Option<u32> {
        self.0
            .iter()
            .find(|e| e.tag == tag)
            .map(|e| u32::from(e.perm))
    }

    /// posix_acl_equiv_mode: the permission bits the ACL stands for (the
    /// mask as the group's), and whether the mode says all of it (no
    /// named entry and no mask).
    pub fn mode(&self) -> (u32, bool) {
        let group = self
            .perm_of(MASK)
            .or_else(|| self.perm_of(GROUP_OBJ))
            .unwrap_or(0);
        let bits = (self.perm_of(USER_OBJ).unwrap_or(0) << 6)
            | (group << 3)
            | self.perm_of(OTHER).unwrap_or(0);
        let equiv = self
            .0
            .iter()
            .all(|e| matches!(e.tag, USER_OBJ | GROUP_OBJ | OTHER));
        (bits & 0o777, equiv)
    }

    /// What the owning group may do through the ACL: its entry, cut by
    /// the mask.
    pub fn owning_group(&self) -> u32 {
        self.perm_of(GROUP_OBJ).unwrap_or(0) & self.perm_of(MASK).unwrap_or(7)
    }

    /// posix_acl_chmod: a chmod sets the owner, the mask (the owning
    /// group without one) and others; named entries stay.
    pub fn chmod(&mut self, mode: u32) {
        let has_mask = self.0.iter().any(|e| e.tag == MASK);
        let part = |shift: u32| ((mode >> shift) & 7) as u16;
        for e in &mut self.0 {
            match e.tag {
                USER_OBJ => e.perm = part(6),
                MASK => e.perm = part(3),
                GROUP_OBJ if !has_mask => e.perm = part(3),
                OTHER => e.perm = part(0),
                _ => {}
            }
        }
    }

    /// posix_acl_create_masq: a directory's default ACL meeting the mode
    /// a creating call asked for (no umask). Returns the node's mode and
    /// its access ACL, None when the mode says it all.
    pub fn create(&self, mode: u32) -> (u32, Option<Acl>) {
        let mut acl = self.clone();
        let mut mode = mode;
        let mut group_at = None;
        let mut mask_at = None;
        let mut equiv = true;
        for (i, e) in acl.0.iter_mut().enumerate() {
            let p = u32::from(e.perm);
            match e.tag {
                USER_OBJ => {
                    let p = p & ((mode >> 6) & 7);
                    e.perm = p as u16;
                    mode &= (p << 6) | !0o700;
                }
                OTHER => {
                    let p = p & (mode & 7);
                    e.perm = p as u16;
                    mode &= p | !0o007;
                }
                GROUP_OBJ => group_at = Some(i),
                MASK => {
                    mask_at = Some(i);
                    equiv = false;
                }
                _ => equiv = false,
            }
        }
        if let Some(i) = mask_at.or(group_at) {
            let e = &mut acl.0[i];
            let p = u32::from(e.perm) & ((mode >> 3) & 7);
            e.perm = p as u16;
            mode &= (p << 3) | !0o070;
        }
        (mode, (!equiv).then_some(acl))
    }

    /// posix_acl_permission for a caller who does not own the file
    /// (owned by `uid`:`gid`), wanting MAY_* bits `want`.
    pub fn permits(&self, c: &Creds, gid: u32, want: u32) -> bool {
        let want = want & 7;
        let member = |g: u32| c.fsgid == g || c.groups.contains(&g);
        let mask = || self.perm_of(MASK).unwrap_or(7);
        let mut found = false;
        for e in &self.0 {
            let p = u32::from(e.perm);
            match e.tag {
                USER if e.id == c.fsuid => return p & mask() & want == want,
                GROUP_OBJ | GROUP if member(if e.tag == GROUP { e.id } else { gid }) => {
                    found = true;
                    if p & want == want {
                        return p & mask() & want == want;
                    }
                }
                OTHER => return !found && p & want == want,
                _ => {}
            }
        }
        false
    }
}

/// Registered ACLs, by key (see the module comment).
static LIVE: LazyLock<Mutex<HashMap<u64, Arc<Acl>>>> = LazyLock::new(Default::default);
static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// An inode's access ACL, registered for permission checks while held.
#[derive(Debug)]
pub struct Held {
    key: u64,
    acl: Arc<Acl>,
}

impl Held {
    pub fn new(acl: Acl) -> Held {
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        let acl = Arc::new(acl);
        LIVE.lock().insert(key, acl.clone());
        Held { key, acl }
    }

    pub fn key(&self) -> u64 {
        self.key
    }

    pub fn acl(&self) -> &Acl {
        &self.acl
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        LIVE.lock().remove(&self.key);
    }
}

/// The check `may` makes for a caller other than the owner of a file
/// whose stat carries ACL key `key`: None when the ACL changed since the
/// stat was taken (the mode then decides, as for a file without one).
pub fn permits(key: u64, c: &Creds, gid: u32, want: u32) -> Option<bool> {
    let acl = LIVE.lock().get(&key).cloned()?;
    Some(acl.permits(c, gid, want))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(entries: &[(u16, u16, u32)]) -> Acl {
        Acl(entries
            .iter()
            .map(|&(tag, perm, id)| Entry { tag, perm, id })
            .collect())
    }

    const U: u32 = UNDEFINED_ID;

    #[test]
    fn validity_follows_linux_order_and_mask_rules() {
        let ok = acl(&[(USER_OBJ, 6, U), (GROUP_OBJ, 4, U), (OTHER, 4, U)]);
        assert_eq!(ok.check(), Ok(()));
        let named = acl(&[
            (USER_OBJ, 6, U),
            (USER, 6, 1000),
            (GROUP_OBJ, 4, U),
            (MASK, 6, U),
            (OTHER, 0, U),
        ]);
        assert_eq!(named.check(), Ok(()));
        // A named entry needs a mask.
        let no_mask = acl(&[
            (USER_OBJ, 6, U),
            (USER, 6, 1000),
            (GROUP_OBJ, 4, U),
            (OTHER, 0, U),
        ]);
        assert_eq!(no_mask.check(), Err(Errno::EINVAL));
        // Out of order, missing the owner, bad permission bits, trailing.
        let swapped = acl(&[(GROUP_OBJ, 4, U), (USER_OBJ, 6, U), (OTHER, 4, U)]);
        assert_eq!(swapped.check(), Err(Errno::EINVAL));
        let perm = acl(&[(USER_OBJ, 8, U), (GROUP_OBJ, 4, U), (OTHER, 4, U)]);
        assert_eq!(perm.check(), Err(Errno::EINVAL));
        let trailing = acl(&[
            (USER_OBJ, 6, U),
            (GROUP_OBJ, 4, U),
            (OTHER, 4, U),
            (OTHER, 4, U),
        ]);
        assert_eq!(trailing.check(), Err(Errno::EINVAL));
    }

    #[test]
    fn xattr_values_round_trip_and_malformed_ones_are_refused() {
        let ns = crate::kernel::userns::init();
        let a = acl(&[
            (USER_OBJ, 7, U),
            (USER, 5, 1234),
            (GROUP_OBJ, 4, U),
            (MASK, 5, U),
            (OTHER, 1, U),
        ]);
        let v = a.shown(&ns);
        assert_eq!(v.len(), HEADER + 5 * ENTRY);
        assert_eq!(Acl::from_xattr(&v, &ns), Ok(Some(a.clone())));
        assert_eq!(Acl::from_stored(&a.stored()), Some(a));
        assert_eq!(Acl::from_xattr(&[], &ns), Ok(None));
        assert_eq!(Acl::from_xattr(&2u32.to_le_bytes(), &ns), Ok(None));
        assert_eq!(Acl::from_xattr(&[2, 0], &ns), Err(Errno::EINVAL));
        assert_eq!(
            Acl::from_xattr(&3u32.to_le_bytes(), &ns),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(Acl::from_xattr(&v[..v.len() - 1], &ns), Err(Errno::EINVAL));
        let mut bad_tag = v.clone();
        bad_tag[HEADER] = 0x40;
        assert_eq!(Acl::from_xattr(&bad_tag, &ns), Err(Errno::EINVAL));
    }

    #[test]
    fn a_namespace_sees_its_ids_and_minus_one_for_others() {
        use crate::kernel::userns::{init, UserNs};
        let ns = UserNs::child(&init(), 1000, 1000).unwrap();
        ns.write_map(true, b"0 1000 1", false, 1000, 1000).unwrap();
        let a = acl(&[
            (USER_OBJ, 6, U),
            (USER, 6, 1000),
            (USER, 4, 1234),
            (GROUP_OBJ, 4, U),
            (MASK, 6, U),
            (OTHER, 0, U),
        ]);
        let v = a.shown(&ns);
        let id = |k: usize| {
            u32::from_le_bytes(
                v[HEADER + k * ENTRY + 4..HEADER + k * ENTRY + 8]
                    .try_into()
                    .unwrap(),
            )
        };
        assert_eq!((id(1), id(2)), (0, u32::MAX));
        // Set from inside: its 0 is the sandbox's 1000; -1 names no one.
        let back = Acl::from_xattr(
            &acl(&[
                (USER_OBJ, 6, U),
                (USER, 6, 0),
                (GROUP_OBJ, 4, U),
                (MASK, 6, U),
                (OTHER, 0, U),
            ])
            .stored(),
            &ns,
        )
        .unwrap()
        .unwrap();
        assert_eq!(back.0[1].id, 1000);
        assert_eq!(Acl::from_xattr(&v, &ns), Err(Errno::EINVAL));
    }

    #[test]
    fn mode_chmod_and_creation_follow_the_mask() {
        let mut a = acl(&[
            (USER_OBJ, 7, U),
            (USER, 7, 1000),
            (GROUP_OBJ, 7, U),
            (MASK, 5, U),
            (OTHER, 0, U),
        ]);
        assert_eq!(a.mode(), (0o750, false));
        a.chmod(0o640);
        assert_eq!(a.perm_of(USER_OBJ), Some(6));
        assert_eq!(a.perm_of(MASK), Some(4));
        // The owning group's entry stays under a mask.
        assert_eq!(a.perm_of(GROUP_OBJ), Some(7));
        assert_eq!(a.mode(), (0o640, false));
        let plain = acl(&[(USER_OBJ, 6, U), (GROUP_OBJ, 4, U), (OTHER, 4, U)]);
        assert_eq!(plain.mode(), (0o644, true));
        // A default ACL meets the mode asked for: no umask, the mask cut.
        let dflt = acl(&[
            (USER_OBJ, 7, U),
            (USER, 7, 1000),
            (GROUP_OBJ, 5, U),
            (MASK, 7, U),
            (OTHER, 5, U),
        ]);
        let (mode, access) = dflt.create(0o666);
        assert_eq!(mode, 0o664);
        let access = access.unwrap();
        assert_eq!(access.perm_of(MASK), Some(6));
        assert_eq!(access.perm_of(OTHER), Some(4));
        assert_eq!(access.perm_of(USER_OBJ), Some(6));
        let (mode, access) = plain.create(0o777 | libc::S_ISGID);
        assert_eq!((mode, access), (0o644 | libc::S_ISGID, None));
    }

    #[test]
    fn permission_follows_named_entries_groups_and_the_mask() {
        let a = acl(&[
            (USER_OBJ, 6, U),
            (USER, 6, 1000),
            (USER, 7, 1001),
            (GROUP_OBJ, 0, U),
            (GROUP, 4, 2000),
            (MASK, 4, U),
            (OTHER, 2, U),
        ]);
        let who = |uid, groups: Vec<u32>| Creds::of(uid, 500, groups);
        // A named user, cut by the mask.
        assert!(a.permits(&who(1000, vec![]), 100, 4));
        assert!(!a.permits(&who(1000, vec![]), 100, 2));
        // A named group grants read; the owning group denies, and being
        // in a group entry keeps "other" from applying.
        assert!(a.permits(&who(3000, vec![2000]), 100, 4));
        assert!(!a.permits(&who(3000, vec![100]), 100, 2));
        // Others.
        assert!(a.permits(&who(3000, vec![]), 100, 2));
        assert!(!a.permits(&who(3000, vec![]), 100, 4));
    }

    #[test]
    fn keys_go_with_their_acl() {
        let a = acl(&[
            (USER_OBJ, 6, U),
            (USER, 4, 7),
            (GROUP_OBJ, 0, U),
            (MASK, 4, U),
            (OTHER, 0, U),
        ]);
        let h = Held::new(a);
        let key = h.key();
        let c = Creds::of(7, 7, vec![]);
        assert_eq!(permits(key, &c, 0, 4), Some(true));
        drop(h);
        assert_eq!(permits(key, &c, 0, 4), None);
    }

    #[test]
    fn host_values_cross_with_their_ids_mapped() {
        // Host ids 100000.. are the sandbox's 0..; 5000 has no place.
        let inward = |h: u32| h.checked_sub(100_000).filter(|&c| c < 65536);
        let outward = |c: u32| (c < 65536).then_some(c + 100_000);
        let host = acl(&[
            (USER_OBJ, 6, U),
            (USER, 4, 101_000),
            (USER, 7, 5000),
            (GROUP_OBJ, 4, U),
            (GROUP, 6, 100_100),
            (MASK, 6, U),
            (OTHER, 0, U),
        ]);
        let a = Acl::from_host(&host.stored(), inward, inward).unwrap();
        assert_eq!(a.0[1].id, 1000);
        assert_eq!(a.0[4].id, 100);
        // The id the sandbox cannot name matches nobody: not 65534.
        assert_eq!(a.0[2].id, UNDEFINED_ID);
        assert!(!a.permits(&Creds::of(65534, 65534, vec![]), 0, 4));
        assert!(a.permits(&Creds::of(1000, 1000, vec![]), 0, 4));
        assert!(a.permits(&Creds::of(2000, 100, vec![]), 0, 6));
        // Back to the host: ids moved out again, and an entry with no
        // host id refused.
        let mut sandbox = a.clone();
        sandbox.0.remove(2);
        let back = Acl::from_stored(&sandbox.to_host(outward, outward).unwrap()).unwrap();
        assert_eq!((back.0[1].id, back.0[3].id), (101_000, 100_100));
        assert_eq!(a.to_host(outward, outward), Err(Errno::EINVAL));
        // An invalid host value (no mask with named entries) is no ACL.
        let bad = acl(&[
            (USER_OBJ, 6, U),
            (USER, 4, 1),
            (GROUP_OBJ, 4, U),
            (OTHER, 0, U),
        ]);
        assert_eq!(Acl::from_host(&bad.stored(), Some, Some), None);
        assert_eq!(Acl::from_host(&[], Some, Some), None);
    }
}
