/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated card's life cycle: configuration defaults and checks,
 * building the ATR from the configuration (ISO 7816-3 §8), activation, warm
 * reset and deactivation, and answering PPS (§9).  The behaviour is
 * documented in card.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/timing.h"
#include "util/hex.h"
#include "vreader/card.h"

#define TS_DIRECT 0x3B
#define TA1_DEFAULT 0x11
/* TA2 (§8.3): b8 = 1 "unable to change mode", b5 = 0 "Fi/Di from TA1". */
#define TA2_CANNOT_CHANGE 0x80
#define TC_T1_CRC 0x01
#define PPS0_PPS1 0x10

void vcard_config_default(struct vcard_config *cfg, uint16_t protocols)
{
	static const uint8_t pin[] = { 0x31, 0x32, 0x33, 0x34, 0x35, 0x36 };

	if (!cfg)
		return;
	*cfg = (struct vcard_config){ 0 };
	cfg->protocols = protocols;
	cfg->ta1 = TA1_DEFAULT;
	cfg->ifsc = CCID_T1_IFS_DEFAULT;
	cfg->bwi = 4;
	cfg->cwi = 13;
	cfg->edc = CCID_EDC_LRC;
	cfg->hist_len = strlen(VCARD_HIST_DEFAULT);
	memcpy(cfg->hist, VCARD_HIST_DEFAULT, cfg->hist_len);
	memcpy(cfg->pin, pin, sizeof(pin));
	cfg->pin_len = sizeof(pin);
	cfg->pin_tries = 3;
	cfg->clock_khz = 4000;
}

static bool config_valid(const struct vcard_config *c)
{
	if (!(c->protocols & (VCARD_PROTO_T0 | VCARD_PROTO_T1)) ||
	    (c->protocols & ~(VCARD_PROTO_T0 | VCARD_PROTO_T1)))
		return false;
	if (!ccid_fi(c->ta1 >> 4) || !ccid_di(c->ta1 & 0x0F))
		return false;
	if (c->ifsc < 1 || c->ifsc > CCID_T1_INF_MAX || c->bwi > 9 || c->cwi > 15)
		return false;
	if (c->edc != CCID_EDC_LRC && c->edc != CCID_EDC_CRC)
		return false;
	if (c->hist_len > sizeof(c->hist) || c->atr_len > VCARD_ATR_MAX)
		return false;
	if (c->atr_len && ccid_atr_parse_lenient(c->atr, c->atr_len, &(struct ccid_atr){ 0 }, NULL) < 0)
		return false;
	if (c->pin_len < 1 || c->pin_len > VCARD_PIN_MAX)
		return false;
	return c->pin_tries >= 1 && c->pin_tries <= 15 && c->clock_khz > 0;
}

/*
 * One interface-byte group: TAi, TBi, TCi, and whether a next group follows
 * (then TDi carries its presence nibble and td_T).
 */
struct group {
	bool has_ta, has_tb, has_tc;
	uint8_t ta, tb, tc;
	uint8_t td_T;
};

static uint8_t presence(const struct group *g, bool td)
{
	return (uint8_t)((g->has_ta ? CCID_ATR_TA : 0) | (g->has_tb ? CCID_ATR_TB : 0) |
			 (g->has_tc ? CCID_ATR_TC : 0) | (td ? CCID_ATR_TD : 0));
}

/* Build the ATR of card.h's behaviour notes; at most 26 bytes, always fits. */
static size_t build_atr(const struct vcard_config *c, uint8_t first, uint8_t *atr)
{
	struct group g[4] = { { 0 } };
	size_t ng = 1, n = 0;
	bool t1 = c->protocols & VCARD_PROTO_T1;
	bool both = t1 && (c->protocols & VCARD_PROTO_T0);

	if (c->ta1 != TA1_DEFAULT) {
		g[0].has_ta = true;
		g[0].ta = c->ta1;
	}
	g[0].td_T = first;
	if (c->specific_mode || t1) {
		ng = 2;
		if (c->specific_mode) {
			g[1].has_ta = true;
			g[1].ta = (uint8_t)(TA2_CANNOT_CHANGE | first);
		}
	}
	if (t1) {
		/* T=1 bytes are the first TA/TB/TC after a TDi (i >= 2) naming T=1 (§11.4). */
		g[1].td_T = 1;
		g[2].has_ta = true;
		g[2].ta = c->ifsc;
		g[2].has_tb = true;
		g[2].tb = (uint8_t)(c->bwi << 4 | c->cwi);
		if (c->edc == CCID_EDC_CRC) {
			g[2].has_tc = true;
			g[2].tc = TC_T1_CRC;
		}
		ng = 3;
		if (both && first == 1) {
			g[2].td_T = 0;
			ng = 4;
		}
	}

	atr[n++] = TS_DIRECT;
	atr[n++] = (uint8_t)(presence(&g[0], ng > 1) | c->hist_len);
	for (size_t i = 0; i < ng; i++) {
		if (g[i].has_ta)
			atr[n++] = g[i].ta;
		if (g[i].has_tb)
			atr[n++] = g[i].tb;
		if (g[i].has_tc)
			atr[n++] = g[i].tc;
		if (i + 1 < ng)
			atr[n++] = (uint8_t)(presence(&g[i + 1], i + 2 < ng) | g[i].td_T);
	}
	memcpy(atr + n, c->hist, c->hist_len);
	n += c->hist_len;
	/* TCK unless T=0 is the only protocol indicated (§8.2.5). */
	if (t1) {
		uint8_t tck = 0;

		for (size_t i = 1; i < n; i++)
			tck ^= atr[i];
		atr[n++] = tck;
	}
	return n;
}

