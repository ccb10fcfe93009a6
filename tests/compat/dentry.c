/* Open files, the working directory and the root follow their file, not
 * the path they were opened by: renames of the file or of any ancestor,
 * unlink and rmdir (st_nlink 0, "(deleted)", ENOENT for creation under a
 * removed directory), and getcwd/ /proc/self/{cwd,fd,maps} derived from
 * the file's current place. Runs in a fresh directory under /tmp. */
#include "common.h"
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *link_of(const char *path)
{
	static char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = 0;
	return buf;
}

static const char *fd_link(int fd)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return link_of(p);
}

/* Whether /proc/self/maps has a line ending with `suffix`. */
static int maps_has(const char *suffix)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[PATH_MAX + 128];
	int found = 0;
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		found |= ends_with(line, suffix);
	}
	if (f)
		fclose(f);
	return found;
}

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

int main(void)
{
	char top[] = "/tmp/husk-dentry-XXXXXX";
	char cwd[PATH_MAX];
	struct stat st, st2;
	CHECK("mkdtemp", mkdtemp(top) != NULL);
	CHECK("chdir_top", chdir(top) == 0);

	/* An open directory follows its renames. */
	CHECK("mkdir_d1", mkdir("d1", 0755) == 0);
	CHECK("mkdir_d1_in", mkdir("d1/in", 0755) == 0);
	int d = open("d1", O_RDONLY | O_DIRECTORY);
	CHECK("open_d1", d >= 0);
	CHECK("rename_d1_d2", rename("d1", "d2") == 0);
	int x = openat(d, "x", O_CREAT | O_WRONLY, 0644);
	CHECK("openat_renamed_dir", x >= 0);
	CHECK("created_in_d2", exists("d2/x"));
	CHECK("fd_link_renamed", ends_with(fd_link(d), "/d2"));
	CHECK("file_link_renamed", ends_with(fd_link(x), "/d2/x"));
	CHECK("mkdir_new_d1", mkdir("d1", 0755) == 0);
	int y = openat(d, "y", O_CREAT | O_WRONLY, 0644);
	CHECK("openat_not_new_d1", y >= 0 && exists("d2/y") && !exists("d1/y"));
	close(y);

	/* The cwd follows a rename of an ancestor. */
	CHECK("chdir_in", chdir("d2/in") == 0);
	CHECK("rename_d2_d3", rename("../../d2", "../../d3") == 0);
	CHECK("getcwd_after_rename", getcwd(cwd, sizeof(cwd)) && ends_with(cwd, "/d3/in"));
	CHECK("proc_cwd_after_rename", ends_with(link_of("/proc/self/cwd"), "/d3/in"));
	CHECK("relative_after_rename", exists("../x"));
	CHECK("fchdir_renamed", fchdir(d) == 0);
	CHECK("getcwd_fchdir", getcwd(cwd, sizeof(cwd)) && ends_with(cwd, "/d3"));
	CHECK("chdir_top2", chdir(top) == 0);

	/* A renamed and an unlinked file. */
	CHECK("rename_file", rename("d3/x", "d3/x2") == 0);
	CHECK("fd_link_file_renamed", ends_with(fd_link(x), "/d3/x2"));
	CHECK("fstat_linked", fstat(x, &st) == 0 && st.st_nlink == 1);
	CHECK("unlink_file", unlink("d3/x2") == 0);
	CHECK("fd_link_deleted", ends_with(fd_link(x), "/d3/x2 (deleted)"));
	CHECK("fstat_unlinked", fstat(x, &st) == 0 && st.st_nlink == 0);
	CHECK("write_unlinked", write(x, "abc", 3) == 3);
	close(x);

	/* Mapped files in /proc/self/maps. */
	int m = open("mapped", O_CREAT | O_RDWR, 0644);
	CHECK("ftruncate_mapped", ftruncate(m, 4096) == 0);
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, m, 0);
	CHECK("mmap", p != MAP_FAILED);
	close(m);
	CHECK("maps_name", maps_has("/mapped"));
	CHECK("rename_mapped", rename("mapped", "mapped2") == 0);
	CHECK("maps_renamed", maps_has("/mapped2"));
	CHECK("unlink_mapped", unlink("mapped2") == 0);
	CHECK("maps_deleted", maps_has("/mapped2 (deleted)"));
	munmap(p, 4096);

	/* A removed working directory. */
	CHECK("mkdir_gone", mkdir("gone", 0755) == 0);
	CHECK("stat_top", stat(".", &st2) == 0);
	int g = open("gone", O_RDONLY | O_DIRECTORY);
	CHECK("open_gone", g >= 0);
	CHECK("chdir_gone", chdir("gone") == 0);
	CHECK("rmdir_cwd", rmdir(top) != 0 && rmdir("../gone") == 0);
	CHECK("stat_dot_removed", stat(".", &st) == 0 && st.st_nlink == 0);
	CHECK("fstat_removed", fstat(g, &st) == 0 && st.st_nlink == 0 && S_ISDIR(st.st_mode));
	EXPECT_ERR("getcwd_removed", syscall(SYS_getcwd, cwd, sizeof(cwd)), ENOENT);
	CHECK("proc_cwd_deleted", ends_with(link_of("/proc/self/cwd"), "/gone (deleted)"));
	EXPECT_ERR("create_in_removed", open("new", O_CREAT | O_WRONLY, 0644), ENOENT);
	EXPECT_ERR("mkdir_in_removed", mkdirat(g, "q", 0755), ENOENT);
	EXPECT_ERR("lookup_in_removed", openat(g, "x", O_RDONLY), ENOENT);
	char dents[1024];
	EXPECT_ERR("getdents_removed", syscall(SYS_getdents64, g, dents, sizeof(dents)), ENOENT);
	/* "." of a removed working directory opens: a dead directory. */
	int dot = open(".", O_RDONLY | O_DIRECTORY);
	CHECK("open_dot_removed", dot >= 0 && fstat(dot, &st) == 0 && st.st_nlink == 0 && S_ISDIR(st.st_mode));
	EXPECT_ERR("getdents_dot_removed", syscall(SYS_getdents64, dot, dents, sizeof(dents)), ENOENT);
	EXPECT_ERR("create_at_dot_removed", openat(dot, "x", O_CREAT | O_WRONLY, 0644), ENOENT);
	EXPECT_ERR("open_dot_removed_rdwr", open(".", O_RDWR), EISDIR);
	EXPECT_ERR("read_dot_removed", read(dot, dents, 1), EISDIR);
	int dotpath = open(".", O_PATH);
	CHECK("open_dot_removed_path", dotpath >= 0);
	CHECK("fchdir_dot_removed", fchdir(dot) == 0 && stat(".", &st) == 0 && st.st_nlink == 0);
	close(dot);
	close(dotpath);
	int up = openat(g, "..", O_RDONLY | O_DIRECTORY);
	CHECK("dotdot_from_removed", up >= 0 && fstat(up, &st) == 0 && st.st_ino == st2.st_ino);
	/* A new directory of the same name is not the removed one. */
	CHECK("mkdir_gone_again", mkdir("../gone", 0755) == 0);
	EXPECT_ERR("still_removed", open("new", O_CREAT | O_WRONLY, 0644), ENOENT);
	CHECK("fd_link_removed_dir", ends_with(fd_link(g), "/gone (deleted)"));
	CHECK("fchdir_up", fchdir(up) == 0);
	CHECK("getcwd_back", getcwd(cwd, sizeof(cwd)) && strcmp(cwd, top) == 0);
	close(g);
	close(up);

	/* Clean up. */
	CHECK("cleanup",
	      rmdir("gone") == 0 && unlink("d3/y") == 0 && rmdir("d3/in") == 0 &&
		      rmdir("d3") == 0 && rmdir("d1") == 0 && chdir("/") == 0 &&
		      rmdir(top) == 0);
	close(d);
	return compat_done();
}
