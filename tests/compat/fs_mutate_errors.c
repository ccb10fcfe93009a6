/* Error cases of the calls that modify the filesystem, statfs/fstatfs, the
 * xattr getters and faccessat2.
 *
 * Natively this runs as root on a writable host, under husk on a read-only
 * root: only errors whose errno does not depend on writability are tested,
 * and no call here can succeed natively (nothing on the host changes). */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define MISSING "/nonexistent-husk-dir/x"
#define NOTDIR "/etc/passwd/x"

static char longpath[5000];
static char longcomp[304];

int main(void)
{
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longcomp[0] = '/';
	memset(longcomp + 1, 'b', 299);
	memcpy(longcomp + 300, "/x", 3); /* a 299-byte directory component */
	int ro = open("/etc/passwd", O_RDONLY);
	CHECK("open_passwd", ro >= 0);
	int dfd = open("/etc", O_RDONLY | O_DIRECTORY);
	CHECK("open_etc", dfd >= 0);
	int p[2];
	CHECK("pipe", pipe(p) == 0);

	/* truncate / ftruncate. */
	EXPECT_ERR("truncate_enoent", truncate(MISSING, 0), ENOENT);
	EXPECT_ERR("truncate_enoent_file", truncate("/etc/nonexistent-husk-file", 0), ENOENT);
	EXPECT_ERR("truncate_enotdir", truncate(NOTDIR, 0), ENOTDIR);
	EXPECT_ERR("truncate_eisdir", truncate("/etc", 0), EISDIR);
	EXPECT_ERR("truncate_negative", truncate("/etc/passwd", -1), EINVAL);
	EXPECT_ERR("truncate_efault", truncate(BADPTR, 0), EFAULT);
	EXPECT_ERR("truncate_nametoolong", truncate(longpath, 0), ENAMETOOLONG);
	EXPECT_ERR("ftruncate_ebadf", ftruncate(999, 0), EBADF);
	EXPECT_ERR("ftruncate_rdonly", ftruncate(ro, 0), EINVAL);
	EXPECT_ERR("ftruncate_negative", ftruncate(ro, -1), EINVAL);
	EXPECT_ERR("ftruncate_dir", ftruncate(dfd, 0), EINVAL);
	EXPECT_ERR("ftruncate_pipe", ftruncate(p[1], 0), EINVAL);

	/* rename / renameat2. */
	EXPECT_ERR("rename_enoent", rename(MISSING, "/nonexistent-husk-dir/y"), ENOENT);
	EXPECT_ERR("rename_enotdir", rename(NOTDIR, "/etc/passwd/y"), ENOTDIR);
	EXPECT_ERR("rename_efault", rename(BADPTR, MISSING), EFAULT);
	EXPECT_ERR("rename_nametoolong", rename(longpath, MISSING), ENAMETOOLONG);
	EXPECT_ERR("rename_comp_nametoolong", rename(longcomp, MISSING), ENAMETOOLONG);
	EXPECT_ERR("renameat_ebadf", renameat(999, "a", AT_FDCWD, "b"), EBADF);
	EXPECT_ERR("renameat2_bad_flags",
		   syscall(SYS_renameat2, AT_FDCWD, MISSING, AT_FDCWD, MISSING, 0x80000000u), EINVAL);
	EXPECT_ERR("renameat2_exchange_noreplace",
		   syscall(SYS_renameat2, AT_FDCWD, MISSING, AT_FDCWD, MISSING,
			   RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);

	/* mkdir / mkdirat / rmdir. */
	EXPECT_ERR("mkdir_eexist", mkdir("/etc", 0755), EEXIST);
	EXPECT_ERR("mkdir_eexist_file", mkdir("/etc/passwd", 0755), EEXIST);
	EXPECT_ERR("mkdir_root_eexist", mkdir("/", 0755), EEXIST);
	EXPECT_ERR("mkdir_enoent", mkdir(MISSING, 0755), ENOENT);
	EXPECT_ERR("mkdir_enotdir", mkdir(NOTDIR, 0755), ENOTDIR);
	EXPECT_ERR("mkdir_efault", mkdir(BADPTR, 0755), EFAULT);
	EXPECT_ERR("mkdir_nametoolong", mkdir(longpath, 0755), ENAMETOOLONG);
	EXPECT_ERR("mkdir_empty", mkdir("", 0755), ENOENT);
	EXPECT_ERR("mkdirat_eexist", mkdirat(dfd, "passwd", 0755), EEXIST);
	EXPECT_ERR("mkdirat_ebadf", mkdirat(999, "x", 0755), EBADF);
	EXPECT_ERR("mkdirat_enotdir_fd", mkdirat(ro, "x", 0755), ENOTDIR);
	EXPECT_ERR("rmdir_enoent", rmdir(MISSING), ENOENT);
	EXPECT_ERR("rmdir_enotdir_component", rmdir(NOTDIR), ENOTDIR);
	/* On a writable filesystem (here /tmp: tmpfs in the sandbox) the
	 * last component's type is checked; a read-only root says EROFS first. */
	{
		char d[] = "/tmp/husk-mut-XXXXXX", f[64], sub[64];
		mkdtemp(d);
		snprintf(f, sizeof f, "%s/file", d);
		snprintf(sub, sizeof sub, "%s/dir", d);
		close(open(f, O_CREAT | O_WRONLY, 0600));
		mkdir(sub, 0700);
		EXPECT_ERR("rmdir_file", rmdir(f), ENOTDIR);
		EXPECT_ERR("unlink_eisdir", unlink(sub), EISDIR);
		unlink(f);
		rmdir(sub);
		rmdir(d);
	}
	EXPECT_ERR("rmdir_dot", rmdir("/etc/."), EINVAL);
	EXPECT_ERR("rmdir_dotdot", rmdir("/etc/.."), ENOTEMPTY);
	EXPECT_ERR("rmdir_root", rmdir("/"), EBUSY);
	EXPECT_ERR("rmdir_efault", rmdir(BADPTR), EFAULT);

	/* creat (never on an existing regular file). */
	EXPECT_ERR("creat_enoent", creat(MISSING, 0644), ENOENT);
	EXPECT_ERR("creat_enotdir", creat(NOTDIR, 0644), ENOTDIR);
	EXPECT_ERR("creat_eisdir", creat("/etc", 0644), EISDIR);
	EXPECT_ERR("creat_efault", creat(BADPTR, 0644), EFAULT);
	EXPECT_ERR("creat_nametoolong", creat(longpath, 0644), ENAMETOOLONG);
	EXPECT_ERR("open_creat_excl_eexist", open("/etc/passwd", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);

	/* link / linkat / unlink / unlinkat. */
	EXPECT_ERR("link_src_enoent", link(MISSING, "/nonexistent-husk-dir/y"), ENOENT);
	EXPECT_ERR("link_dst_eexist", link("/etc/passwd", "/etc"), EEXIST);
	EXPECT_ERR("link_dst_enoent", link("/etc/passwd", MISSING), ENOENT);
	EXPECT_ERR("link_enotdir", link(NOTDIR, "/etc"), ENOTDIR);
	EXPECT_ERR("link_efault", link(BADPTR, MISSING), EFAULT);
	EXPECT_ERR("linkat_bad_flags", linkat(AT_FDCWD, MISSING, AT_FDCWD, MISSING, 0x8000000), EINVAL);
	EXPECT_ERR("linkat_ebadf", linkat(999, "a", AT_FDCWD, MISSING, 0), EBADF);
	EXPECT_ERR("unlink_enoent", unlink(MISSING), ENOENT);
	EXPECT_ERR("unlink_enotdir", unlink(NOTDIR), ENOTDIR);
	EXPECT_ERR("unlink_efault", unlink(BADPTR), EFAULT);
	EXPECT_ERR("unlink_nametoolong", unlink(longpath), ENAMETOOLONG);
	EXPECT_ERR("unlinkat_bad_flags", unlinkat(AT_FDCWD, MISSING, 0x1234), EINVAL);
	EXPECT_ERR("unlinkat_ebadf", unlinkat(999, "x", 0), EBADF);
	EXPECT_ERR("unlinkat_enoent", unlinkat(dfd, "nonexistent-husk-dir/x", 0), ENOENT);
	EXPECT_ERR("unlinkat_removedir_enoent", unlinkat(AT_FDCWD, MISSING, AT_REMOVEDIR), ENOENT);

	/* symlink / symlinkat. */
	EXPECT_ERR("symlink_eexist", symlink("target", "/etc"), EEXIST);
	EXPECT_ERR("symlink_enoent", symlink("target", MISSING), ENOENT);
	EXPECT_ERR("symlink_enotdir", symlink("target", NOTDIR), ENOTDIR);
	EXPECT_ERR("symlink_empty_target", symlink("", MISSING), ENOENT);
	EXPECT_ERR("symlink_efault_target", symlink(BADPTR, MISSING), EFAULT);
	EXPECT_ERR("symlink_efault_link", symlink("target", BADPTR), EFAULT);
	EXPECT_ERR("symlinkat_ebadf", symlinkat("target", 999, "x"), EBADF);
	EXPECT_ERR("symlinkat_eexist", symlinkat("target", dfd, "passwd"), EEXIST);

	/* chmod family. */
	EXPECT_ERR("chmod_enoent", chmod(MISSING, 0644), ENOENT);
	EXPECT_ERR("chmod_enoent_file", chmod("/etc/nonexistent-husk-file", 0644), ENOENT);
	EXPECT_ERR("chmod_enotdir", chmod(NOTDIR, 0644), ENOTDIR);
	EXPECT_ERR("chmod_efault", chmod(BADPTR, 0644), EFAULT);
	EXPECT_ERR("chmod_nametoolong", chmod(longpath, 0644), ENAMETOOLONG);
	EXPECT_ERR("fchmod_ebadf", fchmod(999, 0644), EBADF);
	EXPECT_ERR("fchmodat_enoent", fchmodat(AT_FDCWD, MISSING, 0644, 0), ENOENT);
	EXPECT_ERR("fchmodat_ebadf", fchmodat(999, "x", 0644, 0), EBADF);
	EXPECT_ERR("fchmodat_raw_enoent", syscall(SYS_fchmodat, AT_FDCWD, MISSING, 0644), ENOENT);
	EXPECT_ERR("fchmodat_raw_enotdir_fd", syscall(SYS_fchmodat, ro, "x", 0644), ENOTDIR);

	/* chown family. */
	EXPECT_ERR("chown_enoent", chown(MISSING, 0, 0), ENOENT);
	EXPECT_ERR("chown_enotdir", chown(NOTDIR, 0, 0), ENOTDIR);
	EXPECT_ERR("chown_efault", chown(BADPTR, 0, 0), EFAULT);
	EXPECT_ERR("lchown_enoent", lchown(MISSING, 0, 0), ENOENT);
	EXPECT_ERR("lchown_nametoolong", lchown(longpath, 0, 0), ENAMETOOLONG);
	EXPECT_ERR("fchown_ebadf", fchown(999, 0, 0), EBADF);
	EXPECT_ERR("fchownat_bad_flags", fchownat(AT_FDCWD, MISSING, 0, 0, 0x1), EINVAL);
	EXPECT_ERR("fchownat_ebadf", fchownat(999, "x", 0, 0, 0), EBADF);
	EXPECT_ERR("fchownat_enoent", fchownat(dfd, "nonexistent-husk-file", 0, 0, AT_SYMLINK_NOFOLLOW), ENOENT);

	/* mknod / mknodat. */
	EXPECT_ERR("mknod_eexist", mknod("/etc", S_IFIFO | 0600, 0), EEXIST);
	EXPECT_ERR("mknod_enoent", mknod(MISSING, S_IFIFO | 0600, 0), ENOENT);
	EXPECT_ERR("mknod_enotdir", mknod(NOTDIR, S_IFIFO | 0600, 0), ENOTDIR);
	EXPECT_ERR("mknod_efault", mknod(BADPTR, S_IFIFO | 0600, 0), EFAULT);
	EXPECT_ERR("mknod_bad_type", mknod(MISSING, 0170000 | 0600, 0), EINVAL);
	EXPECT_ERR("mknod_dir_type", mknod(MISSING, S_IFDIR | 0600, 0), EPERM);
	EXPECT_ERR("mknodat_eexist", mknodat(dfd, "passwd", S_IFREG | 0600, 0), EEXIST);
	EXPECT_ERR("mknodat_ebadf", mknodat(999, "x", S_IFIFO | 0600, 0), EBADF);
	EXPECT_ERR("mknodat_chr_eexist", mknodat(AT_FDCWD, "/etc", S_IFCHR | 0600, makedev(1, 3)), EEXIST);

	/* utimensat. */
	EXPECT_ERR("utimensat_enoent", utimensat(AT_FDCWD, MISSING, NULL, 0), ENOENT);
	EXPECT_ERR("utimensat_enotdir", utimensat(AT_FDCWD, NOTDIR, NULL, 0), ENOTDIR);
	EXPECT_ERR("utimensat_bad_flags", utimensat(AT_FDCWD, MISSING, NULL, 0x1234), EINVAL);
	struct timespec badt[2] = {{0, 2000000000L}, {0, 0}};
	/* tv_nsec is validated after the lookup, before any permission check. */
	EXPECT_ERR("utimensat_bad_nsec", utimensat(AT_FDCWD, "/etc/passwd", badt, 0), EINVAL);
	EXPECT_ERR("utimensat_bad_nsec_missing", utimensat(AT_FDCWD, MISSING, badt, 0), ENOENT);
	EXPECT_ERR("utimensat_ebadf", utimensat(999, "x", NULL, 0), EBADF);
	EXPECT_ERR("utimensat_null_path_ebadf", syscall(SYS_utimensat, 999, NULL, NULL, 0), EBADF);
	EXPECT_ERR("utimensat_efault", utimensat(AT_FDCWD, BADPTR, NULL, 0), EFAULT);
	EXPECT_ERR("utimensat_times_efault", utimensat(AT_FDCWD, MISSING, BADPTR, 0), EFAULT);

	/* statfs / fstatfs. */
	struct statfs sf, sf2;
	CHECK("statfs_proc", statfs("/proc", &sf) == 0);
	SHOW("statfs_proc_type", "%#lx", (unsigned long)sf.f_type);
	SHOW("statfs_proc_namelen", "%ld", (long)sf.f_namelen);
	SHOW("statfs_proc_bsize_page", "%d", sf.f_bsize == sysconf(_SC_PAGESIZE));
	int pfd = open("/proc", O_RDONLY | O_DIRECTORY);
	CHECK("fstatfs_proc", fstatfs(pfd, &sf2) == 0);
	SHOW("fstatfs_proc_type", "%#lx", (unsigned long)sf2.f_type);
	CHECK("statfs_proc_self", statfs("/proc/self/status", &sf2) == 0 && sf2.f_type == sf.f_type);
	close(pfd);
	CHECK("statfs_root", statfs("/", &sf) == 0);
	CHECK("fstatfs_root_same_type", fstatfs(dfd, &sf2) == 0 && sf2.f_type == sf.f_type);
	CHECK("statfs_root_namelen_positive", sf.f_namelen > 0);
	CHECK("fstatfs_pipe", fstatfs(p[0], &sf) == 0);
	SHOW("fstatfs_pipe_type", "%#lx", (unsigned long)sf.f_type);
	EXPECT_ERR("statfs_enoent", statfs(MISSING, &sf), ENOENT);
	EXPECT_ERR("statfs_enotdir", statfs(NOTDIR, &sf), ENOTDIR);
	EXPECT_ERR("statfs_efault_path", statfs(BADPTR, &sf), EFAULT);
	EXPECT_ERR("statfs_efault_buf", statfs("/proc", BADPTR), EFAULT);
	EXPECT_ERR("fstatfs_ebadf", fstatfs(999, &sf), EBADF);
	EXPECT_ERR("fstatfs_efault", fstatfs(ro, BADPTR), EFAULT);

	/* xattr getters: only errors decided before the filesystem is asked. */
	char xb[64];
	EXPECT_ERR("getxattr_enoent", getxattr(MISSING, "user.x", xb, sizeof(xb)), ENOENT);
	EXPECT_ERR("getxattr_enotdir", getxattr(NOTDIR, "user.x", xb, sizeof(xb)), ENOTDIR);
	EXPECT_ERR("lgetxattr_enoent", lgetxattr(MISSING, "user.x", xb, sizeof(xb)), ENOENT);
	EXPECT_ERR("fgetxattr_ebadf", fgetxattr(999, "user.x", xb, sizeof(xb)), EBADF);
	EXPECT_ERR("listxattr_enoent", listxattr(MISSING, xb, sizeof(xb)), ENOENT);
	EXPECT_ERR("llistxattr_enoent", llistxattr(MISSING, xb, sizeof(xb)), ENOENT);
	EXPECT_ERR("flistxattr_ebadf", flistxattr(999, xb, sizeof(xb)), EBADF);
	EXPECT_ERR("getxattr_efault_path", getxattr(BADPTR, "user.x", xb, sizeof(xb)), EFAULT);

	/* faccessat2. */
	SHOW("faccessat2_r", "%ld", syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", R_OK, 0));
	SHOW("faccessat2_eaccess", "%ld", syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", R_OK, AT_EACCESS));
	SHOW("faccessat2_nofollow_symlink", "%ld",
	     syscall(SYS_faccessat2, AT_FDCWD, "/proc/self/exe", F_OK, AT_SYMLINK_NOFOLLOW));
	SHOW("faccessat2_empty_path", "%ld", syscall(SYS_faccessat2, ro, "", R_OK, AT_EMPTY_PATH));
	SHOW("faccessat2_dirfd_rel", "%ld", syscall(SYS_faccessat2, dfd, "passwd", F_OK, 0));
	EXPECT_ERR("faccessat2_x_on_nonexec", syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", X_OK, AT_EACCESS), EACCES);
	EXPECT_ERR("faccessat2_bad_flags", syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", R_OK, 0x1), EINVAL);
	EXPECT_ERR("faccessat2_bad_mode", syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", 0x10, 0), EINVAL);
	EXPECT_ERR("faccessat2_enoent", syscall(SYS_faccessat2, AT_FDCWD, MISSING, F_OK, 0), ENOENT);
	EXPECT_ERR("faccessat2_ebadf", syscall(SYS_faccessat2, 999, "x", F_OK, 0), EBADF);
	EXPECT_ERR("faccessat2_empty_no_flag", syscall(SYS_faccessat2, ro, "", R_OK, 0), ENOENT);
	EXPECT_ERR("faccessat2_enotdir_fd", syscall(SYS_faccessat2, ro, "x", F_OK, 0), ENOTDIR);

	return compat_done();
}
