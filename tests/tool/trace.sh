#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Frame tracing of the uccid tool against the virtual reader: `uccid trace`
# and --trace print one line per CCID message (and the explanation with -v),
# nothing is traced unless asked, and --pcap writes a pcapng file that
# Debian's own tshark dissects as USB CCID with no "Decode As" (it learns the
# interface class from the GET_DESCRIPTOR records at the start), holding
# every transfer — bulk, interrupt (a watch across a removal and an
# insertion), class requests (the ABORT after a wrong-seq answer) — each
# submission and completion at its own time.  tshark comes with the build's
# packages (scripts/common.sh); the test is skipped (77) without it.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=${VREADER:-$top_builddir/vreader/uccid-vreader}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-trace.XXXXXX")
pid=
passes=0
fails=0
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"

"$VREADER" --port 0 --profile tpdu-t1 --control "$tmp/ctl" >"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1
R=usbip://127.0.0.1:$port/1-1
# the card's ATR as the virtual reader announces it: "reader 1-1: ..., ATR 3B 9B ... EA"
atr=$(sed -n 's/^reader 1-1: .*, ATR \([0-9A-F ]*\)$/\1/p' "$tmp/vr.out")
[ -n "$atr" ] || { echo "FAIL: no ATR in the virtual reader's banner"; cat "$tmp/vr.out"; exit 1; }

