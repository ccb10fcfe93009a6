//! The sentry: husk's kernel. Tasks, memory, signals, futexes, time, the
//! VFS and files, reimplemented above a platform that traps the
//! application. System call handlers live in the `syscalls` crate and
//! reach the kernel through [`kernel::Ctx`].

// Application values are narrowed only on purpose (see `num`).
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

pub mod errno;
pub mod fs;
pub mod hostio;
pub mod hostnet;
pub mod kernel;
pub mod loader;
pub mod local;
pub mod memfile;
pub mod mm;
pub mod num;
pub mod socket;

pub use errno::{Errno, KResult};
pub use kernel::{BootError, Ctx, Kernel, KernelConfig, SyscallTable};
