/* Network namespaces: unshare(CLONE_NEWNET) gives a namespace of its
 * own (another /proc/self/ns/net) with lo alone and down (no address,
 * ENETUNREACH for 127.0.0.1, EADDRNOTAVAIL for ::1) until SIOCSIFFLAGS
 * brings it up (EPERM without CAP_NET_ADMIN, ENODEV for no such name);
 * then loopback ports and abstract unix names are its own while a path
 * still reaches a unix socket bound in the first namespace; /proc/net
 * lists the namespace's sockets; setns goes back; an unprivileged
 * unshare is EPERM. Run as root. */
#include "common.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

static char dir[] = "/tmp/husk-netns-XXXXXX";

static int lo_ioctl(unsigned long cmd, struct ifreq *r, const char *name)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	strncpy(r->ifr_name, name, IFNAMSIZ - 1);
	int rc = ioctl(s, cmd, r);
	int e = errno;
	close(s);
	errno = e;
	return rc;
}

static int tcp_listen(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(s, (void *)&a, sizeof a) || listen(s, 4))
		return -1;
	return s;
}

static int tcp_connect(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(s, (void *)&a, sizeof a);
	int e = errno;
	close(s);
	errno = e;
	return rc;
}

static int unix_sock(const char *name, int abstract, int do_bind)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path + (abstract ? 1 : 0), name);
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(name) + (abstract ? 1 : 0);
	int rc = do_bind ? bind(s, (void *)&a, len) || listen(s, 4) : connect(s, (void *)&a, len);
	if (rc) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

static int pending(int s)
{
	struct pollfd p = {.fd = s, .events = POLLIN};
	return poll(&p, 1, 100);
}

/* Listening TCP rows (state 0A) in /proc/net/tcp. */
static int listeners(void)
{
	static char buf[1 << 20];
	read_whole("/proc/net/tcp", buf, sizeof buf);
	int n = 0;
	for (char *l = strchr(buf, '\n'); l && l[1]; l = strchr(l + 1, '\n'))
		n += strstr(l, " 0A ") != NULL && strstr(l, " 0A ") < strchr(l + 1, '\n');
	return n;
}

