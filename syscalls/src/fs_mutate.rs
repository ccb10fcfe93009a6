//! System calls that change the filesystem: creating, linking, removing,
//! renaming, and changing attributes. Errors come in Linux's order: path
//! errors first (ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG), then EEXIST for
//! creations, then EROFS on read-only mounts; removals check only the
//! parent before EROFS, as Linux does. Each change is reported to inotify.

use crate::abi::{get, pcx, Pcx, CWD};
use crate::fs::fdget;
use crate::table::{Reg, Support::*};
use sentry::fs::mutate::attr_event;
use sentry::fs::vfs::{Resolved, SetAttr, MAY_EXEC, MAY_WRITE};
use sentry::fs::Stat;
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    r("mkdir", "po", Full, mkdir);
    r("mkdirat", "dpo", Full, mkdirat);
    r("mknod", "pox", Full, mknod);
    r("mknodat", "dpox", Full, mknodat);
    r("symlink", "pp", Full, symlink);
    r("symlinkat", "pdp", Full, symlinkat);
    r("link", "pp", Full, link);
    r("linkat", "dpdpx", Full, linkat);
    r("unlink", "p", Full, unlink);
    r("rmdir", "p", Full, rmdir);
    r("unlinkat", "dpx", Full, unlinkat);
    r("rename", "pp", Full, rename);
    r("renameat", "dpdp", Full, renameat);
    r("renameat2", "dpdpx", Full, renameat2);
    r("chmod", "po", Full, chmod);
    r("fchmodat", "dpo", Full, fchmodat);
    r("fchmodat2", "dpox", Full, fchmodat2);
    r("chown", "puu", Full, chown);
    r("lchown", "puu", Full, lchown);
    r("fchownat", "dpuux", Full, fchownat);
    r("fchmod", "do", Full, fchmod);
    r("fchown", "duu", Full, fchown);
    r("utimensat", "dpax", Full, utimensat);
    r("utimes", "pa", Full, utimes);
    r("utime", "pa", Full, utime);
    r("futimesat", "dpa", Full, futimesat);
    r("truncate", "pi", Full, truncate);
}

fn writable(r: &Resolved) -> bool {
    r.mount.flags & libc::MS_RDONLY == 0 && !r.mount.fs.read_only()
}

/// The error for changing something on `r`'s read-only mount.
fn refuse(r: &Resolved) -> Errno {
    // A new name where every name is generated (proc) is not there.
    if r.stat.is_none() && r.mount.flags & libc::MS_RDONLY == 0 && r.mount.fs.names_fixed() {
        return Errno::ENOENT;
    }
    if r.mount.flags & libc::MS_RDONLY != 0 || r.mount.point == b"/" {
        Errno::EROFS
    } else {
        Errno::EPERM
    }
}

fn owner(p: &Pcx<'_>) -> KResult<(u32, u32)> {
    let c = p.creds()?;
    Ok((c.fsuid, c.fsgid))
}

/// `path` split into its parent and last component ("" for "/").
fn split_last(p: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let t = p.strip_suffix(b"/").filter(|t| !t.is_empty()).unwrap_or(p);
    match t.iter().rposition(|&c| c == b'/') {
        Some(0) => (b"/".to_vec(), t[1..].to_vec()),
        Some(i) => (t[..i].to_vec(), t[i + 1..].to_vec()),
        None if t == b"/" => (b"/".to_vec(), Vec::new()),
        None => (b".".to_vec(), t.to_vec()),
    }
}

/// Where a new name goes: its parent must exist, the name must not.
fn new_name(p: &Pcx<'_>, dirfd: u64, path: u64) -> KResult<Resolved> {
    new_name_of(p, dirfd, &p.path(path)?, false)
}

/// `new_name` of a path already read; `dir` for mkdir, the one creation
/// a trailing slash suits. A name that exists is EEXIST even when it is
/// a symlink the slash would follow (Linux's filename_create); a
/// trailing slash on any other new name is ENOENT.
fn new_name_of(p: &Pcx<'_>, dirfd: u64, path: &[u8], dir: bool) -> KResult<Resolved> {
    let (bare, trailing) = without_slashes(path);
    let r = p.resolve(dirfd, bare, false)?;
    if r.stat.is_some() {
        return Err(Errno::EEXIST);
    }
    if trailing && !dir {
        return Err(Errno::ENOENT);
    }
    if !writable(&r) {
        return Err(refuse(&r));
    }
    may_change_dir(p, &r.path)?;
    Ok(r)
}

