//! AF_NETLINK, NETLINK_ROUTE: enough of rtnetlink for the sandbox's
//! interfaces (`iface`: lo, and eth0 under `--network sandbox`) to be
//! listed (getifaddrs, if_nameindex, `ip addr`, `ip link`, `ip route`,
//! `ip rule`, and `ip neigh` of lo alone). Requests are answered at once into the
//! socket's own queue; changes are refused (EOPNOTSUPP in an
//! NLMSG_ERROR) but for a link's flags and lo's own addresses.

use super::iface::{self, Iface};
use super::queue::Queue;
use crate::errno::{Errno, KResult};
use crate::fs::file::{File, FileOps};
use crate::fs::Stat;
use crate::kernel::waitq::{Events, Queues};
use crate::kernel::Ctx;
use crate::socket::{generic_option, Ancillary, NodeId, Received, SockOpts, Socket};
use parking_lot::Mutex;
use std::sync::Arc;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// Types below it are netlink's own control messages.
const NLMSG_MIN_TYPE: u16 = 16;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWNSID: u16 = 88;
const RTM_GETNSID: u16 = 90;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_GETNEIGH: u16 = 30;
/// NETLINK_SOCK_DIAG's one request.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const RTM_NEWRULE: u16 = 32;
const RTM_GETRULE: u16 = 34;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_MULTI: u16 = 2;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
/// An acknowledgement carries the request's header alone.
const NLM_F_CAPPED: u16 = 0x100;
const HDR: usize = 16;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RT_SCOPE_HOST: u8 = 254;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_KERNEL: u8 = 2;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;
const RTN_LOCAL: u8 = 2;
const RTN_BROADCAST: u8 = 3;
const RT_TABLE_LOCAL: u8 = 255;
/// Route attributes.
const RTA_DST: u16 = 1;
const RTA_SRC: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;
const RTA_PREF: u16 = 20;
const RTA_UID: u16 = 25;
/// A route get's answer is a cached clone; RTCF_LOCAL marks a local one.
const RTM_F_CLONED: u32 = 0x200;
const RTCF_LOCAL: u32 = 0x8000_0000;
const IFA_F_PERMANENT: u8 = 0x80;
/// Address families as the structures' bytes and words hold them.
const FAM_NETLINK: u16 = 16;
const FAM_UNSPEC: u8 = 0;
const FAM_INET: u8 = 2;
const FAM_INET6: u8 = 10;
const FAM_BRIDGE: u8 = 7;
const _: () = assert!(
    libc::AF_NETLINK == FAM_NETLINK as i32
        && libc::AF_INET == FAM_INET as i32
        && libc::AF_INET6 == FAM_INET6 as i32
);
/// sizeof(struct sockaddr_nl).
const SOCKADDR_NL: usize = 12;
/// SOL_NETLINK.
const SOL_NETLINK: i32 = 270;
/// NETLINK_CAP_ACK: errors carry the request's header alone.
const NETLINK_CAP_ACK: i32 = 10;

struct State {
    /// The port id bound (getsockname's nl_pid).
    port: u32,
    opts: SockOpts,
    netlink_opts: std::collections::BTreeMap<i32, i32>,
    /// The sender's uid as a route get reports it (RTA_UID).
    uid: u32,
}

/// A NETLINK_ROUTE or NETLINK_SOCK_DIAG socket.
pub struct NetlinkSocket {
    kind: i32,
    /// NETLINK_ROUTE or NETLINK_SOCK_DIAG: what its requests ask about.
    protocol: i32,
    rx: Queue,
    st: Mutex<State>,
    /// The namespace whose interfaces it lists.
    names: Arc<super::Names>,
    /// Its inode (socket:[N] and fstat).
    ino: u64,
}

impl NetlinkSocket {
    pub fn new(kind: i32, protocol: i32, names: &Arc<super::Names>) -> NetlinkSocket {
        NetlinkSocket {
            kind,
            protocol,
            names: names.clone(),
            ino: crate::fs::pipe::anon_ino(),
            rx: Queue::default(),
            st: Mutex::new(State {
                port: 0,
                opts: SockOpts::default(),
                netlink_opts: Default::default(),
                uid: 0,
            }),
        }
    }

    /// The open file of a new socket.
    pub fn file(kind: i32, protocol: i32, flags: i32, names: &Arc<super::Names>) -> Arc<File> {
        let s = NetlinkSocket::new(kind, protocol, names);
        let name = format!("socket:[{}]", s.ino).into_bytes();
        File::new(Box::new(s), flags, name)
    }

    /// Binds to the caller's pid when no port was asked for, as Linux
    /// does for a process's first netlink socket.
    fn autobind(&self, pid: i32) {
        let mut st = self.st.lock();
        if st.port == 0 {
            st.port = u32::try_from(pid).unwrap_or(0);
        }
    }
}

/// The most a dump's datagram holds (Linux's dumps fill up to 32 KiB).
const DUMP_CHUNK: usize = 32 << 10;

/// `out`'s messages in runs of at most `max` bytes (a message longer than
/// that alone), ending one at each of `breaks` too.
fn chunks<'a>(out: &'a [u8], max: usize, breaks: &[usize]) -> Vec<&'a [u8]> {
    let mut v = Vec::new();
    let (mut start, mut at) = (0, 0);
    while at + 4 <= out.len() {
        let len = u32::from_ne_bytes(out[at..at + 4].try_into().unwrap_or([0; 4])) as usize;
        let next = (at + len.max(HDR)).next_multiple_of(4).min(out.len());
        if at > start && (next - start > max || breaks.contains(&at)) {
            v.push(&out[start..at]);
            start = at;
        }
        at = next;
    }
    if start < out.len() {
        v.push(&out[start..]);
    }
    v
}

/// A `struct sockaddr_nl` with `pid`.
fn sockaddr_nl(pid: u32) -> Vec<u8> {
    let mut v = vec![0u8; SOCKADDR_NL];
    v[..2].copy_from_slice(&FAM_NETLINK.to_ne_bytes());
    v[4..8].copy_from_slice(&pid.to_ne_bytes());
    v
}

/// Appends an rtattr of `kind` holding `data`, padded to 4 bytes.
pub(super) fn attr(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Appends a message of `kind` with `body`, for request `seq` of `port`.
fn message(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, port: u32, body: &[u8]) {
    let len = HDR + body.len();
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&port.to_ne_bytes());
    out.extend_from_slice(body);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// The payload of the first attribute of `kind` in `attrs`.
pub(super) fn attr_of(attrs: &[u8], kind: u16) -> Option<&[u8]> {
    self::attrs(attrs).find(|a| a.0 == kind).map(|a| a.1)
}

/// The attributes in `attrs`, (type, payload), up to the first malformed
/// one (bounded: each length is checked against what is left).
fn attrs(mut attrs: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if attrs.len() < 4 {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let ty = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
        if len < 4 || len > attrs.len() {
            return None;
        }
        let value = &attrs[4..len];
        attrs = attrs.get(len.next_multiple_of(4)..).unwrap_or(&[]);
        Some((ty, value))
    })
}

