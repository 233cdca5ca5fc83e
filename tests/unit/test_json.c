// SPDX-License-Identifier: GPL-2.0-only
/*
 * The JSON writer of esptag -j (user/lib/json.c): strings escaped per
 * RFC 8259 (quote, backslash, every control character), commas and nesting
 * right, pretty printing only adds white space.
 */
#include <stdlib.h>
#include "../lib/test.h"
#include "json.h"

static char *out;
static size_t outlen;

static struct json_w *w_open(bool pretty)
{
	static struct json_w w;
	FILE *f;

	free(out);
	out = NULL;
	f = open_memstream(&out, &outlen);
	json_init(&w, f, pretty);
	return &w;
}

static const char *w_close(struct json_w *w)
{
	fclose(w->f);
	return out;
}

#define T_OUT(w, want)                                                               \
	do {                                                                         \
		const char *got = w_close(w);                                        \
		if (strcmp(got, want)) {                                             \
			t_fail(__FILE__, __LINE__, "got [%s] want [%s]", got, want); \
			return;                                                      \
		}                                                                    \
	} while (0)

static void escapes(void)
{
	struct json_w *w = w_open(false);

	json_str(w, "a\"b\\c/\x01\x1f\b\f\n\r\t\x7f\xc3\xa9");
	json_done(w);
	T_OUT(w, "\"a\\\"b\\\\c/\\u0001\\u001f\\b\\f\\n\\r\\t\x7f\xc3\xa9\"\n");
}

static void nesting(void)
{
	struct json_w *w = w_open(false);

	json_arr(w);
	json_obj(w);
	json_kstr(w, "dev", "e\"th");
	json_ku64(w, "spi", 4096);
	json_key(w, "v");
	json_arr(w);
	json_u64(w, 1);
	json_u64(w, 18446744073709551615ull);
	json_end(w);
	json_kbool(w, "t", true);
	json_kbool(w, "f", false);
	json_knull(w, "n");
	json_end(w);
	json_obj(w);
	json_end(w);
	json_arr(w);
	json_end(w);
	json_end(w);
	json_done(w);
	T_OUT(w, "[{\"dev\":\"e\\\"th\",\"spi\":4096,\"v\":[1,18446744073709551615],"
		 "\"t\":true,\"f\":false,\"n\":null},{},[]]\n");
}

static void pretty(void)
{
	struct json_w *w = w_open(true);

	json_obj(w);
	json_ku64(w, "a", 1);
	json_key(w, "b");
	json_arr(w);
	json_str(w, "x");
	json_end(w);
	json_key(w, "c");
	json_arr(w);
	json_end(w);
	json_end(w);
	json_done(w);
	T_OUT(w, "{\n    \"a\": 1,\n    \"b\": [\n        \"x\"\n    ],\n    \"c\": []\n}\n");
}

int main(void)
{
	T_RUN(escapes);
	T_RUN(nesting);
	T_RUN(pretty);
	free(out);
	return t_done();
}
