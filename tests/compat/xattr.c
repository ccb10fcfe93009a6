/* Extended attributes in the user.* namespace on a tmpfs (/dev/shm):
 * setxattr/getxattr/listxattr/removexattr and their l* and f* variants,
 * XATTR_CREATE/XATTR_REPLACE, size queries, symlinks (user.* is refused
 * on them), and the errors for names, sizes, flags and descriptors; who
 * may do what (trusted.* only with CAP_SYS_ADMIN, and unseen without it;
 * security.* read by anyone, written by root; user.* by the file's
 * permissions, and by the owner only in a sticky directory). */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

static char dir[] = "/dev/shm/husk-xattr-XXXXXX";
static char file[64], sub[64], link_[64], missing[64];

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints the names of a listxattr buffer, sorted. */
static void show_list(const char *name, const char *buf, ssize_t n)
{
	const char *v[32];
	int k = 0;
	printf("%s %zd", name, n);
	for (ssize_t i = 0; i < n && k < 32; i += strlen(buf + i) + 1)
		v[k++] = buf + i;
	qsort(v, k, sizeof v[0], cmp);
	for (int i = 0; i < k; i++)
		printf(" %s", v[i]);
	printf("\n");
}

static void show_value(const char *name, const char *buf, ssize_t n)
{
	printf("%s %zd \"%.*s\"\n", name, n, n > 0 ? (int)n : 0, buf);
}

