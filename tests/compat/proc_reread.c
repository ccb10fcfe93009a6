/* A generated /proc file read again from its start shows the present,
 * as Linux's seq_file regenerates it: lseek(0) then read, or pread at
 * 0, after the process has burnt CPU time (/proc/self/stat's utime,
 * /proc/uptime, /proc/stat). A read that goes on from where the last
 * one stopped continues the same contents. proc's links have Linux's
 * sizes (64 for an fd, 0 for a process's others and self, the target's
 * length for mounts) and times of about now (lsof reads both).
 * /proc/uptime's idle time agrees with /proc/stat's; fdinfo's mnt_id
 * names the mount a file was opened through. */
#include "common.h"
#include <sys/stat.h>
#include <time.h>

static void burn(void)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 300000000L);
}

static void check(const char *path)
{
	char a[8192] = {0}, b[8192] = {0}, c[8192] = {0};
	int fd = open(path, O_RDONLY);
	read(fd, a, sizeof a - 1);
	burn();
	lseek(fd, 0, SEEK_SET);
	read(fd, b, sizeof b - 1);
	burn();
	pread(fd, c, sizeof c - 1, 0);
	printf("%s: after lseek %s, after pread %s\n", path, strcmp(a, b) ? "new" : "same",
	       strcmp(b, c) ? "new" : "same");
	close(fd);
}

int main(void)
{
	check("/proc/self/stat");
	check("/proc/uptime");
	check("/proc/stat");
	/* Continuing a read: the rest of the same text. */
	int fd = open("/proc/self/maps", O_RDONLY);
	char first[16], rest[16], whole[32] = {0};
	read(fd, first, sizeof first);
	read(fd, rest, sizeof rest);
	pread(fd, whole, sizeof whole, 0);
	SHOW("continued read joins up", "%d", !memcmp(whole, first, 16) && !memcmp(whole + 16, rest, 16));
	/* /proc/uptime's idle time is /proc/stat's idle ticks. */
	char up[128], stt[256];
	read_text("/proc/uptime", up, sizeof up);
	read_text("/proc/stat", stt, sizeof stt);
	double u = 0, idle = 0;
	unsigned long long us, ni, sy, id = 0;
	sscanf(up, "%lf %lf", &u, &idle);
	sscanf(stt, "cpu %llu %llu %llu %llu", &us, &ni, &sy, &id);
	double d = idle * 100 - (double)id;
	SHOW("uptime's idle is stat's", "%d", d < 50 + id / 20.0 && d > -50 - id / 20.0);
	/* fdinfo's mnt_id is the mount the file was opened through. */
	{
		int pf = open("/proc/self/status", O_RDONLY);
		char fi[64], info[512], mi[1 << 16];
		snprintf(fi, sizeof fi, "/proc/self/fdinfo/%d", pf);
		read_text(fi, info, sizeof info);
		int mnt = -1, procid = -2;
		char *m = strstr(info, "mnt_id:");
		if (m)
			sscanf(m + 7, "%d", &mnt);
		read_whole("/proc/self/mountinfo", mi, sizeof mi);
		for (char *l = mi; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			int id;
			char point[256];
			if (sscanf(l, "%d %*d %*s %*s %255s", &id, point) == 2 && !strcmp(point, "/proc"))
				procid = id;
		}
		SHOW("fdinfo mnt_id is /proc's mount", "%d", mnt == procid);
		close(pf);
	}
	const char *links[] = {"/proc/self/fd/0", "/proc/self/exe", "/proc/self/cwd", "/proc/self/ns/net",
			       "/proc/self", "/proc/mounts", "/proc/net"};
	for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
		struct stat st;
		lstat(links[i], &st);
		printf("%s: size %ld, recent %d\n", links[i], (long)st.st_size,
		       st.st_mtime > time(NULL) - 3600 * 24 * 30);
	}
	return compat_done();
}
