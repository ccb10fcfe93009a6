//! End-to-end tests: `serve` on one end of a socketpair in a thread, rooted
//! at a temporary directory, and a `Client` (or raw messages) on the other.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::proto::{decode_reply, Reply, Request, MAX_MSG};
use crate::{serve, sys, Client, GoferError, ServeOptions};

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "gofer-test-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            nanos
        ));
        fs::create_dir(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A running server over a populated temporary root.
struct Fixture {
    dir: TempDir,
    client: Option<Client>,
    server: Option<JoinHandle<Result<(), GoferError>>>,
}

impl Fixture {
    fn new(read_only: bool) -> Fixture {
        let dir = TempDir::new();
        populate(dir.path());
        let (client_end, server) = start_server(dir.path(), read_only);
        Fixture {
            dir,
            client: Some(Client::new(client_end)),
            server: Some(server),
        }
    }
    fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }
    /// Closes the client and checks the server ended cleanly.
    fn finish(mut self) {
        drop(self.client.take());
        let r = self.server.take().unwrap().join().unwrap();
        assert!(r.is_ok(), "serve returned {r:?}");
    }
}

fn open_root(dir: &Path) -> OwnedFd {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(dir)
        .unwrap()
        .into()
}

fn start_server(dir: &Path, read_only: bool) -> (OwnedFd, JoinHandle<Result<(), GoferError>>) {
    start_server_on(dir, read_only, None)
}

/// Like `start_server`, with the server thread pinned to `cpu` if given.
fn start_server_on(
    dir: &Path,
    read_only: bool,
    cpu: Option<usize>,
) -> (OwnedFd, JoinHandle<Result<(), GoferError>>) {
    let (a, b) = sys::seqpacket_pair().unwrap();
    let root = open_root(dir);
    let h = std::thread::spawn(move || {
        if let Some(cpu) = cpu {
            pin_to_cpu(cpu);
        }
        // Read-only fixtures model an unsealed root: no donation.
        serve(
            root,
            b,
            ServeOptions {
                read_only,
                donate_root: !read_only,
            },
        )
    });
    (a, h)
}

/// Restricts the calling thread to one CPU.
fn pin_to_cpu(cpu: usize) {
    // SAFETY: cpu_set_t is a plain bit set; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit inside `set` (cpu < CPU_SETSIZE here).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; 0 = this thread.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(r, 0, "sched_setaffinity");
}

/// The tree every test starts from.
fn populate(root: &Path) {
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/passwd"), "inside-root\n").unwrap();
    fs::create_dir_all(root.join("dir/sub")).unwrap();
    fs::write(root.join("dir/file.txt"), "hello world").unwrap();
    std::os::unix::fs::symlink("file.txt", root.join("dir/link_to_file")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("link_abs")).unwrap();
    std::os::unix::fs::symlink("../../../etc", root.join("link_rel")).unwrap();
    std::os::unix::fs::symlink("dir", root.join("dirlink")).unwrap();
}

fn errno<T: std::fmt::Debug>(r: Result<T, GoferError>) -> i32 {
    match r {
        Err(GoferError::Errno(e)) => e,
        other => panic!("expected an errno, got {other:?}"),
    }
}

fn ftype(mode: u32) -> u32 {
    mode & libc::S_IFMT
}

#[test]
fn client_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Client>();
}

#[test]
fn walk() {
    let f = Fixture::new(false);
    let c = f.c();
    let root_ino = fs::metadata(f.dir.path()).unwrap().ino();

    let w = c.walk(b"/").unwrap();
    assert_eq!(w.stats.len(), 1);
    assert_eq!(w.stats[0].ino, root_ino);
    assert!(w.error.is_none() && w.symlink_target.is_none());

    let w = c.walk(b"/dir/file.txt").unwrap();
    assert_eq!(w.stats.len(), 3);
    assert_eq!(ftype(w.stats[1].mode), libc::S_IFDIR);
    assert_eq!(ftype(w.stats[2].mode), libc::S_IFREG);
    assert_eq!(w.stats[2].size, 11);
    assert_eq!(
        w.stats[2].ino,
        fs::metadata(f.dir.join("dir/file.txt")).unwrap().ino()
    );
    assert!(w.error.is_none() && w.symlink_target.is_none());

    // Through a symlink: the walk stops there with its target.
    let w = c.walk(b"/dir/link_to_file/more").unwrap();
    assert_eq!(w.stats.len(), 3);
    assert_eq!(ftype(w.stats[2].mode), libc::S_IFLNK);
    assert_eq!(w.symlink_target.as_deref(), Some(&b"file.txt"[..]));
    assert!(w.error.is_none());

    let w = c.walk(b"/dir/missing/x").unwrap();
    assert_eq!(w.stats.len(), 2);
    assert_eq!(w.error, Some(libc::ENOENT));

    let w = c.walk(b"/dir/file.txt/x").unwrap();
    assert_eq!(w.stats.len(), 3);
    assert_eq!(w.error, Some(libc::ENOTDIR));

    // Empty and "." components are ignored.
    let w = c.walk(b"//dir/./sub/").unwrap();
    assert_eq!(w.stats.len(), 3);
    assert!(w.error.is_none());

    assert_eq!(errno(c.walk(b"/../etc")), libc::EINVAL);
    assert_eq!(errno(c.walk(b"dir")), libc::EINVAL);
    assert_eq!(errno(c.walk(b"/a\0b")), libc::EINVAL);
    assert_eq!(errno(c.walk(&vec![b'/'; 5000])), libc::ENAMETOOLONG);
    f.finish();
}

