//! The network interfaces a namespace lists: lo, and under `--network
//! sandbox` the interface the netstack serves (eth0). ifreq ioctls,
//! rtnetlink and /proc/net read them from here.

use super::Names;
use std::net::Ipv4Addr;

pub const LO_INDEX: i32 = 1;
pub const ETH_INDEX: i32 = 2;
pub const ARPHRD_ETHER: u16 = 1;
pub const ARPHRD_LOOPBACK: u16 = 772;
const IFF_UP: u32 = 0x1;
const IFF_BROADCAST: u32 = 0x2;
const IFF_LOOPBACK: u32 = 0x8;
const IFF_RUNNING: u32 = 0x40;
const IFF_MULTICAST: u32 = 0x1000;
const IFF_LOWER_UP: u32 = 0x1_0000;

#[derive(Clone, Debug)]
pub struct Iface {
    pub index: i32,
    pub name: String,
    /// The full flags (rtnetlink's); ifreq's short ones are the low 16 bits.
    pub flags: u32,
    pub mtu: u32,
    pub arphrd: u16,
    pub mac: [u8; 6],
    /// The IPv4 address and prefix length.
    pub v4: (Ipv4Addr, u8),
    /// The IPv4 default route's gateway.
    pub gateway: Option<Ipv4Addr>,
    pub loopback: bool,
    /// Packets and bytes through it, each way (lo's: what the namespace
    /// counted; others are not counted here).
    pub traffic: (u64, u64),
}

impl Iface {
    pub fn up(&self) -> bool {
        self.flags & IFF_UP != 0
    }

    /// Whether it has an IPv4 address (a host interface may have none).
    pub fn has_v4(&self) -> bool {
        !self.v4.0.is_unspecified()
    }
    pub fn netmask(&self) -> Ipv4Addr {
        let p = u32::from(self.v4.1);
        Ipv4Addr::from(if p == 0 { 0 } else { u32::MAX << (32 - p) })
    }
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.v4.0) & u32::from(self.netmask()))
    }
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.v4.0) | !u32::from(self.netmask()))
    }
}

fn lo() -> Iface {
    Iface {
        index: LO_INDEX,
        name: "lo".into(),
        flags: IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP,
        mtu: 65536,
        arphrd: ARPHRD_LOOPBACK,
        mac: [0; 6],
        v4: (Ipv4Addr::LOCALHOST, 8),
        gateway: None,
        loopback: true,
        traffic: (0, 0),
    }
}

/// The interfaces of the namespace `names` belongs to, by index.
pub fn list(names: &Names) -> Vec<Iface> {
    if let Some(h) = names.host.get() {
        return h.ifaces.clone();
    }
    let mut lo = lo();
    lo.traffic = names.mib.lo_traffic();
    if !names.lo_up() {
        // Down, lo keeps 127.0.0.1/8 once it has it (it comes with the
        // first NETDEV_UP, or from RTM_NEWADDR); ::1 goes with the down.
        lo.flags = IFF_LOOPBACK;
        if !names.lo_v4() {
            lo.v4 = (Ipv4Addr::UNSPECIFIED, 0);
        }
    }
    let mut v = vec![lo];
    if let Some(n) = names.net.get() {
        let c = n.config();
        v.push(Iface {
            index: ETH_INDEX,
            name: c.name.clone(),
            flags: IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP,
            mtu: u32::try_from(c.mtu).unwrap_or(1500),
            arphrd: ARPHRD_ETHER,
            mac: c.mac,
            v4: (c.addr, c.prefix),
            gateway: c.gateway,
            loopback: false,
            traffic: (0, 0),
        });
    }
    v
}

/// The flags dev_change_flags takes from a caller; the others are the
/// device's own (IFF_RUNNING, IFF_LOWER_UP, IFF_LOOPBACK, ...).
const SETTABLE: u32 =
    IFF_UP | 0x4 | 0x20 | 0x80 | 0x100 | 0x200 | IFF_MULTICAST | 0x2000 | 0x4000 | 0x8000;

