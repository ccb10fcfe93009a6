/* The loopback interface as programs find it: getifaddrs (rtnetlink),
 * if_nametoindex/if_indextoname and the SIOCGIF* ioctls. Only lo is
 * looked at: a host has other interfaces, the sandbox none.
 * compat-variant: network-host (also run with --network host). */
#include "common.h"
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int main(void)
{
	struct ifaddrs *ifs = NULL;
	CHECK("getifaddrs", getifaddrs(&ifs) == 0);
	int lo4 = 0, lo6 = 0, lo_flags = 0;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (strcmp(i->ifa_name, "lo") || !i->ifa_addr)
			continue;
		lo_flags = (i->ifa_flags & (IFF_UP | IFF_LOOPBACK)) == (IFF_UP | IFF_LOOPBACK);
		if (i->ifa_addr->sa_family == AF_INET) {
			struct sockaddr_in *a = (void *)i->ifa_addr, *m = (void *)i->ifa_netmask;
			lo4 = a->sin_addr.s_addr == htonl(INADDR_LOOPBACK) && m && m->sin_addr.s_addr == htonl(0xff000000);
		}
		if (i->ifa_addr->sa_family == AF_INET6)
			lo6 = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr);
	}
	freeifaddrs(ifs);
	CHECK("lo_127_0_0_1_slash_8", lo4);
	CHECK("lo_ipv6_loopback", lo6);
	CHECK("lo_up_loopback", lo_flags);
	CHECK("if_nametoindex_lo", if_nametoindex("lo") == 1);
	char name[IF_NAMESIZE];
	CHECK("if_indextoname_1", if_indextoname(1, name) && !strcmp(name, "lo"));
	EXPECT_ERR("if_nametoindex_missing", (long)if_nametoindex("husk-none0") - 1, ENODEV);

	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq r;
	memset(&r, 0, sizeof r);
	strcpy(r.ifr_name, "lo");
	CHECK("siocgifflags", ioctl(s, SIOCGIFFLAGS, &r) == 0 && (r.ifr_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING)) == (IFF_UP | IFF_LOOPBACK | IFF_RUNNING));
	CHECK("siocgifmtu", ioctl(s, SIOCGIFMTU, &r) == 0 && r.ifr_mtu == 65536);
	CHECK("siocgiftxqlen", ioctl(s, SIOCGIFTXQLEN, &r) == 0 && r.ifr_qlen == 1000);
	CHECK("siocgifaddr", ioctl(s, SIOCGIFADDR, &r) == 0 && ((struct sockaddr_in *)&r.ifr_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	CHECK("siocgifindex", ioctl(s, SIOCGIFINDEX, &r) == 0 && r.ifr_ifindex == 1);
	strcpy(r.ifr_name, "husk-none0");
	EXPECT_ERR("siocgifflags_missing", ioctl(s, SIOCGIFFLAGS, &r), ENODEV);
	struct ifreq reqs[64];
	struct ifconf c = {.ifc_len = sizeof reqs, .ifc_req = reqs};
	int found = 0;
	CHECK("siocgifconf", ioctl(s, SIOCGIFCONF, &c) == 0);
	for (size_t i = 0; i < c.ifc_len / sizeof(struct ifreq); i++)
		found |= !strcmp(reqs[i].ifr_name, "lo") && ((struct sockaddr_in *)&reqs[i].ifr_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	CHECK("siocgifconf_has_lo", found);
	/* The metric and device map of a virtual interface, and ethtool:
	 * lo's link state, nothing of its settings. */
	memset(&r, 0, sizeof r);
	strcpy(r.ifr_name, "lo");
	r.ifr_metric = 7;
	CHECK("siocgifmetric", ioctl(s, SIOCGIFMETRIC, &r) == 0 && r.ifr_metric == 0);
	memset(&r.ifr_map, 0x55, sizeof r.ifr_map);
	CHECK("siocgifmap", ioctl(s, SIOCGIFMAP, &r) == 0 && r.ifr_map.irq == 0 && r.ifr_map.base_addr == 0);
	unsigned int ev[2] = {0xa, 7}; /* ETHTOOL_GLINK */
	r.ifr_data = (void *)ev;
	CHECK("ethtool glink", ioctl(s, 0x8946, &r) == 0 && ev[1] == 1);
	unsigned int gset[11] = {0x1}; /* ETHTOOL_GSET */
	r.ifr_data = (void *)gset;
	EXPECT_ERR("ethtool gset", ioctl(s, 0x8946, &r), EOPNOTSUPP);
	strcpy(r.ifr_name, "husk-none0");
	EXPECT_ERR("ethtool missing", ioctl(s, 0x8946, &r), ENODEV);
	close(s);
	return compat_done();
}
