/* execve details: an empty argv becomes one empty argument, one string
 * past MAX_ARG_STRLEN is E2BIG, interpreter lines as Linux parses them
 * (a CR is part of the name, five levels of nesting and no more, an
 * interpreter name that does not fit the 256-byte buffer is ENOEXEC),
 * and a core-dumping signal reported as a kill when no core is
 * written. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static char dir[] = "/tmp/husk-exec-XXXXXX";

static void script(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0755);
	write(fd, text, strlen(text));
	close(fd);
}

/* Runs execve(path, argv) in a child: "status HEX" or the errno. */
static void run(const char *label, const char *path, char **argv, char **envp)
{
	int pp[2];
	pipe(pp);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		close(pp[0]);
		fcntl(pp[1], F_SETFD, FD_CLOEXEC);
		execve(path, argv, envp);
		int e = errno;
		write(pp[1], &e, sizeof e);
		_exit(127);
	}
	close(pp[1]);
	int e = 0, st;
	int n = read(pp[0], &e, sizeof e);
	close(pp[0]);
	waitpid(c, &st, 0);
	if (n == sizeof e)
		printf("%s: %s\n", label, ename(e));
	else
		printf("%s: status %x\n", label, st);
}

int main(int argc, char **argv)
{
	/* Re-run with no arguments: argc is 1, argv[0] empty. */
	if (argc == 1 && argv[0] && argv[0][0] == 0)
		return 42;
	if (!mkdtemp(dir))
		return 1;
	char *none[] = {NULL};
	run("empty argv", "/proc/self/exe", none, none);

	static char big[200001];
	memset(big, 'a', 131071);
	char *a1[] = {"/bin/true", big, NULL};
	run("arg of 131071", "/bin/true", a1, none);
	memset(big, 'a', 131072);
	run("arg of 131072", "/bin/true", a1, none);
	memset(big, 'a', 200000);
	char *e1[] = {big, NULL};
	char *a0[] = {"/bin/true", NULL};
	run("env of 200000", "/bin/true", a0, e1);

	script("crlf", "#!/bin/sh\r\nexit 3\r\n");
	char p[256];
	snprintf(p, sizeof p, "%s/crlf", dir);
	run("CR in the name", p, a0, none);

	char text[300];
	for (int i = 1; i <= 6; i++) {
		char name[8];
		snprintf(name, sizeof name, "s%d", i);
		if (i == 1)
			snprintf(text, sizeof text, "#!/bin/true\n");
		else
			snprintf(text, sizeof text, "#!%s/s%d\n", dir, i - 1);
		script(name, text);
	}
	snprintf(p, sizeof p, "%s/s5", dir);
	run("five levels", p, a0, none);
	snprintf(p, sizeof p, "%s/s6", dir);
	run("six levels", p, a0, none);

	memset(text, 0, sizeof text);
	strcpy(text, "#!/");
	memset(text + 3, 'y', 290);
	text[293] = '\n';
	script("long", text);
	snprintf(p, sizeof p, "%s/long", dir);
	run("name past the buffer", p, a0, none);

	struct rlimit rl = {0, 0};
	setrlimit(RLIMIT_CORE, &rl);
	pid_t c = fork();
	if (c == 0)
		abort();
	siginfo_t si;
	waitid(P_PID, c, &si, WEXITED | WNOWAIT);
	int st;
	waitpid(c, &st, 0);
	CHECK("abort is CLD_KILLED", si.si_code == CLD_KILLED && si.si_status == SIGABRT && !WCOREDUMP(st));

	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	system(cmd);
	return compat_failures > 100 ? 100 : compat_failures;
}
