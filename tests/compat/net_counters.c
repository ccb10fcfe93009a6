/* The network counters of /proc/net/snmp, snmp6 and netstat, in a
 * network namespace of the test's own (so nothing else counts): their
 * names, and what loopback traffic adds: TCP opens, a refused connect,
 * a reset by a close that left data unread, connects dropped by a full
 * backlog; UDP datagrams read, and sent to a port nobody has (with its
 * ICMP port unreachable); an ICMP echo; IPv6 UDP; lo's packet and
 * byte counts in /proc/net/dev. Segment and packet
 * counts are left out: Linux's include pure acknowledgements, which the
 * sandbox does not model. Run as root. */
#include "common.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static char snmp[1 << 16], netstat[1 << 16], snmp6[1 << 16];

static void load(void)
{
	read_whole("/proc/net/snmp", snmp, sizeof snmp);
	read_whole("/proc/net/netstat", netstat, sizeof netstat);
	read_whole("/proc/net/snmp6", snmp6, sizeof snmp6);
}

/* The value of `name` in the section `title` of a two-line-per-section
 * file; -1 when absent. */
static long field(const char *text, const char *title, const char *name)
{
	char head[64];
	snprintf(head, sizeof head, "%s:", title);
	const char *h = strstr(text, head);
	if (!h)
		return -1;
	const char *v = strchr(h, '\n');
	if (!v)
		return -1;
	v++;
	int idx = -1, i = 0;
	char names[8192];
	size_t n = v - h;
	memcpy(names, h, n < sizeof names ? n : sizeof names - 1);
	names[n < sizeof names ? n - 1 : sizeof names - 1] = 0;
	for (char *t = strtok(names + strlen(head), " "); t; t = strtok(NULL, " "), i++)
		if (!strcmp(t, name))
			idx = i;
	if (idx < 0)
		return -1;
	v += strlen(head);
	for (i = 0; i < idx; i++)
		v = strchr(v + 1, ' ');
	return strtol(v + 1, NULL, 10);
}

