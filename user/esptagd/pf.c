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

#include "pf.h"

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
				bpf_program__fd(p->skel->progs.esptag_port_out), BPF_TC_EGRESS,
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

