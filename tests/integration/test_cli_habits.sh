#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# esptag's ip-xfrm habits against a running esptagd + esptag-agent:
#  - every listing's -j output (state list, agent sa, policy list, agent
#    status, stats, state get, state count) and its -p form parse with a
#    strict JSON parser, and -p holds the same data as -j;
#  - a device name with a quote or a backslash is refused by the grammar
#    (exit 1, nothing sent, nothing changed);
#  - state get finds one SA by dst/spi[/dir] (text and JSON), exit 2 and
#    nothing printed on stdout for an SA that is not there;
#  - state count counts the daemon's SAs; state deleteall empties them;
#  - prefixes (st l, pol li) give the same output as the full words; an
#    ambiguous prefix exits 1 naming the candidates;
#  - help, state help, policy help print the usage on stdout, exit 0;
#  - -s is statistics: `-s state list` shows each SA's counters (text and
#    JSON) equal to the per-SA values of `-j stats`, `-s policy list` those
#    of each protect policy's SA; the old `-s PATH`
#    still reaches the socket, with a deprecation warning on stderr;
#    --socket PATH gives no warning;
#  - stats -p is pretty-printed (indented) with the keys of stats -j;
#  - docs/operations.md's recipe: sa_index as 4 LE bytes looks up the SA in
#    esptag_sad, whose SPI is in network byte order.
. "$(dirname "$0")/../lib/harness.sh"
. "$ROOT/tests/lib/daemon_agent.sh"
K1=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
K2=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4
STRICT='import json,sys
def bad(x): raise ValueError("not JSON: " + x)
json.load(sys.stdin, parse_constant=bad)'

start_agent
start_daemon

E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode transport \
	$AEAD $K1 128 flag esn dir out || t_fail setup "state add out"
E state add dev eth0 src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2000 mode transport \
	$AEAD $K2 128 replay-window 64 dir in || t_fail setup "state add in"
E policy add dev eth0 src 192.0.2.1/32 dst 192.0.2.2/32 dir out action protect spi 0x1000 ||
	t_fail setup "policy add"

# --- strict JSON, compact and pretty -------------------------------------------
for cmd in "state list" "agent sa" "policy list" "agent status" "stats" "state count" \
	   "state get dst 192.0.2.2 spi 0x1000"; do
	name=json_$(tr ' .' '__' <<<"$cmd" | cut -c1-30)
	j=$(E -j $cmd)
	rc=$?
	if [ $rc -eq 0 ] && $PY -c "$STRICT" <<<"$j"; then t_pass "$name"; else t_fail "$name" "rc $rc: $j"; fi
	# -p: pretty, strict, the same data (stats counters move: not compared)
	p=$(E -j -p $cmd)
	if ! $PY -c "$STRICT" <<<"$p"; then
		t_fail "${name}_pretty" "not JSON: $p"
	elif [ "$cmd" != stats ] && [ "$cmd" != "agent status" ] &&
	     [ "$($PY -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))' <<<"$p")" != \
	       "$($PY -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))' <<<"$j")" ]; then
		t_fail "${name}_pretty" "-p differs from -j"
	else
		t_pass "${name}_pretty"
	fi
done
# stats -p: written by the JSON writer too (indented), the same keys as -j
keys='import json,sys
def walk(x, p=""):
    if isinstance(x, dict):
        for k, v in x.items(): yield from walk(v, p + "/" + k)
    elif isinstance(x, list):
        for v in x: yield from walk(v, p + "[]")
    else: yield p
print(sorted(set(walk(json.load(sys.stdin)))))'
sp=$(E -p stats)
[ "$(wc -l <<<"$sp")" -gt 20 ] && grep -q '^ *"datapath": {$' <<<"$sp" && t_pass stats_pretty_indented ||
	t_fail stats_pretty_indented "$(head -c 300 <<<"$sp")"
t_eq stats_pretty_same_keys "$($PY -c "$keys" <<<"$sp")" "$(E -j stats | $PY -c "$keys")"
lines=$(E -j -p state list | wc -l)
[ "$lines" -gt 10 ] && t_pass pretty_is_indented || t_fail pretty_is_indented "$lines lines"
esn=$(E -j state list | $PY -c 'import json,sys; print([s["esn"] for s in json.load(sys.stdin) if s["spi"] == 0x1000])')
t_eq flag_esn_reaches_daemon "$esn" "[True]"

