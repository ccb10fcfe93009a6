/* mmap offsets near the top: a file mapping must end within the file's
 * largest offset (EOVERFLOW past it: i64::MAX for a regular file, the
 * address range for a device such as /dev/zero); an anonymous mapping
 * ignores its offset. */
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>

int main(void)
{
	int fd = open("/etc/passwd", O_RDONLY);
	int z = open("/dev/zero", O_RDWR);
	EXPECT_ERR("regular file at the last page", mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0x7ffffffffffff000), EOVERFLOW);
	EXPECT_ERR("regular file past it", mmap(0, 8192, PROT_READ, MAP_PRIVATE, fd, 0x7ffffffffffff000), EOVERFLOW);
	EXPECT_ERR("regular file, huge offset", mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0xfffffffffffff000), EOVERFLOW);
	void *p = mmap(0, 4096, PROT_READ, MAP_PRIVATE, z, 0xffffffffffffe000);
	CHECK("/dev/zero ending at the top", p != MAP_FAILED);
	EXPECT_ERR("/dev/zero past the top", mmap(0, 8192, PROT_READ, MAP_PRIVATE, z, 0xfffffffffffff000), EOVERFLOW);
	p = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0xfffffffffffff000);
	CHECK("anonymous ignores it", p != MAP_FAILED);
	p = mmap(0, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0xfffffffffffff000);
	CHECK("shared anonymous too", p != MAP_FAILED);
	EXPECT_ERR("unaligned offset", mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 100), EINVAL);
	return compat_done();
}
