// SPDX-License-Identifier: GPL-2.0-only
/*
 * PF mode: the VF table's control requests (esptag vf add/del/list/trust/reset).
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

static void vf_list(struct daemon *d, struct reply *r)
{
	struct esptag_ctl_vf out;

	for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++)
		if (d->pf->vf[i].used) {
			vf_item(d, &d->pf->vf[i], &out);
			if (reply_add(r, &out)) {
				reply_err(r, ESPTAG_CTL_E_INTERNAL, "out of memory");
				return;
			}
		}
}

/* May VF in.vf be added on in.ifname? 0, or -1 with the reply's error. */
static int vf_add_check(struct daemon *d, struct pf_vf *v, const struct esptag_ctl_vf *inp,
			int ifindex, struct reply *r)
{
	struct pf *p = d->pf;
	const struct esptag_ctl_vf in = *inp;

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
		return -1;
	}
	if (!ifindex) {
		reply_err(r, ESPTAG_CTL_E_NOENT, "no switch port %s in the PF's namespace",
			  in.ifname);
		return -1;
	}
	for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++)
		if (p->vf[i].used && (p->vf[i].ifindex == ifindex ||
				      !memcmp(p->vf[i].c.mac, in.mac, 6))) {
			reply_err(r, ESPTAG_CTL_E_EXIST,
				  "VF %d already uses port %s or MAC of VF %u", i,
				  in.ifname, in.vf);
			return -1;
		}
	if (ifindex == d->ifindex || ifindex == p->uplink_ifindex) {
		reply_err(r, ESPTAG_CTL_E_INVAL, "%s is the PF or the uplink, not a VF port",
			  in.ifname);
		return -1;
	}
	return 0;
}

/* VF add: the esptag_ports entry, esptag_port on its switch port, its
 * mailbox, its LOCAL record (VEPA). */
static void vf_add(struct daemon *d, const struct esptag_ctl_vf *inp, struct reply *r)
{
	struct pf *p = d->pf;
	const struct esptag_ctl_vf in = *inp;
	struct pf_vf *v = &p->vf[in.vf];
	int ifindex = if_nametoindex(in.ifname);
	struct esptag_ctl_vf out;

	if (vf_add_check(d, v, &in, ifindex, r))
		return;
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
	if (port_attach(ifindex, bpf_program__fd(p->skel->progs.esptag_port_in),
			BPF_TC_INGRESS, in.ifname) ||
	    port_attach(ifindex, bpf_program__fd(p->skel->progs.esptag_port_out),
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
		vf_list(d, r);
		return;
	}
	esptag_ctl_item(cv, 0, &in);
	v = &p->vf[in.vf];
	if (cv->hdr.op == ESPTAG_CTL_VF_ADD) {
		vf_add(d, &in, r);
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