# --- device names with a quote or a backslash: refused, nothing sent -----------
before=$(E -j state list)
i=0
for d in 'e"th0' 'e\th0' "e'th0"; do
	i=$((i + 1))
	out=$(E state del dev "$d" dst 192.0.2.2 proto esp spi 0x1000 dir out 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -q "bad character" <<<"$out"; then t_pass "dev_refused_$i"; else
		t_fail "dev_refused_$i" "dev [$d]: rc $rc: $out"; fi
	out=$(E -j state list dev "$d" 2>/dev/null)
	[ $? -eq 1 ] && [ -z "$out" ] && t_pass "dev_refused_list_$i" || t_fail "dev_refused_list_$i" "dev [$d]: $out"
done
t_eq dev_refused_nothing_changed "$(E -j state list)" "$before"

# --- state get -----------------------------------------------------------------
out=$(E state get dst 192.0.2.2 proto esp spi 0x1000)
grep -q "spi 0x00001000" <<<"$out" && [ "$(grep -c '^src ' <<<"$out")" = 1 ] &&
	t_pass state_get_text || t_fail state_get_text "$out"
got=$(E -j st g dst 192.0.2.1 spi 0x2000 dir in | $PY -c 'import json,sys; a=json.load(sys.stdin); print(len(a), a[0]["spi"], a[0]["dir"], a[0]["replay_window"])')
t_eq state_get_json "$got" "1 8192 in 64"
out=$(E state get dst 192.0.2.2 spi 0x1000 dir in 2>/dev/null)
rc=$?
[ $rc -eq 2 ] && [ -z "$out" ] && t_pass state_get_missing || t_fail state_get_missing "rc $rc: $out"
out=$(E state get dst 192.0.2.2 spi 0x1001 2>&1 >/dev/null)
grep -q "no such SA" <<<"$out" && t_pass state_get_missing_message || t_fail state_get_missing_message "$out"

# --- state count, prefixes, ambiguity -------------------------------------------
t_eq state_count_text "$(E state count)" "SAD count 2"
t_eq state_count_json "$(E -j state count dev eth0 | $PY -c 'import json,sys; print(json.load(sys.stdin)["count"])')" 2
t_eq prefix_st_l "$(E st l)" "$(E state list)"
t_eq prefix_state_ls "$(E -j state ls)" "$(E -j state list)"
t_eq prefix_pol_li "$(E pol li)" "$(E policy list)"
out=$(E agent s 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -q "ambiguous agent command 's': it could be status, sa" <<<"$out" &&
	t_pass ambiguous_prefix || t_fail ambiguous_prefix "rc $rc: $out"

# --- help at every level ---------------------------------------------------------
for h in "help" "state help" "policy help" "agent help" "help policy"; do
	out=$(E $h 2>/dev/null)
	rc=$?
	name=help_$(tr ' ' '_' <<<"$h")
	case $h in
	*state*) want="state get" ;;
	*policy*) want="policy add" ;;
	*agent*) want="agent status" ;;
	*) want="state add" ;;
	esac
	[ $rc -eq 0 ] && grep -q "$want" <<<"$out" && grep -q "^Usage: esptag" <<<"$out" &&
		t_pass "$name" || t_fail "$name" "rc $rc: $out"
done
out=$(E policy help)
grep -q "state add" <<<"$out" && t_fail help_policy_only "shows state: $out" || t_pass help_policy_only

# --- -s: statistics; the old -s PATH -----------------------------------------------
nsx "$H" ping -q -c 5 -i 0.05 -W 0.2 192.0.2.2 >/dev/null 2>&1
sj=$(E -j stats)
lj=$(E -s -j state list)
cmp=$($PY -c '
import json,sys
st = {(s["sa_index"], s["spi"]): s for s in json.loads(sys.argv[1])["sa"]}
sas = json.loads(sys.argv[2])
ok = len(sas) == 2
for sa in sas:
    s, x = st[(sa["sa_index"], sa["spi"])], sa["stats"]
    ok &= all(x[k] == s[k] for k in ("packets", "bytes", "drops"))
    if "agent" in s:
        ok &= all(x["agent"][k] == s["agent"][k] for k in ("packets", "bytes", "auth_fail"))
    else:
        ok &= "agent" not in x
print("ok" if ok and any(sa["stats"]["packets"] for sa in sas) else "differ")' "$sj" "$lj" 2>&1)
t_eq s_state_list_json_counters "$cmp" ok
txt=$(E -s state list)
want=$($PY -c '
import json,sys
for s in json.loads(sys.argv[1])["sa"]:
    print("stats packets %d bytes %d drops %d" % (s["packets"], s["bytes"], s["drops"]))' "$sj" | sort)
t_eq s_state_list_text_counters "$(grep -o 'stats packets.*' <<<"$txt" | sort)" "$want"
pj=$(E -s -j policy list)
cmp=$($PY -c '
import json,sys
st = {s["sa_index"]: s for s in json.loads(sys.argv[1])["sa"]}
pol = json.loads(sys.argv[2])
ok = len(pol) == 1 and pol[0]["sa_index"] in st
for p in pol:
    s, x = st[p["sa_index"]], p["stats"]
    ok &= all(x[k] == s[k] for k in ("packets", "bytes", "drops")) and s["packets"] > 0
print("ok" if ok else "differ")' "$sj" "$pj" 2>&1)
t_eq s_policy_list_json_counters "$cmp" ok
E -s policy list | grep -q '^	stats packets [1-9]' && t_pass s_policy_list_text ||
	t_fail s_policy_list_text "$(E -s policy list)"
E state list | grep -q 'stats packets' && t_fail state_list_plain_no_stats "$(E state list)" ||
	t_pass state_list_plain_no_stats
err=$(nsx "$H" "$BIN/esptag" -s "$SOCK" state count 2>&1 >/dev/null)
out=$(nsx "$H" "$BIN/esptag" -s "$SOCK" state count 2>/dev/null)
t_eq old_s_path_works "$out" "SAD count 2"
t_eq old_s_path_warns "$err" "esptag: '-s PATH' is deprecated, use --socket PATH; -s now means statistics"
t_eq socket_no_warning "$(E state count 2>&1 >/dev/null)" ""

# --- docs/operations.md: sa_index -> bpftool lookup of esptag_sad, SPI in network order
idx=$(E -j state get dst 192.0.2.2 spi 0x1000 dir out | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["sa_index"])')
spi=$(bpftool -j map lookup pinned "$PINS/esptag_sad" \
	key $((idx & 255)) $((idx >> 8 & 255)) $((idx >> 16 & 255)) $((idx >> 24 & 255)) |
	$PY -c 'import json,socket,sys; print(hex(socket.ntohl(json.load(sys.stdin)["formatted"]["value"]["spi"])))')
t_eq bpftool_sad_lookup_by_sa_index "$spi" 0x1000

# --- deleteall -------------------------------------------------------------------
E state deleteall dev eth0 && t_eq state_deleteall "$(E state count)" "SAD count 0" ||
	t_fail state_deleteall "exit $?"
t_eq state_deleteall_agent "$(E -j agent sa)" "[]"
t_exit
