#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# uccid watch as a passive holder (issue 15, docs/locks.md "Passive holders"),
# against the virtual reader over USB/IP: while a watch runs, other uccid
# commands get the reader at once (--wait=5 is enough: before, they waited
# the whole wait and failed "reader busy"); the watch says it yielded and
# that it took the reader back, and reports what changed meanwhile; a waiter
# says at once whom it waits for; a waiter or holder killed with SIGKILL does
# not leave the watch away for ever; two watches share the reader (one
# holds, the other waits without asking); --json stays one object per line.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
ROUNDS=${ROUNDS:-5}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-watch.XXXXXX")
export UCCID_LOCK_DIR="$tmp/locks"
pid=
holder=
waiter=
w1=
w2=
passes=0
fails=0
trap 'for p in $holder $waiter $w1 $w2 $pid; do kill -9 "$p" 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"

"$VREADER" --port 0 --control "$tmp/ctl" >"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1
R=usbip://127.0.0.1:$port/1-1
ATR1=3B9B968131204D7563636964207663617264EA
ATR2=3B810141C1       # T=1, one historical byte: another card
SELECT=00A4040C07F0756363696401

ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
has() {
	if grep -qE -- "$2" "$tmp/$1"; then ok; else
		bad "$1 lacks /$2/"; sed 's/^/  | /' "$tmp/$1" | head -20; fi
}
lacks() {
	if grep -qE -- "$2" "$tmp/$1"; then bad "$1 has /$2/"; sed 's/^/  | /' "$tmp/$1" | head -20; else ok; fi
}
ctl() {  # ctl LINE...: one control connection, each line answered before the next
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "reader 1-1" "$@" >"$tmp/ctl.out" || bad "control: $*"
}
# start_holder: "uccid lock" with its stdin a fifo we keep open (fd 3); waits until it has the lock
start_holder() {
	rm -f "$tmp/in"; mkfifo "$tmp/in"
	: >"$tmp/holder.out"
	${VALGRIND:-} "$UCCID" -r "$R" --wait=5 lock <"$tmp/in" >"$tmp/holder.out" 2>"$tmp/holder.err" &
	holder=$!
	exec 3>"$tmp/in"
	wait_for -p "$holder" "$tmp/holder.out" "^slot 0 locked by pid $holder;" || { bad "uccid lock did not lock"; cat "$tmp/holder.err"; }
}
end_holder() {  # end_holder [STATUS]: its stdin closed, it exits STATUS (default 0)
	exec 3>&-
	wait "$holder"
	st=$?
	[ "$st" = "${1:-0}" ] && ok || { bad "uccid lock exited $st"; cat "$tmp/holder.err"; }
	holder=
}
# resumed N: the watch has taken the reader back N times
resumed() { wait_for -p "$w1" -n "$1" "$tmp/w1.out" '"event":"resumed"' || bad "the watch did not take the reader back ($1)"; }

# --- a watch, and commands that run to completion meanwhile, ROUNDS times
: >"$tmp/w1.out"
${VALGRIND:-} "$UCCID" -r "$R" --json watch >"$tmp/w1.out" 2>"$tmp/w1.err" </dev/null &
w1=$!
wait_for -p "$w1" "$tmp/w1.out" "\"event\":\"inserted\",\"slot\":0,\"code\":0,\"atr\":\"$ATR1\"" || bad "watch did not start"
# uccid locks says the holder is passive
run 0 -r "$R" locks && has out "^  reader   held by uccid \\(pid $w1\\) since .*, passive: yields it to another process that opens it\$"
run 0 -r "$R" --json locks && has out "\\{\"what\":\"reader\",\"state\":\"held\",\"pid\":$w1,\"program\":\"uccid\",\"since\":[0-9]*,\"passive\":true\\}"
i=0
while [ $i -lt "$ROUNDS" ]; do
	i=$((i + 1))
	t0=$(now_ms)
	run 0 -r "$R" --wait=5 apdu "$SELECT" && has out "^< 9000"
	t=$(($(now_ms) - t0))
	[ -n "${VALGRIND:-}" ] || [ "$t" -lt 4000 ] && ok || bad "apdu round $i took $t ms beside the watch"
	has err "reader busy: waiting up to 5 s for uccid \\(pid $w1\\) since .*, a passive holder: asked it to yield"
	resumed $i
done
[ "$(grep -c '"event":"yielded","pid":[0-9]*}' "$tmp/w1.out")" = "$ROUNDS" ] && ok || bad "not $ROUNDS yields in the watch"
# the reader's first report of the card after each return is not news: one insertion in all
[ "$(grep -c '"event":"inserted"' "$tmp/w1.out")" = 1 ] && ok || { bad "insertions repeated"; cat "$tmp/w1.out"; }
# --no-wait too: a passive holder never keeps an active command out
run 0 -r "$R" --no-wait atr && has out "^ATR \\(19 bytes\\)"
resumed $((ROUNDS + 1))
n=$((ROUNDS + 1))

