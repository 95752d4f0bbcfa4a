/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for the lock manager: every rule of issue 5 as a state-machine
 * test, each refusal shown to leave the state as it was (the holder, its
 * count, the callbacks not called); the callbacks' order and failures; the
 * card-state generation as handles see it; waiting (try once, a finite wait,
 * cancel, FIFO, direct hand-off with no lost wake-up) with threads; and
 * across processes with fork: mutual exclusion through the lock file, the
 * holder's record, and holders killed with SIGKILL while they hold the slot,
 * after which the next owner is told and the abandon disposition reaches the
 * reader before it gets the card.  Tests that take a loop index run once in
 * process only (0) and once through the lock file (1).  Each test has its own
 * runtime directory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lockmgr/lockmgr.h"
#include "tests/testutil.h"
#include "util/clock.h"

/* ---- fixture: a private runtime directory ---- */

static char g_dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/lmtest.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void)
{
	nftw(g_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- a reader that records what the manager asks of it ---- */

struct call {
	char kind;      /* 'D' dispose, 'M' mechanical_lock */
	unsigned slot;
	int arg;        /* disposition, or lock (1) / unlock (0) */
};

struct reader {
	pthread_mutex_t mu;
	struct call calls[64];
	int ncalls;
	int dispose_ret, mech_lock_ret, mech_unlock_ret;
	enum lockmgr_done eject_done;
	void (*hook)(struct reader *rd, unsigned slot);   /* runs inside dispose */
	struct lockmgr *m;
	int hook_results[4];
};

static struct reader g_rd;

static int rd_dispose(void *ctx, unsigned slot, enum lockmgr_disposition d, enum lockmgr_done *done)
{
	struct reader *rd = ctx;

	pthread_mutex_lock(&rd->mu);
	if (rd->ncalls < 64)
		rd->calls[rd->ncalls++] = (struct call){ 'D', slot, (int)d };
	pthread_mutex_unlock(&rd->mu);
	if (rd->hook)
		rd->hook(rd, slot);
	if (rd->dispose_ret < 0)
		return rd->dispose_ret;  /* e.g. the card was removed: nothing was done */
	*done = d == LOCKMGR_RESET ? LOCKMGR_DONE_RESET :
		d == LOCKMGR_UNPOWER ? LOCKMGR_DONE_UNPOWERED : rd->eject_done;
	return 0;
}

static int rd_mech(void *ctx, unsigned slot, bool lock)
{
	struct reader *rd = ctx;

	pthread_mutex_lock(&rd->mu);
	if (rd->ncalls < 64)
		rd->calls[rd->ncalls++] = (struct call){ 'M', slot, lock };
	pthread_mutex_unlock(&rd->mu);
	return lock ? rd->mech_lock_ret : rd->mech_unlock_ret;
}

static const struct lockmgr_ops rd_ops = { .dispose = rd_dispose, .mechanical_lock = rd_mech };
static const struct lockmgr_ops rd_ops_nomech = { .dispose = rd_dispose };

static void rd_reset(void)
{
	pthread_mutex_destroy(&g_rd.mu);
	memset(&g_rd, 0, sizeof(g_rd));
	pthread_mutex_init(&g_rd.mu, NULL);
	g_rd.eject_done = LOCKMGR_DONE_LATCHED;
}

static int ncalls(void)
{
	int n;

	pthread_mutex_lock(&g_rd.mu);
	n = g_rd.ncalls;
	pthread_mutex_unlock(&g_rd.mu);
	return n;
}

static void expect_call(int i, char kind, unsigned slot, int arg)
{
	ck_assert_int_gt(g_rd.ncalls, i);
	ck_assert_msg(g_rd.calls[i].kind == kind && g_rd.calls[i].slot == slot && g_rd.calls[i].arg == arg,
		      "call %d: expected %c(%u,%d), got %c(%u,%d)", i, kind, slot, arg, g_rd.calls[i].kind,
		      g_rd.calls[i].slot, g_rd.calls[i].arg);
}

/* abandon: a disposition, or -1 for the default (abandon_set false) */
static struct lockmgr *mk_full(const char *id, bool file, const struct lockmgr_ops *ops, int abandon,
			       const char *program)
{
	struct lockmgr_config cfg = {
		.slots = 4,
		.reader_id = id,
		.runtime_dir = g_dir,
		.process_local = !file,
		.program = program,
		.abandon = abandon < 0 ? 0 : (enum lockmgr_disposition)abandon,
		.abandon_set = abandon >= 0,
		.ops = ops,
		.ctx = &g_rd,
	};
	struct lockmgr *m = lockmgr_new(&cfg);

	ck_assert_msg(m, "lockmgr_new: %s", strerror(errno));
	return m;
}

static struct lockmgr *mk(bool file)
{
	rd_reset();
	return mk_full("usb:1209/0001:TEST", file, &rd_ops, -1, "lm-test");
}

static struct lockmgr_holder_info holder(struct lockmgr *m, unsigned slot)
{
	struct lockmgr_holder_info h;

	ck_assert_int_eq(lockmgr_holder(m, slot, &h), 0);
	return h;
}

static void expect_held(struct lockmgr *m, unsigned slot, lockmgr_owner_t owner, unsigned count)
{
	struct lockmgr_holder_info h = holder(m, slot);

	ck_assert_int_eq(h.state, LOCKMGR_HOLDER_HELD);
	ck_assert(h.this_manager);
	ck_assert_uint_eq(h.owner, owner);
	ck_assert_uint_eq(h.count, count);
}

static void expect_free(struct lockmgr *m, unsigned slot)
{
	ck_assert_int_eq(holder(m, slot).state, LOCKMGR_HOLDER_FREE);
}

/* Poll (test side only) until slot has n waiters. */
static void await_waiters(struct lockmgr *m, unsigned slot, unsigned n)
{
	int64_t end = uccid_mono_ms() + 20000;

	while (holder(m, slot).waiters < n) {
		ck_assert_msg(uccid_mono_ms() < end, "waiters never reached %u", n);
		usleep(200);
	}
}

/* ---- config ---- */

START_TEST(test_config_refused)
{
	struct lockmgr_config good = { .slots = 1, .reader_id = "r", .runtime_dir = g_dir, .ops = &rd_ops };
	struct lockmgr_config c;
	struct lockmgr_ops no_dispose = { .mechanical_lock = rd_mech };
	char file[128];

	errno = 0;
	ck_assert_ptr_null(lockmgr_new(NULL));
	ck_assert_int_eq(errno, EINVAL);
	c = good, c.slots = 0;
	ck_assert_ptr_null(lockmgr_new(&c));
	ck_assert_int_eq(errno, EINVAL);
	c = good, c.slots = LOCKMGR_MAX_SLOTS + 1;
	ck_assert_ptr_null(lockmgr_new(&c));
	ck_assert_int_eq(errno, EINVAL);
	c = good, c.reader_id = "";
	ck_assert_ptr_null(lockmgr_new(&c));
	c = good, c.reader_id = NULL;
	ck_assert_ptr_null(lockmgr_new(&c));
	c = good, c.ops = NULL;
	ck_assert_ptr_null(lockmgr_new(&c));
	c = good, c.ops = &no_dispose;
	ck_assert_ptr_null(lockmgr_new(&c));
	c = good, c.abandon = (enum lockmgr_disposition)4, c.abandon_set = true;
	ck_assert_ptr_null(lockmgr_new(&c));
	ck_assert_int_eq(errno, EINVAL);
	/* a disposition without abandon_set would silently be RESET instead: refused */
	c = good, c.abandon = LOCKMGR_UNPOWER;
	ck_assert_ptr_null(lockmgr_new(&c));
	ck_assert_int_eq(errno, EINVAL);

	/* a runtime "directory" that is a file */
	snprintf(file, sizeof(file), "%s/plain", g_dir);
	close(open(file, O_CREAT | O_WRONLY, 0600));
	c = good, c.runtime_dir = file;
	ck_assert_ptr_null(lockmgr_new(&c));
	ck_assert_int_eq(errno, ENOTDIR);
	/* a parent that does not exist */
	snprintf(file, sizeof(file), "%s/no/such", g_dir);
	c = good, c.runtime_dir = file;
	ck_assert_ptr_null(lockmgr_new(&c));
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_config_runtime_dir)
{
	struct lockmgr_config c = { .slots = 2, .reader_id = "usb:1050/0407:../x y", .ops = &rd_ops };
	char want[128], xdg[128];
	struct lockmgr *m, *m2;
	struct stat st;
	const char *p, *base;

	/* default: $XDG_RUNTIME_DIR/uccid, created 0700 */
	snprintf(xdg, sizeof(xdg), "%s", g_dir);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	m = lockmgr_new(&c);
	ck_assert_ptr_nonnull(m);
	snprintf(want, sizeof(want), "%s/uccid", g_dir);
	ck_assert_int_eq(stat(want, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	p = lockmgr_path(m);
	ck_assert_int_eq(strncmp(p, want, strlen(want)), 0);
	base = p + strlen(want) + 1;
	/* the identity is sanitised into one file name: no '/', no leading '.', a hash, .lock */
	ck_assert_ptr_null(strchr(base, '/'));
	ck_assert_int_eq(strncmp(base, "usb_1050_0407_.._x_y-", 21), 0);
	ck_assert_str_eq(base + strlen(base) - 5, ".lock");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	/* identities that sanitise alike still get their own files */
	c.reader_id = "usb:1050_0407:.._x y";
	m2 = lockmgr_new(&c);
	ck_assert_ptr_nonnull(m2);
	ck_assert_str_ne(lockmgr_path(m), lockmgr_path(m2));
	lockmgr_free(m2);
	lockmgr_free(m);
	unsetenv("XDG_RUNTIME_DIR");

	/* process_local: no file at all */
	c.process_local = true;
	m = lockmgr_new(&c);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(lockmgr_path(m), "");
	lockmgr_free(m);
	lockmgr_free(NULL);
}
END_TEST

START_TEST(test_config_foreign_file)
{
	struct lockmgr *m = mk(true);
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s", lockmgr_path(m));
	lockmgr_free(m);
	/* a file that is not a uccid lock file of this version is refused, not overwritten */
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "garbage!", 8, 0), 8);
	close(fd);
	errno = 0;
	ck_assert_ptr_null(lockmgr_new(&(struct lockmgr_config){ .slots = 4, .reader_id = "usb:1209/0001:TEST",
							      .runtime_dir = g_dir, .ops = &rd_ops }));
	ck_assert_int_eq(errno, EPROTO);
}
END_TEST

START_TEST(test_names)
{
	/* PC/SC's numbers: SCARD_LEAVE_CARD 0 .. SCARD_EJECT_CARD 3 */
	ck_assert_str_eq(lockmgr_disposition_name((enum lockmgr_disposition)0), "leave");
	ck_assert_str_eq(lockmgr_disposition_name((enum lockmgr_disposition)1), "reset");
	ck_assert_str_eq(lockmgr_disposition_name((enum lockmgr_disposition)2), "unpower");
	ck_assert_str_eq(lockmgr_disposition_name((enum lockmgr_disposition)3), "eject");
	ck_assert_ptr_null(lockmgr_disposition_name((enum lockmgr_disposition)4));
	ck_assert_ptr_null(lockmgr_disposition_name((enum lockmgr_disposition)-1));
	ck_assert_int_eq(lockmgr_disposition_parse("leave"), 0);
	ck_assert_int_eq(lockmgr_disposition_parse("unpower"), LOCKMGR_UNPOWER);
	ck_assert_int_eq(lockmgr_disposition_parse("reset"), LOCKMGR_RESET);
	ck_assert_int_eq(lockmgr_disposition_parse("RESET"), -EINVAL);
	ck_assert_int_eq(lockmgr_disposition_parse(NULL), -EINVAL);
	ck_assert_str_eq(lockmgr_done_name(LOCKMGR_DONE_LATCHED), "latched");
	ck_assert_ptr_null(lockmgr_done_name((enum lockmgr_done)9));
}
END_TEST

/* ---- lock: the basic rules ---- */

START_TEST(test_lock_basic)
{
	struct lockmgr *m = mk(_i);
	struct lockmgr_lock_info li;
	struct lockmgr_holder_info h;
	enum lockmgr_done done = LOCKMGR_DONE_RESET;
	struct timespec t0;

	clock_gettime(CLOCK_REALTIME, &t0);
	expect_free(m, 1);
	ck_assert_int_eq(lockmgr_lock(m, 1, 7, 0, 0, &li), 0);
	ck_assert_uint_eq(li.count, 1);
	ck_assert(!li.abandoned);
	h = holder(m, 1);
	ck_assert_int_eq(h.state, LOCKMGR_HOLDER_HELD);
	ck_assert(h.this_manager);
	ck_assert_uint_eq(h.owner, 7);
	ck_assert_int_eq(h.pid, getpid());
	ck_assert_str_eq(h.program, "lm-test");
	if (_i)
		ck_assert_int_le(labs((long)(h.since.tv_sec - t0.tv_sec)), 2);
	else
		ck_assert_int_eq(h.since.tv_sec, 0);    /* in process only: not timed */
	/* other slots are independent */
	expect_free(m, 0);
	ck_assert_int_eq(lockmgr_lock(m, 0, 8, 0, 0, NULL), 0);
	/* try once on a held slot */
	ck_assert_int_eq(lockmgr_lock(m, 1, 8, 0, 0, NULL), -EBUSY);
	expect_held(m, 1, 7, 1);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 7, LOCKMGR_LEAVE, &done), 0);
	ck_assert_int_eq(done, LOCKMGR_DONE_NOTHING);
	ck_assert_int_eq(ncalls(), 0);  /* LEAVE sends nothing: the reader is not called */
	expect_free(m, 1);
	ck_assert_int_eq(lockmgr_lock(m, 1, 8, 0, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 8, LOCKMGR_LEAVE, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 8, LOCKMGR_LEAVE, NULL), 0);
	lockmgr_free(m);
}
END_TEST

