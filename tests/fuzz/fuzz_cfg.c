// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: config packet decoder. For any input, decoding must not
 * read out of bounds (ASan) nor invoke UB (UBSan), must return one of the
 * documented codes, and an accepted packet must satisfy the invariants
 * below (iteration covers exactly `length` bytes, every record passes its
 * check, re-encoding gives the same bytes, every truncation is refused).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "esptag_proto.h"

#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_cfg: invariant failed: %s (line %d)\n", #c, \
				__LINE__);                                             \
			abort();                                                       \
		}                                                                      \
	} while (0)

static void check_accepted(const uint8_t *data, size_t size, const struct esptag_cfg_view *v)
{
	static uint8_t out[ESPTAG_CFG_MAX_PAYLOAD + 64];
	struct esptag_cfg_builder b;
	struct esptag_cfg_view v2;
	struct esptag_rec_view r;
	bool reply = v->flags & ESPTAG_CFG_F_REPLY;
	size_t off = 0, n, total = sizeof(struct esptag_cfg_hdr) + v->records_len;
	unsigned int count = 0;

	CHECK(v->bad_index == ESPTAG_ERR_INDEX_NONE);
	CHECK(v->records_len == v->length);
	CHECK(total <= size && total <= ESPTAG_CFG_MAX_PAYLOAD);
	/* Only Ethernet padding of a minimum frame may follow. */
	CHECK(total == size || size <= 46);
	CHECK(v->msg_id != 0);
	CHECK((v->version >= ESPTAG_PROTO_VERSION && v->version <= ESPTAG_PROTO_VERSION_MAX) ||
	      (reply && v->status == ESPTAG_ST_BAD_VERSION));
	/* HELLO is version 1 in every version. */
	CHECK(v->opcode != ESPTAG_OP_HELLO || v->version == ESPTAG_PROTO_VERSION ||
	      (reply && v->status == ESPTAG_ST_BAD_VERSION));
	CHECK(!reply || v->status == ESPTAG_ST_OK || v->count == 0 ||
	      (v->status == ESPTAG_ST_BAD_VERSION && v->count == 1));

	esptag_cfg_begin(&b, out, sizeof(out), v->opcode, v->flags, v->status, v->msg_id, v->port);
	esptag_cfg_set_version(&b, v->version);
	while (esptag_cfg_next(v, &off, &r)) {
		/* Exact sizes; CAPS with the agent's key only in OK HELLO replies. */
		CHECK(r.len == esptag_rec_size(r.type) ||
		      (r.type == ESPTAG_REC_CAPS && r.len == sizeof(struct esptag_rec_caps2) && reply &&
		       v->opcode == ESPTAG_OP_HELLO && v->status == ESPTAG_ST_OK));
		/* Wrapped SAs only in version 2 ADD_SA requests; clear keys never there. */
		if (r.type == ESPTAG_REC_SA_WRAP || r.type == ESPTAG_REC_WRAP_KEY)
			CHECK(!reply && v->opcode == ESPTAG_OP_ADD_SA && v->version >= ESPTAG_PROTO_V2);
		if (r.type == ESPTAG_REC_SA && !reply)
			CHECK(v->version < ESPTAG_PROTO_V2);
		CHECK(r.data >= data + 16 && r.data + r.len <= data + total);
		if (r.type == ESPTAG_REC_SA) {
			struct esptag_rec_sa sa;

			memcpy(&sa, r.data, sizeof(sa));
			CHECK(esptag_rec_sa_check(&sa, !reply) == 0);
			/* No reply ever carries key material. */
			if (reply)
				for (size_t i = 0; i < sizeof(sa.key); i++)
					CHECK(sa.key[i] == 0);
		} else if (r.type == ESPTAG_REC_LOCAL) {
			struct esptag_rec_local l;

			memcpy(&l, r.data, sizeof(l));
			CHECK(esptag_rec_local_check(&l) == 0);
		} else if (r.type == ESPTAG_REC_CAPS) {
			struct esptag_rec_caps c;

			memcpy(&c, r.data, sizeof(c));
			CHECK(esptag_rec_caps_check(&c, !reply) == 0);
		}
		CHECK(esptag_cfg_add(&b, r.type, r.data, r.len) == 0);
		count++;
	}
	CHECK(count == v->count);
	CHECK(off == v->records_len);
	n = esptag_cfg_end(&b, v->err_index);
	CHECK(n == total);
	CHECK(memcmp(out, data, n) == 0);
	CHECK(esptag_cfg_decode(out, n, &v2) == 0);
	CHECK(v2.count == v->count && v2.msg_id == v->msg_id && v2.port == v->port);
	/* Every truncation of the records is refused. */
	if (v->records_len) {
		CHECK(esptag_cfg_decode(out, n - 1, &v2) == ESPTAG_EMALFORMED);
		CHECK(esptag_cfg_decode(out, sizeof(struct esptag_cfg_hdr), &v2) ==
		      ESPTAG_EMALFORMED);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct esptag_cfg_view v;
	int rc = esptag_cfg_decode(data, size, &v);

	switch (rc) {
	case 0:
		check_accepted(data, size, &v);
		break;
	case ESPTAG_EVERSION:
	case ESPTAG_EOPCODE:
		CHECK(size >= 16);
		CHECK(v.bad_index == ESPTAG_ERR_INDEX_NONE);
		break;
	case ESPTAG_EMALFORMED:
	case ESPTAG_EBADREC:
	case ESPTAG_EALG:
		CHECK(v.bad_index == ESPTAG_ERR_INDEX_NONE || v.bad_index <= v.count ||
		      v.bad_index == ESPTAG_CFG_MAX_STATS);
		CHECK(rc == ESPTAG_EMALFORMED || v.bad_index < v.count);
		break;
	default:
		CHECK(!"unexpected return code");
	}
	/* The header is always read back faithfully when present. */
	if (size >= 16) {
		uint32_t id;

		memcpy(&id, data + 4, 4);
		CHECK(v.msg_id == ntohl(id));
		CHECK(v.opcode == data[1]);
	}
	/* Names never fail. */
	CHECK(esptag_status_str(rc) != NULL && esptag_opcode_str(v.opcode) != NULL);
	return 0;
}
