/* Pseudo-terminals: /dev/ptmx and /dev/pts, the line discipline (echo,
 * canonical editing, EOF, raw mode, output processing), window size,
 * controlling terminals and job control (SIGINT from ^C, SIGWINCH,
 * SIGTTIN for background readers), hang-ups and their errors. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

static int opentty(int *slave)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0)
		return -1;
	*slave = open(ptsname(m), O_RDWR | O_NOCTTY);
	return *slave < 0 ? -1 : m;
}

/* Reads what is available on fd within a short wait. */
static int drain(int fd, char *buf, int cap)
{
	int n = 0;
	struct pollfd p = {fd, POLLIN, 0};
	while (n < cap - 1 && poll(&p, 1, 200) == 1 && (p.revents & POLLIN)) {
		int r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	buf[n] = 0;
	return n;
}

static void show_bytes(const char *name, const char *b, int n)
{
	printf("%s \"", name);
	for (int i = 0; i < n; i++) {
		unsigned char c = b[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	printf("\"\n");
}

static volatile sig_atomic_t got;
static void on_sig(int s) { got = s; }

/* Child in its own session with the pty as controlling terminal. */
static int session_child(const char *name, int ready_fd, int go_fd)
{
	setsid();
	int s = open(name, O_RDWR);
	int fails = 0;
	char c;
	if (s < 0)
		return 10;
	if (tcgetpgrp(s) != getpid())
		fails |= 1;
	if (tcgetsid(s) != getpid())
		fails |= 2;
	int t = open("/dev/tty", O_RDWR);
	if (t < 0)
		fails |= 4;
	struct sigaction sa = {0};
	sa.sa_handler = on_sig;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	sigaction(SIGTTIN, &sa, NULL);
	write(ready_fd, "r", 1);
	/* ^C from the master. Waited for in short polls, not a blocking
	 * read: the signal may come between a check of `got` and the read,
	 * and the read would then wait for a "g" that never comes. */
	for (int i = 0; i < 500 && got != SIGINT; i++)
		if (poll(&(struct pollfd){go_fd, POLLIN, 0}, 1, 10) == 1)
			read(go_fd, &c, 1);
	if (got != SIGINT)
		fails |= 8;
	got = 0;
	write(ready_fd, "i", 1);
	for (int i = 0; i < 500 && got != SIGWINCH; i++)
		if (poll(&(struct pollfd){go_fd, POLLIN, 0}, 1, 10) == 1)
			read(go_fd, &c, 1);
	if (got != SIGWINCH)
		fails |= 16;
	got = 0;
	/* A background group reading its terminal gets SIGTTIN (EINTR with
	 * a handler), or EIO when SIGTTIN is ignored. */
	pid_t g = fork();
	if (g == 0) {
		setpgid(0, 0);
		char b[4];
		int r = read(s, b, sizeof b);
		int ok = r == -1 && errno == EINTR && got == SIGTTIN;
		signal(SIGTTIN, SIG_IGN);
		r = read(s, b, sizeof b);
		ok = ok && r == -1 && errno == EIO;
		/* Setting the foreground group (with SIGTTOU ignored) to a
		 * group of another session fails. */
		signal(SIGTTOU, SIG_IGN);
		ok = ok && tcsetpgrp(s, 1) == -1 && errno == EPERM;
		_exit(ok ? 0 : 1);
	}
	int st;
	waitpid(g, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fails |= 32;
	/* TIOCSCTTY again is fine for the owner; TIOCNOTTY drops it. */
	if (ioctl(s, TIOCSCTTY, 0) != 0)
		fails |= 64;
	signal(SIGHUP, SIG_IGN);
	if (ioctl(s, TIOCNOTTY) != 0)
		fails |= 128;
	if (open("/dev/tty", O_RDWR) != -1 || errno != ENXIO)
		fails |= 256;
	return fails;
}

int main(void)
{
	int s, m = opentty(&s);
	CHECK("openpt", m >= 0);
	char name[64];
	snprintf(name, sizeof name, "%s", ptsname(m));
	CHECK("ptsname", strncmp(name, "/dev/pts/", 9) == 0);
	int n = -1;
	CHECK("TIOCGPTN", ioctl(m, TIOCGPTN, &n) == 0 && n == atoi(name + 9));
	CHECK("isatty", isatty(m) && isatty(s));
	CHECK("ttyname", ttyname(s) && strcmp(ttyname(s), name) == 0);
	struct stat st;
	CHECK("stat_slave", fstat(s, &st) == 0 && S_ISCHR(st.st_mode));
	SHOW("slave_major", "%u", major(st.st_rdev));
	CHECK("stat_ptmx", stat("/dev/ptmx", &st) == 0 && S_ISCHR(st.st_mode));
	SHOW("ptmx_rdev", "%u", major(st.st_rdev) * 256 + minor(st.st_rdev));
	CHECK("pts_dir", stat("/dev/pts", &st) == 0 && S_ISDIR(st.st_mode));

	struct termios t;
	CHECK("tcgetattr", tcgetattr(s, &t) == 0);
	SHOW("iflag", "%#o", t.c_iflag);
	SHOW("oflag", "%#o", t.c_oflag);
	SHOW("cflag", "%#o", t.c_cflag);
	SHOW("lflag", "%#o", t.c_lflag);
	SHOW("cc_intr", "%d", t.c_cc[VINTR]);
	SHOW("cc_eof", "%d", t.c_cc[VEOF]);
	SHOW("cc_min", "%d", t.c_cc[VMIN]);
	SHOW("ospeed", "%d", (int)cfgetospeed(&t));
	struct termios tm;
	CHECK("master_sees_slave_termios",
	      tcgetattr(m, &tm) == 0 && tm.c_lflag == t.c_lflag);

	char buf[256];
	/* Canonical input with echo. */
	CHECK("write_master", write(m, "hello\n", 6) == 6);
	int r = read(s, buf, sizeof buf);
	show_bytes("slave_read", buf, r);
	r = drain(m, buf, sizeof buf);
	show_bytes("echo", buf, r);
	int avail = -1;
	write(m, "line\nrest", 9);
	struct pollfd ps = {s, POLLIN, 0};
	CHECK("poll_line", poll(&ps, 1, 1000) == 1);
	CHECK("FIONREAD_line", ioctl(s, FIONREAD, &avail) == 0);
	SHOW("fionread", "%d", avail);
	r = read(s, buf, 2);
	show_bytes("short_read", buf, r);
	r = read(s, buf, sizeof buf);
	show_bytes("rest_of_line", buf, r);
	struct pollfd p = {s, POLLIN, 0};
	SHOW("poll_partial_line", "%d", poll(&p, 1, 0));
	write(m, "\x7f\x7fX\n", 4);
	r = read(s, buf, sizeof buf);
	show_bytes("after_erase", buf, r);
	write(m, "abc def\x17z\n", 10);
	r = read(s, buf, sizeof buf);
	show_bytes("after_werase", buf, r);
	write(m, "gone\x15kept\n", 10);
	r = read(s, buf, sizeof buf);
	show_bytes("after_kill", buf, r);
	write(m, "ab\x04", 3);
	r = read(s, buf, sizeof buf);
	show_bytes("eof_with_data", buf, r);
	write(m, "\x04", 1);
	SHOW("eof_empty", "%d", (int)read(s, buf, sizeof buf));
	write(m, "cr\r", 3);
	r = read(s, buf, sizeof buf);
	show_bytes("icrnl", buf, r);
	r = drain(m, buf, sizeof buf);
	show_bytes("echo_all", buf, r);

	/* Output processing. */
	CHECK("write_slave", write(s, "x\ny\n", 4) == 4);
	r = drain(m, buf, sizeof buf);
	show_bytes("onlcr", buf, r);

	/* Raw mode: bytes as they come, no echo, no signals. */
	struct termios raw = t;
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	CHECK("tcsetattr_raw", tcsetattr(s, TCSANOW, &raw) == 0);
	SHOW("raw_empty_read", "%d", (int)read(s, buf, sizeof buf));
	write(m, "q\x03\r", 3);
	r = read(s, buf, sizeof buf);
	show_bytes("raw_read", buf, r);
	SHOW("raw_no_echo", "%d", drain(m, buf, sizeof buf));
	write(s, "a\n", 2);
	r = drain(m, buf, sizeof buf);
	show_bytes("raw_output", buf, r);
	CHECK("tcsetattr_back", tcsetattr(s, TCSAFLUSH, &t) == 0);

	/* Window size. */
	struct winsize ws = {24, 80, 0, 0}, ws2 = {0};
	CHECK("TIOCSWINSZ", ioctl(m, TIOCSWINSZ, &ws) == 0);
	CHECK("TIOCGWINSZ", ioctl(s, TIOCGWINSZ, &ws2) == 0 && ws2.ws_row == 24 && ws2.ws_col == 80);

	/* Errors. */
	EXPECT_ERR("TIOCGPGRP_not_ctty", tcgetpgrp(s), ENOTTY);
	EXPECT_ERR("TIOCSPGRP_not_ctty", tcsetpgrp(s, getpgrp()), ENOTTY);
	EXPECT_ERR("TIOCNOTTY_not_ctty", ioctl(s, TIOCNOTTY), ENOTTY);
	EXPECT_ERR("bad_ioctl", ioctl(s, 0x5499, 0), ENOTTY);
	EXPECT_ERR("tcgetattr_badptr", ioctl(s, TCGETS, BADPTR), EFAULT);
	EXPECT_ERR("no_such_pty", open("/dev/pts/99999", O_RDWR), ENOENT);
	int m2 = posix_openpt(O_RDWR | O_NOCTTY);
	char name2[64];
	snprintf(name2, sizeof name2, "%s", ptsname(m2));
	EXPECT_ERR("locked_slave", open(name2, O_RDWR | O_NOCTTY), EIO);
	int unlock = 0;
	CHECK("unlock", ioctl(m2, TIOCSPTLCK, &unlock) == 0);
	int peer = ioctl(m2, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	CHECK("TIOCGPTPEER", peer >= 0 && isatty(peer));
	close(peer);
	write(m2, "pending\n", 8);
	close(m2);

	/* Controlling terminal and job control, in a new session. The child
	 * may have its signal and be gone before a "g" goes down the pipe:
	 * that write must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	int up[2], down[2];
	pipe(up);
	pipe(down);
	pid_t c = fork();
	if (c == 0) {
		close(up[0]);
		close(down[1]);
		_exit(session_child(name, up[1], down[0]));
	}
	close(up[1]);
	close(down[0]);
	char ch;
	CHECK("child_ready", read(up[0], &ch, 1) == 1 && ch == 'r');
	CHECK("send_intr", write(m, "\x03", 1) == 1);
	write(down[1], "g", 1);
	CHECK("child_interrupted", read(up[0], &ch, 1) == 1 && ch == 'i');
	struct winsize ws3 = {40, 100, 0, 0};
	CHECK("resize", ioctl(m, TIOCSWINSZ, &ws3) == 0);
	write(down[1], "g", 1);
	int status;
	CHECK("child_wait", waitpid(c, &status, 0) == c);
	SHOW("child_status", "%d", WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status));
	drain(m, buf, sizeof buf);

	/* Hang-ups: master gone means EOF/EIO for the slave; slave gone
	 * means EIO for the master. */
	close(m);
	SHOW("slave_read_after_hangup", "%d", (int)read(s, buf, sizeof buf));
	EXPECT_ERR("slave_write_after_hangup", write(s, "z", 1), EIO);
	close(s);
	int s3, m3 = opentty(&s3);
	close(s3);
	EXPECT_ERR("master_read_after_slave_close", read(m3, buf, sizeof buf), EIO);
	struct pollfd pm = {m3, POLLIN, 0};
	poll(&pm, 1, 0);
	SHOW("master_pollhup", "%d", !!(pm.revents & POLLHUP));
	close(m3);
	return compat_done();
}
