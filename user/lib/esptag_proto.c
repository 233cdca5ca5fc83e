// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag config packet codec. docs/protocol.md is the specification; every
 * rule enforced here is stated there. This file: decoding (header, length,
 * record framing and counts per opcode), iterating and building packets;
 * record contents are checked in proto_rec.c, the metadata tag is in
 * proto_meta.c.
 *
 * Nothing here allocates. Every read is bounded by the length the caller
 * gave; records are copied out with memcpy (they are only 2-byte aligned in
 * a frame).
 */
#include <string.h>
#include <arpa/inet.h>
#include "proto_int.h"

/*
 * Which record types an opcode takes, per direction. A reply whose status
 * is not OK carries no records, except BAD_VERSION (exactly one CAPS).
 */
static bool rec_allowed(uint8_t op, bool reply, uint8_t type, uint8_t version)
{
	switch (op) {
	case ESPTAG_OP_HELLO:
		return type == ESPTAG_REC_CAPS;
	case ESPTAG_OP_ADD_SA:
		/* Version 2 requests carry wrapped keys only (and the frame's
		 * ephemeral key); replies never a key. */
		if (!reply && version >= ESPTAG_PROTO_V2)
			return type == ESPTAG_REC_SA_WRAP || type == ESPTAG_REC_WRAP_KEY;
		return type == ESPTAG_REC_SA;
	case ESPTAG_OP_DEL_SA:
		return type == ESPTAG_REC_SA_REF;
	case ESPTAG_OP_FLUSH_PORT:
		return false;
	case ESPTAG_OP_ADD_LOCAL:
	case ESPTAG_OP_DEL_LOCAL:
		return type == ESPTAG_REC_LOCAL;
	case ESPTAG_OP_DUMP_SA:
		return type == ESPTAG_REC_CURSOR || (reply && type == ESPTAG_REC_SA);
	case ESPTAG_OP_GET_STATS:
		if (!reply)
			return type == ESPTAG_REC_SA_REF;
		return type == ESPTAG_REC_SA_STATS || type == ESPTAG_REC_COUNTER;
	}
	return false;
}

static int fail(struct esptag_cfg_view *v, int err, uint16_t idx)
{
	v->bad_index = idx;
	return err;
}

/* The header fields of the packet p into v. */
static void cfg_hdr_read(const uint8_t *p, struct esptag_cfg_view *v)
{
	memcpy(&v->hdr, p, sizeof(v->hdr));
	v->version = v->hdr.version;
	v->opcode = v->hdr.opcode;
	v->flags = v->hdr.flags;
	v->status = v->hdr.status;
	v->msg_id = ntohl(v->hdr.msg_id);
	v->port = ntohs(v->hdr.port);
	v->count = ntohs(v->hdr.count);
	v->length = ntohs(v->hdr.length);
	v->err_index = ntohs(v->hdr.err_index);
	v->records = p + sizeof(struct esptag_cfg_hdr);
	v->records_len = 0;
}

/* Version, opcode, flags, msg_id, status and err_index of the header. */
static int cfg_hdr_check(struct esptag_cfg_view *v, bool reply)
{
	/* A BAD_VERSION reply is readable whatever the version it carries:
	 * the header and the CAPS record keep their layout in every version. */
	bool bad_version = !(reply && v->status == ESPTAG_ST_BAD_VERSION);

	if (bad_version && (v->version < ESPTAG_PROTO_VERSION || v->version > ESPTAG_PROTO_VERSION_MAX))
		return fail(v, ESPTAG_EVERSION, ESPTAG_ERR_INDEX_NONE);
	/* HELLO is version 1 in every version: it is how versions are found. */
	if (bad_version && v->opcode == ESPTAG_OP_HELLO && v->version != ESPTAG_PROTO_VERSION)
		return fail(v, ESPTAG_EVERSION, ESPTAG_ERR_INDEX_NONE);
	if (!v->opcode || v->opcode > ESPTAG_OP_MAX) {
		if (!(reply && (v->status == ESPTAG_ST_BAD_OPCODE ||
				v->status == ESPTAG_ST_BAD_VERSION)))
			return fail(v, ESPTAG_EOPCODE, ESPTAG_ERR_INDEX_NONE);
	}
	if (v->flags & ~ESPTAG_CFG_F_KNOWN)
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	if (!v->msg_id)
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	if (reply) {
		if (v->flags & ESPTAG_CFG_F_RETRY)
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		if ((v->flags & ESPTAG_CFG_F_MORE) &&
		    (v->opcode != ESPTAG_OP_DUMP_SA || v->status != ESPTAG_ST_OK))
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		if (v->status > ESPTAG_ST_MAX)
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		if (v->status == ESPTAG_ST_OK && v->err_index != ESPTAG_ERR_INDEX_NONE)
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	} else {
		if (v->flags & ESPTAG_CFG_F_MORE)
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		if (v->status || v->err_index != ESPTAG_ERR_INDEX_NONE)
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	}
	return 0;
}

