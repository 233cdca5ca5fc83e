// SPDX-License-Identifier: GPL-2.0-only
/*
 * The SA database and its mirror in the BPF maps.
 *
 * Rules:
 *  - an SA enters esptag_sad/esptag_seq/esptag_replay only after the agent
 *    answered OK to its ADD_SA; a request that fails anywhere (agent refusal,
 *    timeout, map update) is rolled back everywhere (DEL_SA of what the agent
 *    did take), so nothing is left behind;
 *  - keys live only in d->sas (mlocked, excluded from core dumps) and are
 *    zeroed when an SA goes; the agent's replies carry none;
 *  - an agent epoch change (restart) re-installs every SA we hold a key for,
 *    keeping its Rx replay window, and starting its Tx counter above every
 *    number the old agent may have used (its IVDB runs ahead of the host's
 *    counter), so that no GCM nonce is ever reused with the same key; the
 *    start is kept in esptag_seq.base (docs/protocol.md 2.5);
 *  - at daemon start the pinned maps and the agent's DUMP_SA are reconciled:
 *    SAs present in both (same index, SPI, dst, dir) are adopted without key
 *    (they keep running, but cannot be re-installed after an agent restart),
 *    agent SAs unknown to the maps are deleted, stale map entries removed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "esptagd.h"

#define SA_PER_FRAME	((ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr)) / sizeof(struct esptag_rec_sa))
#define REF_PER_FRAME	((ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr)) / sizeof(struct esptag_rec_sa_ref))
#define STATS_PER_FRAME	((ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr)) / sizeof(struct esptag_rec_sa_stats))

/* ---- table ---------------------------------------------------------------- */

int sad_init(struct daemon *d, size_t cap)
{
	d->sa_cap = cap;
	d->sa_bytes = cap * sizeof(struct sa);
	d->sas = mmap(NULL, d->sa_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->sas == MAP_FAILED) {
		d->sas = NULL;
		return -1;
	}
	madvise(d->sas, d->sa_bytes, MADV_DONTDUMP);
	if (mlock(d->sas, d->sa_bytes))
		log_warn("cannot mlock the SA table (%s): keys may be swapped out", strerror(errno));
	d->sa_free = malloc(cap * sizeof(uint32_t));
	d->hsize = 1;
	while (d->hsize < cap)
		d->hsize <<= 1;
	d->hkey = calloc(d->hsize, sizeof(uint32_t));
	d->hidx = calloc(d->hsize, sizeof(uint32_t));
	if (!d->sa_free || !d->hkey || !d->hidx)
		return -1;
	for (size_t i = 0; i < cap; i++)
		d->sa_free[i] = cap - 1 - i;
	d->nfree = cap;
	return 0;
}

void sad_free(struct daemon *d)
{
	if (d->sas) {
		explicit_bzero(d->sas, d->sa_bytes);
		munlock(d->sas, d->sa_bytes);
		munmap(d->sas, d->sa_bytes);
	}
	free(d->sa_free);
	free(d->hkey);
	free(d->hidx);
}

static uint32_t key_hash(uint8_t family, uint8_t dir, uint32_t spi, const uint8_t *daddr,
			 uint8_t nvlans, const uint16_t *vid)
{
	uint32_t h = 2166136261u;
	uint8_t buf[32];

	buf[0] = family;
	buf[1] = dir;
	memcpy(buf + 2, &spi, 4);
	memcpy(buf + 6, daddr, 16);
	buf[22] = nvlans;
	memcpy(buf + 23, vid, 4);
	for (int i = 0; i < 27; i++)
		h = (h ^ buf[i]) * 16777619u;
	return h;
}

static uint32_t sa_hash(const struct esptag_ctl_sa *c)
{
	return key_hash(c->family, c->dir, c->spi, c->daddr, c->nvlans, c->vid);
}

static bool same_key(const struct esptag_ctl_sa *a, const struct esptag_ctl_sa *b)
{
	return a->family == b->family && a->dir == b->dir && a->spi == b->spi &&
	       !memcmp(a->daddr, b->daddr, 16) && a->nvlans == b->nvlans &&
	       !memcmp(a->vid, b->vid, sizeof(a->vid));
}

static struct sa *find_key(struct daemon *d, const struct esptag_ctl_sa *c)
{
	for (uint32_t s = d->hkey[sa_hash(c) & (d->hsize - 1)]; s; s = d->sas[s - 1].hnext)
		if (same_key(&d->sas[s - 1].c, c))
			return &d->sas[s - 1];
	return NULL;
}

