//! I/O accounting for /proc/PID/io: the bytes and calls of the read and
//! write families, per thread, counted where Linux's task_io_accounting
//! counts them (a call that reached the file, failed or not; its bytes
//! when it moved some). A process shows its live threads plus its exited
//! threads and reaped children.

use crate::errno::{Errno, KResult};
use std::sync::atomic::{AtomicU64, Ordering};

/// One thread's counts, updated by the thread itself without the lock.
#[derive(Default)]
pub struct IoAcct {
    rchar: AtomicU64,
    wchar: AtomicU64,
    syscr: AtomicU64,
    syscw: AtomicU64,
}

#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoTotals {
    pub rchar: u64,
    pub wchar: u64,
    pub syscr: u64,
    pub syscw: u64,
}

impl IoAcct {
    /// Counts system call `nr` that returned `r`.
    pub fn record(&self, nr: u64, r: &KResult<u64>) {
        let Ok(nr) = i64::try_from(nr) else { return };
        let (reads, writes) = match nr {
            libc::SYS_read
            | libc::SYS_readv
            | libc::SYS_pread64
            | libc::SYS_preadv
            | libc::SYS_preadv2 => (true, false),
            libc::SYS_write
            | libc::SYS_writev
            | libc::SYS_pwrite64
            | libc::SYS_pwritev
            | libc::SYS_pwritev2 => (false, true),
            libc::SYS_sendfile | libc::SYS_copy_file_range => (true, true),
            _ => return,
        };
        let n = match r {
            Ok(n) => *n,
            // Refused before the file was read or written: not counted.
            Err(e) if [Errno::EBADF, Errno::EINVAL, Errno::ESPIPE, Errno::EISDIR].contains(e) => {
                return
            }
            Err(_) => 0,
        };
        if reads {
            self.syscr.fetch_add(1, Ordering::Relaxed);
            self.rchar.fetch_add(n, Ordering::Relaxed);
        }
        if writes {
            self.syscw.fetch_add(1, Ordering::Relaxed);
            self.wchar.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn totals(&self) -> IoTotals {
        IoTotals {
            rchar: self.rchar.load(Ordering::Relaxed),
            wchar: self.wchar.load(Ordering::Relaxed),
            syscr: self.syscr.load(Ordering::Relaxed),
            syscw: self.syscw.load(Ordering::Relaxed),
        }
    }
}

impl IoTotals {
    pub fn add(&mut self, o: IoTotals) {
        self.rchar = self.rchar.wrapping_add(o.rchar);
        self.wchar = self.wchar.wrapping_add(o.wchar);
        self.syscr = self.syscr.wrapping_add(o.syscr);
        self.syscw = self.syscw.wrapping_add(o.syscw);
    }

    /// /proc/PID/io. The storage-layer counts are 0: the sandbox's files
    /// are memory or the gofer's, and the host's block layer is not its.
    pub fn proc_file(&self) -> Vec<u8> {
        format!(
            "rchar: {}\nwchar: {}\nsyscr: {}\nsyscw: {}\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n",
            self.rchar, self.wchar, self.syscr, self.syscw
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_linux_counts() {
        let a = IoAcct::default();
        a.record(libc::SYS_read as u64, &Ok(10));
        a.record(libc::SYS_read as u64, &Err(Errno::EAGAIN));
        a.record(libc::SYS_read as u64, &Err(Errno::EBADF));
        a.record(libc::SYS_pwritev2 as u64, &Ok(7));
        a.record(libc::SYS_sendfile as u64, &Ok(5));
        a.record(libc::SYS_getpid as u64, &Ok(5));
        let t = a.totals();
        assert_eq!(
            t,
            IoTotals {
                rchar: 15,
                wchar: 12,
                syscr: 3,
                syscw: 2
            }
        );
        let mut sum = t;
        sum.add(t);
        assert_eq!(sum.rchar, 30);
        assert!(String::from_utf8(sum.proc_file())
            .unwrap()
            .starts_with("rchar: 30\nwchar: 24\nsyscr: 6\nsyscw: 4\n"));
    }
}
