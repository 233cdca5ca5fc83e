// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag command-line grammar: objects and verbs. Every error says what was
 * wrong and what is expected; nothing is sent unless the whole command
 * parsed. The keywords of each object are in ctl_cli_<object>.c.
 */
#include <string.h>
#include "ctl_cli_int.h"

void esptag_cli_cmd_clear(struct esptag_cli_cmd *cmd)
{
	explicit_bzero(cmd, sizeof(*cmd));
}

static bool is(const char *s, const char *a, const char *b)
{
	return !strcmp(s, a) || (b && !strcmp(s, b));
}

static int parse_state(struct args *a, struct esptag_cli_cmd *cmd, const char *verb)
{
	if (is(verb, "add", NULL)) {
		cmd->op = ESPTAG_CTL_STATE_ADD;
		return cli_parse_state_add(a, cmd);
	}
	if (is(verb, "del", "delete")) {
		cmd->op = ESPTAG_CTL_STATE_DEL;
		return cli_parse_state_del(a, cmd);
	}
	if (is(verb, "list", "show") || !*verb) {
		cmd->op = ESPTAG_CTL_STATE_LIST;
		return cli_no_args(a, "state list");
	}
	if (is(verb, "flush", NULL)) {
		cmd->op = ESPTAG_CTL_STATE_FLUSH;
		return cli_no_args(a, "state flush");
	}
	return fail(a->err, a->errlen, "unknown command 'state %s': use add, del, list or flush",
		    verb);
}

static int parse_policy(struct args *a, struct esptag_cli_cmd *cmd, const char *verb)
{
	if (is(verb, "add", NULL)) {
		cmd->op = ESPTAG_CTL_POLICY_ADD;
		return cli_parse_policy(a, cmd, true);
	}
	if (is(verb, "update", NULL)) {
		cmd->op = ESPTAG_CTL_POLICY_UPDATE;
		return cli_parse_policy(a, cmd, true);
	}
	if (is(verb, "del", "delete")) {
		cmd->op = ESPTAG_CTL_POLICY_DEL;
		return cli_parse_policy(a, cmd, false);
	}
	if (is(verb, "list", "show") || !*verb) {
		cmd->op = ESPTAG_CTL_POLICY_LIST;
		return cli_no_args(a, "policy list");
	}
	if (is(verb, "flush", NULL)) {
		cmd->op = ESPTAG_CTL_POLICY_FLUSH;
		return cli_no_args(a, "policy flush");
	}
	return fail(a->err, a->errlen,
		    "unknown command 'policy %s': use add, update, del, list or flush", verb);
}

static int parse_agent(struct args *a, struct esptag_cli_cmd *cmd, const char *verb)
{
	if (is(verb, "status", "show") || !*verb) {
		cmd->op = ESPTAG_CTL_AGENT_STATUS;
		return cli_no_args(a, "agent status");
	}
	if (is(verb, "sa", NULL)) {
		cmd->op = ESPTAG_CTL_AGENT_SA;
		return cli_no_args(a, "agent sa");
	}
	return fail(a->err, a->errlen, "unknown command 'agent %s': use status or sa", verb);
}

static int parse_vf(struct args *a, struct esptag_cli_cmd *cmd, const char *verb)
{
	if (is(verb, "list", "show") || !*verb) {
		cmd->op = ESPTAG_CTL_VF_LIST;
		return a->argc > 2 ? cli_no_args(a, "vf list") : 0;
	}
	if (is(verb, "add", NULL))
		cmd->op = ESPTAG_CTL_VF_ADD;
	else if (is(verb, "del", "delete"))
		cmd->op = ESPTAG_CTL_VF_DEL;
	else if (is(verb, "trust", NULL))
		cmd->op = ESPTAG_CTL_VF_TRUST;
	else if (is(verb, "reset", NULL))
		cmd->op = ESPTAG_CTL_VF_RESET;
	if (cmd->op)
		return cli_parse_vf(a, cmd);
	return fail(a->err, a->errlen,
		    "unknown command 'vf %s': use list, add, del, trust or reset", verb);
}

int esptag_cli_parse(int argc, char **argv, struct esptag_cli_cmd *cmd, char *err, size_t errlen)
{
	struct args a = { .argc = argc, .argv = argv, .err = err, .errlen = errlen };
	const char *obj, *verb;
	int rc;

	memset(cmd, 0, sizeof(*cmd));
	if (argc < 1)
		return fail(err, errlen, "no command (try: esptag help)");
	obj = argv[0];
	verb = argc > 1 ? argv[1] : "";
	if (is(obj, "state", "sa")) {
		rc = parse_state(&a, cmd, verb);
	} else if (is(obj, "policy", NULL)) {
		rc = parse_policy(&a, cmd, verb);
	} else if (is(obj, "agent", NULL)) {
		rc = parse_agent(&a, cmd, verb);
	} else if (is(obj, "vf", NULL)) {
		rc = parse_vf(&a, cmd, verb);
	} else if (is(obj, "stats", NULL)) {
		cmd->op = ESPTAG_CTL_STATS;
		rc = argc > 1 ? fail(err, errlen, "'stats' takes no arguments") : 0;
	} else if (is(obj, "monitor", NULL)) {
		cmd->op = ESPTAG_CTL_MONITOR;
		rc = argc > 1 ? fail(err, errlen, "'monitor' takes no arguments") : 0;
	} else {
		rc = fail(err, errlen,
			  "unknown object '%s': use state, policy, agent, vf, stats or monitor", obj);
	}
	if (rc)
		esptag_cli_cmd_clear(cmd);
	return rc;
}
