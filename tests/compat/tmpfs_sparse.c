/* tmpfs files are sparse: a byte written far out costs one page, holes
 * read as zeros, SEEK_DATA/SEEK_HOLE find them, punching a hole frees
 * memory, and a shared mapping sees the same bytes as read and write. */
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

static long blocks(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (long)st.st_blocks : -1;
}

int main(void)
{
	const char *path = "/dev/shm/tmpfs_sparse_test";
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK("open", fd >= 0);
	off_t far = 6LL << 30;
	CHECK("far_write", pwrite(fd, "x", 1, far) == 1);
	struct stat st;
	fstat(fd, &st);
	CHECK("size", st.st_size == far + 1);
	SHOW("blocks_after_far_write", "%ld", blocks(fd));
	char b[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	CHECK("hole_reads_zero", pread(fd, b, 8, 1 << 20) == 8 && memcmp(b, "\0\0\0\0\0\0\0\0", 8) == 0);
	CHECK("seek_data_finds_the_byte", lseek(fd, 0, SEEK_DATA) == far);
	CHECK("seek_hole_at_start", lseek(fd, 0, SEEK_HOLE) == 0);
	CHECK("seek_hole_after_data_is_eof", lseek(fd, far, SEEK_HOLE) == far + 1);
	EXPECT_ERR("seek_data_past_data", lseek(fd, far + 1, SEEK_DATA), ENXIO);

	/* Three pages of data; punch the middle one. */
	CHECK("truncate", ftruncate(fd, 0) == 0);
	SHOW("blocks_after_truncate", "%ld", blocks(fd));
	static char page[3 * 4096];
	memset(page, 'a', sizeof page);
	CHECK("write_3_pages", pwrite(fd, page, sizeof page, 0) == (ssize_t)sizeof page);
	SHOW("blocks_3_pages", "%ld", blocks(fd));
	CHECK("punch", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096) == 0);
	SHOW("blocks_after_punch", "%ld", blocks(fd));
	CHECK("punched_reads_zero", pread(fd, b, 8, 4096 + 100) == 8 && b[0] == 0 && b[7] == 0);
	CHECK("seek_hole_finds_punch", lseek(fd, 0, SEEK_HOLE) == 4096);
	CHECK("seek_data_after_punch", lseek(fd, 4096, SEEK_DATA) == 8192);
	/* A partial punch zeroes bytes and keeps the page. */
	CHECK("punch_partial", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 20) == 0);
	CHECK("partial_zeroed", pread(fd, b, 1, 15) == 1 && b[0] == 0 && pread(fd, b, 1, 30) == 1 && b[0] == 'a');
	SHOW("blocks_after_partial_punch", "%ld", blocks(fd));

	/* A small file grows a hole: its first page keeps its bytes. */
	int s = open("/dev/shm/tmpfs_sparse_small", O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK("small_write", pwrite(s, "hello", 5, 0) == 5);
	SHOW("blocks_small", "%ld", blocks(s));
	CHECK("small_seek_hole_is_eof", lseek(s, 0, SEEK_HOLE) == 5);
	CHECK("write_past_a_hole", pwrite(s, "far", 3, 8192) == 3);
	SHOW("blocks_small_then_far", "%ld", blocks(s));
	CHECK("first_page_kept", pread(s, b, 5, 0) == 5 && memcmp(b, "hello", 5) == 0);
	CHECK("hole_between", lseek(s, 0, SEEK_HOLE) == 4096 && lseek(s, 4096, SEEK_DATA) == 8192);
	CHECK("small_truncate_grow", ftruncate(s, 0) == 0 && pwrite(s, "ab", 2, 0) == 2 && ftruncate(s, 100000) == 0);
	SHOW("blocks_after_grow", "%ld", blocks(s));
	CHECK("grown_reads_zero", pread(s, b, 4, 50000) == 4 && b[0] == 0 && b[3] == 0);
	close(s);
	unlink("/dev/shm/tmpfs_sparse_small");

	/* A shared mapping and the file agree both ways, holes included. */
	char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK("map_shared", m != MAP_FAILED);
	CHECK("map_sees_data_and_hole", m[0] == 'a' && m[4096] == 0 && m[8192] == 'a');
	m[4096 + 1] = 'm';
	CHECK("read_sees_map_write", pread(fd, b, 1, 4097) == 1 && b[0] == 'm');
	CHECK("map_sees_write", pwrite(fd, "w", 1, 5) == 1 && m[5] == 'w');
	munmap(m, 3 * 4096);
	close(fd);
	unlink(path);
	return compat_done();
}
