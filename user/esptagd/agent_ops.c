// SPDX-License-Identifier: GPL-2.0-only
/*
 * Agent operations on one agent port (the port is an argument: the PF asks
 * on behalf of its VFs): ADD_SA, DEL_SA, DUMP_SA, FLUSH_PORT, GET_STATS,
 * batched over as many frames as needed, through the agent channel.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "esptagd.h"
#include "wrap.h"

#define SA_PER_FRAME	((ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr)) / sizeof(struct esptag_rec_sa))
#define WRAP_PER_FRAME	((ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr) - sizeof(struct esptag_rec_wrap_key)) / sizeof(struct esptag_rec_sa_wrap))
_Static_assert(WRAP_PER_FRAME == ESPTAG_CFG_MAX_WRAP, "SA_WRAP records per ADD_SA frame");
#define REF_PER_FRAME	((ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr)) / sizeof(struct esptag_rec_sa_ref))

static size_t per_frame(struct daemon *d, size_t max)
{
	if (d->caps.valid && d->caps.max_records && d->caps.max_records < max)
		return d->caps.max_records;
	return max;
}

/*
 * The ADD_SA record of one SA: version 1 the record with its key, version 2
 * the key wrapped as record index of the frame wc (for the agent's key,
 * port and msg_id). A VF's SA is in the domain the PF assigned (it
 * forwards a wrapped record untouched). 0, or -1 (nothing added).
 */
static int add_rec(struct daemon *d, const struct sa *sa, struct esptag_wrap_ctx *wc,
		   uint16_t index, struct esptag_cfg_builder *b)
{
	struct esptag_rec_sa rec;
	struct esptag_rec_sa_wrap w;
	int rc;

	sa_to_rec(d, &sa->c, &rec, true);
	if (d->vf_mode) {
		memcpy(rec.local_mac, d->vf_mac, 6);
		rec.nvlans = d->vf_nvlans;
		memset(rec.vlan, 0, sizeof(rec.vlan));
		for (int i = 0; i < d->vf_nvlans && i < 2; i++) {
			rec.vlan[i].tpid = htons(d->vf_nvlans == 2 && i == 0 ? 0x88a8 : 0x8100);
			rec.vlan[i].tci = htons(d->vf_vid[i]);
		}
	}
	if (!wc) {
		rc = esptag_cfg_add(b, ESPTAG_REC_SA, &rec, sizeof(rec));
		explicit_bzero(&rec, sizeof(rec));
		return rc;
	}
	rc = esptag_wrap_seal(wc, &rec, index, &w);
	explicit_bzero(&rec, sizeof(rec));
	if (rc) {
		log_err("agent: cannot wrap an SA key (OpenSSL)");
		return -1;
	}
	rc = esptag_cfg_add(b, ESPTAG_REC_SA_WRAP, &w, sizeof(w));
	explicit_bzero(&w, sizeof(w));
	return rc;
}

/*
 * The records of ADD_SA frame t: version 2 one fresh ephemeral key for the
 * frame (its WRAP_KEY record last), every SA's key wrapped under it.
 * 0, or the index (in t) of the SA that could not be added.
 */
static int add_frame(struct daemon *d, struct sa **v, struct txn *t, uint16_t port,
		     struct esptag_cfg_builder *b)
{
	bool wrap = d->chan.version >= ESPTAG_PROTO_V2;
	struct esptag_rec_wrap_key wk;
	struct esptag_wrap_ctx wc;
	uint32_t j = 0;

	if (wrap && esptag_wrap_begin(&wc, d->caps.agent_key, port, t->msg_id, (uint16_t)t->n,
				      NULL, &wk)) {
		log_err("agent: cannot make an ephemeral key (OpenSSL)");
		return 1;
	}
	for (; j < t->n; j++)
		if (add_rec(d, v[t->first + j], wrap ? &wc : NULL, (uint16_t)j, b))
			break;
	if (wrap) {
		esptag_wrap_end(&wc);
		if (j == t->n && esptag_cfg_add(b, ESPTAG_REC_WRAP_KEY, &wk, sizeof(wk)))
			j = t->n - 1;
	}
	return j == t->n ? 0 : (int)j + 1;
}

/* What add_prep needs; bad: 1 + the index (in v) of an SA that could not
 * be added, 0 while none. */
struct add_prep {
	struct daemon *d;
	struct sa **v;
	uint16_t port;
	size_t bad;
};

/* Build ADD_SA frame t (its SAs by position) right before it goes out. */
static int add_prep(struct chan *c, struct txn *t, void *arg)
{
	struct add_prep *p = arg;
	struct esptag_cfg_builder b;
	int bad;

	chan_begin(c, t, &b, ESPTAG_OP_ADD_SA, p->port);
	bad = add_frame(p->d, p->v, t, p->port, &b);
	if (!bad && chan_finish(c, t, &b))
		bad = 1;
	if (bad) {
		explicit_bzero(t->frame, sizeof(t->frame));
		p->bad = t->first + bad;
		return -1;
	}
	return 0;
}

