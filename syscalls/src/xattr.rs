//! Extended attributes: the path, symlink (l*) and fd (f*) variants of
//! get/set/list/removexattr. Names and values are checked as Linux does
//! before the file is looked at, and who may ask as Linux checks it; the
//! filesystem keeps the attributes (tmpfs and the overlay's upper layer
//! all of them, POSIX ACLs too, host files through the gofer their user.*
//! ones and their file capabilities to read, other filesystems say
//! EOPNOTSUPP).

use crate::abi::{self};
use crate::fs::fdget;
use crate::table::{Reg, Support::*};
use sentry::fs::acl;
use sentry::fs::vfs::{Resolved, XattrOp, XATTR_CREATE, XATTR_REPLACE};
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    let note = "user.*, trusted.*, security.* and POSIX ACLs on tmpfs and the overlay's copies; host files (the lower layer, --overlay none) have their user.* ones and their POSIX ACLs (ids mapped), and their file capabilities to read";
    r("setxattr", "ppaux", Partial(note), setxattr);
    r("lsetxattr", "ppaux", Partial(note), lsetxattr);
    r("fsetxattr", "dpaux", Partial(note), fsetxattr);
    r("getxattr", "ppau", Partial(note), getxattr);
    r("lgetxattr", "ppau", Partial(note), lgetxattr);
    r("fgetxattr", "dpau", Partial(note), fgetxattr);
    r("listxattr", "pau", Partial(note), listxattr);
    r("llistxattr", "pau", Partial(note), llistxattr);
    r("flistxattr", "dau", Partial(note), flistxattr);
    r("removexattr", "pp", Partial(note), removexattr);
    r("lremovexattr", "pp", Partial(note), lremovexattr);
    r("fremovexattr", "dp", Partial(note), fremovexattr);
}

const NAME_MAX: usize = 255;
const SIZE_MAX: usize = 65536;

/// What an attribute call names: a path (following a final symlink or
/// not) or an open file.
#[derive(Clone, Copy)]
enum On {
    Path(u64, bool),
    Fd(u64),
}

fn name(ctx: &Ctx<'_, '_>, p: u64) -> KResult<Vec<u8>> {
    if p == 0 {
        return Err(Errno::EFAULT);
    }
    let n = sentry::mm::read_cstr(&ctx.mm, p, NAME_MAX + 1)?;
    if n.is_empty() || n.len() > NAME_MAX {
        return Err(Errno::ERANGE);
    }
    Ok(n)
}

/// The fd check comes first for the f* calls, as on Linux.
fn check_fd(ctx: &mut Ctx<'_, '_>, on: On) -> KResult<()> {
    if let On::Fd(fd) = on {
        fdget(ctx, fd)?;
    }
    Ok(())
}

fn resolve(ctx: &mut Ctx<'_, '_>, on: On) -> KResult<Resolved> {
    let r = match on {
        On::Path(p, follow) => {
            let p = abi::path(ctx, p)?;
            ctx.k.vfs.resolve(ctx, libc::AT_FDCWD, &p, follow)?
        }
        On::Fd(fd) => {
            let f = crate::fs::fdget_io(ctx, fd)?;
            // Pipes, sockets and anonymous files keep no attributes.
            ctx.k
                .vfs
                .resolve_file(ctx, &f)
                .map_err(|_| Errno::EOPNOTSUPP)?
        }
    };
    r.stat.ok_or(Errno::ENOENT)?;
    Ok(r)
}

fn apply(ctx: &mut Ctx<'_, '_>, r: &Resolved, op: &XattrOp) -> KResult<Vec<u8>> {
    let changes = matches!(op, XattrOp::Set(..) | XattrOp::Remove(_));
    if changes && (r.mount.flags & libc::MS_RDONLY != 0 || r.mount.fs.read_only()) {
        return Err(Errno::EROFS);
    }
    let c = ctx.caller();
    let st = r.stat.as_ref().ok_or(Errno::ENOENT)?;
    let creds = c.creds().ok_or(Errno::ESRCH)?;
    // File capabilities are checked and stored as their writer's
    // namespace owns them.
    if let XattrOp::Set(n @ b"security.capability", v, flags) = *op {
        let stored = sentry::kernel::setid::FileCaps::stored(v, creds)?;
        permission(creds, st, n, true)?;
        let op = XattrOp::Set(n, &stored, flags);
        return ctx.k.vfs.changing(|| r.mount.fs.xattr(&c, &r.rel, &op));
    }
    match op {
        XattrOp::Get(n) | XattrOp::Set(n, ..) | XattrOp::Remove(n) if acl::is_acl(n) => {
            return acl_op(ctx, r, op);
        }
        XattrOp::Get(n) | XattrOp::Set(n, ..) | XattrOp::Remove(n) => {
            permission(creds, st, n, changes)?;
        }
        XattrOp::List => {
            let all = r.mount.fs.xattr(&c, &r.rel, op)?;
            return Ok(listed(creds, &all));
        }
    }
    if changes {
        return ctx.k.vfs.changing(|| r.mount.fs.xattr(&c, &r.rel, op));
    }
    r.mount.fs.xattr(&c, &r.rel, op)
}

