//! What /proc/net lists: `/proc/net/unix`, and the `tcp`, `tcp6`, `udp`
//! and `udp6` tables, in Linux's formats.

use super::{Conn, LocalSocket, Names};
use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

pub fn unix(names: &Names) -> Vec<u8> {
    let mut out = String::from("Num       RefCount Protocol Flags    Type St Inode Path\n");
    let socks: Vec<_> = names.live().into_iter().filter(|s| !s.inet()).collect();
    let embryos = super::sockdiag::embryos(&socks);
    for s in socks.iter().filter(|s| !embryos.contains(&s.ino)) {
        let st = s.st.lock();
        let (flags, state) = match st.conn {
            // __SO_ACCEPTCON; SS_UNCONNECTED, SS_CONNECTED.
            Conn::Listening { .. } => (0x10000, 1),
            Conn::Connected { .. } => (0, 3),
            Conn::None => (0, 1),
        };
        let ty = match s.kind {
            libc::SOCK_STREAM => 1,
            libc::SOCK_DGRAM => 2,
            _ => 5,
        };
        let _ = write!(
            out,
            "{:016x}: {:08X} {:08X} {:08X} {:04X} {:02X} {:5}",
            0, 2, 0, flags, ty, state, s.ino
        );
        if let Some(name) = st.name.as_ref().and_then(|n| n.get(2..)) {
            // Abstract names show their NULs as '@'.
            let path: Vec<u8> = match name.first() {
                Some(0) => name
                    .iter()
                    .map(|&b| if b == 0 { b'@' } else { b })
                    .collect(),
                _ => name.strip_suffix(b"\0").unwrap_or(name).to_vec(),
            };
            out.push(' ');
            out.push_str(&String::from_utf8_lossy(&path));
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// An address as /proc/net/tcp prints it: the IP's words as the host
/// reads them, and the port.
pub(super) fn hex(a: SocketAddr, v6: bool) -> String {
    let ip = match (a.ip(), v6) {
        (IpAddr::V4(ip), false) => {
            return format!("{:08X}:{:04X}", u32::from_ne_bytes(ip.octets()), a.port())
        }
        (IpAddr::V4(ip), true) => ip.to_ipv6_mapped(),
        (IpAddr::V6(ip), _) => ip,
    };
    let mut s = String::new();
    for w in ip.octets().chunks_exact(4) {
        let _ = write!(s, "{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    let _ = write!(s, ":{:04X}", a.port());
    s
}

/// `tcp`, `tcp6`, `udp` or `udp6`: the bound sockets of that
/// transport and family.
pub fn table(names: &Names, tcp: bool, v6: bool) -> Vec<u8> {
    // The v6 tables pad their address columns to the addresses' width.
    let mut out = String::from(if v6 {
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
    } else {
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
    });
    out.push_str(if tcp { "\n" } else { " ref pointer drops\n" });
    let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    let kind = if tcp {
        libc::SOCK_STREAM
    } else {
        libc::SOCK_DGRAM
    };
    let socks: Vec<std::sync::Arc<LocalSocket>> = names
        .live()
        .into_iter()
        .filter(|s| s.family == family && s.kind == kind && !s.lite)
        .collect();
    let any = if v6 {
        SocketAddr::from(([0u16; 8], 0))
    } else {
        SocketAddr::from(([0u8; 4], 0))
    };
    let mut sl = 0;
    for s in socks {
        // The state and queues sock_diag reports (ss), but a listener's
        // send queue, which /proc/net/tcp shows as 0, not its backlog.
        let (state, rx, tx) = super::sockdiag::state_and_queues(&s);
        let tx = if state == super::sockdiag::LISTEN {
            0
        } else {
            tx
        };
        let st = s.st.lock();
        let Some(local) = st.local else { continue };
        let remote = st.remote.unwrap_or(any);
        let _ = write!(
            out,
            "{sl:4}: {} {} {state:02X} {tx:08X}:{rx:08X} 00:00000000 00000000 {:5} {:8} {}",
            hex(local, v6),
            hex(remote, v6),
            s.owner(),
            0,
            s.ino
        );
        if tcp {
            out.push_str(" 1 0000000000000000 20 4 0 10 -1\n");
        } else {
            out.push_str(" 2 0000000000000000 0\n");
        }
        sl += 1;
    }
    out.into_bytes()
}

/// /proc/net/snmp: the namespace's counters (`mib`), with the TCP
/// connections now established or closing from the other side
/// (CurrEstab).
pub fn snmp(names: &Names) -> Vec<u8> {
    let estab = names
        .live()
        .iter()
        .filter(|s| s.family != libc::AF_UNIX && s.kind == libc::SOCK_STREAM)
        .filter(|s| matches!(super::sockdiag::state_and_queues(s).0, 1 | 8))
        .count();
    names.mib.snmp(estab as u64).into_bytes()
}

/// /proc/net/sockstat (`v6` false) or sockstat6: how many of the
/// namespace's sockets are bound ("inuse") by transport and family, all
/// sockets ("used"), and TCP sockets of either family ("alloc").
pub fn sockstat(names: &Names, v6: bool) -> Vec<u8> {
    let socks = names.live();
    let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    let inuse = |kind: i32, lite: bool| {
        socks
            .iter()
            .filter(|s| s.family == family && s.kind == kind && s.lite == lite)
            .filter(|s| s.st.lock().local.is_some())
            .count()
    };
    let (tcp, udp, lite) = (
        inuse(libc::SOCK_STREAM, false),
        inuse(libc::SOCK_DGRAM, false),
        inuse(libc::SOCK_DGRAM, true),
    );
    if v6 {
        return format!(
            "TCP6: inuse {tcp}\nUDP6: inuse {udp}\nUDPLITE6: inuse {lite}\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n"
        )
        .into_bytes();
    }
    let alloc = socks
        .iter()
        .filter(|s| s.kind == libc::SOCK_STREAM && s.family != libc::AF_UNIX)
        .count();
    format!(
        "sockets: used {}\nTCP: inuse {tcp} orphan 0 tw 0 alloc {alloc} mem 0\nUDP: inuse {udp} mem 0\nUDPLITE: inuse {lite}\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n",
        socks.len()
    )
    .into_bytes()
}

/// /proc/net/raw or raw6: the namespace's raw ICMP (ICMPv6) sockets.
pub fn raw(names: &Names, v6: bool) -> Vec<u8> {
    let mut out = String::from(if v6 {
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
    } else {
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
    });
    let socks: Vec<_> = names
        .icmp
        .lock()
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .collect();
    for (sl, s) in socks.iter().filter(|s| s.v6() == v6).enumerate() {
        out.push_str(&s.proc_row(sl));
    }
    out.into_bytes()
}

/// /proc/net/arp: IPv4 neighbours. lo keeps none; eth0's are the
/// netstack's and are not listed (nor by rtnetlink's neighbour dump).
pub const ARP: &[u8] =
    b"IP address       HW type     Flags       HW address            Mask     Device\n";

/// /proc/net/packet: the sandbox makes no packet sockets.
pub const PACKET: &[u8] = b"sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n";

/// /proc/net/ipv6_route: the IPv6 routes, which are lo's alone (the
/// netstack's eth0 has IPv4 only): the unreachable default of the main
/// and local tables, and ::1 while lo is up.
pub fn ipv6_route(names: &Names) -> Vec<u8> {
    let zero = "00000000000000000000000000000000";
    let reject =
        format!("{zero} 00 {zero} 00 {zero} ffffffff 00000001 00000000 00200200       lo\n");
    let mut out = reject.clone();
    if names.lo_up() {
        out.push_str(&format!(
            "00000000000000000000000000000001 80 {zero} 00 {zero} 00000000 00000002 00000000 80200001       lo\n"
        ));
    }
    out.push_str(&reject);
    out.into_bytes()
}

/// /proc/net/igmp: the IPv4 multicast groups joined, all-hosts
/// (224.0.0.1) on every interface that is up and does multicast or is lo.
pub fn igmp(names: &Names) -> Vec<u8> {
    let mut out = String::from("Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n");
    for i in super::iface::list(names) {
        if i.up() && (i.loopback || i.flags & 0x1000 != 0) {
            out.push_str(&format!(
                "{}\t{:<10}:     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n",
                i.index, i.name
            ));
        }
    }
    out.into_bytes()
}

/// /proc/net/igmp6: lo's IPv6 groups (all-nodes, link and node local),
/// which it has up or down.
pub fn igmp6(names: &Names) -> Vec<u8> {
    let lo = super::iface::list(names).into_iter().find(|i| i.loopback);
    let Some(lo) = lo else {
        return Vec::new();
    };
    format!(
        "{0:<4} {1:<15} ff020000000000000000000000000001     1 0000000C 0\n{0:<4} {1:<15} ff010000000000000000000000000001     1 00000008 0\n",
        lo.index, lo.name
    )
    .into_bytes()
}
