// SPDX-License-Identifier: GPL-2.0-only
/* esptagd's command line (docs/esptagd.8) into struct opts. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "esptagd.h"
#include "wrap.h"

static const struct option lopts[] = {
	{ "dev", required_argument, NULL, 'd' },
	{ "pin-dir", required_argument, NULL, 'p' },
	{ "sock", required_argument, NULL, 's' },
	{ "port", required_argument, NULL, 'P' },
	{ "adopt", no_argument, NULL, 'A' },
	{ "no-attach", no_argument, NULL, 'N' },
	{ "keep-pins", no_argument, NULL, 'K' },
	{ "xdp-skb", no_argument, NULL, 'S' },
	{ "hello-interval", required_argument, NULL, 'H' },
	{ "timeout", required_argument, NULL, 'T' },
	{ "tries", required_argument, NULL, 'R' },
	{ "max-sas", required_argument, NULL, 'M' },
	{ "audit-interval", required_argument, NULL, 'a' },
	{ "down-after", required_argument, NULL, 'D' },
	{ "cfg-ethertype", required_argument, NULL, 'C' },
	{ "meta-ethertype", required_argument, NULL, 'E' },
	{ "mark-mask", required_argument, NULL, 'm' },
	{ "mark-trusted", required_argument, NULL, 't' },
	{ "mark-shift", required_argument, NULL, 'x' },
	{ "pf", no_argument, NULL, 0x100 },
	{ "mbox-dir", required_argument, NULL, 0x101 },
	{ "uplink", required_argument, NULL, 0x102 },
	{ "switch", required_argument, NULL, 0x103 },
	{ "vf-limit", required_argument, NULL, 0x104 },
	{ "local", required_argument, NULL, 0x105 },
	{ "vf", no_argument, NULL, 0x106 },
	{ "mailbox", required_argument, NULL, 0x107 },
	{ "cleanup-on-exit", no_argument, NULL, 0x108 },
	{ "teardown", no_argument, NULL, 0x109 },
	{ "config", required_argument, NULL, 0x10a },
	{ "log-level", required_argument, NULL, 0x10b },
	{ "xdp-priority", required_argument, NULL, 0x10c },
	{ "xdp-frags", no_argument, NULL, 0x10d },
	{ "tc-prio", required_argument, NULL, 0x10e },
	{ "ro-group", required_argument, NULL, 0x10f },
	{ "agent-key", required_argument, NULL, 0x110 },
	{ "allow-v1", no_argument, NULL, 0x111 },
	{ "keylog", required_argument, NULL, 0x112 },
	{ "spi-reserve-time", required_argument, NULL, 0x113 },
	{ "seq-start", required_argument, NULL, 0x114 },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{}
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: esptagd --dev IF [--pin-dir DIR] [--sock PATH] [--port N]\n"
		"               [--adopt] [--no-attach] [--cleanup-on-exit] [--xdp-skb] [--xdp-frags]\n"
		"               [--xdp-priority N] [--tc-prio N]\n"
		"               [--hello-interval MS] [--down-after N] [--timeout MS] [--tries N]\n"
		"               [--max-sas N] [--audit-interval S] [--cfg-ethertype HEX] [--meta-ethertype HEX]\n"
		"               [--mark-mask N --mark-trusted N [--mark-shift N]] [-v|--verbose]\n"
		"               [--log-level err|warn|notice|info|debug] [--config FILE]\n"
		"               [--ro-group GROUP]   (read-only socket SOCK.ro for exporters)\n"
		"               [--agent-key sha256:HEX] [--allow-v1]   (wrapped keys: docs/protocol.md)\n"
		"               [--spi-reserve-time S] [--keylog FILE]   (FILE gets every SA's key: labs only)\n"
		"               [--seq-start N]   (testing: outbound SAs start at sequence number N)\n"
		"       PF mode: --pf [--mbox-dir DIR] [--uplink IF] [--switch veb|vepa]\n"
		"               [--vf-limit N] [--local ADDR]\n"
		"       VF mode: --vf --mailbox PATH\n"
		"       esptagd --teardown --dev IF [--pin-dir DIR] [--sock PATH] [--port N]\n"
		"               [--pf [--uplink IF]] [--vf] [--tc-prio N]   (remove what a stopped daemon left)\n"
		"       esptagd -V|--version\n");
}

/* A number in [lo, hi] (base 0, or 16 for EtherTypes). */
static int num(const char *s, int base, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, base);
	return *end || errno || *out < lo || *out > hi ? -1 : 0;
}

