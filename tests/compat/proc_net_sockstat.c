/* /proc/net/sockstat and sockstat6 count bound sockets by transport and
 * family: a TCP listener, a bound UDP socket and a v6 listener each add
 * one to their line. Deltas only: the host has sockets of its own. */
#include "common.h"
#include <netinet/in.h>
#include <sys/socket.h>

static long field(const char *file, const char *key)
{
	char buf[1024];
	read_text(file, buf, sizeof buf);
	char *p = strstr(buf, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

int main(void)
{
	long tcp = field("/proc/net/sockstat", "TCP: inuse "), udp = field("/proc/net/sockstat", "UDP: inuse ");
	long tcp6 = field("/proc/net/sockstat6", "TCP6: inuse ");
	CHECK("the files are there", tcp >= 0 && udp >= 0 && tcp6 >= 0);
	int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0), t6 = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bind(t, (struct sockaddr *)&a, sizeof a);
	listen(t, 1);
	bind(u, (struct sockaddr *)&a, sizeof a);
	bind(t6, (struct sockaddr *)&a6, sizeof a6);
	listen(t6, 1);
	SHOW("TCP inuse grew by", "%ld", field("/proc/net/sockstat", "TCP: inuse ") - tcp);
	SHOW("UDP inuse grew by", "%ld", field("/proc/net/sockstat", "UDP: inuse ") - udp);
	SHOW("TCP6 inuse grew by", "%ld", field("/proc/net/sockstat6", "TCP6: inuse ") - tcp6);
	return compat_done();
}
