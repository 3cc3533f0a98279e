/* SPDX-License-Identifier: MIT */
/* Minimal TAP-style helpers for the C unit tests: "ok - what" / "not ok - what". */
#ifndef MV_TAP_H
#define MV_TAP_H

#include <stdio.h>

static int tap_failed;

/* cond is evaluated exactly once: it often has side effects (parsers, allocations). */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		int tap_ok_ = !!(cond);                                                            \
		printf("%s - ", tap_ok_ ? "ok" : "not ok");                                        \
		tap_failed += !tap_ok_;                                                            \
		printf(__VA_ARGS__);                                                               \
		printf("%s\n", tap_ok_ ? "" : "  [" #cond "]");                                    \
	} while (0)

#define TAP_EXIT() return tap_failed ? 1 : 0

#endif
