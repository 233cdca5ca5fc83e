# SPDX-License-Identifier: GPL-2.0-only
# Network-namespace harness for integration tests. Source it:
#   . "$(dirname "$0")/../lib/harness.sh"
# It gives unique names (et-<T_ID>-...), a teardown trap that removes
# namespaces, bpffs pins, temp dirs and processes even when the test fails,
# readiness waits, and the PASS/FAIL/SKIP output protocol of tests/run.
#
# Cleanup: every helper (ns_new, pin_dir_new, tmp_new, bg_start) appends what
# it made to a registry file, $T_DIR/cleanup, created when this file is
# sourced; t_teardown reads it. So `H=$(ns_new h)` is fine: a $(...)
# subshell appends to the same file. Something made by hand is registered
# with t_register KIND VALUE (KIND: ns, pin, file, pid).
#
# Readiness convention (tests/lib/wait.sh): a helper process that must be listening before the
# test goes on (a receiver, a capture) prints one line "ready" on STDERR,
# flushed, once it is; stdout stays for its results. The caller sends its
# stderr to a file and waits with wait_ready FILE [TIMEOUT]. Other waits:
# wait_for TIMEOUT CMD... (poll CMD every 0.1 s until it succeeds), wait_log,
# wait_sock, wait_link_up, wait_agent_status, wait_gone. On timeout they
# print "wait: timed out after ...: CMD" on stderr and return 1; the test
# decides whether that is a FAIL. A plain `sleep` is only for pacing
# (traffic, timers under test) and says so in a comment.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/bin
# tests/run exports ET_RUN so it can tell its own leftovers from a parallel run's.
T_ID=${T_ID:-${ET_RUN:+r$ET_RUN-}$$}
# Still honoured by t_teardown for scripts that append to them directly.
T_NS=()     # namespaces to delete
T_PIDS=()   # processes to kill (bg_start called in this shell)
T_PINS=()   # bpffs paths to remove
T_FILES=()  # temp files/dirs to remove
T_FAILED=0
T_DIR=$(mktemp -d "/tmp/et-${T_ID}-harness-XXXX") || { echo "FAIL harness: mktemp failed"; exit 1; }
T_REG=$T_DIR/cleanup
: >"$T_REG"
# An esptag-agent started without --state-dir keeps its identity key here
# (systemd's variable), not in /var/lib/esptag-agent: a test leaves nothing.
export STATE_DIRECTORY=$T_DIR/agent-state

t_pass() { echo "PASS $1"; }
t_fail() { echo "FAIL $1: ${2:-}"; T_FAILED=1; }
t_skip() { echo "SKIP $1: ${2:-}"; }
# t_check NAME CMD...: PASS if CMD succeeds, FAIL otherwise.
t_check() {
	local name=$1
	shift
	if "$@"; then t_pass "$name"; else t_fail "$name" "command failed: $*"; fi
}
# t_eq NAME GOT WANT
t_eq() {
	if [ "$2" == "$3" ]; then t_pass "$1"; else t_fail "$1" "got '$2', want '$3'"; fi
}

# Require root and a tool, else skip the whole script (exit 77).
t_require_root() { [ "$(id -u)" -eq 0 ] || { t_skip "$(basename "$0")" "needs root"; exit 77; }; }
t_require() { command -v "$1" >/dev/null || { t_skip "$(basename "$0")" "needs $1"; exit 77; }; }

# t_register KIND VALUE: tear VALUE down at exit (KIND: ns, pin, file, pid).
t_register() { printf '%s %s\n' "$1" "$2" >>"$T_REG"; }

# ns_new SHORT: create namespace "et-<id>-SHORT" and print its name.
ns_new() {
	local n="et-${T_ID}-$1"
	ip netns add "$n" || return 1
	t_register ns "$n"
	T_NS+=("$n")
	ip -n "$n" link set lo up
	echo "$n"
}
# nsx NS CMD...: run in a namespace without remounting /sys (pins survive).
nsx() { local n=$1; shift; nsenter --net="/run/netns/$n" "$@"; }
# bg_start NS CMD...: start CMD in NS in the background and print its PID.
# Called directly (not in $(...)) it also leaves the PID in ${T_PIDS[-1]}
# and the process is this shell's child (`wait` works).
bg_start() {
	local n=$1
	shift
	nsenter --net="/run/netns/$n" "$@" &
	t_register pid $!
	T_PIDS+=($!)
	echo $!
}
# pin_dir_new SHORT: create and print the bpffs directory /sys/fs/bpf/et-<id>-SHORT.
pin_dir_new() {
	local d="/sys/fs/bpf/et-${T_ID}-$1"
	mkdir -p "$d" || return 1
	t_register pin "$d"
	T_PINS+=("$d")
	echo "$d"
}
# tmp_new [SHORT]: create and print a fresh temp directory.
tmp_new() {
	local f
	f=$(mktemp -d "/tmp/et-${T_ID}-${1:+$1-}XXXX") || return 1
	t_register file "$f"
	T_FILES+=("$f")
	echo "$f"
}

. "$ROOT/tests/lib/wait.sh"

t_teardown() {
	local kind v p pids=() ns=() pins=() files=()
	set +e	# a test under set -e: every step of the teardown still runs
	if [ -f "$T_REG" ]; then
		while read -r kind v; do
			case $kind in
			pid) pids+=("$v") ;;
			ns) ns+=("$v") ;;
			pin) pins+=("$v") ;;
			file) files+=("$v") ;;
			esac
		done <"$T_REG"
	fi
	pids+=("${T_PIDS[@]}") ns+=("${T_NS[@]}") pins+=("${T_PINS[@]}") files+=("${T_FILES[@]}")
	# Each PID once (bg_start records it in the registry and in T_PIDS).
	mapfile -t pids < <(printf '%s\n' "${pids[@]}" | awk 'NF && !seen[$0]++')
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for v in "${ns[@]}"; do ip netns del "$v" 2>/dev/null; done
	for v in "${pins[@]}" "${files[@]}"; do [ -e "$v" ] && rm -rf "$v"; done
	rm -rf "$T_DIR"
}
trap t_teardown EXIT
trap 'exit 130' INT TERM

# Call at the end of a test script.
t_exit() { exit "$T_FAILED"; }
