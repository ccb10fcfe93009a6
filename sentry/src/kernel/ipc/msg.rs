//! Message queues: typed messages, msgrcv's selection by type, and the
//! queue's byte limit.

use crate::kernel::waitq::WaitQueue;
use std::collections::VecDeque;
use std::sync::Arc;

pub const MSGMNI: usize = 32000;
pub const MSGMAX: usize = 8192;
pub const MSGMNB: u64 = 16384;

/// What msgrcv asks for.
#[derive(Clone, Copy, Debug)]
pub enum Select {
    /// msgtyp 0: the first message.
    First,
    /// msgtyp > 0: the first of that type (MSG_EXCEPT: of another type).
    Type(i64, bool),
    /// msgtyp < 0: the first of the lowest type at most |msgtyp|.
    AtMost(i64),
    /// MSG_COPY: the message at that position, left on the queue.
    Nth(usize),
}

impl Select {
    pub fn of(msgtyp: i64, except: bool) -> Select {
        match msgtyp {
            0 => Select::First,
            t if t > 0 => Select::Type(t, except),
            t => Select::AtMost(t.checked_neg().unwrap_or(i64::MAX)),
        }
    }
}

pub struct Queue {
    pub msgs: VecDeque<(i64, Vec<u8>)>,
    pub cbytes: u64,
    pub qbytes: u64,
    pub stime: i64,
    pub rtime: i64,
    pub ctime: i64,
    pub lspid: i32,
    pub lrpid: i32,
    /// Senders wait for room and receivers for messages, on one queue.
    pub wq: Arc<WaitQueue>,
}

impl Queue {
    pub fn new(now: i64) -> Queue {
        Queue {
            msgs: VecDeque::new(),
            cbytes: 0,
            qbytes: MSGMNB,
            stime: 0,
            rtime: 0,
            ctime: now,
            lspid: 0,
            lrpid: 0,
            wq: WaitQueue::new(),
        }
    }

    /// Whether a message of `len` bytes fits now (Linux counts messages
    /// against the byte limit too).
    pub fn fits(&self, len: usize) -> bool {
        self.cbytes + len as u64 <= self.qbytes && (self.msgs.len() as u64) < self.qbytes
    }

    pub fn push(&mut self, mtype: i64, data: Vec<u8>) {
        self.cbytes += data.len() as u64;
        self.msgs.push_back((mtype, data));
    }

    /// The position of the message `sel` picks.
    pub fn find(&self, sel: Select) -> Option<usize> {
        let m = &self.msgs;
        match sel {
            Select::First => (!m.is_empty()).then_some(0),
            Select::Type(t, false) => m.iter().position(|(ty, _)| *ty == t),
            Select::Type(t, true) => m.iter().position(|(ty, _)| *ty != t),
            Select::AtMost(t) => {
                let mut best: Option<(usize, i64)> = None;
                for (i, (ty, _)) in m.iter().enumerate() {
                    if *ty <= t && best.is_none_or(|(_, b)| *ty < b) {
                        best = Some((i, *ty));
                    }
                }
                best.map(|(i, _)| i)
            }
            Select::Nth(n) => (n < m.len()).then_some(n),
        }
    }

    pub fn take(&mut self, i: usize) -> Option<(i64, Vec<u8>)> {
        let m = self.msgs.remove(i)?;
        self.cbytes -= m.1.len() as u64;
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgrcv_selects_by_type() {
        let mut q = Queue::new(0);
        for (t, d) in [(3, "a"), (1, "b"), (2, "c"), (1, "d")] {
            q.push(t, d.as_bytes().to_vec());
        }
        assert_eq!(q.cbytes, 4);
        assert_eq!(q.find(Select::of(0, false)), Some(0));
        assert_eq!(q.find(Select::of(1, false)), Some(1));
        assert_eq!(q.find(Select::of(3, true)), Some(1));
        assert_eq!(q.find(Select::of(-2, false)), Some(1));
        assert_eq!(q.find(Select::of(-3, false)), Some(1));
        assert_eq!(q.find(Select::of(5, false)), None);
        assert_eq!(q.find(Select::of(i64::MIN, false)), Some(1));
        assert_eq!(q.find(Select::Nth(3)), Some(3));
        assert_eq!(q.find(Select::Nth(4)), None);
        assert_eq!(q.take(1), Some((1, b"b".to_vec())));
        assert_eq!(q.find(Select::of(1, false)), Some(2));
        assert_eq!(q.cbytes, 3);
        // The byte limit counts messages as well as bytes.
        q.qbytes = 4;
        assert!(q.fits(0) && !q.fits(2));
        q.qbytes = 3;
        assert!(!q.fits(0));
    }
}
