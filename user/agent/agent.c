// SPDX-License-Identifier: GPL-2.0-only
/* esptag-agent: state life cycle, output batches, logging, statistics. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "agent.h"
#include "esptag_proto.h"
#include "secmem.h"
#include "wrap.h"

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

int agent_init(struct agent *a, const struct agent_opts *o, agent_flush_fn flush)
{
	bool locked = false, locked2 = false;
	uint32_t i;
	int s;

	memset(a, 0, sizeof(*a));
	a->capacity = o->capacity ? o->capacity : AGENT_DEF_CAPACITY;
	a->port_limit = o->port_limit ? o->port_limit : a->capacity;
	a->local_capacity = o->local_capacity ? o->local_capacity : AGENT_DEF_LOCALS;
	a->drop_pct = o->drop_pct;
	a->eth_cfg = o->eth_cfg ? o->eth_cfg : ESPTAG_ETH_P_CFG;
	a->eth_meta = o->eth_meta ? o->eth_meta : ESPTAG_ETH_P_META;
	a->flush = flush;
	a->rx_coalesce = o->rx_coalesce;
	a->features = o->set_features ? o->features : AGENT_FEATURES;
	a->version_min = o->allow_v1 ? ESPTAG_PROTO_VERSION : ESPTAG_PROTO_V2;
	a->id_key = o->id_key;
	if (!a->id_key) {
		/* No identity given (tests): one for this life only. */
		EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);

		if (kc && EVP_PKEY_keygen_init(kc) == 1)
			EVP_PKEY_keygen(kc, &a->id_key);
		EVP_PKEY_CTX_free(kc);
	}
	a->seen_eph = calloc(AGENT_SEEN_EPH, sizeof(*a->seen_eph));
	a->hmask = pow2_at_least(a->capacity * 2) - 1;
	a->lmask = pow2_at_least(a->local_capacity * 2) - 1;

	/* Salts and EVP context pointers: locked, out of core dumps. */
	a->sa = esptag_secmem_alloc((size_t)a->capacity * sizeof(*a->sa), &locked);
	a->stage = esptag_secmem_alloc(AGENT_STAGE_RECS * sizeof(*a->stage), &locked2);
	a->hash = calloc(a->hmask + 1, sizeof(*a->hash));
	a->free_idx = calloc(a->capacity, sizeof(*a->free_idx));
	a->port_used = calloc(65536, sizeof(*a->port_used));
	a->local = calloc(a->local_capacity, sizeof(*a->local));
	a->lhash = calloc(a->lmask + 1, sizeof(*a->lhash));
	a->cache = calloc(AGENT_CACHE_SIZE, sizeof(*a->cache));
	a->scratch = malloc(AGENT_SLOT);
	for (s = 0; s < 2; s++)
		a->q[s].mem = malloc((size_t)AGENT_BATCH * AGENT_SLOT);
	if (a->sa && a->stage && (!locked || !locked2))
		agent_log(4, "cannot lock the SAD in memory (RLIMIT_MEMLOCK, CAP_IPC_LOCK): "
			  "key material may be swapped out");
	if (!a->sa || !a->stage || !a->hash || !a->free_idx || !a->port_used || !a->local ||
	    !a->lhash || !a->cache || !a->scratch || !a->q[0].mem || !a->q[1].mem ||
	    !a->seen_eph || esptag_x25519_pub(a->id_key, a->id_pub)) {
		agent_fini(a);
		return -ENOMEM;
	}
	for (i = 0; i < a->capacity; i++)
		a->free_idx[i] = i; /* ascending: a min-heap (sad.c) */
	a->nfree = a->capacity;

	/* A fresh random epoch on every start tells hosts to re-install. */
	if (getrandom(&a->epoch, sizeof(a->epoch), 0) != sizeof(a->epoch) ||
	    getrandom(&a->rng, sizeof(a->rng), 0) != sizeof(a->rng)) {
		agent_fini(a);
		return -EIO;
	}
	if (!a->rng)
		a->rng = 0x9e3779b97f4a7c15ull;
	a->ip_id = a->rng;
	return 0;
}

