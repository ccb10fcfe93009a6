/* Writable filesystem operations in a fresh directory under /tmp (tmpfs in
 * the sandbox, the host's /tmp natively): create, read/write, append,
 * truncate, links, symlinks, rename flavours, attributes, listing,
 * removal, and their errors. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

static char dir[64];

static const char *P(const char *name)
{
	static char bufs[4][128];
	static int i;
	i = (i + 1) % 4;
	snprintf(bufs[i], sizeof bufs[i], "%s/%s", dir, name);
	return bufs[i];
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	umask(022);
	strcpy(dir, "/tmp/husk-compat-XXXXXX");
	CHECK("mkdtemp", mkdtemp(dir) != NULL);

	int fd = open(P("f"), O_CREAT | O_EXCL | O_RDWR, 0666);
	CHECK("create_excl", fd >= 0);
	EXPECT_ERR("create_excl_again", open(P("f"), O_CREAT | O_EXCL | O_RDWR, 0666), EEXIST);
	EXPECT_ERR("open_missing", open(P("missing"), O_RDONLY), ENOENT);
	struct stat st;
	fstat(fd, &st);
	SHOW("new_file_mode", "%o", st.st_mode);
	CHECK("write", write(fd, "hello world", 11) == 11);
	CHECK("lseek_set", lseek(fd, 6, SEEK_SET) == 6);
	char buf[64] = {0};
	CHECK("read_mid", read(fd, buf, 5) == 5 && memcmp(buf, "world", 5) == 0);
	CHECK("read_eof", read(fd, buf, 5) == 0);
	CHECK("pread_past_eof", pread(fd, buf, 5, 4096) == 0);
	CHECK("pwrite_hole", pwrite(fd, "Z", 1, 20) == 1);
	fstat(fd, &st);
	SHOW("size_after_hole", "%ld", (long)st.st_size);
	CHECK("hole_reads_zero", pread(fd, buf, 9, 11) == 9 && buf[0] == 0 && buf[8] == 0);
	CHECK("ftruncate_shrink", ftruncate(fd, 5) == 0);
	fstat(fd, &st);
	SHOW("size_after_truncate", "%ld", (long)st.st_size);
	close(fd);
	fd = open(P("f"), O_WRONLY | O_APPEND);
	CHECK("append", write(fd, "!", 1) == 1);
	close(fd);
	fd = open(P("f"), O_RDONLY);
	memset(buf, 0, sizeof buf);
	CHECK("contents", read(fd, buf, sizeof buf) == 6 && strcmp(buf, "hello!") == 0);
	close(fd);
	fd = open(P("f"), O_WRONLY | O_TRUNC);
	fstat(fd, &st);
	SHOW("size_after_o_trunc", "%ld", (long)st.st_size);
	write(fd, "abc", 3);
	close(fd);

	/* Directories. */
	CHECK("mkdir", mkdir(P("d"), 0755) == 0);
	EXPECT_ERR("mkdir_exists", mkdir(P("d"), 0755), EEXIST);
	CHECK("mkdir_nested", mkdir(P("d/e"), 0700) == 0);
	stat(P("d"), &st);
	SHOW("dir_nlink", "%ld", (long)st.st_nlink);
	SHOW("dir_mode", "%o", st.st_mode);
	EXPECT_ERR("rmdir_not_empty", rmdir(P("d")), ENOTEMPTY);
	EXPECT_ERR("rmdir_file", rmdir(P("f")), ENOTDIR);
	EXPECT_ERR("unlink_dir", unlink(P("d")), EISDIR);
	EXPECT_ERR("create_under_file", open(P("f/x"), O_CREAT | O_RDWR, 0644), ENOTDIR);
	EXPECT_ERR("mkdir_missing_parent", mkdir(P("nope/x"), 0755), ENOENT);

	/* Links. */
	CHECK("link", link(P("f"), P("hard")) == 0);
	stat(P("f"), &st);
	SHOW("nlink_after_link", "%ld", (long)st.st_nlink);
	EXPECT_ERR("link_dir", link(P("d"), P("dl")), EPERM);
	CHECK("symlink", symlink("f", P("sym")) == 0);
	char lnk[64] = {0};
	CHECK("readlink", readlink(P("sym"), lnk, sizeof lnk) == 1 && lnk[0] == 'f');
	lstat(P("sym"), &st);
	CHECK("lstat_is_link", S_ISLNK(st.st_mode));
	stat(P("sym"), &st);
	CHECK("stat_follows", S_ISREG(st.st_mode) && st.st_size == 3);
	EXPECT_ERR("symlink_exists", symlink("x", P("sym")), EEXIST);

	/* Unlinked but open. */
	fd = open(P("hard"), O_RDONLY);
	CHECK("unlink_hard", unlink(P("hard")) == 0);
	memset(buf, 0, sizeof buf);
	CHECK("read_after_unlink", read(fd, buf, 8) == 3 && strcmp(buf, "abc") == 0);
	close(fd);
	stat(P("f"), &st);
	SHOW("nlink_after_unlink", "%ld", (long)st.st_nlink);

	/* Rename. */
	CHECK("rename_file", rename(P("f"), P("g")) == 0);
	EXPECT_ERR("old_name_gone", access(P("f"), F_OK), ENOENT);
	int fd2 = open(P("h"), O_CREAT | O_WRONLY, 0600);
	write(fd2, "hh", 2);
	close(fd2);
	CHECK("rename_over_file", rename(P("h"), P("g")) == 0);
	stat(P("g"), &st);
	SHOW("replaced_size", "%ld", (long)st.st_size);
	EXPECT_ERR("rename_dir_into_itself", rename(P("d"), P("d/e/x")), EINVAL);
	EXPECT_ERR("rename_dir_over_file", rename(P("d"), P("g")), ENOTDIR);
	EXPECT_ERR("rename_file_over_dir", rename(P("g"), P("d")), EISDIR);
	CHECK("mk_k", close(open(P("k"), O_CREAT | O_WRONLY, 0644)) == 0);
	EXPECT_ERR("noreplace", renameat2(AT_FDCWD, P("g"), AT_FDCWD, P("k"), RENAME_NOREPLACE), EEXIST);
	CHECK("exchange", renameat2(AT_FDCWD, P("g"), AT_FDCWD, P("k"), RENAME_EXCHANGE) == 0);
	stat(P("k"), &st);
	SHOW("exchanged_size", "%ld", (long)st.st_size);
	CHECK("rename_dir", rename(P("d/e"), P("e2")) == 0);

	/* Attributes. */
	CHECK("chmod", chmod(P("k"), 0640) == 0);
	stat(P("k"), &st);
	SHOW("mode_after_chmod", "%o", st.st_mode);
	CHECK("chown", chown(P("k"), 12, 34) == 0);
	stat(P("k"), &st);
	printf("owner %d:%d\n", (int)st.st_uid, (int)st.st_gid);
	struct timespec ts[2] = {{1000000000, 5}, {1200000000, 7}};
	CHECK("utimensat", utimensat(AT_FDCWD, P("k"), ts, 0) == 0);
	stat(P("k"), &st);
	printf("mtime %ld.%ld\n", (long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
	printf("atime %ld.%ld\n", (long)st.st_atim.tv_sec, (long)st.st_atim.tv_nsec);
	CHECK("truncate_path", truncate(P("k"), 100) == 0);
	stat(P("k"), &st);
	SHOW("size_after_truncate_path", "%ld", (long)st.st_size);
	EXPECT_ERR("truncate_dir", truncate(P("d"), 0), EISDIR);

	/* Listing. */
	DIR *dp = opendir(dir);
	char *names[32];
	int n = 0;
	struct dirent *de;
	while (dp && (de = readdir(dp)) && n < 32)
		names[n++] = strdup(de->d_name);
	closedir(dp);
	qsort(names, n, sizeof names[0], cmp);
	printf("listing");
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");

	/* Removal. */
	CHECK("rmdir_e2", rmdir(P("e2")) == 0);
	CHECK("unlinkat_dir", unlinkat(AT_FDCWD, P("d"), AT_REMOVEDIR) == 0);
	CHECK("unlink_sym", unlink(P("sym")) == 0);
	CHECK("unlink_g", unlink(P("g")) == 0);
	CHECK("unlink_k", unlink(P("k")) == 0);
	EXPECT_ERR("unlink_again", unlink(P("k")), ENOENT);
	CHECK("rmdir_top", rmdir(dir) == 0);
	return compat_done();
}
