//! NETLINK_SOCK_DIAG's SOCK_DIAG_BY_FAMILY dumps of the namespace's
//! sockets (inet_diag for TCP, UDP and UDP-Lite over IPv4 and IPv6, and
//! unix_diag), from the state /proc/net's tables read: what `ss` asks
//! for. A request's bytecode filter (INET_DIAG_REQ_BYTECODE) is not run:
//! every socket of the asked family, protocol and states is listed, and
//! ss applies its filter itself as well. Lookups of one socket and the
//! old TCPDIAG requests are EOPNOTSUPP.

use super::{Conn, LocalSocket, Names};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// AF_UNIX as unix_diag_msg's byte holds it.
const FAM_UNIX: u8 = 1;
const _: () = assert!(libc::AF_UNIX == FAM_UNIX as i32);
/// Families are below it.
const AF_MAX: i32 = 46;
/// Linux's TCP states as sock_diag numbers them.
const ESTABLISHED: u8 = 1;
const CLOSE: u8 = 7;
const CLOSE_WAIT: u8 = 8;
pub(super) const LISTEN: u8 = 10;
/// A request's attribute naming its protocol.
const INET_DIAG_REQ_PROTOCOL: u16 = 3;
/// inet_diag extensions (their bit is 1 << (n - 1) in the request's ext).
const INET_DIAG_INFO: u16 = 2;
const INET_DIAG_CONG: u16 = 4;
const INET_DIAG_SHUTDOWN: u16 = 8;
const INET_DIAG_SKV6ONLY: u16 = 11;
/// unix_diag's show flags and their attributes.
const UDIAG_SHOW_NAME: u32 = 1;
const UDIAG_SHOW_VFS: u32 = 2;
const UDIAG_SHOW_PEER: u32 = 4;
const UDIAG_SHOW_ICONS: u32 = 8;
const UDIAG_SHOW_RQLEN: u32 = 16;
const UDIAG_SHOW_UID: u32 = 64;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_VFS: u16 = 1;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_ICONS: u16 = 3;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_SHUTDOWN: u16 = 7;
const UNIX_DIAG_UID: u16 = 8;

/// The bodies answering a dump request `body` (its family first), or a
/// negative errno: EINVAL for a short request, ENOENT for a family
/// sock_diag has no handler for.
/// The dump's entries, and what its NLMSG_DONE carries: ENOENT for an
/// inet protocol with no handler, as Linux's.
pub fn dump(names: &Names, body: &[u8]) -> Result<(Vec<Vec<u8>>, i32), i32> {
    match body.first().map(|&f| i32::from(f)) {
        Some(libc::AF_INET | libc::AF_INET6) if body.len() >= 56 => Ok(inet(names, body)),
        Some(libc::AF_UNIX) if body.len() >= 24 => Ok((unix(names, body), 0)),
        // The sandbox has no packet sockets of its own.
        Some(libc::AF_PACKET) => Ok((Vec::new(), 0)),
        Some(libc::AF_INET | libc::AF_INET6 | libc::AF_UNIX) | None => Err(-libc::EINVAL),
        Some(f) if f >= AF_MAX => Err(-libc::EINVAL),
        Some(_) => Err(-libc::ENOENT),
    }
}

fn word(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}

/// A socket's state, receive and send queue numbers as sock_diag gives
/// them (a listener's are its pending connections and backlog).
pub(super) fn state_and_queues(s: &LocalSocket) -> (u8, u32, u32) {
    let tcp = s.family != libc::AF_UNIX && s.kind == libc::SOCK_STREAM;
    let remote = tcp.then(|| s.ext_tcp()).flatten();
    if let Some(c) = remote {
        let (rx, tx) = c.queues();
        return (c.linux_state(), sat(rx), sat(tx));
    }
    // A loopback TCP connection's state is its own (shutdowns move it);
    // what it sent is in the peer's queue, acknowledged at once.
    let tcp_state = tcp.then(|| s.tcp_state());
    let st = s.st.lock();
    match &st.conn {
        Conn::Listening { backlog, pending } => (LISTEN, sat(pending.len()), sat(*backlog)),
        Conn::Connected { .. } if tcp => {
            let state = tcp_state.unwrap_or(ESTABLISHED);
            // The peer's FIN, until a read meets it, is a byte to read.
            let fin = matches!(state, CLOSE_WAIT | CLOSE) && !st.fin_read;
            (state, sat(s.rx.queued() + usize::from(fin)), 0)
        }
        Conn::Connected { peer_rx, .. } => (ESTABLISHED, sat(s.rx.queued()), sat(peer_rx.queued())),
        Conn::None if st.remote.is_some() => (ESTABLISHED, sat(s.rx.queued()), 0),
        Conn::None => (CLOSE, sat(s.rx.queued()), 0),
    }
}

