//! The stub: a page of code, mapped at the same fixed address in the sentry
//! and in every stub process, that is the only host code a stub runs.

use crate::PlatformError;

// Entry points, all position independent:
// - start: unmaps everything but the stub page (rdi = stub base, rsi = stub
//   length, rdx = end of user space), then traps to the tracer.
// - syscall: executes one injected syscall and traps.
// - batch: executes the injected calls of a table (rdi = table, rsi = count;
//   seven words each: number, six arguments) in order, and traps after the
//   last or at the first that fails; r14 is then the index it stopped at
//   and rax that call's result. The table is on a page the stub maps
//   read-only, so the application's other threads cannot rewrite it. A
//   clone in the table leaves its result in rbx; the child parks, deciding
//   so from registers only: by the time it runs, the sentry may have
//   written the parent's next table into the page it still maps.
// - clone: executes an injected clone; the parent traps, the child sleeps
//   in park until its tracer seizes and interrupts it (a spinning child would hold
//   its CPU away from that tracer).
// - park: sleeps forever, for a detached thread-group leader.
// Sleeping is a futex wait on a word of the stub page that stays 0 (the
// sandbox's seccomp policy allows futex, and pause is one call fewer).
core::arch::global_asm!(
    r#"
    .pushsection .text.husk_stub, "ax"
    .balign 64
    .globl husk_stub_start
husk_stub_start:
    mov r12, rdi
    mov r13, rsi
    mov r14, rdx
    mov eax, 11
    xor edi, edi
    mov rsi, r12
    syscall
    mov eax, 11
    lea rdi, [r12 + r13]
    mov rsi, r14
    sub rsi, rdi
    syscall
    int3
    ud2
    .globl husk_stub_syscall
husk_stub_syscall:
    syscall
    int3
    ud2
    .globl husk_stub_batch
husk_stub_batch:
    mov r12, rdi
    mov r13, rsi
    xor r14d, r14d
husk_stub_batch_next:
    cmp r14, r13
    jae husk_stub_batch_done
    imul r15, r14, 56
    add r15, r12
    mov rax, [r15]
    mov rbp, rax
    mov rdi, [r15 + 8]
    mov rsi, [r15 + 16]
    mov rdx, [r15 + 24]
    mov r10, [r15 + 32]
    mov r8, [r15 + 40]
    mov r9, [r15 + 48]
    syscall
    cmp rax, -4095
    jae husk_stub_batch_done
    cmp rbp, 56
    jne husk_stub_batch_ok
    test rax, rax
    jz husk_stub_park
    mov rbx, rax
husk_stub_batch_ok:
    inc r14
    jmp husk_stub_batch_next
husk_stub_batch_done:
    int3
    ud2
    .globl husk_stub_clone
husk_stub_clone:
    syscall
    test rax, rax
    jz husk_stub_park
    int3
    ud2
    .globl husk_stub_park
husk_stub_park:
    lea rdi, [rip + husk_stub_zero]
    mov esi, 128
    xor edx, edx
    xor r10d, r10d
    mov eax, 202
    syscall
    jmp husk_stub_park
    .balign 4
husk_stub_zero:
    .long 0
    .globl husk_stub_end
husk_stub_end:
    .popsection
"#
);

extern "C" {
    static husk_stub_start: u8;
    static husk_stub_syscall: u8;
    static husk_stub_batch: u8;
    static husk_stub_clone: u8;
    static husk_stub_park: u8;
    static husk_stub_end: u8;
}

/// Highest user address plus one on x86-64 with 4-level paging.
pub const USER_END: u64 = 0x7fff_ffff_f000;
const PAGE: u64 = 4096;

/// Addresses of the stub page, identical in the sentry and every stub.
#[derive(Clone, Copy, Debug)]
pub struct StubPage {
    pub base: u64,
    pub start: u64,
    pub syscall: u64,
    pub batch: u64,
    pub clone: u64,
    pub park: u64,
}

fn sym(p: *const u8) -> u64 {
    p as u64
}

impl StubPage {
    /// Maps the stub code at a fixed address in the sentry.
    pub fn install() -> Result<StubPage, PlatformError> {
        let (s, sc, ba, cl, pk, e) = (
            sym(std::ptr::addr_of!(husk_stub_start)),
            sym(std::ptr::addr_of!(husk_stub_syscall)),
            sym(std::ptr::addr_of!(husk_stub_batch)),
            sym(std::ptr::addr_of!(husk_stub_clone)),
            sym(std::ptr::addr_of!(husk_stub_park)),
            sym(std::ptr::addr_of!(husk_stub_end)),
        );
        let len = (e - s) as usize;
        assert!(len as u64 <= PAGE);
        // Candidates near the top of user space, away from the usual mmap
        // and stack areas; the first free one wins.
        for base in [
            0x7ff0_0000_0000u64,
            0x7fe0_0000_0000,
            0x7f80_0000_0000,
            0x7f00_0000_0000,
        ] {
            // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping.
            let p = unsafe {
                libc::mmap(
                    base as *mut libc::c_void,
                    PAGE as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED || p as u64 != base {
                continue;
            }
            // SAFETY: the destination is the fresh page mapped above, the
            // source the stub code of `len` bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(s as *const u8, p as *mut u8, len);
                if libc::mprotect(p, PAGE as usize, libc::PROT_READ | libc::PROT_EXEC) != 0 {
                    return Err(PlatformError::last("mprotect stub"));
                }
            }
            return Ok(StubPage {
                base,
                start: base,
                syscall: base + (sc - s),
                batch: base + (ba - s),
                clone: base + (cl - s),
                park: base + (pk - s),
            });
        }
        Err(PlatformError::Host {
            op: "map stub page",
            err: std::io::Error::from_raw_os_error(libc::EEXIST),
        })
    }

    /// Size of the stub mapping.
    pub fn size(&self) -> u64 {
        PAGE
    }
}
