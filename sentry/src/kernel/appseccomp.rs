//! A container's seccomp profile (OCI `linux.seccomp`), enforced by the
//! sentry on every system call of the application before it is handled:
//! the application's calls never reach the host, so the host's seccomp
//! cannot see them. Rules are matched by call number and argument
//! conditions; when several match, the most restrictive action wins, as
//! the kernel orders actions.

use std::collections::HashMap;

/// What a matching rule (or the default) does, most restrictive first
/// (the derived order is the kernel's precedence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    KillProcess,
    KillThread,
    /// SIGSYS to the thread; the call is not made.
    Trap,
    /// The call fails with this errno.
    Errno(u16),
    /// No tracer here: the call fails with ENOSYS, as Linux's does then.
    Trace,
    /// Allowed, and logged.
    Log,
    Allow,
}

/// A comparison of one argument (as an unsigned 64-bit value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Ne(u64),
    Lt(u64),
    Le(u64),
    Eq(u64),
    Ge(u64),
    Gt(u64),
    /// `arg & mask == value`.
    MaskedEq {
        mask: u64,
        value: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cond {
    /// 0..=5.
    pub arg: usize,
    pub op: Op,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    /// All must hold.
    pub conds: Vec<Cond>,
}

/// A compiled profile.
#[derive(Clone, Debug)]
pub struct Filter {
    pub default: Action,
    pub rules: HashMap<u64, Vec<Rule>>,
}

impl Cond {
    fn holds(&self, args: &[u64; 6]) -> bool {
        let a = args[self.arg.min(5)];
        match self.op {
            Op::Ne(v) => a != v,
            Op::Lt(v) => a < v,
            Op::Le(v) => a <= v,
            Op::Eq(v) => a == v,
            Op::Ge(v) => a >= v,
            Op::Gt(v) => a > v,
            Op::MaskedEq { mask, value } => a & mask == value,
        }
    }
}

impl Filter {
    /// The action for call `nr` with `args`.
    pub fn check(&self, nr: u64, args: &[u64; 6]) -> Action {
        self.rules
            .get(&nr)
            .into_iter()
            .flatten()
            .filter(|r| r.conds.iter().all(|c| c.holds(args)))
            .map(|r| r.action)
            .min()
            .unwrap_or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter() -> Filter {
        let mut rules = HashMap::new();
        rules.insert(
            0,
            vec![Rule {
                action: Action::Allow,
                conds: vec![],
            }],
        );
        // clone: allowed unless a namespace flag is set (Docker's rule).
        rules.insert(
            56,
            vec![Rule {
                action: Action::Allow,
                conds: vec![Cond {
                    arg: 0,
                    op: Op::MaskedEq {
                        mask: 0x7E02_0000,
                        value: 0,
                    },
                }],
            }],
        );
        rules.insert(
            1,
            vec![
                Rule {
                    action: Action::Allow,
                    conds: vec![],
                },
                Rule {
                    action: Action::Errno(13),
                    conds: vec![Cond {
                        arg: 0,
                        op: Op::Eq(2),
                    }],
                },
            ],
        );
        Filter {
            default: Action::Errno(1),
            rules,
        }
    }

    #[test]
    fn rules_conditions_and_precedence() {
        let f = filter();
        let none = [0u64; 6];
        assert_eq!(f.check(0, &none), Action::Allow);
        assert_eq!(f.check(2, &none), Action::Errno(1));
        assert_eq!(f.check(56, &[0x11, 0, 0, 0, 0, 0]), Action::Allow);
        assert_eq!(f.check(56, &[0x1000_0000, 0, 0, 0, 0, 0]), Action::Errno(1));
        // Two rules match: the stricter wins.
        assert_eq!(f.check(1, &[2, 0, 0, 0, 0, 0]), Action::Errno(13));
        assert_eq!(f.check(1, &[1, 0, 0, 0, 0, 0]), Action::Allow);
        assert!(Action::KillProcess < Action::Trap && Action::Errno(1) < Action::Log);
    }
}
