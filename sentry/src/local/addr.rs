//! Unix socket addresses (`struct sockaddr_un`) and the names sockets
//! are bound to: abstract names, and the socket nodes paths name. The
//! namespace's loopback ports are here too (`Names::ports`).

use super::LocalSocket;
use crate::errno::{Errno, KResult};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

/// sa_family of a unix address.
const AF_UNIX: u16 = 1;
const _: () = assert!(libc::AF_UNIX == AF_UNIX as i32);
/// offsetof(struct sockaddr_un, sun_path), and the path's room.
const SUN_PATH: usize = 2;
const PATH_ROOM: usize = 108;

/// What an address names.
#[derive(Debug, PartialEq, Eq)]
pub enum UnixAddr {
    /// A filesystem path (up to its first NUL).
    Path(Vec<u8>),
    /// An abstract name: everything after the leading NUL, NULs included.
    Abstract(Vec<u8>),
    /// Just the family.
    Unnamed,
}

/// Checks and decodes an application's `struct sockaddr_un`.
pub fn parse(addr: &[u8]) -> KResult<UnixAddr> {
    if addr.len() < SUN_PATH || addr.len() > SUN_PATH + PATH_ROOM {
        return Err(Errno::EINVAL);
    }
    if u16::from_ne_bytes([addr[0], addr[1]]) != AF_UNIX {
        return Err(Errno::EINVAL);
    }
    let path = &addr[SUN_PATH..];
    Ok(match path.first() {
        None => UnixAddr::Unnamed,
        Some(0) => UnixAddr::Abstract(path[1..].to_vec()),
        Some(_) => {
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            UnixAddr::Path(path[..end].to_vec())
        }
    })
}

/// The address getsockname reports for a socket bound to `path`: the
/// family, the path and its NUL.
pub fn path_addr(path: &[u8]) -> Vec<u8> {
    let mut v = AF_UNIX.to_ne_bytes().to_vec();
    v.extend_from_slice(path);
    v.push(0);
    v
}

/// An unnamed address: just the family.
pub fn unnamed() -> Vec<u8> {
    AF_UNIX.to_ne_bytes().to_vec()
}

/// What a bound socket is found by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NameKey {
    Abstract(Vec<u8>),
    /// The (device, inode) of the socket node its path names.
    Path((u64, u64)),
}

/// Sockets bound to names, by name.
type Bound = Mutex<HashMap<NameKey, Weak<LocalSocket>>>;

/// What the network namespaces of one sandbox share.
#[derive(Default)]
struct Shared {
    /// Path names, as a socket node's inode is reachable from any
    /// namespace.
    paths: Bound,
    /// Every socket of every namespace, for the collector of files in
    /// flight (a cycle may span namespaces).
    all: Mutex<Vec<Weak<LocalSocket>>>,
    /// 0 while no queue's files reach back to that queue (nothing for
    /// the collector to find); else a count bumped by every send that
    /// may have closed a cycle (`gc`).
    cycles: std::sync::atomic::AtomicU64,
}

/// One network namespace: its bound unix sockets, loopback ports, every
/// socket made in it, and what reaches beyond the sandbox (in the first
/// namespace alone).
#[derive(Default)]
pub struct Names {
    /// Abstract names, this namespace's own.
    bound: Bound,
    /// What every namespace of the sandbox shares.
    shared: Arc<Shared>,
    next_auto: Mutex<u32>,
    /// Files queued in this namespace's sockets (SCM_RIGHTS in flight).
    pub in_flight: Arc<std::sync::atomic::AtomicUsize>,
    /// `in_flight` after the last collection of unreachable cycles.
    pub collected_at: std::sync::atomic::AtomicUsize,
    /// The TCP and UDP ports of the loopback interface.
    pub ports: super::inet::Ports,
    /// Every socket, for /proc/net (dead ones swept as the list grows).
    pub all: Mutex<Vec<Weak<LocalSocket>>>,
    /// The interface beyond lo and its stack, in the sandbox's first
    /// network namespace under `--network sandbox`.
    pub net: std::sync::OnceLock<netstack::Stack>,
    /// Raw ICMP sockets, each of which sees every ICMP message.
    pub icmp: Mutex<Vec<Weak<super::icmp::IcmpSocket>>>,
    /// `--network host`: what the sandbox knows of the host's network;
    /// AF_INET and AF_INET6 TCP and UDP sockets are host sockets
    /// (`crate::hostnet`).
    pub host: std::sync::OnceLock<Arc<crate::hostnet::HostNet>>,
    /// The engine's resolver at 127.0.0.11, reached through the
    /// container's namespace (`dns`).
    pub dns: std::sync::OnceLock<Arc<super::dns::DnsRelay>>,
    /// The user namespace that made it (None: the sandbox's first,
    /// the initial namespace's).
    pub owner: Option<Arc<crate::kernel::userns::UserNs>>,
    /// Its nsfs inode number (0: the first namespace's, the base).
    pub ino: u64,
    /// lo is down: a new namespace's is until something brings it up.
    lo_down: std::sync::atomic::AtomicBool,
    /// lo has no 127.0.0.1/8: a new namespace's gets it when lo first
    /// comes up (or from RTM_NEWADDR) and keeps it while down, as
    /// Linux's IPv4 addresses stay through NETDEV_DOWN.
    lo_v4_absent: std::sync::atomic::AtomicBool,
    /// ip_unprivileged_port_start: binding a port below it takes
    /// CAP_NET_BIND_SERVICE over the namespace. The sandbox's first
    /// namespace starts at 0 (Docker sets it so), a new one at Linux's
    /// 1024.
    pub port_start: std::sync::atomic::AtomicU32,
    /// Its network counters (/proc/net/snmp and kin).
    pub mib: super::mib::Mib,
}

