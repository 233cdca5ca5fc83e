// SPDX-License-Identifier: GPL-2.0-only
/*
 * Monitor clients (esptag monitor): control connections that stay open and
 * get an EVENT message for SA changes, agent link events and drop counters.
 * A client that does not keep up is dropped.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include "esptagd.h"

void monitor_drop(struct daemon *d, int i)
{
	close(d->monitors[i]);
	d->monitors[i] = d->monitors[--d->nmon];
}

void monitor_send(struct daemon *d, struct esptag_ctl_event *e)
{
	struct esptag_ctl_hdr h;
	struct timespec ts;
	uint8_t buf[sizeof(h) + sizeof(*e)];

	if (!d->nmon)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	e->time_ms = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	esptag_ctl_hdr_init(&h, ESPTAG_CTL_EVENT, true, 0, 1, sizeof(*e));
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), e, sizeof(*e));
	for (int i = d->nmon - 1; i >= 0; i--)
		if (send(d->monitors[i], buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(buf))
			monitor_drop(d, i);
}

void monitor_event(struct daemon *d, int type, const struct esptag_ctl_sa *sa, uint64_t value,
		   uint64_t delta, uint16_t id)
{
	struct esptag_ctl_event e = { .type = type, .id = id, .value = value, .delta = delta };

	if (!d->nmon)
		return;
	if (sa) {
		e.sa_index = sa->sa_index == ESPTAG_SA_INDEX_NONE ? 0 : sa->sa_index;
		e.spi = sa->spi;
		e.dir = sa->dir;
		e.family = sa->family;
		memcpy(e.daddr, sa->daddr, 16);
		memcpy(e.saddr, sa->saddr, 16);
		e.reqid = sa->reqid;
	}
	monitor_send(d, &e);
}

void monitor_counters(struct daemon *d)
{
	for (uint32_t id = 0; id < ESPTAG_CNT_MAX; id++) {
		uint64_t v;

		if (percpu_sum_u64(d, M_STATS, id, &v))
			continue;
		if (d->have_last_cnt && v > d->last_cnt[id] && esptag_counter_is_drop(id))
			monitor_event(d, ESPTAG_EV_DROP, NULL, v, v - d->last_cnt[id], id);
		d->last_cnt[id] = v;
	}
	d->have_last_cnt = true;
}

/* The monitor's part in the agent link's events (link.c). */
void monitor_link_event(struct daemon *d, enum link_event ev, uint64_t old_epoch)
{
	if (ev == LINK_EV_UP)
		monitor_event(d, ESPTAG_EV_AGENT_UP, NULL, 0, 0, 0);
	else if (ev == LINK_EV_DOWN)
		monitor_event(d, ESPTAG_EV_AGENT_DOWN, NULL, 0, 0, 0);
	else if (ev == LINK_EV_RESTARTED)
		monitor_event(d, ESPTAG_EV_AGENT_RESTARTED, NULL, d->reinstalled_last, d->caps.epoch, 0);
}
