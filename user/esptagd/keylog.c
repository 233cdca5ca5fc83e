// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptagd --keylog FILE: one line per SA added, in Wireshark's esp_sa table
 * format (Preferences > Protocols > ESP > ESP SAs; the file named esp_sa in
 * a Wireshark configuration directory, or tshark -o "uat:esp_sa:LINE"), so
 * that a capture of the wire can be decrypted. Off by default; the file
 * holds keys. It must be a regular file of the daemon's user that no one
 * else can read (created 0600), never reached through a symbolic link.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "esptagd.h"

int keylog_open(struct daemon *d, const char *path)
{
	struct stat st;
	int fd;

	d->keylog_fd = -1;
	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_err("--keylog %s: %s%s", path, strerror(errno),
			errno == ELOOP ? " (a symbolic link: refused)" : "");
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		log_err("--keylog %s: refused: not a regular file of uid %u with mode 0600 (it would show keys to others)",
			path, (unsigned)geteuid());
		close(fd);
		return -1;
	}
	log_warn("--keylog %s: the keys of every SA added are written there (for decrypting captures; never in production)",
		 path);
	d->keylog_fd = fd;
	return 0;
}

void keylog_sa(struct daemon *d, const struct esptag_ctl_sa *c)
{
	char line[256], s[64], a[64], hex[2 * (ESPTAG_KEY_MAX + ESPTAG_SALT_LEN) + 1];
	size_t k = 0;
	int n;

	if (d->keylog_fd < 0)
		return;
	for (int i = 0; i < c->key_len; i++, k += 2)
		snprintf(hex + k, 3, "%02x", c->key[i]);
	for (int i = 0; i < ESPTAG_SALT_LEN; i++, k += 2)
		snprintf(hex + k, 3, "%02x", c->salt[i]);
	n = snprintf(line, sizeof(line),
		     "\"%s\",\"%s\",\"%s\",\"0x%08x\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x%s\",\"NULL\",\"\"\n",
		     c->family == 6 ? "IPv6" : "IPv4", esptag_addr_str(c->family, c->saddr, s, sizeof(s)),
		     esptag_addr_str(c->family, c->daddr, a, sizeof(a)), c->spi, hex);
	if (n > 0 && (size_t)n < sizeof(line) && write(d->keylog_fd, line, n) != n)
		log_warn("--keylog: write failed: %s", strerror(errno));
	explicit_bzero(hex, sizeof(hex));
	explicit_bzero(line, sizeof(line));
}

void keylog_close(struct daemon *d)
{
	if (d->keylog_fd >= 0)
		close(d->keylog_fd);
	d->keylog_fd = -1;
}
