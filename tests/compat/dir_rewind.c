/* A directory stream sees the directory as it is when read: names made
 * after opendir and before the first read are listed, and a rewind
 * lists again (removed names gone, new ones there), on /tmp (the
 * sandbox's overlay) as on Linux. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

static int names(DIR *d, char *out, size_t n)
{
	struct dirent *e;
	int c = 0;
	out[0] = 0;
	char list[64][64];
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(list[c++], 64, "%s", e->d_name);
	}
	for (int i = 0; i < c; i++)
		for (int j = i + 1; j < c; j++)
			if (strcmp(list[i], list[j]) > 0) {
				char t[64];
				strcpy(t, list[i]);
				strcpy(list[i], list[j]);
				strcpy(list[j], t);
			}
	for (int i = 0; i < c; i++) {
		strncat(out, list[i], n - strlen(out) - 2);
		strcat(out, " ");
	}
	return c;
}

int main(void)
{
	char dir[] = "/tmp/husk-rewind-XXXXXX", p[256], got[512];
	if (!mkdtemp(dir))
		return 1;
	snprintf(p, sizeof p, "%s/b", dir);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	DIR *d = opendir(dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/a", dir);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	names(d, got, sizeof got);
	CHECK("read after changes since open", !strcmp(got, "a "));
	snprintf(p, sizeof p, "%s/c", dir);
	mkdir(p, 0755);
	rewinddir(d);
	names(d, got, sizeof got);
	CHECK("rewind lists again", !strcmp(got, "a c "));
	snprintf(p, sizeof p, "%s/a", dir);
	unlink(p);
	rewinddir(d);
	names(d, got, sizeof got);
	CHECK("removed name gone", !strcmp(got, "c "));
	closedir(d);
	snprintf(p, sizeof p, "%s/c", dir);
	rmdir(p);
	rmdir(dir);
	return compat_failures > 100 ? 100 : compat_failures;
}
