// SPDX-License-Identifier: GPL-2.0-only
/*
 * PF mode (esptagd --pf): the daemon of the physical function also speaks
 * for the VFs behind the NIC switch.
 *
 *  - a VF is declared with `esptag vf add` (its switch port, MAC, trust,
 *    SA limit, address): the PF fills esptag_ports[port ifindex], attaches
 *    esptag_port on the port (tc ingress + egress, switch side) and creates
 *    the VF's mailbox <mbox-dir>/vf<N>.mbox (ctl_mbox.h);
 *  - every config request of a VF arrives on its mailbox; the VF's identity
 *    is the socket, never the message. The PF refuses what a VF may not do
 *    (untrusted: no SAs; over its limit; LOCAL records; agent-wide counters;
 *    statistics of SAs not its own), rewrites the domain (hdr.port = VF + 1;
 *    SA records: local_mac and VLANs = the VF's) and the msg_id (the PF's
 *    own, fresh for every request it forwards: the agent's reply cache never
 *    sees a VF's msg_id), sends it to the agent on the PF's channel and
 *    answers only with the agent's reply, msg_id mapped back to the VF's
 *    (HELLO: the CAPS show the VF's own port use only). A retransmitted
 *    request (same msg_id, opcode and request bytes) is answered from the
 *    VF's own reply cache; a reused msg_id with other bytes is a new request.
 *    It keeps the SA -> domain database of every VF from the replies, and an
 *    ADD_SA reply is taken only when it names the SAs asked for at indices
 *    no other domain (another VF, the PF itself) holds;
 *  - RESET (a VF (re)starting), `esptag vf reset`, and the VF's switch port
 *    vanishing (RTM_DELLINK: the VM was destroyed) all run the abandoned-SA
 *    cleanup: FLUSH_PORT of the VF's port, wait for the agent's OK, clean
 *    the database (and on a vanished port the VF's esptag_ports entry, its
 *    LOCAL record and its mailbox), and only then answer;
 *  - VEPA: every VF address with a LOCAL record (and the PF's own, --local)
 *    so VM-to-VM traffic is hairpinned by the agent. VEB: the switch
 *    forwards VF-to-VF frames itself; the agent never sees them.
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

#define PORT_TC_HANDLE	0xe6
#define PORT_TC_PRIO	0xe6

struct vf_sa {
	uint32_t idx;
	uint32_t spi;
	uint8_t dir, family;
	uint8_t daddr[16];
};

/* The VF's reply cache: the answers to its last requests, for its retries. */
#define VF_CACHE_SIZE	64

struct vf_cache_ent {
	bool used;
	bool answered;			/* else: the agent did not answer pf_id */
	uint8_t opcode;
	uint32_t msg_id;		/* the VF's */
	uint32_t pf_id;			/* the msg_id the PF used toward the agent */
	uint8_t digest[32];		/* SHA-256 of the VF's request, F_RETRY masked */
	uint16_t len;
	uint8_t reply[ESPTAG_CFG_MAX_PAYLOAD];	/* as sent to the VF (no key bytes) */
};

struct pf_vf {
	bool used;
	struct esptag_ctl_vf c;		/* as added; flags TRUSTED */
	int ifindex;
	int lfd, cfd;			/* mailbox: listening, connected VF */
	char path[108];
	bool local_added;
	struct vf_sa *sas;
	size_t nsa, cap;
	uint32_t refused, bad;
	struct vf_cache_ent *cache;	/* [VF_CACHE_SIZE] ring */
	unsigned int cache_next;
};

struct pf {
	struct pf_vf vf[ESPTAG_CTL_VF_MAX + 1];
	char mbox_dir[1024];
	int ep, nl;
	int mode;			/* ESPTAG_CTL_SW_* */
	uint32_t limit;			/* default per-VF SA limit */
	int uplink_ifindex;
	char uplink[IFNAMSIZ];
	struct esptag_port_bpf *skel;
	uint8_t local_family;		/* the PF's own address (VEPA) */
	uint8_t local_addr[16];
	bool local_added;
};

static const uint8_t agent_mac[6] = ESPTAG_AGENT_MAC_INIT;

/* ---- esptag_port attach ------------------------------------------------------ */

static int port_attach(int ifindex, int fd, enum bpf_tc_attach_point where, const char *name)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PORT_TC_HANDLE, .priority = PORT_TC_PRIO,
			    .prog_fd = fd, .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST) {
		log_err("pf: cannot create clsact on %s: %s", name, strerror(-err));
		return err;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		log_err("pf: cannot attach esptag_port (%s) on %s: %s",
			where == BPF_TC_EGRESS ? "egress" : "ingress", name, strerror(-err));
	return err;
}

static void port_detach(int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PORT_TC_HANDLE, .priority = PORT_TC_PRIO);

	bpf_tc_detach(&hook, &opts);
}

/* Load esptag_port with the daemon's own maps (the pinned ones). */
static int port_load(struct pf *p, const char *pin_dir)
{
	struct bpf_map *m;
	char path[512];
	int err;

	/* pin_root_path: the maps are the daemon's pinned ones, never the
	 * libbpf default /sys/fs/bpf/<name>. */
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);

	p->skel = esptag_port_bpf__open_opts(&oo);
	if (!p->skel) {
		log_err("pf: cannot open esptag_port: %s", strerror(errno));
		return -1;
	}
	bpf_object__for_each_map(m, p->skel->obj) {
		int fd;

		if (bpf_map__is_internal(m))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(m));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;	/* a map only esptag_port uses: its own */
		err = bpf_map__reuse_fd(m, fd);
		close(fd);
		if (err) {
			log_err("pf: cannot reuse map %s: %s", bpf_map__name(m), strerror(-err));
			return -1;
		}
	}
	err = esptag_port_bpf__load(p->skel);
	if (err) {
		log_err("pf: cannot load esptag_port: %s", strerror(-err));
		return -1;
	}
	return 0;
}