void agent_fini(struct agent *a)
{
	uint32_t i;
	int s;

	if (a->sa) {
		for (i = 0; i < a->capacity; i++)
			if (a->sa[i].used)
				agent_sad_del(a, i);
	}
	esptag_secmem_free(a->sa, (size_t)a->capacity * sizeof(*a->sa));
	esptag_secmem_free(a->stage, AGENT_STAGE_RECS * sizeof(*a->stage));
	free(a->hash);
	free(a->free_idx);
	free(a->port_used);
	free(a->local);
	free(a->lhash);
	free(a->cache);
	free(a->workers);
	free(a->scratch);
	for (s = 0; s < 2; s++)
		free(a->q[s].mem);
	free(a->seen_eph);
	EVP_PKEY_free(a->id_key);
	memset(a, 0, sizeof(*a));
}

int agent_worker_init(struct agent *w, struct agent *ctl, pthread_rwlock_t *lock)
{
	struct agent **ws;
	uint32_t i;
	int s;

	ws = realloc(ctl->workers, (ctl->nworkers + 1) * sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	ctl->workers = ws;
	/* The SAD's arrays and the settings are shared; the rest is the worker's. */
	*w = *ctl;
	memset(w->ctr, 0, sizeof(w->ctr));
	memset(w->q, 0, sizeof(w->q));
	memset(&w->gro, 0, sizeof(w->gro));
	w->workers = NULL;
	w->nworkers = 0;
	w->ctl = ctl;
	w->sadlock = lock;
	w->stage = NULL;
	w->io = NULL;
	w->scratch = malloc(AGENT_SLOT);
	w->sactr = calloc(ctl->capacity, sizeof(*w->sactr));
	w->sactx = calloc(ctl->capacity, sizeof(*w->sactx));
	for (s = 0; s < 2; s++)
		w->q[s].mem = malloc((size_t)AGENT_BATCH * AGENT_SLOT);
	if (!w->scratch || !w->sactr || !w->sactx || !w->q[0].mem || !w->q[1].mem ||
	    getrandom(&w->rng, sizeof(w->rng), 0) != sizeof(w->rng)) {
		agent_worker_fini(w);
		return -ENOMEM;
	}
	if (!w->rng)
		w->rng = 0x9e3779b97f4a7c15ull;
	w->ip_id = w->rng;
	/* Copies of the contexts of the SAs already there. */
	for (i = 0; i < ctl->capacity; i++) {
		if (!ctl->sa[i].used)
			continue;
		w->sactx[i] = agent_esp_ctx_dup(&ctl->sa[i]);
		if (!w->sactx[i]) {
			agent_worker_fini(w);
			return -ENOMEM;
		}
	}
	ws[ctl->nworkers++] = w;
	return 0;
}

void agent_worker_fini(struct agent *w)
{
	struct agent *c = w->ctl;
	unsigned int i;
	int s;

	/* Off the control context's list first. */
	for (i = 0; c && i < c->nworkers; i++) {
		if (c->workers[i] != w)
			continue;
		c->workers[i] = c->workers[--c->nworkers];
		break;
	}
	for (i = 0; w->sactx && i < w->capacity; i++)
		agent_esp_ctx_free(w->sactx[i]);
	free(w->sactx);
	if (w->scratch)
		OPENSSL_cleanse(w->scratch, AGENT_SLOT);
	free(w->scratch);
	free(w->sactr);
	for (s = 0; s < 2; s++) {
		if (w->q[s].mem)
			OPENSSL_cleanse(w->q[s].mem, (size_t)AGENT_BATCH * AGENT_SLOT);
		free(w->q[s].mem);
	}
	memset(w, 0, sizeof(*w));
}

void agent_cfg_from_worker(struct agent *w, uint8_t *f, size_t len)
{
	struct agent *c = w->ctl;

	/* Between two frames the worker holds no SA: trade the read lock for
	 * the write lock, run the request on the control context (its reply
	 * goes out through this worker's port), and go back to reading. */
	agent_flush_all(w);
	pthread_rwlock_unlock(w->sadlock);
	pthread_rwlock_wrlock(w->sadlock);
	c->io = w->io;
	agent_cfg_frame(c, f, len);
	agent_flush_all(c);
	c->io = NULL;
	pthread_rwlock_unlock(w->sadlock);
	pthread_rwlock_rdlock(w->sadlock);
}

uint64_t agent_ctr_sum(const struct agent *a, int c)
{
	uint64_t v = a->ctr[c];
	unsigned int i;

	for (i = 0; i < a->nworkers; i++)
		v += a->workers[i]->ctr[c];
	return v;
}

void agent_sa_stats(const struct agent *a, uint32_t idx, struct agent_sa_ctr *out)
{
	unsigned int i;

	*out = a->sa[idx].c;
	for (i = 0; i < a->nworkers; i++) {
		const struct agent_sa_ctr *c = &a->workers[i]->sactr[idx];

		out->packets += c->packets;
		out->bytes += c->bytes;
		out->auth_fail += c->auth_fail;
		out->domain_reject += c->domain_reject;
	}
}

uint32_t agent_rand32(struct agent *a)
{
	/* xorshift64*: test-only loss injection, not security relevant. */
	a->rng ^= a->rng >> 12;
	a->rng ^= a->rng << 25;
	a->rng ^= a->rng >> 27;
	return (a->rng * 0x2545F4914F6CDD1Dull) >> 32;
}

struct agent_pkt *agent_slot(struct agent *a, int side)
{
	struct agent_q *q = &a->q[side];
	struct agent_pkt *p;

	if (side == AGENT_HOST && (q->n == AGENT_BATCH || !a->gro_hold))
		agent_gro_close(a);
	if (q->n == AGENT_BATCH) {
		if (a->flush)
			a->flush(a, side);
		q->n = 0;
	}
	p = &q->pkt[q->n];
	memset(&p->vh, 0, sizeof(p->vh));
	p->data = q->mem + (size_t)q->n * AGENT_SLOT;
	p->len = 0;
	return p;
}

void agent_commit(struct agent *a, int side, uint32_t len)
{
	struct agent_q *q = &a->q[side];

	q->pkt[q->n].len = len;
	q->n++;
}

void agent_flush_all(struct agent *a)
{
	int s;

	agent_gro_close(a);
	for (s = 0; s < 2; s++) {
		if (a->q[s].n && a->flush)
			a->flush(a, s);
		a->q[s].n = 0;
	}
}

static const char *dir_str(uint8_t d)
{
	return d == ESPTAG_DIR_IN ? "in" : d == ESPTAG_DIR_OUT ? "out" : "?";
}

void agent_dump_stats(struct agent *a, FILE *f)
{
	char daddr[INET6_ADDRSTRLEN];
	uint32_t i;
	int c;

	fprintf(f, "esptag-agent: epoch %016llx sad %u/%u locals %u/%u\n",
		(unsigned long long)a->epoch, a->sad_used, a->capacity, a->nlocal,
		a->local_capacity);
	for (c = 0; c < ESPTAG_AC_MAX; c++)
		fprintf(f, "esptag-agent: counter %-22s %llu\n", esptag_agent_counter_str(c),
			(unsigned long long)agent_ctr_sum(a, c));
	/* What each worker did (non-zero counters): how the load spreads. */
	for (i = 0; i < a->nworkers; i++)
		for (c = 0; c < ESPTAG_AC_MAX; c++)
			if (a->workers[i]->ctr[c])
				fprintf(f, "esptag-agent: worker %u counter %s %llu\n", i,
					esptag_agent_counter_str(c),
					(unsigned long long)a->workers[i]->ctr[c]);
	for (i = 0; i < a->capacity; i++) {
		struct agent_sa *sa = &a->sa[i];
		struct agent_sa_ctr st;

		if (!sa->used)
			continue;
		agent_sa_stats(a, i, &st);
		inet_ntop(sa->rec.family == 4 ? AF_INET : AF_INET6, sa->rec.daddr, daddr,
			  sizeof(daddr));
		fprintf(
		    f,
		    "esptag-agent: sa %u port %u dir %s spi 0x%08x dst %s mac "
		    "%02x:%02x:%02x:%02x:%02x:%02x"
		    " packets %llu bytes %llu auth_fail %u domain_reject %u seq %llu\n",
		    i, sa->port, dir_str(sa->rec.dir), ntohl(sa->rec.spi), daddr,
		    sa->rec.local_mac[0], sa->rec.local_mac[1], sa->rec.local_mac[2],
		    sa->rec.local_mac[3], sa->rec.local_mac[4], sa->rec.local_mac[5],
		    (unsigned long long)st.packets, (unsigned long long)st.bytes, st.auth_fail,
		    st.domain_reject,
		    (unsigned long long)(sa->rec.dir == ESPTAG_DIR_OUT ? sa->ivdb : sa->rx_top));
	}
	fflush(f);
}
