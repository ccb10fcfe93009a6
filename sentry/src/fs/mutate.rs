//! Changes to the tree through the VFS: the filesystem does the change,
//! then the dentries follow and inotify hears about it, in Linux's order,
//! whichever system call asked. Callers have walked to the names and made
//! the permission checks.

use super::acl;
use super::file::File;
use super::inotify::{IN_ATTRIB, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_MODIFY};
use super::vfs::{Caller, PathRef, Resolved, SetAttr, Vfs, XattrOp};
use crate::errno::KResult;
use std::sync::Arc;

/// What a new node gets from its directory: its mode and owner, and
/// under a default ACL its access ACL and (a directory) the default.
struct Born {
    mode: u32,
    owner: (u32, u32),
    access: Option<acl::Acl>,
    default: Option<acl::Acl>,
}

/// The directory part of a path inside a filesystem ("" at its root).
fn parent_rel(rel: &[u8]) -> &[u8] {
    rel.iter()
        .rposition(|&b| b == b'/')
        .map_or(&[][..], |i| &rel[..i])
}

/// A size change is a modification; anything else an attribute change.
pub fn attr_event(a: &SetAttr) -> u32 {
    if a.size.is_some() {
        IN_MODIFY
    } else {
        IN_ATTRIB
    }
}

impl Vfs {
    /// What a new node at `r` gets from its directory (Linux's
    /// inode_init_owner and posix_acl_create): in a set-group-ID
    /// directory the directory's group, and a new directory the bit too;
    /// a set-group-ID executable made by someone outside its group
    /// (without CAP_FSETID) loses it. Under a default ACL the node's ACLs
    /// come from it and the umask does not apply.
    fn inherit(&self, c: &Caller, r: &Resolved, mode: u32, umask: u32, owner: (u32, u32)) -> Born {
        let mut parent = super::vfs::split(&r.path);
        parent.pop();
        let rel = parent_rel(&r.rel);
        self.inherit_in(c, &parent, (&r.mount, rel), mode, umask, owner)
    }

    /// `inherit` for a node in the directory at `parent` (components),
    /// which is `dir` (its mount and path there).
    fn inherit_in(
        &self,
        c: &Caller,
        parent: &[Vec<u8>],
        dir: (&Arc<super::vfs::Mount>, &[u8]),
        mut mode: u32,
        umask: u32,
        mut owner: (u32, u32),
    ) -> Born {
        let mut dflt = None;
        if let Ok(d) = self.lstat(c, parent) {
            if d.mode & libc::S_ISGID != 0 {
                owner.1 = d.gid;
                if mode & libc::S_IFMT == libc::S_IFDIR {
                    mode |= libc::S_ISGID;
                }
            }
            if d.default_acl && mode & libc::S_IFMT != libc::S_IFLNK {
                dflt = dir
                    .0
                    .fs
                    .xattr(c, dir.1, &XattrOp::Get(acl::DEFAULT))
                    .ok()
                    .and_then(|v| acl::Acl::from_stored(&v));
            }
        }
        if dflt.is_none() {
            mode &= !(umask & 0o777);
        }
        let sgid_exec = libc::S_ISGID | libc::S_IXGRP;
        if mode & libc::S_IFMT != libc::S_IFDIR && mode & sgid_exec == sgid_exec {
            if let Some(cr) = c.creds() {
                let member = cr.fsgid == owner.1 || cr.groups.contains(&owner.1);
                let fsetid = cr.capable_wrt(crate::kernel::creds::cap::FSETID, owner.0, owner.1);
                if !member && !fsetid {
                    mode &= !libc::S_ISGID;
                }
            }
        }
        let (access, default) = match dflt {
            Some(d) => {
                let (m, access) = d.create(mode);
                mode = m;
                let dir = mode & libc::S_IFMT == libc::S_IFDIR;
                (access, dir.then_some(d))
            }
            None => (None, None),
        };
        Born {
            mode,
            owner,
            access,
            default,
        }
    }

    /// Gives a node just made at `rel` of `fs` the ACLs it inherited.
    fn give_acls(&self, c: &Caller, fs: &Arc<dyn super::vfs::Filesystem>, rel: &[u8], b: &Born) {
        for (name, acl) in [(acl::ACCESS, &b.access), (acl::DEFAULT, &b.default)] {
            if let Some(a) = acl {
                // The node exists and its filesystem keeps ACLs (its
                // directory had one): nothing to fail but memory.
                let _ = fs.xattr(c, rel, &XattrOp::Set(name, &a.stored(), 0));
            }
        }
    }

    /// mknod(2)/mkdir(2)/open(O_CREAT) of the absent `r`: a node of `mode`
    /// (type and permissions) owned by `owner`.
    /// `mode` is what the call asked for: `umask` applies here, unless
    /// the directory has a default ACL.
    pub fn mknod(
        &self,
        c: &Caller,
        r: &Resolved,
        mode: u32,
        umask: u32,
        rdev: u64,
        owner: (u32, u32),
    ) -> KResult<()> {
        let dir = mode & libc::S_IFMT == libc::S_IFDIR;
        let b = self.inherit(c, r, mode, umask, owner);
        self.changing(|| {
            r.mount.fs.mknod(c, &r.rel, b.mode, rdev, b.owner)?;
            self.give_acls(c, &r.mount.fs, &r.rel, &b);
            KResult::Ok(())
        })?;
        self.inotify.note(&r.path, IN_CREATE, dir);
        Ok(())
    }

    /// symlink(2) at the absent `r`.
    pub fn symlink(
        &self,
        c: &Caller,
        r: &Resolved,
        target: &[u8],
        owner: (u32, u32),
    ) -> KResult<()> {
        let owner = self.inherit(c, r, libc::S_IFLNK, 0, owner).owner;
        self.changing(|| r.mount.fs.symlink(c, &r.rel, target, owner))?;
        self.inotify.note(&r.path, IN_CREATE, false);
        Ok(())
    }

