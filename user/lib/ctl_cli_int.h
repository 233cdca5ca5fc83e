/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internals of the esptag command-line grammar (ctl_cli.h), shared by
 *   ctl_cli.c         objects and verbs (esptag_cli_parse)
 *   ctl_cli_args.c    values: numbers, hex, device names, addresses, dir, proto,
 *                     mode, spi, reqid; splitting
 *   ctl_cli_state.c   state add / del / get / update / allocspi
 *   ctl_cli_policy.c  policy add / update / del
 *   ctl_cli_vf.c      vf add / del / trust / reset
 */
#ifndef ESPTAG_CTL_CLI_INT_H
#define ESPTAG_CTL_CLI_INT_H

#include <stdbool.h>
#include <stdio.h>
#include "ctl_cli.h"
#include "util.h"

#define AEAD_NAME "rfc4106(gcm(aes))"

/* Walks argv: cli_next_val() fetches the value of a keyword. */
struct args {
	int argc, i;
	char **argv;
	char *err;
	size_t errlen;
	unsigned int seen; /* S_* keywords given so far */
};

enum {
	S_DEV = 1 << 0, S_SRC = 1 << 1, S_DST = 1 << 2, S_PROTO = 1 << 3, S_SPI = 1 << 4,
	S_MODE = 1 << 5, S_REQID = 1 << 6, S_AEAD = 1 << 7, S_REPLAY = 1 << 8, S_ESN = 1 << 9,
	S_DIR = 1 << 10, S_LIMIT = 1 << 11, S_ACTION = 1 << 12, S_TMPL = 1 << 13,
	S_TSRC = 1 << 14, S_TDST = 1 << 15,
};

/* The shared error-buffer helper (util.h), under its short local name. */
#define fail esptag_fail

/* A keyword given twice is an error: return -1 from the caller. */
#define SEEN(a, bit, kw)                                                     \
	do {                                                                 \
		if (cli_seen(a, bit, kw))                                    \
			return -1;                                           \
	} while (0)

/* ctl_cli_args.c */
int cli_seen(struct args *a, unsigned int bit, const char *kw);
const char *cli_next_val(struct args *a, const char *kw);
int cli_no_args(struct args *a, const char *what);
int cli_parse_u32(const char *s, uint32_t *out, uint32_t max);
/* 0xHEX -> bytes; returns the length (more than cap: not copied), -1 for an
 * odd or empty string, -2 for a bad digit (out wiped). */
int cli_parse_hex(const char *s, uint8_t *out, size_t cap);
int cli_set_dev(char *dst, const char *s, char *err, size_t errlen);
/* The keyword dev DEV of an item: its dev and cmd->dev (the request's). 0 or -1. */
int cli_dev_kw(struct args *a, struct esptag_cli_cmd *cmd, char *dev);
int cli_parse_dir(const char *s, uint8_t *dir, char *err, size_t errlen);
int cli_parse_spi(const char *s, uint32_t *spi, char *err, size_t errlen);
/* An IPv4 or IPv6 address; what names it in the error ("src", "tmpl dst"). */
int cli_parse_addr(const char *s, const char *what, uint8_t *family, uint8_t *addr, char *err,
		   size_t errlen);
/* esp, the only one; what prefixes the error ("" or "tmpl "). */
int cli_parse_proto(const char *s, const char *what, char *err, size_t errlen);
/* transport or tunnel; what prefixes the error ("" or "tmpl "). */
int cli_parse_mode(const char *s, const char *what, uint8_t *mode, char *err, size_t errlen);
int cli_parse_reqid(const char *s, uint32_t *reqid, char *err, size_t errlen);

/* One object's verbs: fill cmd (op set by the caller). 0 or -1 (err). */
int cli_parse_state_add(struct args *a, struct esptag_cli_cmd *cmd);
int cli_parse_state_del(struct args *a, struct esptag_cli_cmd *cmd);
int cli_parse_state_get(struct args *a, struct esptag_cli_cmd *cmd);
int cli_parse_state_update(struct args *a, struct esptag_cli_cmd *cmd);
int cli_parse_state_allocspi(struct args *a, struct esptag_cli_cmd *cmd);
int cli_parse_policy(struct args *a, struct esptag_cli_cmd *cmd, bool add);
int cli_parse_vf(struct args *a, struct esptag_cli_cmd *cmd);

#endif
