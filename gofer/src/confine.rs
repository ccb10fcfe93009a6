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

/// Confines the calling (single-threaded, freshly started) gofer process:
/// its own mount namespace (nothing made here propagates out), a private
/// copy of the root's mount tree made the namespace's root with
/// pivot_root, kernel filesystems detached from it, and with `read_only`
/// every mount under it made read-only. There is no weaker fallback: when
/// any step fails the gofer refuses to start. Must be called before serve.
pub fn confine(root: &Path, read_only: bool) -> Result<Confined, GoferError> {
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
    let sealed = read_only && sys::make_read_only(tree.as_fd()).is_ok();
    sys::pivot_into(tree.as_fd()).map_err(step("pivot_root into the tree"))?;
    sys::chdir(c"/").map_err(step("chdir /"))?;
    let fd = sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY).map_err(step("opening the root"))?;
    Ok(Confined { root: fd, sealed })
}
