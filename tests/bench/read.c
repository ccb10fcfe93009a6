/* Reads FILE sequentially with BLOCK-byte reads (default 1 MiB) and
 * prints the milliseconds the reads took, timed inside the process so
 * start-up is not counted. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	size_t block = argc > 2 ? (size_t)atol(argv[2]) : 1 << 20;
	char *buf = malloc(block);
	int fd = open(argv[1], O_RDONLY);
	if (!buf || fd < 0) {
		perror("read bench");
		return 1;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	long long total = 0;
	ssize_t n;
	while ((n = read(fd, buf, block)) > 0)
		total += n;
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (n < 0 || total == 0) {
		perror("read bench");
		return 1;
	}
	printf("%.2f\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
	return 0;
}
