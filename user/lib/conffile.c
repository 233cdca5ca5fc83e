// SPDX-License-Identifier: GPL-2.0-only
/* esptagd's configuration file: options and policies, never keys (conffile.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conffile.h"
#include "ctl_cli.h"

#define CONF_LINE_MAX	4096
#define CONF_WORDS	64

/* Words that only an SA's key material goes with. */
static const char *const key_words[] = {
	"aead", "enc", "auth", "auth-trunc", "comp", "key", "keys", "salt", "secret", "psk", NULL,
};

struct rd {
	struct conf *cf;
	char *err;
	size_t errlen;
	char **lines;		/* policy lines for the second pass */
	int *lineno;
	size_t nlines;
};

/* A run of 16 hex digits or more: it may be a key; never echo it. */
static bool looks_like_key(const char *s)
{
	size_t run = 0;

	for (; *s; s++) {
		run = strchr("0123456789abcdefABCDEF", *s) ? run + 1 : 0;
		if (run >= 16)
			return true;
	}
	return false;
}

__attribute__((format(printf, 3, 4)))
static int bad(struct rd *r, int line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (looks_like_key(msg))
		snprintf(msg, sizeof(msg),
			 "not understood (not shown: it may hold key material, which never goes in a configuration file)");
	snprintf(r->err, r->errlen, "%s:%d: %s", r->cf->path, line, msg);
	return -1;
}

