/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Explanations of ISO/IEC 7816-4 status words (SW1 SW2). */
#ifndef CCID_SW_H
#define CCID_SW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libuccid exports what this header declares, and nothing else (-fvisibility=hidden) */
#pragma GCC visibility push(default)

/* Write a one-line meaning of sw into buf (cap > 0) and return buf; never fails. */
const char *ccid_sw_explain(uint16_t sw, char *buf, size_t cap);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
