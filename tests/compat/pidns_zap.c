/* Killing the init of a PID namespace with nested namespaces below it:
 * every level's init waits for its namespace to empty before its own
 * exit is told, and none of them is reaped before that, so the kill
 * always ends with the outer init's exit (waitpid returns, SIGKILL)
 * whatever the depth and whether the inits wait for their children or
 * pause, and whether stray grandchildren are left behind. Run as root. */
#include "common.h"
#include <signal.h>
#include <sys/wait.h>

static int zap(int depth, int mode)
{
	int p[2];
	if (pipe(p) != 0)
		return 0;
	pid_t top = fork();
	if (top == 0) {
		if (unshare(CLONE_NEWPID) != 0)
			_exit(1);
		pid_t first = fork();
		if (first != 0) {
			/* The outer helper: its child is the first init. */
			int st;
			waitpid(first, &st, 0);
			_exit(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : 2);
		}
		for (int d = 0; d < depth; d++) {
			unshare(CLONE_NEWPID);
			pid_t c = fork();
			if (c > 0) {
				if (mode & 1) {
					for (;;)
						pause();
				}
				while (wait(NULL) > 0)
					;
				_exit(0);
			}
			if ((mode & 2) && fork() == 0) {
				if (fork() == 0)
					for (;;)
						pause();
				_exit(0);
			}
		}
		if (write(p[1], "x", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(p[1]);
	char ch;
	int ok = read(p[0], &ch, 1) == 1;
	close(p[0]);
	/* The first init is the helper's only child; kill the whole tree
	 * from above it. */
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", top, top);
	FILE *f = fopen(path, "r");
	int init = 0;
	if (f) {
		if (fscanf(f, "%d", &init) != 1)
			init = 0;
		fclose(f);
	}
	ok = ok && init > 0 && kill(init, SIGKILL) == 0;
	int st;
	ok = ok && waitpid(top, &st, 0) == top && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	return ok;
}

int main(void)
{
	alarm(60);
	for (int mode = 0; mode < 4; mode++) {
		for (int depth = 1; depth <= 8; depth += 3) {
			char name[64];
			snprintf(name, sizeof name, "depth %d mode %d: the kill ends it all", depth, mode);
			CHECK(name, zap(depth, mode));
		}
	}
	return compat_failures;
}
