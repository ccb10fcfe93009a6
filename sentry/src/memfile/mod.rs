//! The memory file: one growable memfd that backs all application memory,
//! mapped whole into the sentry.

mod refs;

use crate::errno::{Errno, KResult};
use parking_lot::Mutex;
use refs::RefMap;
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub const PAGE: u64 = 4096;
/// Sizes to try for the file, largest first. Its pages cost nothing until
/// touched, but every private mapping takes a range of it for its whole
/// length, so it must hold programs that reserve terabytes of address
/// space (AddressSanitizer's 15 TiB shadow, LeakSanitizer's 4 TiB
/// allocator space). 64 TiB is half of the sentry's own address space; a
/// host that refuses so large a mapping gets a smaller file. Unit tests
/// make many at once.
#[cfg(not(test))]
const FILE_SIZES: [u64; 3] = [1 << 46, 1 << 42, 1 << 38];
#[cfg(test)]
const FILE_SIZES: [u64; 1] = [1 << 34];

/// Rounds up to a page; wraps to 0 near the top, as the kernel's
/// PAGE_ALIGN does (callers that take lengths from the application check
/// for that).
pub fn page_up(x: u64) -> u64 {
    x.wrapping_add(PAGE - 1) & !(PAGE - 1)
}
pub fn page_down(x: u64) -> u64 {
    x & !(PAGE - 1)
}

pub struct MemFile {
    fd: OwnedFd,
    base: *mut u8,
    /// Free ranges: offset -> length, coalesced.
    free: Mutex<BTreeMap<u64, u64>>,
    /// Pages with more than one user (private pages shared by fork).
    refs: Mutex<RefMap>,
    /// The file's size (and the sentry mapping's).
    size: u64,
}

// SAFETY: `base` points at a MAP_SHARED mapping that lives as long as the
// MemFile; concurrent access to application memory is as racy as it is on
// Linux and never touches sentry data structures.
unsafe impl Send for MemFile {}
// SAFETY: see Send.
unsafe impl Sync for MemFile {}

impl MemFile {
    pub fn new() -> std::io::Result<MemFile> {
        // SAFETY: plain syscalls; results checked.
        unsafe {
            let fd = libc::memfd_create(c"husk-memory".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let mut last = std::io::Error::from_raw_os_error(libc::ENOMEM);
            for size in FILE_SIZES {
                if libc::ftruncate(fd.as_raw_fd(), crate::num::sbits(size)) != 0 {
                    last = std::io::Error::last_os_error();
                    continue;
                }
                let base = libc::mmap(
                    std::ptr::null_mut(),
                    crate::num::usize_of(size),
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_NORESERVE,
                    fd.as_raw_fd(),
                    0,
                );
                if base == libc::MAP_FAILED {
                    last = std::io::Error::last_os_error();
                    continue;
                }
                let mut free = BTreeMap::new();
                // Offset 0 stays unused so that 0 can mean "none".
                free.insert(PAGE, size - PAGE);
                return Ok(MemFile {
                    fd,
                    base: base.cast(),
                    free: Mutex::new(free),
                    refs: Mutex::new(RefMap::default()),
                    size,
                });
            }
            Err(last)
        }
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Bytes of the file that hold pages now: application memory and
    /// in-memory file data that has been touched (what the host charges
    /// the sandbox for).
    pub fn resident(&self) -> u64 {
        // SAFETY: fstat of our own fd into a plain struct.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(self.fd.as_raw_fd(), &mut st) != 0 {
                return 0;
            }
            crate::num::bits(st.st_blocks) * 512
        }
    }

    /// Allocates `len` (page-aligned) bytes of zeroed file space.
    pub fn alloc(&self, len: u64) -> KResult<u64> {
        let len = page_up(len.max(PAGE));
        let mut free = self.free.lock();
        let found = free.iter().find(|(_, &l)| l >= len).map(|(&o, &l)| (o, l));
        let (off, flen) = found.ok_or(Errno::ENOMEM)?;
        free.remove(&off);
        if flen > len {
            free.insert(off + len, flen - len);
        }
        Ok(off)
    }

    /// Gives up one use of every page of `[off, off+len)`: pages nobody
    /// else uses go back to the allocator and the host.
    pub fn release(&self, off: u64, len: u64) {
        if len == 0 {
            return;
        }
        let freed = self.refs.lock().sub(off, off + len);
        for (s, e) in freed {
            self.free_range(s, e - s);
        }
    }

