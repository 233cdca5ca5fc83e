// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control requests on policies: policy add/update/del/list/flush. A
 * request changes the two-level LPM (spd.c) so that the data path sees the
 * old or the new decision, never a hole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "esptagd.h"
#include "spd.h"

/*
 * Refuse a policy that names its SA ambiguously: several outbound SAs fit
 * and nothing (tmpl dst, reqid ...) tells them apart.
 */
static bool ambiguous(struct daemon *d, const struct esptag_ctl_policy *c, struct reply *r)
{
	const struct sa *two[2];
	char a0[64], a1[64];
	size_t n;

	/* Several SAs of one reqid are a rekey: the newest is used. */
	if (!pol_is_out_protect(c) || pol_follows_reqid(c))
		return false;
	n = tmpl_candidates(d, c, two);
	if (n < 2)
		return false;
	reply_err(r, ESPTAG_CTL_E_INVAL,
		  "spi 0x%08x%s fits %zu outbound SAs (dst %s, dst %s%s): name the SA with 'tmpl dst PEER' (or reqid); nothing was changed",
		  c->spi, c->tmpl_flags ? " with this template" : "", n,
		  esptag_addr_str(two[0]->c.family, two[0]->c.daddr, a0, sizeof(a0)),
		  esptag_addr_str(two[1]->c.family, two[1]->c.daddr, a1, sizeof(a1)),
		  n > 2 ? ", ..." : "");
	return true;
}

struct pol *pol_find(struct daemon *d, const struct esptag_ctl_policy *c)
{
	for (size_t i = 0; i < d->pol_cap; i++) {
		struct pol *p = &d->pols[i];

		if (p->used && p->c.dir == c->dir && p->c.family == c->family &&
		    p->c.src_plen == c->src_plen && p->c.dst_plen == c->dst_plen &&
		    !memcmp(p->c.src, c->src, 16) && !memcmp(p->c.dst, c->dst, 16))
			return p;
	}
	return NULL;
}

static void pol_event(struct daemon *d, int type, const struct pol *p)
{
	struct esptag_ctl_sa s = { .dir = p->c.dir, .family = p->c.family, .spi = p->c.spi,
				   .sa_index = p->c.sa_index };

	memcpy(s.daddr, p->c.dst, 16);
	monitor_event(d, type, &s, p->c.id, 0, 0);
}