/// Gives interface `i` of `names` the flags `flags` (SIOCSIFFLAGS, or
/// RTM_NEWLINK's combined ones). Bringing lo up or down is what the
/// sandbox does; any other change (eth0's or a host interface's state,
/// promiscuous mode, ...) is EOPNOTSUPP.
pub fn change_flags(names: &Names, i: &Iface, flags: u32) -> crate::errno::KResult<()> {
    let diff = (flags ^ i.flags) & SETTABLE;
    if diff == 0 {
        return Ok(());
    }
    if diff != IFF_UP || !i.loopback || names.host.get().is_some() {
        return Err(crate::errno::Errno::EOPNOTSUPP);
    }
    names.set_lo_up(flags & IFF_UP != 0);
    Ok(())
}

/// /proc/net/dev.
pub fn proc_dev(names: &Names) -> Vec<u8> {
    let mut s = String::from("Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n");
    for i in list(names) {
        let (packets, bytes) = i.traffic;
        s.push_str(&format!(
            "{:>6}:{bytes:>8} {packets:>7}    0    0    0     0          0         0 {bytes:>8} {packets:>7}    0    0    0     0       0          0\n",
            i.name
        ));
    }
    s.into_bytes()
}

/// /proc/net/route: the IPv4 routes of the main table (lo's are local
/// ones, not listed), addresses in the kernel's byte order as hex.
pub fn proc_route(names: &Names) -> Vec<u8> {
    let mut s = String::from(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
    );
    let hex = |a: Ipv4Addr| format!("{:08X}", u32::from_ne_bytes(a.octets()));
    for i in list(names)
        .into_iter()
        .filter(|i| !i.loopback && i.has_v4())
    {
        if let Some(g) = i.gateway {
            // RTF_UP | RTF_GATEWAY.
            s.push_str(&format!(
                "{}\t{}\t{}\t0003\t0\t0\t0\t{}\t0\t0\t0\n",
                i.name,
                hex(Ipv4Addr::UNSPECIFIED),
                hex(g),
                hex(Ipv4Addr::UNSPECIFIED)
            ));
        }
        s.push_str(&format!(
            "{}\t{}\t{}\t0001\t0\t0\t0\t{}\t0\t0\t0\n",
            i.name,
            hex(i.network()),
            hex(Ipv4Addr::UNSPECIFIED),
            hex(i.netmask())
        ));
    }
    s.into_bytes()
}

/// The host's interfaces as they are now (`--network host`), read from
/// its sysfs, its IPv4 addresses and /proc/net/route. Called before the
/// sandbox leaves the host's file tree.
pub fn host_snapshot() -> Vec<Iface> {
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
        return vec![lo()];
    };
    let v4 = host_v4_addrs();
    let route = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let mut out = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let read = |f: &str| {
            std::fs::read_to_string(e.path().join(f))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let num = |f: &str| {
            let v = read(f);
            match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => v.parse::<u64>().ok(),
            }
            .unwrap_or(0)
        };
        let Ok(index) = i32::try_from(num("ifindex")) else {
            continue;
        };
        let mut flags = u32::try_from(num("flags")).unwrap_or(0);
        if read("carrier") == "1" {
            flags |= IFF_RUNNING | IFF_LOWER_UP;
        }
        let mut mac = [0u8; 6];
        for (k, b) in read("address").split(':').take(6).enumerate() {
            mac[k] = u8::from_str_radix(b, 16).unwrap_or(0);
        }
        let gateway = route.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && f[0] == name && f[1] == "00000000")
                .then(|| u32::from_str_radix(f[2], 16).ok())
                .flatten()
                .map(|g| Ipv4Addr::from(g.to_ne_bytes()))
        });
        out.push(Iface {
            index,
            v4: v4.get(&name).copied().unwrap_or((Ipv4Addr::UNSPECIFIED, 0)),
            mtu: u32::try_from(num("mtu")).unwrap_or(1500),
            arphrd: u16::try_from(num("type")).unwrap_or(ARPHRD_ETHER),
            loopback: flags & IFF_LOOPBACK != 0,
            name,
            flags,
            mac,
            gateway,
            traffic: (0, 0),
        });
    }
    out.sort_by_key(|i| i.index);
    out
}