/* Length: exact, except Ethernet padding of a minimum-size frame. */
static int cfg_length(struct esptag_cfg_view *v, size_t len)
{
	size_t rlen;

	if (v->length > ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr))
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	rlen = len - sizeof(struct esptag_cfg_hdr);
	if (v->length > rlen)
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	if (v->length < rlen && len > ETH_ZLEN_ - ESPTAG_ETH_HLEN)
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	if (v->count > ESPTAG_CFG_MAX_RECORDS)
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	v->records_len = v->length;
	return 0;
}

/* What the framing loop learns about the records. */
struct cfg_frame_info {
	uint8_t first_type;
	uint8_t last_type;
	uint16_t ncursor;
};

/* Framing of every record: type known and allowed, exact sizes, order. */
static int cfg_framing(struct esptag_cfg_view *v, bool reply, struct cfg_frame_info *fi)
{
	size_t rlen = v->records_len, off;
	uint8_t last_type = 0;
	uint16_t i;

	for (i = 0, off = 0; i < v->count; i++) {
		uint8_t type, rflags;
		uint16_t l;

		if (rlen - off < sizeof(struct esptag_rec_hdr))
			return fail(v, ESPTAG_EMALFORMED, i);
		type = v->records[off];
		rflags = v->records[off + 1];
		l = rd16(v->records + off + 2);
		if (!esptag_rec_size(type) || rflags)
			return fail(v, ESPTAG_EMALFORMED, i);
		/* The one record that grew: CAPS with the agent's key (72 bytes)
		 * in an OK HELLO reply. */
		if (l != esptag_rec_size(type) &&
		    !(type == ESPTAG_REC_CAPS && l == sizeof(struct esptag_rec_caps2) && reply &&
		      v->opcode == ESPTAG_OP_HELLO && v->status == ESPTAG_ST_OK))
			return fail(v, ESPTAG_EMALFORMED, i);
		if (l > rlen - off)
			return fail(v, ESPTAG_EMALFORMED, i);
		if (reply && v->status != ESPTAG_ST_OK) {
			/* Error replies: no records, BAD_VERSION one CAPS. */
			if (v->status != ESPTAG_ST_BAD_VERSION || type != ESPTAG_REC_CAPS)
				return fail(v, ESPTAG_EMALFORMED, i);
		} else if (!rec_allowed(v->opcode, reply, type, v->version)) {
			return fail(v, ESPTAG_EMALFORMED, i);
		}
		if (i == 0)
			fi->first_type = type;
		/* GET_STATS replies do not mix SA_STATS and COUNTER. */
		if (v->opcode == ESPTAG_OP_GET_STATS && type != fi->first_type)
			return fail(v, ESPTAG_EMALFORMED, i);
		/* A DUMP_SA CURSOR is the only (request) or last (reply) record;
		 * a version 2 ADD_SA's WRAP_KEY the last. */
		if (last_type == ESPTAG_REC_CURSOR || last_type == ESPTAG_REC_WRAP_KEY)
			return fail(v, ESPTAG_EMALFORMED, i);
		if (type == ESPTAG_REC_CURSOR)
			fi->ncursor++;
		last_type = type;
		fi->last_type = type;
		off += l;
	}
	if (off != rlen)
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	return 0;
}

/* Record counts per opcode, direction and status. */
static int cfg_counts(struct esptag_cfg_view *v, bool reply, const struct cfg_frame_info *fi)
{
	if (reply && v->status != ESPTAG_ST_OK) {
		if (v->status == ESPTAG_ST_BAD_VERSION &&
		    (v->count != 1 || fi->first_type != ESPTAG_REC_CAPS))
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		return 0;
	}
	switch (v->opcode) {
	case ESPTAG_OP_HELLO:
		if (v->count != 1)
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		break;
	case ESPTAG_OP_ADD_SA:
		/* Version 2: SA_WRAP records, then the frame's WRAP_KEY. */
		if (!reply && v->version >= ESPTAG_PROTO_V2 &&
		    (v->count < 2 || fi->last_type != ESPTAG_REC_WRAP_KEY))
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		if (!v->count)
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		break;
	case ESPTAG_OP_DEL_SA:
	case ESPTAG_OP_ADD_LOCAL:
	case ESPTAG_OP_DEL_LOCAL:
		if (!v->count)
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		break;
	case ESPTAG_OP_GET_STATS:
		if (reply && !v->count)
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		if (!reply && v->count > ESPTAG_CFG_MAX_STATS)
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_CFG_MAX_STATS);
		break;
	case ESPTAG_OP_DUMP_SA:
		if (!reply && v->count > 1)
			return fail(v, ESPTAG_EMALFORMED, 1);
		if (reply && !!(v->flags & ESPTAG_CFG_F_MORE) != !!fi->ncursor)
			return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		break;
	}
	return 0;
}

