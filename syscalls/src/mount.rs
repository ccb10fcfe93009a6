//! Mount namespaces and their tables: mount (new tmpfs and proc mounts,
//! bind mounts, remounts, moves, propagation changes), umount2, chroot,
//! pivot_root and unshare. Every mount namespace is private: nothing
//! propagates between them.

use crate::abi;
use crate::table::{Reg, Support::*};
use sentry::fs::vfs::{split, total_memory, Mount, MountNs, Resolved};
use sentry::{Ctx, Errno, KResult};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub fn register(r: &mut Reg<'_>) {
    r(
        "mount",
        "ppsxa",
        Partial("tmpfs, proc, sysfs, devpts, mqueue, cgroup2, overlay, bind, remount, move; propagation is always private"),
        mount,
    );
    r("umount2", "px", Full, umount2);
    r("chroot", "p", Full, chroot);
    r("pivot_root", "pp", Full, pivot_root);
    r(
        "unshare",
        "x",
        Partial("CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWUSER, CLONE_NEWIPC (the whole process), CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWPID, CLONE_NEWTIME, CLONE_FS, CLONE_FILES, CLONE_SYSVSEM"),
        unshare,
    );
}

/// Per-mount flags mount(2) sets and /proc/self/mountinfo shows.
const PER_MOUNT: u64 = libc::MS_RDONLY
    | libc::MS_NOSUID
    | libc::MS_NODEV
    | libc::MS_NOEXEC
    | libc::MS_NOATIME
    | libc::MS_NODIRATIME
    | libc::MS_RELATIME
    | libc::MS_STRICTATIME;
const PROPAGATION: u64 = libc::MS_SHARED | libc::MS_PRIVATE | libc::MS_SLAVE | libc::MS_UNBINDABLE;
const MGC_MASK: u64 = 0xffff_0000;
const MGC_VAL: u64 = 0xc0ed_0000;

/// Device numbers for new tmpfs instances.
static NEXT_DEV: AtomicU64 = AtomicU64::new(0x40);

/// CAP_SYS_ADMIN over the caller's mount namespace (held in the user
/// namespace that owns it).
pub(crate) fn admin(ctx: &Ctx<'_, '_>) -> KResult<()> {
    let owner = ctx.task_ref().mnt_ns.owner.clone();
    if !ctx
        .proc_ref()
        .creds
        .capable_in(&owner, sentry::kernel::creds::cap::SYS_ADMIN)
    {
        return Err(Errno::EPERM);
    }
    Ok(())
}

pub(crate) fn ns(ctx: &Ctx<'_, '_>) -> Arc<MountNs> {
    ctx.task_ref().mnt_ns.clone()
}

fn lookup(ctx: &mut Ctx<'_, '_>, p: u64, follow: bool) -> KResult<Resolved> {
    let path = abi::path(ctx, p)?;
    let r = ctx.k.vfs.resolve(ctx, libc::AT_FDCWD, &path, follow)?;
    r.stat.ok_or(Errno::ENOENT)?;
    Ok(r)
}

pub(crate) fn is_dir(r: &Resolved) -> bool {
    r.stat
        .is_some_and(|s| s.mode & libc::S_IFMT == libc::S_IFDIR)
}

/// `path` lies at or under `dir` (both canonical).
pub(crate) fn under(path: &[u8], dir: &[u8]) -> bool {
    dir == b"/" || path == dir || (path.starts_with(dir) && path.get(dir.len()) == Some(&b'/'))
}

