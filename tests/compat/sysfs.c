/* /sys: the CPU lists and transparent huge page settings programs read,
 * the top-level directories, a read-only sysfs mount, and the CPU count
 * glibc derives from it. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statfs.h>

static void show_file(const char *path)
{
	char buf[256] = {0};
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	printf("%s: %s\n", path, n >= 0 ? buf : ename(errno));
	if (fd >= 0)
		close(fd);
}

static int has_entry(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	while (d && (e = readdir(d)))
		found |= strcmp(e->d_name, name) == 0;
	if (d)
		closedir(d);
	return found;
}

int main(void)
{
	show_file("/sys/devices/system/cpu/online");
	show_file("/sys/devices/system/cpu/possible");
	show_file("/sys/devices/system/cpu/present");
	show_file("/sys/devices/system/cpu/kernel_max");
	show_file("/sys/kernel/mm/transparent_hugepage/enabled");
	show_file("/sys/devices/system/cpu/cpu0/topology/physical_package_id");
	struct stat st;
	CHECK("sys_is_dir", stat("/sys", &st) == 0 && S_ISDIR(st.st_mode));
	CHECK("online_is_file", stat("/sys/devices/system/cpu/online", &st) == 0 && S_ISREG(st.st_mode));
	SHOW("online_mode", "%o", st.st_mode & 0777);
	struct statfs sf;
	CHECK("statfs", statfs("/sys", &sf) == 0);
	SHOW("sysfs_magic", "%#lx", (unsigned long)sf.f_type);
	for (const char *d = "block\0bus\0class\0dev\0devices\0firmware\0fs\0kernel\0module\0power\0"; *d;
	     d += strlen(d) + 1)
		printf("top_%s %d\n", d, has_entry("/sys", d));
	CHECK("cgroup_dir", stat("/sys/fs/cgroup", &st) == 0 && S_ISDIR(st.st_mode));
	cpu_set_t set;
	CHECK("affinity", sched_getaffinity(0, sizeof set, &set) == 0);
	CHECK("nprocs_matches_affinity", sysconf(_SC_NPROCESSORS_ONLN) == CPU_COUNT(&set));
	EXPECT_ERR("missing", open("/sys/nonexistent", O_RDONLY), ENOENT);
	/* Creating there fails (EROFS in containers, where /sys is mounted
	 * read-only as here; EACCES/EPERM on a host's read-write sysfs). */
	CHECK("create_fails", open("/sys/newfile", O_CREAT | O_WRONLY, 0644) == -1);
	CHECK("mkdir_fails", mkdir("/sys/newdir", 0755) == -1);
	return compat_done();
}