    /// link(2) of `o` at the absent `n` (same filesystem).
    pub fn link(&self, c: &Caller, o: &Resolved, n: &Resolved) -> KResult<()> {
        self.changing(|| n.mount.fs.link(c, &o.rel, &n.rel))?;
        self.inotify.note_self(&o.path, IN_ATTRIB, o.stat);
        self.inotify.note(&n.path, IN_CREATE, false);
        Ok(())
    }

    /// open(O_TMPFILE) in the directory `dir`: a regular file of `mode`
    /// with no name, open with `flags`, owned by `owner` (as its
    /// directory makes it); O_EXCL keeps it from ever being linked.
    /// Under a default ACL it gets the access ACL that makes (where its
    /// filesystem keeps ACLs for an unnamed file, tmpfs's; elsewhere the
    /// mode alone, with the owning group's bits).
    pub fn tmpfile(
        &self,
        c: &Caller,
        dir: &Resolved,
        flags: i32,
        mode: u32,
        umask: u32,
        owner: (u32, u32),
    ) -> KResult<Arc<File>> {
        let comps = super::vfs::split(&dir.path);
        let at = (&dir.mount, &dir.rel[..]);
        let Born {
            mut mode,
            owner,
            access,
            ..
        } = self.inherit_in(c, &comps, at, libc::S_IFREG | mode, umask, owner);
        // Made with the owning group's own bits, not the mask's, until
        // the ACL is on the file (and for good where it cannot be).
        if let Some(a) = &access {
            mode = (mode & !0o070) | (a.owning_group() << 3);
        }
        let linkable = flags & libc::O_EXCL == 0;
        let ops = dir.mount.fs.tmpfile(c, &dir.rel, mode, owner, linkable)?;
        if let Some(a) = &access {
            ops.take_acl(&a.stored());
        }
        let st = ops.stat()?;
        let hold = self.write_access.writer((st.dev, st.ino))?;
        let name = format!("#{}", st.ino).into_bytes();
        let dentry = dir.mount.dcache.orphan(&dir.rel, &name);
        let keep = flags
            & !(libc::O_CREAT
                | libc::O_EXCL
                | libc::O_NOCTTY
                | libc::O_TRUNC
                | libc::O_CLOEXEC
                | libc::O_DIRECTORY
                | (libc::O_TMPFILE & !libc::O_DIRECTORY));
        let f = File::at(
            ops,
            keep,
            PathRef {
                mount: dir.mount.clone(),
                dentry,
            },
        );
        f.watch_with(&self.inotify);
        f.hold_write(hold);
        Ok(f)
    }

    /// linkat(2) of open file `f`, which has no name, at the absent `n`.
    pub fn link_file(&self, c: &Caller, f: &File, n: &Resolved) -> KResult<()> {
        self.changing(|| n.mount.fs.link_file(c, f, &n.rel))?;
        self.inotify.note(&n.path, IN_CREATE, false);
        Ok(())
    }

    /// unlink(2)/rmdir(2) of `r`: the name goes, its dentry dies.
    pub fn remove(&self, c: &Caller, r: &Resolved, dir: bool) -> KResult<()> {
        self.changing(|| {
            r.mount.fs.unlink(c, &r.rel, dir)?;
            r.mount.dcache.removed(&r.rel, r.stat);
            KResult::Ok(())
        })?;
        // Linux's order: the link count, the object itself, its directory.
        if !dir {
            self.inotify.note_self(&r.path, IN_ATTRIB, r.stat);
        }
        if dir || r.stat.is_some_and(|s| s.nlink <= 1) {
            self.inotify.note_self(&r.path, IN_DELETE_SELF, r.stat);
        }
        self.inotify.note(&r.path, IN_DELETE, dir);
        Ok(())
    }

    /// rename(2) of `o` to `n` on one filesystem: the dentries follow.
    pub fn rename(&self, c: &Caller, o: &Resolved, n: &Resolved, flags: u32) -> KResult<()> {
        let exchange = flags & libc::RENAME_EXCHANGE != 0;
        self.changing(|| {
            o.mount.fs.rename(c, &o.rel, &n.rel, flags)?;
            o.mount.dcache.renamed(&o.rel, &n.rel, exchange, n.stat);
            KResult::Ok(())
        })?;
        // A rename onto the same object changes nothing (no events).
        let same = o.path == n.path
            || matches!((o.stat, n.stat), (Some(a), Some(b)) if a.dev == b.dev && a.ino == b.ino);
        let dir = |r: &Resolved| r.stat.is_some_and(|s| s.is_dir());
        if same {
        } else if exchange {
            self.inotify.exchange(&o.path, &n.path, dir(o), dir(n));
        } else {
            self.inotify.rename(&o.path, &n.path, dir(o), n.stat);
        }
        Ok(())
    }

    /// chmod/chown/utimensat/truncate of `r` by path.
    pub fn setattr(&self, c: &Caller, r: &Resolved, attr: &SetAttr) -> KResult<()> {
        self.changing(|| r.mount.fs.setattr(c, &r.rel, attr))?;
        let dir = r.stat.is_some_and(|s| s.is_dir());
        self.inotify.note(&r.path, attr_event(attr), dir);
        Ok(())
    }

    /// An extended attribute of `r` was set or removed.
    pub fn xattr_changed(&self, r: &Resolved) {
        let dir = r.stat.is_some_and(|s| s.is_dir());
        self.inotify.note(&r.path, IN_ATTRIB, dir);
    }
}
