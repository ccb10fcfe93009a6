//! Credentials of a process: its ids and its capability sets, with
//! Linux's rules for how id changes, exec and capset move the sets
//! (capabilities(7)); what exec makes of them is `setid`'s.
//! The ids are the sandbox's (Linux's kuids); the user namespace the
//! credentials belong to says how the process sees them and where its
//! capabilities count (`capable` for the sandbox as a whole,
//! `ns_capable` within its own namespace, `capable_in` over another).

use crate::errno::{Errno, KResult};

/// Capability numbers (linux/capability.h).
pub mod cap {
    pub const CHOWN: u32 = 0;
    pub const DAC_OVERRIDE: u32 = 1;
    pub const DAC_READ_SEARCH: u32 = 2;
    pub const FOWNER: u32 = 3;
    pub const FSETID: u32 = 4;
    pub const KILL: u32 = 5;
    pub const SETGID: u32 = 6;
    pub const SETUID: u32 = 7;
    pub const SETPCAP: u32 = 8;
    pub const LINUX_IMMUTABLE: u32 = 9;
    pub const NET_BIND_SERVICE: u32 = 10;
    pub const NET_ADMIN: u32 = 12;
    pub const NET_RAW: u32 = 13;
    pub const IPC_LOCK: u32 = 14;
    pub const IPC_OWNER: u32 = 15;
    pub const SYS_CHROOT: u32 = 18;
    pub const SYS_PTRACE: u32 = 19;
    pub const SYS_ADMIN: u32 = 21;
    pub const SYS_NICE: u32 = 23;
    pub const SYS_RESOURCE: u32 = 24;
    pub const SYS_TIME: u32 = 25;
    pub const MKNOD: u32 = 27;
    pub const LEASE: u32 = 28;
    pub const AUDIT_CONTROL: u32 = 30;
    pub const MAC_OVERRIDE: u32 = 32;
    pub const SYSLOG: u32 = 34;
    /// CAP_LAST_CAP of the kernel this sentry reports (6.1).
    pub const LAST: u32 = 40;

    /// Names by number, without the CAP_ prefix.
    pub const NAMES: [&str; LAST as usize + 1] = [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];

    /// A capability's number from its name (`CAP_CHOWN` or `CHOWN`).
    pub fn by_name(name: &str) -> Option<u32> {
        let n = name.strip_prefix("CAP_").unwrap_or(name);
        NAMES
            .iter()
            .position(|x| *x == n)
            .and_then(|i| u32::try_from(i).ok())
    }
}

/// Every capability.
pub const ALL: u64 = (1 << (cap::LAST + 1)) - 1;

/// The capabilities tied to the filesystem uid: dropped from the
/// effective set when fsuid leaves 0, raised (from the permitted set)
/// when it comes back.
const FS_CAPS: u64 = 1 << cap::CHOWN
    | 1 << cap::DAC_OVERRIDE
    | 1 << cap::DAC_READ_SEARCH
    | 1 << cap::FOWNER
    | 1 << cap::FSETID
    | 1 << cap::LINUX_IMMUTABLE
    | 1 << cap::MKNOD
    | 1 << cap::MAC_OVERRIDE;

/// The five capability sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub bounding: u64,
    pub ambient: u64,
}

impl Caps {
    /// As `husk boot --caps` takes them: effective, permitted,
    /// inheritable, bounding, ambient, in hex, comma-separated.
    pub fn render(&self) -> String {
        format!(
            "{:x},{:x},{:x},{:x},{:x}",
            self.effective, self.permitted, self.inheritable, self.bounding, self.ambient
        )
    }

    pub fn parse(s: &str) -> Option<Caps> {
        let v: Vec<u64> = s
            .split(',')
            .map(|x| u64::from_str_radix(x, 16).ok().filter(|v| v & !ALL == 0))
            .collect::<Option<_>>()?;
        let [effective, permitted, inheritable, bounding, ambient] = v[..] else {
            return None;
        };
        Some(Caps {
            effective,
            permitted,
            inheritable,
            bounding,
            ambient,
        })
    }

