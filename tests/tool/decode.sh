#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# uccid decode as a user sees it: output, --json, exit status, and the error
# message for each kind of bad input (byte offset and what was expected).
set -u
top_builddir=${top_builddir:-.}
UCCID=${UCCID:-$top_builddir/tool/uccid}
[ -x "$UCCID" ] || UCCID=$top_builddir/tool/uccid
fails=0
passes=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run WANT_STATUS ARGS... : runs uccid, keeps stdout/stderr in $tmp
run() {
	want=$1; shift
	${VALGRIND:-} "$UCCID" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: uccid $* exited $got, expected $want"; sed 's/^/  stderr: /' "$tmp/err"
		fails=$((fails + 1)); return 1
	fi
	passes=$((passes + 1))
}
# has FILE TEXT : the output (out/err) contains TEXT
has() {
	if grep -qF -- "$2" "$tmp/$1"; then passes=$((passes + 1)); else
		echo "FAIL: $1 lacks '$2'"; sed 's/^/  | /' "$tmp/$1" | head -20; fails=$((fails + 1)); fi
}
json_ok() {
	if command -v python3 >/dev/null; then
		if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
			"$tmp/out" "$1"; then passes=$((passes + 1)); else
			echo "FAIL: JSON check '$1' on:"; head -c 600 "$tmp/out"; echo; fails=$((fails + 1)); fi
	fi
}

QEMU_ATR="3B 7A 18 00 00 73 66 74 65 20 63 64 31 34 34"
T1_ATR="3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90 00 74"
CLASS="36 21 0001 00 07 03000000 A00F0000 A00F0000 00 002A0000 90D00300 00 F7000000 00000000 00000000 30000100 0F010000 00 00 0000 00 01"
EPS="07 05 81 02 4000 00 07 05 02 02 4000 00 07 05 83 03 0800 10"

# --- ATR ---
run 0 decode atr $QEMU_ATR && has out "T=0 offered" && has out "Fi=372 Di=12"
cp "$tmp/out" "$tmp/canonical"
run 0 decode atr "3b:7a:18:00:00:73:66:74:65:20:63:64:31:34:34"
cmp -s "$tmp/out" "$tmp/canonical" && passes=$((passes + 1)) || { echo "FAIL: colon/lower-case hex decodes differently"; fails=$((fails + 1)); }
run 0 decode atr 0x3B 0x7A 0x18 0x00 0x00 0x73 0x66 0x74 0x65 0x20 0x63 0x64 0x31 0x34 0x34
cmp -s "$tmp/out" "$tmp/canonical" && passes=$((passes + 1)) || { echo "FAIL: 0x hex decodes differently"; fails=$((fails + 1)); }
echo "$QEMU_ATR" | ${VALGRIND:-} "$UCCID" decode atr - >"$tmp/out" 2>"$tmp/err"
cmp -s "$tmp/out" "$tmp/canonical" && passes=$((passes + 1)) || { echo "FAIL: stdin hex decodes differently"; fails=$((fails + 1)); }
run 0 decode atr $T1_ATR && has out "T=1" && has out "TCK"
# a defective ATR is explained with a finding per defect (exit 0, as ATR_analysis); only a non-ATR is refused
run 0 decode atr 3B DB 96 00 80 B1 FE 45 1F 83 00 31 && has out "warning: historical bytes (offset 12)" \
	&& has out "9 historical byte(s) missing" && has out "TCK missing at byte 12"
run 0 decode atr 3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90 00 75 \
	&& has out "wrong TCK at byte 21: expected 74, found 75" && has out "WRONG"
run 0 decode atr 3B 02 14 50 00 && has out "1 extra byte(s) at byte 4 after a T=0-only ATR"
run 0 decode atr 3B 02 14 50 46 && has out "TCK at byte 4 though only T=0 is indicated"
run 0 decode atr 3B 00 01 02 && has out "extra bytes  " && has out "2 extra byte(s) at byte 2 after a T=0-only ATR"
run 0 decode atr 3B && has out "truncated at byte 1: expected T0"
run 2 decode atr 12 34 && has err "byte 0 (12)"
run 2 decode atr 3C 00 && has err "byte 0 (3C)"
run 0 --json decode atr $QEMU_ATR && json_ok 'd["kind"]=="atr" and d["length"]==15 and d["fields"][0]["name"]=="TS"'
run 0 --json decode atr 3B DB 96 && json_ok 'd["findings"][0]["defect"]=="truncated" and d["findings"][0]["offset"]==3 and d["findings"][0]["expected"]=="TC1" and d["findings"][0]["found"]=="end of input"'
run 0 --json decode atr 3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90 00 75 \
	&& json_ok '[(f["defect"], f["offset"], f["expected"], f["found"]) for f in d["findings"]]==[("wrong-tck", 21, "74", "75")]'
