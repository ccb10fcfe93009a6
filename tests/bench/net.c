/* Sockets between two processes, timed inside the process.
 *
 *   net stream inet|unix      MB/s of one 256 MiB stream (64 KiB writes)
 *                             over TCP on 127.0.0.1, or a unix stream
 *   net rr inet|unix          round trip (us) of a 16-byte request and
 *                             its 16-byte answer
 *   net veth send|recv|rr PORT
 *                             the same against a server on the host,
 *                             reached at the default gateway: 256 MiB
 *                             sent (then the server's close awaited),
 *                             256 MiB received, or round trips
 *   net veth idle N SINK ECHO round trips to ECHO while N connections
 *                             to SINK stay open and idle
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

#define TOTAL (256L << 20)
#define CHUNK (64 << 10)
#define ROUNDS 20000


/* A connected pair of sockets of the kind asked for: (listener-side,
 * client-side), made through listen/connect/accept. */
static void connected(int inet, int fds[2])
{
	int l, c;
	if (inet) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof a;
		l = socket(AF_INET, SOCK_STREAM, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
		    getsockname(l, (struct sockaddr *)&a, &len))
			die("listen");
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, sizeof a))
			die("connect");
		int one = 1;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	} else {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "husk-bench-%d", (int)getpid());
		socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
		l = socket(AF_UNIX, SOCK_STREAM, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 1))
			die("listen");
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, len))
			die("connect");
	}
	fds[0] = accept(l, NULL, NULL);
	if (fds[0] < 0)
		die("accept");
	int one = 1;
	if (inet)
		setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fds[1] = c;
	close(l);
}

static void read_all(int fd, char *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, buf, n);
		if (r <= 0)
			die("read");
		buf += r;
		n -= (size_t)r;
	}
}

static int stream(int inet)
{
	int fds[2];
	connected(inet, fds);
	pid_t p = fork();
	if (p == 0) {
		close(fds[1]);
		char *buf = malloc(CHUNK);
		long got = 0;
		ssize_t r;
		while ((r = read(fds[0], buf, CHUNK)) > 0)
			got += r;
		_exit(got == TOTAL ? 0 : 1);
	}
	close(fds[0]);
	char *buf = calloc(1, CHUNK);
	double t0 = now();
	for (long sent = 0; sent < TOTAL; sent += CHUNK)
		if (write(fds[1], buf, CHUNK) != CHUNK)
			die("write");
	close(fds[1]);
	int st;
	waitpid(p, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		die("reader");
	printf("%.0f\n", TOTAL / (now() - t0) / 1e6);
	return 0;
}

static int rr(int inet)
{
	int fds[2];
	connected(inet, fds);
	pid_t p = fork();
	if (p == 0) {
		char b[16];
		for (int i = 0; i < ROUNDS + 100; i++) {
			read_all(fds[0], b, sizeof b);
			if (write(fds[0], b, sizeof b) != sizeof b)
				die("echo");
		}
		_exit(0);
	}
	char b[16] = "0123456789abcdef";
	double t0 = 0;
	for (int i = 0; i < ROUNDS + 100; i++) {
		if (i == 100)
			t0 = now(); /* warmed up */
		if (write(fds[1], b, sizeof b) != sizeof b)
			die("request");
		read_all(fds[1], b, sizeof b);
	}
	printf("%.2f\n", (now() - t0) / ROUNDS * 1e6);
	waitpid(p, NULL, 0);
	return 0;
}

/* A TCP connection to PORT on the default route's gateway. */
static int to_gateway(int port)
{
	FILE *f = fopen("/proc/net/route", "r");
	char line[256], ifname[32];
	unsigned dst, gw = 0;
	if (!f)
		die("/proc/net/route");
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%31s %x %x", ifname, &dst, &gw) == 3 && dst == 0 && gw)
			break;
	fclose(f);
	if (!gw) {
		fprintf(stderr, "no default route\n");
		exit(1);
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = gw;
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a))
		die("connect");
	int one = 1;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return c;
}

static int veth(const char *what, int port)
{
	int c = to_gateway(port);
	char *buf = calloc(1, CHUNK);
	double t0 = now();
	if (!strcmp(what, "send")) {
		for (long sent = 0; sent < TOTAL; sent += CHUNK)
			if (write(c, buf, CHUNK) != CHUNK)
				die("write");
		shutdown(c, SHUT_WR);
		while (read(c, buf, CHUNK) > 0)
			;
		printf("%.0f\n", TOTAL / (now() - t0) / 1e6);
	} else if (!strcmp(what, "recv")) {
		long got = 0;
		ssize_t r;
		while ((r = read(c, buf, CHUNK)) > 0)
			got += r;
		if (got != TOTAL)
			die("short stream");
		printf("%.0f\n", TOTAL / (now() - t0) / 1e6);
	} else {
		char b[16] = "0123456789abcdef";
		for (int i = 0; i < ROUNDS + 100; i++) {
			if (i == 100)
				t0 = now();
			if (write(c, b, sizeof b) != sizeof b)
				die("request");
			read_all(c, b, sizeof b);
		}
		printf("%.2f\n", (now() - t0) / ROUNDS * 1e6);
	}
	return 0;
}

static int idle(int n, int sink, int echo)
{
	for (int i = 0; i < n; i++)
		to_gateway(sink);
	return veth("rr", echo);
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "veth") && !strcmp(argv[2], "idle"))
		return idle(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "veth"))
		return veth(argv[2], atoi(argv[3]));
	if (argc == 3) {
		int inet = !strcmp(argv[2], "inet");
		if (!strcmp(argv[1], "stream"))
			return stream(inet);
		if (!strcmp(argv[1], "rr"))
			return rr(inet);
	}
	fprintf(stderr, "usage: net stream|rr inet|unix | net veth send|recv|rr PORT\n");
	return 2;
}
