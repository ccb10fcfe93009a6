//! The table itself. Every number has a row; rows without a handler
//! return their errno and are logged once per sandbox.

use crate::names::{MAX_NR, NAMES};
use crate::{events, fs, fs_mutate, misc, mm, net, process, signal, strace, time};
use sentry::{Ctx, Errno, KResult, SyscallTable};

pub type Handler = fn(&mut Ctx<'_, '_>, [u64; 6]) -> KResult<u64>;

/// How much of a syscall is implemented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Full,
    /// Implemented, with the note saying what is missing.
    Partial(&'static str),
    /// Not implemented: returns this errno.
    Errno(Errno, &'static str),
}

#[derive(Clone, Copy)]
pub struct Entry {
    pub nr: usize,
    pub name: &'static str,
    /// Argument shapes for strace, one letter each (see strace.rs).
    pub args: &'static str,
    pub support: Support,
    pub handler: Option<Handler>,
}

pub struct Table {
    pub entries: Vec<Entry>,
}

impl Table {
    pub fn new() -> Table {
        let mut entries: Vec<Entry> = (0..=MAX_NR)
            .map(|nr| Entry {
                nr,
                name: NAMES[nr],
                args: "",
                support: Support::Errno(Errno::ENOSYS, "not implemented"),
                handler: None,
            })
            .collect();
        let mut reg = |name: &'static str, args: &'static str, support: Support, h: Handler| {
            let e = entries
                .iter_mut()
                .find(|e| e.name == name)
                .unwrap_or_else(|| panic!("unknown syscall {name}"));
            e.args = args;
            e.support = support;
            e.handler = Some(h);
        };
        fs::register(&mut reg);
        crate::splice::register(&mut reg);
        crate::xattr::register(&mut reg);
        crate::signalfd::register(&mut reg);
        crate::mount::register(&mut reg);
        crate::mount_api::register(&mut reg);
        crate::ns::register(&mut reg);
        crate::inotify::register(&mut reg);
        crate::ipc::register(&mut reg);
        crate::aio::register(&mut reg);
        crate::procvm::register(&mut reg);
        crate::seccomp::register(&mut reg);
        crate::pidfd::register(&mut reg);
        crate::numa::register(&mut reg);
        crate::ioprio::register(&mut reg);
        crate::kcmp::register(&mut reg);
        crate::membarrier::register(&mut reg);
        crate::ptrace::register(&mut reg);
        crate::mqueue::register(&mut reg);
        fs_mutate::register(&mut reg);
        events::register(&mut reg);
        mm::register(&mut reg);
        process::register(&mut reg);
        signal::register(&mut reg);
        time::register(&mut reg);
        misc::register(&mut reg);
        crate::sched::register(&mut reg);
        net::register(&mut reg);
        for (name, note) in [("rseq", "glibc falls back without it")] {
            if let Some(e) = entries.iter_mut().find(|e| e.name == name) {
                e.support = Support::Errno(Errno::ENOSYS, note);
            }
        }
        Table { entries }
    }
}

impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}

pub type Reg<'a> = dyn FnMut(&'static str, &'static str, Support, Handler) + 'a;

impl SyscallTable for Table {
    fn dispatch_unlocked(
        &self,
        cx: &sentry::kernel::Unlocked<'_>,
        nr: u64,
        args: [u64; 6],
    ) -> Option<KResult<u64>> {
        crate::unlocked::dispatch(cx, nr, args)
    }

    fn dispatch(&self, ctx: &mut Ctx<'_, '_>, nr: u64, args: [u64; 6]) -> KResult<u64> {
        let Some(e) = self
            .entries
            .get(crate::abi::size(nr))
            .filter(|e| !e.name.is_empty())
        else {
            ctx.log_once(&format!("syscall {nr}"));
            if ctx.k.strace {
                eprintln!("[{}] syscall_{nr}(...) = -1 ENOSYS", ctx.tid);
            }
            return Err(Errno::ENOSYS);
        };
        let pre = ctx.k.strace.then(|| {
            (
                strace::format_args(ctx, e, &args),
                std::time::Instant::now(),
            )
        });
        let tid = ctx.tid;
        let r = match e.handler {
            Some(h) => h(ctx, args),
            None => {
                let errno = match e.support {
                    Support::Errno(errno, _) => errno,
                    _ => Errno::ENOSYS,
                };
                ctx.log_once(e.name);
                Err(errno)
            }
        };
        if let Some((pre, t0)) = pre {
            let since = t0.duration_since(ctx.k.boot_time).as_secs_f64();
            eprintln!(
                "[{tid}] {since:.6} {}({}) = {} <{:.6}>",
                e.name,
                pre,
                strace::format_ret(e, &r),
                t0.elapsed().as_secs_f64()
            );
        }
        r
    }
}

/// The compatibility table in Markdown, generated from the rows.
pub fn markdown() -> String {
    let t = Table::new();
    let mut s = String::from("| nr | syscall | support | notes |\n| --- | --- | --- | --- |\n");
    for e in t.entries.iter().filter(|e| !e.name.is_empty()) {
        let (level, note) = match e.support {
            Support::Full => ("full", String::new()),
            Support::Partial(n) => ("partial", n.to_string()),
            Support::Errno(errno, n) => ("unimplemented", format!("returns {errno:?}; {n}")),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            e.nr, e.name, level, note
        ));
    }
    s
}
