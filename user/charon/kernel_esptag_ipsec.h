/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kernel-esptag: charon's kernel_ipsec_t on esptagd.
 *
 *   kernel_esptag_ipsec.c    SAs, policies (reference counts, the newest
 *                            SA active), bypass sockets, tunnel routes
 *   kernel_esptag_monitor.c  esptagd's events back to charon (expire,
 *                            acquire) on a MONITOR connection that is
 *                            re-opened when esptagd restarts
 *   kernel_esptag_conn.c     one request to esptagd, the settings
 */
#ifndef KERNEL_ESPTAG_IPSEC_H_
#define KERNEL_ESPTAG_IPSEC_H_

#include <kernel/kernel_ipsec.h>
#include "ctl.h"

typedef struct kernel_esptag_ipsec_t kernel_esptag_ipsec_t;

struct kernel_esptag_ipsec_t {
	kernel_ipsec_t interface;
};

/* The kernel_ipsec_t constructor registered with charon. */
kernel_esptag_ipsec_t *kernel_esptag_ipsec_create(void);

/* kernel_esptag_conn.c: the connection to esptagd. */
typedef struct esptag_conn_t esptag_conn_t;

/* From strongswan.conf: charon.plugins.kernel-esptag.{socket,dev}. */
esptag_conn_t *esptag_conn_create(void);
void esptag_conn_destroy(esptag_conn_t *c);
const char *esptag_conn_path(esptag_conn_t *c);
/* esptagd's device (the dev of every request): the `dev` setting, else
 * asked from esptagd (agent status) once. NULL if esptagd cannot say. */
const char *esptag_conn_dev(esptag_conn_t *c);
/*
 * One request; *reply (reply_size bytes, may be NULL) gets the first item
 * of a successful reply. Returns the reply status (0 OK, enum
 * esptag_ctl_status) or -1 when esptagd could not be reached; err holds
 * the reason. The request is not kept (the caller wipes key bytes).
 */
int esptag_conn_call(esptag_conn_t *c, int op, const void *item, size_t isz, void *reply,
		     size_t reply_size, char *err, size_t errlen);

/* kernel_esptag_monitor.c: events of esptagd to charon. */
typedef struct esptag_monitor_t esptag_monitor_t;

/* on_connect(data) runs on every (re)connection, before events are read
 * (the IPsec half re-registers its bypass sockets there). */
esptag_monitor_t *esptag_monitor_create(esptag_conn_t *c, void (*on_connect)(void *data),
					void *data);
void esptag_monitor_destroy(esptag_monitor_t *m);

/* host_t <-> the 16-byte address fields of ctl.h (family 4 or 6). */
bool esptag_host_to(host_t *h, uint8_t *family, uint8_t addr[16]);
host_t *esptag_host_from(uint8_t family, const uint8_t addr[16]);

#endif
