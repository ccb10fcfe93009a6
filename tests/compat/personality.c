/* personality(2): PER_LINUX32 makes uname report i686 and UNAME26 a 2.6
 * release, for the caller, its children and what it executes; the query
 * form (0xffffffff) changes nothing. */
#include "common.h"
#include <sys/personality.h>
#include <sys/utsname.h>
#include <sys/wait.h>

int main(void)
{
	struct utsname u;
	int base = personality(0xffffffff);
	CHECK("query", base >= 0 && personality(0xffffffff) == base);
	CHECK("PER_LINUX32", personality(PER_LINUX32 | (base & ~0xff)) == base);
	CHECK("uname machine", uname(&u) == 0 && !strcmp(u.machine, "i686"));
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		execl("/bin/uname", "uname", "-m", (char *)NULL);
		_exit(127);
	}
	int st;
	CHECK("exec keeps it", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("UNAME26", personality(PER_LINUX | UNAME26 | (base & ~0xff)) == (PER_LINUX32 | (base & ~0xff)));
	CHECK("uname machine again", uname(&u) == 0 && !strcmp(u.machine, "x86_64"));
	CHECK("uname release", uname(&u) == 0 && !strncmp(u.release, "2.6.", 4));
	CHECK("back", personality(base) == (UNAME26 | (base & ~0xff)) && uname(&u) == 0 &&
			      strncmp(u.release, "2.6.", 4) != 0);
	return compat_done();
}