static bool is_key_word(const char *w)
{
	for (int i = 0; key_words[i]; i++)
		if (!strcmp(w, key_words[i]))
			return true;
	return false;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static int no_keys(struct rd *r, int line, const char *what)
{
	return bad(r, line,
		   "%s: keys never go in a configuration file (add SAs with 'esptag state add' or from the key manager)",
		   what);
}

/* "KEY = VALUE" */
static int add_opt(struct rd *r, int line, char *s)
{
	struct conf *cf = r->cf;
	char *eq = strchr(s, '='), *k, *v;
	struct conf_opt *o;

	*eq = 0;
	k = trim(s);
	v = trim(eq + 1);
	if (is_key_word(k))
		return no_keys(r, line, "a key option");
	if (!*k || strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(k))
		return bad(r, line, "'%.40s' is not an option name (KEY = VALUE, KEY a long option without '--')",
			   k);
	if (strlen(k) >= sizeof(o->key) || strlen(v) >= sizeof(o->val))
		return bad(r, line, "option or value too long");
	if (!*v)
		return bad(r, line, "%s: no value after '='", k);
	for (size_t i = 0; i < cf->nopts; i++)
		if (!strcmp(cf->opts[i].key, k))
			return bad(r, line, "%s is already set at line %d", k, cf->opts[i].line);
	o = realloc(cf->opts, (cf->nopts + 1) * sizeof(*o));
	if (!o)
		return bad(r, line, "out of memory");
	cf->opts = o;
	o += cf->nopts++;
	snprintf(o->key, sizeof(o->key), "%s", k);
	snprintf(o->val, sizeof(o->val), "%s", v);
	o->line = line;
	return 0;
}

/* First pass: options now, policy lines kept for later; keys refused. */
static int first_pass(struct rd *r, int line, char *buf)
{
	char copy[CONF_LINE_MAX], *argv[CONF_WORDS];
	char **nl;
	int *nn;
	int argc;

	snprintf(copy, sizeof(copy), "%s", buf);
	argc = esptag_cli_split(copy, argv, CONF_WORDS);
	if (argc == 0)
		return 0;
	if (argc < 0)
		return bad(r, line, "unterminated quote or too many words");
	if (!strcmp(argv[0], "state") || !strcmp(argv[0], "sa"))
		return no_keys(r, line, "a state line");
	for (int i = 0; i < argc; i++)
		if (is_key_word(argv[i]))
			return no_keys(r, line, "a key keyword");
	if (strcmp(argv[0], "policy")) {
		char *hash = strchr(buf, '#');

		if (hash)
			*hash = 0;
		if (!strchr(buf, '='))
			return bad(r, line, "expected 'KEY = VALUE' or 'policy add ...', not '%.40s'",
				   argv[0]);
		return add_opt(r, line, buf);
	}
	nl = realloc(r->lines, (r->nlines + 1) * sizeof(*nl));
	if (nl)
		r->lines = nl;
	nn = realloc(r->lineno, (r->nlines + 1) * sizeof(*nn));
	if (nn)
		r->lineno = nn;
	if (!nl || !nn || !(r->lines[r->nlines] = strdup(buf)))
		return bad(r, line, "out of memory");
	r->lineno[r->nlines++] = line;
	return 0;
}

bool conf_pol_same_sel(const struct esptag_ctl_policy *a, const struct esptag_ctl_policy *b)
{
	return a->dir == b->dir && a->family == b->family && a->src_plen == b->src_plen &&
	       a->dst_plen == b->dst_plen && !memcmp(a->src, b->src, 16) &&
	       !memcmp(a->dst, b->dst, 16);
}

bool conf_pol_same(const struct esptag_ctl_policy *a, const struct esptag_ctl_policy *b)
{
	return conf_pol_same_sel(a, b) && a->action == b->action && a->spi == b->spi &&
	       a->reqid == b->reqid && a->tmpl_family == b->tmpl_family &&
	       a->tmpl_flags == b->tmpl_flags && a->tmpl_mode == b->tmpl_mode &&
	       !memcmp(a->tmpl_src, b->tmpl_src, 16) && !memcmp(a->tmpl_dst, b->tmpl_dst, 16);
}

/* Second pass: one "policy add" line, in the esptag CLI grammar. */
static int add_pol(struct rd *r, int line, char *buf, const char *dev)
{
	struct conf *cf = r->cf;
	char *argv[CONF_WORDS + 2], msg[512];
	struct esptag_cli_cmd cmd;
	struct conf_pol *p;
	bool has_dev = false;
	int argc = esptag_cli_split(buf, argv, CONF_WORDS);

	if (argc < 2 || strcmp(argv[1], "add"))
		return bad(r, line, "only 'policy add ...' lines go in a configuration file (policies gone from the file are deleted at reload)");
	for (int i = 2; i < argc; i++)
		has_dev |= !strcmp(argv[i], "dev");
	if (!has_dev) {
		if (!*dev)
			return bad(r, line, "policy without 'dev': give --dev or 'dev = IF'");
		argv[argc++] = "dev";
		argv[argc++] = (char *)dev;
	}
	if (esptag_cli_parse(argc, argv, &cmd, msg, sizeof(msg)))
		return bad(r, line, "%s", msg);
	if (*dev && strcmp(cmd.pol.dev, dev))
		return bad(r, line, "policy for dev %s, but this esptagd manages %s", cmd.pol.dev, dev);
	for (size_t i = 0; i < cf->npols; i++)
		if (conf_pol_same_sel(&cf->pols[i].c, &cmd.pol))
			return bad(r, line, "same src, dst and dir as the policy at line %d",
				   cf->pols[i].line);
	p = realloc(cf->pols, (cf->npols + 1) * sizeof(*p));
	if (!p)
		return bad(r, line, "out of memory");
	cf->pols = p;
	p[cf->npols].c = cmd.pol;
	p[cf->npols++].line = line;
	return 0;
}

static int read_lines(struct rd *r, FILE *f)
{
	char buf[CONF_LINE_MAX];
	int line = 0;

	while (fgets(buf, sizeof(buf), f)) {
		size_t n = strlen(buf);

		line++;
		if (n == sizeof(buf) - 1 && buf[n - 1] != '\n' && !feof(f))
			return bad(r, line, "line longer than %d characters", CONF_LINE_MAX - 2);
		if (first_pass(r, line, buf))
			return -1;
	}
	if (ferror(f))
		return bad(r, line, "read error: %s", strerror(errno));
	return 0;
}

int conf_read(const char *path, const char *dev, struct conf *cf, char *err, size_t errlen)
{
	struct rd r = { .cf = cf, .err = err, .errlen = errlen };
	FILE *f;
	int rc;

	memset(cf, 0, sizeof(*cf));
	snprintf(cf->path, sizeof(cf->path), "%s", path);
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = read_lines(&r, f);
	fclose(f);
	if (!*dev)
		for (size_t i = 0; i < cf->nopts; i++)
			if (!strcmp(cf->opts[i].key, "dev"))
				dev = cf->opts[i].val;
	for (size_t i = 0; !rc && i < r.nlines; i++)
		rc = add_pol(&r, r.lineno[i], r.lines[i], dev);
	for (size_t i = 0; i < r.nlines; i++)
		free(r.lines[i]);
	free(r.lines);
	free(r.lineno);
	if (rc) {
		char keep[sizeof(cf->path)];

		memcpy(keep, cf->path, sizeof(keep));
		conf_free(cf);
		memcpy(cf->path, keep, sizeof(keep));
	}
	return rc;
}

void conf_free(struct conf *cf)
{
	free(cf->opts);
	free(cf->pols);
	memset(cf, 0, sizeof(*cf));
}