/* The PF / VF / life-cycle options; 0, -1 bad value. */
static int parse_mode_opt(struct opts *o, int opt, const char *arg)
{
	unsigned long v;

	switch (opt) {
	case 0x100:
		o->pf_mode = true;
		return 0;
	case 0x101:
		o->po.mbox_dir = arg;
		return 0;
	case 0x102:
		o->po.uplink = arg;
		return 0;
	case 0x103:
		if (strcmp(arg, "veb") && strcmp(arg, "vepa"))
			return -1;
		o->po.vepa = !strcmp(arg, "vepa");
		return 0;
	case 0x104:
		if (num(arg, 0, 1, ESPTAG_SAD_MAX, &v))
			return -1;
		o->po.vf_limit = v;
		return 0;
	case 0x105:
		return esptag_addr_parse(arg, &o->po.local_family, o->po.local_addr) ? -1 : 0;
	case 0x106:
		o->vf_mode = true;
		return 0;
	case 0x107:
		o->mailbox = arg;
		return 0;
	case 0x108:
		o->cleanup = true;
		return 0;
	case 0x109:
		o->teardown = true;
		return 0;
	case 0x10c:
		if (num(arg, 0, 0, 0x7fffffff, &v))
			return -1;
		o->bo.xdp_prio = v;
		return 0;
	case 0x10d:
		o->bo.xdp_frags = true;
		return 0;
	case 0x10e:
		if (num(arg, 0, 1, 0xffff, &v))
			return -1;
		o->bo.tc_prio = v;
		o->set_tc_prio = true;
		return 0;
	}
	return -1;
}

/* The data-path and agent options; 0, -1 bad value. */
static int parse_dp_opt(struct opts *o, int opt, const char *arg)
{
	unsigned long v;

	switch (opt) {
	case 'C':
	case 'E':
		if (num(arg, 16, 0x0600, 0xffff, &v))
			return -1;
		*(opt == 'C' ? &o->co.eth_p_cfg : &o->co.eth_p_meta) = v;
		o->co.set_eth = true;
		return 0;
	case 'm':
	case 't':
	case 'x':
		if (num(arg, 0, 0, opt == 'x' ? 31 : 0xffffffffu, &v))
			return -1;
		*(opt == 'm' ? &o->co.mark_mask : opt == 't' ? &o->co.mark_trusted :
							      &o->co.mark_shift) = v;
		o->co.set_mark = true;
		return 0;
	case 'H':
		return num(arg, 0, 50, 600000, &o->hello_ms);
	case 'T':
		return num(arg, 0, 1, 60000, &o->tmo);
	case 'R':
		return num(arg, 0, 1, 20, &o->tries);
	case 'M':
		return num(arg, 0, 1, ESPTAG_SAD_MAX, &o->max_sas);
	case 'D':
		return num(arg, 0, 1, 100, &o->down_after);
	case 'a':
		return num(arg, 0, 0, 86400, &o->audit_s);
	case 'P':
		return num(arg, 0, 0, 0xffff, &o->port);
	}
	return parse_mode_opt(o, opt, arg);
}

__attribute__((format(printf, 2, 3)))
static void say(const struct opts *o, const char *fmt, ...)
{
	char msg[1280];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o->reload)
		log_err("reload: %s; the running configuration is unchanged", msg);
	else
		fprintf(stderr, "esptagd: %s\n", msg);
}

