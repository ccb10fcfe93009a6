//! Loading a program into a fresh address space: ELF images, the
//! interpreter, the vDSO and the initial stack.

pub mod elf;
mod stack;
pub mod vdso;

pub use stack::{build_stack, StackInfo};
