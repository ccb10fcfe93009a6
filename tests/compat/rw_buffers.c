/* How read/write and their vectored and positioned forms judge the
 * application's buffer, as Linux: access_ok before any I/O (EFAULT for a
 * range outside user space, whatever is mapped), iovec arrays (UIO_MAXIOV,
 * negative lengths, zero counts), MAX_RW_COUNT, positions whose end
 * overflows, partly mapped buffers (short reads and writes; a pipe that
 * cannot copy its queue whole faults), and the errno order between a bad
 * fd, a bad buffer and a bad position. */
#include "common.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#define TOP 0x7ffffffff000UL

static long r_read(int fd, unsigned long buf, unsigned long len)
{
	return syscall(SYS_read, fd, buf, len);
}

static long r_write(int fd, unsigned long buf, unsigned long len)
{
	return syscall(SYS_write, fd, buf, len);
}

static void fill(int w, const char *s)
{
	if (write(w, s, strlen(s)) != (long)strlen(s))
		printf("fill FAIL\n");
}

static void drain(int r)
{
	char b[256];
	while (read(r, b, sizeof b) > 0)
		;
}

static char sbuf[4096]; /* low in memory: far from the top */

int main(void)
{
	int p[2];
	char buf[4096];
	CHECK("pipe", pipe2(p, O_NONBLOCK) == 0);
	unsigned long b = (unsigned long)buf;

	/* access_ok: the end of the range must be in user space. */
	EXPECT_ERR("read_len_past_top", r_read(p[0], b, 1UL << 47), EFAULT);
	EXPECT_ERR("read_len_2_63", r_read(p[0], b, 1UL << 63), EFAULT);
	EXPECT_ERR("read_len_max", r_read(p[0], b, ~0UL), EFAULT);
	EXPECT_ERR("read_top_empty_pipe", r_read(p[0], TOP - 10, 10), EAGAIN);
	EXPECT_ERR("read_over_top", r_read(p[0], TOP - 10, 11), EFAULT);
	EXPECT_ERR("read_unmapped_empty_pipe", r_read(p[0], 8, 10), EAGAIN);
	CHECK("read_zero_at_top", r_read(p[0], TOP, 0) == 0);
	EXPECT_ERR("read_zero_above_top", r_read(p[0], TOP + 1, 0), EFAULT);
	EXPECT_ERR("read_zero_kernel_half", r_read(p[0], ~0UL, 0), EFAULT);
	CHECK("read_zero_null", r_read(p[0], 0, 0) == 0);
	EXPECT_ERR("write_len_2_63", r_write(p[1], b, 1UL << 63), EFAULT);
	EXPECT_ERR("write_zero_kernel_half", r_write(p[1], ~0UL, 0), EFAULT);
	CHECK("write_zero_top", r_write(p[1], TOP, 0) == 0);
	EXPECT_ERR("write_unmapped", r_write(p[1], 8, 1), EFAULT);
	CHECK("write_zero_unmapped", r_write(p[1], 8, 0) == 0);

	/* A huge length with a small buffer is fine while the data fits. */
	fill(p[1], "hello");
	CHECK("read_long_len_small_data", r_read(p[0], (unsigned long)sbuf, 1UL << 40) == 5);

	/* iovec arrays. */
	struct iovec v[3];
	EXPECT_ERR("readv_1025", readv(p[0], v, 1025), EINVAL);
	CHECK("readv_0", readv(p[0], v, 0) == 0);
	CHECK("readv_0_bad_array", readv(p[0], BADPTR, 0) == 0);
	EXPECT_ERR("readv_bad_array", readv(p[0], BADPTR, 1), EFAULT);
	v[0] = (struct iovec){buf, (size_t)-5};
	EXPECT_ERR("readv_negative_len", readv(p[0], v, 1), EINVAL);
	v[0] = (struct iovec){BADPTR, (size_t)1 << 62};
	v[1] = (struct iovec){buf, (size_t)-1};
	EXPECT_ERR("readv_negative_before_fault", readv(p[0], v, 2), EINVAL);
	v[0] = (struct iovec){buf, (size_t)1 << 62};
	v[1] = (struct iovec){buf, (size_t)1 << 62};
	EXPECT_ERR("readv_len_past_top", readv(p[0], v, 2), EFAULT);
	v[0] = (struct iovec){buf, 0};
	v[1] = (struct iovec){(void *)(TOP + 1), 0};
	EXPECT_ERR("readv_zero_len_above_top", readv(p[0], v, 2), EFAULT);
	v[1] = (struct iovec){BADPTR, 0};
	CHECK("readv_zero_len_unmapped", readv(p[0], v, 2) == 0);
	fill(p[1], "abc");
	v[0] = (struct iovec){buf, 2};
	v[1] = (struct iovec){buf + 2, 0x7fffffff};
	v[2] = (struct iovec){buf, 1UL << 45};
	EXPECT_ERR("readv_third_past_top", readv(p[0], v, 3), EFAULT);
	v[0] = (struct iovec){sbuf, 2};
	v[1] = (struct iovec){sbuf + 2, 0x7fffffff};
	v[2] = (struct iovec){sbuf, 1UL << 40};
	CHECK("readv_capped_total", readv(p[0], v, 3) == 3 && memcmp(sbuf, "abc", 3) == 0);
	EXPECT_ERR("writev_1025", writev(p[1], v, 1025), EINVAL);
	v[0] = (struct iovec){"xy", 2};
	v[1] = (struct iovec){BADPTR, 0};
	v[2] = (struct iovec){"z", 1};
	CHECK("writev_skips_empty", writev(p[1], v, 3) == 3);
	CHECK("read_back", read(p[0], buf, sizeof buf) == 3 && memcmp(buf, "xyz", 3) == 0);

	/* A bad fd or a wrong-way fd comes before the buffer. */
	EXPECT_ERR("read_bad_fd_bad_buf", r_read(-1, 8, 1UL << 63), EBADF);
	EXPECT_ERR("read_write_end", r_read(p[1], 8, 1UL << 63), EBADF);
	EXPECT_ERR("readv_write_end_bad_array", readv(p[1], BADPTR, 1), EBADF);
	EXPECT_ERR("write_read_end", r_write(p[0], b, 1), EBADF);

	/* Partly mapped buffers: reads and writes stop where the copy would
	 * fault; a pipe whose queue does not fit faults whole. */
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mmap", m != MAP_FAILED);
	CHECK("munmap_tail", munmap(m + 4096, 4096) == 0);
	memset(m, 'q', 4096);
	fill(p[1], "0123456789");
	CHECK("pipe_read_fits_mapped_part", read(p[0], m, 8192) == 10);
	char big[6000];
	memset(big, 'b', sizeof big);
	CHECK("pipe_fill_6000", write(p[1], big, sizeof big) == 6000);
	EXPECT_ERR("pipe_read_queue_exceeds_mapped", read(p[0], m + 4000, 4192), EFAULT);
	CHECK("pipe_kept_queue", read(p[0], big, sizeof big) == 6000);
	v[0] = (struct iovec){buf, 3};
	v[1] = (struct iovec){BADPTR, 4};
	fill(p[1], "abcdefg");
	EXPECT_ERR("pipe_readv_second_unmapped", readv(p[0], v, 2), EFAULT);
	drain(p[0]);
	fill(p[1], "ab");
	CHECK("pipe_readv_fits_first", readv(p[0], v, 2) == 2);

	char path[] = "/tmp/husk-rwbuf-XXXXXX";
	int f = mkstemp(path);
	CHECK("mkstemp", f >= 0);
	unlink(path);
	CHECK("file_write_partly_mapped", write(f, m, 8192) == 4096);
	CHECK("file_pos", lseek(f, 0, SEEK_CUR) == 4096);
	CHECK("file_read_partly_mapped", pread(f, m + 2048, 8192, 0) == 2048);
	EXPECT_ERR("file_read_unmapped", pread(f, m + 4096, 10, 0), EFAULT);
	CHECK("file_read_at_eof_unmapped_len0", pread(f, m + 4096, 0, 4096) == 0);
	CHECK("file_read_at_eof_unmapped", pread(f, m + 4096, 10, 4096) == 0);
	CHECK("file_read_past_eof_unmapped", pread(f, BADPTR, 10, 99999) == 0);
	v[0] = (struct iovec){buf, 10};
	v[1] = (struct iovec){m + 4096, 10};
	CHECK("file_readv_second_unmapped", preadv(f, v, 2, 0) == 10);
	v[0] = (struct iovec){m + 4090, 12};
	v[1] = (struct iovec){buf, 10};
	CHECK("file_writev_stops_at_hole", pwritev(f, v, 2, 0) == 6);

	/* Positions: negative is EINVAL before the fd; an end past the
	 * largest position is EINVAL. */
	EXPECT_ERR("pread_negative_bad_fd", pread(-1, buf, 1, -1), EINVAL);
	EXPECT_ERR("pread_pipe", pread(p[0], buf, 1, 0), ESPIPE);
	EXPECT_ERR("pwrite_end_overflows", pwrite(f, "xy", 2, INT64_MAX - 1), EINVAL);
	EXPECT_ERR("pread_at_max", pread(f, buf, 2, INT64_MAX), EINVAL);
	EXPECT_ERR("pread_end_overflows", pread(f, buf, 10, INT64_MAX - 5), EINVAL);
	CHECK("pread_at_max_len0", pread(f, buf, 0, INT64_MAX) == 0);
	v[0] = (struct iovec){buf, 10};
	EXPECT_ERR("preadv_end_overflows", preadv(f, v, 1, INT64_MAX - 5), EINVAL);
	v[0] = (struct iovec){buf, 0};
	CHECK("preadv_empty_at_max", preadv(f, v, 1, INT64_MAX) == 0);
	EXPECT_ERR("preadv2_negative", preadv2(f, v, 1, -2, 0), EINVAL);
	CHECK("preadv2_minus_one_is_pos", preadv2(f, v, 1, -1, 0) == 0);

	/* Directories: read(2) of nothing refuses, readv of nothing does not
	 * get that far. */
	int q[2];
	CHECK("pipe2", pipe(q) == 0);
	close(q[1]);
	CHECK("read_unmapped_pipe_eof", read(q[0], BADPTR, 10) == 0);
	int d = open("/tmp", O_RDONLY | O_DIRECTORY);
	EXPECT_ERR("read_dir_len0", read(d, buf, 0), EISDIR);
	EXPECT_ERR("read_dir", read(d, buf, 10), EISDIR);
	v[0] = (struct iovec){buf, 0};
	CHECK("readv_dir_len0", readv(d, v, 1) == 0);
	CHECK("readv_dir_cnt0", readv(d, v, 0) == 0);
	v[0] = (struct iovec){buf, 10};
	EXPECT_ERR("readv_dir", readv(d, v, 1), EISDIR);
	return compat_done();
}
