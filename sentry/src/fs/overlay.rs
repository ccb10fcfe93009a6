//! An overlay: a writable tmpfs upper layer over a read-only lower one (a
//! directory of the gofer-served host root). Reads fall through to the
//! lower layer; creations go to the upper one; changing a lower file
//! copies it up first; removing one leaves a whiteout. The lower layer is
//! never written. Renaming a directory that exists only below is EXDEV, as
//! on Linux's overlayfs without redirect_dir.

use super::file::{File, FileOps};
use super::overlay_follow::Followers;
use super::tmpfs::TmpFs;
use super::vfs::{Caller, Filesystem, SetAttr, XattrOp};
use crate::errno::{Errno, KResult};
use crate::fs::{DirEntry, Stat, StatFs};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

pub struct OverlayFs {
    /// Itself, for its open directories (listed afresh at each rewind).
    me: std::sync::Weak<OverlayFs>,
    upper: Arc<TmpFs>,
    lower: Arc<dyn Filesystem>,
    /// Where this overlay's root is in the lower filesystem ("tmp").
    lower_root: Vec<u8>,
    /// Paths removed from the merged view although the lower layer has them.
    whiteouts: Mutex<HashSet<Vec<u8>>>,
    /// Lower files open for reading, which a copy-up moves to the copy.
    followers: Arc<Followers>,
}

/// Copies a lower file's bytes into its new upper copy (copy-up).
pub(super) fn copy_contents(from: &File, to: &File) -> KResult<()> {
    let mut buf = vec![0u8; 1 << 16];
    let mut off = 0u64;
    loop {
        let n = from.ops.read(from, &mut buf, Some(off))?;
        if n == 0 {
            return Ok(());
        }
        to.ops.write(to, &buf[..n], Some(off))?;
        off += n as u64;
    }
}

pub(super) fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_vec(),
        (_, true) => a.to_vec(),
        _ => [a, b"/", b].concat(),
    }
}

pub(super) fn parent(rel: &[u8]) -> &[u8] {
    match rel.iter().rposition(|&c| c == b'/') {
        Some(i) => &rel[..i],
        None => b"",
    }
}

pub(super) fn is_dir(st: &Stat) -> bool {
    st.mode & libc::S_IFMT == libc::S_IFDIR
}

impl OverlayFs {
    pub fn new(upper: TmpFs, lower: Arc<dyn Filesystem>, lower_root: &[u8]) -> Arc<OverlayFs> {
        Arc::new_cyclic(|me| OverlayFs {
            me: me.clone(),
            upper: Arc::new(upper.upper_layer()),
            lower,
            lower_root: lower_root.to_vec(),
            whiteouts: Mutex::new(HashSet::new()),
            followers: Arc::default(),
        })
    }

    fn whited_out(&self, rel: &[u8]) -> bool {
        let w = self.whiteouts.lock();
        if w.is_empty() {
            return false;
        }
        let mut p = rel;
        loop {
            if w.contains(p) {
                return true;
            }
            if p.is_empty() {
                return false;
            }
            p = parent(p);
        }
    }

    fn upper_stat(&self, c: &Caller, rel: &[u8]) -> Option<Stat> {
        self.upper.lookup(c, rel).ok()
    }

    fn lower_stat(&self, c: &Caller, rel: &[u8]) -> KResult<Stat> {
        if self.whited_out(rel) {
            return Err(Errno::ENOENT);
        }
        // Linux's overlay looks names up one at a time in the lower
        // directory; the lower layer here takes whole paths, which the
        // gofer and the host cap at PATH_MAX. A tree deeper than that
        // (made with *at calls, as mkdir -p and tar make them) lives in
        // the upper layer alone.
        match self.lower.lookup(c, &join(&self.lower_root, rel)) {
            Err(Errno::ENAMETOOLONG) => Err(Errno::ENOENT),
            r => r,
        }
    }

