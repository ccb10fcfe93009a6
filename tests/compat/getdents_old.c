/* The old getdents(2) record (struct linux_dirent, its type in the last
 * byte): the same entries and types as getdents64, d_off usable with
 * lseek, a buffer too small for one record, and the errors. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct old_dirent {
	unsigned long d_ino;
	unsigned long d_off;
	unsigned short d_reclen;
	char d_name[];
};

/* "name:type" entries of a listing, sorted, one string. */
static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void listing(int fd, int old, char *out, size_t size, long *second_off)
{
	char buf[4096];
	char *names[64];
	int n = 0;
	lseek(fd, 0, SEEK_SET);
	for (;;) {
		long r = syscall(old ? SYS_getdents : SYS_getdents64, fd, buf, sizeof buf);
		if (r <= 0)
			break;
		for (long at = 0; at < r;) {
			char *name;
			unsigned char type;
			unsigned short reclen;
			long off;
			if (old) {
				struct old_dirent *d = (struct old_dirent *)(buf + at);
				name = d->d_name;
				reclen = d->d_reclen;
				type = (unsigned char)buf[at + reclen - 1];
				off = (long)d->d_off;
			} else {
				struct dirent64 *d = (struct dirent64 *)(buf + at);
				name = d->d_name;
				reclen = d->d_reclen;
				type = d->d_type;
				off = d->d_off;
			}
			if (n == 1 && second_off)
				*second_off = off;
			if (n < 64) {
				names[n] = malloc(300);
				snprintf(names[n], 300, "%s:%d", name, type);
				n++;
			}
			at += reclen;
		}
	}
	qsort(names, (size_t)n, sizeof names[0], cmp);
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		strncat(out, names[i], size - strlen(out) - 2);
		strncat(out, " ", size - strlen(out) - 1);
		free(names[i]);
	}
}

int main(void)
{
	char dir[64];
	snprintf(dir, sizeof dir, "/tmp/husk-getdents-%d", getpid());
	mkdir(dir, 0700);
	char p[128];
	snprintf(p, sizeof p, "%s/file", dir);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	snprintf(p, sizeof p, "%s/sub", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/link", dir);
	symlink("file", p);
	snprintf(p, sizeof p, "%s/a-rather-long-name-to-see-the-record-padding", dir);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	char a[2048], b[2048];
	long off = 0;
	listing(fd, 1, a, sizeof a, &off);
	listing(fd, 0, b, sizeof b, NULL);
	printf("old: %s\n", a);
	CHECK("same as getdents64", strcmp(a, b) == 0);
	/* From the second entry's offset, one entry fewer. */
	lseek(fd, off, SEEK_SET);
	char buf[4096];
	long r = syscall(SYS_getdents, fd, buf, sizeof buf);
	int count = 0;
	for (long at = 0; at < r; at += ((struct old_dirent *)(buf + at))->d_reclen)
		count++;
	CHECK("d_off resumes", count == 4);
	lseek(fd, 0, SEEK_SET);
	EXPECT_ERR("buffer too small", syscall(SYS_getdents, fd, buf, 10), EINVAL);
	EXPECT_ERR("bad buffer", syscall(SYS_getdents, fd, BADPTR, sizeof buf), EFAULT);
	EXPECT_ERR("bad fd", syscall(SYS_getdents, 999, buf, sizeof buf), EBADF);
	int f = open("/etc/hostname", O_RDONLY);
	EXPECT_ERR("not a directory", syscall(SYS_getdents, f, buf, sizeof buf), ENOTDIR);
	/* Read to the end: then nothing more. */
	while (syscall(SYS_getdents, fd, buf, sizeof buf) > 0)
		;
	CHECK("at the end", syscall(SYS_getdents, fd, buf, sizeof buf) == 0);
	snprintf(p, sizeof p, "rm -rf %s", dir);
	system(p);
	return compat_done();
}
