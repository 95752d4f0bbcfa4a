#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Real cards' ATRs under the real pcscd with uccid's bundle: the virtual reader
# (a TPDU reader running T=0 and T=1) takes each ATR through its control socket
# ("atr HEX", then "swap"), pcscd powers the new card up through
# IFDHPowerICC, reports the ATR as the card sent it, and a connection exchanges
# SELECT (tests/ifd/pcsc-client atrs).  Every ATR of pcsc-tools'
# smartcard_list.txt (3803 in 1.6.2: about 15 s); ATR_CORPUS=sample takes its
# defective ATRs (tests/check_atr_corpus --defective) and 20 others spread over
# the list.  pcscd runs in a private mount namespace as in tests/ifd/pcscd.sh;
# its log is kept as tests/ifd/pcscd-atr.log.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
top_builddir=$(cd "$top_builddir" && pwd)
so=$top_builddir/.libs/libifd-uccid.so
vreader=$top_builddir/vreader/uccid-vreader
client=$top_builddir/tests/ifd/pcsc-client
art=$top_builddir/tests/ifd
LIST=${UCCID_ATR_LIST:-/usr/share/pcsc/smartcard_list.txt}

skip() { echo "SKIP: $*"; exit 77; }
[ -f "$so" ] || skip "no shared libifd-uccid.so (configured with --disable-shared)"
command -v pcscd >/dev/null || skip "pcscd is not installed"
[ -r "$LIST" ] || skip "$LIST is not installed (Debian's pcsc-tools)"

if [ -z "${UCCID_IFD_NS:-}" ]; then
	command -v unshare >/dev/null || skip "unshare is needed for a private /run/pcscd"
	unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace (not root?)"
	UCCID_IFD_NS=1 exec unshare -m --propagation private "$SHELL" "$0" "$@"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ifd-atr.XXXXXX")
vr= pc=
cleanup() {
	[ -n "$pc" ] && kill "$pc" 2>/dev/null && wait "$pc" 2>/dev/null
	[ -n "$vr" ] && kill "$vr" 2>/dev/null && wait "$vr" 2>/dev/null
	umount /usr/lib/pcsc/drivers 2>/dev/null; umount /run/pcscd 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$top_srcdir/tests/tool/lib.sh"

mkdir -p /run/pcscd "$tmp/drop" "$tmp/conf" "$tmp/bundle/ifd-uccid.bundle/Contents/Linux" \
	|| skip "cannot create /run/pcscd"
mount -t tmpfs tmpfs /run/pcscd || skip "cannot mount a tmpfs on /run/pcscd"
if [ -d /usr/lib/pcsc/drivers ]; then mount --bind "$tmp/drop" /usr/lib/pcsc/drivers || skip "bind mount"; fi
cp "$so" "$tmp/bundle/ifd-uccid.bundle/Contents/Linux/"
cp "$top_builddir/ifd/Info.plist" "$tmp/bundle/ifd-uccid.bundle/Contents/Info.plist"
lib=$tmp/bundle/ifd-uccid.bundle/Contents/Linux/libifd-uccid.so

# the ATRs: every exact one of the list, or the defective ones and 20 others
grep -E '^3[BF][0-9A-F ]*$' "$LIST" | tr -d ' ' | sort -u > "$tmp/all"
if [ "${ATR_CORPUS:-all}" = all ]; then
	cp "$tmp/all" "$tmp/atrs"
else
	"$top_builddir/tests/check_atr_corpus" --defective > "$tmp/defective" 2>/dev/null || exit 1
	grep -v -x -F -f "$tmp/defective" "$tmp/all" > "$tmp/clean"
	step=$(($(wc -l < "$tmp/clean") / 20))
	awk -v s="$step" 'NR % s == 1' "$tmp/clean" | head -20 > "$tmp/others"
	cat "$tmp/defective" "$tmp/others" > "$tmp/atrs"
fi
echo "$(wc -l < "$tmp/atrs") ATRs"

"$vreader" --port 0 --card both --profile tpdu-t1 --control "$tmp/ctl" > "$tmp/vr.out" 2>&1 &
vr=$!
vreader_wait "$vr" "$tmp/vr.out" || exit 1
printf 'FRIENDLYNAME "uccid atr"\nDEVICENAME usbip://127.0.0.1:%s/1-1\nLIBPATH %s\n\n' "$port" "$lib" \
	> "$tmp/conf/uccid"

listed() { [ "$(timeout 5 "$client" list 2>/dev/null | grep -c 'uccid atr')" -ge 1 ] ||
	timeout 5 pcsc_scan -r 2>/dev/null | grep -q 'uccid atr'; }
pcscd -f -a -d -c "$tmp/conf" > "$art/pcscd-atr.log" 2>&1 &
pc=$!
wait_until -p "$pc" "pcscd lists the reader" listed || { tail -30 "$art/pcscd-atr.log"; exit 1; }

timeout 3600 "$client" --ctl "$tmp/ctl" --bus 1-1 atrs "uccid atr" "$tmp/atrs" > "$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
# pcscd decides the protocols from the ATR itself, before the driver is asked: it refuses a
# connection for T=0 or T=1 to a card whose ATR offers neither (only T=14, or a TA2 for T=4
# or T=7), and to one whose TD1 names T=15 (invalid there, ISO 7816-3 8.2.3; its log says
# "Protocol T=1 requested but unsupported by the card"), whatever the driver.  Any other
# refusal is a failure.
for a in $(sed -n 's/^proto-mismatch //p' "$tmp/out"); do
	why=$("$top_builddir/tool/uccid" --json decode atr "$a" | python3 -c '
import json, re, sys
f = json.load(sys.stdin)["fields"]
d = {x["name"]: x for x in f if x["kind"] == "derived"}
v = {x["name"]: x for x in f if x["kind"] == "value"}
m = re.match(r"specific mode: T=(\d+)", d["mode"]["text"])
if (m and int(m.group(1)) > 1) or not d["protocols"]["value"] & 3:
    print("offers neither T=0 nor T=1")
elif "TD1" in v and v["TD1"]["value"] & 0x0F == 15:
    print("TD1 names T=15")')
	if [ -n "$why" ]; then
		echo "ok $a: $why (pcscd refuses it whatever the driver)"
	else
		echo "FAIL $a: pcscd refused a card offering T=0 or T=1"; rc=1
	fi
done
grep -c "defective ATR" "$art/pcscd-atr.log" | sed 's/^/warnings in the pcscd log (defective ATR): /'
exit $rc
