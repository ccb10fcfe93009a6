//! UTS namespaces: the host and domain names uname(2) and
//! /proc/sys/kernel/{hostname,domainname} report, per namespace.

use parking_lot::Mutex;
use std::sync::Arc;

/// Longest name Linux keeps (`__NEW_UTS_LEN`).
pub const NAME_MAX: usize = 64;

pub struct UtsNs {
    hostname: Mutex<Vec<u8>>,
    domainname: Mutex<Vec<u8>>,
    /// The user namespace it belongs to: CAP_SYS_ADMIN over it renames.
    pub owner: Arc<super::userns::UserNs>,
}

impl UtsNs {
    pub fn new(hostname: &[u8]) -> Arc<UtsNs> {
        Arc::new(UtsNs {
            hostname: Mutex::new(hostname[..hostname.len().min(NAME_MAX)].to_vec()),
            domainname: Mutex::new(b"(none)".to_vec()),
            owner: super::userns::init(),
        })
    }

    /// A copy, for unshare/clone with CLONE_NEWUTS by a process of user
    /// namespace `owner`.
    pub fn copy(&self, owner: &Arc<super::userns::UserNs>) -> Arc<UtsNs> {
        Arc::new(UtsNs {
            hostname: Mutex::new(self.hostname()),
            domainname: Mutex::new(self.domainname()),
            owner: owner.clone(),
        })
    }

    pub fn hostname(&self) -> Vec<u8> {
        self.hostname.lock().clone()
    }

    pub fn domainname(&self) -> Vec<u8> {
        self.domainname.lock().clone()
    }

    /// Sets the host name (at most NAME_MAX bytes: checked by the caller).
    pub fn set_hostname(&self, name: &[u8]) {
        *self.hostname.lock() = name.to_vec();
    }

    pub fn set_domainname(&self, name: &[u8]) {
        *self.domainname.lock() = name.to_vec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_changes_alone() {
        let a = UtsNs::new(b"box");
        let b = a.copy(&super::super::userns::init());
        b.set_hostname(b"other");
        b.set_domainname(b"dom");
        assert_eq!(a.hostname(), b"box");
        assert_eq!(a.domainname(), b"(none)");
        assert_eq!(b.hostname(), b"other");
    }
}
