/* SysV shm attach counting, and shmdt of an attach that mprotect or
 * munmap left in pieces: a refused mprotect splits nothing (the attach
 * still counts once), and shmdt of the attach address detaches every
 * piece, even once its first page is gone. */
#include "common.h"
#include <sys/mman.h>
#include <sys/shm.h>

static int nattch(int id)
{
	struct shmid_ds d;
	return shmctl(id, IPC_STAT, &d) == 0 ? (int)d.shm_nattch : -1;
}

int main(void)
{
	int id = shmget(IPC_PRIVATE, 4 * 4096, IPC_CREAT | 0600);
	char *q = shmat(id, NULL, SHM_RDONLY);
	CHECK("attached", q != (void *)-1 && nattch(id) == 1);
	EXPECT_ERR("mprotect_write_rdonly", mprotect(q, 4096, PROT_READ | PROT_WRITE), EACCES);
	CHECK("refused_mprotect_splits_nothing", nattch(id) == 1);
	CHECK("mprotect_none", mprotect(q, 4096, PROT_NONE) == 0);
	SHOW("after_split", "%d", nattch(id));
	CHECK("munmap_middle", munmap(q + 4096, 4096) == 0);
	SHOW("after_hole", "%d", nattch(id));
	CHECK("shmdt_pieces", shmdt(q) == 0 && nattch(id) == 0);
	char *p = shmat(id, NULL, 0);
	munmap(p, 4096);
	CHECK("shmdt_without_first_page", shmdt(p) == 0 && nattch(id) == 0);
	EXPECT_ERR("shmdt_again", shmdt(p), EINVAL);
	shmctl(id, IPC_RMID, NULL);
	return compat_done();
}
