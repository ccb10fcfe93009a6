//! Raw ICMP and ICMPv6 sockets (SOCK_RAW, for root, as `ping` opens
//! them) on the sandbox's own addresses: an echo request to lo (or the
//! interface's own address) is answered at once. As on Linux, every raw
//! socket of its kind in the namespace sees each ICMP message, the
//! request and the reply, less the types its ICMP_FILTER drops; an IPv4
//! raw socket reads the IP header too, an ICMPv6 one does not. Under
//! `--network sandbox` an IPv4 echo request to another address goes out
//! through the netstack, on an ICMP socket for its identifier, and the
//! replies come back to every raw socket; without an interface (and for
//! ICMPv6 beyond lo) it is ENETUNREACH.

use super::inet::{format, lo_down, parse};
use super::queue::Queue;
use super::Names;
use crate::errno::{Errno, KResult};
use crate::fs::file::{File, FileOps};
use crate::fs::Stat;
use crate::kernel::waitq::{Events, Queues};
use crate::kernel::Ctx;
use crate::socket::{generic_option, Ancillary, NodeId, Received, SockOpts, Socket};
use parking_lot::Mutex;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};

/// SOL_RAW and its ICMP_FILTER option (IPv4), and ICMPv6's filter.
const SOL_RAW: i32 = 255;
const ICMP_FILTER: i32 = 1;
const ICMPV6_FILTER: i32 = 1;
const IPV6_CHECKSUM: i32 = 7;
const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;
const ECHO6_REQUEST: u8 = 128;
const ECHO6_REPLY: u8 = 129;
/// Linux's default receive room.
const RCVBUF: usize = 212_992;

struct State {
    /// ICMP_FILTER: types whose bit is set are not delivered.
    filter: u32,
    /// ICMP6_FILTER: the 256-bit block mask (a set bit blocks).
    filter6: [u32; 8],
    /// IPV6_CHECKSUM at SOL_RAW (ICMPv6's is always computed).
    checksum_offset: i32,
    opts: SockOpts,
    proto_opts: std::collections::BTreeMap<(i32, i32), i32>,
    /// connect(2)'s peer: what a plain send goes to.
    peer: Option<SocketAddr>,
}

pub struct IcmpSocket {
    /// Its inode (socket:[N], fstat, /proc/net/raw).
    ino: u64,
    /// Who made it (/proc/net/raw's uid).
    owner: std::sync::atomic::AtomicU32,
    family: i32,
    rx: Queue,
    st: Mutex<State>,
    names: Arc<Names>,
    this: Weak<IcmpSocket>,
    /// The netstack's ICMP sockets for the echo identifiers this socket
    /// sent beyond the sandbox (the newest few).
    echo: Mutex<Vec<(u16, Arc<netstack::IcmpSock>)>>,
}

/// How many echo identifiers one raw socket keeps open in the netstack.
const ECHO_IDENTS: usize = 8;

/// The internet checksum of `parts`, as one byte string.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for p in parts {
        for &b in p.iter() {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(u16::MAX)
}

/// An IPv4 header of an ICMP message of `len` bytes from `src` to `dst`.
fn ipv4_header(src: [u8; 4], dst: [u8; 4], len: usize) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45;
    let total = u16::try_from(20 + len).unwrap_or(u16::MAX);
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[8] = 64; // TTL
    h[9] = 1; // ICMP
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let c = checksum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

