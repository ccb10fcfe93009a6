//! The application's CPU state as the sentry sees it.

/// Size of the buffer for the XSAVE area (covers AVX-512 on current CPUs).
pub const XSTATE_MAX: usize = 4096;

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
