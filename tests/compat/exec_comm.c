/* What comm becomes at exec: the last component of the name executed,
 * or, for an fd executed itself (fexecve, execveat AT_EMPTY_PATH), the
 * file's own name (a memfd's "memfd:NAME"), at most 15 bytes. */
#include "common.h"
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static void show_comm(const char *how)
{
	char b[32] = {0};
	read_text("/proc/self/comm", b, sizeof b);
	printf("%s: %s", how, b);
}

static void run(const char *how, int fd, const char *path, int flags)
{
	pid_t c = fork();
	if (c == 0) {
		char *v[] = {"x", (char *)how, NULL};
		char *e[] = {NULL};
		syscall(SYS_execveat, fd, path, v, e, flags);
		_exit(99);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK(how, WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		show_comm(argv[1]);
		return 0;
	}
	int self = open("/proc/self/exe", O_RDONLY);
	char exe[4096] = {0};
	readlink("/proc/self/exe", exe, sizeof exe - 1);
	run("by path", AT_FDCWD, exe, 0);
	run("by empty path", self, "", AT_EMPTY_PATH);
	struct stat st;
	fstat(self, &st);
	int m = memfd_create("a-long-memfd-name", 0x10U /* MFD_EXEC */);
	sendfile(m, self, NULL, st.st_size);
	run("by memfd", m, "", AT_EMPTY_PATH);

	/* A script named relative to a close-on-exec dirfd: its interpreter
	 * could not open /dev/fd/N/NAME, so ENOENT; without O_CLOEXEC it
	 * runs. */
	char dir[] = "/tmp/exec_commXXXXXX";
	mkdtemp(dir);
	char script[64];
	snprintf(script, sizeof script, "%s/s.sh", dir);
	int f = open(script, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	write(f, "#!/bin/true\n", 12);
	close(f);
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *v[] = {"s.sh", NULL};
	char *e[] = {NULL};
	EXPECT_ERR("script_cloexec_dirfd", syscall(SYS_execveat, d, "s.sh", v, e, 0), ENOENT);
	unlink(script);
	rmdir(dir);
	return compat_done();
}
