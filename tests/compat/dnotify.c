/* fcntl(F_NOTIFY): a directory fd gets a signal when its entries change,
 * with F_SETSIG's signal carrying POLL_MSG and the fd; once unless
 * DN_MULTISHOT; 0 cancels; only directories. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

static int wait_sig(int sig, siginfo_t *si)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	struct timespec ts = {0, 300000000};
	return sigtimedwait(&s, si, &ts);
}

int main(void)
{
	char dir[] = "/tmp/dnotify_XXXXXX";
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	int sig = SIGRTMIN + 1;
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, sig);
	sigaddset(&block, SIGIO);
	sigprocmask(SIG_BLOCK, &block, NULL);

	int d = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK("open_dir", d >= 0);
	CHECK("setsig", fcntl(d, F_SETSIG, sig) == 0);
	CHECK("notify_create_multishot", fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT) == 0);
	char path[256];
	snprintf(path, sizeof path, "%s/a", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	siginfo_t si;
	memset(&si, 0, sizeof si);
	CHECK("create_signals", wait_sig(sig, &si) == sig);
	CHECK("si_code_poll_msg", si.si_code == POLL_MSG);
	CHECK("si_fd_is_the_dir", si.si_fd == d);
	CHECK("si_band", (si.si_band & (POLLIN | POLLMSG)) == (POLLIN | POLLMSG));
	snprintf(path, sizeof path, "%s/b", dir);
	mkdir(path, 0700);
	CHECK("multishot_signals_again", wait_sig(sig, &si) == sig);
	/* Deletion was not asked for. */
	unlink(path);
	rmdir(path);
	CHECK("delete_not_asked", wait_sig(sig, &si) == -1 && errno == EAGAIN);

	/* 0 cancels. */
	CHECK("notify_cancel", fcntl(d, F_NOTIFY, 0) == 0);
	while (wait_sig(sig, &si) == sig)
		;
	snprintf(path, sizeof path, "%s/c", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	CHECK("cancelled", wait_sig(sig, &si) == -1 && errno == EAGAIN);

	/* Without DN_MULTISHOT a request fires once. */
	CHECK("notify_delete_once", fcntl(d, F_NOTIFY, DN_DELETE) == 0);
	unlink(path);
	CHECK("delete_signals", wait_sig(sig, &si) == sig);
	snprintf(path, sizeof path, "%s/a", dir);
	unlink(path);
	CHECK("one_shot_spent", wait_sig(sig, &si) == -1 && errno == EAGAIN);

	/* Requests add up: DN_ATTRIB then DN_CREATE, both heard. */
	CHECK("notify_attrib", fcntl(d, F_NOTIFY, DN_ATTRIB | DN_MULTISHOT) == 0);
	CHECK("notify_create_too", fcntl(d, F_NOTIFY, DN_CREATE) == 0);
	snprintf(path, sizeof path, "%s/e", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	CHECK("cumulative_create", wait_sig(sig, &si) == sig);
	chmod(path, 0644);
	CHECK("cumulative_attrib", wait_sig(sig, &si) == sig);
	CHECK("notify_cancel_again", fcntl(d, F_NOTIFY, 0) == 0);
	unlink(path);
	while (wait_sig(sig, &si) == sig)
		;

	snprintf(path, sizeof path, "%s/c", dir);
	/* Without F_SETSIG the signal is SIGIO. */
	CHECK("setsig_zero", fcntl(d, F_SETSIG, 0) == 0);
	CHECK("notify_modify", fcntl(d, F_NOTIFY, DN_CREATE) == 0);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	CHECK("sigio", wait_sig(SIGIO, &si) == SIGIO);
	unlink(path);

	int f = open("/etc/hostname", O_RDONLY);
	EXPECT_ERR("not_a_directory", fcntl(f, F_NOTIFY, DN_CREATE), ENOTDIR);
	close(f);
	close(d);
	rmdir(dir);
	return compat_done();
}
