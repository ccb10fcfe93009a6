//! The engine's DNS server at 127.0.0.11 (Docker's on user-defined
//! networks): it listens in the container's network namespace, where the
//! sandbox's loopback is not, so the monitor hands the sandbox one UDP
//! socket connected to it there. A query the application sends to
//! 127.0.0.11:53 that no sandbox socket takes goes out on that socket; an
//! answer comes back to the socket whose query had its id, from
//! 127.0.0.11:53, as the kernel's NAT would have made it look.

use super::inet::{format, Proto};
use super::Names;
use crate::socket::Ancillary;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Weak};

/// The engine's resolver address.
pub const RESOLVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)), 53);

/// Queries waiting for their answer, newest last; the oldest are
/// forgotten past this many (their answers are dropped, as a lost
/// datagram's).
const PENDING: usize = 256;

pub struct DnsRelay {
    fd: OwnedFd,
    /// (query id, the asking socket's address).
    pending: Mutex<VecDeque<(u16, SocketAddr)>>,
}

impl DnsRelay {
    /// Sends a query from `from` (a sandbox socket's address).
    pub fn forward(&self, from: SocketAddr, query: &[u8]) {
        let Some(id) = query.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
            return;
        };
        {
            let mut p = self.pending.lock();
            p.retain(|&(i, a)| !(i == id && a == from));
            if p.len() >= PENDING {
                p.pop_front();
            }
            p.push_back((id, from));
        }
        // A full socket loses the query, as a full network would.
        let _ = rustix::io::write(&self.fd, query);
    }

    /// Who asked the query `answer` answers (forgotten once answered).
    fn asker(&self, answer: &[u8]) -> Option<SocketAddr> {
        let id = u16::from_be_bytes([*answer.first()?, *answer.get(1)?]);
        let mut p = self.pending.lock();
        let at = p.iter().position(|&(i, _)| i == id)?;
        p.remove(at).map(|(_, a)| a)
    }
}

/// Starts the relay on `fd` for the namespace `names`: its reader is a
/// thread of its own, which ends with the namespace.
pub fn start(names: &Arc<Names>, fd: OwnedFd) {
    let relay = Arc::new(DnsRelay {
        fd,
        pending: Mutex::new(VecDeque::new()),
    });
    if names.dns.set(relay.clone()).is_err() {
        return;
    }
    let weak: Weak<Names> = Arc::downgrade(names);
    let _ = std::thread::Builder::new()
        .name("dns-relay".into())
        .spawn(move || {
            let mut buf = vec![0u8; 65536];
            loop {
                let n = match rustix::io::read(&relay.fd, &mut buf) {
                    Ok(n) => n,
                    Err(rustix::io::Errno::INTR) => continue,
                    // Refused (nobody listens yet) shows as an error on
                    // a connected socket: keep going.
                    Err(rustix::io::Errno::CONNREFUSED) => continue,
                    Err(_) => return,
                };
                let Some(names) = weak.upgrade() else { return };
                let answer = &buf[..n];
                let Some(to) = relay.asker(answer) else {
                    continue;
                };
                let Some(t) = names.ports.find(Proto::Udp, to, |s| !s.lite) else {
                    continue;
                };
                let rcvbuf = t.st.lock().rcvbuf;
                let anc = Ancillary {
                    dst: Some(to),
                    ..Default::default()
                };
                let _ =
                    t.rx.send_packet(answer, format(t.family, RESOLVER), anc, rcvbuf, usize::MAX);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_go_to_the_asker_by_query_id() {
        let (a, _b) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::DGRAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        let r = DnsRelay {
            fd: a,
            pending: Mutex::new(VecDeque::new()),
        };
        let x: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let y: SocketAddr = "127.0.0.1:4001".parse().unwrap();
        r.forward(x, &[0x12, 0x34, 1]);
        r.forward(y, &[0x56, 0x78, 1]);
        assert_eq!(r.asker(&[0x56, 0x78, 0x81]), Some(y));
        assert_eq!(r.asker(&[0x56, 0x78, 0x81]), None, "answered once");
        assert_eq!(r.asker(&[0x12, 0x34]), Some(x));
        assert_eq!(r.asker(&[0x12]), None, "too short for an id");
        for i in 0..u16::try_from(PENDING + 10).unwrap() {
            r.forward(x, &i.to_be_bytes());
        }
        assert_eq!(r.pending.lock().len(), PENDING);
        assert_eq!(
            r.asker(&0u16.to_be_bytes()),
            None,
            "the oldest are forgotten"
        );
    }
}
