// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the esptagd control socket and the esptag grammar.
 * Input byte 0 even: a control message for esptag_ctl_decode(); an accepted
 * message must cover exactly its length and every item must pass its own
 * check again; every truncation must be refused. Input byte 0 odd: the rest
 * is a batch-file line for esptag_cli_split() + esptag_cli_parse(); a parsed
 * command must be a valid request, a refused one must leave no bytes behind.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"
#include "ctl_cli.h"

#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_ctl: invariant failed: %s (line %d)\n", #c, \
				__LINE__);                                             \
			abort();                                                       \
		}                                                                      \
	} while (0)

static void msg(const uint8_t *data, size_t size)
{
	struct esptag_ctl_view v, v2;
	char err[256];

	if (esptag_ctl_decode(data, size, &v, err, sizeof(err)))
		return;
	CHECK(v.hdr.len + sizeof(struct esptag_ctl_hdr) == size);
	if (v.item_size)
		CHECK(v.item_size * v.hdr.count == v.hdr.len);
	for (size_t l = 0; l < size; l += 1 + size / 64)
		CHECK(esptag_ctl_decode(data, l, &v2, err, sizeof(err)) == -1);
	if (v.hdr.op == ESPTAG_CTL_STATE_ADD && !(v.hdr.flags & ESPTAG_CTL_F_REPLY)) {
		for (uint32_t i = 0; i < v.hdr.count; i++) {
			struct esptag_ctl_sa sa;

			esptag_ctl_item(&v, i, &sa);
			CHECK(esptag_ctl_sa_check(&sa, true, NULL, 0) == 0);
		}
	}
}

static void line(const uint8_t *data, size_t size)
{
	char buf[1024], *argv[64];
	struct esptag_cli_cmd cmd;
	char err[256];
	int argc;

	if (size >= sizeof(buf))
		size = sizeof(buf) - 1;
	memcpy(buf, data, size);
	buf[size] = 0;
	argc = esptag_cli_split(buf, argv, 64);
	if (argc < 0)
		return;
	if (esptag_cli_parse(argc, argv, &cmd, err, sizeof(err))) {
		const uint8_t *p = (const uint8_t *)&cmd;

		for (size_t i = 0; i < sizeof(cmd); i++)
			CHECK(p[i] == 0);
		CHECK(err[0]);
		return;
	}
	if (cmd.help) {	/* help: nothing to send */
		CHECK(cmd.op == 0 && cmd.help >= ESPTAG_CLI_OBJ_ALL && cmd.help <= ESPTAG_CLI_OBJ_MONITOR);
		return;
	}
	CHECK(cmd.op >= 1 && cmd.op <= ESPTAG_CTL_OP_MAX);
	if (cmd.op == ESPTAG_CTL_STATE_ADD)
		CHECK(esptag_ctl_sa_check(&cmd.sa, true, NULL, 0) == 0);
	if (cmd.op == ESPTAG_CTL_STATE_DEL)
		CHECK(esptag_ctl_sa_id_check(&cmd.id, NULL, 0) == 0);
	if (cmd.op == ESPTAG_CTL_POLICY_ADD || cmd.op == ESPTAG_CTL_POLICY_UPDATE)
		CHECK(esptag_ctl_policy_check(&cmd.pol, true, NULL, 0) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		line(data + 1, size - 1);
	else
		msg(data + 1, size - 1);
	return 0;
}
