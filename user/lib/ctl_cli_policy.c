// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag command-line grammar: policy add, update and del. add and update
 * take the action, and for an outbound protect policy what names its SA:
 * spi and/or reqid, and a template as in ip xfrm, "tmpl [src ADDR]
 * [dst ADDR] [proto esp] [spi SPI] [reqid N] [mode MODE]", whose src and
 * dst are the SA's addresses (dst: the peer), not the policy's selector.
 */
#include <string.h>
#include <esptag/maps.h>
#include "ctl_cli_int.h"

/* What the keywords of one policy command have said so far. */
struct policy_parse {
	bool add;  /* add or update (not del) */
	bool tmpl; /* after the 'tmpl' keyword */
	uint8_t sfam, dfam, tsfam, tdfam;
};

/* After 'tmpl': src, dst, proto, mode. 1: kw was one of them, 0: not, -1: error. */
static int policy_tmpl_kw(struct args *a, struct esptag_ctl_policy *p, const char *kw,
			  struct policy_parse *pp)
{
	char *err = a->err;
	size_t errlen = a->errlen;
	const char *v;

	if (!pp->tmpl)
		return 0;
	if (!strcmp(kw, "src")) {
		SEEN(a, S_TSRC, "tmpl src");
		if (!(v = cli_next_val(a, kw)) ||
		    cli_parse_addr(v, "tmpl src", &pp->tsfam, p->tmpl_src, err, errlen))
			return -1;
		p->tmpl_flags |= ESPTAG_CTL_TMPL_SRC;
	} else if (!strcmp(kw, "dst")) {
		SEEN(a, S_TDST, "tmpl dst");
		if (!(v = cli_next_val(a, kw)) ||
		    cli_parse_addr(v, "tmpl dst", &pp->tdfam, p->tmpl_dst, err, errlen))
			return -1;
		p->tmpl_flags |= ESPTAG_CTL_TMPL_DST;
	} else if (!strcmp(kw, "proto")) {
		SEEN(a, S_PROTO, kw);
		if (!(v = cli_next_val(a, kw)) || cli_parse_proto(v, "tmpl ", err, errlen))
			return -1;
	} else if (!strcmp(kw, "mode")) {
		SEEN(a, S_MODE, kw);
		if (!(v = cli_next_val(a, kw)) ||
		    cli_parse_mode(v, "tmpl ", &p->tmpl_mode, err, errlen))
			return -1;
	} else {
		return 0;
	}
	return 1;
}

/* The selector: dev, src, dst, dir. 1: kw was one of them, 0: not, -1: error. */
static int policy_sel_kw(struct args *a, struct esptag_cli_cmd *cmd, const char *kw,
			 struct policy_parse *pp)
{
	struct esptag_ctl_policy *p = &cmd->pol;
	char *err = a->err;
	size_t errlen = a->errlen;
	const char *v;

	if (!strcmp(kw, "dev")) {
		if (cli_dev_kw(a, cmd, p->dev))
			return -1;
	} else if (!strcmp(kw, "src")) {
		SEEN(a, S_SRC, kw);
		if (!(v = cli_next_val(a, kw)) ||
		    esptag_prefix_parse(v, &pp->sfam, p->src, &p->src_plen, err, errlen))
			return -1;
	} else if (!strcmp(kw, "dst")) {
		SEEN(a, S_DST, kw);
		if (!(v = cli_next_val(a, kw)) ||
		    esptag_prefix_parse(v, &pp->dfam, p->dst, &p->dst_plen, err, errlen))
			return -1;
	} else if (!strcmp(kw, "dir")) {
		SEEN(a, S_DIR, kw);
		if (!(v = cli_next_val(a, kw)) || cli_parse_dir(v, &p->dir, err, errlen))
			return -1;
	} else {
		return 0;
	}
	return 1;
}

/* add and update: action, spi, reqid, tmpl. 1: kw was one of them, 0: not, -1: error. */
static int policy_action_kw(struct args *a, struct esptag_ctl_policy *p, const char *kw,
			    struct policy_parse *pp)
{
	char *err = a->err;
	size_t errlen = a->errlen;
	const char *v;

