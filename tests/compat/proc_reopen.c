/* Opening /proc/self/fd/N opens the object itself again: a pipe (either
 * end, a fresh description), an unlinked file (its data, a fresh offset),
 * a memfd; /dev/stdin through a pipe; and O_PATH or stat of the link. */
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

static int reopen(int fd, int flags)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	return open(p, flags);
}

int main(void)
{
	int pfd[2];
	CHECK("pipe", pipe(pfd) == 0);
	int w2 = reopen(pfd[1], O_WRONLY);
	CHECK("reopen_write_end", w2 >= 0 && write(w2, "via2", 4) == 4);
	int r2 = reopen(pfd[0], O_RDONLY | O_NONBLOCK);
	char buf[64] = {0};
	CHECK("reopen_read_end", r2 >= 0 && read(r2, buf, sizeof buf) == 4 && memcmp(buf, "via2", 4) == 0);
	CHECK("fresh_description", (fcntl(pfd[0], F_GETFL) & O_NONBLOCK) == 0);
	EXPECT_ERR("reopened_nonblock_empty", read(r2, buf, sizeof buf), EAGAIN);
	close(w2);
	close(r2);
	struct stat a, b;
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", pfd[0]);
	CHECK("stat_follows", stat(p, &a) == 0 && fstat(pfd[0], &b) == 0 && a.st_ino == b.st_ino && S_ISFIFO(a.st_mode));

	char tmpl[] = "/tmp/husk-reopen-XXXXXX";
	int f = mkstemp(tmpl);
	CHECK("mkstemp", f >= 0 && write(f, "deleted data", 12) == 12);
	CHECK("unlink", unlink(tmpl) == 0);
	int f2 = reopen(f, O_RDONLY);
	memset(buf, 0, sizeof buf);
	CHECK("reopen_deleted", f2 >= 0 && read(f2, buf, sizeof buf) == 12 && strcmp(buf, "deleted data") == 0);
	CHECK("own_offset", lseek(f, 0, SEEK_CUR) == 12 && lseek(f2, 0, SEEK_CUR) == 12);
	int f3 = reopen(f, O_RDWR | O_APPEND);
	CHECK("reopen_append", f3 >= 0 && write(f3, "!", 1) == 1);
	struct stat st;
	CHECK("size_after_append", fstat(f, &st) == 0 && st.st_size == 13);
	close(f3);
	close(f2);
	close(f);

	int m = memfd_create("again", 0);
	CHECK("memfd_write", write(m, "memfd!", 6) == 6);
	int m2 = reopen(m, O_RDONLY);
	memset(buf, 0, sizeof buf);
	CHECK("reopen_memfd", m2 >= 0 && read(m2, buf, sizeof buf) == 6 && strcmp(buf, "memfd!") == 0);
	EXPECT_ERR("reopen_closed_fd", reopen(999, O_RDONLY), ENOENT);
	int o = reopen(m, O_PATH);
	CHECK("reopen_o_path", o >= 0);
	close(o);
	close(m2);
	close(m);

	/* /dev/stdin when stdin is a pipe. */
	int in[2];
	pipe(in);
	write(in[1], "stdin!", 6);
	close(in[1]);
	int saved = dup(0);
	dup2(in[0], 0);
	close(in[0]);
	int s = open("/dev/stdin", O_RDONLY);
	memset(buf, 0, sizeof buf);
	CHECK("dev_stdin_pipe", s >= 0 && read(s, buf, sizeof buf) == 6 && strcmp(buf, "stdin!") == 0);
	close(s);
	dup2(saved, 0);
	close(saved);
	return compat_done();
}
