//! Shared memory segments: a range of the memory file (`SharedMem`)
//! that shmat maps shared into an address space.

use crate::errno::{Errno, KResult};
use crate::mm::SharedMem;
use std::sync::Arc;

pub const SHMMNI: usize = 4096;
pub const SHMMIN: u64 = 1;
/// SHMMAX and SHMALL (bytes and pages): ULONG_MAX - 2^24.
pub const SHMMAX: u64 = u64::MAX - (1 << 24);
pub const SHMALL: u64 = u64::MAX - (1 << 24);

/// Mode bits above the permissions.
pub const SHM_DEST: u32 = 0o1000;
pub const SHM_LOCKED: u32 = 0o2000;

pub struct Segment {
    /// The size asked for (the memory is that, rounded up to pages).
    pub size: u64,
    pub mem: Arc<SharedMem>,
    pub atime: i64,
    pub dtime: i64,
    pub ctime: i64,
    pub cpid: i32,
    pub lpid: i32,
}

impl Segment {
    pub fn new(
        memfile: &Arc<crate::memfile::MemFile>,
        size: u64,
        now: i64,
        pid: i32,
    ) -> KResult<Segment> {
        if !(SHMMIN..=SHMMAX).contains(&size) {
            return Err(Errno::EINVAL);
        }
        Ok(Segment {
            size,
            mem: SharedMem::new(memfile, size).map_err(|_| Errno::ENOMEM)?,
            atime: 0,
            dtime: 0,
            ctime: now,
            cpid: pid,
            lpid: 0,
        })
    }

    /// How many mappings hold it (Linux counts VMAs too: a split one
    /// counts twice). The segment's own reference is not one.
    pub fn attaches(&self) -> u64 {
        Arc::strong_count(&self.mem).saturating_sub(1) as u64
    }

    /// Whether it is gone: marked for destruction with no attach left.
    pub fn destroyed(&self, mode: u32) -> bool {
        mode & SHM_DEST != 0 && self.attaches() == 0
    }
}
