/* Which check Linux makes first, where a call breaks several rules, and
 * what a reaped or killed child still reports: fchmodat2 of a symlink
 * through an O_PATH fd (EOPNOTSUPP); link(2) of another's file into a
 * directory the caller cannot write (protected_hardlinks' EPERM before
 * EACCES); F_OFD_SETLK of a write lock on a read-only fd naming a pid
 * (EBADF before EINVAL); F_ADD_SEALS on a read-only plain file (EPERM
 * before EINVAL); waitid(WSTOPPED) of a child stopped, then killed
 * (ECHILD: a zombie has only its exit); a reaped child's pidfd hangs up
 * under epoll as under poll. Run as root. */
#include "common.h"
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(void)
{
	char dir[] = "/tmp/husk-errord-XXXXXX";
	mkdtemp(dir);
	chdir(dir);

	symlink("target", "sl");
	int ops = open("sl", O_PATH | O_NOFOLLOW);
	EXPECT_ERR("fchmodat2 symlink by O_PATH fd", syscall(452, ops, "", 0622, AT_EMPTY_PATH), EOPNOTSUPP);
	struct stat st;
	lstat("sl", &st);
	SHOW("symlink mode", "%o", st.st_mode & 07777);

	close(open("rootfile", O_CREAT | O_WRONLY, 0600));
	mkdir("closed", 0755);
	chmod(dir, 0777);
	pid_t c = fork();
	if (c == 0) {
		setgid(1000);
		setuid(1000);
		int r = link("rootfile", "closed/x");
		_exit(r == -1 ? errno : 0);
	}
	int s;
	waitpid(c, &s, 0);
	SHOW("link into a closed dir, another's file", "%s", ename(WEXITSTATUS(s)));

	int ro = open("rootfile", O_RDONLY);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 1};
	EXPECT_ERR("F_OFD_SETLK write lock, read-only fd, pid", fcntl(ro, F_OFD_SETLK, &fl), EBADF);
	fl.l_type = F_RDLCK;
	EXPECT_ERR("F_OFD_SETLK read lock, pid", fcntl(ro, F_OFD_SETLK, &fl), EINVAL);
	EXPECT_ERR("F_ADD_SEALS read-only plain file", fcntl(ro, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
	int rw = open("rootfile", O_RDWR);
	EXPECT_ERR("F_ADD_SEALS plain file", fcntl(rw, F_ADD_SEALS, F_SEAL_WRITE), EINVAL);

	/* Stopped, never reported, then killed. */
	c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	kill(c, SIGSTOP);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	waitid(P_PID, c, &si, WSTOPPED | WNOWAIT);
	kill(c, SIGKILL);
	/* Until it is a zombie, not reaping it. */
	waitid(P_PID, c, &si, WEXITED | WNOWAIT);
	memset(&si, 0, sizeof si);
	EXPECT_ERR("waitid WSTOPPED of a killed child", waitid(P_PID, c, &si, WSTOPPED | WNOHANG), ECHILD);
	memset(&si, 0, sizeof si);
	CHECK("waitid WEXITED reaps it", waitid(P_PID, c, &si, WEXITED) == 0 && si.si_code == CLD_KILLED);

	/* A reaped child's pidfd: readable and hung up, both ways. */
	c = fork();
	if (c == 0)
		_exit(0);
	int pfd = syscall(SYS_pidfd_open, c, 0);
	waitpid(c, &s, 0);
	struct pollfd pp = {pfd, POLLIN, 0};
	poll(&pp, 1, 0);
	SHOW("poll after reap", "%#x", pp.revents);
	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLIN, {0}};
	epoll_ctl(ep, EPOLL_CTL_ADD, pfd, &ev);
	memset(&ev, 0, sizeof ev);
	SHOW("epoll after reap", "%d", epoll_wait(ep, &ev, 1, 0));
	SHOW("  events", "%#x", ev.events);

	unlink("sl");
	unlink("rootfile");
	rmdir("closed");
	chdir("/");
	rmdir(dir);
	return compat_done();
}
