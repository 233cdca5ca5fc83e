// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policies -> the two-level LPM of include/esptag/maps.h.
 *
 * esptag_spd maps (dir, family, destination prefix) to a node; esptag_spd_src
 * maps (node, source prefix) to the policy. A node's parent is the node of
 * the longest shorter destination prefix (same dir and family) containing
 * it, so that a source miss falls back to the less specific destination.
 * Parents are recomputed on every node change; writes are ordered so that a
 * concurrent lookup sees either the old or the new decision, never a hole.
 *
 * A host policy (full-length source and destination) is also written to
 * esptag_spd_host, the exact-match hash the data path looks in first, with
 * the same value: after its esptag_spd_src element on a write, before it on
 * a delete, so that the hash never holds a policy the LPM does not. The
 * LPM holds every policy: where a hash entry cannot be written it is
 * removed, and lookups of that pair take the LPM (slower, same answer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "esptagd.h"
#include "spd.h"

int spd_init(struct daemon *d)
{
	d->pol_cap = ESPTAG_SPD_MAX;
	d->pols = calloc(d->pol_cap, sizeof(*d->pols));
	d->nodes = calloc(d->pol_cap, sizeof(*d->nodes));
	d->next_pol_id = 1;
	d->next_node_id = 1;
	return d->pols && d->nodes ? 0 : -1;
}

void spd_free(struct daemon *d)
{
	free(d->pols);
	free(d->nodes);
}

static bool prefix_contains(const uint8_t *net, uint8_t plen, const uint8_t *addr)
{
	for (unsigned int bit = 0; bit < plen; bit++) {
		uint8_t m = 0x80 >> (bit % 8);

		if ((net[bit / 8] & m) != (addr[bit / 8] & m))
			return false;
	}
	return true;
}

void node_key(const struct node *n, struct esptag_spd_key *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 32 + n->plen;
	k->dir = n->dir;
	k->family = n->family;
	memcpy(k->daddr, n->addr, 16);
}

int node_write(struct daemon *d, const struct node *n)
{
	struct esptag_spd_key k;
	struct esptag_spd_node v = { .id = n->id, .parent = n->parent,
				     .parent_prefixlen = n->parent_keylen };

	node_key(n, &k);
	return bpf_map_update_elem(d->bpf.map_fd[M_SPD], &k, &v, BPF_ANY);
}

static const struct node *best_parent(struct daemon *d, const struct node *n,
				      const struct node *skip)
{
	const struct node *best = NULL;

	for (size_t j = 0; j < d->pol_cap; j++) {
		const struct node *m = &d->nodes[j];

		if (!m->used || m == skip || m == n || m->dir != n->dir ||
		    m->family != n->family || m->plen >= n->plen ||
		    !prefix_contains(m->addr, m->plen, n->addr))
			continue;
		if (!best || m->plen > best->plen)
			best = m;
	}
	return best;
}

void set_parent(struct daemon *d, struct node *n, const struct node *skip)
{
	const struct node *best = best_parent(d, n, skip);

	n->parent = best ? best->id : ESPTAG_SPD_NODE_NONE;
	n->parent_keylen = best ? 32 + best->plen : 0;
}

/* Recompute every parent; skip = a node about to go. Writes changed ones. */
void reparent(struct daemon *d, const struct node *skip)
{
	for (size_t i = 0; i < d->pol_cap; i++) {
		struct node *n = &d->nodes[i];
		uint32_t parent, keylen;

		if (!n->used || n == skip)
			continue;
		parent = n->parent;
		keylen = n->parent_keylen;
		set_parent(d, n, skip);
		if (parent != n->parent || keylen != n->parent_keylen) {
			if (node_write(d, n))
				log_err("esptag_spd: cannot update node %u: %s", n->id, strerror(errno));
		}
	}
}

/* Nodes of m's dir and family whose prefix holds m's (m included): the
 * nodes a lookup landing on m may walk, most specific first. */
static unsigned int chain_len(struct daemon *d, const struct node *m)
{
	unsigned int n = 0;

	for (size_t i = 0; i < d->pol_cap; i++) {
		const struct node *k = &d->nodes[i];

		if (k->used && k->dir == m->dir && k->family == m->family && k->plen <= m->plen &&
		    prefix_contains(k->addr, k->plen, m->addr))
			n++;
	}
	return n;
}

/*
 * The data path walks at most ESPTAG_SPD_DEPTH nodes from the most specific
 * destination and treats a longer walk as no policy at all: a protect rule
 * further up would be skipped and its traffic sent in clear. So a new node
 * (already marked used) must not make any chain through it longer.
 */
bool too_deep(struct daemon *d, const struct node *n)
{
	for (size_t i = 0; i < d->pol_cap; i++) {
		const struct node *m = &d->nodes[i];

		if (!m->used || m->dir != n->dir || m->family != n->family || m->plen < n->plen ||
		    !prefix_contains(n->addr, n->plen, m->addr))
			continue;
		if (chain_len(d, m) > ESPTAG_SPD_DEPTH)
			return true;
	}
	return false;
}

struct node *node_find(struct daemon *d, uint8_t dir, uint8_t family, uint8_t plen,
		       const uint8_t *addr)
{
	for (size_t i = 0; i < d->pol_cap; i++) {
		struct node *n = &d->nodes[i];

		if (n->used && n->dir == dir && n->family == family && n->plen == plen &&
		    !memcmp(n->addr, addr, 16))
			return n;
	}
	return NULL;
}

static struct node *node_by_id(struct daemon *d, uint32_t id)
{
	for (size_t i = 0; i < d->pol_cap; i++)
		if (d->nodes[i].used && d->nodes[i].id == id)
			return &d->nodes[i];
	return NULL;
}

struct node *node_alloc(struct daemon *d)
{
	for (size_t i = 0; i < d->pol_cap; i++)
		if (!d->nodes[i].used) {
			memset(&d->nodes[i], 0, sizeof(d->nodes[i]));
			d->nodes[i].used = true;
			return &d->nodes[i];
		}
	return NULL;
}

void src_key(const struct pol *p, const struct node *n, struct esptag_spd_src_key *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 32 + p->c.src_plen;
	k->node = n->id;
	memcpy(k->saddr, p->c.src, 16);
}

/* Source and destination full length (/32, /128): a host policy, also in
 * esptag_spd_host. */
bool pol_is_host(const struct esptag_ctl_policy *c)
{
	uint8_t full = c->family == 4 ? 32 : 128;

	return (c->family == 4 || c->family == 6) && c->src_plen == full && c->dst_plen == full;
}

void host_key(const struct esptag_ctl_policy *c, struct esptag_spd_host_key *k)
{
	memset(k, 0, sizeof(*k));
	k->dir = c->dir;
	k->family = c->family;
	memcpy(k->saddr, c->src, 16);
	memcpy(k->daddr, c->dst, 16);
}

/*
 * A host policy's esptag_spd_host entry, v (its esptag_spd_src value). An
 * update of a present key swaps the element in one step. Where it cannot
 * be written, the entry goes (lookups fall back to the LPM, which holds v).
 */
static void host_write(struct daemon *d, const struct pol *p, const struct esptag_policy *v)
{
	int fd = d->bpf.map_fd[M_SPD_HOST];
	struct esptag_spd_host_key k;
	int e;

	if (fd < 0 || !pol_is_host(&p->c))
		return;
	/* The data path looks in the hash only with the flag set. */
	cfg_set_flag(d, ESPTAG_CFGF_SPD_HOST, true);
	host_key(&p->c, &k);
	if (!bpf_map_update_elem(fd, &k, v, BPF_ANY))
		return;
	e = errno;
	if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
		log_err("esptag_spd_host: policy %u: cannot write its entry (%s) nor remove it (%s): lookups of its host pair may see its previous value",
			p->c.id, strerror(e), strerror(errno));
	else
		log_warn("esptag_spd_host: policy %u: cannot write its entry (%s): its host pair is looked up in the LPM",
			 p->c.id, strerror(e));
}

/*
 * Write a policy's esptag_spd_src element, then (host policy) its
 * esptag_spd_host entry. On a present key the LPM trie swaps the element in
 * one step (the data path reads the old or the new value), and so does the
 * hash: a policy is rewritten in place, never deleted and re-added. Fails
 * only when the LPM cannot be written (nothing changed then).
 */
int pol_write(struct daemon *d, const struct pol *p)
{
	const struct node *n = &d->nodes[p->node - 1];
	struct esptag_spd_src_key k;
	struct esptag_policy v = {
		.action = p->c.action,
		.flags = (pol_follows_reqid(&p->c) ? ESPTAG_POLF_TRAP : 0) |
			 (pol_has_in_tmpl(&p->c) ? ESPTAG_POLF_TMPL : 0),
		.spi = htonl(p->c.spi),
		.sa_index = p->c.sa_index,
		.id = p->c.id,
	};

	src_key(p, n, &k);
	if (bpf_map_update_elem(d->bpf.map_fd[M_SPD_SRC], &k, &v, BPF_ANY))
		return -1;
	host_write(d, p, &v);
	return 0;
}

/* Remove a policy's elements: its esptag_spd_host entry first, then its
 * esptag_spd_src element. */
int pol_unwrite(struct daemon *d, const struct pol *p)
{
	const struct node *n = &d->nodes[p->node - 1];
	struct esptag_spd_src_key k;
	struct esptag_spd_host_key hk;
	int fd = d->bpf.map_fd[M_SPD_HOST];

	if (fd >= 0 && pol_is_host(&p->c)) {
		host_key(&p->c, &hk);
		if (bpf_map_delete_elem(fd, &hk) && errno != ENOENT)
			log_err("esptag_spd_host: policy %u: delete: %s", p->c.id, strerror(errno));
	}
	src_key(p, n, &k);
	if (bpf_map_delete_elem(d->bpf.map_fd[M_SPD_SRC], &k) && errno != ENOENT) {
		log_err("esptag_spd_src: policy %u: delete: %s", p->c.id, strerror(errno));
		return -1;
	}
	return 0;
}

bool pol_is_out_protect(const struct esptag_ctl_policy *c)
{
	return c->action == ESPTAG_ACT_PROTECT && c->dir == ESPTAG_DIR_OUT;
}

/*
 * A policy named by reqid without an SPI follows its reqid (ctl.h): the
 * newest fitting SA, never bound. Reqids are chosen by this host's IKE
 * daemon, not by peers, so following one cannot be steered from outside.
 */
bool pol_follows_reqid(const struct esptag_ctl_policy *c)
{
	return pol_is_out_protect(c) && (c->tmpl_flags & ESPTAG_CTL_TMPL_REQID) && !c->spi;
}

/* An inbound protect policy with a template: esptag_rx checks the SA that
 * decrypted the traffic it covers (reqid, mode, addresses), as XFRM does. */
bool pol_has_in_tmpl(const struct esptag_ctl_policy *c)
{
	return c->action == ESPTAG_ACT_PROTECT && c->dir == ESPTAG_DIR_IN &&
	       (c->tmpl_flags || c->tmpl_mode);
}

/* The esptag_pol_tmpl entry of an inbound policy with a template. */
int tmpl_write(struct daemon *d, const struct esptag_ctl_policy *c)
{
	struct esptag_pol_tmpl t = {
		.reqid = c->reqid, .mode = c->tmpl_mode, .family = c->tmpl_family,
		.flags = (c->tmpl_flags & ESPTAG_CTL_TMPL_REQID ? ESPTAG_TMPLF_REQID : 0) |
			 (c->tmpl_flags & ESPTAG_CTL_TMPL_SRC ? ESPTAG_TMPLF_SRC : 0) |
			 (c->tmpl_flags & ESPTAG_CTL_TMPL_DST ? ESPTAG_TMPLF_DST : 0),
	};
	uint32_t id = c->id;

	if (d->bpf.map_fd[M_POL_TMPL] < 0) {
		errno = EOPNOTSUPP;
		return -1;
	}
	memcpy(t.saddr, c->tmpl_src, 16);
	memcpy(t.daddr, c->tmpl_dst, 16);
	return bpf_map_update_elem(d->bpf.map_fd[M_POL_TMPL], &id, &t, BPF_ANY);
}

/* esptag_cfg's SPD_HOST: set while any host policy exists (esptag_spd_host
 * has entries), so that prefix-only policy sets cost no hash miss. Clearing
 * it never changes a decision: the LPM holds every policy. */
void host_flag_sync(struct daemon *d)
{
	bool any = false;

	if (d->bpf.map_fd[M_SPD_HOST] < 0)
		return;
	for (size_t i = 0; i < d->pol_cap && !any; i++)
		any = d->pols[i].used && pol_is_host(&d->pols[i].c);
	cfg_set_flag(d, ESPTAG_CFGF_SPD_HOST, any);
}

/* esptag_cfg's IN_TMPL: set while any inbound policy has a template, so
 * that decrypted packets cost a policy lookup only then. */
void in_tmpl_sync(struct daemon *d)
{
	bool any = false;

	for (size_t i = 0; i < d->pol_cap && !any; i++)
		any = d->pols[i].used && pol_has_in_tmpl(&d->pols[i].c);
	cfg_set_flag(d, ESPTAG_CFGF_IN_TMPL, any);
}

/*
 * Does outbound SA sa fit what policy c names: SPI and/or reqid, and the
 * template's addresses and mode when given? Without a template address the
 * SA must be of the policy's family (transport mode, or tunnel of that
 * outer family).
 */
static bool tmpl_match(const struct esptag_ctl_policy *c, const struct sa *sa)
{
	if (!sa->used || sa->leaving || sa->c.dir != ESPTAG_DIR_OUT ||
	    sa->c.sa_index == ESPTAG_SA_INDEX_NONE)
		return false;
	if (c->spi && sa->c.spi != c->spi)
		return false;
	if ((c->tmpl_flags & ESPTAG_CTL_TMPL_REQID) && sa->c.reqid != c->reqid)
		return false;
	if (c->tmpl_mode && sa->c.mode != c->tmpl_mode)
		return false;
	if (c->tmpl_flags & (ESPTAG_CTL_TMPL_SRC | ESPTAG_CTL_TMPL_DST)) {
		if (sa->c.family != c->tmpl_family)
			return false;
		if ((c->tmpl_flags & ESPTAG_CTL_TMPL_SRC) && memcmp(sa->c.saddr, c->tmpl_src, 16))
			return false;
		if ((c->tmpl_flags & ESPTAG_CTL_TMPL_DST) && memcmp(sa->c.daddr, c->tmpl_dst, 16))
			return false;
	} else if (sa->c.family != c->family) {
		return false;
	}
	return true;
}

/* Outbound SAs that fit c: the count, and the first two. */
size_t tmpl_candidates(struct daemon *d, const struct esptag_ctl_policy *c,
		       const struct sa **two)
{
	size_t n = 0;

	two[0] = two[1] = NULL;
	for (size_t s = 0; s < d->sa_cap; s++) {
		const struct sa *sa = &d->sas[s];

		if (!tmpl_match(c, sa))
			continue;
		if (n < 2)
			two[n] = sa;
		n++;
	}
	return n;
}

static void bind_to(struct pol *p, const struct sa *sa)
{
	memset(&p->bind, 0, sizeof(p->bind));
	p->bind.family = sa->c.family;
	p->bind.spi = sa->c.spi;
	memcpy(p->bind.daddr, sa->c.daddr, 16);
	p->bind.nvlans = sa->c.nvlans;
	memcpy(p->bind.vid, sa->c.vid, sizeof(p->bind.vid));
	p->bound = true;
}

/*
 * The newest outbound SA that fits a policy following its reqid (highest
 * gen; SAs adopted after a restart have none: the higher index wins
 * among them, any added SA beats them).
 */
static uint32_t newest_sa(struct daemon *d, const struct esptag_ctl_policy *c)
{
	const struct sa *best = NULL;

	for (size_t s = 0; s < d->sa_cap; s++) {
		const struct sa *sa = &d->sas[s];

		if (!tmpl_match(c, sa))
			continue;
		if (!best || sa->gen > best->gen ||
		    (sa->gen == best->gen && sa->c.sa_index > best->c.sa_index))
			best = sa;
	}
	return best ? best->c.sa_index : ESPTAG_SA_INDEX_NONE;
}

/*
 * The SA index a policy uses. An outbound protect policy is bound to one SA
 * (its identity: dst, SPI, family, VLANs) the first time exactly one SA fits
 * what the policy names, and stays bound: when that SA goes, the policy
 * fails closed until the same SA comes back (re-install, re-add) or the
 * policy is updated. It never moves to another SA that happens to share
 * the SPI. Several fitting SAs and no binding: unresolved (fails closed).
 * A policy that follows its reqid is never bound: the newest fitting SA.
 */
uint32_t resolve_sa(struct daemon *d, struct pol *p)
{
	const struct sa *two[2];
	size_t n;

	if (!pol_is_out_protect(&p->c) || p->lost)
		return ESPTAG_SA_INDEX_NONE;
	if (pol_follows_reqid(&p->c))
		return newest_sa(d, &p->c);
	if (p->bound) {
		struct esptag_ctl_sa k = { .dir = ESPTAG_DIR_OUT, .family = p->bind.family,
					   .nvlans = p->bind.nvlans, .spi = p->bind.spi };
		const struct sa *sa;

		memcpy(k.vid, p->bind.vid, sizeof(k.vid));
		memcpy(k.daddr, p->bind.daddr, 16);
		sa = sad_find(d, &k);
		return sa && tmpl_match(&p->c, sa) ? sa->c.sa_index : ESPTAG_SA_INDEX_NONE;
	}
	n = tmpl_candidates(d, &p->c, two);
	if (n == 1) {
		bind_to(p, two[0]);
		p->warned = false;
		return two[0]->c.sa_index;
	}
	if (n > 1 && !p->warned) {
		char a0[64], a1[64];

		log_warn("policy %u: spi 0x%08x fits %zu outbound SAs (dst %s, dst %s, ...): it stays unresolved and drops its traffic; name one with esptag policy update ... tmpl dst PEER",
			 p->c.id, p->c.spi, n,
			 esptag_addr_str(two[0]->c.family, two[0]->c.daddr, a0, sizeof(a0)),
			 esptag_addr_str(two[1]->c.family, two[1]->c.daddr, a1, sizeof(a1)));
		p->warned = true;
	}
	return ESPTAG_SA_INDEX_NONE;
}

/*
 * A policy recovered from the pinned maps knows its SA index but not what
 * named the SA: once the SAs are reconciled, bind it to the SA at that
 * index (and show that SA's dst as its template). If no such SA is left,
 * the daemon cannot tell which peer the policy meant: it stays unresolved
 * rather than guess.
 */
static void bind_recovered(struct daemon *d, struct pol *p)
{
	const struct sa *sa = p->c.sa_index != ESPTAG_SA_INDEX_NONE ?
			      sad_by_index(d, p->c.sa_index) : NULL;

	p->recovered = false;
	if (p->trap_recovered) {
		/* It followed a reqid: the SA it was on tells which. */
		if (sa && sa->used && sa->c.dir == ESPTAG_DIR_OUT) {
			p->c.spi = 0;
			p->c.tmpl_flags = ESPTAG_CTL_TMPL_REQID | ESPTAG_CTL_TMPL_DST;
			p->c.reqid = sa->c.reqid;
			p->c.tmpl_family = sa->c.family;
			memcpy(p->c.tmpl_dst, sa->c.daddr, 16);
			return;
		}
		p->lost = true;
		log_notice("policy %u: it followed a reqid but had no SA when esptagd restarted; which reqid is unknown, so its traffic is dropped until esptag policy update names it",
			   p->c.id);
		return;
	}
	if (sa && sa->used && sa->c.dir == ESPTAG_DIR_OUT && (!p->c.spi || sa->c.spi == p->c.spi)) {
		bind_to(p, sa);
		p->c.tmpl_flags |= ESPTAG_CTL_TMPL_DST;
		p->c.tmpl_family = sa->c.family;
		memcpy(p->c.tmpl_dst, sa->c.daddr, 16);
		return;
	}
	p->lost = true;
	log_notice("policy %u: its SA (spi 0x%08x) was gone when esptagd restarted; which peer it named is unknown, so its traffic is dropped until esptag policy update names the SA",
		   p->c.id, p->c.spi);
}

/* Trap policy id may raise an acquire again (esptag_acq_pend = 0). */
void acq_rearm(struct daemon *d, uint32_t id)
{
	uint64_t zero = 0;

	if (d->bpf.map_fd[M_ACQ_PEND] >= 0 &&
	    bpf_map_update_elem(d->bpf.map_fd[M_ACQ_PEND], &id, &zero, BPF_ANY))
		log_warn("esptag_acq_pend: policy %u: %s", id, strerror(errno));
}

/* The per-policy maps' entries of a new policy (use; trap: acquire state). */
void pol_maps_add(struct daemon *d, const struct pol *p)
{
	uint32_t id = p->c.id;

	if (d->bpf.map_fd[M_POL_USE] >= 0) {
		size_t n = d->bpf.ncpus > 0 ? d->bpf.ncpus : 1;
		struct esptag_pol_use *z = calloc(n, sizeof(*z));

		if (!z || bpf_map_update_elem(d->bpf.map_fd[M_POL_USE], &id, z, BPF_NOEXIST))
			log_debug("esptag_pol_use: policy %u: %s", id, z ? strerror(errno) : "no memory");
		free(z);
	}
	if (pol_follows_reqid(&p->c))
		acq_rearm(d, id);
}

void pol_maps_del(struct daemon *d, uint32_t id)
{
	if (d->bpf.map_fd[M_POL_USE] >= 0)
		bpf_map_delete_elem(d->bpf.map_fd[M_POL_USE], &id);
	if (d->bpf.map_fd[M_ACQ_PEND] >= 0)
		bpf_map_delete_elem(d->bpf.map_fd[M_ACQ_PEND], &id);
	if (d->bpf.map_fd[M_POL_TMPL] >= 0)
		bpf_map_delete_elem(d->bpf.map_fd[M_POL_TMPL], &id);
}

/*
 * The last packet through a policy, from esptag_pol_use (per CPU, the data
 * path's CLOCK_MONOTONIC), as CLOCK_REALTIME seconds; 0 = none.
 */
uint64_t pol_use_time(struct daemon *d, uint32_t id)
{
	size_t n = d->bpf.ncpus > 0 ? d->bpf.ncpus : 1;
	struct esptag_pol_use *v;
	uint64_t last = 0, mono, real;
	struct timespec ts;

	if (d->bpf.map_fd[M_POL_USE] < 0 || !(v = calloc(n, sizeof(*v))))
		return 0;
	if (!bpf_map_lookup_elem(d->bpf.map_fd[M_POL_USE], &id, v))
		for (size_t i = 0; i < n; i++)
			if (v[i].last_ns > last)
				last = v[i].last_ns;
	free(v);
	if (!last)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	mono = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	clock_gettime(CLOCK_REALTIME, &ts);
	real = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	if (last > mono)
		last = mono;
	return (real - (mono - last)) / 1000000000ull;
}

void spd_refresh(struct daemon *d)
{
	for (size_t i = 0; i < d->pol_cap; i++) {
		struct pol *p = &d->pols[i];
		uint32_t idx;

		if (!p->used || !pol_is_out_protect(&p->c))
			continue;
		if (p->recovered) {
			if (!d->reconciled)
				continue;	/* the maps keep what they had */
			bind_recovered(d, p);
		}
		idx = resolve_sa(d, p);
		if (idx == p->c.sa_index)
			continue;
		p->c.sa_index = idx;
		/* One update of an existing key: atomic for the data path. */
		if (pol_write(d, p))
			log_err("esptag_spd_src: cannot update policy %u: %s", p->c.id, strerror(errno));
		else if (pol_follows_reqid(&p->c) && idx != ESPTAG_SA_INDEX_NONE)
			acq_rearm(d, p->c.id);	/* an SA is there: the next trap hit may ask again */
		else if (pol_follows_reqid(&p->c))
			log_info("policy %u: no outbound SA with reqid %u left; a trap again (acquires)",
				 p->c.id, p->c.reqid);
		else if (idx == ESPTAG_SA_INDEX_NONE)
			log_notice("policy %u: its SA (spi 0x%08x) is gone; its traffic is dropped until that SA is added again",
				   p->c.id, p->c.spi);
	}
}

/* An inbound policy's template back from esptag_pol_tmpl (restart). */
static void tmpl_recover(struct daemon *d, struct pol *p)
{
	struct esptag_pol_tmpl t;
	uint32_t id = p->c.id;

	if (d->bpf.map_fd[M_POL_TMPL] < 0 ||
	    bpf_map_lookup_elem(d->bpf.map_fd[M_POL_TMPL], &id, &t)) {
		/* The data path drops what it covers (no template: fail closed). */
		log_warn("policy %u: its template is gone from esptag_pol_tmpl; decrypted traffic it covers is dropped until esptag policy update",
			 id);
		return;
	}
	p->c.reqid = t.flags & ESPTAG_TMPLF_REQID ? t.reqid : 0;
	p->c.tmpl_mode = t.mode;
	p->c.tmpl_flags = (t.flags & ESPTAG_TMPLF_REQID ? ESPTAG_CTL_TMPL_REQID : 0) |
			  (t.flags & ESPTAG_TMPLF_SRC ? ESPTAG_CTL_TMPL_SRC : 0) |
			  (t.flags & ESPTAG_TMPLF_DST ? ESPTAG_CTL_TMPL_DST : 0);
	p->c.tmpl_family = t.flags & (ESPTAG_TMPLF_SRC | ESPTAG_TMPLF_DST) ? t.family : 0;
	if (t.flags & ESPTAG_TMPLF_SRC)
		memcpy(p->c.tmpl_src, t.saddr, 16);
	if (t.flags & ESPTAG_TMPLF_DST)
		memcpy(p->c.tmpl_dst, t.daddr, 16);
}

/*
 * After a restart: esptag_spd_host holds no entry but the recovered host
 * policies' (a daemon that stopped between the two deletes of a policy
 * left one behind). The recovered ones were just written from the LPM.
 */
static void host_recover(struct daemon *d)
{
	int fd = d->bpf.map_fd[M_SPD_HOST];
	struct esptag_spd_host_key k, nk, *kp = NULL, *stale = NULL;
	size_t nstale = 0, cap = 0;

	if (fd < 0)
		return;
	while (!bpf_map_get_next_key(fd, kp, &nk)) {
		struct esptag_ctl_policy c = { .dir = nk.dir, .family = nk.family };
		struct pol *p;

		k = nk;
		kp = &k;
		c.src_plen = c.dst_plen = nk.family == 4 ? 32 : 128;
		memcpy(c.src, nk.saddr, 16);
		memcpy(c.dst, nk.daddr, 16);
		p = pol_find(d, &c);
		if (p && pol_is_host(&p->c))
			continue;
		if (nstale == cap) {
			void *m = realloc(stale, (cap = cap ? cap * 2 : 16) * sizeof(*stale));

			if (!m)
				break;
			stale = m;
		}
		stale[nstale++] = nk;
	}
	for (size_t i = 0; i < nstale; i++)
		if (bpf_map_delete_elem(fd, &stale[i]) && errno != ENOENT)
			log_err("esptag_spd_host: cannot remove an entry of no policy: %s", strerror(errno));
	if (nstale)
		log_notice("esptag_spd_host: removed %zu entries of no policy", nstale);
	free(stale);
}

/* Rebuild the policy database from pinned maps (daemon restart). */
int spd_recover(struct daemon *d)
{
	struct esptag_spd_key k, nk;
	struct esptag_spd_src_key sk, snk;
	struct esptag_spd_node nv;
	struct esptag_policy pv;
	size_t nn = 0, np = 0;
	int fd = d->bpf.map_fd[M_SPD], sfd = d->bpf.map_fd[M_SPD_SRC];

	if (!bpf_map_get_next_key(fd, NULL, &k)) {
		do {
			struct node *n;

			if (bpf_map_lookup_elem(fd, &k, &nv) || k.prefixlen < 32 ||
			    !(n = node_alloc(d)))
				continue;
			n->id = nv.id;
			n->parent = nv.parent;
			n->parent_keylen = nv.parent_prefixlen;
			n->dir = k.dir;
			n->family = k.family;
			n->plen = k.prefixlen - 32;
			memcpy(n->addr, k.daddr, 16);
			if (n->id >= d->next_node_id)
				d->next_node_id = n->id + 1;
			nn++;
		} while (!bpf_map_get_next_key(fd, &k, &nk) && (k = nk, 1));
	}
	if (!bpf_map_get_next_key(sfd, NULL, &sk)) {
		do {
			struct node *n;
			struct pol *p = NULL;

			if (bpf_map_lookup_elem(sfd, &sk, &pv) || sk.prefixlen < 32 ||
			    !(n = node_by_id(d, sk.node)))
				continue;
			for (size_t i = 0; i < d->pol_cap && !p; i++)
				if (!d->pols[i].used)
					p = &d->pols[i];
			if (!p)
				break;
			memset(p, 0, sizeof(*p));
			p->used = true;
			snprintf(p->c.dev, sizeof(p->c.dev), "%s", d->dev);
			p->c.dir = n->dir;
			p->c.family = n->family;
			p->c.action = pv.action;
			p->c.src_plen = sk.prefixlen - 32;
			p->c.dst_plen = n->plen;
			p->c.spi = ntohl(pv.spi);
			p->c.sa_index = pv.sa_index;
			p->c.id = pv.id;
			memcpy(p->c.src, sk.saddr, 16);
			memcpy(p->c.dst, n->addr, 16);
			p->node = n - d->nodes + 1;
			/* What named its SA is not in the maps: bound once reconciled. */
			p->recovered = pol_is_out_protect(&p->c);
			p->trap_recovered = pv.flags & ESPTAG_POLF_TRAP;
			if (pv.flags & ESPTAG_POLF_TMPL)
				tmpl_recover(d, p);
			/* The LPM element is written first: it is the newer one. */
			host_write(d, p, &pv);
			n->refs++;
			if (pv.id >= d->next_pol_id)
				d->next_pol_id = pv.id + 1;
			np++;
		} while (!bpf_map_get_next_key(sfd, &sk, &snk) && (sk = snk, 1));
	}
	host_recover(d);
	host_flag_sync(d);
	if (nn || np)
		log_notice("recovered %zu policies (%zu destination nodes) from the pinned maps", np, nn);
	in_tmpl_sync(d);
	return 0;
}