/// `path` without its trailing slashes ("/" stays), and whether it had
/// any. Calls that act on a name itself (create, remove, rename) look
/// the last component up as it is, a symlink included: the slash only
/// asks that it be a directory.
fn without_slashes(path: &[u8]) -> (&[u8], bool) {
    let len = path
        .iter()
        .rposition(|&c| c != b'/')
        .map_or(path.len().min(1), |i| i + 1);
    (&path[..len], len < path.len())
}

/// The directory holding canonical `path`, resolved.
fn dir_of(p: &Pcx<'_>, path: &[u8]) -> KResult<Resolved> {
    let (parent, _) = split_last(path);
    p.resolve(CWD, &parent, true)
}

/// Adding or removing a name in the directory of `path` needs write and
/// search permission on it.
fn may_change_dir(p: &Pcx<'_>, path: &[u8]) -> KResult<()> {
    if p.w.c.overrides() {
        return Ok(());
    }
    let d = dir_of(p, path)?;
    p.w.c
        .check(&d.stat.ok_or(Errno::ENOENT)?, MAY_WRITE | MAY_EXEC)
}

/// Removing or renaming away `victim` (at canonical `path`): the
/// directory's permissions, and in a sticky directory only the owner of
/// the file or of the directory may do it.
fn may_remove(p: &Pcx<'_>, path: &[u8], victim: &Stat) -> KResult<()> {
    if p.w.c.overrides() {
        return Ok(());
    }
    let d = dir_of(p, path)?;
    let dst = d.stat.ok_or(Errno::ENOENT)?;
    p.w.c.check(&dst, MAY_WRITE | MAY_EXEC)?;
    let c = p.creds()?;
    let uid = c.fsuid;
    if dst.mode & libc::S_ISVTX != 0
        && uid != dst.uid
        && uid != victim.uid
        && !c.capable_wrt(sentry::kernel::creds::cap::FOWNER, victim.uid, victim.gid)
    {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// An existing path whose attributes change.
fn existing(p: &Pcx<'_>, dirfd: u64, path: u64, follow: bool) -> KResult<Resolved> {
    let r = p.resolve(dirfd, &p.path(path)?, follow)?;
    r.stat.ok_or(Errno::ENOENT)?;
    Ok(r)
}

pub(crate) fn do_mknod(p: &Pcx<'_>, dirfd: u64, path: u64, mode: u64, dev: u64) -> KResult<u64> {
    p.vfs().changing(|| {
        let mode = crate::abi::uint(mode);
        match mode & libc::S_IFMT {
            0 | libc::S_IFREG | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO | libc::S_IFSOCK => {}
            libc::S_IFDIR => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        }
        // Devices need CAP_MKNOD (a 0:0 whiteout does not).
        let device = matches!(mode & libc::S_IFMT, libc::S_IFCHR | libc::S_IFBLK)
            && !(mode & libc::S_IFMT == libc::S_IFCHR && dev == 0);
        if device && !p.creds()?.capable(sentry::kernel::creds::cap::MKNOD) {
            return Err(Errno::EPERM);
        }
        let r = new_name(p, dirfd, path)?;
        let o = owner(p)?;
        let mode = (mode & libc::S_IFMT) | (mode & 0o7777);
        p.vfs().mknod(&p.w.c, &r, mode, p.umask(), dev, o)?;
        Ok(0)
    })
}
/// bind(2) of a unix socket to `path`: a socket node made as mknod
/// makes one (EADDRINUSE where the name exists), and its identity.
/// `perm` is the socket's own mode (what fchmod gave it, else 0777).
pub(crate) fn make_socket_node(
    p: &Pcx<'_>,
    path: &[u8],
    perm: u32,
) -> KResult<sentry::socket::NodeId> {
    p.vfs().changing(|| {
        let r = new_name_of(p, CWD, path, false).map_err(|e| {
            if e == Errno::EEXIST {
                Errno::EADDRINUSE
            } else {
                e
            }
        })?;
        let o = owner(p)?;
        // unix_bind takes the umask itself, default ACL or not.
        let mode = libc::S_IFSOCK | (perm & 0o777 & !p.umask());
        p.vfs().mknod(&p.w.c, &r, mode, 0, 0, o)?;
        let st = p.resolve(CWD, path, false)?.stat.ok_or(Errno::ENOENT)?;
        Ok((st.dev, st.ino))
    })
}

/// Takes back the node of a bind that failed after making it.
pub(crate) fn unmake_socket_node(p: &Pcx<'_>, path: &[u8]) {
    p.vfs().changing(|| {
        if let Ok(r) = p.resolve(CWD, path, false) {
            if r.stat
                .is_some_and(|s| s.mode & libc::S_IFMT == libc::S_IFSOCK)
            {
                let _ = p.vfs().remove(&p.w.c, &r, false);
            }
        }
    })
}

/// The socket node `path` names (connect(2), sendto(2)): EACCES without
/// write permission on it, ECONNREFUSED when it is not a socket.
pub(crate) fn socket_node(p: &Pcx<'_>, path: &[u8]) -> KResult<sentry::socket::NodeId> {
    let r = p.resolve(CWD, path, true)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    p.w.c.check(&st, MAY_WRITE)?;
    if st.mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(Errno::ECONNREFUSED);
    }
    Ok((st.dev, st.ino))
}

pub(crate) fn do_mkdir(p: &Pcx<'_>, dirfd: u64, path: u64, mode: u64) -> KResult<u64> {
    p.vfs().changing(|| {
        let r = new_name_of(p, dirfd, &p.path(path)?, true)?;
        // Linux keeps only the permissions and the sticky bit.
        let perm = crate::abi::uint(mode) & 0o1777;
        let o = owner(p)?;
        p.vfs()
            .mknod(&p.w.c, &r, libc::S_IFDIR | perm, p.umask(), 0, o)?;
        Ok(0)
    })
}
fn mkdir(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_mkdir(&pcx(ctx), CWD, a[0], a[1])
}
fn mkdirat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_mkdir(&pcx(ctx), a[0], a[1], a[2])
}
fn mknod(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_mknod(&pcx(ctx), CWD, a[0], a[1], a[2])
}
fn mknodat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_mknod(&pcx(ctx), a[0], a[1], a[2], a[3])
}
pub(crate) fn do_symlink(p: &Pcx<'_>, target: u64, dirfd: u64, path: u64) -> KResult<u64> {
    p.vfs().changing(|| {
        let t = p.path(target)?;
        let r = new_name(p, dirfd, path)?;
        let o = owner(p)?;
        p.vfs().symlink(&p.w.c, &r, &t, o)?;
        Ok(0)
    })
}
fn symlink(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_symlink(&pcx(ctx), a[0], CWD, a[1])
}
fn symlinkat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_symlink(&pcx(ctx), a[0], a[1], a[2])
}
pub(crate) fn do_link(
    p: &Pcx<'_>,
    olddir: u64,
    old: u64,
    newdir: u64,
    new: u64,
    flags: u64,
) -> KResult<u64> {
    p.vfs().changing(|| {
        if flags & !((libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) as u64) != 0 {
            return Err(Errno::EINVAL);
        }
        let follow = flags & libc::AT_SYMLINK_FOLLOW as u64 != 0;
        // The source is a name, or an open file: the fd itself with
        // AT_EMPTY_PATH (which takes CAP_DAC_READ_SEARCH), or the file a
        // followed /proc/PID/fd link stands for.
        let raw = sentry::mm::read_cstr(p.mm, old, libc::PATH_MAX as usize - 1)?;
        let o = if flags & libc::AT_EMPTY_PATH as u64 != 0 && raw.is_empty() {
            let cap = sentry::kernel::creds::cap::DAC_READ_SEARCH;
            if !p.creds()?.capable(cap) {
                return Err(Errno::ENOENT);
            }
            let f = match crate::abi::int(olddir) {
                libc::AT_FDCWD => return Err(Errno::EPERM),
                fd => p.w.files.lock().get(fd)?,
            };
            Err(f)
        } else {
            let o = existing(p, olddir, old, follow)?;
            match o.reopen.clone() {
                Some(f) => Err(f),
                None => Ok(o),
            }
        };
        let o = match o {
            Ok(o) => o,
            Err(f) => return link_open_file(p, &f, newdir, new),
        };
        // fs.protected_hardlinks refuses before the directory's own
        // permissions do (may_linkat comes before vfs_link's check).
        let n = match new_name(p, newdir, new) {
            Err(e) if e == Errno::EACCES => {
                may_hardlink(p.creds()?, &o.stat.unwrap_or_default())?;
                return Err(e);
            }
            n => n?,
        };
        if o.mount.point != n.mount.point {
            return Err(Errno::EXDEV);
        }
        may_hardlink(p.creds()?, &o.stat.unwrap_or_default())?;
        p.vfs().link(&p.w.c, &o, &n)?;
        Ok(0)
    })
}

