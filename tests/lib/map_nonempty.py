# SPDX-License-Identifier: GPL-2.0-only
"""Filter a `bpftool -j map dump` (stdin) down to its non-empty entries.

The per-SA maps (esptag_sad, esptag_sa_stats) are
arrays indexed by the agent's SA index: every slot is dumped, and an unused
slot is all zero. An entry is kept when its value (any CPU's, for a per-CPU
array) holds a non-zero number. Prints the kept entries as a JSON list in the
same shape, or with --count only how many there are.
"""
import json
import sys


def nonzero(v):
    if isinstance(v, dict):
        return any(nonzero(x) for k, x in v.items() if k != "cpu")
    if isinstance(v, list):
        return any(nonzero(x) for x in v)
    if isinstance(v, str):          # raw dumps: hex byte strings "0x00"
        try:
            return int(v, 0) != 0
        except ValueError:
            return bool(v)
    return bool(v)


def value_of(e):
    f = e.get("formatted", e)
    return f.get("value", f.get("values"))


kept = [e for e in json.load(sys.stdin) if nonzero(value_of(e))]
if "--count" in sys.argv[1:]:
    print(len(kept))
else:
    json.dump(kept, sys.stdout)
