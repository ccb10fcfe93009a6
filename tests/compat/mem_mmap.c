/* mmap / munmap / mincore: anonymous, shared, fixed, file-backed. */
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	SHOW("pagesize", "%ld", pg);

	/* Anonymous private: zero-filled, writable. */
	unsigned char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mmap_anon_private", p != MAP_FAILED);
	int zero = 1;
	for (long i = 0; i < 4 * pg; i++)
		if (p[i] != 0)
			zero = 0;
	CHECK("mmap_anon_zeroed", zero);
	CHECK("mmap_page_aligned", ((unsigned long)p % pg) == 0);
	memset(p, 0xab, 4 * pg);
	CHECK("mmap_anon_write", p[0] == 0xab && p[4 * pg - 1] == 0xab);

	/* MAP_FIXED over the middle of the existing mapping replaces it. */
	unsigned char *f = mmap(p + pg, pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK("mmap_fixed", f == p + pg);
	CHECK("mmap_fixed_zeroed", f[0] == 0 && f[pg - 1] == 0);
	CHECK("mmap_fixed_neighbours_kept", p[0] == 0xab && p[2 * pg] == 0xab);

	/* MAP_FIXED_NOREPLACE over an existing mapping fails with EEXIST. */
	EXPECT_ERR("mmap_fixed_noreplace_busy",
		   mmap(p + 2 * pg, pg, PROT_READ,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
		   EEXIST);

	/* munmap a hole, then MAP_FIXED_NOREPLACE into it succeeds. */
	CHECK("munmap_middle", munmap(p + 2 * pg, pg) == 0);
	unsigned char *n = mmap(p + 2 * pg, pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
				-1, 0);
	CHECK("mmap_fixed_noreplace_hole", n == p + 2 * pg);
	CHECK("munmap_all", munmap(p, 4 * pg) == 0);
	CHECK("munmap_again_ok", munmap(p, 4 * pg) == 0);

	/* Anonymous shared. */
	int *s = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	CHECK("mmap_anon_shared", s != MAP_FAILED);
	s[10] = 42;
	CHECK("mmap_anon_shared_rw", s[10] == 42);
	munmap(s, pg);

	/* Unaligned length is rounded up. */
	char *u = mmap(NULL, 100, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mmap_len_unaligned", u != MAP_FAILED);
	u[pg - 1] = 1;
	CHECK("mmap_len_rounded", u[pg - 1] == 1);
	munmap(u, 100);

	/* File-backed private mapping of /etc/passwd equals read(). */
	int fd = open("/etc/passwd", O_RDONLY);
	CHECK("open_passwd", fd >= 0);
	struct stat st;
	CHECK("fstat_passwd", fstat(fd, &st) == 0);
	char *buf = malloc(st.st_size + 1);
	ssize_t got = 0;
	while (got < st.st_size) {
		ssize_t r = read(fd, buf + got, st.st_size - got);
		if (r <= 0)
			break;
		got += r;
	}
	CHECK("read_passwd_full", got == st.st_size);
	char *fm = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK("mmap_file_private", fm != MAP_FAILED);
	CHECK("mmap_file_matches_read", fm != MAP_FAILED &&
						memcmp(fm, buf, st.st_size) == 0);
	/* Bytes past EOF in the last page read as zero. */
	if (st.st_size % pg) {
		int tailzero = 1;
		for (long i = st.st_size; i < (st.st_size + pg - 1) / pg * pg; i++)
			if (fm[i] != 0)
				tailzero = 0;
		CHECK("mmap_file_tail_zero", tailzero);
	} else {
		CHECK("mmap_file_tail_zero", 1);
	}
	/* Private writable mapping of a read-only fd: COW, file untouched. */
	char *fw = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			fd, 0);
	CHECK("mmap_file_private_writable", fw != MAP_FAILED);
	if (fw != MAP_FAILED) {
		fw[0] = '#';
		CHECK("mmap_file_private_cow", fw[0] == '#' && fm[0] == buf[0]);
		munmap(fw, st.st_size);
	}
	/* Shared writable of a read-only fd: EACCES. */
	EXPECT_ERR("mmap_file_shared_rw_rdonly_fd",
		   mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
		   EACCES);
	/* Offset mapping. */
	munmap(fm, st.st_size);
	close(fd);
	free(buf);

	/* Errors. */
	EXPECT_ERR("mmap_len0", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
	EXPECT_ERR("mmap_no_type", mmap(NULL, pg, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
	EXPECT_ERR("mmap_badfd", mmap(NULL, pg, PROT_READ, MAP_PRIVATE, 999, 0), EBADF);
	EXPECT_ERR("mmap_unaligned_off",
		   mmap(NULL, pg, PROT_READ, MAP_PRIVATE, 0, 1), EINVAL);
	EXPECT_ERR("mmap_fixed_unaligned",
		   mmap((void *)(0x10000000 + 1), pg, PROT_READ,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		   EINVAL);
	int dfd = open("/etc", O_RDONLY | O_DIRECTORY);
	EXPECT_ERR("mmap_directory", mmap(NULL, pg, PROT_READ, MAP_PRIVATE, dfd, 0), ENODEV);
	close(dfd);
	EXPECT_ERR("munmap_unaligned", munmap((void *)1, pg), EINVAL);
	EXPECT_ERR("munmap_len0", munmap((void *)0x10000000, 0), EINVAL);

	/* mincore. */
	unsigned char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	m[0] = 1;
	m[2 * pg] = 1;
	unsigned char vec[4];
	CHECK("mincore", mincore(m, 4 * pg, vec) == 0);
	CHECK("mincore_touched_resident", (vec[0] & 1) && (vec[2] & 1));
	EXPECT_ERR("mincore_unaligned", mincore(m + 1, pg, vec), EINVAL);
	EXPECT_ERR("mincore_efault_vec", mincore(m, pg, BADPTR), EFAULT);
	munmap(m, 4 * pg);
	EXPECT_ERR("mincore_unmapped", mincore(m, pg, vec), ENOMEM);

	return compat_done();
}
