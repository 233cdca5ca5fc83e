/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A control socket client without output of its own (ctl.h): connect, one
 * request and its decoded reply, and the monitor's start. Errors go to an
 * err buffer. Used by programs that embed a client, such as the
 * kernel-esptag charon plugin (which links it compiled -fPIC).
 */
#ifndef ESPTAG_CTL_CLIENT_H
#define ESPTAG_CTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "ctl.h"

/* A connected stream socket (close-on-exec) to path, or -1 with err set. */
int esptag_ctl_connect(const char *path, char *err, size_t errlen);

/*
 * One request of count items of isz bytes (items may hold a key: the
 * caller wipes its copy) and its reply. Returns -1 when esptagd could not
 * be reached or answered something that does not decode (err says why);
 * otherwise the reply's status (0 = OK; else err holds esptagd's message),
 * with *buf (free it with esptag_ctl_free) and *v holding a successful
 * reply's items.
 */
int esptag_ctl_call(const char *path, int op, const void *items, uint32_t count, size_t isz,
		    uint8_t **buf, struct esptag_ctl_view *v, char *err, size_t errlen);

/* Connect and send a MONITOR request; the caller reads the first reply,
 * then one CTL_OP_EVENT message per event. Returns the socket or -1. */
int esptag_ctl_monitor_open(const char *path, char *err, size_t errlen);

#endif