/// RTM_NEWLINK's body for `i`.
fn link(i: &Iface) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    b[0] = FAM_UNSPEC;
    b[2..4].copy_from_slice(&i.arphrd.to_ne_bytes());
    b[4..8].copy_from_slice(&i.index.to_ne_bytes());
    b[8..12].copy_from_slice(&i.flags.to_ne_bytes());
    let mut name = i.name.as_bytes().to_vec();
    name.push(0);
    attr(&mut b, 3, &name); // IFLA_IFNAME
    attr(&mut b, 4, &i.mtu.to_ne_bytes()); // IFLA_MTU
    attr(&mut b, 13, &1000u32.to_ne_bytes()); // IFLA_TXQLEN
                                              // IFLA_OPERSTATE: lo's is unknown while up, a link's up when it
                                              // runs, else down.
    let running = i.flags & 0x40 != 0;
    let oper = match (i.loopback, running) {
        (true, true) => 0,
        (false, true) => 6,
        (_, false) => 2,
    };
    attr(&mut b, 16, &[oper]);
    attr(&mut b, 17, &[0]); // IFLA_LINKMODE
    attr(&mut b, 27, &0u32.to_ne_bytes()); // IFLA_GROUP: the default
                                           // A device never brought up has the noop qdisc.
    let qdisc: &[u8] = if i.up() { b"noqueue\0" } else { b"noop\0" };
    attr(&mut b, 6, qdisc); // IFLA_QDISC
                            // IFLA_STATS and IFLA_STATS64: packets and bytes each way, no
                            // errors (`ip -s link`).
    let (packets, bytes) = i.traffic;
    let mut s32 = vec![0u8; 24 * 4];
    let mut s64 = vec![0u8; 25 * 8];
    for (k, v) in [packets, packets, bytes, bytes].into_iter().enumerate() {
        // The 32-bit counters wrap, as Linux's copy of the 64-bit ones does.
        let low = u32::try_from(v % (1 << 32)).unwrap_or(0);
        s32[k * 4..k * 4 + 4].copy_from_slice(&low.to_ne_bytes());
        s64[k * 8..k * 8 + 8].copy_from_slice(&v.to_ne_bytes());
    }
    attr(&mut b, 7, &s32);
    attr(&mut b, 23, &s64);
    attr(&mut b, 1, &i.mac); // IFLA_ADDRESS
    let brd = if i.loopback { [0; 6] } else { [0xff; 6] };
    attr(&mut b, 2, &brd); // IFLA_BROADCAST
    b
}

/// RTM_NEWADDR's bodies for `i`'s addresses of `family` (AF_UNSPEC: both).
fn addrs(i: &Iface, family: u8) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let want = |f: u8| family == FAM_UNSPEC || family == f;
    let cacheinfo = {
        let mut c = Vec::new();
        c.extend_from_slice(&u32::MAX.to_ne_bytes());
        c.extend_from_slice(&u32::MAX.to_ne_bytes());
        c.extend_from_slice(&[0; 8]);
        c
    };
    let scope = if i.loopback {
        RT_SCOPE_HOST
    } else {
        RT_SCOPE_UNIVERSE
    };
    if want(FAM_INET) && i.has_v4() {
        let (ip, prefix) = i.v4;
        let mut b = vec![FAM_INET, prefix, IFA_F_PERMANENT, scope];
        b.extend_from_slice(&i.index.cast_unsigned().to_ne_bytes());
        attr(&mut b, 1, &ip.octets()); // IFA_ADDRESS
        attr(&mut b, 2, &ip.octets()); // IFA_LOCAL
        if !i.loopback {
            attr(&mut b, 4, &i.broadcast().octets()); // IFA_BROADCAST
        }
        let mut name = i.name.as_bytes().to_vec();
        name.push(0);
        attr(&mut b, 3, &name); // IFA_LABEL
        attr(&mut b, 8, &u32::from(IFA_F_PERMANENT).to_ne_bytes()); // IFA_FLAGS
        attr(&mut b, 6, &cacheinfo); // IFA_CACHEINFO
        out.push(b);
    }
    // The interface beyond lo has IPv4 only; lo has ::1 while up.
    if want(FAM_INET6) && i.loopback && i.up() {
        let mut b = vec![FAM_INET6, 128, IFA_F_PERMANENT, RT_SCOPE_HOST];
        b.extend_from_slice(&i.index.cast_unsigned().to_ne_bytes());
        attr(&mut b, 1, &std::net::Ipv6Addr::LOCALHOST.octets());
        attr(&mut b, 8, &u32::from(IFA_F_PERMANENT).to_ne_bytes());
        attr(&mut b, 6, &cacheinfo);
        out.push(b);
    }
    out
}

/// RTM_NEWRULE's bodies: the policy rules every network namespace starts
/// with, which are the order the sandbox's routing looks its tables up
/// in (IPv4: local, main, default; IPv6: local, main).
fn rules(family: u8) -> Vec<Vec<u8>> {
    const FR_ACT_TO_TBL: u8 = 1;
    const RT_TABLE_DEFAULT: u8 = 253;
    const FRA_PRIORITY: u16 = 6;
    const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
    const FRA_TABLE: u16 = 15;
    const FRA_PROTOCOL: u16 = 21;
    let rule = |fam: u8, table: u8, pref: u32| {
        let mut b = vec![fam, 0, 0, 0, table, 0, 0, FR_ACT_TO_TBL, 0, 0, 0, 0];
        attr(&mut b, FRA_TABLE, &u32::from(table).to_ne_bytes());
        attr(&mut b, FRA_SUPPRESS_PREFIXLEN, &u32::MAX.to_ne_bytes());
        attr(&mut b, FRA_PROTOCOL, &[RTPROT_KERNEL]);
        // Priority 0 is left out, as Linux leaves it.
        if pref != 0 {
            attr(&mut b, FRA_PRIORITY, &pref.to_ne_bytes());
        }
        b
    };
    let mut out = Vec::new();
    if family == FAM_UNSPEC || family == FAM_INET {
        out.push(rule(FAM_INET, RT_TABLE_LOCAL, 0));
        out.push(rule(FAM_INET, RT_TABLE_MAIN, 32766));
        out.push(rule(FAM_INET, RT_TABLE_DEFAULT, 32767));
    }
    if family == FAM_UNSPEC || family == FAM_INET6 {
        out.push(rule(FAM_INET6, RT_TABLE_LOCAL, 0));
        out.push(rule(FAM_INET6, RT_TABLE_MAIN, 32766));
    }
    out
}

