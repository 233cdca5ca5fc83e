/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Small helpers shared by the esptag programs: monotonic time, the byte
 * order of the wire's split 64-bit fields, the error-buffer convention of
 * the parsers, and the exit codes.
 */
#ifndef ESPTAG_UTIL_H
#define ESPTAG_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <arpa/inet.h>

/*
 * Exit codes. esptagd and esptag-agent (docs/esptagd.8, esptag-agent.8):
 * 0 success, 1 a run-time failure, 2 a usage error (bad option or value:
 * nothing was done), 3 the peer the program depends on went away (esptagd
 * --vf: the PF closed the mailbox).
 */
enum esptag_exit {
	ESPTAG_EXIT_OK = 0,
	ESPTAG_EXIT_FAIL = 1,
	ESPTAG_EXIT_USAGE = 2,
	ESPTAG_EXIT_GONE = 3,
};

/*
 * esptag, the CLI (docs/esptag.8), says more about a request, and scripts
 * test these values: 1 is its usage error (nothing was sent), 2 and up tell
 * who refused or failed.
 */
enum esptag_cli_exit {
	ESPTAG_EXIT_CLI_USAGE = 1,
	ESPTAG_EXIT_REFUSED = 2,	/* the daemon refused: nothing changed */
	ESPTAG_EXIT_AGENT = 3,		/* the agent refused, or a table is full */
	ESPTAG_EXIT_TIMEOUT = 4,	/* the agent did not answer */
	ESPTAG_EXIT_NODAEMON = 5,	/* esptagd could not be reached */
	ESPTAG_EXIT_INTERNAL = 6,	/* a daemon-side failure */
};

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* A 64-bit value carried as two 32-bit big-endian words (hi, lo). */
static inline uint64_t get64(uint32_t hi_be, uint32_t lo_be)
{
	return (uint64_t)ntohl(hi_be) << 32 | ntohl(lo_be);
}

static inline void put64(uint32_t *hi_be, uint32_t *lo_be, uint64_t v)
{
	*hi_be = htonl(v >> 32);
	*lo_be = htonl((uint32_t)v);
}

/* Format a message into err (if given) and return -1. */
int esptag_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
