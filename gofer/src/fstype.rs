//! Which filesystems the gofer serves: files on disk-backed filesystems
//! and tmpfs, never kernel interfaces (procfs, sysfs, devtmpfs, cgroupfs,
//! debugfs, tracefs, securityfs, bpf, mqueue, the host's devpts, ...).
//!
//! Two checks use this list: at start-up every mount of another type is
//! detached from the gofer's tree (so the directory beneath it, usually
//! empty, is what the sandbox sees), and every fd the gofer opens is
//! checked with `fstatfs` (so a mount that appears later is refused too).

/// `statfs.f_type` values of filesystems that hold files.
const FILE_MAGICS: &[u32] = &[
    0xEF53,      // ext2/3/4
    0x5846_5342, // xfs
    0x9123_683E, // btrfs
    0x0102_1994, // tmpfs
    0x794C_7630, // overlayfs
    0xF2F5_2010, // f2fs
    0x2FC1_2FC1, // zfs
    0x7371_7368, // squashfs
    0xE0F5_E1E2, // erofs
    0x4D44,      // vfat/msdos
    0x2011_BAB0, // exfat
    0x6969,      // nfs
    0x6573_5546, // fuse (incl. virtiofs)
    0x0102_1997, // 9p
    0x00C3_6400, // ceph
    0xFF53_4D42, // cifs
    0xFE53_4D42, // smb2
    0x9660,      // iso9660
    0x8584_58F6, // ramfs (an initramfs root)
    0x5265_4973, // reiserfs
    0x3153_464A, // jfs
    0x1501_3346, // udf
    0x3434,      // nilfs2
    0xCA45_1A4E, // bcachefs
    0xF15F,      // ecryptfs
    0x482B,      // hfsplus
    0x5346_544E, // ntfs
    0x7366_746E, // ntfs3
];

/// `mountinfo` type names of the same filesystems.
const FILE_TYPES: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "f2fs", "zfs", "squashfs", "erofs",
    "vfat", "msdos", "exfat", "nfs", "nfs4", "fuse", "fuseblk", "virtiofs", "9p", "ceph", "cifs",
    "smb3", "iso9660", "ramfs", "rootfs", "reiserfs", "jfs", "udf", "nilfs2", "bcachefs",
    "ecryptfs", "hfsplus", "ntfs", "ntfs3",
];

/// Whether `statfs.f_type` names a filesystem the gofer serves.
pub(crate) fn magic_allowed(f_type: i64) -> bool {
    // f_type is a signed word; the magics are 32-bit.
    FILE_MAGICS.contains(&(f_type as u32))
}

/// Whether a `mountinfo` filesystem type is one the gofer serves
/// (`fuse.sshfs` and the like count as fuse).
pub(crate) fn type_allowed(name: &str) -> bool {
    let base = name.split('.').next().unwrap_or(name);
    FILE_TYPES.contains(&base)
}

/// Mount points beneath `prefix` (absolute, without a trailing `/`) whose
/// filesystems the gofer must not serve, from the text of
/// `/proc/self/mountinfo`: only the topmost of each subtree (detaching a
/// mount detaches what is mounted beneath it, and each detach costs an RCU
/// grace period), shallowest first.
pub(crate) fn special_mounts_under(mountinfo: &str, prefix: &str) -> Vec<String> {
    let mut all = special_mounts_all(mountinfo, prefix);
    all.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
    let mut top: Vec<String> = Vec::new();
    for p in all {
        let beneath = top.iter().any(|t| {
            p.strip_prefix(t.as_str())
                .is_some_and(|r| r.starts_with('/'))
        });
        if !beneath && !top.contains(&p) {
            top.push(p);
        }
    }
    top
}

/// Every special mount beneath `prefix`.
fn special_mounts_all(mountinfo: &str, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = unescape(left.split(' ').nth(4)?);
            let fstype = right.split(' ').next()?;
            let inside = point == prefix
                || point
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'));
            (inside && !type_allowed(fstype)).then_some(point)
        })
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.len()));
    out.dedup();
    out
}

/// Undoes mountinfo's octal escapes (`\040` for a space, and so on).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let d = |k: usize| u32::from(b[i + k] - b'0');
            out.push((d(1) * 64 + d(2) * 8 + d(3)) as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 254:0 / /x/root rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:5 / /x/root/proc rw,nosuid - proc proc rw
24 23 0:6 / /x/root/proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw
25 22 0:7 / /x/root/sys rw - sysfs sysfs rw
26 22 0:8 / /x/root/dev rw - devtmpfs udev rw
27 26 0:9 / /x/root/dev/shm rw - tmpfs tmpfs rw
28 22 0:10 / /x/root/my\\040data rw - fuse.sshfs host:/ rw
29 22 0:11 / /x/rootless rw - proc proc rw
30 22 0:12 / /x/root/mnt/cg rw - cgroup2 cgroup2 rw
";

    #[test]
    fn topmost_special_mounts_are_found_and_files_kept() {
        let got = special_mounts_under(INFO, "/x/root");
        assert_eq!(
            got,
            [
                "/x/root/dev",
                "/x/root/sys",
                "/x/root/proc",
                "/x/root/mnt/cg"
            ]
        );
    }

    #[test]
    fn magics() {
        assert!(magic_allowed(0xEF53));
        assert!(magic_allowed(0x9123_683E));
        assert!(!magic_allowed(0x9FA0)); // proc
        assert!(!magic_allowed(0x6265_6572)); // sysfs
        assert!(!magic_allowed(0x6367_7270)); // cgroup2
        assert!(!magic_allowed(0x1CD1)); // devpts
        assert!(type_allowed("fuse.sshfs") && !type_allowed("devtmpfs"));
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape("a\\040b\\134c"), "a b\\c");
        assert_eq!(unescape("end\\04"), "end\\04");
    }
}