/// RTM_NEWROUTE's bodies for the main table's IPv4 routes through `i`:
/// its subnet, and the default route when it has a gateway. (lo's are
/// in the local table, not listed.)
fn routes(i: &Iface, family: u8) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if i.loopback || !i.has_v4() || !(family == FAM_UNSPEC || family == FAM_INET) {
        return out;
    }
    let rtmsg = |dst_len: u8, proto: u8, scope: u8| {
        vec![
            FAM_INET,
            dst_len,
            0,
            0,
            RT_TABLE_MAIN,
            proto,
            scope,
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ]
    };
    if let Some(g) = i.gateway {
        let mut b = rtmsg(0, RTPROT_BOOT, RT_SCOPE_UNIVERSE);
        attr(&mut b, 15, &u32::from(RT_TABLE_MAIN).to_ne_bytes()); // RTA_TABLE
        attr(&mut b, 5, &g.octets()); // RTA_GATEWAY
        attr(&mut b, 4, &i.index.cast_unsigned().to_ne_bytes()); // RTA_OIF
        out.push(b);
    }
    let mut b = rtmsg(i.v4.1, RTPROT_KERNEL, RT_SCOPE_LINK);
    attr(&mut b, 15, &u32::from(RT_TABLE_MAIN).to_ne_bytes());
    attr(&mut b, 1, &i.network().octets()); // RTA_DST
    attr(&mut b, 7, &i.v4.0.octets()); // RTA_PREFSRC
    attr(&mut b, 4, &i.index.cast_unsigned().to_ne_bytes());
    out.push(b);
    out
}

/// struct rtmsg with its family, destination length, table, protocol,
/// scope, type and flags.
fn rtmsg(
    family: u8,
    dst_len: u8,
    table: u8,
    proto: u8,
    scope: u8,
    kind: u8,
    flags: u32,
) -> Vec<u8> {
    let mut b = vec![family, dst_len, 0, 0, table, proto, scope, kind];
    b.extend_from_slice(&flags.to_ne_bytes());
    b
}

/// The local table's routes (Linux's fib keeps them by address): each
/// IPv4 address is local, lo's whole 127/8 too, and each subnet has its
/// broadcast address; ::1 is lo's local IPv6 route.
fn local_routes(ifaces: &[Iface], family: u8) -> Vec<Vec<u8>> {
    let mut v4: Vec<(u32, u8, Vec<u8>)> = Vec::new();
    let route = |i: &Iface, dst: std::net::Ipv4Addr, len: u8, kind: u8, scope: u8| {
        let mut b = rtmsg(FAM_INET, len, RT_TABLE_LOCAL, RTPROT_KERNEL, scope, kind, 0);
        attr(&mut b, RTA_TABLE, &u32::from(RT_TABLE_LOCAL).to_ne_bytes());
        attr(&mut b, RTA_DST, &dst.octets());
        attr(&mut b, RTA_PREFSRC, &i.v4.0.octets());
        attr(&mut b, RTA_OIF, &i.index.cast_unsigned().to_ne_bytes());
        (u32::from(dst), len, b)
    };
    if family == FAM_UNSPEC || family == FAM_INET {
        for i in ifaces.iter().filter(|i| i.has_v4()) {
            if i.loopback {
                v4.push(route(i, i.network(), i.v4.1, RTN_LOCAL, RT_SCOPE_HOST));
            }
            v4.push(route(i, i.v4.0, 32, RTN_LOCAL, RT_SCOPE_HOST));
            if i.v4.1 < 31 {
                v4.push(route(i, i.broadcast(), 32, RTN_BROADCAST, RT_SCOPE_LINK));
            }
        }
    }
    v4.sort_by_key(|r| (r.0, r.1));
    let mut out: Vec<Vec<u8>> = v4.into_iter().map(|r| r.2).collect();
    if family == FAM_UNSPEC || family == FAM_INET6 {
        if let Some(lo) = ifaces.iter().find(|i| i.loopback) {
            out.push(local_v6(lo, false));
        }
    }
    out
}

/// lo's local route for ::1 (`get`: as a route get answers it, with
/// the source).
fn local_v6(lo: &Iface, get: bool) -> Vec<u8> {
    let mut b = rtmsg(
        FAM_INET6,
        128,
        RT_TABLE_LOCAL,
        RTPROT_KERNEL,
        RT_SCOPE_UNIVERSE,
        RTN_LOCAL,
        0,
    );
    attr(&mut b, RTA_TABLE, &u32::from(RT_TABLE_LOCAL).to_ne_bytes());
    attr(&mut b, RTA_DST, &std::net::Ipv6Addr::LOCALHOST.octets());
    if get {
        // rtm_src_len: the lookup's whole (unspecified) source.
        b[2] = 128;
        attr(&mut b, RTA_SRC, &std::net::Ipv6Addr::UNSPECIFIED.octets());
        attr(&mut b, RTA_PREFSRC, &std::net::Ipv6Addr::LOCALHOST.octets());
    }
    attr(&mut b, RTA_PRIORITY, &0u32.to_ne_bytes());
    attr(&mut b, RTA_OIF, &lo.index.cast_unsigned().to_ne_bytes());
    attr(&mut b, RTA_PREF, &[0]);
    b
}

/// RTM_NEWADDR: only lo's own addresses (127.0.0.1/8, ::1/128), which
/// a new namespace's lo gets when it comes up; what runtimes such as
/// bubblewrap add before bringing lo up. Another address, or another
/// interface's, is EOPNOTSUPP: the sandbox's addresses are fixed.
fn add_addr(
    names: &super::Names,
    ifaces: &[Iface],
    body: &[u8],
    msg_flags: u16,
    admin: bool,
) -> KResult<()> {
    const NLM_F_EXCL: u16 = 0x200;
    if !admin {
        return Err(Errno::EPERM);
    }
    if body.len() < 8 {
        return Err(Errno::EINVAL);
    }
    let (family, prefix) = (body[0], body[1]);
    let index = i32::from_ne_bytes(body[4..8].try_into().unwrap_or_default());
    let i = ifaces
        .iter()
        .find(|i| i.index == index)
        .ok_or(Errno::ENODEV)?;
    // IFA_LOCAL, else IFA_ADDRESS.
    let mut addr: Option<&[u8]> = None;
    for (kind, value) in attrs(&body[8..]) {
        match kind {
            2 => addr = Some(value),
            1 if addr.is_none() => addr = Some(value),
            _ => {}
        }
    }
    let addr = addr.ok_or(Errno::EINVAL)?;
    let v4 = family == FAM_INET && prefix == 8 && addr == [127, 0, 0, 1];
    let v6 = family == FAM_INET6
        && prefix == 128
        && addr == std::net::Ipv6Addr::LOCALHOST.octets().as_slice();
    if !i.loopback || !(v4 || (v6 && names.lo_up())) {
        return Err(Errno::EOPNOTSUPP);
    }
    let there = if v4 { names.lo_v4() } else { true };
    if there && msg_flags & NLM_F_EXCL != 0 {
        return Err(Errno::EEXIST);
    }
    if v4 {
        names.set_lo_v4();
    }
    Ok(())
}

