//! `--network sandbox` for `husk do`: a network namespace of the
//! sandbox's own with one end of a veth pair (`eth0`), the host end
//! (`huskN`) on a private /30 of 10.213.0.0/16. The sandbox's netstack
//! owns eth0's address; the namespace's kernel has none, so it answers
//! nothing. What leaves the runtime is one packet socket bound to eth0:
//! the namespace (and with it the veth pair) lives exactly as long as
//! that socket, so nothing is left behind when the sandbox goes.

use std::ffi::CString;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub mod takeover;

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("{what}: {err}")]
    Host {
        what: &'static str,
        err: std::io::Error,
    },
    #[error("no free host interface name husk0..husk{0}")]
    NoFreeName(u32),
    #[error("the thread setting up the network namespace panicked")]
    Panicked,
}

fn last(what: &'static str) -> NetnsError {
    NetnsError::Host {
        what,
        err: std::io::Error::last_os_error(),
    }
}

/// How many /30 subnets (and host interface names) there are.
const SLOTS: u32 = 16384;
/// Both ends are ours: frames as large as a veth carries, so a host-sandbox
/// TCP segment is 64 KiB, not 1460 bytes (each frame costs a host call).
const MTU: usize = 65520;

/// The sandbox's side, set up.
pub struct SandboxNet {
    /// AF_PACKET socket bound to eth0 (close-on-exec until
    /// [`SandboxNet::inherit`]).
    pub fd: OwnedFd,
    pub config: netstack::Config,
    /// The host end's name and address.
    pub host_if: String,
    pub host_addr: Ipv4Addr,
}

fn socket(domain: i32, ty: i32, proto: i32, what: &'static str) -> Result<OwnedFd, NetnsError> {
    // SAFETY: socket with integer arguments; the fd is owned at once.
    let fd = unsafe { libc::socket(domain, ty, proto) };
    if fd < 0 {
        return Err(last(what));
    }
    // SAFETY: just created, owned here.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An rtnetlink request under construction: nested attributes are
/// closed by `end` with their start offset.
struct Msg(Vec<u8>);

impl Msg {
    fn new(ty: u16, flags: u16) -> Msg {
        let mut v = vec![0u8; 16];
        v[4..6].copy_from_slice(&ty.to_ne_bytes());
        let f = flags | libc::NLM_F_REQUEST as u16 | libc::NLM_F_ACK as u16;
        v[6..8].copy_from_slice(&f.to_ne_bytes());
        v[8..12].copy_from_slice(&1u32.to_ne_bytes());
        Msg(v)
    }
    fn raw(&mut self, b: &[u8]) -> &mut Msg {
        self.0.extend_from_slice(b);
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
        self
    }
    fn ifinfo(&mut self, index: i32, flags: u32, change: u32) -> &mut Msg {
        let mut b = [0u8; 16];
        b[4..8].copy_from_slice(&index.to_ne_bytes());
        b[8..12].copy_from_slice(&flags.to_ne_bytes());
        b[12..16].copy_from_slice(&change.to_ne_bytes());
        self.raw(&b)
    }
    fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Msg {
        let len = (4 + data.len()) as u16;
        let mut h = len.to_ne_bytes().to_vec();
        h.extend_from_slice(&ty.to_ne_bytes());
        h.extend_from_slice(data);
        self.raw(&h)
    }
    fn begin(&mut self, ty: u16) -> usize {
        let at = self.0.len();
        self.attr(ty, &[]);
        at
    }
    fn end(&mut self, at: usize) {
        let len = (self.0.len() - at) as u16;
        self.0[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }
    /// Sends it on `nl` and reads the acknowledgement: the kernel's errno.
    fn send(&mut self, nl: &OwnedFd) -> std::io::Result<()> {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        // SAFETY: writing our own buffer to our own socket.
        let n = unsafe { libc::send(nl.as_raw_fd(), self.0.as_ptr().cast(), self.0.len(), 0) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut buf = [0u8; 4096];
        // SAFETY: reading into a local buffer of its size.
        let n = unsafe { libc::recv(nl.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = n as usize;
        let ty = buf.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
        if n >= 20 && ty == Some(libc::NLMSG_ERROR as u16) {
            let e = i32::from_ne_bytes(buf[16..20].try_into().unwrap());
            if e < 0 {
                return Err(std::io::Error::from_raw_os_error(-e));
            }
            return Ok(());
        }
        Err(std::io::Error::other("unexpected netlink answer"))
    }
}

fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut r: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in r.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    r
}

fn if_index(sock: &OwnedFd, name: &str) -> Result<i32, NetnsError> {
    let mut r = ifreq(name);
    // SAFETY: SIOCGIFINDEX fills the ifreq we pass.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFINDEX, &mut r) } < 0 {
        return Err(last("SIOCGIFINDEX"));
    }
    // SAFETY: the union member SIOCGIFINDEX writes.
    Ok(unsafe { r.ifr_ifru.ifru_ifindex })
}

fn set_up(sock: &OwnedFd, name: &str) -> Result<(), NetnsError> {
    let mut r = ifreq(name);
    // SAFETY: SIOCGIFFLAGS then SIOCSIFFLAGS on the ifreq we pass.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut r) < 0 {
            return Err(last("SIOCGIFFLAGS"));
        }
        r.ifr_ifru.ifru_flags |= libc::IFF_UP as i16;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &r) < 0 {
            return Err(last("SIOCSIFFLAGS"));
        }
    }
    Ok(())
}

