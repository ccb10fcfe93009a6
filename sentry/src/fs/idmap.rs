//! A container's user namespace mapping (linux.uidMappings and
//! gidMappings): the ids the gofer's files carry on the host seen as the
//! container's ids, and the container's ids written to the host as the
//! mapping says. Docker's userns-remap gives a container a host range
//! (container 0 is host 100000, say) whose files the image's layers
//! already carry. Without a mapping, ids pass unchanged.

use crate::errno::{Errno, KResult};
use std::sync::OnceLock;

/// An id the mapping has no place for reads as this (Linux's
/// overflowuid and overflowgid).
pub const OVERFLOW: u32 = 65534;

/// (container id, host id, count) ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ranges(pub Vec<(u32, u32, u32)>);

impl Ranges {
    /// Parses "C:H:N,C:H:N": at most 340 ranges (Linux's limit), none
    /// empty, none overflowing, none overlapping inside or outside.
    pub fn parse(s: &str) -> Option<Ranges> {
        let mut v = Vec::new();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let mut f = part.split(':').map(|x| x.parse::<u32>().ok());
            let (Some(Some(c)), Some(Some(h)), Some(Some(n)), None) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                return None;
            };
            if n == 0 || c.checked_add(n - 1).is_none() || h.checked_add(n - 1).is_none() {
                return None;
            }
            v.push((c, h, n));
        }
        let overlaps =
            |a: (u32, u32), b: (u32, u32)| a.0 <= b.0 + (b.1 - 1) && b.0 <= a.0 + (a.1 - 1);
        for (i, x) in v.iter().enumerate() {
            for y in &v[i + 1..] {
                if overlaps((x.0, x.2), (y.0, y.2)) || overlaps((x.1, x.2), (y.1, y.2)) {
                    return None;
                }
            }
        }
        (!v.is_empty() && v.len() <= 340).then_some(Ranges(v))
    }

    /// The container's id for host id `h`; None when unmapped.
    pub fn inward(&self, h: u32) -> Option<u32> {
        self.0
            .iter()
            .find(|&&(_, hs, n)| h >= hs && h - hs < n)
            .map(|&(c, hs, _)| c + (h - hs))
    }

    /// The host's id for container id `c`; None when unmapped.
    pub fn outward(&self, c: u32) -> Option<u32> {
        self.0
            .iter()
            .find(|&&(cs, _, n)| c >= cs && c - cs < n)
            .map(|&(cs, h, _)| h + (c - cs))
    }
}

static UIDS: OnceLock<Ranges> = OnceLock::new();
static GIDS: OnceLock<Ranges> = OnceLock::new();

/// Sets the mapping, once, before the first file is served.
pub fn set(uids: Ranges, gids: Ranges) {
    let _ = UIDS.set(uids);
    let _ = GIDS.set(gids);
}

/// Whether ids are mapped (new files must then be given their owner,
/// root's included).
pub fn active() -> bool {
    UIDS.get().is_some()
}

/// /proc/PID/uid_map (or gid_map): the container's ranges, or the whole
/// identity range of an unmapped sandbox, in Linux's columns.
pub fn render(uids: bool) -> Vec<u8> {
    let r = if uids { UIDS.get() } else { GIDS.get() };
    let lines = match r {
        Some(r) => r.0.clone(),
        None => vec![(0, 0, u32::MAX)],
    };
    lines
        .iter()
        .map(|(c, h, n)| format!("{c:>10} {h:>10} {n:>10}\n"))
        .collect::<String>()
        .into_bytes()
}

/// A host file's (uid, gid) as the container sees them.
pub fn inward(uid: u32, gid: u32) -> (u32, u32) {
    let id = |h, uids| id_inward(h, uids).unwrap_or(OVERFLOW);
    (id(uid, true), id(gid, false))
}

/// A container (uid, gid) for the host; `u32::MAX` ("leave as is")
/// passes through. EINVAL for an id the mapping has no place for, as
/// chown gives in a user namespace.
pub fn outward(uid: u32, gid: u32) -> KResult<(u32, u32)> {
    let map = |id: u32, uids| match id {
        u32::MAX => Ok(id),
        _ => id_outward(id, uids).ok_or(Errno::EINVAL),
    };
    Ok((map(uid, true)?, map(gid, false)?))
}

/// One host uid (`uids`) or gid as the container's; None when the
/// mapping has no place for it.
pub fn id_inward(host: u32, uids: bool) -> Option<u32> {
    match if uids { UIDS.get() } else { GIDS.get() } {
        Some(r) => r.inward(host),
        None => Some(host),
    }
}

/// One container uid (`uids`) or gid as the host's; None when the
/// mapping has no place for it.
pub fn id_outward(id: u32, uids: bool) -> Option<u32> {
    match if uids { UIDS.get() } else { GIDS.get() } {
        Some(r) => r.outward(id),
        None => Some(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_map_both_ways() {
        let r = Ranges::parse("0:100000:65536").unwrap();
        assert_eq!(r.inward(100000), Some(0));
        assert_eq!(r.inward(100005), Some(5));
        assert_eq!(r.inward(0), None);
        assert_eq!(r.outward(0), Some(100000));
        assert_eq!(r.outward(65535), Some(165535));
        assert_eq!(r.outward(65536), None);
        let two = Ranges::parse("0:1000:1,1:200000:10").unwrap();
        assert_eq!(two.inward(1000), Some(0));
        assert_eq!(two.inward(200003), Some(4));
        assert_eq!(two.outward(10), Some(200009));
    }

    #[test]
    fn bad_ranges_are_refused() {
        for bad in [
            "",
            "0:1",
            "0:1:0",
            "a:b:c",
            "0:1:2:3",
            "0:4294967295:2",
            "0:10:5,3:100:5",
            "0:10:5,10:12:5",
        ] {
            assert_eq!(Ranges::parse(bad), None, "{bad}");
        }
    }
}
