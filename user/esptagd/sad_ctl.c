// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control requests on SAs: state add/del/list/flush/get/update/allocspi,
 * agent status, the agent's SAs, statistics. A request is validated whole before anything
 * changes; what the agent refused or did not confirm is rolled back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "esptagd.h"
#include "version.h"

#define STATS_PER_FRAME	((ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr)) / sizeof(struct esptag_rec_sa_stats))

static bool all_zero16(const uint8_t a[16])
{
	for (int i = 0; i < 16; i++)
		if (a[i])
			return false;
	return true;
}

static bool port_usable(struct daemon *d, struct reply *r)
{
	if (d->agent_refused[0]) {
		reply_err(r, ESPTAG_CTL_E_AGENT, "the agent on %s is not used: %s; nothing was changed",
			  d->dev, d->agent_refused);
		return false;
	}
	if (!link_reachable(d) || !d->reconciled) {
		reply_err(r, ESPTAG_CTL_E_TIMEOUT,
			  "the agent on %s is not reachable (esptag agent status); nothing was changed",
			  d->dev);
		return false;
	}
	return true;
}

/*
 * An SPI reserved by state allocspi may be taken by an inbound SA with the
 * reservation's address (and reqid and peer, when it named them); any other
 * SA with that SPI toward that address is refused while the reservation
 * lasts. True (with the reply's error) if c may not have it.
 */
static bool reserved_for_other(struct daemon *d, const struct esptag_ctl_sa *c, struct reply *r)
{
	struct spi_res *res = spi_res_find(d, c->family, c->daddr, c->spi);
	char a[64], rq[32];

	if (!res)
		return false;
	if (c->dir == ESPTAG_DIR_IN && (!res->reqid || res->reqid == c->reqid) &&
	    (all_zero16(res->saddr) || !memcmp(res->saddr, c->saddr, 16)))
		return false;
	snprintf(rq, sizeof(rq), res->reqid ? " with reqid %u" : "", res->reqid);
	reply_err(r, ESPTAG_CTL_E_EXIST,
		  "SPI 0x%08x toward %s is reserved (state allocspi) for an inbound SA%s%s; nothing was added",
		  c->spi, esptag_addr_str(c->family, c->daddr, a, sizeof(a)), rq,
		  all_zero16(res->saddr) ? "" : " from the peer it named");
	return true;
}

/* May c be added (item i of the request)? 0, or -1 with the reply's error. */
static int state_add_check(struct daemon *d, const struct esptag_ctl_sa *c, uint32_t i,
			   struct reply *r)
{
	char desc[128];

	r->err_index = i;
	if (strcmp(c->dev, d->dev)) {
		reply_err(r, ESPTAG_CTL_E_DEV, "this esptagd manages %s, not %s", d->dev, c->dev);
		return -1;
	}
	if (!(d->caps.alg_mask & (1u << c->alg))) {
		reply_err(r, ESPTAG_CTL_E_AGENT, "%s: the agent does not support %s",
			  sa_desc(c, desc, sizeof(desc)), esptag_alg_str(c->alg));
		r->agent_status = ESPTAG_ST_BAD_ALG;
		return -1;
	}
	if (sa_features(c) & ~d->caps.features) {
		char miss[64], has[64];

		reply_err(r, ESPTAG_CTL_E_AGENT,
			  "%s: the agent does not support %s SAs (it announces: %s); nothing was changed",
			  sa_desc(c, desc, sizeof(desc)),
			  feat_str(sa_features(c) & ~d->caps.features, miss, sizeof(miss)),
			  feat_str(d->caps.features, has, sizeof(has)));
		r->agent_status = ESPTAG_ST_BAD_RECORD;
		return -1;
	}
	if (sad_find(d, c)) {
		reply_err(r, ESPTAG_CTL_E_EXIST,
			  "%s already exists (esptag state del ... first, or use another SPI)",
			  sa_desc(c, desc, sizeof(desc)));
		return -1;
	}
	if (reserved_for_other(d, c, r))
		return -1;
	if (key_seen(d, c)) {
		reply_err(r, ESPTAG_CTL_E_EXIST,
			  "%s: this key and salt were already used by an SA of this esptagd; AES-GCM must never reuse them (RFC 4106 section 8): give every SA its own key, or let an IKE daemon key the SAs",
			  sa_desc(c, desc, sizeof(desc)));
		return -1;
	}
	r->err_index = UINT32_MAX;
	return 0;
}

