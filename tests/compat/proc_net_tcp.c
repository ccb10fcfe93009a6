/* /proc/net/tcp's state and queue columns for loopback connections: a
 * listener's receive queue is its waiting connections and its send
 * queue 0; a connection's receive queue is what it has not read, and the
 * peer's FIN counts as one byte there until a read meets it; states
 * ESTABLISHED, FIN_WAIT2 for the side that shut down, CLOSE_WAIT for
 * the other. Rows are found by port. */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int port_of(int s, int peer)
{
	struct sockaddr_in a;
	socklen_t l = sizeof a;
	if (peer)
		getpeername(s, (void *)&a, &l);
	else
		getsockname(s, (void *)&a, &l);
	return ntohs(a.sin_port);
}

/* The row whose local and remote ports are these: "st tx:rx". */
static void row(const char *name, int local, int remote)
{
	static char buf[1 << 20];
	read_whole("/proc/net/tcp", buf, sizeof buf);
	for (char *l = strchr(buf, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
		unsigned lp, rp, st, tx, rx;
		if (sscanf(l + 1, "%*d: %*8x:%x %*8x:%x %x %x:%x", &lp, &rp, &st, &tx, &rx) == 5 &&
		    (int)lp == local && (int)rp == remote) {
			printf("%s: st %02X tx %u rx %u\n", name, st, tx, rx);
			return;
		}
	}
	printf("%s: no row\n", name);
}

int main(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(l, (void *)&a, sizeof a);
	listen(l, 8);
	int lp = port_of(l, 0);
	a.sin_port = htons(lp);
	int c1 = socket(AF_INET, SOCK_STREAM, 0), c2 = socket(AF_INET, SOCK_STREAM, 0);
	connect(c1, (void *)&a, sizeof a);
	connect(c2, (void *)&a, sizeof a);
	row("listener, two waiting", lp, 0);
	int s1 = accept(l, NULL, NULL);
	row("listener, one waiting", lp, 0);
	char data[100];
	memset(data, 'd', sizeof data);
	write(c1, data, sizeof data);
	usleep(50000);
	int p1 = port_of(c1, 0);
	row("server side, 100 unread", lp, p1);
	row("client side, sent", p1, lp);
	shutdown(c1, SHUT_WR);
	usleep(50000);
	row("server side, FIN unread", lp, p1);
	row("client side, shut down", p1, lp);
	char b[200];
	SHOW("read what is there", "%zd", read(s1, b, 50));
	row("server side, 50 left", lp, p1);
	SHOW("read the rest and more", "%zd", read(s1, b, sizeof b));
	row("server side, FIN met", lp, p1);
	SHOW("read at the end", "%zd", read(s1, b, sizeof b));
	row("server side, after EOF", lp, p1);
	close(c2);
	return compat_done();
}
