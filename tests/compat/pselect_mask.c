/* The temporary signal mask of ppoll, pselect6, epoll_pwait and
 * epoll_pwait2: when the call returns events, the old mask is back
 * before any signal is delivered, so a signal only the temporary mask
 * let in stays pending; when nothing is ready, such a signal ends the
 * call with EINTR even with a zero timeout (poll and select, not
 * epoll), and its handler runs. poll(2) of an O_PATH fd is POLLNVAL,
 * select(2) finds it ready. */
#include "common.h"
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>

static volatile int hits;
static void on_usr1(int s)
{
	(void)s;
	hits++;
}

static sigset_t usr1, none;

/* Delivers what is pending and blocks SIGUSR1 again. */
static void settle(void)
{
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	hits = 0;
}

static void report(const char *name, long r)
{
	int e = errno;
	sigset_t cur;
	sigpending(&cur);
	printf("%s: %ld %s, handler ran %d, still pending %d\n", name, r, r < 0 ? ename(e) : "",
	       hits, sigismember(&cur, SIGUSR1));
	settle();
}

int main(void)
{
	signal(SIGUSR1, on_usr1);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	int p[2];
	pipe(p);
	write(p[1], "x", 1);
	struct timespec one = {1, 0}, zero = {0, 0};
	struct pollfd pq = {p[0], POLLIN, 0};
	fd_set r;
	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLIN, {0}};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);

	/* Ready: the signal waits. */
	kill(getpid(), SIGUSR1);
	report("ppoll ready", ppoll(&pq, 1, &one, &none));
	kill(getpid(), SIGUSR1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	report("pselect ready", pselect(p[0] + 1, &r, NULL, NULL, &one, &none));
	kill(getpid(), SIGUSR1);
	report("epoll_pwait ready", epoll_pwait(ep, &ev, 1, 1000, &none));
	kill(getpid(), SIGUSR1);
	report("epoll_pwait2 ready", syscall(SYS_epoll_pwait2, ep, &ev, 1, &one, &none, 8));

	/* Nothing ready, no wait: poll and select see the signal. */
	char c;
	read(p[0], &c, 1);
	kill(getpid(), SIGUSR1);
	report("ppoll zero timeout", ppoll(&pq, 1, &zero, &none));
	kill(getpid(), SIGUSR1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	report("pselect zero timeout", pselect(p[0] + 1, &r, NULL, NULL, &zero, &none));
	kill(getpid(), SIGUSR1);
	report("epoll_pwait zero timeout", epoll_pwait(ep, &ev, 1, 0, &none));
	/* Nothing ready, waiting: interrupted. */
	kill(getpid(), SIGUSR1);
	report("ppoll waiting", ppoll(&pq, 1, &one, &none));
	kill(getpid(), SIGUSR1);
	report("epoll_pwait waiting", epoll_pwait(ep, &ev, 1, 1000, &none));

	int op = open("/", O_PATH);
	struct pollfd pp = {op, POLLIN, 0};
	SHOW("poll O_PATH revents", "%#x", poll(&pp, 1, 0) == 1 ? pp.revents : -1);
	FD_ZERO(&r);
	FD_SET(op, &r);
	struct timeval tv = {0, 0};
	SHOW("select O_PATH", "%d", select(op + 1, &r, NULL, NULL, &tv));
	return compat_done();
}