    /// Returns `[off, off+len)`, which nobody uses, to the allocator.
    fn free_range(&self, off: u64, len: u64) {
        self.zero(off, len);
        let mut free = self.free.lock();
        let (mut start, mut l) = (off, len);
        if let Some((&po, &pl)) = free.range(..start).next_back() {
            if po + pl == start {
                free.remove(&po);
                start = po;
                l += pl;
            }
        }
        if let Some(&nl) = free.get(&(start + l)) {
            free.remove(&(start + l));
            l += nl;
        }
        free.insert(start, l);
    }

    /// One more user for every page of `[off, off+len)` (fork).
    pub fn share(&self, off: u64, len: u64) {
        self.refs.lock().add(off, off + len);
    }

    /// Whether the page at `off` has more than one user.
    pub fn is_shared(&self, off: u64) -> bool {
        self.refs.lock().extra(off) > 0
    }

    /// The parts of `[off, off+len)` with more than one user.
    pub fn shared_in(&self, off: u64, len: u64) -> Vec<(u64, u64)> {
        self.refs.lock().shared_in(off, off + len)
    }

    /// The largest part of `[lo, hi)` around page `off`, which has one
    /// user, whose pages all have one user.
    pub fn sole_run(&self, off: u64, lo: u64, hi: u64) -> (u64, u64) {
        self.refs.lock().sole_run(off, lo, hi)
    }

