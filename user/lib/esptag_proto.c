// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag config packet / metadata tag codec. docs/protocol.md is the
 * specification; every rule enforced here is stated there.
 *
 * Nothing here allocates. Every read is bounded by the length the caller
 * gave; records are copied out with memcpy (they are only 2-byte aligned in
 * a frame).
 */
#include <string.h>
#include <arpa/inet.h>
#include "esptag_proto.h"

#define ETH_P_IP_	0x0800
#define ETH_P_IPV6_	0x86DD
#define ETH_ZLEN_	60

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

size_t esptag_rec_size(uint8_t type)
{
	switch (type) {
	case ESPTAG_REC_SA:
		return sizeof(struct esptag_rec_sa);
	case ESPTAG_REC_SA_REF:
		return sizeof(struct esptag_rec_sa_ref);
	case ESPTAG_REC_LOCAL:
		return sizeof(struct esptag_rec_local);
	case ESPTAG_REC_CAPS:
		return sizeof(struct esptag_rec_caps);
	case ESPTAG_REC_SA_STATS:
		return sizeof(struct esptag_rec_sa_stats);
	case ESPTAG_REC_COUNTER:
		return sizeof(struct esptag_rec_counter);
	case ESPTAG_REC_CURSOR:
		return sizeof(struct esptag_rec_cursor);
	}
	return 0;
}

/*
 * Which record types an opcode takes, per direction. A reply whose status
 * is not OK carries no records, except BAD_VERSION (exactly one CAPS).
 */