/// linkat(2) of an open file: by its name while it has one, else by the
/// file itself (an O_TMPFILE file; a removed one is ENOENT).
fn link_open_file(p: &Pcx<'_>, f: &sentry::fs::file::File, newdir: u64, new: u64) -> KResult<u64> {
    let st = f.ops.stat()?;
    if st.mode & libc::S_IFMT == libc::S_IFDIR {
        return Err(Errno::EPERM);
    }
    let place = f.place().ok_or(Errno::EXDEV)?;
    let n = new_name(p, newdir, new)?;
    if place.mount.point != n.mount.point {
        return Err(Errno::EXDEV);
    }
    may_hardlink(p.creds()?, &st)?;
    let (rel, live) = place.rel();
    if live {
        let o = Resolved {
            path: place.path(),
            stat: Some(st),
            mount: place.mount.clone(),
            rel,
            reopen: None,
            found: Some(place.clone()),
        };
        p.vfs().link(&p.w.c, &o, &n)?;
    } else {
        p.vfs().link_file(&p.w.c, f, &n)?;
    }
    Ok(0)
}
fn link(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_link(&pcx(ctx), CWD, a[0], CWD, a[1], 0)
}
fn linkat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_link(&pcx(ctx), a[0], a[1], a[2], a[3], a[4])
}

