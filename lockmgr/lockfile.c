/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The per-reader lock file shared by every process that uses the reader: one
 * open-file-description lock per slot (fcntl F_OFD_SETLK on the first byte
 * of the slot's record) says who may use the card, and the record, mapped
 * shared, says who that is and since when, and carries the slot's doorbell —
 * a futex word that every release rings, so that a process waiting for
 * another sleeps until the release instead of polling.  The OFD lock is the
 * truth (the kernel frees it when its holder dies); the record and the
 * doorbell only inform and wake, and a wake that never comes costs at most
 * LM_RECHECK_NS.
 *
 * Layout (little-endian host, fixed): a 64-byte header ("uccid-lk", version,
 * record size) and a 128-byte record per slot.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lockmgr/lockmgr_priv.h"
#include "util/clock.h"

#define LM_MAGIC "uccid-lk"
#define LM_VERSION 1u
#define LM_HDR_SIZE 64u
#define LM_REC_SIZE 128u

enum { LM_REC_FREE = 0, LM_REC_HELD = 1 };

struct lm_hdr {
	char magic[8];
	uint32_t version;
	uint32_t rec_size;
	uint8_t reserved[48];
};

/*
 * One slot's record.  Written only by the process holding the slot's OFD
 * lock, under a sequence lock (seq odd while it writes), so that any process
 * may read a consistent copy without taking the lock.  Every field is an
 * atomic because other processes read it while it may change.
 */
struct lm_rec {
	_Atomic uint32_t doorbell;      /* bumped after every release and by a cancel */
	_Atomic uint32_t sleepers;      /* processes in FUTEX_WAIT on doorbell */
	_Atomic uint32_t seq;           /* sequence lock over the fields below */
	_Atomic uint32_t state;         /* LM_REC_FREE, LM_REC_HELD */
	_Atomic int32_t pid;
	uint32_t pad;
	_Atomic uint64_t owner;
	_Atomic int64_t since_sec;      /* CLOCK_REALTIME */
	_Atomic int64_t since_nsec;
	_Atomic uint64_t program[LOCKMGR_PROGRAM_MAX / 8];
	_Atomic uint32_t latched;       /* the eject latch (lockmgr_latch()); outside the seqlock */
	_Atomic uint32_t latch_instance;   /* the device instance it was set on (files of before: 0) */
	/* the call for a passive holder (call.c): outside the seqlock, zero in files of before */
	_Atomic uint32_t call;          /* bumped by every process that asks the holder to yield */
	_Atomic int32_t caller;         /* the pid of the last one */
	_Atomic int32_t passive;        /* the pid of a holder that yields when called, or 0 */
	uint8_t reserved[28];
};

_Static_assert(sizeof(struct lm_hdr) == LM_HDR_SIZE, "lock file header is 64 bytes");
_Static_assert(sizeof(struct lm_rec) == LM_REC_SIZE, "lock file record is 128 bytes");
_Static_assert(offsetof(struct lm_rec, owner) == 24, "record layout is fixed");
_Static_assert(offsetof(struct lm_rec, program) == 48, "record layout is fixed");
_Static_assert(offsetof(struct lm_rec, call) == 88, "record layout is fixed");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
	       "atomics in shared memory must be lock-free (address-free)");

struct lm_file {
	int fd;
	uint8_t *map;
	size_t size;
	unsigned nslots;
};

static struct lm_rec *rec_of(struct lm_file *f, unsigned slot)
{
	return (struct lm_rec *)(void *)(f->map + LM_HDR_SIZE + (size_t)slot * LM_REC_SIZE);
}

static off_t lock_byte(unsigned slot)
{
	return (off_t)LM_HDR_SIZE + (off_t)slot * LM_REC_SIZE;
}