START_TEST(test_lock_bad_arguments)
{
	struct lockmgr *m = mk(_i);
	struct lockmgr_holder_info h;
	struct lockmgr_handle *hd;

	ck_assert_int_eq(lockmgr_lock(NULL, 0, 1, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(lockmgr_lock(m, 4, 1, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(lockmgr_lock(m, 0, 1, -2, 0, NULL), -EINVAL);
	ck_assert_int_eq(lockmgr_lock(m, 0, 1, 0, 0x10, NULL), -EINVAL);
	ck_assert_int_eq(lockmgr_unlock(m, 4, 1, LOCKMGR_LEAVE, NULL), -EINVAL);
	ck_assert_int_eq(lockmgr_cancel_wait(m, 4, 1), -EINVAL);
	ck_assert_int_eq(lockmgr_holder(m, 4, &h), -EINVAL);
	ck_assert_int_eq(lockmgr_holder(m, 0, NULL), -EINVAL);
	ck_assert_int_eq(lockmgr_card_event(m, 4, LOCKMGR_EV_RESET), -EINVAL);
	ck_assert_int_eq(lockmgr_handle_open(m, 4, 1, &hd), -EINVAL);
	ck_assert_uint_eq(lockmgr_generation(m, 4), 0);
	ck_assert_int_eq(lockmgr_check(NULL), -EINVAL);
	ck_assert_int_eq(lockmgr_ack(NULL), -EINVAL);
	/* none of them took anything */
	for (unsigned s = 0; s < 4; s++)
		expect_free(m, s);
	lockmgr_free(m);

	/* the mechanical flag without a mechanism: refused before anything is taken */
	m = mk_full("r2", _i, &rd_ops_nomech, -1, "lm-test");
	ck_assert_int_eq(lockmgr_lock(m, 0, 1, 0, LOCKMGR_F_MECHANICAL, NULL), -EOPNOTSUPP);
	expect_free(m, 0);
	lockmgr_free(m);
}
END_TEST

/*
 * LOCKMGR_F_LOCAL: excludes the threads of this process and queues behind an
 * explicit holder like any lock, but takes nothing in the lock file: another
 * manager of the same reader (another description) is not excluded by it.
 */
START_TEST(test_lock_local)
{
	struct lockmgr *a = mk(_i);
	struct lockmgr *b = _i ? mk_full("usb:1209/0001:TEST", true, &rd_ops, -1, "other") : NULL;

	ck_assert_int_eq(lockmgr_lock(a, 0, 1, 0, LOCKMGR_F_LOCAL | LOCKMGR_F_MECHANICAL, NULL), -EINVAL);
	ck_assert_int_eq(lockmgr_lock(a, 0, 1, 0, LOCKMGR_F_LOCAL, NULL), 0);
	expect_held(a, 0, 1, 1);
	/* in process it excludes like any lock */
	ck_assert_int_eq(lockmgr_lock(a, 0, 2, 0, 0, NULL), -EBUSY);
	ck_assert_int_eq(lockmgr_lock(a, 0, 2, 0, LOCKMGR_F_LOCAL, NULL), -EBUSY);
	if (b) {
		/* nothing in the file: the other description sees the slot free and takes it */
		expect_free(b, 0);
		ck_assert_int_eq(lockmgr_lock(b, 0, 9, 0, 0, NULL), 0);
		ck_assert_int_eq(lockmgr_unlock(b, 0, 9, LOCKMGR_LEAVE, NULL), 0);
	}
	/* reentrant with an explicit lock of the same owner, which then counts */
	ck_assert_int_eq(lockmgr_lock(a, 0, 1, 0, 0, NULL), 0);
	expect_held(a, 0, 1, 2);
	ck_assert_int_eq(lockmgr_unlock(a, 0, 1, LOCKMGR_LEAVE, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(a, 0, 1, LOCKMGR_LEAVE, NULL), 0);
	expect_free(a, 0);
	ck_assert_int_eq(ncalls(), 0);

	/* an explicit hold, then a local one of the same owner inside it: the OFD lock stays */
	ck_assert_int_eq(lockmgr_lock(a, 0, 3, 0, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_lock(a, 0, 3, 0, LOCKMGR_F_LOCAL, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(a, 0, 3, LOCKMGR_LEAVE, NULL), 0);
	if (b)
		ck_assert_int_eq(lockmgr_lock(b, 0, 9, 0, 0, NULL), -EBUSY);
	ck_assert_int_eq(lockmgr_unlock(a, 0, 3, LOCKMGR_RESET, NULL), 0);
	ck_assert_int_eq(ncalls(), 1);
	expect_call(0, 'D', 0, LOCKMGR_RESET);
	if (b) {
		ck_assert_int_eq(lockmgr_lock(b, 0, 9, 0, 0, NULL), 0);
		ck_assert_int_eq(lockmgr_unlock(b, 0, 9, LOCKMGR_LEAVE, NULL), 0);
		lockmgr_free(b);
	}
	lockmgr_free(a);
}
END_TEST

/* The eject latch: set, cleared, and shared by every manager of the reader through the file. */
START_TEST(test_latch)
{
	struct lockmgr *a = mk(_i);
	struct lockmgr *b = _i ? mk_full("usb:1209/0001:TEST", true, &rd_ops, -1, "other") : NULL;

	ck_assert_int_eq(lockmgr_latch(NULL, 0, 1), -EINVAL);
	ck_assert_int_eq(lockmgr_latch(a, 4, 1), -EINVAL);
	ck_assert_int_eq(lockmgr_latch(a, 0, 2), -EINVAL);
	ck_assert_int_eq(lockmgr_latch(a, 0, -1), 0);
	ck_assert_int_eq(lockmgr_latch(a, 2, 1), 1);
	ck_assert_int_eq(lockmgr_latch(a, 2, -1), 1);
	ck_assert_int_eq(lockmgr_latch(a, 1, -1), 0);
	if (b) {
		ck_assert_int_eq(lockmgr_latch(b, 2, -1), 1);
		ck_assert_int_eq(lockmgr_latch(b, 2, 0), 0);
	} else {
		ck_assert_int_eq(lockmgr_latch(a, 2, 0), 0);
	}
	ck_assert_int_eq(lockmgr_latch(a, 2, -1), 0);
	lockmgr_free(b);
	lockmgr_free(a);
}
END_TEST

/*
 * The latch belongs to the device instance it was set on: a new instance (a
 * device plugged in again, a restarted USB/IP server's re-enumerated one)
 * starts unlatched, and the old latch is gone for good, in the file too.
 */
START_TEST(test_latch_instance)
{
	struct lockmgr *a = mk(_i);
	struct lockmgr *b = _i ? mk_full("usb:1209/0001:TEST", true, &rd_ops, -1, "other") : NULL;

	ck_assert_int_eq(lockmgr_set_instance(NULL, 1), -EINVAL);
	ck_assert_int_eq(lockmgr_set_instance(a, 0x0102), 0);
	ck_assert_int_eq(lockmgr_latch(a, 2, 1), 1);
	ck_assert_int_eq(lockmgr_latch(a, 2, -1), 1);
	if (b) {
		/* another process, on the same instance, honours it */
		ck_assert_int_eq(lockmgr_set_instance(b, 0x0102), 0);
		ck_assert_int_eq(lockmgr_latch(b, 2, -1), 1);
	}
	ck_assert_int_eq(lockmgr_set_instance(a, 0x0103), 0);   /* plugged in again */
	ck_assert_int_eq(lockmgr_latch(a, 2, -1), 0);
	ck_assert_int_eq(lockmgr_set_instance(a, 0x0102), 0);
	ck_assert_int_eq(lockmgr_latch(a, 2, -1), 0);           /* cleared, not hidden */
	if (b)
		ck_assert_int_eq(lockmgr_latch(b, 2, -1), 0);
	ck_assert_int_eq(lockmgr_set_instance(a, 0x0103), 0);
	ck_assert_int_eq(lockmgr_latch(a, 2, 1), 1);            /* the new instance latches on its own */
	ck_assert_int_eq(lockmgr_latch(a, 2, -1), 1);
	lockmgr_free(b);
	lockmgr_free(a);
}
END_TEST

/* Two managers of one reader in one process: separate descriptions, so they exclude each other. */
START_TEST(test_lock_two_managers)
{
	struct lockmgr *a = mk(true);
	struct lockmgr *b = mk_full("usb:1209/0001:TEST", true, &rd_ops, -1, "other");
	struct lockmgr_holder_info h;
	struct lockmgr_lock_info li;

	ck_assert_int_eq(lockmgr_lock(a, 2, 1, 0, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_lock(b, 2, 1, 0, 0, NULL), -EBUSY);   /* same owner id, other manager */
	ck_assert_int_eq(lockmgr_lock(b, 2, 2, 50, 0, NULL), -ETIMEDOUT);
	h = holder(b, 2);
	ck_assert_int_eq(h.state, LOCKMGR_HOLDER_HELD);
	ck_assert(!h.this_manager);
	ck_assert_int_eq(h.pid, getpid());
	ck_assert_str_eq(h.program, "lm-test");
	ck_assert_uint_eq(h.owner, 1);
	ck_assert_int_eq(lockmgr_unlock(a, 2, 1, LOCKMGR_LEAVE, NULL), 0);
	/* a clean release is not an abandonment */
	ck_assert_int_eq(holder(b, 2).state, LOCKMGR_HOLDER_FREE);
	ck_assert_int_eq(lockmgr_lock(b, 2, 2, 0, 0, &li), 0);
	ck_assert(!li.abandoned);
	ck_assert_int_eq(lockmgr_lock(a, 2, 1, 0, 0, NULL), -EBUSY);
	/* freeing a manager that holds releases cleanly too */
	lockmgr_free(b);
	ck_assert_int_eq(lockmgr_lock(a, 2, 1, 0, 0, &li), 0);
	ck_assert(!li.abandoned);
	ck_assert_int_eq(ncalls(), 0);
	lockmgr_free(a);
}
END_TEST

/* ---- reentrancy ---- */

START_TEST(test_reentrant)
{
	struct lockmgr *m = mk(_i);
	struct lockmgr_lock_info li;
	enum lockmgr_done done;

	for (unsigned n = 1; n <= 3; n++) {
		ck_assert_int_eq(lockmgr_lock(m, 0, 5, 0, 0, &li), 0);
		ck_assert_uint_eq(li.count, n);
		expect_held(m, 0, 5, n);
	}
	ck_assert_int_eq(lockmgr_lock(m, 0, 6, 0, 0, NULL), -EBUSY);
	/* inner unlocks count down and do not dispose, whatever the disposition */
	done = LOCKMGR_DONE_LATCHED;
	ck_assert_int_eq(lockmgr_unlock(m, 0, 5, LOCKMGR_EJECT, &done), 0);
	ck_assert_int_eq(done, LOCKMGR_DONE_NOTHING);
	expect_held(m, 0, 5, 2);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 5, LOCKMGR_RESET, NULL), 0);
	expect_held(m, 0, 5, 1);
	ck_assert_int_eq(ncalls(), 0);
	ck_assert_int_eq(lockmgr_lock(m, 0, 6, 0, 0, NULL), -EBUSY);
	/* the last one does */
	ck_assert_int_eq(lockmgr_unlock(m, 0, 5, LOCKMGR_RESET, &done), 0);
	ck_assert_int_eq(done, LOCKMGR_DONE_RESET);
	ck_assert_int_eq(ncalls(), 1);
	expect_call(0, 'D', 0, LOCKMGR_RESET);
	expect_free(m, 0);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 5, LOCKMGR_RESET, NULL), -ENOLCK);
	ck_assert_int_eq(ncalls(), 1);
	lockmgr_free(m);
}
END_TEST

/* ---- refusals change nothing ---- */

START_TEST(test_refuse_invalid_disposition)
{
	struct lockmgr *m = mk(_i);
	struct lockmgr_handle *other;
	const int bad[] = { 4, 5, -1, INT_MAX, INT_MIN };   /* 0-3 are LEAVE .. EJECT */
	enum lockmgr_done done;
	uint64_t gen;

	ck_assert_int_eq(lockmgr_handle_open(m, 0, 99, &other), 0);
	ck_assert_int_eq(lockmgr_lock(m, 0, 1, 0, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_lock(m, 0, 1, 0, 0, NULL), 0);
	gen = lockmgr_generation(m, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		done = LOCKMGR_DONE_EJECTED;
		/* Windows' E_INVALIDARG: refused before anything happens */
		ck_assert_int_eq(lockmgr_unlock(m, 0, 1, (enum lockmgr_disposition)bad[i], &done), -EINVAL);
		ck_assert_int_eq(done, LOCKMGR_DONE_EJECTED);  /* not written */
		expect_held(m, 0, 1, 2);                        /* still held, count unchanged */
		ck_assert_int_eq(lockmgr_lock(m, 0, 2, 0, 0, NULL), -EBUSY);
	}
	/* also on the last level */
	ck_assert_int_eq(lockmgr_unlock(m, 0, 1, LOCKMGR_LEAVE, NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(lockmgr_unlock(m, 0, 1, (enum lockmgr_disposition)bad[i], NULL), -EINVAL);
		expect_held(m, 0, 1, 1);
	}
	ck_assert_int_eq(ncalls(), 0);                    /* the card was not touched */
	ck_assert_uint_eq(lockmgr_generation(m, 0), gen);
	ck_assert_int_eq(lockmgr_check(other), 0);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 1, LOCKMGR_UNPOWER, NULL), 0);
	expect_call(0, 'D', 0, LOCKMGR_UNPOWER);
	expect_free(m, 0);
	lockmgr_handle_close(other);
	lockmgr_free(m);
}
END_TEST

START_TEST(test_refuse_not_owner_not_locked)
{
	struct lockmgr *m = mk(_i);
	enum lockmgr_done done = LOCKMGR_DONE_EJECTED;
	uint64_t gen = lockmgr_generation(m, 1);

	/* not locked */
	ck_assert_int_eq(lockmgr_unlock(m, 1, 1, LOCKMGR_RESET, &done), -ENOLCK);
	ck_assert_int_eq(done, LOCKMGR_DONE_EJECTED);
	expect_free(m, 1);
	/* not the owner: refused, the owner keeps it with its count */
	ck_assert_int_eq(lockmgr_lock(m, 1, 1, 0, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_lock(m, 1, 1, 0, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 2, LOCKMGR_RESET, &done), -EPERM);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 2, LOCKMGR_LEAVE, &done), -EPERM);
	ck_assert_int_eq(done, LOCKMGR_DONE_EJECTED);
	expect_held(m, 1, 1, 2);
	/* a slot held elsewhere is not locked for this slot */
	ck_assert_int_eq(lockmgr_unlock(m, 2, 1, LOCKMGR_LEAVE, NULL), -ENOLCK);
	ck_assert_int_eq(ncalls(), 0);
	ck_assert_uint_eq(lockmgr_generation(m, 1), gen);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 1, LOCKMGR_LEAVE, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 1, LOCKMGR_LEAVE, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 1, LOCKMGR_LEAVE, NULL), -ENOLCK);
	lockmgr_free(m);
}
END_TEST

/* ---- dispositions and callbacks ---- */

START_TEST(test_dispositions)
{
	struct lockmgr *m = mk(_i);
	const struct {
		enum lockmgr_disposition d;
		enum lockmgr_done eject_done, want;
	} cases[] = {
		{ LOCKMGR_RESET, 0, LOCKMGR_DONE_RESET },
		{ LOCKMGR_UNPOWER, 0, LOCKMGR_DONE_UNPOWERED },
		{ LOCKMGR_EJECT, LOCKMGR_DONE_EJECTED, LOCKMGR_DONE_EJECTED },  /* a reader with a mechanism */
		{ LOCKMGR_EJECT, LOCKMGR_DONE_LATCHED, LOCKMGR_DONE_LATCHED },  /* one without */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum lockmgr_done done = 99;

		g_rd.eject_done = cases[i].eject_done;
		ck_assert_int_eq(lockmgr_lock(m, 3, 1, 0, 0, NULL), 0);
		ck_assert_int_eq(ncalls(), (int)i);     /* locking sends nothing */
		ck_assert_int_eq(lockmgr_unlock(m, 3, 1, cases[i].d, &done), 0);
		ck_assert_int_eq(done, cases[i].want);
		ck_assert_int_eq(ncalls(), (int)i + 1);
		expect_call((int)i, 'D', 3, (int)cases[i].d);
		expect_free(m, 3);
	}
	lockmgr_free(m);
}
END_TEST

struct waiter_arg {
	struct lockmgr *m;
	unsigned slot;
	lockmgr_owner_t owner;
	int timeout_ms;
	int result;
	int64_t elapsed_ms;
	struct lockmgr_lock_info info;
	bool unlock_after;
};

static void *waiter_thread(void *p)
{
	struct waiter_arg *a = p;
	int64_t t0 = uccid_mono_ms();

	a->result = lockmgr_lock(a->m, a->slot, a->owner, a->timeout_ms, 0, &a->info);
	a->elapsed_ms = uccid_mono_ms() - t0;
	if (a->result == 0 && a->unlock_after)
		lockmgr_unlock(a->m, a->slot, a->owner, LOCKMGR_LEAVE, NULL);
	return NULL;
}

START_TEST(test_dispose_failure_releases)
{
	struct lockmgr *m = mk(_i);
	struct waiter_arg w = { .m = m, .slot = 0, .owner = 2, .timeout_ms = -1, .unlock_after = false };
	struct lockmgr_handle *mine, *theirs;
	enum lockmgr_done done = 99;
	pthread_t th;

	ck_assert_int_eq(lockmgr_handle_open(m, 0, 1, &mine), 0);
	ck_assert_int_eq(lockmgr_handle_open(m, 0, 2, &theirs), 0);
	ck_assert_int_eq(lockmgr_lock(m, 0, 1, 0, 0, NULL), 0);
	pthread_create(&th, NULL, waiter_thread, &w);
	await_waiters(m, 0, 1);
	g_rd.dispose_ret = -ENOMEDIUM;   /* the card was pulled out in between */
	ck_assert_int_eq(lockmgr_unlock(m, 0, 1, LOCKMGR_RESET, &done), -ENOMEDIUM);
	ck_assert_int_eq(done, LOCKMGR_DONE_NOTHING);
	expect_call(0, 'D', 0, LOCKMGR_RESET);
	/* released all the same: the waiter gets it */
	pthread_join(th, NULL);
	ck_assert_int_eq(w.result, 0);
	expect_held(m, 0, 2, 1);
	/* the card's state is unknown: other owners' handles must assume a reset */
	ck_assert_int_eq(lockmgr_check(theirs), LOCKMGR_W_RESET_CARD);
	ck_assert_int_eq(lockmgr_check(mine), 0);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 2, LOCKMGR_EJECT, NULL), -ENOMEDIUM);
	expect_free(m, 0);
	ck_assert_int_eq(lockmgr_lock(m, 0, 3, 0, 0, NULL), 0);
	lockmgr_handle_close(mine);
	lockmgr_handle_close(theirs);
	lockmgr_free(m);
}
END_TEST

