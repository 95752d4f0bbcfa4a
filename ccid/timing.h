/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ISO/IEC 7816-3 transmission parameters and character timing: the Fi / Di /
 * f(max) tables indexed by the nibbles of TA1 or PPS1 (ISO 7816-3 §8.3,
 * tables 7 and 8) and the guard and waiting times a driver derives from the
 * ATR integers and the clock it gives the card (§7.2, §10.2, §11.4.3).
 *
 * All times are computed exactly with 64-bit integers from the clock
 * frequency in kHz and rounded UP, so a timeout computed here is never
 * shorter than the card may take.  No input of the declared types can
 * overflow.  Every function returns 0 when the inputs do not describe a
 * time: clock_khz == 0, F == 0 or D == 0 (the RFU markers of
 * struct ccid_atr), or BWI / CWI above 15 (they are 4-bit fields).
 */
#ifndef CCID_TIMING_H
#define CCID_TIMING_H

#include <stdint.h>

#include "ccid/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libuccid exports what this header declares, and nothing else (-fvisibility=hidden) */
#pragma GCC visibility push(default)

/* The values the card uses until PPS or specific mode changes them (§8.1). */
#define CCID_FD 372
#define CCID_DD 1

/*
 * Clock rate conversion integer Fi for a 4-bit index (high nibble of TA1 or
 * PPS1).  Returns 372, 558, ... 2048, or 0 for an RFU index (7, 8, E, F) or
 * an index above 15.
 */
uint16_t ccid_fi(uint8_t idx);

/*
 * Maximum clock frequency f(max) in kHz that goes with Fi index idx
 * (4000 .. 20000; index 0 is 4 MHz although it shares Fi = 372 with index 1).
 * Returns 0 for an RFU index or an index above 15.
 */
uint32_t ccid_fmax_khz(uint8_t idx);

/*
 * Baud rate adjustment integer Di for a 4-bit index (low nibble of TA1 or
 * PPS1): 1, 2, 4, 8, 16, 32, 64, 12, 20.  Returns 0 for an RFU index (0,
 * A..F) or an index above 15.
 */
uint8_t ccid_di(uint8_t idx);

/*
 * One elementary time unit, 1 etu = F / (D * f) (§7.1), in nanoseconds.
 * Returns the duration, or 0 if F, D or clock_khz is 0.
 * Example: F=372, D=1, 4000 kHz -> 93000 ns.
 */
uint64_t ccid_etu_ns(uint16_t F, uint8_t D, uint32_t clock_khz);

/*
 * Guard time GT between the leading edges of two characters the interface
 * device sends: 12 etu + N etu, N = TC1 (§8.3).  N = 255 means the minimum
 * guard time, which is 12 etu under T=0 and 11 etu under T=1; this function
 * returns 12 etu for it (valid for both: never shorter than required).
 * Returns microseconds, or 0 if F, D or clock_khz is 0.
 */
uint64_t ccid_egt_us(uint16_t F, uint8_t D, uint8_t N, uint32_t clock_khz);

/*
 * T=0 waiting time WT = WI * 960 * Fi / f (§10.2), WI = TC2 (default 10).
 * Independent of D.  Returns microseconds, or 0 if WI, Fi or clock_khz is 0.
 * Example: WI=10, Fi=372, 4000 kHz -> 892800 us.
 */
uint64_t ccid_wwt_us(uint8_t WI, uint16_t Fi, uint32_t clock_khz);

/*
 * T=1 block waiting time BWT = 11 etu + 2^BWI * 960 * Fd / f, Fd = 372
 * whatever F was negotiated (§11.4.3).  Returns microseconds, or 0 if F, D
 * or clock_khz is 0 or BWI > 15.
 */
uint64_t ccid_bwt_us(uint8_t BWI, uint16_t F, uint8_t D, uint32_t clock_khz);

/*
 * T=1 character waiting time CWT = (11 + 2^CWI) etu (§11.4.3).  Returns
 * microseconds, or 0 if F, D or clock_khz is 0 or CWI > 15.
 */
uint64_t ccid_cwt_us(uint8_t CWI, uint16_t F, uint8_t D, uint32_t clock_khz);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
