//! NUMA memory policies for a machine of one node (node 0):
//! set_mempolicy, get_mempolicy and mbind keep and report the policies
//! Linux would, checked as Linux checks them; with one node every policy
//! places memory on node 0.

use crate::abi;
use crate::table::{Reg, Support::*};
use sentry::kernel::creds::cap;
use sentry::memfile::{page_up, PAGE};
use sentry::mm::MemPolicy;
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    r("set_mempolicy", "iau", Full, set_mempolicy);
    r("get_mempolicy", "aauxx", Full, get_mempolicy);
    r("mbind", "xuiaux", Full, mbind);
    r(
        "migrate_pages",
        "iuaa",
        Partial("one node: nothing to move"),
        migrate_pages,
    );
}

const MPOL_DEFAULT: u16 = 0;
const MPOL_PREFERRED: u16 = 1;
const MPOL_BIND: u16 = 2;
const MPOL_INTERLEAVE: u16 = 3;
const MPOL_LOCAL: u16 = 4;
const MPOL_PREFERRED_MANY: u16 = 5;
const MPOL_WEIGHTED_INTERLEAVE: u16 = 6;
const MPOL_F_NUMA_BALANCING: u32 = 1 << 13;
const MPOL_F_RELATIVE_NODES: u32 = 1 << 14;
const MPOL_F_STATIC_NODES: u32 = 1 << 15;
const MODE_FLAGS: u32 = MPOL_F_NUMA_BALANCING | MPOL_F_RELATIVE_NODES | MPOL_F_STATIC_NODES;

const MPOL_F_NODE: u64 = 1;
const MPOL_F_ADDR: u64 = 2;
const MPOL_F_MEMS_ALLOWED: u64 = 4;

const MPOL_MF_STRICT: u64 = 1;
const MPOL_MF_MOVE: u64 = 2;
const MPOL_MF_MOVE_ALL: u64 = 4;

/// The nodes that exist and have memory.
const ONLINE: u64 = 1;

/// The node mask at `addr` (`maxnode` bits, less one as Linux counts):
/// only its first word can name a node that exists here; Linux drops the
/// others, so beyond the first word only the size is checked.
fn read_nodes(ctx: &Ctx<'_, '_>, addr: u64, maxnode: u64) -> KResult<u64> {
    if addr == 0 || maxnode == 0 {
        return Ok(0);
    }
    let bits = maxnode - 1;
    if bits > PAGE * 8 {
        return Err(Errno::EINVAL);
    }
    let words = abi::usize_of(bits.div_ceil(64));
    let raw = sentry::mm::read_vec(&ctx.mm, addr, words * 8)?;
    let mut first = u64::from_ne_bytes(
        raw.get(..8)
            .and_then(|b| b.try_into().ok())
            .unwrap_or([0; 8]),
    );
    if bits < 64 {
        first &= (1u64 << bits) - 1;
    }
    Ok(first)
}

/// Checks a mode and its nodes as Linux's mpol_new: the policy to keep.
fn policy(mode_arg: u64, nodes: u64) -> KResult<MemPolicy> {
    let raw = abi::uint(mode_arg);
    let flags = raw & MODE_FLAGS;
    let mode = raw & !MODE_FLAGS;
    if mode > u32::from(MPOL_WEIGHTED_INTERLEAVE)
        || (flags & MPOL_F_STATIC_NODES != 0 && flags & MPOL_F_RELATIVE_NODES != 0)
    {
        return Err(Errno::EINVAL);
    }
    let mode = u16::try_from(mode).map_err(|_| Errno::EINVAL)?;
    if flags & MPOL_F_NUMA_BALANCING != 0 && mode != MPOL_BIND && mode != MPOL_PREFERRED_MANY {
        return Err(Errno::EINVAL);
    }
    let usable = nodes & ONLINE;
    match mode {
        MPOL_DEFAULT => {
            if nodes != 0 {
                return Err(Errno::EINVAL);
            }
            return Ok(MemPolicy::default());
        }
        MPOL_LOCAL if nodes != 0 => return Err(Errno::EINVAL),
        MPOL_LOCAL => {}
        // An empty preferred mask means local allocation.
        MPOL_PREFERRED if nodes == 0 => {
            if flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES) != 0 {
                return Err(Errno::EINVAL);
            }
            return Ok(MemPolicy {
                mode: MPOL_LOCAL,
                nodes: 0,
            });
        }
        _ if usable == 0 => return Err(Errno::EINVAL),
        _ => {}
    }
    let flags16 = u16::try_from(flags >> 8).unwrap_or(0) << 8;
    Ok(MemPolicy {
        mode: mode | flags16,
        nodes: if mode == MPOL_LOCAL { 0 } else { usable },
    })
}