/*
 * ADD_SA for n SAs, batched. Each SA that the agent took gets its sa_index;
 * the others keep ESPTAG_SA_INDEX_NONE. Returns 0 if all were taken, else a
 * ctl status with *err_i (index into v) and *ast (agent status). Each frame
 * is built (its keys wrapped) just before it is sent, while the agent works
 * on the ones before it.
 */
int agent_add(struct daemon *d, uint16_t port, struct sa **v, size_t n, uint32_t *err_i,
	      uint8_t *ast)
{
	bool wrap = d->chan.version >= ESPTAG_PROTO_V2;
	/* Version 2: the agent's record limit counts the WRAP_KEY too. */
	size_t per = wrap ? per_frame(d, WRAP_PER_FRAME + 1) - 1 : per_frame(d, SA_PER_FRAME);
	size_t nt = (n + (per ? per : 1) - 1) / (per ? per : 1);
	struct txn *t = chan_key_txns(&d->chan, nt);	/* the frames carry keys */
	struct add_prep ap = { .d = d, .v = v, .port = port };
	struct esptag_rec_sa rec;
	int rc = 0;

	if (!per)
		per = 1;
	*err_i = UINT32_MAX;
	*ast = 0;
	if (!t)
		return ESPTAG_CTL_E_INTERNAL;
	for (size_t i = 0; i < n; i++)
		v[i]->c.sa_index = ESPTAG_SA_INDEX_NONE;
	for (size_t k = 0; k < nt; k++) {
		t[k].first = k * per;
		t[k].n = n - t[k].first < per ? n - t[k].first : per;
	}
	chan_run_prep(&d->chan, t, nt, 0, add_prep, &ap);
	if (ap.bad) {
		rc = ESPTAG_CTL_E_INTERNAL;
		*err_i = ap.bad - 1;
	}
	for (size_t k = 0; k < nt; k++) {
		struct txn *x = &t[k];
		struct esptag_rec_view rv;
		size_t off = 0;
		uint32_t j = 0;

		/* The request frames held keys. */
		explicit_bzero(x->frame, sizeof(x->frame));
		if (x->state != TXN_DONE) {
			if (!rc) {
				rc = ESPTAG_CTL_E_TIMEOUT;
				*err_i = x->first;
			}
			continue;
		}
		if (x->v.status != ESPTAG_ST_OK) {
			if (!rc || rc == ESPTAG_CTL_E_TIMEOUT) {
				rc = ESPTAG_CTL_E_AGENT;
				*ast = x->v.status;
				*err_i = x->first + (x->v.err_index < x->n ? x->v.err_index : 0);
			}
			continue;
		}
		while (esptag_cfg_next(&x->v, &off, &rv) == 1 && j < x->n) {
			struct sa *sa = v[x->first + j];

			if (rv.type != ESPTAG_REC_SA)
				continue;
			memcpy(&rec, rv.data, sizeof(rec));
			if (ntohl(rec.spi) != sa->c.spi || rec.dir != sa->c.dir) {
				log_err("agent: ADD_SA reply out of order (msg_id %u)", x->msg_id);
				break;
			}
			sa->c.sa_index = ntohl(rec.sa_index);
			j++;
		}
		if (j != x->n && !rc) {
			rc = ESPTAG_CTL_E_INTERNAL;
			*err_i = x->first + j;
		}
	}
	chan_key_txns_wipe(&d->chan, nt);
	return rc;
}

/*
 * DEL_SA of the given SAs (by sa_index). gone[i] says whether SA i is no
 * longer in the agent (deleted now, or unknown to it). Returns 0 or
 * ESPTAG_CTL_E_TIMEOUT / E_AGENT when some could not be confirmed.
 */
