//! The new mount API: fsopen and fsconfig build a filesystem as mount(2)
//! would (from the same option strings), fsmount and
//! open_tree(OPEN_TREE_CLONE) give a mount that is not attached anywhere
//! yet, held by its fd until move_mount places it, and mount_setattr
//! changes a mount's flags. fspick (reconfiguring a mounted superblock)
//! is not offered.
//!
//! A detached mount is only an fd here: it can be attached, have its
//! flags changed and be stat'ed, but paths are not walked inside it (the
//! sentry's walk is by path in a namespace) until it is attached.

use crate::abi;
use crate::mount::{admin, is_dir, make_fs, may_reflag, move_tree, ns, rebase, under};
use crate::table::{Reg, Support::*};
use parking_lot::Mutex;
use sentry::fs::file::{File, FileOps};
use sentry::fs::vfs::{Filesystem, Mount, Resolved};
use sentry::fs::Stat;
use sentry::{Ctx, Errno, KResult};
use std::any::Any;
use std::sync::Arc;

pub fn register(r: &mut Reg<'_>) {
    r(
        "fsopen",
        "sx",
        Partial("the filesystems mount(2) has"),
        fsopen,
    );
    r(
        "fsconfig",
        "ixssi",
        Partial("string, flag and path parameters; no binary or fd ones"),
        fsconfig,
    );
    r("fsmount", "ixx", Full, fsmount);
    r(
        "move_mount",
        "ipipx",
        Partial("no MOVE_MOUNT_SET_GROUP or MOVE_MOUNT_BENEATH"),
        move_mount,
    );
    r("open_tree", "ipx", Full, open_tree);
    r(
        "mount_setattr",
        "ipxax",
        Partial("no idmapped mounts; propagation is always private"),
        mount_setattr,
    );
}

const FSOPEN_CLOEXEC: u64 = 1;
const FSMOUNT_CLOEXEC: u64 = 1;
const OPEN_TREE_CLONE: u64 = 1;
const AT_RECURSIVE: u64 = 0x8000;
const AT_NO_AUTOMOUNT: u64 = 0x800;

const FSCONFIG_SET_FLAG: u64 = 0;
const FSCONFIG_SET_STRING: u64 = 1;
const FSCONFIG_SET_BINARY: u64 = 2;
const FSCONFIG_SET_PATH: u64 = 3;
const FSCONFIG_SET_PATH_EMPTY: u64 = 4;
const FSCONFIG_SET_FD: u64 = 5;
const FSCONFIG_CMD_CREATE: u64 = 6;
const FSCONFIG_CMD_RECONFIGURE: u64 = 7;
const FSCONFIG_CMD_CREATE_EXCL: u64 = 8;

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const MOUNT_ATTR__ATIME: u64 = 0x70;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_IDMAP: u64 = 0x10_0000;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x20_0000;
const MOUNT_ATTRS: u64 = MOUNT_ATTR_RDONLY
    | MOUNT_ATTR_NOSUID
    | MOUNT_ATTR_NODEV
    | MOUNT_ATTR_NOEXEC
    | MOUNT_ATTR__ATIME
    | MOUNT_ATTR_NODIRATIME
    | MOUNT_ATTR_IDMAP
    | MOUNT_ATTR_NOSYMFOLLOW;

/// Filesystems fsopen knows (those mount(2) makes).
const TYPES: [&[u8]; 7] = [
    b"tmpfs", b"proc", b"mqueue", b"cgroup2", b"sysfs", b"devpts", b"overlay",
];

/// An fsopen fd: the parameters so far, then the filesystem made.
pub struct FsContext {
    st: Mutex<FsState>,
}

struct FsState {
    fstype: Vec<u8>,
    source: Option<String>,
    /// The options set, in order; setting one again replaces it.
    opts: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ro: bool,
    fs: Option<Arc<dyn Filesystem>>,
    /// fsmount has taken the filesystem.
    mounted: bool,
}

