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

${VALGRIND:-} "$vreader" --port 0 --profile multi-slot --profile tpdu-t1 \
	--descriptor "$top_srcdir/tests/data/readers/ACS_ACR1251_Dual_Reader.txt" --control "$sock" >"$tmp/out" 2>&1 &
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
# a composite's CCID functions by BUSID/INTERFACE, as usbip://HOST/BUSID/INTERFACE names them
expect "1-3/1 ACS_ACR1251_Dual_Reader slots=1" readers
expect "ok reader 1-3/1" "reader 1-3/1"
expect "error: no reader '1-3/2'" "reader 1-3/2"
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

# any ATR for the next power-on: the tool powers the card up and explains the defect (T=1 cards:
# the tpdu-t1 reader runs T=1 only)
UCCID=$top_builddir/tool/uccid
WRONG_TCK=3BDB960080B1FE451F830031C064C7FC1000019000FF
expect "ok ATR of 22 bytes for slot 0" "reader 1-2" "atr $WRONG_TCK"
expect "error: not an ATR (TS must be 3B or 3F)" "reader 1-2" "atr 3C00"
expect "error: atr takes the ATR as one word of hex" "reader 1-2" "atr 3B0"
expect "error: atr takes the ATR as one word of hex" "reader 1-2" "atr"
expect "error: bad argument 'slot=9'" "reader 1-2" "atr 3B00 slot=9"
if ${VALGRIND:-} "$UCCID" -r "usbip://127.0.0.1:$port/1-2" --json atr >"$tmp/atr" 2>"$tmp/atr.err" &&
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
sys.exit(0 if d["bytes"]==sys.argv[2] and [f["defect"] for f in d["findings"]]==["wrong-tck"] else 1)' "$tmp/atr" $WRONG_TCK
then passes=$((passes + 1)); else
	echo "FAIL: uccid atr on the card with ATR $WRONG_TCK:"; cat "$tmp/atr" "$tmp/atr.err"; fails=$((fails + 1)); fi
if ${VALGRIND:-} "$UCCID" -r "usbip://127.0.0.1:$port/1-2" apdu 00A4040C07F0756363696401 >"$tmp/apdu" 2>&1 &&
	grep -q 9000 "$tmp/apdu"; then passes=$((passes + 1)); else
	echo "FAIL: an APDU to the card with a defective ATR:"; cat "$tmp/apdu"; fails=$((fails + 1)); fi
expect "ok slot 0: configured card" "reader 1-2" "atr default"
# a card inserted later gets the slot's ATR too
expect "ok ATR of 20 bytes" "reader 1-2" "atr 3BDB960080B1FE451F830031C064C7FC10000190"
expect "ok card swapped in slot 0" "reader 1-2" "swap 0"
if ${VALGRIND:-} "$UCCID" -r "usbip://127.0.0.1:$port/1-2" atr >"$tmp/atr" 2>&1 &&
	grep -q "1 historical byte(s) missing at byte 20" "$tmp/atr" && grep -q "TCK missing at byte 20" "$tmp/atr"; then passes=$((passes + 1)); else
	echo "FAIL: uccid atr after a swap:"; cat "$tmp/atr"; fails=$((fails + 1)); fi

# --atr: the cards of the next readers send it; a non-ATR is refused at once
if "$vreader" --port 0 --atr 3C00 --profile tpdu-t0 >"$tmp/bad" 2>&1; then
	echo "FAIL: --atr 3C00 accepted"; fails=$((fails + 1))
elif grep -q "\-\-atr takes hex bytes beginning with TS 3B or 3F" "$tmp/bad"; then passes=$((passes + 1)); else
	echo "FAIL: --atr 3C00:"; cat "$tmp/bad"; fails=$((fails + 1)); fi
${VALGRIND:-} "$vreader" --port 0 --atr "3B 96 00 41 21 92 00 00 62 24 33 33 90 00" --profile tpdu-t0 >"$tmp/out2" 2>&1 &
pid2=$!
if vreader_wait "$pid2" "$tmp/out2" && grep -q "ATR 3B 96 00 41 21 92 00 00 62 24 33 33 90 00" "$tmp/out2"; then
	passes=$((passes + 1)); else echo "FAIL: --atr banner:"; cat "$tmp/out2"; fails=$((fails + 1)); fi
kill "$pid2"; wait "$pid2"

kill -0 "$pid" 2>/dev/null || { echo "FAIL: uccid-vreader died"; fails=$((fails + 1)); }
kill "$pid"
wait "$pid"
status=$?
pid=
[ "$status" = 0 ] && passes=$((passes + 1)) || { echo "FAIL: exit status $status after SIGTERM"; fails=$((fails + 1)); }
[ ! -e "$sock" ] && passes=$((passes + 1)) || { echo "FAIL: the socket was left behind"; fails=$((fails + 1)); }
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
