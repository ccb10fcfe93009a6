//! The interface's frames: one AF_PACKET socket bound to it, read and
//! written a frame at a time without blocking.

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Ethernet header bytes on top of the MTU.
const ETH_HEADER: usize = 14;

pub struct PacketDevice {
    fd: OwnedFd,
    mtu: usize,
    rx: Vec<u8>,
}

impl PacketDevice {
    pub fn new(fd: OwnedFd, mtu: usize) -> std::io::Result<PacketDevice> {
        rustix::io::ioctl_fionbio(&fd, true)?;
        Ok(PacketDevice {
            fd,
            mtu,
            rx: vec![0; mtu + ETH_HEADER],
        })
    }

    pub fn fd_raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

pub struct Rx<'a>(&'a [u8]);
pub struct Tx<'a>(&'a OwnedFd);

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        // A frame the host refuses (its queue full) is lost, as on a wire.
        let _ = rustix::io::write(self.0, &buf);
        r
    }
}

impl phy::Device for PacketDevice {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let n = rustix::io::read(&self.fd, &mut self.rx).ok()?;
        Some((Rx(&self.rx[..n]), Tx(&self.fd)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&self.fd))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = self.mtu + ETH_HEADER;
        c
    }
}