fn set_mempolicy(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let nodes = read_nodes(ctx, a[1], a[2])?;
    let p = policy(a[0], nodes)?;
    ctx.task().mempolicy = p;
    Ok(0)
}

/// Writes `nodes` as a mask of `maxnode` bits (what the caller asked
/// for, zero-filled): EINVAL when it cannot hold every node.
fn write_nodes(ctx: &Ctx<'_, '_>, addr: u64, maxnode: u64, nodes: u64) -> KResult<()> {
    if addr == 0 {
        return Ok(());
    }
    let bits = maxnode.saturating_sub(1);
    // nr_node_ids is 1 here: the mask must have room for node 0.
    if bits < 1 {
        return Err(Errno::EINVAL);
    }
    let bytes = abi::usize_of(bits.div_ceil(64)) * 8;
    if bytes > abi::usize_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let mut out = vec![0u8; bytes];
    out[..8].copy_from_slice(&nodes.to_ne_bytes());
    ctx.mm.write(addr, &out)
}

fn get_mempolicy(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (modep, maskp, maxnode, addr, flags) = (a[0], a[1], a[2], a[3], a[4]);
    if flags & !(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MPOL_F_MEMS_ALLOWED != 0 {
        if flags & (MPOL_F_NODE | MPOL_F_ADDR) != 0 {
            return Err(Errno::EINVAL);
        }
        if modep != 0 {
            abi::put(ctx, modep, &0i32)?;
        }
        write_nodes(ctx, maskp, maxnode, ONLINE)?;
        return Ok(0);
    }
    if flags & MPOL_F_ADDR == 0 && addr != 0 {
        return Err(Errno::EINVAL);
    }
    let task = ctx.task_ref().mempolicy;
    let pol = if flags & MPOL_F_ADDR != 0 {
        ctx.mm.policy_at(addr)?.unwrap_or(task)
    } else {
        task
    };
    let mode: i32 = if flags & MPOL_F_NODE != 0 {
        if flags & MPOL_F_ADDR != 0 {
            // The node of the page at `addr`: the only one.
            0
        } else if pol.mode & 0xff == MPOL_INTERLEAVE {
            0
        } else {
            return Err(Errno::EINVAL);
        }
    } else {
        i32::from(pol.mode)
    };
    if modep != 0 {
        abi::put(ctx, modep, &mode)?;
    }
    write_nodes(ctx, maskp, maxnode, pol.nodes)?;
    Ok(0)
}

fn mbind(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let (start, len, flags) = (a[0], a[1], a[5]);
    if flags & !(MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MPOL_MF_MOVE_ALL != 0 && !ctx.proc_ref().creds.capable(cap::SYS_NICE) {
        return Err(Errno::EPERM);
    }
    if start & (PAGE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let end = start.checked_add(page_up(len)).ok_or(Errno::EINVAL)?;
    let nodes = read_nodes(ctx, a[3], a[4])?;
    let p = policy(a[2], nodes)?;
    if end == start {
        return Ok(0);
    }
    let keep = (p != MemPolicy::default()).then_some(p);
    ctx.mm.set_policy(start, end, keep)?;
    Ok(0)
}

fn migrate_pages(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let pid = abi::int(a[0]);
    if pid < 0 {
        return Err(Errno::ESRCH);
    }
    if pid != 0 && !ctx.st.tasks.contains_key(&ctx.pid_arg(pid)) {
        return Err(Errno::ESRCH);
    }
    read_nodes(ctx, a[2], a[1])?;
    read_nodes(ctx, a[3], a[1])?;
    // Every page is on node 0 already: none left behind.
    Ok(0)
}
