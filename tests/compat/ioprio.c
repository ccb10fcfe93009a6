/* ioprio_set and ioprio_get (what ionice uses): classes and levels of
 * the caller, of a process group (the best of its members, no class
 * counting as best effort 4), inheritance by fork, the real-time class
 * for root only, and the errors. */
#include "common.h"
#include <sys/syscall.h>
#include <sys/wait.h>

#define P(class, data) (((class) << 13) | (data))
static long set(int which, int who, int prio) { return syscall(SYS_ioprio_set, which, who, prio); }
static long get(int which, int who) { return syscall(SYS_ioprio_get, which, who); }

int main(void)
{
	CHECK("none at first", get(1, 0) == 0);
	CHECK("best effort 3", set(1, 0, P(2, 3)) == 0 && get(1, 0) == P(2, 3));
	CHECK("by pid", get(1, getpid()) == P(2, 3));
	CHECK("idle", set(1, getpid(), P(3, 0)) == 0 && get(1, 0) == P(3, 0));
	CHECK("real time as root", set(1, 0, P(1, 2)) == 0 && get(1, 0) == P(1, 2));
	CHECK("a hint in the data", set(1, 0, P(2, 9)) == 0 && get(1, 0) == P(2, 9));
	EXPECT_ERR("bad class", set(1, 0, P(5, 0)), EINVAL);
	EXPECT_ERR("no class with data", set(1, 0, P(0, 5)), EINVAL);
	EXPECT_ERR("bad which", get(9, 0), EINVAL);
	EXPECT_ERR("bad which set", set(9, 0, P(2, 1)), EINVAL);
	EXPECT_ERR("no such pid", get(1, 999999), ESRCH);
	EXPECT_ERR("no such group", get(2, 999999), ESRCH);
	setpgid(0, 0);
	set(1, 0, P(2, 6));
	fflush(stdout);
	int up[2], down[2];
	pipe(up);
	pipe(down);
	pid_t c = fork();
	if (c == 0) {
		char b;
		int ok = get(1, 0) == P(2, 6);
		set(1, 0, P(2, 1));
		write(up[1], "x", 1);
		read(down[0], &b, 1);
		_exit(ok ? 0 : 1);
	}
	char b;
	read(up[0], &b, 1);
	CHECK("group: the best", get(2, 0) == P(2, 1));
	CHECK("group set", set(2, 0, P(3, 0)) == 0 && get(1, c) == P(3, 0) && get(1, 0) == P(3, 0));
	CHECK("group of none counts as 4", set(2, 0, 0) == 0 && get(2, 0) == P(2, 4));
	write(down[1], "x", 1);
	int st;
	waitpid(c, &st, 0);
	CHECK("inherited", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(90);
		int r = !(set(1, 0, P(1, 0)) == -1 && errno == EPERM);
		r |= !(set(1, 0, P(2, 7)) == 0) << 1;
		r |= !(set(1, getppid(), P(2, 7)) == -1 && errno == EPERM) << 2;
		_exit(r);
	}
	waitpid(c, &st, 0);
	CHECK("nobody", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return compat_done();
}
