//! System calls that change the filesystem. The root is read-only in this
//! milestone (the overlay comes with the full VFS), so these report the
//! errors Linux reports on a read-only mount, in Linux's order: path
//! errors first (ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG), then EEXIST for
//! creations, then EROFS. Removals check only the parent before EROFS, as
//! Linux does.

use crate::abi::{self, get};
use crate::fs::fdget;
use crate::table::{Reg, Support::*};
use sentry::fs::vfs::Resolved;
use sentry::{Ctx, Errno, KResult};

const NOTE: &str = "the root is read-only in this milestone: EROFS after Linux's path checks";
const AT_FDCWD: u64 = libc::AT_FDCWD as u64;

pub fn register(r: &mut Reg<'_>) {
    r("mkdir", "po", Partial(NOTE), mkdir);
    r("mkdirat", "dpo", Partial(NOTE), mkdirat);
    r("mknod", "pox", Partial(NOTE), mknod);
    r("mknodat", "dpox", Partial(NOTE), mknodat);
    r("symlink", "pp", Partial(NOTE), symlink);
    r("symlinkat", "pdp", Partial(NOTE), symlinkat);
    r("link", "pp", Partial(NOTE), link);
    r("linkat", "dpdpx", Partial(NOTE), linkat);
    r("unlink", "p", Partial(NOTE), unlink);
    r("rmdir", "p", Partial(NOTE), rmdir);
    r("unlinkat", "dpx", Partial(NOTE), unlinkat);
    r("rename", "pp", Partial(NOTE), rename);
    r("renameat", "dpdp", Partial(NOTE), renameat);
    r("renameat2", "dpdpx", Partial(NOTE), renameat2);
    r("chmod", "po", Partial(NOTE), chmod);
    r("fchmodat", "dpo", Partial(NOTE), fchmodat);
    r("chown", "puu", Partial(NOTE), chown);
    r("lchown", "puu", Partial(NOTE), lchown);
    r("fchownat", "dpuux", Partial(NOTE), fchownat);
    r("utimensat", "dpax", Partial(NOTE), utimensat);
    r("utimes", "pa", Partial(NOTE), utimes);
    r("utime", "pa", Partial(NOTE), utimes);
    r("futimesat", "dpa", Partial(NOTE), futimesat);
    r("truncate", "pi", Partial(NOTE), truncate);
}