START_TEST(test_mechanical)
{
	struct lockmgr *m = mk(_i);
	struct lockmgr_lock_info li;

	/* lock after the grant, unlock before the disposition (CCID Mechanical 04, 05, then 02) */
	ck_assert_int_eq(lockmgr_lock(m, 1, 1, 0, LOCKMGR_F_MECHANICAL, &li), 0);
	ck_assert_int_eq(ncalls(), 1);
	expect_call(0, 'M', 1, 1);
	/* the flag counts on the outermost lock only */
	ck_assert_int_eq(lockmgr_lock(m, 1, 1, 0, LOCKMGR_F_MECHANICAL, &li), 0);
	ck_assert_uint_eq(li.count, 2);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 1, LOCKMGR_EJECT, NULL), 0);
	ck_assert_int_eq(ncalls(), 1);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 1, LOCKMGR_EJECT, NULL), 0);
	ck_assert_int_eq(ncalls(), 3);
	expect_call(1, 'M', 1, 0);
	expect_call(2, 'D', 1, LOCKMGR_EJECT);
	expect_free(m, 1);

	/* LEAVE still unlocks the mechanism, and sends nothing else */
	ck_assert_int_eq(lockmgr_lock(m, 1, 1, 0, LOCKMGR_F_MECHANICAL, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 1, LOCKMGR_LEAVE, NULL), 0);
	ck_assert_int_eq(ncalls(), 5);
	expect_call(4, 'M', 1, 0);

	/* a lock without the flag never touches the mechanism */
	ck_assert_int_eq(lockmgr_lock(m, 1, 1, 0, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 1, LOCKMGR_RESET, NULL), 0);
	ck_assert_int_eq(ncalls(), 6);
	expect_call(5, 'D', 1, LOCKMGR_RESET);

	/* the mechanism fails to lock: the call fails and the slot is not held */
	g_rd.mech_lock_ret = -EIO;
	ck_assert_int_eq(lockmgr_lock(m, 1, 1, 0, LOCKMGR_F_MECHANICAL, NULL), -EIO);
	ck_assert_int_eq(ncalls(), 7);
	expect_free(m, 1);
	g_rd.mech_lock_ret = 0;

	/* it fails to unlock: the error is returned, the disposition still carried out, released */
	g_rd.mech_unlock_ret = -EIO;
	ck_assert_int_eq(lockmgr_lock(m, 1, 1, 0, LOCKMGR_F_MECHANICAL, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(m, 1, 1, LOCKMGR_UNPOWER, NULL), -EIO);
	expect_call(8, 'M', 1, 0);
	expect_call(9, 'D', 1, LOCKMGR_UNPOWER);
	expect_free(m, 1);
	lockmgr_free(m);
}
END_TEST

