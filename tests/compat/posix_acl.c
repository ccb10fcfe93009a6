/* POSIX ACLs on a tmpfs, with system.posix_acl_* values built by hand in
 * the kernel's xattr format (no libacl): an access ACL with a named user
 * (the mode's group bits become the mask), one equivalent to the mode (no
 * xattr kept), malformed values, what named user, named group, mask,
 * owner and other entries grant a user without capabilities (files and
 * directory search; a zero mask skips the ACL), chmod rewriting the ACL,
 * inheritance of a default ACL by files, directories and fifos (umask not
 * applied), who may set an ACL, the set-group-ID bit dropped by an owner
 * outside the group, getxattr's size probe and ERANGE, removal,
 * symlinks, access(2) weighing the ACL, and O_TMPFILE under a default
 * ACL. Run as root. */
#include "common.h"
#include <grp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

enum { UO = 1, U = 2, GO = 4, G = 8, M = 0x10, O = 0x20 };
#define NOID 0xffffffffu
struct ent {
	uint16_t tag, perm;
	uint32_t id;
};
#define UOBJ(p) {UO, p, NOID}
#define USR(i, p) {U, p, i}
#define GOBJ(p) {GO, p, NOID}
#define GRP(i, p) {G, p, i}
#define MASK(p) {M, p, NOID}
#define OTH(p) {O, p, NOID}
/* An entry list as (pointer, count) arguments. */
#define E(...) (const struct ent[]){__VA_ARGS__}, \
	(int)(sizeof((struct ent[]){__VA_ARGS__}) / sizeof(struct ent))

static const char *ACC = "system.posix_acl_access", *DEF = "system.posix_acl_default";
static char dir[] = "/tmp/husk-acl-XXXXXX";

/* Builds a value: the version, the entries, `extra` stray bytes (or
 * that many fewer). */
static size_t value(unsigned char *buf, uint32_t version, int extra, const struct ent *e, int n)
{
	memcpy(buf, &version, 4);
	if (n)
		memcpy(buf + 4, e, n * sizeof *e);
	if (extra > 0)
		memset(buf + 4 + n * sizeof *e, 0, extra);
	return 4 + n * sizeof *e + extra;
}

static const char *res(long r)
{
	return r < 0 ? ename(errno) : "ok";
}

static const char *setacl(const char *path, const char *name, const struct ent *e, int n)
{
	unsigned char buf[256];
	return res(setxattr(path, name, buf, value(buf, 2, 0, e, n), 0));
}

static unsigned mode(const char *path)
{
	struct stat st;
	return lstat(path, &st) ? 0xffff : st.st_mode & 07777;
}

static void creat_file(const char *path, mode_t m)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, m);
	if (fd < 0 || fchmod(fd, m) || close(fd)) {
		printf("create %s: %s\n", path, ename(errno));
		compat_failures++;
	}
}

/* Prints the ACL `name` of `path` decoded, as tag:id:perm entries. */
static void show(const char *label, const char *path, const char *name)
{
	unsigned char buf[256];
	ssize_t n = getxattr(path, name, buf, sizeof buf);
	printf("%s:", label);
	if (n < 0) {
		printf(" %s\n", ename(errno));
		return;
	}
	uint32_t v = 0;
	memcpy(&v, buf, n < 4 ? n : 4);
	if (v != 2)
		printf(" version %u", v);
	for (ssize_t i = 4; i + 8 <= n; i += 8) {
		struct ent e;
		memcpy(&e, buf + i, 8);
		const char *t = e.tag == UO ? "u" : e.tag == U ? "u" : e.tag == GO ? "g"
			      : e.tag == G ? "g" : e.tag == M ? "m" : e.tag == O ? "o" : "?";
		printf(" %s:", t);
		if (e.id != NOID)
			printf("%u", e.id);
		if (e.perm & ~7)
			printf(":%#x", e.perm);
		else
			printf(":%c%c%c", e.perm & 4 ? 'r' : '-', e.perm & 2 ? 'w' : '-',
			       e.perm & 1 ? 'x' : '-');
	}
	if (n < 4 || (n - 4) % 8)
		printf(" (%zd bytes)", n);
	printf("\n");
}

