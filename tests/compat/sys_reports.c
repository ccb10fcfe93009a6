/* What small system calls report: sysinfo's memory adds up (no buffers
 * beyond what is free); SCHED_DEADLINE's priority range is 0..0; a
 * reflink (FICLONE, FICLONERANGE) on tmpfs is EOPNOTSUPP after its fd
 * checks; /proc/self/status's Cpus_allowed follows sched_setaffinity. */
#include "common.h"
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/sysinfo.h>

static void status_line(const char *key, char *out, size_t n)
{
	char buf[8192];
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t r = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[r > 0 ? r : 0] = 0;
	char *p = strstr(buf, key);
	out[0] = 0;
	if (p)
		sscanf(p + strlen(key), " %63s", out);
	(void)n;
}

int main(void)
{
	struct sysinfo si;
	CHECK("sysinfo", sysinfo(&si) == 0);
	CHECK("free and buffers within total", si.freeram + si.bufferram <= si.totalram);
	CHECK("shared within total", si.sharedram <= si.totalram);

	SHOW("SCHED_DEADLINE min", "%d", sched_get_priority_min(6));
	SHOW("SCHED_DEADLINE max", "%d", sched_get_priority_max(6));

	int src = open("/dev/shm/sys_reports_src", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int dst = open("/dev/shm/sys_reports_dst", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int ro = open("/dev/shm/sys_reports_dst", O_RDONLY);
	CHECK("data", write(src, "abcd", 4) == 4);
	EXPECT_ERR("FICLONE on tmpfs", ioctl(dst, FICLONE, src), EOPNOTSUPP);
	struct file_clone_range r = {.src_fd = src, .src_length = 4};
	EXPECT_ERR("FICLONERANGE on tmpfs", ioctl(dst, FICLONERANGE, &r), EOPNOTSUPP);
	EXPECT_ERR("FICLONE from a bad fd", ioctl(dst, FICLONE, 999), EBADF);
	EXPECT_ERR("FICLONE into a read-only fd", ioctl(ro, FICLONE, src), EBADF);
	int pp[2];
	CHECK("pipe", pipe(pp) == 0);
	EXPECT_ERR("FICLONE from a pipe", ioctl(dst, FICLONE, pp[0]), EXDEV);
	int dir = open("/dev/shm", O_RDONLY | O_DIRECTORY);
	EXPECT_ERR("FICLONE from a directory", ioctl(dst, FICLONE, dir), EISDIR);
	unlink("/dev/shm/sys_reports_src");
	unlink("/dev/shm/sys_reports_dst");

	char all[64], list[64];
	status_line("Cpus_allowed_list:", all, sizeof all);
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CHECK("pinned to CPU 0", sched_setaffinity(0, sizeof set, &set) == 0);
	status_line("Cpus_allowed:", list, sizeof list);
	SHOW("Cpus_allowed", "%s", list);
	status_line("Cpus_allowed_list:", list, sizeof list);
	SHOW("Cpus_allowed_list", "%s", list);
	(void)all;
	return compat_done();
}
