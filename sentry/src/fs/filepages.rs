//! A regular in-memory file's bytes (tmpfs, memfd) as sparse pages of the
//! memory file: a hole costs nothing, reads of it give zeros, and pages
//! go back to the memory file when the file shrinks, is punched or dies.

use crate::errno::{Errno, KResult};
use crate::memfile::{MemFile, PAGE};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct FilePages {
    mf: Arc<MemFile>,
    /// Page index -> memory-file offset of that page.
    pages: BTreeMap<u64, u64>,
    size: u64,
}

impl FilePages {
    pub fn new(mf: Arc<MemFile>) -> FilePages {
        FilePages {
            mf,
            pages: BTreeMap::new(),
            size: 0,
        }
    }

    /// The file's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes of memory the file holds (whole pages).
    pub fn allocated(&self) -> u64 {
        self.pages.len() as u64 * PAGE
    }

    /// Copies what lies at `at` into `buf`; holes read as zeros. Returns
    /// the bytes copied (short at end of file).
    pub fn read_at(&self, at: u64, buf: &mut [u8]) -> usize {
        if at >= self.size {
            return 0;
        }
        let n = buf.len().min(crate::num::usize_of(self.size - at));
        let mut done = 0;
        while done < n {
            let pos = at + done as u64;
            let (idx, inpage) = (pos / PAGE, pos % PAGE);
            let k = (n - done).min(crate::num::usize_of(PAGE - inpage));
            let dst = &mut buf[done..done + k];
            match self.pages.get(&idx) {
                // SAFETY: the page belongs to this file (allocated by
                // `write_at`, released only by this map).
                Some(&off) => unsafe { self.mf.copy_out(off + inpage, dst) },
                None => dst.fill(0),
            }
            done += k;
        }
        n
    }

    /// Writes `data` at `at`, allocating the pages it lands in and growing
    /// the file. ENOMEM (nothing written) when the memory file is full.
    pub fn write_at(&mut self, at: u64, data: &[u8]) -> KResult<usize> {
        let end = at.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        if data.is_empty() {
            return Ok(0);
        }
        // Allocate first, so a failure leaves the file as it was.
        self.fill(at, end)?;
        let mut done = 0;
        while done < data.len() {
            let pos = at + done as u64;
            let (idx, inpage) = (pos / PAGE, pos % PAGE);
            let k = (data.len() - done).min(crate::num::usize_of(PAGE - inpage));
            let off = self.pages[&idx];
            // SAFETY: as in `read_at`.
            unsafe { self.mf.copy_in(off + inpage, &data[done..done + k]) };
            done += k;
        }
        self.size = self.size.max(end);
        Ok(data.len())
    }

    /// Gives each page of `[at, end)` without one a page of zeros: all or
    /// none (ENOMEM when the memory file is full).
    fn fill(&mut self, at: u64, end: u64) -> KResult<()> {
        if at >= end {
            return Ok(());
        }
        let missing: Vec<u64> = (at / PAGE..=(end - 1) / PAGE)
            .filter(|i| !self.pages.contains_key(i))
            .collect();
        let mut fresh = Vec::with_capacity(missing.len());
        for &i in &missing {
            match self.mf.alloc(PAGE) {
                Ok(off) => fresh.push((i, off)),
                Err(e) => {
                    for (_, off) in fresh {
                        self.mf.release(off, PAGE);
                    }
                    return Err(e);
                }
            }
        }
        self.pages.extend(fresh);
        Ok(())
    }

    /// fallocate(2): pages for `[at, end)`, past the end of the file too
    /// (they count as its blocks); the size does not change.
    pub fn allocate(&mut self, at: u64, end: u64) -> KResult<()> {
        self.fill(at, end)
    }

    /// Sets the size; what lies beyond a shrink is gone (and reads back as
    /// zeros if the file grows again).
    pub fn resize(&mut self, len: u64) {
        if len <= self.size {
            // Everything past the new end goes (even at the same size, as
            // Linux's tmpfs truncates): the last page, and pages fallocate
            // put past the old end.
            let last = self.pages.keys().next_back().map_or(0, |&i| (i + 1) * PAGE);
            self.punch(len, last.max(crate::memfile::page_up(self.size)));
        }
        self.size = len;
    }

    /// Zeroes `[start, end)` (within the file): whole pages go back to the
    /// memory file, partial ones are cleared.
    pub fn punch(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let first_whole = start.div_ceil(PAGE);
        let last_whole = end / PAGE; // exclusive
        for (from, to) in [
            (start, end.min(first_whole * PAGE)),
            ((last_whole * PAGE).max(start), end),
        ] {
            if from < to {
                if let Some(&off) = self.pages.get(&(from / PAGE)) {
                    let zeros = vec![0u8; crate::num::usize_of(to - from)];
                    // SAFETY: as in `read_at`.
                    unsafe { self.mf.copy_in(off + from % PAGE, &zeros) };
                }
            }
        }
        if first_whole < last_whole {
            let gone: Vec<(u64, u64)> = self
                .pages
                .range(first_whole..last_whole)
                .map(|(&i, &o)| (i, o))
                .collect();
            for (i, _) in &gone {
                self.pages.remove(i);
            }
            self.release_all(gone.into_iter().map(|(_, o)| o));
        }
    }