static void db_clear(struct daemon *d, struct pf_vf *v);
static void vf_cache_clear(struct pf_vf *v);

/* ---- the agent, on behalf of a VF ---------------------------------------------- */

/* Run one config exchange for port; payload already in t->frame + 14. */
static void frame_head(struct daemon *d, struct txn *t)
{
	uint16_t et = htons(d->chan.eth_p);

	memcpy(t->frame, agent_mac, 6);
	memcpy(t->frame + 6, d->chan.mac, 6);
	memcpy(t->frame + 12, &et, 2);
	if (t->flen < 60) {
		memset(t->frame + t->flen, 0, 60 - t->flen);
		t->flen = 60;
	}
	t->state = TXN_NEW;
	t->sent = 0;
	t->rlen = 0;
}

/* A request without records (FLUSH_PORT, rec NULL) or with one record, for
 * port. Returns 0 (reply status in t->v.status) or -1 (no answer). */
static int agent_req_rec(struct daemon *d, struct txn *t, uint8_t op, uint16_t port,
			 uint8_t type, const void *rec, size_t len)
{
	struct esptag_cfg_builder b;

	chan_begin(&d->chan, t, &b, op, port);
	if (rec)
		esptag_cfg_add(&b, type, rec, len);
	if (chan_finish(&d->chan, t, &b))
		return -1;
	return chan_run(&d->chan, t, 1, 0) ? -1 : 0;
}

static int agent_req(struct daemon *d, struct txn *t, uint8_t op, uint16_t port,
		     const struct esptag_rec_local *loc)
{
	return agent_req_rec(d, t, op, port, ESPTAG_REC_LOCAL, loc, sizeof(*loc));
}

static void local_rec(struct esptag_rec_local *l, uint8_t family, const uint8_t *addr,
		      const uint8_t *mac, uint8_t nvlans, const uint16_t *vid)
{
	memset(l, 0, sizeof(*l));
	l->hdr.type = ESPTAG_REC_LOCAL;
	l->hdr.len = htons(sizeof(*l));
	l->family = family;
	memcpy(l->addr, addr, 16);
	memcpy(l->mac, mac, 6);
	l->nvlans = nvlans;
	for (int i = 0; i < nvlans; i++) {
		l->vlan[i].tpid = htons(nvlans == 2 && i == 0 ? 0x88a8 : 0x8100);
		l->vlan[i].tci = htons(vid[i]);
	}
}

/* LOCAL records belong to the PF's port (0): a VF's FLUSH_PORT keeps them. */
static int vf_local(struct daemon *d, struct pf_vf *v, bool add)
{
	struct esptag_rec_local l;
	struct txn *t;
	int rc = -1;

	if (!v->c.family || d->pf->mode != ESPTAG_CTL_SW_VEPA || v->local_added == add)
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	local_rec(&l, v->c.family, v->c.addr, v->c.mac, v->c.nvlans, v->c.vid);
	if (!agent_req(d, t, add ? ESPTAG_OP_ADD_LOCAL : ESPTAG_OP_DEL_LOCAL, d->chan.port, &l) &&
	    (t->v.status == ESPTAG_ST_OK || (add && t->v.status == ESPTAG_ST_DUPLICATE) ||
	     (!add && t->v.status == ESPTAG_ST_UNKNOWN_LOCAL))) {
		v->local_added = add;
		rc = 0;
	} else {
		log_warn("pf: VF %u: %s of its address not confirmed by the agent", v->c.vf,
			 add ? "ADD_LOCAL" : "DEL_LOCAL");
	}
	free(t);
	return rc;
}

static void pf_local(struct daemon *d, bool add)
{
	struct pf *p = d->pf;
	struct esptag_rec_local l;
	struct txn *t;

	if (!p->local_family || p->mode != ESPTAG_CTL_SW_VEPA || p->local_added == add)
		return;
	t = calloc(1, sizeof(*t));
	if (!t)
		return;
	local_rec(&l, p->local_family, p->local_addr, d->mac, 0, NULL);
	if (!agent_req(d, t, add ? ESPTAG_OP_ADD_LOCAL : ESPTAG_OP_DEL_LOCAL, d->chan.port, &l) &&
	    (t->v.status == ESPTAG_ST_OK || t->v.status == ESPTAG_ST_DUPLICATE ||
	     t->v.status == ESPTAG_ST_UNKNOWN_LOCAL))
		p->local_added = add;
	free(t);
}

/* The abandoned-SA cleanup: every SA of the VF's domain leaves the agent,
 * confirmed, before the database forgets them. Returns the number removed
 * or -1 when the agent did not confirm (the database is kept). */
static long vf_cleanup(struct daemon *d, struct pf_vf *v, const char *why)
{
	struct txn *t = calloc(1, sizeof(*t));
	long n = v->nsa;

	if (!t)
		return -1;
	if (agent_req(d, t, ESPTAG_OP_FLUSH_PORT, v->c.vf + 1, NULL) ||
	    t->v.status != ESPTAG_ST_OK) {
		log_err("pf: VF %u (%s): the agent did not confirm FLUSH_PORT of port %u; its %zu SAs are still recorded",
			v->c.vf, why, v->c.vf + 1, v->nsa);
		free(t);
		return -1;
	}
	free(t);
	db_clear(d, v);
	vf_cache_clear(v);
	log_info("pf: VF %u (%s): %ld SAs removed from the agent (port %u flushed)", v->c.vf, why,
		 n, v->c.vf + 1);
	return n;
}

/* ---- database ------------------------------------------------------------------- */

/*
 * The PF's esptag_sad also holds a domain entry for every VF SA: index ->
 * local_mac/VLANs/ifindex of the VF, flags without ALIVE so the PF's own
 * data path never uses it. esptag_port_egress reads it to let an RX tag
 * reach a VF only for an SA of that VF's domain.
 */