    /// Makes `rel`'s directory chain exist in the upper layer.
    fn copy_up_dirs(&self, c: &Caller, rel: &[u8]) -> KResult<()> {
        if rel.is_empty() || self.upper_stat(c, rel).is_some() {
            return Ok(());
        }
        self.copy_up_dirs(c, parent(rel))?;
        let st = self.lower_stat(c, rel)?;
        if !is_dir(&st) {
            return Err(Errno::ENOTDIR);
        }
        self.upper.mknod(
            c,
            rel,
            libc::S_IFDIR | (st.mode & 0o7777),
            0,
            (st.uid, st.gid),
        )?;
        self.copy_xattrs(c, rel);
        self.upper.set_origin(rel, (st.dev, st.ino))?;
        self.upper.setattr(c, rel, &times_of(&st))
    }

    /// Gives the upper copy at `rel` the lower file's extended attributes
    /// (what the lower filesystem serves of them: user.* and the POSIX
    /// ACLs), as Linux's copy-up does. A lower filesystem without them
    /// gives none.
    fn copy_xattrs(&self, c: &Caller, rel: &[u8]) {
        let lower = join(&self.lower_root, rel);
        let Ok(names) = self.lower.xattr(c, &lower, &XattrOp::List) else {
            return;
        };
        for n in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
            if let Ok(v) = self.lower.xattr(c, &lower, &XattrOp::Get(n)) {
                let _ = self.upper.xattr(c, rel, &XattrOp::Set(n, &v, 0));
            }
        }
    }

    /// Copies a lower file, symlink or directory into the upper layer.
    fn copy_up(&self, c: &Caller, rel: &[u8]) -> KResult<()> {
        if self.upper_stat(c, rel).is_some() {
            return Ok(());
        }
        let st = self.lower_stat(c, rel)?;
        self.copy_up_dirs(c, parent(rel))?;
        match st.mode & libc::S_IFMT {
            libc::S_IFDIR => return self.copy_up_dirs(c, rel),
            libc::S_IFLNK => {
                let t = self.lower.readlink(c, &join(&self.lower_root, rel))?;
                self.upper.symlink(c, rel, &t, (st.uid, st.gid))?;
                return self.upper.set_origin(rel, (st.dev, st.ino));
            }
            libc::S_IFREG => {}
            _ => {
                self.upper
                    .mknod(c, rel, st.mode, st.rdev, (st.uid, st.gid))?;
                self.copy_xattrs(c, rel);
                self.upper.set_origin(rel, (st.dev, st.ino))?;
                return self.upper.setattr(c, rel, &times_of(&st));
            }
        }
        let src = self
            .lower
            .open(c, &join(&self.lower_root, rel), libc::O_RDONLY, 0)?;
        let src = File::new(src, libc::O_RDONLY, Vec::new());
        self.upper.mknod(
            c,
            rel,
            libc::S_IFREG | (st.mode & 0o7777),
            0,
            (st.uid, st.gid),
        )?;
        let dst = File::new(
            self.upper.open(c, rel, libc::O_WRONLY, 0)?,
            libc::O_WRONLY,
            Vec::new(),
        );
        copy_contents(&src, &dst)?;
        self.copy_xattrs(c, rel);
        self.upper.set_origin(rel, (st.dev, st.ino))?;
        self.upper.setattr(c, rel, &times_of(&st))?;
        self.followers
            .copied_up(rel, || self.upper.open(c, rel, libc::O_RDONLY, 0));
        Ok(())
    }

    /// Entries of the merged directory `rel`.
    fn merged_entries(&self, c: &Caller, rel: &[u8]) -> KResult<Vec<DirEntry>> {
        let mut lower = Vec::new();
        if self.lower_stat(c, rel).is_ok_and(|s| is_dir(&s)) {
            let d = self.lower.open(
                c,
                &join(&self.lower_root, rel),
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
            )?;
            lower = d.readdir_for(c)?;
            // Whiteouts of this directory's children (rel itself is visible,
            // so none of its ancestors is whited out).
            let hidden: HashSet<Vec<u8>> = self
                .whiteouts
                .lock()
                .iter()
                .filter(|w| parent(w) == rel && w.len() > rel.len())
                .map(|w| w[if rel.is_empty() { 0 } else { rel.len() + 1 }..].to_vec())
                .collect();
            if !hidden.is_empty() {
                lower.retain(|e| !hidden.contains(&e.name));
            }
        }
        if self.upper_stat(c, rel).is_none() {
            // Nothing to merge: the lower listing as it is.
            return Ok(lower);
        }
        let mut out: BTreeMap<Vec<u8>, DirEntry> =
            lower.into_iter().map(|e| (e.name.clone(), e)).collect();
        let d = self.upper.open(c, rel, libc::O_RDONLY, 0)?;
        for e in d.readdir_for(c)? {
            out.insert(e.name.clone(), e);
        }
        Ok(out.into_values().collect())
    }
}

