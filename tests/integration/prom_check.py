#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
# prom_check.py PROM_FILE JSON_BEFORE JSON_AFTER [KEY...]: parse esptag -o
# prometheus output with prometheus_client's parser and compare every counter
# with `esptag -j stats` taken just before and just after it. Only the config
# channel counters may move in between (each stats request is a GET_STATS
# round trip to the agent): those must lie between the two, every other
# counter must equal both. Prints "ok" or the first mismatch (exit 1).
import json
import sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
st = json.load(open(sys.argv[2]))
st2 = json.load(open(sys.argv[3]))
keys = [k.lower().removeprefix("0x") for k in sys.argv[4:]]


def cfg(name):
    return "cfg" in name or "config" in name


def same(section, name, got_v, v):
    v2 = st2[section][name]
    if v != v2 and not cfg(name):
        fail(f"{section} {name} moved without traffic: {v} -> {v2}")
    return got_v is not None and v <= got_v <= v2


def fail(msg):
    print(msg)
    sys.exit(1)


got = {}
types = {}
for fam in text_string_to_metric_families(text):
    types[fam.name] = fam.type
    for s in fam.samples:
        if s.name.endswith("_created"):
            continue
        lab = tuple(sorted(s.labels.items()))
        k = (s.name, lab)
        if k in got:
            fail(f"duplicate series {k}")
        got[k] = s.value
        allowed = {"dev", "reason", "spi", "dir"}
        if not set(s.labels) <= allowed:
            fail(f"unexpected label in {k}")

low = text.lower()
if "sa_index" in low or "key" in low:
    fail("sa_index or key in the output")
for k in keys:
    if k[:16] in low:
        fail("key bytes in the output")

dev = {"dev": "eth0"}
# data path: drop counters under esptag_drops_total{reason}, others by name
for name, v in st["datapath"].items():
    k1 = ("esptag_drops_total", tuple(sorted({**dev, "reason": name}.items())))
    k2 = (f"esptag_{name}_total", tuple(sorted(dev.items())))
    if (k1 in got) == (k2 in got):
        fail(f"datapath {name}: in both or neither ({k1 in got}, {k2 in got})")
    if not same("datapath", name, got.get(k1, got.get(k2)), v):
        fail(f"datapath {name}: prometheus {got.get(k1, got.get(k2))} json {v}")
for name, v in st.get("agent", {}).items():
    k = (f"esptag_agent_{name}_total", tuple(sorted(dev.items())))
    if not same("agent", name, got.get(k), v):
        fail(f"agent {name}: prometheus {got.get(k)} json {v}")
if st.get("sa") != st2.get("sa"):
    fail("SA counters moved without traffic")
sums = {}
for sa in st.get("sa", []):
    key = (f"0x{sa['spi']:08x}", sa["dir"])
    a = sums.setdefault(key, {})
    fields = {"packets": sa["packets"], "bytes": sa["bytes"], "drops": sa["drops"]}
    if "agent" in sa:
        ag = sa["agent"]
        fields.update({"agent_packets": ag["packets"], "agent_bytes": ag["bytes"],
                       "auth_fail": ag["auth_fail"], "domain_reject": ag["domain_reject"]})
    for f, v in fields.items():
        a[f] = a.get(f, 0) + v
nsa = 0
for (spi, d), fields in sums.items():
    for f, v in fields.items():
        k = (f"esptag_sa_{f}_total", tuple(sorted({**dev, "spi": spi, "dir": d}.items())))
        if got.get(k) != v:
            fail(f"sa {spi} {d} {f}: prometheus {got.get(k)} json {v}")
        nsa += 1
n_sa_series = sum(1 for (n, _) in got if n.startswith("esptag_sa_"))
if n_sa_series != nsa:
    fail(f"{n_sa_series} SA series, {nsa} expected")
for m in ("esptag_agent_up", "esptag_sas"):
    if types.get(m) != "gauge":
        fail(f"{m} is not a gauge: {types.get(m)}")
if types.get("esptag_reinstalls") != "counter" or types.get("esptag_drops") != "counter":
    fail("reinstalls/drops not counters")
if got.get(("esptag_agent_up", tuple(dev.items()))) != 1:
    fail("esptag_agent_up is not 1")
print("ok")