    /// Gives pages back, joining neighbours into one release.
    fn release_all(&self, offs: impl Iterator<Item = u64>) {
        let mut offs: Vec<u64> = offs.collect();
        offs.sort_unstable();
        let mut run: Option<(u64, u64)> = None;
        for o in offs {
            run = match run {
                Some((s, e)) if e == o => Some((s, e + PAGE)),
                Some((s, e)) => {
                    self.mf.release(s, e - s);
                    Some((o, o + PAGE))
                }
                None => Some((o, o + PAGE)),
            };
        }
        if let Some((s, e)) = run {
            self.mf.release(s, e - s);
        }
    }

    /// SEEK_DATA: the first offset at or after `off` in a page with data,
    /// or None (ENXIO) when there is none before the end.
    pub fn seek_data(&self, off: u64) -> Option<u64> {
        if off >= self.size {
            return None;
        }
        let (&idx, _) = self.pages.range(off / PAGE..).next()?;
        let at = (idx * PAGE).max(off);
        (at < self.size).then_some(at)
    }

    /// SEEK_HOLE: the first offset at or after `off` in a hole, or the end
    /// of the file (which counts as one).
    pub fn seek_hole(&self, off: u64) -> u64 {
        let mut idx = off / PAGE;
        while self.pages.contains_key(&idx) {
            idx += 1;
        }
        (idx * PAGE).max(off).min(self.size)
    }

    /// Pages a write of `len` bytes at `at` would add.
    pub fn missing(&self, at: u64, len: u64) -> u64 {
        if len == 0 {
            return 0;
        }
        let (first, last) = (at / PAGE, at.saturating_add(len - 1) / PAGE);
        let have = self.pages.range(first..=last).count() as u64;
        (last - first + 1) - have
    }

    /// The pages with data: (byte offset in the file, memory-file offset).
    pub fn each(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.pages.iter().map(|(&i, &o)| (i * PAGE, o))
    }
}

impl Drop for FilePages {
    fn drop(&mut self) {
        let offs: Vec<u64> = self.pages.values().copied().collect();
        self.release_all(offs.into_iter());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> FilePages {
        FilePages::new(Arc::new(MemFile::new().expect("memory file")))
    }

    #[test]
    fn a_far_write_is_sparse() {
        let mut f = pages();
        f.write_at(6 << 30, b"x").unwrap();
        assert_eq!(f.size(), (6 << 30) + 1);
        assert_eq!(f.allocated(), PAGE);
        let mut b = [7u8; 3];
        assert_eq!(f.read_at(4096 * 10, &mut b), 3);
        assert_eq!(b, [0; 3]);
        assert_eq!(f.read_at(6 << 30, &mut b), 1);
        assert_eq!(b[0], b'x');
        assert_eq!(f.seek_data(0), Some(6 << 30));
        assert_eq!(f.seek_hole(0), 0);
        assert_eq!(f.seek_hole(6 << 30), (6 << 30) + 1);
        assert_eq!(f.seek_data((6 << 30) + 1), None);
    }

    #[test]
    fn writes_across_pages_and_punches() {
        let mut f = pages();
        let data: Vec<u8> = (0..3 * PAGE).map(|i| (i % 251) as u8 + 1).collect();
        f.write_at(100, &data).unwrap();
        assert_eq!(f.allocated(), 4 * PAGE);
        // Punch from the middle of page 0 to the middle of page 3: pages
        // 1 and 2 go, the edges are cleared.
        f.punch(1000, 3 * PAGE + 50);
        assert_eq!(f.allocated(), 2 * PAGE);
        let mut b = vec![0u8; crate::num::usize_of(f.size())];
        f.read_at(0, &mut b);
        assert!(b[1000..crate::num::usize_of(3 * PAGE + 50)]
            .iter()
            .all(|&c| c == 0));
        assert_eq!(b[999], data[899]);
        assert_eq!(
            b[crate::num::usize_of(3 * PAGE + 50)],
            data[crate::num::usize_of(3 * PAGE - 50)]
        );
        assert_eq!(f.seek_hole(0), PAGE);
        assert_eq!(f.seek_data(PAGE), Some(3 * PAGE));
    }

    #[test]
    fn shrinking_then_growing_reads_zeros() {
        let mut f = pages();
        f.write_at(0, &[9u8; 8192]).unwrap();
        f.resize(10);
        assert_eq!(f.allocated(), PAGE);
        f.resize(8192);
        let mut b = [1u8; 20];
        f.read_at(0, &mut b);
        assert_eq!(&b[..10], &[9u8; 10]);
        assert_eq!(&b[10..], &[0u8; 10]);
    }
}
