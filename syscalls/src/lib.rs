//! The Linux x86-64 system call table: numbers, names, argument shapes,
//! support levels and handlers, plus the strace printer and the
//! compatibility table generated from the same rows.
//!
//! No unsafe code: application memory is reached through the sentry's
//! accessors, host calls through safe wrappers.
#![deny(unsafe_code)]
// Application values are narrowed only on purpose (see `abi`).
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod abi;
mod aio;
mod events;
mod fs;
mod fs_mutate;
mod inotify;
mod ioprio;
mod ipc;
mod kcmp;
mod locks;
mod membarrier;
mod misc;
mod mm;
mod mount;
mod mount_api;
mod mqueue;
mod names;
mod net;
mod ns;
mod numa;
mod pidfd;
mod process;
mod procvm;
mod ptrace;
mod sched;
mod seccomp;
mod signal;
mod signalfd;
mod splice;
mod strace;
mod table;
mod time;
mod unlocked;
mod xattr;

pub use mount::{check_tmpfs_options, mask_path, mount_tmpfs, read_only_path};
pub use names::{MAX_NR, NAMES};
pub use table::{markdown, Entry, Support, Table};