struct sa *sad_find(struct daemon *d, const struct esptag_ctl_sa *c)
{
	return find_key(d, c);
}

struct sa *sad_by_index(struct daemon *d, uint32_t idx)
{
	uint32_t h = (idx * 2654435761u) & (d->hsize - 1);

	for (uint32_t s = d->hidx[h]; s; s = d->sas[s - 1].inext)
		if (d->sas[s - 1].c.sa_index == idx)
			return &d->sas[s - 1];
	return NULL;
}

static void link_idx(struct daemon *d, struct sa *sa)
{
	uint32_t h = (sa->c.sa_index * 2654435761u) & (d->hsize - 1);

	sa->inext = d->hidx[h];
	d->hidx[h] = sa - d->sas + 1;
}

static void unlink_chain(struct daemon *d, uint32_t *head, struct sa *sa, bool idx)
{
	uint32_t me = sa - d->sas + 1;

	for (uint32_t *p = head; *p; p = idx ? &d->sas[*p - 1].inext : &d->sas[*p - 1].hnext) {
		if (*p == me) {
			*p = idx ? sa->inext : sa->hnext;
			return;
		}
	}
}

static void unlink_idx(struct daemon *d, struct sa *sa)
{
	if (sa->c.sa_index == ESPTAG_SA_INDEX_NONE)
		return;
	unlink_chain(d, &d->hidx[(sa->c.sa_index * 2654435761u) & (d->hsize - 1)], sa, true);
	sa->inext = 0;
}

static struct sa *sa_new(struct daemon *d, const struct esptag_ctl_sa *c, bool has_key)
{
	struct sa *sa;
	uint32_t h;

	if (!d->nfree)
		return NULL;
	sa = &d->sas[d->sa_free[--d->nfree]];
	memset(sa, 0, sizeof(*sa));
	sa->c = *c;
	sa->used = true;
	sa->has_key = has_key;
	if (!has_key) {
		explicit_bzero(sa->c.key, sizeof(sa->c.key));
		explicit_bzero(sa->c.salt, sizeof(sa->c.salt));
	}
	h = sa_hash(c) & (d->hsize - 1);
	sa->hnext = d->hkey[h];
	d->hkey[h] = sa - d->sas + 1;
	if (sa->c.sa_index != ESPTAG_SA_INDEX_NONE)
		link_idx(d, sa);
	d->sa_count++;
	d->vlan_sas += sa->c.nvlans > 0;
	return sa;
}

static void sa_release(struct daemon *d, struct sa *sa)
{
	unlink_chain(d, &d->hkey[sa_hash(&sa->c) & (d->hsize - 1)], sa, false);
	unlink_idx(d, sa);
	d->vlan_sas -= sa->c.nvlans > 0;
	explicit_bzero(sa, sizeof(*sa));
	d->sa_free[d->nfree++] = sa - d->sas;
	d->sa_count--;
}

/* ---- conversions ------------------------------------------------------- */

void sa_to_rec(const struct daemon *d, const struct esptag_ctl_sa *s, struct esptag_rec_sa *r,
	       bool with_key)
{
	memset(r, 0, sizeof(*r));
	esptag_rec_init(r, ESPTAG_REC_SA, sizeof(*r));
	r->dir = s->dir;
	r->family = s->family;
	r->proto = ESPTAG_IPPROTO_ESP;
	r->mode = s->mode;
	r->spi = htonl(s->spi);
	memcpy(r->daddr, s->daddr, 16);
	memcpy(r->saddr, s->saddr, 16);
	memcpy(r->local_mac, d->mac, 6);
	r->nvlans = s->nvlans;
	r->alg = s->alg;
	for (int i = 0; i < s->nvlans; i++) {
		/* Q-in-Q: the outer tag is 802.1ad. */
		r->vlan[i].tpid = htons(s->nvlans == 2 && i == 0 ? 0x88a8 : 0x8100);
		r->vlan[i].tci = htons(s->vid[i]);
	}
	r->key_len = s->key_len;
	r->icv_len = s->icv_len;
	r->sa_flags = s->sa_flags;
	r->replay_window = htons(s->replay_window);
	r->sa_index = htonl(ESPTAG_SA_INDEX_NONE);
	if (with_key) {
		memcpy(r->key, s->key, s->key_len);
		memcpy(r->salt, s->salt, ESPTAG_SALT_LEN);
	}
}

