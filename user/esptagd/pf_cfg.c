// SPDX-License-Identifier: GPL-2.0-only
/*
 * PF mode: a VF's config request, checked, put in the VF's domain, forwarded
 * to the agent under a msg_id of the PF's, and answered with the agent's reply
 * (after the PF took what it says into its database).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "esptagd.h"
#include "ctl_mbox.h"
#include "esptag_port_bpf.skel.h"

#include "pf.h"

/*
 * Whether index idx may become the VF's: no other VF holds it, the PF's own
 * database does not, and its esptag_sad slot is empty or the VF's own
 * domain entry (an SA re-added after an agent restart).
 */
static const char *index_taken(struct daemon *d, const struct pf_vf *v, uint32_t idx)
{
	struct esptag_sa m;

	if (idx == ESPTAG_SA_INDEX_NONE)
		return "no index";
	if (sad_by_index(d, idx))
		return "one of the PF's own SAs";
	for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++) {
		const struct pf_vf *w = &d->pf->vf[i];

		if (w != v && w->used && db_has(w, idx))
			return "held by another VF";
	}
	if (bpf_map_lookup_elem(d->bpf.map_fd[M_SAD], &idx, &m))
		return "outside esptag_sad";
	if (!ESPTAG_SA_EMPTY(&m) && ((m.flags & ESPTAG_SAF_ALIVE) || m.ifindex != (__u32)v->ifindex))
		return "its esptag_sad slot is another domain's";
	return NULL;
}

/* The SAs an ADD_SA request asks for (version 2: all records but the
 * frame's WRAP_KEY). */
static size_t vf_add_count(const struct esptag_cfg_view *cv)
{
	return cv->version >= ESPTAG_PROTO_V2 && cv->count ? cv->count - 1u : cv->count;
}

/*
 * An OK ADD_SA reply, checked before anything is written: one SA record per
 * requested SA, each the SA asked for (SPI, direction, family, destination),
 * at an index nobody else holds, no index twice. Fills idx[] with the
 * reply's indices (n of them) for an undo. NULL when the reply is taken.
 */
static const char *add_reply_check(struct daemon *d, const struct pf_vf *v,
				   const struct esptag_cfg_view *req, const struct esptag_cfg_view *rep,
				   uint32_t *idx, size_t *n)
{
	struct esptag_rec_view qv, rv;
	size_t qo = 0, ro = 0;
	const char *why = NULL;

	*n = 0;
	while (esptag_cfg_next(rep, &ro, &rv) > 0) {
		struct esptag_rec_sa a, q;

		if (rv.type != ESPTAG_REC_SA || rv.len < sizeof(a)) {
			why = why ? why : "a record that is not an SA";
			continue;
		}
		memcpy(&a, rv.data, sizeof(a));
		if (*n < ESPTAG_CFG_MAX_RECORDS)
			idx[(*n)++] = ntohl(a.sa_index);
		else
			why = why ? why : "more SAs than asked for";
		if (why)
			continue;
		/* A version 2 request ends with its WRAP_KEY: no SA. */
		if (esptag_cfg_next(req, &qo, &qv) <= 0 || qv.type == ESPTAG_REC_WRAP_KEY) {
			why = "more SAs than asked for";
			continue;
		}
		memcpy(&q, qv.data, sizeof(q));
		if (a.spi != q.spi || a.dir != q.dir || a.family != q.family ||
		    memcmp(a.daddr, q.daddr, 16)) {
			why = "an SA that was not asked for";
			continue;
		}
		for (size_t j = 0; j + 1 < *n; j++)
			if (idx[j] == idx[*n - 1])
				why = "an index twice";
		if (!why)
			why = index_taken(d, v, idx[*n - 1]);
		explicit_bzero(&q, sizeof(q));
	}
	if (!why && *n != vf_add_count(req))
		why = "fewer SAs than asked for";
	return why;
}

/* An ADD_SA reply not taken: whatever the agent put on the VF's port under
 * those indices leaves it again (DEL_SA names the VF's port: the agent
 * refuses to touch another port's SA). */
static void add_undo(struct daemon *d, const struct pf_vf *v, const uint32_t *idx, size_t n)
{
	struct txn *t = calloc(1, sizeof(*t));

	for (size_t i = 0; t && i < n; i++) {
		struct esptag_rec_sa_ref ref;

		memset(&ref, 0, sizeof(ref));
		esptag_rec_init(&ref, ESPTAG_REC_SA_REF, sizeof(ref));
		ref.sa_index = htonl(idx[i]);
		if (agent_req_rec(d, t, ESPTAG_OP_DEL_SA, v->c.vf + 1, ESPTAG_REC_SA_REF, &ref,
				  sizeof(ref)))
			log_warn("pf: VF %u: DEL_SA of index %u (undo) not answered", v->c.vf,
				 idx[i]);
	}
	free(t);
}

