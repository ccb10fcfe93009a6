/* Root of a user namespace of its own holds its capabilities there
 * only: reaching into a process of the parent namespace takes ptrace
 * access it does not have (its namespace files and environ are EACCES,
 * ptrace attach EPERM), while the fd directory, whose owner it is by
 * uid, still lists. Run as root. */
#include "common.h"
#include <dirent.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

int main(void)
{
	pid_t parent = getpid();
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		if (unshare(CLONE_NEWUSER)) {
			printf("unshare: %s\n", ename(errno));
			_exit(1);
		}
		char p[64];
		snprintf(p, sizeof p, "/proc/%d/ns/net", parent);
		int fd = open(p, O_RDONLY);
		printf("parent's ns/net: %s\n", fd >= 0 ? "ok" : ename(errno));
		snprintf(p, sizeof p, "/proc/%d/environ", parent);
		fd = open(p, O_RDONLY);
		printf("parent's environ: %s\n", fd >= 0 ? "ok" : ename(errno));
		snprintf(p, sizeof p, "/proc/%d/fd", parent);
		DIR *d = opendir(p);
		printf("parent's fd directory: %s\n", d ? "lists" : ename(errno));
		printf("ptrace attach: %s\n", ptrace(PTRACE_ATTACH, parent, 0, 0) ? ename(errno) : "ok");
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	return compat_done();
}
