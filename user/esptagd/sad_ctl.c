// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control requests on SAs: state add/del/list/flush, agent status, the
 * agent's SAs, statistics. A request is validated whole before anything
 * changes; what the agent refused or did not confirm is rolled back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "esptagd.h"
#include "version.h"

#define STATS_PER_FRAME	((ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr)) / sizeof(struct esptag_rec_sa_stats))

static bool port_usable(struct daemon *d, struct reply *r)
{
	if (!link_reachable(d) || !d->reconciled) {
		reply_err(r, ESPTAG_CTL_E_TIMEOUT,
			  "the agent on %s is not reachable (esptag agent status); nothing was changed",
			  d->dev);
		return false;
	}
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
	r->err_index = UINT32_MAX;
	return 0;
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
		struct esptag_ctl_sa out = list[i]->c;

		link_idx(d, list[i]);
		explicit_bzero(out.key, sizeof(out.key));
		explicit_bzero(out.salt, sizeof(out.salt));
		out.state = ESPTAG_CTL_SAS_ALIVE;
		out.seq = list[i]->c.dir == ESPTAG_DIR_OUT ? 1 : 0;
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
	struct esptag_ctl_sa c;
	uint8_t ast;
	int rc;

	if (!list) {
		reply_err(r, ESPTAG_CTL_E_INTERNAL, "out of memory");
		return;
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
		esptag_ctl_item(v, i, &c);
		if (state_add_check(d, &c, i, r))
			goto undo;
		c.sa_index = ESPTAG_SA_INDEX_NONE;
		list[i] = sa_new(d, &c, true);
		list[i]->expires_ns = expiry(c.lifetime);
		list[i]->gen = ++d->sa_gen;	/* newest last: policies by reqid take it */
	}
	explicit_bzero(&c, sizeof(c));
	rc = agent_add(d, d->chan.port, list, n, &err_i, &ast);
	if (rc) {
		state_add_refused(d, list, n, rc, err_i, ast, r);
		goto undo;
	}
	if (map_install_many(d, list, n, NULL, NULL)) {
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
	free(list);
}

void ctl_state_del(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	uint32_t n = v->hdr.count;
	size_t nl = 0, cap = (size_t)n * 2;
	struct sa **list = calloc(cap, sizeof(*list));
	bool *gone = calloc(cap, sizeof(bool));
	struct esptag_ctl_sa_id id;
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
		out = sa->c;
		explicit_bzero(out.key, sizeof(out.key));
		explicit_bzero(out.salt, sizeof(out.salt));
		out.state = ESPTAG_CTL_SAS_ALIVE | (sa->has_key ? 0 : ESPTAG_CTL_SAS_NOKEY);
		out.seq = map_seq(d, sa);
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

