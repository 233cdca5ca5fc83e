/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * esptag, the command-line client of esptagd: what its files share.
 *   main.c         command line, batch files, running a command
 *   conn.c         the control socket: request/reply, monitor
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

/* print.c */
const char *cli_dir_s(int d);
void cli_mac_s(const uint8_t *m, char *b);
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