/* Callbacks run without the manager's lock: they may call it, and see the slot still held. */
static void reentering_hook(struct reader *rd, unsigned slot)
{
	struct lockmgr_holder_info h;

	rd->hook_results[0] = lockmgr_lock(rd->m, slot, 2, 0, 0, NULL);
	rd->hook_results[1] = lockmgr_unlock(rd->m, slot, 1, LOCKMGR_LEAVE, NULL);
	rd->hook_results[2] = lockmgr_card_event(rd->m, slot, LOCKMGR_EV_INSERTED);
	rd->hook_results[3] = lockmgr_holder(rd->m, slot, &h) == 0 && h.state == LOCKMGR_HOLDER_HELD &&
			      h.this_manager && h.owner == 1;
}

START_TEST(test_callbacks_unlocked)
{
	struct lockmgr *m = mk(_i);

	g_rd.m = m;
	g_rd.hook = reentering_hook;
	ck_assert_int_eq(lockmgr_lock(m, 0, 1, 0, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 1, LOCKMGR_RESET, NULL), 0);
	ck_assert_int_eq(g_rd.hook_results[0], -EBUSY);     /* still held while disposing */
	ck_assert_int_eq(g_rd.hook_results[1], -ENOLCK);    /* being released: not locked again */
	ck_assert_int_eq(g_rd.hook_results[2], 0);
	ck_assert_int_eq(g_rd.hook_results[3], 1);
	expect_free(m, 0);
	lockmgr_free(m);
}
END_TEST

