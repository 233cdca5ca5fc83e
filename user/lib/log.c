// SPDX-License-Identifier: GPL-2.0-only
/* Logging to stderr with syslog priority prefixes (log.h). */
#include <stdarg.h>
#include <stdio.h>
#include "log.h"

int log_level = LOG_INFO_;
static const char *log_ident = "esptag";

void log_init(const char *ident)
{
	log_ident = ident;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void logm(int prio, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "<%d>%s: %s\n", prio, log_ident, buf);
}