static void map_domain(struct daemon *d, const struct pf_vf *v, const struct esptag_rec_sa *r)
{
	struct esptag_sa m = {
		.spi = r->spi, .dir = r->dir, .family = r->family, .mode = r->mode,
		.ifindex = v->ifindex, .nvlans = r->nvlans, .icv_len = r->icv_len,
	};
	uint32_t idx = ntohl(r->sa_index);

	memcpy(m.local_mac, v->c.mac, 6);
	memcpy(m.vlan, r->vlan, sizeof(m.vlan));
	memcpy(m.saddr, r->saddr, 16);
	memcpy(m.daddr, r->daddr, 16);
	if (bpf_map_update_elem(d->bpf.map_fd[M_SAD], &idx, &m, BPF_ANY))
		log_err("pf: VF %u: esptag_sad domain entry %u: %s", v->c.vf, idx, strerror(errno));
}

/* esptag_sad is an array: an empty (all-zero) slot is no SA. */
static void map_undomain(struct daemon *d, uint32_t idx)
{
	struct esptag_sa zero = {};

	if (bpf_map_update_elem(d->bpf.map_fd[M_SAD], &idx, &zero, BPF_ANY) && errno != E2BIG)
		log_err("pf: esptag_sad domain entry %u: cannot clear: %s", idx, strerror(errno));
}

static void db_clear(struct daemon *d, struct pf_vf *v)
{
	for (size_t i = 0; i < v->nsa; i++)
		map_undomain(d, v->sas[i].idx);
	v->nsa = 0;
}

static int db_add(struct pf_vf *v, const struct esptag_rec_sa *r)
{
	struct vf_sa s = { .idx = ntohl(r->sa_index), .spi = ntohl(r->spi), .dir = r->dir,
			   .family = r->family };

	memcpy(s.daddr, r->daddr, 16);
	for (size_t i = 0; i < v->nsa; i++)
		if (v->sas[i].idx == s.idx) {	/* re-added after an agent restart */
			v->sas[i] = s;
			return 0;
		}
	if (v->nsa == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 64;
		struct vf_sa *n = realloc(v->sas, nc * sizeof(*n));

		if (!n)
			return -1;
		v->sas = n;
		v->cap = nc;
	}
	v->sas[v->nsa++] = s;
	return 0;
}

static void db_del(struct daemon *d, struct pf_vf *v, uint32_t idx)
{
	for (size_t i = 0; i < v->nsa; i++)
		if (v->sas[i].idx == idx) {
			map_undomain(d, idx);
			v->sas[i] = v->sas[--v->nsa];
			return;
		}
}

/* ---- mailbox ---------------------------------------------------------------------- */

static void mbox_send(struct pf_vf *v, int type, uint32_t seq, int status, const void *pl,
		      uint32_t plen)
{
	uint8_t buf[ESPTAG_MBOX_MAX];
	size_t n = esptag_mbox_build(buf, sizeof(buf), type, true, seq, status, pl, plen);

	if (v->cfd >= 0 && n && send(v->cfd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n)
		log_warn("pf: VF %u: mailbox reply lost: %s", v->c.vf, strerror(errno));
}

/* A config reply made by the PF itself (refusals). */
static void cfg_refuse(struct pf_vf *v, uint32_t seq, const struct esptag_cfg_hdr *req,
		       uint8_t status, uint16_t err_index, const char *why)
{
	struct esptag_cfg_hdr h = *req;

	h.flags = (h.flags & ~ESPTAG_CFG_F_RETRY) | ESPTAG_CFG_F_REPLY;
	h.status = status;
	h.count = 0;
	h.length = 0;
	h.err_index = htons(err_index);
	h.port = htons(v->c.vf + 1);
	if (v->refused < 10 || v->refused % 1000 == 0)
		log_notice("pf: VF %u: %s refused (%u so far): %s", v->c.vf,
			   esptag_opcode_str(req->opcode), v->refused + 1, why);
	v->refused++;
	mbox_send(v, ESPTAG_MBOX_CFG, seq, 0, &h, sizeof(h));
}

/* ---- the VF's reply cache ------------------------------------------------------------ */

/*
 * A request's identity: SHA-256 over its header (F_RETRY masked: a
 * retransmission sets it) and its declared records. -1 when it cannot be
 * made: the request is then never answered from the cache.
 */
static int req_digest(const uint8_t *pl, size_t plen, uint8_t out[32])
{
	struct esptag_cfg_hdr h;
	size_t n = plen;
	unsigned int len = 32;
	EVP_MD_CTX *c;
	int ok;

	if (plen < sizeof(h))
		return -1;
	memcpy(&h, pl, sizeof(h));
	if (sizeof(h) + ntohs(h.length) <= plen)
		n = sizeof(h) + ntohs(h.length);
	h.flags &= ~ESPTAG_CFG_F_RETRY;
	c = EVP_MD_CTX_new();
	ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, &h, sizeof(h)) &&
	     EVP_DigestUpdate(c, pl + sizeof(h), n - sizeof(h)) && EVP_DigestFinal_ex(c, out, &len);
	EVP_MD_CTX_free(c);
	return ok && len == 32 ? 0 : -1;
}

static struct vf_cache_ent *vf_cache_find(struct pf_vf *v, uint32_t msg_id, uint8_t opcode,
					  const uint8_t *digest)
{
	for (int i = 0; v->cache && i < VF_CACHE_SIZE; i++) {
		struct vf_cache_ent *e = &v->cache[i];

		if (e->used && e->msg_id == msg_id && e->opcode == opcode &&
		    !CRYPTO_memcmp(e->digest, digest, 32))
			return e;
	}
	return NULL;
}

/* Remember the answer to a VF request (reply NULL: the agent did not
 * answer pf_id; a retransmission by the VF is then sent under pf_id again,
 * byte for byte, so that the agent's own cache answers it if it executed
 * the first). e: the entry of that request already, or NULL. */