/// Turns off the interface's transmit checksum offload: on a veth the
/// kernel would otherwise hand the sandbox TCP and UDP segments whose
/// checksums it never filled in, and the netstack checks them.
fn no_tx_checksum_offload(sock: &OwnedFd, name: &str) -> Result<(), NetnsError> {
    const ETHTOOL_STXCSUM: u32 = 0x17;
    let mut v = [ETHTOOL_STXCSUM, 0u32];
    let mut r = ifreq(name);
    r.ifr_ifru.ifru_data = v.as_mut_ptr().cast();
    // SAFETY: SIOCETHTOOL reads the struct ethtool_value that ifru_data
    // points at, which lives across the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL, &mut r) } < 0 {
        return Err(last("SIOCETHTOOL"));
    }
    Ok(())
}

fn mac_of(sock: &OwnedFd, name: &str) -> Result<[u8; 6], NetnsError> {
    let mut r = ifreq(name);
    // SAFETY: SIOCGIFHWADDR fills the ifreq we pass.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut r) } < 0 {
        return Err(last("SIOCGIFHWADDR"));
    }
    // SAFETY: the union member SIOCGIFHWADDR writes.
    let d = unsafe { r.ifr_ifru.ifru_hwaddr.sa_data };
    Ok(std::array::from_fn(|i| d[i] as u8))
}

fn slot_addrs(n: u32) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(10, 213, 0, 0)) + n * 4;
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

/// Sets up the sandbox's network (see the module's comment). Runs on a
/// thread of its own, which alone enters the new namespace.
pub fn create() -> Result<SandboxNet, NetnsError> {
    std::thread::spawn(create_here)
        .join()
        .unwrap_or(Err(NetnsError::Panicked))
}

