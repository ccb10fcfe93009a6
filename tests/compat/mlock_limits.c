/* Locked memory and RLIMIT_MEMLOCK beyond mlock: MAP_LOCKED locks (and
 * counts), mremap of a locked mapping and new mappings after
 * mlockall(MCL_FUTURE) count too (EAGAIN past the limit, EPERM with a
 * zero limit), and mlock of PROT_NONE memory locks it but is ENOMEM. */
#include "common.h"
#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>

static long vmlck(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char l[256];
	long v = -1;
	while (fgets(l, sizeof l, f))
		if (!strncmp(l, "VmLck:", 6))
			v = atol(l + 6);
	fclose(f);
	return v;
}

int main(void)
{
	char *l = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	CHECK("MAP_LOCKED locks", l != MAP_FAILED && vmlck() == 4);
	l = mremap(l, 4096, 8192, MREMAP_MAYMOVE);
	CHECK("grown stays locked", l != MAP_FAILED && vmlck() == 8);
	munlockall();
	char *n = mmap(0, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT_ERR("mlock PROT_NONE", mlock(n, 4096), ENOMEM);
	CHECK("yet locked", vmlck() == 4);
	munlockall();

	struct rlimit rl = {8192, 8192};
	setrlimit(RLIMIT_MEMLOCK, &rl);
	setgroups(0, NULL);
	setresgid(1000, 1000, 1000);
	setresuid(1000, 1000, 1000);
	EXPECT_ERR("MAP_LOCKED past the limit",
		   mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0), EAGAIN);
	char *a = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mlock within", mlock(a, 4096) == 0);
	EXPECT_ERR("mremap locked past", mremap(a, 4096, 4 * 4096, MREMAP_MAYMOVE), EAGAIN);
	munlockall();
	CHECK("MCL_FUTURE", mlockall(MCL_FUTURE) == 0);
	EXPECT_ERR("mmap past with MCL_FUTURE",
		   mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EAGAIN);
	munlockall();
	rl.rlim_cur = 0;
	setrlimit(RLIMIT_MEMLOCK, &rl);
	EXPECT_ERR("MAP_LOCKED with no limit", mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0), EPERM);
	return compat_failures > 100 ? 100 : compat_failures;
}