/// RTM_NEWLINK (or RTM_SETLINK) changing link `body` names (by index,
/// or by IFLA_IFNAME): its flags alone, as ifi_change combines them
/// (0 meaning all); anything else asked of it is EOPNOTSUPP, as is
/// making a link. EPERM without CAP_NET_ADMIN, checked first as
/// rtnetlink does.
fn set_link(
    names: &super::Names,
    ifaces: &[Iface],
    body: &[u8],
    msg_flags: u16,
    admin: bool,
) -> KResult<()> {
    const IFLA_IFNAME: u16 = 3;
    const NLM_F_REPLACE: u16 = 0x100;
    const NLM_F_EXCL: u16 = 0x200;
    const NLM_F_CREATE: u16 = 0x400;
    // What a request may ask of a link that the sandbox does not do
    // (addresses, MTU, queue length, master, operstate, link kinds,
    // moving namespaces, alias, group, ...); other attributes are
    // ignored, as rtnetlink's parser ignores ones it does not know.
    const CHANGES: &[u16] = &[1, 2, 4, 5, 10, 13, 14, 16, 17, 18, 19, 20, 22, 27, 28, 39];
    if !admin {
        return Err(Errno::EPERM);
    }
    let word = |at: usize| {
        body.get(at..at + 4)
            .map_or(0, |b| u32::from_ne_bytes(b.try_into().unwrap()))
    };
    if body.len() < 16 {
        return Err(Errno::EINVAL);
    }
    let (index, flags, change) = (word(4).cast_signed(), word(8), word(12));
    let mut name = None;
    let mut other = false;
    for (kind, value) in attrs(&body[16..]) {
        match kind {
            IFLA_IFNAME => name = Some(value.split(|&c| c == 0).next().unwrap_or(&[])),
            k if CHANGES.contains(&k) => other = true,
            _ => {}
        }
    }
    let found = ifaces.iter().find(|i| match (index, name) {
        (0, Some(n)) => i.name.as_bytes() == n,
        (x, _) => x == i.index,
    });
    let Some(i) = found else {
        // Making a link (ip link add): no kind of link can be made here.
        return Err(if msg_flags & NLM_F_CREATE != 0 {
            Errno::EOPNOTSUPP
        } else {
            Errno::ENODEV
        });
    };
    if msg_flags & NLM_F_EXCL != 0 {
        return Err(Errno::EEXIST);
    }
    // A rename, or any change but the flags, is not the sandbox's to make.
    let renamed = index != 0 && name.is_some_and(|n| n != i.name.as_bytes());
    if other || renamed || msg_flags & NLM_F_REPLACE != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let new = if change == 0 {
        flags
    } else {
        (flags & change) | (i.flags & !change)
    };
    iface::change_flags(names, i, new)
}

