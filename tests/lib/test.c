// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <ctype.h>
#include "test.h"

int t_failed_cases;
bool t_cur_failed;
bool t_cur_skipped;
const char *t_cur_name;
static char t_why[512];

void t_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t_cur_failed)
		return;
	t_cur_failed = true;
	n = snprintf(t_why, sizeof(t_why), "%s:%d: ", file, line);
	va_start(ap, fmt);
	vsnprintf(t_why + n, sizeof(t_why) - n, fmt, ap);
	va_end(ap);
}

void t_skip(const char *fmt, ...)
{
	va_list ap;

	t_cur_skipped = true;
	va_start(ap, fmt);
	vsnprintf(t_why, sizeof(t_why), fmt, ap);
	va_end(ap);
}

void t_run(const char *name, void (*fn)(void))
{
	t_cur_name = name;
	t_cur_failed = false;
	t_cur_skipped = false;
	t_why[0] = 0;
	fn();
	if (t_cur_failed) {
		t_failed_cases++;
		printf("FAIL %s: %s\n", name, t_why);
	} else if (t_cur_skipped) {
		printf("SKIP %s: %s\n", name, t_why);
	} else {
		printf("PASS %s\n", name);
	}
	fflush(stdout);
}

int t_done(void)
{
	return t_failed_cases ? 1 : 0;
}

void t_hexdiff(const void *got, size_t glen, const void *want, size_t wlen)
{
	const uint8_t *g = got, *w = want;
	size_t n = glen > wlen ? glen : wlen;

	fprintf(stderr, "  %s: off  got want\n", t_cur_name ? t_cur_name : "");
	for (size_t i = 0; i < n; i++) {
		int gv = i < glen ? g[i] : -1, wv = i < wlen ? w[i] : -1;

		if (gv != wv)
			fprintf(stderr, "    %4zu  %02x   %02x%s\n", i, gv & 0xff,
				wv & 0xff, gv < 0 ? " (short)" : wv < 0 ? " (long)" : "");
	}
}

int t_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *hex; hex++) {
		int v;

		if (isspace((unsigned char)*hex) || *hex == '|' || *hex == ':')
			continue;
		if (!isxdigit((unsigned char)*hex))
			return -1;
		v = isdigit((unsigned char)*hex) ? *hex - '0' : (tolower(*hex) - 'a' + 10);
		if (hi < 0) {
			hi = v;
		} else {
			if (n >= cap)
				return -1;
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return hi < 0 ? (int)n : -1;
}