/// `path` (at or under `from`) re-expressed under `to`.
pub(crate) fn rebase(path: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let rest: &[u8] = match (from, path) {
        (b"/", b"/") => b"",
        (b"/", _) => path,
        _ => &path[from.len()..],
    };
    let mut out = if to == b"/" { Vec::new() } else { to.to_vec() };
    out.extend_from_slice(rest);
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Checks tmpfs options as mount(2) would take them.
pub fn check_tmpfs_options(data: &[u8]) -> KResult<()> {
    tmpfs_opts(data).map(|_| ())
}

/// Mounts a tmpfs the sandbox starts with (a container's `mounts` entry)
/// at `point` of the first mount namespace: `flags` as mount(2)'s
/// (MS_RDONLY, MS_NOSUID, ...), `data` its options (mode, size, uid, gid).
/// The mount point need not exist in the root beneath.
pub fn mount_tmpfs(
    k: &sentry::kernel::Kernel,
    point: &[u8],
    flags: u64,
    data: &[u8],
) -> KResult<()> {
    let (size, mode, uid, gid) = tmpfs_opts(data)?;
    let dev = NEXT_DEV.fetch_add(1, Ordering::Relaxed);
    let fs = Arc::new(sentry::fs::tmpfs::TmpFs::with_owner(
        dev,
        mode,
        size,
        (uid.unwrap_or(0), gid.unwrap_or(0)),
        &k.memfile,
    ));
    k.vfs
        .init_ns
        .add(Mount::new(point, fs, b"", "tmpfs", flags & PER_MOUNT));
    Ok(())
}

/// What `path` is in the first mount namespace, looked up without
/// following a last symlink; None when it is not there.
fn boot_stat(k: &sentry::kernel::Kernel, path: &[u8]) -> Option<sentry::fs::Stat> {
    let st = k.lock();
    let c = sentry::fs::vfs::Caller::new(&st, 0, &k.vfs);
    let (m, rel) = k.vfs.init_ns.mount_of(path);
    m.fs.lookup(&c, &rel).ok()
}

/// Masks `path` before the first process runs (a container's
/// maskedPaths, as runc does): an empty read-only tmpfs over a directory,
/// /dev/null bound over anything else. Whether it was there to mask.
pub fn mask_path(k: &sentry::kernel::Kernel, path: &[u8]) -> bool {
    let Some(st) = boot_stat(k, path) else {
        return false;
    };
    let ns = &k.vfs.init_ns;
    if st.mode & libc::S_IFMT == libc::S_IFDIR {
        mount_tmpfs(k, path, libc::MS_RDONLY, b"size=4k,mode=755").is_ok()
    } else {
        let (dev, rel) = ns.mount_of(b"/dev/null");
        ns.add(dev.bind(path, &rel, libc::MS_RDONLY | libc::MS_NOSUID));
        true
    }
}

/// Makes `path` read-only before the first process runs (a container's
/// readonlyPaths, or one of the sandbox's own mounts asked for "ro"), as
/// runc does: a mount point is remounted read-only in place; another
/// path gets a recursive bind of itself, read-only at the top, so what
/// is mounted beneath it stays in sight. Whether it was there.
pub fn read_only_path(k: &sentry::kernel::Kernel, path: &[u8]) -> bool {
    if boot_stat(k, path).is_none() {
        return false;
    }
    let ns = &k.vfs.init_ns;
    let (m, rel) = ns.mount_of(path);
    if m.point == path {
        let mut mounts = ns.mounts.write();
        if let Some(slot) = mounts.iter_mut().find(|x| x.id == m.id) {
            let mut x = (**slot).clone();
            x.flags |= libc::MS_RDONLY;
            *slot = Arc::new(x);
        }
        return true;
    }
    let beneath: Vec<Arc<Mount>> = ns
        .mounts()
        .into_iter()
        .filter(|x| x.point != path && under(&x.point, path))
        .filter(|x| ns.mounted_at(&x.point).is_some_and(|v| v.id == x.id))
        .collect();
    ns.add(m.bind(path, &rel, m.flags | libc::MS_RDONLY));
    for x in beneath {
        ns.add(x.bind(&x.point, &x.root, x.flags));
    }
    true
}

/// tmpfs options: size (bytes, k/m/g suffix or % of memory), mode, uid,
/// gid (None when not given); nr_inodes and friends are accepted and
/// ignored.
pub(crate) fn tmpfs_opts(data: &[u8]) -> KResult<(u64, u32, Option<u32>, Option<u32>)> {
    let mut size = total_memory() / 2;
    let (mut mode, mut uid, mut gid) = (0o1777, None, None);
    for opt in data.split(|&b| b == b',').filter(|o| !o.is_empty()) {
        let opt = std::str::from_utf8(opt).map_err(|_| Errno::EINVAL)?;
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        let num = |v: &str, radix| u64::from_str_radix(v, radix).map_err(|_| Errno::EINVAL);
        match k {
            "size" => {
                let (n, mul) = match v.chars().last() {
                    Some('k' | 'K') => (&v[..v.len() - 1], 1 << 10),
                    Some('m' | 'M') => (&v[..v.len() - 1], 1 << 20),
                    Some('g' | 'G') => (&v[..v.len() - 1], 1 << 30),
                    Some('%') => (&v[..v.len() - 1], 0),
                    _ => (v, 1),
                };
                let n = num(n, 10)?;
                size = if mul == 0 {
                    total_memory() / 100 * n
                } else {
                    n.checked_mul(mul).ok_or(Errno::EINVAL)?
                };
            }
            "mode" => mode = crate::abi::uint(num(v, 8)?) & 0o7777,
            "uid" => uid = Some(crate::abi::uint(num(v, 10)?)),
            "gid" => gid = Some(crate::abi::uint(num(v, 10)?)),
            "nr_inodes" | "nr_blocks" => {
                let digits = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G']);
                num(digits, 10)?;
            }
            "inode64" | "inode32" | "huge" | "mpol" | "noswap" | "defaults" => {}
            _ => return Err(Errno::EINVAL),
        }
    }
    Ok((if size == 0 { u64::MAX } else { size }, mode, uid, gid))
}

fn mount(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    // The mount table is part of the namespace walks see.
    let k = ctx.k.clone();
    k.vfs.changing(|| mount_now(ctx, a))
}

fn mount_now(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let mut flags = a[3];
    if flags & MGC_MASK == MGC_VAL {
        flags &= !MGC_MASK;
    }
    let target = lookup(ctx, a[1], true)?;
    admin(ctx)?;
    let ns = ns(ctx);
    if flags & libc::MS_REMOUNT != 0 {
        let m = ns.mounted_at(&target.path).ok_or(Errno::EINVAL)?;
        let keep = if flags & libc::MS_BIND != 0 {
            0
        } else {
            m.flags & !PER_MOUNT
        };
        let new_flags = keep | (flags & PER_MOUNT);
        may_reflag(ctx, &ns, &m, new_flags)?;
        let new = Mount {
            flags: new_flags,
            ..(*m).clone()
        };
        let mut mounts = ns.mounts.write();
        if let Some(slot) = mounts.iter_mut().find(|x| x.id == m.id) {
            *slot = Arc::new(new);
        }
        return Ok(0);
    }
    if flags & libc::MS_BIND != 0 {
        if a[0] == 0 {
            return Err(Errno::EINVAL);
        }
        let src = lookup(ctx, a[0], true)?;
        if is_dir(&src) != is_dir(&target) {
            return Err(Errno::ENOTDIR);
        }
        // A namespace file (/proc/PID/ns/NAME): the mount keeps the
        // namespace itself.
        let nsfile = src
            .reopen
            .as_ref()
            .and_then(|f| f.downcast::<sentry::fs::nsfs::NsFile>());
        if let Some(n) = nsfile {
            let fs = Arc::new(sentry::fs::nsfs::NsMount::new(n));
            ns.add(Mount::new(&target.path, fs, b"", "nsfs", src.mount.flags));
            return Ok(0);
        }
        let mut add = vec![src.mount.bind(&target.path, &src.rel, src.mount.flags)];
        if flags & libc::MS_REC != 0 {
            // Mounts below the source come along, in mount order.
            for m in ns.mounts() {
                if m.id != src.mount.id && m.point != src.path && under(&m.point, &src.path) {
                    add.push(m.bind(&rebase(&m.point, &src.path, &target.path), &m.root, m.flags));
                }
            }
        }
        for m in add {
            ns.add(m);
        }
        return Ok(0);
    }
    if flags & libc::MS_MOVE != 0 {
        let src = lookup(ctx, a[0], true)?;
        return move_tree(&ns, &src, &target);
    }
    if flags & PROPAGATION != 0 {
        // One propagation type, with nothing but MS_REC and MS_SILENT.
        let silent = 1 << 15;
        if (flags & PROPAGATION).count_ones() > 1
            || flags & !(PROPAGATION | libc::MS_REC | silent) != 0
        {
            return Err(Errno::EINVAL);
        }
        ns.mounted_at(&target.path).ok_or(Errno::EINVAL)?;
        if flags & libc::MS_SHARED != 0 {
            ctx.log_once("mount MS_SHARED (mount namespaces never propagate)");
        }
        return Ok(0);
    }
    let fstype = if a[2] == 0 {
        return Err(Errno::EINVAL);
    } else {
        sentry::mm::read_cstr(&ctx.mm, a[2], 4096)?
    };
    let source = if a[0] == 0 {
        "none".to_string()
    } else {
        String::from_utf8_lossy(&sentry::mm::read_cstr(&ctx.mm, a[0], 4096)?).into_owned()
    };
    let data = if a[4] == 0 {
        Vec::new()
    } else {
        sentry::mm::read_cstr(&ctx.mm, a[4], 4096)?
    };
    if !is_dir(&target) {
        return Err(Errno::ENOTDIR);
    }
    let fs = make_fs(ctx, &fstype, &data)?;
    let root = fs_root(ctx, &fstype);
    ns.add(Mount::new(
        &target.path,
        fs,
        &root,
        &source,
        flags & PER_MOUNT,
    ));
    Ok(0)
}

/// Moves the mount at `src` (and those beneath it) to `target`
/// (MS_MOVE, move_mount).
pub(crate) fn move_tree(ns: &MountNs, src: &Resolved, target: &Resolved) -> KResult<u64> {
    let m = ns.mounted_at(&src.path).ok_or(Errno::EINVAL)?;
    if m.point == b"/" || is_dir(src) != is_dir(target) {
        return Err(Errno::EINVAL);
    }
    // Into itself would make a loop.
    if under(&target.path, &src.path) {
        return Err(Errno::ELOOP);
    }
    let moved = ns.subtree(m.id);
    let new_parent = ns.mount_of(&target.path).0.id;
    let mut mounts = ns.mounts.write();
    for slot in mounts.iter_mut().filter(|x| moved.contains(&x.id)) {
        let mut n = (**slot).clone();
        n.point = rebase(&n.point, &src.path, &target.path);
        if n.id == m.id {
            n.parent = new_parent;
        }
        *slot = Arc::new(n);
    }
    Ok(0)
}

/// A new filesystem of type `fstype` with mount(2)'s option string `data`
/// (mount(2) and fsconfig's FSCONFIG_CMD_CREATE).
/// Where a new mount of `fstype` starts in its filesystem: cgroup2
/// mounted in a cgroup namespace shows that namespace's root.
pub(crate) fn fs_root(ctx: &Ctx<'_, '_>, fstype: &[u8]) -> Vec<u8> {
    if fstype != b"cgroup2" {
        return Vec::new();
    }
    let root = ctx.task_ref().cgroup_ns.root;
    let path = ctx.st.cgroups.lock().path(root);
    path.strip_prefix(b"/").unwrap_or(&path).to_vec()
}

pub(crate) fn make_fs(
    ctx: &mut Ctx<'_, '_>,
    fstype: &[u8],
    data: &[u8],
) -> KResult<Arc<dyn sentry::fs::vfs::Filesystem>> {
    // Inside a user namespace of its own, only the filesystems Linux
    // lets such a namespace mount (FS_USERNS_MOUNT).
    let userns_ok = [
        &b"tmpfs"[..],
        b"proc",
        b"mqueue",
        b"cgroup2",
        b"sysfs",
        b"devpts",
        b"overlay",
    ];
    if !ctx.proc_ref().creds.userns.is_init() && !userns_ok.contains(&fstype) {
        return Err(Errno::EPERM);
    }
    Ok(match fstype {
        b"tmpfs" => {
            let (size, mode, uid, gid) = tmpfs_opts(data)?;
            // The root belongs to the mounter (its fsuid and fsgid), or
            // to the ids the options name in its user namespace.
            let c = &ctx.proc_ref().creds;
            let uid = match uid {
                Some(u) => c.userns.uid_from_ns(u).ok_or(Errno::EINVAL)?,
                None => c.fsuid,
            };
            let gid = match gid {
                Some(g) => c.userns.gid_from_ns(g).ok_or(Errno::EINVAL)?,
                None => c.fsgid,
            };
            let dev = NEXT_DEV.fetch_add(1, Ordering::Relaxed);
            Arc::new(sentry::fs::tmpfs::TmpFs::with_owner(
                dev,
                mode,
                size,
                (uid, gid),
                &ctx.k.memfile,
            ))
        }
        b"proc" => Arc::new(sentry::fs::proc::ProcFs::of(ctx.task_ref().pid_ns.clone())),
        // The sandbox's one IPC namespace has one set of queues.
        b"mqueue" => ctx.st.ipc.mqueue(ctx.proc_ref().ipc_ns, &ctx.k.vfs.mqueue),
        // One hierarchy, whichever mount shows it.
        b"cgroup2" => ctx.k.vfs.cgroup.clone(),
        b"sysfs" => Arc::new(sentry::fs::sysfs::SysFs::new(sentry::fs::proc::ncpu())),
        b"overlay" => overlay(ctx, data)?,
        // Every devpts mount is an instance of its own.
        b"devpts" => {
            let dev = NEXT_DEV.fetch_add(1, Ordering::Relaxed);
            let opts = sentry::fs::pty::PtsOpts::parse(data, dev)?;
            Arc::new(sentry::fs::devpts::DevPtsFs::new(Arc::new(
                sentry::fs::pty::PtyTable::new(opts),
            )))
        }
        other => {
            ctx.log_once(&format!("mount -t {}", String::from_utf8_lossy(other)));
            return Err(Errno::ENODEV);
        }
    })
}

/// An overlay of directories of the caller's tree (`mount -t overlay`):
/// each must be a directory; the upper one writable, with its work
/// directory on the same filesystem and neither inside the other.
fn overlay(ctx: &mut Ctx<'_, '_>, data: &[u8]) -> KResult<Arc<dyn sentry::fs::vfs::Filesystem>> {
    use sentry::fs::overlay_mount::{Layer, Options, OverlayMount};
    let o = Options::parse(data)?;
    let k = ctx.k.clone();
    let dir = |path: &[u8]| -> KResult<Resolved> {
        let r = k.vfs.resolve(ctx, libc::AT_FDCWD, path, true)?;
        r.stat.ok_or(Errno::ENOENT)?;
        if !is_dir(&r) {
            return Err(Errno::ENOTDIR);
        }
        Ok(r)
    };
    let layer = |r: &Resolved| Layer {
        fs: r.mount.fs.clone(),
        root: r.rel.clone(),
    };
    let mut lowers = Vec::new();
    for l in &o.lower {
        lowers.push(layer(&dir(l)?));
    }
    let upper = match (&o.upper, &o.work) {
        (Some(u), Some(w)) => {
            let (u, w) = (dir(u)?, dir(w)?);
            if u.mount.flags & libc::MS_RDONLY != 0 || u.mount.fs.read_only() {
                return Err(Errno::EROFS);
            }
            let apart = !under(&u.path, &w.path) && !under(&w.path, &u.path);
            if !Arc::ptr_eq(&u.mount.fs, &w.mount.fs) || !apart {
                return Err(Errno::EINVAL);
            }
            Some(layer(&u))
        }
        _ => None,
    };
    let dev = NEXT_DEV.fetch_add(1, Ordering::Relaxed);
    Ok(OverlayMount::new(upper, lowers, o.userxattr, dev))
}

fn umount2(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    // The mount table is part of the namespace walks see.
    let k = ctx.k.clone();
    k.vfs.changing(|| umount2_now(ctx, a))
}

fn umount2_now(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    const MNT_FORCE: u64 = 1;
    const MNT_DETACH: u64 = 2;
    const MNT_EXPIRE: u64 = 4;
    const UMOUNT_NOFOLLOW: u64 = 8;
    let flags = a[1];
    if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0
        || (flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0)
    {
        return Err(Errno::EINVAL);
    }
    admin(ctx)?;
    let target = lookup(ctx, a[0], flags & UMOUNT_NOFOLLOW == 0)?;
    let ns = ns(ctx);
    let m = ns.mounted_at(&target.path).ok_or(Errno::EINVAL)?;
    // A path on a detached mount (a working directory left in one) is
    // not a mount point of this namespace.
    if m.id != target.mount.id {
        return Err(Errno::EINVAL);
    }
    // A mount inherited from a more privileged user namespace stays.
    if ns.locked.lock().contains(&m.id) {
        return Err(Errno::EINVAL);
    }
    if m.parent == m.id {
        // The namespace's root.
        return Err(Errno::EBUSY);
    }
    // MNT_EXPIRE: the first call marks the mount (EAGAIN), the next one
    // unmounts it if nothing uses it.
    if flags & MNT_EXPIRE != 0 && ns.expiring.lock().insert(m.id) {
        return Err(Errno::EAGAIN);
    }
    let doomed = ns.subtree(m.id);
    if flags & MNT_DETACH == 0 {
        if doomed.len() > 1 {
            return Err(Errno::EBUSY);
        }
        // A working directory, a root or an open file inside it keeps it
        // busy.
        let roots = ctx.st.tasks.values().any(|t| {
            Arc::ptr_eq(&t.mnt_ns, &ns) && {
                let fs = t.fs.lock();
                fs.cwd.mount.id == m.id || fs.root.mount.id == m.id
            }
        });
        let busy = roots || open_on(ctx, &ns, m.id, |_| true);
        if busy {
            return Err(Errno::EBUSY);
        }
    }
    ns.expiring.lock().remove(&m.id);
    ns.mounts.write().retain(|x| !doomed.contains(&x.id));
    Ok(0)
}

fn chroot(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let r = lookup(ctx, a[0], true)?;
    if !is_dir(&r) {
        return Err(Errno::ENOTDIR);
    }
    // Search permission on it first, then CAP_SYS_CHROOT in the caller's
    // own user namespace, as Linux asks.
    let st = r.stat.unwrap_or_default();
    if let Some(c) = ctx.caller().creds() {
        if !sentry::fs::vfs::may(c, &st, sentry::fs::vfs::MAY_EXEC) {
            return Err(Errno::EACCES);
        }
    }
    if !ctx
        .proc_ref()
        .creds
        .ns_capable(sentry::kernel::creds::cap::SYS_CHROOT)
    {
        return Err(Errno::EPERM);
    }
    ctx.task().fs.lock().root = r.place();
    Ok(0)
}

fn pivot_root(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    // The mount table is part of the namespace walks see.
    let k = ctx.k.clone();
    k.vfs.changing(|| pivot_root_now(ctx, a))
}

fn pivot_root_now(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    admin(ctx)?;
    let new_root = lookup(ctx, a[0], true)?;
    let put_old = lookup(ctx, a[1], true)?;
    if !is_dir(&new_root) || !is_dir(&put_old) {
        return Err(Errno::ENOTDIR);
    }
    let ns = ns(ctx);
    if ctx.task_ref().fs.lock().root.path() != b"/" {
        return Err(Errno::EINVAL);
    }
    let (n, p) = (new_root.path.clone(), put_old.path.clone());
    let old_root = ns.mount_of(b"/").0;
    // Linux's order: on the root mount (EBUSY), then not a mount point,
    // then put_old not under new_root (EINVAL).
    if new_root.mount.id == old_root.id || put_old.mount.id == old_root.id {
        return Err(Errno::EBUSY);
    }
    let new_mount = ns.mounted_at(&n).ok_or(Errno::EINVAL)?;
    if !under(&p, &n) {
        return Err(Errno::EINVAL);
    }
    // Where the old root ends up, seen from the new one.
    let put = rebase(&p, &n, b"/");
    let keep = ns.subtree(new_mount.id);
    let mut mounts = ns.mounts.write();
    let (mut inside, mut outside): (Vec<_>, Vec<_>) =
        mounts.drain(..).partition(|m| keep.contains(&m.id));
    for m in inside.iter_mut() {
        let mut x = (**m).clone();
        x.point = rebase(&x.point, &n, b"/");
        if x.id == new_mount.id {
            x.parent = x.id;
        }
        *m = Arc::new(x);
    }
    let parent_of_old = ns_point_owner(&inside, &put);
    for m in outside.iter_mut() {
        let mut x = (**m).clone();
        x.point = rebase(&x.point, b"/", &put);
        if x.id == old_root.id {
            x.parent = parent_of_old;
        }
        *m = Arc::new(x);
    }
    // The old root goes on top, so with put_old == new_root it hides the
    // new root until it is unmounted (the usual pivot_root(".", ".")).
    inside.extend(outside);
    *mounts = inside;
    drop(mounts);
    // A locked old root passes its lock to the new root (so the old one
    // can be detached, what every container runtime does next).
    let mut locked = ns.locked.lock();
    if locked.remove(&old_root.id) {
        locked.insert(new_mount.id);
    }
    drop(locked);
    for t in ctx.st.tasks.values() {
        if !Arc::ptr_eq(&t.mnt_ns, &ns) {
            continue;
        }
        let mut fs = t.fs.lock();
        let fs = &mut *fs;
        for place in [&mut fs.cwd, &mut fs.root] {
            let path = place.path();
            let moved = if under(&path, &n) {
                rebase(&path, &n, b"/")
            } else {
                rebase(&path, b"/", &put)
            };
            *place = ns.path_ref(&moved);
        }
        if fs.root.path() != b"/" && split(&fs.root.path()) == split(&put) {
            fs.root = ns.path_ref(b"/");
        }
    }
    Ok(0)
}

/// The id of the mount that holds `point` among `mounts`.
fn ns_point_owner(mounts: &[Arc<Mount>], point: &[u8]) -> u64 {
    mounts
        .iter()
        .filter(|m| under(point, &m.point))
        .max_by_key(|m| m.point.len())
        .map_or(0, |m| m.id)
}

fn unshare(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let mut flags = crate::abi::int(a[0]);
    let supported = libc::CLONE_NEWNS
        | libc::CLONE_NEWUSER
        | libc::CLONE_NEWUTS
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SYSVSEM
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWTIME;
    let known = supported | libc::CLONE_THREAD | libc::CLONE_SIGHAND | libc::CLONE_VM;
    if a[0] > u32::MAX as u64 || flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    // CLONE_THREAD, CLONE_SIGHAND and CLONE_VM unshare nothing: they
    // are allowed only when there is nothing shared to leave
    // (check_unshare_flags).
    let own = libc::CLONE_THREAD | libc::CLONE_SIGHAND | libc::CLONE_VM;
    if flags & !(supported | own) != 0 {
        ctx.log_once(&format!("unshare flags {:#x}", flags & !supported));
        return Err(Errno::EINVAL);
    }
    if flags & own != 0 {
        let me = ctx.tgid();
        let single = ctx.proc_ref().threads.len() == 1;
        let sighand = ctx.proc_ref().sighand.clone();
        let mm = ctx.mm.clone();
        let shares = |pred: &dyn Fn(&sentry::kernel::Task) -> bool| {
            ctx.st.tasks.values().any(|t| t.tgid != me && pred(t))
        };
        if !single
            || (flags & (libc::CLONE_SIGHAND | libc::CLONE_VM) != 0
                && ctx
                    .st
                    .procs
                    .values()
                    .any(|p| p.tgid != me && Arc::ptr_eq(&p.sighand, &sighand)))
            || (flags & libc::CLONE_VM != 0 && shares(&|t| Arc::ptr_eq(&t.mm, &mm)))
        {
            return Err(Errno::EINVAL);
        }
    }
    if flags & libc::CLONE_NEWUSER != 0 {
        // A new user namespace takes the whole process and its own fs
        // context (CLONE_THREAD | CLONE_FS).
        flags |= libc::CLONE_FS;
        if ctx.proc_ref().threads.len() > 1 {
            return Err(Errno::EINVAL);
        }
        // Not from inside a chroot: the namespace's powers would reach
        // past it.
        if ctx.task_ref().fs.lock().root.path() != b"/" {
            return Err(Errno::EPERM);
        }
    }
    if flags & libc::CLONE_NEWNS != 0 {
        flags |= libc::CLONE_FS;
    }
    if flags & libc::CLONE_NEWUSER != 0 {
        let c = &ctx.proc_ref().creds;
        let ns = sentry::kernel::userns::UserNs::child(&c.userns, c.euid, c.egid)?;
        let c = &mut ctx.proc_().creds;
        c.userns = sentry::kernel::userns::NsRef(ns);
        c.caps = sentry::kernel::creds::Caps::FULL;
        for t in ctx.proc_ref().threads.clone() {
            sentry::kernel::signal::kick(&ctx.st, t);
        }
    }
    // New namespaces belong to the caller's user namespace (the new one,
    // where it has every capability).
    if flags & sentry::kernel::clone::NEW_NAMESPACES != 0
        && !ctx
            .proc_ref()
            .creds
            .ns_capable(sentry::kernel::creds::cap::SYS_ADMIN)
    {
        return Err(Errno::EPERM);
    }
    let owner = ctx.proc_ref().creds.userns.0.clone();
    // A new PID namespace is for the children: the caller stays where
    // it is, and only one may wait for its first child at a time.
    let new_pid_ns = if flags & libc::CLONE_NEWPID != 0 {
        let t = ctx.task_ref();
        if !Arc::ptr_eq(&t.pid_ns, &t.pid_ns_children) {
            return Err(Errno::EINVAL);
        }
        Some(sentry::kernel::pidns::PidNs::child(
            &t.pid_ns,
            owner.clone(),
        )?)
    } else {
        None
    };
    let t = ctx.task();
    if let Some(ns) = new_pid_ns {
        t.pid_ns_children = ns;
    }
    // A new time namespace is for forked children too; its offsets are
    // set through /proc/self/timens_offsets until one enters.
    if flags & libc::CLONE_NEWTIME != 0 {
        t.time_ns_children = sentry::kernel::timens::TimeNs::child(&t.time_ns, owner.clone());
    }
    if flags & (libc::CLONE_FS | libc::CLONE_NEWNS) != 0 {
        let copy = t.fs.lock().clone();
        t.fs = Arc::new(parking_lot::Mutex::new(copy));
    }
    if flags & libc::CLONE_FILES != 0 {
        let copy = t.files.lock().clone();
        t.files = Arc::new(parking_lot::Mutex::new(copy));
    }
    if flags & libc::CLONE_NEWNS != 0 {
        t.mnt_ns = t.mnt_ns.copy(&owner);
    }
    if flags & libc::CLONE_NEWUTS != 0 {
        t.uts_ns = t.uts_ns.copy(&owner);
    }
    if flags & libc::CLONE_NEWNET != 0 {
        t.net_ns = t.net_ns.child(owner.clone());
    }
    if flags & libc::CLONE_NEWCGROUP != 0 {
        let cg = ctx.proc_ref().cgroup;
        ctx.task().cgroup_ns = sentry::kernel::cgroup::CgroupNs::new(cg, owner.clone());
    }
    if flags & libc::CLONE_NEWIPC != 0 {
        // A new IPC namespace of the whole process (Linux's is the
        // thread's), leaving the undo list in the old one.
        let ns = ctx.st.ipc.create(owner.clone(), &ctx.k.vfs.mqueue);
        let tgid = ctx.tgid();
        sentry::kernel::ipc::enter(&mut ctx.st, tgid, ns);
        return Ok(0);
    }
    if flags & libc::CLONE_SYSVSEM != 0 {
        // Leaves a shared semaphore undo list (applying it if this was
        // its last holder); the next SEM_UNDO makes a list of its own.
        let pid = ctx.tgid();
        if let Some(list) = ctx.proc_().sem_undo.take() {
            let ns = ctx.proc_ref().ipc_ns;
            ctx.st.ipc.of(ns).exit_undo(list, pid);
        }
    }
    Ok(0)
}

/// Whether mount `m` of `ns` may take per-mount flags `new_flags`: a
/// mount inherited from a more privileged user namespace keeps the
/// restrictions it came with (Linux's MNT_LOCK_*, EPERM), and one with a
/// file open for writing on it does not go read-only (EBUSY).
pub(crate) fn may_reflag(
    ctx: &Ctx<'_, '_>,
    ns: &Arc<MountNs>,
    m: &Mount,
    new_flags: u64,
) -> KResult<()> {
    let sticky = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    if ns.locked.lock().contains(&m.id) && m.flags & sticky & !new_flags != 0 {
        return Err(Errno::EPERM);
    }
    if new_flags & !m.flags & libc::MS_RDONLY != 0 && open_on(ctx, ns, m.id, writer) {
        return Err(Errno::EBUSY);
    }
    Ok(())
}

/// A file open for writing that keeps its mount from going read-only
/// (FIFOs, sockets and devices do not).
pub(crate) fn writer(f: &sentry::fs::file::File) -> bool {
    f.writable()
        && f.stat().is_ok_and(|st| {
            matches!(
                st.mode & libc::S_IFMT,
                libc::S_IFREG | libc::S_IFDIR | libc::S_IFLNK
            )
        })
}

/// Whether a process of `ns` holds an open file on mount `id` that `pred`
/// picks.
pub(crate) fn open_on(
    ctx: &Ctx<'_, '_>,
    ns: &Arc<MountNs>,
    id: u64,
    pred: impl Fn(&sentry::fs::file::File) -> bool,
) -> bool {
    let mut tables: Vec<Arc<_>> = Vec::new();
    for t in ctx.st.tasks.values() {
        if Arc::ptr_eq(&t.mnt_ns, ns) && !tables.iter().any(|x| Arc::ptr_eq(x, &t.files)) {
            tables.push(t.files.clone());
        }
    }
    tables.iter().any(|ft| {
        ft.lock()
            .fds
            .values()
            .any(|e| e.file.place().is_some_and(|p| p.mount.id == id) && pred(&e.file))
    })
}
