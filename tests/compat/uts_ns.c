/* Host and domain names: sethostname/setdomainname, what uname(2) and
 * /proc/sys/kernel/{hostname,domainname} report, their limits, and UTS
 * namespaces (unshare and clone with CLONE_NEWUTS): a child's new names
 * stay its own. Runs as root (the suite does). */
#include "common.h"
#include <sched.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static void proc_name(const char *file, char *out, size_t n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/sys/kernel/%s", file);
	FILE *f = fopen(path, "r");
	out[0] = 0;
	if (f) {
		if (!fgets(out, (int)n, f))
			out[0] = 0;
		fclose(f);
	}
	out[strcspn(out, "\n")] = 0;
}

static int child_renames(void *arg)
{
	(void)arg;
	return sethostname("inner", 5) == 0 ? 0 : 1;
}

int main(void)
{
	struct utsname u;
	char buf[128];

	/* Natively, never rename the machine the suite runs on. */
	CHECK("unshare_self", unshare(CLONE_NEWUTS) == 0);

	CHECK("sethostname", sethostname("compat-a", 8) == 0);
	CHECK("uname", uname(&u) == 0 && !strcmp(u.nodename, "compat-a"));
	proc_name("hostname", buf, sizeof buf);
	CHECK("proc_hostname", !strcmp(buf, "compat-a"));
	CHECK("setdomainname", setdomainname("example", 7) == 0);
	CHECK("uname_domain", uname(&u) == 0 && !strcmp(u.domainname, "example"));
	proc_name("domainname", buf, sizeof buf);
	CHECK("proc_domainname", !strcmp(buf, "example"));

	char big[80];
	memset(big, 'x', sizeof big);
	EXPECT_ERR("sethostname_65", sethostname(big, 65), EINVAL);
	CHECK("sethostname_64", sethostname(big, 64) == 0);
	CHECK("uname_64", uname(&u) == 0 && strlen(u.nodename) == 64);
	EXPECT_ERR("sethostname_fault", sethostname(BADPTR, 4), EFAULT);
	CHECK("sethostname_back", sethostname("compat-a", 8) == 0);

	/* unshare in a child: its names are its own. */
	pid_t pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWUTS) != 0)
			_exit(10);
		if (sethostname("child", 5) != 0)
			_exit(11);
		struct utsname cu;
		uname(&cu);
		_exit(strcmp(cu.nodename, "child") ? 12 : 0);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK("unshare_child", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK("parent_unchanged", uname(&u) == 0 && !strcmp(u.nodename, "compat-a"));

	/* clone with CLONE_NEWUTS. */
	static char stack[64 << 10];
	pid = clone(child_renames, stack + sizeof stack, CLONE_NEWUTS | SIGCHLD, NULL);
	CHECK("clone_newuts", pid > 0);
	waitpid(pid, &status, 0);
	CHECK("clone_child_ok", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK("parent_unchanged_2", uname(&u) == 0 && !strcmp(u.nodename, "compat-a"));

	/* Without privilege: EPERM. */
	pid = fork();
	if (pid == 0) {
		if (setuid(1000) != 0)
			_exit(20);
		if (sethostname("nope", 4) == 0)
			_exit(21);
		if (errno != EPERM)
			_exit(22);
		if (unshare(CLONE_NEWUTS) == 0 || errno != EPERM)
			_exit(23);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK("unprivileged_eperm", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return compat_failures > 100 ? 100 : compat_failures;
}