run 0 --json decode atr $QEMU_ATR && json_ok 'd["findings"]==[]'
run 2 --json decode atr 3C 00 && json_ok 'd["error"]["kind"]=="invalid value" and d["error"]["offset"]==0'

# --- hex input errors ---
run 2 decode atr 3B 7G && has err "'G' at character 5"
run 2 decode atr 3B 7 && has err "odd number of hex digits"
run 2 decode atr "" && has err "no bytes to decode"

# --- descriptors ---
run 0 decode descriptor $CLASS && has out "TPDU level exchange" && has out "4.000 MHz" && has out "271 bytes"
run 0 --json decode descriptor $CLASS && json_ok 'd["kind"]=="class_descriptor" and d["findings"]==[] and any(f["name"]=="dwFeatures" and any(x["text"]=="TPDU level exchange" for x in f.get("flags",[])) for f in d["fields"])'
IFSD506=$(echo "$CLASS" | sed 's/F7000000/FA010000/')
run 0 decode descriptor $IFSD506 && has out "warning: dwMaxIFSD (offset 28)"
TWOLEVELS=$(echo "$CLASS" | sed 's/30000100/30000300/')
run 1 decode descriptor $TWOLEVELS && has out "error: dwFeatures (offset 40)"
run 2 decode descriptor 36 21 0001 && has err "truncated at byte 4"
# a configuration with the class descriptor after the endpoints (quirk)
run 0 decode descriptor 09 02 5D00 01 01 00 80 32 09 04 00 00 03 0B 00 00 00 $EPS $CLASS && has out "after the endpoints" && has out "EP 3 IN"
run 2 decode descriptor 09 02 5E00 01 01 00 80 32 09 04 00 00 03 0B 00 00 00 $EPS $CLASS && has err "truncated at byte 93"
run 1 decode descriptor 09 02 1200 01 01 00 80 32 09 04 00 00 00 03 00 00 00 && has out "no CCID interface"
run 0 decode descriptor 12 01 0002 00 00 00 40 2F07 CC90 0001 01 02 03 01 && has out "072f"
run 2 decode descriptor 09 05 00 && has err "expected 21 (CCID class)"

# --- messages ---
run 0 decode message 62 00000000 00 07 01 0000 && has out "PC_to_RDR_IccPowerOn" && has out "5.0 V"
run 0 decode message 80 05000000 00 2A 40 FE 00 0102030405 && has out "ICC_MUTE"
run 0 decode message 61 07000000 00 0D 01 0000 11 10 00 4D 00 20 00 && has out "BWI = 4, CWI = 13"
run 2 decode message 64 00000000 00 00 000000 && has err "invalid value at byte 0 (64)"
run 2 decode message 62 00000000 00 00 01 0100 && has err "at byte 8" && has err "RFU"
run 2 decode message 6F FFFFFFFF 00 00 000000 && has err "too long at byte 1"
run 2 decode message 6F 05000000 00 00 000000 00A4 && has err "truncated at byte 12"
run 0 decode message 50 C1 03 && has out "slot 4: card present (inserted)"
run 0 decode message --slots 1 50 03 && has out "slot 0: card present (inserted)"
run 2 decode message --slots 2 50 03 03 && has err "too long at byte 2"
run 2 decode message --slots 0 50 03 && has err "--slots takes a slot count"
run 0 decode message 51 00 07 01 && has out "overcurrent"
run 0 --json decode message 81 00000000 00 08 01 00 00 && json_ok 'd["kind"]=="bulk_message" and [x["name"] for x in d["fields"][4]["flags"]]==["bmICCStatus","bmCommandStatus"]'

# --- T=1 blocks and PPS ---
run 0 decode block 00 00 05 00 A4 04 00 00 A5 && has out "I-block"
run 2 decode block 00 00 05 00 A4 04 00 00 A6 && has err "byte 8 (A6)"
run 0 decode pps FF 10 96 79 && has out "Fi=512 Di=32"
run 2 decode pps FF 10 96 78 && has err "byte 3 (78)"

# --- command line ---
run 2 && has err "usage:"
run 2 frobnicate && has err "unknown subcommand 'frobnicate'"
run 2 decode && has err "say what to decode"
run 2 decode bogus 00 && has err "unknown kind 'bogus'"
run 0 --help && has out "decode"
run 0 --version && has out "uccid "
run 0 decode --help && has out "WHAT is one of"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