# --- cards changed while the watch was away: a new card, then none
start_holder
wait_for -p "$w1" "$tmp/w1.out" "\"event\":\"yielded\",\"pid\":$holder}" || bad "no yield to the lock"
ctl remove "atr $ATR2" insert
end_holder
n=$((n + 1)); resumed $n
has w1.out "\"event\":\"removed\",\"slot\":0,\"code\":0,\"while_yielded\":true"
has w1.out "\"event\":\"inserted\",\"slot\":0,\"code\":0,\"atr\":\"$ATR2\",\"while_yielded\":true"
start_holder
ctl remove
end_holder 1      # its unlock (reset) finds no card
n=$((n + 1)); resumed $n
[ "$(grep -c '"event":"removed".*"while_yielded":true' "$tmp/w1.out")" = 2 ] && ok || bad "the second removal not reported"
ctl "atr default" insert
wait_for -p "$w1" "$tmp/w1.out" "\"event\":\"inserted\",\"slot\":0,\"code\":0,\"atr\":\"$ATR1\"}" || bad "insertion after the return"

# --- a waiter says at once whom it waits for, while the holder still holds
start_holder
: >"$tmp/waiter.err"
${VALGRIND:-} "$UCCID" -r "$R" --wait=30 atr >"$tmp/waiter.out" 2>"$tmp/waiter.err" </dev/null &
waiter=$!
wait_for -p "$waiter" "$tmp/waiter.err" "reader busy: waiting up to 30 s for uccid \\(pid $holder\\) since " || bad "the waiter did not say whom it waits for"
alive "$holder" && ok || bad "the holder ended first"
lacks waiter.err "passive holder"
run 0 -r "$R" --json locks && has out "\"pid\":$holder,\"program\":\"uccid\",\"since\":[0-9]*,\"passive\":false\\}"
run 0 -r "$R" locks && lacks out "passive"
# ... and a waiter killed with SIGKILL leaves nothing behind: the holder ends, the watch is back
kill -9 "$waiter"; wait "$waiter" 2>/dev/null; waiter=
end_holder
n=$((n + 1)); resumed $n
# a holder killed with SIGKILL: the watch is back too
start_holder
kill -9 "$holder"; wait "$holder" 2>/dev/null; holder=; exec 3>&-
n=$((n + 1)); resumed $n
run 0 -r "$R" --wait=5 apdu "$SELECT" && has out "^< 9000"
n=$((n + 1)); resumed $n
# the next lock carries out the dead holder's abandon disposition (and its record goes)
run 0 -r "$R" --wait=5 lock && has out "^slot 0 locked by pid [0-9]+"
n=$((n + 1)); resumed $n

# --- two watches: the second waits without asking, says for whom; a command gets the reader from either
: >"$tmp/w2.err"
${VALGRIND:-} "$UCCID" -r "$R" watch >"$tmp/w2.out" 2>"$tmp/w2.err" </dev/null &
w2=$!
wait_for -p "$w2" "$tmp/w2.err" "reader busy: waiting without limit for uccid \\(pid $w1\\) since .*, a passive holder\$" ||
	bad "the second watch did not say whom it waits for"
[ -s "$tmp/w2.out" ] && bad "the second watch took the reader from the first" || ok
i=0
while [ $i -lt 3 ]; do
	i=$((i + 1))
	t0=$(now_ms)
	run 0 -r "$R" --wait=5 apdu "$SELECT" && has out "^< 9000"
	t=$(($(now_ms) - t0))
	[ -n "${VALGRIND:-}" ] || [ "$t" -lt 4000 ] && ok || bad "apdu beside two watches took $t ms"
done
# the first ends: the second has the reader (its first line: the card, in text)
kill -TERM "$w1"; wait "$w1" && ok || bad "watch 1 did not exit 0 on SIGTERM"; w1=
wait_for -p "$w2" "$tmp/w2.out" "slot 0: inserted, ATR 3B 9B 96" || bad "the second watch did not take the reader"
run 0 -r "$R" --wait=5 apdu "$SELECT"
wait_for -p "$w2" "$tmp/w2.out" "reader: yielded to pid [0-9]+\$" && wait_for -p "$w2" "$tmp/w2.out" "reader: taken back after [0-9]+ ms\$" ||
	bad "text lines of the yield"
kill -TERM "$w2"; wait "$w2" && ok || bad "watch 2 did not exit 0 on SIGTERM"; w2=

# --- --json: every line an object
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    json.loads(line)
' "$tmp/w1.out" && ok || bad "watch --json output is not one object per line"
# the reader is free and the lock files gone once everybody left
run 0 -r "$R" --no-wait status
ls "$tmp/locks" >"$tmp/files" 2>/dev/null
[ -s "$tmp/files" ] && { bad "lock files left:"; cat "$tmp/files"; } || ok

echo "watch: $passes passed, $fails failed"
[ "$fails" = 0 ]
