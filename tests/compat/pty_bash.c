/* An interactive bash driven through a pty, as a terminal emulator would:
 * the prompt appears, `stty size` reports the window, ^C interrupts a
 * foreground `sleep 100`, ^Z stops one and `fg` brings it back, and the
 * shell's exit status comes back through wait. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

static int master;
static char seen[65536];
static int seen_len;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Reads terminal output until `want` appears after position `from`, or
 * the time runs out. Returns the position just past it, or -1. */
static int expect(int from, const char *want, double secs)
{
	double end = now() + secs;
	for (;;) {
		seen[seen_len] = 0;
		char *p = strstr(seen + from, want);
		if (p)
			return (int)(p - seen) + (int)strlen(want);
		double left = end - now();
		if (left <= 0)
			return -1;
		struct pollfd pf = {master, POLLIN, 0};
		if (poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		int n = read(master, seen + seen_len, sizeof seen - 1 - seen_len);
		if (n <= 0)
			return -1;
		seen_len += n;
	}
}

static void say(const char *s)
{
	write(master, s, strlen(s));
}

/* The text between two positions, without the terminal's \r and escape
 * sequences, one line per output line. */
static void show(const char *name, int from, int to)
{
	printf("%s:", name);
	for (int i = from; i < to; i++) {
		char c = seen[i];
		if (c == '\033') {
			i++;
			if (i < to && seen[i] == '[')
				while (i + 1 < to && !(seen[i + 1] >= '@' && seen[i + 1] <= '~'))
					i++;
			i++;
			continue;
		}
		if (c == '\r')
			continue;
		putchar(c == '\n' ? '|' : c);
	}
	putchar('\n');
}

int main(void)
{
	master = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK("openpt", master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
	char name[64];
	snprintf(name, sizeof name, "%s", ptsname(master));
	struct winsize ws = {31, 97, 0, 0};
	CHECK("winsize", ioctl(master, TIOCSWINSZ, &ws) == 0);

	pid_t c = fork();
	if (c == 0) {
		setsid();
		int s = open(name, O_RDWR);
		if (s < 0)
			_exit(120);
		dup2(s, 0);
		dup2(s, 1);
		dup2(s, 2);
		close(s);
		close(master);
		char *env[] = {"PS1=PROMPT> ", "TERM=dumb", "PATH=/usr/bin:/bin",
			       "HOME=/", "LC_ALL=C", NULL};
		execle("/bin/bash", "bash", "--norc", "--noprofile", "-i", (char *)NULL, env);
		_exit(127);
	}
	int pos = expect(0, "PROMPT> ", 10);
	CHECK("prompt", pos > 0);

	say("stty size\n");
	int p2 = expect(pos, "PROMPT> ", 10);
	CHECK("stty_size", p2 > 0);
	show("stty", pos, p2 > 0 ? p2 : seen_len);

	say("echo $((6*7)) | cat\n");
	int p3 = expect(p2, "PROMPT> ", 10);
	CHECK("pipeline", p3 > 0);
	show("pipeline", p2, p3 > 0 ? p3 : seen_len);

	/* ^C interrupts the foreground job, not the shell. */
	say("sleep 100; echo after-sleep $?\n");
	usleep(300000);
	double t0 = now();
	say("\003");
	int p4 = expect(p3, "PROMPT> ", 10);
	CHECK("ctrl_c_prompt", p4 > 0);
	CHECK("ctrl_c_fast", now() - t0 < 5);
	say("echo status $?\n");
	int p5 = expect(p4, "PROMPT> ", 10);
	CHECK("status_after_ctrl_c", p5 > 0);
	show("after_ctrl_c", p4, p5 > 0 ? p5 : seen_len);

	/* ^Z stops the job; fg continues it; ^C ends it. */
	say("sleep 100\n");
	usleep(300000);
	say("\032");
	int p6 = expect(p5, "PROMPT> ", 10);
	CHECK("ctrl_z_prompt", p6 > 0);
	CHECK("stopped_listed", p6 > 0 && strstr(seen + p5, "Stopped") != NULL);
	say("fg\n");
	int p7 = expect(p6, "sleep 100", 10);
	CHECK("fg", p7 > 0);
	usleep(300000);
	say("\003");
	int p8 = expect(p7, "PROMPT> ", 10);
	CHECK("fg_ctrl_c", p8 > 0);
	say("jobs; echo jobs-done\n");
	int p9 = expect(p8, "PROMPT> ", 10);
	show("jobs", p8, p9 > 0 ? p9 : seen_len);

	say("exit 3\n");
	int status = 0;
	CHECK("wait_shell", waitpid(c, &status, 0) == c);
	SHOW("shell_status", "%d", WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status));
	return compat_done();
}
