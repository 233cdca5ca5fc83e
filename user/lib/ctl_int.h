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

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include "ctl.h"
#include "util.h"

/* The shared error-buffer helper (util.h), under its short local name. */
#define fail esptag_fail

static inline bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* ctl_check.c: the contents of one item of op (p: not aligned). */
int esptag_ctl_item_check(int op, bool reply, const void *p, size_t isz, char *err,
			  size_t errlen);

#endif