/// The error for changing something on `r`'s mount.
fn refuse(r: &Resolved) -> Errno {
    if r.mount.flags & libc::MS_RDONLY != 0 || r.mount.point == b"/" {
        Errno::EROFS
    } else {
        Errno::EPERM
    }
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

/// Creating `path`: its parent must exist, the name must not.
fn create(ctx: &mut Ctx<'_, '_>, dirfd: u64, path: u64) -> KResult<u64> {
    let p = abi::path(ctx, path)?;
    let r = ctx.k.vfs.resolve(ctx, dirfd as i32, &p, false)?;
    if r.stat.is_some() {
        return Err(Errno::EEXIST);
    }
    Err(refuse(&r))
}

/// Removing `path`: only the parent is looked at before the write check.
fn remove(ctx: &mut Ctx<'_, '_>, dirfd: u64, path: u64, dir: bool) -> KResult<u64> {
    let p = abi::path(ctx, path)?;
    let (parent, last) = split_last(&p);
    match (last.as_slice(), dir) {
        (b"", true) => return Err(Errno::EBUSY),
        (b".", true) => return Err(Errno::EINVAL),
        (b"..", true) => return Err(Errno::ENOTEMPTY),
        (b"" | b"." | b"..", false) => return Err(Errno::EISDIR),
        _ => {}
    }
    let r = ctx.k.vfs.resolve(ctx, dirfd as i32, &parent, true)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    if st.mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    Err(refuse(&r))
}

/// Changing attributes of an existing `path`.
fn modify(ctx: &mut Ctx<'_, '_>, dirfd: u64, path: u64, follow: bool) -> KResult<u64> {
    let p = abi::path(ctx, path)?;
    let r = ctx.k.vfs.resolve(ctx, dirfd as i32, &p, follow)?;
    r.stat.ok_or(Errno::ENOENT)?;
    Err(refuse(&r))
}

fn mkdir(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    create(ctx, AT_FDCWD, a[0])
}
fn mkdirat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    create(ctx, a[0], a[1])
}
fn mknod_checks(mode: u64) -> KResult<()> {
    match mode as u32 & libc::S_IFMT {
        0 | libc::S_IFREG | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO | libc::S_IFSOCK => {
            Ok(())
        }
        libc::S_IFDIR => Err(Errno::EPERM),
        _ => Err(Errno::EINVAL),
    }
}
fn mknod(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    mknod_checks(a[1])?;
    create(ctx, AT_FDCWD, a[0])
}
fn mknodat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    mknod_checks(a[2])?;
    create(ctx, a[0], a[1])
}
fn symlink(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    abi::path(ctx, a[0])?;
    create(ctx, AT_FDCWD, a[1])
}
fn symlinkat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    abi::path(ctx, a[0])?;
    create(ctx, a[1], a[2])
}
fn do_link(
    ctx: &mut Ctx<'_, '_>,
    olddir: u64,
    old: u64,
    newdir: u64,
    new: u64,
    flags: u64,
) -> KResult<u64> {
    if flags & !((libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let follow = flags & libc::AT_SYMLINK_FOLLOW as u64 != 0;
    modify_exists(ctx, olddir, old, follow)?;
    create(ctx, newdir, new)
}
/// The path must exist (no error otherwise).
fn modify_exists(ctx: &mut Ctx<'_, '_>, dirfd: u64, path: u64, follow: bool) -> KResult<()> {
    let p = abi::path(ctx, path)?;
    let r = ctx.k.vfs.resolve(ctx, dirfd as i32, &p, follow)?;
    r.stat.ok_or(Errno::ENOENT)?;
    Ok(())
}
fn link(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_link(ctx, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}
fn linkat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_link(ctx, a[0], a[1], a[2], a[3], a[4])
}
fn unlink(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    remove(ctx, AT_FDCWD, a[0], false)
}
fn rmdir(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    remove(ctx, AT_FDCWD, a[0], true)
}
fn unlinkat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[2] & !(libc::AT_REMOVEDIR as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    remove(ctx, a[0], a[1], a[2] != 0)
}
fn do_rename(
    ctx: &mut Ctx<'_, '_>,
    olddir: u64,
    old: u64,
    newdir: u64,
    new: u64,
    flags: u64,
) -> KResult<u64> {
    let (noreplace, exchange) = (libc::RENAME_NOREPLACE as u64, libc::RENAME_EXCHANGE as u64);
    if flags & !(noreplace | exchange | libc::RENAME_WHITEOUT as u64) != 0
        || (flags & noreplace != 0 && flags & exchange != 0)
    {
        return Err(Errno::EINVAL);
    }
    let (op, np) = (abi::path(ctx, old)?, abi::path(ctx, new)?);
    let mut parents = Vec::new();
    for (dirfd, p) in [(olddir, &op), (newdir, &np)] {
        let (parent, last) = split_last(p);
        if matches!(last.as_slice(), b"" | b"." | b"..") {
            return Err(Errno::EBUSY);
        }
        let r = ctx.k.vfs.resolve(ctx, dirfd as i32, &parent, true)?;
        if r.stat.ok_or(Errno::ENOENT)?.mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        parents.push(r);
    }
    if parents[0].mount.point != parents[1].mount.point {
        return Err(Errno::EXDEV);
    }
    Err(refuse(&parents[0]))
}
fn rename(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_rename(ctx, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}
fn renameat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_rename(ctx, a[0], a[1], a[2], a[3], 0)
}
fn renameat2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    do_rename(ctx, a[0], a[1], a[2], a[3], a[4])
}
fn chmod(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    modify(ctx, AT_FDCWD, a[0], true)
}
fn fchmodat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    modify(ctx, a[0], a[1], true)
}
fn chown(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    modify(ctx, AT_FDCWD, a[0], true)
}
fn lchown(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    modify(ctx, AT_FDCWD, a[0], false)
}
fn fchownat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let flags = a[4] as i32;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::AT_EMPTY_PATH != 0
        && sentry::mm::read_cstr(&ctx.mm, a[1], 1).is_ok_and(|p| p.is_empty())
    {
        let f = fdget(ctx, a[0])?;
        let (m, _) = ctx.k.vfs.mount_of(&f.path);
        return Err(if m.point == b"/" {
            Errno::EROFS
        } else {
            Errno::EPERM
        });
    }
    modify(ctx, a[0], a[1], flags & libc::AT_SYMLINK_NOFOLLOW == 0)
}

const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

fn utimensat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let flags = a[3] as i32;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if a[2] != 0 {
        let t: [i64; 4] = get(ctx, a[2])?;
        for ns in [t[1], t[3]] {
            if !(0..1_000_000_000).contains(&ns) && ns != UTIME_NOW && ns != UTIME_OMIT {
                return Err(Errno::EINVAL);
            }
        }
        if t[1] == UTIME_OMIT && t[3] == UTIME_OMIT {
            return Ok(0);
        }
    }
    if a[1] == 0 {
        let f = fdget(ctx, a[0])?;
        let (m, _) = ctx.k.vfs.mount_of(&f.path);
        return Err(if m.point == b"/" {
            Errno::EROFS
        } else {
            Errno::EPERM
        });
    }
    modify(ctx, a[0], a[1], flags & libc::AT_SYMLINK_NOFOLLOW == 0)
}
fn utimes(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    modify(ctx, AT_FDCWD, a[0], true)
}
fn futimesat(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    modify(ctx, a[0], a[1], true)
}

fn truncate(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let p = abi::path(ctx, a[0])?;
    if (a[1] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let r = ctx.k.vfs.resolve(ctx, libc::AT_FDCWD, &p, true)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    match st.mode & libc::S_IFMT {
        libc::S_IFDIR => Err(Errno::EISDIR),
        libc::S_IFREG => Err(refuse(&r)),
        _ => Err(Errno::EINVAL),
    }
}
