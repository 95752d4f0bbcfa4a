#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# uccid selftest against the virtual reader: every profile is faithful, so
# each run exits 0 with no deviation and the JSON counts are the expected
# ones (T0APDU refused at TPDU level is "ok", Secure and Mechanical without a
# PIN pad or mechanism are "unsupported", the mechanism runs only with
# --mechanical and the eject leaves the slot empty, the card is left powered
# off).  Then deviations: a real reader's descriptor with dwMaxIFSD 506
# (a descriptor warning counts as a deviation), and faults injected through
# the control socket (an answer with the wrong bSeq, CMD_SLOT_BUSY on an idle
# slot, a stale duplicate, garbage, a bulk-IN STALL), each reported by the
# probe that met it, without hanging.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=${VREADER:-$top_builddir/vreader/uccid-vreader}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-selftest.XXXXXX")
pid=
passes=0
fails=0
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"

"$VREADER" --port 0 --profile tpdu-t0 --profile tpdu-t1 --profile short-apdu --profile extended-apdu \
	--profile multi-slot --profile mechanical --descriptor "$top_srcdir/tests/data/readers/ACS_ACR1581.txt" \
	--profile tpdu-t1 --t0-nulls 1 --t0-ack-each --profile char-t0 --control "$tmp/ctl" >"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1
R=usbip://127.0.0.1:$port

run() {  # run STATUS ARGS...: bounded, so that a hang is a failure
	want=$1; shift
	timeout 120 ${VALGRIND:-} "$UCCID" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" = "$want" ]; then passes=$((passes + 1)); return 0; fi
	echo "FAIL: uccid $* exited $got, want $want"; sed 's/^/  out: /' "$tmp/out" | head -40; sed 's/^/  err: /' "$tmp/err" | head
	fails=$((fails + 1)); return 1
}
has() {
	if grep -qF -- "$2" "$tmp/$1"; then passes=$((passes + 1)); else
		echo "FAIL: $1 lacks '$2'"; sed 's/^/  | /' "$tmp/$1" | head -40; fails=$((fails + 1)); fi
}
ctl() {  # ctl LINE...: one control connection; the replies go to $tmp/ctl.out
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "$@" >"$tmp/ctl.out"
}
# json SUMMARY [PROBE=VERDICT...]: the last --json output parses, has these counts and verdicts,
# every result has the four keys, and the summary adds up
json() {
	if python3 - "$tmp/out" "$@" <<'PY'; then passes=$((passes + 1)); else fails=$((fails + 1)); fi
import json, sys
d = json.load(open(sys.argv[1]))
ok = True
want = dict(zip(("ok", "deviation", "unsupported", "skipped"), map(int, sys.argv[2].split(","))))
if d["summary"] != want:
    print("FAIL: summary %s, want %s" % (d["summary"], want)); ok = False
counts = {k: 0 for k in want}
byname = {}
for r in d["results"]:
    if set(r) != {"probe", "verdict", "detail", "spec"} or not r["spec"].startswith("CCID §"):
        print("FAIL: result keys %s" % r); ok = False
    counts[r["verdict"]] += 1
    byname[r["probe"]] = r
if counts != d["summary"]:
    print("FAIL: the summary %s does not count the results %s" % (d["summary"], counts)); ok = False
for a in sys.argv[3:]:
    probe, verdict = a.split("=")
    got = byname.get(probe, {}).get("verdict")
    if got != verdict:
        print("FAIL: %s is %s, want %s: %s" % (probe, got, verdict, byname.get(probe, {}).get("detail"))); ok = False
if not ok:
    print(json.dumps(d, indent=1, ensure_ascii=False)[:4000])
sys.exit(0 if ok else 1)
PY
}

# every profile: no deviation (exit 0); 28 probes
run 0 -r "$R/1-1" selftest && has out "0 deviations" && has out "T0APDU                        ok"
run 0 -r "$R/1-1" --json selftest &&
	json 26,0,2,0 T0APDU=ok Secure=unsupported Mechanical=unsupported "SetParameters invalid=ok" \
		"error: bSlot=ok" "error: RFU byte=ok" "error: message type=ok" "error: dwLength=ok" Abort=ok