/// The ACL attributes, as Linux's vfs_get_acl and set_posix_acl treat
/// them: anyone reads them (with ids as the reader's namespace numbers
/// them); the owner (or CAP_FOWNER) sets or removes them, an empty value
/// removing; a default ACL is for directories alone; and an owner
/// outside the file's group loses its set-group-ID bit on any change of
/// the access ACL, as a chmod would take it.
fn acl_op(ctx: &mut Ctx<'_, '_>, r: &Resolved, op: &XattrOp) -> KResult<Vec<u8>> {
    use sentry::kernel::creds::cap;
    let c = ctx.caller();
    let creds = c.creds().ok_or(Errno::ESRCH)?;
    let st = r.stat.as_ref().ok_or(Errno::ENOENT)?;
    let (name, value) = match *op {
        XattrOp::Get(_) => {
            let v = r.mount.fs.xattr(&c, &r.rel, op)?;
            return Ok(acl::Acl::from_stored(&v).map_or(v, |a| a.shown(&creds.userns)));
        }
        XattrOp::Set(n, v, _) => (n, v),
        XattrOp::Remove(n) => (n, &[][..]),
        XattrOp::List => return Err(Errno::EINVAL),
    };
    let new = acl::Acl::from_xattr(value, &creds.userns)?;
    if st.mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(Errno::EOPNOTSUPP);
    }
    if name == acl::DEFAULT && !st.is_dir() {
        return match new {
            Some(_) => Err(Errno::EACCES),
            None => Ok(Vec::new()),
        };
    }
    if !creds.owns(st.uid, st.gid) {
        return Err(Errno::EPERM);
    }
    if let Some(a) = &new {
        a.check()?;
    }
    ctx.k.vfs.changing(|| {
        let member = creds.fsgid == st.gid || creds.groups.contains(&st.gid);
        if name == acl::ACCESS
            && st.mode & libc::S_ISGID != 0
            && !member
            && !creds.capable_wrt(cap::FSETID, st.uid, st.gid)
        {
            let mode = Some(st.mode & 0o7777 & !libc::S_ISGID);
            let attr = sentry::fs::vfs::SetAttr {
                mode,
                ..Default::default()
            };
            r.mount.fs.setattr(&c, &r.rel, &attr)?;
        }
        match &new {
            Some(a) => r
                .mount
                .fs
                .xattr(&c, &r.rel, &XattrOp::Set(name, &a.stored(), 0)),
            None => r.mount.fs.xattr(&c, &r.rel, &XattrOp::Remove(name)),
        }
    })
}