/* Options that exclude or need each other. 0 or an error message. */
static const char *opts_conflict(const struct opts *o)
{
	if (o->pf_mode && o->vf_mode)
		return "--pf and --vf exclude each other";
	if (o->keep && o->cleanup)
		return "--keep-pins and --cleanup-on-exit exclude each other";
	if (o->teardown && (o->cleanup || o->keep || o->bo.adopt || o->bo.no_attach || o->mailbox))
		return "--teardown takes --dev, --pin-dir, --sock, --port, --pf, --uplink, --vf, --tc-prio and --cfg-ethertype only (programs attached by iproute2 are removed with iproute2)";
	if ((o->bo.adopt || o->bo.no_attach) &&
	    (o->bo.xdp_frags || o->bo.xdp_prio >= 0 || o->set_tc_prio))
		return "--xdp-frags, --xdp-priority and --tc-prio choose how esptagd attaches: not with --adopt or --no-attach";
	if (o->teardown && (o->bo.xdp_frags || o->bo.xdp_prio >= 0))
		return "--xdp-frags and --xdp-priority do not apply to --teardown";
	if (!o->teardown && o->vf_mode != !!o->mailbox)
		return "--vf needs --mailbox PATH (the socket the PF made for this VF), and --mailbox needs --vf";
	if (!o->pf_mode && (o->po.mbox_dir || o->po.uplink || o->po.vepa || o->po.local_family))
		return "--mbox-dir, --uplink, --switch and --local need --pf";
	if (o->co.set_eth && o->co.eth_p_cfg == o->co.eth_p_meta)
		return "config and metadata EtherTypes must differ";
	return NULL;
}

static int opts_check(struct opts *o)
{
	const char *why = opts_conflict(o);
	char buf[256];

	if (why) {
		say(o, "%s", why);
		return ESPTAG_EXIT_USAGE;
	}
	/*
	 * Every SA index esptag_sad can hold needs a mark of its own: the
	 * agent picks the index (shared by every port), so the bound is the
	 * map's size, not --max-sas. Adopted maps are checked again with their
	 * real size (cfg_apply).
	 */
	if (o->co.set_mark && esptag_mark_check(o->co.mark_mask, o->co.mark_trusted,
						o->co.mark_shift, ESPTAG_SAD_MAX, buf, sizeof(buf))) {
		say(o, "%s", buf);
		return ESPTAG_EXIT_USAGE;
	}
	return -1;
}

static void opts_defaults(struct opts *o)
{
	if (!o->bo.pin_dir) {
		if (o->bo.adopt)
			snprintf(o->pin_buf, sizeof(o->pin_buf), "/sys/fs/bpf/tc/globals");
		else
			snprintf(o->pin_buf, sizeof(o->pin_buf), "/sys/fs/bpf/esptag/%s", o->dev);
		o->bo.pin_dir = o->pin_buf;
	}
	if (!o->sock) {
		esptag_ctl_sock_path(o->sock_buf, sizeof(o->sock_buf), o->dev);
		o->sock = o->sock_buf;
	}
	if (!o->po.mbox_dir) {
		snprintf(o->mbox_buf, sizeof(o->mbox_buf), "%s/%s.vf", ESPTAG_CTL_SOCK_DIR, o->dev);
		o->po.mbox_dir = o->mbox_buf;
	}
	o->po.pin_dir = o->bo.pin_dir;
}

static void bad_value(int opt, const char *arg)
{
	const char *name = "?";

	for (const struct option *l = lopts; l->name; l++)
		if (l->val == opt)
			name = l->name;
	fprintf(stderr, "esptagd: bad value '%s' for --%s\n", arg, name);
}

