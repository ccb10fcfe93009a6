//! The interface ioctls on sockets (SIOCGIF*): the sandbox has one
//! interface, lo, with index 1, 127.0.0.1/8 and ::1.

use crate::errno::{Errno, KResult};
use crate::mm::{read_obj, write_obj, Mm};

/// sizeof(struct ifreq) and of its name.
const IFREQ: usize = 40;
const IFNAMSIZ: usize = 16;
const IFREQ_LEN: i32 = 40;
const LO_INDEX: i32 = 1;
/// IFF_UP | IFF_LOOPBACK | IFF_RUNNING (what the short flags hold).
const LO_FLAGS: i16 = 0x1 | 0x8 | 0x40;
const ARPHRD_LOOPBACK: u16 = 772;

/// A `struct sockaddr_in` of `ip`, as an ifreq holds it.
fn sockaddr_in(ip: [u8; 4]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..2].copy_from_slice(&super::inet::FAM_INET.to_ne_bytes());
    a[4..8].copy_from_slice(&ip);
    a
}

/// lo's ifreq with `value` (16 bytes) after the name.
fn lo_ifreq(value: &[u8]) -> [u8; IFREQ] {
    let mut r = [0u8; IFREQ];
    r[..2].copy_from_slice(b"lo");
    r[IFNAMSIZ..IFNAMSIZ + value.len()].copy_from_slice(value);
    r
}

/// ioctl `cmd` if it is an interface ioctl (None if not).
pub fn ioctl(mm: &Mm, cmd: u64, arg: u64) -> Option<KResult<u64>> {
    let cmd = libc::c_ulong::try_from(cmd).ok()?;
    let named = |mm: &Mm| -> KResult<()> {
        let r: [u8; IFREQ] = read_obj(mm, arg)?;
        let end = r[..IFNAMSIZ]
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(IFNAMSIZ);
        if &r[..end] == b"lo" {
            Ok(())
        } else {
            Err(Errno::ENODEV)
        }
    };
    let answer = |mm: &Mm, value: &[u8]| -> KResult<u64> {
        named(mm)?;
        write_obj(mm, arg, &lo_ifreq(value))?;
        Ok(0)
    };
    Some(match cmd {
        libc::SIOCGIFINDEX => answer(mm, &LO_INDEX.to_ne_bytes()),
        libc::SIOCGIFFLAGS => answer(mm, &LO_FLAGS.to_ne_bytes()),
        libc::SIOCGIFMTU => answer(mm, &65536i32.to_ne_bytes()),
        libc::SIOCGIFADDR => answer(mm, &sockaddr_in([127, 0, 0, 1])),
        libc::SIOCGIFNETMASK => answer(mm, &sockaddr_in([255, 0, 0, 0])),
        libc::SIOCGIFHWADDR => answer(mm, &ARPHRD_LOOPBACK.to_ne_bytes()),
        libc::SIOCGIFNAME => (|| {
            let r: [u8; IFREQ] = read_obj(mm, arg)?;
            let index = i32::from_ne_bytes(r[IFNAMSIZ..IFNAMSIZ + 4].try_into().unwrap());
            if index != LO_INDEX {
                return Err(Errno::ENODEV);
            }
            write_obj(mm, arg, &lo_ifreq(&LO_INDEX.to_ne_bytes()))?;
            Ok(0)
        })(),
        libc::SIOCGIFCONF => (|| {
            // struct ifconf: the length, then the buffer's address.
            let c: [u8; 16] = read_obj(mm, arg)?;
            let len = i32::from_ne_bytes(c[..4].try_into().unwrap());
            let buf = u64::from_ne_bytes(c[8..].try_into().unwrap());
            if buf == 0 {
                write_obj(mm, arg, &IFREQ_LEN)?;
                return Ok(0);
            }
            let fits = len >= IFREQ_LEN;
            if fits {
                write_obj(mm, buf, &lo_ifreq(&sockaddr_in([127, 0, 0, 1])))?;
            }
            write_obj(mm, arg, &(if fits { IFREQ_LEN } else { 0 }))?;
            Ok(0)
        })(),
        _ => return None,
    })
}
