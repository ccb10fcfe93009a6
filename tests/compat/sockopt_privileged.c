/* The socket options that take privilege: SO_MARK, and SO_PRIORITY
 * past 6, need CAP_NET_RAW or CAP_NET_ADMIN over the socket's network
 * namespace (so root of a user namespace has them in a network
 * namespace it made, not in the first); SO_RCVBUFFORCE and
 * SO_SNDBUFFORCE need CAP_NET_ADMIN. Run as root. */
#include "common.h"
#include <sys/socket.h>
#include <sys/wait.h>

static void probe(const char *who)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int v = 5;
	printf("%s: SO_PRIORITY 5 %s", who, setsockopt(s, SOL_SOCKET, SO_PRIORITY, &v, sizeof v) ? ename(errno) : "ok");
	v = 7;
	printf(", SO_PRIORITY 7 %s", setsockopt(s, SOL_SOCKET, SO_PRIORITY, &v, sizeof v) ? ename(errno) : "ok");
	v = 42;
	printf(", SO_MARK %s", setsockopt(s, SOL_SOCKET, SO_MARK, &v, sizeof v) ? ename(errno) : "ok");
	v = 65536;
	printf(", SO_RCVBUFFORCE %s\n", setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) ? ename(errno) : "ok");
	close(s);
}

/* Runs `f` in a child after `prep`; waits. */
static void in_child(const char *who, int (*prep)(void))
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		if (prep && prep()) {
			printf("%s: setup %s\n", who, ename(errno));
			_exit(1);
		}
		probe(who);
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
}

static int drop(void)
{
	return setgid(1000) || setuid(1000);
}

static int userns(void)
{
	return unshare(CLONE_NEWUSER);
}

static int userns_netns(void)
{
	return unshare(CLONE_NEWUSER | CLONE_NEWNET);
}

int main(void)
{
	in_child("root", NULL);
	in_child("uid 1000", drop);
	in_child("root of a user namespace", userns);
	in_child("root of a user namespace in its network namespace", userns_netns);
	return compat_done();
}
