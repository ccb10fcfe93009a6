/* inotify for changes made by the program itself: create, write, close,
 * attribute changes, links, renames (with matching cookies), removal
 * (DELETE_SELF then IGNORED), one-shot and mask-add watches, IN_ONLYDIR,
 * nonblocking reads, FIONREAD, short buffers, and the errors. */
#include "common.h"
#include <sys/syscall.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

static int wd_dir, wd_file;

static const char *who(int wd)
{
	return wd == wd_dir ? "dir" : wd == wd_file ? "file" : wd == -1 ? "queue" : "other";
}

/* Prints every queued event: watch, mask names, cookie pairing, name. */
static void drain(int fd, const char *label)
{
	char buf[8192] __attribute__((aligned(8)));
	unsigned last_cookie = 0;
	printf("%s:\n", label);
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 50) != 1)
			break;
		ssize_t n = read(fd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (char *q = buf; q < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)q;
			printf("  %s", who(e->wd));
			static const struct {
				unsigned bit;
				const char *name;
			} names[] = {{IN_ACCESS, "ACCESS"},       {IN_MODIFY, "MODIFY"},
				     {IN_ATTRIB, "ATTRIB"},       {IN_CLOSE_WRITE, "CLOSE_WRITE"},
				     {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
				     {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},
				     {IN_CREATE, "CREATE"},       {IN_DELETE, "DELETE"},
				     {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
				     {IN_IGNORED, "IGNORED"},     {IN_ISDIR, "ISDIR"},
				     {IN_Q_OVERFLOW, "OVERFLOW"}};
			for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
				if (e->mask & names[i].bit)
					printf(" %s", names[i].name);
			if (e->cookie) {
				printf(" cookie%s", e->cookie == last_cookie ? "=prev" : "");
				last_cookie = e->cookie;
			}
			if (e->len)
				printf(" \"%s\"", e->name);
			printf("\n");
			q += sizeof *e + e->len;
		}
	}
}

int main(void)
{
	char dir[] = "/tmp/husk-inotify-XXXXXX", f[96], g[96], sub[96], h[96];
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	snprintf(f, sizeof f, "%s/f", dir);
	snprintf(g, sizeof g, "%s/g", dir);
	snprintf(h, sizeof h, "%s/h", dir);
	snprintf(sub, sizeof sub, "%s/sub", dir);

	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	CHECK("init1", in >= 0);
	char small[8];
	EXPECT_ERR("read_empty", read(in, small, sizeof small), EAGAIN);
	wd_dir = inotify_add_watch(in, dir, IN_ALL_EVENTS);
	CHECK("watch_dir", wd_dir > 0);

	int fd = open(f, O_CREAT | O_WRONLY, 0644);
	write(fd, "hello", 5);
	close(fd);
	drain(in, "create_write_close");

	wd_file = inotify_add_watch(in, f, IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF);
	CHECK("watch_file", wd_file > 0 && wd_file != wd_dir);
	CHECK("same_file_same_wd", inotify_add_watch(in, f, IN_ATTRIB) == wd_file);
	CHECK("mask_add", inotify_add_watch(in, f, IN_MASK_ADD | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF) == wd_file);
	chmod(f, 0600);
	truncate(f, 2);
	drain(in, "chmod_truncate");

	link(f, h);
	unlink(h);
	drain(in, "link_unlink");

	rename(f, g);
	drain(in, "rename");

	mkdir(sub, 0755);
	rmdir(sub);
	drain(in, "mkdir_rmdir");

	/* Reading a directory is an access of it. */
	char dents[1024];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK("getdents", syscall(SYS_getdents64, dfd, dents, sizeof dents) > 0);
	close(dfd);
	drain(in, "readdir");

	unlink(g);
	drain(in, "unlink_watched");

	int avail = -1;
	fd = open(f, O_CREAT | O_RDONLY, 0644);
	close(fd);
	CHECK("fionread", ioctl(in, FIONREAD, &avail) == 0 && avail > 0);
	SHOW("fionread_bytes", "%d", avail);
	EXPECT_ERR("read_too_small", read(in, small, sizeof small), EINVAL);
	drain(in, "after_fionread");

	/* One-shot. */
	int wd1 = inotify_add_watch(in, f, IN_OPEN | IN_ONESHOT);
	CHECK("oneshot_watch", wd1 > 0);
	close(open(f, O_RDONLY));
	close(open(f, O_RDONLY));
	wd_file = wd1;
	drain(in, "oneshot");

	EXPECT_ERR("rm_watch_gone", inotify_rm_watch(in, wd1), EINVAL);
	CHECK("rm_watch_dir", inotify_rm_watch(in, wd_dir) == 0);
	drain(in, "rm_watch");

	/* Errors. */
	EXPECT_ERR("add_bad_fd", inotify_add_watch(-1, dir, IN_ALL_EVENTS), EBADF);
	EXPECT_ERR("add_not_inotify", inotify_add_watch(0, dir, IN_ALL_EVENTS), EINVAL);
	EXPECT_ERR("add_zero_mask", inotify_add_watch(in, dir, 0), EINVAL);
	EXPECT_ERR("add_missing", inotify_add_watch(in, "/nonexistent/x", IN_ALL_EVENTS), ENOENT);
	EXPECT_ERR("add_onlydir_file", inotify_add_watch(in, f, IN_ALL_EVENTS | IN_ONLYDIR), ENOTDIR);
	EXPECT_ERR("add_create_and_add", inotify_add_watch(in, f, IN_OPEN | IN_MASK_ADD | IN_MASK_CREATE), EINVAL);
	int wd2 = inotify_add_watch(in, f, IN_OPEN);
	EXPECT_ERR("mask_create_exists", inotify_add_watch(in, f, IN_OPEN | IN_MASK_CREATE), EEXIST);
	inotify_rm_watch(in, wd2);
	EXPECT_ERR("add_badptr", inotify_add_watch(in, BADPTR, IN_ALL_EVENTS), EFAULT);
	EXPECT_ERR("rm_bad_wd", inotify_rm_watch(in, 12345), EINVAL);
	EXPECT_ERR("init1_bad_flags", inotify_init1(1), EINVAL);
	EXPECT_ERR("write", write(in, "x", 1), EBADF);
	close(in);
	unlink(f);
	CHECK("cleanup", rmdir(dir) == 0);
	return compat_done();
}