impl IcmpSocket {
    pub fn new(family: i32, names: &Arc<Names>) -> Arc<IcmpSocket> {
        let s = Arc::new_cyclic(|this| IcmpSocket {
            this: this.clone(),
            ino: crate::fs::pipe::anon_ino(),
            owner: Default::default(),
            echo: Mutex::new(Vec::new()),
            family,
            rx: Queue::new(names.in_flight.clone()),
            st: Mutex::new(State {
                filter: 0,
                filter6: [0; 8],
                checksum_offset: 2,
                opts: SockOpts::default(),
                proto_opts: Default::default(),
                peer: None,
            }),
            names: names.clone(),
        });
        let mut all = names.icmp.lock();
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&s));
        s
    }

    /// The open file of a new socket of `owner` (a uid).
    pub fn file(family: i32, flags: i32, names: &Arc<Names>, owner: u32) -> Arc<File> {
        let s = IcmpSocket::new(family, names);
        s.owner.store(owner, std::sync::atomic::Ordering::Relaxed);
        let name = format!("socket:[{}]", s.ino).into_bytes();
        File::new(Box::new(IcmpFile(s)), flags, name)
    }

    /// Its row in /proc/net/raw or raw6 (`sl` its number there): the
    /// protocol as the local port, the peer a connect named, the bytes
    /// queued, owner and inode.
    pub fn proc_row(&self, sl: usize) -> String {
        let v6 = self.v6();
        let proto: u16 = if v6 { 58 } else { 1 };
        let any = if v6 {
            SocketAddr::from(([0u16; 8], 0))
        } else {
            SocketAddr::from(([0u8; 4], 0))
        };
        let peer = self.st.lock().peer.unwrap_or(any);
        let mut local = any;
        local.set_port(proto);
        format!(
            "{sl:4}: {} {} 07 00000000:{:08X} 00:00000000 00000000 {:5} {:8} {} 2 0000000000000000 0\n",
            super::procnet::hex(local, v6),
            super::procnet::hex(peer, v6),
            self.rx.queued(),
            self.owner.load(std::sync::atomic::Ordering::Relaxed),
            0,
            self.ino
        )
    }

    pub(super) fn v6(&self) -> bool {
        self.family == libc::AF_INET6
    }

    /// Whether this socket lets a message of `ty` through its filter.
    fn passes(&self, ty: u8) -> bool {
        let st = self.st.lock();
        if self.v6() {
            st.filter6[usize::from(ty / 32)] & (1 << (ty % 32)) == 0
        } else {
            ty >= 32 || st.filter & (1 << ty) == 0
        }
    }

    /// Hands the ICMP message `icmp` from `src` to `dst` to every raw
    /// socket of this kind in the namespace.
    fn deliver(&self, src: IpAddr, dst: IpAddr, icmp: &[u8]) {
        let all: Vec<Arc<IcmpSocket>> = self
            .names
            .icmp
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for s in all {
            if s.family != self.family || !s.passes(icmp[0]) {
                continue;
            }
            let msg = match (src, dst) {
                (IpAddr::V4(a), IpAddr::V4(b)) => {
                    let mut m = ipv4_header(a.octets(), b.octets(), icmp.len()).to_vec();
                    m.extend_from_slice(icmp);
                    m
                }
                _ => icmp.to_vec(),
            };
            let from = format(s.family, SocketAddr::new(src, 0));
            // A full queue loses the message, as Linux's.
            let _ =
                s.rx.send_packet(&msg, from, Ancillary::default(), RCVBUF, usize::MAX);
        }
    }

    fn is_own(&self, ip: IpAddr) -> bool {
        ip.is_loopback() || self.names.net.get().is_some_and(|n| n.is_own(ip))
    }

    fn send_to(&self, data: &[u8], dest: SocketAddr) -> KResult<usize> {
        if dest.ip().is_loopback() && !self.names.lo_up() {
            return Err(lo_down(dest.ip()));
        }
        // As Linux: nothing at all is EFAULT; shorter than an ICMP header
        // is sent, and dropped by the receiving side unseen.
        if data.is_empty() {
            return Err(Errno::EFAULT);
        }
        let mut dst = dest.ip();
        if dst.is_unspecified() {
            dst = super::inet::loopback_for(dst);
        }
        if !self.is_own(dst) {
            return self.send_out(data, dst);
        }
        if dst.is_ipv4() == self.v6() {
            return Err(Errno::EINVAL);
        }
        if data.len() < 8 {
            return Ok(data.len());
        }
        let src = dst;
        // The request as it goes out: its checksum is the sender's for
        // ICMP; the kernel fills ICMPv6's (it covers the addresses).
        let mut req = data.to_vec();
        if self.v6() {
            req[2..4].fill(0);
            let c = icmp6_checksum(src, dst, &req);
            req[2..4].copy_from_slice(&c.to_be_bytes());
        }
        self.deliver(src, dst, &req);
        let fam = super::mib::Family { v6: self.v6() };
        let (request, reply) = if self.v6() {
            (ECHO6_REQUEST, ECHO6_REPLY)
        } else {
            (ECHO_REQUEST, ECHO_REPLY)
        };
        if req[0] == request && req[1] == 0 {
            let mut rep = req.clone();
            rep[0] = reply;
            rep[2..4].fill(0);
            let c = if self.v6() {
                icmp6_checksum(dst, src, &rep)
            } else {
                checksum(&[&rep])
            };
            rep[2..4].copy_from_slice(&c.to_be_bytes());
            self.deliver(dst, src, &rep);
            self.names.mib.icmp(fam, super::mib::Icmp::Echo);
            self.names.mib.icmp(fam, super::mib::Icmp::EchoReply);
        }
        Ok(data.len())
    }
}

