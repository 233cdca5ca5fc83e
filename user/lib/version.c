// SPDX-License-Identifier: GPL-2.0-only
/* Program versions (version.h). */
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <bpf/libbpf_version.h>
#include <esptag/wire.h>
#include "ctl.h"
#include "version.h"

#if __has_include("esptag_version.h")
#include "esptag_version.h"	/* generated: build/gen/ */
#endif
#ifndef ESPTAG_VERSION
#define ESPTAG_VERSION "unknown"
#endif
#ifndef ESPTAG_GIT
#define ESPTAG_GIT "unknown"
#endif
#ifndef ESPTAG_LIBXDP_VERSION
#define ESPTAG_LIBXDP_VERSION "unknown"
#endif

/*
 * Weak: esptagd and esptag link libbpf, esptag-agent does not (and must not
 * need it for --version).
 */
extern uint32_t libbpf_major_version(void) __attribute__((weak));
extern uint32_t libbpf_minor_version(void) __attribute__((weak));

const char *esptag_version(void)
{
	return ESPTAG_VERSION;
}

const char *esptag_version_git(void)
{
	return ESPTAG_GIT;
}

void esptag_version_str(char *buf, size_t len)
{
	snprintf(buf, len, "%s (git %s)", ESPTAG_VERSION, ESPTAG_GIT);
}

bool esptag_version_requested(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version"))
			return true;
	}
	return false;
}

void esptag_version_print(FILE *f, const char *prog)
{
	fprintf(f, "%s %s\n", prog, ESPTAG_VERSION);
	fprintf(f, "git %s\n", ESPTAG_GIT);
	if (libbpf_major_version && libbpf_minor_version)
		fprintf(f, "libbpf %u.%u (built with %d.%d)\n", libbpf_major_version(),
			libbpf_minor_version(), LIBBPF_MAJOR_VERSION, LIBBPF_MINOR_VERSION);
	else
		fprintf(f, "libbpf not linked\n");
	fprintf(f, "libxdp %s (build time)\n", ESPTAG_LIBXDP_VERSION);
	fprintf(f, "config protocol %d..%d, metadata %d, control protocol %d\n",
		ESPTAG_PROTO_VERSION, ESPTAG_PROTO_VERSION_MAX, ESPTAG_META_VERSION,
		ESPTAG_CTL_VERSION);
}
