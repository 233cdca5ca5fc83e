// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag config records: the size of each type and the contents of each
 * (docs/protocol.md). Checks work on copies; a copy of an SA record holds
 * key material and is wiped.
 */
#include <string.h>
#include <arpa/inet.h>
#include "proto_int.h"

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
	case ESPTAG_REC_SA_WRAP:
		return sizeof(struct esptag_rec_sa_wrap);
	case ESPTAG_REC_WRAP_KEY:
		return sizeof(struct esptag_rec_wrap_key);
	}
	return 0;
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

/* wrapped: the SA part of an SA_WRAP record (key and salt zero). */
static int sa_check(const struct esptag_rec_sa *sa, bool is_request, bool wrapped)
{
	unsigned int klen;

	if (wrapped) {
		if (sa->hdr.type != ESPTAG_REC_SA_WRAP ||
		    ntohs(sa->hdr.len) != sizeof(struct esptag_rec_sa_wrap) || sa->hdr.flags)
			return ESPTAG_EBADREC;
	} else if (sa->hdr.type != ESPTAG_REC_SA || ntohs(sa->hdr.len) != sizeof(*sa) ||
		   sa->hdr.flags) {
		return ESPTAG_EBADREC;
	}
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
		/* The key and salt of a wrapped SA are in its wrapped field. */
		if (wrapped &&
		    (!all_zero(sa->key, sizeof(sa->key)) || !all_zero(sa->salt, sizeof(sa->salt))))
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
	if (is_request && !wrapped) {
		if (all_zero(sa->key, klen) || !all_zero(sa->key + klen, sizeof(sa->key) - klen))
			return ESPTAG_EBADREC;
	}
	return 0;
}

int esptag_rec_sa_check(const struct esptag_rec_sa *sa, bool is_request)
{
	return sa_check(sa, is_request, false);
}

int esptag_rec_sa_wrap_check(const struct esptag_rec_sa_wrap *w)
{
	return sa_check(&w->sa, true, true);
}

int esptag_rec_wrap_key_check(const struct esptag_rec_wrap_key *k)
{
	if (k->hdr.type != ESPTAG_REC_WRAP_KEY || ntohs(k->hdr.len) != sizeof(*k) ||
	    k->hdr.flags || !k->msg_id)
		return ESPTAG_EBADREC;
	/* An all-zero ephemeral key is no key (X25519 would refuse it anyway). */
	if (all_zero(k->eph_key, sizeof(k->eph_key)))
		return ESPTAG_EBADREC;
	return 0;
}

int esptag_sa_plain_key_check(const struct esptag_rec_sa *sa)
{
	unsigned int klen = sa->key_len;

	if (klen > ESPTAG_KEY_MAX || all_zero(sa->key, klen) ||
	    !all_zero(sa->key + klen, sizeof(sa->key) - klen))
		return ESPTAG_EBADREC;
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
	uint16_t len = ntohs(c->hdr.len);

	if (c->hdr.type != ESPTAG_REC_CAPS || c->hdr.flags ||
	    (len != sizeof(*c) && (is_request || len != sizeof(struct esptag_rec_caps2))))
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
int esptag_rec_check(const uint8_t *p, uint8_t type, uint16_t len, bool request)
{
	union {
		struct esptag_rec_sa_wrap wrap;
		struct esptag_rec_wrap_key wkey;
		struct esptag_rec_caps2 caps2;
		struct esptag_rec_sa sa;
		struct esptag_rec_sa_ref ref;
		struct esptag_rec_local local;
		struct esptag_rec_caps caps;
		struct esptag_rec_sa_stats st;
		struct esptag_rec_counter cnt;
		struct esptag_rec_cursor cur;
	} r;

	int err;

	if (len > sizeof(r))
		return ESPTAG_EMALFORMED;
	memcpy(&r, p, len);
	switch (type) {
	case ESPTAG_REC_SA_WRAP:
		if (!request)
			return ESPTAG_EBADREC;
		err = esptag_rec_sa_wrap_check(&r.wrap);
		explicit_bzero(&r, sizeof(r));
		return err;
	case ESPTAG_REC_WRAP_KEY:
		return request ? esptag_rec_wrap_key_check(&r.wkey) : ESPTAG_EBADREC;
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
		err = esptag_rec_caps_check(&r.caps, request);
		/* The agent's key: a point, not all zero. */
		if (!err && len == sizeof(r.caps2) && all_zero(r.caps2.agent_key, ESPTAG_X25519_LEN))
			err = ESPTAG_EBADREC;
		return err;
	case ESPTAG_REC_SA_STATS:
		return ntohl(r.st.sa_index) == ESPTAG_SA_INDEX_NONE ? ESPTAG_EBADREC : 0;
	case ESPTAG_REC_COUNTER:
		return r.cnt.reserved ? ESPTAG_EBADREC : 0;
	case ESPTAG_REC_CURSOR:
		return ntohl(r.cur.next) == ESPTAG_SA_INDEX_NONE ? ESPTAG_EBADREC : 0;
	}
	return ESPTAG_EMALFORMED;
}
