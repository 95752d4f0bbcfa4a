#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The uccid tool driving USB ICCD tokens over USB/IP, as a person at a
# terminal would: uccid-vreader's iccd-b and iccd-a profiles and a real
# version B token's descriptor (Gemalto PDT, no interrupt pipe) — list,
# info, atr, apdu (short, extended on iccd-b), a busy card, status,
# poweroff; and a malformed answer from the token named on stderr.  Then
# the 12 real ICCD tokens' descriptors of tests/data/readers/, each driven
# over USB/IP.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-iccd.XXXXXX")
pid=
passes=0
fails=0
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"

"$VREADER" --port 0 --profile iccd-b --profile iccd-a --descriptor "$top_srcdir/tests/data/readers/Gemalto_PDT.txt" \
	--control "$tmp/ctl" >"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1
B=usbip://127.0.0.1:$port/1-1
A=usbip://127.0.0.1:$port/1-2
PDT=usbip://127.0.0.1:$port/1-3

ctl() {  # ctl LINE...: one control connection, each line answered before the next
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "$@" >/dev/null
}

SELECT=00A4040C07F0756363696401
run 0 list "usbip://127.0.0.1:$port" && has out "$B  1209:0001" && has out "$PDT  08e6:1227"
# CCID's class requests (GET_CLOCK_FREQUENCIES, GET_DATA_RATES) are not a token's: not sent,
# so the token refuses nothing (its bad_commands count stays 0)
ctl "reader 1-1" "counters reset" "reader 1-2" "counters reset"
run 0 -r "$B" info && has out "short and extended APDU level" && has out "ICCD version B token" &&
	has out "GET_CLOCK_FREQUENCIES: not sent to an ICCD token"
run 0 -r "$A" info && has out "TPDU level" && has out "ICCD version A token" &&
	has out "GET_DATA_RATES: not sent to an ICCD token"
for r in 1-1 1-2; do
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "reader $r" counters > "$tmp/counters"
	has counters "bad_commands=0"
done
run 0 --json -r "$A" info && has out '"interface":"ICCD-A"'
for r in "$B" "$A" "$PDT"; do
	run 0 -r "$r" atr && has out "TS                       3B"
	run 0 -r "$r" apdu "$SELECT" "00 20 00 80 06 31 32 33 34 35 36" 80100000FF &&
		has out "9000  success" && has out "> 00 20 00 80 06"
	# case 4 (T=0 on version A: GET RESPONSE)
	run 0 -r "$r" apdu 8010000003AABBCC00 && has out "< AA BB CC 9000"
	# the card works 300 ms: the token says busy, the tool waits
	run 0 -r "$r" apdu 8012001E && has out "9000  success"
	run 0 -r "$r" status && has out "slot 0: card present"
	run 0 -r "$r" poweroff && has out "powered off"
done
# extended APDUs: version B chains them; version A (T=0) cannot carry one
run 0 -r "$B" apdu 80100000000002AABB0000 && has out "< AA BB 9000"
run 1 -r "$A" apdu 80100000000002AABB0000 && has err "cannot do that"
# a token that answers what no token sends: the error says so (version B: three answers,
# as the power-up tries 5 V, 3 V and 1.8 V in turn; version A: the status after the ATR)
ctl "reader 1-1" "fault garbage count=3"
run 1 -r "$B" apdu "$SELECT" && has err "ICCD DATA_BLOCK: bad answer of 3 bytes at byte 0 (expected bResponseType"
ctl "reader 1-2" "fault garbage count=1"
run 1 -r "$A" apdu "$SELECT" && has err "ICCD GET_ICC_STATUS: bad answer 01 at byte 0"
run 0 -r "$B" apdu "$SELECT" && has out "9000  success"
run 0 -r "$A" apdu "$SELECT" && has out "9000  success"
# uccid watch starts with the card there: a version A token has no interrupt pipe, so no report
# would come until a card moves (the watch said nothing); then, polled, the card taken out
: >"$tmp/watch.out"
${VALGRIND:-} "$UCCID" -r "$A" watch >"$tmp/watch.out" 2>"$tmp/watch.err" </dev/null &
wpid=$!
wait_for -p $wpid "$tmp/watch.out" '^[-0-9T:.+]+ slot 0: inserted, ATR 3B 0B 75 63 63 69 64 20 76 63 61 72 64$' &&
	passes=$((passes + 1)) || fails=$((fails + 1))
ctl "reader 1-2" "remove"
wait_for -p $wpid "$tmp/watch.out" '^[-0-9T:.+]+ slot 0: removed$' && passes=$((passes + 1)) || fails=$((fails + 1))
ctl "reader 1-2" "insert"
wait_for -p $wpid -n 2 "$tmp/watch.out" 'slot 0: inserted, ATR 3B 0B' && passes=$((passes + 1)) || fails=$((fails + 1))
kill -TERM $wpid; wait $wpid && passes=$((passes + 1)) || { echo "FAIL: watch did not exit 0"; fails=$((fails + 1)); }

# every real ICCD token's descriptor (bInterfaceProtocol 1 or 2), each behind its own bus id
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
set --
for f in "$top_srcdir"/tests/data/readers/*.txt; do
	grep -q '^ bInterfaceProtocol: [12]$' "$f" && set -- "$@" --descriptor "$f"
done
[ $# -eq 24 ] && passes=$((passes + 1)) || { echo "FAIL: $(($# / 2)) ICCD descriptors, want 12"; fails=$((fails + 1)); }
# emptied here, not only by the child's redirection, which may come after the first look at it:
# the first server's "listening on" line (its port closed now) would do for this one's
: >"$tmp/vr.out"
"$VREADER" --port 0 "$@" >"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1
i=1
while [ $i -le $(($# / 2)) ]; do
	run 0 -r "usbip://127.0.0.1:$port/1-$i" apdu "$SELECT" 8010000003AABBCC00 && has out "< AA BB CC 9000"
	i=$((i + 1))
done

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
