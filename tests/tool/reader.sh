#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The uccid tool driving the virtual reader over USB/IP, as a person at a
# terminal would: info, atr, apdu (arguments and a script), status, resets
# that lose the PIN state, poweroff, eject; and the errors for a bad name,
# an unknown bus id, a card that is gone, a reader without a mechanism.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-reader.XXXXXX")
pid=
passes=0
fails=0
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"

"$VREADER" --port 0 --profile tpdu-t1 --profile mechanical --profile extended-apdu \
	--descriptor "$top_srcdir/tests/data/readers/ACR38U-CCID.txt" --profile multi-slot \
	--descriptor "$top_srcdir/tests/data/readers/GemPCTwin.txt" --control "$tmp/ctl" \
	>"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1
R1=usbip://127.0.0.1:$port/1-1
R2=usbip://127.0.0.1:$port/1-2
R3=usbip://127.0.0.1:$port/1-3
R4=usbip://127.0.0.1:$port/1-4   # a real reader's descriptor (ACR38U): no clock or data rate list
R5=usbip://127.0.0.1:$port/1-5   # four slots
R6=usbip://127.0.0.1:$port/1-6   # GemPC Twin (08E6:3437): TPDU level, short APDUs after Escape 1F 02

ctl() {  # ctl LINE...: one control connection, each line answered before the next
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "$@" >/dev/null
}

run 0 list "usbip://127.0.0.1:$port" && has out "$R1  1209:0001  CCID reader" && has out "$R3  1209:0001"
run 0 --json list "usbip://127.0.0.1:$port/" && has out '"name":"usbip://127.0.0.1:'"$port"'/1-2"'
run 1 list "usbip://127.0.0.1:1" && has err "connection refused"
run 2 list "usbip://" && has err "is not usbip://HOST[:PORT]"
run 2 list --watch "usbip://127.0.0.1:$port" && has err "--watch is for the USB buses"
# list --watch runs until a signal, then exits 0 (what it prints depends on this machine's USB buses);
# it says on stderr when it starts watching, its signal handlers in place
: >"$tmp/err"    # not only in the child: the wait below must not read the last command's stderr
${VALGRIND:-} "$UCCID" list --watch >"$tmp/out" 2>"$tmp/err" </dev/null &
wpid=$!
wait_for -p $wpid "$tmp/err" "^uccid: watching the USB buses for CCID readers until interrupted$" || fails=$((fails + 1))
kill -TERM $wpid
if wait $wpid; then passes=$((passes + 1)); else
	echo "FAIL: uccid list --watch did not end cleanly on SIGTERM"; sed 's/^/  err: /' "$tmp/err" | head
	fails=$((fails + 1)); fi
run 0 -r "$R1" info && has out "TPDU level" && has out "dwMaxCCIDMessageLength"
run 0 -r "$R1" --json info && has out '"kind":"reader_info"'
# what libccid's parse shows too: the strings, bcdDevice, the clocks and data rates the reader lists
# (GET_CLOCK_FREQUENCIES / GET_DATA_RATES), or the descriptor's range where the request stalls
run 0 -r "$R1" info && has out "manufacturer     uccid" && has out "product          uccid virtual reader (tpdu-t1)" &&
	has out "serial           VR-tpdu-t1" && has out "bcdDevice        1.00" &&
	has out "clocks           4000 kHz (GET_CLOCK_FREQUENCIES: 1 value)" &&
	has out "data rates       10752 21505 43010 86021 172043 250000 344086 bps (GET_DATA_RATES: 7 values)"
run 0 -r "$R4" info && has out "(072f:90cc)" && has out "manufacturer     ACS" &&
	has out "clocks           4000..4000 kHz (bNumClockSupported 0; GET_CLOCK_FREQUENCIES: stalled)" &&
	has out "data rates       10752..129032 bps (bNumDataRatesSupported 0; GET_DATA_RATES: stalled)"
run 0 -r "$R4" --json info && has out '"clocks_khz":{"source":"descriptor","count":0,"default":4000,"maximum":4000,"values":[],"request_error":"stalled"}'
# watch: each event with its time; an inserted card's ATR; a hardware error once, decoded
: >"$tmp/watch.out"
${VALGRIND:-} "$UCCID" -r "$R1" watch >"$tmp/watch.out" 2>"$tmp/watch.err" </dev/null &
wpid=$!
T='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{4}'
wait_for -p $wpid "$tmp/watch.out" "^$T slot 0: inserted, ATR 3B 9B 96 81 31 20 4D 75 63 63 69 64 20 76 63 61 72 64 EA\$" ||
	fails=$((fails + 1))