	if (!pp->add)
		return 0;
	if (!pp->tmpl && !strcmp(kw, "action")) {
		SEEN(a, S_ACTION, kw);
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (!strcmp(v, "protect"))
			p->action = ESPTAG_ACT_PROTECT;
		else if (!strcmp(v, "bypass"))
			p->action = ESPTAG_ACT_BYPASS;
		else if (!strcmp(v, "discard"))
			p->action = ESPTAG_ACT_DISCARD;
		else
			return fail(err, errlen,
				    "action must be 'protect spi SPI', 'bypass' or 'discard', not '%s'",
				    v);
	} else if (!strcmp(kw, "spi")) {
		SEEN(a, S_SPI, kw);
		if (!(v = cli_next_val(a, kw)) || cli_parse_spi(v, &p->spi, err, errlen))
			return -1;
	} else if (!strcmp(kw, "reqid")) {
		SEEN(a, S_REQID, kw);
		if (!(v = cli_next_val(a, kw)) || cli_parse_reqid(v, &p->reqid, err, errlen))
			return -1;
		p->tmpl_flags |= ESPTAG_CTL_TMPL_REQID;
	} else if (!strcmp(kw, "tmpl")) {
		SEEN(a, S_TMPL, kw);
		pp->tmpl = true;
	} else {
		return 0;
	}
	return 1;
}

/* add and update: the action and what names the SA must fit together. */
static int policy_action_check(struct args *a, struct esptag_ctl_policy *p,
			       const struct policy_parse *pp, const char *verb)
{
	char *err = a->err;
	size_t errlen = a->errlen;
	unsigned int seen = a->seen;

	if (!(seen & S_ACTION) && pp->tmpl)
		p->action = ESPTAG_ACT_PROTECT; /* a template means protect */
	else if (!(seen & S_ACTION))
		return fail(err, errlen,
			    "policy %s needs 'action protect spi SPI', 'action bypass' or 'action discard'",
			    verb);
	if ((seen & S_SPI) && p->action != ESPTAG_ACT_PROTECT)
		return fail(err, errlen, "'spi' only goes with 'action protect'");
	if ((seen & (S_REQID | S_TMPL)) && p->action != ESPTAG_ACT_PROTECT)
		return fail(err, errlen, "'reqid' and 'tmpl' only go with 'action protect'");
	if (p->action == ESPTAG_ACT_PROTECT && p->dir == ESPTAG_DIR_OUT &&
	    !(seen & (S_SPI | S_REQID)))
		return fail(err, errlen,
			    "'dir out action protect' needs 'spi SPI' (the outbound SA; add 'tmpl dst PEER' when SAs toward several peers share it)");
	return 0;
}

/* What every policy command needs, and what goes together. */
static int policy_finish(struct args *a, struct esptag_ctl_policy *p,
			 const struct policy_parse *pp, const char *verb)
{
	char *err = a->err;
	size_t errlen = a->errlen;

	if ((a->seen & (S_DEV | S_SRC | S_DST | S_DIR)) != (S_DEV | S_SRC | S_DST | S_DIR))
		return fail(err, errlen, "policy %s needs dev DEV src PREFIX dst PREFIX dir in|out%s",
			    verb, pp->add ? " action ..." : "");
	if (pp->sfam != pp->dfam)
		return fail(err, errlen, "src and dst prefixes must both be IPv4 or both IPv6");
	p->family = pp->dfam;
	if (pp->tsfam && pp->tdfam && pp->tsfam != pp->tdfam)
		return fail(err, errlen, "tmpl src and tmpl dst must both be IPv4 or both IPv6");
	p->tmpl_family = pp->tsfam ? pp->tsfam : pp->tdfam;
	if (pp->add) {
		if (policy_action_check(a, p, pp, verb))
			return -1;
	} else {
		p->action = ESPTAG_ACT_BYPASS; /* ignored by the daemon for del */
	}
	return esptag_ctl_policy_check(p, true, err, errlen);
}

int cli_parse_policy(struct args *a, struct esptag_cli_cmd *cmd, bool add)
{
	struct esptag_ctl_policy *p = &cmd->pol;
	struct policy_parse pp = {.add = add};
	const char *verb = a->argv[1];

	a->seen = 0;
	for (a->i = 2; a->i < a->argc; a->i++) {
		const char *kw = a->argv[a->i];
		int r = policy_tmpl_kw(a, p, kw, &pp);

		if (!r)
			r = policy_sel_kw(a, cmd, kw, &pp);
		if (!r)
			r = policy_action_kw(a, p, kw, &pp);
		if (r < 0)
			return -1;
		if (!r)
			return fail(a->err, a->errlen, "unknown keyword '%s' in policy %s%s", kw, verb,
				    pp.tmpl ? " tmpl (src, dst, proto, spi, reqid, mode)" : "");
	}
	return policy_finish(a, p, &pp, verb);
}
