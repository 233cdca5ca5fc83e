// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag command-line grammar: objects and verbs. Every error says what was
 * wrong and what is expected; nothing is sent unless the whole command
 * parsed. Objects and verbs may be abbreviated to a prefix (iproute2
 * habit); the keywords of each object are in ctl_cli_<object>.c.
 */
#include <string.h>
#include <sys/stat.h>
#include "ctl_cli_int.h"

void esptag_cli_cmd_clear(struct esptag_cli_cmd *cmd)
{
	explicit_bzero(cmd, sizeof(*cmd));
}

/* One word of a level: name, what it means, and whether it wins a prefix
 * shared with other words (iproute2: `ip x s` is state, `ip x s d` delete). */
struct word {
	const char *name;
	int id;
	bool preferred;
};

/*
 * The id of the word w abbreviates: an exact name, else the only id whose
 * names start with w, else the preferred one among them. -1 with err
 * naming the candidates if ambiguous, -2 if nothing matches.
 */
static int lookup(struct args *a, const struct word *t, size_t n, const char *w,
		  const char *level)
{
	char cands[160] = "";
	int ids[32], nids = 0, pref = -1;
	size_t wl = strlen(w);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, w))
			return t[i].id;
	if (!wl)
		return -2;
	for (size_t i = 0; i < n && nids < 32; i++) {
		bool known = false;

		if (strncmp(t[i].name, w, wl))
			continue;
		if (t[i].preferred)
			pref = t[i].id;
		for (int k = 0; k < nids; k++)
			known |= ids[k] == t[i].id;
		if (known)
			continue;
		ids[nids++] = t[i].id;
		if (strlen(cands) + strlen(t[i].name) + 3 < sizeof(cands)) {
			if (*cands)
				strcat(cands, ", ");
			strcat(cands, t[i].name);
		}
	}
	if (nids == 1)
		return ids[0];
	if (nids == 0)
		return -2;
	if (pref >= 0)
		return pref;
	fail(a->err, a->errlen, "ambiguous %s '%s': it could be %s", level, w, cands);
	return -1;
}

enum { V_ADD = 1, V_UPDATE, V_DEL, V_DELALL, V_LIST, V_FLUSH, V_GET, V_COUNT, V_HELP,
       V_STATUS, V_SA, V_TRUST, V_RESET, V_ALLOCSPI };

static const struct word state_verbs[] = {
	{ "add", V_ADD, false }, { "del", V_DEL, true }, { "delete", V_DEL, false }, { "deleteall", V_DELALL, false },
	{ "list", V_LIST, true }, { "ls", V_LIST, false }, { "show", V_LIST, false }, { "flush", V_FLUSH, false },
	{ "get", V_GET, false }, { "count", V_COUNT, false }, { "help", V_HELP, false },
	{ "update", V_UPDATE, false }, { "allocspi", V_ALLOCSPI, false },
};

static const struct word policy_verbs[] = {
	{ "add", V_ADD, false }, { "update", V_UPDATE, false }, { "del", V_DEL, true }, { "delete", V_DEL, false },
	{ "deleteall", V_DELALL, false }, { "list", V_LIST, true }, { "ls", V_LIST, false }, { "show", V_LIST, false },
	{ "flush", V_FLUSH, false }, { "help", V_HELP, false }, { "get", V_GET, false },
};

static const struct word agent_verbs[] = {
	{ "status", V_STATUS, false }, { "show", V_STATUS, false }, { "sa", V_SA, false }, { "help", V_HELP, false },
};

static const struct word vf_verbs[] = {
	{ "list", V_LIST, true }, { "ls", V_LIST, false }, { "show", V_LIST, false }, { "add", V_ADD, false },
	{ "del", V_DEL, true }, { "delete", V_DEL, false }, { "trust", V_TRUST, false }, { "reset", V_RESET, false },
	{ "help", V_HELP, false },
};

static const struct word objects[] = {
	{ "state", ESPTAG_CLI_OBJ_STATE, true }, { "sa", ESPTAG_CLI_OBJ_STATE, false },
	{ "policy", ESPTAG_CLI_OBJ_POLICY, false }, { "agent", ESPTAG_CLI_OBJ_AGENT, false },
	{ "vf", ESPTAG_CLI_OBJ_VF, false }, { "stats", ESPTAG_CLI_OBJ_STATS, false },
	{ "monitor", ESPTAG_CLI_OBJ_MONITOR, false }, { "help", ESPTAG_CLI_OBJ_ALL, false },
};

#define NW(t) (sizeof(t) / sizeof((t)[0]))