static void vf_cache_put(struct pf_vf *v, struct vf_cache_ent *e, uint32_t msg_id, uint8_t opcode,
			 const uint8_t *digest, uint32_t pf_id, const uint8_t *reply, size_t len)
{
	if (!v->cache || len > sizeof(e->reply))
		return;
	if (!e) {
		e = &v->cache[v->cache_next];
		v->cache_next = (v->cache_next + 1) % VF_CACHE_SIZE;
	}
	e->used = true;
	e->answered = reply != NULL;
	e->pf_id = pf_id;
	e->msg_id = msg_id;
	e->opcode = opcode;
	memcpy(e->digest, digest, 32);
	if (reply)
		memcpy(e->reply, reply, len);
	e->len = reply ? len : 0;
}

static void vf_cache_clear(struct pf_vf *v)
{
	if (v->cache)
		memset(v->cache, 0, VF_CACHE_SIZE * sizeof(*v->cache));
	v->cache_next = 0;
}

static bool db_has(const struct pf_vf *v, uint32_t idx)
{
	for (size_t i = 0; i < v->nsa; i++)
		if (v->sas[i].idx == idx)
			return true;
	return false;
}

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
		if (esptag_cfg_next(req, &qo, &qv) <= 0) {
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
	if (!why && *n != req->count)
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

static void vf_cfg(struct daemon *d, struct pf_vf *v, uint32_t seq, const uint8_t *pl,
		   uint32_t plen)
{
	struct esptag_cfg_view cv;
	struct esptag_cfg_hdr h, rh;
	struct vf_cache_ent *ce;
	struct txn *t;
	uint16_t port = htons(v->c.vf + 1);
	uint8_t digest[32] = {0};
	bool have_digest;
	uint32_t pf_id;
	__be32 id;
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
	switch (cv.opcode) {
	case ESPTAG_OP_HELLO:
	case ESPTAG_OP_DEL_SA:
	case ESPTAG_OP_FLUSH_PORT:
	case ESPTAG_OP_DUMP_SA:
		break;
	case ESPTAG_OP_GET_STATS: {
		struct esptag_rec_view rv;
		size_t off = 0;
		uint16_t i = 0;

		if (!cv.count) {
			cfg_refuse(v, seq, &h, ESPTAG_ST_NOT_PERMITTED, ESPTAG_ERR_INDEX_NONE,
				   "the agent-wide counters are the PF's");
			return;
		}
		for (; esptag_cfg_next(&cv, &off, &rv) > 0; i++) {
			struct esptag_rec_sa_ref ref;

			if (rv.type != ESPTAG_REC_SA_REF)
				continue;	/* the agent says BAD_RECORD */
			memcpy(&ref, rv.data, sizeof(ref));
			if (!db_has(v, ntohl(ref.sa_index))) {
				cfg_refuse(v, seq, &h, ESPTAG_ST_UNKNOWN_SA, i,
					   "statistics of an SA that is not the VF's");
				return;
			}
		}
		break;
	}
	case ESPTAG_OP_ADD_SA:
		if (!(v->c.flags & ESPTAG_CTL_VF_TRUSTED)) {
			cfg_refuse(v, seq, &h, ESPTAG_ST_NOT_PERMITTED, 0,
				   "the VF is untrusted (esptag vf trust VF on)");
			return;
		}
		if (v->nsa + cv.count > v->c.limit) {
			cfg_refuse(v, seq, &h, ESPTAG_ST_PORT_LIMIT,
				   v->nsa >= v->c.limit ? 0 : v->c.limit - v->nsa,
				   "over the VF's SA limit");
			return;
		}
		break;
	default:
		cfg_refuse(v, seq, &h, ESPTAG_ST_NOT_PERMITTED, ESPTAG_ERR_INDEX_NONE,
			   "only the PF manages this");
		return;
	}
	/* An ADD_SA frame carries keys: locked memory, wiped after use. */
	t = cv.opcode == ESPTAG_OP_ADD_SA ? chan_key_txns(&d->chan, 1) : calloc(1, sizeof(*t));
	if (!t)
		return;
	memcpy(t->frame + ESPTAG_ETH_HLEN, pl, plen);
	t->flen = ESPTAG_ETH_HLEN + plen;
	/* The domain is the PF's to say: port, and the SA's MAC and VLANs. */
	memcpy(t->frame + ESPTAG_ETH_HLEN + offsetof(struct esptag_cfg_hdr, port), &port, 2);
	t->frame[ESPTAG_ETH_HLEN + 2] &= ~ESPTAG_CFG_F_RETRY;
	/* So is the msg_id: a fresh one of the PF's, so that the agent's reply
	 * cache can never answer this request with the reply to another (the
	 * same one again when the agent did not answer it: the same bytes). */
	if (ce) {
		pf_id = ce->pf_id;
	} else {
		pf_id = d->chan.next_id++;
		if (!pf_id)
			pf_id = d->chan.next_id++;
	}
	id = htonl(pf_id);
	memcpy(t->frame + ESPTAG_ETH_HLEN + offsetof(struct esptag_cfg_hdr, msg_id), &id, 4);
	if (cv.opcode == ESPTAG_OP_ADD_SA) {
		size_t off = 0;
		struct esptag_rec_view rv;

		while (esptag_cfg_next(&cv, &off, &rv) > 0) {
			struct esptag_rec_sa *r = (struct esptag_rec_sa *)(t->frame + ESPTAG_ETH_HLEN +
									   (rv.data - pl));

			memcpy(r->local_mac, v->c.mac, 6);
			r->nvlans = v->c.nvlans;
			memset(r->vlan, 0, sizeof(r->vlan));
			for (int i = 0; i < v->c.nvlans; i++) {
				r->vlan[i].tpid = htons(v->c.nvlans == 2 && i == 0 ? 0x88a8 : 0x8100);
				r->vlan[i].tci = htons(v->c.vid[i]);
			}
		}
	}
	frame_head(d, t);
	t->msg_id = pf_id;
	t->opcode = cv.opcode;
	rc = chan_run(&d->chan, t, 1, 0);
	explicit_bzero(t->frame, sizeof(t->frame));	/* keys */
	if (rc) {
		log_warn("pf: VF %u: the agent did not answer %s; no reply to the VF", v->c.vf,
			 esptag_opcode_str(cv.opcode));
		if (have_digest)
			vf_cache_put(v, ce, cv.msg_id, cv.opcode, digest, pf_id, NULL, 0);
		goto done;
	}
	if (t->rlen < sizeof(rh))
		goto done;
	if (t->v.status == ESPTAG_ST_OK) {
		size_t off = 0;
		struct esptag_rec_view rv;

		switch (cv.opcode) {
		case ESPTAG_OP_ADD_SA: {
			uint32_t idx[ESPTAG_CFG_MAX_RECORDS];
			size_t n;
			const char *why = add_reply_check(d, v, &cv, &t->v, idx, &n);

			if (why) {
				log_err("pf: VF %u: the agent's ADD_SA reply names %s; not taken, its SAs removed again",
					v->c.vf, why);
				add_undo(d, v, idx, n);
				if (ce)
					ce->used = false;
				cfg_refuse(v, seq, &h, ESPTAG_ST_BUSY, ESPTAG_ERR_INDEX_NONE,
					   "the agent's reply was not taken");
				goto done;
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
			while (esptag_cfg_next(&cv, &off, &rv) > 0) {
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
	/* The reply goes back under the VF's own msg_id. Errors carry no
	 * records to a VF. */
	memcpy(&rh, t->reply, sizeof(rh));
	rh.msg_id = htonl(cv.msg_id);
	rh.port = port;
	if (rh.status != ESPTAG_ST_OK) {
		rh.count = 0;
		rh.length = 0;
		t->rlen = sizeof(rh);
	}
	memcpy(t->reply, &rh, sizeof(rh));
	if (have_digest && rh.status != ESPTAG_ST_BUSY)
		vf_cache_put(v, ce, cv.msg_id, cv.opcode, digest, pf_id, t->reply, t->rlen);
	mbox_send(v, ESPTAG_MBOX_CFG, seq, 0, t->reply, t->rlen);
done:
	if (cv.opcode == ESPTAG_OP_ADD_SA)
		chan_key_txns_wipe(&d->chan, 1);
	else
		free(t);
}

static void vf_reset_reply(struct pf_vf *v, uint32_t seq, long removed)
{
	struct esptag_mbox_reset r = {
		.vf = v->c.vf,
		.port = v->c.vf + 1,
		.nvlans = v->c.nvlans,
		.trusted = !!(v->c.flags & ESPTAG_CTL_VF_TRUSTED),
		.limit = v->c.limit,
		.removed = removed < 0 ? 0 : removed,
	};

	memcpy(r.mac, v->c.mac, 6);
	r.vid[0] = v->c.vid[0];
	r.vid[1] = v->c.vid[1];
	if (removed < 0)
		mbox_send(v, ESPTAG_MBOX_RESET, seq, ESPTAG_CTL_E_TIMEOUT, NULL, 0);
	else
		mbox_send(v, ESPTAG_MBOX_RESET, seq, 0, &r, sizeof(r));
}

static void mbox_close_conn(struct pf *p, struct pf_vf *v)
{
	if (v->cfd < 0)
		return;
	epoll_ctl(p->ep, EPOLL_CTL_DEL, v->cfd, NULL);
	close(v->cfd);
	v->cfd = -1;
}

static void mbox_read(struct daemon *d, struct pf_vf *v)
{
	uint8_t buf[ESPTAG_MBOX_MAX + 1];
	struct esptag_mbox_view mv;
	char err[160];
	ssize_t n = recv(v->cfd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		log_info("pf: VF %u: mailbox closed by the VF", v->c.vf);
		mbox_close_conn(d->pf, v);
		return;
	}
	if (n < 0)
		return;
	if (esptag_mbox_decode(buf, n, &mv, err, sizeof(err)) ||
	    (mv.hdr.flags & ESPTAG_MBOX_F_REPLY)) {
		/* A VM controls these bytes: log the first few, then 1 in 1000. */
		if (v->bad < 10 || v->bad % 1000 == 0)
			log_warn("pf: VF %u: mailbox message rejected (%u so far): %s", v->c.vf,
				 v->bad + 1,
				 mv.hdr.flags & ESPTAG_MBOX_F_REPLY ? "a reply is not a request" : err);
		v->bad++;
		explicit_bzero(buf, sizeof(buf));
		return;
	}
	if (mv.hdr.type == ESPTAG_MBOX_CFG)
		vf_cfg(d, v, mv.hdr.seq, mv.payload, mv.hdr.len);
	else
		vf_reset_reply(v, mv.hdr.seq, vf_cleanup(d, v, "reset by the VF"));
	explicit_bzero(buf, sizeof(buf));
}

static void mbox_accept(struct daemon *d, struct pf_vf *v)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int fd = accept4(v->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		log_warn("pf: VF %u: mailbox: refused uid %u", v->c.vf, cred.uid);
		close(fd);
		return;
	}
	/* One VF driver per mailbox: a new one replaces the old (VF restart). */
	mbox_close_conn(d->pf, v);
	v->cfd = fd;
	ev.data.fd = fd;
	epoll_ctl(d->pf->ep, EPOLL_CTL_ADD, fd, &ev);
	log_info("pf: VF %u: a VF driver connected to %s (pid %d)", v->c.vf, v->path, cred.pid);
}

static int mbox_listen(struct pf *p, struct pf_vf *v)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	mode_t old;

	if (snprintf(v->path, sizeof(v->path), "%s/vf%u.mbox", p->mbox_dir, v->c.vf) >=
	    (int)sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, v->path);
	unlink(v->path);
	v->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (v->lfd < 0)
		return -1;
	old = umask(0177);
	if (bind(v->lfd, (struct sockaddr *)&sun, sizeof(sun)) || listen(v->lfd, 4)) {
		umask(old);
		log_err("pf: mailbox %s: %s", v->path, strerror(errno));
		close(v->lfd);
		v->lfd = -1;
		return -1;
	}
	umask(old);
	chmod(v->path, 0600);
	ev.data.fd = v->lfd;
	epoll_ctl(p->ep, EPOLL_CTL_ADD, v->lfd, &ev);
	return 0;
}

static void db_clear(struct daemon *d, struct pf_vf *v);

static void port_gone(struct daemon *d, int ifindex);

/* ---- VF table ------------------------------------------------------------------------ */

static void vf_forget(struct daemon *d, struct pf_vf *v)
{
	struct pf *p = d->pf;
	uint32_t key = v->ifindex;

	mbox_close_conn(p, v);
	if (v->lfd >= 0) {
		epoll_ctl(p->ep, EPOLL_CTL_DEL, v->lfd, NULL);
		close(v->lfd);
		unlink(v->path);
	}
	bpf_map_delete_elem(d->bpf.map_fd[M_PORTS], &key);
	db_clear(d, v);
	free(v->sas);
	free(v->cache);
	memset(v, 0, sizeof(*v));
	v->lfd = v->cfd = -1;
}

static int port_entry(struct daemon *d, struct pf_vf *v)
{
	struct esptag_port e = { .flags = ESPTAG_PORTF_SPOOFCHK, .vf = v->c.vf };
	uint32_t key = v->ifindex;

	if (v->c.flags & ESPTAG_CTL_VF_TRUSTED)
		e.flags |= ESPTAG_PORTF_TRUSTED;
	memcpy(e.mac, v->c.mac, 6);
	return bpf_map_update_elem(d->bpf.map_fd[M_PORTS], &key, &e, BPF_ANY);
}

static void vf_item(struct daemon *d, const struct pf_vf *v, struct esptag_ctl_vf *o)
{
	*o = v->c;
	o->port = v->c.vf + 1;
	o->sa_count = v->nsa;
	o->ifindex = v->ifindex;
	o->mode = d->pf->mode;
	if (v->cfd >= 0)
		o->flags |= ESPTAG_CTL_VF_CONNECTED;
	if (v->local_added)
		o->flags |= ESPTAG_CTL_VF_LOCAL;
}

void pf_ctl(struct daemon *d, const struct esptag_ctl_view *cv, struct reply *r)
{
	struct pf *p = d->pf;
	struct esptag_ctl_vf in = {}, out;
	struct pf_vf *v;
	long n;

	if (!p) {
		reply_err(r, ESPTAG_CTL_E_INVAL,
			  "this esptagd is not in PF mode (start it with --pf to manage VFs)");
		return;
	}
	if (cv->hdr.op == ESPTAG_CTL_VF_LIST) {
		for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++)
			if (p->vf[i].used) {
				vf_item(d, &p->vf[i], &out);
				if (reply_add(r, &out)) {
					reply_err(r, ESPTAG_CTL_E_INTERNAL, "out of memory");
					return;
				}
			}
		return;
	}
	esptag_ctl_item(cv, 0, &in);
	v = &p->vf[in.vf];
	if (cv->hdr.op == ESPTAG_CTL_VF_ADD) {
		int ifindex = if_nametoindex(in.ifname);

		if (v->used) {
			char name[IF_NAMESIZE];

			/* Its old port is gone but the netlink event is still on
			 * its way: the clean-up happens now. */
			if (!if_indextoname(v->ifindex, name))
				port_gone(d, v->ifindex);
		}
		if (v->used) {
			reply_err(r, ESPTAG_CTL_E_EXIST, "VF %u already exists (on %s); vf del it first",
				  in.vf, v->c.ifname);
			return;
		}
		if (!ifindex) {
			reply_err(r, ESPTAG_CTL_E_NOENT, "no switch port %s in the PF's namespace",
				  in.ifname);
			return;
		}
		for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++)
			if (p->vf[i].used && (p->vf[i].ifindex == ifindex ||
					      !memcmp(p->vf[i].c.mac, in.mac, 6))) {
				reply_err(r, ESPTAG_CTL_E_EXIST,
					  "VF %d already uses port %s or MAC of VF %u", i,
					  in.ifname, in.vf);
				return;
			}
		if (ifindex == d->ifindex || ifindex == p->uplink_ifindex) {
			reply_err(r, ESPTAG_CTL_E_INVAL, "%s is the PF or the uplink, not a VF port",
				  in.ifname);
			return;
		}
		memset(v, 0, sizeof(*v));
		v->c = in;
		if (!v->c.limit)
			v->c.limit = p->limit;
		v->ifindex = ifindex;
		v->lfd = v->cfd = -1;
		v->used = true;
		v->cache = calloc(VF_CACHE_SIZE, sizeof(*v->cache));
		if (!v->cache) {
			reply_err(r, ESPTAG_CTL_E_INTERNAL, "out of memory");
			vf_forget(d, v);
			return;
		}
		if (port_entry(d, v)) {
			reply_err(r, ESPTAG_CTL_E_BPF, "esptag_ports update failed: %s",
				  strerror(errno));
			vf_forget(d, v);
			return;
		}
		if (port_attach(ifindex, bpf_program__fd(p->skel->progs.esptag_port_from_vf),
				BPF_TC_INGRESS, in.ifname) ||
		    port_attach(ifindex, bpf_program__fd(p->skel->progs.esptag_port_egress),
				BPF_TC_EGRESS, in.ifname)) {
			reply_err(r, ESPTAG_CTL_E_BPF, "cannot attach esptag_port on %s", in.ifname);
			vf_forget(d, v);
			return;
		}
		if (mbox_listen(p, v)) {
			reply_err(r, ESPTAG_CTL_E_INTERNAL, "cannot create the mailbox in %s",
				  p->mbox_dir);
			port_detach(ifindex, BPF_TC_INGRESS);
			port_detach(ifindex, BPF_TC_EGRESS);
			vf_forget(d, v);
			return;
		}
		vf_local(d, v, true);
		log_info("pf: VF %u on %s (port %u, %s, limit %u): mailbox %s", in.vf, in.ifname,
			 in.vf + 1, in.flags & ESPTAG_CTL_VF_TRUSTED ? "trusted" : "untrusted",
			 v->c.limit, v->path);
		vf_item(d, v, &out);
		reply_add(r, &out);
		return;
	}
	if (!v->used) {
		reply_err(r, ESPTAG_CTL_E_NOENT, "no VF %u (see esptag vf list)", in.vf);
		return;
	}
	switch (cv->hdr.op) {
	case ESPTAG_CTL_VF_TRUST:
		v->c.flags = (v->c.flags & ~ESPTAG_CTL_VF_TRUSTED) |
			     (in.flags & ESPTAG_CTL_VF_TRUSTED);
		if (port_entry(d, v))
			reply_err(r, ESPTAG_CTL_E_BPF, "esptag_ports update failed: %s",
				  strerror(errno));
		else
			log_info("pf: VF %u is now %s", v->c.vf,
				 v->c.flags & ESPTAG_CTL_VF_TRUSTED ? "trusted" : "untrusted");
		break;
	case ESPTAG_CTL_VF_RESET:
		n = vf_cleanup(d, v, "vf reset");
		if (n < 0) {
			reply_err(r, ESPTAG_CTL_E_TIMEOUT,
				  "the agent did not confirm removing the VF's SAs; nothing was forgotten, try again");
			break;
		}
		vf_item(d, v, &out);
		out.sa_count = n;
		reply_add(r, &out);
		/* The VF driver must start over: its SAs are gone. */
		mbox_close_conn(p, v);
		break;
	case ESPTAG_CTL_VF_DEL:
		if (vf_cleanup(d, v, "vf del") < 0) {
			reply_err(r, ESPTAG_CTL_E_TIMEOUT,
				  "the agent did not confirm removing the VF's SAs; the VF stays");
			break;
		}
		vf_local(d, v, false);
		port_detach(v->ifindex, BPF_TC_INGRESS);
		port_detach(v->ifindex, BPF_TC_EGRESS);
		vf_forget(d, v);
		break;
	}
}

/* ---- netlink: a VF port vanishing is a destroyed VM -------------------------------- */

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	int rcv = 1 << 20;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void port_gone(struct daemon *d, int ifindex)
{
	struct pf *p = d->pf;

	for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++) {
		struct pf_vf *v = &p->vf[i];

		if (!v->used || v->ifindex != ifindex)
			continue;
		log_notice("pf: VF %u: switch port %s vanished (VM destroyed): abandoned-SA cleanup",
			   v->c.vf, v->c.ifname);
		if (vf_cleanup(d, v, "port vanished") < 0)
			log_err("pf: VF %u: cleanup not confirmed; forgetting the VF anyway, the PF's audit of port %u is needed",
				v->c.vf, v->c.vf + 1);
		vf_local(d, v, false);
		vf_forget(d, v);
	}
}

static void nl_read(struct daemon *d)
{
	uint8_t buf[16384];
	ssize_t n;

	while ((n = recv(d->pf->nl, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			struct ifinfomsg *ifi = NLMSG_DATA(h);

			if (h->nlmsg_type == RTM_DELLINK &&
			    h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifi)))
				port_gone(d, ifi->ifi_index);
		}
	}
	if (n < 0 && errno == ENOBUFS) {
		/* Lost events: check every VF port still exists. */
		for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++) {
			char name[IF_NAMESIZE];

			if (d->pf->vf[i].used && !if_indextoname(d->pf->vf[i].ifindex, name))
				port_gone(d, d->pf->vf[i].ifindex);
		}
	}
}

