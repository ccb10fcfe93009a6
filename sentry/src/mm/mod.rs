//! The memory manager: an application's VMAs, each backed by a range of the
//! memory file, mirrored into the platform's address space.

mod access;

use crate::errno::{Errno, KResult};
use crate::memfile::{page_down, page_up, MemFile, PAGE};
use parking_lot::Mutex;
use platform::AddressSpace;
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub use access::{iov_len, read_cstr, read_obj, read_vec, scatter_at, write_obj, Plain};

/// A range of the memory file shared by several VMAs (MAP_SHARED memory,
/// possibly across processes after fork). Released when the last user drops.
pub struct SharedMem {
    pub off: u64,
    pub len: u64,
    memfile: Arc<MemFile>,
}

impl SharedMem {
    pub fn new(memfile: &Arc<MemFile>, len: u64) -> KResult<Arc<SharedMem>> {
        let len = page_up(len);
        Ok(Arc::new(SharedMem {
            off: memfile.alloc(len)?,
            len,
            memfile: memfile.clone(),
        }))
    }
}

impl SharedMem {
    /// Where part of this range is in the sentry's mapping.
    ///
    /// # Safety
    /// `[off, off+len)` must lie within this range.
    pub unsafe fn memfile_ptr(&self, off: u64, len: usize) -> *mut u8 {
        self.memfile.ptr(off, len)
    }
}

impl Drop for SharedMem {
    fn drop(&mut self) {
        self.memfile.release(self.off, self.len);
    }
}

#[derive(Clone)]
pub enum Backing {
    /// Private memory: the memory-file range whose start is the VMA's
    /// start. Since a fork, some of its pages may be the other process's
    /// too (the memory file counts their users): those are mapped
    /// read-only, and the first write gives this side a page of its own.
    Private { off: u64 },
    /// Shared range; `off` is the absolute file offset of the VMA's start.
    Shared { mem: Arc<SharedMem>, off: u64 },
    /// A view of a host file (a gofer-donated fd, or the memfd of a tmpfs
    /// file), mapped straight into the address space; `off` is the file
    /// offset of the VMA's start. A private view is read-only and becomes
    /// a private copy when made writable; a shared one writes the file.
    /// `hold` lives as long as the mapping (the file counts writable
    /// shared mappings with it).
    File {
        fd: Arc<OwnedFd>,
        off: u64,
        hold: Option<Arc<dyn std::any::Any + Send + Sync>>,
    },
    /// Private anonymous memory that has had no access (PROT_NONE since
    /// it was mapped): no memory-file range and nothing mapped in the
    /// host, until mprotect makes it accessible and it becomes Private.
    /// Guard regions and the terabytes sanitizers reserve cost nothing.
    Reserved,
}

/// A NUMA memory policy: the mode with its flags, and the node mask
/// (this machine has one node, 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemPolicy {
    pub mode: u16,
    pub nodes: u64,
}

/// What /proc/pid/maps shows for a VMA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmaName {
    Anon,
    File {
        path: crate::fs::file::FileName,
        dev: u64,
        ino: u64,
        off: u64,
    },
    Heap,
    Stack,
    Vdso,
    Vvar,
    /// A System V shared memory segment (shmat): its key and id.
    Shm {
        key: i32,
        id: i32,
    },
}

#[derive(Clone)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: i32,
    pub shared: bool,
    pub growsdown: bool,
    pub locked: bool,
    /// mprotect may add PROT_WRITE (a shared file mapping of a file not
    /// opened for writing, or write-sealed, may not).
    pub maywrite: bool,
    /// mprotect may add PROT_EXEC (a mapping of a file on a noexec mount
    /// may not).
    pub mayexec: bool,
    /// Its NUMA policy (mbind); None: the task's.
    pub policy: Option<MemPolicy>,
    /// MADV_DONTFORK: a forked child does not get this mapping.
    pub dontfork: bool,
    /// MADV_WIPEONFORK (private anonymous memory): a forked child gets
    /// zeros here.
    pub wipeonfork: bool,
    pub backing: Backing,
    pub name: VmaName,
    /// MAP_NORESERVE: its memory is never committed (the overcommit
    /// check skips it, and making it writable later too).
    pub noreserve: bool,
    /// The open file mapped (`name` has the offset), Linux's vm_file: a
    /// private copy's MADV_DONTNEED reads it again, as Linux drops the
    /// private pages and faults the file's back in; a shared mapping's
    /// MADV_REMOVE punches it.
    pub source: Option<Arc<crate::fs::file::File>>,
}

impl Vma {
    /// File offset backing address `addr` of this VMA.
    fn off_at(&self, addr: u64) -> u64 {
        match &self.backing {
            Backing::Private { off } | Backing::Shared { off, .. } | Backing::File { off, .. } => {
                off + (addr - self.start)
            }
            Backing::Reserved => 0,
        }
    }

    /// Splits off `[at, end)` as a new VMA; `self` keeps `[start, at)`.
    fn split(&mut self, at: u64) -> Vma {
        let mut hi = self.clone();
        hi.start = at;
        hi.backing = match &self.backing {
            Backing::Private { off } => Backing::Private {
                off: off + (at - self.start),
            },
            Backing::Shared { mem, off } => Backing::Shared {
                mem: mem.clone(),
                off: off + (at - self.start),
            },
            Backing::File { fd, off, hold } => Backing::File {
                fd: fd.clone(),
                off: off + (at - self.start),
                hold: hold.clone(),
            },
            Backing::Reserved => Backing::Reserved,
        };
        if let VmaName::File { off, .. } = &mut hi.name {
            *off += at - self.start;
        }
        self.end = at;
        hi
    }
}

pub struct MmState {
    /// The mappings by start address (see [`MmState::overlapping`]).
    pub vmas: BTreeMap<u64, Vma>,
    pub brk_start: u64,
    pub brk: u64,
    /// Top-down allocation cursor for mmap without a hint.
    pub mmap_top: u64,
    pub stack_top: u64,
    pub arg_range: (u64, u64),
    pub env_range: (u64, u64),
    /// The executable's code and data spans (/proc/PID/stat, VmExe).
    pub code_range: (u64, u64),
    pub data_range: (u64, u64),
    pub auxv: Vec<(u64, u64)>,
    pub exe: Vec<u8>,
    /// The executable's denial of write access, held while this address
    /// space runs it (and by its forks).
    pub exe_hold: Option<Arc<crate::fs::write_access::Hold>>,
    /// The executable, open: /proc/PID/exe opens it even once removed.
    pub exe_file: Option<Arc<crate::fs::file::File>>,
    pub vdso_base: u64,
    /// File ranges to release once the platform has dropped their mappings.
    pending_release: Vec<(u64, u64)>,
    /// Shared ranges whose last user here went away; dropped (and maybe
    /// freed) once the platform has dropped their mappings.
    pending_drop: Vec<Arc<SharedMem>>,
    /// mlockall(MCL_FUTURE): new mappings are locked.
    pub lock_future: bool,
    /// Where the last top-down search for free space ended.
    free_hint: Option<FreeHint>,
}

/// Nothing in `[below, mmap_top)` is free but holes of at most `hole`
/// bytes, so a longer request starts its search at `below` rather than
/// walking every mapping above it (Linux's old free_area_cache). Only an
/// unmap makes holes: it widens `hole` when it frees space up there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FreeHint {
    below: u64,
    hole: u64,
}

impl MmState {
    /// The mappings that can overlap `[addr, end)`: from the one holding
    /// `addr` (or the first after it) on, so a lookup costs the range's
    /// mappings, not every mapping below it.
    pub fn overlapping(
        &self,
        addr: u64,
        end: u64,
    ) -> std::collections::btree_map::Range<'_, u64, Vma> {
        let from = self
            .vmas
            .range(..=addr)
            .next_back()
            .filter(|(_, v)| v.end > addr)
            .map_or(addr, |(&k, _)| k);
        self.vmas.range(from..end.max(from))
    }
}

/// An application address space.
pub struct Mm {
    pub id: u64,
    pub space: Arc<dyn AddressSpace>,
    pub memfile: Arc<MemFile>,
    pub state: Mutex<MmState>,
    /// The memory-file pages given to the platform (`set_scratch`), or 0.
    scratch: u64,
    /// Held shared while the sentry copies through host pointers into
    /// this space's memory-file pages without the kernel lock (`iovecs`),
    /// and while a page shared since a fork is copied (faults, the
    /// sentry's writes, mremap); taken exclusively before pages are
    /// released, and by fork from sharing pages until the parent's
    /// write-protection is real, so no copy misses a write and no copy
    /// lands in a page that belongs to someone else.
    pub io_pin: parking_lot::RwLock<()>,
    /// Forks made from this space (see `fork_count`).
    forks: AtomicU64,
    /// Something waits in `pending_release` or `pending_drop` (read without
    /// the state lock on every return to the application).
    pending: AtomicBool,
    /// membarrier(2) registrations of this address space (its
    /// MEMBARRIER_CMD_REGISTER_* bits; a fork's copy keeps them, exec's
    /// new space has none).
    pub membarrier: std::sync::atomic::AtomicU32,
    /// The last resident size measured (`kernel::cpu::rss_kb_recent`),
    /// in KiB, and when.
    pub rss_seen: parking_lot::Mutex<Option<(std::time::Instant, u64)>>,
    /// The largest resident size measured, in KiB (VmHWM; clear_refs
    /// restarts it).
    pub hiwater_kb: AtomicU64,
    /// MADV_MERGEABLE was given (KSM's MMF_VM_MERGEABLE; forks keep it).
    pub ksm_mergeable: AtomicBool,
    /// Pages this space's family (it and the forks of it that run the
    /// same image) copied on write, shared by them.
    hot: Arc<HotPages>,
}

/// The pages a family of forked address spaces copied on write lately:
/// a fork copies them for the child at once (`Mm::fork`), since a child
/// mostly writes where its siblings did (the C library's fork handlers,
/// the stack, the thread block). A copy is a page of memcpy; the fault it
/// saves is two round trips to the stub.
#[derive(Default)]
struct HotPages(parking_lot::Mutex<std::collections::VecDeque<u64>>);

impl HotPages {
    /// How many are kept: the newest.
    const MAX: usize = 16;

    fn note(&self, page: u64) {
        let mut q = self.0.lock();
        if q.contains(&page) {
            return;
        }
        if q.len() == Self::MAX {
            q.pop_front();
        }
        q.push_back(page);
    }

