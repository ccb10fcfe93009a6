//! Semaphore sets: semop's all-or-nothing operations, the tasks waiting
//! on a set, and SEM_UNDO adjustments, kept per undo list in each set
//! (a process's list, or one CLONE_SYSVSEM shares) and applied when the
//! last process holding the list exits.

use crate::errno::{Errno, KResult};
use crate::kernel::waitq::{WaitQueue, EV_ALL};
use std::collections::HashMap;
use std::sync::Arc;

pub const SEMMSL: usize = 32000;
pub const SEMMNS: usize = 1_024_000_000;
pub const SEMOPM: usize = 500;
pub const SEMMNI: usize = 32000;
pub const SEMVMX: i32 = 32767;
pub const SEMAEM: i32 = SEMVMX;

pub const SEM_UNDO: i16 = 0x1000;
const IPC_NOWAIT: i16 = 0o4000;

/// A process's undo list: its id names its adjustments in every set.
#[derive(Debug)]
pub struct UndoList(pub u64);

/// One `struct sembuf`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SemBuf {
    pub num: u16,
    pub op: i16,
    pub flg: i16,
}

#[derive(Clone, Copy, Default)]
pub struct Sem {
    pub val: i32,
    /// The process that last changed it.
    pub pid: i32,
}

/// Why semop cannot finish now: the operation that must wait (for the
/// value to reach zero, or to grow).
#[derive(Debug, PartialEq, Eq)]
pub struct Blocked {
    pub num: u16,
    pub zero: bool,
}

pub struct SemSet {
    pub sems: Vec<Sem>,
    pub otime: i64,
    pub ctime: i64,
    /// Tasks asleep in semop: (tid, the semaphore, waiting for zero).
    pub waiting: Vec<(i32, u16, bool)>,
    /// SEM_UNDO adjustments by undo list.
    undos: HashMap<u64, Vec<i16>>,
    pub wq: Arc<WaitQueue>,
}

impl SemSet {
    pub fn new(n: usize, now: i64) -> SemSet {
        SemSet {
            sems: vec![Sem::default(); n],
            otime: 0,
            ctime: now,
            waiting: Vec::new(),
            undos: HashMap::new(),
            wq: WaitQueue::new(),
        }
    }

    /// Applies `ops` all at once or not at all (Linux's
    /// perform_atomic_semop): Ok(Ok(())) done, Ok(Err(b)) must wait,
    /// Err for EAGAIN (the waiting operation has IPC_NOWAIT) or ERANGE.
    pub fn apply(
        &mut self,
        ops: &[SemBuf],
        undo: Option<u64>,
        pid: i32,
        now: i64,
    ) -> KResult<Result<(), Blocked>> {
        let mut vals: Vec<i32> = self.sems.iter().map(|s| s.val).collect();
        let n = vals.len();
        let mut adj = undo.map(|u| self.undos.get(&u).cloned().unwrap_or_else(|| vec![0; n]));
        for op in ops {
            let i = usize::from(op.num);
            let cur = *vals.get(i).ok_or(Errno::EFBIG)?;
            let res = cur + i32::from(op.op);
            let blocked = if op.op == 0 && cur != 0 {
                Some(true)
            } else if res < 0 {
                Some(false)
            } else {
                None
            };
            if let Some(zero) = blocked {
                if op.flg & IPC_NOWAIT != 0 {
                    return Err(Errno::EAGAIN);
                }
                return Ok(Err(Blocked { num: op.num, zero }));
            }
            if res > SEMVMX {
                return Err(Errno::ERANGE);
            }
            if op.flg & SEM_UNDO != 0 {
                if let Some(a) = adj.as_mut() {
                    let u = i32::from(a[i]) - i32::from(op.op);
                    a[i] = i16::try_from(u).map_err(|_| Errno::ERANGE)?;
                }
            }
            vals[i] = res;
        }
        for (s, v) in self.sems.iter_mut().zip(vals) {
            s.val = v;
        }
        for op in ops {
            self.sems[usize::from(op.num)].pid = pid;
        }
        if let (Some(u), Some(a)) = (undo, adj) {
            if ops.iter().any(|o| o.flg & SEM_UNDO != 0) {
                self.undos.insert(u, a);
            }
        }
        self.otime = now;
        if ops.iter().any(|o| o.op != 0) {
            self.wq.notify(EV_ALL);
        }
        Ok(Ok(()))
    }

