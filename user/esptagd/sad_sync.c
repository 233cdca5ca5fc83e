// SPDX-License-Identifier: GPL-2.0-only
/*
 * The SA database's life with the agent: removal of confirmed SAs, flush,
 * reconcile at start, re-install after an agent restart, orphan sweep,
 * expiry. Driven by the agent link's events (sad_link_event) and the timer.
 *
 * Rules:
 *  - an SA enters esptag_sad (with its sequence or replay window) only after the agent
 *    answered OK to its ADD_SA; a request that fails anywhere (agent refusal,
 *    timeout, map update) is rolled back everywhere (DEL_SA of what the agent
 *    did take), so nothing is left behind;
 *  - keys live only in d->sas (mlocked, excluded from core dumps) and are
 *    zeroed when an SA goes; the agent's replies carry none;
 *  - an agent epoch change (restart) re-installs every SA we hold a key for,
 *    keeping its Rx replay window, and starting its Tx counter above every
 *    number the old agent may have used (its IVDB runs ahead of the host's
 *    counter), so that no GCM nonce is ever reused with the same key; the
 *    start is kept in its esptag_sad value, seq.base (docs/protocol.md 2.5);
 *  - at daemon start the pinned maps and the agent's DUMP_SA are reconciled:
 *    SAs present in both (same index, SPI, dst, dir) are adopted without key
 *    (they keep running, but cannot be re-installed after an agent restart),
 *    agent SAs unknown to the maps are deleted, stale map entries removed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <time.h>
#include <bpf/bpf.h>
#include "esptagd.h"

void ev_sa(struct daemon *d, int type, const struct sa *sa)
{
	monitor_event(d, type, &sa->c, 0, 0, 0);
}

/* Remove SAs everywhere after the agent confirmed (gone[i]). */
size_t drop_confirmed(struct daemon *d, struct sa **v, size_t n, const bool *gone,
		      int ev)
{
	size_t k = 0;

	struct sa **rm = calloc(n ? n : 1, sizeof(*rm));

	for (size_t i = 0; rm && i < n; i++)
		if (gone[i])
			rm[k++] = v[i];
	if (rm)
		map_remove_many(d, rm, k);
	free(rm);
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!gone[i])
			continue;
		if (!rm && v[i]->c.sa_index != ESPTAG_SA_INDEX_NONE)
			map_remove(d, v[i]->c.sa_index);
		ev_sa(d, ev, v[i]);
		sa_release(d, v[i]);
		k++;
	}
	return k;
}


int flush_all(struct daemon *d, int ev)
{
	struct txn *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return ESPTAG_CTL_E_INTERNAL;
	rc = agent_simple(d, d->chan.port, ESPTAG_OP_FLUSH_PORT, 0, t);
	free(t);
	if (rc)
		return rc;
	{
		struct sa **all = calloc(d->sa_count ? d->sa_count : 1, sizeof(*all));
		bool *gone = calloc(d->sa_count ? d->sa_count : 1, sizeof(*gone));
		size_t n = 0;

		if (!all || !gone) {
			free(all);
			free(gone);
			return ESPTAG_CTL_E_INTERNAL;
		}
		for (size_t s = 0; s < d->sa_cap; s++)
			if (d->sas[s].used) {
				gone[n] = true;
				all[n++] = &d->sas[s];
			}
		drop_confirmed(d, all, n, gone, ev);
		free(all);
		free(gone);
	}
	spd_refresh(d);
	return 0;
}

int sad_flush_agent(struct daemon *d)
{
	if (!link_reachable(d) || !d->sa_count)
		return 0;
	return flush_all(d, ESPTAG_EV_SA_REMOVED);
}


/* ---- HELLO, reinstall, reconcile ------------------------------------------ */

/*
 * How long frames the data path stamped before an SA left esptag_sad may
 * still be on their way to the agent (qdiscs, other CPUs' backlogs, the
 * switch of a VF): they must not reach the re-installed SA.
 */
#define TX_SETTLE_MS	50

