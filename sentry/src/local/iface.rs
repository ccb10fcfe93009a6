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
}

impl Iface {
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
    }
}

/// The interfaces of the namespace `names` belongs to, by index.
pub fn list(names: &Names) -> Vec<Iface> {
    let mut v = vec![lo()];
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
        });
    }
    v
}

/// /proc/net/dev.
pub fn proc_dev(names: &Names) -> Vec<u8> {
    let mut s = String::from("Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n");
    for i in list(names) {
        s.push_str(&format!(
            "{:>6}:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n",
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
    for i in list(names).into_iter().filter(|i| !i.loopback) {
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
}
