//! The application's CPU state as the sentry sees it.

/// Size of the buffer for the XSAVE area: the whole ptrace regset, which
/// with AMX's tile data is 11008 bytes (PTRACE_SETREGSET takes nothing
/// shorter).
pub const XSTATE_MAX: usize = 16384;

/// AMX tile data: a feature a task must ask for (ARCH_REQ_XCOMP_PERM)
/// before it may use it. The sandbox's tasks never have it.
const XFEATURE_XTILEDATA: u64 = 1 << 18;

/// General registers plus, when loaded, the extended FPU state.
#[derive(Clone)]
pub struct Regs {
    pub gp: libc::user_regs_struct,
    /// XSAVE area; meaningful only when `fp_len > 0`.
    pub fp: Box<[u8; XSTATE_MAX]>,
    pub fp_len: usize,
    /// Set when `fp` must be written back into the application on switch.
    pub fp_dirty: bool,
}

impl Default for Regs {
    fn default() -> Self {
        // SAFETY: user_regs_struct is plain integers; all-zero is valid.
        let gp: libc::user_regs_struct = unsafe { std::mem::zeroed() };
        Regs {
            gp,
            fp: Box::new([0; XSTATE_MAX]),
            fp_len: 0,
            fp_dirty: false,
        }
    }
}

impl std::fmt::Debug for Regs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = &self.gp;
        write!(
            f,
            "rip={:#x} rsp={:#x} rax={:#x} rdi={:#x} rsi={:#x} rdx={:#x}",
            g.rip, g.rsp, g.rax, g.rdi, g.rsi, g.rdx
        )
    }
}

impl Regs {
    /// The six syscall arguments in ABI order.
    pub fn syscall_args(&self) -> [u64; 6] {
        let g = &self.gp;
        [g.rdi, g.rsi, g.rdx, g.r10, g.r8, g.r9]
    }
}

impl Regs {
    /// Fills `fp` with the state a new process's FPU starts in (what a
    /// debugger reads of a task that has not run since its exec, before
    /// the platform holds any FPU state of it): XSAVE's layout for the
    /// features the host enabled, with the software-reserved bytes Linux
    /// puts in the ptrace regset.
    pub fn init_fp(&mut self) {
        self.fp.fill(0);
        let put = |fp: &mut [u8; XSTATE_MAX], at: usize, b: &[u8]| {
            fp[at..at + b.len()].copy_from_slice(b)
        };
        put(&mut self.fp, 0, &0x037fu16.to_le_bytes());
        put(&mut self.fp, 24, &0x1f80u32.to_le_bytes());
        put(&mut self.fp, 28, &0xffffu32.to_le_bytes());
        let size = match HOST_LAYOUT.get() {
            // The host's own regset: its size and software bytes.
            Some((len, sw)) => {
                put(&mut self.fp, 464, sw);
                *len
            }
            None => host_xsave_size(),
        };
        self.fp_len = size.clamp(576, XSTATE_MAX);
        self.fp_dirty = false;
    }
}

/// The size and software-reserved bytes of the host's XSAVE regset, as
/// the first read of one showed them.
static HOST_LAYOUT: std::sync::OnceLock<(usize, [u8; 48])> = std::sync::OnceLock::new();

pub(crate) fn note_host_layout(len: usize, fp: &[u8; XSTATE_MAX]) {
    if HOST_LAYOUT.get().is_none() && len >= 512 {
        let mut sw = [0u8; 48];
        sw.copy_from_slice(&fp[464..512]);
        let _ = HOST_LAYOUT.set((len, sw));
    }
}

/// Whether the host enabled XSAVE for user space (CPUID.1:ECX.OSXSAVE).
fn os_xsave() -> bool {
    std::arch::x86_64::__cpuid(1).ecx & (1 << 27) != 0
}

/// The XSAVE features the host enabled (XCR0): what an XSAVE image's
/// header may name.
pub fn host_xfeatures() -> u64 {
    if !os_xsave() {
        return 3;
    }
    // SAFETY: xgetbv(0) is allowed in user mode once OSXSAVE is set.
    unsafe { xgetbv0() }
}

#[target_feature(enable = "xsave")]
unsafe fn xgetbv0() -> u64 {
    std::arch::x86_64::_xgetbv(0)
}

/// The XSAVE features an application task may have in use: the host's,
/// without those that need a permission it never has.
pub fn app_xfeatures() -> u64 {
    host_xfeatures() & !XFEATURE_XTILEDATA
}

/// The length of the host's XSAVE regset (what PTRACE_SETREGSET takes).
pub fn xstate_len() -> usize {
    HOST_LAYOUT
        .get()
        .map_or_else(host_xsave_size, |l| l.0)
        .clamp(576, XSTATE_MAX)
}

/// The XSAVE area a signal frame holds: up to the end of the last
/// feature of `app_xfeatures` (Linux's default size, without AMX tiles).
pub fn sigframe_xstate_len() -> usize {
    if !os_xsave() {
        return 512;
    }
    let f = app_xfeatures();
    let mut end = 576usize;
    for i in 2..63u32 {
        if f & (1 << i) != 0 {
            let l = std::arch::x86_64::__cpuid_count(0xd, i);
            end = end.max(l.ebx as usize + l.eax as usize);
        }
    }
    end.min(xstate_len())
}

/// The size of the XSAVE area for the features the host enabled.
fn host_xsave_size() -> usize {
    if !os_xsave() {
        return 576;
    }
    std::arch::x86_64::__cpuid_count(0xd, 0).ebx as usize
}
