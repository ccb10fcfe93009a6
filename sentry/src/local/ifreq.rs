//! The interface ioctls on sockets (SIOCGIF*), answered from the
//! namespace's interfaces (`iface`).

use super::iface::{self, Iface};
use super::Names;
use crate::errno::{Errno, KResult};
use crate::mm::{read_obj, write_obj, Mm};
use std::net::Ipv4Addr;

/// SIOCGIFTXQLEN, SIOCGIFMETRIC, SIOCGIFMAP and SIOCETHTOOL (not in the
/// libc crate).
const SIOCGIFTXQLEN: libc::c_ulong = 0x8942;
const SIOCGIFMETRIC: libc::c_ulong = 0x891d;
const SIOCGIFMAP: libc::c_ulong = 0x8970;
const SIOCETHTOOL: libc::c_ulong = 0x8946;
/// ethtool's link state request (struct ethtool_value).
const ETHTOOL_GLINK: u32 = 0xa;

/// sizeof(struct ifreq) and of its name.
const IFREQ: usize = 40;
const IFNAMSIZ: usize = 16;

/// A `struct sockaddr_in` of `ip`, as an ifreq holds it.
fn sockaddr_in(ip: Ipv4Addr) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..2].copy_from_slice(&super::inet::FAM_INET.to_ne_bytes());
    a[4..8].copy_from_slice(&ip.octets());
    a
}

/// `i`'s ifreq with `value` (at most 16 bytes) after the name.
fn ifreq_of(i: &Iface, value: &[u8]) -> [u8; IFREQ] {
    let mut r = [0u8; IFREQ];
    let n = i.name.len().min(IFNAMSIZ - 1);
    r[..n].copy_from_slice(&i.name.as_bytes()[..n]);
    r[IFNAMSIZ..IFNAMSIZ + value.len()].copy_from_slice(value);
    r
}

/// SIOCSIFFLAGS: the named interface takes the ifreq's flags (`admin`:
/// the caller has CAP_NET_ADMIN over the namespace, checked after the
/// request is read, as dev_ioctl does).
pub fn set_flags(mm: &Mm, names: &Names, admin: bool, arg: u64) -> KResult<u64> {
    let r: [u8; IFREQ] = read_obj(mm, arg)?;
    if !admin {
        return Err(Errno::EPERM);
    }
    let end = r[..IFNAMSIZ]
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(IFNAMSIZ);
    let list = iface::list(names);
    let i = list
        .iter()
        .find(|i| i.name.as_bytes() == &r[..end])
        .ok_or(Errno::ENODEV)?;
    let flags = u16::from_ne_bytes([r[IFNAMSIZ], r[IFNAMSIZ + 1]]);
    iface::change_flags(names, i, u32::from(flags))?;
    Ok(0)
}

