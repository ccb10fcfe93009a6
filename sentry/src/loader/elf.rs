//! ELF64 parsing and loading into an address space.

use crate::errno::{Errno, KResult};
use crate::memfile::{page_down, page_up, PAGE};
use crate::mm::{MapRequest, Mm, VmaName};

pub const PT_LOAD: u32 = 1;
pub const PT_INTERP: u32 = 3;
pub const PT_PHDR: u32 = 6;
pub const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;

impl Elf {
    /// Whether its stack must be executable: PT_GNU_STACK says so (on
    /// x86-64 a program without one gets a stack that is not).
    pub fn exec_stack(&self) -> bool {
        self.phdrs
            .iter()
            .any(|p| p.ptype == PT_GNU_STACK && p.flags & PF_X != 0)
    }
}

/// Something an ELF image can be read from.
pub trait ReadAt {
    fn read_at(&self, buf: &mut [u8], off: u64) -> KResult<usize>;
    /// Reads straight into host memory pieces (application memory).
    fn read_into(&self, iov: &[libc::iovec], off: u64) -> KResult<usize>;
    /// A host fd with the same contents, for in-kernel copies.
    fn host_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
}

/// Copies `len` bytes of `f` at `off` into application memory at `addr`.
pub fn copy_in(mm: &Mm, f: &dyn ReadAt, addr: u64, len: usize, off: u64) -> KResult<usize> {
    if let Some(fd) = f.host_fd() {
        return mm
            .fill_from_fd(addr, len, fd, off)
            .map(crate::num::usize_of);
    }
    let iov = mm.iovecs_force(addr, len)?;
    f.read_into(&iov, off)
}