/// Each host interface's first IPv4 address and prefix length.
fn host_v4_addrs() -> std::collections::HashMap<String, (Ipv4Addr, u8)> {
    let mut out = std::collections::HashMap::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list freed below.
    if unsafe { libc::getifaddrs(&raw mut head) } != 0 {
        return out;
    }
    let mut p = head;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list getifaddrs made, its name a C
        // string and its addresses, when present, sockaddr_in for AF_INET.
        unsafe {
            let a = &*p;
            p = a.ifa_next;
            if a.ifa_addr.is_null() || i32::from((*a.ifa_addr).sa_family) != libc::AF_INET {
                continue;
            }
            let name = std::ffi::CStr::from_ptr(a.ifa_name)
                .to_string_lossy()
                .into_owned();
            let ip = |sa: *const libc::sockaddr| {
                let sin = &*sa.cast::<libc::sockaddr_in>();
                Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes())
            };
            let prefix = if a.ifa_netmask.is_null() {
                32
            } else {
                u8::try_from(u32::from(ip(a.ifa_netmask)).count_ones()).unwrap_or(32)
            };
            out.entry(name).or_insert((ip(a.ifa_addr), prefix));
        }
    }
    // SAFETY: the list getifaddrs returned, freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_of_a_30() {
        let mut i = lo();
        i.v4 = (Ipv4Addr::new(10, 213, 0, 6), 30);
        assert_eq!(i.netmask(), Ipv4Addr::new(255, 255, 255, 252));
        assert_eq!(i.network(), Ipv4Addr::new(10, 213, 0, 4));
        assert_eq!(i.broadcast(), Ipv4Addr::new(10, 213, 0, 7));
        i.v4.1 = 0;
        assert_eq!(i.netmask(), Ipv4Addr::UNSPECIFIED);
    }

    #[test]
    fn lo_only_without_a_stack() {
        let n = Names::default();
        let l = list(&n);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].name, "lo");
        let route = String::from_utf8(proc_route(&n)).unwrap();
        assert_eq!(route.lines().count(), 1);
    }

    #[test]
    fn the_host_snapshot_has_lo_first_with_its_address() {
        let l = host_snapshot();
        assert_eq!(l[0].name, "lo");
        assert!(l[0].loopback);
        assert_eq!(l[0].v4, (Ipv4Addr::LOCALHOST, 8));
        assert!(l[0].flags & IFF_UP != 0);
        let n = Names::default();
        let _ = n
            .host
            .set(std::sync::Arc::new(crate::hostnet::HostNet::snapshot()));
        assert_eq!(list(&n).len(), l.len());
    }

    #[test]
    fn only_lo_comes_up_and_goes_down() {
        let first = std::sync::Arc::new(Names::default());
        let n = first.child(crate::kernel::userns::init());
        let lo = list(&n).remove(0);
        assert!(!lo.up() && !lo.has_v4());
        // Nothing asked: nothing to do.
        change_flags(&n, &lo, lo.flags).unwrap();
        assert!(!n.lo_up());
        change_flags(&n, &lo, lo.flags | IFF_UP).unwrap();
        let lo = list(&n).remove(0);
        assert!(lo.up() && lo.has_v4());
        // Promiscuous mode is not the sandbox's to give.
        assert_eq!(
            change_flags(&n, &lo, lo.flags | 0x100),
            Err(crate::errno::Errno::EOPNOTSUPP)
        );
        change_flags(&n, &lo, lo.flags & !IFF_UP).unwrap();
        assert!(!n.lo_up());
    }
}