    /// Root's: everything permitted and effective.
    pub const FULL: Caps = Caps {
        effective: ALL,
        permitted: ALL,
        inheritable: 0,
        bounding: ALL,
        ambient: 0,
    };
    /// An unprivileged user's: nothing, within a full bounding set.
    pub const NONE: Caps = Caps {
        effective: 0,
        permitted: 0,
        inheritable: 0,
        bounding: ALL,
        ambient: 0,
    };
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    pub ruid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub rgid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub groups: Vec<u32>,
    pub caps: Caps,
    pub userns: super::userns::NsRef,
    /// PR_SET_SECUREBITS (SECBIT_KEEP_CAPS lives in `Process::keepcaps`).
    pub securebits: u32,
}

/// Securebits (linux/securebits.h).
pub mod secbit {
    pub const NOROOT: u32 = 1 << 0;
    pub const NO_SETUID_FIXUP: u32 = 1 << 2;
    pub const KEEP_CAPS: u32 = 1 << 4;
    pub const NO_CAP_AMBIENT_RAISE: u32 = 1 << 6;
    /// Linux 6.14's, for script interpreters to ask about (they are
    /// userspace's to honour).
    pub const EXEC_RESTRICT_FILE: u32 = 1 << 8;
    pub const EXEC_DENY_INTERACTIVE: u32 = 1 << 10;
    pub const ALL_BITS: u32 = NOROOT
        | NO_SETUID_FIXUP
        | KEEP_CAPS
        | NO_CAP_AMBIENT_RAISE
        | EXEC_RESTRICT_FILE
        | EXEC_DENY_INTERACTIVE;
    /// Each bit's lock is the bit above it.
    pub const ALL_LOCKS: u32 = ALL_BITS << 1;
}

impl Creds {
    pub fn root() -> Creds {
        Creds::of(0, 0, vec![0])
    }

    /// All ids `uid` and `gid`, with supplementary `groups`; root's
    /// capabilities for uid 0, none otherwise.
    pub fn of(uid: u32, gid: u32, groups: Vec<u32>) -> Creds {
        Creds {
            ruid: uid,
            euid: uid,
            suid: uid,
            fsuid: uid,
            rgid: gid,
            egid: gid,
            sgid: gid,
            fsgid: gid,
            groups,
            caps: if uid == 0 { Caps::FULL } else { Caps::NONE },
            userns: Default::default(),
            securebits: 0,
        }
    }

    /// The sandbox uid that is root in this process's namespace.
    fn root_uid(&self) -> Option<u32> {
        self.userns.root_uid()
    }

    fn is_root(&self, uid: u32) -> bool {
        self.root_uid() == Some(uid)
    }

    /// Linux's __ptrace_may_access with PTRACE_MODE_REALCREDS (ptrace
    /// attach, process_vm_readv): the caller's real ids are all of the
    /// target's and its permitted set covers the target's, and the target
    /// is dumpable; or the caller has CAP_SYS_PTRACE. The caller's own
    /// thread group is the caller's to decide before asking.
    pub fn may_ptrace(&self, target: &Creds, target_dumpable: bool) -> bool {
        let ptrace = self.capable_in(&target.userns, cap::SYS_PTRACE);
        let ids = [target.euid, target.suid, target.ruid]
            .iter()
            .all(|&u| u == self.ruid)
            && [target.egid, target.sgid, target.rgid]
                .iter()
                .all(|&g| g == self.rgid);
        // cap_ptrace_access_check: the target's capabilities a subset of
        // the caller's, both in one user namespace (a namespace's root
        // holds its capabilities there only).
        let same_ns = std::sync::Arc::ptr_eq(&self.userns.0, &target.userns.0);
        let caps = same_ns && target.caps.permitted & !self.caps.permitted == 0;
        ptrace || (ids && target_dumpable && caps)
    }

    /// Whether the effective set holds `c` and counts for the whole
    /// sandbox (Linux's capable(): in the first user namespace).
    pub fn capable(&self, c: u32) -> bool {
        self.userns.is_init() && self.ns_capable(c)
    }

    /// Whether the effective set holds `c`, for what the process's own
    /// user namespace governs.
    pub fn ns_capable(&self, c: u32) -> bool {
        c <= cap::LAST && self.caps.effective & (1 << c) != 0
    }

    /// Linux's cap_capable: `c` over user namespace `ns`, held when `ns`
    /// is the process's own namespace (and its effective set has it) or
    /// a descendant of it created by this process's euid.
    pub fn capable_in(&self, ns: &std::sync::Arc<super::userns::UserNs>, c: u32) -> bool {
        let mut at = ns.clone();
        loop {
            if std::sync::Arc::ptr_eq(&at, &self.userns) {
                return self.ns_capable(c);
            }
            if at.level <= self.userns.level {
                return false;
            }
            let Some(parent) = at.parent.clone() else {
                return false;
            };
            if std::sync::Arc::ptr_eq(&parent, &self.userns) && at.owner == self.euid {
                return true;
            }
            at = parent;
        }
    }