/* The verb (argv[1], "" if none) of an object: its id, 0 for none, -1 on error. */
static int verb_of(struct args *a, const struct word *t, size_t n, const char *obj,
		   const char *uses)
{
	const char *w = a->argc > 1 ? a->argv[1] : "";
	char level[32];
	int id;

	if (!*w)
		return 0;
	snprintf(level, sizeof(level), "%s command", obj);
	id = lookup(a, t, n, w, level);
	if (id == -2)
		return fail(a->err, a->errlen, "unknown command '%s %s': use %s", obj, w, uses);
	return id;
}

/*
 * Nothing but an optional `dev DEV` from argv[first] on (it selects the
 * daemon's socket, as for every other command).
 */
static int only_dev(struct args *a, struct esptag_cli_cmd *cmd, int first, const char *what)
{
	for (a->i = first; a->i < a->argc; a->i++) {
		const char *v;

		if (strcmp(a->argv[a->i], "dev"))
			return fail(a->err, a->errlen,
				    "'%s' takes no arguments but 'dev DEV' (got '%s')", what,
				    a->argv[a->i]);
		if (*cmd->dev)
			return fail(a->err, a->errlen, "'dev' given twice");
		if (!(v = cli_next_val(a, "dev")) || cli_set_dev(cmd->dev, v, a->err, a->errlen))
			return -1;
	}
	return 0;
}

static int parse_state(struct args *a, struct esptag_cli_cmd *cmd)
{
	int v = verb_of(a, state_verbs, NW(state_verbs), "state",
			"add, update, del, get, allocspi, list, count, flush, deleteall or help");

	switch (v) {
	case V_ADD:
		cmd->op = ESPTAG_CTL_STATE_ADD;
		return cli_parse_state_add(a, cmd);
	case V_DEL:
		cmd->op = ESPTAG_CTL_STATE_DEL;
		return cli_parse_state_del(a, cmd);
	case V_GET:
		cmd->op = ESPTAG_CTL_STATE_GET;
		cmd->verb = ESPTAG_CLI_GET;
		return cli_parse_state_get(a, cmd);
	case V_UPDATE:
		cmd->op = ESPTAG_CTL_STATE_UPDATE;
		cmd->verb = ESPTAG_CLI_UPDATE;
		return cli_parse_state_update(a, cmd);
	case V_ALLOCSPI:
		cmd->op = ESPTAG_CTL_STATE_ALLOCSPI;
		cmd->verb = ESPTAG_CLI_ALLOCSPI;
		return cli_parse_state_allocspi(a, cmd);
	case 0:
	case V_LIST:
		cmd->op = ESPTAG_CTL_STATE_LIST;
		return only_dev(a, cmd, 2, "state list");
	case V_COUNT:
		cmd->op = ESPTAG_CTL_STATE_LIST;
		cmd->verb = ESPTAG_CLI_COUNT;
		return only_dev(a, cmd, 2, "state count");
	case V_FLUSH:
	case V_DELALL:
		cmd->op = ESPTAG_CTL_STATE_FLUSH;
		return only_dev(a, cmd, 2, v == V_FLUSH ? "state flush" : "state deleteall");
	case V_HELP:
		cmd->help = ESPTAG_CLI_OBJ_STATE;
		return 0;
	}
	return -1;
}

static int parse_policy(struct args *a, struct esptag_cli_cmd *cmd)
{
	int v = verb_of(a, policy_verbs, NW(policy_verbs), "policy",
			"add, update, del, get, list, flush, deleteall or help");

	switch (v) {
	case V_GET:
		cmd->op = ESPTAG_CTL_POLICY_GET;
		return cli_parse_policy(a, cmd, false);
	case V_ADD:
		cmd->op = ESPTAG_CTL_POLICY_ADD;
		return cli_parse_policy(a, cmd, true);
	case V_UPDATE:
		cmd->op = ESPTAG_CTL_POLICY_UPDATE;
		return cli_parse_policy(a, cmd, true);
	case V_DEL:
		cmd->op = ESPTAG_CTL_POLICY_DEL;
		return cli_parse_policy(a, cmd, false);
	case 0:
	case V_LIST:
		cmd->op = ESPTAG_CTL_POLICY_LIST;
		return only_dev(a, cmd, 2, "policy list");
	case V_FLUSH:
	case V_DELALL:
		cmd->op = ESPTAG_CTL_POLICY_FLUSH;
		return only_dev(a, cmd, 2, v == V_FLUSH ? "policy flush" : "policy deleteall");
	case V_HELP:
		cmd->help = ESPTAG_CLI_OBJ_POLICY;
		return 0;
	}
	return -1;
}

