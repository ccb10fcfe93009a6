/* Path lookups racing with changes of the tree: stat(2) from other
 * threads must never see half of a change. renameat2(RENAME_EXCHANGE)
 * keeps both names present throughout; opening a file of the read-only
 * lower layer for writing (under husk: a copy-up into the overlay) never
 * shows it with another size. Runs several rounds (a stress loop). */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#define NFILES 64

static atomic_int stop;
static char dir[] = "/tmp/husk-walkrace-XXXXXX";
static char a_path[64], b_path[64];
static char *files[NFILES];
static off_t sizes[NFILES];
static int nfiles;

static void *exchanger(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3000 && !stop; i++)
		if (renameat2(AT_FDCWD, a_path, AT_FDCWD, b_path, RENAME_EXCHANGE) != 0)
			return (void *)1;
	return NULL;
}

static void *opener(void *arg)
{
	(void)arg;
	for (int i = 0; i < nfiles; i++) {
		int fd = open(files[i], O_RDWR);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

static long bad_exchange, bad_size;

static void *statter(void *arg)
{
	(void)arg;
	struct stat st;
	while (!stop) {
		if (stat(a_path, &st) != 0 || stat(b_path, &st) != 0)
			bad_exchange++;
		else if (st.st_size != 1 && st.st_size != 2)
			bad_exchange++;
		for (int i = 0; i < nfiles; i++)
			if (stat(files[i], &st) != 0 || st.st_size != sizes[i])
				bad_size++;
	}
	return NULL;
}

/* Files of `dir` (each `dir/NAME/tail` when tail is set) of [min, max)
 * bytes, up to `most` of them: big ones make a copy-up slow enough to
 * be met. */
static void collect(const char *dir, const char *tail, off_t min, off_t max, int most)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int got = 0;
	while (d && (e = readdir(d)) && nfiles < NFILES && got < most) {
		char p[512];
		struct stat st;
		snprintf(p, sizeof p, "%s/%s%s", dir, e->d_name, tail);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= min &&
		    st.st_size < max) {
			files[nfiles] = strdup(p);
			sizes[nfiles++] = st.st_size;
			got++;
		}
	}
	if (d)
		closedir(d);
}

int main(void)
{
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	snprintf(a_path, sizeof a_path, "%s/a", dir);
	snprintf(b_path, sizeof b_path, "%s/b", dir);
	int fa = open(a_path, O_CREAT | O_WRONLY, 0600);
	int fb = open(b_path, O_CREAT | O_WRONLY, 0600);
	CHECK("create", fa >= 0 && fb >= 0 && write(fa, "x", 1) == 1 && write(fb, "yy", 2) == 2);
	close(fa);
	close(fb);
	collect("/usr/share/doc", "/copyright", 0, 1 << 20, 48);
	collect("/usr/lib/x86_64-linux-gnu", "", 1 << 20, 8 << 20, 8);
	CHECK("lower_files", nfiles > 8);
	for (int round = 0; round < 5; round++) {
		pthread_t s[2], x, o;
		stop = 0;
		pthread_create(&s[0], NULL, statter, NULL);
		pthread_create(&s[1], NULL, statter, NULL);
		pthread_create(&o, NULL, opener, NULL);
		pthread_create(&x, NULL, exchanger, NULL);
		void *xr;
		pthread_join(x, &xr);
		pthread_join(o, NULL);
		stop = 1;
		pthread_join(s[0], NULL);
		pthread_join(s[1], NULL);
		if (xr)
			printf("exchange unsupported\n");
	}
	CHECK("exchange_never_half_seen", bad_exchange == 0);
	CHECK("copy_up_never_half_seen", bad_size == 0);
	unlink(a_path);
	unlink(b_path);
	rmdir(dir);
	return compat_done();
}