    /// Gives `[off, off+len)` pages now, keeping what is there
    /// (MADV_POPULATE_*, MAP_POPULATE). ENOMEM when memory is short.
    pub fn populate(&self, off: u64, len: u64) -> KResult<()> {
        // A write fault through the sentry's own view allocates each
        // missing page (zeroed) and leaves present ones alone, atomically
        // against the application's own accesses.
        // SAFETY: advice on our own mapping of the memory file; the range
        // lies inside it (callers pass allocated ranges).
        let r = unsafe {
            libc::madvise(
                self.ptr(off, crate::num::usize_of(len)).cast(),
                crate::num::usize_of(len),
                libc::MADV_POPULATE_WRITE,
            )
        };
        if r != 0 {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Zeroes `[off, off+len)` by releasing its pages (MADV_DONTNEED).
    pub fn zero(&self, off: u64, len: u64) {
        // SAFETY: punching a hole in our own memfd.
        unsafe {
            libc::fallocate(
                self.fd.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                crate::num::sbits(off),
                crate::num::sbits(len),
            );
        }
    }

    /// Copies `len` bytes of host file `fd` at `src_off` into the memory
    /// file at `off` in the kernel, through a pipe (splice keeps explicit
    /// offsets on both sides and takes no page faults in the sentry).
    /// Returns the bytes copied (short at end of file).
    pub fn fill_from_fd(
        &self,
        fd: RawFd,
        src_off: u64,
        off: u64,
        len: u64,
    ) -> std::io::Result<u64> {
        thread_local! {
            // Closed when the thread ends (task threads come and go).
            static PIPE: std::cell::RefCell<Option<(OwnedFd, OwnedFd)>> =
                const { std::cell::RefCell::new(None) };
        }
        let (r, w) = PIPE.with(|p| -> std::io::Result<(RawFd, RawFd)> {
            let mut p = p.borrow_mut();
            if let Some((r, w)) = &*p {
                return Ok((r.as_raw_fd(), w.as_raw_fd()));
            }
            let mut fds = [0; 2];
            // SAFETY: pipe2 with a valid out-array; F_SETPIPE_SZ is a hint.
            unsafe {
                if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::fcntl(fds[1], libc::F_SETPIPE_SZ, 1 << 20);
            }
            // SAFETY: both fds were just created and are owned here.
            let pair = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
            let raw = (pair.0.as_raw_fd(), pair.1.as_raw_fd());
            *p = Some(pair);
            Ok(raw)
        })?;
        let mut done = 0u64;
        while done < len {
            let mut s = crate::num::sbits(src_off + done);
            // SAFETY: splice between fds we own with valid offset pointers.
            let n = unsafe {
                libc::splice(
                    fd,
                    &mut s,
                    w,
                    std::ptr::null_mut(),
                    (len - done).min(1 << 20) as usize,
                    0,
                )
            };
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if n == 0 {
                break;
            }
            let mut moved = 0;
            while moved < n {
                let mut d = crate::num::sbits(off + done + crate::num::nonneg(moved as i64));
                // SAFETY: as above; drains what was just spliced in.
                let m = unsafe {
                    libc::splice(
                        r,
                        std::ptr::null_mut(),
                        self.fd(),
                        &mut d,
                        crate::num::count(n - moved),
                        0,
                    )
                };
                if m <= 0 {
                    // Leave the pipe empty for the next use.
                    let mut sink = vec![0u8; crate::num::count(n - moved)];
                    // SAFETY: reading our own pipe into our buffer.
                    unsafe { libc::read(r, sink.as_mut_ptr().cast(), sink.len()) };
                    return Err(std::io::Error::last_os_error());
                }
                moved += m;
            }
            done += crate::num::nonneg(n as i64);
        }
        Ok(done)
    }

    /// Where `off` is in the sentry's mapping. Memory-file pages are
    /// application memory that other threads change at any time, so they
    /// are only ever reached through raw pointers (`copy_in`, `copy_out`,
    /// iovecs), never as Rust references.
    ///
    /// # Safety
    /// `[off, off+len)` must have been allocated (lie within the file).
    pub unsafe fn ptr(&self, off: u64, len: usize) -> *mut u8 {
        debug_assert!(crate::num::usize_of(off) + len <= crate::num::usize_of(self.size));
        self.base.add(crate::num::usize_of(off))
    }

    /// Copies `[off, off+dst.len())` of the memory file into `dst`.
    ///
    /// # Safety
    /// The range must have been allocated.
    pub unsafe fn copy_out(&self, off: u64, dst: &mut [u8]) {
        std::ptr::copy_nonoverlapping(self.ptr(off, dst.len()), dst.as_mut_ptr(), dst.len());
    }

    /// Copies `src` into the memory file at `off`.
    ///
    /// # Safety
    /// The range must have been allocated.
    pub unsafe fn copy_in(&self, off: u64, src: &[u8]) {
        std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr(off, src.len()), src.len());
    }

    /// Copies `[src, src+len)` to `[dst, dst+len)`, skipping holes so that
    /// untouched memory stays unallocated.
    pub fn copy(&self, src: u64, dst: u64, len: u64) {
        let end = src + len;
        let mut pos = src;
        while pos < end {
            // SAFETY: lseek on our own fd.
            let data = unsafe { libc::lseek(self.fd(), crate::num::sbits(pos), libc::SEEK_DATA) };
            if data < 0 || crate::num::bits(data) >= end {
                break;
            }
            let data = crate::num::bits(data);
            // Data is found a page at a time: what is left within the
            // page found is data too (a copy-on-write fault's one page
            // costs one lseek).
            let hole = if end <= page_down(data) + PAGE {
                end
            } else {
                // SAFETY: as above.
                let hole =
                    unsafe { libc::lseek(self.fd(), crate::num::sbits(data), libc::SEEK_HOLE) };
                if hole < 0 {
                    end
                } else {
                    crate::num::bits(hole).min(end)
                }
            };
            // SAFETY: both ranges lie inside allocations owned by the caller
            // and do not overlap (distinct allocations).
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.base.add(crate::num::usize_of(data)),
                    self.base.add(crate::num::usize_of(dst + (data - src))),
                    crate::num::usize_of(hole - data),
                );
            }
            pos = hole;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_skips_holes_and_keeps_data() {
        let mf = MemFile::new().expect("memory file");
        let src = mf.alloc(3 * PAGE).unwrap();
        let dst = mf.alloc(3 * PAGE).unwrap();
        // SAFETY: both ranges were just allocated here.
        unsafe {
            mf.copy_in(src, b"first");
            mf.copy_in(src + 2 * PAGE + 100, b"third");
        }
        let before = mf.resident();
        // One page with data, then a hole alone, then three pages across it.
        mf.copy(src, dst, PAGE);
        mf.copy(src + PAGE, dst + PAGE, PAGE);
        let one_page = mf.resident();
        mf.copy(src, dst, 3 * PAGE);
        let mut got = [0u8; 5];
        // SAFETY: as above.
        unsafe {
            mf.copy_out(dst, &mut got);
            assert_eq!(&got, b"first");
            mf.copy_out(dst + 2 * PAGE + 100, &mut got);
            assert_eq!(&got, b"third");
        }
        // The hole was never touched on either side.
        assert_eq!(one_page, before + PAGE);
        assert_eq!(mf.resident(), before + 2 * PAGE);
    }
}