lacks() {
	if ! grep -qF -- "$2" "$tmp/$1"; then passes=$((passes + 1)); else
		echo "FAIL: $1 has '$2'"; sed 's/^/  | /' "$tmp/$1" | head -20; fails=$((fails + 1)); fi
}
check() {  # check DESCRIPTION COMMAND...: a shell condition
	what=$1; shift
	if "$@"; then passes=$((passes + 1)); else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
ctl() {  # ctl LINE...: one control connection, each line answered before the next
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "$@" >/dev/null
}

# uccid trace: the trace on stdout, one line per message, the ATR in the DataBlock's data
run 0 -r "$R" trace atr && has out "PC_to_RDR_IccPowerOn slot 0 seq " &&
	has out "RDR_to_PC_DataBlock slot 0 seq " && has out "bChainParameter 00 | $atr" &&
	has out "PC_to_RDR_XfrBlock slot 0 seq " && has out "T=1 offered"
check "trace lines have a direction and a time in ms" \
	grep -qE '^> +[0-9]+\.[0-9]{3} PC_to_RDR_IccPowerOn slot 0 seq [0-9A-F]{2} bPowerSelect 00$' "$tmp/out"
# --trace: the same on stderr; -v adds the codec's explanation of every field
run 0 -r "$R" --trace status && has err "PC_to_RDR_GetSlotStatus slot 0 seq " &&
	has err "RDR_to_PC_SlotStatus slot 0 seq " && lacks out "PC_to_RDR"
run 0 -r "$R" -v trace apdu 00A4040C07F0756363696401 && has out "| 00 00 0C 00 A4 04 0C 07 F0 75 63 63 69 64 01" &&
	has out "wLevelParameter          0000       APDU begins and ends in this message" && has out "9000  success"
# never traced unless asked: APDUs carry PINs
run 0 -r "$R" apdu "00 20 00 80 06 31 32 33 34 35 36" && lacks out "PC_to_RDR" && lacks err "PC_to_RDR" &&
	lacks err "31 32 33"
# the capture: an APDU, then the same with --trace to count messages against frames
run 0 -r "$R" --pcap "$tmp/apdu.pcapng" apdu 00A4040C07F0756363696401 && has out "9000  success" &&
	lacks err "PC_to_RDR"
run 0 -r "$R" --trace --pcap "$tmp/both.pcapng" apdu 00A4040C07F0756363696401
messages=$(grep -c '^[<>] ' "$tmp/err")
# a capture file that cannot be written: exit 1 before the reader is opened (the bogus name would be 2)
run 1 -r bogus --pcap "$tmp/no/such/dir/x.pcapng" atr && has err "cannot write $tmp/no/such/dir/x.pcapng" &&
	has err "No such file or directory"
run 2 trace && run 2 trace trace && has err "give the subcommand"
run 0 --help && has out "PINs"
# a watch across a removal and an insertion: the capture holds the interrupt transfers
${VALGRIND:-} "$UCCID" -r "$R" --pcap "$tmp/watch.pcapng" watch >"$tmp/watch.out" 2>"$tmp/watch.err" </dev/null &
wpid=$!
wait_for -p $wpid "$tmp/watch.out" " slot 0: inserted, ATR 3B" || fails=$((fails + 1))
ctl "remove"
wait_for -p $wpid "$tmp/watch.out" " slot 0: removed$" || fails=$((fails + 1))
ctl "insert"
wait_for -p $wpid -n 2 "$tmp/watch.out" " slot 0: inserted, ATR 3B" || fails=$((fails + 1))
kill -TERM $wpid
check "uccid watch --pcap ends cleanly on SIGTERM" wait $wpid
# a wrong-seq answer: the reader is aborted (CCID §5.3.1 class request, then PC_to_RDR_Abort)
ctl "fault wrong-seq"
run 1 -r "$R" --pcap "$tmp/abort.pcapng" apdu 00A4040C07F0756363696401

# Debian's tshark reads the capture
if ! command -v tshark >/dev/null 2>&1 || ! command -v capinfos >/dev/null 2>&1; then
	echo "$passes passed, $fails failed"
	[ "$fails" -eq 0 ] || exit 1
	echo "SKIP: tshark and capinfos are needed to check the pcapng file (apt-get install tshark)"
	exit 77
fi
tshark_() {  # tshark ARGS... > out: tshark's own warnings (running as root ...) to a file of their own
	tshark "$@" >"$tmp/out" 2>"$tmp/tshark.err"
}
check "capinfos reads the capture" capinfos "$tmp/apdu.pcapng" >"$tmp/capinfos" 2>&1
has capinfos "pcapng" && has capinfos "USB packets with Linux header and padding" && lacks capinfos "rror"
check "tshark -V reads the capture" tshark_ -r "$tmp/apdu.pcapng" -V
has out "bInterfaceClass: Smart Card (0x0b)" && has out "USB CCID" && has out "Message Type: PC_to_RDR_XfrBlock (0x6f)" &&
	has out "Message Type: PC_to_RDR_IccPowerOn (0x62)" && has out "Message Type: RDR_to_PC_DataBlock (0x80)" &&
	lacks out "Malformed" && lacks out "Expert Info" && lacks tshark.err "rror"
check "tshark -T fields reads the capture" tshark_ -r "$tmp/apdu.pcapng" -T fields -e usbccid.bMessageType
has out "0x62" && has out "0x6f" && has out "0x80" && has out "0x63" && has out "0x81"
# every message the trace printed is one CCID frame (OUT in the submission, IN in the completion)
check "tshark -T fields reads the second capture" tshark_ -r "$tmp/both.pcapng" -Y usbccid -T fields \
	-e usbccid.bMessageType
frames=$(grep -c . "$tmp/out")
check "as many CCID frames ($frames) as traced messages ($messages)" test "$frames" -eq "$messages" -a "$messages" -gt 4
# each URB's completion at its own time, never before its submission; some later than it
check "tshark reads URB ids and times" tshark_ -r "$tmp/apdu.pcapng" -T fields -e usb.urb_id -e usb.urb_type \
	-e frame.time_epoch
check "every completion at or after its submission, $(awk '$2 == "\047S\047" { s[$1] = $3 }
	$2 == "\047C\047" && $3 > s[$1] { n++ } END { print n + 0 }' "$tmp/out") of them later" \
	awk '$2 == "\047S\047" { s[$1] = $3 }
	$2 == "\047C\047" { if (!($1 in s) || $3 < s[$1]) bad++; else if ($3 > s[$1]) later++ }
	END { exit !(bad == 0 && later > 0) }' "$tmp/out"
# the watch: RDR_to_PC_NotifySlotChange (50) completing interrupt transfers (type 1): slot 0
# present and changed (03) at the start and on the insertion, absent and changed (02) on the removal
check "tshark reads the watch capture" tshark_ -r "$tmp/watch.pcapng" -Y "usb.transfer_type == 0x01" -T fields \
	-e usb.urb_type -e usb.capdata
lacks out "Malformed"
check "interrupt completions: the first report, a removal and an insertion" \
	awk '$1 == "\047C\047" && $2 == "5003" { i++ } $1 == "\047C\047" && $2 == "5002" { r++ }
	END { exit !(i >= 2 && r >= 1) }' "$tmp/out"
# the abort: ABORT (bRequest 1) to the interface, class (bmRequestType 0x21), then PC_to_RDR_Abort (0x72)
check "tshark reads the abort capture" tshark_ -r "$tmp/abort.pcapng" -T fields -e usb.bmRequestType \
	-e usb.setup.bRequest -e usbccid.bMessageType
check "the ABORT class request" grep -qE '^0x21[[:space:]]+1([[:space:]]|$)' "$tmp/out"
has out "0x72"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
