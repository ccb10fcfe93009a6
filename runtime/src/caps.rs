//! Capabilities of husk's own processes: keep only what a process needs,
//! in every set, and take the rest out of the bounding set so nothing can
//! regain them.

use crate::seccomp::SysError;

/// Capability numbers (linux/capability.h).
pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_FSETID: u32 = 4;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_MKNOD: u32 = 27;
/// The highest capability number the kernel may know (CAP_LAST_CAP is 40
/// on 6.x; unknown numbers fail PR_CAPBSET_DROP with EINVAL and stop the
/// loop).
const CAP_MAX: u32 = 63;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Reduces the calling thread's capabilities to `keep` (effective and
/// permitted), with no inheritable or ambient ones and a bounding set of
/// `keep`. Run before other threads exist: capabilities are per thread.
pub fn keep_only(keep: &[u32]) -> Result<(), SysError> {
    for cap in 0..=CAP_MAX {
        if keep.contains(&cap) {
            continue;
        }
        // SAFETY: prctl with integer arguments.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if r != 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
                break; // past the last capability this kernel knows
            }
            return Err(SysError::last("PR_CAPBSET_DROP"));
        }
    }
    // SAFETY: prctl with integer arguments.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if r != 0 {
        return Err(SysError::last("PR_CAP_AMBIENT_CLEAR_ALL"));
    }
    let mut data = [CapData::default(); 2];
    for &cap in keep {
        let (word, bit) = ((cap / 32) as usize, 1u32 << (cap % 32));
        data[word].effective |= bit;
        data[word].permitted |= bit;
    }
    let hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: capset with a version-3 header and the two data words it
    // reads.
    let r = unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) };
    if r != 0 {
        return Err(SysError::last("capset"));
    }
    Ok(())
}
