/* Signals, stops and kills reaching tasks that spin in system calls
 * husk answers without its kernel lock (pread of a tmpfs file, fstat,
 * stat): every queued realtime signal arrives once and in order, SIGSTOP
 * and SIGCONT take effect, SIGKILL ends the spinner. A stress loop. */
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define N 3000

static atomic_int stop, got, in_order = 1;
static int fd;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_value.sival_int != got)
		in_order = 0;
	got++;
}

static void spin_once(void)
{
	char b[64];
	struct stat st;
	if (pread(fd, b, sizeof b, 0) < 0 || fstat(fd, &st) != 0 || stat("/tmp", &st) != 0)
		_exit(99);
}

static void *spinner(void *arg)
{
	(void)arg;
	while (!stop)
		spin_once();
	return NULL;
}

static pid_t spin_child(void)
{
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			spin_once();
	}
	usleep(20000);
	return c;
}

int main(void)
{
	char path[] = "/tmp/husk-sigfast-XXXXXX";
	fd = mkstemp(path);
	CHECK("mkstemp", fd >= 0 && write(fd, "data", 4) == 4);
	unlink(path);

	struct sigaction sa = {.sa_sigaction = on_rt, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigaction(SIGRTMIN, &sa, NULL);
	pthread_t t;
	pthread_create(&t, NULL, spinner, NULL);
	int sent = 0;
	while (sent < N) {
		union sigval v = {.sival_int = sent};
		int rc = pthread_sigqueue(t, SIGRTMIN, v);
		if (rc == 0)
			sent++;
		else if (rc != EAGAIN)
			break;
	}
	for (int i = 0; i < 500 && got < N; i++)
		usleep(10000);
	stop = 1;
	pthread_join(t, NULL);
	CHECK("rt_all_sent", sent == N);
	CHECK("rt_all_delivered", got == N);
	CHECK("rt_in_order", in_order);

	for (int round = 0; round < 5; round++) {
		int s;
		pid_t c = spin_child();
		kill(c, SIGSTOP);
		CHECK("stop", waitpid(c, &s, WUNTRACED) == c && WIFSTOPPED(s));
		kill(c, SIGCONT);
		CHECK("cont", waitpid(c, &s, WCONTINUED) == c && WIFCONTINUED(s));
		kill(c, SIGKILL);
		CHECK("kill", waitpid(c, &s, 0) == c && WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL);
	}
	return compat_done();
}