#[derive(Clone, Copy, Debug)]
pub struct Phdr {
    pub ptype: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

pub struct Elf {
    pub etype: u16,
    pub entry: u64,
    pub phoff: u64,
    pub phentsize: u16,
    pub phdrs: Vec<Phdr>,
}

fn u16le(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32le(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64le(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

impl Elf {
    /// Parses the header and program headers; ENOEXEC for anything that is
    /// not a loadable x86-64 ELF64 image.
    pub fn parse(f: &dyn ReadAt) -> KResult<Elf> {
        let mut h = [0u8; 64];
        if f.read_at(&mut h, 0)? < 64 || &h[..4] != b"\x7fELF" {
            return Err(Errno::ENOEXEC);
        }
        if h[4] != 2 || h[5] != 1 || u16le(&h, 18) != 62 {
            return Err(Errno::ENOEXEC);
        }
        let etype = u16le(&h, 16);
        if etype != 2 && etype != 3 {
            return Err(Errno::ENOEXEC);
        }
        let phoff = u64le(&h, 32);
        let phentsize = u16le(&h, 54);
        let phnum = u16le(&h, 56) as usize;
        if phentsize != 56 || phnum == 0 || phnum > 128 {
            return Err(Errno::ENOEXEC);
        }
        let mut raw = vec![0u8; phnum * 56];
        if f.read_at(&mut raw, phoff)? != raw.len() {
            return Err(Errno::ENOEXEC);
        }
        let phdrs = raw
            .chunks(56)
            .map(|p| Phdr {
                ptype: u32le(p, 0),
                flags: u32le(p, 4),
                offset: u64le(p, 8),
                vaddr: u64le(p, 16),
                filesz: u64le(p, 32),
                memsz: u64le(p, 40),
            })
            .collect();
        Ok(Elf {
            etype,
            entry: u64le(&h, 24),
            phoff,
            phentsize,
            phdrs,
        })
    }

    pub fn interp(&self, f: &dyn ReadAt) -> KResult<Option<Vec<u8>>> {
        let Some(p) = self.phdrs.iter().find(|p| p.ptype == PT_INTERP) else {
            return Ok(None);
        };
        if p.filesz == 0 || p.filesz > 4096 {
            return Err(Errno::ENOEXEC);
        }
        let mut buf = vec![0u8; crate::num::usize_of(p.filesz)];
        f.read_at(&mut buf, p.offset)?;
        while buf.last() == Some(&0) {
            buf.pop();
        }
        Ok(Some(buf))
    }

    fn span(&self) -> KResult<(u64, u64)> {
        let loads = self.phdrs.iter().filter(|p| p.ptype == PT_LOAD);
        let lo = loads.clone().map(|p| page_down(p.vaddr)).min();
        let hi = loads.map(|p| p.vaddr.saturating_add(p.memsz)).max();
        match (lo, hi) {
            (Some(lo), Some(hi)) if hi > lo && hi - lo < (1 << 40) => Ok((lo, page_up(hi))),
            _ => Err(Errno::ENOEXEC),
        }
    }
}

pub struct Loaded {
    pub entry: u64,
    pub bias: u64,
    pub phdr: u64,
    pub phnum: u64,
    /// End of the highest segment, where brk starts.
    pub end: u64,
    /// The executable segments' span and the data's, as Linux's
    /// load_elf_binary reckons them (start_code..end_code, and
    /// start_data..end_data: the last segment's start to the end of the
    /// highest file contents).
    pub code: (u64, u64),
    pub data: (u64, u64),
}

fn prot_of(flags: u32) -> i32 {
    let mut p = 0;
    if flags & 4 != 0 {
        p |= libc::PROT_READ;
    }
    if flags & 2 != 0 {
        p |= libc::PROT_WRITE;
    }
    if flags & 1 != 0 {
        p |= libc::PROT_EXEC;
    }
    p
}

/// Maps the image's segments. `base` is where an ET_DYN image goes (None:
/// anywhere).
pub fn load(
    mm: &Mm,
    f: &dyn ReadAt,
    elf: &Elf,
    base: Option<u64>,
    name: &crate::fs::file::FileName,
    ids: (u64, u64),
    file: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
) -> KResult<Loaded> {
    let (lo, hi) = elf.span()?;
    let bias = if elf.etype == 3 {
        // Reserve the whole span so segments land at their relative places.
        let want = base.unwrap_or(0);
        let mut req = MapRequest::anon(want, hi - lo, libc::PROT_NONE);
        req.fixed = base.is_some();
        let at = mm.map(req)?;
        at - lo
    } else {
        0
    };
    for p in elf.phdrs.iter().filter(|p| p.ptype == PT_LOAD) {
        if p.filesz > p.memsz || p.offset % PAGE != p.vaddr % PAGE {
            return Err(Errno::ENOEXEC);
        }
        // A hostile image's fields may wrap: refuse it instead.
        let at = p.vaddr.checked_add(bias).ok_or(Errno::ENOEXEC)?;
        let top = at.checked_add(p.memsz).ok_or(Errno::ENOEXEC)?;
        let start = page_down(at);
        let end = page_up(top);
        if end < top {
            return Err(Errno::ENOEXEC);
        }
        let mut req = MapRequest::anon(start, end - start, prot_of(p.flags));
        req.fixed = true;
        req.name = VmaName::File {
            path: name.clone(),
            dev: ids.0,
            ino: ids.1,
            off: page_down(p.offset),
        };
        // Read-only segments map the file itself; writable ones are copied.
        let direct = match &file {
            Some(fd) if p.flags & 2 == 0 && p.memsz == p.filesz => {
                req.file = Some((fd.clone(), page_down(p.offset)));
                true
            }
            _ => false,
        };
        mm.map(req)?;
        if p.filesz > 0 && !direct {
            let n = copy_in(mm, f, at, crate::num::usize_of(p.filesz), p.offset)?;
            if (n as u64) < p.filesz {
                return Err(Errno::EIO);
            }
        }
    }
    let phdr = match elf.phdrs.iter().find(|p| p.ptype == PT_PHDR) {
        Some(p) => p.vaddr.wrapping_add(bias),
        None => elf
            .phdrs
            .iter()
            .find(|p| {
                p.ptype == PT_LOAD && p.offset <= elf.phoff && elf.phoff - p.offset < p.filesz
            })
            .map(|p| {
                p.vaddr
                    .wrapping_add(bias)
                    .wrapping_add(elf.phoff - p.offset)
            })
            .unwrap_or(0),
    };
    let (mut code, mut data) = ((u64::MAX, 0u64), (0u64, 0u64));
    for p in elf.phdrs.iter().filter(|p| p.ptype == PT_LOAD) {
        let (start, end) = (p.vaddr, p.vaddr.saturating_add(p.filesz));
        if p.flags & PF_X != 0 {
            code = (code.0.min(start), code.1.max(end));
        }
        data = (data.0.max(start), data.1.max(end));
    }
    if code.0 == u64::MAX {
        code.0 = 0;
    }
    let biased = |(a, b): (u64, u64)| (a.wrapping_add(bias), b.wrapping_add(bias));
    Ok(Loaded {
        entry: elf.entry.wrapping_add(bias),
        bias,
        phdr,
        phnum: elf.phdrs.len() as u64,
        end: hi.wrapping_add(bias),
        code: biased(code),
        data: biased(data),
    })
}