#[test]
fn walk_longer_than_one_reply() {
    let f = Fixture::new(false);
    let depth = 450;
    let rel = vec!["a"; depth].join("/");
    fs::create_dir_all(f.dir.join(&rel)).unwrap();
    let path = format!("/{rel}");
    let w = f.c().walk(path.as_bytes()).unwrap();
    assert_eq!(w.stats.len(), depth + 1);
    assert!(w.error.is_none());
    let mut prev = 0;
    for st in &w.stats {
        assert_eq!(ftype(st.mode), libc::S_IFDIR);
        assert_ne!(st.ino, prev);
        prev = st.ino;
    }
    let missing = format!("{path}/nope");
    let w = f.c().walk(missing.as_bytes()).unwrap();
    assert_eq!(w.stats.len(), depth + 1);
    assert_eq!(w.error, Some(libc::ENOENT));
    f.finish();
}

#[test]
fn lstat_readlink_statfs() {
    let f = Fixture::new(false);
    let c = f.c();
    let st = c.lstat(b"/dir/file.txt").unwrap();
    let host = fs::symlink_metadata(f.dir.join("dir/file.txt")).unwrap();
    assert_eq!(st.ino, host.ino());
    assert_eq!(st.dev, host.dev());
    assert_eq!(st.mode, host.mode());
    assert_eq!(st.size, 11);
    assert_eq!(st.mtime, (host.mtime(), host.mtime_nsec()));
    assert_eq!(ftype(c.lstat(b"/link_abs").unwrap().mode), libc::S_IFLNK);
    assert_eq!(
        c.lstat(b"/").unwrap().ino,
        fs::metadata(f.dir.path()).unwrap().ino()
    );
    assert_eq!(errno(c.lstat(b"/nope")), libc::ENOENT);

    assert_eq!(c.readlink(b"/link_abs").unwrap(), b"/etc/passwd");
    assert_eq!(c.readlink(b"/link_rel").unwrap(), b"../../../etc");
    assert_eq!(errno(c.readlink(b"/dir/file.txt")), libc::EINVAL);
    assert_eq!(errno(c.readlink(b"/nope")), libc::ENOENT);

    let s = c.statfs(b"/dir").unwrap();
    assert!(s.bsize > 0 && s.namelen > 0 && s.blocks > 0);
    f.finish();
}

fn fd_flags(fd: &OwnedFd) -> (i32, i32) {
    (
        sys::get_fl(fd.as_fd()).unwrap(),
        // SAFETY: F_GETFD takes no pointer argument.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) },
    )
}

#[test]
fn open_and_read() {
    let f = Fixture::new(false);
    let c = f.c();
    let fd = c.open(b"/dir/file.txt", libc::O_RDONLY, 0).unwrap();
    let (fl, fdfl) = fd_flags(&fd);
    assert_eq!(fl & libc::O_NONBLOCK, 0, "O_NONBLOCK must be cleared");
    assert_ne!(
        fdfl & libc::FD_CLOEXEC,
        0,
        "donated fd must be close-on-exec"
    );
    let mut s = String::new();
    fs::File::from(fd).read_to_string(&mut s).unwrap();
    assert_eq!(s, "hello world");

    // Unknown flag bits are ignored, as open(2) does.
    c.open(b"/dir/file.txt", libc::O_RDONLY | 0x4000_0000, 0)
        .unwrap();
    c.open(b"/dir/file.txt", libc::O_RDONLY | 0o100000, 0)
        .unwrap();
    let fd = c
        .open(b"/dir/file.txt", libc::O_RDONLY | libc::O_NONBLOCK, 0)
        .unwrap();
    assert_ne!(
        fd_flags(&fd).0 & libc::O_NONBLOCK,
        0,
        "requested O_NONBLOCK kept"
    );

    // Create and write through the donated fd.
    let fd = c
        .open(
            b"/dir/new.txt",
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
            0o640,
        )
        .unwrap();
    fs::File::from(fd).write_all(b"written").unwrap();
    assert_eq!(fs::read(f.dir.join("dir/new.txt")).unwrap(), b"written");
    assert_eq!(
        fs::metadata(f.dir.join("dir/new.txt")).unwrap().mode() & 0o777,
        0o640
    );
    assert_eq!(
        errno(c.open(
            b"/dir/new.txt",
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
            0o640
        )),
        libc::EEXIST
    );

    // Directories, O_PATH, errors.
    c.open(b"/dir", libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .unwrap();
    c.open(b"/", libc::O_RDONLY | libc::O_DIRECTORY, 0).unwrap();
    c.open(b"/dir/file.txt", libc::O_PATH, 0).unwrap();
    assert_eq!(
        errno(c.open(b"/dir/file.txt", libc::O_RDONLY | libc::O_DIRECTORY, 0)),
        libc::ENOTDIR
    );
    assert_eq!(errno(c.open(b"/nope", libc::O_RDONLY, 0)), libc::ENOENT);
    // A final symlink is never followed.
    assert_eq!(
        errno(c.open(b"/dir/link_to_file", libc::O_RDONLY, 0)),
        libc::ELOOP
    );

    // A FIFO never blocks the gofer.
    c.mknod(b"/fifo", libc::S_IFIFO | 0o600, 0).unwrap();
    let rd = c.open(b"/fifo", libc::O_RDONLY, 0).unwrap();
    let wr = c.open(b"/fifo", libc::O_WRONLY, 0).unwrap();
    drop((rd, wr));
    assert_eq!(errno(c.open(b"/fifo", libc::O_WRONLY, 0)), libc::ENXIO);
    c.ping().unwrap();
    f.finish();
}

#[test]
fn readdir() {
    let f = Fixture::new(false);
    let c = f.c();
    let mut ents = c.readdir(b"/dir").unwrap();
    ents.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<&[u8]> = ents.iter().map(|e| &e.name[..]).collect();
    assert_eq!(names, [&b"file.txt"[..], b"link_to_file", b"sub"]);
    assert_eq!(ents[0].kind, libc::DT_REG);
    assert_eq!(ents[1].kind, libc::DT_LNK);
    assert_eq!(ents[2].kind, libc::DT_DIR);
    assert_eq!(
        ents[0].ino,
        fs::metadata(f.dir.join("dir/file.txt")).unwrap().ino()
    );
    assert!(c.readdir(b"/dir/sub").unwrap().is_empty());
    assert_eq!(errno(c.readdir(b"/dir/file.txt")), libc::ENOTDIR);
    assert_eq!(errno(c.readdir(b"/nope")), libc::ENOENT);

    // More entries than fit in one reply.
    let n = 3000;
    fs::create_dir(f.dir.join("big")).unwrap();
    for i in 0..n {
        fs::write(
            f.dir
                .join(&format!("big/{i:0>6}-padding-padding-padding-padding")),
            "",
        )
        .unwrap();
    }
    let mut names: Vec<Vec<u8>> = c
        .readdir(b"/big")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names.len(), n);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n);
    f.finish();
}