int vcard_config_set_atr(struct vcard_config *cfg, const uint8_t *atr, size_t len)
{
	struct ccid_atr a;
	uint16_t protocols;
	int r;

	if (!cfg || !atr || len == 0 || len > VCARD_ATR_MAX)
		return -EINVAL;
	r = ccid_atr_parse_lenient(atr, len, &a, NULL);
	if (r < 0)
		return r;
	protocols = a.protocols & (VCARD_PROTO_T0 | VCARD_PROTO_T1);
	if (a.specific_mode && a.ta2_protocol <= 1)
		protocols |= (uint16_t)(1u << a.ta2_protocol);
	/* a card that offers neither answers T=0, as a reader falls back to it */
	cfg->protocols = protocols ? protocols : VCARD_PROTO_T0;
	cfg->t1_first = !(cfg->protocols & VCARD_PROTO_T0) || a.default_protocol == 1;
	cfg->specific_mode = a.specific_mode && a.ta2_protocol <= 1;
	if (cfg->specific_mode)
		cfg->t1_first = a.ta2_protocol == 1;
	cfg->ta1 = a.Fi && a.Di ? (uint8_t)(a.Fi_index << 4 | a.Di_index) : TA1_DEFAULT;
	cfg->ifsc = a.IFSC;
	cfg->bwi = a.BWI > 9 ? 9 : a.BWI;
	cfg->cwi = a.CWI;
	cfg->edc = a.edc;
	memcpy(cfg->atr, atr, len);
	cfg->atr_len = len;
	return 0;
}

