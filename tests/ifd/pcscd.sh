#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# uccid's IFD handler under the real pcscd: the test starts uccid-vreader
# (seven readers: tpdu-t1, extended-apdu, multi-slot, mechanical, tpdu-t0,
# then two TPDU readers whose cards offer T=0 and T=1, with T=1 and with T=0
# as their default protocol)
# and pcscd in the foreground with a reader.conf naming the readers by
# usbip:// and a bundle holding the freshly built libifd-uccid.so; then a
# second uccid-vreader with a reader without an interrupt endpoint under a
# second pcscd, for card swaps seen by polling, and a third with a reader
# declaring GemPC Pinpad's descriptor, under pcscd started with libccid's
# Info.plist keys set four ways.  pcscd
# 1.9.9 has a fixed socket (/run/pcscd) and USB drop directory, so both run
# in a private mount namespace (unshare -m): a tmpfs on /run/pcscd, an
# empty drop directory, and the host's pcscd, if any, untouched.
# Clients: pcsc_scan, opensc-tool -l/-a/-s, and tests/ifd/pcsc-client, which
# checks the vreader's journal after each PC/SC call.  pcscd's debug logs
# are kept in tests/ifd/pcscd-*.log as artifacts.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
top_builddir=$(cd "$top_builddir" && pwd)
so=$top_builddir/.libs/libifd-uccid.so
vreader=$top_builddir/vreader/uccid-vreader
client=$top_builddir/tests/ifd/pcsc-client
art=$top_builddir/tests/ifd

skip() { echo "SKIP: $*"; exit 77; }
[ -f "$so" ] || skip "no shared libifd-uccid.so (configured with --disable-shared)"
for p in pcscd pcsc_scan opensc-tool; do command -v $p >/dev/null || skip "$p is not installed"; done
command -v python3 >/dev/null || skip "python3 is needed as the control socket client"

if [ -z "${UCCID_IFD_NS:-}" ]; then
	command -v unshare >/dev/null || skip "unshare is needed for a private /run/pcscd"
	unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace (not root?)"
	UCCID_IFD_NS=1 exec unshare -m --propagation private "$SHELL" "$0" "$@"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ifd-pcscd.XXXXXX")