/* FUTEX_WAIT (shared: the word is in a file mapping, keyed by inode and offset). */
static void futex_wait(_Atomic uint32_t *word, uint32_t val, int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

	/* EAGAIN (the word moved), EINTR, ETIMEDOUT: the caller re-checks in every case */
	(void)syscall(SYS_futex, word, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word)
{
	(void)syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* What is wrong with a header that is not all zeroes (a new file); NULL if it is ours. */
static const char *header_problem(const struct lm_hdr *h, char *why, size_t whylen)
{
	char magic[8 * 4 + 1];
	size_t n = 0;

	if (memcmp(h->magic, LM_MAGIC, 8)) {
		for (size_t i = 0; i < 8; i++) {
			unsigned char c = (unsigned char)h->magic[i];

			n += (size_t)snprintf(magic + n, sizeof(magic) - n, c >= 0x20 && c < 0x7F && c != '\\' ?
					      "%c" : "\\x%02x", c);
		}
		snprintf(why, whylen, "magic is \"%s\", not \"%s\"", magic, LM_MAGIC);
	} else if (h->version != LM_VERSION) {
		snprintf(why, whylen, "version %u, not %u", h->version, LM_VERSION);
	} else if (h->rec_size != LM_REC_SIZE) {
		snprintf(why, whylen, "record size %u, not %u", h->rec_size, LM_REC_SIZE);
	} else {
		return NULL;
	}
	return why;
}

int lm_file_open(const char *path, unsigned nslots, bool no_create, struct lm_file **ret, char *why,
		 size_t whylen)
{
	struct lm_file *f = NULL;
	struct lm_hdr *h;
	struct stat st;
	size_t size = LM_HDR_SIZE + (size_t)nslots * LM_REC_SIZE;
	int fd, r;

	fd = open(path, O_RDWR | (no_create ? 0 : O_CREAT) | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		r = -EPROTO;
		goto out;
	}
	/* Grow only: another process may have made it longer for more slots.  posix_fallocate
	   never shrinks, unlike an ftruncate racing with another opener. */
	if ((size_t)st.st_size < size) {
		r = posix_fallocate(fd, 0, (off_t)size);
		if (r) {
			r = -r;
			goto out;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		r = -ENOMEM;
		goto out;
	}
	f->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f->map == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	f->fd = fd;
	f->size = size;
	f->nslots = nslots;

	/* A new file is all zeroes: stamp it.  Racing openers write the same bytes. */
	h = (struct lm_hdr *)(void *)f->map;
	if (!memcmp(h->magic, "\0\0\0\0\0\0\0\0", 8)) {
		h->version = LM_VERSION;
		h->rec_size = LM_REC_SIZE;
		memcpy(h->magic, LM_MAGIC, 8);
	}
	if (header_problem(h, why, whylen)) {
		munmap(f->map, size);
		r = -EPROTO;
		goto out;
	}
	*ret = f;
	return 0;
out:
	free(f);
	close(fd);
	return r;
}

void lm_file_close(struct lm_file *f)
{
	if (!f)
		return;
	munmap(f->map, f->size);
	close(f->fd);   /* drops every OFD lock still held through this description */
	free(f);
}

int lm_file_acquire(struct lm_file *f, unsigned slot, int64_t deadline_ns, atomic_bool *cancel)
{
	struct lm_rec *r = rec_of(f, slot);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = lock_byte(slot), .l_len = 1 };

	for (;;) {
		/* Read the doorbell before trying: a release after a failed try changes it, so
		   the futex wait below returns at once instead of missing the wake. */
		uint32_t bell = atomic_load(&r->doorbell);
		int64_t wait = LM_RECHECK_NS;

		if (fcntl(f->fd, F_OFD_SETLK, &fl) == 0) {
			struct stat st;

			/* A lock file is removed only by a holder of it, while it holds (lm_file_unlink):
			   a lock taken afterwards on the removed file excludes nobody.  Say so; the
			   caller opens the name again (a new file). */
			if (fstat(f->fd, &st) == 0 && st.st_nlink == 0) {
				fl.l_type = F_UNLCK;
				(void)fcntl(f->fd, F_OFD_SETLK, &fl);
				return -ESTALE;
			}
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EACCES)
			return -errno;
		if (deadline_ns == 0)
			return -EBUSY;
		if (cancel && atomic_load(cancel))
			return -ECANCELED;
		if (deadline_ns > 0) {
			int64_t left = deadline_ns - uccid_mono_ns();

			if (left <= 0)
				return -ETIMEDOUT;
			if (left < wait)
				wait = left;
		}
		/* sleepers is raised before the wait and read by the releaser after its ring
		   (both sequentially consistent): either the releaser sees a sleeper and wakes,
		   or the ring came first and FUTEX_WAIT sees the doorbell moved. */
		atomic_fetch_add(&r->sleepers, 1);
		futex_wait(&r->doorbell, bell, wait);
		atomic_fetch_sub(&r->sleepers, 1);
	}
}

bool lm_file_kept(struct lm_file *f, unsigned nslots, const bool *mine, bool keep_state)
{
	for (unsigned i = 0; i < nslots; i++) {
		struct lm_holder_rec h;

		if (mine[i])
			continue;
		if (lm_file_probe(f, i) != 0)
			return true;    /* another process holds it (or we cannot tell) */
		if (!keep_state)
			continue;
		if (lm_file_read(f, i, false, &h) < 0 || h.held || h.corrupt[0])
			return true;    /* a dead holder's card is still to be reset */
		if (atomic_load(&rec_of(f, i)->latched))
			return true;    /* an eject latch the next session must honour */
	}
	return false;
}

void lm_file_release(struct lm_file *f, unsigned slot)
{
	struct lm_rec *r = rec_of(f, slot);
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = lock_byte(slot), .l_len = 1 };

	/* F_UNLCK of a lock we hold cannot fail on a valid descriptor */
	(void)fcntl(f->fd, F_OFD_SETLK, &fl);
	atomic_fetch_add(&r->doorbell, 1);
	if (atomic_load(&r->sleepers))
		futex_wake_all(&r->doorbell);
}

void lm_file_ring(struct lm_file *f, unsigned slot)
{
	struct lm_rec *r = rec_of(f, slot);

	atomic_fetch_add(&r->doorbell, 1);
	futex_wake_all(&r->doorbell);
}

uint32_t lm_file_bell(struct lm_file *f, unsigned slot)
{
	return atomic_load(&rec_of(f, slot)->doorbell);
}

void lm_file_sleep(struct lm_file *f, unsigned slot, uint32_t bell, int64_t ns)
{
	struct lm_rec *r = rec_of(f, slot);

	/* counted as lm_file_acquire's sleepers are: the releaser wakes only counted ones */
	atomic_fetch_add(&r->sleepers, 1);
	futex_wait(&r->doorbell, bell, ns);
	atomic_fetch_sub(&r->sleepers, 1);
}

int lm_file_fd(const struct lm_file *f)
{
	return f->fd;
}

off_t lm_file_call_byte(unsigned slot)
{
	return lock_byte(slot) + 1;
}

struct lm_call_words lm_file_call_words(struct lm_file *f, unsigned slot)
{
	struct lm_rec *r = rec_of(f, slot);

	return (struct lm_call_words){ .call = &r->call, .caller = &r->caller, .passive = &r->passive };
}

int lm_file_probe(struct lm_file *f, unsigned slot)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = lock_byte(slot), .l_len = 1 };

	/* F_OFD_GETLK: our own description's locks never conflict, so this sees others only */
	if (fcntl(f->fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

unsigned lm_file_sleepers(struct lm_file *f, unsigned slot)
{
	return atomic_load(&rec_of(f, slot)->sleepers);
}

int lm_file_read(struct lm_file *f, unsigned slot, bool owned, struct lm_holder_rec *ret)
{
	struct lm_rec *r = rec_of(f, slot);

	for (int tries = 0; tries < 1000; tries++) {
		uint32_t s1 = atomic_load_explicit(&r->seq, memory_order_acquire);
		struct lm_holder_rec h = { 0 };
		uint64_t prog[LOCKMGR_PROGRAM_MAX / 8];
		uint32_t state;

		if ((s1 & 1) && !owned) {
			sched_yield();
			continue;
		}
		h.held = atomic_load_explicit(&r->state, memory_order_relaxed) == LM_REC_HELD;
		h.pid = atomic_load_explicit(&r->pid, memory_order_relaxed);
		h.owner = atomic_load_explicit(&r->owner, memory_order_relaxed);
		h.since.tv_sec = (time_t)atomic_load_explicit(&r->since_sec, memory_order_relaxed);
		h.since.tv_nsec = (long)atomic_load_explicit(&r->since_nsec, memory_order_relaxed);
		for (size_t i = 0; i < LOCKMGR_PROGRAM_MAX / 8; i++)
			prog[i] = atomic_load_explicit(&r->program[i], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&r->seq, memory_order_relaxed) != s1)
			continue;
		memcpy(h.program, prog, sizeof(h.program));
		/* A record no release of ours can leave: its holder (and its card) is unknown.
		   Never read as free: the next owner must carry out the abandon disposition. */
		state = atomic_load_explicit(&r->state, memory_order_relaxed);
		if (state != LM_REC_FREE && state != LM_REC_HELD)
			snprintf(h.corrupt, sizeof(h.corrupt), "record state %u is neither free (0) nor held (1)",
				 state);
		else if (h.held && h.pid <= 0)
			snprintf(h.corrupt, sizeof(h.corrupt), "record held by pid %ld", (long)h.pid);
		if (s1 & 1)
			h.held = true;
		h.program[LOCKMGR_PROGRAM_MAX - 1] = '\0';   /* the file is not to be trusted */
		*ret = h;
		return 0;
	}
	return -EAGAIN;
}

int lm_file_latch(struct lm_file *f, unsigned slot, int op, uint32_t instance)
{
	struct lm_rec *r = rec_of(f, slot);

	/* the instance first: a reader that sees the latch set sees whose it is */
	if (op == 1)
		atomic_store(&r->latch_instance, instance);
	if (op >= 0)
		atomic_store(&r->latched, op ? 1u : 0u);
	if (!atomic_load(&r->latched))
		return 0;
	if (atomic_load(&r->latch_instance) != instance) {
		/* set on an instance of the device that is gone: this one starts unlatched */
		atomic_store(&r->latched, 0u);
		return 0;
	}
	return 1;
}

void lm_file_write(struct lm_file *f, unsigned slot, const struct lm_holder_rec *h)
{
	struct lm_rec *r = rec_of(f, slot);
	uint32_t s = atomic_load_explicit(&r->seq, memory_order_relaxed);
	uint64_t prog[LOCKMGR_PROGRAM_MAX / 8];

	/* A writer killed in the middle left seq odd: start again from the even value above. */
	s = (s + 1) & ~1u;
	atomic_store_explicit(&r->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(prog, h->program, sizeof(prog));
	atomic_store_explicit(&r->pid, h->pid, memory_order_relaxed);
	atomic_store_explicit(&r->owner, h->owner, memory_order_relaxed);
	atomic_store_explicit(&r->since_sec, (int64_t)h->since.tv_sec, memory_order_relaxed);
	atomic_store_explicit(&r->since_nsec, (int64_t)h->since.tv_nsec, memory_order_relaxed);
	for (size_t i = 0; i < LOCKMGR_PROGRAM_MAX / 8; i++)
		atomic_store_explicit(&r->program[i], prog[i], memory_order_relaxed);
	atomic_store_explicit(&r->state, h->held ? LM_REC_HELD : LM_REC_FREE, memory_order_relaxed);
	atomic_store_explicit(&r->seq, s + 2, memory_order_release);
}
