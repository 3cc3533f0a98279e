/* SPDX-License-Identifier: MIT */
/* Minimal TAP-style helpers for the C unit tests: "ok - what" / "not ok - what". */
#ifndef MV_TAP_H
#define MV_TAP_H

#include <stdio.h>

static int tap_failed;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("ok - ");                                                           \
		} else {                                                                           \
			printf("not ok - ");                                                       \
			tap_failed++;                                                              \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		printf("%s\n", (cond) ? "" : "  [" #cond "]");                                     \
	} while (0)

#define TAP_EXIT() return tap_failed ? 1 : 0

#endif