/// fs.protected_hardlinks (1, as on Debian): linking another's file
/// takes CAP_FOWNER over it, or a regular file that is neither
/// set-user-ID nor executable set-group-ID and that the caller may read
/// and write.
fn may_hardlink(c: &sentry::kernel::Creds, st: &Stat) -> KResult<()> {
    if c.owns(st.uid, st.gid) {
        return Ok(());
    }
    let regular = st.mode & libc::S_IFMT == libc::S_IFREG;
    let sgid_exec = st.mode & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP;
    let rw = sentry::fs::vfs::may(c, st, sentry::fs::vfs::MAY_READ | MAY_WRITE);
    if regular && st.mode & libc::S_ISUID == 0 && !sgid_exec && rw {
        return Ok(());
    }
    Err(Errno::EPERM)
}

/// The parent of `p`, which must be an existing directory, and the name.
fn parent_of(p: &Pcx<'_>, dirfd: u64, path: &[u8]) -> KResult<(Resolved, Vec<u8>)> {
    let (parent, last) = split_last(path);
    let r = p.resolve(dirfd, &parent, true)?;
    if r.stat.ok_or(Errno::ENOENT)?.mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    Ok((r, last))
}

pub(crate) fn remove(px: &Pcx<'_>, dirfd: u64, path: u64, dir: bool) -> KResult<u64> {
    px.vfs().changing(|| {
        let p = px.path(path)?;
        let (_, last) = split_last(&p);
        match (last.as_slice(), dir) {
            (b"", true) => return Err(Errno::EBUSY),
            (b".", true) => return Err(Errno::EINVAL),
            (b"..", true) => return Err(Errno::ENOTEMPTY),
            (b"" | b"." | b"..", false) => return Err(Errno::EISDIR),
            _ => {}
        }
        let (parent, _) = parent_of(px, dirfd, &p)?;
        if !writable(&parent) {
            return Err(refuse(&parent));
        }
        let (bare, trailing) = without_slashes(&p);
        let r = px.resolve(dirfd, bare, false)?;
        let st = r.stat.ok_or(Errno::ENOENT)?;
        // unlink of a directory is EISDIR before anything else; of
        // anything else named with a trailing slash, ENOTDIR.
        if !dir && st.mode & libc::S_IFMT == libc::S_IFDIR {
            return Err(Errno::EISDIR);
        }
        if !dir && trailing {
            return Err(Errno::ENOTDIR);
        }
        if r.mount.point != parent.mount.point || r.rel.is_empty() {
            // The name is a mount point.
            return Err(Errno::EBUSY);
        }
        if dir && st.mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        may_remove(px, &r.path, &st)?;
        px.vfs().remove(&px.w.c, &r, dir)?;
        Ok(0)
    })
}
fn unlink(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    remove(&pcx(ctx), CWD, a[0], false)
}
fn rmdir(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    remove(&pcx(ctx), CWD, a[0], true)
}
fn unlinkat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    unlinkat_by(&pcx(ctx), a[0], a[1], a[2])
}
pub(crate) fn unlinkat_by(p: &Pcx<'_>, dirfd: u64, path: u64, flags: u64) -> KResult<u64> {
    if flags & !(libc::AT_REMOVEDIR as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    remove(p, dirfd, path, flags != 0)
}

pub(crate) fn do_rename(
    p: &Pcx<'_>,
    olddir: u64,
    old: u64,
    newdir: u64,
    new: u64,
    flags: u64,
) -> KResult<u64> {
    p.vfs().changing(|| {
        let (noreplace, exchange) = (libc::RENAME_NOREPLACE as u64, libc::RENAME_EXCHANGE as u64);
        let whiteout = libc::RENAME_WHITEOUT as u64;
        if flags & !(noreplace | exchange | whiteout) != 0
            || (flags & exchange != 0 && flags & (noreplace | whiteout) != 0)
        {
            return Err(Errno::EINVAL);
        }
        // A whiteout is a device node (0:0) left at the old name.
        if flags & whiteout != 0 && !p.creds()?.capable(sentry::kernel::creds::cap::MKNOD) {
            return Err(Errno::EPERM);
        }
        let (op, np) = (p.path(old)?, p.path(new)?);
        for path in [&op, &np] {
            if matches!(split_last(path).1.as_slice(), b"" | b"." | b"..") {
                return Err(Errno::EBUSY);
            }
        }
        let (opar, _) = parent_of(p, olddir, &op)?;
        let (npar, _) = parent_of(p, newdir, &np)?;
        if opar.mount.point != npar.mount.point {
            return Err(Errno::EXDEV);
        }
        let ((obare, oslash), (nbare, nslash)) = (without_slashes(&op), without_slashes(&np));
        // Where every name is generated (proc), a new one is not there.
        if npar.mount.fs.names_fixed() && p.resolve(newdir, nbare, false)?.stat.is_none() {
            return Err(Errno::ENOENT);
        }
        if !writable(&opar) {
            return Err(refuse(&opar));
        }
        let o = p.resolve(olddir, obare, false)?;
        let ost = o.stat.ok_or(Errno::ENOENT)?;
        // A trailing slash on either name asks for a directory.
        if (oslash || nslash) && ost.mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let n = p.resolve(newdir, nbare, false)?;
        if flags & noreplace != 0 && n.stat.is_some() {
            return Err(Errno::EEXIST);
        }
        // Two names of one file (or one name twice): nothing to do.
        if n.stat
            .is_some_and(|nst| (nst.dev, nst.ino) == (ost.dev, ost.ino))
        {
            return Ok(0);
        }
        may_remove(p, &o.path, &ost)?;
        match n.stat {
            Some(nst) => may_remove(p, &n.path, &nst)?,
            None => may_change_dir(p, &n.path)?,
        }
        if o.mount.point != opar.mount.point
            || n.mount.point != npar.mount.point
            || o.rel.is_empty()
            || n.rel.is_empty()
        {
            return Err(Errno::EBUSY);
        }
        p.vfs().rename(&p.w.c, &o, &n, crate::abi::uint(flags))?;
        if flags & whiteout != 0 {
            let c = p.creds()?;
            p.vfs()
                .mknod(&p.w.c, &o, libc::S_IFCHR, 0, 0, (c.fsuid, c.fsgid))?;
        }
        Ok(0)
    })
}
fn rename(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_rename(&pcx(ctx), CWD, a[0], CWD, a[1], 0)
}
fn renameat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_rename(&pcx(ctx), a[0], a[1], a[2], a[3], 0)
}
fn renameat2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_rename(&pcx(ctx), a[0], a[1], a[2], a[3], a[4])
}