    /// SETVAL and SETALL: the values change and every process's
    /// adjustment of them is cleared.
    pub fn set(&mut self, num: Option<usize>, vals: &[i32], pid: i32, now: i64) {
        for (i, &v) in vals.iter().enumerate() {
            let i = num.unwrap_or(i);
            self.sems[i] = Sem { val: v, pid };
            for a in self.undos.values_mut() {
                a[i] = 0;
            }
        }
        self.ctime = now;
        self.wq.notify(EV_ALL);
    }

    /// GETNCNT and GETZCNT.
    pub fn waiting_on(&self, num: u16, zero: bool) -> usize {
        self.waiting
            .iter()
            .filter(|&&(_, n, z)| n == num && z == zero)
            .count()
    }

    /// An undo list's last process exits: its adjustments are applied,
    /// each value kept within 0..=SEMVMX.
    pub fn exit(&mut self, list: u64, pid: i32) {
        let Some(adj) = self.undos.remove(&list) else {
            return;
        };
        for (s, a) in self.sems.iter_mut().zip(adj) {
            if a != 0 {
                s.val = (s.val + i32::from(a)).clamp(0, SEMVMX);
                s.pid = pid;
            }
        }
        self.wq.notify(EV_ALL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(num: u16, op: i16, flg: i16) -> SemBuf {
        SemBuf { num, op, flg }
    }

    #[test]
    fn semop_is_all_or_nothing() {
        let mut s = SemSet::new(2, 0);
        assert_eq!(s.apply(&[op(0, 2, 0), op(1, 1, 0)], None, 7, 1), Ok(Ok(())));
        // The second operation must wait: the first is not applied.
        assert_eq!(
            s.apply(&[op(0, -1, 0), op(1, -2, 0)], None, 8, 2),
            Ok(Err(Blocked {
                num: 1,
                zero: false
            }))
        );
        assert_eq!((s.sems[0].val, s.sems[1].val), (2, 1));
        assert_eq!(
            s.apply(&[op(0, -1, 0), op(1, -2, IPC_NOWAIT)], None, 8, 2),
            Err(Errno::EAGAIN)
        );
        assert_eq!(
            s.apply(&[op(0, 0, 0)], None, 8, 2),
            Ok(Err(Blocked { num: 0, zero: true }))
        );
        assert_eq!(
            s.apply(&[op(0, i16::MAX, 0)], None, 8, 2),
            Err(Errno::ERANGE)
        );
        assert_eq!(s.apply(&[op(2, 1, 0)], None, 8, 2), Err(Errno::EFBIG));
        assert_eq!(s.sems[0].pid, 7);
        // Operations see the ones before them in the same call.
        assert_eq!(
            s.apply(&[op(1, 1, 0), op(1, -2, 0)], None, 9, 3),
            Ok(Ok(()))
        );
        assert_eq!((s.sems[1].val, s.sems[1].pid, s.otime), (0, 9, 3));
    }

    #[test]
    fn undo_adjustments_apply_at_exit_and_setval_clears_them() {
        let mut s = SemSet::new(2, 0);
        s.apply(&[op(0, 3, SEM_UNDO), op(1, 5, 0)], Some(1), 7, 1)
            .unwrap()
            .unwrap();
        s.apply(&[op(1, -2, SEM_UNDO)], Some(2), 8, 1)
            .unwrap()
            .unwrap();
        // List 1 gave 3 to sem 0; someone took 2 of them meanwhile.
        s.apply(&[op(0, -2, 0)], None, 9, 1).unwrap().unwrap();
        s.exit(1, 7);
        assert_eq!(s.sems[0].val, 0, "clamped at zero");
        s.exit(2, 8);
        assert_eq!(s.sems[1].val, 5);
        s.apply(&[op(1, -1, SEM_UNDO)], Some(3), 8, 1)
            .unwrap()
            .unwrap();
        s.set(Some(1), &[10], 9, 2);
        s.exit(3, 8);
        assert_eq!(s.sems[1].val, 10, "SETVAL cleared the adjustment");
        // An adjustment past SEMAEM is ERANGE.
        let mut t = SemSet::new(1, 0);
        t.sems[0].val = SEMVMX;
        t.apply(&[op(0, -i16::MAX, SEM_UNDO)], Some(4), 1, 1)
            .unwrap()
            .unwrap();
        t.sems[0].val = SEMVMX;
        assert_eq!(
            t.apply(&[op(0, -1, SEM_UNDO)], Some(4), 1, 1),
            Err(Errno::ERANGE)
        );
    }
}
