/* What exec makes of credentials: set-user-ID and set-group-ID files
 * (group execute needed for the latter), file capabilities with and
 * without the effective bit, a bounding set that takes one of them
 * (EPERM), malformed capabilities (EINVAL), no_new_privs, a nosuid
 * mount, a tracer without CAP_SYS_PTRACE, an fs context shared with
 * another process, and a set-user-ID script (its interpreter runs as the caller).
 * The program copies itself and re-runs the copy as "probe", which
 * prints its ids, AT_SECURE, capability sets, dumpability and parent
 * death signal. Run as root. */
#include "common.h"
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>

static char dir[] = "/tmp/husk-setid-XXXXXX";
static char prog[256];

static int probe(const char *label)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	getresuid(&r, &e, &s);
	getresgid(&rg, &eg, &sg);
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {0};
	syscall(SYS_capget, &h, d);
	int pdeath = -1;
	prctl(PR_GET_PDEATHSIG, &pdeath);
	printf("%s: uid %d %d %d gid %d %d %d secure %lu eff %x%08x prm %x%08x "
	       "amb %d dumpable %d pdeath %d\n",
	       label, r, e, s, rg, eg, sg, getauxval(AT_SECURE), d[1].effective,
	       d[0].effective, d[1].permitted, d[0].permitted,
	       (int)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0),
	       (int)prctl(PR_GET_DUMPABLE), pdeath);
	return 0;
}

static int copy(const char *from, const char *to, mode_t mode, gid_t gid)
{
	int in = open(from, O_RDONLY), out = open(to, O_CREAT | O_WRONLY | O_TRUNC, 0700);
	if (in < 0 || out < 0)
		return -1;
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	if (fchown(out, 0, gid) || fchmod(out, mode))
		return -1;
	return close(out);
}

/* A version 2 security.capability value. */
static void fcaps(const char *path, unsigned magic, unsigned permitted)
{
	unsigned v[5] = {magic, permitted, 0, 0, 0};
	if (setxattr(path, "security.capability", v, sizeof v, 0))
		printf("setxattr %s: %s\n", path, ename(errno));
}

enum { USER = 1, NNP = 2, NO_RAW_BOUND = 4, NOSUID_MNT = 8, TRACED = 16, SHARED_FS = 32 };

/* Runs `path` as a probe in a child set up by `how`. */
static void run(const char *label, const char *path, int how)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		if (how & NOSUID_MNT) {
			char mnt[300];
			snprintf(mnt, sizeof mnt, "%s/mnt", dir);
			mkdir(mnt, 0755);
			if (unshare(CLONE_NEWNS) ||
			    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
			    mount("t", mnt, "tmpfs", MS_NOSUID, "mode=0755")) {
				printf("%s: mount %s\n", label, ename(errno));
				_exit(1);
			}
			static char p[320];
			snprintf(p, sizeof p, "%s/prog", mnt);
			if (copy(prog, p, 04755, 0))
				_exit(2);
			path = p;
		}
		if (how & NO_RAW_BOUND)
			prctl(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0);
		if (how & USER) {
			if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
				_exit(3);
		}
		if (how & NNP)
			prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		/* Traced by the caller itself, without CAP_SYS_PTRACE. */
		if (how & TRACED) {
			pid_t t = fork();
			if (t > 0) {
				int ws;
				while (waitpid(t, &ws, 0) == t && WIFSTOPPED(ws))
					ptrace(PTRACE_CONT, t, 0, 0);
				_exit(0);
			}
			ptrace(PTRACE_TRACEME, 0, 0, 0);
		}
		/* Sharing its root and working directory with its parent,
		 * another process (CLONE_FS). */
		if (how & SHARED_FS) {
			long t = syscall(SYS_clone, CLONE_FS | SIGCHLD, 0, 0, 0, 0);
			if (t > 0) {
				waitpid(t, NULL, 0);
				_exit(0);
			}
		}
		prctl(PR_SET_PDEATHSIG, SIGUSR1);
		char *argv[] = {(char *)path, "probe", (char *)label, NULL};
		execv(path, argv);
		printf("%s: exec %s\n", label, ename(errno));
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		printf("%s: status %x\n", label, st);
}

