/* NETLINK_SOCK_DIAG dumps as ss asks for them: this program's own TCP
 * listener (with a connection waiting), connected pair, UDP socket,
 * IPv6 listener and unix listener/pair are found by inode with their
 * state, queues (a listener's are its waiting connections and backlog),
 * owner, ports, v6-only flag and peer; a family past AF_MAX or a short
 * request is EINVAL, a protocol with no handler ends its dump with
 * ENOENT. Also: binding a v6 socket to one v6
 * address makes it v6-only. */
#include "common.h"
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stddef.h>
#include <sys/un.h>

static unsigned ino_of(int fd)
{
	struct stat st;
	fstat(fd, &st);
	return (unsigned)st.st_ino;
}

static int port_of(int fd)
{
	struct sockaddr_in6 a;
	socklen_t l = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &l);
	return ntohs(a.sin6_port);
}

/* Sends `req` (a SOCK_DIAG_BY_FAMILY dump body of `len` bytes) and calls
 * `one` for each answer; returns the error of an NLMSG_ERROR, or 0. */
static int ask(void *req, size_t len, void (*one)(struct nlmsghdr *, void *), void *arg)
{
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (s < 0)
		return -errno;
	char buf[8192];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	memset(buf, 0, sizeof buf);
	h->nlmsg_len = NLMSG_LENGTH(len);
	h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	h->nlmsg_seq = 1;
	memcpy(NLMSG_DATA(h), req, len);
	send(s, buf, h->nlmsg_len, 0);
	static char in[1 << 16];
	for (;;) {
		ssize_t n = recv(s, in, sizeof in, 0);
		if (n <= 0)
			break;
		for (struct nlmsghdr *m = (struct nlmsghdr *)in; NLMSG_OK(m, n); m = NLMSG_NEXT(m, n)) {
			if (m->nlmsg_type == NLMSG_DONE) {
				/* A dump that ran into an error says so here. */
				int done = *(int *)NLMSG_DATA(m);
				close(s);
				return done;
			}
			if (m->nlmsg_type == NLMSG_ERROR) {
				close(s);
				return ((struct nlmsgerr *)NLMSG_DATA(m))->error;
			}
			one(m, arg);
		}
	}
	close(s);
	return 1;
}

struct want {
	unsigned ino;
	const char *label;
	char out[200];
};

/* Prints what a dump found, in the wants' order (dumps have their own). */
static void report(struct want *w)
{
	for (; w->label; w++) {
		if (w->out[0])
			printf("%s: %s\n", w->label, w->out);
		w->out[0] = 0;
	}
}

static struct want *inet_wants;

static void inet_one(struct nlmsghdr *m, void *arg)
{
	(void)arg;
	struct inet_diag_msg *d = NLMSG_DATA(m);
	for (struct want *w = inet_wants; w->label; w++) {
		if (d->idiag_inode != w->ino)
			continue;
		int v6only = -1, shut = -1;
		struct rtattr *a = (struct rtattr *)(d + 1);
		int rem = m->nlmsg_len - NLMSG_LENGTH(sizeof *d);
		for (; RTA_OK(a, rem); a = RTA_NEXT(a, rem)) {
			if (a->rta_type == INET_DIAG_SKV6ONLY)
				v6only = *(unsigned char *)RTA_DATA(a);
			if (a->rta_type == INET_DIAG_SHUTDOWN)
				shut = *(unsigned char *)RTA_DATA(a);
		}
		snprintf(w->out, sizeof w->out,
			 "family %d state %d rq %u wq %u own uid %d v6only %d shutdown %d ports %s",
			 d->idiag_family, d->idiag_state, d->idiag_rqueue, d->idiag_wqueue,
		       d->idiag_uid == getuid(), v6only, shut,
		       d->id.idiag_sport && (d->idiag_state == 10 || d->id.idiag_dport) ? "set"
											   : "unset");
	}
}

