/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What kind of reader a CCID interface is, from its descriptors alone: the
 * one rule the session's open, the corpus run over the real readers
 * (tests/check_corpus.c) and the generated reader lists (docs/readers.md,
 * the bundle's Info.plist) share.  A class names the way the reader must be
 * driven (CCID over bulk at an exchange level, ICCD over the control pipe,
 * character level), or that its descriptor cannot be used as declared; the
 * verdict names the field and the value that decided, with the spec section.
 * Private to the tree (not installed): the classes change as uccid learns
 * to drive more readers.
 */
#ifndef CCID_READER_CLASS_H
#define CCID_READER_CLASS_H

#include <stdint.h>

#include "ccid/class_desc.h"

enum ccid_reader_class {
	CCID_RC_EXCHANGE,        /* CCID over bulk, TPDU or APDU level (CCID §3.2, §6.1) */
	CCID_RC_ICCD_A,          /* ICCD version A: control-pipe commands (ICCD §6) */
	CCID_RC_ICCD_B,          /* ICCD version B: control pipe and interrupt-IN (ICCD §7) */
	CCID_RC_CHARACTER,       /* character-level exchange (CCID §5.1 dwFeatures 00000000) */
	CCID_RC_MALFORMED,       /* the descriptor cannot be used as declared */
	CCID_RC_COUNT,
};

struct ccid_reader_verdict {
	enum ccid_reader_class cls;
	enum ccid_exchange_level level;  /* from dwFeatures, whatever the class */
	const char *field;               /* static: the field that decided ("" for EXCHANGE) */
	char reason[160];                /* "dwProtocols 00000300 offers neither T=0 nor T=1 (CCID §5.1)" */
};

/*
 * Classify a smart-card interface by its bInterfaceProtocol and parsed class
 * descriptor.  In this order: ICCD (protocol 1 or 2), a validator error
 * (its field and value), character level, no asynchronous protocol (no
 * T=0 nor T=1 bit in dwProtocols: no card could be powered and used), else
 * EXCHANGE.  An interface protocol other than 0, 1, 2 is MALFORMED.
 * Returns 0 or -EINVAL (NULL).
 */
int ccid_reader_classify(uint8_t bInterfaceProtocol, const struct ccid_class_desc *d,
			 struct ccid_reader_verdict *ret);

/* "exchange", "iccd-a", "iccd-b", "character", "malformed" */
const char *ccid_reader_class_name(enum ccid_reader_class cls);

#endif
