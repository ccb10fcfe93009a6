/* Name rules: a trailing slash on a new non-directory name is ENOENT
 * (ENOTDIR for rename), mkdir through a dangling symlink with a trailing
 * slash is EEXIST (the symlink's target is not made), and
 * fs.protected_hardlinks: another user's file may be linked only when
 * it is a plain regular file the linker could read and write. */
#include "common.h"
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dir[] = "/tmp/husk-links-XXXXXX";
static char *at(const char *n)
{
	static char b[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(b[i], sizeof b[i], "%s/%s", dir, n);
	return b[i];
}

static void user(void)
{
	EXPECT_ERR("link root's 0400 file", link(at("secret"), at("l1")), EPERM);
	EXPECT_ERR("link root's setuid file", link(at("suid"), at("l2")), EPERM);
	EXPECT_ERR("link root's fifo", link(at("fifo"), at("l3")), EPERM);
	CHECK("link root's 0666 file", link(at("open"), at("l4")) == 0);
	CHECK("link own file", close(open(at("mine"), O_CREAT | O_WRONLY, 0600)) == 0 && link(at("mine"), at("l5")) == 0);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	chmod(dir, 0777);
	close(open(at("f"), O_CREAT | O_WRONLY, 0644));
	EXPECT_ERR("link to name/", link(at("f"), at("n1/")), ENOENT);
	EXPECT_ERR("symlink to name/", symlink(at("f"), at("n2/")), ENOENT);
	EXPECT_ERR("mknod name/", mknod(at("n3/"), S_IFREG | 0644, 0), ENOENT);
	EXPECT_ERR("mkfifo name/", mkfifo(at("n4/"), 0644), ENOENT);
	EXPECT_ERR("rename file to name/", rename(at("f"), at("n5/")), ENOTDIR);
	EXPECT_ERR("link onto existing/", link(at("f"), at("f/")), EEXIST);
	CHECK("mkdir name/", mkdir(at("d/"), 0755) == 0);
	struct stat st;
	int none = 0;
	for (int i = 1; i <= 5; i++) {
		char n[8];
		snprintf(n, sizeof n, "n%d", i);
		none += lstat(at(n), &st) != 0;
	}
	CHECK("nothing made", none == 5);
	symlink(at("target"), at("dangling"));
	EXPECT_ERR("mkdir dangling/", mkdir(at("dangling/"), 0755), EEXIST);
	CHECK("target not made", lstat(at("target"), &st) != 0);

	close(open(at("secret"), O_CREAT | O_WRONLY, 0400));
	close(open(at("suid"), O_CREAT | O_WRONLY, 0666));
	chmod(at("suid"), 04666);
	mkfifo(at("fifo"), 0666);
	close(open(at("open"), O_CREAT | O_WRONLY, 0666));
	chmod(at("open"), 0666);
	pid_t c = fork();
	if (c == 0) {
		setgroups(0, NULL);
		setresgid(1000, 1000, 1000);
		setresuid(1000, 1000, 1000);
		user();
		fflush(stdout);
		_exit(compat_failures);
	}
	int s;
	waitpid(c, &s, 0);
	compat_failures += WIFEXITED(s) ? WEXITSTATUS(s) : 1;
	CHECK("root links anything", link(at("secret"), at("l6")) == 0);

	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	system(cmd);
	return compat_failures > 100 ? 100 : compat_failures;
}