/* ---- card-state generation ---- */

START_TEST(test_generation_events)
{
	struct lockmgr *m = mk(_i);
	struct lockmgr_handle *a, *b, *late;
	uint64_t g0 = lockmgr_generation(m, 0);

	ck_assert_int_eq(lockmgr_handle_open(m, 0, 1, &a), 0);
	ck_assert_int_eq(lockmgr_handle_open(m, 0, 2, &b), 0);
	ck_assert_int_eq(lockmgr_check(a), 0);
	ck_assert_int_eq(lockmgr_card_event(m, 0, LOCKMGR_EV_RESET), 0);
	ck_assert_uint_eq(lockmgr_generation(m, 0), g0 + 1);
	ck_assert_int_eq(lockmgr_check(a), LOCKMGR_W_RESET_CARD);
	ck_assert_int_eq(lockmgr_check(a), LOCKMGR_W_RESET_CARD);  /* until acknowledged */
	ck_assert_int_eq(lockmgr_ack(a), 0);
	ck_assert_int_eq(lockmgr_check(a), 0);
	ck_assert_int_eq(lockmgr_check(b), LOCKMGR_W_RESET_CARD);
	/* removal takes precedence over a reset not yet acknowledged */
	ck_assert_int_eq(lockmgr_card_event(m, 0, LOCKMGR_EV_REMOVED), 0);
	ck_assert_int_eq(lockmgr_check(b), LOCKMGR_W_REMOVED_CARD);
	ck_assert_int_eq(lockmgr_check(a), LOCKMGR_W_REMOVED_CARD);
	lockmgr_ack(a);
	lockmgr_ack(b);
	/* power-off is reset-class; eject and insertion are removal-class */
	lockmgr_card_event(m, 0, LOCKMGR_EV_POWER_OFF);
	ck_assert_int_eq(lockmgr_check(a), LOCKMGR_W_RESET_CARD);
	lockmgr_ack(a);
	lockmgr_card_event(m, 0, LOCKMGR_EV_INSERTED);
	ck_assert_int_eq(lockmgr_check(a), LOCKMGR_W_REMOVED_CARD);
	lockmgr_ack(a);
	lockmgr_card_event(m, 0, LOCKMGR_EV_EJECT);
	ck_assert_int_eq(lockmgr_check(a), LOCKMGR_W_REMOVED_CARD);
	lockmgr_ack(a);
	/* a handle opened now starts up to date; other slots are untouched */
	ck_assert_int_eq(lockmgr_handle_open(m, 0, 3, &late), 0);
	ck_assert_int_eq(lockmgr_check(late), 0);
	ck_assert_uint_eq(lockmgr_generation(m, 1), 0);
	/* an unknown event is refused and bumps nothing */
	ck_assert_int_eq(lockmgr_card_event(m, 0, (enum lockmgr_event)0), -EINVAL);
	ck_assert_int_eq(lockmgr_card_event(m, 0, (enum lockmgr_event)6), -EINVAL);
	ck_assert_uint_eq(lockmgr_generation(m, 0), g0 + 5);
	ck_assert_int_eq(lockmgr_check(a), 0);
	lockmgr_handle_close(a);
	lockmgr_handle_close(b);
	lockmgr_handle_close(late);
	lockmgr_handle_close(NULL);
	lockmgr_free(m);
}
END_TEST

START_TEST(test_generation_dispositions)
{
	struct lockmgr *m = mk(_i);
	struct lockmgr_handle *a, *a2, *b;
	uint64_t g;

	ck_assert_int_eq(lockmgr_handle_open(m, 2, 1, &a), 0);
	ck_assert_int_eq(lockmgr_handle_open(m, 2, 1, &a2), 0);
	ck_assert_int_eq(lockmgr_handle_open(m, 2, 2, &b), 0);
	/* LEAVE changes nothing */
	g = lockmgr_generation(m, 2);
	lockmgr_lock(m, 2, 1, 0, 0, NULL);
	lockmgr_unlock(m, 2, 1, LOCKMGR_LEAVE, NULL);
	ck_assert_uint_eq(lockmgr_generation(m, 2), g);
	ck_assert_int_eq(lockmgr_check(b), 0);
	/* RESET by owner 1: its own handles know, the others are told */
	lockmgr_lock(m, 2, 1, 0, 0, NULL);
	lockmgr_unlock(m, 2, 1, LOCKMGR_RESET, NULL);
	ck_assert_uint_eq(lockmgr_generation(m, 2), g + 1);
	ck_assert_int_eq(lockmgr_check(a), 0);
	ck_assert_int_eq(lockmgr_check(a2), 0);
	ck_assert_int_eq(lockmgr_check(b), LOCKMGR_W_RESET_CARD);
	lockmgr_ack(b);
	/* UNPOWER: reset-class */
	lockmgr_lock(m, 2, 1, 0, 0, NULL);
	lockmgr_unlock(m, 2, 1, LOCKMGR_UNPOWER, NULL);
	ck_assert_int_eq(lockmgr_check(b), LOCKMGR_W_RESET_CARD);
	lockmgr_ack(b);
	/* news owner 1 has not acknowledged stays news after its own disposition (and the
	   handle sees the strongest: a removal since its last ack) */
	lockmgr_card_event(m, 2, LOCKMGR_EV_RESET);
	lockmgr_ack(b);
	lockmgr_ack(a2);
	lockmgr_lock(m, 2, 1, 0, 0, NULL);
	lockmgr_unlock(m, 2, 1, LOCKMGR_EJECT, NULL);  /* latched */
	ck_assert_int_eq(lockmgr_check(a), LOCKMGR_W_REMOVED_CARD);
	ck_assert_int_eq(lockmgr_check(a2), 0);
	ck_assert_int_eq(lockmgr_check(b), LOCKMGR_W_REMOVED_CARD);
	lockmgr_handle_close(a);
	lockmgr_handle_close(a2);
	lockmgr_handle_close(b);
	lockmgr_free(m);
}
END_TEST

/* ---- waiting ---- */

