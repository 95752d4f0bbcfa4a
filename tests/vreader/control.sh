#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# uccid-vreader's control socket end to end: commands and replies over the
# Unix socket, errors for bad input (unknown command, bad slot, a line over
# the limit), several clients, and a clean exit on SIGTERM that removes the
# socket.  Uses python3 as the socket client.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
vreader=$top_builddir/vreader/uccid-vreader
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vr-control.XXXXXX")
sock=$tmp/control.sock
pid=
fails=0
passes=0
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"

command -v python3 >/dev/null || { echo "SKIP: python3 is needed as the socket client"; exit 77; }

${VALGRIND:-} "$vreader" --port 0 --profile multi-slot --profile tpdu-t1 --control "$sock" >"$tmp/out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/out" || exit 1
# the banner comes after the socket listens: check that too, it is what the tests below use
[ -S "$sock" ] && passes=$((passes + 1)) || { echo "FAIL: no control socket at $sock"; fails=$((fails + 1)); }

# ask LINES...: send each line, print the replies (each ends with ok/error)
ask() {
	python3 "$top_srcdir/vreader/vrctl.py" "$sock" "$@"
}
expect() {  # expect TEXT LINES...
	want=$1; shift
	ask "$@" >"$tmp/reply" 2>&1
	if grep -qF -- "$want" "$tmp/reply"; then passes=$((passes + 1)); else
		echo "FAIL: '$*' did not answer '$want':"; sed 's/^/  | /' "$tmp/reply"; fails=$((fails + 1)); fi
}

expect "1-1 multi-slot slots=4 (current)" readers
expect "slot 3: card" status
expect "ok reader 1-2" "reader 1-2"
expect "tpdu-t1 slots=1 (current)" "reader 1-2" readers
expect "error: no slot '4'" "remove 4"
expect "ok card removed from slot 2" "remove 2"
expect "slot 2: empty" status
expect "error: slot 2 is empty" "remove 2"
expect "ok card inserted in slot 2" "insert 2"
expect "ok fault mute armed" "fault mute slot=1 count=0"
expect "fault=mute (until cleared)" status
expect "ok faults cleared" "fault clear"
expect "error: unknown fault 'bogus'" "fault bogus"
expect "error: latency needs a delay in ms" "fault latency"
expect "t1-edc" faults
expect "ok 0 entries" "journal 0"
expect "commands=0" counters
expect "error: unknown command 'frobnicate'" frobnicate
expect "error: no reader '9-9'" "reader 9-9"
expect "ok bye" quit
long=$(python3 -c 'print("x" * 2000)')
expect "error: line longer than 1023 bytes" "$long"
expect "ok" help

kill -0 "$pid" 2>/dev/null || { echo "FAIL: uccid-vreader died"; fails=$((fails + 1)); }
kill "$pid"
wait "$pid"
status=$?
pid=
[ "$status" = 0 ] && passes=$((passes + 1)) || { echo "FAIL: exit status $status after SIGTERM"; fails=$((fails + 1)); }
[ ! -e "$sock" ] && passes=$((passes + 1)) || { echo "FAIL: the socket was left behind"; fails=$((fails + 1)); }
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