static void rec_to_sa(const struct daemon *d, const struct esptag_rec_sa *r,
		      struct esptag_ctl_sa *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dev, sizeof(s->dev), "%s", d->dev);
	s->dir = r->dir;
	s->family = r->family;
	s->mode = r->mode;
	s->alg = r->alg;
	s->key_len = r->key_len;
	s->icv_len = r->icv_len;
	s->sa_flags = r->sa_flags;
	s->nvlans = r->nvlans > 2 ? 2 : r->nvlans;
	for (int i = 0; i < s->nvlans; i++)
		s->vid[i] = ntohs(r->vlan[i].tci) & 0xfff;
	s->spi = ntohl(r->spi);
	s->replay_window = ntohs(r->replay_window);
	s->sa_index = ntohl(r->sa_index);
	memcpy(s->saddr, r->saddr, 16);
	memcpy(s->daddr, r->daddr, 16);
}

static const char *sa_desc(const struct esptag_ctl_sa *s, char *buf, size_t len)
{
	char a[64];

	snprintf(buf, len, "spi 0x%08x dst %s dir %s", s->spi,
		 esptag_addr_str(s->family, s->daddr, a, sizeof(a)),
		 s->dir == ESPTAG_DIR_IN ? "in" : "out");
	return buf;
}

static const char *agent_hint(int st)
{
	switch (st) {
	case ESPTAG_ST_DUPLICATE:
		return "an SA with this dst, proto, spi and domain already exists in the agent; delete it first or use another SPI";
	case ESPTAG_ST_NO_SPACE:
		return "the agent's SAD is full; delete SAs first (esptag agent status shows the capacity)";
	case ESPTAG_ST_PORT_LIMIT:
		return "this port's SA quota in the agent is used up; delete SAs first";
	case ESPTAG_ST_BAD_ALG:
		return "the agent does not support this algorithm or key length (see esptag agent status)";
	case ESPTAG_ST_BAD_RECORD:
		return "the agent rejected a field of the SA";
	case ESPTAG_ST_UNKNOWN_SA:
		return "the agent does not know this SA";
	case ESPTAG_ST_BAD_VERSION:
		return "the agent does not speak this protocol version";
	case ESPTAG_ST_BUSY:
		return "the agent is busy; try again";
	case ESPTAG_ST_NOT_PERMITTED:
		return "not permitted: a VF gets SAs only while the PF trusts it (on the host: esptag vf trust VF on)";
	default:
		return "see the agent's log";
	}
}

/* ---- maps ------------------------------------------------------------- */

static void sa_value(struct daemon *d, const struct sa *sa, struct esptag_sa *vp)
{
	memset(vp, 0, sizeof(*vp));
	vp->spi = htonl(sa->c.spi);
	vp->dir = sa->c.dir;
	vp->family = sa->c.family;
	vp->mode = sa->c.mode;
	vp->flags = ESPTAG_SAF_ALIVE;
	if (sa->c.sa_flags & ESPTAG_SA_F_ESN)
		vp->flags |= ESPTAG_SAF_ESN;
	if (sa->c.mode == ESPTAG_MODE_TUNNEL)
		vp->flags |= ESPTAG_SAF_TUNNEL;
	vp->ifindex = d->ifindex;
	memcpy(vp->local_mac, d->mac, 6);
	vp->nvlans = sa->c.nvlans;
	vp->icv_len = sa->c.icv_len;
	for (int i = 0; i < sa->c.nvlans; i++) {
		vp->vlan[i].tpid = htons(sa->c.nvlans == 2 && i == 0 ? 0x88a8 : 0x8100);
		vp->vlan[i].tci = htons(sa->c.vid[i]);
	}
	memcpy(vp->saddr, sa->c.saddr, 16);
	memcpy(vp->daddr, sa->c.daddr, 16);
	vp->replay_window = sa->c.replay_window;
	vp->reqid = sa->c.reqid;
	vp->expires_ns = sa->expires_ns;
}

/* Bytes of one slot of a per-SA map as user space reads/writes it. */
static size_t map_slot_size(struct daemon *d, int map)
{
	int ncpu = d->bpf.ncpus > 0 ? d->bpf.ncpus : 1;

	switch (map) {
	case M_SAD:
		return sizeof(struct esptag_sa);
	case M_SEQ:
		return sizeof(struct esptag_seq);
	case M_REPLAY:
		return sizeof(struct esptag_replay);
	default:	/* M_SA_STATS: one 8-byte aligned value per possible CPU */
		return (size_t)ncpu * sizeof(struct esptag_sa_stats);
	}
}

