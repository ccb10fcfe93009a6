/* Socket owner ioctls: FIOSETOWN/SIOCSPGRP set what F_GETOWN reads,
 * FIOGETOWN/SIOCGPGRP read it back, SIOCATMARK is 0 with no urgent
 * data; on a non-socket they are ENOTTY. */
#include "common.h"
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int main(void)
{
	int u = socket(AF_UNIX, SOCK_STREAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), g = 99, pid = getpid();
	CHECK("FIOGETOWN fresh", ioctl(u, FIOGETOWN, &g) == 0 && g == 0);
	CHECK("FIOSETOWN", ioctl(u, FIOSETOWN, &pid) == 0 && fcntl(u, F_GETOWN) == pid);
	CHECK("SIOCGPGRP", ioctl(u, SIOCGPGRP, &g) == 0 && g == pid);
	int neg = -getpgrp();
	CHECK("SIOCSPGRP group", ioctl(t, SIOCSPGRP, &neg) == 0 && fcntl(t, F_GETOWN) == neg);
	CHECK("SIOCATMARK", ioctl(t, SIOCATMARK, &g) == 0 && g == 0);
	int p[2];
	pipe(p);
	EXPECT_ERR("FIOGETOWN on a pipe", ioctl(p[0], FIOGETOWN, &g), ENOTTY);
	return compat_failures > 100 ? 100 : compat_failures;
}