    /// Whether it owns a file of `uid`/`gid` or holds CAP_FOWNER over it
    /// (Linux's inode_owner_or_capable).
    pub fn owns(&self, uid: u32, gid: u32) -> bool {
        self.fsuid == uid || self.capable_wrt(cap::FOWNER, uid, gid)
    }

    /// `c` over a file owned by `uid`/`gid` (capable_wrt_inode_uidgid):
    /// within the process's namespace, for a file whose owner and group
    /// both have ids there.
    pub fn capable_wrt(&self, c: u32, uid: u32, gid: u32) -> bool {
        self.ns_capable(c)
            && self.userns.uid_to_ns(uid).is_some()
            && self.userns.gid_to_ns(gid).is_some()
    }

    /// Linux's cap_emulate_setxuid and fsuid rules, after the uids moved
    /// from `old`'s: leaving root drops the permitted and effective sets
    /// (unless `keepcaps`) and the ambient one; the effective set follows
    /// euid in and out of 0, the filesystem capabilities fsuid.
    pub fn fix_setuid(&mut self, old: &Creds, keepcaps: bool) {
        if self.securebits & secbit::NO_SETUID_FIXUP != 0 {
            return;
        }
        let root = |u: u32| old.is_root(u);
        let was_root = root(old.ruid) || root(old.euid) || root(old.suid);
        let is_root = root(self.ruid) || root(self.euid) || root(self.suid);
        let (old_e, new_e) = (root(old.euid), root(self.euid));
        let (old_fs, new_fs) = (root(old.fsuid), root(self.fsuid));
        let c = &mut self.caps;
        if was_root && !is_root {
            if !keepcaps {
                c.permitted = 0;
                c.effective = 0;
            }
            c.ambient = 0;
        }
        if old_e && !new_e {
            c.effective = 0;
        }
        if !old_e && new_e {
            c.effective = c.permitted;
        }
        if old_fs && !new_fs {
            c.effective &= !FS_CAPS;
        }
        if !old_fs && new_fs {
            c.effective |= c.permitted & FS_CAPS;
        }
    }

