//! inotify_init/init1, inotify_add_watch, inotify_rm_watch, and `note`,
//! which the file system calls use to report what they changed.

use crate::abi;
use crate::fs::{fdget, install};
use crate::table::{Reg, Support::*};
use sentry::fs::file::File;
use sentry::fs::inotify::{
    Event, InotifyFile, IN_DONT_FOLLOW, IN_MASK_ADD, IN_MASK_CREATE, IN_ONLYDIR,
};
use sentry::fs::Stat;
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    let note = "changes made inside the sandbox";
    r("inotify_init", "", Partial(note), inotify_init);
    r("inotify_init1", "x", Partial(note), inotify_init1);
    r("inotify_add_watch", "dpx", Partial(note), inotify_add_watch);
    r("inotify_rm_watch", "di", Full, inotify_rm_watch);
}

/// Reports `mask` on the object at canonical `path` (and to the watch of
/// its directory).
pub fn note(ctx: &Ctx<'_, '_>, path: &[u8], mask: u32, is_dir: bool) {
    emit(ctx, path, mask, is_dir, false, None);
}

/// Reports `mask` to watches of the object itself only, found by path or
/// by its identity in `st` (another hard link).
pub fn note_self(ctx: &Ctx<'_, '_>, path: &[u8], mask: u32, st: Option<Stat>) {
    let is_dir = st.is_some_and(|s| s.mode & libc::S_IFMT == libc::S_IFDIR);
    emit(ctx, path, mask, is_dir, true, st.map(|s| (s.dev, s.ino)));
}

fn emit(
    ctx: &Ctx<'_, '_>,
    path: &[u8],
    mask: u32,
    is_dir: bool,
    self_only: bool,
    id: Option<(u64, u64)>,
) {
    if !ctx.k.vfs.inotify.active() || !path.starts_with(b"/") {
        return;
    }
    ctx.k.vfs.inotify.notify(Event {
        path,
        mask,
        cookie: 0,
        is_dir,
        self_only,
        id,
    });
}

/// A rename from `from` to `to` (canonical paths).
pub fn note_rename(ctx: &Ctx<'_, '_>, from: &[u8], to: &[u8], is_dir: bool) {
    ctx.k.vfs.inotify.rename(from, to, is_dir);
}

/// Reports `mask` on an open file.
pub fn note_file(ctx: &Ctx<'_, '_>, f: &File, mask: u32) {
    if !ctx.k.vfs.inotify.active() {
        return;
    }
    let dir = f
        .ops
        .stat()
        .is_ok_and(|s| s.mode & libc::S_IFMT == libc::S_IFDIR);
    note(ctx, &f.path(), mask, dir);
}

fn inotify_init(ctx: &mut Ctx<'_, '_>, _a: [u64; 6]) -> KResult<u64> {
    create(ctx, 0)
}

fn inotify_init1(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    create(ctx, a[0])
}

fn create(ctx: &mut Ctx<'_, '_>, flags: u64) -> KResult<u64> {
    let (cloexec, nonblock) = (libc::IN_CLOEXEC as u64, libc::IN_NONBLOCK as u64);
    if flags & !(cloexec | nonblock) != 0 {
        return Err(Errno::EINVAL);
    }
    let ino = ctx.k.vfs.inotify.create();
    let fl = libc::O_RDONLY
        | if flags & nonblock != 0 {
            libc::O_NONBLOCK
        } else {
            0
        };
    let f = File::new(
        Box::new(InotifyFile { ino }),
        fl,
        b"anon_inode:inotify".to_vec(),
    );
    install(ctx, f, flags & cloexec != 0)
}

fn inotify_add_watch(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    let mask = a[2] as u32;
    if a[2] > u32::MAX as u64
        || mask == 0
        || (mask & IN_MASK_ADD != 0 && mask & IN_MASK_CREATE != 0)
    {
        return Err(Errno::EINVAL);
    }
    let ino = f
        .downcast::<InotifyFile>()
        .ok_or(Errno::EINVAL)?
        .ino
        .clone();
    let p = abi::path(ctx, a[1])?;
    let r = ctx
        .k
        .vfs
        .resolve(ctx, libc::AT_FDCWD, &p, mask & IN_DONT_FOLLOW == 0)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    if mask & IN_ONLYDIR != 0 && st.mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    Ok(ino.add_watch(&r.path, &st, mask)? as u64)
}

fn inotify_rm_watch(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    let ino = f
        .downcast::<InotifyFile>()
        .ok_or(Errno::EINVAL)?
        .ino
        .clone();
    ino.rm_watch(a[1] as i32)?;
    Ok(0)
}
