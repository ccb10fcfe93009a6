/* fallocate on tmpfs (/dev/shm) allocates: st_blocks counts the pages
 * (past the end too with FALLOC_FL_KEEP_SIZE), data already there stays,
 * punching gives pages back, and more than the filesystem holds is
 * ENOSPC with the file unchanged. */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>

static void show(const char *what, int fd)
{
	struct stat st;
	fstat(fd, &st);
	printf("%-28s size %lld blocks %lld\n", what, (long long)st.st_size, (long long)st.st_blocks);
}

int main(void)
{
	const char *path = "/dev/shm/husk-tmpfs-fallocate";
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK("data", pwrite(fd, "keep", 4, 8192) == 4);
	show("sparse", fd);
	CHECK("mode 0, 1 MiB", fallocate(fd, 0, 0, 1 << 20) == 0);
	show("allocated", fd);
	char b[4] = {0};
	CHECK("the data stays", pread(fd, b, 4, 8192) == 4 && memcmp(b, "keep", 4) == 0);
	CHECK("zeros where there was none", pread(fd, b, 4, 0) == 4 && memcmp(b, "\0\0\0\0", 4) == 0);
	CHECK("KEEP_SIZE past the end", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 2 << 20) == 0);
	show("kept size", fd);
	CHECK("punch", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096 * 16) == 0);
	show("punched", fd);
	EXPECT_ERR("more than the filesystem", fallocate(fd, 0, 0, 1LL << 40), ENOSPC);
	show("unchanged", fd);
	EXPECT_ERR("negative length", fallocate(fd, 0, 0, -1), EINVAL);
	close(fd);
	unlink(path);

	/* Preallocated past the end of an empty file, then truncated: the
	 * pages count until a truncate takes them, even to the same size. */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK("KEEP_SIZE on an empty file", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20) == 0);
	show("preallocated", fd);
	ftruncate(fd, 8192);
	show("grown to 8 KiB", fd);
	ftruncate(fd, 0);
	show("truncated to 0", fd);
	for (int i = 0; i < 20; i++) {
		fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4 << 20);
		ftruncate(fd, 0);
	}
	show("after 20 rounds", fd);
	close(fd);
	unlink(path);
	return compat_done();
}
