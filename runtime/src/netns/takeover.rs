//! A container's network (`--network sandbox`, the OCI runtime's
//! default): at `start`, the interface the engine configured in the
//! container's namespace (Docker's bridge veth end, a CNI plugin's) passes
//! to the sandbox's netstack. Its address, prefix, gateway, MTU and MAC
//! are read here, its IPv4 address is taken off the namespace's kernel
//! (which so stops answering ARP, pings and connections for it) and its
//! IPv6 turned off, and a packet socket bound to it is what the sandbox
//! gets. Everything is read through the calling thread's namespace:
//! ioctls and `/proc/net`, which follow the reader's.

use super::{ifreq, last, mac_of, packet_socket, socket, NetnsError};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

/// The interface taken over: the packet socket and the netstack's
/// configuration of it.
pub struct Taken {
    pub fd: OwnedFd,
    pub config: netstack::Config,
}

/// An IPv4 address an `SIOCGIF*` ioctl reports in `ifr_addr`.
fn v4_ioctl(sock: &OwnedFd, name: &str, req: libc::c_ulong) -> Option<Ipv4Addr> {
    let mut r = ifreq(name);
    // SAFETY: the request fills the ifreq we pass.
    if unsafe { libc::ioctl(sock.as_raw_fd(), req, &mut r) } < 0 {
        return None;
    }
    // SAFETY: the union member these requests write, a sockaddr_in.
    let sin: libc::sockaddr_in = unsafe { std::mem::transmute_copy(&r.ifr_ifru.ifru_addr) };
    (i32::from(sin.sin_family) == libc::AF_INET)
        .then(|| Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
}

fn int_ioctl(sock: &OwnedFd, name: &str, req: libc::c_ulong) -> Option<i32> {
    let mut r = ifreq(name);
    // SAFETY: the request fills the ifreq we pass.
    if unsafe { libc::ioctl(sock.as_raw_fd(), req, &mut r) } < 0 {
        return None;
    }
    // SAFETY: SIOCGIFMTU, SIOCGIFINDEX and SIOCGIFFLAGS write this member
    // (flags in its low half, read by the caller).
    Some(unsafe { r.ifr_ifru.ifru_mtu })
}

/// Interface names in `/proc/net/dev` (this thread's namespace).
fn interfaces(dev: &str) -> Vec<String> {
    dev.lines()
        .skip(2)
        .filter_map(|l| Some(l.split_once(':')?.0.trim().to_owned()))
        .filter(|n| !n.is_empty())
        .collect()
}

/// The default route's gateway on `name`, from `/proc/net/route`.
fn gateway(route: &str, name: &str) -> Option<Ipv4Addr> {
    route.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (iface, dst, gw, mask) = (f.first()?, f.get(1)?, f.get(2)?, f.get(7)?);
        if *iface != name || *dst != "00000000" || *mask != "00000000" {
            return None;
        }
        let g = u32::from_str_radix(gw, 16).ok()?;
        // The file prints the address's bytes (network order) as a
        // native-endian u32.
        (g != 0).then(|| Ipv4Addr::from(g.to_ne_bytes()))
    })
}

/// Takes over the namespace's interface: the first one up with an IPv4
/// address, other than lo. `None` when there is none (the container has
/// loopback only).
pub fn take_over() -> Result<Option<Taken>, NetnsError> {
    let dev = std::fs::read_to_string("/proc/net/dev").map_err(|err| NetnsError::Host {
        what: "/proc/net/dev",
        err,
    })?;
    let route = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let sock = socket(
        libc::AF_INET,
        libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
        0,
        "socket",
    )?;
    let mut found = Vec::new();
    for name in interfaces(&dev) {
        if name == "lo" {
            continue;
        }
        let up = int_ioctl(&sock, &name, libc::SIOCGIFFLAGS).is_some_and(|f| f & libc::IFF_UP != 0);
        let Some(addr) = v4_ioctl(&sock, &name, libc::SIOCGIFADDR) else {
            continue;
        };
        if up {
            found.push((name, addr));
        }
    }
    // The one with the default route first.
    found.sort_by_key(|(n, _)| gateway(&route, n).is_none());
    let Some((name, addr)) = found.first().cloned() else {
        return Ok(None);
    };
    if found.len() > 1 {
        tracing::warn!(
            "the container has {} interfaces; the sandbox takes over {name} alone",
            found.len()
        );
    }
    let mask = v4_ioctl(&sock, &name, libc::SIOCGIFNETMASK).unwrap_or(Ipv4Addr::BROADCAST);
    let prefix = u32::from(mask).leading_ones() as u8;
    let mtu = int_ioctl(&sock, &name, libc::SIOCGIFMTU).unwrap_or(1500);
    let index = int_ioctl(&sock, &name, libc::SIOCGIFINDEX).ok_or_else(|| last("SIOCGIFINDEX"))?;
    let mac = mac_of(&sock, &name)?;
    let config = netstack::Config {
        name: name.clone(),
        mac,
        addr,
        prefix,
        gateway: gateway(&route, &name),
        mtu: usize::try_from(mtu).unwrap_or(1500),
        rx_checksum: false,
    };
    // The packet socket first: the interface must not be left without
    // its address and without a stack either.
    let fd = packet_socket(index)?;
    // Address 0.0.0.0 removes the interface's IPv4 address (and the
    // routes through it).
    let mut r = ifreq(&name);
    // SAFETY: a sockaddr_in of family AF_INET, address 0, written over
    // the union's sockaddr (same size).
    unsafe {
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as u16;
        r.ifr_ifru.ifru_addr = std::mem::transmute_copy(&sin);
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFADDR, &r) < 0 {
            return Err(last("removing the interface's address"));
        }
    }
    // Best effort: without it the kernel still answers IPv6 on the link.
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), "1");
    tracing::info!(config = %config.render(), "the sandbox takes over the container's interface");
    Ok(Some(Taken { fd, config }))
}

/// Whether a resolv.conf names the engine's resolver at 127.0.0.11
/// (Docker's, on user-defined networks).
pub fn names_local_resolver(resolv_conf: &str) -> bool {
    resolv_conf.lines().any(|l| {
        let mut w = l.split_whitespace();
        w.next() == Some("nameserver") && w.next() == Some("127.0.0.11")
    })
}

/// A UDP socket in this thread's network namespace connected to the
/// engine's resolver, for the sandbox's relay (`sentry::local::dns`).
pub fn resolver_socket() -> Result<OwnedFd, NetnsError> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|err| NetnsError::Host {
        what: "the resolver socket",
        err,
    })?;
    s.connect("127.0.0.11:53").map_err(|err| NetnsError::Host {
        what: "connecting to 127.0.0.11:53",
        err,
    })?;
    Ok(OwnedFd::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_is_read_as_the_kernel_writes_it() {
        let dev = "Inter-|   Receive\n face |bytes    packets\n    lo: 0 0\n  eth0: 1 2\n";
        assert_eq!(interfaces(dev), ["lo", "eth0"]);
        let route =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                     eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(gateway(route, "eth0"), Some(Ipv4Addr::new(172, 17, 0, 1)));
        assert_eq!(gateway(route, "eth1"), None);
    }

    #[test]
    fn the_local_resolver_is_recognised() {
        assert!(names_local_resolver(
            "search x\nnameserver 127.0.0.11\noptions ndots:0\n"
        ));
        assert!(!names_local_resolver(
            "nameserver 10.0.0.1\n# nameserver 127.0.0.11\n"
        ));
        assert!(!names_local_resolver("nameserver 127.0.0.111\n"));
    }
}