impl IcmpSocket {
    /// An ICMP message to `dst` beyond the sandbox, through the netstack.
    fn send_out(&self, data: &[u8], dst: IpAddr) -> KResult<usize> {
        let Some(net) = self.names.net.get() else {
            return Err(Errno::ENETUNREACH);
        };
        if self.v6() || dst.is_ipv6() {
            return Err(Errno::ENETUNREACH);
        }
        let ident = u16::from_be_bytes([data[4], data[5]]);
        let found = self
            .echo
            .lock()
            .iter()
            .find(|(i, _)| *i == ident)
            .map(|(_, s)| s.clone());
        let sock = match found {
            Some(s) => s,
            None => {
                let me = self.this.clone();
                let own = IpAddr::V4(net.config().addr);
                let on_reply: netstack::OnDatagram = Arc::new(move |from, msg| {
                    if let Some(s) = me.upgrade() {
                        s.deliver(from.ip(), own, msg);
                    }
                });
                let s = Arc::new(net.icmp_bind(ident, on_reply).map_err(|e| {
                    Errno(if e == netstack::NetError::AddrInUse {
                        libc::ENOBUFS
                    } else {
                        e.errno()
                    })
                })?);
                let old = {
                    let mut echo = self.echo.lock();
                    echo.push((ident, s.clone()));
                    if echo.len() > ECHO_IDENTS {
                        Some(echo.remove(0))
                    } else {
                        None
                    }
                };
                drop(old);
                s
            }
        };
        match sock.send_to(dst, data) {
            // The interface's queue is full: lost, as by a full NIC.
            Err(netstack::NetError::WouldBlock) => Ok(data.len()),
            r => r.map_err(|e| Errno(e.errno())),
        }
    }
}

/// ICMPv6's checksum, over the pseudo-header and the message.
fn icmp6_checksum(src: IpAddr, dst: IpAddr, msg: &[u8]) -> u16 {
    let v6 = |ip: IpAddr| match ip {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    };
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX).to_be_bytes();
    checksum(&[&v6(src), &v6(dst), &len, &[0, 0, 0, 58], msg])
}

/// The open file of a raw ICMP socket.
pub struct IcmpFile(Arc<IcmpSocket>);