/* ---- life cycle ------------------------------------------------------------------------ */

int pf_init(struct daemon *d, const struct pf_opts *o, int ep)
{
	struct pf *p = calloc(1, sizeof(*p));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!p)
		return -1;
	d->pf = p;
	p->ep = ep;
	p->nl = -1;
	p->mode = o->vepa ? ESPTAG_CTL_SW_VEPA : ESPTAG_CTL_SW_VEB;
	p->limit = o->vf_limit;
	p->local_family = o->local_family;
	memcpy(p->local_addr, o->local_addr, 16);
	for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++)
		p->vf[i].lfd = p->vf[i].cfd = -1;
	snprintf(p->mbox_dir, sizeof(p->mbox_dir), "%s", o->mbox_dir);
	if (mkdir(p->mbox_dir, 0700) && errno != EEXIST) {
		log_err("pf: cannot create mailbox directory %s: %s", p->mbox_dir, strerror(errno));
		return -1;
	}
	if (port_load(p, o->pin_dir))
		return -1;
	if (o->uplink) {
		snprintf(p->uplink, sizeof(p->uplink), "%s", o->uplink);
		p->uplink_ifindex = if_nametoindex(o->uplink);
		if (!p->uplink_ifindex) {
			log_err("pf: no uplink port %s", o->uplink);
			return -1;
		}
		if (port_attach(p->uplink_ifindex,
				bpf_program__fd(p->skel->progs.esptag_port_egress), BPF_TC_EGRESS,
				o->uplink))
			return -1;
	}
	p->nl = nl_open();
	if (p->nl < 0) {
		log_err("pf: netlink: %s", strerror(errno));
		return -1;
	}
	ev.data.fd = p->nl;
	epoll_ctl(ep, EPOLL_CTL_ADD, p->nl, &ev);
	log_info("pf: PF mode, switch %s, uplink %s, mailboxes in %s, VF SA limit %u",
		 p->mode == ESPTAG_CTL_SW_VEPA ? "VEPA (VF-to-VF through the agent)" :
						 "VEB (VF-to-VF switched locally, bypasses the agent)",
		 o->uplink ? o->uplink : "-", p->mbox_dir, p->limit);
	return 0;
}