START_TEST(test_wait_timeout)
{
	struct lockmgr *m = mk(_i);
	int64_t t0;

	ck_assert_int_eq(lockmgr_lock(m, 0, 1, 0, 0, NULL), 0);
	t0 = uccid_mono_ms();
	ck_assert_int_eq(lockmgr_lock(m, 0, 2, 150, 0, NULL), -ETIMEDOUT);
	ck_assert_int_ge(uccid_mono_ms() - t0, 150);
	ck_assert_int_lt(uccid_mono_ms() - t0, 2000);
	/* the waiter left no trace */
	expect_held(m, 0, 1, 1);
	ck_assert_uint_eq(holder(m, 0).waiters, 0);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 1, LOCKMGR_LEAVE, NULL), 0);
	expect_free(m, 0);
	/* a finite wait that is served in time */
	ck_assert_int_eq(lockmgr_lock(m, 0, 2, 1000, 0, NULL), 0);
	lockmgr_free(m);
}
END_TEST

START_TEST(test_wait_finite_granted)
{
	struct lockmgr *m = mk(_i);
	struct waiter_arg w = { .m = m, .owner = 2, .timeout_ms = 10000 };
	pthread_t th;

	ck_assert_int_eq(lockmgr_lock(m, 0, 1, 0, 0, NULL), 0);
	pthread_create(&th, NULL, waiter_thread, &w);
	await_waiters(m, 0, 1);
	usleep(50000);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 1, LOCKMGR_LEAVE, NULL), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.result, 0);
	ck_assert_int_ge(w.elapsed_ms, 50);
	ck_assert_int_lt(w.elapsed_ms, 5000);
	expect_held(m, 0, 2, 1);
	lockmgr_free(m);
}
END_TEST

START_TEST(test_wait_cancel)
{
	struct lockmgr *m = mk(_i);
	struct waiter_arg w1 = { .m = m, .owner = 2, .timeout_ms = -1 };
	struct waiter_arg w2 = { .m = m, .owner = 3, .timeout_ms = -1, .unlock_after = true };
	pthread_t t1, t2;

	ck_assert_int_eq(lockmgr_cancel_wait(m, 0, 2), -ENOENT);
	ck_assert_int_eq(lockmgr_lock(m, 0, 1, 0, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_cancel_wait(m, 0, 1), -ENOENT);  /* the holder is not waiting */
	pthread_create(&t1, NULL, waiter_thread, &w1);
	await_waiters(m, 0, 1);
	pthread_create(&t2, NULL, waiter_thread, &w2);
	await_waiters(m, 0, 2);
	ck_assert_int_eq(lockmgr_cancel_wait(m, 0, 2), 0);
	pthread_join(t1, NULL);
	ck_assert_int_eq(w1.result, -ECANCELED);
	ck_assert_int_lt(w1.elapsed_ms, 20000);
	/* only that waiter: the holder keeps the slot, the other waiter stays queued */
	expect_held(m, 0, 1, 1);
	ck_assert_uint_eq(holder(m, 0).waiters, 1);
	ck_assert_int_eq(lockmgr_cancel_wait(m, 0, 2), -ENOENT);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 1, LOCKMGR_LEAVE, NULL), 0);
	pthread_join(t2, NULL);
	ck_assert_int_eq(w2.result, 0);
	expect_free(m, 0);
	lockmgr_free(m);
}
END_TEST

/* FIFO: waiters queued in a known order are served in that order. */
#define FIFO_N 6

struct fifo {
	struct lockmgr *m;
	int order[FIFO_N];
	int n;          /* written only under the slot's lock */
	int errors;
};

struct fifo_arg {
	struct fifo *f;
	int id;
};

static void *fifo_thread(void *p)
{
	struct fifo_arg *a = p;

	if (lockmgr_lock(a->f->m, 0, (lockmgr_owner_t)a->id + 100, -1, 0, NULL) < 0) {
		__atomic_add_fetch(&a->f->errors, 1, __ATOMIC_SEQ_CST);
		return NULL;
	}
	a->f->order[a->f->n++] = a->id;
	usleep(1000);
	lockmgr_unlock(a->f->m, 0, (lockmgr_owner_t)a->id + 100, LOCKMGR_LEAVE, NULL);
	return NULL;
}

START_TEST(test_fifo)
{
	struct fifo f = { .m = mk(_i) };
	struct fifo_arg args[FIFO_N];
	pthread_t th[FIFO_N];

	ck_assert_int_eq(lockmgr_lock(f.m, 0, 1, 0, 0, NULL), 0);
	for (int i = 0; i < FIFO_N; i++) {
		args[i] = (struct fifo_arg){ &f, i };
		pthread_create(&th[i], NULL, fifo_thread, &args[i]);
		await_waiters(f.m, 0, (unsigned)i + 1);   /* queued before the next one starts */
	}
	ck_assert_int_eq(lockmgr_unlock(f.m, 0, 1, LOCKMGR_LEAVE, NULL), 0);
	for (int i = 0; i < FIFO_N; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(f.errors, 0);
	ck_assert_int_eq(f.n, FIFO_N);
	for (int i = 0; i < FIFO_N; i++)
		ck_assert_int_eq(f.order[i], i);
	lockmgr_free(f.m);
}
END_TEST

/*
 * Direct hand-off: a release with a waiter makes the waiter the owner at once,
 * so the releaser cannot take the slot back (no barging), and a strict
 * ping-pong where each side waits forever finishes — with a lost wake-up it
 * would hang until the tcase timeout.
 */
struct pingpong {
	struct lockmgr *m;
	int rounds;
	int errors;
};

static void *pong_thread(void *p)
{
	struct pingpong *pp = p;

	for (int i = 0; i < pp->rounds; i++) {
		if (lockmgr_lock(pp->m, 0, 2, -1, 0, NULL) < 0 ||
		    lockmgr_unlock(pp->m, 0, 2, LOCKMGR_LEAVE, NULL) < 0)
			pp->errors++;
	}
	return NULL;
}

START_TEST(test_handoff_no_barging)
{
	struct lockmgr *m = mk(_i);
	struct waiter_arg w = { .m = m, .owner = 2, .timeout_ms = -1 };
	pthread_t th;

	ck_assert_int_eq(lockmgr_lock(m, 0, 1, 0, 0, NULL), 0);
	pthread_create(&th, NULL, waiter_thread, &w);
	await_waiters(m, 0, 1);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 1, LOCKMGR_LEAVE, NULL), 0);
	/* the slot already belongs to the waiter, even if it has not run yet */
	ck_assert_int_eq(lockmgr_lock(m, 0, 1, 0, 0, NULL), -EBUSY);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.result, 0);
	expect_held(m, 0, 2, 1);
	lockmgr_free(m);
}
END_TEST

START_TEST(test_no_lost_wakeup)
{
	struct pingpong pp = { .m = mk(_i), .rounds = 2000 };
	pthread_t th;
	int errors = 0;

	pthread_create(&th, NULL, pong_thread, &pp);
	for (int i = 0; i < pp.rounds; i++) {
		if (lockmgr_lock(pp.m, 0, 1, -1, 0, NULL) < 0 ||
		    lockmgr_unlock(pp.m, 0, 1, LOCKMGR_LEAVE, NULL) < 0)
			errors++;
	}
	pthread_join(th, NULL);
	ck_assert_int_eq(errors + pp.errors, 0);
	expect_free(pp.m, 0);
	lockmgr_free(pp.m);
}
END_TEST

/* N threads x M cycles of lock / critical section / unlock on one slot. */
#define MX_THREADS 8
#define MX_CYCLES 400

struct mx {
	struct lockmgr *m;
	long counter;           /* plain: only the slot's lock protects it */
	atomic_int inside;
	atomic_int errors;
};

struct mx_arg {
	struct mx *x;
	lockmgr_owner_t owner;
};

static void *mx_thread(void *p)
{
	struct mx_arg *a = p;
	struct mx *x = a->x;

	for (int i = 0; i < MX_CYCLES; i++) {
		long c;

		if (lockmgr_lock(x->m, 0, a->owner, -1, 0, NULL) < 0) {
			atomic_fetch_add(&x->errors, 1);
			continue;
		}
		if (atomic_exchange(&x->inside, 1))
			atomic_fetch_add(&x->errors, 1);   /* two owners at once */
		c = x->counter;
		if (i % 8 == 0)
			sched_yield();
		x->counter = c + 1;
		atomic_store(&x->inside, 0);
		if (lockmgr_unlock(x->m, 0, a->owner, LOCKMGR_LEAVE, NULL) < 0)
			atomic_fetch_add(&x->errors, 1);
	}
	return NULL;
}