static long six(const char *name)
{
	const char *p = strstr(snmp6, name);
	return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

static struct sockaddr_in lo4(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

int main(void)
{
	if (unshare(CLONE_NEWNET)) {
		printf("unshare: %s\n", ename(errno));
		return 1;
	}
	struct ifreq r = {0};
	strcpy(r.ifr_name, "lo");
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	ioctl(s, SIOCGIFFLAGS, &r);
	r.ifr_flags |= IFF_UP;
	CHECK("lo up", ioctl(s, SIOCSIFFLAGS, &r) == 0);
	close(s);

	load();
	/* The files' shape. */
	for (char *l = snmp; *l; l = strchr(l, '\n') + 1) {
		printf("snmp %.*s\n", (int)(strchr(l, ':') - l), l);
		l = strchr(l, '\n') + 1;
	}
	for (char *l = netstat; *l; l = strchr(l, '\n') + 1) {
		printf("netstat %.*s\n", (int)(strchr(l, ':') - l), l);
		l = strchr(l, '\n') + 1;
	}
	SHOW("Ip DefaultTTL", "%ld", field(snmp, "Ip", "DefaultTTL"));
	SHOW("Tcp RtoMax", "%ld", field(snmp, "Tcp", "RtoMax"));
	SHOW("Tcp MaxConn", "%ld", field(snmp, "Tcp", "MaxConn"));
	SHOW("TcpExt has TCPAbortOnClose", "%d", field(netstat, "TcpExt", "TCPAbortOnClose") == 0);
	SHOW("snmp6 Udp6InDatagrams", "%ld", six("Udp6InDatagrams"));

	/* The namespace's sysctls that a new one starts with. */
	/* (Not ip_forward: a new namespace may take the host's.) */
	const char *knobs[] = {"ipv4/ip_local_port_range", "ipv4/ping_group_range",
			       "ipv4/ip_default_ttl", "ipv6/conf/lo/disable_ipv6", "core/somaxconn"};
	for (size_t i = 0; i < sizeof knobs / sizeof *knobs; i++) {
		char path[128], v[64] = {0};
		snprintf(path, sizeof path, "/proc/sys/net/%s", knobs[i]);
		read_text(path, v, sizeof v);
		printf("net.%s = %s", knobs[i], v);
	}

	/* TCP: a connection with data, a refusal, a reset. */
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo4(47200);
	bind(l, (void *)&a, sizeof a);
	listen(l, 4);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (void *)&a, sizeof a);
	int sv = accept(l, NULL, NULL);
	char buf[1000] = {0};
	write(c, buf, sizeof buf);
	read(sv, buf, sizeof buf);
	int refused = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in none = lo4(47201);
	EXPECT_ERR("connect to nothing", connect(refused, (void *)&none, sizeof none), ECONNREFUSED);
	load();
	SHOW("Tcp ActiveOpens", "%ld", field(snmp, "Tcp", "ActiveOpens"));
	SHOW("Tcp PassiveOpens", "%ld", field(snmp, "Tcp", "PassiveOpens"));
	SHOW("Tcp AttemptFails", "%ld", field(snmp, "Tcp", "AttemptFails"));
	SHOW("Tcp CurrEstab", "%ld", field(snmp, "Tcp", "CurrEstab"));
	SHOW("Tcp OutRsts", "%ld", field(snmp, "Tcp", "OutRsts"));
	write(c, buf, 10);
	usleep(20000);
	close(sv);
	usleep(20000);
	load();
	SHOW("after a close with data unread: EstabResets", "%ld", field(snmp, "Tcp", "EstabResets"));
	SHOW("  OutRsts", "%ld", field(snmp, "Tcp", "OutRsts"));
	SHOW("  TCPAbortOnClose", "%ld", field(netstat, "TcpExt", "TCPAbortOnClose"));
	SHOW("  CurrEstab", "%ld", field(snmp, "Tcp", "CurrEstab"));
	close(c);

	/* A full backlog drops connects. */
	int full = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in fa = lo4(47205);
	bind(full, (void *)&fa, sizeof fa);
	listen(full, 0);
	for (int i = 0; i < 3; i++) {
		int k = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(k, (void *)&fa, sizeof fa);
	}
	usleep(50000);
	load();
	SHOW("a full backlog counts ListenOverflows", "%d", field(netstat, "TcpExt", "ListenOverflows") > 0);
	SHOW("  and ListenDrops", "%d", field(netstat, "TcpExt", "ListenDrops") > 0);

	/* lo's own counters: what went through it, each way the same. */
	{
		char dev[4096];
		read_whole("/proc/net/dev", dev, sizeof dev);
		unsigned long long rb = 0, rp = 0, tb = 0, tp = 0;
		char *lo = strstr(dev, "lo:");
		if (lo)
			sscanf(lo + 3, "%llu %llu %*u %*u %*u %*u %*u %*u %llu %llu", &rb, &rp, &tb, &tp);
		SHOW("lo counted the data", "%d", rb >= 1010 && rp >= 3);
		SHOW("lo rx is tx", "%d", rb == tb && rp == tp);
	}

	/* UDP, v4 and v6. */
	int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in va = lo4(47202), nobody = lo4(47203);
	bind(v, (void *)&va, sizeof va);
	sendto(u, "x", 1, 0, (void *)&va, sizeof va);
	sendto(u, "y", 1, 0, (void *)&va, sizeof va);
	sendto(u, "z", 1, 0, (void *)&nobody, sizeof nobody);
	recv(v, buf, 10, 0);
	int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(47204),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bind(u6, (void *)&a6, sizeof a6);
	sendto(u6, "6", 1, 0, (void *)&a6, sizeof a6);
	recv(u6, buf, 10, 0);
	load();
	SHOW("Udp OutDatagrams", "%ld", field(snmp, "Udp", "OutDatagrams"));
	SHOW("Udp InDatagrams (read)", "%ld", field(snmp, "Udp", "InDatagrams"));
	SHOW("Udp NoPorts", "%ld", field(snmp, "Udp", "NoPorts"));
	SHOW("Icmp OutDestUnreachs", "%ld", field(snmp, "Icmp", "OutDestUnreachs"));
	SHOW("IcmpMsg InType3", "%ld", field(snmp, "IcmpMsg", "InType3"));
	SHOW("Udp6InDatagrams", "%ld", six("Udp6InDatagrams"));
	SHOW("Udp6OutDatagrams", "%ld", six("Udp6OutDatagrams"));

	/* An ICMP echo to 127.0.0.1, and its reply. */
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	struct icmphdr e = {.type = ICMP_ECHO, .un.echo.id = htons(7), .un.echo.sequence = htons(1)};
	/* The checksum of the header alone: type 8, id 7, seq 1. */
	e.checksum = htons(~(0x0800 + 7 + 1) & 0xffff);
	struct sockaddr_in to = lo4(0);
	CHECK("echo sent", sendto(raw, &e, sizeof e, 0, (void *)&to, sizeof to) == sizeof e);
	usleep(20000);
	load();
	SHOW("Icmp InEchos", "%ld", field(snmp, "Icmp", "InEchos"));
	SHOW("Icmp OutEchoReps", "%ld", field(snmp, "Icmp", "OutEchoReps"));
	SHOW("Icmp InEchoReps", "%ld", field(snmp, "Icmp", "InEchoReps"));
	SHOW("IcmpMsg OutType0", "%ld", field(snmp, "IcmpMsg", "OutType0"));
	return compat_done();
}