/* HELLO to a VF: the CAPS say nothing of other tenants. sad_used is the VF's
 * own port use, port_limit at most the VF's SA limit. */
static void caps_scrub(const struct pf_vf *v, struct txn *t)
{
	struct esptag_rec_view rv;
	size_t off = 0;

	while (esptag_cfg_next(&t->v, &off, &rv) > 0) {
		struct esptag_rec_caps c;
		uint8_t *p = t->reply + (rv.data - t->reply);

		if (rv.type != ESPTAG_REC_CAPS || rv.len < sizeof(c))
			continue;
		memcpy(&c, p, sizeof(c));
		c.sad_used = c.port_used;
		if (ntohl(c.port_limit) > v->c.limit)
			c.port_limit = htonl(v->c.limit);
		memcpy(p, &c, sizeof(c));
	}
}

/* The VF's domain as an SA record states it (the MAC, the VLANs outer
 * first, an 802.1ad outer tag of a pair). */
static void vf_domain(const struct pf_vf *v, struct esptag_rec_sa *r)
{
	memcpy(r->local_mac, v->c.mac, 6);
	r->nvlans = v->c.nvlans;
	memset(r->vlan, 0, sizeof(r->vlan));
	for (int i = 0; i < v->c.nvlans && i < 2; i++) {
		r->vlan[i].tpid = htons(v->c.nvlans == 2 && i == 0 ? 0x88a8 : 0x8100);
		r->vlan[i].tci = htons(v->c.vid[i]);
	}
}

/*
 * Version 2: a wrapped record goes to the agent untouched (the PF cannot
 * put it in the VF's domain without breaking the wrap, and holds no key to
 * rewrap it), so it must name the VF's domain itself. The index of the
 * first record that does not, or -1.
 */
static int wrap_foreign_domain(const struct pf_vf *v, const struct esptag_cfg_view *cv)
{
	struct esptag_rec_view rv;
	size_t off = 0;
	int i = 0;

	for (; esptag_cfg_next(cv, &off, &rv) > 0; i++) {
		struct esptag_rec_sa want, got;

		if (rv.type != ESPTAG_REC_SA_WRAP)
			continue;
		memcpy(&got, rv.data, sizeof(got));	/* the SA part: no key in it */
		want = got;
		vf_domain(v, &want);
		if (memcmp(&want, &got, sizeof(want)))
			return i;
	}
	return -1;
}

/* What a VF may ask: refused here (and answered) or let through (true). */
static bool vf_cfg_admit(struct pf_vf *v, uint32_t seq, const struct esptag_cfg_hdr *h,
			 const struct esptag_cfg_view *cv)
{
	switch (cv->opcode) {
	case ESPTAG_OP_HELLO:
	case ESPTAG_OP_DEL_SA:
	case ESPTAG_OP_FLUSH_PORT:
	case ESPTAG_OP_DUMP_SA:
		break;
	case ESPTAG_OP_GET_STATS: {
		struct esptag_rec_view rv;
		size_t off = 0;
		uint16_t i = 0;

		if (!cv->count) {
			cfg_refuse(v, seq, h, ESPTAG_ST_NOT_PERMITTED, ESPTAG_ERR_INDEX_NONE,
				   "the agent-wide counters are the PF's");
			return false;
		}
		for (; esptag_cfg_next(cv, &off, &rv) > 0; i++) {
			struct esptag_rec_sa_ref ref;

			if (rv.type != ESPTAG_REC_SA_REF)
				continue;	/* the agent says BAD_RECORD */
			memcpy(&ref, rv.data, sizeof(ref));
			if (!db_has(v, ntohl(ref.sa_index))) {
				cfg_refuse(v, seq, h, ESPTAG_ST_UNKNOWN_SA, i,
					   "statistics of an SA that is not the VF's");
				return false;
			}
		}
		break;
	}
	case ESPTAG_OP_ADD_SA:
		if (!(v->c.flags & ESPTAG_CTL_VF_TRUSTED)) {
			cfg_refuse(v, seq, h, ESPTAG_ST_NOT_PERMITTED, 0,
				   "the VF is untrusted (esptag vf trust VF on)");
			return false;
		}
		if (v->nsa + vf_add_count(cv) > v->c.limit) {
			cfg_refuse(v, seq, h, ESPTAG_ST_PORT_LIMIT,
				   v->nsa >= v->c.limit ? 0 : v->c.limit - v->nsa,
				   "over the VF's SA limit");
			return false;
		}
		if (cv->version >= ESPTAG_PROTO_V2) {
			int bad = wrap_foreign_domain(v, cv);

			if (bad >= 0) {
				cfg_refuse(v, seq, h, ESPTAG_ST_BAD_RECORD, bad,
					   "a wrapped SA names a domain that is not the VF's");
				return false;
			}
		}
		break;
	default:
		cfg_refuse(v, seq, h, ESPTAG_ST_NOT_PERMITTED, ESPTAG_ERR_INDEX_NONE,
			   "only the PF manages this");
		return false;
	}
	return true;
}

