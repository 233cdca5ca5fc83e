// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptagd control socket: whole-message I/O on a stream socket (a buffer
 * that may hold keys is wiped before it is freed) and the socket paths.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "ctl_int.h"

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return got ? (errno = EPROTO, -1) : 0;
		got += n;
	}
	return 1;
}

ssize_t esptag_ctl_read(int fd, uint8_t **bufp)
{
	struct esptag_ctl_hdr h;
	uint8_t *buf;
	int rc;

	*bufp = NULL;
	rc = read_full(fd, &h, sizeof(h));
	if (rc <= 0)
		return rc;
	if (h.magic != ESPTAG_CTL_MAGIC || h.len > ESPTAG_CTL_MAX_LEN) {
		errno = EPROTO;
		return -1;
	}
	buf = malloc(sizeof(h) + h.len);
	if (!buf)
		return -1;
	memcpy(buf, &h, sizeof(h));
	rc = read_full(fd, buf + sizeof(h), h.len);
	if (rc <= 0 && h.len) {
		int e = rc == 0 ? EPROTO : errno;

		/* Part of a request that may carry keys was read. */
		esptag_ctl_free(buf);
		errno = e;
		return -1;
	}
	*bufp = buf;
	return sizeof(h) + h.len;
}

void esptag_ctl_free(uint8_t *buf)
{
	struct esptag_ctl_hdr h;

	if (!buf)
		return;
	memcpy(&h, buf, sizeof(h));
	explicit_bzero(buf, sizeof(h) + h.len);
	free(buf);
}

static int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int esptag_ctl_write(int fd, const struct esptag_ctl_hdr *h, const void *payload)
{
	if (write_full(fd, h, sizeof(*h)))
		return -1;
	if (h->len && write_full(fd, payload, h->len))
		return -1;
	return 0;
}

int esptag_ctl_sock_path(char *out, size_t outlen, const char *dev)
{
	int n = snprintf(out, outlen, "%s/%s.sock", ESPTAG_CTL_SOCK_DIR, dev);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
