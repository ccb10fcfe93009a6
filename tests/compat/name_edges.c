/* Calls that act on a name itself (unlink, rmdir, rename) look its last
 * component up as it is: a trailing slash after a symlink asks that the
 * symlink be a directory, it never reaches the directory it points to.
 * Also: rename of a name onto itself, O_RDONLY|O_TRUNC, and fchmod of
 * sockets (whose mode a bind gives the node) and pipes. */
#include "common.h"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static int exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

int main(void)
{
	char dir[] = "/tmp/name_edgesXXXXXX";
	if (!mkdtemp(dir) || chdir(dir) || chmod(".", 0755))
		return 1;
	mkdir("d", 0755);
	symlink("d", "sld");
	close(creat("f", 0644));
	symlink("f", "slf");
	symlink("nowhere", "dang");

	EXPECT_ERR("rmdir_link_slash", rmdir("sld/"), ENOTDIR);
	CHECK("rmdir_link_slash_kept", exists("d") && exists("sld"));
	EXPECT_ERR("unlinkat_link_slash", unlinkat(AT_FDCWD, "sld/", AT_REMOVEDIR), ENOTDIR);
	EXPECT_ERR("unlink_link_slash", unlink("sld/"), ENOTDIR);
	EXPECT_ERR("unlink_file_link_slash", unlink("slf/"), ENOTDIR);
	EXPECT_ERR("unlink_dangling_slash", unlink("dang/"), ENOTDIR);
	EXPECT_ERR("unlink_file_slash", unlink("f/"), ENOTDIR);
	EXPECT_ERR("unlink_dir_slash", unlink("d/"), EISDIR);
	EXPECT_ERR("rmdir_file_link_slash", rmdir("slf/"), ENOTDIR);
	EXPECT_ERR("rmdir_dangling_slash", rmdir("dang/"), ENOTDIR);
	EXPECT_ERR("rmdir_missing_slash", rmdir("none/"), ENOENT);
	CHECK("all_kept", exists("d") && exists("sld") && exists("f") && exists("slf") && exists("dang"));

	EXPECT_ERR("rename_link_slash", rename("sld/", "x"), ENOTDIR);
	EXPECT_ERR("rename_file_slash", rename("f/", "x"), ENOTDIR);
	EXPECT_ERR("rename_dangling_slash", rename("dang/", "x"), ENOTDIR);
	EXPECT_ERR("rename_missing_slash", rename("none/", "x"), ENOENT);
	CHECK("link_and_dir_kept", exists("d") && exists("sld") && !exists("x"));
	CHECK("rename_dir_slash", rename("d/", "x") == 0 && rename("x/", "d") == 0);
	mkdir("e", 0755);
	EXPECT_ERR("rename_onto_link_slash", rename("e", "sld/"), ENOTDIR);
	EXPECT_ERR("rename_onto_file_link_slash", rename("e", "slf/"), ENOTDIR);
	EXPECT_ERR("rename_file_onto_slash", rename("f", "sld/"), ENOTDIR);
	EXPECT_ERR("rename_file_new_slash", rename("f", "new/"), ENOTDIR);
	CHECK("rename_dir_new_slash", rename("e", "new/") == 0 && exists("new") && rename("new", "e") == 0);
	struct stat st;
	CHECK("link_still_link", lstat("sld", &st) == 0 && S_ISLNK(st.st_mode) && exists("d") && exists("e"));

	/* A name onto itself, or onto another name of the same file. */
	mkdir("d/sub", 0755);
	CHECK("rename_same_dir", rename("d", "d") == 0 && rename("d", "./d") == 0 && rename("d/", "d") == 0);
	CHECK("rename_same_kept", exists("d/sub"));
	link("f", "f2");
	CHECK("rename_hard_links", rename("f", "f2") == 0 && exists("f") && exists("f2"));
	EXPECT_ERR("rename_same_noreplace", renameat2(AT_FDCWD, "d", AT_FDCWD, "d", RENAME_NOREPLACE), EEXIST);

	/* readlinkat's empty path reads an O_PATH symlink fd itself. */
	{
		char b[64];
		int sl = open("slf", O_PATH | O_NOFOLLOW);
		int of = open("f", O_PATH);
		long n = readlinkat(sl, "", b, sizeof b);
		CHECK("readlinkat_empty_link", n == 1 && b[0] == 'f');
		EXPECT_ERR("readlinkat_empty_file", readlinkat(of, "", b, sizeof b), ENOENT);
		EXPECT_ERR("readlinkat_empty_cwd", readlinkat(AT_FDCWD, "", b, sizeof b), ENOENT);
		EXPECT_ERR("readlinkat_empty_badfd", readlinkat(999, "", b, sizeof b), EBADF);
		close(sl);
		close(of);
	}

	/* O_TRUNC truncates a read-only open too. */
	int fd = open("t", O_CREAT | O_WRONLY, 0644);
	write(fd, "hello", 5);
	close(fd);
	fd = open("t", O_RDONLY | O_TRUNC);
	CHECK("rdonly_trunc", fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0);
	close(fd);

	/* O_NOATIME is the owner's to ask for. */
	pid_t c = fork();
	if (c == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(99);
		EXPECT_ERR("noatime_not_owner", open("t", O_RDONLY | O_NOATIME), EPERM);
		int r = open("t", O_RDONLY);
		EXPECT_ERR("noatime_setfl_not_owner", fcntl(r, F_SETFL, O_NOATIME), EPERM);
		CHECK("noatime_unchanged", (fcntl(r, F_GETFL) & O_NOATIME) == 0);
		compat_child_end();
	}
	compat_collect(c, "noatime");
	fd = open("t", O_RDONLY | O_NOATIME);
	CHECK("noatime_owner", fd >= 0 && (fcntl(fd, F_GETFL) & O_NOATIME) != 0);
	close(fd);

	/* A socket's mode: fchmod sets it, bind gives it (less the umask) to
	 * the node. */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("sock_fchmod", fchmod(s, 0600) == 0 && fstat(s, &st) == 0 && (st.st_mode & 0777) == 0600);
	struct sockaddr_un sa = {AF_UNIX};
	strcpy(sa.sun_path, "s");
	mode_t old = umask(0);
	CHECK("sock_bind_mode", bind(s, (struct sockaddr *)&sa, sizeof sa) == 0 && stat("s", &st) == 0 && (st.st_mode & 0777) == 0600);
	int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, "s2");
	CHECK("sock_default_mode", bind(s2, (struct sockaddr *)&sa, sizeof sa) == 0 && stat("s2", &st) == 0 && (st.st_mode & 0777) == 0777);
	umask(old);
	CHECK("sock_futimens", futimens(s, NULL) == 0);
	int p[2];
	pipe(p);
	CHECK("pipe_fchmod", fchmod(p[1], 0640) == 0 && fstat(p[0], &st) == 0 && (st.st_mode & 0777) == 0640 && S_ISFIFO(st.st_mode));

	unlink("s");
	unlink("s2");
	unlink("t");
	unlink("f2");
	unlink("f");
	unlink("slf");
	unlink("sld");
	unlink("dang");
	rmdir("d/sub");
	rmdir("d");
	rmdir("e");
	chdir("/");
	rmdir(dir);
	return compat_done();
}
