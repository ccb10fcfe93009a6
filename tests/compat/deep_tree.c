/* A directory chain deeper than PATH_MAX, made and removed with *at
 * calls relative to directory fds (as mkdir -p, tar and rm -rf do): any
 * depth works, only a single path argument is limited to 4096 bytes. */
#include "common.h"
#include <sys/stat.h>
#include <sys/syscall.h>

#define DEPTH 100

int main(void)
{
	char base[] = "/tmp/husk-deep-XXXXXX";
	if (!mkdtemp(base))
		return 1;
	char name[49];
	memset(name, 'd', 48);
	name[48] = 0;
	int fds[DEPTH + 1];
	fds[0] = open(base, O_RDONLY | O_DIRECTORY);
	int made = 0;
	for (int i = 1; i <= DEPTH; i++) {
		if (mkdirat(fds[i - 1], name, 0755) != 0)
			break;
		fds[i] = openat(fds[i - 1], name, O_RDONLY | O_DIRECTORY);
		if (fds[i] < 0)
			break;
		made = i;
	}
	printf("levels made: %d\n", made);
	CHECK("file_at_the_bottom", made == DEPTH && close(openat(fds[DEPTH], "f", O_CREAT | O_WRONLY, 0644)) == 0);
	struct stat st;
	CHECK("fstatat_at_the_bottom", fstatat(fds[DEPTH], "f", &st, 0) == 0 && S_ISREG(st.st_mode));
	/* The whole path as one argument is too long. */
	static char whole[8192];
	int n = snprintf(whole, sizeof whole, "%s", base);
	for (int i = 0; i < DEPTH; i++)
		n += snprintf(whole + n, sizeof whole - n, "/%s", name);
	EXPECT_ERR("whole_path_too_long", open(whole, O_RDONLY), ENAMETOOLONG);
	/* Removed from the bottom up, relative to each parent. */
	int ok = unlinkat(fds[DEPTH], "f", 0) == 0;
	for (int i = DEPTH; i >= 1; i--) {
		close(fds[i]);
		ok &= unlinkat(fds[i - 1], name, AT_REMOVEDIR) == 0;
	}
	CHECK("removed_bottom_up", ok);
	close(fds[0]);
	CHECK("base_removed", rmdir(base) == 0);
	return compat_done();
}