/* After the agent answered HELLO (and after an agent restart). */
static void pf_agent_up(struct daemon *d)
{
	if (!d->pf)
		return;
	pf_local(d, true);
	for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++)
		if (d->pf->vf[i].used)
			vf_local(d, &d->pf->vf[i], true);
}

/* Make a VF's database and domain entries what the agent's DUMP_SA of its
 * port says (the agent is the truth after it restarted). */
static void vf_resync(struct daemon *d, struct pf_vf *v)
{
	struct esptag_rec_sa *recs;
	int n = agent_dump(d, v->c.vf + 1, &recs);

	if (n < 0) {
		log_warn("pf: VF %u: DUMP_SA of port %u failed; its database is kept", v->c.vf,
			 v->c.vf + 1);
		return;
	}
	db_clear(d, v);
	for (int i = 0; i < n; i++)
		if (!db_add(v, &recs[i]))
			map_domain(d, v, &recs[i]);
	free(recs);
	log_info("pf: VF %u: %d SAs in the agent after its restart", v->c.vf, n);
}

/* The agent restarted: the LOCAL records are gone there, and each VF's SAs
 * are whatever its VF driver has re-installed so far (the VF drivers see
 * the new epoch in their own HELLO and re-install through the mailbox, maybe
 * before the PF noticed): resync rather than clear. */
