// SPDX-License-Identifier: GPL-2.0-only
/* Control-request answers under construction (struct reply). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "esptagd.h"

void reply_err(struct reply *r, int status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	/* printable ASCII only (the codec insists) */
	for (char *p = r->msg; *p; p++)
		if (*p < ' ' || *p > '~')
			*p = '?';
}

int reply_add(struct reply *r, const void *item)
{
	if (r->count >= ESPTAG_CTL_MAX_ITEMS)
		return -1;
	if (r->count == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		uint8_t *n = realloc(r->items, ncap * r->isz);

		if (!n)
			return -1;
		r->items = n;
		r->cap = ncap;
	}
	memcpy(r->items + r->count * r->isz, item, r->isz);
	r->count++;
	return 0;
}
