// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <unistd.h>
#include "esptagd.h"

/*
 * esptagd --teardown: the explicit act that removes what stopped daemons
 * left running on a port. In fail-closed order: the data path first drops
 * protect traffic (AGENT_UP cleared), the agent forgets the port's SAs (and
 * its VFs'), then the programs are detached and the pins removed.
 */
int run_teardown(struct daemon *d, const struct opts *o)
{
	const char *pin_dir = o->bo.pin_dir, *sock = o->sock;
	uint16_t vfs[ESPTAG_CTL_VF_MAX + 1];
	struct txn *t = NULL;
	int nvf = 0, n = 0, rc = 0, bad;

	if (sock_live(sock)) {
		log_err("an esptagd serves %s: stop it first (a stop keeps the data path; --teardown then removes it)",
			sock);
		return ESPTAG_EXIT_FAIL;
	}
	if (bpf_open_leftover(d, pin_dir) > 0 && d->bpf.map_fd[M_CFG] >= 0)
		cfg_set_agent_up(d, false);
	if (o->pf_mode)
		nvf = pf_remove_leftover(d, o->po.uplink, vfs, ESPTAG_CTL_VF_MAX + 1);
	if (!d->vf_mode) {
		/* FLUSH_PORT of this port and of every VF port found, together. */
		t = calloc(nvf + 1, sizeof(*t));
		if (t && !chan_open(&d->chan, d->dev)) {
			/* No HELLO here: FLUSH_PORT carries no key, so it goes in our
			 * highest version, and again in the agent's if it says
			 * BAD_VERSION (an agent that speaks only version 1). */
			d->chan.version = ESPTAG_PROTO_VERSION_MAX;
			for (int pass = 0; pass < 2; pass++) {
				uint8_t agent_v = 0;

				n = 0;
				for (int i = -1; i < nvf; i++) {
					struct esptag_cfg_builder b;

					chan_begin(&d->chan, &t[n], &b, ESPTAG_OP_FLUSH_PORT,
						   i >= 0 ? vfs[i] + 1 : d->chan.port);
					if (!chan_finish(&d->chan, &t[n], &b))
						n++;
				}
				bad = chan_run(&d->chan, t, n, 0);
				for (int i = 0; i < n; i++)
					if (t[i].state == TXN_DONE &&
					    t[i].v.status == ESPTAG_ST_BAD_VERSION)
						agent_v = t[i].v.version;
				if (!agent_v || agent_v == d->chan.version ||
				    agent_v > ESPTAG_PROTO_VERSION_MAX)
					break;
				d->chan.version = agent_v;
			}
			for (int i = 0; i < n; i++)
				bad += t[i].state == TXN_DONE && t[i].v.status;
			if (bad) {
				log_warn("teardown: the agent did not confirm FLUSH_PORT; its SAs of this port remain until the next esptagd removes them as orphans");
				rc = ESPTAG_EXIT_FAIL;
			} else {
				log_info("teardown: the agent removed the SAs of port %u%s", d->chan.port,
					 nvf ? " and of its VFs" : "");
			}
			chan_close(&d->chan);
		} else {
			log_warn("teardown: no agent channel on %s; the agent's SAs stay", d->dev);
			rc = ESPTAG_EXIT_FAIL;
		}
		free(t);
	}
	bpf_remove_leftover(d, pin_dir, o->bo.tc_prio);
	unlink(sock);
	log_info("teardown of %s done: programs detached, pins in %s removed", d->dev, pin_dir);
	return rc;
}
