// SPDX-License-Identifier: MIT
/*
 * The canary marker and the scan for it.  This file is compiled without
 * libFuzzer's coverage and comparison instrumentation (tests/fuzz/fuzz.mk),
 * and compares bytes by hand rather than with memmem()/memcmp(), whose
 * sanitizer interceptors report both operands to libFuzzer (memchr() reports
 * nothing, and neither does a one-byte needle): the fuzzer must
 * never learn the marker, or it would write it into a file of the share and
 * read it back.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/fixture.h"

#define MASK 0xa5u

static uint8_t enc[64];
static size_t enc_len;

void fuzz_canary_set(const char *marker, size_t len)
{
	if (len > sizeof(enc))
		len = sizeof(enc);
	for (size_t i = 0; i < len; i++)
		enc[i] = (uint8_t)marker[i] ^ MASK;
	enc_len = len;
}

long fuzz_canary_scan(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	const uint8_t *end = p + len;
	uint8_t first = enc[0] ^ MASK;

	if (!enc_len || len < enc_len)
		return -1;
	/* memchr() is fast on megabytes of zeros and tells libFuzzer nothing. */
	while ((p = memchr(p, first, (size_t)(end - p))) && (size_t)(end - p) >= enc_len) {
		size_t j = 1;

		while (j < enc_len && (uint8_t)(p[j] ^ MASK) == enc[j])
			j++;
		if (j == enc_len)
			return (long)(p - (const uint8_t *)buf);
		p++;
	}
	return -1;
}
