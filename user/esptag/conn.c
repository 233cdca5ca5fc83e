// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag: the daemon's control socket (user/lib/ctl.h). One request per
 * connection, one reply; monitor keeps reading events.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "cli.h"

int cli_exit_for(int status)
{
	switch (status) {
	case ESPTAG_CTL_OK:
		return ESPTAG_EXIT_OK;
	case ESPTAG_CTL_E_AGENT:
	case ESPTAG_CTL_E_NOSPC:
		return ESPTAG_EXIT_AGENT;
	case ESPTAG_CTL_E_TIMEOUT:
		return ESPTAG_EXIT_TIMEOUT;
	case ESPTAG_CTL_E_BPF:
	case ESPTAG_CTL_E_INTERNAL:
		return ESPTAG_EXIT_INTERNAL;
	default:
		return ESPTAG_EXIT_REFUSED;
	}
}

/* Pick the socket: --socket, $ESPTAG_SOCK, dev's default, or the only one. */
static int sock_path(const char *dev, char *out, size_t len)
{
	const char *env = getenv("ESPTAG_SOCK");
	struct dirent *de;
	int found = 0;
	DIR *d;

	if (cli_sock || (env && *env)) {
		snprintf(out, len, "%s", cli_sock ? cli_sock : env);
		return 0;
	}
	if (dev && *dev)
		return esptag_ctl_sock_path(out, len, dev);
	d = opendir(ESPTAG_CTL_SOCK_DIR);
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n > 5 && !strcmp(de->d_name + n - 5, ".sock")) {
			found++;
			snprintf(out, len, "%s/%s", ESPTAG_CTL_SOCK_DIR, de->d_name);
		}
	}
	if (d)
		closedir(d);
	if (found == 1)
		return 0;
	fprintf(stderr, "esptag: %s; give --socket SOCKET or set ESPTAG_SOCK\n",
		found ? "several esptagd sockets in " ESPTAG_CTL_SOCK_DIR
		      : "no esptagd socket in " ESPTAG_CTL_SOCK_DIR " (is esptagd running?)");
	return -1;
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "esptag: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		fprintf(stderr, "esptag: cannot connect to esptagd at %s: %s (is esptagd running? -s SOCKET)\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int cli_transact(const char *dev, int op, const void *items, uint32_t count, size_t isz,
		 uint8_t **buf, struct esptag_ctl_view *v, uint32_t *err_index)
{
	return cli_transact_q(dev, op, items, count, isz, buf, v, err_index, false);
}

/* Connect to esptagd and send one request: the socket, -1 when there is no
 * esptagd (said), -2 when sending failed (errno; nothing said). */
static int send_request(const char *dev, int op, const void *items, uint32_t count, size_t isz)
{
	struct esptag_ctl_hdr h;
	char path[256];
	int fd, e;

	if (sock_path(dev, path, sizeof(path)))
		return -1;
	fd = ctl_connect(path);
	if (fd < 0)
		return -1;
	esptag_ctl_hdr_init(&h, op, false, 0, count, count * isz);
	if (esptag_ctl_write(fd, &h, items)) {
		e = errno;
		close(fd);
		errno = e;
		return -2;
	}
	return fd;
}

int cli_transact_q(const char *dev, int op, const void *items, uint32_t count, size_t isz,
		   uint8_t **buf, struct esptag_ctl_view *v, uint32_t *err_index, bool quiet)
{
	char err[256];
	ssize_t n;
	int fd;

	*buf = NULL;
	fd = send_request(dev, op, items, count, isz);
	if (fd == -2)
		fprintf(stderr, "esptag: sending to esptagd: %s\n", strerror(errno));
	if (fd < 0)
		return ESPTAG_EXIT_NODAEMON;
	n = esptag_ctl_read(fd, buf);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "esptag: no reply from esptagd: %s\n",
			n ? strerror(errno) : "connection closed");
		return ESPTAG_EXIT_NODAEMON;
	}
	if (esptag_ctl_decode(*buf, n, v, err, sizeof(err)) || !(v->hdr.flags & ESPTAG_CTL_F_REPLY) ||
	    v->hdr.op != op) {
		fprintf(stderr, "esptag: bad reply from esptagd: %s\n", err);
		esptag_ctl_free(*buf);
		*buf = NULL;
		return ESPTAG_EXIT_NODAEMON;
	}
	if (err_index)
		*err_index = v->hdr.err_index;
	if (v->hdr.status) {
		if (!quiet || v->hdr.status != ESPTAG_CTL_E_NOENT)
			fprintf(stderr, "esptag: %s: %.*s\n", esptag_ctl_op_str(op),
				(int)v->hdr.len, (const char *)v->payload);
		return cli_exit_for(v->hdr.status);
	}
	return ESPTAG_EXIT_OK;
}

int cli_monitor(const char *dev)
{
	struct esptag_ctl_view v;
	struct esptag_ctl_event e;
	char err[256];
	uint8_t *buf;
	ssize_t n;
	int fd;

	fd = send_request(dev, ESPTAG_CTL_MONITOR, NULL, 0, 0);
	if (fd == -2) {
		fprintf(stderr, "esptag: monitor: connection to esptagd lost\n");
		return ESPTAG_EXIT_NODAEMON;
	}
	if (fd < 0)
		return ESPTAG_EXIT_NODAEMON;
	for (bool first = true;; first = false) {
		n = esptag_ctl_read(fd, &buf);
		if (n <= 0)
			goto lost;
		if (esptag_ctl_decode(buf, n, &v, err, sizeof(err))) {
			fprintf(stderr, "esptag: bad message from esptagd: %s\n", err);
			esptag_ctl_free(buf);
			close(fd);
			return ESPTAG_EXIT_NODAEMON;
		}
		if (v.hdr.status) {
			fprintf(stderr, "esptag: monitor: %.*s\n", (int)v.hdr.len, (const char *)v.payload);
			esptag_ctl_free(buf);
			close(fd);
			return cli_exit_for(v.hdr.status);
		}
		if (!first && v.hdr.op == ESPTAG_CTL_EVENT) {
			esptag_ctl_item(&v, 0, &e);
			cli_print_event(&e);
		}
		esptag_ctl_free(buf);
	}
lost:
	fprintf(stderr, "esptag: monitor: connection to esptagd lost\n");
	close(fd);
	return ESPTAG_EXIT_NODAEMON;
}
