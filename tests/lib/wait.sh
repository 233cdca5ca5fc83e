# SPDX-License-Identifier: GPL-2.0-only
# Readiness waits, sourced by tests/lib/harness.sh, tests/lib/lab.sh and
# scripts/lab (needs only bash and awk; wait_agent_status needs $BIN).
#
# Convention: a helper process that must be listening before the caller goes
# on (a receiver, a capture) prints one line "ready" on STDERR, flushed, once
# it is; stdout stays for its results. The caller sends its stderr to a file
# and waits with wait_ready FILE. tcpdump says "listening on" on stderr:
# wait_log FILE "listening on". Every wait returns 0 when the condition
# holds, or prints "wait: timed out after Ns: CMD" on stderr and returns 1.
# A plain `sleep` is only for pacing (traffic, timers under test) and says
# so in a comment.
[ -n "${_ET_WAIT_SH:-}" ] && return 0
_ET_WAIT_SH=1

# wait_for TIMEOUT CMD...: run CMD every 0.1 s until it succeeds (return 0);
# give up (message on stderr, return 1) once TIMEOUT seconds (may be
# fractional) have passed AND CMD has been tried TIMEOUT*10 times, so that a
# slow CMD on a loaded machine still gets its tries.
wait_for() {
	local t=$1 end n tries=0
	shift
	n=$(awk -v t="$t" 'BEGIN { printf "%d", t * 10 }')
	end=$((${EPOCHREALTIME/[.,]/} + n * 100000))
	while :; do
		"$@" && return 0
		tries=$((tries + 1))
		[ "$tries" -ge "$n" ] && [ "${EPOCHREALTIME/[.,]/}" -ge "$end" ] && break
		sleep 0.1
	done
	echo "wait: timed out after ${t}s: $*" >&2
	return 1
}
_t_grep() { grep -q "$@" 2>/dev/null; }
# wait_ready FILE [TIMEOUT=5]: a helper printed the line "ready" to FILE (its stderr).
wait_ready() { wait_for "${2:-5}" _t_grep -x ready "$1"; }
# wait_log FILE PATTERN [TIMEOUT=5]: a process wrote a line matching PATTERN to FILE.
wait_log() { wait_for "${3:-5}" _t_grep -- "$2" "$1"; }
# wait_sock PATH [TIMEOUT=5]: a unix socket exists at PATH.
wait_sock() { wait_for "${2:-5}" test -S "$1"; }
_t_link_up() { ip -n "$1" -o link show "$2" 2>/dev/null | grep -q "[<,]UP[,>].*state UP"; }
# wait_link_up NS IFACE [TIMEOUT=5]: IFACE is up, carrier included (a veth
# once both ends are up).
wait_link_up() { wait_for "${3:-5}" _t_link_up "$1" "$2"; }
_t_agent_status() { [ -S "$2" ] && nsenter --net="/run/netns/$1" "$BIN/esptag" --socket "$2" agent status >/dev/null 2>&1; }
# wait_agent_status NS SOCK [TIMEOUT=10]: esptagd's control socket SOCK in NS
# exists and answers `esptag agent status`.
wait_agent_status() { wait_for "${3:-10}" _t_agent_status "$1" "$2"; }
_t_gone() { ! kill -0 "$1" 2>/dev/null; }
# wait_gone PID [TIMEOUT=5]: the process has exited.
wait_gone() { wait_for "${2:-5}" _t_gone "$1"; }