static void pf_agent_restarted(struct daemon *d)
{
	if (!d->pf)
		return;
	d->pf->local_added = false;
	for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++) {
		d->pf->vf[i].local_added = false;
		if (d->pf->vf[i].used)
			vf_resync(d, &d->pf->vf[i]);
	}
	pf_agent_up(d);
}

/* The PF's part in the agent link's events (link.c). */
void pf_link_event(struct daemon *d, enum link_event ev, uint64_t old_epoch)
{
	if (ev == LINK_EV_RESTARTED)
		pf_agent_restarted(d);
	else if (ev == LINK_EV_ALIVE)
		pf_agent_up(d);
}

bool pf_event(struct daemon *d, int fd)
{
	struct pf *p = d->pf;

	if (!p)
		return false;
	if (fd == p->nl) {
		nl_read(d);
		return true;
	}
	for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++) {
		struct pf_vf *v = &p->vf[i];

		if (!v->used)
			continue;
		if (fd == v->lfd) {
			mbox_accept(d, v);
			return true;
		}
		if (fd == v->cfd) {
			mbox_read(d, v);
			return true;
		}
	}
	return false;
}

void pf_exit(struct daemon *d, bool cleanup)
{
	struct pf *p = d->pf;

	if (!p)
		return;
	if (!cleanup) {
		/*
		 * Fail closed across a PF restart: the VF ports keep esptag_port
		 * (spoof check, untrusted frames wrapped), their esptag_ports
		 * entries and domain entries, and the agent keeps the VFs' SAs.
		 * Only the mailboxes close (the VF daemons exit, keeping their own
		 * data path).
		 */
		for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++) {
			struct pf_vf *v = &p->vf[i];

			if (!v->used)
				continue;
			mbox_close_conn(p, v);
			if (v->lfd >= 0) {
				close(v->lfd);
				unlink(v->path);
			}
			free(v->sas);
		}
		goto out;
	}
	{
		/* Leave nothing of the VFs in the agent behind us: one FLUSH_PORT
		 * per VF, all in flight together (the agent may be gone already). */
		struct txn *t = calloc(ESPTAG_CTL_VF_MAX + 1, sizeof(*t));
		size_t n = 0;

		for (int i = 0; t && i <= ESPTAG_CTL_VF_MAX; i++) {
			struct esptag_cfg_builder b;

			if (!p->vf[i].used)
				continue;
			chan_begin(&d->chan, &t[n], &b, ESPTAG_OP_FLUSH_PORT, i + 1);
			if (!chan_finish(&d->chan, &t[n], &b))
				n++;
		}
		if (n && chan_run(&d->chan, t, n, 2))
			log_warn("pf: exit: the agent did not confirm FLUSH_PORT of every VF port");
		free(t);
	}
	for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++) {
		struct pf_vf *v = &p->vf[i];

		if (!v->used)
			continue;
		v->local_added = false;	/* FLUSH_PORT of port 0 follows at exit */
		port_detach(v->ifindex, BPF_TC_INGRESS);
		port_detach(v->ifindex, BPF_TC_EGRESS);
		vf_forget(d, v);
	}
	if (p->uplink_ifindex)
		port_detach(p->uplink_ifindex, BPF_TC_EGRESS);