static void unix_one(struct nlmsghdr *m, void *arg)
{
	struct want *w = arg;
	unsigned inos[3] = {w[0].ino, w[1].ino, w[2].ino};
	struct unix_diag_msg *d = NLMSG_DATA(m);
	for (int i = 0; i < 3; i++) {
		if (d->udiag_ino != inos[i])
			continue;
		unsigned peer = 0, rq = 0, wq = 0;
		char name[108] = "";
		int named = 0;
		struct rtattr *a = (struct rtattr *)(d + 1);
		int rem = m->nlmsg_len - NLMSG_LENGTH(sizeof *d);
		for (; RTA_OK(a, rem); a = RTA_NEXT(a, rem)) {
			if (a->rta_type == UNIX_DIAG_PEER)
				peer = *(unsigned *)RTA_DATA(a);
			if (a->rta_type == UNIX_DIAG_RQLEN) {
				rq = ((unsigned *)RTA_DATA(a))[0];
				wq = ((unsigned *)RTA_DATA(a))[1];
			}
			if (a->rta_type == UNIX_DIAG_NAME) {
				named = RTA_PAYLOAD(a);
				memcpy(name, RTA_DATA(a), named < 107 ? named : 107);
			}
		}
		snprintf(w[i].out, sizeof w[i].out, "type %d state %d rq %u wq %u peer is %s name %s",
			 d->udiag_type,
		       d->udiag_state, rq, wq,
		       peer == 0 ? "none" : peer == inos[(i + 1) % 3] || peer == inos[(i + 2) % 3] ? "ours" : "other",
		       named ? (name[0] == 0 ? name + 1 : name) : "-");
	}
}

int main(void)
{
	struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int l = socket(AF_INET, SOCK_STREAM, 0);
	bind(l, (struct sockaddr *)&lo, sizeof lo);
	listen(l, 7);
	socklen_t sl = sizeof lo;
	getsockname(l, (struct sockaddr *)&lo, &sl);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&lo, sizeof lo);
	int waiting = socket(AF_INET, SOCK_STREAM, 0);
	connect(waiting, (struct sockaddr *)&lo, sizeof lo);
	int a = accept(l, NULL, NULL);
	write(c, "hello", 5);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ul = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(u, (struct sockaddr *)&ul, sizeof ul);
	int l6 = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 six = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int v = -1;
	socklen_t vl = sizeof v;
	getsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl);
	printf("v6only before bind %d\n", v);
	bind(l6, (struct sockaddr *)&six, sizeof six);
	getsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl);
	printf("v6only after binding ::1 %d\n", v);
	listen(l6, 3);
	(void)port_of;

	struct want w[] = {
		{ino_of(l), "listener"}, {ino_of(c), "client"}, {ino_of(a), "accepted"},
		{ino_of(u), "udp"}, {ino_of(l6), "v6 listener"}, {0, NULL},
	};
	inet_wants = w;
	struct inet_diag_req_v2 r = {.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP,
				     .idiag_states = ~0u};
	printf("tcp dump: %d\n", ask(&r, sizeof r, inet_one, NULL));
	report(w);
	r.idiag_states = 1 << 10;
	printf("listeners only: %d\n", ask(&r, sizeof r, inet_one, NULL));
	report(w);
	r.sdiag_protocol = IPPROTO_UDP;
	r.idiag_states = ~0u;
	printf("udp dump: %d\n", ask(&r, sizeof r, inet_one, NULL));
	report(w);
	r.sdiag_family = AF_INET6;
	r.sdiag_protocol = IPPROTO_TCP;
	printf("tcp6 dump: %d\n", ask(&r, sizeof r, inet_one, NULL));
	report(w);

	int ul_ = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	memcpy(un.sun_path, "\0husk-sock-diag", 15);
	bind(ul_, (struct sockaddr *)&un, offsetof(struct sockaddr_un, sun_path) + 15);
	listen(ul_, 4);
	int uc = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(uc, (struct sockaddr *)&un, offsetof(struct sockaddr_un, sun_path) + 15);
	int pair[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, pair);
	send(pair[0], "abc", 3, 0);
	struct want uw[] = {{ino_of(ul_), "unix listener"},
			    {ino_of(uc), "unix client not accepted yet"},
			    {ino_of(pair[1]), "unix datagram pair"},
			    {0, NULL}};
	struct unix_diag_req ur = {.sdiag_family = AF_UNIX, .udiag_states = ~0u,
				   .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN};
	printf("unix dump: %d\n", ask(&ur, sizeof ur, unix_one, uw));
	report(uw);

	struct inet_diag_req_v2 proto = {.sdiag_family = AF_INET, .sdiag_protocol = 200};
	printf("protocol 200: %s\n", ename(-ask(&proto, sizeof proto, inet_one, NULL)));
	unsigned char bad[56] = {99};
	printf("family 99: %s\n", ename(-ask(bad, sizeof bad, inet_one, NULL)));
	unsigned char shortreq[8] = {AF_INET, IPPROTO_TCP};
	printf("short request: %s\n", ename(-ask(shortreq, sizeof shortreq, inet_one, NULL)));
	return 0;
}
