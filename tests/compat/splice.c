/* Moving data between descriptors without a user buffer: copy_file_range
 * (file positions versus offset pointers, EOF, its errors), splice between
 * files and pipes and between pipes, tee, vmsplice, and sendfile to a pipe
 * and to a file. */
#include "common.h"
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>

static char dir[] = "/tmp/husk-splice-XXXXXX";

static void path(char *buf, const char *name)
{
	snprintf(buf, 64, "%s/%s", dir, name);
}

/* Creates name holding text and returns a descriptor opened with flags. */
static int mkfile(const char *name, const char *text, int flags)
{
	char p[64];
	path(p, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	if (text && write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -1;
	close(fd);
	return open(p, flags);
}

/* Prints the whole content of fd (read with pread from 0). */
static void show_file(const char *name, int fd)
{
	char b[128];
	ssize_t n = pread(fd, b, sizeof b - 1, 0);
	b[n < 0 ? 0 : n] = 0;
	printf("%s \"%s\"\n", name, b);
}

/* Prints what a non-blocking read of the pipe returns. */
static void show_pipe(const char *name, int fd)
{
	char b[128];
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	ssize_t n = read(fd, b, sizeof b - 1);
	fcntl(fd, F_SETFL, fl);
	b[n < 0 ? 0 : n] = 0;
	printf("%s %zd \"%s\"\n", name, n, b);
}

static long pos(int fd)
{
	return (long)lseek(fd, 0, SEEK_CUR);
}

static void test_copy_file_range(void)
{
	int in = mkfile("cfr_in", "0123456789abcdef", O_RDONLY);
	int out = mkfile("cfr_out", NULL, O_RDWR);
	CHECK("cfr_open", in >= 0 && out >= 0);

	/* NULL offsets: both file positions are used and advanced. */
	SHOW("cfr_null_off", "%zd", copy_file_range(in, NULL, out, NULL, 4, 0));
	SHOW("cfr_null_pos_in", "%ld", pos(in));
	SHOW("cfr_null_pos_out", "%ld", pos(out));
	SHOW("cfr_null_again", "%zd", copy_file_range(in, NULL, out, NULL, 3, 0));
	SHOW("cfr_null_pos_in2", "%ld", pos(in));
	SHOW("cfr_null_pos_out2", "%ld", pos(out));
	show_file("cfr_null_data", out);

	/* Offset pointers: the positions stay, the offsets move. */
	loff_t oi = 10, oo = 2;
	SHOW("cfr_ptr", "%zd", copy_file_range(in, &oi, out, &oo, 3, 0));
	SHOW("cfr_ptr_off_in", "%ld", (long)oi);
	SHOW("cfr_ptr_off_out", "%ld", (long)oo);
	SHOW("cfr_ptr_pos_in", "%ld", pos(in));
	SHOW("cfr_ptr_pos_out", "%ld", pos(out));
	show_file("cfr_ptr_data", out);

	/* Mixed: pointer for input only. */
	oi = 0;
	SHOW("cfr_mixed", "%zd", copy_file_range(in, &oi, out, NULL, 2, 0));
	SHOW("cfr_mixed_off_in", "%ld", (long)oi);
	SHOW("cfr_mixed_pos_in", "%ld", pos(in));
	SHOW("cfr_mixed_pos_out", "%ld", pos(out));
	show_file("cfr_mixed_data", out);

	/* Short copy at the end of the input, then nothing at EOF. */
	oi = 12;
	oo = 20;
	SHOW("cfr_short", "%zd", copy_file_range(in, &oi, out, &oo, 100, 0));
	SHOW("cfr_short_off_in", "%ld", (long)oi);
	SHOW("cfr_eof", "%zd", copy_file_range(in, &oi, out, &oo, 100, 0));
	oi = 1000;
	SHOW("cfr_past_eof", "%zd", copy_file_range(in, &oi, out, &oo, 10, 0));
	SHOW("cfr_zero_len", "%zd", copy_file_range(in, NULL, out, NULL, 0, 0));
	struct stat st;
	fstat(out, &st);
	SHOW("cfr_out_size", "%ld", (long)st.st_size);

	/* Errors. */
	oi = 0;
	EXPECT_ERR("cfr_flags", copy_file_range(in, NULL, out, NULL, 1, 1), EINVAL);
	EXPECT_ERR("cfr_bad_in", copy_file_range(999, NULL, out, NULL, 1, 0), EBADF);
	EXPECT_ERR("cfr_bad_out", copy_file_range(in, NULL, 999, NULL, 1, 0), EBADF);
	int wo = mkfile("cfr_wo", "xyz", O_WRONLY);
	int ro = mkfile("cfr_ro", "xyz", O_RDONLY);
	int ap = mkfile("cfr_ap", "xyz", O_WRONLY | O_APPEND);
	EXPECT_ERR("cfr_in_wronly", copy_file_range(wo, NULL, out, NULL, 1, 0), EBADF);
	EXPECT_ERR("cfr_out_rdonly", copy_file_range(in, NULL, ro, NULL, 1, 0), EBADF);
	EXPECT_ERR("cfr_out_append", copy_file_range(in, NULL, ap, NULL, 1, 0), EBADF);
	int d = open(dir, O_RDONLY | O_DIRECTORY);
	EXPECT_ERR("cfr_in_dir", copy_file_range(d, NULL, out, NULL, 1, 0), EISDIR);
	/* The directory check comes before the writability check. */
	EXPECT_ERR("cfr_out_dir", copy_file_range(in, NULL, d, NULL, 1, 0), EISDIR);
	int p[2];
	CHECK("cfr_pipe", pipe(p) == 0);
	write(p[1], "pp", 2);
	EXPECT_ERR("cfr_in_pipe", copy_file_range(p[0], NULL, out, NULL, 1, 0), EINVAL);
	EXPECT_ERR("cfr_out_pipe", copy_file_range(in, NULL, p[1], NULL, 1, 0), EINVAL);
	oi = -5;
	EXPECT_ERR("cfr_neg_off_in", copy_file_range(in, &oi, out, NULL, 1, 0), EINVAL);
	/* -1 + 1 wraps to 0 as an unsigned sum: the overflow check fires. */
	oi = -1;
	EXPECT_ERR("cfr_wrap_off_in", copy_file_range(in, &oi, out, NULL, 1, 0), EOVERFLOW);
	oo = -5;
	EXPECT_ERR("cfr_neg_off_out", copy_file_range(in, NULL, out, &oo, 1, 0), EINVAL);
	EXPECT_ERR("cfr_efault_off_in", copy_file_range(in, BADPTR, out, NULL, 1, 0), EFAULT);
	EXPECT_ERR("cfr_efault_off_out", copy_file_range(in, NULL, out, BADPTR, 1, 0), EFAULT);
	/* Same file, overlapping ranges. */
	int same = mkfile("cfr_same", "abcdefghij", O_RDWR);
	oi = 0;
	oo = 2;
	EXPECT_ERR("cfr_same_overlap", copy_file_range(same, &oi, same, &oo, 5, 0), EINVAL);
	oi = 0;
	oo = 5;
	SHOW("cfr_same_disjoint", "%zd", copy_file_range(same, &oi, same, &oo, 5, 0));
	show_file("cfr_same_data", same);
	close(p[0]);
	close(p[1]);
	close(d);
	close(wo);
	close(ro);
	close(ap);
	close(same);
	close(in);
	close(out);
}

static void test_splice(void)
{
	int in = mkfile("sp_in", "splice-source-data", O_RDONLY);
	int out = mkfile("sp_out", NULL, O_RDWR);
	int p[2], q[2];
	CHECK("sp_pipes", pipe(p) == 0 && pipe(q) == 0);

	/* file -> pipe using the file position. */
	SHOW("sp_file_to_pipe", "%zd", splice(in, NULL, p[1], NULL, 6, 0));
	SHOW("sp_file_pos", "%ld", pos(in));
	/* file -> pipe with an offset pointer: position unchanged. */
	loff_t off = 7;
	SHOW("sp_file_to_pipe_off", "%zd", splice(in, &off, p[1], NULL, 6, 0));
	SHOW("sp_file_off_after", "%ld", (long)off);
	SHOW("sp_file_pos_unchanged", "%ld", pos(in));
	/* pipe -> pipe moves the bytes. */
	SHOW("sp_pipe_to_pipe", "%zd", splice(p[0], NULL, q[1], NULL, 4, 0));
	show_pipe("sp_pipe_to_pipe_data", q[0]);
	/* pipe -> file using the position. */
	SHOW("sp_pipe_to_file", "%zd", splice(p[0], NULL, out, NULL, 3, 0));
	SHOW("sp_out_pos", "%ld", pos(out));
	/* pipe -> file with an offset pointer. */
	off = 10;
	SHOW("sp_pipe_to_file_off", "%zd", splice(p[0], NULL, out, &off, 100, 0));
	SHOW("sp_out_off_after", "%ld", (long)off);
	SHOW("sp_out_pos_unchanged", "%ld", pos(out));
	char b[32] = {0};
	ssize_t n = pread(out, b, sizeof b, 0);
	printf("sp_out_data %zd", n);
	for (ssize_t i = 0; i < n; i++)
		printf(" %02x", (unsigned char)b[i]);
	printf("\n");
	/* File EOF: splice returns 0. */
	off = 100;
	SHOW("sp_file_eof", "%zd", splice(in, &off, p[1], NULL, 5, 0));

	/* Errors. */
	int other = mkfile("sp_other", "x", O_RDWR);
	EXPECT_ERR("sp_no_pipe", splice(in, NULL, other, NULL, 1, 0), EINVAL);
	off = 0;
	write(p[1], "zz", 2);
	EXPECT_ERR("sp_off_on_pipe_in", splice(p[0], &off, out, NULL, 1, 0), ESPIPE);
	EXPECT_ERR("sp_off_on_pipe_out", splice(in, NULL, p[1], &off, 1, 0), ESPIPE);
	EXPECT_ERR("sp_bad_in", splice(999, NULL, p[1], NULL, 1, 0), EBADF);
	EXPECT_ERR("sp_bad_out", splice(p[0], NULL, 999, NULL, 1, 0), EBADF);
	EXPECT_ERR("sp_write_end_as_in", splice(p[1], NULL, out, NULL, 1, 0), EBADF);
	EXPECT_ERR("sp_read_end_as_out", splice(in, NULL, p[0], NULL, 1, 0), EBADF);
	EXPECT_ERR("sp_same_pipe", splice(p[0], NULL, p[1], NULL, 1, 0), EINVAL);
	int wo = mkfile("sp_wo", "abc", O_WRONLY);
	EXPECT_ERR("sp_in_wronly", splice(wo, NULL, p[1], NULL, 1, 0), EBADF);
	EXPECT_ERR("sp_out_rdonly", splice(p[0], NULL, in, NULL, 1, 0), EBADF);
	off = -1;
	EXPECT_ERR("sp_neg_off", splice(in, &off, q[1], NULL, 1, 0), EINVAL);
	EXPECT_ERR("sp_efault_off", splice(in, BADPTR, q[1], NULL, 1, 0), EFAULT);
	show_pipe("sp_drain", p[0]);
	/* Empty pipe with a writer: SPLICE_F_NONBLOCK -> EAGAIN. */
	EXPECT_ERR("sp_nonblock_empty", splice(p[0], NULL, out, NULL, 4, SPLICE_F_NONBLOCK), EAGAIN);
	/* Empty pipe, no writer: 0. */
	close(p[1]);
	SHOW("sp_empty_no_writer", "%zd", splice(p[0], NULL, out, NULL, 4, 0));
	close(p[0]);
	close(q[0]);
	close(q[1]);
	close(wo);
	close(other);
	close(in);
	close(out);
}

static void test_tee(void)
{
	int a[2], b[2];
	CHECK("tee_pipes", pipe(a) == 0 && pipe(b) == 0);
	write(a[1], "teedata", 7);
	SHOW("tee", "%zd", tee(a[0], b[1], 100, 0));
	show_pipe("tee_dst", b[0]);
	show_pipe("tee_src_still", a[0]);
	write(a[1], "0123456789", 10);
	SHOW("tee_partial", "%zd", tee(a[0], b[1], 4, 0));
	show_pipe("tee_partial_dst", b[0]);
	show_pipe("tee_partial_src", a[0]);
	write(a[1], "x", 1);
	EXPECT_ERR("tee_same_pipe", tee(a[0], a[1], 1, 0), EINVAL);
	int f = mkfile("tee_file", "abc", O_RDWR);
	EXPECT_ERR("tee_from_file", tee(f, b[1], 1, 0), EINVAL);
	EXPECT_ERR("tee_to_file", tee(a[0], f, 1, 0), EINVAL);
	EXPECT_ERR("tee_bad_fd", tee(999, b[1], 1, 0), EBADF);
	EXPECT_ERR("tee_write_end_in", tee(a[1], b[1], 1, 0), EBADF);
	show_pipe("tee_drain", a[0]);
	EXPECT_ERR("tee_nonblock_empty", tee(a[0], b[1], 1, SPLICE_F_NONBLOCK), EAGAIN);
	close(a[1]);
	SHOW("tee_empty_no_writer", "%zd", tee(a[0], b[1], 1, 0));
	close(a[0]);
	close(b[0]);
	close(b[1]);
	close(f);
}

static void test_vmsplice(void)
{
	int p[2];
	CHECK("vms_pipe", pipe(p) == 0);
	char x[] = "vm", y[] = "splice", z[] = "!";
	struct iovec iov[3] = {{x, 2}, {y, 6}, {z, 1}};
	SHOW("vmsplice", "%zd", vmsplice(p[1], iov, 3, 0));
	show_pipe("vmsplice_data", p[0]);
	int f = mkfile("vms_file", "abc", O_RDWR);
	EXPECT_ERR("vmsplice_file", vmsplice(f, iov, 3, 0), EBADF);
	EXPECT_ERR("vmsplice_bad_fd", vmsplice(999, iov, 3, 0), EBADF);
	EXPECT_ERR("vmsplice_flags", vmsplice(p[1], iov, 3, 0x100), EINVAL);
	SHOW("vmsplice_zero", "%zd", vmsplice(p[1], iov, 0, 0));
	close(p[0]);
	close(p[1]);
	close(f);
}

static void test_sendfile(void)
{
	int in = mkfile("sf_in", "sendfile-source", O_RDONLY);
	int out = mkfile("sf_out", NULL, O_RDWR);
	int p[2];
	CHECK("sf_pipe", pipe(p) == 0);

	SHOW("sf_to_pipe", "%zd", sendfile(p[1], in, NULL, 8));
	SHOW("sf_pos_advanced", "%ld", pos(in));
	show_pipe("sf_to_pipe_data", p[0]);
	off_t off = 9;
	SHOW("sf_to_pipe_off", "%zd", sendfile(p[1], in, &off, 6));
	SHOW("sf_off_after", "%ld", (long)off);
	SHOW("sf_pos_unchanged", "%ld", pos(in));
	show_pipe("sf_to_pipe_off_data", p[0]);

	off = 4;
	SHOW("sf_to_file_off", "%zd", sendfile(out, in, &off, 100));
	SHOW("sf_to_file_off_after", "%ld", (long)off);
	SHOW("sf_to_file_in_pos", "%ld", pos(in));
	SHOW("sf_to_file_out_pos", "%ld", pos(out));
	show_file("sf_to_file_data", out);
	SHOW("sf_to_file_rest", "%zd", sendfile(out, in, NULL, 100));
	SHOW("sf_to_file_in_pos2", "%ld", pos(in));
	SHOW("sf_at_eof", "%zd", sendfile(out, in, NULL, 100));
	off = 500;
	SHOW("sf_past_eof_off", "%zd", sendfile(out, in, &off, 10));
	show_file("sf_to_file_data2", out);

	EXPECT_ERR("sf_out_not_writable", sendfile(in, in, NULL, 1), EBADF);
	EXPECT_ERR("sf_bad_in", sendfile(out, 999, NULL, 1), EBADF);
	EXPECT_ERR("sf_bad_out", sendfile(999, in, NULL, 1), EBADF);
	int d = open(dir, O_RDONLY | O_DIRECTORY);
	EXPECT_ERR("sf_in_dir", sendfile(out, d, NULL, 1), EINVAL);
	int wo = mkfile("sf_wo", "abc", O_WRONLY);
	EXPECT_ERR("sf_in_wronly", sendfile(out, wo, NULL, 1), EBADF);
	off = -1;
	EXPECT_ERR("sf_neg_off", sendfile(out, in, &off, 1), EINVAL);
	EXPECT_ERR("sf_efault_off", sendfile(out, in, BADPTR, 1), EFAULT);
	close(d);
	close(wo);
	close(p[0]);
	close(p[1]);
	close(in);
	close(out);
}

static const char *names[] = {"cfr_in", "cfr_out", "cfr_wo", "cfr_ro", "cfr_ap", "cfr_same",
			      "sp_in", "sp_out", "sp_other", "sp_wo", "tee_file", "vms_file",
			      "sf_in", "sf_out", "sf_wo"};

int main(void)
{
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	test_copy_file_range();
	test_splice();
	test_tee();
	test_vmsplice();
	test_sendfile();
	int bad = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char p[64];
		path(p, names[i]);
		bad += unlink(p) != 0;
	}
	CHECK("cleanup", bad == 0 && rmdir(dir) == 0);
	return compat_done();
}
