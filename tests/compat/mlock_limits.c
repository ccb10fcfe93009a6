/* mlock, mlock2, munlock, mlockall and munlockall: what /proc/self/status
 * shows as VmLck, MCL_FUTURE locking later mappings, locks not inherited
 * by fork, and RLIMIT_MEMLOCK for a process without CAP_IPC_LOCK (EPERM
 * with a zero limit, ENOMEM past it, pages already locked not counted
 * twice). */
#include "common.h"
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long vmlck(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int limited(void)
{
	if (setgid(65534) || setuid(65534))
		return 90;
	int r = 0;
	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rlimit lim = {65536, 65536};
	setrlimit(RLIMIT_MEMLOCK, &lim);
	r |= !(mlock(m, 32768) == 0);
	r |= !(mlock(m, 32768) == 0) << 1;
	r |= !(mlock(m + 32768, 65536) == -1 && errno == ENOMEM) << 2;
	r |= !(mlock(m + 32768, 32768) == 0) << 3;
	r |= !(vmlck() == 64) << 4;
	r |= !(mlockall(MCL_CURRENT) == -1 && errno == ENOMEM) << 5;
	r |= !(mlockall(MCL_FUTURE) == 0) << 6;
	r |= !(munlockall() == 0 && vmlck() == 0) << 7;
	struct rlimit zero = {0, 0};
	setrlimit(RLIMIT_MEMLOCK, &zero);
	r |= !(mlock(m, 4096) == -1 && errno == EPERM) << 8;
	r |= !(mlockall(MCL_FUTURE) == -1 && errno == EPERM) << 9;
	return r;
}

int main(void)
{
	long base = vmlck();
	CHECK("nothing locked", base == 0);
	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mlock", mlock(m + 100, 8192) == 0);
	CHECK("VmLck counts pages", vmlck() == 12);
	CHECK("mlock2 ONFAULT", syscall(SYS_mlock2, m + 65536, 65536, 1) == 0 && vmlck() == 76);
	EXPECT_ERR("mlock2 bad flags", syscall(SYS_mlock2, m, 4096, 2), EINVAL);
	CHECK("munlock", munlock(m, 1 << 20) == 0 && vmlck() == 0);
	munmap(m + 4096, 4096);
	EXPECT_ERR("mlock over a hole", mlock(m, 8192), ENOMEM);
	/* Linux locked what came before the hole. */
	CHECK("locked up to the hole", vmlck() == 4);
	munlock(m, 4096);
	EXPECT_ERR("mlockall no flags", mlockall(0), EINVAL);
	EXPECT_ERR("mlockall bad flags", mlockall(MCL_CURRENT | 8), EINVAL);
	EXPECT_ERR("mlockall onfault alone", mlockall(MCL_ONFAULT), EINVAL);
	CHECK("mlockall future", mlockall(MCL_FUTURE) == 0 && vmlck() == 0);
	char *n = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("new mapping locked", vmlck() == 64);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(vmlck() == 0 ? 0 : 1);
	int st;
	waitpid(c, &st, 0);
	CHECK("not inherited", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("munlockall", munlockall() == 0 && vmlck() == 0);
	munmap(n, 65536);
	n = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("future cleared", vmlck() == 0);
	fflush(stdout);
	c = fork();
	if (c == 0)
		_exit(limited());
	waitpid(c, &st, 0);
	CHECK("RLIMIT_MEMLOCK", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (WIFEXITED(st) && WEXITSTATUS(st))
		printf("limit bits %d\n", WEXITSTATUS(st));
	return compat_done();
}