/* Then the contents of every record. */
static int cfg_contents(struct esptag_cfg_view *v, bool reply)
{
	size_t off;
	uint16_t i;
	int err;

	for (i = 0, off = 0; i < v->count; i++) {
		uint8_t type = v->records[off];
		uint16_t l = rd16(v->records + off + 2);

		err = esptag_rec_check(v->records + off, type, l, !reply);
		if (err)
			return fail(v, err, i);
		/* DEL_SA names each SA once (the later one is refused). */
		if (v->opcode == ESPTAG_OP_DEL_SA && !reply) {
			for (size_t o = 0; o < off; o += sizeof(struct esptag_rec_sa_ref))
				if (!memcmp(v->records + o + 4, v->records + off + 4, 4))
					return fail(v, ESPTAG_EBADREC, i);
		}
		off += l;
	}
	return 0;
}

int esptag_cfg_decode(const void *buf, size_t len, struct esptag_cfg_view *v)
{
	struct cfg_frame_info fi = {0};
	bool reply;
	int err;

	memset(v, 0, sizeof(*v));
	v->bad_index = ESPTAG_ERR_INDEX_NONE;
	if (len < sizeof(struct esptag_cfg_hdr))
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	cfg_hdr_read(buf, v);
	reply = v->flags & ESPTAG_CFG_F_REPLY;
	err = cfg_hdr_check(v, reply);
	if (!err)
		err = cfg_length(v, len);
	if (!err)
		err = cfg_framing(v, reply, &fi);
	if (!err)
		err = cfg_counts(v, reply, &fi);
	if (!err)
		err = cfg_contents(v, reply);
	return err;
}

int esptag_cfg_next(const struct esptag_cfg_view *v, size_t *off, struct esptag_rec_view *rec)
{
	uint16_t l;

	if (*off + sizeof(struct esptag_rec_hdr) > v->records_len)
		return 0;
	l = rd16(v->records + *off + 2);
	if (l < sizeof(struct esptag_rec_hdr) || l > v->records_len - *off)
		return 0;
	rec->type = v->records[*off];
	rec->len = l;
	rec->data = v->records + *off;
	*off += l;
	return 1;
}

void esptag_rec_init(void *rec, uint8_t type, uint16_t len)
{
	uint8_t *p = rec;

	p[0] = type;
	p[1] = 0;
	wr16(p + 2, len);
}

static size_t builder_cap(const struct esptag_cfg_builder *b)
{
	return b->cap < ESPTAG_CFG_MAX_PAYLOAD ? b->cap : ESPTAG_CFG_MAX_PAYLOAD;
}

void esptag_cfg_begin(struct esptag_cfg_builder *b, void *buf, size_t cap, uint8_t opcode,
		      uint8_t flags, uint8_t status, uint32_t msg_id, uint16_t port)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->count = 0;
	b->overflow = cap < sizeof(struct esptag_cfg_hdr);
	if (b->overflow)
		return;
	memset(buf, 0, sizeof(struct esptag_cfg_hdr));
	b->buf[0] = ESPTAG_PROTO_VERSION;
	b->buf[1] = opcode;
	b->buf[2] = flags;
	b->buf[3] = status;
	wr32(b->buf + 4, msg_id);
	wr16(b->buf + 8, port);
	wr16(b->buf + 14, ESPTAG_ERR_INDEX_NONE);
	b->len = sizeof(struct esptag_cfg_hdr);
}

int esptag_cfg_add(struct esptag_cfg_builder *b, uint8_t type, const void *rec, size_t len)
{
	if (b->overflow || len < sizeof(struct esptag_rec_hdr) || len > UINT16_MAX ||
	    len > builder_cap(b) - b->len || b->count == UINT16_MAX) {
		b->overflow = true;
		return -1;
	}
	memcpy(b->buf + b->len, rec, len);
	esptag_rec_init(b->buf + b->len, type, (uint16_t)len);
	b->len += len;
	b->count++;
	return 0;
}

size_t esptag_cfg_end(struct esptag_cfg_builder *b, uint16_t err_index)
{
	if (b->overflow)
		return 0;
	wr16(b->buf + 10, b->count);
	wr16(b->buf + 12, (uint16_t)(b->len - sizeof(struct esptag_cfg_hdr)));
	wr16(b->buf + 14, err_index);
	return b->len;
}

size_t esptag_cfg_room(const struct esptag_cfg_builder *b, size_t rec_len)
{
	if (b->overflow || !rec_len)
		return 0;
	return (builder_cap(b) - b->len) / rec_len;
}

void esptag_cfg_set_version(struct esptag_cfg_builder *b, uint8_t version)
{
	if (!b->overflow)
		b->buf[0] = version;
}