/* Run as root: root sets attributes, then a child drops to nobody. */
static void privileges(void)
{
	char d[] = "/dev/shm/husk-xattr-priv-XXXXXX", f[96], ro[96], sticky[96], buf[64];
	if (!mkdtemp(d))
		return;
	chmod(d, 0777);
	snprintf(f, sizeof f, "%s/f", d);
	snprintf(ro, sizeof ro, "%s/ro", d);
	snprintf(sticky, sizeof sticky, "%s/sticky", d);
	close(open(f, O_CREAT | O_RDWR, 0666));
	chmod(f, 0666);
	close(open(ro, O_CREAT | O_RDWR, 0600));
	mkdir(sticky, 0777);
	chmod(sticky, 01777);
	CHECK("root sets trusted.*", setxattr(f, "trusted.t", "1", 1, 0) == 0);
	CHECK("root sets security.*", setxattr(f, "security.s", "2", 1, 0) == 0);
	CHECK("root sets user.* on a private file", setxattr(ro, "user.u", "3", 1, 0) == 0);
	CHECK("and on a sticky directory", setxattr(sticky, "user.u", "4", 1, 0) == 0);
	CHECK("user.b", setxattr(f, "user.b", "5", 1, 0) == 0);
	CHECK("user.a", setxattr(f, "user.a", "6", 1, 0) == 0);
	ssize_t ln = listxattr(f, buf, sizeof buf);
	printf("tmpfs lists, in its order:");
	for (ssize_t i = 0; i < ln; i += strlen(buf + i) + 1)
		printf(" %s", buf + i);
	printf("\n");
	pid_t c = fork();
	if (c == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(99);
		EXPECT_ERR("nobody reads trusted.*", getxattr(f, "trusted.t", buf, sizeof buf), ENODATA);
		ssize_t n = listxattr(f, buf, sizeof buf);
		show_list("nobody lists", buf, n);
		EXPECT_ERR("nobody sets trusted.*", setxattr(f, "trusted.m", "1", 1, 0), EPERM);
		EXPECT_ERR("nobody removes trusted.*", removexattr(f, "trusted.t"), EPERM);
		SHOW("nobody reads security.*", "%zd", getxattr(f, "security.s", buf, sizeof buf));
		EXPECT_ERR("nobody sets security.*", setxattr(f, "security.m", "1", 1, 0), EPERM);
		CHECK("nobody sets user.* on a writable file", setxattr(f, "user.n", "5", 1, 0) == 0);
		EXPECT_ERR("nobody reads user.* of a private file", getxattr(ro, "user.u", buf, sizeof buf), EACCES);
		EXPECT_ERR("nobody sets user.* on it", setxattr(ro, "user.n", "1", 1, 0), EACCES);
		EXPECT_ERR("nobody sets user.* on root's sticky directory", setxattr(sticky, "user.n", "1", 1, 0), EPERM);
		SHOW("but reads it", "%zd", getxattr(sticky, "user.u", buf, sizeof buf));
		_exit(compat_done());
	}
	int status;
	waitpid(c, &status, 0);
	CHECK("nobody's checks", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(f);
	unlink(ro);
	rmdir(sticky);
	rmdir(d);
}

int main(void)
{
	char buf[256];
	ssize_t n;
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	snprintf(file, sizeof file, "%s/f", dir);
	snprintf(sub, sizeof sub, "%s/d", dir);
	snprintf(link_, sizeof link_, "%s/l", dir);
	snprintf(missing, sizeof missing, "%s/missing", dir);
	int fd = open(file, O_RDWR | O_CREAT | O_EXCL, 0644);
	CHECK("create_file", fd >= 0);
	CHECK("create_dir", mkdir(sub, 0755) == 0);
	CHECK("create_symlink", symlink("f", link_) == 0);

	/* A fresh file has no user attributes. */
	EXPECT_ERR("get_missing_fresh", getxattr(file, "user.a", buf, sizeof buf), ENODATA);

	/* set / get / size query */
	CHECK("set_a", setxattr(file, "user.a", "hello", 5, 0) == 0);
	n = getxattr(file, "user.a", buf, sizeof buf);
	show_value("get_a", buf, n);
	SHOW("get_a_size_query", "%zd", getxattr(file, "user.a", NULL, 0));
	SHOW("get_a_size_query_buf", "%zd", getxattr(file, "user.a", buf, 0));
	EXPECT_ERR("get_a_too_small", getxattr(file, "user.a", buf, 3), ERANGE);
	n = getxattr(file, "user.a", buf, 5);
	show_value("get_a_exact", buf, n);

	/* CREATE / REPLACE */
	EXPECT_ERR("create_existing", setxattr(file, "user.a", "x", 1, XATTR_CREATE), EEXIST);
	EXPECT_ERR("replace_missing", setxattr(file, "user.b", "x", 1, XATTR_REPLACE), ENODATA);
	CHECK("replace_existing", setxattr(file, "user.a", "world!", 6, XATTR_REPLACE) == 0);
	n = getxattr(file, "user.a", buf, sizeof buf);
	show_value("get_a_replaced", buf, n);
	CHECK("create_new", setxattr(file, "user.b", "bee", 3, XATTR_CREATE) == 0);
	EXPECT_ERR("create_and_replace_existing",
		   setxattr(file, "user.b", "x", 1, XATTR_CREATE | XATTR_REPLACE), EEXIST);
	EXPECT_ERR("create_and_replace_missing",
		   setxattr(file, "user.zz", "x", 1, XATTR_CREATE | XATTR_REPLACE), ENODATA);
	CHECK("set_empty_value", setxattr(file, "user.empty", "", 0, 0) == 0);
	SHOW("get_empty_value", "%zd", getxattr(file, "user.empty", buf, sizeof buf));
	EXPECT_ERR("get_missing", getxattr(file, "user.nope", buf, sizeof buf), ENODATA);
	EXPECT_ERR("get_missing_size_query", getxattr(file, "user.nope", NULL, 0), ENODATA);

	/* A larger binary value round-trips. */
	char big[4000], back[4000];
	for (int i = 0; i < (int)sizeof big; i++)
		big[i] = (char)(i * 7);
	CHECK("set_big", setxattr(file, "user.big", big, sizeof big, 0) == 0);
	SHOW("get_big_size", "%zd", getxattr(file, "user.big", NULL, 0));
	CHECK("get_big_data", getxattr(file, "user.big", back, sizeof back) == (ssize_t)sizeof back &&
				      memcmp(big, back, sizeof big) == 0);

	/* listxattr */
	n = listxattr(file, buf, sizeof buf);
	show_list("list", buf, n);
	SHOW("list_size_query", "%zd", listxattr(file, NULL, 0));
	EXPECT_ERR("list_too_small", listxattr(file, buf, 5), ERANGE);
	n = llistxattr(file, buf, sizeof buf);
	show_list("llist_file", buf, n);

	/* removexattr */
	CHECK("remove_b", removexattr(file, "user.b") == 0);
	EXPECT_ERR("remove_b_again", removexattr(file, "user.b"), ENODATA);
	EXPECT_ERR("get_b_removed", getxattr(file, "user.b", buf, sizeof buf), ENODATA);
	CHECK("remove_big", removexattr(file, "user.big") == 0);
	n = listxattr(file, buf, sizeof buf);
	show_list("list_after_remove", buf, n);

	/* f* variants on the open descriptor. */
	CHECK("fset", fsetxattr(fd, "user.f", "viafd", 5, 0) == 0);
	n = fgetxattr(fd, "user.f", buf, sizeof buf);
	show_value("fget", buf, n);
	n = getxattr(file, "user.f", buf, sizeof buf);
	show_value("get_fset_by_path", buf, n);
	n = flistxattr(fd, buf, sizeof buf);
	show_list("flist", buf, n);
	EXPECT_ERR("fset_create_existing", fsetxattr(fd, "user.f", "x", 1, XATTR_CREATE), EEXIST);
	CHECK("fremove", fremovexattr(fd, "user.f") == 0);
	EXPECT_ERR("fremove_again", fremovexattr(fd, "user.f"), ENODATA);
	EXPECT_ERR("fget_removed", fgetxattr(fd, "user.f", buf, sizeof buf), ENODATA);
	int rfd = open(file, O_RDONLY);
	CHECK("fset_on_rdonly_fd", fsetxattr(rfd, "user.r", "ro", 2, 0) == 0);
	n = fgetxattr(rfd, "user.r", buf, sizeof buf);
	show_value("fget_on_rdonly_fd", buf, n);
	close(rfd);

	/* Directories take user.* attributes too. */
	CHECK("dir_set", setxattr(sub, "user.d", "dirval", 6, 0) == 0);
	n = getxattr(sub, "user.d", buf, sizeof buf);
	show_value("dir_get", buf, n);
	n = listxattr(sub, buf, sizeof buf);
	show_list("dir_list", buf, n);
	int dfd = open(sub, O_RDONLY | O_DIRECTORY);
	n = fgetxattr(dfd, "user.d", buf, sizeof buf);
	show_value("dir_fget", buf, n);
	close(dfd);

	/* Symlinks: the plain calls follow, the l* calls do not, and user.*
	 * is refused on the link itself. */
	n = getxattr(link_, "user.a", buf, sizeof buf);
	show_value("get_via_symlink", buf, n);
	EXPECT_ERR("lget_symlink", lgetxattr(link_, "user.a", buf, sizeof buf), ENODATA);
	EXPECT_ERR("lset_symlink", lsetxattr(link_, "user.a", "x", 1, 0), EPERM);
	EXPECT_ERR("lremove_symlink", lremovexattr(link_, "user.a"), EPERM);
	n = llistxattr(link_, buf, sizeof buf);
	show_list("llist_symlink", buf, n);
	CHECK("set_via_symlink", setxattr(link_, "user.s", "S", 1, 0) == 0);
	n = lgetxattr(file, "user.s", buf, sizeof buf);
	show_value("lget_target", buf, n);

	/* Names. */
	EXPECT_ERR("set_unknown_ns", setxattr(file, "foo.bar", "x", 1, 0), EOPNOTSUPP);
	EXPECT_ERR("get_unknown_ns", getxattr(file, "foo.bar", buf, sizeof buf), EOPNOTSUPP);
	EXPECT_ERR("remove_unknown_ns", removexattr(file, "foo.bar"), EOPNOTSUPP);
	EXPECT_ERR("set_no_ns", setxattr(file, "plain", "x", 1, 0), EOPNOTSUPP);
	EXPECT_ERR("set_empty_name", setxattr(file, "", "x", 1, 0), ERANGE);
	EXPECT_ERR("get_empty_name", getxattr(file, "", buf, sizeof buf), ERANGE);
	EXPECT_ERR("remove_empty_name", removexattr(file, ""), ERANGE);
	char longname[300] = "user.";
	memset(longname + 5, 'n', 250); /* 255 characters: the maximum */
	CHECK("set_name_255", setxattr(file, longname, "L", 1, 0) == 0);
	n = getxattr(file, longname, buf, sizeof buf);
	show_value("get_name_255", buf, n);
	CHECK("remove_name_255", removexattr(file, longname) == 0);
	longname[255] = 'n'; /* 256 characters */
	EXPECT_ERR("set_name_256", setxattr(file, longname, "L", 1, 0), ERANGE);
	EXPECT_ERR("get_name_256", getxattr(file, longname, buf, sizeof buf), ERANGE);
	EXPECT_ERR("remove_name_256", removexattr(file, longname), ERANGE);

	/* Sizes and flags. */
	static char huge[65537];
	EXPECT_ERR("set_value_too_big", setxattr(file, "user.h", huge, sizeof huge, 0), E2BIG);
	EXPECT_ERR("set_bad_flags", setxattr(file, "user.a", "x", 1, 4), EINVAL);
	EXPECT_ERR("fset_bad_flags", fsetxattr(fd, "user.a", "x", 1, 0x100), EINVAL);

	/* Bad pointers, paths and descriptors. */
	EXPECT_ERR("set_efault_name", setxattr(file, BADPTR, "x", 1, 0), EFAULT);
	EXPECT_ERR("get_efault_name", getxattr(file, BADPTR, buf, sizeof buf), EFAULT);
	EXPECT_ERR("set_efault_value", setxattr(file, "user.v", BADPTR, 4, 0), EFAULT);
	EXPECT_ERR("get_efault_value", getxattr(file, "user.a", BADPTR, 64), EFAULT);
	EXPECT_ERR("list_efault", listxattr(file, BADPTR, 64), EFAULT);
	EXPECT_ERR("set_efault_path", setxattr(BADPTR, "user.a", "x", 1, 0), EFAULT);
	EXPECT_ERR("set_missing_path", setxattr(missing, "user.a", "x", 1, 0), ENOENT);
	EXPECT_ERR("get_missing_path", getxattr(missing, "user.a", buf, sizeof buf), ENOENT);
	EXPECT_ERR("list_missing_path", listxattr(missing, buf, sizeof buf), ENOENT);
	EXPECT_ERR("remove_missing_path", removexattr(missing, "user.a"), ENOENT);
	EXPECT_ERR("lget_missing_path", lgetxattr(missing, "user.a", buf, sizeof buf), ENOENT);
	EXPECT_ERR("fset_bad_fd", fsetxattr(999, "user.a", "x", 1, 0), EBADF);
	EXPECT_ERR("fget_bad_fd", fgetxattr(999, "user.a", buf, sizeof buf), EBADF);
	EXPECT_ERR("flist_bad_fd", flistxattr(999, buf, sizeof buf), EBADF);
	EXPECT_ERR("fremove_bad_fd", fremovexattr(-1, "user.a"), EBADF);

	/* Attributes go away with the file. */
	n = listxattr(file, buf, sizeof buf);
	show_list("list_final", buf, n);
	close(fd);
	CHECK("unlink_file", unlink(file) == 0);
	fd = open(file, O_RDWR | O_CREAT | O_EXCL, 0644);
	SHOW("recreated_list_size", "%zd", listxattr(file, NULL, 0));
	close(fd);

	CHECK("cleanup", unlink(file) == 0 && unlink(link_) == 0 && rmdir(sub) == 0 &&
				 rmdir(dir) == 0);
	privileges();
	return compat_done();
}
