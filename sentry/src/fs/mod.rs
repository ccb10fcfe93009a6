//! Files and filesystems: the fd table, open files, pipes, the VFS with
//! its mount table, and the filesystems (gofer-backed host root, proc, dev).

pub mod acl;
pub mod attr;
pub mod cgroupfs;
pub mod dentry;
pub mod dev;
pub mod devpts;
pub mod dnotify;
pub mod epoll;
pub mod eventfd;
pub mod fasync;
pub mod file;
pub mod filepages;
pub mod gofer_fs;
pub mod host;
pub mod idmap;
pub mod inotify;
pub mod io;
pub mod locks;
pub mod mqueue;
pub mod mutate;
pub mod nsfs;
pub mod overlay;
pub mod overlay_follow;
pub mod overlay_mount;
pub mod pidfd;
pub mod pipe;
pub mod proc;
pub mod pty;
pub mod signalfd;
pub mod synth;
pub mod sysfs;
pub mod timerfd;
pub mod tmpfs;
pub mod vfs;
pub mod write_access;

pub use attr::{DirEntry, Stat, StatFs};