/* Empty one slot of a per-SA array map (there is no delete on an array). */
static void map_clear(struct daemon *d, int map, uint32_t idx)
{
	size_t vsz = map_slot_size(d, map);
	void *zero = calloc(1, vsz);

	if (!zero || (bpf_map_update_elem(d->bpf.map_fd[map], &idx, zero, BPF_ANY) &&
		      errno != E2BIG && errno != ENOENT))
		log_err("maps: cannot clear slot %u of map %d: %s", idx, map, strerror(errno));
	free(zero);
}

static int map_install(struct daemon *d, const struct sa *sa, const struct esptag_seq *seq,
		       const struct esptag_replay *rp)
{
	struct esptag_sa v = {};
	struct esptag_seq s0 = { .next = 1, .base = 1 };
	struct esptag_replay r0 = {};
	uint32_t idx = sa->c.sa_index;
	int ncpu = d->bpf.ncpus > 0 ? d->bpf.ncpus : 1;
	struct esptag_sa_stats st[ncpu];

	memset(st, 0, sizeof(st));
	if (sa->c.dir == ESPTAG_DIR_OUT) {
		if (bpf_map_update_elem(d->bpf.map_fd[M_SEQ], &idx, seq ? seq : &s0, BPF_ANY))
			goto fail;
	} else {
		if (bpf_map_update_elem(d->bpf.map_fd[M_REPLAY], &idx, rp ? rp : &r0, BPF_ANY))
			goto fail;
	}
	if (bpf_map_update_elem(d->bpf.map_fd[M_SA_STATS], &idx, st, BPF_ANY))
		goto fail;
	sa_value(d, sa, &v);
	if (bpf_map_update_elem(d->bpf.map_fd[M_SAD], &idx, &v, BPF_ANY))
		goto fail;
	return 0;
fail:
	log_err("maps: cannot install SA index %u: %s", idx, strerror(errno));
	map_clear(d, M_SEQ, idx);
	map_clear(d, M_REPLAY, idx);
	map_clear(d, M_SA_STATS, idx);
	return -1;
}

static void map_remove(struct daemon *d, uint32_t idx)
{
	/* The SA first, so the data path stops using it before its state goes. */
	map_clear(d, M_SAD, idx);
	map_clear(d, M_SEQ, idx);
	map_clear(d, M_REPLAY, idx);
	map_clear(d, M_SA_STATS, idx);
}

static int put_keys(struct daemon *d, int map, const uint32_t *keys, const void *vals, uint32_t n);

/*
 * Many SAs at once (bpf_map_update_batch): a 10k-SA request costs a handful
 * of syscalls instead of 40k. The per-SA maps are arrays: removing writes
 * zeroed slots (an index beyond the array is no SA: nothing to clear).
 */
static void del_keys(struct daemon *d, int map, const uint32_t *keys, uint32_t n)
{
	size_t vsz = map_slot_size(d, map);
	void *zero = n ? calloc(n, vsz) : NULL;

	if (!n)
		return;
	if (zero && !put_keys(d, map, keys, zero, n)) {
		free(zero);
		return;
	}
	free(zero);
	for (uint32_t i = 0; i < n; i++)
		map_clear(d, map, keys[i]);
}

static int put_keys(struct daemon *d, int map, const uint32_t *keys, const void *vals, uint32_t n)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	uint32_t cnt = n;

	if (!n || !bpf_map_update_batch(d->bpf.map_fd[map], keys, vals, &cnt, &o))
		return 0;
	return -1;
}

struct keysets {
	uint32_t *all, *out, *in;
	uint32_t nall, nout, nin;
};

static int keysets(struct keysets *k, struct sa **v, size_t n)
{
	memset(k, 0, sizeof(*k));
	k->all = malloc((n ? n : 1) * sizeof(uint32_t));
	k->out = malloc((n ? n : 1) * sizeof(uint32_t));
	k->in = malloc((n ? n : 1) * sizeof(uint32_t));
	if (!k->all || !k->out || !k->in)
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint32_t idx = v[i]->c.sa_index;

		if (idx == ESPTAG_SA_INDEX_NONE)
			continue;
		k->all[k->nall++] = idx;
		if (v[i]->c.dir == ESPTAG_DIR_OUT)
			k->out[k->nout++] = idx;
		else
			k->in[k->nin++] = idx;
	}
	return 0;
}

static void keysets_free(struct keysets *k)
{
	free(k->all);
	free(k->out);
	free(k->in);
}