/*
 * The items of one request by key and salt: an open-addressing table of
 * item indices (a scan of all earlier items made a large batch quadratic).
 * It holds indices only, no key material.
 */
struct key_set {
	uint32_t *slot;		/* item index, UINT32_MAX: empty */
	uint32_t mask;
};

static int key_set_init(struct key_set *s, uint32_t n)
{
	size_t cap = 16;

	while (cap < 2 * (size_t)n)
		cap <<= 1;
	s->slot = malloc(cap * sizeof(*s->slot));
	s->mask = (uint32_t)cap - 1;
	if (s->slot)
		memset(s->slot, 0xff, cap * sizeof(*s->slot));
	return s->slot ? 0 : -1;
}

/*
 * Whether an earlier item of list (those in s) has c's key and salt; if
 * not, *pos is the free slot where this item goes (key_set_put).
 */
static bool same_key_in(struct sa **list, const struct key_set *s, const struct esptag_ctl_sa *c,
			uint32_t *pos)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (unsigned int i = 0; i < c->key_len && i < sizeof(c->key); i++)
		h = (h ^ c->key[i]) * 16777619u;
	for (unsigned int i = 0; i < ESPTAG_SALT_LEN; i++)
		h = (h ^ c->salt[i]) * 16777619u;
	for (h &= s->mask; s->slot[h] != UINT32_MAX; h = (h + 1) & s->mask) {
		const struct sa *o = list[s->slot[h]];

		if (o->c.key_len == c->key_len && !memcmp(o->c.key, c->key, c->key_len) &&
		    !memcmp(o->c.salt, c->salt, ESPTAG_SALT_LEN))
			return true;
	}
	*pos = h;
	return false;
}

/* The agent did not take every SA (rc): say why, and take back from the
 * agent what it did take in the other frames. */
static void state_add_refused(struct daemon *d, struct sa **list, uint32_t n, int rc,
			      uint32_t err_i, uint8_t ast, struct reply *r)
{
	bool *gone = calloc(n, sizeof(bool));
	char desc[128];

	if (rc == ESPTAG_CTL_E_AGENT)
		reply_err(r, rc, "agent refused %s: %s: %s",
			  sa_desc(&list[err_i]->c, desc, sizeof(desc)), esptag_status_str(ast),
			  agent_hint(ast));
	else if (rc == ESPTAG_CTL_E_TIMEOUT)
		reply_err(r, rc, "the agent did not answer ADD_SA (%d tries); nothing was installed",
			  d->chan.tries);
	else
		reply_err(r, rc, "unexpected ADD_SA reply from the agent");
	r->agent_status = ast;
	r->err_index = err_i;
	if (!gone || agent_del(d, d->chan.port, list, n, gone) || rc == ESPTAG_CTL_E_TIMEOUT) {
		/* Unanswered frames may have been executed: look again. */
		d->need_sweep = true;
		log_warn("ADD_SA failed with unconfirmed frames; the agent's SAD will be swept for orphans");
	}
	free(gone);
}

