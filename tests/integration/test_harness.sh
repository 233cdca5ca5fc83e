#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The harness itself (tests/lib/harness.sh, tests/lib/wait.sh): a child test
# script makes a namespace, a pin directory, a temp directory and a
# background process, each inside $(...), and exits (once normally, once by
# a failing command under set -e); afterwards none of them is left. The
# readiness waits return as soon as their condition holds and fail, with a
# message, when it does not.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
"$ROOT/scripts/bpffs"
TMP=$(tmp_new) || exit 1

cat >"$TMP/child.sh" <<'CHILD'
. "$1/tests/lib/harness.sh"
N=$(ns_new child) && P=$(pin_dir_new child) && D=$(tmp_new child) || exit 9
PID=$(bg_start "$N" sh -c 'exec sleep 300 >/dev/null 2>&1')
echo "$N $P $D $PID" >"$2"
[ "$3" = fail ] && { set -e; false; }
t_exit
CHILD

for how in exit fail; do
	T_ID= ET_RUN= bash "$TMP/child.sh" "$ROOT" "$TMP/made-$how" "$how" >/dev/null 2>&1
	read -r n p d pid <"$TMP/made-$how" || { t_fail "$how/child_ran" "nothing recorded"; continue; }
	t_check "$how/namespace_removed" [ ! -e "/run/netns/$n" ]
	t_check "$how/pin_dir_removed" [ ! -e "$p" ]
	t_check "$how/tmp_dir_removed" [ ! -e "$d" ]
	t_check "$how/process_killed" wait_gone "$pid" 2
done

# wait_for: true at once, false after its timeout with a message.
s=${EPOCHREALTIME/[.,]/}
wait_for 5 true
t_check wait_for_returns_at_once [ $(( ${EPOCHREALTIME/[.,]/} - s )) -lt 1000000 ]
msg=$(wait_for 0.3 false 2>&1)
t_eq wait_for_timeout_fails "$?" 1
t_check wait_for_timeout_says_so grep -q "wait: timed out after 0.3s: false" <<<"$msg"
# wait_ready: the "ready" line on a helper's stderr.
( sleep 0.3; echo ready >&2; sleep 5 ) 2>"$TMP/r" &
t_register pid $!
t_check wait_ready_sees_ready wait_ready "$TMP/r" 3
t_check wait_ready_times_out bash -c '. "$1/tests/lib/wait.sh"; ! wait_ready /dev/null 0.2 2>/dev/null' _ "$ROOT"
t_exit
