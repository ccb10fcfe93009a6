/* IN_CLOSE_* is raised when the last reference to an open file goes,
 * however it goes: close(2), dup2 over it, close_range, a child's exit,
 * exec with O_CLOEXEC; and not while a dup or a child still holds it.
 * Also IN_CREATE/IN_OPEN for open(O_CREAT) and IN_MODIFY for ftruncate. */
#include "common.h"
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int in;

/* The masks of the events queued now, in order, for the watched file. */
static void show(const char *name)
{
	char buf[4096] __attribute__((aligned(8)));
	char out[512] = "";
	struct pollfd p = {.fd = in, .events = POLLIN};
	while (poll(&p, 1, 50) > 0) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n <= 0)
			break;
		for (char *q = buf; q < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)q;
			char one[64];
			snprintf(one, sizeof one, "%s%x", out[0] ? "," : "", e->mask);
			strncat(out, one, sizeof out - strlen(out) - 1);
			q += sizeof(*e) + e->len;
		}
	}
	printf("%s %s\n", name, out[0] ? out : "none");
}

int main(void)
{
	char dir[] = "/tmp/husk-inclose-XXXXXX", path[64];
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/f", dir);
	in = inotify_init1(IN_NONBLOCK);
	CHECK("init", in >= 0);
	CHECK("watch_dir", inotify_add_watch(in, dir, IN_CREATE | IN_OPEN | IN_CLOSE | IN_MODIFY) >= 0);

	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	show("create_open");
	CHECK("ftruncate", ftruncate(fd, 10) == 0);
	show("ftruncate");
	int d = dup(fd);
	close(fd);
	show("close_with_dup_left");
	close(d);
	show("close_last");

	fd = open(path, O_RDONLY);
	int other = open("/dev/null", O_RDONLY);
	show("open_ro");
	dup2(other, fd);
	show("dup2_over");
	close(other);

	fd = open(path, O_RDONLY);
	show("open_again");
	syscall(SYS_close_range, fd, fd, 0);
	show("close_range");

	fd = open(path, O_WRONLY);
	show("open_wr");
	pid_t c = fork();
	if (c == 0)
		_exit(0);
	close(fd);
	waitpid(c, NULL, 0);
	show("parent_closed_child_exited");

	fd = open(path, O_RDONLY);
	show("open_for_child");
	c = fork();
	if (c == 0) {
		usleep(300000);
		_exit(0);
	}
	close(fd);
	show("parent_closed_child_holds");
	waitpid(c, NULL, 0);
	show("child_exited");

	fd = open(path, O_RDONLY | O_CLOEXEC);
	show("open_cloexec");
	c = fork();
	if (c == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(1);
	}
	close(fd);
	waitpid(c, NULL, 0);
	show("exec_closed");

	unlink(path);
	rmdir(dir);
	close(in);
	return compat_done();
}