/* Forks a child running as uid/gid (with one supplementary group `sup`,
 * or none) and so without capabilities: returns 1 in the child, 0 in the
 * parent once the child has exited (with its failure count). */
static int as(uid_t uid, gid_t gid, gid_t sup)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		if (setgroups(sup ? 1 : 0, &sup) || setgid(gid) || setuid(uid)) {
			printf("drop to %d: %s\n", uid, ename(errno));
			_exit(1);
		}
		return 1;
	}
	int st;
	waitpid(c, &st, 0);
	if (!WIFEXITED(st))
		printf("child status %x\n", st);
	compat_failures += WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	return 0;
}

#define CHILD_DONE() (fflush(stdout), _exit(compat_failures))

/* Opening a file for reading and for writing as uid/gid/sup. */
static void rw(const char *label, const char *path, uid_t uid, gid_t gid, gid_t sup)
{
	if (!as(uid, gid, sup))
		return;
	int r = open(path, O_RDONLY), er = errno;
	int w = open(path, O_WRONLY), ew = errno;
	printf("%s: read %s write %s\n", label, r >= 0 ? "ok" : ename(er), w >= 0 ? "ok" : ename(ew));
	CHILD_DONE();
}

/* Through directory `d`: opening d/f, listing d, creating a file in d. */
static void through(const char *label, const char *d, uid_t uid)
{
	if (!as(uid, uid, 0))
		return;
	char f[64], n[64];
	snprintf(f, sizeof f, "%s/f", d);
	snprintf(n, sizeof n, "%s/new", d);
	int r = open(f, O_RDONLY), er = errno;
	int l = open(d, O_RDONLY | O_DIRECTORY), el = errno;
	int c = open(n, O_CREAT | O_EXCL | O_WRONLY, 0600), ec = errno;
	if (c >= 0)
		unlink(n);
	printf("%s: open file %s list %s create %s\n", label, r >= 0 ? "ok" : ename(er),
	       l >= 0 ? "ok" : ename(el), c >= 0 ? "ok" : ename(ec));
	CHILD_DONE();
}

static void bad(const char *label, uint32_t version, int extra, const struct ent *e, int n)
{
	unsigned char buf[256];
	printf("value %s: %s\n", label,
	       res(setxattr("f3", ACC, buf, value(buf, version, extra, e, n), 0)));
}