/* The options that are not the data path's; 0, -1 bad value. */
static int set_opt(struct opts *o, int opt, const char *arg)
{
	static const char *const levels[] = { "err", "warn", "notice", "info", "debug" };

	switch (opt) {
	case 'd':
		if (strlen(arg) >= sizeof(o->dev))
			return -1;
		snprintf(o->dev, sizeof(o->dev), "%s", arg);
		return 0;
	case 'p':
		o->bo.pin_dir = arg;
		return 0;
	case 's':
		o->sock = arg;
		return 0;
	case 'A':
		o->bo.adopt = true;
		return 0;
	case 'N':
		o->bo.no_attach = true;
		return 0;
	case 'K':
		o->keep = true;
		return 0;
	case 'S':
		o->bo.skb_mode = true;
		return 0;
	case 'v':
		o->log_level = LOG_DEBUG_;
		return 0;
	case 0x10a:
		o->config = arg;
		return 0;
	case 0x10f:
		o->ro_group = arg;
		return 0;
	case 0x110:
		if (esptag_fpr_parse(arg, o->agent_fpr))
			return -1;
		o->have_fpr = true;
		return 0;
	case 0x111:
		o->allow_v1 = true;
		return 0;
	case 0x112:
		if (!*arg)
			return -1;
		o->keylog = arg;
		return 0;
	case 0x113: {
		unsigned long v;

		if (num(arg, 0, 1, 86400, &v))
			return -1;
		o->spi_reserve_s = v;
		return 0;
	}
	case 0x114: {
		char *end;

		errno = 0;
		o->seq_start = strtoull(arg, &end, 0);
		/* Numbers may only be skipped: 1 (the default) .. 2^64 - 2. */
		return *end || errno || !o->seq_start || o->seq_start == ~0ull ? -1 : 0;
	}
	case 0x10b:
		for (int i = 0; i < 5; i++)
			if (!strcmp(arg, levels[i])) {
				o->log_level = LOG_ERR_ + i;
				return 0;
			}
		return -1;
	}
	return parse_dp_opt(o, opt, arg);
}

static int opt_idx(int val)
{
	for (int i = 0; lopts[i].name; i++)
		if (lopts[i].val == val)
			return i;
	return 0;
}

/* The file's options, where the command line did not give them. */
static int conf_opts(struct opts *o)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };

	for (size_t i = 0; i < o->conf.nopts; i++) {
		const struct conf_opt *c = &o->conf.opts[i];
		const struct option *l = lopts;
		const char *arg = c->val;
		int b = -1;

		while (l->name && strcmp(l->name, c->key))
			l++;
		if (!l->name) {
			say(o, "%s:%d: unknown option '%s' (a long option of esptagd(8) without '--')",
			    o->conf.path, c->line, c->key);
			return -1;
		}
		if (l->val == 'h' || l->val == 0x109 || l->val == 0x10a) {
			say(o, "%s:%d: '%s' does not go in a configuration file", o->conf.path,
			    c->line, c->key);
			return -1;
		}
		if (o->given[l - lopts])
			continue;	/* the command line wins */
		if (l->has_arg == no_argument) {
			for (int k = 0; yes[k]; k++)
				b = !strcmp(arg, yes[k]) ? 1 : !strcmp(arg, no[k]) ? 0 : b;
			if (b < 0) {
				say(o, "%s:%d: %s takes yes or no, not '%s'", o->conf.path, c->line,
				    c->key, arg);
				return -1;
			}
			if (!b)
				continue;
		}
		if (set_opt(o, l->val, arg)) {
			say(o, "%s:%d: bad value '%s' for %s", o->conf.path, c->line, arg, c->key);
			return -1;
		}
	}
	return 0;
}

/* --config FILE, or the default file when it is there. */
static int conf_load(struct opts *o)
{
	char err[1280], def[1024];
	const char *path = o->config;

	if (!path) {
		if (!*o->dev)
			return 0;
		snprintf(def, sizeof(def), "%s/esptagd-%s.conf", ESPTAG_CONF_DIR, o->dev);
		if (access(def, F_OK))
			return 0;
		path = def;
	}
	if (conf_read(path, o->dev, &o->conf, err, sizeof(err))) {
		say(o, "%s", err);
		return -1;
	}
	return conf_opts(o);
}

