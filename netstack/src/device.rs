//! The interface's frames: one AF_PACKET socket bound to it, read and
//! written a frame at a time without blocking. The stack reads a frame
//! itself (to pick the socket it is for), then hands it to smoltcp
//! through a [`OneFrame`].

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Ethernet header bytes on top of the MTU.
const ETH_HEADER: usize = 14;

pub struct PacketDevice {
    fd: OwnedFd,
    mtu: usize,
    rx_checksum: bool,
}

impl PacketDevice {
    pub fn new(fd: OwnedFd, mtu: usize, rx_checksum: bool) -> std::io::Result<PacketDevice> {
        // fcntl rather than FIONBIO: a confined sandbox may start one.
        let fl = rustix::fs::fcntl_getfl(&fd)?;
        rustix::fs::fcntl_setfl(&fd, fl | rustix::fs::OFlags::NONBLOCK)?;
        Ok(PacketDevice {
            fd,
            mtu,
            rx_checksum,
        })
    }

    pub fn fd_raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The largest frame.
    pub fn frame_max(&self) -> usize {
        self.mtu + ETH_HEADER
    }

    /// The next frame into `buf`: its length, or None when none waits.
    pub fn read(&self, buf: &mut [u8]) -> Option<usize> {
        rustix::io::read(&self.fd, buf).ok()
    }

    fn caps(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = self.frame_max();
        if !self.rx_checksum {
            use smoltcp::phy::Checksum;
            c.checksum.tcp = Checksum::Tx;
            c.checksum.udp = Checksum::Tx;
            c.checksum.icmpv4 = Checksum::Tx;
        }
        c
    }
}

/// smoltcp's view of the device for one call: at most the one frame
/// already read, and sends straight to the socket.
pub struct OneFrame<'a> {
    dev: &'a PacketDevice,
    frame: Option<&'a [u8]>,
}

impl<'a> OneFrame<'a> {
    pub fn new(dev: &'a PacketDevice, frame: Option<&'a [u8]>) -> OneFrame<'a> {
        OneFrame { dev, frame }
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
        // A full send queue drains in microseconds; waiting for it costs
        // less than losing the frame to a retransmission timer (smoltcp's
        // least is a second). A frame still refused after that is lost,
        // as on a wire.
        for _ in 0..3 {
            match rustix::io::write(self.0, &buf) {
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::NOBUFS) => {
                    let mut p = [rustix::event::PollFd::new(
                        self.0,
                        rustix::event::PollFlags::OUT,
                    )];
                    let t = rustix::event::Timespec {
                        tv_sec: 0,
                        tv_nsec: 5_000_000,
                    };
                    let _ = rustix::event::poll(&mut p, Some(&t));
                }
                _ => break,
            }
        }
        r
    }
}

impl phy::Device for OneFrame<'_> {
    type RxToken<'b>
        = Rx<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = Tx<'b>
    where
        Self: 'b;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let f = self.frame.take()?;
        Some((Rx(f), Tx(&self.dev.fd)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&self.dev.fd))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.dev.caps()
    }
}

/// For `Interface::new`, which asks the medium and MTU.
impl phy::Device for PacketDevice {
    type RxToken<'b> = Rx<'b>;
    type TxToken<'b> = Tx<'b>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        None
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&self.fd))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.caps()
    }
}
