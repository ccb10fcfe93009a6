/* Debugger reads ignore protections as Linux's FOLL_FORCE does:
 * /proc/PID/mem and PTRACE_PEEKDATA read PROT_NONE memory (zeros where
 * it was never touched, the old data where it was), a POKE into it
 * reads back, the vDSO takes a POKE (a copy of its own) while [vvar] is
 * out of reach, and process_vm_readv (no force) is still EFAULT. */
#include "common.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/auxv.h>
#include <sys/wait.h>

#define PG 4096

static void mem_read(const char *label, int fd, char *at)
{
	char b[16] = {1};
	ssize_t n = pread(fd, b, sizeof b, (off_t)(unsigned long)at);
	if (n < 0)
		printf("%s: %s\n", label, ename(errno));
	else
		printf("%s: %zd bytes, first %d\n", label, n, b[0]);
}

int main(void)
{
	/* Never accessible, and accessible once then closed off. */
	char *a = mmap(NULL, 8 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(a + 4 * PG, PG, PROT_READ | PROT_WRITE);
	a[4 * PG] = 5;
	mprotect(a + 4 * PG, PG, PROT_NONE);

	int fd = open("/proc/self/mem", O_RDWR);
	mem_read("mem, never touched", fd, a + 2 * PG);
	mem_read("mem, written then PROT_NONE", fd, a + 4 * PG);
	char v = 9;
	printf("mem write: %zd\n", pwrite(fd, &v, 1, (off_t)(unsigned long)(a + 6 * PG)));
	mem_read("mem, after the write", fd, a + 6 * PG);
	close(fd);

	char buf[8];
	struct iovec l = {buf, sizeof buf}, r = {a + 4 * PG, sizeof buf};
	ssize_t n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	printf("process_vm_readv: %s\n", n < 0 ? ename(errno) : "read");

	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		raise(SIGSTOP);
		_exit(0);
	}
	if (ptrace(PTRACE_ATTACH, c, 0, 0)) {
		printf("attach: %s\n", ename(errno));
		return 1;
	}
	int st;
	waitpid(c, &st, 0);
	errno = 0;
	long w = ptrace(PTRACE_PEEKDATA, c, a + 2 * PG, 0);
	printf("peek never touched: %ld %s\n", w, ename(errno));
	errno = 0;
	w = ptrace(PTRACE_PEEKDATA, c, a + 4 * PG, 0);
	printf("peek written: %ld %s\n", w & 0xff, ename(errno));
	printf("poke: %ld\n", ptrace(PTRACE_POKEDATA, c, a + 3 * PG, 77));
	errno = 0;
	w = ptrace(PTRACE_PEEKDATA, c, a + 3 * PG, 0);
	printf("peek after poke: %ld %s\n", w, ename(errno));
	errno = 0;
	w = ptrace(PTRACE_PEEKDATA, c, (void *)8, 0);
	printf("peek unmapped: %ld %s\n", w, ename(errno));
	/* The vDSO takes a breakpoint (here the word it had), the parameter
	 * page is out of reach. */
	unsigned long vdso = getauxval(AT_SYSINFO_EHDR) + 0x100;
	errno = 0;
	w = ptrace(PTRACE_PEEKDATA, c, vdso, 0);
	int peeked = errno == 0;
	printf("vdso peek: %d, poke back: %ld\n", peeked, ptrace(PTRACE_POKEDATA, c, vdso, w));
	errno = 0;
	printf("vdso reads back the same: %d\n", ptrace(PTRACE_PEEKDATA, c, vdso, 0) == w && !errno);
	unsigned long vvar = 0;
	FILE *m = fopen("/proc/self/maps", "r");
	char line[512];
	while (m && fgets(line, sizeof line, m))
		if (strstr(line, "[vvar]"))
			vvar = strtoul(line, NULL, 16);
	if (m)
		fclose(m);
	errno = 0;
	ptrace(PTRACE_PEEKDATA, c, vvar, 0);
	printf("vvar peek: %s\n", ename(errno));
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", c);
	int cf = open(path, O_RDONLY);
	mem_read("child's mem after poke", cf, a + 3 * PG);
	close(cf);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	return 0;
}
