//! The gofer: a separate, confined process that serves file operations for
//! the sentry over a unix socket, donating host file descriptors with
//! `SCM_RIGHTS`.
//!
//! * [`proto`] is the wire format: one `SOCK_SEQPACKET` message per request
//!   and one per reply, little-endian, length-prefixed byte strings.
//! * [`client`] is what the sentry uses ([`Client`]).
//! * [`server`] runs in the gofer process: [`confine`] then [`serve`].
//!
//! Paths on the wire are absolute (relative to the container root) and never
//! contain `..`. The server resolves every path with `openat2` beneath the
//! root with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS`
//! and performs mutations as `*at()` calls on a parent directory fd plus a
//! single final name, so no request can reach outside the root, even when a
//! path component is swapped for a symlink concurrently.

pub mod client;
mod confine;
mod fstype;
pub mod proto;
pub mod server;
mod sys;

#[cfg(test)]
mod tests;

pub use client::Client;
pub use confine::{confine, Bind, Confined};
pub use proto::{DirEntry, FileStat, StatFs, WalkReply};
pub use server::{serve, ServeOptions};
pub use sys::{getxattrat, ACL_ACCESS, ACL_DEFAULT};

/// Whether the filesystem holding `path` is one a gofer serves (never a
/// kernel interface such as procfs or sysfs), for checks made before a
/// gofer starts.
pub fn serves(path: &std::path::Path) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;
    // O_PATH: a FIFO or device is looked at, never opened.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)
        .ok()
        .and_then(|f| sys::fstatfs(f.as_fd()).ok())
        .is_some_and(|st| fstype::magic_allowed(st.f_type))
}

/// An error from a gofer operation.
#[derive(Debug, thiserror::Error)]
pub enum GoferError {
    /// the host operation failed with this errno (what the application should see)
    #[error("errno {0}")]
    Errno(i32),
    /// the socket to the other side failed or was closed
    #[error("gofer transport: {0}")]
    Transport(std::io::Error),
    /// the other side sent something that does not decode
    #[error("malformed gofer message: {0}")]
    Protocol(&'static str),
    /// a confinement step failed: the gofer does not start unconfined
    #[error("{what}: {}", std::io::Error::from_raw_os_error(*errno))]
    Confine { what: &'static str, errno: i32 },
}

impl GoferError {
    /// The errno the application should see: the host errno for
    /// [`GoferError::Errno`], `EIO` for transport and protocol failures.
    pub fn errno(&self) -> i32 {
        match self {
            GoferError::Errno(e) => *e,
            GoferError::Transport(_) | GoferError::Protocol(_) | GoferError::Confine { .. } => {
                libc::EIO
            }
        }
    }
}
