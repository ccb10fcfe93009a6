/* inotify sees the copies the kernel makes for the application:
 * sendfile, splice and copy_file_range raise IN_ACCESS on the source and
 * IN_MODIFY on the destination, as read and write would. */
#include "common.h"
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

static char dir[] = "/tmp/husk-inotify-copy-XXXXXX";

/* Prints the events queued now as "name:MASK" items. */
static void drain(int in, const char *what)
{
	char buf[4096];
	printf("%s:", what);
	ssize_t n = read(in, buf, sizeof buf);
	for (char *p = buf; n > 0 && p < buf + n;) {
		struct inotify_event *e = (struct inotify_event *)p;
		printf(" %s:%s%s%s", e->len ? e->name : "-",
		       e->mask & IN_ACCESS ? "A" : "", e->mask & IN_MODIFY ? "M" : "",
		       e->mask & ~(IN_ACCESS | IN_MODIFY) ? "?" : "");
		p += sizeof *e + e->len;
	}
	printf("\n");
}

int main(void)
{
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	char src[64], dst[64];
	snprintf(src, sizeof src, "%s/src", dir);
	snprintf(dst, sizeof dst, "%s/dst", dir);
	int s = open(src, O_RDWR | O_CREAT, 0600), d = open(dst, O_RDWR | O_CREAT, 0600);
	CHECK("files", s >= 0 && d >= 0 && write(s, "0123456789", 10) == 10);
	int in = inotify_init1(IN_NONBLOCK);
	CHECK("watch", inotify_add_watch(in, dir, IN_ACCESS | IN_MODIFY) >= 0);

	off_t off = 0;
	CHECK("sendfile", sendfile(d, s, &off, 4) == 4);
	drain(in, "sendfile");
	loff_t io = 0, oo = 4;
	CHECK("copy_file_range", copy_file_range(s, &io, d, &oo, 3, 0) == 3);
	drain(in, "copy_file_range");
	int p[2];
	CHECK("pipe", pipe(p) == 0 && write(p[1], "xyz", 3) == 3);
	loff_t at = 0;
	CHECK("splice_to_file", splice(p[0], NULL, d, &at, 3, 0) == 3);
	drain(in, "splice_to_file");
	at = 0;
	CHECK("splice_from_file", splice(s, &at, p[1], NULL, 5, 0) == 5);
	drain(in, "splice_from_file");
	/* Nothing copied, nothing raised. */
	off = 10;
	CHECK("sendfile_at_eof", sendfile(d, s, &off, 4) == 0);
	drain(in, "sendfile_at_eof");
	unlink(src);
	unlink(dst);
	rmdir(dir);
	return compat_failures > 100 ? 100 : compat_failures;
}