int vcard_parse_hex(const char *text, uint8_t *out, size_t cap)
{
	size_t n = 0;

	if (!text || (!out && cap))
		return -EINVAL;
	for (const char *p = text; *p;) {
		int hi, lo;

		if (*p == ' ' || *p == ':') {
			p++;
			continue;
		}
		hi = uccid_hex_digit(p[0]);
		lo = hi < 0 ? -1 : uccid_hex_digit(p[1]);
		if (lo < 0)
			return -EINVAL;
		if (n >= cap)
			return -EMSGSIZE;
		out[n++] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	return n > (size_t)INT32_MAX ? -EMSGSIZE : (int)n;
}

int vcard_set_atr(struct vcard *card, const uint8_t *atr, size_t len)
{
	struct vcard_config next;
	int r;

	if (!card)
		return -EINVAL;
	next = card->cfg;
	r = vcard_config_set_atr(&next, atr, len);
	if (r < 0)
		return r;
	card->next = next;
	card->has_next = true;
	return 0;
}

/* The protocol a reset starts in, and the ATR, from card->cfg. */
static void apply_config(struct vcard *card)
{
	const struct vcard_config *cfg = &card->cfg;

	if ((cfg->protocols & VCARD_PROTO_T0) && !(cfg->t1_first && (cfg->protocols & VCARD_PROTO_T1)))
		card->default_protocol = 0;
	else
		card->default_protocol = 1;
	if (cfg->atr_len) {
		memcpy(card->atr, cfg->atr, cfg->atr_len);
		card->atr_len = cfg->atr_len;
	} else {
		card->atr_len = build_atr(cfg, card->default_protocol, card->atr);
	}
}

/* A zeroed card made the card cfg describes, as inserted: unpowered, EF and PIN counter new. */
static void init_card(struct vcard *card, const struct vcard_config *cfg)
{
	card->cfg = *cfg;
	apply_config(card);
	card->tries_left = cfg->pin_tries;
	card->rng = cfg->rng_seed ? cfg->rng_seed : 0x9E3779B97F4A7C15ull;
	/* the EF holds 00 01 .. FF over and over (a byte loop here was a tenth of a fuzz input's time) */
	for (size_t i = 0; i < 256; i++)
		card->ef[i] = (uint8_t)i;
	for (size_t i = 256; i < VCARD_EF_SIZE; i *= 2)
		memcpy(card->ef + i, card->ef, i <= VCARD_EF_SIZE - i ? i : VCARD_EF_SIZE - i);
}

struct vcard *vcard_new(const struct vcard_config *cfg)
{
	struct vcard *card;

	if (!cfg || !config_valid(cfg))
		return NULL;
	card = calloc(1, sizeof(*card));
	if (!card)
		return NULL;
	init_card(card, cfg);
	return card;
}

int vcard_reinit(struct vcard *card, const struct vcard_config *cfg)
{
	if (!card || !cfg || !config_valid(cfg))
		return -EINVAL;
	/* cmd and rsp are scratch, read only up to the lengths kept before them: not cleared (they are
	   nearly all of the card, and a fuzz input reinitialises five cards) */
	memset(card, 0, offsetof(struct vcard, cmd));
	init_card(card, cfg);
	return 0;
}

void vcard_free(struct vcard *card)
{
	free(card);
}

/* What every reset and power-off forgets; EF content and the PIN counter stay. */
static void clear_session(struct vcard *card)
{
	vcard_app_reset(card);
	vcard_t0_reset(card);
	vcard_t1_reset(card);
	memset(&card->chr, 0, sizeof(card->chr));      /* character level: idle, nothing to send */
	card->protocol = card->default_protocol;
	card->fidi = card->cfg.specific_mode ? card->cfg.ta1 : TA1_DEFAULT;
}

int vcard_reset(struct vcard *card, bool warm, uint8_t *atr, size_t cap)
{
	if (!card || !atr)
		return -EINVAL;
	if (warm && !card->powered)
		return -EINVAL;
	if (cap < (card->has_next ? (card->next.atr_len ? card->next.atr_len : CCID_ATR_MAX) : card->atr_len))
		return -ENOBUFS;
	if (card->has_next) {
		card->cfg = card->next;
		card->has_next = false;
		apply_config(card);
	}
	clear_session(card);
	card->powered = true;
	card->pps_allowed = !card->cfg.specific_mode;
	memcpy(atr, card->atr, card->atr_len);
	return (int)card->atr_len;
}

void vcard_power_off(struct vcard *card)
{
	if (!card)
		return;
	clear_session(card);
	card->powered = false;
	card->pps_allowed = false;
}

bool vcard_powered(const struct vcard *card)
{
	return card && card->powered;
}

uint8_t vcard_protocol(const struct vcard *card)
{
	return card ? card->protocol : 0;
}

uint8_t vcard_fidi(const struct vcard *card)
{
	return card ? card->fidi : TA1_DEFAULT;
}

/*
 * PPS1 the card accepts (§9.3): the defaults, or TA1's Fi with a Di not
 * larger than TA1's (Di is compared by value: index 8 is 12, 9 is 20).
 */
static bool pps1_acceptable(uint8_t ta1, uint8_t pps1)
{
	uint8_t d = ccid_di(pps1 & 0x0F);

	if (pps1 == TA1_DEFAULT)
		return true;
	return (pps1 >> 4) == (ta1 >> 4) && d != 0 && d <= ccid_di(ta1 & 0x0F);
}

int vcard_pps(struct vcard *card, const uint8_t *req, size_t len, uint8_t *rsp, size_t cap)
{
	struct ccid_pps pps;
	uint8_t ans[CCID_PPS_MAX];
	uint8_t pps1;
	bool allowed;
	int n;

	if (!card || !req || (!rsp && cap))
		return -EINVAL;
	if (!card->powered)
		return -ENODEV;
	/* Only the first exchange after a reset may be a PPS (§9.1). */
	allowed = card->pps_allowed;
	card->pps_allowed = false;
	if (!allowed || ccid_pps_parse(req, len, &pps, NULL) < 0)
		return 0;
	if (pps.protocol > 1 || !(card->cfg.protocols & (1u << pps.protocol)))
		return 0;
	pps1 = pps.pps1;
	n = ccid_pps_build(pps.protocol,
			   pps.has_pps1 && pps1_acceptable(card->cfg.ta1, pps1) ? &pps1 : NULL, NULL,
			   NULL, ans, sizeof(ans));
	if (n < 0)
		return n;
	if (cap < (size_t)n) {
		card->pps_allowed = allowed;
		return -ENOBUFS;
	}
	memcpy(rsp, ans, (size_t)n);
	card->protocol = pps.protocol;
	card->fidi = (ans[1] & PPS0_PPS1) ? pps1 : TA1_DEFAULT;
	/* The protocol may have changed: start its state afresh. */
	vcard_t0_reset(card);
	vcard_t1_reset(card);
	return n;
}