out:
	if (p->nl >= 0)
		close(p->nl);
	esptag_port_bpf__destroy(p->skel);
	rmdir(p->mbox_dir);
	free(p);
	d->pf = NULL;
}

int pf_remove_leftover(struct daemon *d, const char *uplink, uint16_t *vfs, int max)
{
	uint32_t key, next, *pk = NULL;
	struct esptag_port e;
	int n = 0;

	while (d->bpf.map_fd[M_PORTS] >= 0 && !bpf_map_get_next_key(d->bpf.map_fd[M_PORTS], pk, &next)) {
		key = next;
		pk = &key;
		if (bpf_map_lookup_elem(d->bpf.map_fd[M_PORTS], &key, &e))
			continue;
		tc_detach_leftover(key, BPF_TC_INGRESS, PORT_TC_HANDLE, PORT_TC_PRIO);
		tc_detach_leftover(key, BPF_TC_EGRESS, PORT_TC_HANDLE, PORT_TC_PRIO);
		if (n < max)
			vfs[n++] = e.vf;
	}
	if (uplink) {
		int ifindex = if_nametoindex(uplink);

		if (ifindex)
			tc_detach_leftover(ifindex, BPF_TC_EGRESS, PORT_TC_HANDLE, PORT_TC_PRIO);
		else
			log_warn("pf: no uplink port %s", uplink);
	}
	return n;
}
