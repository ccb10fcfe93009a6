/* Advisory locks: fcntl POSIX record locks, OFD locks and flock(2). */
#include "common.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl);
}

static int child_status(pid_t p)
{
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

int main(void)
{
	char dir[] = "/tmp/husk-locks-XXXXXX", path[64];
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/f", dir);
	int fd = open(path, O_CREAT | O_RDWR, 0644);
	write(fd, "0123456789", 10);

	CHECK("wrlck_0_5", setlk(fd, F_SETLK, F_WRLCK, 0, 5) == 0);
	pid_t me = getpid();
	pid_t c = fork();
	if (c == 0) {
		int f2 = open(path, O_RDWR);
		int ok = setlk(f2, F_SETLK, F_WRLCK, 0, 1) == -1 && (errno == EAGAIN || errno == EACCES);
		struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 1};
		ok = ok && fcntl(f2, F_GETLK, &q) == 0 && q.l_type == F_WRLCK && q.l_pid == me && q.l_start == 0 && q.l_len == 5;
		ok = ok && setlk(f2, F_SETLK, F_WRLCK, 5, 5) == 0; /* disjoint range */
		struct flock free_ = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 7, .l_len = 1};
		ok = ok && fcntl(f2, F_GETLK, &free_) == 0; /* own lock: no conflict */
		_exit(ok ? 0 : 1);
	}
	CHECK("child_sees_conflict_and_holder", child_status(c) == 0);

	/* F_SETLKW blocks until the holder unlocks. */
	int go[2];
	pipe(go);
	c = fork();
	if (c == 0) {
		int f2 = open(path, O_RDWR);
		char b;
		write(go[1], "r", 1);
		int r = setlk(f2, F_SETLKW, F_WRLCK, 0, 5);
		read(go[0], &b, 1); /* the parent wrote 'u' before unlocking */
		_exit(r == 0 && b == 'u' ? 0 : 1);
	}
	char b;
	read(go[0], &b, 1);
	usleep(50000);
	write(go[1], "u", 1);
	CHECK("unlock", setlk(fd, F_SETLK, F_UNLCK, 0, 0) == 0);
	CHECK("setlkw_waited", child_status(c) == 0);

	/* Shared read locks. */
	CHECK("rdlck", setlk(fd, F_SETLK, F_RDLCK, 0, 10) == 0);
	c = fork();
	if (c == 0) {
		int f2 = open(path, O_RDONLY);
		int ok = setlk(f2, F_SETLK, F_RDLCK, 0, 10) == 0;
		ok = ok && setlk(f2, F_SETLK, F_WRLCK, 0, 1) == -1 && errno == EBADF; /* read-only fd */
		_exit(ok ? 0 : 1);
	}
	CHECK("read_locks_shared", child_status(c) == 0);
	EXPECT_ERR("bad_type", setlk(fd, F_SETLK, 42, 0, 1), EINVAL);
	struct flock bw = {.l_type = F_RDLCK, .l_whence = 9};
	EXPECT_ERR("bad_whence", fcntl(fd, F_SETLK, &bw), EINVAL);
	EXPECT_ERR("lock_bad_fd", setlk(999, F_SETLK, F_RDLCK, 0, 1), EBADF);

	/* Closing any fd of the file drops the process's POSIX locks. */
	CHECK("wrlck_again", setlk(fd, F_SETLK, F_WRLCK, 0, 10) == 0);
	int other = open(path, O_RDONLY);
	close(other);
	c = fork();
	if (c == 0) {
		int f2 = open(path, O_RDWR);
		_exit(setlk(f2, F_SETLK, F_WRLCK, 0, 10) == 0 ? 0 : 1);
	}
	CHECK("close_releases_posix_locks", child_status(c) == 0);

	/* OFD locks belong to the open file description. */
	int a = open(path, O_RDWR), b2 = open(path, O_RDWR);
	CHECK("ofd_lock", setlk(a, F_OFD_SETLK, F_WRLCK, 0, 10) == 0);
	EXPECT_ERR("ofd_conflict_same_process", setlk(b2, F_OFD_SETLK, F_WRLCK, 0, 1), EAGAIN);
	struct flock bad = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_pid = 5};
	EXPECT_ERR("ofd_pid_nonzero", fcntl(a, F_OFD_SETLK, &bad), EINVAL);
	close(a);
	CHECK("ofd_released_on_close", setlk(b2, F_OFD_SETLK, F_WRLCK, 0, 1) == 0);
	close(b2);

	/* flock. */
	int x = open(path, O_RDONLY), y = open(path, O_RDONLY);
	CHECK("flock_ex", flock(x, LOCK_EX) == 0);
	EXPECT_ERR("flock_nb_conflict", flock(y, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	EXPECT_ERR("flock_bad_op", flock(y, 0), EINVAL);
	CHECK("flock_un", flock(x, LOCK_UN) == 0);
	CHECK("flock_sh_both", flock(x, LOCK_SH) == 0 && flock(y, LOCK_SH | LOCK_NB) == 0);
	close(x);
	close(y);

	/* A process's locks go away when it exits. */
	c = fork();
	if (c == 0) {
		int f2 = open(path, O_RDWR);
		setlk(f2, F_SETLK, F_WRLCK, 0, 10);
		_exit(0);
	}
	child_status(c);
	CHECK("exit_releases", setlk(fd, F_SETLK, F_WRLCK, 0, 10) == 0);

	/* A process's touching locks of one type are one lock, and F_GETLK
	 * reports its lowest conflicting one. */
	struct {
		const char *name;
		short t1;
		off_t s1, l1;
		short t2;
		off_t s2, l2;
	} merges[] = {
		{"adjacent", F_RDLCK, 0, 10, F_RDLCK, 10, 10},
		{"overlapping", F_WRLCK, 0, 10, F_WRLCK, 5, 10},
		{"adjacent_reversed", F_WRLCK, 10, 10, F_WRLCK, 0, 10},
		{"to_eof", F_WRLCK, 0, 10, F_WRLCK, 10, 0},
		{"downgrade", F_WRLCK, 0, 10, F_RDLCK, 0, 10},
		{"lowest_first", F_WRLCK, 20, 10, F_RDLCK, 0, 10},
	};
	for (unsigned i = 0; i < sizeof merges / sizeof merges[0]; i++) {
		setlk(fd, F_SETLK, F_UNLCK, 0, 0);
		setlk(fd, F_SETLK, merges[i].t1, merges[i].s1, merges[i].l1);
		setlk(fd, F_SETLK, merges[i].t2, merges[i].s2, merges[i].l2);
		c = fork();
		if (c == 0) {
			int f2 = open(path, O_RDWR);
			struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
			fcntl(f2, F_GETLK, &fl);
			printf("getlk %s: type=%d start=%ld len=%ld\n", merges[i].name, fl.l_type, (long)fl.l_start, (long)fl.l_len);
			_exit(0);
		}
		child_status(c);
	}
	close(fd);
	unlink(path);
	rmdir(dir);
	return compat_done();
}