#[test]
fn mutating_ops() {
    let f = Fixture::new(false);
    let c = f.c();
    let d = &f.dir;

    c.mkdir(b"/newdir", 0o750).unwrap();
    let m = fs::metadata(d.join("newdir")).unwrap();
    assert!(m.is_dir());
    assert_eq!(m.mode() & 0o777, 0o750);
    assert_eq!(errno(c.mkdir(b"/newdir", 0o750)), libc::EEXIST);
    assert_eq!(errno(c.mkdir(b"/", 0o750)), libc::EEXIST);
    assert_eq!(errno(c.mkdir(b"/nope/x", 0o750)), libc::ENOENT);

    c.mknod(b"/newdir/reg", libc::S_IFREG | 0o600, 0).unwrap();
    assert!(fs::metadata(d.join("newdir/reg")).unwrap().is_file());
    c.mknod(b"/newdir/fifo", libc::S_IFIFO | 0o600, 0).unwrap();
    assert_eq!(
        fs::symlink_metadata(d.join("newdir/fifo")).unwrap().mode() & libc::S_IFMT,
        libc::S_IFIFO
    );
    assert_eq!(
        errno(c.mknod(b"/newdir/blk", libc::S_IFBLK | 0o600, 0x0800)),
        libc::EPERM
    );
    assert_eq!(
        errno(c.mknod(b"/newdir/chr", libc::S_IFCHR | 0o600, 0x0103)),
        libc::EPERM
    );

    c.symlink(b"reg", b"/newdir/sym").unwrap();
    assert_eq!(
        fs::read_link(d.join("newdir/sym")).unwrap(),
        Path::new("reg")
    );
    assert_eq!(errno(c.symlink(b"", b"/newdir/sym2")), libc::ENOENT);

    c.link(b"/newdir/reg", b"/newdir/hard").unwrap();
    assert_eq!(fs::metadata(d.join("newdir/reg")).unwrap().nlink(), 2);
    // Linking a symlink links the symlink itself.
    c.link(b"/link_abs", b"/hardlink_to_symlink").unwrap();
    assert!(fs::symlink_metadata(d.join("hardlink_to_symlink"))
        .unwrap()
        .file_type()
        .is_symlink());

    c.rename(b"/newdir/hard", b"/dir/moved", 0).unwrap();
    assert!(d.join("dir/moved").exists() && !d.join("newdir/hard").exists());
    assert_eq!(
        errno(c.rename(b"/dir/moved", b"/dir/file.txt", libc::RENAME_NOREPLACE)),
        libc::EEXIST
    );
    c.rename(b"/dir/moved", b"/dir/file.txt", libc::RENAME_EXCHANGE)
        .unwrap();
    assert_eq!(fs::read(d.join("dir/moved")).unwrap(), b"hello world");
    assert_eq!(errno(c.rename(b"/", b"/x", 0)), libc::EBUSY);

    c.chmod(b"/dir/moved", 0o604).unwrap();
    assert_eq!(
        fs::metadata(d.join("dir/moved")).unwrap().mode() & 0o7777,
        0o604
    );
    c.chmod(b"/newdir", 0o1777).unwrap();
    assert_eq!(
        fs::metadata(d.join("newdir")).unwrap().mode() & 0o7777,
        0o1777
    );
    assert_eq!(errno(c.chmod(b"/link_abs", 0o777)), libc::EOPNOTSUPP);

    let me = (
        // SAFETY: geteuid/getegid cannot fail.
        unsafe { libc::geteuid() },
        // SAFETY: as above.
        unsafe { libc::getegid() },
    );
    let (uid, gid) = if me.0 == 0 { (1234, 5678) } else { me };
    c.chown(b"/dir/moved", uid, gid).unwrap();
    let m = fs::metadata(d.join("dir/moved")).unwrap();
    assert_eq!((m.uid(), m.gid()), (uid, gid));
    c.chown(b"/dir/moved", u32::MAX, u32::MAX).unwrap();
    let m = fs::metadata(d.join("dir/moved")).unwrap();
    assert_eq!((m.uid(), m.gid()), (uid, gid));
    // chown of a symlink changes the link, not its target.
    let target_before = fs::metadata(d.join("dir/file.txt")).unwrap();
    c.chown(b"/dir/link_to_file", uid, gid).unwrap();
    let link = fs::symlink_metadata(d.join("dir/link_to_file")).unwrap();
    assert_eq!((link.uid(), link.gid()), (uid, gid));
    let target_after = fs::metadata(d.join("dir/file.txt")).unwrap();
    assert_eq!(
        (target_before.uid(), target_before.gid()),
        (target_after.uid(), target_after.gid())
    );

    c.utimens(b"/dir/moved", [(1_000_000, 5), (2_000_000, 7)])
        .unwrap();
    let m = fs::metadata(d.join("dir/moved")).unwrap();
    assert_eq!((m.atime(), m.atime_nsec()), (1_000_000, 5));
    assert_eq!((m.mtime(), m.mtime_nsec()), (2_000_000, 7));
    c.utimens(b"/dir/moved", [(0, libc::UTIME_OMIT), (3_000_000, 0)])
        .unwrap();
    let m = fs::metadata(d.join("dir/moved")).unwrap();
    assert_eq!((m.atime(), m.mtime()), (1_000_000, 3_000_000));
    // Never follows: the link's times change, the target's do not.
    let before = fs::metadata(d.join("dir/file.txt")).unwrap().mtime();
    c.utimens(
        b"/dir/link_to_file",
        [(0, libc::UTIME_OMIT), (4_000_000, 0)],
    )
    .unwrap();
    assert_eq!(
        fs::symlink_metadata(d.join("dir/link_to_file"))
            .unwrap()
            .mtime(),
        4_000_000
    );
    assert_eq!(
        fs::metadata(d.join("dir/file.txt")).unwrap().mtime(),
        before
    );

    c.truncate(b"/dir/moved", 5).unwrap();
    assert_eq!(fs::read(d.join("dir/moved")).unwrap(), b"hello");
    assert_eq!(errno(c.truncate(b"/dir", 0)), libc::EISDIR);
    assert_eq!(errno(c.truncate(b"/dir/moved", -1)), libc::EINVAL);
    assert_eq!(errno(c.truncate(b"/newdir/fifo", 0)), libc::EINVAL);

    c.unlink(b"/newdir/reg", false).unwrap();
    assert!(!d.join("newdir/reg").exists());
    assert_eq!(errno(c.unlink(b"/newdir/reg", false)), libc::ENOENT);
    assert_eq!(errno(c.unlink(b"/newdir", false)), libc::EISDIR);
    assert_eq!(errno(c.unlink(b"/newdir", true)), libc::ENOTEMPTY);
    c.unlink(b"/newdir/sym", false).unwrap();
    c.unlink(b"/newdir/fifo", false).unwrap();
    c.unlink(b"/newdir", true).unwrap();
    assert!(!d.join("newdir").exists());
    assert_eq!(errno(c.unlink(b"/", true)), libc::EBUSY);
    f.finish();
}

