// SPDX-License-Identifier: GPL-2.0-only
/*
 * Writes the data-path counter table (ESPTAG_COUNTERS in
 * include/esptag/maps.h, through libesptag's esptag_counters[]) as JSON:
 *   [{"index": 0, "name": "tx_protect", "drop": false}, ...]
 * Built into build/esptag_counters.json (mk/counters.mk); scripts read
 * that (tests/lib/counters.py) instead of parsing the header.
 */
#include <stdio.h>
#include <esptag/maps.h>
#include "esptag_proto.h"

int main(void)
{
	printf("[\n");
	for (int i = 0; i < ESPTAG_CNT_MAX; i++)
		printf(" {\"index\": %d, \"name\": \"%s\", \"drop\": %s}%s\n", i,
		       esptag_counters[i].name, esptag_counters[i].drop ? "true" : "false",
		       i + 1 < ESPTAG_CNT_MAX ? "," : "");
	printf("]\n");
	return ferror(stdout) ? 1 : 0;
}