int main(void)
{
	const char *s;
	unsigned char buf[256];
	if (getuid() != 0) {
		printf("needs root\n");
		return 0;
	}
	if (!mkdtemp(dir))
		return 1;
	if (private_tmpfs(dir, "mode=0755") || chdir(dir))
		return 1;
	umask(022);

	/* 1. A named user and a mask: the group bits show the mask. */
	creat_file("f1", 0640);
	s = setacl("f1", ACC, E(UOBJ(6), USR(1234, 4), GOBJ(4), MASK(6), OTH(0)));
	printf("named user + mask on 640: %s, mode %o\n", s, mode("f1"));
	show("f1 access", "f1", ACC);
	show("f1 default", "f1", DEF);
	char names[1024];
	ssize_t ln = listxattr("f1", names, sizeof names);
	int has_acc = 0, has_def = 0;
	for (ssize_t i = 0; i < ln; i += strlen(names + i) + 1) {
		has_acc |= !strcmp(names + i, ACC);
		has_def |= !strcmp(names + i, DEF);
	}
	printf("listxattr: %s, access %d default %d\n", res(ln), has_acc, has_def);

	/* 2. An ACL equivalent to a mode becomes that mode, nothing kept. */
	creat_file("f2", 0600);
	s = setacl("f2", ACC, E(UOBJ(7), GOBJ(5), OTH(1)));
	printf("equivalent ACL on 600: %s, mode %o\n", s, mode("f2"));
	show("f2 access", "f2", ACC);
	s = setacl("f1", ACC, E(UOBJ(6), GOBJ(4), OTH(4)));
	printf("equivalent ACL replacing one: %s, mode %o\n", s, mode("f1"));
	show("f1 access", "f1", ACC);

	/* 3. Malformed values; named users out of order or twice pass (the
	 * first match decides). */
	creat_file("f3", 0644);
	bad("version 1", 1, 0, E(UOBJ(6), GOBJ(4), OTH(4)));
	bad("version 3", 3, 0, E(UOBJ(6), GOBJ(4), OTH(4)));
	bad("3 stray bytes", 2, 3, E(UOBJ(6), GOBJ(4), OTH(4)));
	bad("2 bytes", 2, -2, NULL, 0);
	bad("no user_obj", 2, 0, E(GOBJ(4), OTH(4)));
	bad("no other", 2, 0, E(UOBJ(6), GOBJ(4)));
	bad("two user_obj", 2, 0, E(UOBJ(6), UOBJ(6), GOBJ(4), OTH(4)));
	bad("named users descending", 2, 0,
	    E(UOBJ(6), USR(1235, 4), USR(1234, 4), GOBJ(4), MASK(4), OTH(4)));
	show("f3 access", "f3", ACC);
	bad("duplicate named user", 2, 0,
	    E(UOBJ(6), USR(1234, 4), USR(1234, 6), GOBJ(4), MASK(6), OTH(4)));
	show("f3 access", "f3", ACC);
	rw("u:1234:r-- u:1234:rw- as 1234", "f3", 1234, 1234, 0);
	s = setacl("f3", ACC, E(UOBJ(6), USR(1234, 4), GOBJ(4), MASK(4), OTH(4)));
	printf("f3 reset: %s\n", s);
	bad("other before group_obj", 2, 0, E(UOBJ(6), OTH(4), GOBJ(4)));
	bad("mask before named user", 2, 0, E(UOBJ(6), GOBJ(4), MASK(4), USR(1234, 4), OTH(4)));
	bad("named user without mask", 2, 0, E(UOBJ(6), USR(1234, 4), GOBJ(4), OTH(4)));
	bad("named group without mask", 2, 0, E(UOBJ(6), GOBJ(4), GRP(2000, 4), OTH(4)));
	bad("unknown tag 0x40", 2, 0, E(UOBJ(6), {0x40, 4, NOID}, GOBJ(4), OTH(4)));
	bad("perm 8", 2, 0, E(UOBJ(8), GOBJ(4), OTH(4)));
	bad("named user id -1", 2, 0, E(UOBJ(6), USR(NOID, 4), GOBJ(4), MASK(4), OTH(4)));
	printf("f3 after: mode %o\n", mode("f3"));
	show("f3 access", "f3", ACC);
	/* An id on an unnamed entry is ignored; a header alone or an empty
	 * value removes the ACL. */
	s = setacl("f3", ACC, E({UO, 6, 5}, USR(1234, 4), GOBJ(4), MASK(4), OTH(4)));
	printf("user_obj with id 5: %s\n", s);
	show("f3 access", "f3", ACC);
	bad("header alone", 2, 0, NULL, 0);
	show("f3 access", "f3", ACC);
	setacl("f3", ACC, E(UOBJ(6), USR(1234, 4), GOBJ(4), MASK(4), OTH(4)));
	printf("empty value: %s\n", res(setxattr("f3", ACC, "", 0, 0)));
	show("f3 access", "f3", ACC);
	printf("f3 mode %o\n", mode("f3"));

	/* 4. What the entries grant a user without capabilities. */
	mkdir("p", 0755);
	creat_file("p/a", 0600);
	setacl("p/a", ACC, E(UOBJ(6), USR(1234, 4), GOBJ(0), MASK(6), OTH(0)));
	rw("u:1234:r-- as 1234", "p/a", 1234, 1234, 0);
	rw("u:1234:r-- as 1235", "p/a", 1235, 1235, 0);
	creat_file("p/b", 0600);
	setacl("p/b", ACC, E(UOBJ(6), USR(1234, 6), GOBJ(0), MASK(4), OTH(0)));
	rw("u:1234:rw- m::r-- as 1234", "p/b", 1234, 1234, 0);
	setacl("p/b", ACC, E(UOBJ(6), USR(1234, 6), GOBJ(0), MASK(6), OTH(0)));
	rw("u:1234:rw- m::rw- as 1234", "p/b", 1234, 1234, 0);
	creat_file("p/c", 0600);
	setacl("p/c", ACC, E(UOBJ(6), GOBJ(0), GRP(2000, 6), MASK(6), OTH(0)));
	rw("g:2000:rw- as member", "p/c", 1235, 1235, 2000);
	rw("g:2000:rw- as primary group", "p/c", 1235, 2000, 0);
	rw("g:2000:rw- as non-member", "p/c", 1235, 1235, 0);
	setacl("p/c", ACC, E(UOBJ(6), GOBJ(0), GRP(2000, 6), MASK(4), OTH(0)));
	rw("g:2000:rw- m::r-- as member", "p/c", 1235, 1235, 2000);
	creat_file("p/d", 0666);
	chown("p/d", 1234, 0);
	setacl("p/d", ACC, E(UOBJ(0), USR(1234, 6), GOBJ(6), MASK(6), OTH(6)));
	rw("u::--- u:1234:rw- o::rw- as owner 1234", "p/d", 1234, 1234, 0);
	rw("u::--- u:1234:rw- o::rw- as 1235", "p/d", 1235, 1235, 0);
	creat_file("p/e", 0600);
	setacl("p/e", ACC, E(UOBJ(6), GOBJ(0), GRP(2000, 0), MASK(6), OTH(4)));
	rw("g::--- o::r-- as owning group", "p/e", 1235, 0, 0);
	rw("g:2000:--- o::r-- as member", "p/e", 1235, 1235, 2000);
	rw("g:2000:--- o::r-- as nobody in it", "p/e", 1235, 1235, 0);
	mkdir("p/s", 0700);
	creat_file("p/s/f", 0644);
	setacl("p/s", ACC, E(UOBJ(7), USR(1234, 1), GOBJ(0), MASK(7), OTH(0)));
	through("dir u:1234:--x as 1234", "p/s", 1234);
	through("dir u:1234:--x as 1235", "p/s", 1235);
	setacl("p/s", ACC, E(UOBJ(7), USR(1234, 3), GOBJ(0), MASK(7), OTH(0)));
	through("dir u:1234:-wx as 1234", "p/s", 1234);
	setacl("p/s", ACC, E(UOBJ(7), USR(1234, 3), GOBJ(0), MASK(4), OTH(0)));
	through("dir u:1234:-wx m::r-- as 1234", "p/s", 1234);

	/* 5. chmod rewrites user_obj, mask (not group_obj) and other. */
	creat_file("f5", 0600);
	setacl("f5", ACC, E(UOBJ(6), USR(1234, 7), GOBJ(4), MASK(7), OTH(0)));
	s = res(chmod("f5", 0750));
	printf("chmod 750: %s, mode %o\n", s, mode("f5"));
	show("f5 access", "f5", ACC);
	s = res(chmod("f5", 0604));
	printf("chmod 604: %s, mode %o\n", s, mode("f5"));
	show("f5 access", "f5", ACC);
	/* Group bits (the mask) of 0: Linux skips the ACL, so a named user
	 * gets what other gets. */
	rw("u:1234:rwx m::--- o::r-- as 1234", "f5", 1234, 1234, 0);

	/* 6. Default ACLs. */
	mkdir("d", 0755);
	s = setacl("d", DEF, E(UOBJ(7), USR(1234, 6), GOBJ(4), MASK(7), OTH(6)));
	printf("default on dir: %s, mode %o\n", s, mode("d"));
	show("d access", "d", ACC);
	show("d default", "d", DEF);
	creat_file("d/f", 0666);
	printf("d/f created 666 umask 022: mode %o\n", mode("d/f"));
	show("d/f access", "d/f", ACC);
	show("d/f default", "d/f", DEF);
	int fd = open("d/g", O_CREAT | O_WRONLY, 0640);
	close(fd);
	printf("d/g created 640: mode %o\n", mode("d/g"));
	show("d/g access", "d/g", ACC);
	mkdir("d/sub", 0777);
	printf("d/sub made 777: mode %o\n", mode("d/sub"));
	show("d/sub access", "d/sub", ACC);
	show("d/sub default", "d/sub", DEF);
	fd = open("d/sub/f", O_CREAT | O_WRONLY, 0666);
	close(fd);
	printf("d/sub/f created 666: mode %o\n", mode("d/sub/f"));
	s = res(mknod("d/fifo", S_IFIFO | 0666, 0));
	printf("fifo made 666: %s, mode %o\n", s, mode("d/fifo"));
	show("d/fifo access", "d/fifo", ACC);
	symlink("f", "d/link");
	s = res(lgetxattr("d/link", ACC, buf, sizeof buf));
	printf("d/link: mode %o, lgetxattr access %s\n", mode("d/link"), s);
	printf("remove default: %s\n", res(removexattr("d", DEF)));
	show("d default", "d", DEF);
	fd = open("d/h", O_CREAT | O_WRONLY, 0666);
	close(fd);
	printf("d/h created 666: mode %o\n", mode("d/h"));
	show("d/h access", "d/h", ACC);
	mkdir("e", 0755);
	s = setacl("e", DEF, E(UOBJ(7), GOBJ(7), OTH(7)));
	printf("default equivalent to 777: %s, mode %o\n", s, mode("e"));
	show("e default", "e", DEF);
	fd = open("e/f", O_CREAT | O_WRONLY, 0666);
	close(fd);
	printf("e/f created 666: mode %o\n", mode("e/f"));
	show("e/f access", "e/f", ACC);
	s = setacl("f2", DEF, E(UOBJ(7), USR(1234, 6), GOBJ(4), MASK(7), OTH(6)));
	printf("default on file: %s\n", s);
	s = setacl("f2", DEF, E(UOBJ(7), GOBJ(5), OTH(1)));
	printf("equivalent default on file: %s\n", s);
	printf("remove default of file: %s\n", res(removexattr("f2", DEF)));
	printf("remove missing default of dir: %s\n", res(removexattr("d", DEF)));

	/* 7. Who may set an ACL. */
	creat_file("f7", 0666);
	setacl("f7", ACC, E(UOBJ(6), USR(1234, 4), GOBJ(6), MASK(6), OTH(6)));
	if (as(1234, 1234, 0)) {
		s = setacl("f7", ACC, E(UOBJ(6), USR(1234, 7), GOBJ(6), MASK(7), OTH(6)));
		printf("non-owner sets: %s\n", s);
		printf("non-owner removes: %s\n", res(removexattr("f7", ACC)));
		show("non-owner reads", "f7", ACC);
		CHILD_DONE();
	}
	chown("f7", 1234, 0);
	if (as(1234, 1234, 0)) {
		s = setacl("f7", ACC, E(UOBJ(6), USR(1235, 7), GOBJ(6), MASK(7), OTH(6)));
		printf("owner sets: %s\n", s);
		show("f7 access", "f7", ACC);
		printf("owner removes: %s\n", res(removexattr("f7", ACC)));
		CHILD_DONE();
	}

	/* 8. The owner outside the file's group loses set-group-ID. */
	creat_file("f8", 0600);
	chown("f8", 1234, 3000);
	const gid_t sups[] = {0, 3000};
	for (int i = 0; i < 2; i++) {
		chmod("f8", 02770);
		if (as(1234, 1234, sups[i])) {
			s = setacl("f8", ACC, E(UOBJ(7), USR(1235, 7), GOBJ(7), MASK(7), OTH(0)));
			printf("owner %s group 3000 sets ACL on 2770: %s, mode %o\n",
			       i ? "in" : "outside", s, mode("f8"));
			CHILD_DONE();
		}
		chmod("f8", 02770);
		if (as(1234, 1234, sups[i])) {
			s = setacl("f8", ACC, E(UOBJ(7), GOBJ(5), OTH(0)));
			printf("owner %s group 3000 sets equivalent ACL on 2770: %s, mode %o\n",
			       i ? "in" : "outside", s, mode("f8"));
			CHILD_DONE();
		}
	}
	chmod("f8", 02770);
	s = setacl("f8", ACC, E(UOBJ(7), USR(1235, 7), GOBJ(7), MASK(7), OTH(0)));
	printf("root sets ACL on 2770: %s, mode %o\n", s, mode("f8"));

	/* 9. Sizes. */
	creat_file("f9", 0644);
	setacl("f9", ACC, E(UOBJ(6), USR(1234, 4), USR(1235, 4), GOBJ(4), MASK(4), OTH(4)));
	printf("getxattr size 0: %zd\n", getxattr("f9", ACC, NULL, 0));
	printf("getxattr 20 bytes: %s\n", res(getxattr("f9", ACC, buf, 20)));
	printf("getxattr 52 bytes: %zd\n", getxattr("f9", ACC, buf, 52));
	fd = open("f9", O_RDONLY);
	printf("fgetxattr size 0: %zd\n", fgetxattr(fd, ACC, NULL, 0));
	close(fd);

	/* 10. Removing the access ACL leaves the mode. */
	creat_file("f10", 0640);
	setacl("f10", ACC, E(UOBJ(6), USR(1234, 6), GOBJ(4), MASK(6), OTH(0)));
	printf("f10 with ACL: mode %o\n", mode("f10"));
	rw("f10 with ACL as 1234", "f10", 1234, 1234, 0);
	s = res(removexattr("f10", ACC));
	printf("remove access: %s, mode %o\n", s, mode("f10"));
	show("f10 access", "f10", ACC);
	printf("remove again: %s\n", res(removexattr("f10", ACC)));
	rw("f10 without ACL as 1234", "f10", 1234, 1234, 0);
	rw("f10 without ACL as group 0", "f10", 1234, 0, 0);

	/* 11. Symlinks. */
	symlink("f9", "l");
	printf("lsetxattr access on symlink: %s\n",
	       res(lsetxattr("l", ACC, buf, value(buf, 2, 0, E(UOBJ(6), GOBJ(4), OTH(4))), 0)));
	printf("lsetxattr default on symlink: %s\n",
	       res(lsetxattr("l", DEF, buf, value(buf, 2, 0, E(UOBJ(6), GOBJ(4), OTH(4))), 0)));
	printf("lgetxattr on symlink: %s\n", res(lgetxattr("l", ACC, buf, sizeof buf)));
	printf("symlink mode %o\n", mode("l"));

	/* 12. access(2) and faccessat(AT_EACCESS) weigh the ACL as open does. */
	creat_file("f12", 0600);
	setacl("f12", ACC, E(UOBJ(6), USR(1234, 4), GOBJ(0), GRP(2000, 6), MASK(6), OTH(0)));
	mkdir("d12", 0755);
	setacl("d12", ACC, E(UOBJ(7), USR(1234, 0), GOBJ(5), MASK(5), OTH(5)));
	if (as(1234, 1234, 0)) {
		printf("access as 1234: f12 R %s W %s, d12 X %s\n", res(access("f12", R_OK)),
		       res(access("f12", W_OK)), res(access("d12", X_OK)));
		printf("faccessat AT_EACCESS as 1234: %s\n", res(faccessat(AT_FDCWD, "f12", R_OK, AT_EACCESS)));
		CHILD_DONE();
	}
	if (as(1235, 1235, 2000)) {
		printf("access as a member of 2000: f12 RW %s\n", res(access("f12", R_OK | W_OK)));
		CHILD_DONE();
	}

	/* 13. O_TMPFILE under a default ACL gets the access ACL it makes. */
	mkdir("d13", 0755);
	setacl("d13", DEF, E(UOBJ(7), USR(1234, 7), GOBJ(5), MASK(6), OTH(0)));
	umask(077);
	int tf = open("d13", O_TMPFILE | O_WRONLY, 0666);
	printf("O_TMPFILE: %s\n", tf >= 0 ? "ok" : ename(errno));
	if (tf >= 0) {
		char p[64];
		snprintf(p, sizeof p, "/proc/self/fd/%d", tf);
		linkat(AT_FDCWD, p, AT_FDCWD, "d13/t", AT_SYMLINK_FOLLOW);
		printf("d13/t mode %o\n", mode("d13/t"));
		show("d13/t access", "d13/t", ACC);
		close(tf);
	}
	umask(022);

	if (chdir("/") || umount2(dir, 0) || rmdir(dir))
		printf("cleanup: %s\n", ename(errno));
	return compat_done();
}