#[test]
fn root_fd_only_when_donated() {
    let f = Fixture::new(false);
    let fd = f.c().root_fd().expect("root fd");
    let st = sys::fstat(fd.as_fd()).unwrap();
    assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFDIR);
    let (flags, _) = fd_flags(&fd);
    assert_ne!(flags & libc::O_PATH, 0, "root fd must be O_PATH");
    f.finish();
    let f = Fixture::new(true);
    assert_eq!(errno(f.c().root_fd()), libc::EPERM);
    f.finish();
}

/// Sets attribute `name` of host file `path` to `value`, as the host's
/// root, behind the gofer's back.
fn host_setxattr(path: &Path, name: &std::ffi::CStr, value: &[u8]) {
    let p = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: setxattr with C strings and a value of the length passed.
    let r = unsafe {
        libc::setxattr(
            p.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(r, 0, "setxattr {name:?}");
}

#[test]
fn user_attributes_and_file_capabilities_only() {
    let f = Fixture::new(false);
    let c = f.c();
    c.xattr(b"/dir/file.txt", 1, b"user.k", b"v", 0).unwrap();
    assert_eq!(
        c.xattr(b"/dir/file.txt", 0, b"user.k", b"", 0).unwrap(),
        b"v"
    );
    // Root could set these on the host; the gofer never does.
    for name in [&b"trusted.k"[..], b"security.capability", b"system.foo"] {
        assert_eq!(
            errno(c.xattr(b"/dir/file.txt", 1, name, b"v", 0)),
            libc::EOPNOTSUPP
        );
    }
    // A host attribute outside user.* is not listed.
    let host = f.dir.path().join("dir/file.txt");
    host_setxattr(&host, c"trusted.host", b"x");
    assert_eq!(
        c.xattr(b"/dir/file.txt", 2, b"", b"", 0).unwrap(),
        b"user.k\0"
    );
    // File capabilities are read (exec in the sandbox honours them) and
    // listed, never set or removed.
    let fcaps = [0x0200_0001u32, 1 << 13, 0, 0, 0];
    let bytes: Vec<u8> = fcaps.iter().flat_map(|w| w.to_le_bytes()).collect();
    host_setxattr(&host, c"security.capability", &bytes);
    let fc = &b"security.capability"[..];
    assert_eq!(c.xattr(b"/dir/file.txt", 0, fc, b"", 0).unwrap(), bytes);
    let list = c.xattr(b"/dir/file.txt", 2, b"", b"", 0).unwrap();
    let mut names: Vec<&[u8]> = list.split(|&b| b == 0).filter(|n| !n.is_empty()).collect();
    names.sort();
    assert_eq!(names, [fc, b"user.k"]);
    assert_eq!(
        errno(c.xattr(b"/dir/file.txt", 3, fc, b"", 0)),
        libc::EOPNOTSUPP
    );
    assert_eq!(
        errno(c.xattr(b"/dir/link_to_file", 0, b"user.k", b"", 0)),
        libc::ENODATA
    );
    c.xattr(b"/dir/file.txt", 3, b"user.k", b"", 0).unwrap();
    assert_eq!(
        errno(c.xattr(b"/dir/file.txt", 0, b"user.k", b"", 0)),
        libc::ENODATA
    );
    f.finish();
}

/// An ACL value (host ids): the owner, the owning group and others with
/// `named` users, and a mask when there are any.
fn acl_value(named: &[(u32, u16)]) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    let mut entry = |tag: u16, perm: u16, id: u32| {
        v.extend(tag.to_le_bytes());
        v.extend(perm.to_le_bytes());
        v.extend(id.to_le_bytes());
    };
    entry(0x01, 6, u32::MAX);
    for &(id, perm) in named {
        entry(0x02, perm, id);
    }
    entry(0x04, 4, u32::MAX);
    if !named.is_empty() {
        entry(0x10, 6, u32::MAX);
    }
    entry(0x20, 4, u32::MAX);
    v
}

#[test]
fn posix_acls_are_served_and_walks_flag_them() {
    use crate::proto::{ACL_ACCESS_SET, ACL_DEFAULT_SET};
    let f = Fixture::new(false);
    let c = f.c();
    let (access, default) = (
        &b"system.posix_acl_access"[..],
        &b"system.posix_acl_default"[..],
    );
    assert_eq!(walk_flags_of(c, b"/dir/file.txt"), [0, 0, 0]);
    let v = acl_value(&[(1000, 4)]);
    c.xattr(b"/dir/file.txt", 1, access, &v, 0).unwrap();
    c.xattr(b"/dir", 1, default, &v, 0).unwrap();
    assert_eq!(c.xattr(b"/dir/file.txt", 0, access, b"", 0).unwrap(), v);
    assert_eq!(c.xattr(b"/dir", 0, default, b"", 0).unwrap(), v);
    assert_eq!(
        walk_flags_of(c, b"/dir/file.txt"),
        [0, ACL_DEFAULT_SET, ACL_ACCESS_SET]
    );
    let list = c.xattr(b"/dir/file.txt", 2, b"", b"", 0).unwrap();
    assert_eq!(list, b"system.posix_acl_access\0");
    // The host kernel checks values: a default ACL is for directories.
    assert_eq!(
        errno(c.xattr(b"/dir/file.txt", 1, default, &v, 0)),
        libc::EACCES
    );
    assert_eq!(
        errno(c.xattr(b"/dir/file.txt", 1, access, b"bad", 0)),
        libc::EINVAL
    );
    // A FIFO has them too: nothing is opened.
    let fifo = f.dir.path().join("dir/fifo");
    let cfifo = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo with a C string.
    assert_eq!(unsafe { libc::mkfifo(cfifo.as_ptr(), 0o644) }, 0);
    c.xattr(b"/dir/fifo", 1, access, &v, 0).unwrap();
    assert_eq!(c.xattr(b"/dir/fifo", 0, access, b"", 0).unwrap(), v);
    assert_eq!(walk_flags_of(c, b"/dir/fifo")[2], ACL_ACCESS_SET);
    c.xattr(b"/dir/fifo", 3, access, b"", 0).unwrap();
    // A symlink is never followed: its target (the host's own
    // /etc/passwd, were it followed outside the root) is not touched.
    assert_ne!(
        c.xattr(b"/link_abs", 1, access, &acl_value(&[(4242, 7)]), 0)
            .ok(),
        Some(Vec::new())
    );
    assert!(c.xattr(b"/etc/passwd", 0, access, b"", 0).is_err());
    // SAFETY: getxattr with C strings and no buffer.
    let host = unsafe {
        libc::getxattr(
            c"/etc/passwd".as_ptr(),
            c"system.posix_acl_access".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    assert_eq!(host, -1);
    // A symlink is walked, never asked.
    assert_eq!(walk_flags_of(c, b"/dir/link_to_file").last(), Some(&0));
    c.xattr(b"/dir/file.txt", 3, access, b"", 0).unwrap();
    assert_eq!(
        errno(c.xattr(b"/dir/file.txt", 0, access, b"", 0)),
        libc::ENODATA
    );
    assert_eq!(walk_flags_of(c, b"/dir/file.txt")[2], 0);
    f.finish();
    // Read-only: shown, never changed.
    let f = Fixture::new(true);
    host_setxattr(
        &f.dir.path().join("dir/file.txt"),
        c"system.posix_acl_access",
        &v,
    );
    let c = f.c();
    assert_eq!(c.xattr(b"/dir/file.txt", 0, access, b"", 0).unwrap(), v);
    assert_eq!(walk_flags_of(c, b"/dir/file.txt"), [0, 0, ACL_ACCESS_SET]);
    assert_eq!(
        errno(c.xattr(b"/dir/file.txt", 3, access, b"", 0)),
        libc::EROFS
    );
    f.finish();
}

fn walk_flags_of(c: &Client, path: &[u8]) -> Vec<u8> {
    c.walk(path).unwrap().acls
}

#[test]
fn read_only_refuses_mutations() {
    let f = Fixture::new(true);
    let c = f.c();
    let rofs = libc::EROFS;
    assert_eq!(
        errno(c.xattr(b"/dir/file.txt", 1, b"user.k", b"v", 0)),
        rofs
    );
    assert_eq!(errno(c.xattr(b"/dir/file.txt", 3, b"user.k", b"", 0)), rofs);
    assert_eq!(errno(c.mkdir(b"/x", 0o755)), rofs);
    assert_eq!(errno(c.mknod(b"/x", libc::S_IFREG | 0o644, 0)), rofs);
    assert_eq!(errno(c.unlink(b"/dir/file.txt", false)), rofs);
    assert_eq!(errno(c.unlink(b"/dir/sub", true)), rofs);
    assert_eq!(errno(c.rename(b"/dir/file.txt", b"/x", 0)), rofs);
    assert_eq!(errno(c.link(b"/dir/file.txt", b"/x")), rofs);
    assert_eq!(errno(c.symlink(b"t", b"/x")), rofs);
    assert_eq!(errno(c.chmod(b"/dir/file.txt", 0o777)), rofs);
    assert_eq!(errno(c.chown(b"/dir/file.txt", 0, 0)), rofs);
    assert_eq!(errno(c.utimens(b"/dir/file.txt", [(0, 0), (0, 0)])), rofs);
    assert_eq!(errno(c.truncate(b"/dir/file.txt", 0)), rofs);
    for flags in [
        libc::O_WRONLY,
        libc::O_RDWR,
        libc::O_RDONLY | libc::O_CREAT,
        libc::O_RDONLY | libc::O_TRUNC,
        libc::O_RDONLY | libc::O_APPEND,
        libc::O_RDWR | libc::O_TMPFILE,
    ] {
        assert_eq!(
            errno(c.open(b"/dir/file.txt", flags, 0o644)),
            rofs,
            "flags {flags:#x}"
        );
    }
    // Reads still work.
    let mut s = String::new();
    fs::File::from(c.open(b"/dir/file.txt", libc::O_RDONLY, 0).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "hello world");
    c.open(b"/dir", libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .unwrap();
    assert_eq!(c.readdir(b"/dir").unwrap().len(), 3);
    assert_eq!(c.walk(b"/dir/file.txt").unwrap().stats.len(), 3);
    // Nothing changed on the host.
    assert_eq!(
        fs::read(f.dir.join("dir/file.txt")).unwrap(),
        b"hello world"
    );
    assert!(!f.dir.join("x").exists());
    f.finish();
}

#[test]
fn escapes_stay_inside_root() {
    let f = Fixture::new(false);
    let c = f.c();
    let inside = b"inside-root\n";
    let read_all = |fd: OwnedFd| {
        let mut v = Vec::new();
        fs::File::from(fd).read_to_end(&mut v).unwrap();
        v
    };

    // The root's own /etc/passwd is what "/etc/passwd" means.
    assert_eq!(
        read_all(c.open(b"/etc/passwd", libc::O_RDONLY, 0).unwrap()),
        inside
    );

    // `..` is refused (by the client, and by the server: see malformed_messages).
    assert_eq!(
        errno(c.open(b"/../../etc/passwd", libc::O_RDONLY, 0)),
        libc::EINVAL
    );
    assert_eq!(errno(c.lstat(b"/dir/../../etc/passwd")), libc::EINVAL);

    // Symlinks are never followed by the gofer, whatever they point at.
    for p in [
        &b"/link_abs"[..],
        b"/link_rel/passwd",
        b"/dirlink/file.txt",
        b"/link_rel",
    ] {
        match c.open(p, libc::O_RDONLY, 0) {
            Ok(fd) => assert_eq!(read_all(fd), inside, "{:?}", String::from_utf8_lossy(p)),
            Err(e) => assert_eq!(e.errno(), libc::ELOOP, "{:?}", String::from_utf8_lossy(p)),
        }
    }
    assert!(c.readdir(b"/link_rel").is_err());
    assert!(c.lstat(b"/link_rel/passwd").is_err());
    assert!(c.mkdir(b"/link_rel/gofer-escape-test", 0o755).is_err());
    assert!(c
        .mknod(b"/link_rel/gofer-escape-test", libc::S_IFREG | 0o644, 0)
        .is_err());
    assert!(c.symlink(b"x", b"/link_rel/gofer-escape-test").is_err());
    assert!(c
        .rename(b"/dir/file.txt", b"/link_rel/gofer-escape-test", 0)
        .is_err());
    assert!(!Path::new("/etc/gofer-escape-test").exists());
    assert_eq!(errno(c.chmod(b"/link_abs", 0o777)), libc::EOPNOTSUPP);
    assert!(c.truncate(b"/link_abs", 0).is_err());
    assert!(c.statfs(b"/link_rel/passwd").is_err());
    assert_eq!(fs::read(f.dir.join("etc/passwd")).unwrap(), inside);

    // The walk reports the link instead of following it.
    let w = c.walk(b"/link_rel/passwd").unwrap();
    assert_eq!(w.stats.len(), 2);
    assert_eq!(w.symlink_target.as_deref(), Some(&b"../../../etc"[..]));

    // A directory replaced by a symlink after the sentry looked is not
    // followed either.
    fs::create_dir(f.dir.join("swap")).unwrap();
    assert_eq!(c.walk(b"/swap").unwrap().stats.len(), 2);
    fs::remove_dir(f.dir.join("swap")).unwrap();
    std::os::unix::fs::symlink("/etc", f.dir.join("swap")).unwrap();
    assert_eq!(
        errno(c.open(b"/swap/passwd", libc::O_RDONLY, 0)),
        libc::ELOOP
    );
    assert_eq!(errno(c.unlink(b"/swap/passwd", false)), libc::ELOOP);
    assert_eq!(fs::read(f.dir.join("etc/passwd")).unwrap(), inside);
    f.finish();
}

/// One raw round trip: the decoded reply status.
fn raw_call(sock: &OwnedFd, msg: &[u8], fd: Option<&OwnedFd>) -> Result<Reply, i32> {
    sys::send_msg(sock.as_fd(), msg, fd.map(|f| f.as_fd())).unwrap();
    let mut buf = vec![0u8; MAX_MSG];
    let r = sys::recv_msg(sock.as_fd(), &mut buf).unwrap();
    assert!(!r.truncated);
    decode_reply(&buf[..r.len]).unwrap()
}

fn encode(req: &Request<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    req.encode(&mut v);
    v
}

#[test]
fn malformed_messages() {
    let dir = TempDir::new();
    populate(dir.path());
    let (sock, server) = start_server(dir.path(), false);
    let einval = |r: Result<Reply, i32>| assert_eq!(r.err(), Some(libc::EINVAL));

    einval(raw_call(&sock, b"", None));
    einval(raw_call(&sock, &[0xff, 0xff, 0xff, 0xff], None));
    einval(raw_call(&sock, &[1, 0], None));
    // Ping with trailing bytes.
    einval(raw_call(&sock, &[1, 0, 0, 0, 9], None));
    // Walk whose path length runs past the end.
    einval(raw_call(
        &sock,
        &[2, 0, 0, 0, 0xe8, 0x03, 0, 0, b'/', b'a'],
        None,
    ));
    // A bool that is neither 0 nor 1.
    let mut m = encode(&Request::Unlink {
        path: b"/dir/file.txt",
        remove_dir: false,
    });
    *m.last_mut().unwrap() = 7;
    einval(raw_call(&sock, &m, None));
    // Larger than any message may be.
    einval(raw_call(&sock, &vec![0u8; MAX_MSG + 100], None));
    // Paths the client would refuse to send.
    for p in [
        &b"/../etc/passwd"[..],
        b"relative",
        b"",
        b"/a/\0/b",
        b"/dir/..",
    ] {
        einval(raw_call(
            &sock,
            &encode(&Request::Open {
                path: p,
                flags: 0,
                mode: 0,
            }),
            None,
        ));
        einval(raw_call(
            &sock,
            &encode(&Request::Walk { path: p, skip: 0 }),
            None,
        ));
        einval(raw_call(
            &sock,
            &encode(&Request::Mkdir {
                path: p,
                mode: 0o755,
            }),
            None,
        ));
    }
    // An fd sent to the gofer is closed and ignored.
    let extra = fs::File::open(dir.join("dir/file.txt")).unwrap().into();
    assert!(matches!(
        raw_call(&sock, &encode(&Request::Ping), Some(&extra)),
        Ok(Reply::Empty)
    ));

    // The server keeps working.
    let c = Client::new(sock);
    c.ping().unwrap();
    assert_eq!(c.lstat(b"/dir/file.txt").unwrap().size, 11);
    drop(c);
    assert!(server.join().unwrap().is_ok());
}

#[test]
fn proto_round_trip_and_truncation() {
    let reqs = [
        Request::Ping,
        Request::Walk {
            path: b"/a/b",
            skip: 3,
        },
        Request::Lstat { path: b"/a" },
        Request::Open {
            path: b"/a",
            flags: -1,
            mode: 0o644,
        },
        Request::Readlink { path: b"/a" },
        Request::Readdir {
            path: b"/a",
            cookie: u64::MAX,
        },
        Request::Mkdir {
            path: b"/a",
            mode: 1,
        },
        Request::Mknod {
            path: b"/a",
            mode: 2,
            dev: 3,
        },
        Request::Unlink {
            path: b"/a",
            remove_dir: true,
        },
        Request::Rename {
            old: b"/a",
            new: b"/b",
            flags: 4,
        },
        Request::Link {
            old: b"/a",
            new: b"/b",
        },
        Request::Symlink {
            target: b"x",
            linkpath: b"/b",
        },
        Request::Chmod {
            path: b"/a",
            mode: 5,
        },
        Request::Chown {
            path: b"/a",
            uid: 6,
            gid: u32::MAX,
        },
        Request::Utimens {
            path: b"/a",
            times: [(1, 2), (-3, libc::UTIME_OMIT)],
        },
        Request::Truncate {
            path: b"/a",
            len: 8,
        },
        Request::Statfs { path: b"/a" },
    ];
    for req in &reqs {
        let m = encode(req);
        assert_eq!(&Request::decode(&m).unwrap(), req);
        for cut in 0..m.len() {
            assert!(Request::decode(&m[..cut]).is_err());
        }
    }
    // Replies: every prefix of a valid reply fails cleanly.
    let walk = crate::WalkReply {
        stats: vec![crate::FileStat::default(); 3],
        symlink_target: Some(b"t".to_vec()),
        error: Some(libc::ENOENT),
        acls: vec![0, crate::proto::ACL_ACCESS_SET, 0],
    };
    let mut m = Vec::new();
    crate::proto::encode_reply(
        &Ok(Reply::Walk {
            walk,
            truncated: false,
        }),
        &mut m,
    );
    match decode_reply(&m).unwrap() {
        Ok(Reply::Walk { walk, truncated }) => {
            assert_eq!(walk.stats.len(), 3);
            assert_eq!(walk.acls, [0, crate::proto::ACL_ACCESS_SET, 0]);
            assert_eq!(walk.error, Some(libc::ENOENT));
            assert!(!truncated);
        }
        other => panic!("{other:?}"),
    }
    for cut in 0..m.len() {
        assert!(decode_reply(&m[..cut]).is_err());
    }
}

#[test]
fn concurrent_clients_threads() {
    let f = Fixture::new(false);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..500 {
                    assert_eq!(f.c().lstat(b"/dir/file.txt").unwrap().size, 11);
                    assert_eq!(f.c().walk(b"/dir/sub").unwrap().stats.len(), 3);
                }
            });
        }
    });
    f.finish();
}