fn create_here() -> Result<SandboxNet, NetnsError> {
    let host_ns =
        std::fs::File::open("/proc/thread-self/ns/net").map_err(|err| NetnsError::Host {
            what: "opening the host's network namespace",
            err,
        })?;
    let cloexec = libc::SOCK_CLOEXEC;
    // Sockets keep the namespace they were made in.
    let host_nl = socket(
        libc::AF_NETLINK,
        libc::SOCK_RAW | cloexec,
        libc::NETLINK_ROUTE,
        "netlink socket",
    )?;
    let host_sock = socket(libc::AF_INET, libc::SOCK_DGRAM | cloexec, 0, "socket")?;
    // SAFETY: unshare with a flag; only this thread changes namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(last("unshare(CLONE_NEWNET)"));
    }
    let nl = socket(
        libc::AF_NETLINK,
        libc::SOCK_RAW | cloexec,
        libc::NETLINK_ROUTE,
        "netlink socket",
    )?;
    let sock = socket(libc::AF_INET, libc::SOCK_DGRAM | cloexec, 0, "socket")?;
    // SAFETY: getpid cannot fail.
    let start = unsafe { libc::getpid() } as u32 % SLOTS;
    let mut slot = None;
    for i in 0..SLOTS {
        let n = (start + i) % SLOTS;
        let host_if = format!("husk{n}");
        let mut m = Msg::new(
            libc::RTM_NEWLINK,
            (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16,
        );
        m.ifinfo(0, 0, 0).attr(libc::IFLA_IFNAME, b"eth0\0");
        m.attr(libc::IFLA_MTU, &(MTU as u32).to_ne_bytes());
        let info = m.begin(libc::IFLA_LINKINFO);
        m.attr(libc::IFLA_INFO_KIND, b"veth");
        let data = m.begin(libc::IFLA_INFO_DATA);
        let peer = m.begin(1); // VETH_INFO_PEER
        m.ifinfo(0, 0, 0);
        m.attr(
            libc::IFLA_IFNAME,
            CString::new(host_if.clone()).unwrap().as_bytes_with_nul(),
        );
        m.attr(libc::IFLA_MTU, &(MTU as u32).to_ne_bytes());
        m.attr(
            libc::IFLA_NET_NS_FD,
            &(host_ns.as_raw_fd() as u32).to_ne_bytes(),
        );
        m.end(peer);
        m.end(data);
        m.end(info);
        match m.send(&nl) {
            Ok(()) => {
                slot = Some((n, host_if));
                break;
            }
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
            Err(err) => {
                return Err(NetnsError::Host {
                    what: "creating the veth pair",
                    err,
                })
            }
        }
    }
    let (n, host_if) = slot.ok_or(NetnsError::NoFreeName(SLOTS - 1))?;
    let (host_addr, addr) = slot_addrs(n);
    // The namespace's own kernel keeps off eth0: no IPv6 link-local
    // address, router solicitations or duplicate-address probes.
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/eth0/disable_ipv6", "1");
    set_up(&sock, "lo")?;
    set_up(&sock, "eth0")?;
    let mac = mac_of(&sock, "eth0")?;
    let index = if_index(&sock, "eth0")?;
    // Host end: its address and up.
    let host_index = if_index(&host_sock, &host_if)?;
    let mut m = Msg::new(
        libc::RTM_NEWADDR,
        (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16,
    );
    let mut ifa = [0u8; 8];
    ifa[0] = libc::AF_INET as u8;
    ifa[1] = 30;
    ifa[4..8].copy_from_slice(&(host_index as u32).to_ne_bytes());
    m.raw(&ifa);
    m.attr(libc::IFA_LOCAL, &host_addr.octets());
    m.attr(libc::IFA_ADDRESS, &host_addr.octets());
    m.send(&host_nl).map_err(|err| NetnsError::Host {
        what: "addressing the host end",
        err,
    })?;
    no_tx_checksum_offload(&host_sock, &host_if)?;
    set_up(&host_sock, &host_if)?;
    let fd = packet_socket(index)?;
    Ok(SandboxNet {
        fd,
        config: netstack::Config {
            name: "eth0".into(),
            mac,
            addr,
            prefix: 30,
            gateway: Some(host_addr),
            mtu: MTU,
            rx_checksum: true,
        },
        host_if,
        host_addr,
    })
}

/// An int socket option.
fn set_int(
    fd: &OwnedFd,
    level: i32,
    opt: i32,
    v: i32,
    what: &'static str,
) -> Result<(), NetnsError> {
    // SAFETY: setsockopt with a pointer to a local int of its size.
    let r = unsafe { libc::setsockopt(fd.as_raw_fd(), level, opt, (&v as *const i32).cast(), 4) };
    if r != 0 {
        return Err(last(what));
    }
    Ok(())
}

/// A packet socket bound to interface `index`, for the sandbox's netstack:
/// every frame of the interface but its own, with room for bursts.
fn packet_socket(index: i32) -> Result<OwnedFd, NetnsError> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    let fd = socket(
        libc::AF_PACKET,
        libc::SOCK_RAW | libc::SOCK_CLOEXEC,
        i32::from(proto),
        "packet socket",
    )?;
    // SAFETY: sockaddr_ll is plain data; all zeroes is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = index;
    // SAFETY: binding our socket to a sockaddr_ll of its size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if r != 0 {
        return Err(last("binding the packet socket"));
    }
    // Its own frames are not read back: they would take the room of the
    // peer's in the receive buffer.
    const PACKET_IGNORE_OUTGOING: i32 = 23;
    set_int(
        &fd,
        libc::SOL_PACKET,
        PACKET_IGNORE_OUTGOING,
        1,
        "PACKET_IGNORE_OUTGOING",
    )?;
    // Room for bursts of large frames either way (set while still root:
    // the FORCE variants pass net.core.[rw]mem_max).
    set_int(
        &fd,
        libc::SOL_SOCKET,
        libc::SO_RCVBUFFORCE,
        4 << 20,
        "SO_RCVBUFFORCE",
    )?;
    set_int(
        &fd,
        libc::SOL_SOCKET,
        libc::SO_SNDBUFFORCE,
        4 << 20,
        "SO_SNDBUFFORCE",
    )?;
    Ok(fd)
}

impl SandboxNet {
    /// Lets the next program started inherit the packet socket: the fd to
    /// name on its command line. Called after the gofer is started, so
    /// only the sandbox gets it.
    pub fn inherit(&self) -> Result<RawFd, NetnsError> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: clearing FD_CLOEXEC on our own fd.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
            return Err(last("F_SETFD"));
        }
        Ok(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_disjoint_30s() {
        assert_eq!(
            slot_addrs(0),
            (Ipv4Addr::new(10, 213, 0, 1), Ipv4Addr::new(10, 213, 0, 2))
        );
        assert_eq!(
            slot_addrs(64),
            (Ipv4Addr::new(10, 213, 1, 1), Ipv4Addr::new(10, 213, 1, 2))
        );
        assert_eq!(
            slot_addrs(SLOTS - 1),
            (
                Ipv4Addr::new(10, 213, 255, 253),
                Ipv4Addr::new(10, 213, 255, 254)
            )
        );
    }

    #[test]
    fn netlink_nesting_sets_lengths() {
        let mut m = Msg::new(libc::RTM_NEWLINK, 0);
        let a = m.begin(18);
        m.attr(1, b"veth");
        m.end(a);
        // header 16, outer attr 4 + inner attr (4 + 4).
        assert_eq!(m.0.len(), 28);
        assert_eq!(u16::from_ne_bytes([m.0[16], m.0[17]]), 12);
    }
}