START_TEST(test_threads_mutual_exclusion)
{
	struct mx x = { .m = mk(_i) };
	struct mx_arg args[MX_THREADS];
	pthread_t th[MX_THREADS];

	atomic_init(&x.inside, 0);
	atomic_init(&x.errors, 0);
	for (int i = 0; i < MX_THREADS; i++) {
		args[i] = (struct mx_arg){ &x, (lockmgr_owner_t)i + 1 };
		pthread_create(&th[i], NULL, mx_thread, &args[i]);
	}
	for (int i = 0; i < MX_THREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(atomic_load(&x.errors), 0);
	ck_assert_int_eq(x.counter, MX_THREADS * MX_CYCLES);
	expect_free(x.m, 0);
	lockmgr_free(x.m);
}
END_TEST

/* ---- across processes ---- */

/* Shared between the test and its children (MAP_SHARED | MAP_ANONYMOUS). */
struct shared {
	atomic_int inside;
	atomic_int errors;
	atomic_int holding;             /* the victim holds the slot */
	atomic_int seq;                 /* orders the log */
	struct {
		int seq;
		char what;              /* 'D' abandon disposition reached the reader, 'G' got the lock */
		pid_t pid;
		int abandoned;
		pid_t prev_pid;
		char prev_program[LOCKMGR_PROGRAM_MAX];
		int abandon_done;
	} log[32];
	atomic_int nlog;
};

static struct shared *g_sh;

static struct shared *shared_new(void)
{
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(s, MAP_FAILED);
	memset(s, 0, sizeof(*s));
	return s;
}

static int child_dispose(void *ctx, unsigned slot, enum lockmgr_disposition d, enum lockmgr_done *done)
{
	int i = atomic_fetch_add(&g_sh->nlog, 1);

	if (i < 32) {
		g_sh->log[i].seq = atomic_fetch_add(&g_sh->seq, 1);
		g_sh->log[i].what = 'D';
		g_sh->log[i].pid = getpid();
		g_sh->log[i].abandoned = (int)d;
	}
	*done = d == LOCKMGR_RESET ? LOCKMGR_DONE_RESET : LOCKMGR_DONE_UNPOWERED;
	return 0;
}

static const struct lockmgr_ops child_ops = { .dispose = child_dispose };

/* A child's own manager (never the parent's: a child sharing the parent's description
   would share its locks). */
static struct lockmgr *child_mgr(const char *program, int abandon)
{
	struct lockmgr_config cfg = { .slots = 4, .reader_id = "usb:1209/0001:TEST", .runtime_dir = g_dir,
				      .program = program, .ops = &child_ops };

	if (abandon >= 0) {
		cfg.abandon = (enum lockmgr_disposition)abandon;
		cfg.abandon_set = true;
	}
	return lockmgr_new(&cfg);
}

static void child_count(int iters, const char *counter_path)
{
	struct lockmgr *m = child_mgr("lm-counter", -1);
	int fd = open(counter_path, O_RDWR);
	int bad = 0;

	if (!m || fd < 0)
		_exit(2);
	for (int i = 0; i < iters; i++) {
		long c = 0;

		if (lockmgr_lock(m, 1, (lockmgr_owner_t)getpid(), -1, 0, NULL) < 0) {
			bad++;
			continue;
		}
		if (atomic_exchange(&g_sh->inside, 1))
			bad++;
		if (pread(fd, &c, sizeof(c), 0) != sizeof(c))
			bad++;
		if (i % 4 == 0)
			sched_yield();
		c++;
		if (pwrite(fd, &c, sizeof(c), 0) != sizeof(c))
			bad++;
		atomic_store(&g_sh->inside, 0);
		if (lockmgr_unlock(m, 1, (lockmgr_owner_t)getpid(), LOCKMGR_LEAVE, NULL) < 0)
			bad++;
	}
	lockmgr_free(m);
	close(fd);
	_exit(bad ? 1 : 0);
}

#define PROC_N 4
#define PROC_ITERS 150

START_TEST(test_process_mutual_exclusion)
{
	char path[128];
	pid_t pids[PROC_N];
	long c = 0;
	int fd, st;

	g_sh = shared_new();
	snprintf(path, sizeof(path), "%s/counter", g_dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ck_assert_int_eq(pwrite(fd, &c, sizeof(c), 0), sizeof(c));
	for (int i = 0; i < PROC_N; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0)
			child_count(PROC_ITERS, path);
	}
	for (int i = 0; i < PROC_N; i++) {
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d failed (status %#x)", i, st);
	}
	ck_assert_int_eq(pread(fd, &c, sizeof(c), 0), sizeof(c));
	ck_assert_int_eq(c, PROC_N * PROC_ITERS);
	close(fd);
	munmap(g_sh, sizeof(*g_sh));
}
END_TEST

/* A child that takes slot and holds it until killed (or until told to let go via holding = 2). */
static void child_hold(unsigned slot, const char *program)
{
	struct lockmgr *m = child_mgr(program, -1);

	if (!m || lockmgr_lock(m, slot, 42, -1, 0, NULL) < 0)
		_exit(2);
	atomic_store(&g_sh->holding, 1);
	while (atomic_load(&g_sh->holding) != 2)
		usleep(1000);
	lockmgr_unlock(m, slot, 42, LOCKMGR_LEAVE, NULL);
	lockmgr_free(m);
	_exit(0);
}

static pid_t spawn_holder(unsigned slot, const char *program)
{
	pid_t pid;
	int64_t end = uccid_mono_ms() + 20000;

	atomic_store(&g_sh->holding, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		child_hold(slot, program);
	while (!atomic_load(&g_sh->holding)) {
		ck_assert_msg(uccid_mono_ms() < end, "holder never took the slot");
		usleep(500);
	}
	return pid;
}

START_TEST(test_process_holder_and_waits)
{
	struct lockmgr *m;
	struct lockmgr_holder_info h;
	struct waiter_arg w;
	struct timespec t0;
	pthread_t th;
	pid_t pid;
	int64_t t;
	int st;

	g_sh = shared_new();
	clock_gettime(CLOCK_REALTIME, &t0);
	pid = spawn_holder(3, "lm-holder");
	m = mk(true);   /* after the fork: the child has no share in this manager's description */
	h = holder(m, 3);
	ck_assert_int_eq(h.state, LOCKMGR_HOLDER_HELD);
	ck_assert(!h.this_manager);
	ck_assert_int_eq(h.pid, pid);
	ck_assert_str_eq(h.program, "lm-holder");
	ck_assert_uint_eq(h.owner, 42);
	ck_assert_int_le(labs((long)(h.since.tv_sec - t0.tv_sec)), 2);
	expect_free(m, 0);

	/* try once, and a finite wait, against another process */
	ck_assert_int_eq(lockmgr_lock(m, 3, 1, 0, 0, NULL), -EBUSY);
	t = uccid_mono_ms();
	ck_assert_int_eq(lockmgr_lock(m, 3, 1, 120, 0, NULL), -ETIMEDOUT);
	ck_assert_int_ge(uccid_mono_ms() - t, 120);
	ck_assert_int_lt(uccid_mono_ms() - t, 3000);
	/* the failed waits left the slot free in this process */
	ck_assert_int_eq(holder(m, 3).state, LOCKMGR_HOLDER_HELD);
	ck_assert(!holder(m, 3).this_manager);

	/* a wait for another process can be cancelled */
	w = (struct waiter_arg){ .m = m, .slot = 3, .owner = 1, .timeout_ms = -1 };
	pthread_create(&th, NULL, waiter_thread, &w);
	await_waiters(m, 3, 1);   /* asleep on the lock file's doorbell */
	ck_assert_int_eq(lockmgr_cancel_wait(m, 3, 1), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.result, -ECANCELED);
	ck_assert_int_lt(w.elapsed_ms, 10000);

	/* a wait that is served when the other process lets go, woken by its release */
	w = (struct waiter_arg){ .m = m, .slot = 3, .owner = 1, .timeout_ms = 10000 };
	pthread_create(&th, NULL, waiter_thread, &w);
	await_waiters(m, 3, 1);
	atomic_store(&g_sh->holding, 2);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.result, 0);
	ck_assert(!w.info.abandoned);   /* it unlocked cleanly */
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	h = holder(m, 3);
	ck_assert(h.this_manager);
	ck_assert_int_eq(h.pid, getpid());
	ck_assert_int_eq(ncalls(), 0);
	lockmgr_free(m);
	munmap(g_sh, sizeof(*g_sh));
}
END_TEST

/* A contender: waits for the slot; logs when it got it and what it was told. */
static void child_contend(unsigned slot, int abandon)
{
	struct lockmgr *m = child_mgr("lm-next", abandon);
	struct lockmgr_lock_info li;
	int i;

	if (!m || lockmgr_lock(m, slot, (lockmgr_owner_t)getpid(), 30000, 0, &li) < 0)
		_exit(2);
	i = atomic_fetch_add(&g_sh->nlog, 1);
	if (i < 32) {
		g_sh->log[i].seq = atomic_fetch_add(&g_sh->seq, 1);
		g_sh->log[i].what = 'G';
		g_sh->log[i].pid = getpid();
		g_sh->log[i].abandoned = li.abandoned;
		g_sh->log[i].prev_pid = li.prev_pid;
		memcpy(g_sh->log[i].prev_program, li.prev_program, LOCKMGR_PROGRAM_MAX);
		g_sh->log[i].abandon_done = (int)li.abandon_done;
	}
	usleep(2000);
	lockmgr_unlock(m, slot, (lockmgr_owner_t)getpid(), LOCKMGR_LEAVE, NULL);
	lockmgr_free(m);
	_exit(0);
}

#define ABANDON_ROUNDS 20
#define CONTENDERS 3

/* One round: a holder is killed with the slot; of the contenders waiting, exactly one is told. */
static void abandon_round(struct lockmgr *m, int abandon)
{
	pid_t victim, pids[CONTENDERS];
	enum lockmgr_disposition want = abandon >= 0 ? (enum lockmgr_disposition)abandon
						     : LOCKMGR_RESET;   /* -1: the default */
	int st, told = 0, disposals = 0;

	memset(g_sh->log, 0, sizeof(g_sh->log));
	atomic_store(&g_sh->nlog, 0);
	victim = spawn_holder(0, "lm-victim");
	for (int i = 0; i < CONTENDERS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0)
			child_contend(0, abandon);
	}
	await_waiters(m, 0, CONTENDERS);   /* every contender sleeps on the doorbell */
	ck_assert_int_eq(holder(m, 0).pid, victim);
	ck_assert_int_eq(kill(victim, SIGKILL), 0);
	ck_assert_int_eq(waitpid(victim, &st, 0), victim);
	ck_assert(WIFSIGNALED(st));
	for (int i = 0; i < CONTENDERS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "contender failed (status %#x)", st);
	}
	ck_assert_int_eq(atomic_load(&g_sh->nlog), CONTENDERS + (want != LOCKMGR_LEAVE));
	for (int i = 0; i < atomic_load(&g_sh->nlog); i++) {
		if (g_sh->log[i].what == 'D') {
			disposals++;
			ck_assert_int_eq(g_sh->log[i].abandoned, (int)want);
			continue;
		}
		if (!g_sh->log[i].abandoned)
			continue;
		told++;
		ck_assert_int_eq(g_sh->log[i].prev_pid, victim);
		ck_assert_str_eq(g_sh->log[i].prev_program, "lm-victim");
		if (want == LOCKMGR_LEAVE) {
			ck_assert_int_eq(g_sh->log[i].abandon_done, LOCKMGR_DONE_NOTHING);
			continue;
		}
		ck_assert_int_eq(g_sh->log[i].abandon_done, LOCKMGR_DONE_RESET);
		/* the disposition reached the reader, from that same process, just before it
		   got the card */
		ck_assert_int_gt(i, 0);
		ck_assert_int_eq(g_sh->log[i - 1].what, 'D');
		ck_assert_int_eq(g_sh->log[i - 1].pid, g_sh->log[i].pid);
		ck_assert_int_eq(g_sh->log[i - 1].seq + 1, g_sh->log[i].seq);
	}
	ck_assert_int_eq(told, 1);
	ck_assert_int_eq(disposals, want != LOCKMGR_LEAVE);
	/* and once handled, it is not abandoned any more */
	ck_assert_int_eq(holder(m, 0).state, LOCKMGR_HOLDER_FREE);
}

