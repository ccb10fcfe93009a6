//! `mount -t overlay`: a merged view of lower directories, the top one
//! first, under an optional upper directory that takes every change
//! (without one the mount is read-only). The layers are directories of
//! the sandbox's other filesystems, and the on-disk format is Linux's
//! overlayfs': a whiteout is a character device 0:0 that hides the name
//! below it, and a directory with the xattr `trusted.overlay.opaque` =
//! "y" (`user.overlay.opaque` with `userxattr`) hides everything below
//! it, so layers made by other tools (container image layers) work, and
//! what this overlay writes into its upper layer is what Linux would
//! write. Not there: redirect_dir, metacopy, index and xino (Linux's
//! defaults with them off); renaming a directory that exists below is
//! EXDEV, as there. (The sandbox's own root overlay is `overlay.rs`.)

use super::file::{File, FileOps};
use super::overlay::{copy_contents, is_dir, join, parent, times_of};
use super::synth::SynthDir;
use super::vfs::{Caller, Filesystem, SetAttr, XattrOp};
use crate::errno::{Errno, KResult};
use crate::fs::{DirEntry, Stat, StatFs};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// A directory of another filesystem, as a layer.
#[derive(Clone)]
pub struct Layer {
    pub fs: Arc<dyn Filesystem>,
    pub root: Vec<u8>,
}

impl Layer {
    fn at(&self, rel: &[u8]) -> Vec<u8> {
        join(&self.root, rel)
    }
    fn stat(&self, c: &Caller, rel: &[u8]) -> Option<Stat> {
        self.fs.lookup(c, &self.at(rel)).ok()
    }
}

fn is_whiteout(st: &Stat) -> bool {
    st.mode & libc::S_IFMT == libc::S_IFCHR && st.rdev == 0
}

/// The proper ancestors of `rel`, the root first.
fn ancestors(rel: &[u8]) -> Vec<&[u8]> {
    let mut v = vec![&b""[..]];
    for (i, &b) in rel.iter().enumerate() {
        if b == b'/' {
            v.push(&rel[..i]);
        }
    }
    if rel.is_empty() {
        v.clear();
    }
    v
}

/// A merged view that lists a directory's entries for a caller.
pub trait Lister: Send + Sync {
    fn list(&self, c: &Caller, rel: &[u8]) -> KResult<Vec<DirEntry>>;
}

/// An open merged directory: listed when read (again after a rewind),
/// so it shows entries made or removed since it was opened.
pub struct MergedDir {
    fs: Arc<dyn Lister>,
    rel: Vec<u8>,
    stat: Stat,
}

impl MergedDir {
    pub fn new(fs: Arc<dyn Lister>, rel: &[u8], stat: Stat) -> MergedDir {
        MergedDir {
            fs,
            rel: rel.to_vec(),
            stat,
        }
    }
}

