/* Creates, stats and unlinks N small files in a fresh directory under DIR:
 * the metadata-heavy half of the filesystem benchmark. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] : "/tmp";
	long n = argc > 2 ? atol(argv[2]) : 10000;
	char dir[4096], path[4200];
	snprintf(dir, sizeof dir, "%s/husk-bench-files.%d", base, (int)getpid());
	if (mkdir(dir, 0755) != 0) {
		perror("mkdir");
		return 1;
	}
	static const char data[100] = "husk";
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/f%ld", dir, i);
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0 || write(fd, data, sizeof data) != sizeof data) {
			perror("create");
			return 1;
		}
		close(fd);
	}
	for (long i = 0; i < n; i++) {
		struct stat st;
		snprintf(path, sizeof path, "%s/f%ld", dir, i);
		if (stat(path, &st) != 0 || st.st_size != sizeof data) {
			perror("stat");
			return 1;
		}
	}
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/f%ld", dir, i);
		if (unlink(path) != 0) {
			perror("unlink");
			return 1;
		}
	}
	if (rmdir(dir) != 0) {
		perror("rmdir");
		return 1;
	}
	return 0;
}