fn sat(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// struct inet_diag_req_v2: family, protocol, ext, states; then each
/// matching socket as struct inet_diag_msg with the extensions asked for.
fn inet(names: &Names, req: &[u8]) -> (Vec<Vec<u8>>, i32) {
    let family = i32::from(req[0]);
    // A protocol past a byte (MPTCP's 262) comes as an attribute.
    let protocol = super::netlink::attr_of(&req[56..], INET_DIAG_REQ_PROTOCOL)
        .and_then(|v| v.get(..4))
        .map_or(i32::from(req[1]), |v| {
            u32::from_ne_bytes(v.try_into().unwrap_or([0; 4])).cast_signed()
        });
    let ext = req[2];
    let states = word(req, 4);
    let (kind, lite) = match protocol {
        libc::IPPROTO_TCP => (libc::SOCK_STREAM, false),
        libc::IPPROTO_UDP => (libc::SOCK_DGRAM, false),
        libc::IPPROTO_UDPLITE => (libc::SOCK_DGRAM, true),
        _ => return (Vec::new(), -libc::ENOENT),
    };
    let mut out = Vec::new();
    for s in names.live() {
        if s.family != family || s.kind != kind || s.lite != lite {
            continue;
        }
        let (local, remote, shutdown) = {
            let st = s.st.lock();
            match st.local {
                Some(l) => (l, st.remote, st.shutdown),
                None => continue,
            }
        };
        let (state, rq, wq) = state_and_queues(&s);
        if states & (1 << state) == 0 {
            continue;
        }
        let mut b = vec![req[0], state, 0, 0];
        b.extend_from_slice(&local.port().to_be_bytes());
        b.extend_from_slice(&remote.map_or(0, |r| r.port()).to_be_bytes());
        b.extend_from_slice(&addr16(local));
        b.extend_from_slice(&remote.map_or([0; 16], addr16));
        b.extend_from_slice(&0u32.to_ne_bytes()); // bound interface
        b.extend_from_slice(&s.ino.to_ne_bytes()); // cookie
        for v in [0, rq, wq, s.owner(), sat_ino(s.ino)] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        if kind == libc::SOCK_STREAM {
            if ext & (1 << (INET_DIAG_INFO - 1)) != 0 {
                if let Ok(info) = s.inet_getsockopt(libc::IPPROTO_TCP, libc::TCP_INFO) {
                    super::netlink::attr(&mut b, INET_DIAG_INFO, &info);
                }
            }
            if ext & (1 << (INET_DIAG_CONG - 1)) != 0 {
                if let Ok(mut cong) = s.inet_getsockopt(libc::IPPROTO_TCP, libc::TCP_CONGESTION) {
                    let end = cong.iter().position(|&c| c == 0).unwrap_or(cong.len());
                    cong.truncate(end + 1);
                    super::netlink::attr(&mut b, INET_DIAG_CONG, &cong);
                }
            }
        }
        super::netlink::attr(&mut b, INET_DIAG_SHUTDOWN, &[shutdown]);
        if family == libc::AF_INET6 {
            let v6only = s
                .inet_getsockopt(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY)
                .is_ok_and(|v| v.first().is_some_and(|&b| b != 0));
            super::netlink::attr(&mut b, INET_DIAG_SKV6ONLY, &[u8::from(v6only)]);
        }
        out.push(b);
    }
    (out, 0)
}

/// An address as inet_diag_sockid holds it: IPv4 in the first word.
fn addr16(a: SocketAddr) -> [u8; 16] {
    let mut v = [0u8; 16];
    match a.ip() {
        IpAddr::V4(ip) => v[..4].copy_from_slice(&ip.octets()),
        IpAddr::V6(ip) => v = ip.octets(),
    }
    v
}

fn sat_ino(ino: u64) -> u32 {
    u32::try_from(ino).unwrap_or(u32::MAX)
}

/// struct unix_diag_req: family, protocol, states, inode, show; then each
/// matching socket as struct unix_diag_msg with what `show` asks for.
fn unix(names: &Names, req: &[u8]) -> Vec<Vec<u8>> {
    let states = word(req, 4);
    let show = word(req, 12);
    let mut out = Vec::new();
    let socks: Vec<Arc<LocalSocket>> = names
        .live()
        .into_iter()
        .filter(|s| s.family == libc::AF_UNIX)
        .collect();
    let embryos = embryos(&socks);
    for s in socks.into_iter().filter(|s| !embryos.contains(&s.ino)) {
        let (state, rq, wq) = state_and_queues(&s);
        if states & (1 << state) == 0 {
            continue;
        }
        let kind = u8::try_from(s.kind).unwrap_or(0);
        let mut b = vec![FAM_UNIX, kind, state, 0];
        b.extend_from_slice(&sat_ino(s.ino).to_ne_bytes());
        b.extend_from_slice(&s.ino.to_ne_bytes()); // cookie
        let (name, peer, icons, shutdown, vfs) = {
            let st = s.st.lock();
            let name = st
                .name
                .as_ref()
                .and_then(|n| n.get(2..))
                .map(<[u8]>::to_vec);
            // A peer not accepted yet has no inode to show (0).
            let peer = match &st.conn {
                Conn::Connected { peer, .. } => {
                    peer.upgrade()
                        .map(|p| if embryos.contains(&p.ino) { 0 } else { p.ino })
                }
                _ => None,
            };
            let icons: Vec<u64> = match &st.conn {
                Conn::Listening { pending, .. } => pending.iter().filter_map(peer_ino).collect(),
                _ => Vec::new(),
            };
            let vfs = match &st.key {
                Some(super::addr::NameKey::Path(ids)) => Some(*ids),
                _ => None,
            };
            (name, peer, icons, st.shutdown, vfs)
        };
        if show & UDIAG_SHOW_NAME != 0 {
            if let Some(n) = name {
                // A path name without its trailing NUL.
                let n = if n.first() == Some(&0) {
                    &n[..]
                } else {
                    n.strip_suffix(b"\0").unwrap_or(&n)
                };
                super::netlink::attr(&mut b, UNIX_DIAG_NAME, n);
            }
        }
        if show & UDIAG_SHOW_VFS != 0 {
            if let Some((dev, ino)) = vfs {
                let kdev = crate::fs::attr::kernel_dev(dev);
                let mut v = sat_ino(ino).to_ne_bytes().to_vec();
                v.extend_from_slice(&kdev.to_ne_bytes());
                super::netlink::attr(&mut b, UNIX_DIAG_VFS, &v);
            }
        }
        if show & UDIAG_SHOW_PEER != 0 {
            if let Some(p) = peer {
                // (0 included: Linux puts the attribute all the same.)
                super::netlink::attr(&mut b, UNIX_DIAG_PEER, &sat_ino(p).to_ne_bytes());
            }
        }
        if show & UDIAG_SHOW_ICONS != 0 && state == LISTEN {
            let v: Vec<u8> = icons
                .iter()
                .flat_map(|&i| sat_ino(i).to_ne_bytes())
                .collect();
            super::netlink::attr(&mut b, UNIX_DIAG_ICONS, &v);
        }
        if show & UDIAG_SHOW_RQLEN != 0 {
            let mut v = rq.to_ne_bytes().to_vec();
            v.extend_from_slice(&wq.to_ne_bytes());
            super::netlink::attr(&mut b, UNIX_DIAG_RQLEN, &v);
        }
        if show & UDIAG_SHOW_UID != 0 {
            super::netlink::attr(&mut b, UNIX_DIAG_UID, &s.owner().to_ne_bytes());
        }
        super::netlink::attr(&mut b, UNIX_DIAG_SHUTDOWN, &[shutdown]);
        out.push(b);
    }
    out
}

/// The client end of a pending connection, by the server side queued.
fn peer_ino(server: &Arc<LocalSocket>) -> Option<u64> {
    match &server.st.lock().conn {
        Conn::Connected { peer, .. } => peer.upgrade().map(|p| p.ino),
        _ => None,
    }
}

/// The server sides of unix connections not accepted yet: Linux lists
/// them nowhere until accept.
pub(super) fn embryos(socks: &[Arc<LocalSocket>]) -> std::collections::HashSet<u64> {
    let mut out = std::collections::HashSet::new();
    for s in socks.iter().filter(|s| s.family == libc::AF_UNIX) {
        if let Conn::Listening { pending, .. } = &s.st.lock().conn {
            out.extend(pending.iter().map(|p| p.ino));
        }
    }
    out
}