static void path_of(char *out, const char *name)
{
	snprintf(out, 256, "%s/%s", dir, name);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "probe"))
		return probe(argv[argc - 1]);
	if (getuid() != 0) {
		printf("needs root\n");
		return 0;
	}
	if (!mkdtemp(dir))
		return 1;
	/* The host's /tmp may be nosuid. */
	if (private_tmpfs(dir, "mode=0755"))
		return 1;
	path_of(prog, "prog");
	if (copy("/proc/self/exe", prog, 0755, 0))
		return 1;
	run("plain, as root", prog, 0);
	run("plain, as a user", prog, USER);

	char suid[256], sgid[256], sgid_nox[256], fc[256], fc_noeff[256], bad[256];
	char script[256];
	path_of(suid, "suid");
	copy(prog, suid, 04755, 0);
	run("set-user-ID root", suid, USER);
	run("set-user-ID root, no_new_privs", suid, USER | NNP);
	run("set-user-ID root, run by root", suid, 0);
	run("set-user-ID root, traced by the user", suid, USER | TRACED);
	run("set-user-ID root, fs shared with another process", suid, USER | SHARED_FS);
	run("set-user-ID root on a nosuid mount", suid, USER | NOSUID_MNT);

	path_of(sgid, "sgid");
	copy(prog, sgid, 02755, 42);
	run("set-group-ID", sgid, USER);
	path_of(sgid_nox, "sgid_nox");
	copy(prog, sgid_nox, 02745, 42);
	run("set-group-ID without group execute", sgid_nox, USER);

	unsigned raw = 1u << CAP_NET_RAW;
	path_of(fc, "fcaps");
	copy(prog, fc, 0755, 0);
	fcaps(fc, VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, raw);
	run("file capabilities", fc, USER);
	run("file capabilities, run by root", fc, 0);
	run("file capabilities, no_new_privs", fc, USER | NNP);
	run("file capabilities, traced by the user", fc, USER | TRACED);
	run("file capabilities, fs shared with another process", fc, USER | SHARED_FS);
	run("file capabilities beyond the bounding set", fc, USER | NO_RAW_BOUND);
	path_of(fc_noeff, "fcaps_noeff");
	copy(prog, fc_noeff, 0755, 0);
	fcaps(fc_noeff, VFS_CAP_REVISION_2, raw);
	run("file capabilities without the effective bit", fc_noeff, USER);
	run("file capabilities without the effective bit, bounded", fc_noeff,
	    USER | NO_RAW_BOUND);
	path_of(bad, "fcaps_bad");
	copy(prog, bad, 0755, 0);
	unsigned v[5] = {0x07000000, raw, 0, 0, 0};
	if (setxattr(bad, "security.capability", v, sizeof v, 0))
		printf("bad setxattr: %s\n", ename(errno));
	run("malformed file capabilities", bad, USER);

	/* A set-user-ID script: the interpreter (not set-ID) is what runs. */
	path_of(script, "script");
	int fd = open(script, O_CREAT | O_WRONLY | O_TRUNC, 0755);
	dprintf(fd, "#!%s probe\n", prog);
	close(fd);
	chmod(script, 04755);
	run("set-user-ID script", script, USER);

	/* A write, a truncate or a chown takes file capabilities away; a
	 * chmod does not. The value reads back as written. */
	const char *how[] = {"chmod", "write", "truncate", "chown", "open O_TRUNC"};
	for (int i = 0; i < 5; i++) {
		char k[256];
		path_of(k, "killpriv");
		copy(prog, k, 0755, 0);
		fcaps(k, VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, raw);
		unsigned got[6] = {0};
		ssize_t n = getxattr(k, "security.capability", got, sizeof got);
		int fd = open(k, O_WRONLY | (i == 4 ? O_TRUNC : 0));
		if (i == 0)
			fchmod(fd, 0711);
		if (i == 1)
			write(fd, "x", 1);
		if (i == 2)
			ftruncate(fd, 10);
		if (i == 3)
			fchown(fd, 0, 42);
		close(fd);
		ssize_t after = getxattr(k, "security.capability", got, sizeof got);
		printf("%s: read %zd (%x), after: %s\n", how[i], n, got[0],
		       after < 0 ? ename(errno) : "kept");
		unlink(k);
	}

	/* Copies of the set-ID program lose the bits; a write by root does
	 * not take the set-user-ID bit. */
	struct stat st;
	stat(suid, &st);
	printf("suid mode %o\n", st.st_mode & 07777);
	/* The tmpfs goes with this mount namespace; its mount point would
	 * stay behind on the host's /tmp. */
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return 0;
}