static void tx_settle(void)
{
	struct timespec ts = { 0, TX_SETTLE_MS * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * The host counter of an outbound SA given again to an agent that lost it
 * (docs/protocol.md 2.5). The agent's IVDB sends a frame as max(host seq,
 * IVDB): since the SA was installed at base the host issued the numbers
 * base .. next - 1, so the old agent handled at most n = next - base frames
 * and segments and used wire numbers up to next - 1 + n. The new agent
 * starts its IVDB at 1 with the same key and salt, so the host starts at
 * next + n, above all of them, and remembers that as the new base. Returns
 * false when that is beyond the SA's sequence space: it cannot be
 * re-installed without reusing a nonce (only a new key, from IKE, helps).
 */
static bool reinstall_seq(const struct sa *sa, struct esptag_seq *s, uint64_t *want)
{
	uint64_t last = (sa->c.sa_flags & ESPTAG_SA_F_ESN) ? UINT64_MAX : 0xffffffffull;
	uint64_t next = s->next ? s->next : 1, base = s->base ? s->base : 1, n, r;

	n = next > base ? next - base : 0;
	*want = UINT64_MAX;
	if (n > UINT64_MAX - next)
		return false;
	r = next + n;
	if (r < base)
		r = base;
	*want = r;
	if (r > last)
		return false;
	s->next = r;
	s->base = r;
	return true;
}

/*
 * Re-install SAs the agent lost, under new indices: their maps move along,
 * keeping the Rx replay window, and an outbound SA's counter jumps above
 * every number the old agent may have used (reinstall_seq: never reuse a
 * GCM nonce with the same key). First every SA leaves esptag_sad, so the
 * data path stops stamping frames with the old index and numbers, and what
 * it stamped already drains, before the counters are read and before the
 * agent gets any SA again. SAs without key (adopted after a daemon restart)
 * cannot be re-installed: they are removed. Returns the number re-installed.
 */
/*
 * The SAs that can be re-installed leave esptag_sad (the data path stops
 * using them: their frames are dropped) and go to list[]; the others (no
 * key, or a feature the agent lost) are removed. Returns how many went to
 * list[]; *out: one of them is outbound.
 */
static size_t reinstall_retire(struct daemon *d, struct sa **cand, size_t nc, struct sa **list,
			       size_t *lost, bool *out)
{
	char desc[128];
	size_t nk = 0;

	for (size_t c = 0; c < nc; c++) {
		struct sa *sa = cand[c];
		uint32_t idx = sa->c.sa_index;

		if (!sa->has_key) {
			log_warn("SA %s was adopted without its key after a daemon restart and cannot be re-installed; add it again with esptag state add",
				 sa_desc(&sa->c, desc, sizeof(desc)));
			map_remove(d, idx);
			ev_sa(d, ESPTAG_EV_SA_REMOVED, sa);
			sa_release(d, sa);
			(*lost)++;
			continue;
		}
		if (sa_features(&sa->c) & ~d->caps.features) {
			char miss[64];

			log_err("SA %s cannot be re-installed: the restarted agent does not support %s SAs; removed",
				sa_desc(&sa->c, desc, sizeof(desc)),
				feat_str(sa_features(&sa->c) & ~d->caps.features, miss, sizeof(miss)));
			map_remove(d, idx);
			ev_sa(d, ESPTAG_EV_SA_REMOVED, sa);
			sa_release(d, sa);
			(*lost)++;
			continue;
		}
		map_retire(d, idx);
		*out |= sa->c.dir == ESPTAG_DIR_OUT;
		list[nk++] = sa;
	}
	return nk;
}

static size_t reinstall_set(struct daemon *d, struct sa **cand, size_t nc, size_t *lost)
{
	struct sa **list = calloc(nc ? nc : 1, sizeof(*list));
	struct esptag_seq *seq = calloc(nc ? nc : 1, sizeof(*seq));
	struct esptag_replay *rp = calloc(nc ? nc : 1, sizeof(*rp));
	size_t n = 0, nk = 0, ok = 0;
	uint32_t err_i;
	uint8_t ast;
	char desc[128];
	bool batch_ok, out = false;

	*lost = 0;
	if (!list || !seq || !rp)
		goto out;
	nk = reinstall_retire(d, cand, nc, list, lost, &out);
	if (out)
		tx_settle();
	for (size_t c = 0; c < nk; c++) {
		struct sa *sa = list[c];
		uint32_t idx = sa->c.sa_index;
		struct esptag_sa v;
		uint64_t want;

		/* The retired value keeps the SA's sequence and window. */
		if (bpf_map_lookup_elem(d->bpf.map_fd[M_SAD], &idx, &v))
			memset(&v, 0, sizeof(v));
		seq[n] = v.seq;
		rp[n] = v.replay;
		rp[n].unused = 0;
		/* Its use so far goes along: limits count over the SA's life. */
		life_read(d, idx, &sa->keep);
		map_remove(d, idx);
		unlink_idx(d, sa);
		if (sa->c.dir == ESPTAG_DIR_OUT && !reinstall_seq(sa, &seq[n], &want)) {
			log_err("SA %s cannot be re-installed: the old agent may have used sequence numbers up to %llu under its key, beyond the %s sequence space; removed, its traffic is dropped until a new SA (new key) is added",
				sa_desc(&sa->c, desc, sizeof(desc)),
				want == UINT64_MAX ? (unsigned long long)UINT64_MAX :
						     (unsigned long long)(want - 1),
				(sa->c.sa_flags & ESPTAG_SA_F_ESN) ? "64-bit" : "32-bit (no ESN)");
			sa->c.sa_index = ESPTAG_SA_INDEX_NONE;
			monitor_event(d, ESPTAG_EV_SA_EXPIRED, &sa->c, want, 0, 0);
			sa_release(d, sa);
			(*lost)++;
			continue;
		}
		if (sa->c.dir == ESPTAG_DIR_OUT && seq[n].next > 1)
			log_info("SA %s: re-installed with sequence numbers from %llu",
				 sa_desc(&sa->c, desc, sizeof(desc)),
				 (unsigned long long)seq[n].next);
		list[n++] = sa;
	}
	if (agent_add(d, d->chan.port, list, n, &err_i, &ast))
		d->need_sweep = true;
	batch_ok = !map_install_many(d, list, n, seq, rp);
	for (size_t i = 0; i < n; i++) {
		struct sa *sa = list[i];

		if (sa->c.sa_index != ESPTAG_SA_INDEX_NONE &&
		    (batch_ok || !map_install(d, sa, &seq[i], &rp[i]))) {
			link_idx(d, sa);
			ok++;
			continue;
		}
		log_err("SA %s could not be re-installed; removed (add it again)",
			sa_desc(&sa->c, desc, sizeof(desc)));
		if (sa->c.sa_index != ESPTAG_SA_INDEX_NONE) {
			bool gone;

			agent_del(d, d->chan.port, &sa, 1, &gone);
			sa->c.sa_index = ESPTAG_SA_INDEX_NONE;
		}
		ev_sa(d, ESPTAG_EV_SA_REMOVED, sa);
		sa_release(d, sa);
		(*lost)++;
	}
out:
	spd_refresh(d);
	free(list);
	free(seq);
	free(rp);
	return ok;
}

static void reinstall(struct daemon *d, uint64_t old_epoch)
{
	struct sa **all = calloc(d->sa_count ? d->sa_count : 1, sizeof(*all));
	struct txn *t = calloc(1, sizeof(*t));
	size_t n = 0, ok = 0, lost = 0;

	log_warn("agent restarted (epoch %016llx -> %016llx): re-installing %zu SAs",
		 (unsigned long long)old_epoch, (unsigned long long)d->caps.epoch, d->sa_count);
	cfg_set_agent_up(d, false);
	if (all && t) {
		/* A fresh agent has nothing of ours; make sure. */
		if (agent_simple(d, d->chan.port, ESPTAG_OP_FLUSH_PORT, 0, t))
			log_warn("agent: FLUSH_PORT before re-install failed");
		for (size_t s = 0; s < d->sa_cap; s++)
			if (d->sas[s].used)
				all[n++] = &d->sas[s];
		ok = reinstall_set(d, all, n, &lost);
		log_notice("re-installed %zu SAs after the agent restart (%zu lost)", ok, lost);
	}
	d->reinstalls++;
	d->reinstalled_last = ok;
	free(all);
	free(t);
}

static bool rec_matches_map(const struct esptag_rec_sa *r, const struct esptag_sa *m)
{
	return r->spi == m->spi && r->dir == m->dir && r->family == m->family &&
	       !memcmp(r->daddr, m->daddr, 16);
}

/* The agent's SAs that the maps hold too are adopted (without key); the
 * others go to orph[]. Returns how many were adopted. */
static size_t adopt_agent_sas(struct daemon *d, const struct esptag_rec_sa *v, int n,
			      uint32_t *orph, size_t *norph)
{
	struct esptag_sa m;
	size_t kept = 0;

	for (int i = 0; i < n; i++) {
		struct esptag_ctl_sa c;
		uint32_t idx = ntohl(v[i].sa_index);
		struct sa *sa;

		if (bpf_map_lookup_elem(d->bpf.map_fd[M_SAD], &idx, &m) || !rec_matches_map(&v[i], &m) ||
		    sad_by_index(d, idx)) {
			orph[(*norph)++] = idx;
			continue;
		}
		rec_to_sa(d, &v[i], &c);
		c.reqid = m.reqid;
		if (sad_find(d, &c) || !(sa = sa_new(d, &c, false))) {
			orph[(*norph)++] = idx;
			continue;
		}
		sa->expires_ns = m.expires_ns;
		/* What the maps still know of its lifetime: the hard limits
		 * (the soft ones and the add time went with the old daemon). */
		{
			struct esptag_sa_life l;

			if (life_read(d, idx, &l)) {
				sa->c.hard_bytes = l.hard_bytes;
				sa->c.hard_packets = l.hard_packets;
			}
			sa->added_ns = now_ns();
			sa->c.add_time = (uint64_t)time(NULL);
		}
		kept++;
	}
	return kept;
}

/*
 * Map entries the agent does not have (or that we could not adopt):
 * esptag_sad is an array, so walk its slots and skip the empty ones.
 * Returns how many were removed.
 */
static size_t remove_stale(struct daemon *d)
{
	uint32_t *del = NULL, key;
	size_t nd = 0, cd = 0;
	struct esptag_sa m;

	for (key = 0; !bpf_map_lookup_elem(d->bpf.map_fd[M_SAD], &key, &m); key++) {
		if (ESPTAG_SA_EMPTY(&m) || sad_by_index(d, key))
			continue;
		if (nd == cd) {
			uint32_t *nn;

			cd = cd ? cd * 2 : 64;
			nn = realloc(del, cd * sizeof(*del));
			if (!nn)
				break;
			del = nn;
		}
		del[nd++] = key;
	}
	for (size_t i = 0; i < nd; i++)
		map_remove(d, del[i]);
	free(del);
	return nd;
}

static void reconcile(struct daemon *d)
{
	struct esptag_rec_sa *v = NULL;
	int n = agent_dump(d, d->chan.port, &v);
	size_t norph = 0, kept, stale;
	uint32_t *orph;
	bool *gone;

	if (n < 0) {
		log_err("reconcile: DUMP_SA failed; will retry");
		return;
	}
	orph = calloc(n ? n : 1, sizeof(*orph));
	gone = calloc(n ? n : 1, sizeof(*gone));
	if (!orph || !gone) {
		/* Nothing changed: the next HELLO tries again. */
		log_err("reconcile: out of memory; will retry");
		goto out;
	}
	kept = adopt_agent_sas(d, v, n, orph, &norph);
	stale = remove_stale(d);
	if (norph && agent_del_idx(d, d->chan.port, orph, norph, gone))
		log_err("reconcile: could not remove every orphan SA from the agent");
	/* Reconciled first: spd_refresh binds recovered policies only then. */
	d->reconciled = true;
	spd_refresh(d);
	log_notice("reconciled with the agent: %zu SAs kept (without keys: they run until deleted, "
		   "but cannot be re-installed after an agent restart), %zu orphans removed from the agent, "
		   "%zu stale map entries removed",
		   kept, norph, stale);
out:
	free(v);
	free(orph);
	free(gone);
}

/*
 * After a request the agent may have executed without us hearing the answer
 * (timeouts), or a rollback it did not confirm: delete every SA of our port
 * the agent holds that is not in our database, so nothing is orphaned.
 */
static void sweep(struct daemon *d)
{
	struct esptag_rec_sa *v = NULL;
	int n = agent_dump(d, d->chan.port, &v);
	struct sa **missing = NULL;
	uint32_t *orph;
	bool *gone, *seen = NULL;
	size_t no = 0, nm = 0;

	if (n < 0)
		return;
	orph = calloc(n ? n : 1, sizeof(*orph));
	gone = calloc(n ? n : 1, sizeof(*gone));
	if (!orph || !gone)
		goto out;
	seen = calloc(d->sa_cap, sizeof(*seen));
	if (!seen)
		goto out;
	for (int i = 0; i < n; i++) {
		uint32_t idx = ntohl(v[i].sa_index);
		struct sa *sa = sad_by_index(d, idx);

		if (!sa || sa->c.spi != ntohl(v[i].spi) || sa->c.dir != v[i].dir)
			orph[no++] = idx;
		else
			seen[sa - d->sas] = true;
	}
	if (!no || !agent_del_idx(d, d->chan.port, orph, no, gone)) {
		d->need_sweep = false;
		if (no)
			log_notice("removed %zu orphan SAs from the agent", no);
	}
	/* SAs the agent lost without restarting (e.g. someone else's FLUSH_PORT). */
	missing = calloc(d->sa_count ? d->sa_count : 1, sizeof(*missing));
	for (size_t s = 0; missing && s < d->sa_cap; s++)
		if (d->sas[s].used && !seen[s])
			missing[nm++] = &d->sas[s];
	if (nm) {
		size_t lost, ok;

		log_warn("the agent lost %zu of our SAs: re-installing them", nm);
		ok = reinstall_set(d, missing, nm, &lost);
		log_notice("re-installed %zu SAs (%zu lost)", ok, lost);
	}
out:
	free(seen);
	free(missing);
	free(v);
	free(orph);
	free(gone);
}

/* The SA layer's part in the agent link's events (link.c). */
void sad_link_event(struct daemon *d, enum link_event ev, uint64_t old_epoch)
{
	switch (ev) {
	case LINK_EV_SYNC:
		reconcile(d);
		break;
	case LINK_EV_RESTARTED:
		reinstall(d, old_epoch);
		break;
	case LINK_EV_ALIVE:
		if (d->reconciled && d->need_sweep)
			sweep(d);
		break;
	default:
		break;
	}
}

/* The first soft limit c has reached (enum esptag_ctl_limit), or 0. */
static int soft_reached(const struct sa *sa, const struct esptag_sa_life *l, uint64_t seq,
			uint64_t now)
{
	const struct esptag_ctl_sa *c = &sa->c;
	bool esn = c->sa_flags & ESPTAG_SA_F_ESN;

	if (c->soft_time && now >= sa->added_ns + (uint64_t)c->soft_time * 1000000000ull)
		return ESPTAG_LIMIT_TIME;
	if (c->soft_bytes && l->bytes >= c->soft_bytes)
		return ESPTAG_LIMIT_BYTES;
	if (c->soft_packets && l->packets >= c->soft_packets)
		return ESPTAG_LIMIT_PACKETS;
	if (!esn && seq > 0xffffffffull - ESPTAG_SEQ32_SOFT_LEFT)
		return ESPTAG_LIMIT_SEQ;
	return 0;
}

/* The first hard limit it has reached, or 0. A byte or packet limit is
 * reached when the use is at it, or the data path refused a packet that
 * would have passed it. */
static int hard_reached(const struct sa *sa, const struct esptag_sa_life *l, uint64_t seq,
			uint64_t now)
{
	const struct esptag_ctl_sa *c = &sa->c;
	bool esn = c->sa_flags & ESPTAG_SA_F_ESN;

	if (sa->expires_ns && now >= sa->expires_ns)
		return ESPTAG_LIMIT_TIME;
	if (c->hard_packets && l->packets >= c->hard_packets)
		return ESPTAG_LIMIT_PACKETS;
	if (c->hard_bytes && l->bytes >= c->hard_bytes)
		return ESPTAG_LIMIT_BYTES;
	/* Refused below the packet limit: the bytes would have passed theirs. */
	if (l->refused && (c->hard_bytes || c->hard_packets))
		return c->hard_bytes ? ESPTAG_LIMIT_BYTES : ESPTAG_LIMIT_PACKETS;
	if (!esn && seq > 0xffffffffull - ESPTAG_SEQ32_HARD_LEFT)
		return ESPTAG_LIMIT_SEQ;
	return 0;
}

/*
 * Lifetimes, polled from the per-SA counters every ESPTAGD_LIFE_TICK_MS:
 * hard byte and packet limits hold exactly in the data path already; here
 * a soft limit raises SA_SOFT_EXPIRED once (the IKE daemon rekeys), a hard
 * one (or a 32-bit sequence space nearly spent) raises SA_EXPIRED and
 * removes the SA from the agent and the maps (SA_REMOVED follows).
 * Time limits count from the add. Reservations of SPIs expire here too.
 */
/*
 * A non-ESN SA's sequence number (outbound: the next, inbound: the highest
 * seen), read from its map every tick once it is in the soft zone, else
 * every SEQ_READ_NS: from below the soft mark to the hard one takes 2^28 -
 * 2^16 numbers, more than 5 s at 50 million packets per second.
 */
#define SEQ_READ_NS	(5 * 1000000000ull)

static uint64_t seq_now(struct daemon *d, struct sa *sa, uint64_t now)
{
	if (sa->c.sa_flags & ESPTAG_SA_F_ESN)
		return 0;
	if (!sa->seq_at_ns || now - sa->seq_at_ns >= SEQ_READ_NS ||
	    sa->seq > 0xffffffffull - ESPTAG_SEQ32_SOFT_LEFT) {
		sa->seq = map_seq(d, sa);
		sa->seq_at_ns = now;
	}
	return sa->seq;
}

void sad_life_tick(struct daemon *d)
{
	uint64_t now = now_ns();
	struct sa *list[256];
	uint16_t why[256];
	bool gone[256];
	size_t n = 0, k, seen = 0;

	spi_res_expire(d, now);
	if (!d->reconciled)
		return;
	for (size_t s = 0; s < d->sa_cap && seen < d->sa_count && n < 256; s++) {
		struct sa *sa = &d->sas[s];
		struct esptag_sa_life l = {};
		uint64_t seq;
		int r;

		if (!sa->used)
			continue;
		seen++;
		if (sa->c.sa_index == ESPTAG_SA_INDEX_NONE)
			continue;
		if (sa->c.hard_bytes || sa->c.hard_packets || sa->c.soft_bytes || sa->c.soft_packets)
			life_read(d, sa->c.sa_index, &l);
		seq = seq_now(d, sa, now);
		if (!sa->soft_done && (r = soft_reached(sa, &l, seq, now))) {
			sa->soft_done = true;
			monitor_event(d, ESPTAG_EV_SA_SOFT_EXPIRED, &sa->c,
				      r == ESPTAG_LIMIT_BYTES ? l.bytes :
				      r == ESPTAG_LIMIT_PACKETS ? l.packets :
				      r == ESPTAG_LIMIT_SEQ ? seq : (now - sa->added_ns) / 1000000000ull,
				      0, r);
			log_info("SA spi 0x%08x dir %s: soft limit (%s) reached",
				 sa->c.spi, sa->c.dir == ESPTAG_DIR_IN ? "in" : "out",
				 r == ESPTAG_LIMIT_TIME ? "time" : r == ESPTAG_LIMIT_BYTES ? "bytes" :
				 r == ESPTAG_LIMIT_PACKETS ? "packets" : "sequence numbers");
		}
		if ((r = hard_reached(sa, &l, seq, now))) {
			why[n] = r;
			list[n++] = sa;
		}
	}
	if (!n || !link_reachable(d))
		return;
	for (size_t i = 0; i < n; i++)
		list[i]->leaving = true;	/* policies by reqid move off first */
	spd_refresh(d);
	agent_del(d, d->chan.port, list, n, gone);
	for (size_t i = 0; i < n; i++)
		if (!gone[i])
			list[i]->leaving = false;
		else
			monitor_event(d, ESPTAG_EV_SA_EXPIRED, &list[i]->c, 0, 0, why[i]);
	k = drop_confirmed(d, list, n, gone, ESPTAG_EV_SA_REMOVED);
	spd_refresh(d);
	log_info("%zu SA(s) reached a hard limit and were removed", k);
}

