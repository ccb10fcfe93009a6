/* lseek(2) on /proc files: most are seq_files, which seek from the start
 * or the current position only (SEEK_END and a negative position are
 * EINVAL); sysctls and a process's cmdline, environ, auxv and
 * oom_score_adj seek as files of size 0. */
#include "common.h"
#include <fcntl.h>

static void seq(const char *path)
{
	char name[96];
	int fd = open(path, O_RDONLY);
	snprintf(name, sizeof name, "%s SEEK_END", path);
	EXPECT_ERR(name, lseek(fd, 0, SEEK_END), EINVAL);
	snprintf(name, sizeof name, "%s SEEK_SET 5", path);
	CHECK(name, lseek(fd, 5, SEEK_SET) == 5);
	snprintf(name, sizeof name, "%s SEEK_CUR -6", path);
	EXPECT_ERR(name, lseek(fd, -6, SEEK_CUR), EINVAL);
	snprintf(name, sizeof name, "%s SEEK_CUR +2", path);
	CHECK(name, lseek(fd, 2, SEEK_CUR) == 7);
	close(fd);
}

static void plain(const char *path)
{
	char name[96];
	int fd = open(path, O_RDONLY);
	snprintf(name, sizeof name, "%s SEEK_END is size 0", path);
	CHECK(name, lseek(fd, 0, SEEK_END) == 0);
	snprintf(name, sizeof name, "%s SEEK_END +3", path);
	CHECK(name, lseek(fd, 3, SEEK_END) == 3);
	close(fd);
}

int main(void)
{
	seq("/proc/self/status");
	seq("/proc/self/maps");
	seq("/proc/self/stat");
	seq("/proc/meminfo");
	seq("/proc/uptime");
	seq("/proc/self/comm");
	seq("/proc/self/limits");
	seq("/proc/self/uid_map");
	seq("/proc/self/mountinfo");
	plain("/proc/self/cmdline");
	plain("/proc/self/environ");
	plain("/proc/self/auxv");
	plain("/proc/self/oom_score_adj");
	plain("/proc/sys/kernel/pid_max");
	plain("/proc/sys/vm/overcommit_memory");
	return compat_done();
}