ctl "reader 1-1" "remove" "insert" "hwerror"
wait_for -p $wpid "$tmp/watch.out" "^$T slot 0: hardware error 01 \\(overcurrent\\)\$" || fails=$((fails + 1))
kill -TERM $wpid
wait $wpid && passes=$((passes + 1)) || { echo "FAIL: watch did not exit 0 on SIGTERM"; fails=$((fails + 1)); }
wait_for "$tmp/watch.out" "^$T slot 0: removed\$" && wait_for -n 2 "$tmp/watch.out" "slot 0: inserted, ATR 3B" ||
	fails=$((fails + 1))
if grep -q "hardware error" "$tmp/watch.err"; then
	echo "FAIL: the hardware error printed twice:"; cat "$tmp/watch.err"; fails=$((fails + 1)); fi
# --no-atr: events only, the card never powered; --slot: that slot's
: >"$tmp/watch.out"
${VALGRIND:-} "$UCCID" -r "$R1" watch --no-atr --slot 0 >"$tmp/watch.out" 2>"$tmp/watch.err" </dev/null &
wpid=$!
wait_for -p $wpid "$tmp/watch.out" "^$T slot 0: inserted\$" || fails=$((fails + 1))
kill -TERM $wpid
wait $wpid
run 0 -r "$R1" status && has out "card present, not powered"
run 0 -r "$R1" atr && has out "T=1 offered"
run 0 -r "$R1" apdu 00A4040C07F0756363696401 "00 20 00 80 06 31 32 33 34 35 36" 80100000FF &&
	has out "9000  success" && has out "> 00 20 00 80 06"
printf '# a session\n00A4040C07F0756363696401\n00 20 00 80 06 39 39 39 39 39 39  # wrong PIN\n\n00200080\n' >"$tmp/script"
run 0 -r "$R1" apdu -f "$tmp/script" && has out "63C2  verification failed; 2 tries left"
run 0 -r "$R1" --json apdu 00200080 && has out '"sw":"63C2"'
# a reset between APDUs loses the PIN state (ISO 7816-4 §5.4: security state is reset)
printf '00 20 00 80 06 31 32 33 34 35 36\n00200080\nreset\n00200080\n' >"$tmp/reset-script"
run 0 -r "$R1" apdu -f "$tmp/reset-script" && has out "-- warm reset" && has out "63C3  verification failed; 3 tries left"
run 0 -r "$R1" status && has out "slot 0: card"
# apdu --leave: the next command takes the card over as it was left, PIN verified; it then
# powers the card off as usual, and the one after starts afresh
run 0 -r "$R1" apdu --leave "00 20 00 80 06 31 32 33 34 35 36" && has out "9000  success"
run 0 -r "$R1" status && has out "slot 0: card powered"
run 0 -r "$R1" apdu 00200080 && has out "< 9000  success"
run 0 -r "$R1" apdu 00200080 && has out "63C3  verification failed; 3 tries left"
run 0 -r "$R3" apdu --leave "00 20 00 80 06 31 32 33 34 35 36" && run 0 -r "$R3" apdu 00200080 &&
	has out "< 9000  success"
# a warm reset loses the PIN state: VERIFY then reset then VERIFY-state in one session is what check_reader does;
# here: reset works and reports the ATR
run 0 -r "$R1" reset --warm && has out "warm reset, ATR 3B"
run 0 -r "$R1" reset --cold && has out "cold reset, ATR 3B"
run 0 -r "$R1" poweroff && has out "powered off"
run 0 -r "$R3" apdu 80100000000002AABB0000 80100000000000 && has out "> 80 10 00 00 00 00 00" &&
	has out "< AA BB 9000"
