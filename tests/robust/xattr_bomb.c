/* Stores 64 KiB extended attributes on one tmpfs file until the sandbox
 * refuses: it must say ENOSPC within its memory, not grow the sentry
 * without bound. Prints how it stopped. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

int main(void)
{
	const char *f = "/dev/shm/husk-xattr-bomb";
	close(open(f, O_CREAT | O_WRONLY, 0644));
	static char v[65536];
	memset(v, 7, sizeof v);
	char name[64];
	long k;
	for (k = 0; k < 100000; k++) {
		snprintf(name, sizeof name, "user.a%ld", k);
		if (setxattr(f, name, v, sizeof v, 0))
			break;
	}
	printf("%s after %ld MiB\n", k < 100000 ? strerrorname_np(errno) : "never refused", k / 16);
	unlink(f);
	return 0;
}