int main(void)
{
	char before[64] = {0}, after[64] = {0}, back[64] = {0}, path[128];
	struct ifreq r;
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/sock", dir);
	readlink("/proc/self/ns/net", before, sizeof before - 1);
	int home = open("/proc/self/ns/net", O_RDONLY);
	CHECK("ns file opens", home >= 0);
	/* What the first namespace has before leaving it. */
	int old_tcp = tcp_listen(47011);
	CHECK("first namespace listens", old_tcp >= 0);
	int old_abs = unix_sock("husk-netns-abstract", 1, 1);
	CHECK("abstract name bound", old_abs >= 0);
	int old_path = unix_sock(path, 0, 1);
	CHECK("path name bound", old_path >= 0);
	int first_listeners = listeners();

	pid_t p = fork();
	if (p == 0) {
		if (setgid(1234) || setuid(1234))
			_exit(3);
		_exit(unshare(CLONE_NEWNET) == -1 && errno == EPERM ? 0 : 1);
	}
	int st;
	waitpid(p, &st, 0);
	SHOW("unprivileged unshare is EPERM", "%d", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	CHECK("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET) == 0);
	readlink("/proc/self/ns/net", after, sizeof after - 1);
	SHOW("another namespace", "%d", strcmp(before, after) != 0);
	SHOW("its kind", "%.4s", after);

	/* lo, down. */
	memset(&r, 0, sizeof r);
	CHECK("SIOCGIFFLAGS lo", lo_ioctl(SIOCGIFFLAGS, &r, "lo") == 0);
	SHOW("lo flags", "%#x", r.ifr_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING));
	EXPECT_ERR("SIOCGIFADDR lo down", lo_ioctl(SIOCGIFADDR, &r, "lo"), EADDRNOTAVAIL);
	EXPECT_ERR("connect 127.0.0.1 lo down", tcp_connect(47011), ENETUNREACH);
	{
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		EXPECT_ERR("udp sendto lo down", sendto(u, "x", 1, 0, (void *)&a, sizeof a), ENETUNREACH);
		/* The send bound it, failed or not. */
		EXPECT_ERR("bind after the failed send", bind(u, (void *)&a, sizeof a), EINVAL);
		close(u);
		u = socket(AF_INET, SOCK_DGRAM, 0);
		CHECK("bind 127.0.0.1 lo down", bind(u, (void *)&a, sizeof a) == 0);
		close(u);
		int s6 = socket(AF_INET6, SOCK_STREAM, 0);
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
		EXPECT_ERR("bind ::1 lo down", bind(s6, (void *)&a6, sizeof a6), EADDRNOTAVAIL);
		close(s6);
	}
	SHOW("no listeners here", "%d", listeners());

	/* Only CAP_NET_ADMIN brings it up. */
	p = fork();
	if (p == 0) {
		if (setgid(1234) || setuid(1234))
			_exit(3);
		memset(&r, 0, sizeof r);
		r.ifr_flags = IFF_UP | IFF_LOOPBACK;
		_exit(lo_ioctl(SIOCSIFFLAGS, &r, "lo") == -1 && errno == EPERM ? 0 : 1);
	}
	waitpid(p, &st, 0);
	SHOW("SIOCSIFFLAGS without CAP_NET_ADMIN is EPERM", "%d", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	memset(&r, 0, sizeof r);
	r.ifr_flags = IFF_UP;
	EXPECT_ERR("SIOCSIFFLAGS no such name", lo_ioctl(SIOCSIFFLAGS, &r, "nosuch0"), ENODEV);
	memset(&r, 0, sizeof r);
	lo_ioctl(SIOCGIFFLAGS, &r, "lo");
	r.ifr_flags |= IFF_UP;
	CHECK("SIOCSIFFLAGS lo up", lo_ioctl(SIOCSIFFLAGS, &r, "lo") == 0);
	memset(&r, 0, sizeof r);
	lo_ioctl(SIOCGIFFLAGS, &r, "lo");
	SHOW("lo flags up", "%#x", r.ifr_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING));
	CHECK("SIOCGIFADDR lo up", lo_ioctl(SIOCGIFADDR, &r, "lo") == 0);
	SHOW("lo address", "%s", inet_ntoa(((struct sockaddr_in *)&r.ifr_addr)->sin_addr));

	/* The namespace's own ports and abstract names. */
	EXPECT_ERR("the first namespace's port is not here", tcp_connect(47011), ECONNREFUSED);
	int new_tcp = tcp_listen(47011);
	CHECK("the same port binds here", new_tcp >= 0);
	CHECK("connect here", tcp_connect(47011) == 0);
	SHOW("this namespace's listener took it", "%d", pending(new_tcp));
	SHOW("the first namespace's did not", "%d", pending(old_tcp));
	SHOW("listeners here", "%d", listeners());
	EXPECT_ERR("abstract name of the first namespace", unix_sock("husk-netns-abstract", 1, 0), ECONNREFUSED);
	int new_abs = unix_sock("husk-netns-abstract", 1, 1);
	CHECK("the same abstract name binds here", new_abs >= 0);
	int c = unix_sock(path, 0, 0);
	CHECK("a path reaches the first namespace's socket", c >= 0);
	SHOW("its listener has it", "%d", pending(old_path));
	close(c);

	/* Back to the first namespace. */
	CHECK("setns back", setns(home, CLONE_NEWNET) == 0);
	readlink("/proc/self/ns/net", back, sizeof back - 1);
	SHOW("the first namespace again", "%d", strcmp(before, back) == 0);
	c = unix_sock("husk-netns-abstract", 1, 0);
	CHECK("its abstract name again", c >= 0);
	close(c);
	SHOW("its listeners again", "%d", listeners() == first_listeners);
	EXPECT_ERR("setns with the wrong type", setns(home, CLONE_NEWUTS), EINVAL);

	close(new_tcp);
	close(old_tcp);
	close(new_abs);
	close(old_abs);
	close(old_path);
	unlink(path);
	rmdir(dir);
	return compat_done();
}
