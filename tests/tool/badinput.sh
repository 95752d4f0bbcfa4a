#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bad input to uccid, one row per case: the exit status (2), a regex the
# message on stderr must match (it names the argument), and proof that no
# reader was opened where that is the point: those rows name a reader that
# cannot be opened ($BAD, nothing listens there), so had uccid tried, it
# would have failed "connection refused" with status 1.  The rows that need a
# reader (a slot it does not have) run against the virtual reader, whose
# journal shows the card was never powered.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-badinput.XXXXXX")
export UCCID_LOCK_DIR="$tmp/locks"
pid=
passes=0
fails=0
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

BAD=usbip://127.0.0.1:1/1-1   # port 1: connection refused, never a reader

# row STATUS REGEX ARGS...: uccid ARGS exits STATUS, stderr matches REGEX, no reader was opened
row() {
	want=$1 re=$2; shift 2
	${VALGRIND:-} "$UCCID" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: uccid $* exited $got, want $want"; sed 's/^/  err: /' "$tmp/err" | head -5
		fails=$((fails + 1)); return
	fi
	if ! grep -qE -- "$re" "$tmp/err"; then
		echo "FAIL: uccid $*: stderr lacks /$re/"; sed 's/^/  err: /' "$tmp/err" | head -5
		fails=$((fails + 1)); return
	fi
	if grep -qE 'connection refused|cannot open reader' "$tmp/err"; then
		echo "FAIL: uccid $*: tried to open the reader"; sed 's/^/  err: /' "$tmp/err" | head -5
		fails=$((fails + 1)); return
	fi
	passes=$((passes + 1))
}

# Files the rows read.
printf '00A4040C07F0756363696401\n00B0\0000010\n' >"$tmp/nul.apdu"
printf '00A4040C07F0756363696401\n00 B0 00 zz 10\n' >"$tmp/badhex.apdu"
printf '00A4040C07F0756363696401\n00B0000\n' >"$tmp/oddhex.apdu"
printf '0020008007010203040506\n' >"$tmp/lc.apdu"
printf 'reset banana\n' >"$tmp/reset.apdu"
printf 'lock 5s\n' >"$tmp/lock.apdu"
printf 'unlock later\n' >"$tmp/unlock.apdu"
# a line longer than any APDU (70000 bytes = 210000 characters): once cut in two by fgets
python3 -c 'import sys; sys.stdout.write("00" * 110000 + "\n")' >"$tmp/long.apdu"
printf 'test t\n  apdu 00A40400 ${X\n' >"$tmp/unterminated.suite"
printf 'test t\n  apdu 00A4040C ${NOPE}\n' >"$tmp/unset.suite"
printf 'test t\n  set A = 0102\n  apdu 00A4040C02 ${A} expect-data ${B}\n' >"$tmp/unset-pattern.suite"
printf 'test t\n  apdu 00A4040C07F0756363696401\n' >"$tmp/ok.suite"
printf 'reader card\ntest t\n  apdu 00A4040C07F0756363696401\n' >"$tmp/alias.suite"

# times: digits and a fraction only, 0..86400, or forever
row 2 "--wait takes a time in seconds .* not 'nan'"    --wait=nan -r "$BAD" status
row 2 "--wait takes a time in seconds .* not 'inf'"    --wait=inf -r "$BAD" status
row 2 "--wait takes a time in seconds .* not '-1'"     --wait=-1 -r "$BAD" status
row 2 "--wait takes a time in seconds .* not '0x10'"   --wait=0x10 -r "$BAD" status
row 2 "--wait takes a time in seconds .* not '86400.5'" --wait=86400.5 -r "$BAD" status
row 2 "--timeout takes a time in seconds .* not 'nan'" -r "$BAD" lock --timeout nan
row 2 "--timeout takes a time in seconds .* not 'inf'" -r "$BAD" lock --timeout inf
row 2 "--timeout takes a time in seconds .* not '-0'"  -r "$BAD" lock --timeout -0
row 2 "--timeout takes a time in seconds .* not '1e999'" -r "$BAD" lock --timeout 1e999
row 2 "--timeout takes a time in seconds .* not ''"    -r "$BAD" lock --timeout ''
# apdu -f: the script is read and checked whole before the reader is opened
row 2 "-f /: a directory"                              -r "$BAD" apdu -f /
row 2 "-f $tmp/none: No such file"                     -r "$BAD" apdu -f "$tmp/none"
row 2 "nul.apdu:2: a NUL byte at character 5"          -r "$BAD" apdu -f "$tmp/nul.apdu"
row 2 "badhex.apdu:2: bad hex at character 10 \('z'\)" -r "$BAD" apdu -f "$tmp/badhex.apdu"
row 2 "oddhex.apdu:2: bad hex: an odd number"          -r "$BAD" apdu -f "$tmp/oddhex.apdu"
row 2 "long.apdu:1: the line is 220001 characters long" -r "$BAD" apdu -f "$tmp/long.apdu"
row 2 "reset.apdu:1: reset: 'banana' is neither"       -r "$BAD" apdu -f "$tmp/reset.apdu"
row 2 "lock.apdu:1: lock: '5s' is neither"             -r "$BAD" apdu -f "$tmp/lock.apdu"
row 2 "unlock.apdu:1: unlock: 'later' is not a disposition" -r "$BAD" apdu -f "$tmp/unlock.apdu"
# an APDU whose Lc does not match its data is refused here, never sent
row 2 "lc.apdu:1: not an APDU: Lc 07 announces 7 data bytes but 6 follow" -r "$BAD" apdu -f "$tmp/lc.apdu"
row 2 "'0020008007010203040506' is not an APDU: Lc 07 announces 7 data bytes but 6 follow" \
	-r "$BAD" apdu 0020008007010203040506
