/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Minimal test framework shared by every C test binary.
 * Output protocol read by tests/run: one line per case,
 *   "PASS <name>", "FAIL <name>: <why>" or "SKIP <name>: <why>".
 * The binary exits 1 if any case failed, else 0.
 */
#ifndef ESPTAG_TEST_H
#define ESPTAG_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stdbool.h>

extern int t_failed_cases;
extern bool t_cur_failed;
extern bool t_cur_skipped;
extern const char *t_cur_name;

void t_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void t_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void t_run(const char *name, void (*fn)(void));
int t_done(void);
/* Hex dump of two buffers side by side where they differ (stderr). */
void t_hexdiff(const void *got, size_t glen, const void *want, size_t wlen);
/* Parse "aa bb cc" / "aabbcc" hex (whitespace and '|' ignored). Returns length or -1. */
int t_unhex(const char *hex, uint8_t *out, size_t cap);

#define T_RUN(fn) t_run(#fn, fn)

/* Stop the current case on failure. */
#define T_ASSERT(cond, ...)                                                \
	do {                                                               \
		if (!(cond)) {                                             \
			t_fail(__FILE__, __LINE__, "%s", #cond);           \
			return __VA_ARGS__;                                \
		}                                                          \
	} while (0)

#define T_EQ(a, b, ...)                                                    \
	do {                                                               \
		long long _a = (long long)(a), _b = (long long)(b);        \
		if (_a != _b) {                                            \
			t_fail(__FILE__, __LINE__, "%s == %s (%lld != %lld)", \
			       #a, #b, _a, _b);                            \
			return __VA_ARGS__;                                \
		}                                                          \
	} while (0)

#define T_MEMEQ(got, glen, want, wlen, ...)                                \
	do {                                                               \
		size_t _gl = (glen), _wl = (wlen);                         \
		if (_gl != _wl || memcmp((got), (want), _gl)) {            \
			t_hexdiff((got), _gl, (want), _wl);                \
			t_fail(__FILE__, __LINE__, "bytes of %s differ (len %zu vs %zu)", \
			       #got, _gl, _wl);                            \
			return __VA_ARGS__;                                \
		}                                                          \
	} while (0)

#endif