/* The VF's request as the PF sends it: in the VF's domain (port, the SA's
 * MAC and VLANs) and under a msg_id of the PF's. Returns that msg_id. */
static uint32_t vf_cfg_frame(struct daemon *d, const struct pf_vf *v, struct txn *t,
			     const uint8_t *pl, uint32_t plen, const struct esptag_cfg_view *cv,
			     const struct vf_cache_ent *ce)
{
	uint16_t port = htons(v->c.vf + 1);
	uint32_t pf_id;
	__be32 id;

	memcpy(t->frame + ESPTAG_ETH_HLEN, pl, plen);
	t->flen = ESPTAG_ETH_HLEN + plen;
	/* The domain is the PF's to say: port, and the SA's MAC and VLANs. */
	memcpy(t->frame + ESPTAG_ETH_HLEN + offsetof(struct esptag_cfg_hdr, port), &port, 2);
	t->frame[ESPTAG_ETH_HLEN + 2] &= ~ESPTAG_CFG_F_RETRY;
	/* So is the msg_id: a fresh one of the PF's, so that the agent's reply
	 * cache can never answer this request with the reply to another (the
	 * same one again when the agent did not answer it: the same bytes). */
	pf_id = ce ? ce->pf_id : chan_new_id(&d->chan);
	id = htonl(pf_id);
	memcpy(t->frame + ESPTAG_ETH_HLEN + offsetof(struct esptag_cfg_hdr, msg_id), &id, 4);
	/* Version 1 SAs are put in the VF's domain here; version 2 ones are
	 * forwarded untouched (checked: vf_cfg_admit). */
	if (cv->opcode == ESPTAG_OP_ADD_SA && cv->version < ESPTAG_PROTO_V2) {
		size_t off = 0;
		struct esptag_rec_view rv;

		while (esptag_cfg_next(cv, &off, &rv) > 0) {
			struct esptag_rec_sa r;
			uint8_t *p = t->frame + ESPTAG_ETH_HLEN + (rv.data - pl);

			memcpy(&r, p, sizeof(r));
			vf_domain(v, &r);
			memcpy(p, &r, offsetof(struct esptag_rec_sa, key));
			explicit_bzero(&r, sizeof(r));
		}
	}
	frame_head(d, t);
	t->msg_id = pf_id;
	t->opcode = cv->opcode;
	return pf_id;
}

/* The PF's database takes what an OK reply says; false when the reply was
 * not taken (the VF has been answered). */
static bool vf_cfg_taken(struct daemon *d, struct pf_vf *v, uint32_t seq,
			 const struct esptag_cfg_hdr *h, const struct esptag_cfg_view *cv,
			 struct txn *t, struct vf_cache_ent *ce)
{
	if (t->v.status == ESPTAG_ST_OK) {
		size_t off = 0;
		struct esptag_rec_view rv;

		switch (cv->opcode) {
		case ESPTAG_OP_ADD_SA: {
			uint32_t idx[ESPTAG_CFG_MAX_RECORDS];
			size_t n;
			const char *why = add_reply_check(d, v, cv, &t->v, idx, &n);

			if (why) {
				log_err("pf: VF %u: the agent's ADD_SA reply names %s; not taken, its SAs removed again",
					v->c.vf, why);
				add_undo(d, v, idx, n);
				if (ce)
					ce->used = false;
				cfg_refuse(v, seq, h, ESPTAG_ST_BUSY, ESPTAG_ERR_INDEX_NONE,
					   "the agent's reply was not taken");
				return false;
			}
			while (esptag_cfg_next(&t->v, &off, &rv) > 0) {
				struct esptag_rec_sa sr;

				memcpy(&sr, rv.data, sizeof(sr));
				if (db_add(v, &sr))
					log_err("pf: VF %u: out of memory for its database", v->c.vf);
				else
					map_domain(d, v, &sr);
			}
			break;
		}
		case ESPTAG_OP_DEL_SA:
			while (esptag_cfg_next(cv, &off, &rv) > 0) {
				struct esptag_rec_sa_ref ref;

				memcpy(&ref, rv.data, sizeof(ref));
				db_del(d, v, ntohl(ref.sa_index));
			}
			break;
		case ESPTAG_OP_FLUSH_PORT:
			db_clear(d, v);
			break;
		case ESPTAG_OP_HELLO:
			caps_scrub(v, t);
			break;
		}
	}
	return true;
}

