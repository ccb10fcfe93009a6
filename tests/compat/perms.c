/* Permission checks with the caller's credentials: root's DAC override
 * (but not for executing without any x bit), and for an unprivileged
 * user: read/write bits on open and truncate, search bits on every
 * directory of a path, write+search to create or remove names, the
 * sticky bit, exec, chdir, access() and ownership rules for chmod. */
#include "common.h"
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char base[64];

static char *at(const char *rel)
{
	static char bufs[8][256];
	static int i;
	char *b = bufs[i++ % 8];
	snprintf(b, 256, "%s/%s", base, rel);
	return b;
}

static void mkfile(const char *rel, int mode, uid_t owner)
{
	int fd = open(at(rel), O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd >= 0) {
		write(fd, "#!/bin/sh\nexit 7\n", 17);
		close(fd);
	}
	chown(at(rel), owner, owner);
	chmod(at(rel), mode);
}

static int run_as_nobody(void)
{
	if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
		return 100;
	EXPECT_ERR("open_0600_read", open(at("secret"), O_RDONLY), EACCES);
	int fd = open(at("public"), O_RDONLY);
	CHECK("open_0644_read", fd >= 0);
	close(fd);
	EXPECT_ERR("open_0644_write", open(at("public"), O_WRONLY), EACCES);
	EXPECT_ERR("open_0644_trunc", open(at("public"), O_RDONLY | O_TRUNC), EACCES);
	EXPECT_ERR("truncate_0644", truncate(at("public"), 0), EACCES);
	struct stat st;
	EXPECT_ERR("stat_through_0700", stat(at("closed/inner"), &st), EACCES);
	EXPECT_ERR("open_dir_0700", open(at("closed"), O_RDONLY | O_DIRECTORY), EACCES);
	CHECK("stat_through_0711", stat(at("searchonly/inner"), &st) == 0);
	EXPECT_ERR("list_dir_0711", open(at("searchonly"), O_RDONLY | O_DIRECTORY), EACCES);
	EXPECT_ERR("create_in_0755", open(at("rootdir/new"), O_CREAT | O_WRONLY, 0644), EACCES);
	EXPECT_ERR("mkdir_in_0755", mkdir(at("rootdir/newdir"), 0755), EACCES);
	EXPECT_ERR("unlink_in_0755", unlink(at("rootdir/f")), EACCES);
	fd = open(at("open/mine"), O_CREAT | O_WRONLY, 0644);
	CHECK("create_in_0777", fd >= 0);
	close(fd);
	CHECK("own_file_owner", stat(at("open/mine"), &st) == 0 && st.st_uid == 65534);
	CHECK("chmod_own", chmod(at("open/mine"), 0600) == 0);
	EXPECT_ERR("chmod_others", chmod(at("public"), 0666), EPERM);
	EXPECT_ERR("chown_own", chown(at("open/mine"), 0, 0), EPERM);
	EXPECT_ERR("sticky_unlink_others", unlink(at("sticky/roots")), EPERM);
	EXPECT_ERR("sticky_rename_others", rename(at("sticky/roots"), at("sticky/x")), EPERM);
	fd = open(at("sticky/mine"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK("sticky_rename_own", rename(at("sticky/mine"), at("sticky/mine2")) == 0);
	CHECK("sticky_unlink_own", unlink(at("sticky/mine2")) == 0);
	CHECK("nonsticky_unlink_others", unlink(at("open/roots")) == 0);
	EXPECT_ERR("chdir_0600_dir", chdir(at("nox")), EACCES);
	EXPECT_ERR("access_read_0600", access(at("secret"), R_OK), EACCES);
	CHECK("access_exists_0600", access(at("secret"), F_OK) == 0);
	CHECK("access_read_0644", access(at("public"), R_OK) == 0);
	EXPECT_ERR("access_write_0644", access(at("public"), W_OK), EACCES);
	pid_t p = fork();
	if (p == 0) {
		execl(at("noexec"), "noexec", (char *)NULL);
		_exit(errno == EACCES ? 42 : 1);
	}
	int status;
	waitpid(p, &status, 0);
	SHOW("exec_0644_status", "%d", WEXITSTATUS(status));
	p = fork();
	if (p == 0) {
		execl(at("exec"), "exec", (char *)NULL);
		_exit(1);
	}
	waitpid(p, &status, 0);
	SHOW("exec_0755_status", "%d", WEXITSTATUS(status));
	unlink(at("open/mine"));
	return compat_done();
}

int main(void)
{
	snprintf(base, sizeof base, "/tmp/husk-perms-XXXXXX");
	CHECK("mkdtemp", mkdtemp(base) != NULL);
	chmod(base, 0755);
	mkfile("secret", 0600, 0);
	mkfile("public", 0644, 0);
	mkfile("noexec", 0644, 0);
	mkfile("exec", 0755, 0);
	mkfile("nothing", 0000, 0);
	mkdir(at("closed"), 0700);
	mkfile("closed/inner", 0644, 0);
	mkdir(at("searchonly"), 0711);
	mkfile("searchonly/inner", 0644, 0);
	mkdir(at("rootdir"), 0755);
	mkfile("rootdir/f", 0644, 0);
	mkdir(at("open"), 0777);
	chmod(at("open"), 0777);
	mkfile("open/roots", 0644, 0);
	mkdir(at("sticky"), 01777);
	chmod(at("sticky"), 01777);
	mkfile("sticky/roots", 0644, 0);
	mkdir(at("nox"), 0600);

	/* Root overrides the bits, except exec with no x bit at all. */
	int fd = open(at("nothing"), O_RDWR);
	CHECK("root_open_0000", fd >= 0);
	close(fd);
	struct stat st;
	CHECK("root_search_0600_dir", stat(at("nox"), &st) == 0 && chdir(at("nox")) == 0);
	chdir("/");
	EXPECT_ERR("root_access_x_0644", access(at("noexec"), X_OK), EACCES);
	CHECK("root_access_x_dir_0600", access(at("nox"), X_OK) == 0);

	fflush(stdout);
	pid_t p = fork();
	if (p == 0)
		_exit(run_as_nobody());
	int status;
	waitpid(p, &status, 0);
	SHOW("nobody_failures", "%d", WIFEXITED(status) ? WEXITSTATUS(status) : 1000);

	const char *files[] = {"secret", "public", "noexec", "exec", "nothing", "closed/inner",
			       "searchonly/inner", "rootdir/f", "open/roots", "sticky/roots"};
	for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++)
		unlink(at(files[i]));
	const char *dirs[] = {"closed", "searchonly", "rootdir", "open", "sticky", "nox"};
	for (unsigned i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		rmdir(at(dirs[i]));
	CHECK("cleanup", rmdir(base) == 0);
	return compat_done();
}