void ctl_policy_add(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	struct esptag_ctl_policy c;
	struct pol *p = NULL;
	struct node *n;
	bool new_node = false;

	esptag_ctl_item(v, 0, &c);
	if (strcmp(c.dev, d->dev)) {
		reply_err(r, ESPTAG_CTL_E_DEV, "this esptagd manages %s, not %s", d->dev, c.dev);
		return;
	}
	if (pol_find(d, &c)) {
		reply_err(r, ESPTAG_CTL_E_EXIST,
			  "a policy for this src, dst and dir exists (esptag policy update ... replaces its action)");
		return;
	}
	if (ambiguous(d, &c, r))
		return;
	for (size_t i = 0; i < d->pol_cap && !p; i++)
		if (!d->pols[i].used)
			p = &d->pols[i];
	n = node_find(d, c.dir, c.family, c.dst_plen, c.dst);
	if (!n) {
		n = node_alloc(d);
		new_node = true;
	}
	if (!p || !n) {
		if (n && new_node)
			n->used = false;
		reply_err(r, ESPTAG_CTL_E_NOSPC, "policy table full (%zu)", d->pol_cap);
		return;
	}
	if (new_node) {
		n->id = d->next_node_id++;
		n->dir = c.dir;
		n->family = c.family;
		n->plen = c.dst_plen;
		memcpy(n->addr, c.dst, 16);
		if (too_deep(d, n)) {
			n->used = false;
			reply_err(r, ESPTAG_CTL_E_NOSPC,
				  "destination prefixes with policies would nest more than %u deep around this dst; nothing was changed",
				  ESPTAG_SPD_DEPTH);
			return;
		}
		/* The node is written with its parent first; only then are
		 * longer prefixes re-pointed at it, so that no lookup meets a
		 * parent link to a node that is not there yet. */
		set_parent(d, n, NULL);
		if (node_write(d, n)) {
			reply_err(r, ESPTAG_CTL_E_BPF, "cannot write esptag_spd: %s", strerror(errno));
			n->used = false;
			return;
		}
		reparent(d, NULL);
	}
	memset(p, 0, sizeof(*p));
	p->used = true;
	p->c = c;
	p->c.id = d->next_pol_id++;
	p->node = n - d->nodes + 1;
	p->c.sa_index = resolve_sa(d, p);
	/* An inbound template is in place before the policy that names it. */
	if ((pol_has_in_tmpl(&p->c) &&
	     (tmpl_write(d, &p->c) || cfg_set_flag(d, ESPTAG_CFGF_IN_TMPL, true))) ||
	    pol_write(d, p)) {
		reply_err(r, ESPTAG_CTL_E_BPF, "cannot write the policy maps (esptag_spd_src, esptag_pol_tmpl): %s; nothing was changed",
			  strerror(errno));
		pol_maps_del(d, p->c.id);
		p->used = false;
		in_tmpl_sync(d);
		if (new_node) {
			struct esptag_spd_key k;

			node_key(n, &k);
			bpf_map_delete_elem(d->bpf.map_fd[M_SPD], &k);
			n->used = false;
			reparent(d, NULL);
		}
		return;
	}
	n->refs++;
	pol_maps_add(d, p);
	reply_add(r, &p->c);
	pol_event(d, ESPTAG_EV_POLICY_ADDED, p);
	if (pol_follows_reqid(&c) && p->c.sa_index == ESPTAG_SA_INDEX_NONE)
		log_info("policy %u: no outbound SA with reqid %u yet: a trap policy (its traffic is dropped and raises an acquire)",
			 p->c.id, c.reqid);
	else if (c.action == ESPTAG_ACT_PROTECT && c.dir == ESPTAG_DIR_OUT &&
		 p->c.sa_index == ESPTAG_SA_INDEX_NONE)
		log_notice("policy %u: no outbound SA with spi 0x%08x fits yet; matching traffic is dropped until it is added",
			   p->c.id, c.spi);
	log_info("policy %u added (%s %s)", p->c.id, c.dir == ESPTAG_DIR_IN ? "in" : "out",
		 esptag_action_str(c.action));
}

/*
 * Replace the action and SA of an existing policy: one update of its
 * esptag_spd_src element (and of a host policy's esptag_spd_host entry
 * after it), which the data path sees as the old or the new
 * value, never as a missing policy (a delete and re-add would let matching
 * traffic out in clear between the two).
 */
void ctl_policy_update(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	struct esptag_ctl_policy c;
	struct pol *p, old;

	esptag_ctl_item(v, 0, &c);
	if (strcmp(c.dev, d->dev)) {
		reply_err(r, ESPTAG_CTL_E_DEV, "this esptagd manages %s, not %s", d->dev, c.dev);
		return;
	}
	p = pol_find(d, &c);
	if (!p) {
		reply_err(r, ESPTAG_CTL_E_NOENT,
			  "no policy for this src, dst and dir to update (esptag policy add ...)");
		return;
	}
	if (ambiguous(d, &c, r))
		return;
	old = *p;
	p->c.action = c.action;
	p->c.spi = c.spi;
	p->c.reqid = c.reqid;
	p->c.tmpl_family = c.tmpl_family;
	p->c.tmpl_flags = c.tmpl_flags;
	p->c.tmpl_mode = c.tmpl_mode;
	memcpy(p->c.tmpl_src, c.tmpl_src, 16);
	memcpy(p->c.tmpl_dst, c.tmpl_dst, 16);
	p->bound = p->lost = p->recovered = p->warned = false;
	p->c.sa_index = resolve_sa(d, p);
	if ((pol_has_in_tmpl(&p->c) &&
	     (tmpl_write(d, &p->c) || cfg_set_flag(d, ESPTAG_CFGF_IN_TMPL, true))) ||
	    pol_write(d, p)) {
		int e = errno;

		*p = old;
		if (pol_has_in_tmpl(&old.c))
			tmpl_write(d, &old.c);
		else if (d->bpf.map_fd[M_POL_TMPL] >= 0)
			bpf_map_delete_elem(d->bpf.map_fd[M_POL_TMPL], &p->c.id);
		in_tmpl_sync(d);
		reply_err(r, ESPTAG_CTL_E_BPF, "cannot update the policy maps (esptag_spd_src, esptag_pol_tmpl): %s; nothing was changed",
			  strerror(e));
		return;
	}
	/* The policy no longer names a template: its entry goes after it. */
	if (!pol_has_in_tmpl(&p->c) && pol_has_in_tmpl(&old.c) && d->bpf.map_fd[M_POL_TMPL] >= 0)
		bpf_map_delete_elem(d->bpf.map_fd[M_POL_TMPL], &p->c.id);
	in_tmpl_sync(d);
	if (pol_follows_reqid(&p->c))
		acq_rearm(d, p->c.id);
	reply_add(r, &p->c);
	pol_event(d, ESPTAG_EV_POLICY_UPDATED, p);
	if (pol_is_out_protect(&p->c) && !pol_follows_reqid(&p->c) &&
	    p->c.sa_index == ESPTAG_SA_INDEX_NONE)
		log_notice("policy %u: no outbound SA with spi 0x%08x fits yet; matching traffic is dropped until it is added",
			   p->c.id, p->c.spi);
	log_info("policy %u updated (%s %s)", p->c.id, p->c.dir == ESPTAG_DIR_IN ? "in" : "out",
		 esptag_action_str(p->c.action));
}

