//! What exec makes of a process's credentials: set-user-ID and
//! set-group-ID files, file capabilities (`security.capability`), and
//! root's own rules (Linux's bprm_fill_uid and cap_bprm_creds_from_file,
//! capabilities(7) "Transformation of capabilities during execve").

use super::creds::{cap, secbit, Creds, ALL};
use crate::errno::{Errno, KResult};

/// What the executable brings: the owners it runs as when set-ID (None
/// when not, or when its mount is nosuid) and its file capabilities.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecFile {
    pub setuid: Option<u32>,
    pub setgid: Option<u32>,
    pub fcaps: Option<FileCaps>,
}

impl ExecFile {
    /// From the file's mode and owners; `nosuid` mounts give nothing.
    pub fn of(mode: u32, uid: u32, gid: u32, nosuid: bool) -> ExecFile {
        if nosuid {
            return ExecFile::default();
        }
        let sgid = libc::S_ISGID | libc::S_IXGRP;
        ExecFile {
            setuid: (mode & libc::S_ISUID != 0).then_some(uid),
            // Set-group-ID without group execute marks mandatory locking.
            setgid: (mode & sgid == sgid).then_some(gid),
            fcaps: None,
        }
    }
}

/// A `security.capability` value (struct vfs_ns_cap_data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileCaps {
    pub permitted: u64,
    pub inheritable: u64,
    /// The effective bit: the permitted set is raised at once.
    pub effective: bool,
    /// Revision 3's owner of the capabilities (the root uid of the
    /// namespace that set them), as a sandbox uid.
    pub rootid: Option<u32>,
}

const REVISION_MASK: u32 = 0xff00_0000;
const REVISION_1: u32 = 0x0100_0000;
const REVISION_2: u32 = 0x0200_0000;
const REVISION_3: u32 = 0x0300_0000;
const FLAGS_EFFECTIVE: u32 = 1;

impl FileCaps {
    /// Parses the attribute as get_vfs_caps_from_disk does: EINVAL for a
    /// revision it does not know or a size that is not the revision's.
    pub fn parse(v: &[u8]) -> KResult<FileCaps> {
        let word = |i: usize| -> KResult<u32> {
            let b = v.get(i * 4..i * 4 + 4).ok_or(Errno::EINVAL)?;
            Ok(u32::from_le_bytes(b.try_into().map_err(|_| Errno::EINVAL)?))
        };
        let magic = word(0)?;
        let (words, rootid) = match (magic & REVISION_MASK, v.len()) {
            (REVISION_1, 12) => (1, None),
            (REVISION_2, 20) => (2, None),
            (REVISION_3, 24) => (2, Some(word(5)?)),
            _ => return Err(Errno::EINVAL),
        };
        let (mut permitted, mut inheritable) = (0u64, 0u64);
        for i in 0..words {
            permitted |= u64::from(word(1 + 2 * i)?) << (32 * i);
            inheritable |= u64::from(word(2 + 2 * i)?) << (32 * i);
        }
        Ok(FileCaps {
            permitted: permitted & ALL,
            inheritable: inheritable & ALL,
            effective: magic & FLAGS_EFFECTIVE != 0,
            rootid,
        })
    }
}