static void map_remove_many(struct daemon *d, struct sa **v, size_t n)
{
	struct keysets k;

	if (keysets(&k, v, n)) {
		for (size_t i = 0; i < n; i++)
			if (v[i]->c.sa_index != ESPTAG_SA_INDEX_NONE)
				map_remove(d, v[i]->c.sa_index);
	} else {
		/* The SA first, so the data path stops using it before its state goes. */
		del_keys(d, M_SAD, k.all, k.nall);
		del_keys(d, M_SEQ, k.out, k.nout);
		del_keys(d, M_REPLAY, k.in, k.nin);
		del_keys(d, M_SA_STATS, k.all, k.nall);
	}
	keysets_free(&k);
}

/* Install n SAs (with their indices set); seq/rp: kept state or NULL. */
static int map_install_many(struct daemon *d, struct sa **v, size_t n,
			    const struct esptag_seq *seq, const struct esptag_replay *rp)
{
	int ncpu = d->bpf.ncpus > 0 ? d->bpf.ncpus : 1;
	struct esptag_seq *sv = calloc(n ? n : 1, sizeof(*sv));
	struct esptag_replay *rv = calloc(n ? n : 1, sizeof(*rv));
	struct esptag_sa_stats *st = calloc((n ? n : 1) * ncpu, sizeof(*st));
	struct esptag_sa *sad = calloc(n ? n : 1, sizeof(*sad));
	struct keysets k;
	int rc = -1;

	if (!sv || !rv || !st || !sad || keysets(&k, v, n))
		goto out_nok;
	for (size_t i = 0, o = 0, in = 0; i < n; i++) {
		if (v[i]->c.sa_index == ESPTAG_SA_INDEX_NONE)
			continue;
		if (v[i]->c.dir == ESPTAG_DIR_OUT) {
			sv[o].next = seq ? seq[i].next : 1;
			sv[o].base = seq ? seq[i].base : 1;
			o++;
		} else if (rp) {
			rv[in] = rp[i];
			memset(&rv[in].lock, 0, sizeof(rv[in].lock));
			in++;
		} else {
			in++;
		}
	}
	for (size_t i = 0, j = 0; i < n; i++)
		if (v[i]->c.sa_index != ESPTAG_SA_INDEX_NONE)
			sa_value(d, v[i], &sad[j++]);
	if (put_keys(d, M_SEQ, k.out, sv, k.nout) || put_keys(d, M_REPLAY, k.in, rv, k.nin) ||
	    put_keys(d, M_SA_STATS, k.all, st, k.nall) || put_keys(d, M_SAD, k.all, sad, k.nall)) {
		log_err("maps: cannot install %u SAs: %s", k.nall, strerror(errno));
		map_remove_many(d, v, n);
		goto out;
	}
	rc = 0;
out:
	keysets_free(&k);
out_nok:
	free(sv);
	free(rv);
	free(st);
	free(sad);
	return rc;
}

static uint64_t map_seq(struct daemon *d, const struct sa *sa)
{
	uint32_t idx = sa->c.sa_index;

	if (sa->c.dir == ESPTAG_DIR_OUT) {
		struct esptag_seq s;

		if (!bpf_map_lookup_elem(d->bpf.map_fd[M_SEQ], &idx, &s))
			return s.next;
	} else {
		struct esptag_replay r;

		if (!bpf_map_lookup_elem(d->bpf.map_fd[M_REPLAY], &idx, &r))
			return r.top;
	}
	return 0;
}

/* ---- agent operations ------------------------------------------------------ */

static size_t per_frame(struct daemon *d, size_t max)
{
	if (d->caps.valid && d->caps.max_records && d->caps.max_records < max)
		return d->caps.max_records;
	return max;
}

/*
 * ADD_SA for n SAs, batched. Each SA that the agent took gets its sa_index;
 * the others keep ESPTAG_SA_INDEX_NONE. Returns 0 if all were taken, else a
 * ctl status with *err_i (index into v) and *ast (agent status).
 */