/* Installed everywhere: the reply (no keys), the events, the policies. */
static void state_add_done(struct daemon *d, struct sa **list, uint32_t n, struct reply *r)
{
	char desc[128];

	for (uint32_t i = 0; i < n; i++) {
		struct esptag_ctl_sa out;
		struct spi_res *res;

		link_idx(d, list[i]);
		/* In the maps: traffic may use the key from now on, so it is
		 * never taken again (an add that failed never carried any). */
		if (key_seen_add(d, &list[i]->c))
			log_err("SA %s: cannot record its key digest (out of memory): a later add of the same key would not be refused",
				sa_desc(&list[i]->c, desc, sizeof(desc)));
		if (list[i]->c.dir == ESPTAG_DIR_IN &&
		    (res = spi_res_find(d, list[i]->c.family, list[i]->c.daddr, list[i]->c.spi)))
			spi_res_del(d, res);
		keylog_sa(d, &list[i]->c);
		/* As installed (no map reads: a batch may be large). */
		out = list[i]->c;
		explicit_bzero(out.key, sizeof(out.key));
		explicit_bzero(out.salt, sizeof(out.salt));
		out.state = ESPTAG_CTL_SAS_ALIVE;
		out.seq = list[i]->c.dir == ESPTAG_DIR_OUT ? (d->seq_start > 1 ? d->seq_start : 1) : 0;
		reply_add(r, &out);
		ev_sa(d, ESPTAG_EV_SA_ADDED, list[i]);
	}
	spd_refresh(d);
	if (n == 1)
		log_info("SA added: %s index %u", sa_desc(&list[0]->c, desc, sizeof(desc)),
			 list[0]->c.sa_index);
	else
		log_info("%u SAs added", n);
}

void ctl_state_add(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	uint32_t n = v->hdr.count, err_i;
	struct sa **list = calloc(n, sizeof(*list));
	struct esptag_seq *seq = NULL;
	struct esptag_ctl_sa c;
	struct key_set ks = { 0 };
	uint8_t ast;
	int rc;

	if (!list || key_set_init(&ks, n)) {
		reply_err(r, ESPTAG_CTL_E_INTERNAL, "out of memory");
		goto out;
	}
	if (!port_usable(d, r))
		goto out;
	if (n > d->nfree) {
		reply_err(r, ESPTAG_CTL_E_NOSPC,
			  "the daemon holds %zu of %zu SAs; %u more do not fit (--max-sas)",
			  d->sa_count, d->sa_cap, n);
		goto out;
	}
	/* Validate everything, then create the entries (not yet in maps). */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t pos;

		esptag_ctl_item(v, i, &c);
		if (state_add_check(d, &c, i, r))
			goto undo;
		if (same_key_in(list, &ks, &c, &pos)) {
			reply_err(r, ESPTAG_CTL_E_INVAL,
				  "items %u and an earlier one of this request have the same key and salt; AES-GCM must never reuse them (RFC 4106 section 8)",
				  i + 1);
			r->err_index = i;
			goto undo;
		}
		c.sa_index = ESPTAG_SA_INDEX_NONE;
		c.add_time = (uint64_t)time(NULL);
		list[i] = sa_new(d, &c, true);
		ks.slot[pos] = i;
		list[i]->expires_ns = expiry(c.lifetime);
		list[i]->added_ns = now_ns();
		list[i]->gen = ++d->sa_gen;	/* newest last: policies by reqid take it */
	}
	explicit_bzero(&c, sizeof(c));
	if (d->seq_start > 1 && !(seq = calloc(n, sizeof(*seq)))) {
		reply_err(r, ESPTAG_CTL_E_INTERNAL, "out of memory");
		goto undo;
	}
	for (uint32_t i = 0; seq && i < n; i++)
		seq[i].next = seq[i].base = d->seq_start;
	rc = agent_add(d, d->chan.port, list, n, &err_i, &ast);
	if (rc) {
		state_add_refused(d, list, n, rc, err_i, ast, r);
		goto undo;
	}
	if (map_install_many(d, list, n, seq, NULL)) {
		bool *gone = calloc(n, sizeof(bool));
		int e = errno;

		if (!gone || agent_del(d, d->chan.port, list, n, gone))
			d->need_sweep = true;
		free(gone);
		reply_err(r, ESPTAG_CTL_E_BPF,
			  "cannot write the SAs into the maps (%s); nothing was installed",
			  strerror(e));
		goto undo;
	}
	state_add_done(d, list, n, r);
	goto out;
undo:
	for (uint32_t i = 0; i < n; i++)
		if (list[i])
			sa_release(d, list[i]);
out:
	explicit_bzero(&c, sizeof(c));
	free(ks.slot);
	free(list);
	free(seq);
}

