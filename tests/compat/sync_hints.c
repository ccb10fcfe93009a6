/* sync_file_range, readahead and the file-handle calls: what they check
 * and what they answer. */
#include "common.h"
#include <fcntl.h>

int main(void)
{
	char t[] = "/tmp/husk-sfr-XXXXXX";
	int fd = mkstemp(t);
	CHECK("setup", fd >= 0 && write(fd, "abc", 3) == 3);
	CHECK("sfr", sync_file_range(fd, 0, 3, SYNC_FILE_RANGE_WRITE) == 0);
	CHECK("sfr_zero_flags", sync_file_range(fd, 0, 0, 0) == 0);
	EXPECT_ERR("sfr_bad_flags", sync_file_range(fd, 0, 3, 8), EINVAL);
	EXPECT_ERR("sfr_neg", sync_file_range(fd, -1, 3, SYNC_FILE_RANGE_WRITE), EINVAL);
	EXPECT_ERR("sfr_badfd", sync_file_range(-1, 0, 3, SYNC_FILE_RANGE_WRITE), EBADF);
	int p[2];
	CHECK("pipe", pipe(p) == 0);
	EXPECT_ERR("sfr_pipe", sync_file_range(p[0], 0, 3, SYNC_FILE_RANGE_WRITE), ESPIPE);
	CHECK("readahead", readahead(fd, 0, 3) == 0);
	EXPECT_ERR("readahead_pipe", readahead(p[0], 0, 3), EINVAL);
	EXPECT_ERR("readahead_badfd", readahead(-1, 0, 3), EBADF);
	struct file_handle *h = malloc(sizeof *h + 128);
	h->handle_bytes = 128;
	int mid;
	EXPECT_ERR("nth_missing", name_to_handle_at(AT_FDCWD, "/nonexistent", h, &mid, 0), ENOENT);
	EXPECT_ERR("nth_flags", name_to_handle_at(AT_FDCWD, t, h, &mid, 0x8000), EINVAL);
	EXPECT_ERR("obh_badfd", open_by_handle_at(-1, h, O_RDONLY), EBADF);
	free(h);
	unlink(t);
	return compat_done();
}
