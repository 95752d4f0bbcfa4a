/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fi / Di / f(max) tables and guard / waiting time arithmetic of ISO/IEC
 * 7816-3.  Times are exact rationals of the clock frequency: each one is
 * written as cycles * 1000 / (D * clock_khz) microseconds (1 / kHz = 1 ms)
 * and divided once, rounding up.  With F <= 65535, D <= 255, N <= 255,
 * WI <= 255 and 2^BWI <= 2^15 every numerator stays below 2^50.
 */
#include "config.h"

#include "ccid/timing.h"

/* ISO 7816-3 §8.3 table 7; 0 = RFU. */
static const uint16_t fi_table[16] = {
	372, 372, 558, 744, 1116, 1488, 1860, 0, 0, 512, 768, 1024, 1536, 2048, 0, 0,
};

static const uint32_t fmax_table[16] = {
	4000, 5000, 6000, 8000, 12000, 16000, 20000, 0, 0, 5000, 7500, 10000, 15000, 20000, 0, 0,
};

/* ISO 7816-3 §8.3 table 8; 0 = RFU. */
static const uint8_t di_table[16] = {
	0, 1, 2, 4, 8, 16, 32, 64, 12, 20, 0, 0, 0, 0, 0, 0,
};

uint16_t ccid_fi(uint8_t idx)
{
	return idx < 16 ? fi_table[idx] : 0;
}

uint32_t ccid_fmax_khz(uint8_t idx)
{
	return idx < 16 ? fmax_table[idx] : 0;
}

uint8_t ccid_di(uint8_t idx)
{
	return idx < 16 ? di_table[idx] : 0;
}

static uint64_t div_up(uint64_t num, uint64_t den)
{
	return num / den + (num % den != 0);
}

uint64_t ccid_etu_ns(uint16_t F, uint8_t D, uint32_t clock_khz)
{
	if (!F || !D || !clock_khz)
		return 0;
	/* F / (D f) s = F * 1e6 / (D * kHz) ns */
	return div_up((uint64_t)F * 1000000u, (uint64_t)D * clock_khz);
}

/* etus * F / (D f), in microseconds, rounded up. */
static uint64_t etus_us(uint64_t etus, uint16_t F, uint8_t D, uint32_t clock_khz)
{
	return div_up(etus * F * 1000u, (uint64_t)D * clock_khz);
}

uint64_t ccid_egt_us(uint16_t F, uint8_t D, uint8_t N, uint32_t clock_khz)
{
	if (!F || !D || !clock_khz)
		return 0;
	/* §8.3: N = 255 selects the minimum guard time (12 etu T=0, 11 etu T=1). */
	return etus_us(N == 255 ? 12u : 12u + N, F, D, clock_khz);
}

uint64_t ccid_wwt_us(uint8_t WI, uint16_t Fi, uint32_t clock_khz)
{
	if (!WI || !Fi || !clock_khz)
		return 0;
	return div_up(960u * (uint64_t)WI * Fi * 1000u, clock_khz);
}

uint64_t ccid_bwt_us(uint8_t BWI, uint16_t F, uint8_t D, uint32_t clock_khz)
{
	uint64_t etu_part, wait_part;

	if (!F || !D || !clock_khz || BWI > 15)
		return 0;
	/*
	 * Over the common denominator D * kHz: 11 etu = 11 * F * 1000, and
	 * 2^BWI * 960 * Fd / f = 2^BWI * 960 * 372 * 1000 * D.
	 */
	etu_part = 11u * (uint64_t)F * 1000u;
	wait_part = ((uint64_t)1 << BWI) * 960u * CCID_FD * 1000u * D;
	return div_up(etu_part + wait_part, (uint64_t)D * clock_khz);
}

uint64_t ccid_cwt_us(uint8_t CWI, uint16_t F, uint8_t D, uint32_t clock_khz)
{
	if (!F || !D || !clock_khz || CWI > 15)
		return 0;
	return etus_us(11u + ((uint64_t)1 << CWI), F, D, clock_khz);
}
