// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel-esptag: esptagd's events back to charon. A thread keeps a MONITOR
 * connection open and turns
 *   SA_SOFT_EXPIRED  into charon->kernel->expire(..., hard = FALSE): rekey
 *   SA_EXPIRED       into charon->kernel->expire(..., hard = TRUE): delete
 *                    (a lifetime, the sequence space, or esptagd removed
 *                    the SA for another reason: it is gone either way)
 *   ACQUIRE          into charon->kernel->acquire(reqid, packet's src/dst)
 * When esptagd goes away (restart), it reconnects every second and calls
 * on_connect again.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <library.h>
#include <daemon.h>
#include <threading/thread.h>
#include <utils/debug.h>

#include "kernel_esptag_ipsec.h"
#include "ctl_client.h"

struct esptag_monitor_t {
	esptag_conn_t *conn;
	void (*on_connect)(void *data);
	void *data;
	thread_t *thread;
	int fd;
};

static traffic_selector_t *ts_of(uint8_t family, const uint8_t addr[16], uint8_t proto)
{
	chunk_t a = chunk_create((u_char *)addr, family == 4 ? 4 : 16);

	return traffic_selector_create_from_bytes(proto,
		family == 4 ? TS_IPV4_ADDR_RANGE : TS_IPV6_ADDR_RANGE, a, 0, a, 0xffff);
}

static void handle(esptag_monitor_t *m, const struct esptag_ctl_event *e)
{
	kernel_acquire_data_t acq = {};
	host_t *dst;

	switch (e->type) {
	case ESPTAG_EV_SA_SOFT_EXPIRED:
	case ESPTAG_EV_SA_EXPIRED:
		dst = esptag_host_from(e->family, e->daddr);
		if (!dst)
			return;
		DBG1(DBG_KNL, "kernel-esptag: %s expire of SA %.8x (%s, limit %u) to %H",
		     e->type == ESPTAG_EV_SA_EXPIRED ? "hard" : "soft", e->spi,
		     e->dir == ESPTAG_DIR_IN ? "in" : "out", e->id, dst);
		charon->kernel->expire(charon->kernel, IPPROTO_ESP, htonl(e->spi), dst,
				       e->type == ESPTAG_EV_SA_EXPIRED);
		dst->destroy(dst);
		break;
	case ESPTAG_EV_ACQUIRE:
		if (e->family == 4 || e->family == 6) {
			acq.src = ts_of(e->family, e->saddr, e->id);
			acq.dst = ts_of(e->family, e->daddr, e->id);
		}
		DBG1(DBG_KNL, "kernel-esptag: acquire for reqid %u (policy %u)", e->reqid,
		     e->policy_id);
		charon->kernel->acquire(charon->kernel, e->reqid, &acq);
		DESTROY_IF(acq.src);
		DESTROY_IF(acq.dst);
		break;
	default:
		break;
	}
}

/* Read one message; cancellable only while waiting for it. */
static ssize_t read_msg(esptag_monitor_t *m, uint8_t **buf)
{
	struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
	bool old;
	int rc;

	old = thread_cancelability(TRUE);
	rc = poll(&pfd, 1, -1);
	thread_cancelability(old);
	if (rc < 0)
		return -1;
	return esptag_ctl_read(m->fd, buf);
}

static void *monitor_main(esptag_monitor_t *m)
{
	struct esptag_ctl_view v;
	struct esptag_ctl_event e;
	char err[256];
	bool lost_logged = FALSE, first;
	uint8_t *buf;
	ssize_t n;

	thread_cancelability(FALSE);	/* only while waiting */
	for (;;) {
		m->fd = esptag_ctl_monitor_open(esptag_conn_path(m->conn), err, sizeof(err));
		if (m->fd < 0) {
			if (!lost_logged)
				DBG1(DBG_KNL, "kernel-esptag: no events from esptagd: %s; "
				     "retrying every second", err);
			lost_logged = TRUE;
			thread_cancelability(TRUE);
			sleep(1);
			thread_cancelability(FALSE);
			continue;
		}
		DBG1(DBG_KNL, "kernel-esptag: receiving events of esptagd at %s",
		     esptag_conn_path(m->conn));
		lost_logged = FALSE;
		if (m->on_connect)
			m->on_connect(m->data);
		for (first = TRUE;; first = FALSE) {
			n = read_msg(m, &buf);
			if (n <= 0)
				break;
			if (esptag_ctl_decode(buf, n, &v, err, sizeof(err))) {
				DBG1(DBG_KNL, "kernel-esptag: bad event message: %s", err);
				esptag_ctl_free(buf);
				break;
			}
			if (v.hdr.status) {
				DBG1(DBG_KNL, "kernel-esptag: esptagd refused the monitor: %.*s",
				     (int)v.hdr.len, (const char *)v.payload);
				esptag_ctl_free(buf);
				break;
			}
			if (!first && v.hdr.op == ESPTAG_CTL_EVENT && v.hdr.count == 1) {
				esptag_ctl_item(&v, 0, &e);
				handle(m, &e);
			}
			esptag_ctl_free(buf);
		}
		close(m->fd);
		m->fd = -1;
		DBG1(DBG_KNL, "kernel-esptag: lost the event connection to esptagd, reconnecting");
		thread_cancelability(TRUE);
		sleep(1);
		thread_cancelability(FALSE);
	}
	return NULL;
}

esptag_monitor_t *esptag_monitor_create(esptag_conn_t *c, void (*on_connect)(void *data),
					void *data)
{
	esptag_monitor_t *m;

	INIT(m, .conn = c, .on_connect = on_connect, .data = data, .fd = -1);
	m->thread = thread_create((thread_main_t)monitor_main, m);
	if (!m->thread) {
		DBG1(DBG_KNL, "kernel-esptag: cannot start the event thread");
		free(m);
		return NULL;
	}
	return m;
}

void esptag_monitor_destroy(esptag_monitor_t *m)
{
	if (!m)
		return;
	m->thread->cancel(m->thread);
	m->thread->join(m->thread);
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}
