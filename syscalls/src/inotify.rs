//! inotify_init/init1, inotify_add_watch, inotify_rm_watch, and `note`,
//! which the file system calls use to report what they changed.

use crate::abi;
use crate::fs::{fdget, install};
use crate::table::{Reg, Support::*};
use sentry::fs::file::File;
use sentry::fs::inotify::{InotifyFile, IN_DONT_FOLLOW, IN_MASK_ADD, IN_MASK_CREATE, IN_ONLYDIR};
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    let note = "changes made inside the sandbox";
    r("inotify_init", "", Partial(note), inotify_init);
    r("inotify_init1", "x", Partial(note), inotify_init1);
    r("inotify_add_watch", "dpx", Partial(note), inotify_add_watch);
    r("inotify_rm_watch", "di", Full, inotify_rm_watch);
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
    let mask = crate::abi::uint(a[2]);
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
    Ok(crate::abi::bits(i64::from(
        ino.add_watch(&r.path, &st, mask)?,
    )))
}

fn inotify_rm_watch(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = fdget(ctx, a[0])?;
    let ino = f
        .downcast::<InotifyFile>()
        .ok_or(Errno::EINVAL)?
        .ino
        .clone();
    ino.rm_watch(crate::abi::int(a[1]))?;
    Ok(0)
}