/// RTM_GETNSID: the id the asking namespace gives the one named by
/// NETNSA_FD (a namespace file) or NETNSA_PID. The sandbox assigns no
/// ids (RTM_NEWNSID is not taken), so a namespace that exists has none:
/// NETNSA_NSID_NOT_ASSIGNED (-1), as Linux answers before any is set.
fn nsid(cx: &Ctx<'_, '_>, body: &[u8]) -> KResult<Vec<u8>> {
    const NETNSA_NSID: u16 = 1;
    const NETNSA_PID: u16 = 2;
    const NETNSA_FD: u16 = 3;
    let attrs = body.get(4..).unwrap_or(&[]);
    let int = |v: &[u8]| {
        v.get(..4)
            .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
    };
    if let Some(fd) = attr_of(attrs, NETNSA_FD).and_then(int) {
        let f = cx.task_ref().files.lock().get(fd)?;
        let net = f
            .downcast::<crate::fs::nsfs::NsFile>()
            .is_some_and(|n| matches!(n.ns, crate::fs::nsfs::Ns::Net(_)));
        if !net {
            return Err(Errno::EINVAL);
        }
    } else if let Some(pid) = attr_of(attrs, NETNSA_PID).and_then(int) {
        if !cx.st.tasks.contains_key(&pid) {
            return Err(Errno::ESRCH);
        }
    } else {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![FAM_UNSPEC, 0, 0, 0];
    attr(&mut b, NETNSA_NSID, &(-1i32).to_ne_bytes());
    Ok(b)
}

/// RTM_GETROUTE without NLM_F_DUMP (`ip route get`): the route a packet
/// to the request's RTA_DST takes, or the errno Linux's lookup gives.
fn route_get(ifaces: &[Iface], body: &[u8], uid: u32) -> Result<Vec<u8>, i32> {
    let family = body.first().copied().unwrap_or(0);
    let dst = attr_of(body.get(12..).unwrap_or(&[]), RTA_DST);
    let lo = ifaces
        .iter()
        .find(|i| i.loopback)
        .ok_or(-libc::ENETUNREACH)?;
    match family {
        FAM_INET => {
            let d: [u8; 4] = dst
                .unwrap_or(&[0; 4])
                .get(..4)
                .ok_or(-libc::EINVAL)?
                .try_into()
                .unwrap();
            let d = std::net::Ipv4Addr::from(d);
            let own = ifaces.iter().find(|i| i.has_v4() && i.v4.0 == d);
            let (kind, dev, src, gateway) = if d.is_loopback() || d.is_unspecified() {
                (RTN_LOCAL, lo, lo.v4.0, None)
            } else if let Some(i) = own {
                (RTN_LOCAL, lo, i.v4.0, None)
            } else if let Some(i) = ifaces.iter().find(|i| {
                !i.loopback
                    && i.has_v4()
                    && std::net::Ipv4Addr::from(u32::from(d) & u32::from(i.netmask()))
                        == i.network()
            }) {
                (RTN_UNICAST, i, i.v4.0, None)
            } else if let Some(i) = ifaces.iter().find(|i| i.gateway.is_some()) {
                (RTN_UNICAST, i, i.v4.0, i.gateway)
            } else {
                return Err(-libc::ENETUNREACH);
            };
            let local = if kind == RTN_LOCAL { RTCF_LOCAL } else { 0 };
            // A cached route names no table.
            let mut b = rtmsg(
                FAM_INET,
                32,
                0,
                0,
                RT_SCOPE_UNIVERSE,
                kind,
                RTM_F_CLONED | local,
            );
            attr(&mut b, RTA_TABLE, &0u32.to_ne_bytes());
            attr(&mut b, RTA_DST, &d.octets());
            attr(&mut b, RTA_OIF, &dev.index.cast_unsigned().to_ne_bytes());
            if let Some(g) = gateway {
                attr(&mut b, RTA_GATEWAY, &g.octets());
            }
            attr(&mut b, RTA_PREFSRC, &src.octets());
            attr(&mut b, RTA_UID, &uid.to_ne_bytes());
            Ok(b)
        }
        FAM_INET6 => {
            let d: [u8; 16] = dst
                .unwrap_or(&[0; 16])
                .get(..16)
                .ok_or(-libc::EINVAL)?
                .try_into()
                .unwrap();
            if std::net::Ipv6Addr::from(d) != std::net::Ipv6Addr::LOCALHOST {
                return Err(-libc::ENETUNREACH);
            }
            Ok(local_v6(lo, true))
        }
        _ => Err(-libc::EOPNOTSUPP),
    }
}

impl NetlinkSocket {
    /// Queues a message from the kernel (an mq_notify cookie) as one
    /// datagram; a full queue loses it, as Linux's does.
    pub fn deliver(&self, data: &[u8]) {
        let _ = self.rx.send_packet(
            data,
            sockaddr_nl(0),
            Ancillary::default(),
            212_992,
            usize::MAX,
        );
    }

    /// Answers the requests in `data` (one or more messages) into the
    /// socket's queue, as one datagram.
    /// `cx`: the sender, where known (changes need its CAP_NET_ADMIN
    /// over the namespace; RTM_GETNSID names a namespace by its fds).
    fn answer(&self, data: &[u8], port: u32, uid: u32, cx: Option<&Ctx<'_, '_>>) -> KResult<()> {
        let admin = cx.is_some_and(|cx| {
            cx.proc_ref()
                .creds
                .capable_in(&self.names.owner(), crate::kernel::creds::cap::NET_ADMIN)
        });
        let ifaces = iface::list(&self.names);
        // A device that is down has no routes.
        let up: Vec<Iface> = ifaces.iter().filter(|i| i.up()).cloned().collect();
        let mut out = Vec::new();
        // Where a datagram must end: a dump's NLMSG_DONE comes alone
        // after its entries, as Linux's dumps send it.
        let mut breaks = Vec::new();
        let mut off = 0;
        while off + HDR <= data.len() {
            let started = out.len();
            let h = &data[off..off + HDR];
            let len = u32::from_ne_bytes(h[..4].try_into().unwrap()) as usize;
            if len < HDR || off + len > data.len() {
                break;
            }
            let kind = u16::from_ne_bytes([h[4], h[5]]);
            let flags = u16::from_ne_bytes([h[6], h[7]]);
            let seq = u32::from_ne_bytes(h[8..12].try_into().unwrap());
            let body = &data[off + HDR..off + len];
            let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
            let multi = if dump { NLM_F_MULTI } else { 0 };
            let mut err = 0i32;
            // Not a request, or a control message (NOOP, DONE, ...):
            // nothing to do but an ack when asked, as Linux's.
            let handled = flags & NLM_F_REQUEST != 0 && kind >= NLMSG_MIN_TYPE;
            // What the dump's NLMSG_DONE carries (an errno for a dump that
            // ran into one, as an inet_diag protocol with no handler).
            let mut done_err = 0i32;
            if handled {
                match kind {
                    _ if self.protocol == libc::NETLINK_SOCK_DIAG => match kind {
                        SOCK_DIAG_BY_FAMILY if dump => {
                            match super::sockdiag::dump(&self.names, body) {
                                Ok((v, end)) => {
                                    done_err = end;
                                    for b in v {
                                        message(
                                            &mut out,
                                            SOCK_DIAG_BY_FAMILY,
                                            multi,
                                            seq,
                                            port,
                                            &b,
                                        );
                                    }
                                }
                                Err(e) => err = e,
                            }
                        }
                        // One socket's lookup, the old TCPDIAG requests
                        // and SOCK_DESTROY.
                        18 | 19 | SOCK_DIAG_BY_FAMILY | 21 => err = -libc::EOPNOTSUPP,
                        _ => err = -libc::EINVAL,
                    },
                    // AF_BRIDGE asks for bridge ports: there are none.
                    RTM_GETLINK if body.first() == Some(&FAM_BRIDGE) && dump => {}
                    RTM_GETLINK => {
                        let index = body
                            .get(4..8)
                            .map_or(0, |b| i32::from_ne_bytes(b.try_into().unwrap()));
                        // A get names its link by index or by IFLA_IFNAME
                        // (if_nametoindex through rtnetlink, as ip does).
                        let name = attr_of(body.get(16..).unwrap_or(&[]), 3)
                            .map(|n| n.split(|&c| c == 0).next().unwrap_or(&[]).to_vec());
                        let found: Vec<&Iface> = ifaces
                            .iter()
                            .filter(|i| {
                                dump || match (index, &name) {
                                    (0, Some(n)) => i.name.as_bytes() == n.as_slice(),
                                    (0, None) => true,
                                    (x, _) => x == i.index,
                                }
                            })
                            .collect();
                        if found.is_empty() {
                            err = -libc::ENODEV;
                        }
                        for i in found {
                            message(&mut out, RTM_NEWLINK, multi, seq, port, &link(i));
                        }
                    }
                    RTM_GETADDR => {
                        let family = body.first().copied().unwrap_or(0);
                        // A dump may ask for one interface's (ip's strict
                        // checking relies on it).
                        let index = body
                            .get(4..8)
                            .map_or(0, |b| i32::from_ne_bytes(b.try_into().unwrap()));
                        let wanted = ifaces.iter().filter(|i| index == 0 || i.index == index);
                        for b in wanted.flat_map(|i| addrs(i, family)) {
                            message(&mut out, RTM_NEWADDR, multi, seq, port, &b);
                        }
                    }
                    RTM_GETROUTE if dump => {
                        let family = body.first().copied().unwrap_or(0);
                        let main = up.iter().flat_map(|i| routes(i, family));
                        for b in main.chain(local_routes(&up, family)) {
                            message(&mut out, RTM_NEWROUTE, multi, seq, port, &b);
                        }
                    }
                    RTM_GETROUTE => match route_get(&up, body, uid) {
                        Ok(b) => message(&mut out, RTM_NEWROUTE, 0, seq, port, &b),
                        Err(e) => err = e,
                    },
                    RTM_GETRULE if dump => {
                        let family = body.first().copied().unwrap_or(0);
                        for b in rules(family) {
                            message(&mut out, RTM_NEWRULE, multi, seq, port, &b);
                        }
                    }
                    RTM_GETNSID => match cx.map(|cx| nsid(cx, body)) {
                        Some(Ok(b)) => message(&mut out, RTM_NEWNSID, 0, seq, port, &b),
                        Some(Err(e)) => err = -e.0,
                        None => err = -libc::EOPNOTSUPP,
                    },
                    RTM_NEWLINK | RTM_SETLINK => {
                        if let Err(e) = set_link(&self.names, &ifaces, body, flags, admin) {
                            err = -e.0;
                        }
                    }
                    RTM_NEWADDR => {
                        if let Err(e) = add_addr(&self.names, &ifaces, body, flags, admin) {
                            err = -e.0;
                        }
                    }
                    // lo keeps no neighbours (it does no ARP); eth0's
                    // are the network stack's, not listed (EOPNOTSUPP).
                    RTM_GETNEIGH if dump && ifaces.iter().all(|i| i.loopback) => {}
                    _ => err = -libc::EOPNOTSUPP,
                }
            }
            if dump && err == 0 && handled {
                if out.len() > started {
                    breaks.push(out.len());
                }
                message(
                    &mut out,
                    NLMSG_DONE,
                    NLM_F_MULTI,
                    seq,
                    port,
                    &done_err.to_ne_bytes(),
                );
            } else if err != 0 || flags & NLM_F_ACK != 0 {
                // An error carries the whole request back, unless the
                // socket asked for headers alone (NETLINK_CAP_ACK).
                let cap_ack = self.st.lock().netlink_opts.get(&NETLINK_CAP_ACK) == Some(&1);
                let back = if err != 0 && !cap_ack {
                    &data[off..off + len]
                } else {
                    h
                };
                let mut b = err.to_ne_bytes().to_vec();
                b.extend_from_slice(back);
                // The request as it was, padded to netlink's alignment.
                b.resize(4 + back.len().next_multiple_of(4), 0);
                let capped = if back.len() < len { NLM_F_CAPPED } else { 0 };
                message(&mut out, NLMSG_ERROR, capped, seq, port, &b);
            }
            off += len.next_multiple_of(4);
        }
        if out.is_empty() {
            return Ok(());
        }
        // A long dump goes as datagrams of at most 32 KiB, each whole
        // messages, as Linux's dumps do (a reader's fixed buffer takes
        // them one at a time). Past the first, they are queued whatever
        // the queue holds: the dump is bounded by what it lists.
        let mut first = true;
        for chunk in chunks(&out, DUMP_CHUNK, &breaks) {
            let limit = if first { 212_992 } else { usize::MAX };
            first = false;
            match self.rx.send_packet(
                chunk,
                sockaddr_nl(0),
                Ancillary::default(),
                limit,
                usize::MAX,
            ) {
                // A full queue loses the answer, as Linux's (ENOBUFS on read).
                Err(e) if e == Errno::EAGAIN => return Ok(()),
                r => r.map(|_| ())?,
            }
        }
        Ok(())
    }
}

impl Socket for NetlinkSocket {
    fn family(&self) -> i32 {
        libc::AF_NETLINK
    }
    fn kind(&self) -> i32 {
        self.kind
    }
    fn protocol(&self) -> i32 {
        0
    }
    fn bind(&self, ctx: &Ctx<'_, '_>, addr: &[u8], _node: Option<NodeId>) -> KResult<()> {
        if addr.len() < SOCKADDR_NL {
            return Err(Errno::EINVAL);
        }
        if u16::from_ne_bytes([addr[0], addr[1]]) != FAM_NETLINK {
            return Err(Errno::EINVAL);
        }
        let pid = u32::from_ne_bytes(addr[4..8].try_into().unwrap());
        let groups = u32::from_ne_bytes(addr[8..12].try_into().unwrap());
        if groups != 0 {
            ctx.log_once("netlink multicast groups (no notifications are sent)");
        }
        if pid != 0 {
            self.st.lock().port = pid;
        } else {
            self.autobind(ctx.task_ref().vtgid);
        }
        Ok(())
    }
    fn listen(&self, _ctx: &Ctx<'_, '_>, _backlog: i32) -> KResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    fn accept(&self) -> KResult<Box<dyn FileOps>> {
        Err(Errno::EOPNOTSUPP)
    }
    fn connect(&self, ctx: &Ctx<'_, '_>, addr: &[u8], _node: Option<NodeId>) -> KResult<()> {
        if addr.len() < SOCKADDR_NL {
            return Err(Errno::EINVAL);
        }
        self.autobind(ctx.task_ref().vtgid);
        Ok(())
    }
    fn shutdown(&self, _how: i32) -> KResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    fn sockname(&self) -> KResult<Vec<u8>> {
        Ok(sockaddr_nl(self.st.lock().port))
    }
    fn peername(&self) -> KResult<Vec<u8>> {
        Ok(sockaddr_nl(0))
    }
    fn send(
        &self,
        ctx: &Ctx<'_, '_>,
        data: &[u8],
        to: Option<(&[u8], Option<NodeId>)>,
        _anc: Ancillary,
    ) -> KResult<usize> {
        if let Some((a, _)) = to {
            // Only the kernel (port 0) is there to talk to.
            if a.len() < SOCKADDR_NL || a[4..8] != [0; 4] {
                return Err(Errno::ECONNREFUSED);
            }
        }
        self.autobind(ctx.task_ref().vtgid);
        let port = {
            let mut st = self.st.lock();
            st.uid = ctx.proc_ref().creds.euid;
            st.port
        };
        let uid = self.st.lock().uid;
        self.answer(data, port, uid, Some(ctx))?;
        Ok(data.len())
    }
    fn recv(&self, max: usize, peek: bool) -> KResult<Received> {
        self.rx.recv_packet(max, peek)
    }
    fn timeout(&self, send: bool) -> Option<std::time::Duration> {
        self.st.lock().opts.timeout(send)
    }
    fn getsockopt(&self, level: i32, name: i32) -> KResult<Vec<u8>> {
        if level == SOL_NETLINK {
            // netlink_getsockopt's options: PKTINFO, BROADCAST_ERROR,
            // NO_ENOBUFS, LIST_MEMBERSHIPS, CAP_ACK, EXT_ACK,
            // GET_STRICT_CHK.
            if !matches!(name, 3 | 4 | 5 | 9 | 10 | 11 | 12) {
                return Err(Errno::ENOPROTOOPT);
            }
            let v = self.st.lock().netlink_opts.get(&name).copied().unwrap_or(0);
            return Ok(v.to_ne_bytes().to_vec());
        }
        if level == libc::SOL_SOCKET {
            if let Some(v) = self.st.lock().opts.get(name) {
                return Ok(v);
            }
            if matches!(name, libc::SO_SNDBUF | libc::SO_RCVBUF) {
                return Ok(212_992i32.to_ne_bytes().to_vec());
            }
        }
        generic_option(self, level, name)
    }
    fn setsockopt(&self, level: i32, name: i32, value: &[u8]) -> KResult<()> {
        let int = || crate::socket::int_option(value);
        match level {
            // netlink_setsockopt's options. Memberships (ADD and DROP,
            // 1 and 2) are kept with no effect: the sandbox's links and
            // addresses do not change under a listener.
            SOL_NETLINK => {
                if !matches!(name, 1 | 2 | 3 | 4 | 5 | 8 | 10 | 11 | 12) {
                    return Err(Errno::ENOPROTOOPT);
                }
                let v = int()?;
                if matches!(name, 1 | 2) && v == 0 {
                    return Err(Errno::EINVAL);
                }
                self.st.lock().netlink_opts.insert(name, v);
                Ok(())
            }
            libc::SOL_SOCKET => {
                if let Some(r) = self.st.lock().opts.set(name, value) {
                    return r;
                }
                match name {
                    libc::SO_SNDBUF
                    | libc::SO_RCVBUF
                    | libc::SO_SNDBUFFORCE
                    | libc::SO_RCVBUFFORCE => int().map(|_| ()),
                    libc::SO_PASSCRED => int().map(|_| ()),
                    _ => Err(Errno::ENOPROTOOPT),
                }
            }
            _ => Err(Errno::ENOPROTOOPT),
        }
    }
}

impl FileOps for NetlinkSocket {
    fn read(&self, _f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        self.rx.read_packet(buf, off)
    }
    fn write(&self, _f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let (port, uid) = {
            let st = self.st.lock();
            (st.port, st.uid)
        };
        // write(2) has no caller here to hold CAP_NET_ADMIN: it reads,
        // and changes are EPERM (tools send them with sendmsg).
        self.answer(buf, port, uid, None)?;
        Ok(buf.len())
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat {
            ino: self.ino,
            ..super::socket_stat()
        })
    }
    fn poll(&self, events: i16) -> i16 {
        self.rx.poll_always_writable(events)
    }
    fn wait_queues(&self, _c: &crate::fs::vfs::Caller, ev: Events) -> Queues {
        let mut q = Queues::new();
        q.push((self.rx.wq.clone(), ev));
        q
    }
    fn ioctl(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        _f: &Arc<File>,
        cmd: u64,
        arg: u64,
    ) -> KResult<u64> {
        super::ifreq::ioctl(&cx.mm, &self.names, cmd, arg).unwrap_or(Err(Errno::ENOTTY))
    }
    fn socket(&self) -> Option<&dyn Socket> {
        Some(self)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::iface::LO_INDEX;

    /// The messages of one datagram: (type, flags, body).
    fn split(d: &[u8]) -> Vec<(u16, u16, Vec<u8>)> {
        let mut v = Vec::new();
        let mut off = 0;
        while off + HDR <= d.len() {
            let len = u32::from_ne_bytes(d[off..off + 4].try_into().unwrap()) as usize;
            let kind = u16::from_ne_bytes([d[off + 4], d[off + 5]]);
            let flags = u16::from_ne_bytes([d[off + 6], d[off + 7]]);
            v.push((kind, flags, d[off + HDR..off + len].to_vec()));
            off += len.next_multiple_of(4);
        }
        v
    }

    /// Answers one request and splits the reply into its messages.
    fn ask(s: &NetlinkSocket, kind: u16, flags: u16, body: &[u8]) -> Vec<(u16, u16, Vec<u8>)> {
        s.answer(&request(kind, flags, body), 1, 0, None).unwrap();
        // Every datagram the answer took.
        let mut msgs = Vec::new();
        while let Ok(r) = s.rx.recv_packet(1 << 16, false) {
            msgs.extend(split(&r.data));
        }
        msgs
    }

    fn request(kind: u16, flags: u16, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        message(&mut v, kind, flags, 7, 0, body);
        v
    }

    #[test]
    fn control_messages_and_non_requests_get_an_ack_alone() {
        let s = NetlinkSocket::new(libc::SOCK_RAW, libc::NETLINK_ROUTE, &Default::default());
        // NLMSG_NOOP with an ack asked: acked with 0.
        let m = ask(&s, 1, NLM_F_REQUEST | NLM_F_ACK, &[]);
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].0, i32::from_ne_bytes(m[0].2[..4].try_into().unwrap())),
            (NLMSG_ERROR, 0)
        );
        // A dump that is no request: nothing at all.
        s.answer(&request(RTM_GETLINK, NLM_F_DUMP, &[0; 16]), 1, 0, None)
            .unwrap();
        assert!(s.rx.recv_packet(1 << 16, false).is_err());
    }

    #[test]
    fn long_dumps_go_as_datagrams_of_whole_messages() {
        let mut out = Vec::new();
        for i in 0..100u32 {
            message(&mut out, RTM_NEWLINK, NLM_F_MULTI, i, 1, &[0u8; 1000]);
        }
        let c = chunks(&out, DUMP_CHUNK, &[]);
        assert_eq!(c.len(), 4);
        assert!(c
            .iter()
            .all(|d| d.len() <= DUMP_CHUNK && split(d).len() * 1016 == d.len()));
        assert_eq!(c.iter().map(|d| d.len()).sum::<usize>(), out.len());
        assert_eq!(chunks(&out[..1016], DUMP_CHUNK, &[]).len(), 1);
        // A break ends a datagram where it says.
        assert_eq!(chunks(&out[..3048], DUMP_CHUNK, &[2032]).len(), 2);
    }

    #[test]
    fn rule_dumps_list_the_default_rules_by_family() {
        let s = NetlinkSocket::new(libc::SOCK_RAW, libc::NETLINK_ROUTE, &Default::default());
        let table_pref = |m: &(u16, u16, Vec<u8>)| {
            let prio =
                attr_of(&m.2[12..], 6).map_or(0, |v| u32::from_ne_bytes(v.try_into().unwrap()));
            (m.2[0], m.2[4], prio)
        };
        let msgs = ask(
            &s,
            RTM_GETRULE,
            NLM_F_REQUEST | NLM_F_DUMP,
            &[FAM_INET, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        let got: Vec<_> = msgs
            .iter()
            .filter(|m| m.0 == RTM_NEWRULE)
            .map(table_pref)
            .collect();
        assert_eq!(
            got,
            [
                (FAM_INET, 255, 0),
                (FAM_INET, 254, 32766),
                (FAM_INET, 253, 32767)
            ]
        );
        assert_eq!(msgs.last().map(|m| m.0), Some(NLMSG_DONE));
        let msgs = ask(&s, RTM_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, &[FAM_INET6; 1]);
        let got: Vec<_> = msgs
            .iter()
            .filter(|m| m.0 == RTM_NEWRULE)
            .map(table_pref)
            .collect();
        assert_eq!(got, [(FAM_INET6, 255, 0), (FAM_INET6, 254, 32766)]);
        // lo has no neighbours: a dump that is only its end.
        let msgs = ask(&s, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, &[0; 12]);
        assert_eq!(msgs.iter().map(|m| m.0).collect::<Vec<_>>(), [NLMSG_DONE]);
    }

    #[test]
    fn a_link_dump_lists_lo_then_done() {
        let s = NetlinkSocket::new(libc::SOCK_RAW, libc::NETLINK_ROUTE, &Default::default());
        s.answer(
            &request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &[0; 16]),
            42,
            0,
            None,
        )
        .unwrap();
        let r = s.rx.recv_packet(1 << 16, false).unwrap();
        let mut msgs = split(&r.data);
        // The end of the dump comes in a datagram of its own.
        assert_eq!(msgs.len(), 1);
        msgs.extend(split(&s.rx.recv_packet(1 << 16, false).unwrap().data));
        assert_eq!(msgs.len(), 2);
        assert_eq!((msgs[0].0, msgs[0].1), (RTM_NEWLINK, NLM_F_MULTI));
        assert_eq!(
            i32::from_ne_bytes(msgs[0].2[4..8].try_into().unwrap()),
            LO_INDEX
        );
        assert!(msgs[0].2.windows(3).any(|w| w == b"lo\0"));
        assert_eq!(msgs[1].0, NLMSG_DONE);
    }

    #[test]
    fn an_address_dump_filters_by_family() {
        let s = NetlinkSocket::new(libc::SOCK_RAW, libc::NETLINK_ROUTE, &Default::default());
        let mut body = vec![0u8; 8];
        body[0] = FAM_INET6;
        let msgs = ask(&s, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &body);
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            (msgs[0].0, msgs[0].2[0], msgs[0].2[1]),
            (RTM_NEWADDR, FAM_INET6, 128)
        );
    }

    #[test]
    fn a_route_get_answers_once_or_with_an_error() {
        let s = NetlinkSocket::new(libc::SOCK_RAW, libc::NETLINK_ROUTE, &Default::default());
        let get = |family: u8, dst: &[u8]| {
            let mut body = vec![family, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            attr(&mut body, RTA_DST, dst);
            ask(&s, RTM_GETROUTE, NLM_F_REQUEST, &body)
        };
        let m = get(FAM_INET, &[127, 0, 0, 9]);
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].0, m[0].2[7]), (RTM_NEWROUTE, RTN_LOCAL));
        assert_eq!(
            attr_of(&m[0].2[12..], RTA_PREFSRC),
            Some(&[127, 0, 0, 1][..])
        );
        let m = get(FAM_INET, &[8, 8, 8, 8]);
        assert_eq!(m[0].0, NLMSG_ERROR);
        assert_eq!(
            i32::from_ne_bytes(m[0].2[..4].try_into().unwrap()),
            -libc::ENETUNREACH
        );
        let m = get(FAM_INET6, &std::net::Ipv6Addr::LOCALHOST.octets());
        assert_eq!((m[0].0, m[0].2[4]), (RTM_NEWROUTE, RT_TABLE_LOCAL));
        // A short address is no address.
        assert_eq!(get(FAM_INET, &[127])[0].0, NLMSG_ERROR);
        // The local table's dump: 127/8, 127.0.0.1, the broadcast, ::1.
        let m = ask(&s, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, &[0; 12]);
        let kinds: Vec<(u8, u8)> = m
            .iter()
            .filter(|x| x.0 == RTM_NEWROUTE)
            .map(|x| (x.2[1], x.2[7]))
            .collect();
        assert_eq!(
            kinds,
            [
                (8, RTN_LOCAL),
                (32, RTN_LOCAL),
                (32, RTN_BROADCAST),
                (128, RTN_LOCAL)
            ]
        );
        assert_eq!(m.last().unwrap().0, NLMSG_DONE);
    }

    #[test]
    fn a_bridge_link_dump_lists_no_ports() {
        let s = NetlinkSocket::new(libc::SOCK_RAW, libc::NETLINK_ROUTE, &Default::default());
        let mut body = vec![0u8; 16];
        body[0] = FAM_BRIDGE;
        let msgs = ask(&s, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &body);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].0, NLMSG_DONE);
    }

    #[test]
    fn a_get_by_name_finds_that_link_or_enodev() {
        let s = NetlinkSocket::new(libc::SOCK_RAW, libc::NETLINK_ROUTE, &Default::default());
        let mut body = vec![0u8; 16];
        attr(&mut body, 3, b"lo\0");
        let msgs = ask(&s, RTM_GETLINK, NLM_F_REQUEST, &body);
        assert_eq!(msgs.len(), 1);
        assert_eq!(
            i32::from_ne_bytes(msgs[0].2[4..8].try_into().unwrap()),
            LO_INDEX
        );
        let mut body = vec![0u8; 16];
        attr(&mut body, 3, b"eth0\0");
        let msgs = ask(&s, RTM_GETLINK, NLM_F_REQUEST, &body);
        assert_eq!(msgs[0].0, NLMSG_ERROR);
        assert_eq!(
            i32::from_ne_bytes(msgs[0].2[..4].try_into().unwrap()),
            -libc::ENODEV
        );
        // A malformed attribute list is no name at all.
        assert_eq!(attr_of(&[200, 0, 3, 0, b'x'], 3), None);
    }

    #[test]
    fn an_address_dump_may_name_its_interface() {
        let s = NetlinkSocket::new(libc::SOCK_RAW, libc::NETLINK_ROUTE, &Default::default());
        let mut body = vec![0u8; 8];
        body[4..8].copy_from_slice(&7i32.to_ne_bytes());
        let msgs = ask(&s, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &body);
        // No such interface: only the end of the dump.
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].0, NLMSG_DONE);
    }

    #[test]
    fn changes_are_refused_with_an_error_message() {
        let s = NetlinkSocket::new(libc::SOCK_RAW, libc::NETLINK_ROUTE, &Default::default());
        let msgs = ask(&s, RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK, &[0; 12]);
        assert_eq!(msgs[0].0, NLMSG_ERROR);
        assert_eq!(
            i32::from_ne_bytes(msgs[0].2[..4].try_into().unwrap()),
            -libc::EOPNOTSUPP
        );
    }

    #[test]
    fn lo_takes_its_own_addresses_only() {
        let root: Arc<super::super::Names> = Default::default();
        let n = root.child(crate::kernel::userns::init());
        let req = |fam: u8, prefix: u8, index: i32, a: &[u8]| {
            let mut b = vec![fam, prefix, 0, 0];
            b.extend_from_slice(&index.to_ne_bytes());
            attr(&mut b, 2, a);
            b
        };
        let lo4 = req(FAM_INET, 8, 1, &[127, 0, 0, 1]);
        let lo6 = req(FAM_INET6, 128, 1, &std::net::Ipv6Addr::LOCALHOST.octets());
        let ifs = iface::list(&n);
        assert!(!n.lo_v4());
        assert_eq!(add_addr(&n, &ifs, &lo4, 0, false), Err(Errno::EPERM));
        let other = req(FAM_INET, 8, 1, &[10, 0, 0, 1]);
        assert_eq!(add_addr(&n, &ifs, &other, 0, true), Err(Errno::EOPNOTSUPP));
        let nowhere = req(FAM_INET, 8, 9, &[127, 0, 0, 1]);
        assert_eq!(add_addr(&n, &ifs, &nowhere, 0, true), Err(Errno::ENODEV));
        // ::1 is there only while lo is up.
        assert_eq!(add_addr(&n, &ifs, &lo6, 0, true), Err(Errno::EOPNOTSUPP));
        // NLM_F_CREATE | NLM_F_EXCL, as ip and bubblewrap send it.
        assert_eq!(add_addr(&n, &ifs, &lo4, 0x600, true), Ok(()));
        assert!(n.lo_v4() && !n.lo_up());
        assert_eq!(iface::list(&n)[0].v4.1, 8, "shown while down");
        assert_eq!(add_addr(&n, &ifs, &lo4, 0x600, true), Err(Errno::EEXIST));
        n.set_lo_up(true);
        n.set_lo_up(false);
        assert!(n.lo_v4(), "kept through a down");
        // A success is acknowledged with the request's header alone.
        let s = NetlinkSocket::new(libc::SOCK_RAW, libc::NETLINK_ROUTE, &Default::default());
        let msgs = ask(&s, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &[0; 16]);
        let ack = msgs.iter().find(|m| m.0 == NLMSG_ERROR).unwrap();
        assert_eq!(ack.1, NLM_F_CAPPED);
    }
}