    /// capset(2) on oneself: the new effective, permitted and inheritable
    /// sets, by Linux's rules (cap_capset).
    pub fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> KResult<()> {
        let c = self.caps;
        // Bits past the last capability are dropped, as Linux does.
        let (effective, permitted, inheritable) =
            (effective & ALL, permitted & ALL, inheritable & ALL);
        let inh_limit = if self.ns_capable(cap::SETPCAP) {
            c.inheritable | c.bounding
        } else {
            (c.inheritable | c.permitted) & (c.inheritable | c.bounding)
        };
        if inheritable & !inh_limit != 0
            || inheritable & !(c.inheritable | c.bounding) != 0
            || permitted & !c.permitted != 0
            || effective & !permitted != 0
        {
            return Err(Errno::EPERM);
        }
        self.caps.effective = effective;
        self.caps.permitted = permitted;
        self.caps.inheritable = inheritable;
        // Ambient capabilities must stay permitted and inheritable.
        self.caps.ambient &= permitted & inheritable;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaving_root_drops_capabilities_unless_kept() {
        let old = Creds::root();
        let mut c = old.clone();
        (c.ruid, c.euid, c.suid, c.fsuid) = (1000, 1000, 1000, 1000);
        c.fix_setuid(&old, false);
        assert_eq!((c.caps.permitted, c.caps.effective), (0, 0));
        let mut k = old.clone();
        (k.ruid, k.euid, k.suid, k.fsuid) = (1000, 1000, 1000, 1000);
        k.fix_setuid(&old, true);
        assert_eq!((k.caps.permitted, k.caps.effective), (ALL, 0));
        // euid back to 0 (saved uid still 0): effective from permitted.
        let mut e = old.clone();
        e.euid = 1000;
        e.fsuid = 1000;
        e.fix_setuid(&old, false);
        assert_eq!((e.caps.permitted, e.caps.effective), (ALL, 0));
        let before = e.clone();
        e.euid = 0;
        e.fsuid = 0;
        e.fix_setuid(&before, false);
        assert_eq!(e.caps.effective, ALL);
    }

    #[test]
    fn fsuid_moves_the_filesystem_capabilities() {
        let old = Creds::root();
        let mut c = old.clone();
        c.fsuid = 1000;
        c.fix_setuid(&old, false);
        assert!(!c.capable(cap::DAC_OVERRIDE) && !c.capable(cap::CHOWN));
        assert!(c.capable(cap::KILL) && c.capable(cap::SYS_ADMIN));
        let before = c.clone();
        c.fsuid = 0;
        c.fix_setuid(&before, false);
        assert!(c.capable(cap::DAC_OVERRIDE));
    }

    #[test]
    fn capset_follows_linux_rules() {
        let mut c = Creds::root();
        let chown = 1 << cap::CHOWN;
        assert!(c.capset(chown, chown | 1 << cap::KILL, 0).is_ok());
        assert!(c.capable(cap::CHOWN) && !c.capable(cap::KILL));
        // Permitted never grows; effective stays within permitted.
        assert_eq!(c.capset(chown, ALL, 0), Err(Errno::EPERM));
        assert_eq!(c.capset(1 << cap::SETUID, chown, 0), Err(Errno::EPERM));
        // Without CAP_SETPCAP, inheritable only from permitted.
        assert_eq!(
            c.capset(chown, chown, 1 << cap::SYS_ADMIN),
            Err(Errno::EPERM)
        );
        assert!(c.capset(chown, chown, chown).is_ok());
        assert_eq!(c.capset(0, 0, 1 << 63), Ok(()));
        assert_eq!(c.caps.inheritable, 0);
    }

    #[test]
    fn capabilities_count_where_the_namespace_reaches() {
        use crate::kernel::userns::{init, UserNs};
        let user = Creds::of(1000, 1000, vec![]);
        let ns = UserNs::child(&init(), 1000, 1000).unwrap();
        let mut inner = user.clone();
        inner.userns = crate::kernel::userns::NsRef(ns.clone());
        inner.caps = Caps::FULL;
        // Full capabilities in its own namespace, none over the sandbox.
        assert!(inner.ns_capable(cap::SYS_ADMIN) && !inner.capable(cap::SYS_ADMIN));
        assert!(inner.capable_in(&ns, cap::SYS_ADMIN));
        assert!(!inner.capable_in(&init(), cap::KILL));
        // The owner outside has every capability over it, without any.
        assert!(user.capable_in(&ns, cap::SYS_ADMIN));
        assert!(!Creds::of(1001, 1001, vec![]).capable_in(&ns, cap::SYS_ADMIN));
        assert!(Creds::root().capable_in(&ns, cap::SYS_ADMIN));
        // Files whose owner has no id inside are beyond its reach.
        assert!(!inner.capable_wrt(cap::DAC_OVERRIDE, 1000, 1000));
        ns.write_map(true, b"0 1000 1", false, 1000, 1000).unwrap();
        ns.write_setgroups(b"deny").unwrap();
        ns.write_map(false, b"0 1000 1", false, 1000, 1000).unwrap();
        assert!(inner.capable_wrt(cap::DAC_OVERRIDE, 1000, 1000));
        assert!(!inner.capable_wrt(cap::DAC_OVERRIDE, 0, 0));
        // Root inside is the sandbox uid mapped to 0: exec keeps its
        // capabilities, and leaving it drops them.
        inner.caps = Caps::NONE;
        let guard = Some(crate::kernel::setid::Guard::default());
        let plain = crate::kernel::setid::ExecFile::default();
        let after = inner.execed(&plain, guard).unwrap().creds;
        assert_eq!(after.caps.effective, ALL);
    }

    #[test]
    fn names_and_rendering_round_trip() {
        assert_eq!(cap::by_name("CAP_CHOWN"), Some(0));
        assert_eq!(cap::by_name("SYS_ADMIN"), Some(cap::SYS_ADMIN));
        assert_eq!(cap::by_name("CAP_CHECKPOINT_RESTORE"), Some(cap::LAST));
        assert_eq!(cap::by_name("CAP_FROB"), None);
        let c = Caps {
            effective: 1,
            permitted: 3,
            inheritable: 2,
            bounding: ALL,
            ambient: 0,
        };
        assert_eq!(Caps::parse(&c.render()), Some(c));
        assert_eq!(Caps::parse("1,2,3"), None);
        assert_eq!(Caps::parse("1,2,3,4,ffffffffffffffff"), None);
    }
}