static int agent_add(struct daemon *d, uint16_t port, struct sa **v, size_t n, uint32_t *err_i,
		     uint8_t *ast)
{
	size_t per = per_frame(d, SA_PER_FRAME), nt = (n + per - 1) / per;
	struct txn *t = chan_key_txns(&d->chan, nt);	/* the frames carry keys */
	struct esptag_rec_sa rec;
	int rc = 0;

	*err_i = UINT32_MAX;
	*ast = 0;
	if (!t)
		return ESPTAG_CTL_E_INTERNAL;
	for (size_t i = 0; i < n; i++)
		v[i]->c.sa_index = ESPTAG_SA_INDEX_NONE;
	for (size_t k = 0; k < nt; k++) {
		struct esptag_cfg_builder b;

		t[k].first = k * per;
		t[k].n = n - t[k].first < per ? n - t[k].first : per;
		chan_begin(&d->chan, &t[k], &b, ESPTAG_OP_ADD_SA, port);
		for (uint32_t j = 0; j < t[k].n; j++) {
			sa_to_rec(d, &v[t[k].first + j]->c, &rec, true);
			esptag_cfg_add(&b, ESPTAG_REC_SA, &rec, sizeof(rec));
		}
		explicit_bzero(&rec, sizeof(rec));
		chan_finish(&d->chan, &t[k], &b);
	}
	chan_run(&d->chan, t, nt, 0);
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
static int agent_del_idx(struct daemon *d, uint16_t port, const uint32_t *idx, size_t n, bool *gone)
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

static int agent_del(struct daemon *d, uint16_t port, struct sa **v, size_t n, bool *gone)
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

static int agent_simple(struct daemon *d, uint16_t port, uint8_t op, int tries, struct txn *t)
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

/* ---- helpers for the control requests --------------------------------- */

static void ev_sa(struct daemon *d, int type, const struct sa *sa)
{
	monitor_event(d, type, &sa->c, 0, 0, 0);
}

/* Remove SAs everywhere after the agent confirmed (gone[i]). */
static size_t drop_confirmed(struct daemon *d, struct sa **v, size_t n, const bool *gone,
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

static uint64_t expiry(uint32_t lifetime)
{
	return lifetime ? now_ns() + (uint64_t)lifetime * 1000000000ull : 0;
}

/* The ESPTAG_FEAT_* an agent must announce to take this SA. */
static uint16_t sa_features(const struct esptag_ctl_sa *c)
{
	return (c->sa_flags & ESPTAG_SA_F_ESN ? ESPTAG_FEAT_ESN : 0) |
	       (c->mode == ESPTAG_MODE_TUNNEL ? ESPTAG_FEAT_TUNNEL : 0) |
	       (c->family == 6 ? ESPTAG_FEAT_IPV6 : 0);
}

static const char *feat_str(uint16_t f, char *buf, size_t len)
{
	static const struct {
		uint16_t bit;
		const char *name;
	} names[] = {
		{ ESPTAG_FEAT_TSO, "tso" },	  { ESPTAG_FEAT_HAIRPIN, "hairpin" },
		{ ESPTAG_FEAT_ESN, "esn" },	  { ESPTAG_FEAT_TUNNEL, "tunnel" },
		{ ESPTAG_FEAT_IPV6, "ipv6" },
	};
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].bit)
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "," : "",
				      names[i].name);
	return n ? buf : "none";
}

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

