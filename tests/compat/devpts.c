/* devpts mounts: every mount is an instance of its own (its ptys are
 * numbered from 0 and only it lists them), its options (ptmxmode, mode,
 * gid), /dev/ptmx opening from the instance at /dev/pts, a pty pair
 * working through it, and a bad option. Runs in a private mount
 * namespace, so the system's /dev/pts is untouched. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

static int count_entries(const char *dir, char *names, size_t n)
{
	DIR *d = opendir(dir);
	int c = 0;
	names[0] = 0;
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		c++;
		strncat(names, e->d_name, n - strlen(names) - 2);
		strcat(names, " ");
	}
	closedir(d);
	return c;
}

int main(void)
{
	char names[256], path[64];
	struct stat st;
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		printf("no private mount namespace\n");
		return 1;
	}
	EXPECT_ERR("bad option", mount("devpts", "/dev/pts", "devpts", 0, "size=5"), EINVAL);
	CHECK("mount new instance", mount("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=620,gid=5") == 0);
	struct statfs sf;
	CHECK("statfs magic", statfs("/dev/pts", &sf) == 0 && sf.f_type == 0x1cd1);
	CHECK("only ptmx", count_entries("/dev/pts", names, sizeof names) == 1 && !strcmp(names, "ptmx "));
	CHECK("ptmx node", stat("/dev/pts/ptmx", &st) == 0 && S_ISCHR(st.st_mode) && (st.st_mode & 0777) == 0666 &&
				   major(st.st_rdev) == 5 && minor(st.st_rdev) == 2);

	int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY);
	CHECK("open ptmx", m >= 0);
	CHECK("first pty is 0", ptsname_r(m, path, sizeof path) == 0 && !strcmp(path, "/dev/pts/0"));
	CHECK("unlock", unlockpt(m) == 0);
	CHECK("listed", count_entries("/dev/pts", names, sizeof names) == 2);
	CHECK("slave stat", stat("/dev/pts/0", &st) == 0 && S_ISCHR(st.st_mode) && (st.st_mode & 0777) == 0620 &&
				    st.st_gid == 5 && st.st_uid == getuid() && major(st.st_rdev) == 136 && minor(st.st_rdev) == 0);
	int s = open("/dev/pts/0", O_RDWR | O_NOCTTY);
	CHECK("open slave", s >= 0);
	char buf[16] = {0};
	CHECK("master to slave", write(m, "hi\n", 3) == 3 && read(s, buf, sizeof buf) == 3 && !memcmp(buf, "hi\n", 3));

	/* /dev/ptmx opens from the instance at /dev/pts. */
	int m2 = open("/dev/ptmx", O_RDWR | O_NOCTTY);
	CHECK("dev ptmx", m2 >= 0 && ptsname_r(m2, path, sizeof path) == 0 && !strcmp(path, "/dev/pts/1"));
	close(m2);

	/* A second instance with Linux's defaults. */
	mkdir("/tmp/husk-devpts", 0755);
	CHECK("mount defaults", mount("devpts", "/tmp/husk-devpts", "devpts", 0, NULL) == 0);
	CHECK("default ptmx mode", stat("/tmp/husk-devpts/ptmx", &st) == 0 && (st.st_mode & 07777) == 0);
	int m3 = open("/tmp/husk-devpts/ptmx", O_RDWR | O_NOCTTY);
	CHECK("its own numbering", m3 >= 0 && ptsname_r(m3, path, sizeof path) == 0 && !strcmp(path, "/dev/pts/0"));
	unlockpt(m3);
	CHECK("default slave mode", stat("/tmp/husk-devpts/0", &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_gid == getgid());
	CHECK("other instance unaffected", count_entries("/dev/pts", names, sizeof names) == 2);
	close(m3);
	CHECK("closed pty gone", count_entries("/tmp/husk-devpts", names, sizeof names) == 1);
	umount2("/tmp/husk-devpts", MNT_DETACH);
	rmdir("/tmp/husk-devpts");
	close(s);
	close(m);
	return compat_failures > 100 ? 100 : compat_failures;
}
