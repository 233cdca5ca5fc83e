/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * esptag command-line grammar (ip xfrm style) -> control requests.
 * In the library so that the unit tests exercise the very parser the CLI uses.
 */
#ifndef ESPTAG_CTL_CLI_H
#define ESPTAG_CTL_CLI_H

#include "ctl.h"

/* Objects, for `help` (esptag_cli_cmd.help). */
enum esptag_cli_obj {
	ESPTAG_CLI_OBJ_ALL = 1, /* esptag help */
	ESPTAG_CLI_OBJ_STATE,
	ESPTAG_CLI_OBJ_POLICY,
	ESPTAG_CLI_OBJ_AGENT,
	ESPTAG_CLI_OBJ_VF,
	ESPTAG_CLI_OBJ_STATS,
	ESPTAG_CLI_OBJ_MONITOR,
};

/* What the CLI does with the answer of a request, beyond printing it. */
enum esptag_cli_verb {
	ESPTAG_CLI_PLAIN = 0,
	ESPTAG_CLI_GET,	  /* state get: STATE_GET of cmd.id (both dirs when dir is unset) */
	ESPTAG_CLI_COUNT, /* state count: STATE_LIST, print how many */
	ESPTAG_CLI_UPDATE, /* state update: STATE_GET, then STATE_UPDATE with cmd.upd of it */
	ESPTAG_CLI_ALLOCSPI, /* state allocspi: print the reserved SPI as ip xfrm does */
};

/* esptag_cli_cmd.upd: what a state update sets (the rest is kept) */
#define ESPTAG_CLI_UPD_TIME_SOFT	0x01
#define ESPTAG_CLI_UPD_TIME_HARD	0x02
#define ESPTAG_CLI_UPD_BYTE_SOFT	0x04
#define ESPTAG_CLI_UPD_BYTE_HARD	0x08
#define ESPTAG_CLI_UPD_PACKET_SOFT	0x10
#define ESPTAG_CLI_UPD_PACKET_HARD	0x20
#define ESPTAG_CLI_UPD_REPLAY		0x40

struct esptag_cli_cmd {
	int op;				/* enum esptag_ctl_op; 0 for help */
	int help;			/* enum esptag_cli_obj: print that usage, send nothing */
	int verb;			/* enum esptag_cli_verb */
	uint32_t upd;			/* state update: ESPTAG_CLI_UPD_* given */
	char dev[ESPTAG_CTL_DEV_LEN];	/* "dev DEV" if given (selects the socket) */
	union {
		struct esptag_ctl_sa sa;	/* STATE_ADD (holds the key), STATE_UPDATE */
		struct esptag_ctl_sa_id id;	/* STATE_DEL */
		struct esptag_ctl_policy pol;	/* POLICY_ADD / POLICY_DEL */
		struct esptag_ctl_vf vf;	/* VF_* */
		struct esptag_ctl_spi spi;	/* STATE_ALLOCSPI */
	};
};

/*
 * Parse "OBJECT COMMAND ARGS..." (argv[0] is the object: state, policy,
 * agent, vf, stats, monitor, help). Objects and commands may be shortened
 * to any prefix that names one of them (as iproute2 does; `s` and `st` are
 * state, `d` is del; an ambiguous prefix is an error naming the
 * candidates). `help` as object or command sets cmd->help. Returns 0, or -1 with a message in err that says
 * what is wrong and what is expected. On failure *cmd is zeroed (no key
 * bytes left behind).
 */
int esptag_cli_parse(int argc, char **argv, struct esptag_cli_cmd *cmd, char *err, size_t errlen);

/* Apply the limits and replay window a state update gave (cmd->upd) to
 * the SA's current values (cur, from STATE_GET): the STATE_UPDATE item. */
void esptag_cli_update_merge(const struct esptag_cli_cmd *cmd, struct esptag_ctl_sa *cur);

/* Zero a command (it may hold a key). */
void esptag_cli_cmd_clear(struct esptag_cli_cmd *cmd);

/*
 * Split one line of a batch file into words in place: blanks separate,
 * single or double quotes group, '#' starts a comment. Returns the number of
 * words (0 for a blank line) or -1 (unterminated quote, too many words).
 */
int esptag_cli_split(char *line, char **argv, int max);

/*
 * "-s" followed by next: true if this is the old spelling "-s PATH" (the
 * socket; deprecated, now --socket PATH), false if -s means statistics.
 * Old when next contains '/' or is an existing socket, and is not an object
 * keyword (state, policy, ... or a prefix of one).
 */
bool esptag_cli_s_is_socket(const char *next);

#endif
