/* mprotect and the SIGSEGV it produces (si_code, si_addr), longjmp out. */
#include "common.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

static sigjmp_buf jb;
static volatile sig_atomic_t got_sig, got_code;
static void *volatile got_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	got_addr = si->si_addr;
	siglongjmp(jb, 1);
}

/* Returns 1 if the access faulted. */
static int try_write(volatile char *a)
{
	got_sig = 0;
	if (sigsetjmp(jb, 1) == 0) {
		*a = 1;
		return 0;
	}
	return 1;
}

static int try_read(volatile char *a)
{
	got_sig = 0;
	if (sigsetjmp(jb, 1) == 0) {
		char c = *a;
		(void)c;
		return 0;
	}
	return 1;
}

static const char *code_name(int c)
{
	switch (c) {
	case SEGV_MAPERR: return "SEGV_MAPERR";
	case SEGV_ACCERR: return "SEGV_ACCERR";
	default: return "other";
	}
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct sigaction sa = {0};
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	CHECK("sigaction_segv", sigaction(SIGSEGV, &sa, NULL) == 0);

	char *p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mmap", p != MAP_FAILED);
	p[pg] = 7;
	CHECK("write_rw_no_fault", try_write(p + pg) == 0);

	CHECK("mprotect_ro", mprotect(p + pg, pg, PROT_READ) == 0);
	CHECK("read_ro_no_fault", try_read(p + pg + 5) == 0);
	CHECK("read_ro_value", p[pg] == 1);
	int f = try_write(p + pg + 123);
	CHECK("write_ro_faults", f == 1);
	CHECK("write_ro_signo", got_sig == SIGSEGV);
	printf("write_ro_code %s\n", code_name(got_code));
	CHECK("write_ro_addr", got_addr == (void *)(p + pg + 123));
	CHECK("neighbour_still_rw", try_write(p) == 0 && try_write(p + 2 * pg) == 0);

	CHECK("mprotect_none", mprotect(p + pg, pg, PROT_NONE) == 0);
	CHECK("read_none_faults", try_read(p + pg) == 1);
	printf("read_none_code %s\n", code_name(got_code));
	CHECK("read_none_addr", got_addr == (void *)(p + pg));

	CHECK("mprotect_rw_again", mprotect(p + pg, pg, PROT_READ | PROT_WRITE) == 0);
	CHECK("write_after_restore", try_write(p + pg) == 0);
	CHECK("contents_kept", p[pg] == 1);

	/* Unmapped page: SEGV_MAPERR. */
	CHECK("munmap_last", munmap(p + 2 * pg, pg) == 0);
	CHECK("write_unmapped_faults", try_write(p + 2 * pg + 8) == 1);
	printf("write_unmapped_code %s\n", code_name(got_code));
	CHECK("write_unmapped_addr", got_addr == (void *)(p + 2 * pg + 8));
	CHECK("read_null_faults", try_read((char *)0) == 1);
	printf("read_null_code %s\n", code_name(got_code));

	/* Handler ran repeatedly and signal mask restored by siglongjmp. */
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK("segv_not_blocked_after_longjmp", !sigismember(&cur, SIGSEGV));

	/* Errors. */
	EXPECT_ERR("mprotect_unaligned", mprotect(p + 1, pg, PROT_READ), EINVAL);
	EXPECT_ERR("mprotect_badprot", mprotect(p, pg, 0x100), EINVAL);
	EXPECT_ERR("mprotect_unmapped", mprotect(p + 2 * pg, pg, PROT_READ), ENOMEM);

	/* PROT_EXEC on anonymous memory: run a "ret" instruction. */
	unsigned char *code = mmap(NULL, pg, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	code[0] = 0xb8; /* mov eax, 42 */
	code[1] = 42; code[2] = 0; code[3] = 0; code[4] = 0;
	code[5] = 0xc3; /* ret */
	CHECK("mprotect_exec", mprotect(code, pg, PROT_READ | PROT_EXEC) == 0);
	int (*fn)(void) = (int (*)(void))code;
	CHECK("exec_page_runs", fn() == 42);
	CHECK("write_exec_page_faults", try_write((char *)code) == 1);
	printf("write_exec_code %s\n", code_name(got_code));

	munmap(p, 2 * pg);
	munmap(code, pg);
	return compat_done();
}
