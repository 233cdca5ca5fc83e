// SPDX-License-Identifier: GPL-2.0-only
/*
 * A small streaming JSON writer (json.h). Strings are escaped per RFC 8259:
 * '"' and '\\' by a backslash, the control characters below 0x20 as \b \f
 * \n \r \t or \u00XX; bytes from 0x7f up are copied as they are.
 */
#include <inttypes.h>
#include "json.h"

void json_init(struct json_w *w, FILE *f, bool pretty)
{
	*w = (struct json_w){ .f = f, .pretty = pretty };
}

void json_write_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void indent(struct json_w *w)
{
	fputc('\n', w->f);
	for (int i = 0; i < w->depth; i++)
		fputs("    ", w->f);
}

/* Before a value or a key: the comma and the indentation it needs. */
static void before(struct json_w *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (w->nonempty[w->depth])
		fputc(',', w->f);
	w->nonempty[w->depth] = true;
	if (w->pretty)
		indent(w);
}

static void open(struct json_w *w, char c)
{
	before(w);
	fputc(c, w->f);
	if (w->depth < JSON_MAX_DEPTH)
		w->depth++;
	w->nonempty[w->depth] = false;
	w->closer[w->depth] = c == '{' ? '}' : ']';
}

void json_obj(struct json_w *w)
{
	open(w, '{');
}

void json_arr(struct json_w *w)
{
	open(w, '[');
}

void json_end(struct json_w *w)
{
	bool had = w->nonempty[w->depth];
	char c = w->closer[w->depth];

	if (w->depth > 0)
		w->depth--;
	if (w->pretty && had)
		indent(w);
	fputc(c ? c : '}', w->f);
}

void json_key(struct json_w *w, const char *k)
{
	before(w);
	json_write_string(w->f, k);
	fputs(w->pretty ? ": " : ":", w->f);
	w->after_key = true;
}

void json_str(struct json_w *w, const char *s)
{
	before(w);
	json_write_string(w->f, s);
}

void json_u64(struct json_w *w, uint64_t v)
{
	before(w);
	fprintf(w->f, "%" PRIu64, v);
}

void json_bool(struct json_w *w, bool v)
{
	before(w);
	fputs(v ? "true" : "false", w->f);
}

void json_null(struct json_w *w)
{
	before(w);
	fputs("null", w->f);
}

void json_done(struct json_w *w)
{
	fputc('\n', w->f);
	fflush(w->f);
	w->depth = 0;
	w->after_key = false;
	w->nonempty[0] = false;
}

void json_kstr(struct json_w *w, const char *k, const char *s)
{
	json_key(w, k);
	json_str(w, s);
}

void json_ku64(struct json_w *w, const char *k, uint64_t v)
{
	json_key(w, k);
	json_u64(w, v);
}

void json_kbool(struct json_w *w, const char *k, bool v)
{
	json_key(w, k);
	json_bool(w, v);
}

void json_knull(struct json_w *w, const char *k)
{
	json_key(w, k);
	json_null(w);
}
