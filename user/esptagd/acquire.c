// SPDX-License-Identifier: GPL-2.0-only
/*
 * Acquires: esptag_tx drops a packet of a trap policy (a protect policy
 * following a reqid that has no SA) and writes a record into the
 * esptag_acquire ring buffer, at most one per policy in flight
 * (esptag_acq_pend: re-armed by spd.c when an SA appears for the policy,
 * else after ESPTAG_ACQ_EXPIRES_NS, XFRM's default acquire expiry). This
 * module reads the ring buffer in the event loop and tells the monitor
 * clients (ESPTAG_EV_ACQUIRE: reqid, policy id, the packet's addresses and
 * IP protocol), which is how an IKE daemon learns to negotiate.
 */
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "esptagd.h"

static int on_acquire(void *ctx, void *data, size_t len)
{
	struct daemon *d = ctx;
	struct esptag_acquire a;
	struct esptag_ctl_event e = { .type = ESPTAG_EV_ACQUIRE, .dir = ESPTAG_DIR_OUT };
	const struct pol *p = NULL;
	char s[64], t[64];

	if (len < sizeof(a))
		return 0;
	memcpy(&a, data, sizeof(a));
	for (size_t i = 0; i < d->pol_cap && !p; i++)
		if (d->pols[i].used && d->pols[i].c.id == a.policy_id)
			p = &d->pols[i];
	if (!p || !pol_follows_reqid(&p->c) || (a.family != 4 && a.family != 6))
		return 0;	/* gone or changed since: nothing to ask for */
	e.id = a.proto;
	e.family = a.family;
	memcpy(e.saddr, a.saddr, 16);
	memcpy(e.daddr, a.daddr, 16);
	e.reqid = p->c.reqid;
	e.policy_id = p->c.id;
	e.sa_index = 0;
	log_info("acquire: policy %u reqid %u: %s -> %s proto %u", p->c.id, p->c.reqid,
		 esptag_addr_str(a.family, a.saddr, s, sizeof(s)),
		 esptag_addr_str(a.family, a.daddr, t, sizeof(t)), a.proto);
	monitor_send(d, &e);
	return 0;
}

int acquire_open(struct daemon *d)
{
	struct ring_buffer *rb;

	if (d->bpf.map_fd[M_ACQ] < 0)
		return -1;
	rb = ring_buffer__new(d->bpf.map_fd[M_ACQ], on_acquire, d, NULL);
	if (!rb) {
		log_warn("esptag_acquire: cannot read the ring buffer (%s): no acquire events",
			 strerror(errno));
		return -1;
	}
	d->acq_rb = rb;
	return ring_buffer__epoll_fd(rb);
}

void acquire_poll(struct daemon *d)
{
	if (d->acq_rb && ring_buffer__consume(d->acq_rb) < 0)
		log_warn("esptag_acquire: %s", strerror(errno));
}

void acquire_close(struct daemon *d)
{
	if (d->acq_rb)
		ring_buffer__free(d->acq_rb);
	d->acq_rb = NULL;
}
