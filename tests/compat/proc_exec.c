/* execve: binaries, #! scripts, environment, close-on-exec, errors. */
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

extern char **environ;

/* Runs argv with stdout captured; prints "label status=N out=<...>". */
static void run(const char *label, const char *path, char *const argv[],
		char *const envp[], void (*setup)(void))
{
	int pfd[2];
	char buf[4096];
	pipe(pfd);
	pid_t p = fork();
	if (p == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		if (setup)
			setup();
		execve(path, argv, envp);
		dprintf(1, "execve failed errno=%s", ename(errno));
		_exit(127);
	}
	close(pfd[1]);
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(buf) - 1 && (r = read(pfd[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += r;
	buf[n] = 0;
	close(pfd[0]);
	int st;
	waitpid(p, &st, 0);
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = '|';
	printf("%s status=%d out=%s\n", label, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
	       buf);
}

static void setup_fds(void)
{
	int a = open("/dev/null", O_WRONLY);
	dup2(1, 7);
	dup3(1, 8, O_CLOEXEC);
	close(a);
}

static void setup_signals(void)
{
	signal(SIGUSR1, SIG_IGN);
	struct sigaction sa = {0};
	sa.sa_handler = (void (*)(int))setup_fds; /* any handler: must be reset */
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGHUP);
	sigprocmask(SIG_BLOCK, &s, NULL); /* the mask survives exec */
}

static void *thread_exec(void *arg)
{
	(void)arg;
	char *argv[] = {"echo", "from", "thread", NULL};
	execve("/bin/echo", argv, environ);
	return NULL;
}

static void setup_thread_exec(void)
{
	pthread_t t;
	pthread_create(&t, NULL, thread_exec, NULL);
	pthread_join(t, NULL);
	_exit(55);
}

int main(void)
{
	char *env[] = {"FOO=bar", "PATH=/usr/bin:/bin", "LC_ALL=C", NULL};

	char *echo[] = {"echo", "hello", "world", NULL};
	run("exec_echo", "/bin/echo", echo, env, NULL);

	char *sh[] = {"sh", "-c", "echo \"$0 $1 $FOO\"; exit 7", "zero", "one", NULL};
	run("exec_sh_c", "/bin/sh", sh, env, NULL);

	char *printenv[] = {"printenv", "FOO", NULL};
	run("exec_env_passed", "/usr/bin/printenv", printenv, env, NULL);
	char *noenv[] = {NULL};
	run("exec_empty_env", "/usr/bin/printenv", printenv, noenv, NULL);

	/* #! script on the host: ldd is a bash script. */
	char *ldd[] = {"ldd", "--version", NULL};
	int pfd[2];
	pipe(pfd);
	pid_t p = fork();
	if (p == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execve("/usr/bin/ldd", ldd, env);
		_exit(127);
	}
	close(pfd[1]);
	char buf[8192];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(buf) - 1 && (r = read(pfd[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += r;
	buf[n] = 0;
	int st;
	waitpid(p, &st, 0);
	CHECK("exec_script_ldd_status", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("exec_script_ldd_output", strncmp(buf, "ldd ", 4) == 0);

	char *fdtest[] = {"sh", "-c",
			  "echo seven >&7; (echo eight >&8) 2>/dev/null || echo eight_closed", NULL};
	run("exec_cloexec", "/bin/sh", fdtest, env, setup_fds);

	char *sigtest[] = {"sh", "-c",
			   "kill -USR1 $$; echo survived_ignored; "
			   "grep -E '^Sig(Ign|Blk|Cgt)' /proc/self/status | grep -c .",
			   NULL};
	run("exec_signal_dispositions", "/bin/sh", sigtest, env, setup_signals);

	char *catch2[] = {"sh", "-c", "kill -USR2 $$; echo not_reached", NULL};
	run("exec_handler_reset_to_default", "/bin/sh", catch2, env, setup_signals);

	run("exec_from_thread", "/bin/true", echo, env, setup_thread_exec);

	/* argv[0] is independent of the path. */
	char *a0[] = {"sh", "-c", "echo $0", "custom-argv0", NULL};
	run("exec_argv0", "/bin/sh", a0, env, NULL);

	/* Exit status of a program killed by a signal after exec. */
	char *selfkill[] = {"sh", "-c", "kill -TERM $$", NULL};
	run("exec_killed", "/bin/sh", selfkill, env, NULL);

	/* Errors, in the current process (returns on failure). */
	EXPECT_ERR("execve_enoent", execve("/nonexistent/prog", echo, env), ENOENT);
	EXPECT_ERR("execve_enoent_file", execve("/bin/nonexistent-husk", echo, env), ENOENT);
	EXPECT_ERR("execve_eacces_noexec", execve("/etc/passwd", echo, env), EACCES);
	EXPECT_ERR("execve_eacces_dir", execve("/etc", echo, env), EACCES);
	EXPECT_ERR("execve_enotdir", execve("/etc/passwd/x", echo, env), ENOTDIR);
	EXPECT_ERR("execve_efault_path", execve(BADPTR, echo, env), EFAULT);
	EXPECT_ERR("execve_efault_argv", execve("/bin/echo", BADPTR, env), EFAULT);
	EXPECT_ERR("execve_empty_path", execve("", echo, env), ENOENT);
	EXPECT_ERR("execvp_path_search_missing", execvp("no-such-command-husk", echo), ENOENT);
	return compat_done();
}
