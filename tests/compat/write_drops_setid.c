/* What a write by someone else does to set-ID bits, as Linux's
 * file_remove_privs: write, O_TRUNC, ftruncate, fallocate, pwrite,
 * sendfile and copy_file_range into a set-user-ID or set-group-ID file
 * take the bits away (set-group-ID without group execute too, for a
 * writer outside the file's group); touching it to now needs only write
 * permission, explicit times need the owner. Run as root. */
#include "common.h"
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dir[] = "/tmp/husk-wdrop-XXXXXX";

static void one(const char *how, mode_t mode)
{
	char p[300];
	snprintf(p, sizeof p, "%s/f", dir);
	unlink(p);
	int fd = open(p, O_CREAT | O_WRONLY, 0600);
	write(fd, "0123456789", 10);
	fchmod(fd, mode);
	close(fd);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		setgroups(0, NULL);
		setgid(1234);
		setuid(1234);
		int r = 0;
		if (!strcmp(how, "write")) {
			int f = open(p, O_WRONLY | O_APPEND);
			r = write(f, "x", 1) == 1 ? 0 : -1;
		} else if (!strcmp(how, "pwrite")) {
			int f = open(p, O_WRONLY);
			r = pwrite(f, "x", 1, 3) == 1 ? 0 : -1;
		} else if (!strcmp(how, "O_TRUNC")) {
			r = open(p, O_WRONLY | O_TRUNC) < 0 ? -1 : 0;
		} else if (!strcmp(how, "ftruncate")) {
			r = ftruncate(open(p, O_WRONLY), 4);
		} else if (!strcmp(how, "fallocate")) {
			r = posix_fallocate(open(p, O_WRONLY), 0, 8192) ? -1 : 0;
		} else if (!strcmp(how, "sendfile")) {
			int in = open("/proc/self/exe", O_RDONLY), f = open(p, O_WRONLY);
			r = sendfile(f, in, NULL, 100) > 0 ? 0 : -1;
		} else if (!strcmp(how, "copy_file_range")) {
			int in = open("/proc/self/exe", O_RDONLY), f = open(p, O_WRONLY);
			r = copy_file_range(in, NULL, f, NULL, 100, 0) > 0 ? 0 : -1;
		} else if (!strcmp(how, "touch")) {
			r = utimensat(AT_FDCWD, p, NULL, 0);
		} else if (!strcmp(how, "touch NOW,NOW")) {
			struct timespec t[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
			r = utimensat(AT_FDCWD, p, t, 0);
		} else if (!strcmp(how, "explicit times")) {
			struct timespec t[2] = {{1, 0}, {1, 0}};
			r = utimensat(AT_FDCWD, p, t, 0);
		} else if (!strcmp(how, "atime only")) {
			struct timespec t[2] = {{1, 0}, {0, UTIME_OMIT}};
			r = utimensat(AT_FDCWD, p, t, 0);
		}
		printf("%s on %o: %s", how, mode, r ? ename(errno) : "ok");
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	struct stat st;
	stat(p, &st);
	printf(", now %o\n", st.st_mode & 07777);
}

int main(void)
{
	if (getuid() != 0) {
		printf("needs root\n");
		return 0;
	}
	if (!mkdtemp(dir))
		return 1;
	if (private_tmpfs(dir, "mode=0777"))
		return 1;
	const char *hows[] = {"write", "pwrite", "O_TRUNC", "ftruncate", "fallocate", "sendfile",
			      "copy_file_range"};
	mode_t modes[] = {04777, 06777, 02777, 02767, 04767};
	for (unsigned i = 0; i < sizeof hows / sizeof hows[0]; i++)
		for (unsigned j = 0; j < sizeof modes / sizeof modes[0]; j++)
			one(hows[i], modes[j]);
	const char *touches[] = {"touch", "touch NOW,NOW", "explicit times", "atime only"};
	for (unsigned i = 0; i < 4; i++) {
		one(touches[i], 0666);
		one(touches[i], 0644);
	}
	return 0;
}