/// Inode numbers of the network namespaces after the first.
static NEXT_INO: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(4026534000);

impl Names {
    /// A new network namespace made by a process of user namespace
    /// `owner` (unshare or clone with CLONE_NEWNET): lo alone, down, and
    /// nothing beyond the sandbox.
    pub fn child(&self, owner: Arc<crate::kernel::userns::UserNs>) -> Arc<Names> {
        Arc::new(Names {
            shared: self.shared.clone(),
            // The limit on files in flight is the sandbox's, however many
            // namespaces it makes.
            in_flight: self.in_flight.clone(),
            owner: Some(owner),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            lo_down: true.into(),
            lo_v4_absent: true.into(),
            port_start: 1024.into(),
            ..Names::default()
        })
    }

    /// The user namespace it belongs to.
    pub fn owner(&self) -> Arc<crate::kernel::userns::UserNs> {
        self.owner
            .clone()
            .unwrap_or_else(crate::kernel::userns::init)
    }

    /// Whether lo is up.
    pub fn lo_up(&self) -> bool {
        !self.lo_down.load(Ordering::Relaxed)
    }

    /// Brings lo up or down.
    pub fn set_lo_up(&self, up: bool) {
        self.lo_down.store(!up, Ordering::Relaxed);
        if up {
            self.set_lo_v4();
        }
    }

    /// Whether lo holds 127.0.0.1/8 (up or down).
    pub fn lo_v4(&self) -> bool {
        !self.lo_v4_absent.load(Ordering::Relaxed)
    }

    /// Gives lo 127.0.0.1/8.
    pub fn set_lo_v4(&self) {
        self.lo_v4_absent.store(false, Ordering::Relaxed);
    }

    fn map(&self, key: &NameKey) -> &Bound {
        match key {
            NameKey::Abstract(_) => &self.bound,
            NameKey::Path(_) => &self.shared.paths,
        }
    }

    /// Whether TCP and UDP sockets are host sockets (`--network host`).
    pub fn host_network(&self) -> bool {
        self.host.get().is_some()
    }

    /// Records a new socket for /proc/net.
    pub fn register(&self, s: &Weak<LocalSocket>) {
        for list in [&self.all, &self.shared.all] {
            let mut all = list.lock();
            if all.len() >= 64 && all.len().is_power_of_two() {
                all.retain(|w| w.strong_count() > 0);
            }
            all.push(s.clone());
        }
    }

    /// The namespace's live sockets, oldest first.
    pub fn live(&self) -> Vec<Arc<LocalSocket>> {
        self.all.lock().iter().filter_map(Weak::upgrade).collect()
    }

    /// Notes that a send may have closed a cycle of sockets in flight.
    pub fn mark_cyclic(&self) {
        self.shared.cycles.fetch_add(1, Ordering::AcqRel);
    }

    /// 0 when no cycle of sockets in flight exists; else the mark to hand
    /// back to `clear_cyclic`.
    pub fn cyclic_mark(&self) -> u64 {
        self.shared.cycles.load(Ordering::Acquire)
    }

