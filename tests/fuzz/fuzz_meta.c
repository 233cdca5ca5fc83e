// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: metadata tag decoder. The input is a frame from its
 * byte 12 (the tag's TPID) to its end. An accepted tag must re-encode to
 * the same 32 bytes and its offsets must lie inside the frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "esptag_proto.h"

#define CHECK(c)                                                                        \
	do {                                                                            \
		if (!(c)) {                                                             \
			fprintf(stderr, "fuzz_meta: invariant failed: %s (line %d)\n", #c, \
				__LINE__);                                              \
			abort();                                                        \
		}                                                                       \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct esptag_meta_view m, m2;
	uint8_t out[32];
	size_t flen;	/* the untagged frame */
	int rc = esptag_meta_decode(data, size, ESPTAG_ETH_P_META, &m);

	CHECK(rc == 0 || rc == ESPTAG_EMALFORMED);
	if (rc)
		return 0;
	CHECK(size >= 32);
	flen = size - 32 + 14;
	esptag_meta_encode(out, ESPTAG_ETH_P_META, &m);
	CHECK(memcmp(out, data, 32) == 0);
	/* The re-encoded tag in the same frame decodes to the same view. */
	{
		uint8_t *copy = malloc(size);

		CHECK(copy);
		memcpy(copy, data, size);
		memcpy(copy, out, 32);
		CHECK(esptag_meta_decode(copy, size, ESPTAG_ETH_P_META, &m2) == 0);
		CHECK(memcmp(&m, &m2, sizeof(m)) == 0);
		free(copy);
	}
	CHECK(m.kind == ESPTAG_META_TX || m.kind == ESPTAG_META_RX);
	CHECK(!(m.flags & ~ESPTAG_META_F_KNOWN));
	if (!(m.flags & ESPTAG_META_F_ESN))
		CHECK(m.seq >> 32 == 0);
	if (m.kind == ESPTAG_META_TX && (m.flags & ESPTAG_META_F_OFFLOAD)) {
		CHECK(m.sa_index != ESPTAG_SA_INDEX_NONE && m.seq != 0);
		/* GSO tunnel mode: at the inner IP header, right after L2. */
		CHECK(m.esp_off >= ((m.flags & ESPTAG_META_F_GSO) ? 14 : 34));
		if (m.flags & ESPTAG_META_F_GSO) {
			CHECK(m.mss && m.payload_off == m.esp_off && m.esp_off < flen);
		} else {
			CHECK(m.payload_off == m.esp_off + 16 && m.payload_off <= flen);
			CHECK(m.mss == 0);
		}
	} else if (m.kind == ESPTAG_META_TX) {
		CHECK(m.flags == 0 && m.sa_index == ESPTAG_SA_INDEX_NONE && !m.esp_off &&
		      !m.payload_off && !m.seq && !m.next_hdr && !m.mss);
	} else {
		/* mss: the ESP packets coalesced into an OK frame (0 or 1: one). */
		CHECK(m.result <= ESPTAG_RES_MAX && m.mss <= ESPTAG_RX_MAX_SEGS);
		CHECK(m.mss <= 1 || m.result == ESPTAG_RES_OK);
		CHECK(!(m.flags & (ESPTAG_META_F_OFFLOAD | ESPTAG_META_F_GSO)));
		CHECK(m.payload_off <= flen && m.esp_off <= flen);
		if (m.result == ESPTAG_RES_OK) {
			CHECK(m.sa_index != ESPTAG_SA_INDEX_NONE);
			CHECK((size_t)m.payload_off + m.trailer_len <= flen);
			CHECK(m.trailer_len >= 18);
		} else {
			CHECK(m.trailer_len == 0 && m.next_hdr == 0);
		}
	}
	/* A different EtherType is never accepted for this tag. */
	CHECK(esptag_meta_decode(data, size, ESPTAG_ETH_P_META ^ 0x0100, &m2) != 0);
	CHECK(esptag_result_str(m.result) != NULL);
	return 0;
}