static bool rec_allowed(uint8_t op, bool reply, uint8_t type)
{
	switch (op) {
	case ESPTAG_OP_HELLO:
		return type == ESPTAG_REC_CAPS;
	case ESPTAG_OP_ADD_SA:
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

static bool vlans_ok(const struct esptag_vlan *vl, uint8_t nvlans)
{
	if (nvlans > 2)
		return false;
	for (int i = 0; i < 2; i++) {
		uint16_t tpid = ntohs(vl[i].tpid), vid = ntohs(vl[i].tci) & 0x0fff;

		if (i >= nvlans) {
			if (vl[i].tpid || vl[i].tci)
				return false;
			continue;
		}
		if (!esptag_eth_p_is_vlan(tpid))
			return false;
		/* The inner tag of a Q-in-Q pair is a C-tag. */
		if (i == 1 && tpid != ESPTAG_ETH_P_8021Q)
			return false;
		if (vid == 0 || vid == 0xfff)
			return false;
	}
	return true;
}

static bool mac_ok(const uint8_t *mac)
{
	return !all_zero(mac, 6) && !(mac[0] & 1);
}

static bool addr_ok(uint8_t family, const uint8_t *a, bool may_be_zero)
{
	if (family == 4 && !all_zero(a + 4, 12))
		return false;
	return may_be_zero || !all_zero(a, 16);
}

int esptag_rec_sa_check(const struct esptag_rec_sa *sa, bool is_request)
{
	unsigned int klen;

	if (sa->hdr.type != ESPTAG_REC_SA || ntohs(sa->hdr.len) != sizeof(*sa) || sa->hdr.flags)
		return ESPTAG_EBADREC;
	if (sa->dir != ESPTAG_DIR_IN && sa->dir != ESPTAG_DIR_OUT)
		return ESPTAG_EBADREC;
	if (sa->family != 4 && sa->family != 6)
		return ESPTAG_EBADREC;
	if (sa->proto != ESPTAG_IPPROTO_ESP)
		return ESPTAG_EBADREC;
	if (sa->mode != ESPTAG_MODE_TRANSPORT && sa->mode != ESPTAG_MODE_TUNNEL)
		return ESPTAG_EBADREC;
	if (!sa->spi)
		return ESPTAG_EBADREC;
	if (!addr_ok(sa->family, sa->daddr, false))
		return ESPTAG_EBADREC;
	if (!addr_ok(sa->family, sa->saddr, sa->mode == ESPTAG_MODE_TRANSPORT))
		return ESPTAG_EBADREC;
	if (!mac_ok(sa->local_mac))
		return ESPTAG_EBADREC;
	if (!vlans_ok(sa->vlan, sa->nvlans))
		return ESPTAG_EBADREC;
	if (sa->sa_flags & ~ESPTAG_SA_F_KNOWN)
		return ESPTAG_EBADREC;
	if (sa->reserved || sa->reserved2)
		return ESPTAG_EBADREC;
	if (ntohs(sa->replay_window) > ESPTAG_REPLAY_MAX)
		return ESPTAG_EBADREC;
	if (is_request) {
		if (ntohl(sa->sa_index) != ESPTAG_SA_INDEX_NONE)
			return ESPTAG_EBADREC;
	} else {
		if (ntohl(sa->sa_index) == ESPTAG_SA_INDEX_NONE)
			return ESPTAG_EBADREC;
		/* Replies never carry key material. */
		if (!all_zero(sa->key, sizeof(sa->key)) || !all_zero(sa->salt, sizeof(sa->salt)))
			return ESPTAG_EBADREC;
	}
	switch (sa->alg) {
	case ESPTAG_ALG_AES_GCM_128:
		klen = 16;
		break;
	case ESPTAG_ALG_AES_GCM_256:
		klen = 32;
		break;
	default:
		return ESPTAG_EALG;
	}
	if (sa->key_len != klen || sa->icv_len != ESPTAG_ICV_LEN)
		return ESPTAG_EALG;
	if (is_request) {
		if (all_zero(sa->key, klen) || !all_zero(sa->key + klen, sizeof(sa->key) - klen))
			return ESPTAG_EBADREC;
	}
	return 0;
}

int esptag_rec_local_check(const struct esptag_rec_local *l)
{
	if (l->hdr.type != ESPTAG_REC_LOCAL || ntohs(l->hdr.len) != sizeof(*l) || l->hdr.flags)
		return ESPTAG_EBADREC;
	if (l->family != 4 && l->family != 6)
		return ESPTAG_EBADREC;
	if (!addr_ok(l->family, l->addr, false))
		return ESPTAG_EBADREC;
	if (!mac_ok(l->mac))
		return ESPTAG_EBADREC;
	if (!vlans_ok(l->vlan, l->nvlans))
		return ESPTAG_EBADREC;
	return 0;
}

int esptag_rec_caps_check(const struct esptag_rec_caps *c, bool is_request)
{
	if (c->hdr.type != ESPTAG_REC_CAPS || ntohs(c->hdr.len) != sizeof(*c) || c->hdr.flags)
		return ESPTAG_EBADREC;
	if (!c->version_min || c->version_min > c->version_max)
		return ESPTAG_EBADREC;
	/* A host announces only its versions. */
	if (is_request)
		return all_zero((const uint8_t *)c + 6, sizeof(*c) - 6) ? 0 : ESPTAG_EBADREC;
	if (ntohl(c->sad_used) > ntohl(c->sad_capacity) ||
	    ntohl(c->port_used) > ntohl(c->port_limit) ||
	    ntohl(c->port_limit) > ntohl(c->sad_capacity))
		return ESPTAG_EBADREC;
	if (!c->max_records || ntohs(c->max_payload) < sizeof(struct esptag_cfg_hdr))
		return ESPTAG_EBADREC;
	return 0;
}

/* Content check of one record (framing already verified). */
static int rec_check(const uint8_t *p, uint8_t type, bool request)
{
	union {
		struct esptag_rec_sa sa;
		struct esptag_rec_sa_ref ref;
		struct esptag_rec_local local;
		struct esptag_rec_caps caps;
		struct esptag_rec_sa_stats st;
		struct esptag_rec_counter cnt;
		struct esptag_rec_cursor cur;
	} r;

	int err;

	memcpy(&r, p, esptag_rec_size(type));
	switch (type) {
	case ESPTAG_REC_SA:
		/* The copy holds key material: wipe it. */
		err = esptag_rec_sa_check(&r.sa, request);
		explicit_bzero(&r, sizeof(r));
		return err;
	case ESPTAG_REC_SA_REF:
		return ntohl(r.ref.sa_index) == ESPTAG_SA_INDEX_NONE ? ESPTAG_EBADREC : 0;
	case ESPTAG_REC_LOCAL:
		return esptag_rec_local_check(&r.local);
	case ESPTAG_REC_CAPS:
		return esptag_rec_caps_check(&r.caps, request);
	case ESPTAG_REC_SA_STATS:
		return ntohl(r.st.sa_index) == ESPTAG_SA_INDEX_NONE ? ESPTAG_EBADREC : 0;
	case ESPTAG_REC_COUNTER:
		return r.cnt.reserved ? ESPTAG_EBADREC : 0;
	case ESPTAG_REC_CURSOR:
		return ntohl(r.cur.next) == ESPTAG_SA_INDEX_NONE ? ESPTAG_EBADREC : 0;
	}
	return ESPTAG_EMALFORMED;
}

int esptag_cfg_decode(const void *buf, size_t len, struct esptag_cfg_view *v)
{
	const uint8_t *p = buf;
	size_t off, rlen;
	bool reply;
	uint8_t first_type = 0, last_type = 0;
	uint16_t i, ncursor = 0;
	int err;

	memset(v, 0, sizeof(*v));
	v->bad_index = ESPTAG_ERR_INDEX_NONE;
	if (len < sizeof(struct esptag_cfg_hdr))
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);

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
	reply = v->flags & ESPTAG_CFG_F_REPLY;

	/* A BAD_VERSION reply is readable whatever the version it carries:
	 * the header and the CAPS record keep their layout in every version. */
	if (v->version != ESPTAG_PROTO_VERSION && !(reply && v->status == ESPTAG_ST_BAD_VERSION))
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

	/* Length: exact, except Ethernet padding of a minimum-size frame. */
	if (v->length > ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr))
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	rlen = len - sizeof(struct esptag_cfg_hdr);
	if (v->length > rlen)
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	if (v->length < rlen && len > ETH_ZLEN_ - ESPTAG_ETH_HLEN)
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	if (v->count > ESPTAG_CFG_MAX_RECORDS)
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
	rlen = v->length;
	v->records_len = rlen;

	/* Framing of every record first. */
	for (i = 0, off = 0; i < v->count; i++) {
		uint8_t type, rflags;
		uint16_t l;

		if (rlen - off < sizeof(struct esptag_rec_hdr))
			return fail(v, ESPTAG_EMALFORMED, i);
		type = v->records[off];
		rflags = v->records[off + 1];
		l = rd16(v->records + off + 2);
		if (!esptag_rec_size(type) || l != esptag_rec_size(type) || rflags)
			return fail(v, ESPTAG_EMALFORMED, i);
		if (l > rlen - off)
			return fail(v, ESPTAG_EMALFORMED, i);
		if (reply && v->status != ESPTAG_ST_OK) {
			/* Error replies: no records, BAD_VERSION one CAPS. */
			if (v->status != ESPTAG_ST_BAD_VERSION || type != ESPTAG_REC_CAPS)
				return fail(v, ESPTAG_EMALFORMED, i);
		} else if (!rec_allowed(v->opcode, reply, type)) {
			return fail(v, ESPTAG_EMALFORMED, i);
		}
		if (i == 0)
			first_type = type;
		/* GET_STATS replies do not mix SA_STATS and COUNTER. */
		if (v->opcode == ESPTAG_OP_GET_STATS && type != first_type)
			return fail(v, ESPTAG_EMALFORMED, i);
		/* A DUMP_SA CURSOR is the only (request) or last (reply) record. */
		if (last_type == ESPTAG_REC_CURSOR)
			return fail(v, ESPTAG_EMALFORMED, i);
		if (type == ESPTAG_REC_CURSOR)
			ncursor++;
		last_type = type;
		off += l;
	}
	if (off != rlen)
		return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);

	/* Record counts per opcode, direction and status. */
	if (reply && v->status != ESPTAG_ST_OK) {
		if (v->status == ESPTAG_ST_BAD_VERSION) {
			if (v->count != 1 || first_type != ESPTAG_REC_CAPS)
				return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
		}
	} else {
		switch (v->opcode) {
		case ESPTAG_OP_HELLO:
			if (v->count != 1)
				return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
			break;
		case ESPTAG_OP_ADD_SA:
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
			if (reply && !!(v->flags & ESPTAG_CFG_F_MORE) != !!ncursor)
				return fail(v, ESPTAG_EMALFORMED, ESPTAG_ERR_INDEX_NONE);
			break;
		}
	}

	/* Then the contents of every record. */
	for (i = 0, off = 0; i < v->count; i++) {
		uint8_t type = v->records[off];

		err = rec_check(v->records + off, type, !reply);
		if (err)
			return fail(v, err, i);
		/* DEL_SA names each SA once (the later one is refused). */
		if (v->opcode == ESPTAG_OP_DEL_SA && !reply) {
			for (size_t o = 0; o < off; o += sizeof(struct esptag_rec_sa_ref))
				if (!memcmp(v->records + o + 4, v->records + off + 4, 4))
					return fail(v, ESPTAG_EBADREC, i);
		}
		off += esptag_rec_size(type);
	}
	return 0;
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

