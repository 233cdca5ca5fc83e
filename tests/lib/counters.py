# SPDX-License-Identifier: GPL-2.0-only
"""The data-path counters (esptag_stats keys) for scripts: name, index and
whether the counter counts dropped frames, from build/esptag_counters.json
(generated from ESPTAG_COUNTERS in include/esptag/maps.h, mk/counters.mk).

    counters.py index NAME     index of counter NAME (e.g. rx_drop_replay)
    counters.py drops          names of the drop counters, one a line
    counters.py sum NAME       reads `bpftool -j map dump/lookup` of
                               esptag_stats on stdin, prints NAME's total
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__)) + "/../.."
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)


def table():
    with open(os.path.join(BUILD, "esptag_counters.json")) as f:
        return json.load(f)


def index(name):
    for c in table():
        if c["name"] == name:
            return c["index"]
    raise KeyError("unknown data-path counter %r" % name)


def is_drop(name):
    return table()[index(name)]["drop"]


def drops():
    return [c["name"] for c in table() if c["drop"]]


def total(dump, name):
    """Sum over the CPUs of counter NAME in a bpftool -j dump or lookup."""
    i = index(name)
    if isinstance(dump, dict):
        dump = [dump]
    for e in dump:
        e = e.get("formatted", e)
        key = e["key"]
        if isinstance(key, list):  # raw lookup output: little-endian bytes
            key = int.from_bytes(bytes(int(b, 0) for b in key), "little")
        if key == i:
            return sum(v["value"] for v in e["values"])
    return 0


def main(a):
    if len(a) == 2 and a[0] == "index":
        print(index(a[1]))
    elif len(a) == 1 and a[0] == "drops":
        print("\n".join(drops()))
    elif len(a) == 2 and a[0] == "sum":
        print(total(json.load(sys.stdin), a[1]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
