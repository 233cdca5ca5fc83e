#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The make bench harness itself, on a tiny run (scripts/bench --quick):
# results JSON well formed, the nine benchmarks present with their fields,
# real samples, ratios consistent with the medians, end_to_end's strongSwan
# kernel-libipsec peer measured. No timed pass/fail:
# whether a target is met does not matter here.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require iperf3
for b in bench_bpf ctl_bench gcm_bench pkt_send; do
	[ -x "$BUILD/bench/$b" ] || { t_skip bench_harness "$BUILD/bench/$b missing (make all)"; exit 77; }
done
tmp=$(tmp_new bench)
out=$tmp/results.json
# Namespaces et-$T_ID-live and (lab) et-t$T_ID-*: named after this test.
if ! BENCH_ID="$T_ID" "$ROOT/scripts/bench" --quick --out "$out" >"$tmp/log" 2>&1; then
	t_fail bench_quick_run "scripts/bench --quick failed: $(tail -n 5 "$tmp/log" | tr '\n' ' ')"
	t_exit
fi
t_pass bench_quick_run
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
def ok(name, cond, why=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)))
try:
    res = json.load(open(sys.argv[1]))
except Exception as e:
    ok("bench_json", False, str(e)); sys.exit(0)
ok("bench_json", isinstance(res, list))
ids = [e.get("id") for e in res]
ok("bench_all_entries", ids == list(range(1, 10)), "ids %s" % ids)
for e in res:
    n = "bench_%d_%s" % (e.get("id"), e.get("name"))
    if e.get("error"):
        ok(n, False, "did not run: " + e["error"][:200]); continue
    keys = {"name", "baseline", "value", "ratio", "target", "met", "unit", "samples"}
    miss = keys - set(e)
    s = e.get("samples") or []
    good = not miss and len(s) >= 1 and all(isinstance(x, (int, float)) and x > 0 for x in s) \
        and isinstance(e["met"], bool) and e["parts"]
    why = "missing %s" % miss if miss else "samples %s met %r" % (s[:8], e.get("met"))
    # The ratio is value / baseline of the same run (absolute targets excepted).
    for p in e.get("parts", []):
        if p["baseline_value"] and p["value"] is not None and p["ratio"] is not None \
                and not p["baseline"].startswith("absolute"):
            if abs(p["ratio"] - p["value"] / p["baseline_value"]) > 1e-6 * max(1, p["ratio"]):
                good, why = False, "ratio of %s is not value/baseline" % p["name"]
        if p["samples"] and p["value"] != statistics.median(p["samples"]):
            good, why = False, "value of %s is not the median" % p["name"]
    ok(n, good, why)
# end_to_end's strongSwan peer: kernel-libipsec measured in the same run,
# compared with esptag (keyed by IKE once kernel-esptag is built) at >= 2x.
e2e = [e for e in res if e.get("name") == "end_to_end" and not e.get("error")]
if e2e:
    x = e2e[0].get("extra", {})
    li = [p for p in e2e[0]["parts"] if p["baseline"] == "kernel-libipsec"]
    ok("bench_e2e_kernel_libipsec_peer",
       bool(li) and len(li[0]["baseline_samples"]) >= 1 and li[0]["target"] == 2.0
       and li[0]["target_kind"] == ">=" and x.get("kernel_libipsec") == "measured",
       "kernel_libipsec: %s" % x.get("kernel_libipsec"))
    ok("bench_e2e_esptag_ike_said",
       x.get("esptag_ike") == "measured" or str(x.get("esptag_ike", "")).startswith("not measured: "),
       "esptag_ike: %r" % x.get("esptag_ike"))
PY
left=$(ip netns list | awk '{print $1}' | grep -c -- "$T_ID" || true)
t_eq bench_no_namespaces_left "$left" 0
left=$(for p in $(pgrep -f 'esptag-agent|esptagd|wireguard-go|charon-systemd'); do
	tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "LAB=t$T_ID" && echo "$p"; done | wc -l)
t_eq bench_no_processes_left "$left" 0
t_exit
