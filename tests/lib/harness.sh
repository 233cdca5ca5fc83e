# SPDX-License-Identifier: GPL-2.0-only
# Network-namespace harness for integration tests. Source it:
#   . "$(dirname "$0")/../lib/harness.sh"
# It gives unique namespace names, a teardown trap that removes namespaces,
# bpffs pins and processes even when the test fails, and the PASS/FAIL/SKIP
# output protocol of tests/run.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/bin
# tests/run exports ET_RUN so it can tell its own leftovers from a parallel run's.
T_ID=${T_ID:-${ET_RUN:+r$ET_RUN-}$$}
T_NS=()     # namespaces to delete
T_PIDS=()   # processes to kill
T_PINS=()   # bpffs paths to remove
T_FILES=()  # temp files/dirs to remove
T_FAILED=0

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

# ns_new SHORT: create namespace "et-<id>-SHORT" and print its name.
ns_new() {
	local n="et-${T_ID}-$1"
	ip netns add "$n" || return 1
	T_NS+=("$n")
	ip -n "$n" link set lo up
	echo "$n"
}
# nsx NS CMD...: run in a namespace without remounting /sys (pins survive).
nsx() { local n=$1; shift; nsenter --net="/run/netns/$n" "$@"; }
# bg_start NS CMD...: start CMD in NS in the background, remember its PID.
bg_start() {
	local n=$1
	shift
	nsenter --net="/run/netns/$n" "$@" &
	T_PIDS+=($!)
	echo $!
}
pin_dir_new() {
	local d="/sys/fs/bpf/et-${T_ID}-$1"
	mkdir -p "$d" && T_PINS+=("$d") && echo "$d"
}
tmp_new() { local f; f=$(mktemp -d "/tmp/et-${T_ID}-XXXX"); T_FILES+=("$f"); echo "$f"; }

t_teardown() {
	local p n
	for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${T_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# ns_new/pin_dir_new/tmp_new are often called in $( ) subshells, where
	# the arrays do not grow: everything named after T_ID goes too.
	for n in "${T_NS[@]}" $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^et-${T_ID}-"); do
		ip netns del "$n" 2>/dev/null
	done
	for p in "${T_PINS[@]}" /sys/fs/bpf/et-"${T_ID}"-*; do [ -e "$p" ] && rm -rf "$p"; done
	for p in "${T_FILES[@]}" /tmp/et-"${T_ID}"-*; do [ -e "$p" ] && rm -rf "$p"; done
}
trap t_teardown EXIT
trap 'exit 130' INT TERM

# Call at the end of a test script.
t_exit() { exit "$T_FAILED"; }
