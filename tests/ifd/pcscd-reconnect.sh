#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A USB/IP reader whose server restarts, under the real pcscd (issue 14):
# pcsc_scan sees the card removed when the server goes and a card inserted
# when it is back, and the same reader name answers APDUs again — pcscd
# is not restarted.  pcscd runs in a private mount namespace, as in
# tests/ifd/pcscd.sh; its debug log is kept in tests/ifd/pcscd-reconnect.log.
# Waits read pcsc_scan's lines as they come (a FIFO), each bounded.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
top_builddir=$(cd "$top_builddir" && pwd)
so=$top_builddir/.libs/libifd-uccid.so
vreader=$top_builddir/vreader/uccid-vreader
log=$top_builddir/tests/ifd/pcscd-reconnect.log

skip() { echo "SKIP: $*"; exit 77; }
[ -f "$so" ] || skip "no shared libifd-uccid.so (configured with --disable-shared)"
for p in pcscd pcsc_scan opensc-tool stdbuf python3; do command -v $p >/dev/null || skip "$p is not installed"; done
if [ -z "${UCCID_IFD_NS:-}" ]; then
	command -v unshare >/dev/null || skip "unshare is needed for a private /run/pcscd"
	unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace (not root?)"
	UCCID_IFD_NS=1 exec unshare -m --propagation private "$SHELL" "$0" "$@"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ifd-reconnect.XXXXXX")
vr= pc= scan= fails=0 passes=0
cleanup() {
	for p in $scan $pc $vr; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	umount /usr/lib/pcsc/drivers 2>/dev/null; umount /run/pcscd 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass() { passes=$((passes + 1)); echo "ok: $*"; }
failed() { fails=$((fails + 1)); echo "FAIL: $*"; }

mkdir -p /run/pcscd "$tmp/drop" "$tmp/conf" "$tmp/bundle/ifd-uccid.bundle/Contents/Linux" \
	|| skip "cannot create /run/pcscd"
mount -t tmpfs tmpfs /run/pcscd || skip "cannot mount a tmpfs on /run/pcscd"
if [ -d /usr/lib/pcsc/drivers ]; then mount --bind "$tmp/drop" /usr/lib/pcsc/drivers || skip "bind mount"; fi
cp "$so" "$tmp/bundle/ifd-uccid.bundle/Contents/Linux/"
sed -e '/<key>ifdLogLevel<\/key>/{n;s|<string>.*</string>|<string>3</string>|}' \
	"$top_builddir/ifd/Info.plist" > "$tmp/bundle/ifd-uccid.bundle/Contents/Info.plist"

mkfifo "$tmp/vr.fifo" "$tmp/scan.fifo"
"$vreader" --port 0 --profile tpdu-t1 --control "$tmp/ctl" > "$tmp/vr.fifo" 2>"$tmp/vr.err" &
vr=$!
exec 3<"$tmp/vr.fifo"
IFS= read -r line <&3
port=$(echo "$line" | sed -n 's/^listening on .*:\([0-9]*\)$/\1/p')
[ -n "$port" ] || { echo "FAIL: uccid-vreader did not start: $line"; exit 1; }
printf 'FRIENDLYNAME "uccid remote"\nDEVICENAME usbip://127.0.0.1:%s/1-1\nLIBPATH %s\n' "$port" \
	"$tmp/bundle/ifd-uccid.bundle/Contents/Linux/libifd-uccid.so" > "$tmp/conf/uccid"
pcscd -f -a -d -c "$tmp/conf" > "$log" 2>&1 &
pc=$!
# until a client sees the reader: re-checked every 50 ms, for 60 s at most (tests/tool/lib.sh's way)
i=0
until timeout 5 opensc-tool -l 2>/dev/null | grep -q 'uccid remote'; do
	i=$((i + 1)); [ $i -gt 1200 ] && { failed "pcscd did not list the reader"; tail -30 "$log"; exit 1; }
	kill -0 "$pc" 2>/dev/null || { failed "pcscd exited"; tail -30 "$log"; exit 1; }
	sleep 0.05
done

# pcsc_scan line by line (stdbuf: its output is a FIFO, not a terminal)
stdbuf -oL pcsc_scan -n > "$tmp/scan.fifo" 2>&1 &
scan=$!
exec 8<"$tmp/scan.fifo"
wait_line() {  # wait_line TEXT: until pcsc_scan prints a line containing TEXT (60 s at most)
	if timeout 60 sh -c 'while IFS= read -r l; do case "$l" in *"$1"*) exit 0 ;; esac; done; exit 1' \
		sh "$1" <&8; then pass "pcsc_scan: $1"; else failed "pcsc_scan never said '$1'"; tail -30 "$log"; exit 1; fi
}
select_ok() {  # select_ok WHAT: opensc-tool sends an APDU to reader 0
	if timeout 20 opensc-tool -r 0 -s '00 A4 04 0C 07 F0 75 63 63 69 64 01' > "$tmp/s" 2>&1 &&
		grep -q 'Received (SW1=0x90, SW2=0x00)' "$tmp/s"; then pass "$1"; else failed "$1"; cat "$tmp/s"; fi
}

wait_line "uccid remote"
wait_line "Card inserted"
select_ok "an APDU through pcscd"

python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "usbip restart 1500" > "$tmp/ctl.out" 2>&1
grep -q "ok usbip restart: 1 connection dropped" "$tmp/ctl.out" && pass "the server restarts" \
	|| failed "restart: $(cat "$tmp/ctl.out")"
start=$(date +%s%N)
wait_line "Card removed"
wait_line "Card inserted"
echo "pcscd-reconnect: the card back in pcscd $(( ($(date +%s%N) - start) / 1000000 - 1500 )) ms after the server"
select_ok "an APDU through the same reader, pcscd not restarted"
grep -q "the reader is unavailable; reconnecting" "$log" && grep -q "the reader is back" "$log" &&
	pass "the driver's log says why" || failed "no reconnect in pcscd's log"
kill "$pc" 2>/dev/null && wait "$pc" 2>/dev/null
pc=

echo "pcscd-reconnect: $passes passed, $fails failed"
[ "$fails" = 0 ]
