/* Signal-driven I/O: O_ASYNC (F_SETFL and FIOASYNC) with F_SETOWN sends
 * SIGIO when a pipe, a unix socket pair, a TCP connection or a
 * listening socket becomes readable; F_SETSIG picks the signal and fills
 * si_code, si_band and si_fd; another process's write wakes an owner
 * waiting in sigsuspend; clearing O_ASYNC stops the signals. */
#include "common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

static volatile int count[65], last_fd, last_code;
static volatile long last_band;

static void on_sig(int s, siginfo_t *si, void *u)
{
	(void)u;
	count[s]++;
	last_fd = si->si_fd;
	last_band = si->si_band;
	last_code = si->si_code;
}

static void settle(void)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static void reset(void)
{
	memset((void *)count, 0, sizeof count);
	last_fd = -1;
	last_band = 0;
	last_code = 0;
}

static void arm(int fd, int sig)
{
	fcntl(fd, F_SETOWN, getpid());
	fcntl(fd, F_SETSIG, sig);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC | O_NONBLOCK);
}

static void pair(const char *name, int r, int w)
{
	char b[16];
	reset();
	arm(r, 0);
	write(w, "hi", 2);
	settle();
	printf("%s: SIGIO %d\n", name, count[SIGIO]);
	read(r, b, sizeof b);
	reset();
	fcntl(r, F_SETSIG, SIGRTMIN + 1);
	write(w, "hi", 2);
	settle();
	printf("%s with F_SETSIG: SIGIO %d, rt %d, si_fd %s, si_band %#lx, si_code %d\n", name,
	       count[SIGIO], count[SIGRTMIN + 1], last_fd == r ? "right" : "wrong", last_band,
	       last_code);
	read(r, b, sizeof b);
	reset();
	fcntl(r, F_SETFL, fcntl(r, F_GETFL) & ~O_ASYNC);
	write(w, "hi", 2);
	settle();
	printf("%s without O_ASYNC: %d\n", name, count[SIGIO] + count[SIGRTMIN + 1]);
	read(r, b, sizeof b);
}

static void ioctl_form(void)
{
	int p[2], on = 1;
	pipe(p);
	reset();
	fcntl(p[0], F_SETOWN, getpid());
	CHECK("FIOASYNC", ioctl(p[0], FIOASYNC, &on) == 0);
	SHOW("F_GETFL has O_ASYNC", "%d", !!(fcntl(p[0], F_GETFL) & O_ASYNC));
	write(p[1], "x", 1);
	settle();
	SHOW("SIGIO by FIOASYNC", "%d", count[SIGIO]);
	close(p[0]);
	close(p[1]);
}

static void across_processes(void)
{
	int p[2];
	pipe(p);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGIO);
	sigprocmask(SIG_BLOCK, &block, &old);
	reset();
	arm(p[0], 0);
	pid_t c = fork();
	if (c == 0) {
		settle();
		write(p[1], "x", 1);
		_exit(0);
	}
	sigset_t wait_mask = old;
	sigdelset(&wait_mask, SIGIO);
	sigsuspend(&wait_mask);
	SHOW("another process's write wakes sigsuspend", "%d", count[SIGIO]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	waitpid(c, NULL, 0);
	close(p[0]);
	close(p[1]);
}

static void tcp(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	bind(l, (struct sockaddr *)&a, sizeof a);
	listen(l, 4);
	getsockname(l, (struct sockaddr *)&a, &al);
	reset();
	arm(l, 0);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&a, sizeof a);
	settle();
	SHOW("a connection to a listener: SIGIO", "%d", count[SIGIO] > 0);
	int s = accept(l, NULL, NULL);
	reset();
	arm(s, SIGRTMIN + 2);
	write(c, "data", 4);
	settle();
	printf("TCP data: rt %d, si_code %d, si_band %#lx\n", count[SIGRTMIN + 2] > 0, last_code,
	       last_band);
	close(s);
	close(c);
	close(l);
}

/* The signal comes before the write that caused it returns, and a
 * blocked realtime one is queued once per write. */
static volatile int prompt_count;
static void on_prompt(int s)
{
	(void)s;
	prompt_count++;
}

static void prompt(void)
{
	struct sigaction sa = {0}, old;
	sa.sa_handler = on_prompt;
	sigaction(SIGRTMIN + 3, &sa, &old);
	int p[2];
	pipe(p);
	fcntl(p[0], F_SETOWN, getpid());
	fcntl(p[0], F_SETSIG, SIGRTMIN + 3);
	fcntl(p[0], F_SETFL, O_ASYNC);
	write(p[1], "a", 1);
	int first = prompt_count;
	write(p[1], "b", 1);
	CHECK("sigio_before_write_returns", first == 1 && prompt_count == 2);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 3);
	sigprocmask(SIG_BLOCK, &s, NULL);
	for (int i = 0; i < 3; i++)
		write(p[1], "c", 1);
	siginfo_t si;
	struct timespec ts = {0, 0};
	int n = 0;
	while (sigtimedwait(&s, &si, &ts) > 0)
		n++;
	CHECK("sigio_queued_per_write", n == 3);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	sigaction(SIGRTMIN + 3, &old, NULL);
	close(p[0]);
	close(p[1]);
}

/* eventfd, epoll and timerfd have no async notification: F_SETFL drops
 * O_ASYNC, FIOASYNC is ENOTTY, and nothing is sent. */
static void no_fasync(void)
{
	int fds[3] = {eventfd(0, 0), epoll_create1(0), timerfd_create(CLOCK_MONOTONIC, 0)};
	const char *names[3] = {"eventfd", "epoll", "timerfd"};
	for (int i = 0; i < 3; i++) {
		char n[64];
		fcntl(fds[i], F_SETOWN, getpid());
		snprintf(n, sizeof n, "%s_setfl_drops_async", names[i]);
		CHECK(n, fcntl(fds[i], F_SETFL, O_ASYNC) == 0 && (fcntl(fds[i], F_GETFL) & O_ASYNC) == 0);
		int one = 1;
		snprintf(n, sizeof n, "%s_fioasync", names[i]);
		EXPECT_ERR(n, ioctl(fds[i], FIOASYNC, &one), ENOTTY);
	}
	uint64_t v = 1;
	write(fds[0], &v, 8);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGIO, &sa, NULL);
	sigaction(SIGRTMIN + 1, &sa, NULL);
	sigaction(SIGRTMIN + 2, &sa, NULL);
	int p[2], s[2];
	pipe(p);
	pair("pipe", p[0], p[1]);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	pair("socketpair", s[0], s[1]);
	ioctl_form();
	across_processes();
	tcp();
	no_fasync();
	prompt();
	return compat_done();
}