int opts_parse(struct opts *o, int argc, char **argv, bool reload)
{
	int opt, li;

	memset(o, 0, sizeof(*o));
	o->reload = reload;
	o->log_level = LOG_INFO_;
	o->co.eth_p_cfg = ESPTAG_ETH_P_CFG;
	o->co.eth_p_meta = ESPTAG_ETH_P_META;
	o->po.vf_limit = 1024;
	o->audit_s = 60;
	o->hello_ms = 1000;
	o->max_sas = ESPTAG_SAD_MAX;
	o->bo.xdp_prio = -1;
	o->bo.tc_prio = ESPTAGD_TC_PRIO;
	optind = 0;	/* getopt from the start (again, at a reload) */
	while ((opt = getopt_long(argc, argv, "d:p:s:vh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return ESPTAG_EXIT_OK;
		case '?':
			usage(stderr);
			return ESPTAG_EXIT_USAGE;
		default:
			li = opt_idx(opt);
			o->given[li] = true;
			if (opt == 'v' || opt == 0x10b)	/* one setting, two spellings */
				o->given[opt_idx(opt == 'v' ? 0x10b : 'v')] = true;
			if (set_opt(o, opt, optarg)) {
				bad_value(opt, optarg);
				return ESPTAG_EXIT_USAGE;
			}
		}
	}
	if (optind != argc) {
		usage(stderr);
		return ESPTAG_EXIT_USAGE;
	}
	if (conf_load(o))
		return ESPTAG_EXIT_USAGE;
	if (!*o->dev) {
		usage(stderr);
		return ESPTAG_EXIT_USAGE;
	}
	if (opts_check(o) >= 0)
		return ESPTAG_EXIT_USAGE;
	opts_defaults(o);
	return -1;
}

static bool str_differ(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

void opts_restart_warn(const struct opts *o, const struct opts *n)
{
	const struct {
		const char *name;
		bool differ;
	} f[] = {
		{ "dev", strcmp(o->dev, n->dev) },
		{ "pin-dir", str_differ(o->bo.pin_dir, n->bo.pin_dir) },
		{ "sock", str_differ(o->sock, n->sock) },
		{ "ro-group", str_differ(o->ro_group, n->ro_group) },
		{ "keylog", str_differ(o->keylog, n->keylog) },
		{ "port", o->port != n->port },
		{ "adopt", o->bo.adopt != n->bo.adopt },
		{ "no-attach", o->bo.no_attach != n->bo.no_attach },
		{ "xdp-skb", o->bo.skb_mode != n->bo.skb_mode },
		{ "keep-pins", o->keep != n->keep },
		{ "cleanup-on-exit", o->cleanup != n->cleanup },
		{ "max-sas", o->max_sas != n->max_sas },
		{ "cfg-ethertype", o->co.eth_p_cfg != n->co.eth_p_cfg },
		{ "meta-ethertype", o->co.eth_p_meta != n->co.eth_p_meta },
		{ "mark-mask", o->co.mark_mask != n->co.mark_mask },
		{ "mark-trusted", o->co.mark_trusted != n->co.mark_trusted },
		{ "mark-shift", o->co.mark_shift != n->co.mark_shift },
		{ "pf", o->pf_mode != n->pf_mode },
		{ "vf", o->vf_mode != n->vf_mode },
		{ "mailbox", str_differ(o->mailbox, n->mailbox) },
		{ "mbox-dir", str_differ(o->po.mbox_dir, n->po.mbox_dir) },
		{ "uplink", str_differ(o->po.uplink, n->po.uplink) },
		{ "switch", o->po.vepa != n->po.vepa },
		{ "vf-limit", o->po.vf_limit != n->po.vf_limit },
		{ "local", o->po.local_family != n->po.local_family ||
			   memcmp(o->po.local_addr, n->po.local_addr, 16) },
		{ "agent-key", o->have_fpr != n->have_fpr || memcmp(o->agent_fpr, n->agent_fpr, 32) },
		{ "allow-v1", o->allow_v1 != n->allow_v1 },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].differ)
			log_warn("reload: %s changed in %s: it takes effect only when esptagd is restarted",
				 f[i].name, n->conf.path);
}
