/* pwrite64, writev, pwritev, preadv2, pwritev2, select/pselect6, sendfile,
 * fsync/fdatasync/syncfs. Writable regular files come from memfd_create so
 * nothing on the host filesystem is touched. */
#include "common.h"
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

static void drain(int fd)
{
	char b[4096];
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (read(fd, b, sizeof(b)) > 0)
		;
	fcntl(fd, F_SETFL, fl);
}

int main(void)
{
	int p[2];
	CHECK("pipe", pipe(p) == 0);
	int ro = open("/etc/passwd", O_RDONLY);
	CHECK("open_passwd", ro >= 0);
	struct stat st;
	fstat(ro, &st);
	CHECK("passwd_big_enough", st.st_size >= 64);
	char whole[8192];
	ssize_t wn = pread(ro, whole, sizeof(whole), 0);
	CHECK("pread_whole", wn > 0);

	int mf = memfd_create("husk-io", 0);
	CHECK("memfd_create", mf >= 0);

	/* pwrite64. */
	SHOW("pwrite_memfd", "%zd", pwrite(mf, "hello world", 11, 0));
	SHOW("pwrite_memfd_offset_unchanged", "%ld", (long)lseek(mf, 0, SEEK_CUR));
	SHOW("pwrite_memfd_hole", "%zd", pwrite(mf, "Z", 1, 20));
	fstat(mf, &st);
	SHOW("pwrite_memfd_size", "%ld", (long)st.st_size);
	char buf[256] = {0};
	SHOW("pread_back", "%zd", pread(mf, buf, 11, 0));
	printf("pread_back_data %s\n", buf);
	SHOW("pread_hole_zero", "%d", pread(mf, buf, 1, 15) == 1 && buf[0] == 0);
	int dn = open("/dev/null", O_WRONLY);
	SHOW("pwrite_devnull", "%zd", pwrite(dn, "abc", 3, 7));
	EXPECT_ERR("pwrite_devnull_negative_off", pwrite(dn, "abc", 3, -1), EINVAL);
	struct iovec dv[2] = {{"ab", 2}, {"cde", 3}};
	SHOW("pwritev_devnull", "%zd", pwritev(dn, dv, 2, 0));
	SHOW("pwritev2_devnull", "%zd", pwritev2(dn, dv, 2, 3, 0));
	SHOW("writev_devnull", "%zd", writev(dn, dv, 2));
	close(dn);
	EXPECT_ERR("pwrite_pipe_espipe", pwrite(p[1], "x", 1, 0), ESPIPE);
	EXPECT_ERR("pwrite_rdonly_ebadf", pwrite(ro, "x", 1, 0), EBADF);
	EXPECT_ERR("pwrite_ebadf", pwrite(999, "x", 1, 0), EBADF);
	EXPECT_ERR("pwrite_negative_off", pwrite(mf, "x", 1, -1), EINVAL);
	EXPECT_ERR("pwrite_efault", pwrite(mf, BADPTR, 1, 0), EFAULT);
	SHOW("pwrite_zero_len", "%zd", pwrite(mf, "x", 0, 0));
	EXPECT_ERR("pwrite64_raw_pipe", syscall(SYS_pwrite64, p[1], "x", 1, 0), ESPIPE);

	/* writev. */
	struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
	SHOW("writev_pipe", "%zd", writev(p[1], iov, 3));
	memset(buf, 0, sizeof(buf));
	SHOW("writev_pipe_read", "%zd", read(p[0], buf, sizeof(buf)));
	printf("writev_pipe_data %s\n", buf);
	SHOW("writev_zero_iovcnt", "%zd", writev(p[1], iov, 0));
	EXPECT_ERR("writev_negative_iovcnt", writev(p[1], iov, -1), EINVAL);
	EXPECT_ERR("writev_iovcnt_too_big", writev(p[1], iov, IOV_MAX + 1), EINVAL);
	EXPECT_ERR("writev_ebadf", writev(999, iov, 1), EBADF);
	EXPECT_ERR("writev_rdonly_ebadf", writev(ro, iov, 1), EBADF);
	EXPECT_ERR("writev_iov_efault", writev(p[1], BADPTR, 1), EFAULT);
	struct iovec badbase = {BADPTR, 4};
	EXPECT_ERR("writev_base_efault", writev(mf, &badbase, 1), EFAULT);
	struct iovec neglen[2] = {{"ab", 2}, {"cd", (size_t)-1}};
	EXPECT_ERR("writev_huge_len", writev(p[1], neglen, 2), EINVAL);
	lseek(mf, 0, SEEK_SET);
	SHOW("writev_memfd", "%zd", writev(mf, iov, 3));
	SHOW("writev_memfd_offset", "%ld", (long)lseek(mf, 0, SEEK_CUR));

	/* pwritev / preadv. */
	struct iovec pv[2] = {{"12", 2}, {"345", 3}};
	SHOW("pwritev_memfd", "%zd", pwritev(mf, pv, 2, 100));
	SHOW("pwritev_offset_unchanged", "%ld", (long)lseek(mf, 0, SEEK_CUR));
	char r1[3] = {0}, r2[4] = {0};
	struct iovec rv[2] = {{r1, 2}, {r2, 3}};
	SHOW("preadv_memfd", "%zd", preadv(mf, rv, 2, 100));
	printf("preadv_data %s|%s\n", r1, r2);
	EXPECT_ERR("pwritev_pipe_espipe", pwritev(p[1], pv, 2, 0), ESPIPE);
	EXPECT_ERR("preadv_pipe_espipe", preadv(p[0], rv, 2, 0), ESPIPE);
	EXPECT_ERR("pwritev_ebadf", pwritev(999, pv, 2, 0), EBADF);
	EXPECT_ERR("pwritev_negative_off", pwritev(mf, pv, 2, -5), EINVAL);
	EXPECT_ERR("pwritev_rdonly", pwritev(ro, pv, 2, 0), EBADF);

	/* preadv2 / pwritev2. */
	memset(r1, 0, sizeof(r1));
	memset(r2, 0, sizeof(r2));
	SHOW("preadv2_file_off5", "%zd", preadv2(ro, rv, 2, 5, 0));
	CHECK("preadv2_file_data", memcmp(r1, whole + 5, 2) == 0 && memcmp(r2, whole + 7, 3) == 0);
	SHOW("preadv2_keeps_offset", "%ld", (long)lseek(ro, 0, SEEK_CUR));
	SHOW("preadv2_off_minus1_uses_pos", "%zd", preadv2(ro, rv, 2, -1, 0));
	CHECK("preadv2_off_minus1_data", memcmp(r1, whole, 2) == 0);
	SHOW("preadv2_off_minus1_advances", "%ld", (long)lseek(ro, 0, SEEK_CUR));
	lseek(ro, 0, SEEK_SET);
	struct iovec one = {"pipe!", 5};
	SHOW("pwritev2_pipe_off_minus1", "%zd", pwritev2(p[1], &one, 1, -1, 0));
	memset(buf, 0, sizeof(buf));
	struct iovec rb = {buf, sizeof(buf)};
	SHOW("preadv2_pipe_off_minus1", "%zd", preadv2(p[0], &rb, 1, -1, 0));
	printf("preadv2_pipe_data %s\n", buf);
	EXPECT_ERR("pwritev2_pipe_off0", pwritev2(p[1], &one, 1, 0, 0), ESPIPE);
	EXPECT_ERR("preadv2_pipe_off0", preadv2(p[0], &rb, 1, 0, 0), ESPIPE);
	EXPECT_ERR("preadv2_bad_flags", preadv2(ro, rv, 2, 0, 0x40000000), EOPNOTSUPP);
	EXPECT_ERR("pwritev2_bad_flags", pwritev2(mf, pv, 2, 0, 0x40000000), EOPNOTSUPP);
	/* RWF_NOWAIT on an empty pipe must not block; run it in a child with
	 * an alarm so that a blocking implementation cannot hang the test. */
	pid_t c = fork();
	if (c == 0) {
		alarm(3);
		EXPECT_ERR("preadv2_nowait_empty_pipe", preadv2(p[0], &rb, 1, -1, RWF_NOWAIT), EAGAIN);
		_exit(compat_failures);
	}
	int cst;
	waitpid(c, &cst, 0);
	SHOW("preadv2_nowait_child_status", "%d", WIFEXITED(cst) ? WEXITSTATUS(cst) : 128 + WTERMSIG(cst));
	EXPECT_ERR("preadv2_ebadf", preadv2(999, &rb, 1, 0, 0), EBADF);
	SHOW("pwritev2_hipri_memfd", "%zd", pwritev2(mf, pv, 2, 0, RWF_HIPRI));
	fstat(mf, &st);
	long before = (long)st.st_size;
	SHOW("pwritev2_append", "%zd", pwritev2(mf, pv, 2, 0, RWF_APPEND));
	fstat(mf, &st);
	SHOW("pwritev2_append_grew_by", "%ld", (long)st.st_size - before);
	memset(buf, 0, sizeof(buf));
	pread(mf, buf, 5, before);
	printf("pwritev2_append_data %s\n", buf);
	SHOW("pwritev2_dsync", "%zd", pwritev2(mf, pv, 1, 0, RWF_DSYNC | RWF_SYNC));

	/* select. */
	fd_set rs, ws;
	struct timeval tv = {0, 0};
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	SHOW("select_empty_pipe_timeout0", "%d", select(p[0] + 1, &rs, NULL, NULL, &tv));
	SHOW("select_empty_cleared", "%d", FD_ISSET(p[0], &rs) != 0);
	write(p[1], "x", 1);
	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_SET(p[0], &rs);
	FD_SET(p[1], &ws);
	FD_SET(p[0], &ws); /* the read end is never writable */
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	int maxfd = (p[0] > p[1] ? p[0] : p[1]) + 1;
	SHOW("select_ready", "%d", select(maxfd, &rs, &ws, NULL, &tv));
	SHOW("select_read_set", "%d", FD_ISSET(p[0], &rs) != 0);
	SHOW("select_write_set", "%d", FD_ISSET(p[1], &ws) != 0);
	SHOW("select_readend_not_writable", "%d", FD_ISSET(p[0], &ws) != 0);
	tv.tv_sec = 5;
	tv.tv_usec = 0;
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	SHOW("select_ready_with_timeout", "%d", select(p[0] + 1, &rs, NULL, NULL, &tv));
	CHECK("select_timeout_updated_le", tv.tv_sec <= 5 && tv.tv_sec >= 4);
	drain(p[0]);
	tv.tv_sec = 0;
	tv.tv_usec = 20000;
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	SHOW("select_20ms_timeout", "%d", select(p[0] + 1, &rs, NULL, NULL, &tv));
	SHOW("select_20ms_remaining_zero", "%d", tv.tv_sec == 0 && tv.tv_usec == 0);
	SHOW("select_nothing_timeout0", "%d", select(0, NULL, NULL, NULL, &(struct timeval){0, 0}));
	int closed = dup(p[0]);
	close(closed);
	FD_ZERO(&rs);
	FD_SET(closed, &rs);
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	EXPECT_ERR("select_closed_fd", select(closed + 1, &rs, NULL, NULL, &tv), EBADF);
	FD_ZERO(&rs);
	EXPECT_ERR("select_nfds_negative", select(-1, &rs, NULL, NULL, &tv), EINVAL);
	struct timeval negtv = {-1, 0};
	EXPECT_ERR("select_negative_timeout", select(0, NULL, NULL, NULL, &negtv), EINVAL);
	struct timeval badusec = {0, 2000000};
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	write(p[1], "u", 1);
	/* Linux folds tv_usec >= 1000000 into seconds instead of failing. */
	SHOW("select_usec_too_big_normalized", "%d", select(p[0] + 1, &rs, NULL, NULL, &badusec));
	drain(p[0]);
	EXPECT_ERR("select_efault", select(p[0] + 1, BADPTR, NULL, NULL, &tv), EFAULT);
	/* select exceptfds on a pipe: never set. */
	fd_set es;
	FD_ZERO(&es);
	FD_SET(p[0], &es);
	write(p[1], "y", 1);
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	SHOW("select_except_pipe", "%d", select(p[0] + 1, NULL, NULL, &es, &tv));
	drain(p[0]);
	/* Closing the write end makes the read end readable (EOF). */
	int q[2];
	pipe(q);
	close(q[1]);
	FD_ZERO(&rs);
	FD_SET(q[0], &rs);
	SHOW("select_hup_readable", "%d", select(q[0] + 1, &rs, NULL, NULL, &tv));
	close(q[0]);

	/* pselect6. */
	struct timespec ts = {0, 0};
	sigset_t mask;
	sigemptyset(&mask);
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	SHOW("pselect_empty", "%d", pselect(p[0] + 1, &rs, NULL, NULL, &ts, &mask));
	write(p[1], "z", 1);
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	SHOW("pselect_ready", "%d", pselect(p[0] + 1, &rs, NULL, NULL, &ts, &mask));
	SHOW("pselect_read_set", "%d", FD_ISSET(p[0], &rs) != 0);
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	SHOW("pselect_null_mask", "%d", pselect(p[0] + 1, &rs, NULL, NULL, &ts, NULL));
	drain(p[0]);
	EXPECT_ERR("pselect_nfds_negative", pselect(-1, NULL, NULL, NULL, &ts, NULL), EINVAL);
	struct timespec badts = {0, 1000000000};
	EXPECT_ERR("pselect_bad_nsec", pselect(0, NULL, NULL, NULL, &badts, NULL), EINVAL);
	struct timespec negts = {-1, 0};
	EXPECT_ERR("pselect_negative_timeout", pselect(0, NULL, NULL, NULL, &negts, NULL), EINVAL);
	FD_ZERO(&rs);
	FD_SET(closed, &rs);
	EXPECT_ERR("pselect_closed_fd", pselect(closed + 1, &rs, NULL, NULL, &ts, NULL), EBADF);
	struct { const sigset_t *ss; size_t len; } sm = {&mask, 4};
	EXPECT_ERR("pselect6_bad_sigsetsize",
		   syscall(SYS_pselect6, 0, NULL, NULL, NULL, &ts, &sm), EINVAL);
	sm.len = 8;
	SHOW("pselect6_raw_ok", "%ld", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &ts, &sm));
	struct timespec ts10 = {0, 10000000};
	SHOW("pselect6_raw_10ms", "%ld", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &ts10, &sm));
	SHOW("pselect6_timeout_updated_zero", "%d", ts10.tv_sec == 0 && ts10.tv_nsec == 0);

	/* sendfile. */
	lseek(ro, 0, SEEK_SET);
	SHOW("sendfile_no_offset", "%zd", sendfile(p[1], ro, NULL, 40));
	SHOW("sendfile_advances_pos", "%ld", (long)lseek(ro, 0, SEEK_CUR));
	memset(buf, 0, sizeof(buf));
	CHECK("sendfile_data", read(p[0], buf, sizeof(buf)) == 40 && memcmp(buf, whole, 40) == 0);
	off_t off = 10;
	SHOW("sendfile_with_offset", "%zd", sendfile(p[1], ro, &off, 20));
	SHOW("sendfile_offset_updated", "%ld", (long)off);
	SHOW("sendfile_pos_unchanged", "%ld", (long)lseek(ro, 0, SEEK_CUR));
	memset(buf, 0, sizeof(buf));
	CHECK("sendfile_offset_data", read(p[0], buf, sizeof(buf)) == 20 && memcmp(buf, whole + 10, 20) == 0);
	off = st.st_size + 100; /* st is the memfd here; use the passwd size */
	struct stat pst;
	fstat(ro, &pst);
	off = pst.st_size;
	SHOW("sendfile_at_eof", "%zd", sendfile(p[1], ro, &off, 20));
	off = pst.st_size - 3;
	SHOW("sendfile_short_at_end", "%zd", sendfile(p[1], ro, &off, 20));
	drain(p[0]);
	SHOW("sendfile_zero_count", "%zd", sendfile(p[1], ro, NULL, 0));
	off = -1;
	EXPECT_ERR("sendfile_negative_offset", sendfile(p[1], ro, &off, 1), EINVAL);
	EXPECT_ERR("sendfile_out_ebadf", sendfile(999, ro, NULL, 1), EBADF);
	EXPECT_ERR("sendfile_in_ebadf", sendfile(p[1], 999, NULL, 1), EBADF);
	EXPECT_ERR("sendfile_out_readonly", sendfile(p[0], ro, NULL, 1), EBADF);
	int wo = open("/dev/null", O_WRONLY);
	EXPECT_ERR("sendfile_in_writeonly", sendfile(p[1], wo, NULL, 1), EBADF);
	EXPECT_ERR("sendfile_offset_efault", sendfile(p[1], ro, BADPTR, 1), EFAULT);
	lseek(ro, 0, SEEK_SET);
	SHOW("sendfile_to_devnull", "%zd", sendfile(wo, ro, NULL, 30));
	lseek(mf, 0, SEEK_SET);
	SHOW("sendfile_to_memfd", "%zd", sendfile(mf, ro, NULL, 30));
	memset(buf, 0, sizeof(buf));
	CHECK("sendfile_to_memfd_data", pread(mf, buf, 30, 0) == 30 && memcmp(buf, whole + 30, 30) == 0);
	lseek(ro, 0, SEEK_SET);
	write(p[1], "pipedata", 8);
	EXPECT_ERR("sendfile_from_pipe", sendfile(mf, p[0], NULL, 8), EINVAL);
	drain(p[0]);

	/* fsync / fdatasync / syncfs. */
	CHECK("fsync_rdonly_file", fsync(ro) == 0);
	CHECK("fdatasync_rdonly_file", fdatasync(ro) == 0);
	CHECK("fsync_memfd", fsync(mf) == 0);
	CHECK("fdatasync_memfd", fdatasync(mf) == 0);
	EXPECT_ERR("fsync_pipe", fsync(p[0]), EINVAL);
	EXPECT_ERR("fdatasync_pipe", fdatasync(p[1]), EINVAL);
	EXPECT_ERR("fsync_ebadf", fsync(999), EBADF);
	EXPECT_ERR("fdatasync_ebadf", fdatasync(999), EBADF);
	CHECK("syncfs_rdonly_file", syncfs(ro) == 0);
	CHECK("syncfs_pipe", syncfs(p[0]) == 0);
	CHECK("syncfs_devnull", syncfs(wo) == 0);
	EXPECT_ERR("syncfs_ebadf", syncfs(999), EBADF);
	EXPECT_ERR("fsync_devnull", fsync(wo), EINVAL);

	close(wo);
	close(mf);
	close(ro);
	return compat_done();
}
