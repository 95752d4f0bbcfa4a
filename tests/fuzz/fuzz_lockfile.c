/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for the lock-file reader (lockmgr/lockfile.c, through the
 * lock manager as a session uses it): byte 0 is the slot count (1..8), the
 * rest is the content of the reader's slot-lock file as another process,
 * a crash or a disk left it.  Properties: a file that is not a lock file
 * of this version is refused (EPROTO) with a message naming the file and
 * what is wrong; otherwise every slot's holder reads as free, held or
 * abandoned — or as corrupt, with a reason — and taking the lock of a slot
 * whose record says held or is corrupt carries out the abandon disposition
 * (a corrupt record never skips the reset); the lock is then free again.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lockmgr/lockmgr.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[300];
static unsigned disposed;

static int dispose(void *ctx, unsigned slot, enum lockmgr_disposition d, enum lockmgr_done *done)
{
	(void)ctx, (void)slot;
	FUZZ_ASSERT(d == LOCKMGR_RESET);
	disposed++;
	*done = LOCKMGR_DONE_RESET;
	return 0;
}

static const struct lockmgr_ops ops = { .dispose = dispose };

static void cleanup(void)
{
	if (path[0])
		unlink(path);
	rmdir(dir);
}

static struct lockmgr *manager(unsigned slots, char *err, size_t errlen)
{
	struct lockmgr_config cfg = {
		.slots = slots, .reader_id = "fuzz", .runtime_dir = dir, .pid = 4242, .program = "fuzz",
		.ops = &ops, .err = err, .errlen = errlen,
	};

	return lockmgr_new(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lockmgr_holder_info hi[8];
	struct lockmgr *m;
	char err[512] = "";
	unsigned slots;
	static int fd = -1;

	if (!dir[0]) {
		/* tmpfs (as /run/uccid is) when there is one: a disk file truncated and
		   rewritten per input is written back at every close */
		struct stat st;
		const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0 ?
				   "/dev/shm" : "/tmp";

		snprintf(dir, sizeof(dir), "%s/fuzz-lockfile-%ld", base, (long)getpid());
		FUZZ_ASSERT(mkdir(dir, 0700) == 0 || errno == EEXIST);
		m = manager(1, err, sizeof(err));
		FUZZ_ASSERT(m);
		snprintf(path, sizeof(path), "%s", lockmgr_path(m));
		lockmgr_free(m);
		atexit(cleanup);
	}
	if (size < 1)
		return 0;
	slots = (data[0] & 7) + 1;
	/* opened once, rewritten in place: the lock manager opens it by its name */
	if (fd < 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		FUZZ_ASSERT(fd >= 0);
	}
	FUZZ_ASSERT(ftruncate(fd, (off_t)(size - 1)) == 0);
	FUZZ_ASSERT(pwrite(fd, data + 1, size - 1, 0) == (ssize_t)(size - 1));

	m = manager(slots, err, sizeof(err));
	if (!m) {
		FUZZ_ASSERT(errno == EPROTO);
		FUZZ_ASSERT(strstr(err, path) != NULL);
		return 0;
	}
	for (unsigned i = 0; i < slots; i++) {
		struct lockmgr_lock_info li;
		int r = lockmgr_holder(m, i, &hi[i]);

		if (r < 0) {
			FUZZ_ASSERT(r == -EPROTO && hi[i].problem[0]);
		} else {
			FUZZ_ASSERT(hi[i].state == LOCKMGR_HOLDER_FREE || hi[i].state == LOCKMGR_HOLDER_ABANDONED);
			FUZZ_ASSERT(strnlen(hi[i].program, sizeof(hi[i].program)) < sizeof(hi[i].program));
		}
		disposed = 0;
		FUZZ_ASSERT(lockmgr_lock(m, i, 1, 0, 0, &li) == 0);
		/* held by the dead, or unreadable: the card is reset before it passes on */
		if (r < 0 || hi[i].state == LOCKMGR_HOLDER_ABANDONED)
			FUZZ_ASSERT(li.abandoned && disposed == 1);
		else
			FUZZ_ASSERT(!li.abandoned && disposed == 0);
		FUZZ_ASSERT(lockmgr_unlock(m, i, 1, LOCKMGR_LEAVE, NULL) == 0);
		FUZZ_ASSERT(lockmgr_holder(m, i, &hi[i]) == 0 && hi[i].state == LOCKMGR_HOLDER_FREE);
	}
	lockmgr_free(m);
	return 0;
}