impl FileOps for MergedDir {
    fn read(&self, _f: &File, _buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::EISDIR)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(self.stat)
    }
    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        // Listing needs the caller: `readdir_for`.
        Err(Errno::EIO)
    }
    fn readdir_for(&self, c: &Caller) -> KResult<Vec<DirEntry>> {
        self.fs.list(c, &self.rel)
    }
    /// A directory's entries live in the layers' memory or the host's
    /// page cache: nothing of the overlay's own to write out.
    fn sync(&self) -> KResult<()> {
        Ok(())
    }
    fn seek(&self, f: &File, off: i64, whence: i32) -> KResult<u64> {
        SynthDir {
            entries: Vec::new(),
            stat: self.stat,
        }
        .seek(f, off, whence)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

pub struct OverlayMount {
    /// Itself, for its open directories.
    me: std::sync::Weak<OverlayMount>,
    upper: Option<Layer>,
    /// Top first.
    lowers: Vec<Layer>,
    opaque_xattr: &'static [u8],
    dev: u64,
    /// Lower files open for reading, which a copy-up moves to the copy.
    followers: Arc<super::overlay_follow::Followers>,
}

impl OverlayMount {
    pub fn new(
        upper: Option<Layer>,
        lowers: Vec<Layer>,
        userxattr: bool,
        dev: u64,
    ) -> Arc<OverlayMount> {
        Arc::new_cyclic(|me| OverlayMount {
            me: me.clone(),
            upper,
            lowers,
            opaque_xattr: if userxattr {
                b"user.overlay.opaque"
            } else {
                b"trusted.overlay.opaque"
            },
            dev,
            followers: Arc::default(),
        })
    }

    fn layers(&self) -> impl Iterator<Item = &Layer> {
        self.upper.iter().chain(self.lowers.iter())
    }

    fn upper(&self) -> KResult<&Layer> {
        self.upper.as_ref().ok_or(Errno::EROFS)
    }

    fn opaque(&self, c: &Caller, l: &Layer, rel: &[u8]) -> bool {
        l.fs.xattr(c, &l.at(rel), &XattrOp::Get(self.opaque_xattr))
            .is_ok_and(|v| v == b"y")
    }

    /// Whether layer `l` hides everything below it at `rel`: an ancestor
    /// there is a whiteout, not a directory, or an opaque directory.
    fn blocks(&self, c: &Caller, l: &Layer, rel: &[u8]) -> bool {
        for a in ancestors(rel) {
            match l.stat(c, a) {
                None => return false,
                Some(st) if !is_dir(&st) => return true,
                Some(_) if self.opaque(c, l, a) => return true,
                Some(_) => {}
            }
        }
        false
    }

    /// The topmost layer holding `rel` (its index among `layers()`, the
    /// upper first) and what it holds; ENOENT if a whiteout or an opaque
    /// directory hides it.
    fn find(&self, c: &Caller, rel: &[u8]) -> KResult<(usize, Stat)> {
        for (i, l) in self.layers().enumerate() {
            if let Some(st) = l.stat(c, rel) {
                if is_whiteout(&st) {
                    return Err(Errno::ENOENT);
                }
                return Ok((i, st));
            }
            if self.blocks(c, l, rel) {
                break;
            }
        }
        Err(Errno::ENOENT)
    }

    fn layer(&self, i: usize) -> &Layer {
        self.layers().nth(i).expect("layer index from find")
    }

    fn in_upper(&self, i: usize) -> bool {
        i == 0 && self.upper.is_some()
    }

    /// Whether a lower layer shows `rel` (so removing it needs a
    /// whiteout).
    fn below(&self, c: &Caller, rel: &[u8]) -> bool {
        for l in &self.lowers {
            if let Some(st) = l.stat(c, rel) {
                return !is_whiteout(&st);
            }
            if self.blocks(c, l, rel) {
                return false;
            }
        }
        false
    }

    /// Entries of the merged directory `rel`.
    fn entries(&self, c: &Caller, rel: &[u8]) -> KResult<Vec<DirEntry>> {
        let mut out: BTreeMap<Vec<u8>, DirEntry> = BTreeMap::new();
        let mut hidden: HashSet<Vec<u8>> = HashSet::new();
        for l in self.layers() {
            match l.stat(c, rel) {
                Some(st) if is_dir(&st) => {
                    let d =
                        l.fs.open(c, &l.at(rel), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
                    for e in d.readdir_for(c)? {
                        if out.contains_key(&e.name) || hidden.contains(&e.name) {
                            continue;
                        }
                        let wh = e.kind == libc::DT_CHR
                            && l.stat(c, &join(rel, &e.name))
                                .is_some_and(|s| is_whiteout(&s));
                        if wh {
                            hidden.insert(e.name);
                        } else {
                            out.insert(e.name.clone(), e);
                        }
                    }
                    if self.opaque(c, l, rel) {
                        break;
                    }
                }
                Some(_) => break,
                None if self.blocks(c, l, rel) => break,
                None => {}
            }
        }
        Ok(out.into_values().collect())
    }

    /// Makes `rel`'s directory chain exist in the upper layer.
    fn copy_up_dirs(&self, c: &Caller, rel: &[u8]) -> KResult<()> {
        let up = self.upper()?;
        if rel.is_empty() || up.stat(c, rel).is_some_and(|s| is_dir(&s)) {
            return Ok(());
        }
        self.copy_up_dirs(c, parent(rel))?;
        let (_, st) = self.find(c, rel)?;
        if !is_dir(&st) {
            return Err(Errno::ENOTDIR);
        }
        up.fs.mknod(
            c,
            &up.at(rel),
            libc::S_IFDIR | (st.mode & 0o7777),
            0,
            (st.uid, st.gid),
        )?;
        up.fs.setattr(c, &up.at(rel), &times_of(&st))
    }

    /// Copies `rel` from the layer that has it into the upper one.
    fn copy_up(&self, c: &Caller, rel: &[u8]) -> KResult<()> {
        let (i, st) = self.find(c, rel)?;
        if self.in_upper(i) {
            return Ok(());
        }
        let up = self.upper()?;
        let src = self.layer(i);
        self.copy_up_dirs(c, parent(rel))?;
        let dst = up.at(rel);
        match st.mode & libc::S_IFMT {
            libc::S_IFDIR => return self.copy_up_dirs(c, rel),
            libc::S_IFLNK => {
                let t = src.fs.readlink(c, &src.at(rel))?;
                return up.fs.symlink(c, &dst, &t, (st.uid, st.gid));
            }
            libc::S_IFREG => {}
            _ => {
                up.fs.mknod(c, &dst, st.mode, st.rdev, (st.uid, st.gid))?;
                return up.fs.setattr(c, &dst, &times_of(&st));
            }
        }
        let from = File::new(
            src.fs.open(c, &src.at(rel), libc::O_RDONLY, 0)?,
            libc::O_RDONLY,
            Vec::new(),
        );
        up.fs.mknod(
            c,
            &dst,
            libc::S_IFREG | (st.mode & 0o7777),
            0,
            (st.uid, st.gid),
        )?;
        let to = File::new(
            up.fs.open(c, &dst, libc::O_WRONLY, 0)?,
            libc::O_WRONLY,
            Vec::new(),
        );
        copy_contents(&from, &to)?;
        up.fs.setattr(c, &dst, &times_of(&st))?;
        self.followers
            .copied_up(rel, || up.fs.open(c, &dst, libc::O_RDONLY, 0));
        Ok(())
    }

    /// Gets `rel` ready for a new object in the upper layer: its parents
    /// copied up and a whiteout there removed. Returns whether something
    /// below was hidden there (a new directory must then be opaque).
    fn prepare_create(&self, c: &Caller, rel: &[u8]) -> KResult<bool> {
        let up = self.upper()?;
        if self.find(c, rel).is_ok() {
            return Err(Errno::EEXIST);
        }
        self.copy_up_dirs(c, parent(rel))?;
        let whiteout = up.stat(c, rel).is_some_and(|s| is_whiteout(&s));
        if whiteout {
            up.fs.unlink(c, &up.at(rel), false)?;
        }
        Ok(whiteout || self.below(c, rel))
    }

    fn make_opaque(&self, c: &Caller, rel: &[u8]) -> KResult<()> {
        let up = self.upper()?;
        up.fs
            .xattr(c, &up.at(rel), &XattrOp::Set(self.opaque_xattr, b"y", 0))
            .map(|_| ())
    }

    fn whiteout(&self, c: &Caller, rel: &[u8]) -> KResult<()> {
        let up = self.upper()?;
        up.fs.mknod(c, &up.at(rel), libc::S_IFCHR, 0, (0, 0))
    }

    /// Removes upper directory `rel`, which holds nothing but
    /// whiteouts (the merged directory is empty).
    fn remove_upper_dir(&self, c: &Caller, rel: &[u8]) -> KResult<()> {
        let up = self.upper()?;
        let d = up
            .fs
            .open(c, &up.at(rel), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        for e in d.readdir_for(c)? {
            up.fs.unlink(c, &up.at(&join(rel, &e.name)), false)?;
        }
        up.fs.unlink(c, &up.at(rel), true)
    }
}

impl Lister for OverlayMount {
    fn list(&self, c: &Caller, rel: &[u8]) -> KResult<Vec<DirEntry>> {
        self.entries(c, rel)
    }
}

impl Filesystem for OverlayMount {
    fn fstype(&self) -> &'static str {
        "overlay"
    }

    fn read_only(&self) -> bool {
        self.upper.is_none()
    }

    fn lookup(&self, c: &Caller, rel: &[u8]) -> KResult<Stat> {
        let (_, st) = self.find(c, rel)?;
        // Directories are the overlay's own; files keep their layer's
        // device and inode (Linux without xino).
        Ok(if is_dir(&st) {
            Stat {
                dev: self.dev,
                ..st
            }
        } else {
            st
        })
    }

    fn readlink(&self, c: &Caller, rel: &[u8]) -> KResult<Vec<u8>> {
        let (i, _) = self.find(c, rel)?;
        let l = self.layer(i);
        l.fs.readlink(c, &l.at(rel))
    }

    fn open(&self, c: &Caller, rel: &[u8], flags: i32, mode: u32) -> KResult<Box<dyn FileOps>> {
        let st = self.lookup(c, rel)?;
        if is_dir(&st) {
            let fs: Arc<dyn Lister> = self.me.upgrade().ok_or(Errno::EIO)?;
            return Ok(Box::new(MergedDir::new(fs, rel, st)));
        }
        let writes = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        let (i, _) = self.find(c, rel)?;
        if writes && !self.in_upper(i) {
            self.copy_up(c, rel)?;
            let up = self.upper()?;
            return up.fs.open(c, &up.at(rel), flags, mode);
        }
        let l = self.layer(i);
        let f = l.fs.open(c, &l.at(rel), flags, mode)?;
        if self.in_upper(i) || st.mode & libc::S_IFMT != libc::S_IFREG {
            return Ok(f);
        }
        Ok(self.followers.follow(f, rel))
    }

    fn mknod(
        &self,
        c: &Caller,
        rel: &[u8],
        mode: u32,
        rdev: u64,
        owner: (u32, u32),
    ) -> KResult<()> {
        let hid = self.prepare_create(c, rel)?;
        let up = self.upper()?;
        up.fs.mknod(c, &up.at(rel), mode, rdev, owner)?;
        if hid && mode & libc::S_IFMT == libc::S_IFDIR {
            self.make_opaque(c, rel)?;
        }
        Ok(())
    }

    fn symlink(&self, c: &Caller, rel: &[u8], target: &[u8], owner: (u32, u32)) -> KResult<()> {
        self.prepare_create(c, rel)?;
        let up = self.upper()?;
        up.fs.symlink(c, &up.at(rel), target, owner)
    }

    fn link(&self, c: &Caller, old: &[u8], new: &[u8]) -> KResult<()> {
        self.upper()?;
        self.copy_up(c, old)?;
        self.prepare_create(c, new)?;
        let up = self.upper()?;
        up.fs.link(c, &up.at(old), &up.at(new))
    }

    fn tmpfile(
        &self,
        c: &Caller,
        dir: &[u8],
        mode: u32,
        owner: (u32, u32),
        linkable: bool,
    ) -> KResult<Box<dyn FileOps>> {
        let up = self.upper()?;
        if !is_dir(&self.find(c, dir)?.1) {
            return Err(Errno::ENOTDIR);
        }
        up.fs.tmpfile(c, &up.at(b""), mode, owner, linkable)
    }

    fn link_file(&self, c: &Caller, f: &File, new: &[u8]) -> KResult<()> {
        self.prepare_create(c, new)?;
        let up = self.upper()?;
        up.fs.link_file(c, f, &up.at(new))
    }

    fn unlink(&self, c: &Caller, rel: &[u8], dir: bool) -> KResult<()> {
        let up = self.upper()?;
        let (i, st) = self.find(c, rel)?;
        match (is_dir(&st), dir) {
            (true, false) => return Err(Errno::EISDIR),
            (false, true) => return Err(Errno::ENOTDIR),
            (true, true) if !self.entries(c, rel)?.is_empty() => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        if self.in_upper(i) {
            if dir {
                self.remove_upper_dir(c, rel)?;
            } else {
                up.fs.unlink(c, &up.at(rel), false)?;
            }
        }
        if self.below(c, rel) {
            self.copy_up_dirs(c, parent(rel))?;
            self.whiteout(c, rel)?;
        }
        Ok(())
    }

    fn rename(&self, c: &Caller, old: &[u8], new: &[u8], flags: u32) -> KResult<()> {
        let up = self.upper()?;
        if flags & libc::RENAME_EXCHANGE != 0 || flags & libc::RENAME_WHITEOUT != 0 {
            return Err(Errno::EINVAL);
        }
        let (_, st) = self.find(c, old)?;
        // Without redirect_dir a directory that exists below cannot move.
        if is_dir(&st) && self.below(c, old) {
            return Err(Errno::EXDEV);
        }
        let target = self.find(c, new).ok();
        if let Some((_, t)) = &target {
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            match (is_dir(&st), is_dir(t)) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !self.entries(c, new)?.is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        self.copy_up(c, old)?;
        self.copy_up_dirs(c, parent(new))?;
        // What is at `new` in the upper layer goes (an empty directory
        // of whiteouts, a whiteout); the rename replaces the rest.
        if let Some(s) = up.stat(c, new) {
            if is_dir(&s) {
                self.remove_upper_dir(c, new)?;
            } else if is_whiteout(&s) {
                up.fs.unlink(c, &up.at(new), false)?;
            }
        }
        let hides_below = self.below(c, new);
        up.fs.rename(c, &up.at(old), &up.at(new), flags)?;
        if is_dir(&st) && hides_below {
            self.make_opaque(c, new)?;
        }
        if self.below(c, old) {
            self.whiteout(c, old)?;
        }
        Ok(())
    }

    fn setattr(&self, c: &Caller, rel: &[u8], attr: &SetAttr) -> KResult<()> {
        self.copy_up(c, rel)?;
        let up = self.upper()?;
        up.fs.setattr(c, &up.at(rel), attr)
    }

    fn xattr(&self, c: &Caller, rel: &[u8], op: &XattrOp) -> KResult<Vec<u8>> {
        // The overlay's own attributes are not the application's.
        let own = |n: &[u8]| n.starts_with(b"trusted.overlay.") || n == self.opaque_xattr;
        match op {
            XattrOp::Get(n) | XattrOp::Remove(n) | XattrOp::Set(n, ..) if own(n) => {
                return Err(Errno::ENODATA)
            }
            _ => {}
        }
        if let XattrOp::Set(..) | XattrOp::Remove(_) = op {
            self.copy_up(c, rel)?;
        }
        let (i, _) = self.find(c, rel)?;
        let l = self.layer(i);
        let v = l.fs.xattr(c, &l.at(rel), op)?;
        if let XattrOp::List = op {
            return Ok(v
                .split(|&b| b == 0)
                .filter(|n| !n.is_empty() && !own(n))
                .flat_map(|n| n.iter().copied().chain([0]))
                .collect());
        }
        Ok(v)
    }

    fn fifo(&self, c: &Caller, rel: &[u8]) -> Option<Arc<super::pipe::Pipe>> {
        let (i, _) = self.find(c, rel).ok()?;
        let l = self.layer(i);
        l.fs.fifo(c, &l.at(rel))
    }

    fn statfs(&self) -> KResult<StatFs> {
        let mut s = self.layers().next().ok_or(Errno::EIO)?.fs.statfs()?;
        s.f_type = OVERLAYFS_SUPER_MAGIC;
        Ok(s)
    }
}

pub(super) const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// mount -t overlay's options: the lower directories (top first), the
/// upper and work directories, and `userxattr`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub lower: Vec<Vec<u8>>,
    pub upper: Option<Vec<u8>>,
    pub work: Option<Vec<u8>>,
    pub userxattr: bool,
}

/// Splits at unescaped `sep`, dropping the backslash of `\sep` and `\\`.
fn split_escaped(s: &[u8], sep: u8) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    let mut it = s.iter();
    while let Some(&b) = it.next() {
        if b == b'\\' {
            if let Some(&n) = it.next() {
                out.last_mut().expect("one part").push(n);
            }
        } else if b == sep {
            out.push(Vec::new());
        } else {
            out.last_mut().expect("one part").push(b);
        }
    }
    out
}

impl Options {
    /// Parses the data argument; EINVAL for a missing lowerdir, an upper
    /// directory without a work one, or a feature this overlay lacks
    /// (on its own side of Linux's defaults, "off" is accepted).
    pub fn parse(data: &[u8]) -> KResult<Options> {
        let mut o = Options::default();
        for opt in split_escaped_keep(data) {
            let (k, v) = match opt.iter().position(|&b| b == b'=') {
                Some(i) => (&opt[..i], Some(&opt[i + 1..])),
                None => (&opt[..], None),
            };
            match (k, v) {
                (b"lowerdir", Some(v)) => {
                    o.lower = split_escaped(v, b':');
                    if o.lower.iter().any(|l| l.is_empty()) {
                        return Err(Errno::EINVAL);
                    }
                }
                (b"upperdir", Some(v)) if !v.is_empty() => o.upper = Some(unescape(v)),
                (b"workdir", Some(v)) if !v.is_empty() => o.work = Some(unescape(v)),
                (b"userxattr", None) => o.userxattr = true,
                (
                    b"redirect_dir" | b"index" | b"metacopy" | b"xino" | b"nfs_export",
                    Some(b"off"),
                ) => {}
                (b"redirect_dir", Some(b"nofollow")) => {}
                (b"volatile" | b"default_permissions", None) => {}
                _ => return Err(Errno::EINVAL),
            }
        }
        if o.lower.is_empty() || o.upper.is_some() != o.work.is_some() {
            return Err(Errno::EINVAL);
        }
        Ok(o)
    }
}

/// Options split at unescaped commas, escapes kept for the values.
fn split_escaped_keep(s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    let mut it = s.iter();
    while let Some(&b) = it.next() {
        let cur = out.last_mut().expect("one part");
        if b == b'\\' {
            cur.push(b);
            if let Some(&n) = it.next() {
                cur.push(n);
            }
        } else if b == b',' {
            out.push(Vec::new());
        } else {
            cur.push(b);
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

fn unescape(v: &[u8]) -> Vec<u8> {
    split_escaped(v, 0).concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse() {
        let o = Options::parse(b"lowerdir=/a:/b\\:c,upperdir=/u,workdir=/w").unwrap();
        assert_eq!(o.lower, vec![b"/a".to_vec(), b"/b:c".to_vec()]);
        assert_eq!(o.upper.as_deref(), Some(&b"/u"[..]));
        assert!(Options::parse(b"upperdir=/u,workdir=/w").is_err());
        assert!(Options::parse(b"lowerdir=/a,upperdir=/u").is_err());
        assert!(Options::parse(b"lowerdir=/a,metacopy=on").is_err());
        assert!(
            Options::parse(b"lowerdir=/a,index=off,userxattr")
                .unwrap()
                .userxattr
        );
        assert!(Options::parse(b"lowerdir=/a::/b").is_err());
    }

    #[test]
    fn ancestors_run_from_the_root() {
        assert_eq!(ancestors(b"a/b/c"), vec![&b""[..], b"a", b"a/b"]);
        assert!(ancestors(b"").is_empty());
        assert_eq!(ancestors(b"a"), vec![&b""[..]]);
    }
}