    fn pages(&self) -> Vec<u64> {
        self.0.lock().iter().copied().collect()
    }
}

static NEXT_MM_ID: AtomicU64 = AtomicU64::new(1);

/// Flags of a new mapping, decoded from mmap(2) arguments.
pub struct MapRequest {
    pub addr: u64,
    pub len: u64,
    pub prot: i32,
    pub fixed: bool,
    pub noreplace: bool,
    pub shared: bool,
    pub growsdown: bool,
    pub name: VmaName,
    /// Existing shared memory to map (shm, memfd).
    pub shared_mem: Option<(Arc<SharedMem>, u64)>,
    /// A host file to map: (fd, file offset of the start). Private
    /// mappings of it are read-only (writable ones are copies).
    pub file: Option<(Arc<OwnedFd>, u64)>,
    /// Kept with a shared file mapping for as long as it exists.
    pub file_hold: Option<Arc<dyn std::any::Any + Send + Sync>>,
    /// See `Vma::maywrite`.
    pub maywrite: bool,
    /// See `Vma::mayexec`.
    pub mayexec: bool,
    /// See `Vma::source`.
    pub source: Option<Arc<crate::fs::file::File>>,
    /// See `Vma::noreserve`.
    pub noreserve: bool,
}

impl MapRequest {
    pub fn anon(addr: u64, len: u64, prot: i32) -> MapRequest {
        MapRequest {
            addr,
            len,
            prot,
            fixed: false,
            noreplace: false,
            shared: false,
            growsdown: false,
            name: VmaName::Anon,
            shared_mem: None,
            file: None,
            file_hold: None,
            maywrite: true,
            mayexec: true,
            source: None,
            noreserve: false,
        }
    }
}

const MIN_ADDR: u64 = 0x10000;

/// Linux's heuristic overcommit (vm.overcommit_memory 0): one mapping may
/// commit at most the memory there is (the sandbox's, as /proc/meminfo
/// says; no swap).
pub fn commits_fit(len: u64) -> bool {
    page_up(len) <= crate::fs::vfs::total_memory()
}

/// The most mappings an address space may have (Linux's max_map_count is
/// 65530): past it, calls that would add one are ENOMEM. The stub's host
/// mappings follow the VMAs, and the host's own limit must never be the
/// one that is met: a failed host mapping ends the process.
pub const MAX_MAP_COUNT: usize = 65_000;
/// The end of user space on x86-64 with 4-level paging: Linux checks
/// ranges against it, though this address space ends lower (the platform
/// keeps the top for itself).
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;

impl Mm {
    pub fn new(space: Arc<dyn AddressSpace>, memfile: Arc<MemFile>) -> Arc<Mm> {
        Self::with_hot(space, memfile, Arc::default())
    }

    fn with_hot(
        space: Arc<dyn AddressSpace>,
        memfile: Arc<MemFile>,
        hot: Arc<HotPages>,
    ) -> Arc<Mm> {
        let top = space.max_addr();
        // The platform's page of its own in this space (released on drop).
        let scratch = memfile.alloc(platform::SCRATCH_LEN).unwrap_or(0);
        if scratch != 0 {
            space.set_scratch(scratch);
        }
        Arc::new(Mm {
            scratch,
            io_pin: parking_lot::RwLock::new(()),
            forks: AtomicU64::new(0),
            pending: AtomicBool::new(false),
            membarrier: std::sync::atomic::AtomicU32::new(0),
            rss_seen: parking_lot::Mutex::new(None),
            hiwater_kb: AtomicU64::new(0),
            ksm_mergeable: AtomicBool::new(false),
            hot,
            id: NEXT_MM_ID.fetch_add(1, Ordering::Relaxed),
            space,
            memfile,
            state: Mutex::new(MmState {
                vmas: BTreeMap::new(),
                brk_start: 0,
                brk: 0,
                mmap_top: top - (1 << 30),
                stack_top: 0,
                arg_range: (0, 0),
                env_range: (0, 0),
                code_range: (0, 0),
                data_range: (0, 0),
                auxv: Vec::new(),
                exe: Vec::new(),
                exe_hold: None,
                exe_file: None,
                vdso_base: 0,
                pending_release: Vec::new(),
                pending_drop: Vec::new(),
                lock_future: false,
                free_hint: None,
            }),
        })
    }

    pub fn max_addr(&self) -> u64 {
        self.space.max_addr()
    }