static void pol_remove(struct daemon *d, struct pol *p)
{
	struct node *n = &d->nodes[p->node - 1];

	pol_unwrite(d, p);
	pol_event(d, ESPTAG_EV_POLICY_REMOVED, p);
	pol_maps_del(d, p->c.id);
	p->used = false;
	if (--n->refs == 0) {
		struct esptag_spd_key nk;

		/* Children skip this node before it disappears. */
		reparent(d, n);
		node_key(n, &nk);
		if (bpf_map_delete_elem(d->bpf.map_fd[M_SPD], &nk) && errno != ENOENT)
			log_err("esptag_spd: delete: %s", strerror(errno));
		n->used = false;
	}
}

/* The policy a request names by its selector (dev, dir, src, dst), or NULL
 * with the error in the reply. */
static struct pol *pol_named(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	struct esptag_ctl_policy c;
	struct pol *p;

	esptag_ctl_item(v, 0, &c);
	if (strcmp(c.dev, d->dev)) {
		reply_err(r, ESPTAG_CTL_E_DEV, "this esptagd manages %s, not %s", d->dev, c.dev);
		return NULL;
	}
	p = pol_find(d, &c);
	if (!p)
		reply_err(r, ESPTAG_CTL_E_NOENT, "no policy for this src, dst and dir (esptag policy list)");
	return p;
}

void ctl_policy_del(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	struct pol *p = pol_named(d, v, r);

	if (!p)
		return;
	log_info("policy %u deleted", p->c.id);
	pol_remove(d, p);
	in_tmpl_sync(d);
	host_flag_sync(d);
}

/* A policy as a reply: with the time of its last packet. */
static void reply_pol(struct daemon *d, struct reply *r, const struct pol *p)
{
	struct esptag_ctl_policy out = p->c;

	out.use_time = pol_use_time(d, p->c.id);
	reply_add(r, &out);
}

void ctl_policy_list(struct daemon *d, struct reply *r)
{
	for (size_t i = 0; i < d->pol_cap; i++)
		if (d->pols[i].used)
			reply_pol(d, r, &d->pols[i]);
}

/* One policy by its selector (dev, dir, src, dst), with its use time. */
void ctl_policy_get(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	struct pol *p = pol_named(d, v, r);

	if (p)
		reply_pol(d, r, p);
}

void ctl_policy_flush(struct daemon *d, struct reply *r)
{
	size_t n = 0;

	for (size_t i = 0; i < d->pol_cap; i++)
		if (d->pols[i].used) {
			pol_remove(d, &d->pols[i]);
			n++;
		}
	in_tmpl_sync(d);
	host_flag_sync(d);
	log_info("flushed %zu policies", n);
}
