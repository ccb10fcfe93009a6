/* Attribute rules: fchmod/fchown through a directory fd, fchmodat2 and
 * its flags, fchownat on an O_PATH fd, set-group-ID dropped by a
 * non-member's chmod and by chown (set-user-ID always), mkdir's mode
 * mask, set-group-ID directories passing their group (and to
 * directories the bit) on, and device nodes needing CAP_MKNOD. */
#include "common.h"
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

static char dir[256];
static char *at(const char *n)
{
	static char b[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(b[i], sizeof b[i], "%s/%s", dir, n);
	return b[i];
}

static unsigned mode_of(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? st.st_mode : 0;
}

static gid_t gid_of(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? st.st_gid : (gid_t)-1;
}

static void as_user(void (*f)(void))
{
	pid_t c = fork();
	if (c == 0) {
		setgroups(0, NULL);
		setresgid(1000, 1000, 1000);
		setresuid(1000, 1000, 1000);
		f();
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
}

static void user_part(void)
{
	int w = open(at("sw"), O_RDWR);
	write(w, "x", 1);
	close(w);
	truncate(at("st"), 5);
	chmod(at("mine"), 02755);
	close(open(at("sg/nrfile"), O_CREAT | O_WRONLY, 02755));
	EXPECT_ERR("user char device", mknod(at("cdev"), S_IFCHR | 0600, makedev(1, 3)), EPERM);
	EXPECT_ERR("user block device", mknod(at("bdev"), S_IFBLK | 0600, makedev(7, 0)), EPERM);
	CHECK("user whiteout", mknod(at("wh"), S_IFCHR | 0600, 0) == 0);
}

int main(void)
{
	strcpy(dir, "/tmp/husk-meta-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	chmod(dir, 0777);
	umask(022);

	mkdir(at("d"), 0755);
	int dfd = open(at("d"), O_RDONLY | O_DIRECTORY);
	CHECK("fchmod dir fd", fchmod(dfd, 0700) == 0 && (mode_of(at("d")) & 07777) == 0700);
	CHECK("fchown dir fd", fchown(dfd, 5, 6) == 0 && gid_of(at("d")) == 6);
	CHECK("fchownat dir fd empty path", fchownat(dfd, "", 7, 8, AT_EMPTY_PATH) == 0 && gid_of(at("d")) == 8);
	close(dfd);

	close(open(at("f"), O_CREAT | O_WRONLY, 0644));
	symlink(at("f"), at("l"));
	int pfd = open(at("f"), O_PATH);
	CHECK("fchmodat2 plain", syscall(452, AT_FDCWD, at("f"), 0600, 0) == 0 && (mode_of(at("f")) & 0777) == 0600);
	CHECK("fchmodat2 nofollow file", syscall(452, AT_FDCWD, at("f"), 0640, AT_SYMLINK_NOFOLLOW) == 0);
	EXPECT_ERR("fchmodat2 nofollow symlink", syscall(452, AT_FDCWD, at("l"), 0600, AT_SYMLINK_NOFOLLOW), EOPNOTSUPP);
	CHECK("fchmodat2 O_PATH empty path", syscall(452, pfd, "", 0604, AT_EMPTY_PATH) == 0 && (mode_of(at("f")) & 0777) == 0604);
	EXPECT_ERR("fchmodat2 bad flags", syscall(452, AT_FDCWD, at("f"), 0600, 1), EINVAL);
	EXPECT_ERR("fchmod O_PATH", fchmod(pfd, 0600), EBADF);
	CHECK("fchownat O_PATH empty path", fchownat(pfd, "", 14, 15, AT_EMPTY_PATH) == 0 && gid_of(at("f")) == 15);

	/* chown drops set-user-ID, and set-group-ID with group execute. */
	close(open(at("s1"), O_CREAT | O_WRONLY, 0644));
	chmod(at("s1"), 06755);
	CHECK("chown -1 -1 drops both", chown(at("s1"), -1, -1) == 0 && (mode_of(at("s1")) & 07777) == 0755);
	close(open(at("s2"), O_CREAT | O_WRONLY, 0644));
	chmod(at("s2"), 06745);
	CHECK("chown keeps sgid without group x", chown(at("s2"), 1, 1) == 0 && (mode_of(at("s2")) & 07777) == 02745);
	mkdir(at("sd"), 0755);
	chmod(at("sd"), 06755);
	CHECK("chown keeps a dir's bits", chown(at("sd"), 2, 2) == 0 && (mode_of(at("sd")) & 07777) == 06755);

	/* mkdir keeps permissions and sticky only. */
	CHECK("mkdir mask", mkdir(at("m"), 07777) == 0 && (mode_of(at("m")) & 07777) == 01755);

	/* Set-group-ID directories. */
	mkdir(at("sg"), 0777);
	chown(at("sg"), 0, 1234);
	chmod(at("sg"), 02777);
	close(open(at("sg/file"), O_CREAT | O_WRONLY, 0644));
	CHECK("file takes dir group", gid_of(at("sg/file")) == 1234);
	CHECK("subdir takes group and bit", mkdir(at("sg/sub"), 0755) == 0 && gid_of(at("sg/sub")) == 1234 &&
						   (mode_of(at("sg/sub")) & 02000));
	CHECK("fifo takes dir group", mkfifo(at("sg/fifo"), 0644) == 0 && gid_of(at("sg/fifo")) == 1234);

	/* A non-member's chmod cannot set set-group-ID. */
	close(open(at("mine"), O_CREAT | O_WRONLY, 0644));
	chown(at("mine"), 1000, 0);
	for (int i = 0; i < 2; i++) {
		const char *n = i ? "st" : "sw";
		close(open(at(n), O_CREAT | O_WRONLY, 0644));
		chmod(at(n), 06777);
	}
	as_user(user_part);
	CHECK("user write drops suid/sgid", (mode_of(at("sw")) & 07777) == 0777);
	CHECK("user truncate drops suid/sgid", (mode_of(at("st")) & 07777) == 0777);
	CHECK("non-member chmod drops sgid", (mode_of(at("mine")) & 07777) == 0755);
	CHECK("non-member create drops sgid", (mode_of(at("sg/nrfile")) & 07777) == 0755 && gid_of(at("sg/nrfile")) == 1234);
	CHECK("root char device", mknod(at("rdev"), S_IFCHR | 0600, makedev(1, 3)) == 0);

	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	system(cmd);
	return compat_failures > 100 ? 100 : compat_failures;
}