# a length that disagrees with Lc is refused before anything is sent (badinput.sh has the cases)
run 2 -r "$R3" apdu 801000000010 && has err "is not an APDU"
run 0 -r "$R2" eject && has out "card ejected"
run 1 -r "$R2" atr && has err "no card"
ctl "reader 1-2" "insert"
run 0 -r "$R2" atr
# no mechanism: eject powers off and latches the slot until the card is removed (issue 5)
run 0 -r "$R1" eject && has out "powered off and latched"
run 1 -r "$R1" atr && has err "ejected"
run 0 -r "$R1" status && has out "(ejected: remove and insert it)"
ctl "reader 1-1" "remove"
run 0 -r "$R1" status && has out "no card"
ctl "reader 1-1" "insert"
run 0 -r "$R1" atr
run 1 -r "usbip://127.0.0.1:$port/9-9" info && has err "9-9"
run 2 -r "bogus" info && has err "not a reader name"
run 0 -r "$R3" bench --rounds 50 && has out "ratio uccid/raw-tcp median latency" && has out "4096   uccid"
run 0 -r "$R1" bench --rounds 20 --apdu 00A4040C07F0756363696401 && has out "12     uccid"
run 2 bench && has err "give the reader"
run 2 -r "$R1" apdu && has err "give APDUs"
run 2 -r "$R1" apdu 00 && has err "is not an APDU"
run 2 -r "$R1" apdu --slot 1x 00A4040C07F0756363696401 && has err "--slot takes a slot number from 0 to 255, not '1x'"
run 2 -r "$R1" bench --slot 256 && has err "not '256'"
run 2 -r "$R1" reset --lukewarm

# Messages (issue 15): each names what was wrong, and where
# a slot the reader does not have: its count, not "power on: Invalid argument"
run 2 -r "$R5" atr --slot 9 && has err "--slot 9: reader $R5 has 4 slots (0..3)"
# --vendor-apdu: the GemPC Twin's firmware switched to short-APDU level (libccid's ifdDriverOptions
# 0x0002), the Escape its first command and the APDU sent plain; without it, T=1 blocks at TPDU level
run 0 -r "$R6" --trace apdu 00A4040000 && has out "< 6700" && has err "PC_to_RDR_XfrBlock slot 0 seq 04 bBWI 00 wLevelParameter 0000 | 00 00 05 00 A4 04 00 00 A5"
if grep -q "PC_to_RDR_Escape" "$tmp/err"; then echo "FAIL: an Escape without --vendor-apdu"; fails=$((fails + 1)); fi
run 0 -r "$R6" --vendor-apdu info && has out "1 slot, short APDU level" && has out "quirks: apdu-mode-gempc-twin"
run 0 --vendor-apdu -r "$R6" --trace apdu 00A4040000 && has out "< 6700" &&
	has err "PC_to_RDR_XfrBlock slot 0 seq 04 bBWI 00 wLevelParameter 0000 | 00 A4 04 00 00"
if ! head -1 "$tmp/err" | grep -q "PC_to_RDR_Escape slot 0 seq 00 | 1F 02"; then
	echo "FAIL: --vendor-apdu: the first command is not Escape 1F 02"; head -3 "$tmp/err"; fails=$((fails + 1)); fi
run 0 -r "$R2" --vendor-apdu --trace atr && has out "ATR"   # a reader without a vendor mode: nothing sent
if grep -q "PC_to_RDR_Escape" "$tmp/err"; then echo "FAIL: --vendor-apdu sent an Escape to a reader without a vendor mode"; fails=$((fails + 1)); fi
run 0 -r "$R5" atr --slot 3 && has out "ATR"
# an APDU the card cannot take under bench --apdu: the error, exit 1, no figure
ctl "reader 1-3" "fault garbage on=XfrBlock count=0"
run 1 -r "$R3" bench --rounds 10 --apdu 00A4040C07F0756363696401 && has err "bench: --apdu: the reader or card broke the protocol"
ctl "reader 1-3" "fault clear"
run 0 -r "$R3" bench --rounds 10 --apdu 00A4040C07F0756363696401 && has out "12     uccid"
# after "unlock unpower" the session refuses an APDU itself: not "the reader reported an error"
printf 'lock\nunlock unpower\n00A4040C07F0756363696401\n' >"$tmp/unpower.apdu"
run 1 -r "$R1" apdu -f "$tmp/unpower.apdu" &&
	has err "transmit: the card in slot 0 is not powered: refused here, nothing was sent (a reset powers it)"
# a failing line of a lock script is named by its line of stdin
printf '00A4040C07F0756363696401\n\n# a comment\n00 B0 zz\n' >"$tmp/lock.in"
${VALGRIND:-} "$UCCID" -r "$R1" lock <"$tmp/lock.in" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && passes=$((passes + 1)) || { echo "FAIL: lock with a bad line did not exit 1"; fails=$((fails + 1)); }
has err "stdin:4: bad hex at character 7 ('z')"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
