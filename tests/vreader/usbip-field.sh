#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The uccid tool against uccid-vreader behaving as real USB/IP servers do
# (issue 14): an unconfigured export (Linux's usbip-host right after
# `usbip bind`) is listed as a CCID reader and opens; a device server whose
# endpoints open only on SET_CONFIGURATION answers; a reader handed from
# one process to the next while the server still refuses imports as busy
# opens (--wait), and fails at once with --no-wait; a protocol violation
# is named in the error; the control socket's
# "usbip" command switches those modes and counts the PDUs; a failure
# while closing is a failure; an eject latch does not outlive the device
# instance (a server restart); `uccid watch` rides through a server restart, also with a
# reader that does not report its cards when configured again (QEMU's).  Waits for
# events (the server's "listening" line through a FIFO), never for time.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
. "$top_srcdir/tests/tool/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-field.XXXXXX")
pids=
passes=0
fails=0
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# start NAME ARGS...: a vreader on a free port; sets port (read from its "listening" line)
start() {
	name=$1; shift
	mkfifo "$tmp/$name.fifo"
	${VALGRIND:-} "$VREADER" --port 0 --control "$tmp/$name.ctl" "$@" >"$tmp/$name.fifo" 2>"$tmp/$name.err" &
	pids="$pids $!"
	# the FIFO's read end stays open (fd 3, 4, ...) so that the server can print on
	eval "exec $fd<\"\$tmp/\$name.fifo\""
	line=
	eval "read -r line <&$fd" || true
	fd=$((fd + 1))
	port=$(echo "$line" | sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p')
	[ -n "$port" ] || { echo "FAIL: uccid-vreader $* did not start: $line"; cat "$tmp/$name.err"; exit 1; }
}
fd=3

ctl() {  # ctl NAME LINE...: one control connection, the replies in $tmp/ctl.out
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/$1.ctl" "$@" >"$tmp/ctl.out" 2>&1
}

SELECT=00A4040C07F0756363696401

# --- unconfigured, as the kernel exports a device right after `usbip bind`
start unconf --usbip-unconfigured --profile tpdu-t1 --profile short-apdu
U=usbip://127.0.0.1:$port
run 0 list "$U" && has out "$U/1-1  1209:0001  CCID reader" && has out "$U/1-2  1209:0001  CCID reader"
run 0 --json list "$U" && has out '"ccid":true'
run 0 -r "$U/1-1" apdu $SELECT && has out "9000  success"
run 0 -r "$U/1-2" info && has out "short APDU level"

# --- endpoints that answer only once configured (a device server)
start gate --usbip-config-gate --profile extended-apdu
G=usbip://127.0.0.1:$port
run 0 list "$G" && has out "$G/1-1  1209:0001  CCID reader"
run 0 -r "$G/1-1" apdu $SELECT 80100000000100 && has out "9000  success"
ctl gate "usbip counters" && has ctl.out "unlinks=0 " && has ctl.out "submit-out=0:"
# a protocol violation is named, not only "the reader is gone"
ctl gate "usbip bad-actual-length" && has ctl.out "bad-actual-length=1 ep=81"
run 1 -r "$G/1-1" apdu $SELECT && has err "protocol violation: RET_SUBMIT" &&
	has err "with actual_length 272 for a 271-byte URB"
# a bulk-OUT whose RET_SUBMIT says fewer bytes went out than were sent is an error naming both
# (issue 15: it was taken as sent), and the next command works; apdu's first command is the
# slot's status (a card left powered is taken over, not reset)
ctl gate "usbip short-out" && has ctl.out "short-out=1"
run 1 -r "$G/1-1" apdu $SELECT && has err "bulk-OUT of PC_to_RDR_GetSlotStatus (bSeq 0): 9 of 10 bytes sent"
run 0 -r "$G/1-1" apdu $SELECT && has out "9000  success"
ctl gate "usbip short-out x" && has ctl.out "error: bad count"

# --- the control socket switches the modes of a running server
start plain --profile tpdu-t0
P=usbip://127.0.0.1:$port
ctl plain "usbip unconfigured on" && has ctl.out "unconfigured=on config-gate=off"
run 0 list "$P" && has out "$P/1-1  1209:0001  CCID reader"
ctl plain "usbip config-gate on" "usbip unconfigured off" "usbip counters reset" &&
	has ctl.out "unconfigured=off config-gate=on" && has ctl.out "ok usbip counters reset"
run 0 -r "$P/1-1" apdu $SELECT && has out "9000  success"
ctl plain "usbip counters" && has ctl.out "imports=1 busy=0"
ctl plain "usbip unlink-delay x" && has ctl.out "error: bad delay"
ctl plain "usbip bad-actual-length ep=02" && has ctl.out "error: bad endpoint"

# --- a hand-over: the server refuses imports for a moment after a client left
# (5 s: the next command starts well within it, even under valgrind)
start busy --usbip-busy-after-close 5000 --profile short-apdu
B=usbip://127.0.0.1:$port/1-1
run 0 -r "$B" apdu $SELECT && has out "9000  success"
run 0 -r "$B" apdu $SELECT && has out "9000  success"       # within the window: tried again
ctl busy "usbip counters" && has ctl.out "imports=2 busy=" && ! grep -q "busy=0 " "$tmp/ctl.out" &&
	passes=$((passes + 1)) || { echo "FAIL: no import was refused as busy"; fails=$((fails + 1)); }
run 1 --no-wait -r "$B" apdu $SELECT && has err "server refused import of 1-1: device busy"

# --- a failure while closing is a failure: the connection drops during close's IccPowerOff
start closing --profile short-apdu
K=usbip://127.0.0.1:$port/1-1
ctl closing "fault drop-connection on=IccPowerOff" && has ctl.out "ok fault drop-connection armed"
run 1 -r "$K" atr && has out "ATR" && has err "reader removed: connection closed in the middle of a URB" &&
	has err "closing the reader: the reader is gone"
ctl closing "fault drop-connection on=Nothing" && has ctl.out "error: no command 'Nothing'"

# --- the eject latch belongs to the device instance; `uccid unlatch` clears one by hand
start latch --profile short-apdu
L=usbip://127.0.0.1:$port/1-1
run 0 -r "$L" eject && has out "card powered off and latched"
run 0 -r "$L" status && has out "(ejected: remove and insert it)"
ctl latch "usbip restart 0"        # the server comes back with a new instance of the device
run 0 -r "$L" status && if grep -q ejected "$tmp/out"; then
	echo "FAIL: the latch outlived the device instance"; fails=$((fails + 1)); else passes=$((passes + 1)); fi
run 0 -r "$L" eject && run 0 -r "$L" unlatch && has out "slot 0: eject latch cleared"
run 0 -r "$L" unlatch && has out "slot 0: not latched"
run 0 -r "$L" atr && has out "ATR"

# --- a server restart under `uccid watch`: the card goes, the reader is unavailable, then back
start restart --profile short-apdu
R=usbip://127.0.0.1:$port/1-1
mkfifo "$tmp/watch.fifo"
${VALGRIND:-} "$UCCID" -r "$R" watch --no-atr >"$tmp/watch.fifo" 2>"$tmp/watch.err" &
watcher=$!
pids="$pids $watcher"
exec 9<"$tmp/watch.fifo"
expect_line() {  # expect_line TEXT: the watcher's next line (30 s at most, for a hung watcher)
	got=$(timeout 30 sh -c 'IFS= read -r l && printf "%s" "$l"' <&9)
	got=${got#* }          # the event's time
	if [ "$got" = "$1" ]; then passes=$((passes + 1)); else
		echo "FAIL: watch printed '$got', want '$1'"; sed 's/^/  err: /' "$tmp/watch.err"; fails=$((fails + 1)); fi
}
expect_line "slot 0: inserted"
ctl restart "usbip restart 1000" && has ctl.out "ok usbip restart: 1 connection dropped, serving again in 1000 ms"
expect_line "slot 0: removed"
expect_line "slot 0: reader-unavailable"
expect_line "slot 0: reader-available"
expect_line "slot 0: inserted"
has watch.err "reader unavailable: server closed the connection; reconnecting"
ctl restart "usbip counters" && has ctl.out "imports=2 " && has ctl.out "restarts=1"
kill -INT $watcher
wait $watcher
st=$?
if [ $st = 0 ]; then passes=$((passes + 1)); else echo "FAIL: watch exited $st after SIGINT"; fails=$((fails + 1)); fi
exec 9<&-

# --- the same with a reader that sends no NotifySlotChange when configured again (QEMU's
# usb-ccid after a re-import): the card is reported inserted all the same, once
start quiet --no-config-notify --no-card --profile short-apdu
Q=usbip://127.0.0.1:$port/1-1
mkfifo "$tmp/watch2.fifo"
${VALGRIND:-} "$UCCID" -r "$Q" watch --no-atr >"$tmp/watch2.fifo" 2>"$tmp/watch.err" &
watcher=$!
pids="$pids $watcher"
exec 9<"$tmp/watch2.fifo"
# the insertion is reported whenever the watch configures the reader: it is the watch's first line
ctl quiet "insert 0" && has ctl.out "ok"
expect_line "slot 0: inserted"
ctl quiet "usbip restart 0" && has ctl.out "ok usbip restart: 1 connection dropped"
expect_line "slot 0: removed"
expect_line "slot 0: reader-unavailable"
expect_line "slot 0: reader-available"
expect_line "slot 0: inserted"
ctl quiet "remove 0" && has ctl.out "ok"
expect_line "slot 0: removed"      # and not a second 'inserted' before it
kill -INT $watcher
wait $watcher
exec 9<&-

echo "usbip-field: $passes passed, $fails failed"
[ "$fails" = 0 ]
