/* /proc/locks: POSIX record locks (ranges, to EOF), OFD locks and
 * flock locks of one file, as Linux prints them (only this file's lines,
 * the pid compared with ours). */
#include "common.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* This file's locks, sorted (Linux lists them in no fixed order). */
static void show(ino_t ino)
{
	FILE *f = fopen("/proc/locks", "r");
	char line[256], want[64], *out[16];
	snprintf(want, sizeof want, ":%lu ", (unsigned long)ino);
	int n = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (!strstr(line, want))
			continue;
		char kind[16], adv[16], ty[16], dev[64], a[32], b[32];
		int pid;
		/* "N: KIND ADVISORY TYPE PID MAJ:MIN:INO START END" */
		if (sscanf(line, "%*d: %15s %15s %15s %d %63s %31s %31s", kind, adv, ty, &pid, dev, a, b) != 7)
			continue;
		/* The columns' exact spacing: "POSIX  ADVISORY  " and one
		 * space after the type. */
		char *col = strstr(line, ": ");
		char head[18] = "";
		if (col && strlen(col) > 20)
			memcpy(head, col + 2, 17);
		char *t = col ? strstr(col + 19, ty) : NULL;
		int one_space = t && t[strlen(ty)] == ' ' && t[strlen(ty) + 1] != ' ';
		if (n < 16 && asprintf(&out[n], "lock [%s] %d %s %s %s pid=%s %s %s", head, one_space, kind, adv, ty,
					pid == getpid() ? "self" : pid == -1 ? "-1" : "other", a, b) > 0)
			n++;
	}
	qsort(out, n, sizeof out[0], cmp);
	for (int i = 0; i < n; i++) {
		printf("%s\n", out[i]);
		free(out[i]);
	}
	printf("lines %d\n", n);
	if (f)
		fclose(f);
}

int main(void)
{
	char path[] = "/tmp/proc_locks_XXXXXX";
	int fd = mkstemp(path);
	CHECK("mkstemp", fd >= 0);
	struct stat s;
	fstat(fd, &s);
	ftruncate(fd, 4096);
	struct flock w = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 20};
	CHECK("posix_write", fcntl(fd, F_SETLK, &w) == 0);
	struct flock r = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 0};
	CHECK("posix_read_eof", fcntl(fd, F_SETLK, &r) == 0);
	show(s.st_ino);
	int fd2 = open(path, O_RDWR);
	struct flock o = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 5};
	CHECK("ofd_read", fcntl(fd2, F_OFD_SETLK, &o) == 0);
	int fd3 = open(path, O_RDONLY);
	CHECK("flock_shared", flock(fd3, LOCK_SH) == 0);
	show(s.st_ino);
	close(fd);
	close(fd2);
	close(fd3);
	show(s.st_ino);
	unlink(path);
	return compat_failures > 100 ? 100 : compat_failures;
}