impl FileCaps {
    /// A value as setxattr stores it (cap_convert_nscap): version 2 or 3
    /// alone (EINVAL otherwise). Version 2 from a writer with
    /// CAP_SETFCAP over the whole sandbox is kept as it is; anything else
    /// becomes version 3 owned by the writer's namespace's root (the
    /// capabilities then count in that namespace and below it alone),
    /// EINVAL when that root has no sandbox uid.
    pub fn stored(v: &[u8], creds: &Creds) -> KResult<Vec<u8>> {
        const SETFCAP: u32 = 31;
        let parsed = FileCaps::parse(v)?;
        let magic = u32::from_le_bytes([v[0], v[1], v[2], v[3]]);
        // No flag but the effective bit.
        if magic & !(REVISION_MASK | FLAGS_EFFECTIVE) != 0 {
            return Err(Errno::EINVAL);
        }
        let nsroot = match magic & REVISION_MASK {
            REVISION_2 if creds.capable(SETFCAP) => return Ok(v.to_vec()),
            REVISION_2 => 0,
            REVISION_3 => parsed.rootid.unwrap_or(0),
            _ => return Err(Errno::EINVAL),
        };
        let rootid = creds.userns.uid_from_ns(nsroot).ok_or(Errno::EINVAL)?;
        let mut out = (REVISION_3 | (magic & FLAGS_EFFECTIVE))
            .to_le_bytes()
            .to_vec();
        out.extend_from_slice(&v[4..20]);
        out.extend_from_slice(&rootid.to_le_bytes());
        Ok(out)
    }
}

impl FileCaps {
    /// A stored value as getxattr shows it to `creds` (cap_inode_getsecurity):
    /// version 3 with its owner as the reader's namespace numbers it, or
    /// version 2 when the owner is the root of that namespace or of one
    /// above it; EOVERFLOW when the owner is beyond the reader.
    pub fn shown(v: &[u8], creds: &Creds) -> KResult<Vec<u8>> {
        let Ok(FileCaps {
            rootid: Some(root), ..
        }) = FileCaps::parse(v)
        else {
            return Ok(v.to_vec());
        };
        match creds.userns.uid_to_ns(root) {
            Some(id) if id != 0 => {
                let mut out = v.to_vec();
                out[20..24].copy_from_slice(&id.to_le_bytes());
                Ok(out)
            }
            _ if creds.owns_fcaps(root) => {
                let magic = u32::from_le_bytes([v[0], v[1], v[2], v[3]]);
                let mut out = (REVISION_2 | (magic & FLAGS_EFFECTIVE))
                    .to_le_bytes()
                    .to_vec();
                out.extend_from_slice(&v[4..20]);
                Ok(out)
            }
            _ => Err(Errno::EOVERFLOW),
        }
    }
}

/// Why exec may not raise privileges as the file asks (Linux's
/// bprm->unsafe): no_new_privs, a tracer without CAP_SYS_PTRACE over
/// the process's namespace, or a root, working directory and umask
/// shared with another process (CLONE_FS), which could steer it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Guard {
    pub no_new_privs: bool,
    pub untrusted_tracer: bool,
    pub shared_fs: bool,
}

/// The credentials exec makes, and whether it is a secure exec (AT_SECURE:
/// the dynamic linker ignores LD_PRELOAD and friends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execed {
    pub creds: Creds,
    pub secure: bool,
}