/// ioctl `cmd` if it is an interface ioctl (None if not).
pub fn ioctl(mm: &Mm, names: &Names, cmd: u64, arg: u64) -> Option<KResult<u64>> {
    let cmd = libc::c_ulong::try_from(cmd).ok()?;
    let known = [
        libc::SIOCGIFINDEX,
        libc::SIOCGIFFLAGS,
        libc::SIOCGIFMTU,
        SIOCGIFTXQLEN,
        libc::SIOCGIFADDR,
        libc::SIOCGIFNETMASK,
        libc::SIOCGIFBRDADDR,
        libc::SIOCGIFHWADDR,
        libc::SIOCGIFNAME,
        libc::SIOCGIFCONF,
        SIOCGIFMETRIC,
        SIOCGIFMAP,
        SIOCETHTOOL,
    ];
    if !known.contains(&cmd) {
        return None;
    }
    let list = iface::list(names);
    let by_name = |mm: &Mm| -> KResult<&Iface> {
        let r: [u8; IFREQ] = read_obj(mm, arg)?;
        let end = r[..IFNAMSIZ]
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(IFNAMSIZ);
        list.iter()
            .find(|i| i.name.as_bytes() == &r[..end])
            .ok_or(Errno::ENODEV)
    };
    let answer = |mm: &Mm, value: &dyn Fn(&Iface) -> Vec<u8>| -> KResult<u64> {
        let i = by_name(mm)?;
        write_obj(mm, arg, &ifreq_of(i, &value(i)))?;
        Ok(0)
    };
    Some(match cmd {
        libc::SIOCGIFINDEX => answer(mm, &|i| i.index.to_ne_bytes().to_vec()),
        libc::SIOCGIFFLAGS => answer(mm, &|i| {
            u16::try_from(i.flags & 0xffff)
                .unwrap_or(0)
                .to_ne_bytes()
                .to_vec()
        }),
        libc::SIOCGIFMTU => answer(mm, &|i| i.mtu.to_ne_bytes().to_vec()),
        // The transmit queue length rtnetlink reports too.
        SIOCGIFTXQLEN => answer(mm, &|_| 1000i32.to_ne_bytes().to_vec()),
        // No routing metric, and no device resources (struct ifmap) for
        // virtual interfaces.
        SIOCGIFMETRIC => answer(mm, &|_| 0i32.to_ne_bytes().to_vec()),
        SIOCGIFMAP => answer(mm, &|_| vec![0; 24]),
        // ethtool: the link's state (what lo's and a veth's ethtool ops
        // give everyone); settings, drivers and the rest are not the
        // sandbox's to report (EOPNOTSUPP, which psutil and ethtool
        // take as "not supported").
        SIOCETHTOOL => (|| {
            let i = by_name(mm)?;
            let r: [u8; IFREQ] = read_obj(mm, arg)?;
            let data = u64::from_ne_bytes(r[IFNAMSIZ..IFNAMSIZ + 8].try_into().unwrap());
            let cmd: u32 = read_obj(mm, data)?;
            if cmd != ETHTOOL_GLINK {
                return Err(Errno::EOPNOTSUPP);
            }
            let up = u32::from(i.up() && i.flags & 0x1_0000 != 0);
            write_obj(mm, data, &[ETHTOOL_GLINK, up])?;
            Ok(0)
        })(),
        libc::SIOCGIFADDR if by_name(mm).is_ok_and(|i| !i.has_v4()) => Err(Errno::EADDRNOTAVAIL),
        libc::SIOCGIFADDR => answer(mm, &|i| sockaddr_in(i.v4.0).to_vec()),
        libc::SIOCGIFNETMASK => answer(mm, &|i| sockaddr_in(i.netmask()).to_vec()),
        libc::SIOCGIFBRDADDR => answer(mm, &|i| {
            let b = if i.loopback {
                Ipv4Addr::UNSPECIFIED
            } else {
                i.broadcast()
            };
            sockaddr_in(b).to_vec()
        }),
        libc::SIOCGIFHWADDR => answer(mm, &|i| {
            // struct sockaddr: the hardware type, then the address.
            let mut v = i.arphrd.to_ne_bytes().to_vec();
            v.extend_from_slice(&i.mac);
            v
        }),
        libc::SIOCGIFNAME => (|| {
            let r: [u8; IFREQ] = read_obj(mm, arg)?;
            let index = i32::from_ne_bytes(r[IFNAMSIZ..IFNAMSIZ + 4].try_into().unwrap());
            let i = list
                .iter()
                .find(|i| i.index == index)
                .ok_or(Errno::ENODEV)?;
            write_obj(mm, arg, &ifreq_of(i, &index.to_ne_bytes()))?;
            Ok(0)
        })(),
        _ => (|| {
            // SIOCGIFCONF. struct ifconf: the length, then the buffer's
            // address; as many whole entries as fit.
            let c: [u8; 16] = read_obj(mm, arg)?;
            let len = i32::from_ne_bytes(c[..4].try_into().unwrap());
            let buf = u64::from_ne_bytes(c[8..].try_into().unwrap());
            let bytes = |n: usize| i32::try_from(n * IFREQ).unwrap_or(i32::MAX);
            if buf == 0 {
                write_obj(mm, arg, &bytes(list.len()))?;
                return Ok(0);
            }
            // Only interfaces with an IPv4 address are listed.
            let list: Vec<&Iface> = list.iter().filter(|i| i.has_v4()).collect();
            let fit = (usize::try_from(len).unwrap_or(0) / IFREQ).min(list.len());
            for (k, i) in list.iter().take(fit).enumerate() {
                let at = buf + (k * IFREQ) as u64;
                write_obj(mm, at, &ifreq_of(i, &sockaddr_in(i.v4.0)))?;
            }
            write_obj(mm, arg, &bytes(fit))?;
            Ok(0)
        })(),
    })
}
