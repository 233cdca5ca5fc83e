// SPDX-License-Identifier: GPL-2.0-only
/*
 * PF mode: the agent on behalf of a VF (requests for its port, LOCAL records,
 * the abandoned-SA cleanup) and the PF's database of the VFs' SAs and their
 * domains in esptag_sad.
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

/* ---- the agent, on behalf of a VF ---------------------------------------------- */

/* Run one config exchange for port; payload already in t->frame + 14. */
void frame_head(struct daemon *d, struct txn *t)
{
	uint16_t et = htons(d->chan.eth_p);

	memcpy(t->frame, (const uint8_t[6])ESPTAG_AGENT_MAC_INIT, 6);
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
int agent_req_rec(struct daemon *d, struct txn *t, uint8_t op, uint16_t port,
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
int vf_local(struct daemon *d, struct pf_vf *v, bool add)
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

void pf_local(struct daemon *d, bool add)
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
long vf_cleanup(struct daemon *d, struct pf_vf *v, const char *why)
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