impl Creds {
    /// The credentials after exec of `file`. `guard` None: not known yet
    /// (the lock-free exec path), and needed only when the file or the
    /// ids would raise privileges (NEEDLOCK then). EPERM when a file
    /// with the effective bit cannot get all its permitted capabilities
    /// (the bounding set took some).
    pub fn execed(&self, file: &ExecFile, guard: Option<Guard>) -> KResult<Execed> {
        let old = self;
        let mut new = self.clone();
        new.caps.ambient &= old.caps.permitted & old.caps.inheritable;
        let nnp = guard.is_some_and(|g| g.no_new_privs);
        // bprm_fill_uid: the owner must have an id in the namespace.
        if !nnp {
            if let Some(u) = file.setuid.filter(|&u| old.userns.uid_to_ns(u).is_some()) {
                new.euid = u;
            }
            if let Some(g) = file.setgid.filter(|&g| old.userns.gid_to_ns(g).is_some()) {
                new.egid = g;
            }
        }
        // File capabilities count when their owner is root of this
        // namespace or of one above it.
        let fcaps = file
            .fcaps
            .filter(|f| self.owns_fcaps(f.rootid.unwrap_or(0)));
        let has_fcap = fcaps.is_some();
        let mut effective = false;
        new.caps.permitted = 0;
        if let Some(f) = fcaps {
            effective = f.effective;
            new.caps.permitted =
                (old.caps.bounding & f.permitted) | (old.caps.inheritable & f.inheritable);
            if f.effective && f.permitted & !new.caps.permitted != 0 {
                return Err(Errno::EPERM);
            }
        }
        // Root's rules, unless SECBIT_NOROOT: root gets its bounding and
        // inheritable sets, effective when euid is root; a set-user-ID
        // root file with capabilities run by someone else gets only those.
        if old.securebits & secbit::NOROOT == 0 {
            let root = old.userns.root_uid();
            let (eff_root, real_root) = (Some(new.euid) == root, Some(new.ruid) == root);
            if !(has_fcap && eff_root && !real_root) {
                if eff_root || real_root {
                    new.caps.permitted = old.caps.bounding | old.caps.inheritable;
                }
                if eff_root {
                    effective = true;
                }
            }
        }
        let setid = new.euid != old.ruid || new.egid != old.rgid;
        let gained = new.caps.permitted & !old.caps.permitted != 0;
        if setid || gained {
            let Some(g) = guard else {
                return Err(Errno::NEEDLOCK);
            };
            if g.no_new_privs || g.untrusted_tracer || g.shared_fs {
                // No more than it had, and its own ids unless it could
                // have set them itself.
                if !old.ns_capable(cap::SETUID) || g.no_new_privs {
                    new.euid = new.ruid;
                    new.egid = new.rgid;
                }
                new.caps.permitted &= old.caps.permitted;
            }
        }
        new.suid = new.euid;
        new.fsuid = new.euid;
        new.sgid = new.egid;
        new.fsgid = new.egid;
        if has_fcap || setid {
            new.caps.ambient = 0;
        }
        new.caps.permitted |= new.caps.ambient;
        new.caps.effective = if effective {
            new.caps.permitted
        } else {
            new.caps.ambient
        };
        new.securebits &= !secbit::KEEP_CAPS;
        let real_root = old.userns.root_uid() == Some(new.ruid);
        let grew = new.caps.permitted & !new.caps.ambient != 0;
        let secure = setid || (!real_root && (effective || grew));
        Ok(Execed { creds: new, secure })
    }

