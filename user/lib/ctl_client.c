// SPDX-License-Identifier: GPL-2.0-only
/*
 * Control socket client (ctl_client.h): connect, request, decoded reply.
 * Prints nothing; every failure is a message in err.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "ctl_client.h"
#include "util.h"

int esptag_ctl_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		esptag_fail(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		esptag_fail(err, errlen, "cannot connect to esptagd at %s: %s", path,
			    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int esptag_ctl_call(const char *path, int op, const void *items, uint32_t count, size_t isz,
		    uint8_t **buf, struct esptag_ctl_view *v, char *err, size_t errlen)
{
	struct esptag_ctl_hdr h;
	char derr[160];
	ssize_t n;
	int fd;

	*buf = NULL;
	fd = esptag_ctl_connect(path, err, errlen);
	if (fd < 0)
		return -1;
	esptag_ctl_hdr_init(&h, op, false, 0, count, count * isz);
	if (esptag_ctl_write(fd, &h, items)) {
		esptag_fail(err, errlen, "sending to esptagd: %s", strerror(errno));
		close(fd);
		return -1;
	}
	n = esptag_ctl_read(fd, buf);
	close(fd);
	if (n <= 0) {
		esptag_fail(err, errlen, "no reply from esptagd: %s",
			    n ? strerror(errno) : "connection closed");
		return -1;
	}
	if (esptag_ctl_decode(*buf, n, v, derr, sizeof(derr)) ||
	    !(v->hdr.flags & ESPTAG_CTL_F_REPLY) || v->hdr.op != op) {
		esptag_fail(err, errlen, "bad reply from esptagd: %s", derr);
		esptag_ctl_free(*buf);
		*buf = NULL;
		return -1;
	}
	if (v->hdr.status)
		esptag_fail(err, errlen, "%.*s", (int)v->hdr.len, (const char *)v->payload);
	return v->hdr.status;
}

int esptag_ctl_monitor_open(const char *path, char *err, size_t errlen)
{
	struct esptag_ctl_hdr h;
	int fd;

	fd = esptag_ctl_connect(path, err, errlen);
	if (fd < 0)
		return -1;
	esptag_ctl_hdr_init(&h, ESPTAG_CTL_MONITOR, false, 0, 0, 0);
	if (esptag_ctl_write(fd, &h, NULL)) {
		esptag_fail(err, errlen, "sending to esptagd: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
