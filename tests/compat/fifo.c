/* Named pipes: mkfifo, open rules (blocking, O_NONBLOCK, O_RDWR), data,
 * EOF when the writer goes. */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

int main(void)
{
	char dir[] = "/tmp/husk-fifo-XXXXXX", path[64];
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/ff", dir);
	CHECK("mkfifo", mkfifo(path, 0600) == 0);
	EXPECT_ERR("mkfifo_exists", mkfifo(path, 0600), EEXIST);
	struct stat st;
	CHECK("is_fifo", stat(path, &st) == 0 && S_ISFIFO(st.st_mode));
	SHOW("mode", "%o", st.st_mode & 07777);

	EXPECT_ERR("nonblock_writer_no_reader", open(path, O_WRONLY | O_NONBLOCK), ENXIO);
	int r = open(path, O_RDONLY | O_NONBLOCK);
	CHECK("nonblock_reader", r >= 0);
	char buf[32] = {0};
	CHECK("read_no_writer_eof", read(r, buf, sizeof buf) == 0);
	int w = open(path, O_WRONLY | O_NONBLOCK);
	CHECK("nonblock_writer_with_reader", w >= 0);
	EXPECT_ERR("read_empty_eagain", read(r, buf, sizeof buf), EAGAIN);
	CHECK("write", write(w, "hello", 5) == 5);
	CHECK("read", read(r, buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
	close(w);
	CHECK("eof_after_writer_close", read(r, buf, sizeof buf) == 0);
	close(r);

	/* Blocking opens meet. */
	pid_t c = fork();
	if (c == 0) {
		int fw = open(path, O_WRONLY);
		write(fw, "from child", 10);
		_exit(fw >= 0 ? 0 : 1);
	}
	int fr = open(path, O_RDONLY);
	memset(buf, 0, sizeof buf);
	int n = 0, k;
	while ((k = read(fr, buf + n, sizeof buf - 1 - n)) > 0)
		n += k;
	CHECK("blocking_open_and_read", fr >= 0 && n == 10 && strcmp(buf, "from child") == 0);
	int status;
	waitpid(c, &status, 0);
	CHECK("child_ok", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fr);

	/* O_RDWR never waits. */
	int rw = open(path, O_RDWR);
	CHECK("rdwr_open", rw >= 0);
	CHECK("rdwr_loop", write(rw, "x", 1) == 1 && read(rw, buf, 1) == 1 && buf[0] == 'x');
	/* The pipe calls work on it too. */
	CHECK("rdwr_getpipe_sz", fcntl(rw, F_GETPIPE_SZ) == 65536);
	CHECK("rdwr_setpipe_sz", fcntl(rw, F_SETPIPE_SZ, 8192) == 8192 &&
				     fcntl(rw, F_GETPIPE_SZ) == 8192);
	int p[2];
	CHECK("pipe", pipe(p) == 0);
	CHECK("splice_to_rdwr", write(p[1], "yz", 2) == 2 &&
				    splice(p[0], NULL, rw, NULL, 2, 0) == 2);
	CHECK("splice_from_rdwr", splice(rw, NULL, p[1], NULL, 2, 0) == 2 &&
				      read(p[0], buf, 2) == 2 && memcmp(buf, "yz", 2) == 0);
	close(p[0]);
	close(p[1]);
	close(rw);
	CHECK("unlink", unlink(path) == 0);
	CHECK("rmdir", rmdir(dir) == 0);
	return compat_done();
}
