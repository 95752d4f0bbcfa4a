#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A remote reader behind a slow link (issue 14): uccid-vreader behind
# tests/vreader/delay-proxy.py, which delays each direction by 1.5 s (a
# 3 s round trip).  An APDU gets through; an idle `uccid watch` stays,
# sends nothing while idle (no unlink, at most the one interrupt URB) and
# sees a card event; and when the server restarts it rides through, back
# over the slow link (the time it took after the server is printed).  Waits
# for events — a line from a FIFO — never for time; each wait is bounded.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
DELAY_MS=1500
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-delay.XXXXXX")
pids=
passes=0
fails=0
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
command -v python3 >/dev/null || { echo "SKIP: python3 runs the delaying proxy"; exit 77; }

. "$top_srcdir/tests/tool/lib.sh"

ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
has() {
	if grep -qF -- "$2" "$tmp/$1"; then ok; else bad "$1 lacks '$2'"; sed 's/^/  | /' "$tmp/$1" | head -20; fi
}
ctl() {  # ctl LINE...: one control connection, the replies in $tmp/ctl.out
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/vr.ctl" "$@" >"$tmp/ctl.out" 2>&1
}
# first_line FIFO_FD: the first line a starting process prints ("listening on ...")
port_of() {
	sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p'
}

mkfifo "$tmp/vr.fifo" "$tmp/proxy.fifo" "$tmp/watch.fifo"
${VALGRIND:-} "$VREADER" --port 0 --control "$tmp/vr.ctl" --profile short-apdu >"$tmp/vr.fifo" 2>"$tmp/vr.err" &
pids="$pids $!"
exec 3<"$tmp/vr.fifo"
IFS= read -r line <&3
vport=$(echo "$line" | port_of)
[ -n "$vport" ] || { echo "FAIL: uccid-vreader did not start: $line"; exit 1; }
python3 "$top_srcdir/tests/vreader/delay-proxy.py" --upstream "127.0.0.1:$vport" --delay $DELAY_MS \
	>"$tmp/proxy.fifo" 2>"$tmp/proxy.err" &
pids="$pids $!"
exec 4<"$tmp/proxy.fifo"
IFS= read -r line <&4
pport=$(echo "$line" | port_of)
[ -n "$pport" ] || { echo "FAIL: the proxy did not start: $line"; cat "$tmp/proxy.err"; exit 1; }
U=usbip://127.0.0.1:$pport/1-1

# --- one APDU over the slow link
if ${VALGRIND:-} "$UCCID" -r "$U" apdu 00A4040C07F0756363696401 >"$tmp/out" 2>"$tmp/err" </dev/null; then
	ok; has out "9000  success"
else
	bad "apdu over the slow link"; sed 's/^/  err: /' "$tmp/err"
fi

# --- an idle watch stays, quiet, and sees the card go
${VALGRIND:-} "$UCCID" -r "$U" watch --no-atr >"$tmp/watch.fifo" 2>"$tmp/watch.err" &
watcher=$!
pids="$pids $watcher"
exec 9<"$tmp/watch.fifo"
expect_line() {  # expect_line TEXT: the watcher's next line (60 s at most, for a hung watcher)
	got=$(timeout 60 sh -c 'IFS= read -r l && printf "%s" "$l"' <&9)
	got=${got#* }          # the event's time
	if [ "$got" = "$1" ]; then ok; else bad "watch printed '$got', want '$1'"; sed 's/^/  err: /' "$tmp/watch.err"; fi
}
expect_line "slot 0: inserted"
# the watcher's interrupt URB reaches the server over the slow link 1.5 s after it printed the
# insertion (a loaded machine takes longer): counted from then on, one URB a card event
urb_waits() { ctl "usbip counters" && grep -qE "pending-in=([0-9]+:[0-9]+,)*3:1( |\$)" "$tmp/ctl.out"; }
wait_until -t 30 "the watcher's interrupt URB pending at the server" urb_waits || bad "no interrupt URB after the insertion"
ctl "usbip counters reset"
# the removal completes that URB at once, its NotifySlotChange reaches the watcher 1.5 s later
ctl "remove 0"
expect_line "slot 0: removed"
# ... and its next URB the server 1.5 s after that: wait for it, then nothing else may have come
next_urb() { ctl "usbip counters" && grep -qF "submit-in=3:" "$tmp/ctl.out" && urb_waits; }
wait_until -t 30 "the watcher's next interrupt URB at the server" next_urb || bad "no interrupt URB after the removal"
has ctl.out "unlinks=0 " && has ctl.out "submit-in=3:1 "
ctl "insert 0"
expect_line "slot 0: inserted"

# --- a server restart: the watcher goes through it, back over the slow link
start=$(date +%s%N)
ctl "usbip restart 2000" && has ctl.out "ok usbip restart: 1 connection dropped"
expect_line "slot 0: removed"
expect_line "slot 0: reader-unavailable"
expect_line "slot 0: reader-available"
back=$(( ($(date +%s%N) - start) / 1000000 - 2000 ))
expect_line "slot 0: inserted"
echo "usbip-delay: back ${back} ms after the server restarted (a link of ${DELAY_MS} ms each way)"
kill -INT $watcher
wait $watcher
st=$?
[ $st = 0 ] && ok || bad "watch exited $st after SIGINT"

echo "usbip-delay: $passes passed, $fails failed"
[ "$fails" = 0 ]