/// Changes attributes of `r`, with the ownership rules of chmod/chown.
fn set(p: &Pcx<'_>, r: &Resolved, attr: SetAttr) -> KResult<u64> {
    if !writable(r) {
        return Err(refuse(r));
    }
    let st = r.stat.unwrap_or_default();
    let c = p.creds()?;
    let mut attr = check_owner(c, &st, attr)?;
    if attr.size.is_some() {
        p.w.c.check(&r.stat.unwrap_or_default(), MAY_WRITE)?;
        // A truncate drops set-ID bits as a write does.
        let kill = sentry::fs::io::privs_to_drop(c, &st);
        if kill != 0 && attr.mode.is_none() {
            attr.mode = Some(st.mode & 0o7777 & !kill);
        }
    }
    p.vfs().setattr(&p.w.c, r, &attr)?;
    Ok(0)
}

/// chmod(2)/fchmodat(2) (`follow`) and lchown-less chown by path.
pub(crate) fn set_path(
    p: &Pcx<'_>,
    dirfd: u64,
    path: u64,
    follow: bool,
    attr: SetAttr,
) -> KResult<u64> {
    p.vfs().changing(|| {
        let r = existing(p, dirfd, path, follow)?;
        set(p, &r, attr)
    })
}

/// chown needs CAP_CHOWN (but for an owner giving the file to one of
/// its own groups); chmod and times need ownership or CAP_FOWNER. The
/// new owner and group, given in the caller's user namespace, come back
/// as sandbox ids (EINVAL for one with no mapping there).
fn check_owner(c: &sentry::kernel::Creds, st: &Stat, mut attr: SetAttr) -> KResult<SetAttr> {
    use sentry::kernel::creds::cap;
    let (file_uid, file_gid) = (st.uid, st.gid);
    let chown = attr.chown;
    if let Some(u) = attr.uid {
        attr.uid = Some(c.userns.uid_from_ns(u).ok_or(Errno::EINVAL)?);
    }
    if let Some(g) = attr.gid {
        attr.gid = Some(c.userns.gid_from_ns(g).ok_or(Errno::EINVAL)?);
    }
    let owner = c.fsuid == file_uid;
    if !c.capable_wrt(cap::CHOWN, file_uid, file_gid) {
        if attr.uid.is_some_and(|u| u != file_uid) {
            return Err(Errno::EPERM);
        }
        if attr
            .gid
            .is_some_and(|g| !owner || (g != c.fsgid && !c.groups.contains(&g)))
        {
            return Err(Errno::EPERM);
        }
    }
    let times = attr.mtime.is_some() || attr.atime.is_some();
    if (attr.mode.is_some() || times) && !owner && !c.capable_wrt(cap::FOWNER, file_uid, file_gid) {
        // Touching to now takes write permission instead (EACCES).
        if attr.mode.is_none() && attr.touch {
            if !sentry::fs::vfs::may(c, st, sentry::fs::vfs::MAY_WRITE) {
                return Err(Errno::EACCES);
            }
        } else {
            return Err(Errno::EPERM);
        }
    }
    // chmod: set-group-ID only for a member of the file's group (or
    // with CAP_FSETID).
    if let Some(m) = attr.mode.as_mut() {
        let member = c.fsgid == file_gid || c.groups.contains(&file_gid);
        if *m & libc::S_ISGID != 0 && !member && !c.capable_wrt(cap::FSETID, file_uid, file_gid) {
            *m &= !libc::S_ISGID;
        }
    }
    // chown of anything but a directory drops set-user-ID, and
    // set-group-ID where group execute makes it one (Linux's
    // ATTR_KILL_SUID/SGID, whoever asks).
    if chown && st.mode & libc::S_IFMT != libc::S_IFDIR {
        let mut m = st.mode & 0o7777;
        m &= !libc::S_ISUID;
        if m & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP {
            m &= !libc::S_ISGID;
        }
        if m != st.mode & 0o7777 {
            attr.mode = Some(m);
        }
    }
    Ok(attr)
}

