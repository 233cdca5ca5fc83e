#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Where key material lives in esptag-agent and esptagd:
#
#   ns h: eth0 (esptagd)  <-veth->  ns a: host0 [esptag-agent] wire0 <-veth-> wire1
#
# Once an SA exists: the agent has locked memory (VmLck) and its SAD is a
# locked mapping excluded from core dumps ("dd" in VmFlags); the SA's salt
# is nowhere else in the agent's memory, and gone everywhere once the SA is
# deleted. esptagd's locked no-dump memory grows by the ADD_SA frames
# besides its SA table and its digests of used keys; neither the key nor the salt is in any other of its
# mappings.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
for b in esptagd esptag esptag-agent; do
	[ -x "$BIN/$b" ] || { t_skip "$(basename "$0")" "$BIN/$b not built"; exit 77; }
done
"$ROOT/scripts/bpffs"
PY=/usr/bin/python3

H=$(ns_new h) || exit 1
A=$(ns_new a) || exit 1
ip link add eth0 netns "$H" type veth peer name host0 netns "$A"
ip -n "$A" link add wire0 type veth peer name wire1
ip -n "$H" link set eth0 up
for i in host0 wire0 wire1; do ip -n "$A" link set "$i" up; done
ip -n "$H" addr add 192.0.2.1/24 dev eth0

PINS=$(pin_dir_new pins) || exit 1
TMP=$(tmp_new) || exit 1
SOCK=$TMP/esptagd.sock
E() { nsx "$H" "$BIN/esptag" --socket "$SOCK" "$@"; }

# A fresh key and salt each run, so that a match is not a coincidence.
KEY=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
SALT=$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')

bg_start "$A" "$BIN/esptag-agent" --host host0 --wire wire0 --capacity 64 >"$TMP/agent.log" 2>&1
AGENT_PID=${T_PIDS[-1]}
bg_start "$H" "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK" \
	--hello-interval 200 >"$TMP/esptagd.log" 2>&1
DAEMON_PID=${T_PIDS[-1]}
reachable() { E -j agent status 2>/dev/null | grep -q '"reachable":true'; }
if ! wait_for 10 reachable; then
	t_fail setup "esptagd/agent not up: $(tail -3 "$TMP/esptagd.log") $(tail -3 "$TMP/agent.log")"
	t_exit
fi

# memscan PID HEX...: for each byte string, where it occurs in the process's
# memory: "dd" (only in no-dump mappings), "other:<mapping>" or "none".
# Also prints "locked_dd N": no-dump mappings with locked pages or a lock flag,
# and "locked_dd_kb N": their size.
memscan() {
	$PY - "$@" <<'EOF'
import re, sys
pid, needles = sys.argv[1], [bytes.fromhex(h) for h in sys.argv[2:]]
regions, cur = [], None
for line in open(f"/proc/{pid}/smaps"):
    m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
    if m:
        cur = {"lo": int(m[1], 16), "hi": int(m[2], 16), "perm": m[3], "name": m[4],
               "flags": [], "locked": 0}
        regions.append(cur)
    elif line.startswith("VmFlags:"):
        cur["flags"] = line.split()[1:]
    elif line.startswith("Locked:"):
        cur["locked"] = int(line.split()[1])
found = [set() for _ in needles]
with open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for r in regions:
        if "r" not in r["perm"] or r["name"] in ("[vvar]", "[vsyscall]", "[vvar_vclock]"):
            continue
        try:
            mem.seek(r["lo"])
            data = mem.read(r["hi"] - r["lo"])
        except OSError:
            continue
        for i, n in enumerate(needles):
            if n in data:
                found[i].add("dd" if "dd" in r["flags"] else
                             f"other:{r['name'] or hex(r['lo'])}")
for i, f in enumerate(found):
    print(sys.argv[2 + i], ",".join(sorted(f)) or "none")
ld = [r for r in regions if "dd" in r["flags"] and (r["locked"] > 0 or "lo" in r["flags"])]
print("locked_dd", len(ld))
# Adjacent mappings with the same flags are merged into one by the kernel,
# so what grows with a new locked no-dump allocation is their size.
print("locked_dd_kb", sum(r["hi"] - r["lo"] for r in ld) // 1024)
EOF
}
vmlck() { awk '/^VmLck:/ {print $2}' "/proc/$1/status"; }

D_BEFORE=$(memscan "$DAEMON_PID" | awk '$1 == "locked_dd_kb" {print $2}')

E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode transport \
	reqid 1 aead 'rfc4106(gcm(aes))' "0x$KEY$SALT" 128 dir out
t_eq state_add_rc $? 0

# --- the agent ---------------------------------------------------------------
lck=$(vmlck "$AGENT_PID")
[ "${lck:-0}" -gt 0 ] && t_pass agent_vmlck || t_fail agent_vmlck "VmLck ${lck:-?} kB"
memscan "$AGENT_PID" "$SALT" >"$TMP/agent.scan"
ld=$(awk '$1 == "locked_dd" {print $2}' "$TMP/agent.scan")
[ "${ld:-0}" -ge 1 ] && t_pass agent_sad_locked_nodump ||
	t_fail agent_sad_locked_nodump "no locked mapping with dd in VmFlags"
where=$(awk -v s="$SALT" '$1 == s {print $2}' "$TMP/agent.scan")
t_eq agent_salt_only_in_nodump_memory "$where" dd

# --- the daemon --------------------------------------------------------------
lck=$(vmlck "$DAEMON_PID")
[ "${lck:-0}" -gt 0 ] && t_pass daemon_vmlck || t_fail daemon_vmlck "VmLck ${lck:-?} kB"
memscan "$DAEMON_PID" "$KEY" "$SALT" >"$TMP/daemon.scan"
ld=$(awk '$1 == "locked_dd_kb" {print $2}' "$TMP/daemon.scan")
[ "${ld:-0}" -gt "${D_BEFORE:-0}" ] && t_pass daemon_add_sa_frames_locked_nodump ||
	t_fail daemon_add_sa_frames_locked_nodump "locked no-dump memory: ${D_BEFORE:-?} kB before, ${ld:-?} kB after ADD_SA"
for v in "$KEY" "$SALT"; do
	where=$(awk -v s="$v" '$1 == s {print $2}' "$TMP/daemon.scan")
	case $where in
	dd|none) ok=1 ;;
	*) ok=0 ;;
	esac
	n="daemon_$([ "$v" = "$KEY" ] && echo key || echo salt)_only_in_nodump_memory"
	[ $ok = 1 ] && t_pass "$n" || t_fail "$n" "found in $where"
done

# --- the SA goes: its salt is wiped ------------------------------------------
E state del dev eth0 dst 192.0.2.2 proto esp spi 0x1000 dir out
t_eq state_del_rc $? 0
where=$(memscan "$AGENT_PID" "$SALT" | awk -v s="$SALT" '$1 == s {print $2}')
t_eq agent_salt_wiped_after_del "$where" none
kill -0 "$AGENT_PID" 2>/dev/null && kill -0 "$DAEMON_PID" 2>/dev/null &&
	t_pass processes_alive || t_fail processes_alive "agent or daemon exited"
t_exit