int agent_del_idx(struct daemon *d, uint16_t port, const uint32_t *idx, size_t n, bool *gone)
{
	size_t per = per_frame(d, REF_PER_FRAME);
	uint32_t *pend = malloc((n ? n : 1) * sizeof(*pend));
	size_t np = 0;
	int rc = 0;

	if (!pend)
		return ESPTAG_CTL_E_INTERNAL;
	for (size_t i = 0; i < n; i++) {
		gone[i] = idx[i] == ESPTAG_SA_INDEX_NONE;
		if (!gone[i])
			pend[np++] = i;
	}
	for (int round = 0; np && round < 64; round++) {
		size_t nt = (np + per - 1) / per, nnp = 0;
		struct txn *t = calloc(nt, sizeof(*t));

		if (!t) {
			rc = ESPTAG_CTL_E_INTERNAL;
			break;
		}
		for (size_t k = 0; k < nt; k++) {
			struct esptag_cfg_builder b;
			struct esptag_rec_sa_ref ref;

			t[k].first = k * per;
			t[k].n = np - t[k].first < per ? np - t[k].first : per;
			chan_begin(&d->chan, &t[k], &b, ESPTAG_OP_DEL_SA, port);
			for (uint32_t j = 0; j < t[k].n; j++) {
				esptag_rec_init(&ref, ESPTAG_REC_SA_REF, sizeof(ref));
				ref.sa_index = htonl(idx[pend[t[k].first + j]]);
				esptag_cfg_add(&b, ESPTAG_REC_SA_REF, &ref, sizeof(ref));
			}
			chan_finish(&d->chan, &t[k], &b);
		}
		chan_run(&d->chan, t, nt, 0);
		rc = 0;
		for (size_t k = 0; k < nt; k++) {
			struct txn *x = &t[k];

			if (x->state == TXN_DONE && x->v.status == ESPTAG_ST_OK) {
				for (uint32_t j = 0; j < x->n; j++)
					gone[pend[x->first + j]] = true;
			} else if (x->state == TXN_DONE && x->v.status == ESPTAG_ST_UNKNOWN_SA &&
				   x->v.err_index < x->n) {
				/* Already gone from the agent: drop it, retry the rest. */
				for (uint32_t j = 0; j < x->n; j++) {
					if (j == x->v.err_index)
						gone[pend[x->first + j]] = true;
					else
						pend[nnp++] = pend[x->first + j];
				}
			} else {
				rc = x->state == TXN_DONE ? ESPTAG_CTL_E_AGENT : ESPTAG_CTL_E_TIMEOUT;
			}
		}
		free(t);
		np = nnp;
	}
	free(pend);
	return rc;
}

int agent_del(struct daemon *d, uint16_t port, struct sa **v, size_t n, bool *gone)
{
	uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	int rc;

	if (!idx)
		return ESPTAG_CTL_E_INTERNAL;
	for (size_t i = 0; i < n; i++)
		idx[i] = v[i]->c.sa_index;
	rc = agent_del_idx(d, port, idx, n, gone);
	free(idx);
	return rc;
}

int agent_simple(struct daemon *d, uint16_t port, uint8_t op, int tries, struct txn *t)
{
	struct esptag_cfg_builder b;

	chan_begin(&d->chan, t, &b, op, port);
	chan_finish(&d->chan, t, &b);
	chan_run(&d->chan, t, 1, tries);
	if (t->state != TXN_DONE)
		return ESPTAG_CTL_E_TIMEOUT;
	return t->v.status ? ESPTAG_CTL_E_AGENT : 0;
}

/* DUMP_SA of an agent port, every page. Returns the count or -1; *out malloc'ed. */
int agent_dump(struct daemon *d, uint16_t port, struct esptag_rec_sa **out)
{
	struct esptag_rec_sa *v = NULL;
	size_t n = 0, cap = 0;
	uint32_t next = 0;
	struct txn *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return -1;
	for (int page = 0; page < 100000; page++) {
		struct esptag_cfg_builder b;
		struct esptag_rec_cursor cur;
		struct esptag_rec_view rv;
		size_t off = 0;
		bool more;

		esptag_rec_init(&cur, ESPTAG_REC_CURSOR, sizeof(cur));
		cur.next = htonl(next);
		chan_begin(&d->chan, t, &b, ESPTAG_OP_DUMP_SA, port);
		esptag_cfg_add(&b, ESPTAG_REC_CURSOR, &cur, sizeof(cur));
		chan_finish(&d->chan, t, &b);
		chan_run(&d->chan, t, 1, 0);
		if (t->state != TXN_DONE || t->v.status) {
			free(v);
			free(t);
			return -1;
		}
		more = t->v.flags & ESPTAG_CFG_F_MORE;
		while (esptag_cfg_next(&t->v, &off, &rv) == 1) {
			if (rv.type == ESPTAG_REC_CURSOR) {
				memcpy(&cur, rv.data, sizeof(cur));
				next = ntohl(cur.next);
				continue;
			}
			if (rv.type != ESPTAG_REC_SA)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				struct esptag_rec_sa *nv = realloc(v, cap * sizeof(*v));

				if (!nv) {
					free(v);
					free(t);
					return -1;
				}
				v = nv;
			}
			memcpy(&v[n++], rv.data, sizeof(*v));
		}
		if (!more)
			break;
	}
	free(t);
	*out = v;
	return n;
}

/* GET_STATS of n SAs (one frame): 0 when the agent answered OK (records in t). */
int agent_sa_stats(struct daemon *d, uint16_t port, struct sa **v, size_t n, struct txn *t)
{
	struct esptag_cfg_builder b;
	struct esptag_rec_sa_ref ref;

	chan_begin(&d->chan, t, &b, ESPTAG_OP_GET_STATS, port);
	for (size_t j = 0; j < n; j++) {
		esptag_rec_init(&ref, ESPTAG_REC_SA_REF, sizeof(ref));
		ref.sa_index = htonl(v[j]->c.sa_index);
		esptag_cfg_add(&b, ESPTAG_REC_SA_REF, &ref, sizeof(ref));
	}
	chan_finish(&d->chan, t, &b);
	chan_run(&d->chan, t, 1, 0);
	return t->state == TXN_DONE && !t->v.status ? 0 : -1;
}