    /// No cycle is left, as of `mark`: unless a send marked one since.
    pub fn clear_cyclic(&self, mark: u64) {
        let _ = self
            .shared
            .cycles
            .compare_exchange(mark, 0, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// The live sockets of every namespace of the sandbox.
    pub fn sandbox_live(&self) -> Vec<Arc<LocalSocket>> {
        let all = self.shared.all.lock();
        all.iter().filter_map(Weak::upgrade).collect()
    }

    /// Binds `s` to `key`: EADDRINUSE while a live socket holds it.
    pub fn insert(&self, key: &NameKey, s: &Weak<LocalSocket>) -> KResult<()> {
        let mut b = self.map(key).lock();
        if b.get(key).is_some_and(|w| w.strong_count() > 0) {
            return Err(Errno::EADDRINUSE);
        }
        b.insert(key.clone(), s.clone());
        Ok(())
    }

    /// The live socket bound to `key`.
    pub fn get(&self, key: &NameKey) -> Option<Arc<LocalSocket>> {
        self.map(key).lock().get(key).and_then(Weak::upgrade)
    }

    pub fn remove(&self, key: &NameKey) {
        self.map(key).lock().remove(key);
    }

    /// Forgets `key` unless a live socket holds it again (a closed
    /// socket's name: its drop runs after its last strong reference).
    pub fn remove_if_dead(&self, key: &NameKey) {
        let mut b = self.map(key).lock();
        if b.get(key).is_some_and(|w| w.strong_count() == 0) {
            b.remove(key);
        }
    }

    /// Binds `s` to the next free autobind name: a NUL and five hex
    /// digits, as Linux makes them. EADDRINUSE once all are taken.
    pub fn autobind(&self, s: &Weak<LocalSocket>) -> KResult<(NameKey, Vec<u8>)> {
        const NAMES: u32 = 1 << 20;
        let mut next = self.next_auto.lock();
        for _ in 0..NAMES {
            let n = *next;
            *next = (n + 1) % NAMES;
            let name = format!("{n:05x}").into_bytes();
            let key = NameKey::Abstract(name.clone());
            if self.insert(&key, s).is_ok() {
                let mut addr = unnamed();
                addr.push(0);
                addr.extend_from_slice(&name);
                return Ok((key, addr));
            }
        }
        Err(Errno::EADDRINUSE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(path: &[u8]) -> Vec<u8> {
        let mut v = AF_UNIX.to_ne_bytes().to_vec();
        v.extend_from_slice(path);
        v
    }

    #[test]
    fn addresses_decode_as_linux_reads_them() {
        assert_eq!(
            parse(&addr(b"/tmp/s\0junk")),
            Ok(UnixAddr::Path(b"/tmp/s".to_vec()))
        );
        assert_eq!(
            parse(&addr(b"/tmp/s")),
            Ok(UnixAddr::Path(b"/tmp/s".to_vec()))
        );
        assert_eq!(
            parse(&addr(b"\0a\0b")),
            Ok(UnixAddr::Abstract(b"a\0b".to_vec()))
        );
        assert_eq!(parse(&addr(b"")), Ok(UnixAddr::Unnamed));
        assert_eq!(parse(&[1]), Err(Errno::EINVAL));
        assert_eq!(parse(&[2, 0, b'x']), Err(Errno::EINVAL));
        assert_eq!(parse(&addr(&[b'a'; 109])), Err(Errno::EINVAL));
        assert_eq!(path_addr(b"/s"), addr(b"/s\0"));
    }

    #[test]
    fn names_are_held_while_their_socket_lives() {
        let names = Arc::new(Names::default());
        let s = LocalSocket::new(libc::SOCK_STREAM, &names);
        let key = NameKey::Abstract(b"x".to_vec());
        names.insert(&key, &Arc::downgrade(&s)).unwrap();
        let t = LocalSocket::new(libc::SOCK_STREAM, &names);
        assert_eq!(
            names.insert(&key, &Arc::downgrade(&t)),
            Err(Errno::EADDRINUSE)
        );
        assert!(names.get(&key).is_some_and(|g| Arc::ptr_eq(&g, &s)));
        drop(s);
        assert!(names.get(&key).is_none());
        names.insert(&key, &Arc::downgrade(&t)).unwrap();
    }

    #[test]
    fn autobind_names_are_distinct() {
        let names = Arc::new(Names::default());
        let a = LocalSocket::new(libc::SOCK_DGRAM, &names);
        let b = LocalSocket::new(libc::SOCK_DGRAM, &names);
        let (ka, na) = names.autobind(&Arc::downgrade(&a)).unwrap();
        let (kb, nb) = names.autobind(&Arc::downgrade(&b)).unwrap();
        assert_ne!(ka, kb);
        assert_eq!(na.len(), 2 + 1 + 5);
        assert_eq!(&na[2..5], b"\x0000");
        assert_ne!(na, nb);
    }

    #[test]
    fn a_child_namespace_has_its_own_abstract_names_and_shares_paths() {
        let first = Arc::new(Names::default());
        let child = first.child(crate::kernel::userns::init());
        assert!(first.lo_up() && !child.lo_up());
        assert_ne!(child.ino, first.ino);
        let s = LocalSocket::new(libc::SOCK_STREAM, &first);
        let abs = NameKey::Abstract(b"x".to_vec());
        let path = NameKey::Path((1, 2));
        first.insert(&abs, &Arc::downgrade(&s)).unwrap();
        first.insert(&path, &Arc::downgrade(&s)).unwrap();
        assert!(child.get(&abs).is_none());
        assert!(child.get(&path).is_some_and(|g| Arc::ptr_eq(&g, &s)));
        let t = LocalSocket::new(libc::SOCK_STREAM, &child);
        child.insert(&abs, &Arc::downgrade(&t)).unwrap();
        assert_eq!(
            child.insert(&path, &Arc::downgrade(&t)),
            Err(Errno::EADDRINUSE)
        );
        // /proc/net lists a namespace's own; the collector sees them all.
        assert_eq!((first.live().len(), child.live().len()), (1, 1));
        assert_eq!(child.sandbox_live().len(), 2);
    }
}
