//! Copying to and from application memory through the sentry's mapping of
//! the memory file. Every access is checked against the VMAs: a bad
//! pointer is EFAULT, never a sentry crash.

use super::{Backing, Mm, MmState};
use std::os::fd::{AsFd, AsRawFd, RawFd};

/// The size of host file `fd`, which its mappings reach up to the page
/// it ends in: past that page Linux's access faults (SIGBUS for the
/// application, as the host mapping gives it, EFAULT for a copy the
/// kernel makes).
fn file_size(fd: impl AsFd) -> u64 {
    // newfstatat: the sandbox's policy has no fstat(2).
    let empty = rustix::fs::AtFlags::EMPTY_PATH;
    rustix::fs::statat(fd, c"", empty).map_or(0, |st| st.st_size.cast_unsigned())
}

fn page_end(size: u64) -> u64 {
    size.next_multiple_of(crate::memfile::PAGE)
}

/// Calls `copy` with `len` bytes of the last page of host file `fd`, at
/// file offset `off`, past the file's end: bytes only a mapping reaches
/// (the page's, not the file's), so through a mapping of that page
/// (`write`: a writable one).
fn with_tail(
    fd: RawFd,
    off: u64,
    len: usize,
    write: bool,
    copy: impl FnOnce(*mut u8),
) -> KResult<()> {
    let page = crate::memfile::PAGE;
    let base = off & !(page - 1);
    let at = crate::num::usize_of(off - base);
    if at + len > crate::num::usize_of(page) {
        return Err(Errno::EFAULT);
    }
    let prot = if write {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    };
    // SAFETY: a new shared mapping of one page of a file we hold, at an
    // address the host picks; nothing else refers to it, and it is
    // unmapped below.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            crate::num::usize_of(page),
            prot,
            libc::MAP_SHARED,
            fd,
            crate::num::sbits(base),
        )
    };
    if map == libc::MAP_FAILED {
        return Err(Errno::EFAULT);
    }
    // SAFETY: `at + len` is within the page just mapped.
    copy(unsafe { map.cast::<u8>().add(at) });
    // SAFETY: the mapping made above, which nothing refers to any more.
    unsafe { libc::munmap(map, crate::num::usize_of(page)) };
    Ok(())
}

/// Where a piece of application memory lives.
#[derive(Clone, Copy)]
enum Piece {
    /// Memory-file offset.
    Mem(u64),
    /// Host file, offset, and the file's size (file mappings).
    File(RawFd, u64, u64),
    /// Reserved memory a forced read meets: never given pages, so zeros.
    Zero,
}
use crate::errno::{Errno, KResult};

/// How an access is checked against VMA protections.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Acc {
    Read,
    Write,
    /// The loader filling read-only segments.
    Force,
}

impl Mm {
    /// Calls `f(file_offset, buffer_offset, len)` for each piece of
    /// `[addr, addr+len)`, after checking the whole range is accessible.
    fn for_ranges(
        &self,
        st: &MmState,
        addr: u64,
        len: usize,
        acc: Acc,
        mut f: impl FnMut(u64, usize, usize),
    ) -> KResult<()> {
        self.for_pieces(st, addr, len, acc, |p, boff, l| match p {
            Piece::Mem(off) => {
                f(off, boff, l);
                Ok(())
            }
            Piece::File(..) | Piece::Zero => Err(Errno::EFAULT),
        })
    }