row 2 "'00200080000003AABB' is not an APDU: extended Lc 0003 announces 3 data bytes but 2 follow" \
	-r "$BAD" apdu 00200080000003AABB
row 2 "'002000' is not an APDU: 3 bytes"                -r "$BAD" apdu 00A4040C 002000
row 2 "'00A4040C' is not hex|not both"                  -r "$BAD" apdu -f "$tmp/lc.apdu" 00A4040C
row 2 "--apdu 0020008007010203040506 is not an APDU: Lc 07" -r "$BAD" bench --apdu 0020008007010203040506
row 2 "--rounds takes 10 to 1000000, not '4294967306'"  -r "$BAD" bench --rounds 4294967306
# subcommands and their arguments
row 2 "unknown subcommand 'resetxyz'"                   -r "$BAD" resetxyz
row 2 "unexpected argument 'banana'"                    -r "$BAD" reset banana cold
row 2 "--warm and --cold exclude each other"            -r "$BAD" reset --warm --cold
row 2 "--warm and --cold exclude each other"            -r "$BAD" reset --cold --warm
row 2 "--slots takes a slot count from 1 to 255, not '0'" -r "$BAD" locks --slots 0
row 2 "--slot takes a slot number from 0 to 255, not '256'" -r "$BAD" atr --slot 256
# uccid test: every suite checked, every reader named, before a reader is opened
row 2 "unterminated.suite:2: '\\$\\{' must be followed by a variable name" \
	-r "$BAD" test "$tmp/unterminated.suite"
row 2 "unset.suite:2: variable 'NOPE' is never set"     -r "$BAD" test "$tmp/unset.suite"
row 2 "unset-pattern.suite:3: variable 'B' is never set" -r "$BAD" test "$tmp/unset-pattern.suite"
row 2 "alias.suite:1: reader 'card' has no name"        test "$tmp/alias.suite"
# with no --reader, the only USB reader is the default: when there is not exactly one, a usage error
if [ "$("$UCCID" list 2>/dev/null | grep -c '^usb:')" != 1 ]; then
	row 2 "test: no reader given: run with --reader NAME" test "$tmp/ok.suite"
	grep -q '^not ok' "$tmp/out" && { echo "FAIL: uccid test without a reader ran tests"; fails=$((fails + 1)); }
fi

# The rows that need a reader: the virtual one, a single slot.
"$VREADER" --port 0 --control "$tmp/ctl" >"$tmp/vr.out" 2>&1 &
pid=$!
i=0
until port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/vr.out") && [ -n "$port" ]; do
	i=$((i + 1)); [ $i -gt 300 ] && { echo "FAIL: uccid-vreader did not start"; exit 1; }
	sleep 0.1
done
R1=usbip://127.0.0.1:$port/1-1
journal() {   # the host's commands to reader 1-1 slot 0 since entry $1
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "reader 1-1" "journal 0 ${1:-0}" >"$tmp/ctl.out"
}
journal_end() {
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "reader 1-1" "journal 0" >"$tmp/ctl.out"
	sed -n 's/^ok \([0-9]*\) entries.*/\1/p' "$tmp/ctl.out"
}
mark=$(journal_end)
row 2 "--slot 9: reader $R1 has 1 slot \\(0\\.\\.0\\)" -r "$R1" atr --slot 9
row 2 "--slot 1: reader $R1 has 1 slot"                -r "$R1" apdu --slot 1 00A4040C07F0756363696401
row 2 "--slot 3: reader $R1 has 1 slot"                -r "$R1" status --slot 3
row 2 "Lc 07 announces 7 data bytes but 6 follow"      -r "$R1" apdu 0020008007010203040506
row 2 "Lc 07 announces"                                -r "$R1" bench --apdu 0020008007010203040506
journal "$mark"
if grep -E 'IccPowerOn|XfrBlock' "$tmp/ctl.out" >/dev/null; then
	echo "FAIL: a refused command reached the card:"; sed 's/^/  | /' "$tmp/ctl.out" | head; fails=$((fails + 1))
else
	passes=$((passes + 1))
fi
# and the same reader does answer a good command, so the rows above could have failed
"$UCCID" -r "$R1" apdu 00A4040C07F0756363696401 >"$tmp/out" 2>&1 && grep -q '9000' "$tmp/out" &&
	passes=$((passes + 1)) || { echo "FAIL: a good APDU failed"; cat "$tmp/out"; fails=$((fails + 1)); }

echo "badinput: $passes passed, $fails failed"
[ "$fails" = 0 ]
