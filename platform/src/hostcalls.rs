//! Host system calls as data: which calls a process may make, with the
//! argument rules that bound them. A platform declares the calls its
//! tracer side and its stubs need in this form; the runtime merges them
//! with the sentry's own and compiles the seccomp filters.

/// A condition on one argument of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// argument `n` equals the value
    Eq(u8, u64),
    /// argument `n`, masked, equals the value
    MaskEq(u8, u64, u64),
}

/// One allowed call: any one of `rules` must hold (each rule is a set of
/// conditions that must all hold); no rules means always. Rows for the
/// same call add up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    pub nr: i64,
    pub rules: Vec<Vec<Arg>>,
}

/// An unconditional row.
pub fn any(nr: i64) -> Allowed {
    Allowed { nr, rules: vec![] }
}

/// A row allowed when one of `rules` holds.
pub fn when(nr: i64, rules: &[&[Arg]]) -> Allowed {
    Allowed {
        nr,
        rules: rules.iter().map(|r| r.to_vec()).collect(),
    }
}

/// A row allowed when argument `arg` is one of `values`.
pub fn one_of(nr: i64, arg: u8, values: &[u64]) -> Allowed {
    Allowed {
        nr,
        rules: values.iter().map(|&v| vec![Arg::Eq(arg, v)]).collect(),
    }
}
