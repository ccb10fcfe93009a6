/* /proc/PID/mem: reading and writing a process's memory at its
 * addresses (its own and a child's), writes that reach a read-only page
 * (as debuggers need), short transfers at an unmapped page and EIO at
 * one, the seek rules, and the permission to open another's. */
#include "common.h"
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

static char var[32] = "original value";
/* The compiler must not assume `var` unchanged across the writes it
 * cannot see (they come through a file). */
#define BARRIER() __asm__ volatile("" ::: "memory")
static sigjmp_buf jb;
static void on_segv(int s) { (void)s; siglongjmp(jb, 1); }

int main(void)
{
	int fd = open("/proc/self/mem", O_RDWR);
	CHECK("open own", fd >= 0);
	char buf[32] = {0};
	CHECK("read own", pread(fd, buf, 14, (off_t)(uintptr_t)var) == 14 && memcmp(buf, "original value", 14) == 0);
	long w = pwrite(fd, "changed!", 8, (off_t)(uintptr_t)var);
	BARRIER();
	CHECK("write own", w == 8 && memcmp(var, "changed! value", 14) == 0);
	char *ro = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	strcpy(ro, "read-only page");
	mprotect(ro, 4096, PROT_READ);
	munmap(ro + 4096, 4096);
	w = pwrite(fd, "READ", 4, (off_t)(uintptr_t)ro);
	BARRIER();
	CHECK("write to a read-only page", w == 4 && memcmp(ro, "READ-only page", 14) == 0);
	struct sigaction sa = {0};
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	int faulted = 0;
	if (sigsetjmp(jb, 1) == 0)
		*(volatile char *)ro = 'x';
	else
		faulted = 1;
	CHECK("still read-only", faulted);
	char big[200];
	CHECK("short at the hole", pread(fd, big, 200, (off_t)(uintptr_t)(ro + 4096 - 100)) == 100);
	EXPECT_ERR("nothing there", pread(fd, big, 10, (off_t)(uintptr_t)(ro + 4096)), EIO);
	EXPECT_ERR("seek from the end", lseek(fd, 0, SEEK_END), EINVAL);
	CHECK("seek and read", lseek(fd, (off_t)(uintptr_t)var, SEEK_SET) == (off_t)(uintptr_t)var && read(fd, buf, 7) == 7 && memcmp(buf, "changed", 7) == 0);

	int up[2], down[2];
	pipe(up);
	pipe(down);
	strcpy(var, "parent's");
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		strcpy(var, "child's!");
		char x;
		write(up[1], "r", 1);
		read(down[0], &x, 1);
		BARRIER();
		_exit(strcmp(var, "poked!!!") == 0 ? 0 : 1);
	}
	char x;
	read(up[0], &x, 1);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", c);
	int cf = open(path, O_RDWR);
	CHECK("a child's", cf >= 0 && pread(cf, buf, 8, (off_t)(uintptr_t)var) == 8 && memcmp(buf, "child's!", 8) == 0);
	CHECK("poke a child", pwrite(cf, "poked!!!", 8, (off_t)(uintptr_t)var) == 8);
	fflush(stdout);
	pid_t n = fork();
	if (n == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(90);
		_exit(open(path, O_RDONLY) == -1 && errno == EACCES ? 0 : 1);
	}
	int st;
	waitpid(n, &st, 0);
	CHECK("not another user's", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	write(down[1], "g", 1);
	waitpid(c, &st, 0);
	CHECK("the child saw the poke", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return compat_done();
}
