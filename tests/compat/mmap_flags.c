/* mmap and mprotect flag rules: MAP_SHARED_VALIDATE refuses flags it
 * does not know and MAP_SYNC (EOPNOTSUPP) and is EINVAL for anonymous
 * memory, mmap ignores unknown protection bits, an O_PATH fd is EBADF,
 * and mprotect's PROT_GROWSDOWN needs a grows-down mapping (PROT_GROWSUP
 * is EINVAL on x86). */
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>

int main(void)
{
	char d[] = "/tmp/husk-mmapf-XXXXXX";
	mkdtemp(d);
	char f[256];
	snprintf(f, sizeof f, "%s/f", d);
	int fd = open(f, O_RDWR | O_CREAT, 0600);
	ftruncate(fd, 4096);
	EXPECT_ERR("anon SHARED_VALIDATE", mmap(0, 4096, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0), EINVAL);
	EXPECT_ERR("VALIDATE unknown flag", mmap(0, 4096, PROT_READ, MAP_SHARED_VALIDATE | 0x800000, fd, 0), EOPNOTSUPP);
	EXPECT_ERR("VALIDATE MAP_SYNC", mmap(0, 4096, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0), EOPNOTSUPP);
	CHECK("VALIDATE plain", mmap(0, 4096, PROT_READ, MAP_SHARED_VALIDATE, fd, 0) != MAP_FAILED);
	CHECK("unknown prot bit", mmap(0, 4096, PROT_READ | 0x100, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED);
	int o = open(f, O_PATH);
	EXPECT_ERR("O_PATH fd", mmap(0, 4096, PROT_READ, MAP_PRIVATE, o, 0), EBADF);
	char *a = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT_ERR("GROWSDOWN on a plain mapping", mprotect(a, 4096, PROT_READ | PROT_GROWSDOWN), EINVAL);
	EXPECT_ERR("GROWSDOWN|GROWSUP", mprotect(a, 4096, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP), EINVAL);
	CHECK("PROT_SEM accepted", mprotect(a, 4096, PROT_READ | 0x8) == 0);
	char *g = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
	CHECK("GROWSDOWN on a grows-down mapping", g != MAP_FAILED && mprotect(g + 2 * 4096, 4096, PROT_READ | PROT_GROWSDOWN) == 0);
	unlink(f);
	rmdir(d);
	return compat_failures > 100 ? 100 : compat_failures;
}
