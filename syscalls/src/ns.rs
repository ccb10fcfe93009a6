//! setns(2): joining a namespace named by a /proc/PID/ns file or a
//! pidfd (a PID namespace is joined by the caller's children).

use crate::table::{Reg, Support::*};
use sentry::fs::nsfs::{Ns, NsFile};
use sentry::fs::pidfd::PidFd;
use sentry::kernel::creds::cap;
use sentry::{Ctx, Errno, KResult};

pub fn register(r: &mut Reg<'_>) {
    r("setns", "fx", Full, setns);
}

const ALL: i32 = libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWTIME;

fn setns(ctx: &mut Ctx<'_, '_>, a: [u64; 6]) -> KResult<u64> {
    let f = crate::fs::fdget(ctx, a[0])?;
    let nstype = crate::abi::int(a[1]);
    let wanted: Vec<Ns> = if let Some(n) = f.downcast::<NsFile>() {
        if nstype != 0 && nstype != n.ns.kind() {
            return Err(Errno::EINVAL);
        }
        vec![n.ns.clone()]
    } else if let Some(p) = f.downcast::<PidFd>() {
        // A pidfd joins the named ones of that process's namespaces,
        // the user namespace first, as Linux does.
        if nstype == 0 || nstype & !ALL != 0 {
            return Err(Errno::EINVAL);
        }
        let t = ctx.st.tasks.get(&p.pid).ok_or(Errno::ESRCH)?;
        let pr = ctx.st.procs.get(&t.tgid).ok_or(Errno::ESRCH)?;
        let me = ctx.proc_ref();
        if !pr.inspectable_by(me) {
            return Err(Errno::EPERM);
        }
        let mut v = Vec::new();
        if nstype & libc::CLONE_NEWUSER != 0 {
            v.push(Ns::User(pr.creds.userns.0.clone()));
        }
        if nstype & libc::CLONE_NEWNS != 0 {
            v.push(Ns::Mnt(t.mnt_ns.clone()));
        }
        if nstype & libc::CLONE_NEWUTS != 0 {
            v.push(Ns::Uts(t.uts_ns.clone()));
        }
        if nstype & libc::CLONE_NEWIPC != 0 {
            v.push(Ns::Ipc(ctx.st.ipc.reference(pr.ipc_ns)));
        }
        if nstype & libc::CLONE_NEWNET != 0 {
            v.push(Ns::Net(t.net_ns.clone()));
        }
        if nstype & libc::CLONE_NEWCGROUP != 0 {
            v.push(Ns::Cgroup(t.cgroup_ns.clone()));
        }
        if nstype & libc::CLONE_NEWPID != 0 {
            v.push(Ns::Pid(t.pid_ns.clone()));
        }
        if nstype & libc::CLONE_NEWTIME != 0 {
            v.push(Ns::Time(t.time_ns.clone()));
        }
        v
    } else {
        return Err(Errno::EINVAL);
    };
    // Check everything before changing anything.
    // The fs context shared with another task (CLONE_FS).
    let fs = ctx.task_ref().fs.clone();
    let shared_fs = ctx
        .st
        .tasks
        .values()
        .filter(|t| std::sync::Arc::ptr_eq(&t.fs, &fs))
        .count()
        > 1;
    let mut creds = ctx.proc_ref().creds.clone();
    for ns in &wanted {
        match ns {
            Ns::User(u) => {
                if std::sync::Arc::ptr_eq(u, &creds.userns) {
                    return Err(Errno::EINVAL);
                }
                if ctx.proc_ref().threads.len() > 1 || shared_fs {
                    return Err(Errno::EINVAL);
                }
                if !creds.capable_in(u, cap::SYS_ADMIN) {
                    return Err(Errno::EPERM);
                }
                // Joining gives every capability there.
                creds.userns = sentry::kernel::userns::NsRef(u.clone());
                creds.caps = sentry::kernel::creds::Caps::FULL;
            }
            Ns::Mnt(m) => {
                if !creds.capable_in(&m.owner, cap::SYS_ADMIN)
                    || !creds.ns_capable(cap::SYS_CHROOT)
                    || !creds.ns_capable(cap::SYS_ADMIN)
                {
                    return Err(Errno::EPERM);
                }
                if shared_fs {
                    return Err(Errno::EINVAL);
                }
            }
            Ns::Uts(u) => {
                if !creds.capable_in(&u.owner, cap::SYS_ADMIN) || !creds.ns_capable(cap::SYS_ADMIN)
                {
                    return Err(Errno::EPERM);
                }
            }
            Ns::Ipc(r) => {
                if !creds.capable_in(&r.owner, cap::SYS_ADMIN) || !creds.ns_capable(cap::SYS_ADMIN)
                {
                    return Err(Errno::EPERM);
                }
            }
            Ns::Net(n) => {
                if !creds.capable_in(&n.owner(), cap::SYS_ADMIN)
                    || !creds.ns_capable(cap::SYS_ADMIN)
                {
                    return Err(Errno::EPERM);
                }
            }
            Ns::Cgroup(n) => {
                if !creds.capable_in(&n.owner, cap::SYS_ADMIN) || !creds.ns_capable(cap::SYS_ADMIN)
                {
                    return Err(Errno::EPERM);
                }
            }
            // For the children: the caller's own namespace or one below
            // it.
            Ns::Pid(p) => {
                if !creds.capable_in(&p.owner, cap::SYS_ADMIN) || !creds.ns_capable(cap::SYS_ADMIN)
                {
                    return Err(Errno::EPERM);
                }
                if !ctx.task_ref().pid_ns.contains(p) {
                    return Err(Errno::EINVAL);
                }
            }
            // The caller's own clocks change at once: a process of one
            // thread whose memory nobody shares (a vfork child's is its
            // parent's: EUSERS), as Linux's timens_install.
            Ns::Time(n) => {
                if !creds.capable_in(&n.owner, cap::SYS_ADMIN) || !creds.ns_capable(cap::SYS_ADMIN)
                {
                    return Err(Errno::EPERM);
                }
                let (me, mm) = (ctx.tgid(), ctx.mm.clone());
                let shared_mm = ctx
                    .st
                    .tasks
                    .values()
                    .any(|t| t.tgid != me && std::sync::Arc::ptr_eq(&t.mm, &mm));
                if ctx.proc_ref().threads.len() > 1 || shared_mm {
                    return Err(Errno::EUSERS);
                }
            }
            // Already there: joining changes nothing, given the right.
            Ns::Only(_) => {
                if !creds.ns_capable(cap::SYS_ADMIN) {
                    return Err(Errno::EPERM);
                }
            }
        }
    }
    ctx.proc_().creds = creds;
    for ns in wanted {
        match ns {
            Ns::Mnt(m) => {
                let root = m.path_ref(b"/");
                let t = ctx.task();
                t.mnt_ns = m;
                let mut fs = t.fs.lock();
                fs.root = root.clone();
                fs.cwd = root;
            }
            Ns::Uts(u) => ctx.task().uts_ns = u,
            Ns::Ipc(r) => {
                let tgid = ctx.tgid();
                sentry::kernel::ipc::enter(&mut ctx.st, tgid, r.id);
            }
            Ns::Net(n) => ctx.task().net_ns = n,
            Ns::Cgroup(n) => ctx.task().cgroup_ns = n,
            Ns::Pid(p) => ctx.task().pid_ns_children = p,
            Ns::Time(n) => {
                if !std::sync::Arc::ptr_eq(&n, &ctx.task_ref().time_ns) {
                    n.freeze();
                    if n.is_first() {
                        // Back in the first: the shared page again.
                        ctx.k.vdso.map_params(&ctx.mm)?;
                    } else {
                        ctx.k.vdso.map_fallback(&ctx.mm)?;
                    }
                }
                let t = ctx.task();
                t.time_ns = n.clone();
                t.time_ns_children = n;
            }
            Ns::User(_) | Ns::Only(_) => {}
        }
    }
    for t in ctx.proc_ref().threads.clone() {
        sentry::kernel::signal::kick(&ctx.st, t);
    }
    Ok(0)
}
