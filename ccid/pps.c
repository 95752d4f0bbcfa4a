/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ISO/IEC 7816-3 §9 Protocol and Parameters Selection: encoding the
 * interface device's request, decoding a PPS message as its receiver does,
 * and the §9.3 rules that decide whether the card's answer accepts the
 * request.  Request and answer have the same layout, so one decoder serves
 * both sides.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ccid/atr.h"

#define PPSS 0xFF
/* PPS0 (§9.2): bits 5, 6, 7 announce PPS1, PPS2, PPS3; bit 8 is RFU and 0. */
#define PPS0_PPS1 0x10u
#define PPS0_PPS2 0x20u
#define PPS0_PPS3 0x40u
#define PPS0_RFU  0x80u

int ccid_pps_build(uint8_t protocol, const uint8_t *pps1, const uint8_t *pps2, const uint8_t *pps3,
		   uint8_t *buf, size_t cap)
{
	uint8_t msg[CCID_PPS_MAX];
	size_t n = 0;
	uint8_t pck = 0;

	if (protocol >= 15 || (!buf && cap))
		return -EINVAL;
	msg[n++] = PPSS;
	msg[n++] = (uint8_t)(protocol | (pps1 ? PPS0_PPS1 : 0) | (pps2 ? PPS0_PPS2 : 0) | (pps3 ? PPS0_PPS3 : 0));
	if (pps1)
		msg[n++] = *pps1;
	if (pps2)
		msg[n++] = *pps2;
	if (pps3)
		msg[n++] = *pps3;
	for (size_t i = 0; i < n; i++)
		pck ^= msg[i];
	msg[n++] = pck;
	if (cap < n)
		return -ENOBUFS;
	memcpy(buf, msg, n);
	return (int)n;
}

/* Decode; when offs is not NULL it receives the offsets of PPS1..PPS3 (0 if absent). */
static int pps_decode(const uint8_t *buf, size_t len, struct ccid_pps *ret, size_t offs[3],
		      struct ccid_diag *diag)
{
	struct ccid_pps p;
	size_t pos, o[3] = { 0, 0, 0 };
	uint8_t pps0, x = 0;
	uint8_t *val[3];
	bool *has[3];

	if ((!buf && len) || !ret)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	val[0] = &p.pps1;
	val[1] = &p.pps2;
	val[2] = &p.pps3;
	has[0] = &p.has_pps1;
	has[1] = &p.has_pps2;
	has[2] = &p.has_pps3;

	if (len < 1)
		return ccid_fail(diag, 0, "PPSS (FF)", -ENODATA);
	if (buf[0] != PPSS)
		return ccid_fail(diag, 0, "PPSS (FF)", -EBADMSG);
	if (len < 2)
		return ccid_fail(diag, 1, "PPS0", -ENODATA);
	pps0 = buf[1];
	if (pps0 & PPS0_RFU)
		return ccid_fail(diag, 1, "PPS0 with bit 8 (RFU) zero", -EBADMSG);
	if ((pps0 & 0x0F) == 15)
		return ccid_fail(diag, 1, "PPS0 protocol T=0..14 (T=15 is not a protocol)", -EBADMSG);
	p.protocol = pps0 & 0x0F;
	pos = 2;
	for (int i = 0; i < 3; i++) {
		static const char *const names[3] = { "PPS1", "PPS2", "PPS3" };

		if (!(pps0 & (PPS0_PPS1 << i)))
			continue;
		if (pos >= len)
			return ccid_fail(diag, len, names[i], -ENODATA);
		*has[i] = true;
		*val[i] = buf[pos];
		o[i] = pos;
		pos++;
	}
	if (pos >= len)
		return ccid_fail(diag, len, "PCK", -ENODATA);
	for (size_t i = 0; i <= pos; i++)
		x ^= buf[i];
	if (x)
		return ccid_fail(diag, pos, "PCK making the XOR of PPSS..PCK zero", -EPROTO);
	pos++;
	if (pos < len)
		return ccid_fail(diag, pos, "end of PPS after PCK", -EMSGSIZE);
	*ret = p;
	if (offs)
		memcpy(offs, o, sizeof(o));
	return 0;
}

int ccid_pps_parse(const uint8_t *buf, size_t len, struct ccid_pps *ret, struct ccid_diag *diag)
{
	return pps_decode(buf, len, ret, NULL, diag);
}

int ccid_pps_check(const uint8_t *req, size_t req_len, const uint8_t *rsp, size_t rsp_len,
		   struct ccid_pps *ret, struct ccid_diag *diag)
{
	static const char *const echo[3] = {
		"PPS1 echoing the request, or absent (ISO 7816-3 9.3)",
		"PPS2 echoing the request, or absent (ISO 7816-3 9.3)",
		"PPS3 echoing the request, or absent (ISO 7816-3 9.3)",
	};
	struct ccid_pps q, a;
	size_t offs[3];
	int r;

	if (!ret)
		return -EINVAL;
	r = pps_decode(req, req_len, &q, NULL, diag);
	if (r < 0)
		return -EINVAL;
	r = pps_decode(rsp, rsp_len, &a, offs, diag);
	if (r < 0)
		return r;

	/* §9.3: PPS0 bits 4..1 echo the request. */
	if (a.protocol != q.protocol)
		return ccid_fail(diag, 1, "PPS0 echoing the requested protocol", -EPROTONOSUPPORT);

	/* §9.3: each PPSn either echoes PPSn of the request or is absent. */
	{
		const bool qh[3] = { q.has_pps1, q.has_pps2, q.has_pps3 };
		const bool ah[3] = { a.has_pps1, a.has_pps2, a.has_pps3 };
		const uint8_t qv[3] = { q.pps1, q.pps2, q.pps3 };
		const uint8_t av[3] = { a.pps1, a.pps2, a.pps3 };

		for (int i = 0; i < 3; i++) {
			if (!ah[i])
				continue;
			if (!qh[i] || av[i] != qv[i])
				return ccid_fail(diag, offs[i], echo[i], -EOPNOTSUPP);
		}
	}
	*ret = a;
	return 0;
}