pub(crate) fn mode_attr(mode: u64) -> SetAttr {
    SetAttr {
        mode: Some(crate::abi::uint(mode) & 0o7777),
        ..Default::default()
    }
}
pub(crate) fn own_attr(uid: u64, gid: u64) -> SetAttr {
    let id = |v: u64| (crate::abi::uint(v) != u32::MAX).then_some(crate::abi::uint(v));
    SetAttr {
        uid: id(uid),
        gid: id(gid),
        chown: true,
        ..Default::default()
    }
}
fn chmod(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set_path(&pcx(ctx), CWD, a[0], true, mode_attr(a[1]))
}
fn fchmodat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set_path(&pcx(ctx), a[0], a[1], true, mode_attr(a[2]))
}
/// fchmodat2 (Linux 6.6): fchmodat with flags. A symlink's own mode
/// cannot change (EOPNOTSUPP); AT_EMPTY_PATH names the dirfd's file,
/// an O_PATH one included.
fn fchmodat2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let flags = crate::abi::int(a[3]);
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::AT_EMPTY_PATH != 0
        && sentry::mm::read_cstr(&ctx.mm, a[1], 1).is_ok_and(|p| p.is_empty())
    {
        return set_fd(ctx, a[0], mode_attr(a[2]), true);
    }
    if flags & libc::AT_SYMLINK_NOFOLLOW == 0 {
        return fchmodat(ctx, a);
    }
    let p = pcx(ctx);
    p.vfs().changing(|| {
        let r = existing(&p, a[0], a[1], false)?;
        if r.stat
            .is_some_and(|s| s.mode & libc::S_IFMT == libc::S_IFLNK)
        {
            return Err(Errno::EOPNOTSUPP);
        }
        set(&p, &r, mode_attr(a[2]))
    })
}
fn chown(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set_path(&pcx(ctx), CWD, a[0], true, own_attr(a[1], a[2]))
}
fn lchown(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set_path(&pcx(ctx), CWD, a[0], false, own_attr(a[1], a[2]))
}