/// A copy's times: the original's access and modification times.
pub(super) fn times_of(st: &Stat) -> SetAttr {
    SetAttr {
        atime: Some(st.atime),
        mtime: Some(st.mtime),
        ..Default::default()
    }
}

impl super::overlay_mount::Lister for OverlayFs {
    fn list(&self, c: &Caller, rel: &[u8]) -> KResult<Vec<DirEntry>> {
        self.merged_entries(c, rel)
    }
}

impl Filesystem for OverlayFs {
    fn fstype(&self) -> &'static str {
        "overlay"
    }

    fn read_only(&self) -> bool {
        false
    }

    fn lookup(&self, c: &Caller, rel: &[u8]) -> KResult<Stat> {
        if rel.is_empty() {
            // The root keeps the lower root's identity and attributes.
            if let Ok(s) = self.lower.lookup(c, &self.lower_root) {
                return Ok(s);
            }
        }
        match self.upper_stat(c, rel) {
            Some(s) => Ok(s),
            None => self.lower_stat(c, rel),
        }
    }

    fn readlink(&self, c: &Caller, rel: &[u8]) -> KResult<Vec<u8>> {
        if self.upper_stat(c, rel).is_some() {
            return self.upper.readlink(c, rel);
        }
        self.lower_stat(c, rel)?;
        self.lower.readlink(c, &join(&self.lower_root, rel))
    }

    fn open(&self, c: &Caller, rel: &[u8], flags: i32, mode: u32) -> KResult<Box<dyn FileOps>> {
        let st = self.lookup(c, rel)?;
        if is_dir(&st) {
            let fs: Arc<dyn super::overlay_mount::Lister> = self.me.upgrade().ok_or(Errno::EIO)?;
            return Ok(Box::new(super::overlay_mount::MergedDir::new(fs, rel, st)));
        }
        let writes = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        if self.upper_stat(c, rel).is_none() {
            if !writes {
                let f = self
                    .lower
                    .open(c, &join(&self.lower_root, rel), flags, mode)?;
                if st.mode & libc::S_IFMT != libc::S_IFREG || flags & libc::O_PATH != 0 {
                    return Ok(f);
                }
                return Ok(self.followers.follow(f, rel));
            }
            self.copy_up(c, rel)?;
        }
        self.upper.open(c, rel, flags, mode)
    }

    fn mknod(
        &self,
        c: &Caller,
        rel: &[u8],
        mode: u32,
        rdev: u64,
        owner: (u32, u32),
    ) -> KResult<()> {
        self.copy_up_dirs(c, parent(rel))?;
        self.upper.mknod(c, rel, mode, rdev, owner)?;
        self.whiteouts.lock().remove(rel);
        Ok(())
    }

    fn symlink(&self, c: &Caller, rel: &[u8], target: &[u8], owner: (u32, u32)) -> KResult<()> {
        self.copy_up_dirs(c, parent(rel))?;
        self.upper.symlink(c, rel, target, owner)?;
        self.whiteouts.lock().remove(rel);
        Ok(())
    }

    fn link(&self, c: &Caller, old: &[u8], new: &[u8]) -> KResult<()> {
        self.copy_up(c, old)?;
        self.copy_up_dirs(c, parent(new))?;
        self.upper.link(c, old, new)?;
        self.whiteouts.lock().remove(new);
        Ok(())
    }

    // The file lives in the upper layer from the start; its directory
    // need not be copied up until it gets a name there.
    fn tmpfile(
        &self,
        c: &Caller,
        dir: &[u8],
        mode: u32,
        owner: (u32, u32),
        linkable: bool,
    ) -> KResult<Box<dyn FileOps>> {
        if !is_dir(&self.lookup(c, dir)?) {
            return Err(Errno::ENOTDIR);
        }
        self.upper.tmpfile(c, b"", mode, owner, linkable)
    }

    fn link_file(&self, c: &Caller, f: &File, new: &[u8]) -> KResult<()> {
        self.copy_up_dirs(c, parent(new))?;
        self.upper.link_file(c, f, new)?;
        self.whiteouts.lock().remove(new);
        Ok(())
    }

    fn unlink(&self, c: &Caller, rel: &[u8], dir: bool) -> KResult<()> {
        let st = self.lookup(c, rel)?;
        match (is_dir(&st), dir) {
            (true, false) => return Err(Errno::EISDIR),
            (false, true) => return Err(Errno::ENOTDIR),
            (true, true) if !self.merged_entries(c, rel)?.is_empty() => {
                return Err(Errno::ENOTEMPTY)
            }
            _ => {}
        }
        if self.upper_stat(c, rel).is_some() {
            // The merged view was checked empty, so the upper copy is too.
            self.upper.unlink(c, rel, dir)?;
        }
        if self.lower_stat(c, rel).is_ok() {
            self.whiteouts.lock().insert(rel.to_vec());
        }
        Ok(())
    }

    fn rename(&self, c: &Caller, old: &[u8], new: &[u8], flags: u32) -> KResult<()> {
        let st = self.lookup(c, old)?;
        if is_dir(&st) && self.lower_stat(c, old).is_ok() {
            return Err(Errno::EXDEV);
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            let other = self.lookup(c, new)?;
            if is_dir(&other) && self.lower_stat(c, new).is_ok() {
                return Err(Errno::EXDEV);
            }
            self.copy_up(c, new)?;
        }
        if let Ok(t) = self.lookup(c, new) {
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            // An exchange keeps both, whatever their types.
            let exchange = flags & libc::RENAME_EXCHANGE != 0;
            match (is_dir(&st), is_dir(&t)) {
                _ if exchange => {}
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !self.merged_entries(c, new)?.is_empty() => {
                    return Err(Errno::ENOTEMPTY)
                }
                _ => {}
            }
            if self.upper_stat(c, new).is_none() && flags & libc::RENAME_EXCHANGE == 0 {
                // Replacing a lower-only name: it disappears from below.
                self.whiteouts.lock().insert(new.to_vec());
            }
        }
        self.copy_up(c, old)?;
        self.copy_up_dirs(c, parent(new))?;
        self.whiteouts.lock().remove(new);
        self.upper.rename(c, old, new, flags)?;
        if flags & libc::RENAME_EXCHANGE == 0 && self.lower_stat(c, old).is_ok() {
            self.whiteouts.lock().insert(old.to_vec());
        }
        Ok(())
    }

    fn setattr(&self, c: &Caller, rel: &[u8], attr: &SetAttr) -> KResult<()> {
        self.copy_up(c, rel)?;
        self.upper.setattr(c, rel, attr)
    }

    // Files only below have no attributes the sandbox can see; changing
    // one copies the file up first.
    fn xattr(&self, c: &Caller, rel: &[u8], op: &XattrOp) -> KResult<Vec<u8>> {
        if self.upper_stat(c, rel).is_none() {
            self.lookup(c, rel)?;
            match op {
                XattrOp::Get(n) if !super::tmpfs::known_namespace(n) => {
                    return Err(Errno::EOPNOTSUPP)
                }
                // The lower file's own (what its filesystem serves).
                XattrOp::List | XattrOp::Get(_) => {
                    let lower = self.lower.xattr(c, &join(&self.lower_root, rel), op);
                    return match (lower, op) {
                        (Err(e), XattrOp::List) if e == Errno::EOPNOTSUPP => Ok(Vec::new()),
                        (Err(e), _) if e == Errno::EOPNOTSUPP => Err(Errno::ENODATA),
                        (r, _) => r,
                    };
                }
                XattrOp::Remove(_) | XattrOp::Set(..) => self.copy_up(c, rel)?,
            }
        }
        self.upper.xattr(c, rel, op)
    }

    fn fifo(&self, c: &Caller, rel: &[u8]) -> Option<Arc<super::pipe::Pipe>> {
        self.upper.fifo(c, rel)
    }

    /// As Linux's overlayfs: the upper layer's numbers (where writes go:
    /// the sandbox's memory) under the overlay's magic.
    fn statfs(&self) -> KResult<StatFs> {
        Ok(StatFs {
            f_type: super::overlay_mount::OVERLAYFS_SUPER_MAGIC,
            ..self.upper.statfs()?
        })
    }
}
