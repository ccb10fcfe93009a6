/* ETXTBSY: a file open for writing (here or in another process) cannot
 * be executed, as a program or as a script, and a running program cannot
 * be opened for writing or truncated; once the writer or the program is
 * gone, both work again. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char prog[64], script[64];

static int copy(const char *from, const char *to)
{
	int a = open(from, O_RDONLY), w = open(to, O_RDWR | O_CREAT | O_TRUNC, 0755);
	char b[65536];
	ssize_t n;
	while ((n = read(a, b, sizeof b)) > 0)
		if (write(w, b, n) != n)
			break;
	close(a);
	return w;
}

/* Runs `path` with `arg` in a child: its exit status, or 100 + errno. */
static int run(const char *path, const char *arg)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		execl(path, path, arg, (char *)NULL);
		_exit(100 + errno);
	}
	int st;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
	snprintf(prog, sizeof prog, "/tmp/etxtbsy_prog.%d", (int)getpid());
	snprintf(script, sizeof script, "/tmp/etxtbsy_script.%d", (int)getpid());

	int w = copy("/bin/sleep", prog);
	CHECK("exec while open for writing", run(prog, "0") == 100 + ETXTBSY);
	close(w);
	CHECK("exec once closed", run(prog, "0") == 0);

	/* A writer in another process. */
	int pipefd[2];
	if (pipe(pipefd) != 0)
		return 1;
	fflush(stdout);
	pid_t holder = fork();
	if (holder == 0) {
		int fd = open(prog, O_WRONLY);
		char x = fd >= 0 ? 'y' : 'n';
		if (write(pipefd[1], &x, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char x;
	CHECK("another process opens it for writing", read(pipefd[0], &x, 1) == 1 && x == 'y');
	CHECK("exec while another process writes", run(prog, "0") == 100 + ETXTBSY);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	CHECK("exec once that process is gone", run(prog, "0") == 0);

	/* A running program. */
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		execl(prog, prog, "5", (char *)NULL);
		_exit(1);
	}
	usleep(300000);
	EXPECT_ERR("open a running program O_WRONLY", open(prog, O_WRONLY), ETXTBSY);
	EXPECT_ERR("open it O_RDWR", open(prog, O_RDWR), ETXTBSY);
	EXPECT_ERR("open it O_TRUNC", open(prog, O_WRONLY | O_TRUNC), ETXTBSY);
	EXPECT_ERR("truncate it", truncate(prog, 0), ETXTBSY);
	int r = open(prog, O_RDONLY);
	CHECK("read it", r >= 0);
	close(r);
	struct stat st;
	CHECK("it was not truncated", stat(prog, &st) == 0 && st.st_size > 1000);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	r = open(prog, O_WRONLY);
	CHECK("writable once it stopped", r >= 0);
	close(r);

	/* Scripts. */
	int s = open(script, O_RDWR | O_CREAT | O_TRUNC, 0755);
	if (write(s, "#!/bin/sh\nexit 7\n", 17) != 17)
		return 1;
	CHECK("a script open for writing", run(script, "") == 100 + ETXTBSY);
	close(s);
	CHECK("the script once closed", run(script, "") == 7);

	unlink(prog);
	unlink(script);
	return compat_done();
}
