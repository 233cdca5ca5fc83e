// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel-esptag: the connection to esptagd (one request per connection,
 * ctl.h) and the plugin's settings:
 *
 *   charon.plugins.kernel-esptag.socket  esptagd's control socket
 *                                        (default /run/esptag/DEV.sock)
 *   charon.plugins.kernel-esptag.dev     esptagd's device (default: the
 *                                        one esptagd reports)
 */
#include <string.h>
#include <errno.h>

#include <library.h>
#include <daemon.h>
#include <threading/mutex.h>
#include <utils/debug.h>

#include "kernel_esptag_ipsec.h"
#include "ctl_client.h"
#include "util.h"

struct esptag_conn_t {
	char path[108];
	char dev[ESPTAG_CTL_DEV_LEN];
	mutex_t *mutex;		/* dev */
};

esptag_conn_t *esptag_conn_create(void)
{
	esptag_conn_t *c;
	char *path, *dev;

	path = lib->settings->get_str(lib->settings, "%s.plugins.kernel-esptag.socket", NULL,
				      lib->ns);
	dev = lib->settings->get_str(lib->settings, "%s.plugins.kernel-esptag.dev", NULL,
				     lib->ns);
	if (dev && strlen(dev) >= ESPTAG_CTL_DEV_LEN) {
		DBG1(DBG_KNL, "kernel-esptag: dev '%s' is longer than %d characters", dev,
		     ESPTAG_CTL_DEV_LEN - 1);
		return NULL;
	}
	INIT(c, .mutex = mutex_create(MUTEX_TYPE_DEFAULT));
	if (dev)
		strcpy(c->dev, dev);
	if (path) {
		if (strlen(path) >= sizeof(c->path)) {
			DBG1(DBG_KNL, "kernel-esptag: socket path '%s' too long", path);
			esptag_conn_destroy(c);
			return NULL;
		}
		strcpy(c->path, path);
	} else if (dev) {
		esptag_ctl_sock_path(c->path, sizeof(c->path), dev);
	} else {
		DBG1(DBG_KNL, "kernel-esptag: set %s.plugins.kernel-esptag.socket (esptagd's "
		     "control socket) or .dev in strongswan.conf", lib->ns);
		esptag_conn_destroy(c);
		return NULL;
	}
	return c;
}

void esptag_conn_destroy(esptag_conn_t *c)
{
	if (!c)
		return;
	c->mutex->destroy(c->mutex);
	free(c);
}

const char *esptag_conn_path(esptag_conn_t *c)
{
	return c->path;
}

const char *esptag_conn_dev(esptag_conn_t *c)
{
	struct esptag_ctl_agent a;
	char err[256];
	const char *dev = NULL;

	c->mutex->lock(c->mutex);
	if (!c->dev[0]) {
		memset(&a, 0, sizeof(a));
		if (esptag_conn_call(c, ESPTAG_CTL_AGENT_STATUS, NULL, 0, &a, sizeof(a), err,
				     sizeof(err)) == 0 && a.dev[0]) {
			memcpy(c->dev, a.dev, sizeof(c->dev));
			c->dev[sizeof(c->dev) - 1] = 0;
			DBG1(DBG_KNL, "kernel-esptag: esptagd at %s serves %s", c->path, c->dev);
		} else {
			DBG1(DBG_KNL, "kernel-esptag: esptagd at %s: %s", c->path, err);
		}
	}
	if (c->dev[0])
		dev = c->dev;
	c->mutex->unlock(c->mutex);
	return dev;
}

int esptag_conn_call(esptag_conn_t *c, int op, const void *item, size_t isz, void *reply,
		     size_t reply_size, char *err, size_t errlen)
{
	struct esptag_ctl_view v;
	uint8_t *buf;
	int rc;

	rc = esptag_ctl_call(c->path, op, item, item ? 1 : 0, isz, &buf, &v, err, errlen);
	if (rc == 0 && reply) {
		if (v.hdr.count < 1 || v.item_size != reply_size) {
			esptag_fail(err, errlen, "%s: reply without the expected item",
				    esptag_ctl_op_str(op));
			rc = ESPTAG_CTL_E_INTERNAL;
		} else {
			esptag_ctl_item(&v, 0, reply);
		}
	}
	esptag_ctl_free(buf);
	return rc;
}

bool esptag_host_to(host_t *h, uint8_t *family, uint8_t addr[16])
{
	chunk_t a = h->get_address(h);

	memset(addr, 0, 16);
	switch (h->get_family(h)) {
	case AF_INET:
		*family = 4;
		break;
	case AF_INET6:
		*family = 6;
		break;
	default:
		return FALSE;
	}
	if (a.len != (*family == 4 ? 4u : 16u))
		return FALSE;
	memcpy(addr, a.ptr, a.len);
	return TRUE;
}

host_t *esptag_host_from(uint8_t family, const uint8_t addr[16])
{
	if (family != 4 && family != 6)
		return NULL;
	return host_create_from_chunk(family == 4 ? AF_INET : AF_INET6,
				      chunk_create((u_char *)addr, family == 4 ? 4 : 16), 0);
}