vr= vr2= vr3= pc= fails=0 passes=0
cleanup() {
	[ -n "$pc" ] && kill "$pc" 2>/dev/null && wait "$pc" 2>/dev/null
	[ -n "$vr" ] && kill "$vr" 2>/dev/null && wait "$vr" 2>/dev/null
	[ -n "$vr2" ] && kill "$vr2" 2>/dev/null && wait "$vr2" 2>/dev/null
	[ -n "$vr3" ] && kill "$vr3" 2>/dev/null && wait "$vr3" 2>/dev/null
	umount /usr/lib/pcsc/drivers 2>/dev/null; umount /run/pcscd 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$top_srcdir/tests/tool/lib.sh"
pass() { passes=$((passes + 1)); echo "ok: $*"; }
failed() { fails=$((fails + 1)); echo "FAIL: $*"; }

mkdir -p /run/pcscd "$tmp/drop" "$tmp/conf" "$tmp/conf-polled" "$tmp/conf-gempc" \
	"$tmp/bundle/ifd-uccid.bundle/Contents/Linux" \
	|| skip "cannot create /run/pcscd"
mount -t tmpfs tmpfs /run/pcscd || skip "cannot mount a tmpfs on /run/pcscd"
if [ -d /usr/lib/pcsc/drivers ]; then mount --bind "$tmp/drop" /usr/lib/pcsc/drivers || skip "bind mount"; fi

# The bundle: the built library and its generated Info.plist, with libccid's keys as given
# (ifdLogLevel 0x0007: critical, info, comm).
cp "$so" "$tmp/bundle/ifd-uccid.bundle/Contents/Linux/"
plist() {  # plist LOGLEVEL OPTIONS
	sed -e '/<key>ifdLogLevel<\/key>/{n;s|<string>.*</string>|<string>'"$1"'</string>|}' \
		-e '/<key>ifdDriverOptions<\/key>/{n;s|<string>.*</string>|<string>'"$2"'</string>|}' \
		"$top_builddir/ifd/Info.plist" > "$tmp/bundle/ifd-uccid.bundle/Contents/Info.plist"
}
plist 0x0007 0x0000
lib=$tmp/bundle/ifd-uccid.bundle/Contents/Linux/libifd-uccid.so

"$vreader" --port 0 --profile tpdu-t1 --profile extended-apdu --profile multi-slot --profile mechanical \
	--profile tpdu-t0 --card both-t1 --profile tpdu-t1 --card both --profile tpdu-t1 \
	--card t1 --descriptor "$top_srcdir/tests/data/readers/Winbond.txt" --card t0 --profile char-t0 \
	--card both --profile char-t0 \
	--control "$tmp/ctl" > "$tmp/vr.out" 2>&1 &
vr=$!
vreader_wait "$vr" "$tmp/vr.out" || exit 1
ATR=$(sed -n 's/^reader 1-1:.*, ATR \(.*\)$/\1/p' "$tmp/vr.out" | tr -d ' ' | tr 'A-F' 'a-f')
n=1
for name in t1 ext multi mech t0 dual1 dual0 char1 char0 chardual; do
	printf 'FRIENDLYNAME "uccid %s"\nDEVICENAME usbip://127.0.0.1:%s/1-%s\nLIBPATH %s\n\n' "$name" "$port" $n "$lib"
	n=$((n + 1))
done > "$tmp/conf/uccid"

ask() {  # ask LINES...: the control socket's replies
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "$@"
}

conf=$tmp/conf nreaders=13
readers_listed() {  # a client sees $nreaders readers (the multi-slot one counts as 4)
	[ "$(timeout 5 opensc-tool -l 2>/dev/null | grep -c 'uccid ')" -ge "$nreaders" ]
}
start_pcscd() {  # start_pcscd LOGNAME [ENV=VALUE...]: pcscd on $conf, until it lists $nreaders readers
	log=$art/pcscd-$1.log; shift
	env "$@" UCCID_IFD_DEADLINE_MS=3000 pcscd -f -a -d -c "$conf" > "$log" 2>&1 &
	pc=$!
	wait_until -p "$pc" "pcscd lists $nreaders readers" readers_listed ||
		{ failed "pcscd did not list $nreaders readers"; tail -30 "$log"; return 1; }
}
stop_pcscd() {
	kill "$pc"; wait "$pc"; pc=
}
run() {  # run NAME COMMAND...: one client run, its output indented
	name=$1; shift
	if "$@" > "$tmp/out" 2>&1; then pass "$name"; else failed "$name"; fi
	sed 's/^/    /' "$tmp/out"
}
C="timeout 60 $client --ctl $tmp/ctl"

start_pcscd main || exit 1

# pcsc_scan and opensc-tool see the readers and the cards
timeout 10 pcsc_scan -r > "$tmp/scan" 2>&1
[ "$(grep -c 'uccid ' "$tmp/scan")" -ge 10 ] && pass "pcsc_scan -r lists 10 readers" \
	|| { failed "pcsc_scan -r"; cat "$tmp/scan"; }
timeout 10 pcsc_scan -t 2 -n > "$tmp/scan" 2>&1
grep -q -i "$(echo "$ATR" | sed 's/../& /g;s/ $//')" "$tmp/scan" && pass "pcsc_scan shows the ATR" \
	|| { failed "pcsc_scan: no ATR"; tail -20 "$tmp/scan"; }
timeout 10 opensc-tool -l > "$tmp/l" 2>&1
grep -q 'uccid multi 02 03' "$tmp/l" && pass "opensc-tool -l: the multi-slot reader as 4 readers" \
	|| { failed "opensc-tool -l"; cat "$tmp/l"; }
ATR0=$(sed -n 's/^reader 1-5:.*, ATR \(.*\)$/\1/p' "$tmp/vr.out" | tr -d ' ' | tr 'A-F' 'a-f')
for r in 0 1 2 5 6 7; do
	want=$ATR; [ $r = 7 ] && want=$ATR0      # reader 7: the T=0 card
	atr=$(timeout 10 opensc-tool -r $r -a 2>&1 | tr -d ':\n ' | tr 'A-F' 'a-f')
	[ "$atr" = "$want" ] && pass "opensc-tool -r $r -a" || failed "opensc-tool -r $r -a: '$atr', want '$want'"
done
timeout 10 opensc-tool -r 1 -s '00 A4 04 0C 07 F0 75 63 63 69 64 01' -s '80 10 00 04 02 AA BB 00' > "$tmp/s" 2>&1
grep -q 'AA BB 00 01 02 03' "$tmp/s" && pass "opensc-tool -s: ECHO through pcscd" || { failed "opensc-tool -s"; cat "$tmp/s"; }

# sessions with every disposition, journal checked
C1="$C --bus 1-1"
run "session t1" $C1 session "uccid t1"
run "session extended" $C --bus 1-2 session "uccid ext" --extended
run "session t0" $C --bus 1-5 session "uccid t0"
run "session multi-slot" $C --bus 1-3 session "uccid multi 02 00"

# the protocol the application asks for (IFDHSetProtocolParameters): T=0 on a card whose default
# is T=1 and the reverse, each switch a PPS and SetParameters for it in the journal
run "protocol T=0 on a T=1 card" $C --bus 1-6 protocol "uccid dual1" T0 T1 T0
run "protocol T=1 on a T=0 card" $C --bus 1-7 protocol "uccid dual0" T1 T0 T1

# every SCARD_ATTR_* through SCardGetAttrib, against the virtual reader's descriptors and journal;
# the table is kept as an artifact
run "attributes t1" $C1 attrs "uccid t1" "$ATR"
sed -n 's/^attr //p' "$tmp/out" > "$art/attributes-t1.txt"
run "attributes t0" $C --bus 1-5 attrs "uccid t0" "$ATR0"

# the part 10 limits tell the truth, and refusing an extended APDU is one IFD code
# (IFD_NOT_SUPPORTED, 614) at every level; pcscd logs the driver's code
mark=$(wc -l < "$art/pcscd-main.log")
run "limits t0" $C --bus 1-5 limits "uccid t0"
run "limits short APDU" $C --bus 1-3 limits "uccid multi 02 00"
run "limits t1" $C1 limits "uccid t1"
run "limits extended APDU" $C --bus 1-2 limits "uccid ext"
codes=$(tail -n +$((mark + 1)) "$art/pcscd-main.log" \
	| sed -n 's/.*IFDTransmit() Card not transacted: \([0-9]*\)$/\1/p' | sort | uniq -c | tr -s ' ')
[ "$codes" = " 2 614" ] && pass "both refusals are IFD code 614 (IFD_NOT_SUPPORTED)" \
	|| failed "the refusals' IFD codes in pcscd's log: '$codes', want twice 614"

# character-level readers (the host runs T=0 procedure bytes, T=1 framing and PPS): Winbond's
# descriptor with a T=1 card, char-t0 with a T=0 card, and a PPS to T=1 and back at character level
run "session char T=1 (Winbond)" $C --bus 1-8 session "uccid char1"
run "limits char T=1" $C --bus 1-8 limits "uccid char1"
run "limits char T=0" $C --bus 1-9 limits "uccid char0"
run "protocol char T=1 on a T=0 card" $C --bus 1-10 protocol "uccid chardual" T1 T0 T1

# card events within 1 s, through the polling function
run "events t1" $C1 events "uccid t1" 0
run "events multi-slot 2" $C --bus 1-3 events "uccid multi 02 02" 2

# cards swapped with no gap (one NotifySlotChange "present, changed") while a handle is held:
# pcscd sees each as a removal and an insertion
run "100 swaps, NotifySlotChange" $C1 swaps "uccid t1" 100

# uccid's control codes; escape refused by default; eject on a latch and on a mechanism
run "control, latch eject" $C1 control "uccid t1" 0
run "control, mechanical eject" $C --bus 1-4 control "uccid mech" 0
ask "reader 1-1" "remove 0" "insert 0" > /dev/null    # take the latched card out and back
ask "reader 1-4" "insert 0" > /dev/null

# a client killed while holding a transaction: the card is reset first.  The next client
# retries SCardConnect while pcscd is cleaning up after the dead one (pcsc_client.c).
start_holder() {  # start_holder: a client in a transaction, with a verified PIN; sets holder, mark
	: > "$tmp/hold"    # here, not only in the child: the last holder's "holding" must not count
	$client --ctl "$tmp/ctl" hold "uccid t1" > "$tmp/hold" 2>&1 &
	holder=$!
	wait_for -p $holder "$tmp/hold" '^holding$' || failed "the holder did not start"
	mark=$(ask "reader 1-1" "journal 0" | sed -n 's/^ok \([0-9]*\) entries$/\1/p')
}
start_holder
kill -9 $holder; wait $holder 2>/dev/null
run "killed holder" $C1 after-kill "uccid t1" "${mark:-0}"
# ... and a client already waiting for the card when the holder is killed gets it.  pcscd
# has its SCardConnect wait for the transaction to end (and logs "Waiting for release of
# lock"); cleaning up after the dead holder it ends the transaction, then resets the card,
# then drops the holder's handle.  With every answer 500 ms late the waiting connect wakes
# (pcscd polls the lock every 100 ms) during the reset, and races the end of the clean-up:
# about one run in two pcscd refuses it with SCARD_E_SHARING_VIOLATION, and it retries.
start_holder
waits=$(grep -c 'SCardConnect() Waiting for release of lock' "$log")
: > "$tmp/next"
$C1 after-kill "uccid t1" "${mark:-0}" > "$tmp/next" 2>&1 &
next=$!
wait_for -p $next -n $((waits + 1)) "$log" 'SCardConnect\(\) Waiting for release of lock' ||
	failed "pcscd did not have the next client wait"
ask "reader 1-1" "fault latency 500 count=0" > /dev/null
kill -9 $holder; wait $holder 2>/dev/null
if wait $next; then pass "killed holder, the next client waiting"; else failed "killed holder, the next client waiting"; fi
sed 's/^/    /' "$tmp/next"
ask "reader 1-1" "fault clear" > /dev/null

# faults: a PC/SC error within the deadline (3 s here), pcscd stays responsive
# every answer faulty until cleared; endless-wtx on one answer (on all, the
# Abort's answer would never come either and the reader would stay busy)
for f in mute garbage truncated length-huge wrong-seq slot-busy stall hw-error; do
	run "fault $f" $C1 fault "uccid t1" $f 3000 0
done
run "fault endless-wtx" $C1 fault "uccid t1" endless-wtx 3000 1
# a transient fault, one answer: T=1 recovery (ISO 7816-3 §11.6.3) or the
# CMD_SLOT_BUSY retry gets the APDU through, as libccid does not
for f in mute slot-busy; do
	run "fault $f once" $C1 fault "uccid t1" $f 3000 1 recover
	grep -q "^ok $f: SCardTransmit succeeded after .* (recovered)" "$tmp/out" && pass "$f once: recovered" \
		|| failed "$f once: the APDU failed"
done
kill -0 "$pc" 2>/dev/null && pass "pcscd survived the faults" || failed "pcscd died"
stop_pcscd

# escape allowed by the environment override; then the benchmark figure
start_pcscd escape UCCID_IFD_OPTIONS=0x0001 || exit 1
run "control, escape allowed" $C1 control "uccid t1" 1
stop_pcscd

# a reader without an interrupt endpoint: a swapped card is one polled "present, inactive"
"$vreader" --port 0 --no-interrupt --profile tpdu-t1 --control "$tmp/ctl2" > "$tmp/vr2.out" 2>&1 &
vr2=$!
vreader_wait "$vr2" "$tmp/vr2.out" || exit 1
port2=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/vr2.out")
printf 'FRIENDLYNAME "uccid polled"\nDEVICENAME usbip://127.0.0.1:%s/1-1\nLIBPATH %s\n\n' "$port2" "$lib" \
	> "$tmp/conf-polled/uccid"
conf=$tmp/conf-polled nreaders=1
start_pcscd polled || exit 1
run "100 swaps, polled" timeout 120 $client --ctl "$tmp/ctl2" --bus 1-1 swaps "uccid polled" 100
stop_pcscd

# libccid's Info.plist keys keep their meaning: a reader declaring GemPC Pinpad's descriptor
# (08E6:3478, no automatic voltage selection) whose card answers only at 1.8 V; and a GemPC Twin
# (08E6:3437: TPDU level declared, short APDUs after the vendor Escape 1F 02, ifdDriverOptions 0x0002)
"$vreader" --port 0 --card-voltages 4 --descriptor "$top_srcdir/tests/data/readers/GemPCPinpad.txt" \
	--card-voltages 0 --card t1 --descriptor "$top_srcdir/tests/data/readers/GemPCTwin.txt" \
	--control "$tmp/ctl3" > "$tmp/vr3.out" 2>&1 &
vr3=$!
vreader_wait "$vr3" "$tmp/vr3.out" || exit 1
port3=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/vr3.out")
printf 'FRIENDLYNAME "uccid gempc"\nDEVICENAME usbip://127.0.0.1:%s/1-%s\nLIBPATH %s\n\n' \
	"$port3" 1 "$lib" "$port3" 2 "$lib" | sed '5s/gempc/gemtwin/' > "$tmp/conf-gempc/uccid"
conf=$tmp/conf-gempc nreaders=2
keys_run() {  # keys_run NAME LOGLEVEL OPTIONS: pcscd with these keys until the card is up; sets $j, $log
	plist "$2" "$3"
	# a fresh card: pcscd 1.9.9 exits on SIGTERM without closing its readers, and leaves it powered
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl3" "swap 0" "journal clear" "reader 1-2" "journal clear" \
		> /dev/null
	start_pcscd "keys-$1" || return 1
	timeout 10 opensc-tool -r 0 -a > /dev/null 2>&1      # connected: the power-up is over
	j=$(python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl3" "journal 0")
	# the GemPC Twin: its journal from pcscd's open to the first SELECT, then a whole PC/SC
	# session, every disposition
	timeout 10 opensc-tool -r 1 -s 00:A4:04:0C:07:F0:75:63:63:69:64:01 > /dev/null 2>&1
	jt=$(python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl3" "reader 1-2" "journal 0")
	timeout 60 $client --ctl "$tmp/ctl3" --bus 1-2 session "uccid gemtwin" > "$tmp/twin" 2>&1; twin_rc=$?
	stop_pcscd
	log=$art/pcscd-keys-$1.log
}
power_ups() {  # the bPowerSelect of the first N IccPowerOn in $j
	echo "$j" | sed -n 's/.* host PC_to_RDR_IccPowerOn .* b7=\(..\) .*/\1/p' | head -n "$1" | tr '\n' ' '
}
check() {  # check WHAT COMMAND...
	if "$@"; then pass "$what"; else failed "$what"; fi
}
keys_run a 0x0003 0x0050 && {
	what="ifdDriverOptions 0x0010: 3 V first, then 5 V, then 1.8 V ($(power_ups 3))"
	check [ "$(power_ups 3)" = "02 01 03 " ]
	what="ifdDriverOptions 0x0040: the GemPC Pinpad's retry-counter VERIFY turned off (escape B500)"
	check sh -c 'echo "$1" | grep -q "host PC_to_RDR_Escape .* data=B500"' - "$j"
	what="ifdDriverOptions without 0x0002: the GemPC Twin at TPDU level (T=1 blocks), no Escape 1F 02"
	check sh -c '[ "$3" = 0 ] && ! echo "$1" | grep -q "PC_to_RDR_Escape .* data=1F02" &&
		echo "$1" | grep -q "host PC_to_RDR_XfrBlock .* data=00..0C00A4040C07F0" &&
		! echo "$1" | grep -q "host PC_to_RDR_XfrBlock .* data=00A4040C07F0" || { cat "$2"; echo "$1"; false; }' - "$jt" "$tmp/twin" "$twin_rc"
	what="ifdLogLevel 0x0003: info lines, no comm or periodic lines"
	check sh -c 'grep -q "ifd-uccid info" "$1" && ! grep -q "ifd-uccid \(debug\|periodic\)" "$1"' - "$log"
}
keys_run b 0x0005 0x0020 && {
	what="ifdDriverOptions 0x0020: 1.8 V first ($(power_ups 1)), no escape without 0x0040"
	check sh -c '[ "$2" = "03 " ] && ! echo "$1" | grep -q PC_to_RDR_Escape' - "$j" "$(power_ups 1)"
	what="ifdLogLevel 0x0005: CCID frames, no info lines"
	check sh -c 'grep -q "ifd-uccid debug: .* -> 10: 62 " "$1" && ! grep -q "ifd-uccid info" "$1"' - "$log"
}
keys_run c 0x000B 0x0000 && {
	what="ifdDriverOptions 0x0000: 5 V first, then 1.8 V ($(power_ups 2))"
	check [ "$(power_ups 2)" = "01 03 " ]
	what="ifdLogLevel 0x000B: presence checks logged, no comm lines"
	check sh -c 'grep -q "ifd-uccid periodic: .*presence check" "$1" && ! grep -q "ifd-uccid debug" "$1"' - "$log"
}
keys_run d 0x0013 0x013A && {
	what="ifdDriverOptions 0x0030 on a reader without automatic selection: 5, 3, 1.8 V ($(power_ups 3))"
	check [ "$(power_ups 3)" = "01 02 03 " ]
	what="unknown bits are errors in the log, 0x0002 is not"
	check sh -c 'grep -q "ifdLogLevel: unknown bits 0x0010" "$1" && grep -q "ifdDriverOptions: unknown bits 0x0108" "$1" &&
		! grep -q "ifdDriverOptions: 0x0002" "$1"' - "$log"
	what="ifdDriverOptions 0x0002: the GemPC Twin gets Escape 1F 02 first, then short APDUs through a whole session"
	check sh -c '[ "$3" = 0 ] && echo "$1" | grep " host " | head -n 1 | grep -q "host PC_to_RDR_Escape .* data=1F02" &&
		echo "$1" | grep -q "host PC_to_RDR_XfrBlock .* data=00A4040C07F0" &&
		! echo "$1" | grep -q "host PC_to_RDR_XfrBlock .* data=00..0C00A4040C07F0" &&
		grep -q "quirk apdu-mode-gempc-twin" "$4" || { cat "$2"; echo "$1"; false; }' - "$jt" "$tmp/twin" "$twin_rc" "$log"
	what="ifdDriverOptions 0x0002: no Escape 1F 02 to the GemPC Pinpad, which has no such mode"
	check sh -c '! echo "$1" | grep -q "PC_to_RDR_Escape .* data=1F02"' - "$j"
}

grep -q "ifd-uccid" "$art/pcscd-main.log" && pass "the driver logs through pcscd's log" \
	|| failed "no ifd-uccid line in pcscd's log"
echo "$passes passed, $fails failed (pcscd logs: $art/pcscd-*.log)"
[ "$fails" -eq 0 ]
