/* More of /proc: setgroups, coredump_filter, personality, timerslack_ns,
 * wchan and schedstat of a process; the namespace links (the same for
 * a child, another mount namespace after unshare); the headers of swaps,
 * partitions and devices; and the sysctls for pipes, message queues,
 * listen backlogs and overflow ids. Only what is the same on every Linux
 * is compared. */
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>

static char *slurp(const char *path)
{
	static char buf[8192];
	memset(buf, 0, sizeof buf);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n < 0 ? NULL : buf;
}

static int is(const char *path, const char *want)
{
	char *v = slurp(path);
	return v && strcmp(v, want) == 0;
}

static int starts(const char *path, const char *want)
{
	char *v = slurp(path);
	return v && strncmp(v, want, strlen(want)) == 0;
}

int main(void)
{
	CHECK("setgroups", is("/proc/self/setgroups", "allow\n"));
	CHECK("coredump_filter", is("/proc/self/coredump_filter", "00000033\n"));
	CHECK("personality", is("/proc/self/personality", "00000000\n"));
	CHECK("timerslack_ns", is("/proc/self/timerslack_ns", "50000\n"));
	CHECK("wchan of a running task", is("/proc/self/wchan", "0"));
	unsigned long long run = 0, wait = 0, slices = 0;
	char *ss = slurp("/proc/self/schedstat");
	CHECK("schedstat", ss && sscanf(ss, "%llu %llu %llu", &run, &wait, &slices) == 3);
	char net[64] = {0}, mnt[64] = {0};
	readlink("/proc/self/ns/net", net, sizeof net - 1);
	readlink("/proc/self/ns/mnt", mnt, sizeof mnt - 1);
	CHECK("ns link", strncmp(net, "net:[", 5) == 0 && strncmp(mnt, "mnt:[", 5) == 0);
	int p[2];
	pipe(p);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		char n2[64] = {0}, m2[64] = {0};
		readlink("/proc/self/ns/net", n2, sizeof n2 - 1);
		int same = strcmp(n2, net) == 0;
		int r = unshare(CLONE_NEWNS);
		readlink("/proc/self/ns/mnt", m2, sizeof m2 - 1);
		_exit(same && r == 0 && strcmp(m2, mnt) != 0 && strncmp(m2, "mnt:[", 5) == 0 ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK("a child's namespaces; unshare makes another", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("swaps header", starts("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"));
	CHECK("partitions header", starts("/proc/partitions", "major minor  #blocks  name\n"));
	CHECK("devices header", starts("/proc/devices", "Character devices:\n  1 mem\n"));
	CHECK("pipe-max-size", is("/proc/sys/fs/pipe-max-size", "1048576\n"));
	CHECK("mqueue msg_max", is("/proc/sys/fs/mqueue/msg_max", "10\n"));
	CHECK("mqueue msgsize_max", is("/proc/sys/fs/mqueue/msgsize_max", "8192\n"));
	CHECK("somaxconn", is("/proc/sys/net/core/somaxconn", "4096\n"));
	CHECK("overflowuid", is("/proc/sys/kernel/overflowuid", "65534\n"));
	return compat_done();
}