impl Socket for IcmpFile {
    fn family(&self) -> i32 {
        self.0.family
    }
    fn kind(&self) -> i32 {
        libc::SOCK_RAW
    }
    fn protocol(&self) -> i32 {
        if self.0.v6() {
            libc::IPPROTO_ICMPV6
        } else {
            libc::IPPROTO_ICMP
        }
    }
    fn bind(&self, _ctx: &Ctx<'_, '_>, addr: &[u8], _node: Option<NodeId>) -> KResult<()> {
        let a = parse(self.0.family, addr)?;
        if !a.ip().is_unspecified() && !self.0.is_own(a.ip()) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        Ok(())
    }
    fn listen(&self, _ctx: &Ctx<'_, '_>, _backlog: i32) -> KResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    fn accept(&self) -> KResult<Box<dyn FileOps>> {
        Err(Errno::EOPNOTSUPP)
    }
    fn connect(&self, _ctx: &Ctx<'_, '_>, addr: &[u8], _node: Option<NodeId>) -> KResult<()> {
        self.0.st.lock().peer = Some(parse(self.0.family, addr)?);
        Ok(())
    }
    fn shutdown(&self, _how: i32) -> KResult<()> {
        Err(Errno::ENOTCONN)
    }
    fn sockname(&self) -> KResult<Vec<u8>> {
        let any: IpAddr = if self.0.v6() {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        };
        Ok(format(self.0.family, SocketAddr::new(any, 0)))
    }
    fn peername(&self) -> KResult<Vec<u8>> {
        let p = self.0.st.lock().peer.ok_or(Errno::ENOTCONN)?;
        Ok(format(self.0.family, p))
    }
    fn send(
        &self,
        _ctx: &Ctx<'_, '_>,
        data: &[u8],
        to: Option<(&[u8], Option<NodeId>)>,
        _anc: Ancillary,
    ) -> KResult<usize> {
        let dest = match to {
            Some((a, _)) => parse(self.0.family, a)?,
            None => self.0.st.lock().peer.ok_or(Errno::EDESTADDRREQ)?,
        };
        self.0.send_to(data, dest)
    }
    fn recv(&self, max: usize, peek: bool) -> KResult<Received> {
        self.0.rx.recv_packet(max, peek)
    }
    fn timeout(&self, send: bool) -> Option<std::time::Duration> {
        self.0.st.lock().opts.timeout(send)
    }
    fn getsockopt(&self, level: i32, name: i32) -> KResult<Vec<u8>> {
        let st = self.0.st.lock();
        match (level, name) {
            (SOL_RAW, ICMP_FILTER) if !self.0.v6() => Ok(st.filter.to_ne_bytes().to_vec()),
            (SOL_RAW, IPV6_CHECKSUM) if self.0.v6() => {
                Ok(st.checksum_offset.to_ne_bytes().to_vec())
            }
            (libc::IPPROTO_ICMPV6, ICMPV6_FILTER) if self.0.v6() => {
                Ok(st.filter6.iter().flat_map(|w| w.to_ne_bytes()).collect())
            }
            (libc::SOL_SOCKET, _) => match st.opts.get(name) {
                Some(v) => Ok(v),
                None if matches!(name, libc::SO_SNDBUF | libc::SO_RCVBUF) => {
                    Ok(212_992i32.to_ne_bytes().to_vec())
                }
                None => {
                    drop(st);
                    generic_option(self, level, name)
                }
            },
            (libc::IPPROTO_IP | libc::IPPROTO_IPV6, _) => st
                .proto_opts
                .get(&(level, name))
                .map(|v| v.to_ne_bytes().to_vec())
                .ok_or(Errno::ENOPROTOOPT),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }
    fn setsockopt(&self, level: i32, name: i32, value: &[u8]) -> KResult<()> {
        let mut st = self.0.st.lock();
        match (level, name) {
            // As Linux: what is given of the mask is copied over it.
            (SOL_RAW, ICMP_FILTER) if !self.0.v6() => {
                let mut b = st.filter.to_ne_bytes();
                let n = value.len().min(4);
                b[..n].copy_from_slice(&value[..n]);
                st.filter = u32::from_ne_bytes(b);
                Ok(())
            }
            (SOL_RAW, IPV6_CHECKSUM) if self.0.v6() => {
                let v = crate::socket::int_option(value)?;
                if v != -1 && (v < 0 || v % 2 != 0) {
                    return Err(Errno::EINVAL);
                }
                st.checksum_offset = v;
                Ok(())
            }
            (libc::IPPROTO_ICMPV6, ICMPV6_FILTER) if self.0.v6() => {
                let b = value.get(..32).ok_or(Errno::EINVAL)?;
                for (i, w) in st.filter6.iter_mut().enumerate() {
                    *w = u32::from_ne_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
                }
                Ok(())
            }
            (libc::SOL_SOCKET, _) => {
                if let Some(r) = st.opts.set(name, value) {
                    return r;
                }
                match name {
                    libc::SO_SNDBUF | libc::SO_RCVBUF => {
                        crate::socket::int_option(value).map(|_| ())
                    }
                    _ => Err(Errno::ENOPROTOOPT),
                }
            }
            // IP_RECVERR, IP_TTL, IPV6_RECVHOPLIMIT, ...: kept and
            // reported; no ancillary data carries them.
            (libc::IPPROTO_IP | libc::IPPROTO_IPV6, _) => {
                let v = crate::socket::int_option(value)?;
                st.proto_opts.insert((level, name), v);
                Ok(())
            }
            _ => Err(Errno::ENOPROTOOPT),
        }
    }
}

impl FileOps for IcmpFile {
    fn read(&self, _f: &File, buf: &mut [u8], off: Option<u64>) -> KResult<usize> {
        self.0.rx.read_packet(buf, off)
    }
    fn write(&self, _f: &File, buf: &[u8], off: Option<u64>) -> KResult<usize> {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let peer = self.0.st.lock().peer.ok_or(Errno::EDESTADDRREQ)?;
        self.0.send_to(buf, peer)
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat {
            ino: self.0.ino,
            ..super::socket_stat()
        })
    }
    fn poll(&self, events: i16) -> i16 {
        self.0.rx.poll_always_writable(events)
    }
    fn wait_queues(&self, _c: &crate::fs::vfs::Caller, ev: Events) -> Queues {
        let mut q = Queues::new();
        q.push((self.0.rx.wq.clone(), ev));
        q
    }
    fn ioctl(
        &self,
        cx: &mut crate::kernel::Ctx<'_, '_>,
        _f: &Arc<File>,
        cmd: u64,
        arg: u64,
    ) -> KResult<u64> {
        if let Some(r) = super::ifreq::ioctl(&cx.mm, &self.0.names, cmd, arg) {
            return r;
        }
        if cmd as libc::c_ulong == libc::FIONREAD {
            let v = i32::try_from(self.0.rx.next_len()).unwrap_or(i32::MAX);
            crate::mm::write_obj(&cx.mm, arg, &v)?;
            return Ok(0);
        }
        Err(Errno::ENOTTY)
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

    #[test]
    fn checksums_verify_to_zero() {
        let mut m = vec![8u8, 0, 0, 0, 0x12, 0x34, 0, 1, b'h', b'i', b'!'];
        let c = checksum(&[&m]);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&[&m]), 0);
        let h = ipv4_header([127, 0, 0, 1], [127, 0, 0, 1], 64);
        assert_eq!(checksum(&[&h]), 0);
        assert_eq!(u16::from_be_bytes([h[2], h[3]]), 84);
    }

    #[test]
    fn an_echo_request_is_answered_and_filtered() {
        let names: Arc<Names> = Default::default();
        let a = IcmpSocket::new(libc::AF_INET, &names);
        let b = IcmpSocket::new(libc::AF_INET, &names);
        // b drops echo requests, as ping's filter does.
        b.st.lock().filter = 1 << ECHO_REQUEST;
        let mut req = vec![ECHO_REQUEST, 0, 0, 0, 0xab, 0xcd, 0, 7, 1, 2, 3];
        let c = checksum(&[&req]);
        req[2..4].copy_from_slice(&c.to_be_bytes());
        let to: SocketAddr = "127.0.0.1:0".parse().unwrap();
        assert_eq!(a.send_to(&req, to).unwrap(), req.len());
        // a sees its request, then the reply; b the reply only.
        let r1 = a.rx.recv_packet(100, false).unwrap();
        assert_eq!(r1.data[20], ECHO_REQUEST);
        let r2 = a.rx.recv_packet(100, false).unwrap();
        assert_eq!(r2.data[20], ECHO_REPLY);
        assert_eq!(&r2.data[24..], &req[4..]);
        assert_eq!(checksum(&[&r2.data[20..]]), 0);
        let rb = b.rx.recv_packet(100, false).unwrap();
        assert_eq!(rb.data[20], ECHO_REPLY);
        assert!(b.rx.is_empty());
        assert_eq!(
            a.send_to(&req, "10.1.2.3:0".parse().unwrap()),
            Err(Errno::ENETUNREACH)
        );
        assert_eq!(a.send_to(&req[..4], to), Ok(4));
        assert!(a.rx.is_empty());
        assert_eq!(a.send_to(&[], to), Err(Errno::EFAULT));
    }
}
