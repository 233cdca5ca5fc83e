// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the VF <-> PF mailbox parser (user/lib/ctl_mbox.h), the
 * first thing the PF runs on bytes a VM controls. An accepted message must
 * cover exactly its length, carry a payload of the size its type allows,
 * rebuild byte for byte with esptag_mbox_build, and every truncation of it
 * must be refused. A CFG request's payload then goes through
 * esptag_cfg_decode as in the PF (it must not crash, and an accepted one
 * must fit the mailbox limits).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"
#include "ctl_mbox.h"
#include "esptag_proto.h"

#define CHECK(c)                                                                           \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "fuzz_mailbox: invariant failed: %s (line %d)\n", #c, \
				__LINE__);                                                 \
			abort();                                                           \
		}                                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[ESPTAG_MBOX_MAX];
	struct esptag_mbox_view v, v2;
	struct esptag_cfg_view cv;
	char err[160];
	size_t n;

	if (esptag_mbox_decode(data, size, &v, err, sizeof(err))) {
		CHECK(strlen(err) > 0);
		return 0;
	}
	CHECK(size == sizeof(struct esptag_mbox_hdr) + v.hdr.len);
	CHECK(size <= ESPTAG_MBOX_MAX);
	CHECK(v.payload == data + sizeof(struct esptag_mbox_hdr));
	if (v.hdr.type == ESPTAG_MBOX_CFG)
		CHECK(v.hdr.len >= sizeof(struct esptag_cfg_hdr) &&
		      v.hdr.len <= ESPTAG_CFG_MAX_PAYLOAD);
	if (v.hdr.type == ESPTAG_MBOX_RESET && !(v.hdr.flags & ESPTAG_MBOX_F_REPLY))
		CHECK(v.hdr.len == 0);
	n = esptag_mbox_build(again, sizeof(again), v.hdr.type, v.hdr.flags & ESPTAG_MBOX_F_REPLY,
			      v.hdr.seq, v.hdr.status, v.payload, v.hdr.len);
	CHECK(n == size && !memcmp(again, data, size));
	for (size_t i = 0; i < size; i++)
		CHECK(esptag_mbox_decode(data, i, &v2, err, sizeof(err)) != 0);
	if (v.hdr.type == ESPTAG_MBOX_CFG && !(v.hdr.flags & ESPTAG_MBOX_F_REPLY) &&
	    !esptag_cfg_decode(v.payload, v.hdr.len, &cv))
		CHECK(cv.records_len <= v.hdr.len);
	return 0;
}