/* The agent's reply back to the VF under the VF's own msg_id (errors carry
 * no records to a VF), kept in the VF's reply cache. */
static void vf_cfg_answer(struct pf_vf *v, uint32_t seq, const struct esptag_cfg_view *cv,
			  struct txn *t, struct vf_cache_ent *ce, const uint8_t *digest,
			  uint32_t pf_id)
{
	uint16_t port = htons(v->c.vf + 1);
	struct esptag_cfg_hdr rh;

	memcpy(&rh, t->reply, sizeof(rh));
	rh.msg_id = htonl(cv->msg_id);
	rh.port = port;
	if (rh.status != ESPTAG_ST_OK) {
		rh.count = 0;
		rh.length = 0;
		t->rlen = sizeof(rh);
	}
	memcpy(t->reply, &rh, sizeof(rh));
	if (digest && rh.status != ESPTAG_ST_BUSY)
		vf_cache_put(v, ce, cv->msg_id, cv->opcode, digest, pf_id, t->reply, t->rlen);
	mbox_send(v, ESPTAG_MBOX_CFG, seq, 0, t->reply, t->rlen);
}

void vf_cfg(struct daemon *d, struct pf_vf *v, uint32_t seq, const uint8_t *pl, uint32_t plen)
{
	struct esptag_cfg_view cv;
	struct esptag_cfg_hdr h;
	struct vf_cache_ent *ce;
	struct txn *t;
	uint8_t digest[32] = {0};
	bool have_digest;
	uint32_t pf_id;
	int rc;

	memcpy(&h, pl, sizeof(h));
	rc = esptag_cfg_decode(pl, plen, &cv);
	if (rc) {
		cfg_refuse(v, seq, &h, rc == ESPTAG_EALG ? ESPTAG_ST_BAD_ALG :
				       rc == ESPTAG_EBADREC ? ESPTAG_ST_BAD_RECORD :
							      ESPTAG_ST_MALFORMED,
			   cv.bad_index, "malformed request");
		return;
	}
	if (cv.flags & ESPTAG_CFG_F_REPLY) {
		cfg_refuse(v, seq, &h, ESPTAG_ST_NOT_PERMITTED, ESPTAG_ERR_INDEX_NONE,
			   "a reply is not a request");
		return;
	}
	/* A retransmission of a request already answered: the same answer,
	 * nothing executed twice. The same msg_id with other bytes is not a
	 * retransmission: it is executed as a new request. */
	have_digest = !req_digest(pl, plen, digest);
	ce = have_digest ? vf_cache_find(v, cv.msg_id, cv.opcode, digest) : NULL;
	if (ce && ce->answered) {
		mbox_send(v, ESPTAG_MBOX_CFG, seq, 0, ce->reply, ce->len);
		return;
	}
	if (!vf_cfg_admit(v, seq, &h, &cv))
		return;
	/* An ADD_SA frame carries keys: locked memory, wiped after use. */
	t = cv.opcode == ESPTAG_OP_ADD_SA ? chan_key_txns(&d->chan, 1) : calloc(1, sizeof(*t));
	if (!t)
		return;
	pf_id = vf_cfg_frame(d, v, t, pl, plen, &cv, ce);
	rc = chan_run(&d->chan, t, 1, 0);
	explicit_bzero(t->frame, sizeof(t->frame));	/* keys */
	if (rc) {
		log_warn("pf: VF %u: the agent did not answer %s; no reply to the VF", v->c.vf,
			 esptag_opcode_str(cv.opcode));
		if (have_digest)
			vf_cache_put(v, ce, cv.msg_id, cv.opcode, digest, pf_id, NULL, 0);
		goto done;
	}
	if (t->rlen < sizeof(struct esptag_cfg_hdr))
		goto done;
	if (t->v.status == ESPTAG_ST_OK && !vf_cfg_taken(d, v, seq, &h, &cv, t, ce))
		goto done;
	vf_cfg_answer(v, seq, &cv, t, ce, have_digest ? digest : NULL, pf_id);
done:
	if (cv.opcode == ESPTAG_OP_ADD_SA)
		chan_key_txns_wipe(&d->chan, 1);
	else
		free(t);
}
