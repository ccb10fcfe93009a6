/* Smaller Linux details: wait's argument errors (a negative pidfd or
 * process group, INT_MIN), wait4's ru_maxrss of the child, execveat
 * refusing to follow a symlink it was told not to (ELOOP), a socket
 * write from a buffer that faults inside the message (EFAULT, nothing
 * sent), and getdents64 into a buffer whose end faults (the entries that
 * fit before it). */
#include "common.h"
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(void)
{
	siginfo_t si;
	int st;
	pid_t c = fork();
	if (c == 0) {
		volatile char *m = malloc(8 << 20);
		for (int i = 0; i < (8 << 20); i += 4096)
			m[i] = 1;
		_exit(0);
	}
	EXPECT_ERR("waitid P_PIDFD -1", waitid(P_PIDFD, -1, &si, WEXITED | WNOHANG), EINVAL);
	EXPECT_ERR("waitid P_PGID -1", waitid(P_PGID, -1, &si, WEXITED | WNOHANG), EINVAL);
	EXPECT_ERR("wait4 INT_MIN", wait4(INT_MIN, &st, WNOHANG, NULL), ESRCH);
	struct rusage ru = {0};
	CHECK("wait4 maxrss", wait4(c, &st, 0, &ru) == c && ru.ru_maxrss >= 8192);

	char d[] = "/tmp/husk-wait-XXXXXX";
	mkdtemp(d);
	char l[256];
	snprintf(l, sizeof l, "%s/lnk", d);
	symlink("/bin/true", l);
	char *argv[] = {"true", NULL}, *envp[] = {NULL};
	c = fork();
	if (c == 0) {
		syscall(SYS_execveat, AT_FDCWD, l, argv, envp, AT_SYMLINK_NOFOLLOW);
		_exit(errno == ELOOP ? 0 : 1);
	}
	CHECK("execveat NOFOLLOW symlink", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	int lfd = open(l, O_PATH | O_NOFOLLOW);
	c = fork();
	if (c == 0) {
		syscall(SYS_execveat, lfd, "", argv, envp, AT_EMPTY_PATH);
		_exit(errno == ELOOP ? 0 : 1);
	}
	CHECK("execveat symlink fd", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	char *a = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(a + 4096, 4096, PROT_NONE);
	char *bad = a + 4095, t[64];
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	EXPECT_ERR("stream write faulting", write(sv[0], bad, 10), EFAULT);
	EXPECT_ERR("nothing sent", read(sv[1], t, sizeof t), EAGAIN);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	EXPECT_ERR("datagram write faulting", write(sv[0], bad, 10), EFAULT);
	EXPECT_ERR("no datagram", read(sv[1], t, sizeof t), EAGAIN);

	char f[256];
	snprintf(f, sizeof f, "%s/a", d);
	close(open(f, O_CREAT | O_WRONLY, 0644));
	int dd = open(d, O_RDONLY | O_DIRECTORY);
	long r = syscall(SYS_getdents64, dd, a + 4096 - 24, 4096);
	CHECK("getdents one entry before the fault", r == 24);
	unlink(f);
	unlink(l);
	rmdir(d);
	return compat_failures > 100 ? 100 : compat_failures;
}
