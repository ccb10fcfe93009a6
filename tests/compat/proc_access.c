/* /proc/PID as another user sees it (what ptrace's read check guards:
 * environ, auxv, maps, fd, exe and cwd are EACCES, yet stat works, and
 * files belong to the process's owner), /proc/self/stat's 52 fields with
 * the signal masks and resident size, status's memory lines, and the
 * maps line format of anonymous and vDSO mappings. */
#include "common.h"
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char b[1 << 16];

static int rd(const char *p)
{
	int fd = open(p, O_RDONLY), n = 0, r;
	if (fd < 0)
		return -1;
	while ((r = read(fd, b + n, sizeof b - n - 1)) > 0)
		n += r;
	close(fd);
	b[n] = 0;
	return n;
}

int main(void)
{
	pid_t parent = getpid();
	char p[64], l[256];
	if (fork() == 0) {
		setgroups(0, NULL);
		setresgid(1000, 1000, 1000);
		setresuid(1000, 1000, 1000);
		prctl(PR_SET_DUMPABLE, 1);
		const char *guarded[] = {"environ", "auxv", "maps", "fd", "fdinfo"};
		for (int i = 0; i < 5; i++) {
			snprintf(p, sizeof p, "/proc/%d/%s", parent, guarded[i]);
			snprintf(l, sizeof l, "other's %s", guarded[i]);
			EXPECT_ERR(l, open(p, O_RDONLY), EACCES);
		}
		snprintf(p, sizeof p, "/proc/%d/exe", parent);
		EXPECT_ERR("other's exe link", readlink(p, l, sizeof l), EACCES);
		snprintf(p, sizeof p, "/proc/%d/cwd", parent);
		EXPECT_ERR("other's cwd link", readlink(p, l, sizeof l), EACCES);
		struct stat st;
		snprintf(p, sizeof p, "/proc/%d/environ", parent);
		CHECK("other's environ stat", stat(p, &st) == 0 && st.st_uid == 0);
		snprintf(p, sizeof p, "/proc/%d/status", parent);
		CHECK("other's status readable", rd(p) > 0);
		CHECK("own files are ours", stat("/proc/self/status", &st) == 0 && st.st_uid == 1000);
		CHECK("own environ readable", rd("/proc/self/environ") >= 0);
		fflush(stdout);
		_exit(compat_failures);
	}
	int s;
	wait(&s);
	compat_failures += WIFEXITED(s) ? WEXITSTATUS(s) : 1;

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGUSR2, SIG_IGN);
	char *m = malloc(8 << 20);
	memset(m, 1, 8 << 20);
	CHECK("read stat", rd("/proc/self/stat") > 0);
	char *f[64];
	int nf = 2;
	for (char *t = strtok(strrchr(b, ')') + 2, " \n"); t && nf < 63; t = strtok(NULL, " \n"))
		f[++nf] = t;
	CHECK("52 fields", nf == 52);
	CHECK("state R for the reader", !strcmp(f[3], "R"));
	CHECK("blocked", !strcmp(f[32], "512"));
	CHECK("ignored", !strcmp(f[33], "2048"));
	CHECK("rss pages", atol(f[24]) >= 2048);
	CHECK("exit code 0", !strcmp(f[52], "0"));
	rd("/proc/self/status");
	char *r = strstr(b, "VmRSS:"), *d = strstr(b, "VmData:");
	CHECK("VmRSS", r && atol(r + 6) >= 8192);
	CHECK("VmData", d && atol(d + 7) >= 8192);
	CHECK("state line", strstr(b, "State:\tR (running)") != NULL);

	/* A zombie is still in /proc, in state Z. */
	pid_t z = fork();
	if (z == 0)
		_exit(3);
	siginfo_t si;
	waitid(P_PID, z, &si, WEXITED | WNOWAIT);
	snprintf(p, sizeof p, "/proc/%d/stat", z);
	CHECK("zombie stat", rd(p) > 0 && strstr(b, ") Z ") != NULL);
	snprintf(p, sizeof p, "/proc/%d/status", z);
	CHECK("zombie status", rd(p) > 0 && strstr(b, "State:\tZ (zombie)") != NULL);
	snprintf(p, sizeof p, "/proc/%d/cmdline", z);
	CHECK("zombie cmdline empty", rd(p) == 0);
	waitpid(z, NULL, 0);
	CHECK("reaped gone", rd(p) < 0);

	char *a = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rd("/proc/self/maps");
	snprintf(l, sizeof l, "%lx-", (unsigned long)a);
	char *line = strstr(b, l);
	CHECK("anon line ends \"0 \"", line && strchr(line, '\n')[-1] == ' ' && strchr(line, '\n')[-2] == '0');
	line = strstr(b, "[vdso]");
	while (line && line > b && line[-1] != '\n')
		line--;
	CHECK("vdso private", line && !strncmp(strchr(line, ' ') + 1, "r-xp", 4));
	return compat_failures > 100 ? 100 : compat_failures;
}
