/* PID namespaces made and torn down in a loop. 200 times: clone with
 * CLONE_NEWPID, whose init forks three children (pids 2, 3, 4): one
 * exits 0, one exits 3, one pauses holding a pipe; init reaps the first
 * two, checking the local pids and statuses, and exits 42; its exit
 * SIGKILLs the third (the pipe reads EOF once init is reaped). Then 200
 * times: setns back to our own namespace (to reset pid_for_children),
 * unshare(CLONE_NEWPID), fork init, which forks and reaps a child (2);
 * we fork a member into the namespace (3, its parent outside), init
 * exits, the member dies of SIGKILL, init's exit status is ours to see
 * and a later fork is ENOMEM. One summary line per check, not per
 * iteration. Run as root. */
#include "common.h"
#include <signal.h>
#include <sys/wait.h>

#define ROUNDS 200

static char stack[1 << 16];
static int alive_wr;

/* init of the clone rounds: 42 when all went as expected, else a mask. */
static int clone_init(void *arg)
{
	(void)arg;
	int bad = 0;
	if (getpid() != 1 || getppid() != 0)
		bad |= 1;
	pid_t a = fork();
	if (a == 0)
		_exit(0);
	pid_t b = fork();
	if (b == 0)
		_exit(3);
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	close(alive_wr);
	if (a != 2 || b != 3 || c != 4)
		bad |= 2;
	for (int i = 0; i < 2; i++) {
		int st;
		pid_t r = waitpid(-1, &st, 0);
		if (r == 2 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			continue;
		if (r == 3 && WIFEXITED(st) && WEXITSTATUS(st) == 3)
			continue;
		bad |= 4;
	}
	if (waitpid(-1, NULL, WNOHANG) != 0)
		bad |= 8;
	return bad ? 64 | bad : 42;
}

static void clone_rounds(void)
{
	int bad_clone = 0, bad_init = 0, bad_eof = 0, bad_more = 0;
	for (int i = 0; i < ROUNDS; i++) {
		int alive[2];
		char x;
		if (pipe(alive)) {
			bad_clone++;
			continue;
		}
		alive_wr = alive[1];
		pid_t c = clone(clone_init, stack + sizeof stack, CLONE_NEWPID | SIGCHLD, NULL);
		close(alive[1]);
		if (c <= 1) {
			bad_clone++;
			close(alive[0]);
			continue;
		}
		int st;
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 42) {
			if (!bad_init)
				printf("clone round %d: init status %#x\n", i, st);
			bad_init++;
		}
		if (read(alive[0], &x, 1) != 0)
			bad_eof++;
		close(alive[0]);
		if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
			bad_more++;
	}
	CHECK("clone(CLONE_NEWPID) every round", bad_clone == 0);
	CHECK("init saw pids 2 3 4 and statuses 0 3, exited 42, every round", bad_init == 0);
	CHECK("paused child killed with init, every round", bad_eof == 0);
	CHECK("nothing else to reap, every round", bad_more == 0);
}

static void unshare_rounds(void)
{
	int bad_setns = 0, bad_unshare = 0, bad_fork = 0, bad_member = 0, bad_killed = 0, bad_init = 0,
	    bad_dead = 0;
	int go[2], ready[2], mp[2];
	int self = open("/proc/self/ns/pid", O_RDONLY);
	CHECK("open ns/pid", self >= 0);
	CHECK("pipes", pipe(go) == 0 && pipe(ready) == 0 && pipe(mp) == 0);
	for (int i = 0; i < ROUNDS; i++) {
		char x = 0;
		if (setns(self, CLONE_NEWPID)) {
			bad_setns++;
			break;
		}
		if (unshare(CLONE_NEWPID)) {
			bad_unshare++;
			break;
		}
		pid_t c = fork();
		if (c == 0) {
			int bad = getpid() != 1;
			pid_t g = fork();
			if (g == 0)
				_exit(7);
			int st;
			bad |= waitpid(g, &st, 0) != 2 || !WIFEXITED(st) || WEXITSTATUS(st) != 7;
			write(ready[1], &x, 1);
			read(go[0], &x, 1);
			_exit(bad);
		}
		if (c <= 1) {
			bad_fork++;
			break;
		}
		read(ready[0], &x, 1);
		pid_t m = fork();
		if (m == 0) {
			pid_t me = getpid();
			write(mp[1], &me, sizeof me);
			for (;;)
				pause();
		}
		pid_t local = 0;
		if (m <= 1 || read(mp[0], &local, sizeof local) != sizeof local || local != 3)
			bad_member++;
		write(go[1], &x, 1);
		int st;
		if (m <= 1 || waitpid(m, &st, 0) != m || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			bad_killed++;
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad_init++;
		pid_t f = fork();
		if (f == 0)
			_exit(0);
		if (f != -1 || errno != ENOMEM) {
			bad_dead++;
			if (f > 0)
				waitpid(f, NULL, 0);
		}
	}
	CHECK("setns back to our own namespace every round", bad_setns == 0);
	CHECK("unshare(CLONE_NEWPID) every round", bad_unshare == 0);
	CHECK("fork of init every round", bad_fork == 0);
	CHECK("init's child is 2 and exits 7, init exits 0, every round", bad_init == 0);
	CHECK("member forked from outside is 3, every round", bad_member == 0);
	CHECK("member killed by SIGKILL when init exits, every round", bad_killed == 0);
	CHECK("fork into the dead namespace is ENOMEM, every round", bad_dead == 0);
}

static void run(void (*fn)(void))
{
	pid_t p = fork();
	if (p == 0) {
		compat_failures = 0;
		fn();
		fflush(stdout);
		_exit(compat_failures > 100 ? 100 : compat_failures);
	}
	int st;
	if (waitpid(p, &st, 0) != p || !WIFEXITED(st)) {
		printf("round runner died FAIL\n");
		compat_failures++;
	} else {
		compat_failures += WEXITSTATUS(st);
	}
}

int main(void)
{
	alarm(60);
	SHOW("rounds", "%d", ROUNDS);
	run(clone_rounds);
	run(unshare_rounds);
	return compat_done();
}