void ctl_state_add(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	uint32_t n = v->hdr.count, err_i;
	struct sa **list = calloc(n, sizeof(*list));
	struct esptag_ctl_sa c;
	uint8_t ast;
	char desc[128];
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
		if (strcmp(c.dev, d->dev)) {
			reply_err(r, ESPTAG_CTL_E_DEV, "this esptagd manages %s, not %s", d->dev, c.dev);
			r->err_index = i;
			goto undo;
		}
		if (!(d->caps.alg_mask & (1u << c.alg))) {
			reply_err(r, ESPTAG_CTL_E_AGENT, "%s: the agent does not support %s",
				  sa_desc(&c, desc, sizeof(desc)), esptag_alg_str(c.alg));
			r->agent_status = ESPTAG_ST_BAD_ALG;
			r->err_index = i;
			goto undo;
		}
		if (sa_features(&c) & ~d->caps.features) {
			char miss[64], has[64];

			reply_err(r, ESPTAG_CTL_E_AGENT,
				  "%s: the agent does not support %s SAs (it announces: %s); nothing was changed",
				  sa_desc(&c, desc, sizeof(desc)),
				  feat_str(sa_features(&c) & ~d->caps.features, miss, sizeof(miss)),
				  feat_str(d->caps.features, has, sizeof(has)));
			r->agent_status = ESPTAG_ST_BAD_RECORD;
			r->err_index = i;
			goto undo;
		}
		if (find_key(d, &c)) {
			reply_err(r, ESPTAG_CTL_E_EXIST,
				  "%s already exists (esptag state del ... first, or use another SPI)",
				  sa_desc(&c, desc, sizeof(desc)));
			r->err_index = i;
			goto undo;
		}
		c.sa_index = ESPTAG_SA_INDEX_NONE;
		list[i] = sa_new(d, &c, true);
		list[i]->expires_ns = expiry(c.lifetime);
	}
	explicit_bzero(&c, sizeof(c));
	rc = agent_add(d, d->chan.port, list, n, &err_i, &ast);
	if (rc) {
		bool *gone = calloc(n, sizeof(bool));

		if (rc == ESPTAG_CTL_E_AGENT)
			reply_err(r, rc, "agent refused %s: %s: %s",
				  sa_desc(&list[err_i]->c, desc, sizeof(desc)),
				  esptag_status_str(ast), agent_hint(ast));
		else if (rc == ESPTAG_CTL_E_TIMEOUT)
			reply_err(r, rc,
				  "the agent did not answer ADD_SA (%d tries); nothing was installed",
				  d->chan.tries);
		else
			reply_err(r, rc, "unexpected ADD_SA reply from the agent");
		r->agent_status = ast;
		r->err_index = err_i;
		/* Roll back what the agent took in the other frames. */
		if (!gone || agent_del(d, d->chan.port, list, n, gone) || rc == ESPTAG_CTL_E_TIMEOUT) {
			/* Unanswered frames may have been executed: look again. */
			d->need_sweep = true;
			log_warn("ADD_SA failed with unconfirmed frames; the agent's SAD will be swept for orphans");
		}
		free(gone);
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
			if ((id.dir && id.dir != dir) || !(sa = find_key(d, &k)) || nl >= cap)
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
	rc = agent_del(d, d->chan.port, list, nl, gone);
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

static int flush_all(struct daemon *d, int ev)
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

int sad_flush_agent(struct daemon *d)
{
	if (!link_reachable(d) || !d->sa_count)
		return 0;
	return flush_all(d, ESPTAG_EV_SA_REMOVED);
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

void ctl_stats(struct daemon *d, struct reply *r)
{
	struct esptag_ctl_stat st;
	size_t nsa = 0, k = 0;
	struct sa **list;

	for (uint32_t id = 0; id < ESPTAG_CNT_MAX; id++) {
		memset(&st, 0, sizeof(st));
		st.kind = ESPTAG_STAT_DP;
		st.id = id;
		percpu_sum_u64(d, M_STATS, id, &st.value);
		reply_add(r, &st);
	}
	/* A VF is refused the agent-wide counters by its PF: not asked. */
	if (link_reachable(d) && !d->vf_mode) {
		struct txn *t = calloc(1, sizeof(*t));

		if (t && !agent_simple(d, d->chan.port, ESPTAG_OP_GET_STATS, 0, t)) {
			struct esptag_rec_view rv;
			struct esptag_rec_counter c;
			size_t off = 0;

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
	list = calloc(d->sa_count ? d->sa_count : 1, sizeof(*list));
	if (!list)
		return;
	for (size_t s = 0; s < d->sa_cap; s++)
		if (d->sas[s].used)
			list[nsa++] = &d->sas[s];
	{
		size_t first = r->count;

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
		/* Agent per-SA counters, batched. */
		for (k = 0; link_reachable(d) && k < nsa; k += STATS_PER_FRAME) {
			struct txn *t = calloc(1, sizeof(*t));
			struct esptag_cfg_builder b;
			struct esptag_rec_view rv;
			size_t off = 0, m = nsa - k < STATS_PER_FRAME ? nsa - k : STATS_PER_FRAME;

			if (!t)
				break;
			chan_begin(&d->chan, t, &b, ESPTAG_OP_GET_STATS, d->chan.port);
			for (size_t j = 0; j < m; j++) {
				struct esptag_rec_sa_ref ref;

				esptag_rec_init(&ref, ESPTAG_REC_SA_REF, sizeof(ref));
				ref.sa_index = htonl(list[k + j]->c.sa_index);
				esptag_cfg_add(&b, ESPTAG_REC_SA_REF, &ref, sizeof(ref));
			}
			chan_finish(&d->chan, t, &b);
			chan_run(&d->chan, t, 1, 0);
			if (t->state == TXN_DONE && !t->v.status) {
				size_t j = 0;

				while (esptag_cfg_next(&t->v, &off, &rv) == 1 && j < m) {
					struct esptag_rec_sa_stats as;
					struct esptag_ctl_stat *o;

					if (rv.type != ESPTAG_REC_SA_STATS)
						continue;
					memcpy(&as, rv.data, sizeof(as));
					o = (struct esptag_ctl_stat *)(r->items + (first + k + j) * r->isz);
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
			free(t);
		}
	}
	free(list);
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
		/* The data path stops using the SA (its frames are dropped). */
		map_clear(d, M_SAD, idx);
		out |= sa->c.dir == ESPTAG_DIR_OUT;
		list[nk++] = sa;
	}
	if (out)
		tx_settle();
	for (size_t c = 0; c < nk; c++) {
		struct sa *sa = list[c];
		uint32_t idx = sa->c.sa_index;
		uint64_t want;

		memset(&seq[n], 0, sizeof(seq[n]));
		if (bpf_map_lookup_elem(d->bpf.map_fd[M_SEQ], &idx, &seq[n]))
			memset(&seq[n], 0, sizeof(seq[n]));
		if (bpf_map_lookup_elem(d->bpf.map_fd[M_REPLAY], &idx, &rp[n]))
			memset(&rp[n], 0, sizeof(rp[n]));
		memset(&rp[n].lock, 0, sizeof(rp[n].lock));
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

static void reconcile(struct daemon *d)
{
	struct esptag_rec_sa *v = NULL;
	int n = agent_dump(d, d->chan.port, &v);
	uint32_t key, *orph = NULL;
	size_t norph = 0, kept = 0, stale = 0;
	struct esptag_sa m;
	bool *gone = NULL;

	if (n < 0) {
		log_err("reconcile: DUMP_SA failed; will retry");
		return;
	}
	orph = calloc(n ? n : 1, sizeof(*orph));
	gone = calloc(n ? n : 1, sizeof(*gone));
	for (int i = 0; i < n; i++) {
		struct esptag_ctl_sa c;
		uint32_t idx = ntohl(v[i].sa_index);
		struct sa *sa;

		if (bpf_map_lookup_elem(d->bpf.map_fd[M_SAD], &idx, &m) || !rec_matches_map(&v[i], &m) ||
		    sad_by_index(d, idx)) {
			orph[norph++] = idx;
			continue;
		}
		rec_to_sa(d, &v[i], &c);
		c.reqid = m.reqid;
		if (find_key(d, &c) || !(sa = sa_new(d, &c, false))) {
			orph[norph++] = idx;
			continue;
		}
		sa->expires_ns = m.expires_ns;
		kept++;
	}
	/*
	 * Map entries the agent does not have (or that we could not adopt):
	 * esptag_sad is an array, so walk its slots and skip the empty ones.
	 */
	{
		uint32_t *del = NULL;
		size_t nd = 0, cd = 0;

		for (key = 0; !bpf_map_lookup_elem(d->bpf.map_fd[M_SAD], &key, &m); key++) {
			if (!ESPTAG_SA_EMPTY(&m) && !sad_by_index(d, key)) {
				if (nd == cd) {
					cd = cd ? cd * 2 : 64;
					uint32_t *nn = realloc(del, cd * sizeof(*del));

					if (!nn)
						break;
					del = nn;
				}
				del[nd++] = key;
			}
		}
		for (size_t i = 0; i < nd; i++)
			map_remove(d, del[i]);
		stale = nd;
		free(del);
	}
	if (norph && agent_del_idx(d, d->chan.port, orph, norph, gone))
		log_err("reconcile: could not remove every orphan SA from the agent");
	/* Reconciled first: spd_refresh binds recovered policies only then. */
	d->reconciled = true;
	spd_refresh(d);
	log_notice("reconciled with the agent: %zu SAs kept (without keys: they run until deleted, "
		   "but cannot be re-installed after an agent restart), %zu orphans removed from the agent, "
		   "%zu stale map entries removed",
		   kept, norph, stale);
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

void sad_expire_tick(struct daemon *d)
{
	uint64_t now = now_ns();
	struct sa *list[256];
	bool gone[256];
	size_t n = 0;

	if (!link_reachable(d))
		return;
	for (size_t s = 0; s < d->sa_cap && n < 256; s++)
		if (d->sas[s].used && d->sas[s].expires_ns && d->sas[s].expires_ns <= now)
			list[n++] = &d->sas[s];
	if (!n)
		return;
	agent_del(d, d->chan.port, list, n, gone);
	n = drop_confirmed(d, list, n, gone, ESPTAG_EV_SA_EXPIRED);
	spd_refresh(d);
	log_info("%zu SA(s) expired and removed", n);
}
