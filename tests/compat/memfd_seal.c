/* memfd_create and file sealing: F_GET_SEALS/F_ADD_SEALS with and without
 * MFD_ALLOW_SEALING, what F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE,
 * F_SEAL_FUTURE_WRITE and F_SEAL_SEAL forbid (truncate, write, fallocate,
 * shared writable mappings), EBUSY while a writable mapping exists, seals
 * on other kinds of files, memfd_create's errors, and the
 * /proc/self/fd link text of a memfd. */
#include "common.h"
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>

static long size_of(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

static void show_bytes(const char *name, const char *b, ssize_t n)
{
	printf("%s %zd \"", name, n);
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = b[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	printf("\"\n");
}

int main(void)
{
	char buf[PATH_MAX];
	ssize_t n;

	/* Without MFD_ALLOW_SEALING the only seal is F_SEAL_SEAL. */
	int m0 = memfd_create("noseal", 0);
	CHECK("memfd_create", m0 >= 0);
	SHOW("noseal_seals", "%#x", fcntl(m0, F_GET_SEALS));
	EXPECT_ERR("noseal_add", fcntl(m0, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
	EXPECT_ERR("noseal_add_zero", fcntl(m0, F_ADD_SEALS, 0), EPERM);
	struct stat st;
	CHECK("is_regular", fstat(m0, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
	close(m0);

	/* The link text in /proc. */
	int mt = memfd_create("test", MFD_CLOEXEC);
	snprintf(buf, sizeof buf, "/proc/self/fd/%d", mt);
	char target[PATH_MAX];
	n = readlink(buf, target, sizeof target - 1);
	target[n < 0 ? 0 : n] = 0;
	printf("proc_link \"%s\"\n", target);
	SHOW("cloexec", "%d", fcntl(mt, F_GETFD) & FD_CLOEXEC);
	close(mt);

	/* F_SEAL_SHRINK */
	int m = memfd_create("shrink", MFD_ALLOW_SEALING);
	CHECK("sealing_create", m >= 0);
	SHOW("initial_seals", "%#x", fcntl(m, F_GET_SEALS));
	CHECK("write_initial", write(m, "0123456789", 10) == 10);
	SHOW("add_shrink", "%d", fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK));
	SHOW("seals_shrink", "%#x", fcntl(m, F_GET_SEALS));
	EXPECT_ERR("shrink_truncate_smaller", ftruncate(m, 5), EPERM);
	CHECK("shrink_truncate_same", ftruncate(m, 10) == 0);
	CHECK("shrink_truncate_bigger", ftruncate(m, 20) == 0);
	SHOW("shrink_size", "%ld", size_of(m));
	CHECK("shrink_write_past_end", pwrite(m, "x", 1, 30) == 1);
	SHOW("shrink_size2", "%ld", size_of(m));
	SHOW("add_shrink_again", "%d", fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK));
	close(m);

	/* F_SEAL_GROW */
	m = memfd_create("grow", MFD_ALLOW_SEALING);
	CHECK("grow_setup", ftruncate(m, 8) == 0);
	SHOW("add_grow", "%d", fcntl(m, F_ADD_SEALS, F_SEAL_GROW));
	EXPECT_ERR("grow_truncate_bigger", ftruncate(m, 9), EPERM);
	EXPECT_ERR("grow_write_past_end", pwrite(m, "abc", 3, 8), EPERM);
	/* A write that would cross the end is refused as a whole. */
	EXPECT_ERR("grow_write_straddling", pwrite(m, "abcd", 4, 6), EPERM);
	CHECK("grow_write_inside", pwrite(m, "ab", 2, 0) == 2);
	EXPECT_ERR("grow_fallocate_past_end", fallocate(m, 0, 0, 100), EPERM);
	CHECK("grow_fallocate_inside", fallocate(m, 0, 0, 8) == 0);
	CHECK("grow_truncate_smaller", ftruncate(m, 4) == 0);
	EXPECT_ERR("grow_truncate_back", ftruncate(m, 8), EPERM);
	SHOW("grow_size", "%ld", size_of(m));
	n = pread(m, buf, 16, 0);
	show_bytes("grow_data", buf, n);
	close(m);

	/* F_SEAL_WRITE */
	m = memfd_create("write", MFD_ALLOW_SEALING);
	CHECK("write_setup", write(m, "sealed!!", 8) == 8);
	SHOW("add_write", "%d", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE));
	SHOW("seals_write", "%#x", fcntl(m, F_GET_SEALS));
	EXPECT_ERR("write_sealed_write", write(m, "x", 1), EPERM);
	EXPECT_ERR("write_sealed_pwrite", pwrite(m, "x", 1, 0), EPERM);
	EXPECT_ERR("write_sealed_map_shared_rw",
		   mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0), EPERM);
	/* Plain fallocate is not a write: only the grow seal limits it. */
	CHECK("write_sealed_fallocate", fallocate(m, 0, 0, 4096) == 0);
	SHOW("write_sealed_fallocate_size", "%ld", size_of(m));
	EXPECT_ERR("write_sealed_punch_hole",
		   fallocate(m, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4), EPERM);
	char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, m, 0);
	CHECK("write_sealed_map_shared_ro", r != MAP_FAILED && memcmp(r, "sealed!!", 8) == 0);
	munmap(r, 4096);
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, m, 0);
	CHECK("write_sealed_map_private_rw", p != MAP_FAILED);
	if (p != MAP_FAILED) {
		p[0] = 'S';
		munmap(p, 4096);
	}
	n = pread(m, buf, 10, 0);
	show_bytes("write_sealed_data", buf, n);
	CHECK("write_sealed_truncate", ftruncate(m, 4) == 0);
	SHOW("write_sealed_size", "%ld", size_of(m));
	close(m);

	/* F_SEAL_FUTURE_WRITE: an existing shared mapping stays writable. */
	m = memfd_create("future", MFD_ALLOW_SEALING);
	CHECK("future_setup", ftruncate(m, 4096) == 0);
	SHOW("add_future_write", "%d", fcntl(m, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	SHOW("seals_future", "%#x", fcntl(m, F_GET_SEALS));
	EXPECT_ERR("future_write", write(m, "x", 1), EPERM);
	EXPECT_ERR("future_map_shared_rw",
		   mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0), EPERM);
	close(m);

	/* F_SEAL_SEAL freezes the set. */
	m = memfd_create("seal", MFD_ALLOW_SEALING);
	SHOW("add_seal_and_shrink", "%d", fcntl(m, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK));
	SHOW("seals_seal", "%#x", fcntl(m, F_GET_SEALS));
	EXPECT_ERR("sealed_add_grow", fcntl(m, F_ADD_SEALS, F_SEAL_GROW), EPERM);
	EXPECT_ERR("sealed_add_again", fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK), EPERM);
	EXPECT_ERR("sealed_add_zero", fcntl(m, F_ADD_SEALS, 0), EPERM);
	close(m);

	/* Unknown seal bits; seals added through a read-only descriptor. */
	m = memfd_create("bits", MFD_ALLOW_SEALING);
	EXPECT_ERR("add_unknown_bits", fcntl(m, F_ADD_SEALS, 0x1000), EINVAL);
	EXPECT_ERR("add_unknown_with_known", fcntl(m, F_ADD_SEALS, F_SEAL_GROW | 0x8000), EINVAL);
	SHOW("seals_after_einval", "%#x", fcntl(m, F_GET_SEALS));
	int dupfd = dup(m);
	SHOW("dup_add_grow", "%d", fcntl(dupfd, F_ADD_SEALS, F_SEAL_GROW));
	SHOW("seals_shared_by_dup", "%#x", fcntl(m, F_GET_SEALS));
	close(dupfd);
	close(m);

	/* Files that are not memfds. */
	char dir[] = "/tmp/husk-memfd_seal-XXXXXX", fpath[64];
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	snprintf(fpath, sizeof fpath, "%s/f", dir);
	int f = open(fpath, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK("regular_file", f >= 0);
	EXPECT_ERR("regular_add_seals", fcntl(f, F_ADD_SEALS, F_SEAL_WRITE), EINVAL);
	EXPECT_ERR("regular_get_seals", fcntl(f, F_GET_SEALS), EINVAL);
	close(f);
	unlink(fpath);
	CHECK("rmdir", rmdir(dir) == 0);
	int pp[2];
	CHECK("pipe", pipe(pp) == 0);
	EXPECT_ERR("pipe_get_seals", fcntl(pp[0], F_GET_SEALS), EINVAL);
	EXPECT_ERR("pipe_add_seals", fcntl(pp[1], F_ADD_SEALS, F_SEAL_WRITE), EINVAL);
	close(pp[0]);
	close(pp[1]);
	EXPECT_ERR("badfd_get_seals", fcntl(999, F_GET_SEALS), EBADF);

	/* memfd_create errors. */
	EXPECT_ERR("create_bad_flags", memfd_create("x", 0x100), EINVAL);
	char name[300];
	memset(name, 'n', sizeof name);
	name[249] = 0;
	int ok = memfd_create(name, 0);
	CHECK("create_name_249", ok >= 0);
	close(ok);
	name[249] = 'n';
	name[250] = 0;
	EXPECT_ERR("create_name_250", memfd_create(name, 0), EINVAL);
	EXPECT_ERR("create_efault_name", memfd_create(BADPTR, 0), EFAULT);
	int e = memfd_create("", 0);
	CHECK("create_empty_name", e >= 0);
	snprintf(buf, sizeof buf, "/proc/self/fd/%d", e);
	n = readlink(buf, target, sizeof target - 1);
	target[n < 0 ? 0 : n] = 0;
	printf("empty_name_link \"%s\"\n", target);
	close(e);
	/* F_SEAL_EXEC: the exec bits stay; on an executable memfd it seals
	 * the contents too (W^X). MFD_NOEXEC_SEAL starts with it. */
#ifndef MFD_EXEC
#define MFD_EXEC 0x10U
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x8U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x20
#endif
	{
		struct stat xs;
		int x = memfd_create("exec", MFD_ALLOW_SEALING | MFD_EXEC);
		CHECK("exec_mode", fstat(x, &xs) == 0 && (xs.st_mode & 0777) == 0777);
		CHECK("seal_exec", fcntl(x, F_ADD_SEALS, F_SEAL_EXEC) == 0);
		SHOW("seal_exec_implies", "%d", fcntl(x, F_GET_SEALS));
		EXPECT_ERR("exec_sealed_write", write(x, "abc", 3), EPERM);
		EXPECT_ERR("exec_sealed_grow", ftruncate(x, 10), EPERM);
		EXPECT_ERR("exec_sealed_chmod", fchmod(x, 0644), EPERM);
		CHECK("exec_sealed_chmod_other_bits", fchmod(x, 0755) == 0);
		close(x);
		int z = memfd_create("noexec", MFD_NOEXEC_SEAL);
		CHECK("noexec_mode", fstat(z, &xs) == 0 && (xs.st_mode & 0777) == 0666);
		SHOW("noexec_seals", "%d", fcntl(z, F_GET_SEALS));
		EXPECT_ERR("noexec_chmod_x", fchmod(z, 0755), EPERM);
		CHECK("noexec_still_writable", write(z, "abc", 3) == 3 && fchmod(z, 0600) == 0);
		close(z);
	}
	return compat_done();
}