START_TEST(test_process_abandon)
{
	struct lockmgr *m;
	struct lockmgr_holder_info h;
	struct lockmgr_lock_info li;
	pid_t victim;
	int st;

	g_sh = shared_new();
	m = mk(true);
	for (int round = 0; round < ABANDON_ROUNDS; round++)
		abandon_round(m, -1);  /* the default: RESET */

	/* the record outlives its holder: ABANDONED until the next owner disposes */
	victim = spawn_holder(0, "lm-victim");
	kill(victim, SIGKILL);
	waitpid(victim, &st, 0);
	h = holder(m, 0);
	ck_assert_int_eq(h.state, LOCKMGR_HOLDER_ABANDONED);
	ck_assert_int_eq(h.pid, victim);
	ck_assert_str_eq(h.program, "lm-victim");
	/* in this process too: the callback before lockmgr_lock() returns */
	ck_assert_int_eq(lockmgr_lock(m, 0, 9, 0, 0, &li), 0);
	ck_assert(li.abandoned);
	ck_assert_int_eq(li.prev_pid, victim);
	ck_assert_int_eq(li.abandon_status, 0);
	ck_assert_int_eq(li.abandon_done, LOCKMGR_DONE_RESET);
	ck_assert_int_eq(ncalls(), 1);
	expect_call(0, 'D', 0, LOCKMGR_RESET);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 9, LOCKMGR_LEAVE, NULL), 0);
	lockmgr_free(m);
	munmap(g_sh, sizeof(*g_sh));
}
END_TEST

START_TEST(test_process_abandon_configured)
{
	struct lockmgr *m;
	struct lockmgr_handle *h;
	struct lockmgr_lock_info li;
	pid_t victim;
	int st;

	g_sh = shared_new();
	rd_reset();
	/* abandon LEAVE: told, but the reader is not called */
	m = mk_full("usb:1209/0001:TEST", true, &rd_ops, LOCKMGR_LEAVE, "lm-test");
	abandon_round(m, LOCKMGR_LEAVE);
	lockmgr_free(m);

	/* abandon UNPOWER, and a callback that fails: the new owner still gets the slot, told why;
	   every handle, the new owner's too, learns the card's state changed */
	m = mk_full("usb:1209/0001:TEST", true, &rd_ops, LOCKMGR_UNPOWER, "lm-test");
	ck_assert_int_eq(lockmgr_handle_open(m, 0, 9, &h), 0);
	victim = spawn_holder(0, "lm-victim");
	kill(victim, SIGKILL);
	waitpid(victim, &st, 0);
	g_rd.dispose_ret = -ENODEV;
	ck_assert_int_eq(lockmgr_lock(m, 0, 9, 5000, 0, &li), 0);
	ck_assert(li.abandoned);
	ck_assert_int_eq(li.abandon_status, -ENODEV);
	expect_call(0, 'D', 0, LOCKMGR_UNPOWER);
	ck_assert_int_eq(lockmgr_check(h), LOCKMGR_W_RESET_CARD);
	ck_assert_int_eq(lockmgr_unlock(m, 0, 9, LOCKMGR_LEAVE, NULL), 0);
	/* handled once: the next owner is not told again */
	ck_assert_int_eq(lockmgr_lock(m, 0, 9, 0, 0, &li), 0);
	ck_assert(!li.abandoned);
	ck_assert_int_eq(ncalls(), 1);
	lockmgr_unlock(m, 0, 9, LOCKMGR_LEAVE, NULL);
	lockmgr_handle_close(h);
	lockmgr_free(m);
	munmap(g_sh, sizeof(*g_sh));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lockmgr");
	TCase *tc;

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_config_refused);
	tcase_add_test(tc, test_config_runtime_dir);
	tcase_add_test(tc, test_config_foreign_file);
	tcase_add_test(tc, test_names);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("lock");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_lock_basic, 0, 2);
	tcase_add_loop_test(tc, test_lock_bad_arguments, 0, 2);
	tcase_add_test(tc, test_lock_two_managers);
	tcase_add_loop_test(tc, test_lock_local, 0, 2);
	tcase_add_loop_test(tc, test_latch, 0, 2);
	tcase_add_loop_test(tc, test_latch_instance, 0, 2);
	tcase_add_loop_test(tc, test_reentrant, 0, 2);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_refuse_invalid_disposition, 0, 2);
	tcase_add_loop_test(tc, test_refuse_not_owner_not_locked, 0, 2);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("dispositions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_dispositions, 0, 2);
	tcase_add_loop_test(tc, test_dispose_failure_releases, 0, 2);
	tcase_add_loop_test(tc, test_mechanical, 0, 2);
	tcase_add_loop_test(tc, test_callbacks_unlocked, 0, 2);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("generation");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_generation_events, 0, 2);
	tcase_add_loop_test(tc, test_generation_dispositions, 0, 2);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("wait");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_wait_timeout, 0, 2);
	tcase_add_loop_test(tc, test_wait_finite_granted, 0, 2);
	tcase_add_loop_test(tc, test_wait_cancel, 0, 2);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_fifo, 0, 2);
	tcase_add_loop_test(tc, test_handoff_no_barging, 0, 2);
	tcase_add_loop_test(tc, test_no_lost_wakeup, 0, 2);
	tcase_add_loop_test(tc, test_threads_mutual_exclusion, 0, 2);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("processes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_process_mutual_exclusion);
	tcase_add_test(tc, test_process_holder_and_waits);
	tcase_add_test(tc, test_process_abandon);
	tcase_add_test(tc, test_process_abandon_configured);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);

	return tu_run(s);
}
