/* A file open for reading while another open writes it: the reader sees
 * the new bytes and size, keeps the file's identity (st_ino, st_dev), and
 * a flock through it meets one through a later open; a chmod shows in its
 * fstat; mappings made after the write see the new bytes. Under husk the
 * fixture, made by the native run next to the program, lies in the
 * overlay's lower layer, so the write copies it up (Linux's overlayfs
 * behaves so since 4.19). Each native run puts the fixture back. */
#include "common.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
	(void)argc;
	char path[4096];
	snprintf(path, sizeof path, "%s.fixture", argv[0]);
	if (access(path, F_OK) != 0) {
		int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (write(f, "line1\n", 6) != 6)
			return 100;
		close(f);
	}

	char b[64] = {0};
	int r = open(path, O_RDONLY);
	struct stat a, s;
	fstat(r, &a);
	SHOW("first read", "%zd", read(r, b, sizeof b));
	int w = open(path, O_WRONLY | O_APPEND);
	CHECK("append through a second open", write(w, "line2\n", 6) == 6);
	memset(b, 0, sizeof b);
	SHOW("the reader goes on with", "%zd", read(r, b, sizeof b));
	printf("and reads %s", b);
	fstat(r, &s);
	SHOW("its fstat size", "%lld", (long long)s.st_size);
	CHECK("its identity is kept", s.st_ino == a.st_ino && s.st_dev == a.st_dev);
	stat(path, &s);
	CHECK("the path names the same file", s.st_ino == a.st_ino && s.st_dev == a.st_dev);
	SHOW("its position", "%lld", (long long)lseek(r, 0, SEEK_CUR));
	SHOW("SEEK_END", "%lld", (long long)lseek(r, 0, SEEK_END));

	char *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, r, 0);
	CHECK("a new mapping sees the new bytes", m != MAP_FAILED && memcmp(m, "line1\nline2\n", 12) == 0);
	munmap(m, 4096);

	CHECK("flock through the reader", flock(r, LOCK_EX | LOCK_NB) == 0);
	int o = open(path, O_RDONLY);
	EXPECT_ERR("meets a flock through a new open", flock(o, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	close(o);

	int r2 = open(path, O_RDONLY);
	chmod(path, 0600);
	fstat(r2, &s);
	SHOW("a chmod shows through an open file", "%o", s.st_mode & 0777);

	/* Back as it was, for the next native run. */
	chmod(path, 0644);
	CHECK("put back", ftruncate(w, 6) == 0);
	return compat_done();
}