/// fchmod/fchown/futimens and their AT_EMPTY_PATH forms: the open file
/// (an O_PATH one only where `o_path` says the call takes it).
fn set_fd(ctx: &mut Ctx<'_, '_>, fd: u64, attr: SetAttr, o_path: bool) -> KResult<u64> {
    let f = fdget(ctx, fd)?;
    if f.flags() & libc::O_PATH != 0 && !o_path {
        return Err(Errno::EBADF);
    }
    let st = f.stat()?;
    // A symlink's mode never changes (an O_PATH fd of one, Linux 6.6).
    if attr.mode.is_some() && st.mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(Errno::EOPNOTSUPP);
    }
    let attr = check_owner(&ctx.proc_ref().creds, &st, attr)?;
    let mut r = if f.flags() & libc::O_PATH != 0 {
        Err(Errno::EROFS)
    } else {
        f.ops.setattr(&attr)
    };
    // Through the file's path instead: the unprivileged sandbox may not
    // change a host file it does not own through the fd (the gofer may,
    // by path), and directories and files an overlay serves from below
    // change by path (copied up first).
    let denied = matches!(r, Err(e) if e == Errno::EPERM || e == Errno::EACCES);
    let by_path = matches!(r, Err(e) if e == Errno::EROFS) || (denied && f.ops.host_fd().is_some());
    if by_path {
        if let Ok(place) = ctx.k.vfs.resolve_file(ctx, &f) {
            if place.mount.flags & libc::MS_RDONLY != 0 {
                r = Err(Errno::EROFS);
            } else {
                let c = ctx.caller();
                r = ctx
                    .k
                    .vfs
                    .changing(|| place.mount.fs.setattr(&c, &place.rel, &attr));
            }
        }
    }
    match r {
        // An anonymous inode (eventfd, epoll, timerfd, ...) takes no
        // attributes at all.
        Err(e) if e == Errno::EROFS && f.place().is_none() && f.ops.host_fd().is_none() => {
            Err(Errno::EOPNOTSUPP)
        }
        Err(e) if e == Errno::EROFS => {
            let root = f.place().is_none_or(|p| p.mount.point == b"/");
            Err(if root { Errno::EROFS } else { Errno::EPERM })
        }
        r => {
            r?;
            f.note(attr_event(&attr));
            Ok(0)
        }
    }
}
fn fchmod(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set_fd(ctx, a[0], mode_attr(a[1]), false)
}
fn fchown(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set_fd(ctx, a[0], own_attr(a[1], a[2]), false)
}
fn fchownat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let flags = crate::abi::int(a[4]);
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::AT_EMPTY_PATH != 0
        && sentry::mm::read_cstr(&ctx.mm, a[1], 1).is_ok_and(|p| p.is_empty())
    {
        return set_fd(ctx, a[0], own_attr(a[2], a[3]), true);
    }
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    set_path(&pcx(ctx), a[0], a[1], follow, own_attr(a[2], a[3]))
}

const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

/// Times from a timespec pair (None: now for both).
fn times_attr(ctx: &Ctx<'_, '_>, t: Option<[i64; 4]>) -> SetAttr {
    let now = ctx.k.clock.real_ns();
    let now = (now / 1_000_000_000, now % 1_000_000_000);
    let pick = |s: i64, ns: i64| match ns {
        UTIME_OMIT => None,
        UTIME_NOW => Some(now),
        _ => Some((s, ns)),
    };
    match t {
        Some(t) if t[1] == UTIME_NOW && t[3] == UTIME_NOW => SetAttr {
            atime: Some(now),
            mtime: Some(now),
            touch: true,
            ..Default::default()
        },
        None => SetAttr {
            atime: Some(now),
            mtime: Some(now),
            touch: true,
            ..Default::default()
        },
        Some(t) => SetAttr {
            atime: pick(t[0], t[1]),
            mtime: pick(t[2], t[3]),
            ..Default::default()
        },
    }
}

