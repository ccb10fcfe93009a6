//! Confining the gofer's view of the host: its own mount namespace whose
//! root is a private, detached copy of the container root's mount tree,
//! with every kernel filesystem (see [`crate::fstype`]) detached from it.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::sys;
use crate::GoferError;

/// What [`confine`] achieved.
#[derive(Debug)]
pub struct Confined {
    /// O_PATH|O_DIRECTORY fd of the new root: the root mount of the
    /// gofer's mount namespace, so `..` cannot leave it from any fd beneath
    /// it, whoever holds the fd.
    pub root: OwnedFd,
    /// Every mount under the root is read-only (asked for, and it worked).
    pub sealed: bool,
}

impl Confined {
    /// Whether fds beneath the root may be handed to the sentry for its
    /// direct path: nothing is writable through them that the gofer would
    /// refuse to change.
    pub fn may_donate_root(&self, read_only: bool) -> bool {
        self.sealed || !read_only
    }
}

/// A host file or directory served at a path of the root (an OCI bind
/// mount), as a mount in the gofer's own namespace.
#[derive(Clone, Debug)]
pub struct Bind {
    pub source: std::path::PathBuf,
    /// Absolute, inside the root.
    pub dest: std::path::PathBuf,
    pub read_only: bool,
}

/// Makes sure `dest` exists beneath the detached tree `tree` (its missing
/// directories made, and the last component as a directory or an empty
/// file, as runc does), never leaving it: each step is resolved in the
/// root with no symlink followed. Returns `dest` relative to the root.
fn make_place(tree: std::os::fd::BorrowedFd<'_>, dest: &Path, dir: bool) -> Result<CString, i32> {
    let comps: Vec<&std::ffi::OsStr> = dest
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    if comps.is_empty()
        || dest
            .components()
            .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(libc::EINVAL);
    }
    let name = |c: &std::ffi::OsStr| CString::new(c.as_bytes()).map_err(|_| libc::EINVAL);
    let mut cur = sys::openat2(tree, c".", (libc::O_PATH | libc::O_DIRECTORY) as u64, 0)?;
    for (i, c) in comps.iter().enumerate() {
        let n = name(c)?;
        let last = i + 1 == comps.len();
        let want_dir = !last || dir;
        let flags = libc::O_PATH | if want_dir { libc::O_DIRECTORY } else { 0 };
        match sys::openat2(cur.as_fd(), &n, flags as u64, 0) {
            Ok(fd) => cur = fd,
            Err(libc::ENOENT) if want_dir => {
                sys::mkdirat(cur.as_fd(), &n, 0o755)?;
                cur = sys::openat2(cur.as_fd(), &n, flags as u64, 0)?;
            }
            Err(libc::ENOENT) => {
                let f = sys::openat2(
                    cur.as_fd(),
                    &n,
                    (libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY) as u64,
                    0o644,
                )?;
                drop(f);
                cur = sys::openat2(cur.as_fd(), &n, flags as u64, 0)?;
            }
            Err(e) => return Err(e),
        }
    }
    let rel: std::path::PathBuf = comps.iter().collect();
    CString::new(rel.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)
}

/// Confines the calling (single-threaded, freshly started) gofer process:
/// its own mount namespace (nothing made here propagates out), a private
/// copy of the root's mount tree made the namespace's root with
/// pivot_root, kernel filesystems detached from it, and with `read_only`
/// every mount under it made read-only. There is no weaker fallback: when
/// any step fails the gofer refuses to start. Must be called before serve.
pub fn confine(root: &Path, read_only: bool, binds: &[Bind]) -> Result<Confined, GoferError> {
    let root =
        CString::new(root.as_os_str().as_bytes()).map_err(|_| GoferError::Errno(libc::EINVAL))?;
    let step = |what: &'static str| move |e: i32| GoferError::Confine { what, errno: e };
    sys::unshare_mount_ns().map_err(step("unshare(CLONE_NEWNS)"))?;
    sys::remount_root_propagation(libc::MS_REC | libc::MS_SLAVE)
        .map_err(step("making mounts slaves"))?;
    // A copy of the root's mount tree, taken before anything is mounted
    // here, becomes the namespace's root.
    let tree = sys::clone_tree(&root).map_err(step("open_tree of the root"))?;
    sys::make_private(tree.as_fd()).map_err(step("making the tree private"))?;
    // Each bind mount's source, taken while the host's paths are here,
    // and its place in the root made ready.
    let mut attach = Vec::new();
    for b in binds {
        let src = CString::new(b.source.as_os_str().as_bytes())
            .map_err(|_| GoferError::Errno(libc::EINVAL))?;
        let t = sys::clone_tree(&src).map_err(step("open_tree of a bind mount's source"))?;
        // A kernel filesystem is never served, not even bound in.
        let fs = sys::fstatfs(t.as_fd()).map_err(step("statfs of a bind mount's source"))?;
        if !crate::fstype::magic_allowed(fs.f_type) {
            return Err(step("a bind mount's source is a kernel filesystem")(
                libc::EPERM,
            ));
        }
        sys::make_private(t.as_fd()).map_err(step("making a bind mount private"))?;
        if b.read_only || read_only {
            sys::make_read_only(t.as_fd()).map_err(step("making a bind mount read-only"))?;
        }
        let dir = sys::fstat(t.as_fd())
            .map_err(step("stat of a bind mount's source"))?
            .st_mode
            & libc::S_IFMT
            == libc::S_IFDIR;
        let rel =
            make_place(tree.as_fd(), &b.dest, dir).map_err(step("a bind mount's destination"))?;
        attach.push((t, rel));
    }
    let sealed = read_only && sys::make_read_only(tree.as_fd()).is_ok();
    sys::pivot_into(tree.as_fd()).map_err(step("pivot_root into the tree"))?;
    sys::chdir(c"/").map_err(step("chdir /"))?;
    let fd = sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY).map_err(step("opening the root"))?;
    for (t, rel) in attach {
        let place = sys::openat2(fd.as_fd(), &rel, libc::O_PATH as u64, 0)
            .map_err(step("a bind mount's destination"))?;
        sys::attach(t.as_fd(), place.as_fd()).map_err(step("attaching a bind mount"))?;
    }
    Ok(Confined { root: fd, sealed })
}
