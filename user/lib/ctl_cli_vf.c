// SPDX-License-Identifier: GPL-2.0-only
/* esptag command-line grammar: the VF commands of a PF-mode esptagd. */
#include <string.h>
#include <esptag/maps.h>
#include "ctl_cli_int.h"

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 || strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}

static int parse_onoff(const char *s, bool *on)
{
	if (!strcmp(s, "on"))
		*on = true;
	else if (!strcmp(s, "off"))
		*on = false;
	else
		return -1;
	return 0;
}

/* An optional trailing `dev DEV` (the PF port: selects the socket). */
static int vf_tail_dev(struct args *a, struct esptag_cli_cmd *cmd, int first)
{
	if (a->argc == first)
		return 0;
	if (a->argc != first + 2 || strcmp(a->argv[first], "dev"))
		return fail(a->err, a->errlen, "'vf %s VF' takes no more arguments but 'dev DEV' (got '%s')",
			    a->argv[1], a->argv[first]);
	return cli_set_dev(cmd->dev, a->argv[first + 1], a->err, a->errlen);
}

/* vf add VF dev IFNAME mac MAC [addr ADDR] [vlan ID [vlan ID]] [trust on|off] [limit N]
 * vf del VF | vf trust VF on|off | vf reset VF, each [dev DEV] */
int cli_parse_vf(struct args *a, struct esptag_cli_cmd *cmd)
{
	struct esptag_ctl_vf *vf = &cmd->vf;
	char *err = a->err;
	size_t errlen = a->errlen;
	const char *verb = a->argv[1];
	uint32_t n;
	bool on;

	if (a->argc < 3)
		return fail(err, errlen, "'vf %s' needs the VF number", verb);
	if (cli_parse_u32(a->argv[2], &n, ESPTAG_CTL_VF_MAX))
		return fail(err, errlen, "bad VF number '%s' (0..%u)", a->argv[2],
			    ESPTAG_CTL_VF_MAX);
	vf->vf = n;
	a->i = 2;
	if (cmd->op == ESPTAG_CTL_VF_TRUST) {
		if (a->argc < 4 || parse_onoff(a->argv[3], &on))
			return fail(err, errlen, "usage: vf trust VF on|off [dev DEV]");
		vf->flags = on ? ESPTAG_CTL_VF_TRUSTED : 0;
		return vf_tail_dev(a, cmd, 4);
	}
	if (cmd->op != ESPTAG_CTL_VF_ADD)
		return vf_tail_dev(a, cmd, 3);
	vf->flags = ESPTAG_CTL_VF_TRUSTED;
	while (++a->i < a->argc) {
		const char *kw = a->argv[a->i], *v = cli_next_val(a, kw);

		if (!v)
			return -1;
		if (!strcmp(kw, "dev")) {
			if (cli_set_dev(vf->ifname, v, err, errlen))
				return -1;
		} else if (!strcmp(kw, "mac")) {
			if (parse_mac(v, vf->mac))
				return fail(err, errlen, "bad MAC '%s' (xx:xx:xx:xx:xx:xx)", v);
		} else if (!strcmp(kw, "addr")) {
			if (esptag_addr_parse(v, &vf->family, vf->addr))
				return fail(err, errlen, "bad address '%s'", v);
		} else if (!strcmp(kw, "vlan")) {
			if (vf->nvlans == 2)
				return fail(err, errlen, "at most two 'vlan ID'");
			if (cli_parse_u32(v, &n, 4094) || !n)
				return fail(err, errlen, "bad VLAN ID '%s' (1..4094)", v);
			vf->vid[vf->nvlans++] = n;
		} else if (!strcmp(kw, "trust")) {
			if (parse_onoff(v, &on))
				return fail(err, errlen, "'trust' takes on or off");
			vf->flags = on ? ESPTAG_CTL_VF_TRUSTED : 0;
		} else if (!strcmp(kw, "limit")) {
			if (cli_parse_u32(v, &n, ESPTAG_SAD_MAX) || !n)
				return fail(err, errlen, "bad limit '%s' (1..%u SAs)", v, ESPTAG_SAD_MAX);
			vf->limit = n;
		} else {
			return fail(err, errlen,
				    "unknown keyword '%s' (vf add VF dev IFNAME mac MAC [addr ADDR] [vlan ID] [trust on|off] [limit N])",
				    kw);
		}
	}
	return esptag_ctl_vf_check(vf, ESPTAG_CTL_VF_ADD, true, err, errlen);
}
