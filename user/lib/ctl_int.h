/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internals of the control socket codec (ctl.h), shared by
 *   ctl.c        messages: header, items, decode
 *   ctl_check.c  the contents of each item type
 *   ctl_io.c     whole-message I/O on a stream socket, socket paths
 *   ctl_text.c   names of ops, statuses, events; addresses as text
 */
#ifndef ESPTAG_CTL_INT_H
#define ESPTAG_CTL_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "ctl.h"

/* Format a reason into err (if any) and return -1. */
static inline int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static inline bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* ctl_check.c: the contents of one item of op (p: not aligned). */
int esptag_ctl_item_check(int op, bool reply, const void *p, char *err, size_t errlen);

#endif