    /// Whether ranges wait to be let go (`flush_and_release`).
    pub fn has_pending_release(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Lets go of `[off, off+len)` once the platform has unmapped it. The
    /// change that replaces it is queued under the same state lock.
    fn let_go(&self, st: &mut MmState, off: u64, len: u64) {
        st.pending_release.push((off, len));
        self.pending.store(true, Ordering::Release);
    }

    /// Applies this space's queued mapping changes with `flush` (true when
    /// it succeeded) and then frees what they replaced. What waits is taken
    /// before the flush: every change queued for it (under the state lock,
    /// with it) is then applied by that flush, even when other threads let
    /// go of more meanwhile, which waits for their own flush.
    pub fn flush_and_release(&self, flush: impl FnOnce() -> bool) -> bool {
        // Cleared before the take: a range added after it sets it again.
        let taken = self.pending.swap(false, Ordering::AcqRel).then(|| {
            let mut st = self.state.lock();
            (
                std::mem::take(&mut st.pending_release),
                std::mem::take(&mut st.pending_drop),
            )
        });
        let ok = flush();
        if let Some((pending, drops)) = taken {
            if !ok {
                // Still mapped: kept for a later flush, or for drop.
                let mut st = self.state.lock();
                st.pending_release.extend(pending);
                st.pending_drop.extend(drops);
                self.pending.store(true, Ordering::Release);
                return ok;
            }
            let _pinned = self.io_pin.write();
            for (off, len) in pending {
                self.memfile.release(off, len);
            }
            drop(drops);
        }
        ok
    }

    /// Finds the highest free range of `len` bytes below `top` (the mmap
    /// cursor), and what that search learnt (`FreeHint`).
    fn find_free(st: &MmState, len: u64, top: u64) -> KResult<(u64, FreeHint)> {
        let (mut end, mut hole) = match st.free_hint {
            Some(h) if h.below <= top && len > h.hole => (h.below, h.hole),
            _ => (top, 0),
        };
        // Walk VMAs downward, looking for a gap; the ones passed over
        // are remembered.
        let found = |at: u64, hole: u64| Ok((at, FreeHint { below: at, hole }));
        for (_, v) in st.vmas.range(..end).rev() {
            if v.end <= end {
                if end - v.end >= len {
                    return found(end - len, hole);
                }
                hole = hole.max(end - v.end);
            }
            end = end.min(v.start);
        }
        if end >= MIN_ADDR + len {
            return found(end - len, hole);
        }
        Err(Errno::ENOMEM)
    }

    /// After `[addr, end)` was unmapped: a gap reaching down to where the
    /// free hint's range starts moves that start above it (the next
    /// search meets it first); one higher up widens the hint's bound on
    /// holes.
    fn freed(st: &mut MmState, addr: u64, end: u64) {
        let Some(h) = st.free_hint else { return };
        if end <= h.below {
            return;
        }
        let lo = st.vmas.range(..addr).next_back().map_or(0, |(_, v)| v.end);
        let hi = st
            .vmas
            .range(end..)
            .next()
            .map_or(u64::MAX, |(_, v)| v.start);
        st.free_hint = Some(if lo <= h.below {
            FreeHint {
                below: hi.min(st.mmap_top).max(h.below),
                hole: h.hole,
            }
        } else {
            FreeHint {
                below: h.below,
                hole: h.hole.max(hi - lo),
            }
        });
    }

    fn overlaps(st: &MmState, start: u64, end: u64) -> bool {
        st.vmas
            .range(..end)
            .next_back()
            .is_some_and(|(_, v)| v.end > start)
    }

    /// Creates a mapping; returns its address.
    pub fn map(&self, req: MapRequest) -> KResult<u64> {
        let len = page_up(req.len);
        if len == 0 || len > self.max_addr() {
            return Err(Errno::ENOMEM);
        }
        let mut st = self.state.lock();
        // A new mapping, and the pieces of one it may split.
        Self::room_for(&st, 3)?;
        // Kept once the mapping is in place (a failure leaves its range
        // free).
        let mut learnt = None;
        let addr = if req.fixed {
            if req.addr & (PAGE - 1) != 0 {
                return Err(Errno::EINVAL);
            }
            if req.addr < PAGE {
                // mmap_min_addr: only CAP_SYS_RAWIO maps page 0.
                return Err(Errno::EPERM);
            }
            if req.addr > self.max_addr() - len {
                return Err(Errno::ENOMEM);
            }
            if req.noreplace && Self::overlaps(&st, req.addr, req.addr + len) {
                return Err(Errno::EEXIST);
            }
            req.addr
        } else {
            let hint = page_down(req.addr);
            if hint >= MIN_ADDR
                && hint <= self.max_addr() - len
                && !Self::overlaps(&st, hint, hint + len)
            {
                hint
            } else {
                let top = st.mmap_top;
                let (at, h) = Self::find_free(&st, len, top)?;
                learnt = Some(h);
                at
            }
        };
        let backing = match (req.shared_mem, req.file) {
            (_, Some((fd, off))) if req.prot & libc::PROT_WRITE == 0 || req.shared => {
                Backing::File {
                    fd,
                    off,
                    hold: req.file_hold,
                }
            }
            (Some((mem, off)), _) => Backing::Shared { mem, off },
            _ if !req.shared && req.prot == libc::PROT_NONE => Backing::Reserved,
            _ if req.shared => {
                let mem = SharedMem::new(&self.memfile, len)?;
                let off = mem.off;
                Backing::Shared { mem, off }
            }
            _ => Backing::Private {
                off: self.memfile.alloc(len)?,
            },
        };
        self.unmap_locked(&mut st, addr, len);
        let vma = Vma {
            start: addr,
            end: addr + len,
            prot: req.prot,
            shared: req.shared,
            growsdown: req.growsdown,
            locked: st.lock_future,
            maywrite: req.maywrite,
            mayexec: req.mayexec,
            policy: None,
            dontfork: false,
            wipeonfork: false,
            backing,
            name: req.name,
            source: req.source,
            noreserve: req.noreserve,
        };
        self.install(&vma, addr, len);
        st.vmas.insert(addr, vma);
        if learnt.is_some() {
            st.free_hint = learnt;
        }
        Ok(addr)
    }

    /// Splits VMAs so that none straddles `addr` (a page boundary).
    fn split_at(st: &mut MmState, addr: u64) {
        if addr & (PAGE - 1) != 0 {
            debug_assert!(false, "unaligned VMA split at {addr:#x}");
            return;
        }
        let key = st
            .vmas
            .range(..addr)
            .next_back()
            .filter(|(_, v)| v.end > addr)
            .map(|(&k, _)| k);
        if let Some(k) = key {
            let v = st.vmas.get_mut(&k).unwrap();
            let hi = v.split(addr);
            st.vmas.insert(addr, hi);
        }
    }

    fn unmap_locked(&self, st: &mut MmState, addr: u64, len: u64) {
        let end = addr + len;
        Self::split_at(st, addr);
        Self::split_at(st, end);
        let keys: Vec<u64> = st.vmas.range(addr..end).map(|(&k, _)| k).collect();
        if keys.is_empty() {
            return;
        }
        for k in keys {
            let v = st.vmas.remove(&k).unwrap();
            match v.backing {
                Backing::Private { off } => self.let_go(st, off, v.end - v.start),
                Backing::Shared { mem, .. } => {
                    st.pending_drop.push(mem);
                    self.pending.store(true, Ordering::Release);
                }
                Backing::File { .. } | Backing::Reserved => {}
            }
        }
        Self::freed(st, addr, end);
        self.space.unmap(addr, len);
    }

    /// munmap(2), with Linux's checks against the end of user space (the
    /// part above this address space's own end holds nothing to unmap).
    pub fn unmap(&self, addr: u64, len: u64) -> KResult<()> {
        if addr & (PAGE - 1) != 0 || addr > TASK_SIZE || len > TASK_SIZE - addr {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len);
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = (addr + len).min(self.max_addr());
        if end > addr {
            let mut st = self.state.lock();
            // A hole in the middle of a mapping makes one more.
            Self::room_for(&st, 1)?;
            self.unmap_locked(&mut st, addr, end - addr);
        }
        Ok(())
    }

    /// ENOMEM when `more` mappings would pass [`MAX_MAP_COUNT`].
    fn room_for(st: &MmState, more: usize) -> KResult<()> {
        if st.vmas.len() + more > MAX_MAP_COUNT {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Whether two neighbouring VMAs would be one VMA on Linux.
    fn compatible(a: &Vma, b: &Vma) -> bool {
        a.end == b.start
            && a.prot == b.prot
            && a.shared == b.shared
            && a.growsdown == b.growsdown
            && a.locked == b.locked
            && a.policy == b.policy
            && a.dontfork == b.dontfork
            && a.wipeonfork == b.wipeonfork
            && a.noreserve == b.noreserve
            && match (&a.name, &b.name) {
                (
                    VmaName::File {
                        path: p, off: o, ..
                    },
                    VmaName::File {
                        path: q, off: r, ..
                    },
                ) => p == q && o + (a.end - a.start) == *r,
                (x, y) => x == y,
            }
    }

    /// Merges the VMA ending at `at` with the one starting there when
    /// their backing is contiguous (as Linux merges after mprotect).
    fn merge_at(st: &mut MmState, at: u64) {
        let Some((&lk, l)) = st.vmas.range(..at).next_back() else {
            return;
        };
        let Some(r) = st.vmas.get(&at) else { return };
        if !Self::compatible(l, r) || r.off_at(r.start) != l.off_at(l.start) + (l.end - l.start) {
            return;
        }
        let same = match (&l.backing, &r.backing) {
            (Backing::Private { .. }, Backing::Private { .. }) => true,
            (Backing::Reserved, Backing::Reserved) => true,
            (Backing::Shared { mem: a, .. }, Backing::Shared { mem: b, .. }) => Arc::ptr_eq(a, b),
            (Backing::File { fd: a, .. }, Backing::File { fd: b, .. }) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if same {
            let r = st.vmas.remove(&at).unwrap();
            st.vmas.get_mut(&lk).unwrap().end = r.end;
        }
    }

    /// Makes `[start, end)`, covered by compatible private VMAs with no
    /// holes, a single VMA (copying into one range when their backing is
    /// not contiguous), so that mremap sees what Linux would have merged.
    fn coalesce(&self, st: &mut MmState, start: u64, end: u64) -> KResult<()> {
        Self::split_at(st, start);
        Self::split_at(st, end);
        let parts: Vec<Vma> = st.vmas.range(start..end).map(|(_, v)| v.clone()).collect();
        if parts.len() < 2
            || parts.first().map(|v| v.start) != Some(start)
            || parts.last().map(|v| v.end) != Some(end)
            || !parts.windows(2).all(|w| Self::compatible(&w[0], &w[1]))
            || !parts
                .iter()
                .all(|v| matches!(v.backing, Backing::Private { .. }))
        {
            return Ok(());
        }
        let off = self.memfile.alloc(end - start)?;
        for v in &parts {
            self.memfile
                .copy(v.off_at(v.start), off + (v.start - start), v.end - v.start);
            st.vmas.remove(&v.start);
            self.let_go(st, v.off_at(v.start), v.end - v.start);
        }
        let vma = Vma {
            start,
            end,
            backing: Backing::Private { off },
            ..parts[0].clone()
        };
        self.install(&vma, start, end - start);
        st.vmas.insert(start, vma);
        Ok(())
    }

    /// Whether every page of `[addr, addr+len)` is mapped.
    fn fully_mapped(st: &MmState, addr: u64, end: u64) -> bool {
        Self::mapped_to(st, addr, end) >= end
    }

    /// How far from `addr` towards `end` the mappings run without a hole
    /// (`addr` itself when it is not mapped).
    fn mapped_to(st: &MmState, addr: u64, end: u64) -> u64 {
        let mut pos = addr;
        for (_, v) in st.overlapping(addr, end) {
            if v.end <= pos {
                continue;
            }
            if v.start > pos {
                return pos;
            }
            pos = v.end;
            if pos >= end {
                return end;
            }
        }
        pos.min(end)
    }

    pub fn protect(&self, addr: u64, len: u64, prot: i32) -> KResult<()> {
        if addr & (PAGE - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let len = page_up(len);
        let end = addr.wrapping_add(len);
        if end <= addr {
            return Err(Errno::ENOMEM);
        }
        let mut st = self.state.lock();
        // Linux changes the mappings up to the first hole, then fails.
        let reach = Self::mapped_to(&st, addr, end);
        if reach == addr {
            return Err(Errno::ENOMEM);
        }
        let hole = reach < end;
        let end = reach;
        let splits = [addr, end]
            .iter()
            .filter(|&&x| {
                st.vmas
                    .range(..x)
                    .next_back()
                    .is_some_and(|(_, v)| v.end > x)
            })
            .count();
        // Refused before anything is split, as Linux checks each mapping
        // before it changes it (a split shared-memory attach would count
        // twice).
        let any = |f: &dyn Fn(&Vma) -> bool| {
            st.overlapping(addr, end)
                .map(|(_, v)| v)
                .filter(|v| v.end > addr)
                .any(f)
        };
        if prot & libc::PROT_WRITE != 0 && any(&|v| v.shared && !v.maywrite) {
            return Err(Errno::EACCES);
        }
        if prot & libc::PROT_EXEC != 0 && any(&|v| !v.mayexec) {
            return Err(Errno::EACCES);
        }
        // Linux's heuristic overcommit: a private mapping made writable
        // commits its memory, and one larger than memory is ENOMEM.
        if prot & libc::PROT_WRITE != 0
            && any(&|v| {
                !v.shared
                    && !v.noreserve
                    && v.prot & libc::PROT_WRITE == 0
                    && !commits_fit(v.end.min(end) - v.start.max(addr))
            })
        {
            return Err(Errno::ENOMEM);
        }
        Self::room_for(&st, splits)?;
        Self::split_at(&mut st, addr);
        Self::split_at(&mut st, end);
        for (_, v) in st.vmas.range_mut(addr..end) {
            if prot != libc::PROT_NONE && matches!(v.backing, Backing::Reserved) {
                // First access: pages of its own, zeros until written.
                let len = v.end - v.start;
                let off = self.memfile.alloc(len)?;
                v.backing = Backing::Private { off };
                self.space.map(v.start, len, prot, off);
            }
            if prot & libc::PROT_WRITE != 0 && !v.shared {
                let len = v.end - v.start;
                let copy = match &v.backing {
                    Backing::Shared { off, .. } => {
                        let noff = self.memfile.alloc(len)?;
                        self.memfile.copy(*off, noff, len);
                        Some(noff)
                    }
                    Backing::File { fd, off, .. } => {
                        // Copy-on-write of a file mapping: from here on the
                        // pages are the process's own.
                        let noff = self.memfile.alloc(len)?;
                        if let Err(e) = self.memfile.fill_from_fd(fd.as_raw_fd(), *off, noff, len) {
                            self.memfile.release(noff, len);
                            return Err(Errno::from_io(&e));
                        }
                        Some(noff)
                    }
                    Backing::Private { .. } | Backing::Reserved => None,
                };
                if let Some(noff) = copy {
                    v.backing = Backing::Private { off: noff };
                    self.space.map(v.start, len, v.prot, noff);
                }
            }
            v.prot = prot;
        }
        // Memory never made accessible has nothing in the host to change.
        let mut run: Option<(u64, u64)> = None;
        for (_, v) in st.vmas.range(addr..end) {
            if matches!(v.backing, Backing::Reserved) {
                if let Some((a, b)) = run.take() {
                    self.space.protect(a, b - a, prot);
                }
                continue;
            }
            run = match run {
                Some((a, b)) if b == v.start => Some((a, v.end)),
                Some((a, b)) => {
                    self.space.protect(a, b - a, prot);
                    Some((v.start, v.end))
                }
                None => Some((v.start, v.end)),
            };
        }
        if let Some((a, b)) = run {
            self.space.protect(a, b - a, prot);
        }
        if prot & libc::PROT_WRITE != 0 {
            // Pages shared since a fork stay read-only until written.
            for (_, v) in st.vmas.range(addr..end) {
                self.protect_shared(v, v.start, v.end - v.start);
            }
        }
        Self::merge_at(&mut st, addr);
        Self::merge_at(&mut st, end);
        if hole {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Whether some locked VMA overlaps `[addr, end)`.
    fn any_locked(st: &MmState, addr: u64, end: u64) -> bool {
        st.overlapping(addr, end)
            .any(|(_, v)| v.end > addr && v.locked)
    }

    /// A copy of the VMA holding `addr`.
    fn vma_holding(st: &MmState, addr: u64) -> Option<Vma> {
        st.vmas
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v.clone())
            .filter(|v| v.end > addr)
    }

    /// mremap(2) without MREMAP_FIXED handled by the caller's arguments.
    pub fn remap(
        &self,
        old: u64,
        old_len: u64,
        new_len: u64,
        may_move: bool,
        fixed: Option<u64>,
    ) -> KResult<u64> {
        if old & (PAGE - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        let old_len = page_up(old_len);
        let new_len = page_up(new_len);
        if new_len == 0 || new_len > TASK_SIZE {
            return Err(Errno::EINVAL);
        }
        // Moving copies pages: not while a fork is being fenced.
        let _pinned = self.io_pin.read_recursive();
        let mut st = self.state.lock();
        // In Linux's order: the VMA at the address, then the destination,
        // then the shrink's unmap, then the range within the VMA.
        let v = Self::vma_holding(&st, old).ok_or(Errno::EFAULT)?;
        if let Some(a) = fixed {
            if a & (PAGE - 1) != 0 || a > TASK_SIZE - new_len {
                return Err(Errno::EINVAL);
            }
            if a < old.saturating_add(old_len.max(new_len)) && old < a + new_len {
                return Err(Errno::EINVAL);
            }
            if a > self.max_addr() || new_len > self.max_addr() - a {
                return Err(Errno::ENOMEM);
            }
        }
        if fixed.is_none() && old_len >= new_len {
            let start = old + new_len;
            if start > TASK_SIZE || old_len - new_len > TASK_SIZE - start {
                return Err(Errno::EINVAL);
            }
        }
        if old_len == 0 && !v.shared {
            return Err(Errno::EINVAL);
        }
        // Neighbouring pieces Linux would hold as one VMA become one.
        if old_len > 0 {
            let end = old.saturating_add(old_len).min(self.max_addr());
            self.coalesce(&mut st, old, end)?;
        }
        let v = Self::vma_holding(&st, old).ok_or(Errno::EFAULT)?;
        if old_len > v.end - old {
            return Err(Errno::EFAULT);
        }
        if fixed.is_none() && new_len <= old_len {
            if new_len < old_len {
                self.unmap_locked(&mut st, old + new_len, old_len - new_len);
            }
            return Ok(old);
        }
        // Growing committed memory commits the growth.
        let commits = !v.shared && !v.noreserve && v.prot & libc::PROT_WRITE != 0;
        if commits && new_len > old_len && !commits_fit(new_len - old_len) {
            return Err(Errno::ENOMEM);
        }
        // Grow in place when the following range is free.
        if fixed.is_none()
            && old + old_len == v.end
            && new_len <= self.max_addr() - old
            && !Self::overlaps(&st, v.end, old + new_len)
            && matches!(v.backing, Backing::Private { .. })
        {
            let extra = new_len - old_len;
            let off = self.memfile.alloc(extra)?;
            let mut vma = Vma {
                start: v.end,
                end: v.end + extra,
                backing: Backing::Private { off },
                ..v.clone()
            };
            if let VmaName::File { off, .. } = &mut vma.name {
                *off += v.end - v.start;
            }
            self.space.map(vma.start, extra, vma.prot, off);
            let fill = Self::file_tail(&vma, vma.start);
            st.vmas.insert(vma.start, vma);
            drop(st);
            self.fill_tail(fill);
            return Ok(old);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let dest = match fixed {
            Some(a) => {
                self.unmap_locked(&mut st, a, new_len);
                a
            }
            None => {
                let top = st.mmap_top;
                Self::find_free(&st, new_len, top)?.0
            }
        };
        let copy_len = old_len.min(new_len);
        let backing = match &v.backing {
            Backing::Private { .. } => {
                let off = self.memfile.alloc(new_len)?;
                self.memfile.copy(v.off_at(old), off, copy_len);
                Backing::Private { off }
            }
            Backing::Shared { mem, .. } => {
                if v.off_at(old) + new_len > mem.off + mem.len {
                    return Err(Errno::EINVAL);
                }
                Backing::Shared {
                    mem: mem.clone(),
                    off: v.off_at(old),
                }
            }
            Backing::File { fd, hold, .. } => Backing::File {
                fd: fd.clone(),
                off: v.off_at(old),
                hold: hold.clone(),
            },
            Backing::Reserved => Backing::Reserved,
        };
        let mut name = v.name.clone();
        if let VmaName::File { off, .. } = &mut name {
            *off += old - v.start;
        }
        let vma = Vma {
            start: dest,
            end: dest + new_len,
            backing,
            name,
            ..v
        };
        self.unmap_locked(&mut st, old, old_len);
        self.install(&vma, dest, new_len);
        let fill = if matches!(vma.backing, Backing::Private { .. }) && new_len > old_len {
            Self::file_tail(&vma, dest + old_len)
        } else {
            None
        };
        st.vmas.insert(dest, vma);
        drop(st);
        self.fill_tail(fill);
        Ok(dest)
    }

    /// What of a private copy of a file, from `from` to its end, the file
    /// should fill (a mapping that mremap grew): its file, the range and
    /// the file offset.
    fn file_tail(v: &Vma, from: u64) -> Option<(Arc<crate::fs::file::File>, u64, u64, u64)> {
        match (&v.name, &v.source) {
            (VmaName::File { off, .. }, Some(f)) if f.ops.lockless() => {
                Some((f.clone(), from, v.end - from, off + (from - v.start)))
            }
            _ => None,
        }
    }

    /// MADV_REMOVE (Linux's madvise_remove): the range of the file or
    /// shared memory behind shared writable mappings becomes a hole, seen
    /// by every mapping of it. A locked mapping, or one with no file
    /// (private anonymous memory), is EINVAL; any other mapping of a file
    /// EACCES; the mappings before the one that fails have been punched,
    /// and a hole in the range is ENOMEM at the end.
    pub fn remove(&self, addr: u64, len: u64) -> KResult<()> {
        enum Punch {
            File(Arc<crate::fs::file::File>),
            Memory,
        }
        let Some(end) = linux_range(addr, len, false)? else {
            return Ok(());
        };
        let (work, holes) = {
            let st = self.state.lock();
            let mut work = Vec::new();
            let mut failed = None;
            for (_, v) in st.overlapping(addr, end) {
                let (s, e) = (v.start.max(addr), v.end.min(end));
                let file = matches!(v.name, VmaName::File { .. });
                let punch = match &v.backing {
                    _ if v.locked => Err(Errno::EINVAL),
                    Backing::Shared { .. } => Ok(Punch::Memory),
                    Backing::File { .. } if v.shared && v.maywrite => {
                        v.source.clone().map(Punch::File).ok_or(Errno::EINVAL)
                    }
                    _ if file => Err(Errno::EACCES),
                    _ => Err(Errno::EINVAL),
                };
                match punch {
                    Ok(p) => work.push((p, v.off_at(s), e - s)),
                    Err(err) => {
                        failed = Some(err);
                        break;
                    }
                }
            }
            let holes = match failed {
                Some(err) => Err(err),
                None => Ok(!Self::fully_mapped(&st, addr, end)),
            };
            (work, holes)
        };
        // The file's own punch takes its locks: not under the mm's.
        for (p, off, n) in work {
            match p {
                Punch::Memory => self.memfile.zero(off, n),
                Punch::File(f) => f.fallocate(
                    libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                    off,
                    n,
                )?,
            }
        }
        if holes? {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Reads a file into private pages: (file, address, length, offset).
    fn fill_tail(&self, fill: Option<(Arc<crate::fs::file::File>, u64, u64, u64)>) {
        if let Some((f, at, len, off)) = fill {
            // Past the file's end the pages stay zero.
            let _ =
                crate::loader::elf::copy_in(self, f.as_ref(), at, crate::num::usize_of(len), off);
        }
    }

    /// brk(2): returns the new (or unchanged) break.
    pub fn brk(&self, new: u64) -> u64 {
        let mut st = self.state.lock();
        let (start, cur) = (st.brk_start, st.brk);
        if new < start || new > start + (1 << 34) || new > self.max_addr() {
            return cur;
        }
        let old_end = page_up(cur);
        let new_end = page_up(new);
        if new_end > old_end {
            if Self::overlaps(&st, old_end, new_end) || !commits_fit(new_end - old_end) {
                return cur;
            }
            let Ok(off) = self.memfile.alloc(new_end - old_end) else {
                return cur;
            };
            let prot = libc::PROT_READ | libc::PROT_WRITE;
            self.space.map(old_end, new_end - old_end, prot, off);
            st.vmas.insert(
                old_end,
                Vma {
                    start: old_end,
                    end: new_end,
                    prot,
                    shared: false,
                    growsdown: false,
                    locked: false,
                    maywrite: true,
                    mayexec: true,
                    policy: None,
                    dontfork: false,
                    wipeonfork: false,
                    backing: Backing::Private { off },
                    name: VmaName::Heap,
                    source: None,
                    noreserve: false,
                },
            );
        } else if new_end < old_end {
            self.unmap_locked(&mut st, new_end, old_end - new_end);
        }
        st.brk = new;
        new
    }

    /// madvise(MADV_DONTNEED/FREE): private anonymous pages read back as zero.
    pub fn discard(&self, addr: u64, len: u64) -> KResult<()> {
        let Some(end) = linux_range(addr, len, false)? else {
            return Ok(());
        };
        let _pinned = self.io_pin.read_recursive();
        let mut st = self.state.lock();
        // Locked memory cannot be discarded.
        if Self::any_locked(&st, addr, end) {
            return Err(Errno::EINVAL);
        }
        // Holes are skipped, and reported at the end, as Linux does.
        let holes = !Self::fully_mapped(&st, addr, end);
        let mut refill = Vec::new();
        let private: Vec<(u64, u64)> = st
            .overlapping(addr, end)
            .filter(|(_, v)| v.end > addr && matches!(v.backing, Backing::Private { .. }))
            // A private copy of a file gets the file's contents back when
            // they can be read here; otherwise it keeps its own.
            .filter(|(_, v)| {
                if !matches!(v.name, VmaName::File { .. }) {
                    return true;
                }
                let Some((f, s, _, off)) = Self::file_tail(v, v.start.max(addr)) else {
                    return false;
                };
                refill.push((f, s, v.end.min(end) - s, off));
                true
            })
            .map(|(_, v)| (v.start.max(addr), v.end.min(end)))
            .collect();
        for (s, e) in private {
            // Pages shared since a fork are replaced by fresh zero pages;
            // the process's own are zeroed where they are.
            self.unshare_locked(&mut st, s, e, false)?;
            let mut pos = s;
            while pos < e {
                let Some(v) = Self::vma_holding(&st, pos) else {
                    break;
                };
                let stop = v.end.min(e);
                self.memfile.zero(v.off_at(pos), stop - pos);
                pos = stop;
            }
        }
        drop(st);
        for r in refill {
            // Another thread may unmap meanwhile: what is still there gets
            // the file's bytes, the rest of the range stays zero.
            self.fill_tail(Some(r));
        }
        if holes {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// process_mrelease of a dying process: its private anonymous memory
    /// goes now rather than when its last thread is gone (locked memory
    /// stays, as the OOM reaper leaves it).
    pub fn reap(&self) {
        for v in self.regions() {
            let anon = matches!(v.name, VmaName::Anon | VmaName::Heap | VmaName::Stack);
            if anon && !v.shared && !v.locked {
                let _ = self.discard(v.start, v.end - v.start);
            }
        }
    }

    /// madvise(2) advice that changes nothing here: Linux's range checks,
    /// then ENOMEM when part of the range is unmapped.
    pub fn advise(&self, addr: u64, len: u64) -> KResult<()> {
        let Some(end) = linux_range(addr, len, false)? else {
            return Ok(());
        };
        let st = self.state.lock();
        if !Self::fully_mapped(&st, addr, end) {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// mincore(2): one byte per page, 1 if resident. The range must lie
    /// below the top of the address space (ENOMEM otherwise, as Linux's
    /// access_ok); callers bound `len` so the result stays small.
    pub fn residency(&self, addr: u64, len: u64) -> KResult<Vec<u8>> {
        if addr > TASK_SIZE || len > TASK_SIZE - addr {
            return Err(Errno::ENOMEM);
        }
        let end = addr + page_up(len);
        if end == addr {
            return Ok(Vec::new());
        }
        let st = self.state.lock();
        if !Self::fully_mapped(&st, addr, end) {
            return Err(Errno::ENOMEM);
        }
        let mut out = Vec::new();
        let mut page = addr;
        while page < end {
            let v = st.vmas.range(..=page).next_back().unwrap().1;
            if matches!(v.backing, Backing::File { .. }) {
                // Backed by the host page cache: report it resident.
                out.push(1);
                page += PAGE;
                continue;
            }
            if matches!(v.backing, Backing::Reserved) {
                out.push(0);
                page += PAGE;
                continue;
            }
            let off = crate::num::sbits(v.off_at(page));
            // SAFETY: lseek on the memory file.
            let d = unsafe { libc::lseek(self.memfile.fd(), off, libc::SEEK_DATA) };
            out.push(u8::from(d == off));
            page += PAGE;
        }
        Ok(out)
    }

    /// msync(2)'s checks: ENOMEM when the range wraps or part of it is
    /// unmapped, EBUSY to invalidate locked memory. (Shared file mappings
    /// are the files themselves: nothing is left to write back.)
    pub fn sync_check(&self, addr: u64, len: u64, invalidate: bool) -> KResult<()> {
        let Some(end) = linux_range(addr, len, true).map_err(|_| Errno::ENOMEM)? else {
            return Ok(());
        };
        let st = self.state.lock();
        if invalidate && Self::any_locked(&st, addr, end) {
            return Err(Errno::EBUSY);
        }
        if !Self::fully_mapped(&st, addr, end) {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// mbind: sets the policy of the mappings of `[start, end)` (page
    /// aligned); EFAULT where nothing is mapped.
    pub fn set_policy(&self, start: u64, end: u64, policy: Option<MemPolicy>) -> KResult<()> {
        let mut st = self.state.lock();
        if !Self::fully_mapped(&st, start, end) {
            return Err(Errno::EFAULT);
        }
        Self::split_at(&mut st, start);
        Self::split_at(&mut st, end);
        for (_, v) in st.vmas.range_mut(start..end) {
            v.policy = policy;
        }
        Self::merge_at(&mut st, start);
        Self::merge_at(&mut st, end);
        Ok(())
    }

    /// The policy of the mapping at `addr`: EFAULT if none.
    pub fn policy_at(&self, addr: u64) -> KResult<Option<MemPolicy>> {
        self.vma_at(addr).map(|v| v.policy).ok_or(Errno::EFAULT)
    }

    /// mlockall(MCL_FUTURE) is in force: new mappings are locked.
    pub fn locks_future(&self) -> bool {
        self.state.lock().lock_future
    }

    /// The bytes of locked mappings (VmLck).
    pub fn locked_bytes(&self) -> u64 {
        self.state
            .lock()
            .vmas
            .values()
            .filter(|v| v.locked)
            .map(|v| v.end - v.start)
            .sum()
    }

    /// The bytes of `[addr, addr+len)` (page-rounded as mlock rounds)
    /// not locked yet: what mlock of it would add.
    pub fn unlocked_in(&self, addr: u64, len: u64) -> u64 {
        let start = page_down(addr);
        let end = page_up(addr.saturating_add(len));
        self.state
            .lock()
            .vmas
            .values()
            .filter(|v| !v.locked && v.end > start && v.start < end)
            .map(|v| v.end.min(end) - v.start.max(start))
            .sum()
    }

    /// mlockall (`all`: MCL_CURRENT; `future`: MCL_FUTURE) and, with
    /// `lock` false, munlockall.
    pub fn lock_all(&self, lock: bool, all: bool, future: bool) {
        let mut st = self.state.lock();
        if all || !lock {
            for v in st.vmas.values_mut() {
                v.locked = lock;
            }
        }
        st.lock_future = lock && future;
    }

    pub fn set_locked(&self, addr: u64, len: u64, locked: bool) -> KResult<()> {
        // As mlock(2): the length grows by the offset into the first page
        // and wraps the way the kernel's arithmetic does.
        let start = page_down(addr);
        let Some(end) = linux_range(start, len.wrapping_add(addr - start), true)? else {
            return Ok(());
        };
        let mut st = self.state.lock();
        // Linux changes the mappings from `start` up to the first hole,
        // then fails with ENOMEM.
        Self::split_at(&mut st, start);
        Self::split_at(&mut st, end);
        let mut pos = start;
        for (_, v) in st.vmas.range_mut(start..end) {
            if v.start != pos {
                break;
            }
            v.locked = locked;
            pos = v.end;
        }
        if pos < end {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Copies this address space for fork: private pages become the
    /// child's too, read-only on both sides until one of them writes;
    /// shared memory stays shared. `fence` gets the child's space and must
    /// make the parent's write-protection real on the host before it
    /// returns (ptrace: flush the space from the forking thread): until
    /// then its other threads can still write those pages, and no page may
    /// be copied for either side while they can. Lock-free copies into
    /// this space wait meanwhile, and no other thread changes its mappings.
    /// With `inherit`, `fence` also copies the parent's host mappings into
    /// the child's space (`Context::fork_space`), so only what differs
    /// (fork advice) is queued for the child. What `fence` returns comes
    /// back with the child.
    pub fn fork<T>(
        &self,
        space: Arc<dyn AddressSpace>,
        inherit: bool,
        fence: impl FnOnce(&Arc<dyn AddressSpace>) -> KResult<T>,
    ) -> KResult<(Arc<Mm>, T)> {
        let _pinned = self.io_pin.write();
        // Counted before any protection is queued: another thread's switch
        // may apply it before this fork's fence does, and its fault must
        // then count as new (see `fork_count`).
        self.forks.fetch_add(1, Ordering::Release);
        let child = Mm::with_hot(space, self.memfile.clone(), self.hot.clone());
        // membarrier registrations go with the copy, as Linux's dup_mm
        // keeps them.
        child
            .membarrier
            .store(self.membarrier.load(Ordering::Acquire), Ordering::Release);
        child.ksm_mergeable.store(
            self.ksm_mergeable.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let mut wipe = Vec::new();
        let made = {
            let st = self.state.lock();
            let mut cst = child.state.lock();
            for (&k, v) in st.vmas.iter() {
                if v.dontfork {
                    if inherit {
                        child.space.unmap(v.start, v.end - v.start);
                    }
                    continue;
                }
                if v.wipeonfork {
                    wipe.push((v.start, v.end - v.start));
                }
                if let Backing::Private { off } = v.backing {
                    let len = v.end - v.start;
                    self.memfile.share(off, len);
                    if v.prot & libc::PROT_WRITE != 0 {
                        self.space.protect(v.start, len, v.prot & !libc::PROT_WRITE);
                    }
                }
                if !inherit {
                    child.install(v, v.start, v.end - v.start);
                }
                // Memory locks are not inherited.
                let mut v = v.clone();
                v.locked = false;
                cst.vmas.insert(k, v);
            }
            cst.brk_start = st.brk_start;
            cst.brk = st.brk;
            cst.mmap_top = st.mmap_top;
            cst.stack_top = st.stack_top;
            cst.arg_range = st.arg_range;
            cst.env_range = st.env_range;
            cst.code_range = st.code_range;
            cst.data_range = st.data_range;
            cst.auxv = st.auxv.clone();
            cst.exe = st.exe.clone();
            cst.exe_hold = st.exe_hold.clone();
            cst.exe_file = st.exe_file.clone();
            cst.vdso_base = st.vdso_base;
            drop(cst);
            // Under the state lock: a mapping another thread changed after
            // the copy above must not reach the host before the fence (the
            // child would inherit it).
            fence(&child.space)?
        };
        // The child's own zero pages where the parent asked for a wipe.
        for (start, len) in wipe {
            child.discard(start, len)?;
        }
        // Copies of the pages children wrote first before: the parent's
        // protection is real now, so none of its threads writes them
        // during the copy.
        {
            let mut cst = child.state.lock();
            for page in self.hot.pages() {
                let copy = Self::vma_holding(&cst, page).is_some_and(|v| {
                    v.prot & libc::PROT_WRITE != 0
                        && !v.wipeonfork
                        && matches!(v.backing, Backing::Private { .. })
                });
                if copy {
                    child.unshare_locked(&mut cst, page, page + PAGE, true)?;
                }
            }
        }
        Ok((child, made))
    }

    /// EINVAL unless every mapping over `[addr, addr+len)` is private
    /// anonymous memory (MADV_FREE's rule).
    pub fn anonymous_only(&self, addr: u64, len: u64) -> KResult<()> {
        let end = addr.saturating_add(page_up(len));
        let st = self.state.lock();
        let other = st
            .overlapping(addr, end)
            .filter(|(_, v)| v.end > addr)
            .any(|(_, v)| v.shared || matches!(v.name, VmaName::File { .. } | VmaName::Shm { .. }));
        if other {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// MADV_POPULATE_READ/WRITE and MAP_POPULATE: the pages of
    /// `[addr, addr+len)` are made resident, and for writing broken away
    /// from a fork's sharing. Unmapped parts are ENOMEM; memory the
    /// access may not touch is EINVAL (Linux 6.x). Views of host files are the host
    /// page cache's, resident as far as the sandbox can tell.
    pub fn populate(&self, addr: u64, len: u64, write: bool) -> KResult<()> {
        let Some(end) = linux_range(addr, len, false)? else {
            return Ok(());
        };
        let _pinned = self.io_pin.read_recursive();
        let mut st = self.state.lock();
        if !Self::fully_mapped(&st, addr, end) {
            return Err(Errno::ENOMEM);
        }
        let need = if write {
            libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let denied = st
            .overlapping(addr, end)
            .filter(|(_, v)| v.end > addr)
            .any(|(_, v)| v.prot & need == 0);
        if denied {
            return Err(Errno::EINVAL);
        }
        if write {
            self.unshare_locked(&mut st, addr, end, true)?;
        }
        for (_, v) in st.overlapping(addr, end).filter(|(_, v)| v.end > addr) {
            if matches!(v.backing, Backing::File { .. } | Backing::Reserved) {
                continue;
            }
            let (s, e) = (v.start.max(addr), v.end.min(end));
            self.memfile.populate(v.off_at(s), e - s)?;
        }
        Ok(())
    }

    /// madvise's fork advice on `[addr, addr+len)`: DONTFORK/DOFORK on
    /// any mapping, WIPEONFORK/KEEPONFORK on private anonymous memory
    /// only (EINVAL elsewhere). Up to the first hole, then ENOMEM.
    pub fn fork_advice(&self, addr: u64, len: u64, advice: i32) -> KResult<()> {
        let Some(end) = linux_range(addr, len, false)? else {
            return Ok(());
        };
        let mut st = self.state.lock();
        let wipe = matches!(advice, libc::MADV_WIPEONFORK | libc::MADV_KEEPONFORK);
        if wipe {
            let bad = st
                .overlapping(addr, end)
                .filter(|(_, v)| v.end > addr)
                .any(|(_, v)| {
                    v.shared
                        || !matches!(v.backing, Backing::Private { .. } | Backing::Reserved)
                        || matches!(v.name, VmaName::File { .. })
                });
            if bad {
                return Err(Errno::EINVAL);
            }
        }
        Self::split_at(&mut st, addr);
        Self::split_at(&mut st, end);
        let mut pos = addr;
        for (_, v) in st.vmas.range_mut(addr..end) {
            if v.start != pos {
                break;
            }
            match advice {
                libc::MADV_DONTFORK => v.dontfork = true,
                libc::MADV_DOFORK => v.dontfork = false,
                libc::MADV_WIPEONFORK => v.wipeonfork = true,
                _ => v.wipeonfork = false,
            }
            pos = v.end;
        }
        if pos < end {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Installs `[start, start+len)` of VMA `v` in this space.
    fn install(&self, v: &Vma, start: u64, len: u64) {
        match &v.backing {
            Backing::File { fd, .. } => {
                self.space
                    .map_file(start, len, v.prot, fd.clone(), v.off_at(start))
            }
            // Nothing there: a touch faults, and the sentry sees a VMA.
            Backing::Reserved => self.space.unmap(start, len),
            _ => {
                self.space.map(start, len, v.prot, v.off_at(start));
                self.protect_shared(v, start, len);
            }
        }
    }

    /// Write-protects the pages of `[start, start+len)` of private VMA `v`
    /// that another process uses too.
    fn protect_shared(&self, v: &Vma, start: u64, len: u64) {
        if v.prot & libc::PROT_WRITE == 0 || !matches!(v.backing, Backing::Private { .. }) {
            return;
        }
        let off = v.off_at(start);
        for (a, b) in self.memfile.shared_in(off, len) {
            self.space
                .protect(start + (a - off), b - a, v.prot & !libc::PROT_WRITE);
        }
    }

    /// Gives the pages of `[start, end)` in private VMAs that another
    /// process uses too pages of this process's own: copies of them, or
    /// fresh zero pages (`copy` false). The VMAs split around each such
    /// run; the old pages are let go once the platform has unmapped them.
    fn unshare_locked(&self, st: &mut MmState, start: u64, end: u64, copy: bool) -> KResult<()> {
        let (start, end) = (page_down(start), page_down(end.saturating_add(PAGE - 1)));
        let mut runs = Vec::new();
        for (_, v) in st.overlapping(start, end) {
            if v.end <= start || !matches!(v.backing, Backing::Private { .. }) {
                continue;
            }
            let (s, e) = (v.start.max(start), v.end.min(end));
            let off = v.off_at(s);
            for (a, b) in self.memfile.shared_in(off, e - s) {
                runs.push((s + (a - off), s + (b - off)));
            }
        }
        for (s, e) in runs {
            let len = e - s;
            let fresh = self.memfile.alloc(len)?;
            Self::split_at(st, s);
            Self::split_at(st, e);
            let Some(v) = st.vmas.get_mut(&s) else {
                self.memfile.release(fresh, len);
                continue;
            };
            let old = v.off_at(s);
            if copy {
                self.memfile.copy(old, fresh, len);
            }
            v.backing = Backing::Private { off: fresh };
            let v = v.clone();
            self.let_go(st, old, len);
            self.install(&v, s, len);
            Self::merge_at(st, s);
            Self::merge_at(st, e);
        }
        Ok(())
    }

    /// A protection fault at `addr` (the platform does not say whether it
    /// was a read, a write or an execution). Gives a write to a page shared
    /// since a fork a page of its own, or makes a page this process alone
    /// uses writable again (with the run of such pages around it, so a
    /// process whose child has gone takes its memory back in one fault).
    /// Returns whether the access may be retried; a retried access that
    /// faults again with no fork in between was not a write to fix.
    pub fn write_fault(&self, addr: u64) -> bool {
        // Not while a fork is between sharing pages and making the
        // parent's protection real (see `fork`).
        let _pinned = self.io_pin.read_recursive();
        let mut st = self.state.lock();
        let Some(v) = Self::vma_holding(&st, addr) else {
            return false;
        };
        if v.prot & libc::PROT_WRITE == 0 {
            return false;
        }
        let page = page_down(addr);
        match v.backing {
            Backing::Private { .. } => {
                let off = v.off_at(page);
                if self.memfile.is_shared(off) {
                    self.hot.note(page);
                    if self
                        .unshare_locked(&mut st, page, page + PAGE, true)
                        .is_err()
                    {
                        return false;
                    }
                    // Copied, unless the other process let the page go
                    // between the two looks (its own fault or exit): then
                    // it is this one's to take over, below.
                    match Self::vma_holding(&st, page) {
                        Some(nv) if nv.off_at(page) == off => {}
                        _ => return true,
                    }
                }
                let Some(v) = Self::vma_holding(&st, page) else {
                    return false;
                };
                let voff = v.off_at(v.start);
                let (a, b) = self.memfile.sole_run(off, voff, voff + (v.end - v.start));
                self.space.protect(v.start + (a - voff), b - a, v.prot);
                true
            }
            // Another thread changed the mapping and the platform has not
            // applied it yet: the next switch will.
            _ => true,
        }
    }

    /// How many forks this space has made: a fault that repeats at the
    /// same address with the same count was not one `write_fault` fixes.
    pub fn fork_count(&self) -> u64 {
        self.forks.load(Ordering::Acquire)
    }

    /// Gives the pages of `[addr, addr+len)` that another process uses too
    /// pages of this process's own (before the sentry writes there).
    pub fn unshare_range(&self, addr: u64, len: usize) -> KResult<()> {
        let end = addr.saturating_add(len as u64);
        // Recursive: lock-free I/O calls this holding the pin already.
        let _pinned = self.io_pin.read_recursive();
        let mut st = self.state.lock();
        self.unshare_locked(&mut st, addr, end, true)
    }

    /// Gives the pages of `[addr, addr+len)` in private views of files or
    /// of shared memory copies of their own, as a write to them would
    /// (a debugger's breakpoint in a program's text: FOLL_FORCE).
    pub fn privatize(&self, addr: u64, len: usize) -> KResult<()> {
        let start = page_down(addr);
        let end = page_down(addr.saturating_add(len as u64).saturating_add(PAGE - 1));
        let _pinned = self.io_pin.read_recursive();
        let mut st = self.state.lock();
        // The vDSO, shared by every process, becomes this one's own too.
        let own = |v: &Vma| !v.shared || matches!(v.name, VmaName::Vdso);
        let views = st
            .overlapping(start, end)
            .any(|(_, v)| v.end > start && own(v) && !matches!(v.backing, Backing::Private { .. }));
        if !views {
            return Ok(());
        }
        Self::split_at(&mut st, start);
        Self::split_at(&mut st, end);
        for (_, v) in st.vmas.range_mut(start..end) {
            if !own(v) {
                continue;
            }
            let len = v.end - v.start;
            let noff = match &v.backing {
                Backing::Private { .. } => continue,
                // Forced access to memory never accessible: zeros of its own.
                Backing::Reserved => self.memfile.alloc(len)?,
                Backing::Shared { off, .. } => {
                    let noff = self.memfile.alloc(len)?;
                    self.memfile.copy(*off, noff, len);
                    noff
                }
                Backing::File { fd, off, .. } => {
                    let noff = self.memfile.alloc(len)?;
                    if let Err(e) = self.memfile.fill_from_fd(fd.as_raw_fd(), *off, noff, len) {
                        self.memfile.release(noff, len);
                        return Err(Errno::from_io(&e));
                    }
                    noff
                }
            };
            v.backing = Backing::Private { off: noff };
            v.shared = false;
            self.space.map(v.start, len, v.prot, noff);
        }
        Self::merge_at(&mut st, start);
        Self::merge_at(&mut st, end);
        Ok(())
    }

    /// Grows a MAP_GROWSDOWN VMA down to cover `addr`, if it is close
    /// enough and the stack, with what it grew before, stays within
    /// `limit` bytes (RLIMIT_STACK, as acct_stack_growth checks): past it
    /// the fault is the process's SIGSEGV.
    pub fn grow_stack(&self, addr: u64, limit: u64) -> bool {
        let mut st = self.state.lock();
        let Some((_, v)) = st.vmas.range(addr..).next() else {
            return false;
        };
        if !v.growsdown || addr >= v.start || v.start - addr > (8 << 20) {
            return false;
        }
        let (start, prot, name) = (page_down(addr), v.prot, v.name.clone());
        let end = v.start;
        // The stack is the run of growsdown VMAs from here up.
        let mut top = end;
        for (_, u) in st.vmas.range(end..) {
            if u.start != top || !u.growsdown {
                break;
            }
            top = u.end;
        }
        if top - start > limit {
            return false;
        }
        // Each growth is a fault the platform reports: a deep recursion
        // grows in steps of 256 KiB, not a page, within the limit and
        // the room below (what Linux maps is a page at a time; only the
        // VMA's size shows the difference).
        let room = st
            .vmas
            .range(..start)
            .next_back()
            .map_or(MIN_ADDR, |(_, u)| u.end);
        let start = start
            .min(end.saturating_sub(256 << 10))
            .max(top.saturating_sub(limit))
            .max(room)
            .min(start);
        if Self::overlaps(&st, start, end) {
            return false;
        }
        let Ok(off) = self.memfile.alloc(end - start) else {
            return false;
        };
        self.space.map(start, end - start, prot, off);
        st.vmas.insert(
            start,
            Vma {
                start,
                end,
                prot,
                shared: false,
                growsdown: true,
                locked: false,
                maywrite: true,
                mayexec: true,
                policy: None,
                dontfork: false,
                wipeonfork: false,
                backing: Backing::Private { off },
                name,
                source: None,
                noreserve: false,
            },
        );
        true
    }

    /// Changes what /proc/pid/maps calls the VMA starting at `addr`.
    pub fn rename(&self, addr: u64, name: VmaName) {
        if let Some(v) = self.state.lock().vmas.get_mut(&addr) {
            v.name = name;
        }
    }

    /// Total size of all mappings (VmSize).
    /// Bytes of private writable mappings other than the stack: what
    /// RLIMIT_DATA limits (Linux's data_vm) and status's VmData shows.
    pub fn data_size(&self) -> u64 {
        self.state
            .lock()
            .vmas
            .values()
            .filter(|v| !v.shared && v.prot & libc::PROT_WRITE != 0 && v.name != VmaName::Stack)
            .map(|v| v.end - v.start)
            .sum()
    }

    pub fn total_size(&self) -> u64 {
        self.state
            .lock()
            .vmas
            .values()
            .map(|v| v.end - v.start)
            .sum()
    }

    /// The mappings as the application sees them (/proc/pid/maps): pieces
    /// split only by where their pages live (copy-on-write) are one.
    pub fn regions(&self) -> Vec<Vma> {
        let st = self.state.lock();
        let mut out: Vec<Vma> = Vec::new();
        for v in st.vmas.values() {
            match out.last_mut() {
                Some(last) if Self::compatible(last, v) && Self::one_object(last, v) => {
                    last.end = v.end
                }
                _ => out.push(v.clone()),
            }
        }
        out
    }

    /// Whether `b` continues `a`'s memory: any private pieces, or the
    /// next range of the same shared memory or file (two attaches of one
    /// shm segment side by side are two mappings).
    fn one_object(a: &Vma, b: &Vma) -> bool {
        let next = b.off_at(b.start) == a.off_at(a.start) + (a.end - a.start);
        match (&a.backing, &b.backing) {
            (Backing::Private { .. }, Backing::Private { .. }) => true,
            (Backing::Reserved, Backing::Reserved) => true,
            (Backing::Shared { mem: x, .. }, Backing::Shared { mem: y, .. }) => {
                Arc::ptr_eq(x, y) && next
            }
            (Backing::File { fd: x, .. }, Backing::File { fd: y, .. }) => Arc::ptr_eq(x, y) && next,
            _ => false,
        }
    }

    /// Finds the VMA containing `addr`.
    pub fn vma_at(&self, addr: u64) -> Option<Vma> {
        let st = self.state.lock();
        st.vmas
            .range(..=addr)
            .next_back()
            .filter(|(_, v)| v.end > addr)
            .map(|(_, v)| v.clone())
    }

    /// What identifies the memory at `addr` across address spaces (for
    /// shared futexes): the object, 0 for the memory file or the mapped
    /// file's (device, inode + 1), and the offset in it.
    pub fn shared_key(&self, addr: u64) -> Option<([u64; 2], u64)> {
        let v = self.vma_at(addr)?;
        let obj = match (&v.backing, &v.name) {
            (Backing::File { .. }, VmaName::File { dev, ino, .. }) => [*dev, ino.wrapping_add(1)],
            // A file mapping with no name to know it by: its host file.
            (Backing::File { fd, .. }, _) => [u64::MAX, Arc::as_ptr(fd) as u64],
            _ => [0, 0],
        };
        Some((obj, v.off_at(addr)))
    }
}

impl Drop for Mm {
    fn drop(&mut self) {
        if self.scratch != 0 {
            self.memfile.release(self.scratch, platform::SCRATCH_LEN);
        }
        let st = self.state.get_mut();
        for (off, len) in st.pending_release.drain(..) {
            self.memfile.release(off, len);
        }
        for (_, v) in std::mem::take(&mut st.vmas) {
            if let Backing::Private { off } = v.backing {
                self.memfile.release(off, v.end - v.start);
            }
        }
    }
}

/// The end of `[start, start + PAGE_ALIGN(len))` as madvise and mlock
/// compute it: `None` for an empty range (the call succeeds doing nothing),
/// EINVAL when a non-zero length rounds to zero or the end wraps.
/// mlock's version lets a length that rounds to zero pass (`zero_ok`).
fn linux_range(start: u64, len: u64, zero_ok: bool) -> KResult<Option<u64>> {
    let plen = page_up(len);
    if len != 0 && plen == 0 && !zero_ok {
        return Err(Errno::EINVAL);
    }
    let end = start.wrapping_add(plen);
    if end < start {
        return Err(Errno::EINVAL);
    }
    Ok((end != start).then_some(end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::{AddressSpace, Prot};

    /// An address space that only remembers the protection changes it
    /// was asked for.
    #[derive(Default)]
    struct FakeSpace {
        protects: parking_lot::Mutex<Vec<(u64, u64)>>,
    }
    impl AddressSpace for FakeSpace {
        fn map(&self, _: u64, _: u64, _: Prot, _: u64) {}
        fn map_file(&self, _: u64, _: u64, _: Prot, _: Arc<OwnedFd>, _: u64) {}
        fn unmap(&self, _: u64, _: u64) {}
        fn protect(&self, addr: u64, len: u64, _: Prot) {
            self.protects.lock().push((addr, len));
        }
        fn max_addr(&self) -> u64 {
            0x7ff0_0000_0000
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    fn mm() -> Arc<Mm> {
        let mf = Arc::new(MemFile::new().expect("memory file"));
        Mm::new(Arc::new(FakeSpace::default()), mf)
    }

    /// (start, end, prot) of every VMA.
    fn layout(m: &Mm) -> Vec<(u64, u64, i32)> {
        let st = m.state.lock();
        st.vmas.values().map(|v| (v.start, v.end, v.prot)).collect()
    }

    const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;
    const A: u64 = 0x1000_0000;

    fn fixed(m: &Mm, addr: u64, pages: u64, prot: i32) -> u64 {
        let mut r = MapRequest::anon(addr, pages * PAGE, prot);
        r.fixed = true;
        m.map(r).expect("map")
    }

    /// Where a full top-down walk puts `len` bytes: the free hint must
    /// never change the answer, only its cost.
    fn highest_gap(m: &Mm, len: u64) -> Option<u64> {
        let st = m.state.lock();
        let mut end = st.mmap_top;
        for v in st.vmas.values().rev().filter(|v| v.start < st.mmap_top) {
            if v.end <= end && end - v.end >= len {
                return Some(end - len);
            }
            end = end.min(v.start);
        }
        (end >= MIN_ADDR + len).then(|| end - len)
    }

    #[test]
    fn the_free_hint_picks_what_a_full_walk_picks() {
        let m = mm();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut placed: Vec<(u64, u64)> = Vec::new();
        for _ in 0..20_000 {
            match next(10) {
                // Unmap a whole mapping, or a piece of one.
                0..=2 if !placed.is_empty() => {
                    let i = usize::try_from(next(placed.len() as u64)).unwrap();
                    let (a, len) = placed.swap_remove(i);
                    let skip = next(len / PAGE) * PAGE;
                    m.unmap(a + skip, len - skip).unwrap();
                    if skip > 0 {
                        placed.push((a, skip));
                    }
                }
                // A fixed mapping over whatever is near the cursor.
                3 if !placed.is_empty() => {
                    let (a, _) = placed[usize::try_from(next(placed.len() as u64)).unwrap()];
                    let at = a + (next(8) * PAGE);
                    fixed(&m, at, 1 + next(4), libc::PROT_NONE);
                }
                _ => {
                    let len = (1 + next(8)) * PAGE;
                    let want = highest_gap(&m, len);
                    let got = m.map(MapRequest::anon(0, len, libc::PROT_NONE)).ok();
                    assert_eq!(got, want, "a {len:#x}-byte mapping");
                    if let Some(a) = got {
                        placed.push((a, len));
                    }
                }
            }
        }
    }

    #[test]
    fn a_stack_grows_in_steps_within_its_limit() {
        let m = mm();
        let top = A + (64 << 20);
        let mut r = MapRequest::anon(top - 4 * PAGE, 4 * PAGE, RW);
        r.fixed = true;
        r.growsdown = true;
        m.map(r).unwrap();
        let stack = |m: &Mm| -> u64 {
            let st = m.state.lock();
            st.vmas
                .values()
                .filter(|v| v.growsdown)
                .map(|v| v.end - v.start)
                .sum()
        };
        // A fault just below grows a 256 KiB step, not a page.
        assert!(m.grow_stack(top - 5 * PAGE, 1 << 20));
        assert_eq!(stack(&m), 4 * PAGE + (256 << 10));
        // The step stops at the limit; the limit itself is never passed.
        let limit = stack(&m) + 2 * PAGE;
        assert!(m.grow_stack(top - stack(&m) - PAGE, limit));
        assert_eq!(stack(&m), limit);
        assert!(!m.grow_stack(top - stack(&m) - PAGE, limit));
        // Nor the room below: a mapping there bounds the step.
        let size = stack(&m);
        fixed(&m, top - size - 40 * PAGE, 1, RW);
        assert!(m.grow_stack(top - size - PAGE, 64 << 20));
        assert_eq!(stack(&m), size + 39 * PAGE);
    }

    #[test]
    fn inaccessible_memory_takes_no_pages_until_made_accessible() {
        let m = mm();
        // 1 TiB is far more than the test's memory file holds.
        let big = 1u64 << 40;
        fixed(&m, A, big / PAGE, libc::PROT_NONE);
        assert!(matches!(m.vma_at(A).unwrap().backing, Backing::Reserved));
        assert_eq!(m.read(A, &mut [0u8; 1]), Err(Errno::EFAULT));
        m.protect(A + 4 * PAGE, 2 * PAGE, RW).unwrap();
        m.write(A + 4 * PAGE, b"hi").unwrap();
        let mut b = [0u8; 2];
        m.read(A + 4 * PAGE, &mut b).unwrap();
        assert_eq!(&b, b"hi");
        assert!(matches!(m.vma_at(A).unwrap().backing, Backing::Reserved));
        assert!(matches!(
            m.vma_at(A + 6 * PAGE).unwrap().backing,
            Backing::Reserved
        ));
        // The host is told only about what it has: the accessible pages.
        let space = m.space.as_any().downcast_ref::<FakeSpace>().unwrap();
        space.protects.lock().clear();
        m.protect(A, big, libc::PROT_NONE).unwrap();
        assert_eq!(*space.protects.lock(), vec![(A + 4 * PAGE, 2 * PAGE)]);
        // Reserved pieces side by side show as one mapping again.
        m.unmap(A + 4 * PAGE, 2 * PAGE).unwrap();
        fixed(&m, A + 4 * PAGE, 2, libc::PROT_NONE);
        let shown: Vec<(u64, u64)> = m.regions().iter().map(|v| (v.start, v.end)).collect();
        assert_eq!(shown, vec![(A, A + big)]);
        m.unmap(A, big).unwrap();
        assert!(layout(&m).is_empty());
    }

    #[test]
    fn protect_splits_and_keeps_bounds() {
        let m = mm();
        fixed(&m, A, 4, RW);
        m.protect(A + PAGE, 2 * PAGE, libc::PROT_READ).unwrap();
        assert_eq!(
            layout(&m),
            vec![
                (A, A + PAGE, RW),
                (A + PAGE, A + 3 * PAGE, libc::PROT_READ),
                (A + 3 * PAGE, A + 4 * PAGE, RW)
            ]
        );
    }

    #[test]
    fn unmap_punches_a_hole() {
        let m = mm();
        fixed(&m, A, 4, RW);
        m.unmap(A + PAGE, PAGE).unwrap();
        assert_eq!(
            layout(&m),
            vec![(A, A + PAGE, RW), (A + 2 * PAGE, A + 4 * PAGE, RW)]
        );
        // Unmapping what is not mapped is not an error.
        m.unmap(A + PAGE, PAGE).unwrap();
        assert!(m.vma_at(A + PAGE).is_none());
    }

    #[test]
    fn fixed_map_replaces_and_noreplace_refuses() {
        let m = mm();
        fixed(&m, A, 4, RW);
        fixed(&m, A + PAGE, 1, libc::PROT_READ);
        assert_eq!(layout(&m).len(), 3);
        let mut r = MapRequest::anon(A, PAGE, RW);
        r.fixed = true;
        r.noreplace = true;
        assert_eq!(m.map(r), Err(Errno::EEXIST));
    }

    #[test]
    fn data_survives_split_and_remap() {
        let m = mm();
        fixed(&m, A, 4, RW);
        m.write(A + 2 * PAGE + 5, b"hello").unwrap();
        m.protect(A + PAGE, PAGE, libc::PROT_READ).unwrap();
        let mut b = [0u8; 5];
        m.read(A + 2 * PAGE + 5, &mut b).unwrap();
        assert_eq!(&b, b"hello");
        // Grow in place is impossible past a neighbour: moving keeps data.
        fixed(&m, A + 4 * PAGE, 1, RW);
        let new = m
            .remap(A + 2 * PAGE, 2 * PAGE, 8 * PAGE, true, None)
            .unwrap();
        assert_ne!(new, A + 2 * PAGE);
        m.read(new + 5, &mut b).unwrap();
        assert_eq!(&b, b"hello");
        assert!(m.vma_at(A + 2 * PAGE).is_none());
        // Without MREMAP_MAYMOVE the same growth is refused.
        assert_eq!(m.remap(A, PAGE, 8 * PAGE, false, None), Err(Errno::ENOMEM));
    }

    #[test]
    fn fork_copies_on_write() {
        let parent = mm();
        fixed(&parent, A, 2, RW);
        parent.write(A, b"parent").unwrap();
        let child = parent
            .fork(Arc::new(FakeSpace::default()), false, |_| Ok(()))
            .unwrap()
            .0;
        child.write(A, b"child!").unwrap();
        let (mut p, mut c) = ([0u8; 6], [0u8; 6]);
        parent.read(A, &mut p).unwrap();
        child.read(A, &mut c).unwrap();
        assert_eq!((&p, &c), (b"parent", b"child!"));
        // And the other way round, on the second page.
        parent.write(A + PAGE, b"later").unwrap();
        let mut c2 = [0u8; 5];
        child.read(A + PAGE, &mut c2).unwrap();
        assert_eq!(&c2, &[0u8; 5]);
    }

    /// The memory-file offset behind `addr`.
    fn off(m: &Mm, addr: u64) -> u64 {
        m.vma_at(addr).unwrap().off_at(addr)
    }

    #[test]
    fn fork_copies_one_page_per_write() {
        let parent = mm();
        fixed(&parent, A, 64, RW);
        for i in 0..64u8 {
            parent.write(A + u64::from(i) * PAGE, &[i + 1]).unwrap();
        }
        let child = parent
            .fork(Arc::new(FakeSpace::default()), false, |_| Ok(()))
            .unwrap()
            .0;
        assert_eq!(off(&parent, A + 5 * PAGE), off(&child, A + 5 * PAGE));
        // A write fault in the child copies its page only.
        assert!(child.write_fault(A + 5 * PAGE + 17));
        // The old page is let go once the platform has applied the change.
        assert!(parent.memfile.is_shared(off(&parent, A + 5 * PAGE)));
        child.flush_and_release(|| true);
        assert_ne!(off(&parent, A + 5 * PAGE), off(&child, A + 5 * PAGE));
        assert_eq!(off(&parent, A + 6 * PAGE), off(&child, A + 6 * PAGE));
        assert_eq!(child.regions().len(), 1);
        assert!(parent.memfile.is_shared(off(&parent, A + 4 * PAGE)));
        assert!(!parent.memfile.is_shared(off(&parent, A + 5 * PAGE)));
        let mut b = [0u8; 1];
        child.read(A + 5 * PAGE, &mut b).unwrap();
        assert_eq!(b, [6]);
        // The pages still look like one mapping to the application.
        child.write(A + 5 * PAGE, b"c").unwrap();
        parent.read(A + 5 * PAGE, &mut b).unwrap();
        assert_eq!(b, [6]);
        // Once the child is gone the parent's fault takes its pages back
        // without copying.
        let before = off(&parent, A + 9 * PAGE);
        drop(child);
        assert!(parent.write_fault(A + 9 * PAGE));
        assert_eq!(off(&parent, A + 9 * PAGE), before);
        assert!(!parent.memfile.is_shared(before));
    }

    #[test]
    fn a_fault_on_a_read_only_mapping_is_not_fixed() {
        let m = mm();
        fixed(&m, A, 1, libc::PROT_READ);
        assert!(!m.write_fault(A));
        assert!(!m.write_fault(A + 2 * PAGE));
    }

    #[test]
    fn dontneed_after_fork_zeroes_one_side() {
        let parent = mm();
        fixed(&parent, A, 4, RW);
        parent.write(A + PAGE, b"keep").unwrap();
        let child = parent
            .fork(Arc::new(FakeSpace::default()), false, |_| Ok(()))
            .unwrap()
            .0;
        child.discard(A, 4 * PAGE).unwrap();
        let mut b = [1u8; 4];
        child.read(A + PAGE, &mut b).unwrap();
        assert_eq!(b, [0; 4]);
        parent.read(A + PAGE, &mut b).unwrap();
        assert_eq!(&b, b"keep");
    }

    #[test]
    fn a_failed_fence_fails_the_fork() {
        let parent = mm();
        fixed(&parent, A, 2, RW);
        let r = parent.fork(Arc::new(FakeSpace::default()), false, |_| {
            Err::<(), _>(Errno::ENOMEM)
        });
        assert!(r.is_err());
        // Nothing stays shared with the child that never was.
        assert!(!parent.memfile.is_shared(off(&parent, A)));
    }

    #[test]
    fn access_outside_mappings_faults() {
        let m = mm();
        fixed(&m, A, 1, libc::PROT_READ);
        let mut b = [0u8; 8];
        assert_eq!(m.read(A + PAGE - 4, &mut b), Err(Errno::EFAULT));
        assert_eq!(m.read(A - 8, &mut b), Err(Errno::EFAULT));
        // The sentry's copies respect protection, as copy_to_user does.
        assert_eq!(m.write(A, b"x"), Err(Errno::EFAULT));
        fixed(&m, A + PAGE, 1, libc::PROT_NONE);
        assert_eq!(m.read(A + PAGE, &mut b[..1]), Err(Errno::EFAULT));
    }

    #[test]
    fn protect_back_merges_the_split() {
        let m = mm();
        fixed(&m, A, 4, RW);
        m.protect(A + PAGE, PAGE, libc::PROT_READ).unwrap();
        assert_eq!(layout(&m).len(), 3);
        m.protect(A + PAGE, PAGE, RW).unwrap();
        assert_eq!(layout(&m), vec![(A, A + 4 * PAGE, RW)]);
    }
}