void ctl_state_del(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	uint32_t n = v->hdr.count;
	size_t nl = 0, cap = (size_t)n * 2;
	struct sa **list = calloc(cap, sizeof(*list));
	bool *gone = calloc(cap, sizeof(bool));
	struct esptag_ctl_sa_id id;
	size_t nres_freed = 0;
	char a[64];
	int rc;

	if (!list || !gone) {
		reply_err(r, ESPTAG_CTL_E_INTERNAL, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct esptag_ctl_sa k = {};
		size_t before = nl;

		esptag_ctl_item(v, i, &id);
		if (strcmp(id.dev, d->dev)) {
			reply_err(r, ESPTAG_CTL_E_DEV, "this esptagd manages %s, not %s", d->dev, id.dev);
			r->err_index = i;
			goto out;
		}
		k.family = id.family;
		k.spi = id.spi;
		memcpy(k.daddr, id.daddr, 16);
		/* Without VLAN SAs the hash finds them; else walk the table
		 * for (dst, spi, dir) in any VLAN domain. */
		for (uint8_t dir = ESPTAG_DIR_IN; !d->vlan_sas && dir <= ESPTAG_DIR_OUT; dir++) {
			struct sa *sa;

			k.dir = dir;
			if ((id.dir && id.dir != dir) || !(sa = sad_find(d, &k)) || nl >= cap)
				continue;
			for (size_t j = 0; j < nl && sa; j++)
				if (list[j] == sa)
					sa = NULL;
			if (sa)
				list[nl++] = sa;
		}
		for (size_t s = 0; d->vlan_sas && s < d->sa_cap && nl < cap; s++) {
			struct sa *sa = &d->sas[s];
			bool dup = false;

			if (!sa->used || sa->c.family != k.family || sa->c.spi != k.spi ||
			    memcmp(sa->c.daddr, k.daddr, 16) || (id.dir && sa->c.dir != id.dir))
				continue;
			for (size_t j = 0; j < nl; j++)
				dup |= list[j] == sa;
			if (!dup)
				list[nl++] = sa;
		}
		/* A reserved SPI (state allocspi) that never became an SA. */
		if (nl == before && id.dir != ESPTAG_DIR_OUT) {
			struct spi_res *res = spi_res_find(d, id.family, id.daddr, id.spi);

			if (res) {
				spi_res_del(d, res);
				nres_freed++;
				continue;
			}
		}
		if (nl == before) {
			reply_err(r, ESPTAG_CTL_E_NOENT,
				  "no SA with dst %s spi 0x%08x%s%s (esptag state list); nothing was deleted",
				  esptag_addr_str(id.family, id.daddr, a, sizeof(a)), id.spi,
				  id.dir ? " dir " : "", id.dir == ESPTAG_DIR_IN ? "in" : id.dir ? "out" : "");
			r->err_index = i;
			goto out;
		}
		if (n > 64 && nl >= cap)
			break;
	}
	if (!nl && nres_freed) {
		log_info("%zu SPI reservation(s) released", nres_freed);
		goto out;
	}
	if (!port_usable(d, r))
		goto out;
	/* Policies following a reqid move to the SA that stays before the
	 * agent removes this one (no gap); the others fail closed now. */
	for (size_t i = 0; i < nl; i++)
		list[i]->leaving = true;
	spd_refresh(d);
	rc = agent_del(d, d->chan.port, list, nl, gone);
	for (size_t i = 0; i < nl; i++)
		if (!gone[i])
			list[i]->leaving = false;
	drop_confirmed(d, list, nl, gone, ESPTAG_EV_SA_REMOVED);
	spd_refresh(d);
	if (rc)
		reply_err(r, rc, "the agent did not confirm every removal; the SAs it did remove are gone, the others are kept (esptag state list)");
	else
		log_info("%zu SA(s) deleted", nl);
out:
	free(list);
	free(gone);
}

void ctl_state_list(struct daemon *d, struct reply *r)
{
	for (size_t s = 0; s < d->sa_cap; s++) {
		struct sa *sa = &d->sas[s];
		struct esptag_ctl_sa out;

		if (!sa->used)
			continue;
		sa_reply_item(d, sa, &out);
		if (reply_add(r, &out))
			break;
	}
}

void ctl_state_flush(struct daemon *d, struct reply *r)
{
	size_t n = d->sa_count;
	int rc;

	if (!port_usable(d, r))
		return;
	rc = flush_all(d, ESPTAG_EV_SA_REMOVED);
	if (rc)
		reply_err(r, rc, "the agent did not confirm FLUSH_PORT; nothing was removed");
	else
		log_info("flushed %zu SAs", n);
}

void ctl_agent_status(struct daemon *d, struct reply *r)
{
	struct esptag_ctl_agent a = {};

	link_tick(d); /* fresh numbers, and the usual side effects */
	snprintf(a.dev, sizeof(a.dev), "%s", d->dev);
	a.reachable = link_reachable(d);
	a.port_up = cfg_agent_up(d);
	a.xdp_mode = d->bpf.xdp_mode;
	a.ifindex = d->ifindex;
	a.port = d->chan.port;
	if (d->caps.valid) {
		a.version = d->caps.version;
		a.alg_mask = d->caps.alg_mask;
		a.features = d->caps.features;
		a.max_records = d->caps.max_records;
		a.max_payload = d->caps.max_payload;
		a.local_capacity = d->caps.local_capacity;
		a.epoch = d->caps.epoch;
		a.sad_capacity = d->caps.capacity;
		a.sad_used = d->caps.used;
		a.port_limit = d->caps.port_limit;
		a.port_used = d->caps.port_used;
	}
	a.daemon_sas = d->sa_count;
	for (size_t s = 0; s < d->sa_cap; s++)
		a.nokey_sas += d->sas[s].used && !d->sas[s].has_key;
	a.hello_ok = d->hello_ok;
	a.hello_fail = d->hello_fail;
	a.last_reply_ms = d->chan.last_reply_ns ?
		(uint32_t)((now_ns() - d->chan.last_reply_ns) / 1000000) : UINT32_MAX;
	a.reinstalls = d->reinstalls;
	memcpy(a.mac, d->mac, 6);
	memcpy(a.agent_mac, d->chan.agent_mac, 6);
	esptag_version_str(a.daemon_version, sizeof(a.daemon_version));
	reply_add(r, &a);
}

void ctl_agent_sa(struct daemon *d, struct reply *r)
{
	struct esptag_rec_sa *v;
	int n = agent_dump(d, d->chan.port, &v);

	if (n < 0) {
		reply_err(r, ESPTAG_CTL_E_TIMEOUT, "the agent did not answer DUMP_SA");
		return;
	}
	for (int i = 0; i < n; i++) {
		struct esptag_ctl_sa c;
		struct sa *mine;

		rec_to_sa(d, &v[i], &c);
		mine = sad_by_index(d, c.sa_index);
		if (mine && mine->c.spi == c.spi && mine->c.dir == c.dir) {
			c.state = ESPTAG_CTL_SAS_ALIVE | (mine->has_key ? 0 : ESPTAG_CTL_SAS_NOKEY);
			c.reqid = mine->c.reqid;
			c.lifetime = mine->c.lifetime;
			c.soft_time = mine->c.soft_time;
			c.soft_bytes = mine->c.soft_bytes;
			c.hard_bytes = mine->c.hard_bytes;
			c.soft_packets = mine->c.soft_packets;
			c.hard_packets = mine->c.hard_packets;
			c.add_time = mine->c.add_time;
		}
		/* Keep the reply valid even if the agent holds odd values. */
		if (esptag_ctl_sa_check(&c, false, NULL, 0)) {
			log_warn("agent SA index %u has values esptag cannot show; skipped", c.sa_index);
			continue;
		}
		if (reply_add(r, &c))
			break;
	}
	free(v);
}

/* The agent-wide counters (a VF is refused them by its PF: not asked). */
static void stats_agent(struct daemon *d, struct reply *r)
{
	struct txn *t = calloc(1, sizeof(*t));
	struct esptag_rec_counter c;
	struct esptag_ctl_stat st;
	struct esptag_rec_view rv;
	size_t off = 0;

	if (t && !agent_simple(d, d->chan.port, ESPTAG_OP_GET_STATS, 0, t)) {
		while (esptag_cfg_next(&t->v, &off, &rv) == 1) {
			if (rv.type != ESPTAG_REC_COUNTER)
				continue;
			memcpy(&c, rv.data, sizeof(c));
			if (ntohs(c.id) >= ESPTAG_AC_MAX)
				continue;
			memset(&st, 0, sizeof(st));
			st.kind = ESPTAG_STAT_AGENT;
			st.id = ntohs(c.id);
			st.value = get64(c.value_hi, c.value_lo);
			reply_add(r, &st);
		}
	}
	free(t);
}

/* The agent's counters of m SAs into the reply's items first .. first + m - 1. */
static void stats_sa_fill(const struct txn *t, struct reply *r, size_t first, size_t m)
{
	struct esptag_rec_sa_stats as;
	struct esptag_rec_view rv;
	size_t off = 0, j = 0;

	while (esptag_cfg_next(&t->v, &off, &rv) == 1 && j < m) {
		struct esptag_ctl_stat *o;

		if (rv.type != ESPTAG_REC_SA_STATS)
			continue;
		memcpy(&as, rv.data, sizeof(as));
		o = (struct esptag_ctl_stat *)(r->items + (first + j) * r->isz);
		if (o->sa_index == ntohl(as.sa_index)) {
			o->agent_ok = 1;
			o->agent_packets = get64(as.packets_hi, as.packets_lo);
			o->agent_bytes = get64(as.bytes_hi, as.bytes_lo);
			o->auth_fail = ntohl(as.auth_fail);
			o->domain_reject = ntohl(as.domain_reject);
			o->agent_seq = get64(as.seq_hi, as.seq_lo);
		}
		j++;
	}
}

/* Per-SA counters: the data path's, then the agent's (batched). */
static void stats_sas(struct daemon *d, struct sa **list, size_t nsa, struct reply *r)
{
	size_t first = r->count;
	struct esptag_ctl_stat st;

	for (size_t i = 0; i < nsa; i++) {
		struct esptag_sa_stats ss;

		memset(&st, 0, sizeof(st));
		st.kind = ESPTAG_STAT_SA;
		st.sa_index = list[i]->c.sa_index;
		st.spi = list[i]->c.spi;
		st.dir = list[i]->c.dir;
		if (!sa_stats_sum(d, st.sa_index, &ss)) {
			st.packets = ss.packets;
			st.bytes = ss.bytes;
			st.drops = ss.drops;
		}
		reply_add(r, &st);
	}
	for (size_t k = 0; link_reachable(d) && k < nsa; k += STATS_PER_FRAME) {
		struct txn *t = calloc(1, sizeof(*t));
		size_t m = nsa - k < STATS_PER_FRAME ? nsa - k : STATS_PER_FRAME;

		if (!t)
			break;
		if (!agent_sa_stats(d, d->chan.port, list + k, m, t))
			stats_sa_fill(t, r, first + k, m);
		free(t);
	}
}

void ctl_stats(struct daemon *d, struct reply *r)
{
	struct esptag_ctl_stat st;
	struct sa **list;
	size_t nsa = 0;

	for (uint32_t id = 0; id < ESPTAG_CNT_MAX; id++) {
		memset(&st, 0, sizeof(st));
		st.kind = ESPTAG_STAT_DP;
		st.id = id;
		percpu_sum_u64(d, M_STATS, id, &st.value);
		reply_add(r, &st);
	}
	if (link_reachable(d) && !d->vf_mode)
		stats_agent(d, r);
	list = calloc(d->sa_count ? d->sa_count : 1, sizeof(*list));
	if (!list)
		return;
	for (size_t s = 0; s < d->sa_cap; s++)
		if (d->sas[s].used)
			list[nsa++] = &d->sas[s];
	stats_sas(d, list, nsa, r);
	free(list);
}


/* ---- what an IKE daemon needs: allocspi, get, update ----------------------- */

/* An inbound SA of (family, daddr, spi) in any VLAN domain? */
static bool spi_in_use(struct daemon *d, uint8_t family, const uint8_t daddr[16], uint32_t spi)
{
	struct esptag_ctl_sa k = { .family = family, .dir = ESPTAG_DIR_IN, .spi = spi };

	memcpy(k.daddr, daddr, 16);
	if (!d->vlan_sas)
		return sad_find(d, &k) != NULL;
	for (size_t s = 0; s < d->sa_cap; s++) {
		const struct sa *sa = &d->sas[s];

		if (sa->used && sa->c.dir == ESPTAG_DIR_IN && sa->c.spi == spi &&
		    sa->c.family == family && !memcmp(sa->c.daddr, daddr, 16))
			return true;
	}
	return false;
}

static bool spi_free(struct daemon *d, uint8_t family, const uint8_t daddr[16], uint32_t spi)
{
	return spi >= 256 && !spi_res_find(d, family, daddr, spi) &&
	       !spi_in_use(d, family, daddr, spi);
}

/* Random tries first, then a walk from a random start (a narrow range). */
#define ALLOCSPI_TRIES	64
#define ALLOCSPI_WALK	(1u << 20)

void ctl_state_allocspi(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	struct esptag_ctl_spi q;
	struct spi_res res = {};
	uint32_t lo, hi, span, rnd, spi = 0;
	char a[64];

	esptag_ctl_item(v, 0, &q);
	if (*q.dev && strcmp(q.dev, d->dev)) {
		reply_err(r, ESPTAG_CTL_E_DEV, "this esptagd manages %s, not %s", d->dev, q.dev);
		return;
	}
	lo = q.min || q.max ? q.min : 0xc0000000u;
	hi = q.min || q.max ? q.max : 0xcfffffffu;
	span = hi - lo;		/* + 1 may overflow: 0 .. 2^32 - 257 */
	for (int t = 0; t < ALLOCSPI_TRIES && !spi; t++) {
		uint32_t c;

		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			break;
		c = lo + (span == UINT32_MAX ? rnd : rnd % (span + 1));
		if (spi_free(d, q.family, q.daddr, c))
			spi = c;
	}
	for (uint64_t k = 0; !spi && k <= span && k < ALLOCSPI_WALK; k++) {
		uint32_t c = lo + (uint32_t)(((uint64_t)rnd + k) % ((uint64_t)span + 1));

		if (spi_free(d, q.family, q.daddr, c))
			spi = c;
	}
	if (!spi) {
		reply_err(r, ESPTAG_CTL_E_NOSPC,
			  "no free SPI in 0x%08x-0x%08x toward %s (SAs and reservations hold them)",
			  lo, hi, esptag_addr_str(q.family, q.daddr, a, sizeof(a)));
		return;
	}
	res.family = q.family;
	memcpy(res.daddr, q.daddr, 16);
	memcpy(res.saddr, q.saddr, 16);
	res.spi = spi;
	res.reqid = q.reqid;
	res.expires_ns = now_ns() + d->res_ttl_ns;
	if (spi_res_add(d, &res)) {
		reply_err(r, ESPTAG_CTL_E_NOSPC, "too many SPI reservations (%zu)", d->nres);
		return;
	}
	snprintf(q.dev, sizeof(q.dev), "%s", d->dev);
	q.spi = spi;
	reply_add(r, &q);
	log_info("SPI 0x%08x reserved toward %s for %llu s", spi,
		 esptag_addr_str(q.family, q.daddr, a, sizeof(a)),
		 (unsigned long long)(d->res_ttl_ns / 1000000000ull));
}

/* The SA (dev, dir, family, spi, daddr) in any VLAN domain, or NULL. */
static struct sa *sa_by_id(struct daemon *d, uint8_t dir, uint8_t family, uint32_t spi,
			   const uint8_t daddr[16])
{
	struct esptag_ctl_sa k = { .family = family, .dir = dir, .spi = spi };

	memcpy(k.daddr, daddr, 16);
	if (!d->vlan_sas)
		return sad_find(d, &k);
	for (size_t s = 0; s < d->sa_cap; s++) {
		struct sa *sa = &d->sas[s];

		if (sa->used && sa->c.dir == dir && sa->c.spi == spi && sa->c.family == family &&
		    !memcmp(sa->c.daddr, daddr, 16))
			return sa;
	}
	return NULL;
}

static void no_such_sa(struct reply *r, uint8_t dir, uint8_t family, uint32_t spi,
		       const uint8_t daddr[16])
{
	char a[64];

	reply_err(r, ESPTAG_CTL_E_NOENT, "no SA with dst %s spi 0x%08x dir %s (esptag state list)",
		  esptag_addr_str(family, daddr, a, sizeof(a)), spi,
		  dir == ESPTAG_DIR_IN ? "in" : "out");
}

void ctl_state_get(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	struct esptag_ctl_sa_id id;
	struct esptag_ctl_sa out;
	struct sa *sa;

	esptag_ctl_item(v, 0, &id);
	if (strcmp(id.dev, d->dev)) {
		reply_err(r, ESPTAG_CTL_E_DEV, "this esptagd manages %s, not %s", d->dev, id.dev);
		return;
	}
	if (!id.dir) {
		reply_err(r, ESPTAG_CTL_E_INVAL, "state get needs dir in or dir out");
		return;
	}
	sa = sa_by_id(d, id.dir, id.family, id.spi, id.daddr);
	if (!sa) {
		no_such_sa(r, id.dir, id.family, id.spi, id.daddr);
		return;
	}
	sa_reply_item(d, sa, &out);
	reply_add(r, &out);
}

/*
 * state update: new lifetimes and replay window of a running SA; its keys,
 * addresses, mode and algorithm stay (the codec refuses key bytes). The
 * hard byte and packet limits change in the SA's esptag_sad value without touching
 * the counters; time-hard and the replay window in esptag_sad. Limits count
 * from the SA's add, as before; a soft limit that changed may be raised
 * again.
 */
void ctl_state_update(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	struct esptag_ctl_sa c, out;
	struct sa *sa, old;
	bool soft_changed;
	char desc[128];

	esptag_ctl_item(v, 0, &c);
	if (*c.dev && strcmp(c.dev, d->dev)) {
		reply_err(r, ESPTAG_CTL_E_DEV, "this esptagd manages %s, not %s", d->dev, c.dev);
		return;
	}
	sa = sa_by_id(d, c.dir, c.family, c.spi, c.daddr);
	if (!sa) {
		no_such_sa(r, c.dir, c.family, c.spi, c.daddr);
		return;
	}
	if (c.dir == ESPTAG_DIR_OUT && c.replay_window) {
		reply_err(r, ESPTAG_CTL_E_INVAL, "replay-window applies to dir in SAs only; nothing was changed");
		return;
	}
	if (sa->c.sa_index == ESPTAG_SA_INDEX_NONE) {
		reply_err(r, ESPTAG_CTL_E_INTERNAL, "the SA is not installed; nothing was changed");
		return;
	}
	soft_changed = c.soft_bytes != sa->c.soft_bytes || c.soft_packets != sa->c.soft_packets ||
		       c.soft_time != sa->c.soft_time;
	/* esptag_sad first (expiry, window): if that fails nothing changed. */
	old = *sa;
	sa->c.lifetime = c.lifetime;
	if (c.dir == ESPTAG_DIR_IN)
		sa->c.replay_window = c.replay_window;
	sa->expires_ns = c.lifetime ? sa->added_ns + (uint64_t)c.lifetime * 1000000000ull : 0;
	if (map_update_sa(d, sa)) {
		int e = errno;

		sa->c.lifetime = old.c.lifetime;
		sa->c.replay_window = old.c.replay_window;
		sa->expires_ns = old.expires_ns;
		explicit_bzero(&old, sizeof(old));
		reply_err(r, ESPTAG_CTL_E_BPF, "cannot update esptag_sad: %s; nothing was changed",
			  strerror(e));
		return;
	}
	explicit_bzero(&old, sizeof(old));
	sa->c.soft_bytes = c.soft_bytes;
	sa->c.soft_packets = c.soft_packets;
	sa->c.soft_time = c.soft_time;
	sa->c.hard_bytes = c.hard_bytes;
	sa->c.hard_packets = c.hard_packets;
	if (soft_changed)
		sa->soft_done = false;
	life_set_limits(d, sa->c.sa_index, c.hard_bytes, c.hard_packets);
	sa_reply_item(d, sa, &out);
	reply_add(r, &out);
	log_info("SA updated: %s", sa_desc(&sa->c, desc, sizeof(desc)));
}