/* ------------------------------------------------------------------------ */
/* Metadata tag                                                              */
/* ------------------------------------------------------------------------ */

static bool ip_ethertype(uint16_t t)
{
	return t == ETH_P_IP_ || t == ETH_P_IPV6_ || esptag_eth_p_is_vlan(t);
}

/* Smallest ESP offset: Ethernet header + minimal IPv4 header. */
#define MIN_ESP_OFF	(ESPTAG_ETH_HLEN + 20)
#define ESP_HLEN	((uint16_t)sizeof(struct esptag_esp_hdr))
#define TRAILER_MIN	(2 + ESPTAG_ICV_LEN)
#define TRAILER_MAX	(255 + 2 + ESPTAG_ICV_LEN)

int esptag_meta_decode(const void *p, size_t len, uint16_t eth_p_meta, struct esptag_meta_view *m)
{
	const uint8_t *t = p;
	uint8_t version, reserved;
	uint16_t reserved2;
	uint32_t seq_hi, seq_lo;
	size_t flen;	/* the frame without the tag */

	memset(m, 0, sizeof(*m));
	if (len < sizeof(struct esptag_meta))
		return ESPTAG_EMALFORMED;
	/* p is frame + 12: the untagged frame is 12 + (len - 32) + 2 bytes. */
	flen = len - ESPTAG_META_LEN + 12;
	if (rd16(t) != eth_p_meta)
		return ESPTAG_EMALFORMED;
	version = t[2];
	m->kind = t[3];
	m->flags = t[4];
	m->next_hdr = t[5];
	m->result = t[6];
	reserved = t[7];
	m->esp_off = rd16(t + 8);
	m->payload_off = rd16(t + 10);
	m->trailer_len = rd16(t + 12);
	m->mss = rd16(t + 14);
	m->sa_index = rd32(t + 16);
	seq_hi = rd32(t + 20);
	seq_lo = rd32(t + 24);
	reserved2 = rd16(t + 28);
	m->inner_proto = rd16(t + 30);
	m->seq = (uint64_t)seq_hi << 32 | seq_lo;

	if (version != ESPTAG_META_VERSION || reserved || reserved2)
		return ESPTAG_EMALFORMED;
	if (m->flags & ~ESPTAG_META_F_KNOWN)
		return ESPTAG_EMALFORMED;
	if (m->inner_proto < 0x0600)
		return ESPTAG_EMALFORMED;
	if (!(m->flags & ESPTAG_META_F_ESN) && seq_hi)
		return ESPTAG_EMALFORMED;

	if (m->kind == ESPTAG_META_TX) {
		if (m->flags & ESPTAG_META_F_HAIRPIN)
			return ESPTAG_EMALFORMED;
		if (m->result || m->trailer_len)
			return ESPTAG_EMALFORMED;
		if (!(m->flags & ESPTAG_META_F_OFFLOAD)) {
			/* Bypass: nothing but the wrapped EtherType. */
			if (m->flags || m->next_hdr || m->esp_off || m->payload_off || m->mss ||
			    m->seq || m->sa_index != ESPTAG_SA_INDEX_NONE)
				return ESPTAG_EMALFORMED;
			/* Port tagging wraps whatever an untrusted VF sent,
			 * its own forged tags included: opaque payload. */
			return 0;
		}
		if (m->inner_proto == eth_p_meta)
			return ESPTAG_EMALFORMED;
		if (!ip_ethertype(m->inner_proto))
			return ESPTAG_EMALFORMED;
		if (m->sa_index == ESPTAG_SA_INDEX_NONE || !m->seq)
			return ESPTAG_EMALFORMED;
		/* GSO tunnel mode: esp_off is the inner IP header, right
		 * after the Ethernet header (and VLAN tags). */
		if (m->esp_off < ((m->flags & ESPTAG_META_F_GSO) ? ESPTAG_ETH_HLEN : MIN_ESP_OFF))
			return ESPTAG_EMALFORMED;
		if (m->flags & ESPTAG_META_F_GSO) {
			/* No ESP header yet; esp_off is where it goes and the
			 * first byte to encrypt. TCP only. */
			if (!m->mss || m->payload_off != m->esp_off || m->esp_off >= flen)
				return ESPTAG_EMALFORMED;
			if (m->next_hdr != 6 && m->next_hdr != 4 && m->next_hdr != 41)
				return ESPTAG_EMALFORMED;
			return 0;
		}
		if (m->mss || m->payload_off != m->esp_off + ESP_HLEN || m->payload_off > flen)
			return ESPTAG_EMALFORMED;
		return 0;
	}
	if (m->kind != ESPTAG_META_RX)
		return ESPTAG_EMALFORMED;

	if (m->flags & (ESPTAG_META_F_OFFLOAD | ESPTAG_META_F_GSO))
		return ESPTAG_EMALFORMED;
	if (m->result > ESPTAG_RES_MAX || m->mss)
		return ESPTAG_EMALFORMED;
	if (!ip_ethertype(m->inner_proto))
		return ESPTAG_EMALFORMED;
	switch (m->result) {
	case ESPTAG_RES_OK:
		if (m->sa_index == ESPTAG_SA_INDEX_NONE)
			return ESPTAG_EMALFORMED;
		if (m->esp_off < MIN_ESP_OFF || m->payload_off != m->esp_off + ESP_HLEN)
			return ESPTAG_EMALFORMED;
		if (m->trailer_len < TRAILER_MIN || m->trailer_len > TRAILER_MAX ||
		    (size_t)m->payload_off + m->trailer_len > flen)
			return ESPTAG_EMALFORMED;
		return 0;
	case ESPTAG_RES_AUTH_FAIL:
	case ESPTAG_RES_NO_SA:
		if ((m->sa_index == ESPTAG_SA_INDEX_NONE) != (m->result == ESPTAG_RES_NO_SA))
			return ESPTAG_EMALFORMED;
		if (m->next_hdr || m->trailer_len)
			return ESPTAG_EMALFORMED;
		if (m->esp_off < MIN_ESP_OFF || m->payload_off != m->esp_off + ESP_HLEN ||
		    m->payload_off > flen)
			return ESPTAG_EMALFORMED;
		if (m->result == ESPTAG_RES_NO_SA && (m->flags & ESPTAG_META_F_ESN))
			return ESPTAG_EMALFORMED;
		return 0;
	default: /* MALFORMED, UNSUPPORTED: offsets 0 when not known */
		if (m->next_hdr || m->trailer_len)
			return ESPTAG_EMALFORMED;
		if (m->esp_off > flen || m->payload_off > flen)
			return ESPTAG_EMALFORMED;
		return 0;
	}
}

void esptag_meta_encode(void *p, uint16_t eth_p_meta, const struct esptag_meta_view *m)
{
	uint8_t *t = p;

	memset(t, 0, sizeof(struct esptag_meta));
	wr16(t, eth_p_meta);
	t[2] = ESPTAG_META_VERSION;
	t[3] = m->kind;
	t[4] = m->flags;
	t[5] = m->next_hdr;
	t[6] = m->result;
	wr16(t + 8, m->esp_off);
	wr16(t + 10, m->payload_off);
	wr16(t + 12, m->trailer_len);
	wr16(t + 14, m->mss);
	wr32(t + 16, m->sa_index);
	wr32(t + 20, (uint32_t)(m->seq >> 32));
	wr32(t + 24, (uint32_t)m->seq);
	wr16(t + 30, m->inner_proto);
}