    /// Like `for_ranges`, also yielding pieces backed by host files.
    fn for_pieces(
        &self,
        st: &MmState,
        addr: u64,
        len: usize,
        acc: Acc,
        mut f: impl FnMut(Piece, usize, usize) -> KResult<()>,
    ) -> KResult<()> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        if end > self.max_addr() {
            return Err(Errno::EFAULT);
        }
        let mut pos = addr;
        let mut pieces: smallvec::SmallVec<[(Piece, usize, usize); 4]> = Default::default();
        for (_, v) in st.overlapping(addr, end) {
            if v.end <= pos {
                continue;
            }
            if v.start > pos {
                return Err(Errno::EFAULT);
            }
            let ok = match acc {
                Acc::Write => v.prot & libc::PROT_WRITE != 0,
                Acc::Read => v.prot & (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) != 0,
                // The parameter page is no memory a debugger reaches
                // (Linux's vvar is VM_PFNMAP).
                Acc::Force => !matches!(v.name, super::VmaName::Vvar),
            };
            if !ok {
                return Err(Errno::EFAULT);
            }
            let e = v.end.min(end);
            let piece = match &v.backing {
                Backing::File { fd, .. } => {
                    let (off, size) = (v.off_at(pos), file_size(&**fd));
                    if off + (e - pos) > page_end(size) {
                        return Err(Errno::EFAULT);
                    }
                    Piece::File(fd.as_raw_fd(), off, size)
                }
                // Never accessible, so never given pages (a forced write
                // gives it some first): a forced read sees zeros.
                Backing::Reserved if acc == Acc::Force => Piece::Zero,
                Backing::Reserved => return Err(Errno::EFAULT),
                _ => Piece::Mem(v.off_at(pos)),
            };
            pieces.push((
                piece,
                crate::num::usize_of(pos - addr),
                crate::num::usize_of(e - pos),
            ));
            pos = e;
            if pos >= end {
                break;
            }
        }
        if pos < end {
            return Err(Errno::EFAULT);
        }
        for (p, boff, l) in pieces {
            f(p, boff, l)?;
        }
        Ok(())
    }

    pub fn read(&self, addr: u64, buf: &mut [u8]) -> KResult<()> {
        self.read_acc(addr, buf, Acc::Read)
    }

    /// Reads as a debugger does (FOLL_FORCE): protections do not count,
    /// so PROT_NONE memory reads too.
    pub fn read_force(&self, addr: u64, buf: &mut [u8]) -> KResult<()> {
        self.read_acc(addr, buf, Acc::Force)
    }

    fn read_acc(&self, addr: u64, buf: &mut [u8], acc: Acc) -> KResult<()> {
        let st = self.state.lock();
        let mf = &self.memfile;
        self.for_pieces(&st, addr, buf.len(), acc, |p, boff, l| {
            match p {
                Piece::Zero => buf[boff..boff + l].fill(0),
                Piece::Mem(off) => {
                    // SAFETY: `for_pieces` checked the range is mapped and backed.
                    unsafe { mf.copy_out(off, &mut buf[boff..boff + l]) };
                }
                Piece::File(fd, off, size) => {
                    let dst = &mut buf[boff..boff + l];
                    let n = crate::num::usize_of(size.saturating_sub(off)).min(l);
                    if n < l {
                        let tail = &mut dst[n..];
                        with_tail(fd, off + n as u64, tail.len(), false, |p| {
                            // SAFETY: `p` is `tail.len()` bytes of the page.
                            let page = unsafe { std::slice::from_raw_parts(p, tail.len()) };
                            tail.copy_from_slice(page);
                        })?;
                    }
                    // SAFETY: pread into our own buffer from a file we hold.
                    file_io(n, |done| unsafe {
                        crate::hostio::pread(
                            fd,
                            dst[done..].as_mut_ptr().cast(),
                            n - done,
                            crate::num::sbits(off + done as u64),
                        )
                    })?;
                }
            }
            Ok(())
        })
    }

    pub fn write(&self, addr: u64, buf: &[u8]) -> KResult<()> {
        self.unshare_range(addr, buf.len())?;
        let st = self.state.lock();
        let mf = &self.memfile;
        self.for_pieces(&st, addr, buf.len(), Acc::Write, |p, boff, l| {
            match p {
                Piece::Mem(off) => {
                    // SAFETY: `for_pieces` checked the range is mapped,
                    // writable and backed.
                    unsafe { mf.copy_in(off, &buf[boff..boff + l]) };
                }
                Piece::Zero => return Err(Errno::EFAULT),
                // A writable file piece is a shared mapping: write the
                // file, and past its end only the last page (what it
                // holds there is not the file's).
                Piece::File(fd, off, size) => {
                    let n = crate::num::usize_of(size.saturating_sub(off)).min(l);
                    if n < l {
                        let tail = &buf[boff + n..boff + l];
                        with_tail(fd, off + n as u64, tail.len(), true, |p| {
                            // SAFETY: `p` is `tail.len()` writable bytes of
                            // the page.
                            let page = unsafe { std::slice::from_raw_parts_mut(p, tail.len()) };
                            page.copy_from_slice(tail);
                        })?;
                    }
                    let src = &buf[boff..boff + n];
                    // SAFETY: pwrite from our buffer into a file we hold.
                    file_io(n, |done| unsafe {
                        crate::hostio::pwrite(
                            fd,
                            src[done..].as_ptr().cast(),
                            n - done,
                            crate::num::sbits(off + done as u64),
                        )
                    })?;
                }
            }
            Ok(())
        })
    }

    /// Host memory pieces backing `[addr, addr+len)`, for I/O straight into
    /// application memory. The pointers stay valid while the caller holds
    /// the kernel lock (no unmap can run concurrently).
    pub fn iovecs(&self, addr: u64, len: usize) -> KResult<Vec<libc::iovec>> {
        self.iovecs_acc(addr, len, Acc::Write)
    }

    /// Fills `[addr, addr+len)` from host file `fd` at `file_off` with an
    /// in-kernel copy, ignoring protections (the loader, file mappings).
    pub fn fill_from_fd(
        &self,
        addr: u64,
        len: usize,
        fd: std::os::fd::RawFd,
        file_off: u64,
    ) -> KResult<u64> {
        self.unshare_range(addr, len)?;
        let st = self.state.lock();
        let mut pieces = Vec::new();
        self.for_ranges(&st, addr, len, Acc::Force, |off, boff, l| {
            pieces.push((off, boff, l))
        })?;
        drop(st);
        let mut done = 0;
        for (off, boff, l) in pieces {
            let n = self
                .memfile
                .fill_from_fd(fd, file_off + boff as u64, off, l as u64)
                .map_err(|e| Errno::from_io(&e))?;
            done += n;
            if n < l as u64 {
                break;
            }
        }
        Ok(done)
    }

    /// Host memory pieces of `[addr, addr+len)` for I/O out of application
    /// memory (a write syscall), or `None` when part of it is a host-file
    /// mapping, which has no memory-file pages to point at.
    pub fn iovecs_src(&self, addr: u64, len: usize) -> KResult<Option<Vec<libc::iovec>>> {
        let st = self.state.lock();
        let mut v = Vec::new();
        let mut file = false;
        let mf = &self.memfile;
        self.for_pieces(&st, addr, len, Acc::Read, |p, _, l| {
            match p {
                Piece::Mem(off) => {
                    v.push(libc::iovec {
                        // SAFETY: range checked by `for_pieces`.
                        iov_base: unsafe { mf.ptr(off, l) }.cast(),
                        iov_len: l,
                    });
                }
                Piece::File(..) | Piece::Zero => file = true,
            }
            Ok(())
        })?;
        Ok((!file).then_some(v))
    }

    /// How many bytes from `addr` (at most `len`) the application may
    /// read, or write with `write`: up to the first gap or protected
    /// page, where Linux's copy would fault.
    pub fn accessible(&self, addr: u64, len: usize, write: bool) -> usize {
        let st = self.state.lock();
        let end = addr.saturating_add(len as u64).min(self.max_addr());
        let mut pos = addr;
        for (_, v) in st.overlapping(addr, end) {
            if v.end <= pos {
                continue;
            }
            let ok = if write {
                v.prot & libc::PROT_WRITE != 0
            } else {
                v.prot & (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) != 0
            };
            if v.start > pos || !ok {
                break;
            }
            // A file mapping ends, for access, at the page its file does.
            let reach = match &v.backing {
                Backing::File { fd, off, .. } => {
                    let pages = page_end(file_size(&**fd)).saturating_sub(*off);
                    v.start.saturating_add(pages).min(v.end)
                }
                _ => v.end,
            };
            pos = reach.min(end).max(pos);
            if reach < v.end.min(end) {
                break;
            }
            if pos >= end {
                break;
            }
        }
        crate::num::usize_of(pos.saturating_sub(addr))
    }

    /// Writes `buf` at `addr` as a debugger does (FOLL_FORCE): read-only
    /// private pages too, copied for this address space first. A
    /// read-only shared mapping (the vDSO, another process's memory)
    /// is EIO: forcing it would change it for everyone.
    pub fn write_force(&self, addr: u64, buf: &[u8]) -> KResult<()> {
        let last = addr.saturating_add(buf.len().saturating_sub(1) as u64);
        for a in [addr, last] {
            let v = self.vma_at(a).ok_or(Errno::EIO)?;
            // The vDSO is the one shared read-only mapping a debugger
            // may write (a breakpoint): into a copy of this space's own.
            let vdso = matches!(v.name, super::VmaName::Vdso);
            if v.shared && v.prot & libc::PROT_WRITE == 0 && !vdso {
                return Err(Errno::EIO);
            }
        }
        self.privatize(addr, buf.len())?;
        let iov = self.iovecs_force(addr, buf.len())?;
        let mut from = 0;
        for v in iov {
            let n = v.iov_len.min(buf.len() - from);
            // SAFETY: `iovecs_force` gave host memory of the address
            // space, `v.iov_len` bytes, made private to it; the source is
            // our own buffer, within bounds.
            unsafe { std::ptr::copy_nonoverlapping(buf[from..].as_ptr(), v.iov_base.cast(), n) };
            from += n;
        }
        Ok(())
    }

    /// Like `iovecs` for writing, ignoring protections (the loader).
    pub fn iovecs_force(&self, addr: u64, len: usize) -> KResult<Vec<libc::iovec>> {
        self.iovecs_acc(addr, len, Acc::Force)
    }

    fn iovecs_acc(&self, addr: u64, len: usize, acc: Acc) -> KResult<Vec<libc::iovec>> {
        if acc != Acc::Read {
            self.unshare_range(addr, len)?;
        }
        let st = self.state.lock();
        let mut v = Vec::new();
        let mf = &self.memfile;
        self.for_ranges(&st, addr, len, acc, |off, _, l| {
            v.push(libc::iovec {
                // SAFETY: range checked by `for_ranges`.
                iov_base: unsafe { mf.ptr(off, l) }.cast(),
                iov_len: l,
            });
        })?;
        Ok(v)
    }
}