#[test]
fn server_ends_when_client_closes() {
    let dir = TempDir::new();
    let (sock, server) = start_server(dir.path(), false);
    drop(sock);
    assert!(server.join().unwrap().is_ok());
}

/// Mean of `n` round trips of `op`, after a warm-up.
fn mean_round_trip(n: u32, mut op: impl FnMut()) -> std::time::Duration {
    for _ in 0..1000 {
        op();
    }
    let t = Instant::now();
    for _ in 0..n {
        op();
    }
    t.elapsed() / n
}

/// Prints the mean ping (and lstat) round trip; run with `--nocapture`.
/// Measured twice: threads wherever the scheduler puts them (usually on
/// different CPUs when the machine is idle, which costs cross-CPU wake-ups),
/// and both pinned to CPU 0.
#[test]
fn bench_ping_round_trip() {
    let n = 10_000u32;
    let f = Fixture::new(false);
    let c = f.c();
    let ping = mean_round_trip(n, || c.ping().unwrap());
    let lstat = mean_round_trip(n, || {
        c.lstat(b"/dir/file.txt").unwrap();
    });
    println!(
        "gofer round trip, unpinned: ping mean {ping:?}, lstat mean {lstat:?} ({n} calls each)"
    );
    f.finish();

    let dir = TempDir::new();
    populate(dir.path());
    let (sock, server) = start_server_on(dir.path(), false, Some(0));
    let bench = std::thread::spawn(move || {
        pin_to_cpu(0);
        let c = Client::new(sock);
        let ping = mean_round_trip(n, || c.ping().unwrap());
        let lstat = mean_round_trip(n, || {
            c.lstat(b"/dir/file.txt").unwrap();
        });
        println!(
            "gofer round trip, same CPU: ping mean {ping:?}, lstat mean {lstat:?} ({n} calls each)"
        );
    });
    bench.join().unwrap();
    assert!(server.join().unwrap().is_ok());
}
