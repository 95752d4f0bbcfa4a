/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Creating and freeing a lock manager: checking its configuration, finding
 * (and creating) the runtime directory, naming the reader's lock file after
 * its stable identity, and the slots' initial state.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lockmgr/lockmgr_priv.h"

/* FNV-1a, 64 bits: tells apart identities that sanitise to the same name. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/*
 * The configured directory, else $XDG_RUNTIME_DIR/uccid (per user, on tmpfs,
 * removed at logout), else /run/uccid.  The last component is created 0700;
 * its parent must exist.  An existing directory is used as it is (an
 * administrator may have made /run/uccid shared).
 */
static int runtime_dir(const struct lockmgr_config *cfg, char *buf, size_t len)
{
	const char *xdg = secure_getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int n;

	if (cfg->runtime_dir)
		n = snprintf(buf, len, "%s", cfg->runtime_dir);
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/uccid", xdg);
	else
		n = snprintf(buf, len, "/run/uccid");
	if (n <= 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (stat(buf, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return 0;
}

struct lockmgr *lockmgr_new(const struct lockmgr_config *cfg)
{
	struct lockmgr *m = NULL;
	char dir[3072], name[100], why[128] = "";
	int r;

	if (!cfg || !cfg->ops || !cfg->ops->dispose || cfg->slots == 0 || cfg->slots > LOCKMGR_MAX_SLOTS ||
	    !cfg->reader_id || !cfg->reader_id[0] ||
	    (cfg->abandon_set ? !lm_valid_disposition(cfg->abandon) : cfg->abandon != 0)) {
		r = -EINVAL;
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		r = -ENOMEM;
		goto out;
	}
	m->slots = calloc(cfg->slots, sizeof(*m->slots));
	if (!m->slots) {
		r = -ENOMEM;
		goto out;
	}
	m->nslots = cfg->slots;
	m->ops = cfg->ops;
	m->ctx = cfg->ctx;
	m->abandon = cfg->abandon_set ? cfg->abandon : LOCKMGR_RESET;
	m->pid = cfg->pid ? cfg->pid : getpid();
	lm_sanitise(cfg->program ? cfg->program : program_invocation_short_name, m->program,
		    sizeof(m->program));
	for (unsigned i = 0; i < m->nslots; i++) {
		atomic_init(&m->slots[i].cancel_acquire, false);
		atomic_init(&m->slots[i].fast, LM_FAST_IDLE);
	}

	if (!cfg->process_local) {
		r = runtime_dir(cfg, dir, sizeof(dir));
		if (r < 0)
			goto out;
		lm_sanitise(cfg->reader_id, name, sizeof(name));
		r = snprintf(m->path, sizeof(m->path), "%s/%s-%016llx.lock", dir, name,
			     (unsigned long long)fnv1a(cfg->reader_id));
		if (r < 0 || (size_t)r >= sizeof(m->path)) {
			r = -ENAMETOOLONG;
			goto out;
		}
		r = lm_file_open(m->path, m->nslots, cfg->no_create, &m->file, why, sizeof(why));
		if (r < 0) {
			if (cfg->err && cfg->errlen)
				snprintf(cfg->err, cfg->errlen, "lock file %s: %s", m->path,
					 r == -EPROTO ? why : strerror(-r));
			goto out;
		}
	}

	r = -pthread_mutex_init(&m->lock, NULL);
	if (r < 0) {
		lm_file_close(m->file);
		goto out;
	}
	return m;
out:
	if (m)
		free(m->slots);
	free(m);
	errno = -r;
	return NULL;
}

void lockmgr_free(struct lockmgr *m)
{
	if (!m)
		return;
	if (m->file) {
		/* A lock still held is let go with LEAVE: mark the record free, so the next
		   owner is not told of an abandonment that did not happen. */
		for (unsigned i = 0; i < m->nslots; i++) {
			if (m->slots[i].ofd_held) {
				struct lm_holder_rec free_rec = { .held = false };

				lm_file_write(m->file, i, &free_rec);
				lm_file_release(m->file, i);
			}
		}
		lm_file_close(m->file);
	}
	pthread_mutex_destroy(&m->lock);
	free(m->slots);
	free(m);
}

int lockmgr_unlink(struct lockmgr *m, bool keep_state)
{
	bool mine[LOCKMGR_MAX_SLOTS];
	bool kept;

	if (!m)
		return -EINVAL;
	if (!m->file)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < m->nslots; i++)
		mine[i] = m->slots[i].ofd_held;
	kept = lm_file_kept(m->file, m->nslots, mine, keep_state);
	pthread_mutex_unlock(&m->lock);
	if (kept)
		return 0;
	if (unlink(m->path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 1;
}

const char *lockmgr_path(const struct lockmgr *m)
{
	return m ? m->path : "";
}