impl FileOps for FsContext {
    /// The context's error messages: there are none to read.
    fn read(&self, _f: &File, _buf: &mut [u8], _off: Option<u64>) -> KResult<usize> {
        Err(Errno::ENODATA)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(sentry::fs::synth::anon_stat())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A mount not attached anywhere (fsmount, open_tree(OPEN_TREE_CLONE)):
/// its mounts with points relative to its root ("" for the root, "/a"
/// below it), until move_mount attaches them.
pub struct MountFd {
    tree: Mutex<Tree>,
    root: Stat,
}

enum Tree {
    Detached(Vec<Mount>),
    /// move_mount placed it: the fd names that mount (by id) from then on.
    Attached(u64),
}

impl FileOps for MountFd {
    fn stat(&self) -> KResult<Stat> {
        Ok(self.root)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn cstr(ctx: &Ctx<'_, '_>, addr: u64, max: usize) -> KResult<Vec<u8>> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    sentry::mm::read_cstr(&ctx.mm, addr, max)
}

fn fsopen(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    if a[1] & !FSOPEN_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    admin(ctx)?;
    let name = cstr(ctx, a[0], 255)?;
    if !TYPES.contains(&&name[..]) {
        ctx.log_once(&format!("fsopen {}", String::from_utf8_lossy(&name)));
        return Err(Errno::ENODEV);
    }
    let c = FsContext {
        st: Mutex::new(FsState {
            fstype: name,
            source: None,
            opts: Vec::new(),
            ro: false,
            fs: None,
            mounted: false,
        }),
    };
    let f = File::new(
        Box::new(c),
        libc::O_RDWR,
        b"anon_inode:[fscontext]".to_vec(),
    );
    crate::fs::install(ctx, f, a[1] & FSOPEN_CLOEXEC != 0)
}

fn context_of(ctx: &mut Ctx<'_, '_>, fd: u64) -> KResult<Arc<File>> {
    let f = crate::fs::fdget(ctx, fd)?;
    if f.downcast::<FsContext>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

fn fsconfig(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (cmd, key, value, aux) = (a[1], a[2], a[3], abi::int(a[4]));
    // The shape of each command's arguments, as Linux checks it.
    let ok = match cmd {
        FSCONFIG_SET_FLAG => key != 0 && value == 0 && aux == 0,
        FSCONFIG_SET_STRING => key != 0 && value != 0 && aux == 0,
        FSCONFIG_SET_BINARY => key != 0 && value != 0 && aux > 0 && aux <= 1 << 20,
        FSCONFIG_SET_PATH | FSCONFIG_SET_PATH_EMPTY => key != 0 && value != 0,
        FSCONFIG_SET_FD => key != 0 && value == 0,
        FSCONFIG_CMD_CREATE | FSCONFIG_CMD_RECONFIGURE | FSCONFIG_CMD_CREATE_EXCL => {
            key == 0 && value == 0 && aux == 0
        }
        _ => return Err(Errno::EOPNOTSUPP),
    };
    if !ok {
        return Err(Errno::EINVAL);
    }
    let f = context_of(ctx, a[0])?;
    let c = f.downcast::<FsContext>().ok_or(Errno::EINVAL)?;
    let key = if key != 0 {
        cstr(ctx, key, 255)?
    } else {
        Vec::new()
    };
    match cmd {
        FSCONFIG_CMD_CREATE | FSCONFIG_CMD_CREATE_EXCL => {
            let (fstype, data) = {
                let st = c.st.lock();
                if st.fs.is_some() || st.mounted {
                    return Err(Errno::EBUSY);
                }
                (st.fstype.clone(), data_of(&st.opts))
            };
            admin(ctx)?;
            let fs = make_fs(ctx, &fstype, &data)?;
            c.st.lock().fs = Some(fs);
            Ok(0)
        }
        // Only a context from fspick reconfigures.
        FSCONFIG_CMD_RECONFIGURE => Err(Errno::EBUSY),
        _ => {
            if c.st.lock().fs.is_some() {
                return Err(Errno::EBUSY);
            }
            let val = match cmd {
                FSCONFIG_SET_FLAG => None,
                FSCONFIG_SET_STRING | FSCONFIG_SET_PATH | FSCONFIG_SET_PATH_EMPTY => {
                    Some(cstr(ctx, value, 4095)?)
                }
                // No filesystem here takes binary or fd parameters.
                _ => return Err(Errno::EINVAL),
            };
            set_param(c, key, val)
        }
    }
}

/// One fsconfig parameter: "source", "ro"/"rw", or an option checked
/// now, as Linux checks each when it is set.
fn set_param(c: &FsContext, key: Vec<u8>, val: Option<Vec<u8>>) -> KResult<u64> {
    let mut st = c.st.lock();
    match (&key[..], &val) {
        (b"source", Some(v)) => {
            if st.source.is_some() {
                return Err(Errno::EINVAL);
            }
            st.source = Some(String::from_utf8_lossy(v).into_owned());
            return Ok(0);
        }
        (b"source", None) => return Err(Errno::EINVAL),
        (b"ro", None) => {
            st.ro = true;
            return Ok(0);
        }
        (b"rw", None) => {
            st.ro = false;
            return Ok(0);
        }
        _ => {}
    }
    let mut opt = key.clone();
    if let Some(v) = &val {
        opt.push(b'=');
        opt.extend_from_slice(v);
    }
    match &st.fstype[..] {
        b"tmpfs" => {
            crate::mount::tmpfs_opts(&opt)?;
        }
        b"devpts" => {
            sentry::fs::pty::PtsOpts::parse(&opt, 0)?;
        }
        _ => {}
    }
    if let Some(slot) = st.opts.iter_mut().find(|(k, _)| *k == key) {
        slot.1 = val;
    } else if st.opts.len() >= MAX_OPTS {
        // More distinct options than any filesystem here has.
        return Err(Errno::EINVAL);
    } else {
        st.opts.push((key, val));
    }
    Ok(0)
}

/// Distinct options a context keeps, which bounds what it holds.
const MAX_OPTS: usize = 64;

/// mount(2)'s option string for `opts`.
fn data_of(opts: &[(Vec<u8>, Option<Vec<u8>>)]) -> Vec<u8> {
    let mut data = Vec::new();
    for (k, v) in opts {
        if !data.is_empty() {
            data.push(b',');
        }
        data.extend_from_slice(k);
        if let Some(v) = v {
            data.push(b'=');
            data.extend_from_slice(v);
        }
    }
    data
}

/// mount(2) flags for MOUNT_ATTR_* bits.
fn ms_flags(attr: u64) -> u64 {
    let mut f = 0;
    for (a, m) in [
        (MOUNT_ATTR_RDONLY, libc::MS_RDONLY),
        (MOUNT_ATTR_NOSUID, libc::MS_NOSUID),
        (MOUNT_ATTR_NODEV, libc::MS_NODEV),
        (MOUNT_ATTR_NOEXEC, libc::MS_NOEXEC),
        (MOUNT_ATTR_NODIRATIME, libc::MS_NODIRATIME),
    ] {
        if attr & a != 0 {
            f |= m;
        }
    }
    match attr & MOUNT_ATTR__ATIME {
        MOUNT_ATTR_NOATIME => f |= libc::MS_NOATIME,
        MOUNT_ATTR_STRICTATIME => f |= libc::MS_STRICTATIME,
        _ => {}
    }
    f
}

fn fsmount(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = context_of(ctx, a[0])?;
    let c = f.downcast::<FsContext>().ok_or(Errno::EINVAL)?;
    let attr = a[2];
    let atime = attr & MOUNT_ATTR__ATIME;
    if a[1] & !FSMOUNT_CLOEXEC != 0
        || attr & !MOUNT_ATTRS != 0
        || attr & (MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSYMFOLLOW) != 0
        || (atime != 0 && atime != MOUNT_ATTR_NOATIME && atime != MOUNT_ATTR_STRICTATIME)
    {
        return Err(Errno::EINVAL);
    }
    admin(ctx)?;
    let (fs, source, ro, fstype) = {
        let mut st = c.st.lock();
        let fs = st.fs.clone().ok_or(Errno::EINVAL)?;
        if st.mounted {
            return Err(Errno::EBUSY);
        }
        st.mounted = true;
        (
            fs,
            st.source.clone().unwrap_or_else(|| "none".into()),
            st.ro,
            st.fstype.clone(),
        )
    };
    let root = crate::mount::fs_root(ctx, &fstype);
    let mut flags = ms_flags(attr);
    if ro {
        flags |= libc::MS_RDONLY;
    }
    let m = Mount::new(b"", fs, &root, &source, flags);
    detached(ctx, vec![m], a[1] & FSMOUNT_CLOEXEC != 0)
}

/// An fd holding the detached mounts `tree` (its root first).
fn detached(ctx: &mut Ctx<'_, '_>, tree: Vec<Mount>, cloexec: bool) -> KResult<u64> {
    let root = {
        let c = ctx.caller();
        tree[0].fs.lookup(&c, &tree[0].root)?
    };
    let fd = MountFd {
        tree: Mutex::new(Tree::Detached(tree)),
        root,
    };
    let f = File::new(Box::new(fd), libc::O_PATH, b"/".to_vec());
    crate::fs::install(ctx, f, cloexec)
}

/// What a (dirfd, path, flags) names: a place in the namespace, or the
/// detached mount an fd holds (with AT_EMPTY_PATH and "").
enum Named {
    Place(Box<Resolved>),
    Detached(Arc<File>),
}

fn named(
    ctx: &mut Ctx<'_, '_>,
    dirfd: u64,
    path: u64,
    empty_ok: bool,
    follow: bool,
) -> KResult<Named> {
    let p = cstr(ctx, path, abi::PATH_MAX - 1)?;
    let dirfd = abi::int(dirfd);
    let k = ctx.k.clone();
    let r = if p.is_empty() {
        if !empty_ok {
            return Err(Errno::ENOENT);
        }
        if dirfd == libc::AT_FDCWD {
            k.vfs.resolve(ctx, libc::AT_FDCWD, b".", true)?
        } else {
            let f = crate::fs::fdget(ctx, crate::abi::bits(i64::from(dirfd)))?;
            let place = match f.downcast::<MountFd>().map(|m| attached_point(ctx, m)) {
                // Attached since: it names that mount where it is now.
                Some(Some(point)) => point,
                Some(None) => return Ok(Named::Detached(f)),
                None => f.place().ok_or(Errno::EINVAL)?.path(),
            };
            k.vfs.resolve(ctx, libc::AT_FDCWD, &place, false)?
        }
    } else {
        k.vfs.resolve(ctx, dirfd, &p, follow)?
    };
    r.stat.ok_or(Errno::ENOENT)?;
    Ok(Named::Place(Box::new(r)))
}

/// Where the mount an attached MountFd names is now (None while it is
/// detached, or once it is gone).
fn attached_point(ctx: &Ctx<'_, '_>, m: &MountFd) -> Option<Vec<u8>> {
    let Tree::Attached(id) = *m.tree.lock() else {
        return None;
    };
    ns(ctx)
        .mounts()
        .iter()
        .find(|x| x.id == id)
        .map(|x| x.point.clone())
}

fn open_tree(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let flags = a[2];
    let cloexec = libc::O_CLOEXEC as u64;
    let known = libc::AT_EMPTY_PATH as u64
        | AT_NO_AUTOMOUNT
        | AT_RECURSIVE
        | libc::AT_SYMLINK_NOFOLLOW as u64
        | OPEN_TREE_CLONE
        | cloexec;
    if flags & !known != 0 || (flags & AT_RECURSIVE != 0 && flags & OPEN_TREE_CLONE == 0) {
        return Err(Errno::EINVAL);
    }
    if flags & OPEN_TREE_CLONE != 0 {
        admin(ctx)?;
    }
    let empty_ok = flags & libc::AT_EMPTY_PATH as u64 != 0;
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW as u64 == 0;
    let r = match named(ctx, a[0], a[1], empty_ok, follow)? {
        Named::Place(r) => r,
        Named::Detached(f) => {
            // A detached mount again: without OPEN_TREE_CLONE, the same
            // mount; a clone of one is not offered.
            if flags & OPEN_TREE_CLONE != 0 {
                return Err(Errno::EINVAL);
            }
            return crate::fs::install(ctx, f, flags & cloexec != 0);
        }
    };
    if flags & OPEN_TREE_CLONE == 0 {
        // An O_PATH fd on the place (already walked: no links to follow).
        let how = libc::O_PATH | libc::O_NOFOLLOW;
        let k = ctx.k.clone();
        let f = k.vfs.open_how(ctx, libc::AT_FDCWD, &r.path, how, 0, 0)?;
        return crate::fs::install(ctx, f, flags & cloexec != 0);
    }
    let ns = ns(ctx);
    let mut tree = vec![r.mount.bind(b"", &r.rel, r.mount.flags)];
    if flags & AT_RECURSIVE != 0 {
        for m in ns.mounts() {
            if m.id != r.mount.id && m.point != r.path && under(&m.point, &r.path) {
                let rel = rebase(&m.point, &r.path, b"");
                tree.push(m.bind(&rel, &m.root, m.flags));
            }
        }
    }
    detached(ctx, tree, flags & cloexec != 0)
}

fn move_mount(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    const F_SYMLINKS: u64 = 1;
    const F_AUTOMOUNTS: u64 = 2;
    const F_EMPTY_PATH: u64 = 4;
    const T_SYMLINKS: u64 = 0x10;
    const T_AUTOMOUNTS: u64 = 0x20;
    const T_EMPTY_PATH: u64 = 0x40;
    const SET_GROUP: u64 = 0x100;
    const BENEATH: u64 = 0x200;
    let flags = a[4];
    let known = F_SYMLINKS
        | F_AUTOMOUNTS
        | F_EMPTY_PATH
        | T_SYMLINKS
        | T_AUTOMOUNTS
        | T_EMPTY_PATH
        | SET_GROUP
        | BENEATH;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    admin(ctx)?;
    if flags & (SET_GROUP | BENEATH) != 0 {
        ctx.log_once("move_mount MOVE_MOUNT_SET_GROUP/BENEATH");
        return Err(Errno::EINVAL);
    }
    let from = named(
        ctx,
        a[0],
        a[1],
        flags & F_EMPTY_PATH != 0,
        flags & F_SYMLINKS != 0,
    )?;
    let Named::Place(to) = named(
        ctx,
        a[2],
        a[3],
        flags & T_EMPTY_PATH != 0,
        flags & T_SYMLINKS != 0,
    )?
    else {
        // Onto a mount that is not attached anywhere.
        return Err(Errno::EINVAL);
    };
    let k = ctx.k.clone();
    k.vfs.changing(|| match from {
        Named::Place(src) => move_tree(&ns(ctx), &src, &to),
        Named::Detached(f) => attach(ctx, &f, &to),
    })
}

/// Attaches the detached mounts `f` holds at `to`.
fn attach(ctx: &mut Ctx<'_, '_>, f: &File, to: &Resolved) -> KResult<u64> {
    let m = f.downcast::<MountFd>().ok_or(Errno::EINVAL)?;
    let mut tree = m.tree.lock();
    let ns = ns(ctx);
    let Tree::Detached(mounts) = &*tree else {
        // Attached, then unmounted: nothing to move.
        return Err(Errno::EINVAL);
    };
    let root_dir = m.root.mode & libc::S_IFMT == libc::S_IFDIR;
    if root_dir != is_dir(to) {
        return Err(Errno::ENOTDIR);
    }
    let root_id = mounts.first().map_or(0, |x| x.id);
    for mnt in mounts {
        let point = if mnt.point.is_empty() {
            to.path.clone()
        } else {
            rebase(&[b"/".as_slice(), &mnt.point].concat(), b"/", &to.path)
        };
        ns.add(Mount {
            point,
            ..mnt.clone()
        });
    }
    *tree = Tree::Attached(root_id);
    Ok(0)
}

fn mount_setattr(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    const VER0: u64 = 32;
    let flags = a[2];
    let known = libc::AT_EMPTY_PATH as u64
        | AT_RECURSIVE
        | libc::AT_SYMLINK_NOFOLLOW as u64
        | AT_NO_AUTOMOUNT;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let size = a[4];
    if size < VER0 {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let raw = sentry::mm::read_vec(&ctx.mm, a[3], sentry::num::usize_of(size))?;
    if raw[32..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let w = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    let (set, clr, prop, userns) = (w(0), w(1), w(2), w(3));
    let props = libc::MS_SHARED | libc::MS_PRIVATE | libc::MS_SLAVE | libc::MS_UNBINDABLE;
    if (set | clr) & !MOUNT_ATTRS != 0
        || (prop != 0 && (prop & !props != 0 || prop.count_ones() != 1))
        || (userns != 0 && set & MOUNT_ATTR_IDMAP == 0)
    {
        return Err(Errno::EINVAL);
    }
    // An atime mode is set whole: clearing all of _ATIME with it.
    let atime = set & MOUNT_ATTR__ATIME;
    if atime != 0
        && (clr & MOUNT_ATTR__ATIME != MOUNT_ATTR__ATIME
            || (atime != MOUNT_ATTR_NOATIME && atime != MOUNT_ATTR_STRICTATIME))
    {
        return Err(Errno::EINVAL);
    }
    if (set | clr) & MOUNT_ATTR_IDMAP != 0 {
        ctx.log_once("mount_setattr MOUNT_ATTR_IDMAP");
        return Err(Errno::EINVAL);
    }
    if (set | clr) & MOUNT_ATTR_NOSYMFOLLOW != 0 {
        ctx.log_once("mount_setattr MOUNT_ATTR_NOSYMFOLLOW");
        return Err(Errno::EINVAL);
    }
    admin(ctx)?;
    let empty_ok = flags & libc::AT_EMPTY_PATH as u64 != 0;
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW as u64 == 0;
    let (set, mut clr) = (ms_flags(set), ms_flags(clr));
    if atime != 0 || clr & (libc::MS_NOATIME | libc::MS_STRICTATIME) != 0 {
        clr |= libc::MS_NOATIME | libc::MS_STRICTATIME | libc::MS_RELATIME;
    }
    let change = |f: u64| (f & !clr) | set;
    match named(ctx, a[0], a[1], empty_ok, follow)? {
        Named::Detached(f) => {
            let m = f.downcast::<MountFd>().ok_or(Errno::EINVAL)?;
            let mut tree = m.tree.lock();
            let Tree::Detached(mounts) = &mut *tree else {
                return Err(Errno::EINVAL);
            };
            let all = if flags & AT_RECURSIVE != 0 {
                mounts.len()
            } else {
                1
            };
            for mnt in mounts.iter_mut().take(all) {
                mnt.flags = change(mnt.flags);
            }
            Ok(0)
        }
        Named::Place(r) => {
            let ns = ns(ctx);
            let m = ns.mounted_at(&r.path).ok_or(Errno::EINVAL)?;
            let ids = if flags & AT_RECURSIVE != 0 {
                ns.subtree(m.id)
            } else {
                vec![m.id]
            };
            for mnt in ns.mounts().iter().filter(|x| ids.contains(&x.id)) {
                may_reflag(ctx, &ns, mnt, change(mnt.flags))?;
            }
            let k = ctx.k.clone();
            k.vfs.changing(|| {
                let mut mounts = ns.mounts.write();
                for slot in mounts.iter_mut().filter(|x| ids.contains(&x.id)) {
                    let mut n = (**slot).clone();
                    n.flags = change(n.flags);
                    *slot = Arc::new(n);
                }
            });
            Ok(0)
        }
    }
}
