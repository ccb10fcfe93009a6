/* ptrace under load: a tracer follows (TRACECLONE, TRACEFORK,
 * TRACEEXIT, PTRACE_SYSCALL) a child whose threads fork and signal at
 * once, round after round, and counts what it saw: every task's exit
 * event and exit, every new task's first stop, and no stray stop. A
 * second loop attaches to and detaches from a busy process repeatedly
 * (SEIZE, INTERRUPT, DETACH) while it signals itself, then kills it. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/ptrace.h>

#define ROUNDS 12
#define THREADS 3

static void *forker(void *arg)
{
	(void)arg;
	pid_t g = fork();
	if (g == 0)
		_exit(0);
	int st;
	waitpid(g, &st, 0);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
	return NULL;
}

static void on_usr1(int s)
{
	(void)s;
}

static void child(void)
{
	signal(SIGUSR1, on_usr1);
	ptrace(PTRACE_TRACEME, 0, 0, 0);
	raise(SIGSTOP);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, forker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	_exit(7);
}

/* One traced family: its counts, or -1 on a stray event. */
static int follow(int *exits, int *exit_events, int *new_stops, int *usr1)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		child();
	int st;
	if (waitpid(c, &st, 0) != c || !WIFSTOPPED(st))
		return -1;
	long opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEEXIT | PTRACE_O_TRACESYSGOOD;
	ptrace(PTRACE_SETOPTIONS, c, 0, (void *)opts);
	ptrace(PTRACE_SYSCALL, c, 0, 0);
	int main_status = -1;
	for (;;) {
		pid_t p = waitpid(-1, &st, __WALL);
		if (p < 0)
			break;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			(*exits)++;
			if (p == c)
				main_status = st;
			continue;
		}
		int sig = 0;
		int ev = st >> 16;
		if (ev == PTRACE_EVENT_EXIT)
			(*exit_events)++;
		else if (ev == 0 && WSTOPSIG(st) == SIGSTOP)
			(*new_stops)++; /* a new task's first stop */
		else if (ev == 0 && WSTOPSIG(st) == SIGUSR1) {
			(*usr1)++;
			sig = SIGUSR1;
		} else if (ev == 0 && WSTOPSIG(st) == SIGCHLD)
			sig = SIGCHLD;
		else if (!(ev == PTRACE_EVENT_CLONE || ev == PTRACE_EVENT_FORK || WSTOPSIG(st) == (SIGTRAP | 0x80)))
			return -1;
		ptrace(PTRACE_SYSCALL, p, 0, (void *)(long)sig);
	}
	return WIFEXITED(main_status) ? WEXITSTATUS(main_status) : -1;
}

static void attach_detach(void)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		signal(SIGUSR1, on_usr1);
		for (int i = 0;; i++) {
			if (i % 50 == 0)
				raise(SIGUSR1);
			getppid();
		}
	}
	int ok = 0, rounds = 0, st;
	for (; rounds < 40; rounds++) {
		if (ptrace(PTRACE_SEIZE, c, 0, 0) != 0)
			break;
		ptrace(PTRACE_INTERRUPT, c, 0, 0);
		for (;;) {
			if (waitpid(c, &st, __WALL) != c || !WIFSTOPPED(st))
				goto gone;
			if (st >> 16 == PTRACE_EVENT_STOP)
				break;
			/* A signal-delivery-stop came first: pass it on. */
			ptrace(PTRACE_CONT, c, 0, (void *)(long)WSTOPSIG(st));
		}
		ok += ptrace(PTRACE_DETACH, c, 0, 0) == 0;
	}
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
gone:
	CHECK("attach_detach_rounds", ok == rounds && rounds == 40);
	CHECK("attach_detach_end", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

int main(void)
{
	int bad = 0, all_exits = 0, all_events = 0, all_new = 0, all_usr1 = 0;
	for (int r = 0; r < ROUNDS; r++) {
		int exits = 0, events = 0, news = 0, usr1 = 0;
		int code = follow(&exits, &events, &news, &usr1);
		/* The child, its threads and their children. */
		int tasks = 1 + THREADS + THREADS;
		if (code != 7 || exits != tasks || events != tasks || news != 2 * THREADS || usr1 != THREADS)
			bad++;
		all_exits += exits;
		all_events += events;
		all_new += news;
		all_usr1 += usr1;
	}
	CHECK("rounds_all_seen", bad == 0);
	printf("exits %d exit_events %d new_task_stops %d usr1 %d\n", all_exits, all_events, all_new, all_usr1);
	attach_detach();
	return compat_failures > 100 ? 100 : compat_failures;
}