/// Repeats `op(done)` (a pread or pwrite of the rest, from `done` bytes
/// in) until `len` bytes have moved. A file that ends first means the page
/// does not exist: EFAULT.
fn file_io(len: usize, mut op: impl FnMut(usize) -> isize) -> KResult<()> {
    let mut done = 0;
    while done < len {
        let n = op(done);
        if n <= 0 {
            return Err(Errno::EFAULT);
        }
        done += crate::num::count(n);
    }
    Ok(())
}

/// Values that cross between application memory and the sentry as raw
/// bytes: every bit pattern is a valid value (the application chooses
/// them), and there is no padding (which would carry uninitialised sentry
/// bytes out).
///
/// # Safety
/// Implement only for integers, arrays of `Plain`, and `repr(C)` structs
/// of `Plain` fields with no padding between or after them.
pub unsafe trait Plain: Copy + 'static {}

/// Implements `Plain` for types whose layout the caller has checked.
#[macro_export]
macro_rules! plain {
    ($($t:ty),* $(,)?) => {
        $(
            // SAFETY: integers, or repr(C) kernel ABI structures made only
            // of integer fields with no padding (checked where listed).
            unsafe impl $crate::mm::Plain for $t {}
        )*
    };
}

plain!(u8, i8, u16, i16, u32, i32, u64, i64, usize, isize);