has out '"detail":"T=0 with bClockStop 04; refused with bError 14; parameters unchanged"'
has out 'TPDU T=0 SELECT MF'
run 0 -r "$R/1-2" selftest --json && json 26,0,2,0 T0APDU=ok XfrBlock=ok "SetParameters invalid=ok"
has out 'a T=1 S(IFS response) block' && has out 'T=1 with bIFSC 00; refused with bError 15'
for b in 1-3 1-4; do
	run 0 -r "$R/$b" --json selftest && json 26,0,2,0 T0APDU=ok "IccPowerOn warm=ok" && has out 'APDU SELECT MF; SW '
done
run 0 -r "$R/1-5" --json selftest --slot 3 && json 26,0,2,0 "error: bSlot=ok" && has out 'GetSlotStatus to slot 4'
run 2 -r "$R/1-5" selftest --slot 4 && has err "slot 4 does not exist"
# the card is left powered off
ctl "reader 1-1" "status" && has ctl.out "slot 0: card " && if grep -q "powered" "$tmp/ctl.out"; then
	echo "FAIL: selftest left the card powered"; cat "$tmp/ctl.out"; fails=$((fails + 1)); fi

# a mechanism: nothing moves without --mechanical; with it lock, unlock, eject, and the slot is empty
run 0 -r "$R/1-6" --json selftest && json 26,0,1,1 Mechanical=skipped && has out 'declares a mechanism'
ctl "reader 1-6" "status" && has ctl.out "slot 0: card"
run 0 -r "$R/1-6" --json selftest --mechanical &&
	json 29,0,1,0 "Mechanical lock=ok" "Mechanical unlock=ok" "Mechanical eject=ok" && has out 'the slot is empty'
ctl "reader 1-6" "status" && has ctl.out "slot 0: empty"
# an empty slot: the card probes are skipped, the others run
run 0 -r "$R/1-6" --json selftest &&
	json 13,0,1,14 GetParameters=skipped XfrBlock=skipped "IccPowerOn auto=skipped" "error: bSlot=ok"
ctl "reader 1-6" "insert"

# a real reader's descriptor: dwMaxIFSD 506 is a descriptor deviation; no clock or rate list (STALL allowed)
run 1 -r "$R/1-7" selftest && has out "1 deviation" && has out "warning dwMaxIFSD (offset 28): IFSD 506"
run 1 -r "$R/1-7" --json selftest &&
	json 23,1,4,0 descriptor=deviation GET_CLOCK_FREQUENCIES=unsupported GET_DATA_RATES=unsupported

# faults on reader 1-8 (tpdu-t1), each for one answer: reported where met, and the run goes on
ctl "reader 1-8" "fault wrong-seq"
run 1 -r "$R/1-8" --json selftest && json 24,2,2,0 GetSlotStatus=deviation "bSeq/bSlot echo=deviation" &&
	has out 'with bSlot 0 bSeq 01 matching no command in progress (sent bSlot 0 bSeq 00' &&
	has out 'no answer to PC_to_RDR_GetSlotStatus with its bSeq in'
ctl "reader 1-8" "fault slot-busy"
run 1 -r "$R/1-8" selftest && has out 'CMD_SLOT_BUSY although no command was outstanding on any slot (CCID §6.2.6)'
ctl "reader 1-8" "fault stale-duplicate count=3"
run 1 -r "$R/1-8" --json selftest && json 23,3,2,0 IccPowerOff=deviation "bSeq/bSlot echo=deviation"
ctl "reader 1-8" "fault garbage"
run 1 -r "$R/1-8" selftest && has out 'a malformed 10-byte answer (expected'
ctl "reader 1-8" "fault stall"
run 1 -r "$R/1-8" selftest && has out 'bulk-IN stalled 1 time'
ctl "reader 1-8" "fault clear"
run 0 -r "$R/1-8" selftest

# character level (1-9, a card sending NULL bytes and ACKing each byte): XfrBlock runs the T=0
# procedure bytes, wLevelParameter bytes back each time
run 0 -r "$R/1-9" --json selftest && json 26,0,2,0 XfrBlock=ok T0APDU=ok &&
	has out 'character level T=0 SELECT MF, procedure bytes by the host; SW 6A86 after 5 exchanges, 2 NULL bytes'

# usage
run 2 -r "$R/1-1" selftest --bogus
run 2 -r "$R/1-1" selftest extra && has err "unexpected argument"
run 2 -r "$R/1-1" selftest --slot x && has err "--slot takes a slot number"
run 0 selftest --help && has out "usage: uccid [-r NAME] selftest"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