/// Linux's xattr_permission with the capability module's rules: trusted.*
/// is for CAP_SYS_ADMIN alone (others do not even see it), security.* is
/// read by anyone and written with CAP_SYS_ADMIN (security.capability
/// with CAP_SETFCAP over the file), and user.* follows the file's own
/// read and write permission, on regular files and directories, and in a
/// sticky directory only its owner writes.
fn permission(
    c: &sentry::kernel::Creds,
    st: &sentry::fs::Stat,
    name: &[u8],
    write: bool,
) -> KResult<()> {
    use sentry::fs::vfs::{may, MAY_READ, MAY_WRITE};
    use sentry::kernel::creds::cap;
    const SETFCAP: u32 = 31;
    if name.starts_with(b"trusted.") {
        return match (c.capable(cap::SYS_ADMIN), write) {
            (true, _) => Ok(()),
            (false, true) => Err(Errno::EPERM),
            (false, false) => Err(Errno::ENODATA),
        };
    }
    if name.starts_with(b"security.") {
        return match (write, &name[9..]) {
            (false, _) => Ok(()),
            (true, b"capability") if c.capable_wrt(SETFCAP, st.uid, st.gid) => Ok(()),
            (true, b"capability") => Err(Errno::EPERM),
            (true, _) if c.ns_capable(cap::SYS_ADMIN) => Ok(()),
            (true, _) => Err(Errno::EPERM),
        };
    }
    if name.starts_with(b"user.") {
        let kind = st.mode & libc::S_IFMT;
        if kind != libc::S_IFREG && kind != libc::S_IFDIR {
            return Err(if write { Errno::EPERM } else { Errno::ENODATA });
        }
        let owner = c.owns(st.uid, st.gid);
        if kind == libc::S_IFDIR && st.mode & libc::S_ISVTX != 0 && write && !owner {
            return Err(Errno::EPERM);
        }
    }
    if may(c, st, if write { MAY_WRITE } else { MAY_READ }) {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// A list of names without the trusted.* ones the caller may not see.
fn listed(c: &sentry::kernel::Creds, all: &[u8]) -> Vec<u8> {
    if c.capable(sentry::kernel::creds::cap::SYS_ADMIN) {
        return all.to_vec();
    }
    all.split_inclusive(|&b| b == 0)
        .filter(|n| !n.starts_with(b"trusted."))
        .flatten()
        .copied()
        .collect()
}

/// Copies a value or list out: size 0 asks for the length.
fn reply(ctx: &mut Ctx<'_, '_>, data: &[u8], buf: u64, size: u64) -> KResult<u64> {
    if size == 0 {
        return Ok(data.len() as u64);
    }
    if crate::abi::size(size) < data.len() {
        return Err(Errno::ERANGE);
    }
    ctx.mm.write(buf, data)?;
    Ok(data.len() as u64)
}

fn set(ctx: &mut Ctx<'_, '_>, on: On, a: [u64; 6]) -> KResult<u64> {
    check_fd(ctx, on)?;
    let flags = a[4];
    if flags & !((XATTR_CREATE | XATTR_REPLACE) as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let n = name(ctx, a[1])?;
    if crate::abi::size(a[3]) > SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let value = if a[3] == 0 {
        Vec::new()
    } else {
        sentry::mm::read_vec(&ctx.mm, a[2], crate::abi::size(a[3]))?
    };
    let r = resolve(ctx, on)?;
    apply(ctx, &r, &XattrOp::Set(&n, &value, crate::abi::int(flags)))?;
    ctx.k.vfs.xattr_changed(&r);
    Ok(0)
}

fn get(ctx: &mut Ctx<'_, '_>, on: On, a: [u64; 6]) -> KResult<u64> {
    check_fd(ctx, on)?;
    let n = name(ctx, a[1])?;
    let r = resolve(ctx, on)?;
    let mut v = apply(ctx, &r, &XattrOp::Get(&n))?;
    if n == b"security.capability" {
        let creds = &ctx.proc_ref().creds;
        v = sentry::kernel::setid::FileCaps::shown(&v, creds)?;
    }
    reply(ctx, &v, a[2], a[3])
}

fn list(ctx: &mut Ctx<'_, '_>, on: On, a: [u64; 6]) -> KResult<u64> {
    let r = resolve(ctx, on)?;
    let v = apply(ctx, &r, &XattrOp::List)?;
    reply(ctx, &v, a[1], a[2])
}

fn remove(ctx: &mut Ctx<'_, '_>, on: On, a: [u64; 6]) -> KResult<u64> {
    check_fd(ctx, on)?;
    let n = name(ctx, a[1])?;
    let r = resolve(ctx, on)?;
    apply(ctx, &r, &XattrOp::Remove(&n))?;
    ctx.k.vfs.xattr_changed(&r);
    Ok(0)
}

fn setxattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set(ctx, On::Path(a[0], true), a)
}
fn lsetxattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set(ctx, On::Path(a[0], false), a)
}
fn fsetxattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    set(ctx, On::Fd(a[0]), a)
}
fn getxattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    get(ctx, On::Path(a[0], true), a)
}
fn lgetxattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    get(ctx, On::Path(a[0], false), a)
}
fn fgetxattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    get(ctx, On::Fd(a[0]), a)
}
fn listxattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    list(ctx, On::Path(a[0], true), a)
}
fn llistxattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    list(ctx, On::Path(a[0], false), a)
}
fn flistxattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    list(ctx, On::Fd(a[0]), a)
}
fn removexattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    remove(ctx, On::Path(a[0], true), a)
}
fn lremovexattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    remove(ctx, On::Path(a[0], false), a)
}
fn fremovexattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    remove(ctx, On::Fd(a[0]), a)
}