    /// Whether capabilities stored by the root uid `rootid` (a sandbox
    /// uid) count for this process: `rootid` is root of its namespace or
    /// of an ancestor (rootid_owns_currentns).
    fn owns_fcaps(&self, rootid: u32) -> bool {
        let mut ns = Some(self.userns.0.clone());
        while let Some(n) = ns {
            if n.root_uid() == Some(rootid) {
                return true;
            }
            ns = n.parent.clone();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::creds::Caps;

    fn v3(permitted: u32, inheritable: u32, effective: bool, rootid: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [
            REVISION_3 | u32::from(effective),
            permitted,
            inheritable,
            0,
            0,
            rootid,
        ] {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v
    }

    #[test]
    fn attribute_revisions_parse_and_bad_ones_are_einval() {
        let raw = 1u32 << cap::NET_RAW;
        let f = FileCaps::parse(&v3(raw, 0, true, 0)).unwrap();
        assert_eq!(
            (f.permitted, f.effective, f.rootid),
            (raw.into(), true, Some(0))
        );
        let mut v2 = v3(raw, 0, false, 0);
        v2.truncate(20);
        v2[3] = 0x02;
        assert_eq!(FileCaps::parse(&v2).unwrap().rootid, None);
        assert_eq!(FileCaps::parse(&v2[..16]), Err(Errno::EINVAL));
        v2[3] = 0x07;
        assert_eq!(FileCaps::parse(&v2), Err(Errno::EINVAL));
        assert_eq!(FileCaps::parse(&[]), Err(Errno::EINVAL));
    }

    #[test]
    fn stored_capabilities_belong_to_the_writer_s_namespace() {
        use crate::kernel::userns::{init, NsRef, UserNs};
        let raw = 1u32 << cap::NET_RAW;
        let mut v2 = v3(raw, 0, true, 0);
        v2.truncate(20);
        v2[3] = 0x02;
        // Root of the sandbox keeps version 2; version 1 is refused.
        assert_eq!(FileCaps::stored(&v2, &Creds::root()).unwrap(), v2);
        let mut v1 = v2[..12].to_vec();
        v1[3] = 0x01;
        assert_eq!(FileCaps::stored(&v1, &Creds::root()), Err(Errno::EINVAL));
        // Root of a namespace whose 0 is uid 1000 stores version 3 owned
        // by 1000: it counts there, not for the sandbox.
        let ns = UserNs::child(&init(), 1000, 1000).unwrap();
        ns.write_map(true, b"0 1000 1", false, 1000, 1000).unwrap();
        let mut inner = Creds::of(1000, 1000, vec![]);
        inner.userns = NsRef(ns.clone());
        inner.caps = Caps::FULL;
        let s = FileCaps::stored(&v2, &inner).unwrap();
        assert_eq!(s, v3(raw, 0, true, 1000));
        let f = ExecFile {
            fcaps: Some(FileCaps::parse(&s).unwrap()),
            ..ExecFile::default()
        };
        let mut user_inside = Creds::of(1001, 1001, vec![]);
        user_inside.userns = NsRef(ns);
        // 1001 has no id inside, but the capabilities still count there.
        let e = user_inside.execed(&f, free()).unwrap();
        assert_eq!(e.creds.caps.effective, u64::from(raw));
        let e = Creds::of(1001, 1001, vec![]).execed(&f, free()).unwrap();
        assert_eq!(e.creds.caps.effective, 0);
        // Shown to the writer as it wrote it, and to the sandbox with its
        // owner's uid.
        assert_eq!(FileCaps::shown(&s, &inner).unwrap(), v2);
        let shown = FileCaps::shown(&s, &Creds::root()).unwrap();
        assert_eq!(shown, v3(raw, 0, true, 1000));
        let mut other = Creds::of(1001, 1001, vec![]);
        other.userns = NsRef(UserNs::child(&init(), 1001, 1001).unwrap());
        assert_eq!(FileCaps::shown(&s, &other), Err(Errno::EOVERFLOW));
        // A root id with no sandbox uid is EINVAL.
        assert_eq!(
            FileCaps::stored(&v3(raw, 0, true, 5), &inner),
            Err(Errno::EINVAL)
        );
    }

    fn user() -> Creds {
        Creds::of(1000, 1000, vec![])
    }

    fn free() -> Option<Guard> {
        Some(Guard::default())
    }

    #[test]
    fn set_user_id_root_gives_root_and_a_secure_exec() {
        let f = ExecFile::of(0o4755, 0, 0, false);
        let e = user().execed(&f, free()).unwrap();
        assert_eq!((e.creds.ruid, e.creds.euid, e.creds.suid), (1000, 0, 0));
        assert_eq!(e.creds.caps.effective, ALL);
        assert!(e.secure);
        // nosuid: nothing changes.
        let e = user()
            .execed(&ExecFile::of(0o4755, 0, 0, true), free())
            .unwrap();
        assert_eq!(
            (e.creds.euid, e.creds.caps.permitted, e.secure),
            (1000, 0, false)
        );
        // No new privileges: the ids and sets stay.
        let nnp = Some(Guard {
            no_new_privs: true,
            ..Guard::default()
        });
        let e = user().execed(&f, nnp).unwrap();
        assert_eq!((e.creds.euid, e.creds.caps.permitted), (1000, 0));
        // Not yet known: the locked path decides.
        assert_eq!(user().execed(&f, None), Err(Errno::NEEDLOCK));
    }

    #[test]
    fn a_shared_fs_context_keeps_the_old_privileges() {
        let g = Some(Guard {
            shared_fs: true,
            ..Guard::default()
        });
        let e = user()
            .execed(&ExecFile::of(0o4755, 0, 0, false), g)
            .unwrap();
        assert_eq!((e.creds.euid, e.creds.caps.permitted), (1000, 0));
    }

    #[test]
    fn set_group_id_needs_group_execute() {
        let e = user()
            .execed(&ExecFile::of(0o2755, 0, 42, false), free())
            .unwrap();
        assert_eq!((e.creds.rgid, e.creds.egid, e.creds.sgid), (1000, 42, 42));
        assert!(e.secure && e.creds.caps.permitted == 0);
        let e = user()
            .execed(&ExecFile::of(0o2745, 0, 42, false), free())
            .unwrap();
        assert_eq!((e.creds.egid, e.secure), (1000, false));
    }

    #[test]
    fn an_untrusted_tracer_keeps_the_old_privileges() {
        let f = ExecFile::of(0o4755, 0, 0, false);
        let g = Some(Guard {
            untrusted_tracer: true,
            ..Guard::default()
        });
        let e = user().execed(&f, g).unwrap();
        assert_eq!((e.creds.euid, e.creds.caps.permitted), (1000, 0));
    }

    #[test]
    fn file_capabilities_raise_a_user_s_sets() {
        let raw = 1u64 << cap::NET_RAW;
        let mut f = ExecFile::of(0o755, 0, 0, false);
        f.fcaps = Some(FileCaps::parse(&v3(1 << cap::NET_RAW, 0, true, 0)).unwrap());
        let e = user().execed(&f, free()).unwrap();
        assert_eq!((e.creds.caps.permitted, e.creds.caps.effective), (raw, raw));
        assert!(e.secure && e.creds.euid == 1000);
        // Without the effective bit they are permitted only.
        f.fcaps.as_mut().unwrap().effective = false;
        let e = user().execed(&f, free()).unwrap();
        assert_eq!((e.creds.caps.permitted, e.creds.caps.effective), (raw, 0));
        // A bounding set without them: an effective file fails.
        let mut u = user();
        u.caps.bounding &= !raw;
        f.fcaps.as_mut().unwrap().effective = true;
        assert_eq!(u.execed(&f, free()), Err(Errno::EPERM));
        // Capabilities set by a root this namespace does not have.
        f.fcaps.as_mut().unwrap().rootid = Some(5000);
        let e = user().execed(&f, free()).unwrap();
        assert_eq!(e.creds.caps.permitted, 0);
    }

    #[test]
    fn root_and_ambient_rules_hold_for_plain_files() {
        let mut root = Creds::root();
        root.caps.bounding &= !(1 << cap::SYS_ADMIN);
        root.caps.effective = 0;
        let e = root.execed(&ExecFile::default(), None).unwrap();
        assert_eq!(e.creds.caps.permitted, ALL & !(1 << cap::SYS_ADMIN));
        assert_eq!(e.creds.caps.effective, e.creds.caps.permitted);
        assert!(!e.secure);
        let raw = 1 << cap::NET_RAW;
        let mut u = user();
        u.caps = Caps {
            permitted: raw,
            inheritable: raw,
            ambient: raw,
            ..Caps::NONE
        };
        let e = u.execed(&ExecFile::default(), None).unwrap();
        assert_eq!((e.creds.caps.effective, e.secure), (raw, false));
        u.caps.ambient = 0;
        let e = u.execed(&ExecFile::default(), None).unwrap();
        assert_eq!(e.creds.caps.permitted, 0);
        // A set-ID file clears the ambient set.
        u.caps.ambient = raw;
        let e = u
            .execed(&ExecFile::of(0o2755, 0, 42, false), free())
            .unwrap();
        assert_eq!(e.creds.caps.ambient, 0);
    }
}
