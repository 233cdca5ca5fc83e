// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag command-line grammar: the values (numbers, hex keys, device
 * names, addresses, dir, proto, mode, spi, reqid), the keyword walk, and the word splitting of batch lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ctl_cli_int.h"

int cli_parse_u32(const char *s, uint32_t *out, uint32_t max)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cli_parse_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	n = strlen(s);
	if (!n || n % 2)
		return -1;
	if (n / 2 > cap)
		return (int)(n / 2);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			explicit_bzero(out, cap);
			return -2;
		}
		out[i] = hi << 4 | lo;
	}
	return (int)(n / 2);
}

int cli_set_dev(char *dst, const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (!n || n >= ESPTAG_CTL_DEV_LEN)
		return fail(err, errlen, "device name '%s' must be 1-15 characters", s);
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || strchr("/:\\\"'", s[i]))
			return fail(err, errlen, "device name '%s' has a bad character", s);
	memset(dst, 0, ESPTAG_CTL_DEV_LEN);
	memcpy(dst, s, n);
	return 0;
}

int cli_dev_kw(struct args *a, struct esptag_cli_cmd *cmd, char *dev)
{
	const char *v;

	SEEN(a, S_DEV, "dev");
	if (!(v = cli_next_val(a, "dev")) || cli_set_dev(dev, v, a->err, a->errlen))
		return -1;
	memcpy(cmd->dev, dev, sizeof(cmd->dev));
	return 0;
}

int cli_parse_dir(const char *s, uint8_t *dir, char *err, size_t errlen)
{
	if (!strcmp(s, "in"))
		*dir = ESPTAG_DIR_IN;
	else if (!strcmp(s, "out"))
		*dir = ESPTAG_DIR_OUT;
	else
		return fail(err, errlen, "dir must be 'in' or 'out', not '%s'", s);
	return 0;
}

int cli_parse_addr(const char *s, const char *what, uint8_t *family, uint8_t *addr, char *err,
		   size_t errlen)
{
	if (esptag_addr_parse(s, family, addr))
		return fail(err, errlen, "%s '%s' is not an IPv4 or IPv6 address", what, s);
	return 0;
}

int cli_parse_proto(const char *s, const char *what, char *err, size_t errlen)
{
	if (strcmp(s, "esp"))
		return fail(err, errlen, "%sproto '%s' not supported: only esp", what, s);
	return 0;
}

int cli_parse_mode(const char *s, const char *what, uint8_t *mode, char *err, size_t errlen)
{
	if (!strcmp(s, "transport"))
		*mode = ESPTAG_MODE_TRANSPORT;
	else if (!strcmp(s, "tunnel"))
		*mode = ESPTAG_MODE_TUNNEL;
	else
		return fail(err, errlen, "%smode must be transport or tunnel, not '%s'", what, s);
	return 0;
}

int cli_parse_reqid(const char *s, uint32_t *reqid, char *err, size_t errlen)
{
	if (cli_parse_u32(s, reqid, 0xffffffffu))
		return fail(err, errlen, "reqid '%s' is not a 32-bit number", s);
	return 0;
}

int cli_parse_spi(const char *s, uint32_t *spi, char *err, size_t errlen)
{
	if (cli_parse_u32(s, spi, 0xffffffffu))
		return fail(err, errlen, "spi '%s' is not a 32-bit number (e.g. 0x1000)", s);
	if (*spi < 256)
		return fail(err, errlen, "spi %s is reserved (0-255, RFC 4303); use 256 or more",
			    s);
	return 0;
}

const char *cli_next_val(struct args *a, const char *kw)
{
	if (a->i + 1 >= a->argc) {
		fail(a->err, a->errlen, "'%s' needs a value", kw);
		return NULL;
	}
	return a->argv[++a->i];
}

int cli_seen(struct args *a, unsigned int bit, const char *kw)
{
	if (a->seen & bit)
		return fail(a->err, a->errlen, "'%s' given twice", kw);
	a->seen |= bit;
	return 0;
}

int cli_no_args(struct args *a, const char *what)
{
	if (a->argc > 2)
		return fail(a->err, a->errlen, "'%s' takes no arguments (got '%s')", what,
			    a->argv[2]);
	return 0;
}

int esptag_cli_split(char *line, char **argv, int max)
{
	char *r = line, *w = line;
	int n = 0;

	for (;;) {
		char q = 0;

		while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
			r++;
		if (!*r || *r == '#')
			break;
		if (n == max)
			return -1;
		argv[n++] = w;
		while (*r && (q || (*r != ' ' && *r != '\t' && *r != '\n' && *r != '\r'))) {
			if (!q && (*r == '\'' || *r == '"')) {
				q = *r++;
				continue;
			}
			if (q && *r == q) {
				q = 0;
				r++;
				continue;
			}
			*w++ = *r++;
		}
		if (q)
			return -1;
		if (*r)
			r++;
		*w++ = 0;
	}
	return n;
}
