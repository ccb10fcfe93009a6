/* inotify and renames as Linux reports them: a watched file moved gets
 * only IN_MOVE_SELF (the directory gets the named MOVED_FROM/TO pair),
 * rename onto itself reports nothing, RENAME_EXCHANGE reports a move each
 * way, a file renamed over a watched one ends that watch (ATTRIB,
 * DELETE_SELF, IGNORED), and unlinking one of two hard links is an
 * ATTRIB on the file's own watch, not a DELETE. */
#include "common.h"
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dir[] = "/tmp/husk-inorn-XXXXXX";
static char *at(const char *n)
{
	static char b[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(b[i], sizeof b[i], "%s/%s", dir, n);
	return b[i];
}

static void drain(int fd, const char *label)
{
	char b[4096];
	int r;
	printf("%s:", label);
	while ((r = read(fd, b, sizeof b)) > 0)
		for (char *p = b; p < b + r;) {
			struct inotify_event *e = (void *)p;
			printf(" [wd=%d mask=%#x name=%s ck=%d]", e->wd, e->mask, e->len ? e->name : "",
			       e->cookie != 0);
			p += sizeof *e + e->len;
		}
	printf("\n");
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	close(open(at("a"), O_CREAT | O_WRONLY, 0644));
	close(open(at("b"), O_CREAT | O_WRONLY, 0644));
	int fd = inotify_init1(IN_NONBLOCK);
	inotify_add_watch(fd, at("a"), IN_ALL_EVENTS);
	rename(at("a"), at("a2"));
	drain(fd, "watched file renamed");
	int wd = inotify_add_watch(fd, dir, IN_ALL_EVENTS);
	rename(at("b"), at("b"));
	drain(fd, "rename onto itself");
	renameat2(AT_FDCWD, at("a2"), AT_FDCWD, at("b"), RENAME_EXCHANGE);
	drain(fd, "exchange");
	inotify_rm_watch(fd, wd);
	drain(fd, "dir watch removed");
	close(open(at("t"), O_CREAT | O_WRONLY, 0644));
	int wt = inotify_add_watch(fd, at("t"), IN_ALL_EVENTS);
	rename(at("b"), at("t"));
	drain(fd, "renamed over a watched file");
	EXPECT_ERR("victim's watch gone", inotify_rm_watch(fd, wt), EINVAL);

	close(open(at("f"), O_CREAT | O_WRONLY, 0644));
	link(at("f"), at("g"));
	int fd2 = inotify_init1(IN_NONBLOCK);
	inotify_add_watch(fd2, at("f"), IN_ALL_EVENTS);
	unlink(at("f"));
	drain(fd2, "unlink one of two links");

	/* O_TRUNC is a modification; exec opens and reads its image. */
	int h = open(at("g"), O_WRONLY);
	write(h, "data", 4);
	close(h);
	drain(fd2, "written");
	close(open(at("g"), O_WRONLY | O_TRUNC));
	drain(fd2, "open O_TRUNC");
	int fd3 = inotify_init1(IN_NONBLOCK);
	inotify_add_watch(fd3, "/bin/true", IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE);
	if (fork() == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(1);
	}
	wait(NULL);
	drain(fd3, "exec");

	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	system(cmd);
	return compat_failures > 100 ? 100 : compat_failures;
}
