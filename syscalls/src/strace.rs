//! The --strace printer: one line per syscall with decoded arguments.
//!
//! Argument shapes: `d` fd, `p` path or string, `i` signed int, `u`
//! unsigned, `x` hex/flags, `o` octal mode, `a` pointer.

use crate::table::Entry;
use sentry::mm::read_vec;
use sentry::{Ctx, KResult};

fn quote(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b.iter().take(64) {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    if b.len() > 64 {
        s.push_str("...");
    }
    s
}

pub fn format_args(ctx: &Ctx<'_, '_>, e: &Entry, args: &[u64; 6]) -> String {
    let mut out = Vec::new();
    for (i, k) in e.args.chars().enumerate() {
        let a = args[i];
        out.push(match k {
            'd' => crate::abi::int(a).to_string(),
            'i' => crate::abi::long(a).to_string(),
            'u' => a.to_string(),
            'o' => format!("0{a:o}"),
            'p' => {
                if a == 0 {
                    "NULL".into()
                } else {
                    match sentry::mm::read_cstr(&ctx.mm, a, 4096) {
                        Ok(s) => quote(&s),
                        Err(_) => format!("{a:#x}"),
                    }
                }
            }
            's' => match read_vec(&ctx.mm, a, crate::abi::size(args[i + 1]).min(64)) {
                Ok(s) => quote(&s),
                Err(_) => format!("{a:#x}"),
            },
            'a' if a == 0 => "NULL".into(),
            _ => format!("{a:#x}"),
        });
    }
    out.join(", ")
}

pub fn format_ret(_e: &Entry, r: &KResult<u64>) -> String {
    match r {
        Ok(v) if *v > 0xffff_ffff => format!("{v:#x}"),
        Ok(v) => crate::abi::long(*v).to_string(),
        Err(e) if e.0 >= 512 => format!("? {e:?}"),
        Err(e) => format!("-1 {e:?}"),
    }
}
