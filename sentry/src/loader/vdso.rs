//! The vDSO image and its parameter page, shared by all processes.

use crate::errno::KResult;
use crate::loader::elf::{Elf, ReadAt, PT_LOAD};
use crate::memfile::{page_up, MemFile, PAGE};
use crate::mm::{MapRequest, Mm, SharedMem, VmaName};
use std::sync::Arc;

static IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vdso.so"));

struct Bytes(&'static [u8]);
impl ReadAt for Bytes {
    fn read_at(&self, buf: &mut [u8], off: u64) -> KResult<usize> {
        let off = crate::num::usize_of(off).min(self.0.len());
        let n = buf.len().min(self.0.len() - off);
        buf[..n].copy_from_slice(&self.0[off..off + n]);
        Ok(n)
    }
    fn read_into(&self, _: &[libc::iovec], _: u64) -> KResult<usize> {
        unreachable!("the vDSO is laid out by hand")
    }
}

/// The parameter page layout, shared with vdso.c.
#[repr(C)]
pub struct VvarPage {
    pub seq: u64,
    pub tsc_base: u64,
    pub mono_base: i64,
    pub real_offset: i64,
    pub mult: u64,
    pub shift: u32,
    pub enabled: u32,
}

pub struct Vdso {
    /// One page of parameters followed by the image.
    pub mem: Arc<SharedMem>,
    pub image_len: u64,
    /// A parameter page that is never enabled: mapped for tasks of a
    /// time namespace below the first, whose clocks have offsets the
    /// shared page does not, so the vDSO falls back to system calls.
    fallback: Arc<SharedMem>,
}

impl Vdso {
    pub fn new(memfile: &Arc<MemFile>) -> KResult<Vdso> {
        let elf = Elf::parse(&Bytes(IMAGE))?;
        let hi = elf
            .phdrs
            .iter()
            .filter(|p| p.ptype == PT_LOAD)
            .map(|p| p.vaddr + p.memsz)
            .max()
            .unwrap_or(0);
        // The whole file is mapped, section headers too, as Linux's
        // vDSO is (debuggers read its symbols from memory): its one
        // loadable segment starts at file offset 0, address 0.
        let flat = elf
            .phdrs
            .iter()
            .filter(|p| p.ptype == PT_LOAD)
            .all(|p| p.offset == p.vaddr);
        let file_len = if flat { IMAGE.len() as u64 } else { 0 };
        let image_len = page_up(hi.max(file_len));
        let mem = SharedMem::new(memfile, PAGE + image_len)?;
        for p in elf.phdrs.iter().filter(|p| p.ptype == PT_LOAD) {
            let (o, v, n) = (
                crate::num::usize_of(p.offset),
                crate::num::usize_of(p.vaddr),
                crate::num::usize_of(p.filesz),
            );
            if v + n > crate::num::usize_of(image_len) {
                return Err(crate::Errno::ENOEXEC);
            }
            // SAFETY: within the range freshly allocated for `mem`.
            unsafe { memfile.copy_in(mem.off + PAGE + v as u64, &IMAGE[o..o + n]) };
        }
        if flat {
            let loaded = elf
                .phdrs
                .iter()
                .filter(|p| p.ptype == PT_LOAD)
                .map(|p| crate::num::usize_of(p.offset + p.filesz))
                .max()
                .unwrap_or(0)
                .min(IMAGE.len());
            // SAFETY: `image_len` covers the whole file.
            unsafe { memfile.copy_in(mem.off + PAGE + loaded as u64, &IMAGE[loaded..]) };
        }
        let fallback = SharedMem::new(memfile, PAGE)?;
        Ok(Vdso {
            mem,
            image_len,
            fallback,
        })
    }

    /// Puts the never-enabled parameter page in place of `mm`'s (a task
    /// entering a time namespace below the first).
    pub fn map_fallback(&self, mm: &Mm) -> KResult<()> {
        self.map_page(mm, &self.fallback)
    }

    /// Puts the shared parameter page back (setns to the first time
    /// namespace).
    pub fn map_params(&self, mm: &Mm) -> KResult<()> {
        self.map_page(mm, &self.mem)
    }

    fn map_page(&self, mm: &Mm, page: &Arc<SharedMem>) -> KResult<()> {
        let base = mm.state.lock().vdso_base;
        if base < PAGE {
            return Ok(());
        }
        let mut req = MapRequest::anon(base - PAGE, PAGE, libc::PROT_READ);
        req.fixed = true;
        req.shared = true;
        req.name = VmaName::Vvar;
        req.shared_mem = Some((page.clone(), page.off));
        mm.map(req).map(|_| ())
    }

    /// The parameter page as the sentry writes it.
    pub fn vvar(&self) -> *mut VvarPage {
        // SAFETY: the first page of `mem` is reserved for parameters.
        unsafe {
            self.mem
                .memfile_ptr(self.mem.off, crate::num::usize_of(PAGE))
                .cast()
        }
    }

    /// Maps the parameter page and the image; returns the image address.
    pub fn map_into(&self, mm: &Mm) -> KResult<u64> {
        let mut req = MapRequest::anon(0, PAGE + self.image_len, libc::PROT_READ);
        req.shared = true;
        req.name = VmaName::Vvar;
        req.shared_mem = Some((self.mem.clone(), self.mem.off));
        let at = mm.map(req)?;
        // Re-label and re-protect the image part.
        mm.protect(at + PAGE, self.image_len, libc::PROT_READ | libc::PROT_EXEC)?;
        mm.rename(at + PAGE, VmaName::Vdso);
        mm.state.lock().vdso_base = at + PAGE;
        Ok(at + PAGE)
    }
}
