/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The findings of a leniently parsed ATR (ccid_atr_parse_lenient) as the
 * tool shows them: one warning per defect, naming the byte, what ISO 7816-3
 * expected there and what the card sent.  `uccid decode atr` and `uccid atr`
 * share it, so a defective ATR reads the same from a hex string and from a card.
 */
#include "config.h"

#include <stdio.h>

#include "ccid/atr.h"
#include "tool/tool.h"

static const char *finding_field(enum ccid_atr_defect d)
{
	switch (d) {
	case CCID_ATR_TRUNCATED: return "interface bytes";
	case CCID_ATR_MISSING_HISTORICAL: return "historical bytes";
	case CCID_ATR_MISSING_TCK:
	case CCID_ATR_WRONG_TCK:
	case CCID_ATR_UNEXPECTED_TCK: return "TCK";
	case CCID_ATR_EXTRA_BYTES:
	case CCID_ATR_EXTRA_AFTER_TCK: return "extra bytes";
	case CCID_ATR_TOO_LONG: return "length";
	}
	return "ATR";
}

void out_atr_findings(struct out *o, const struct ccid_atr *atr)
{
	for (size_t i = 0; i < atr->nfindings && i < CCID_ATR_MAX_FINDINGS; i++) {
		const struct ccid_atr_finding *f = &atr->findings[i];
		char text[200], expected[80], found[80];
		size_t at = f->offset < atr->len ? f->offset : atr->len;

		ccid_atr_finding_text(f, text, sizeof(text));
		snprintf(expected, sizeof(expected), "%s", f->expected ? f->expected : "");
		switch (f->defect) {
		case CCID_ATR_WRONG_TCK:
			snprintf(expected, sizeof(expected), "%02X", (unsigned)f->want & 0xFFu);
			snprintf(found, sizeof(found), "%02X", (unsigned)f->got & 0xFFu);
			break;
		case CCID_ATR_MISSING_HISTORICAL:
			snprintf(expected, sizeof(expected), "%u historical bytes (K in T0)", atr->K);
			snprintf(found, sizeof(found), "%zu", atr->hist_len);
			break;
		case CCID_ATR_UNEXPECTED_TCK:
			snprintf(found, sizeof(found), "%02X (a correct check byte)", at < atr->len ? atr->bytes[at] : 0);
			break;
		case CCID_ATR_EXTRA_BYTES:
		case CCID_ATR_EXTRA_AFTER_TCK:
		case CCID_ATR_TOO_LONG:
			snprintf(found, sizeof(found), "%zu byte(s)", f->count);
			break;
		default:
			snprintf(found, sizeof(found), "end of input");
			break;
		}
		out_finding_detail(o, CCID_SEV_WARNING, finding_field(f->defect), f->offset, text,
				   ccid_atr_defect_name(f->defect), expected, found);
	}
}