static int parse_agent(struct args *a, struct esptag_cli_cmd *cmd)
{
	int v = verb_of(a, agent_verbs, NW(agent_verbs), "agent", "status, sa or help");

	switch (v) {
	case 0:
	case V_STATUS:
		cmd->op = ESPTAG_CTL_AGENT_STATUS;
		return only_dev(a, cmd, 2, "agent status");
	case V_SA:
		cmd->op = ESPTAG_CTL_AGENT_SA;
		return only_dev(a, cmd, 2, "agent sa");
	case V_HELP:
		cmd->help = ESPTAG_CLI_OBJ_AGENT;
		return 0;
	}
	return -1;
}

static int parse_vf(struct args *a, struct esptag_cli_cmd *cmd)
{
	int v = verb_of(a, vf_verbs, NW(vf_verbs), "vf", "list, add, del, trust, reset or help");

	switch (v) {
	case 0:
	case V_LIST:
		cmd->op = ESPTAG_CTL_VF_LIST;
		return only_dev(a, cmd, 2, "vf list");
	case V_ADD:
		cmd->op = ESPTAG_CTL_VF_ADD;
		break;
	case V_DEL:
		cmd->op = ESPTAG_CTL_VF_DEL;
		break;
	case V_TRUST:
		cmd->op = ESPTAG_CTL_VF_TRUST;
		break;
	case V_RESET:
		cmd->op = ESPTAG_CTL_VF_RESET;
		break;
	case V_HELP:
		cmd->help = ESPTAG_CLI_OBJ_VF;
		return 0;
	default:
		return -1;
	}
	return cli_parse_vf(a, cmd);
}

/* stats, monitor: `help` or an optional `dev DEV`. */
static int parse_simple(struct args *a, struct esptag_cli_cmd *cmd, int obj)
{
	if (a->argc > 1 && !strcmp(a->argv[1], "help")) {
		cmd->help = obj;
		return a->argc > 2 ? fail(a->err, a->errlen, "'help' takes no arguments") : 0;
	}
	cmd->op = obj == ESPTAG_CLI_OBJ_STATS ? ESPTAG_CTL_STATS : ESPTAG_CTL_MONITOR;
	return only_dev(a, cmd, 1, obj == ESPTAG_CLI_OBJ_STATS ? "stats" : "monitor");
}

/* help [OBJECT] */
static int parse_help(struct args *a, struct esptag_cli_cmd *cmd)
{
	int obj = ESPTAG_CLI_OBJ_ALL;

	if (a->argc > 2)
		return fail(a->err, a->errlen, "usage: help [OBJECT]");
	if (a->argc == 2) {
		obj = lookup(a, objects, NW(objects), a->argv[1], "object");
		if (obj == -2)
			return fail(a->err, a->errlen, "no help on '%s': use state, policy, agent, vf, stats or monitor",
				    a->argv[1]);
		if (obj < 0)
			return -1;
	}
	cmd->help = obj;
	return 0;
}

int esptag_cli_parse(int argc, char **argv, struct esptag_cli_cmd *cmd, char *err, size_t errlen)
{
	struct args a = { .argc = argc, .argv = argv, .err = err, .errlen = errlen };
	int obj, rc = -1;

	memset(cmd, 0, sizeof(*cmd));
	if (argc < 1)
		return fail(err, errlen, "no command (try: esptag help)");
	obj = lookup(&a, objects, NW(objects), argv[0], "object");
	switch (obj) {
	case ESPTAG_CLI_OBJ_STATE:
		rc = parse_state(&a, cmd);
		break;
	case ESPTAG_CLI_OBJ_POLICY:
		rc = parse_policy(&a, cmd);
		break;
	case ESPTAG_CLI_OBJ_AGENT:
		rc = parse_agent(&a, cmd);
		break;
	case ESPTAG_CLI_OBJ_VF:
		rc = parse_vf(&a, cmd);
		break;
	case ESPTAG_CLI_OBJ_STATS:
	case ESPTAG_CLI_OBJ_MONITOR:
		rc = parse_simple(&a, cmd, obj);
		break;
	case ESPTAG_CLI_OBJ_ALL:
		rc = parse_help(&a, cmd);
		break;
	case -2:
		fail(err, errlen,
		     "unknown object '%s': use state, policy, agent, vf, stats, monitor or help",
		     argv[0]);
		break;
	}
	if (rc)
		esptag_cli_cmd_clear(cmd);
	return rc;
}

bool esptag_cli_s_is_socket(const char *next)
{
	struct stat st;

	if (!next || !*next || *next == '-')
		return false;
	for (size_t i = 0; i < NW(objects); i++)
		if (!strncmp(objects[i].name, next, strlen(next)))
			return false;
	return strchr(next, '/') || (!stat(next, &st) && S_ISSOCK(st.st_mode));
}