fn utimensat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    // Linux's order: the times are copied (EFAULT), "both omitted" returns
    // at once, then flags, then the path, then the nanoseconds.
    let t = if a[2] != 0 {
        let t: [i64; 4] = get(ctx, a[2])?;
        if t[1] == UTIME_OMIT && t[3] == UTIME_OMIT {
            return Ok(0);
        }
        Some(t)
    } else {
        None
    };
    let flags = crate::abi::int(a[3]);
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let ns_ok = || {
        let bad =
            |ns: i64| !(0..1_000_000_000).contains(&ns) && ns != UTIME_NOW && ns != UTIME_OMIT;
        match t {
            Some(t) if bad(t[1]) || bad(t[3]) => Err(Errno::EINVAL),
            _ => Ok(()),
        }
    };
    let attr = times_attr(ctx, t);
    // No path: the fd itself (futimens), with no flags; from AT_FDCWD a
    // NULL name is a bad pointer.
    if a[1] == 0 {
        if crate::abi::int(a[0]) == libc::AT_FDCWD {
            return Err(Errno::EFAULT);
        }
        if flags != 0 {
            return Err(Errno::EINVAL);
        }
        fdget(ctx, a[0])?;
        ns_ok()?;
        return set_fd(ctx, a[0], attr, false);
    }
    if flags & libc::AT_EMPTY_PATH != 0
        && sentry::mm::read_cstr(&ctx.mm, a[1], 1).is_ok_and(|p| p.is_empty())
    {
        fdget(ctx, a[0])?;
        ns_ok()?;
        return set_fd(ctx, a[0], attr, true);
    }
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    let p = pcx(ctx);
    p.vfs().changing(|| {
        let r = existing(&p, a[0], a[1], follow)?;
        ns_ok()?;
        set(&p, &r, attr)
    })
}

/// utimes/futimesat: microsecond timevals (or NULL for now).
fn timevals(ctx: &Ctx<'_, '_>, addr: u64) -> KResult<Option<[i64; 4]>> {
    if addr == 0 {
        return Ok(None);
    }
    let tv: [i64; 4] = get(ctx, addr)?;
    if !(0..1_000_000).contains(&tv[1]) || !(0..1_000_000).contains(&tv[3]) {
        return Err(Errno::EINVAL);
    }
    Ok(Some([tv[0], tv[1] * 1000, tv[2], tv[3] * 1000]))
}
fn utimes(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let t = timevals(ctx, a[1])?;
    let attr = times_attr(ctx, t);
    set_path(&pcx(ctx), CWD, a[0], true, attr)
}
fn futimesat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let t = timevals(ctx, a[2])?;
    let attr = times_attr(ctx, t);
    set_path(&pcx(ctx), a[0], a[1], true, attr)
}
/// utime(2): struct utimbuf of seconds (or NULL for now).
fn utime(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let t = if a[1] != 0 {
        let b: [i64; 2] = get(ctx, a[1])?;
        Some([b[0], 0, b[1], 0])
    } else {
        None
    };
    let attr = times_attr(ctx, t);
    set_path(&pcx(ctx), CWD, a[0], true, attr)
}

fn truncate(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if crate::abi::long(a[1]) >= 0 && a[1] > ctx.proc_ref().fsize_limit() {
        // Only growing is refused: the size now decides.
        let p = pcx(ctx);
        let size = p
            .path(a[0])
            .and_then(|path| p.resolve(CWD, &path, true))
            .ok()
            .and_then(|r| r.stat)
            .filter(|s| s.mode & libc::S_IFMT == libc::S_IFREG)
            .map(|s| crate::abi::bits(s.size));
        if size.is_some_and(|s| s < a[1]) {
            sentry::fs::io::fsize_ok(ctx, a[1])?;
        }
    }
    // Truncating breaks leases as a writer's open does.
    if !ctx.st.leases.is_empty() {
        let p = pcx(ctx);
        let st = p
            .path(a[0])
            .and_then(|path| p.resolve(CWD, &path, true))
            .ok()
            .and_then(|r| r.stat);
        if let Some(st) = st {
            crate::fs::break_leases(ctx, &st, libc::O_WRONLY)?;
        }
    }
    let p = pcx(ctx);
    p.vfs().changing(|| truncate_by(&p, a))
}
fn truncate_by(p: &Pcx<'_>, a: [u64; 6]) -> KResult<u64> {
    let path = p.path(a[0])?;
    if (crate::abi::long(a[1])) < 0 {
        return Err(Errno::EINVAL);
    }
    let r = p.resolve(CWD, &path, true)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    match st.mode & libc::S_IFMT {
        libc::S_IFDIR => Err(Errno::EISDIR),
        libc::S_IFREG => {
            // A running executable: ETXTBSY.
            p.vfs().write_access.check_writable((st.dev, st.ino))?;
            set(
                p,
                &r,
                SetAttr {
                    size: Some(a[1]),
                    ..Default::default()
                },
            )
        }
        _ => Err(Errno::EINVAL),
    }
}
