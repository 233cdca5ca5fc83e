/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * esptag, the command-line client of esptagd: what its files share.
 *   main.c         command line, batch files, running a command
 *   conn.c         the control socket: request/reply, monitor
 *   print_field.c  what the printers share: a field as text or JSON, SA counters
 *   print.c        state, policy and VF listings
 *   print_status.c agent status, statistics, monitor events
 *   print_prom.c   statistics in the Prometheus text format
 *   map_view.c     esptag map: the pinned maps read directly, empty slots skipped
 */
#ifndef ESPTAG_CLI_H
#define ESPTAG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ctl.h"
#include "util.h"
#include "ctl_cli.h"
#include "json.h"

/* Exit codes: enum esptag_cli_exit in user/lib/util.h (docs/esptag.8, EXIT STATUS). */

extern bool cli_json;	     /* -j: JSON output */
extern struct json_w cli_jw; /* the JSON writer of -j (pretty with -p) */
extern bool cli_prom;	     /* -o prometheus (stats only) */
extern const char *cli_sock; /* --socket SOCKET */
extern bool cli_stats;	     /* -s: statistics */

/* conn.c */
/* The CLI exit code of a reply status. */
int cli_exit_for(int status);
/*
 * Send one request, read and validate the reply. Returns the CLI exit code;
 * on success *buf and *v hold the reply (caller frees *buf).
 */
int cli_transact(const char *dev, int op, const void *items, uint32_t count, size_t isz,
		 uint8_t **buf, struct esptag_ctl_view *v, uint32_t *err_index);
/* The same; quiet: no message for "no such SA" (E_NOENT). */
int cli_transact_q(const char *dev, int op, const void *items, uint32_t count, size_t isz,
		   uint8_t **buf, struct esptag_ctl_view *v, uint32_t *err_index, bool quiet);
/* Print the daemon's events until the connection ends. */
int cli_monitor(const char *dev);

/* map_view.c: esptag map ... (argv[0] is "map"); the CLI exit code */
int cli_map_main(int argc, char **argv);

/* print_field.c */
const char *cli_dir_s(int d);
const char *cli_mode_s(int m);
void cli_mac_s(const uint8_t *m, char *b);
/* How a number field reads as text: 12, 0x0000000c, 0x000000000000000c, (+12). */
enum cli_fmt { CLI_DEC, CLI_HEX32, CLI_HEX64, CLI_DELTA };
/*
 * One field of a record: with -j the member "key": value; as text
 * " word value", " value" when word is "" and nothing when word is NULL
 * (a member only JSON has).
 */
void cli_field_u64(const char *key, const char *word, enum cli_fmt fmt, uint64_t v);
void cli_field_str(const char *key, const char *word, const char *s);
/* Text only (JSON: nothing). */
void cli_text(const char *s);
/* JSON: an object (the member key unless NULL) and its end; text: text
 * (when it ends in a tab, the first field comes without its space). */
void cli_obj_begin(const char *key, const char *text);
void cli_obj_end(const char *text);
/* A listing: with -j the array around its records and the final newline. */
void cli_list_begin(void);
void cli_list_end(void);
/* JSON: the member "vlans": [ID, ...]. */
void cli_json_vlans(const uint16_t *vid, int n);
/*
 * One SA's counters: " packets N bytes N drops N" and a newline, then,
 * when the agent's are there, agent_text and " packets N bytes N auth-fail N"
 * (all: also domain-reject and seq) and a newline; JSON: the same members,
 * the agent's in an object "agent".
 */
void cli_sa_counters(const struct esptag_ctl_stat *s, bool all, const char *agent_text);

/* print.c */
/* The SAs; with stats (a stats reply, or NULL) each SA's counters too. */
void cli_print_sas(const struct esptag_ctl_view *v, const struct esptag_ctl_view *stats);
/* The policies; with stats (or NULL) the counters of each bound SA too. */
void cli_print_policies(const struct esptag_ctl_view *v, const struct esptag_ctl_view *stats);
void cli_print_vfs(const struct esptag_ctl_view *v, bool list);
void cli_print_vf_reset(const struct esptag_ctl_view *v);
/* state get / update: n SAs (an array, with their lifetimes); exit code
 * REFUSED if none ("no such SA" naming id). */
int cli_print_sa_get(const struct esptag_ctl_sa *sas, uint32_t n, const struct esptag_ctl_sa_id *id);
/* state allocspi: the reserved SPI, as ip xfrm state allocspi. */
void cli_print_allocspi(const struct esptag_ctl_spi *q);
/* state count: "SAD count N" (as ip xfrm), or {"count":N}. */
int cli_print_sa_count(const struct esptag_ctl_view *v);

/* print_status.c */
void cli_print_agent(const struct esptag_ctl_view *v);
void cli_print_stats(const struct esptag_ctl_view *v);
void cli_print_event(const struct esptag_ctl_event *e);

/* print_prom.c: stats and agent status replies, Prometheus text format;
 * -1 out of memory. */
int cli_print_prom(const struct esptag_ctl_view *stats, const struct esptag_ctl_view *agent);

#endif
