//! A container's seccomp profile (`linux.seccomp`) compiled for the
//! sentry (`sentry::kernel::appseccomp`): call names to x86-64 numbers,
//! actions and argument conditions. Checked at `create` (a profile husk
//! cannot enforce is refused with the field named) and compiled again by
//! the sandbox from the same JSON.

use oci_spec::runtime::LinuxSeccomp;
use sentry::kernel::appseccomp::{Action, Cond, Filter, Op, Rule};
use std::collections::HashMap;

/// The actions and operators a profile may use (`features`).
pub const ACTIONS: [&str; 7] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
];
pub const OPERATORS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// `serde`'s name of a spec enum value ("SCMP_ACT_ALLOW", ...).
fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn action(field: &str, name: &str, errno: Option<u32>) -> Result<Action, String> {
    let errno = || {
        u16::try_from(errno.unwrap_or(libc::EPERM as u32))
            .map_err(|_| format!("{field}: errnoRet out of range"))
    };
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_ERRNO" => Action::Errno(errno()?),
        "SCMP_ACT_TRACE" => Action::Trace,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        other => return Err(format!("{field}: action {other} is not supported")),
    })
}

/// Compiles `s`; the error names the field.
pub fn compile(s: &LinuxSeccomp) -> Result<Filter, String> {
    if s.listener_path().is_some() {
        return Err("linux.seccomp.listenerPath: user notification is not supported".into());
    }
    for a in s.architectures().iter().flatten() {
        let n = name_of(a);
        if !["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"].contains(&n.as_str()) {
            tracing::info!("linux.seccomp.architectures: {n} does not apply here");
        }
    }
    let default = action(
        "linux.seccomp.defaultAction",
        &name_of(&s.default_action()),
        s.default_errno_ret(),
    )?;
    let table = syscalls::Table::new();
    let numbers: HashMap<&str, u64> = table
        .entries
        .iter()
        .filter(|e| !e.name.is_empty())
        .map(|e| (e.name, e.nr as u64))
        .collect();
    let mut rules: HashMap<u64, Vec<Rule>> = HashMap::new();
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(&field, &name_of(&sc.action()), sc.errno_ret())?;
        let mut conds = Vec::new();
        for a in sc.args().iter().flatten() {
            if a.index() > 5 {
                return Err(format!("{field}.args: index {} out of range", a.index()));
            }
            let v = a.value();
            let op = match name_of(&a.op()).as_str() {
                "SCMP_CMP_NE" => Op::Ne(v),
                "SCMP_CMP_LT" => Op::Lt(v),
                "SCMP_CMP_LE" => Op::Le(v),
                "SCMP_CMP_EQ" => Op::Eq(v),
                "SCMP_CMP_GE" => Op::Ge(v),
                "SCMP_CMP_GT" => Op::Gt(v),
                "SCMP_CMP_MASKED_EQ" => Op::MaskedEq {
                    mask: v,
                    value: a.value_two().unwrap_or(0),
                },
                other => return Err(format!("{field}.args: operator {other} is not supported")),
            };
            conds.push(Cond { arg: a.index(), op });
        }
        for n in sc.names() {
            // Names of other architectures' calls do not apply here (runc
            // skips them too).
            let Some(&nr) = numbers.get(n.as_str()) else {
                continue;
            };
            rules.entry(nr).or_default().push(Rule {
                action: act,
                conds: conds.clone(),
            });
        }
    }
    Ok(Filter { default, rules })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(j: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(j).unwrap()
    }

    #[test]
    fn a_docker_like_profile_compiles() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["read", "write", "arm_fadvise64_64"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
            ]
        }));
        let f = compile(&p).unwrap();
        let none = [0u64; 6];
        assert_eq!(f.check(0, &none), Action::Allow);
        assert_eq!(f.check(libc::SYS_getpid as u64, &none), Action::Errno(1));
        assert_eq!(f.check(libc::SYS_mkdir as u64, &none), Action::Errno(13));
        let pers = libc::SYS_personality as u64;
        assert_eq!(f.check(pers, &[8, 0, 0, 0, 0, 0]), Action::Allow);
        assert_eq!(f.check(pers, &[9, 0, 0, 0, 0, 0]), Action::Errno(1));
    }

    #[test]
    fn what_cannot_be_enforced_is_named() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]
        }));
        assert!(compile(&p).unwrap_err().contains("syscalls[0]"));
    }
}
