/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * -V/--version of every esptag program, and the version esptagd reports in
 * `esptag agent status`. The release (file VERSION) and the git commit are
 * baked in at build time (mk/version.mk: build/gen/esptag_version.h); a
 * build outside git says "unknown" for the commit.
 */
#ifndef ESPTAG_VERSION_H
#define ESPTAG_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The release, e.g. "0.9.0". */
const char *esptag_version(void);
/* The commit, e.g. "cfed7e5a1b2c" or "cfed7e5a1b2c-dirty"; "unknown" outside git. */
const char *esptag_version_git(void);
/* "RELEASE (git COMMIT)" into buf (truncated to len - 1 bytes). */
void esptag_version_str(char *buf, size_t len);
/* True if argv (up to "--") holds -V or --version. */
bool esptag_version_requested(int argc, char **argv);
/*
 * The --version text: program and release, commit, libbpf (run-time and
 * build-time; "not linked" for programs without it), libxdp (build time:
 * libxdp has no run-time version call), the config packet and metadata
 * protocol versions (include/esptag/wire.h) and the control protocol.
 */
void esptag_version_print(FILE *f, const char *prog);

/* Call first in main(): prints the version and exits 0 if asked for. */
#define ESPTAG_VERSION_OPT(argc, argv, prog)				\
	do {								\
		if (esptag_version_requested(argc, argv)) {		\
			esptag_version_print(stdout, prog);		\
			return 0;					\
		}							\
	} while (0)

#endif