// x86-64's struct stat: u64 and i64 fields with the u32 ones in pairs and
// an explicit __pad0, 144 bytes.
const _: () = assert!(std::mem::size_of::<linux_raw_sys::general::stat>() == 144);
plain!(linux_raw_sys::general::stat);

// SAFETY: an array of Plain elements has no padding of its own.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

/// Reads a plain-old-data value.
pub fn read_obj<T: Plain>(mm: &Mm, addr: u64) -> KResult<T> {
    let mut buf = vec![0u8; std::mem::size_of::<T>()];
    mm.read(addr, &mut buf)?;
    // SAFETY: T is Plain (valid for every bit pattern) and the buffer has
    // exactly its size; the read is unaligned.
    Ok(unsafe { std::ptr::read_unaligned(buf.as_ptr().cast::<T>()) })
}

/// Writes a plain-old-data value.
pub fn write_obj<T: Plain>(mm: &Mm, addr: u64, val: &T) -> KResult<()> {
    // SAFETY: a Plain value has no padding, so all its bytes are
    // initialised.
    let bytes = unsafe {
        std::slice::from_raw_parts((val as *const T).cast::<u8>(), std::mem::size_of::<T>())
    };
    mm.write(addr, bytes)
}

/// Copies `data` into the pieces of application memory `iov` describes
/// (from `Mm::iovecs`), in order, starting `at` bytes into them, as far
/// as both go.
pub fn scatter_at(iov: &[libc::iovec], at: usize, data: &[u8]) {
    let mut skip = at;
    let mut pos = 0;
    for v in iov {
        if pos >= data.len() {
            break;
        }
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        let n = (v.iov_len - skip).min(data.len() - pos);
        // SAFETY: iovecs from Mm::iovecs point into the memory file's
        // mapping in the sentry, valid while the kernel lock or the
        // space's io_pin is held; the copy never makes a reference to
        // that memory.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data[pos..].as_ptr(),
                v.iov_base.cast::<u8>().add(skip),
                n,
            )
        };
        pos += n;
        skip = 0;
    }
}

/// The number of bytes the pieces `iov` describe.
pub fn iov_len(iov: &[libc::iovec]) -> usize {
    iov.iter().map(|v| v.iov_len).sum()
}

pub fn read_vec(mm: &Mm, addr: u64, len: usize) -> KResult<Vec<u8>> {
    let mut buf = vec![0u8; len];
    mm.read(addr, &mut buf)?;
    Ok(buf)
}

/// Reads a NUL-terminated string of at most `max` bytes (ENAMETOOLONG past it).
pub fn read_cstr(mm: &Mm, addr: u64, max: usize) -> KResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = addr;
    loop {
        // Read up to the end of the page to avoid faulting on the next one.
        let chunk = crate::num::usize_of(4096 - (pos & 4095));
        let mut buf = vec![0u8; chunk];
        mm.read(pos, &mut buf)?;
        if let Some(i) = buf.iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..i]);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            return Ok(out);
        }
        out.extend_from_slice(&buf);
        if out.len() > max {
            return Err(Errno::ENAMETOOLONG);
        }
        pos += chunk as u64;
    }
}
