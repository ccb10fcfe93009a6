/* Threads changing one directory at once (create, rename over a shared
 * name, link, unlink, mkdir, rmdir, chmod) while others stat and list
 * it: every call succeeds as it would alone, the shared name is always
 * there once made, and the directory ends exactly as it must. A stress
 * loop for changes made without husk's kernel lock. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#define WRITERS 4
#define ROUNDS 200

static char dir[] = "/tmp/husk-treerace-XXXXXX";
static atomic_int failed, readers_bad, stop, made;

static void *writer(void *arg)
{
	int id = (int)(long)arg;
	char a[128], b[128], d[128], shared[128];
	snprintf(shared, sizeof shared, "%s/shared", dir);
	for (int k = 0; k < ROUNDS; k++) {
		snprintf(a, sizeof a, "%s/t%d_%d", dir, id, k);
		snprintf(b, sizeof b, "%s/l%d_%d", dir, id, k);
		snprintf(d, sizeof d, "%s/d%d", dir, id);
		int fd = open(a, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) != 0)
			failed++;
		if (link(a, b) != 0 || unlink(b) != 0 || chmod(a, 0600) != 0)
			failed++;
		if (mkdir(d, 0755) != 0 || rmdir(d) != 0)
			failed++;
		if (rename(a, shared) != 0)
			failed++;
		made = 1;
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	char shared[128];
	snprintf(shared, sizeof shared, "%s/shared", dir);
	while (!stop) {
		struct stat st;
		if (made && (stat(shared, &st) != 0 || st.st_size != 1))
			readers_bad++;
		DIR *d = opendir(dir);
		if (!d) {
			readers_bad++;
			continue;
		}
		while (readdir(d))
			;
		closedir(d);
	}
	return NULL;
}

int main(void)
{
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	pthread_t w[WRITERS], r[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&r[i], NULL, reader, NULL);
	for (int i = 0; i < WRITERS; i++)
		pthread_create(&w[i], NULL, writer, (void *)(long)i);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	CHECK("every_change_succeeded", failed == 0);
	CHECK("shared_name_always_seen", readers_bad == 0);
	DIR *d = opendir(dir);
	int n = 0, shared = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		shared += !strcmp(e->d_name, "shared");
	}
	if (d)
		closedir(d);
	CHECK("only_shared_left", n == 1 && shared == 1);
	char p[128];
	snprintf(p, sizeof p, "%s/shared", dir);
	CHECK("cleanup", unlink(p) == 0 && rmdir(dir) == 0);
	return compat_done();
}
