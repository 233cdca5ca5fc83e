/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small streaming JSON writer (RFC 8259): objects, arrays, strings
 * (escaped: quote, backslash and every control character), numbers, bools
 * and null, compact or pretty-printed. Used by esptag -j / -p so that no
 * listing builds JSON by hand.
 *
 *   struct json_w w;
 *   json_init(&w, stdout, pretty);
 *   json_obj(&w); json_kstr(&w, "dev", name); json_ku64(&w, "spi", spi);
 *   json_end(&w); json_done(&w);   (json_done adds the final newline)
 */
#ifndef ESPTAG_JSON_H
#define ESPTAG_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json_w {
	FILE *f;
	bool pretty;
	int depth;
	bool after_key;			 /* a key was written, its value comes next */
	bool nonempty[JSON_MAX_DEPTH + 1]; /* the container at each depth has members */
	char closer[JSON_MAX_DEPTH + 1];	   /* '}' or ']' for the container at each depth */
};

void json_init(struct json_w *w, FILE *f, bool pretty);
void json_obj(struct json_w *w);   /* { */
void json_arr(struct json_w *w);   /* [ */
void json_end(struct json_w *w);   /* } or ] of the innermost container */
void json_key(struct json_w *w, const char *k);
void json_str(struct json_w *w, const char *s);
void json_u64(struct json_w *w, uint64_t v);
void json_bool(struct json_w *w, bool v);
void json_null(struct json_w *w);
/* End of one top-level value: a newline, flush. */
void json_done(struct json_w *w);

/* key + value */
void json_kstr(struct json_w *w, const char *k, const char *s);
void json_ku64(struct json_w *w, const char *k, uint64_t v);
void json_kbool(struct json_w *w, const char *k, bool v);
void json_knull(struct json_w *w, const char *k);

/* Write s as a JSON string (with its quotes) to f. */
void json_write_string(FILE *f, const char *s);

#endif
