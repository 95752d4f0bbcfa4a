#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# PIN pads under the real pcscd with uccid's bundle: uccid-vreader exports
# the pinpad profile (short APDU level, a 2x16 display), pinpad-t1 (TPDU
# level, the card runs T=1: the driver frames the PIN block with its T=1
# state) and two real PIN pads by their descriptors (GemPC Pinpad and
# SCM SPR532, TPDU level, with their firmware's faults; the GemPC Pinpad
# again with a T=0 card: the reader frames the T=0 TPDU), and ACS ACR1251
# Dual, whose PIN pad is on its second CCID interface (interface 1, short
# APDU level), reached as a user names it: usbip://HOST/BUSID/1 in the
# reader.conf; pcscd runs in a private mount namespace as in tests/ifd/pcscd.sh.  tests/ifd/pcsc-pinpad
# discovers the features with CM_IOCTL_GET_FEATURE_REQUEST and verifies and
# changes the card's PIN through FEATURE_VERIFY_PIN_DIRECT /
# FEATURE_MODIFY_PIN_DIRECT as OpenSC does, while this script is the person
# at the keypad: it waits until the reader waits for a PIN (the control
# socket's "keypad" answers "ok waiting"), then types on it.  Cases per
# reader: the properties, the right PIN, a wrong one (63C2), cancel (64 01),
# the keypad's time-out (64 00), a PIN without a PIN block (Lc from the PIN),
# a change with confirmation, a confirmation that differs (64 02), and
# malformed structures refused with nothing typed.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
top_builddir=$(cd "$top_builddir" && pwd)
so=$top_builddir/.libs/libifd-uccid.so
vreader=$top_builddir/vreader/uccid-vreader
client=$top_builddir/tests/ifd/pcsc-pinpad
art=$top_builddir/tests/ifd
data=$top_srcdir/tests/data/readers

skip() { echo "SKIP: $*"; exit 77; }
[ -f "$so" ] || skip "no shared libifd-uccid.so (configured with --disable-shared)"
for p in pcscd opensc-tool; do command -v $p >/dev/null || skip "$p is not installed"; done
command -v python3 >/dev/null || skip "python3 is needed as the control socket client"

if [ -z "${UCCID_IFD_NS:-}" ]; then
	command -v unshare >/dev/null || skip "unshare is needed for a private /run/pcscd"
	unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace (not root?)"
	UCCID_IFD_NS=1 exec unshare -m --propagation private "$SHELL" "$0" "$@"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ifd-pinpad.XXXXXX")
vr= pc= cl= fails=0 passes=0 cases=0
cleanup() {
	[ -n "$cl" ] && kill "$cl" 2>/dev/null && wait "$cl" 2>/dev/null
	[ -n "$pc" ] && kill "$pc" 2>/dev/null && wait "$pc" 2>/dev/null
	[ -n "$vr" ] && kill "$vr" 2>/dev/null && wait "$vr" 2>/dev/null
	umount /usr/lib/pcsc/drivers 2>/dev/null; umount /run/pcscd 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$top_srcdir/tests/tool/lib.sh"
pass() { passes=$((passes + 1)); echo "ok: $*"; }
failed() { fails=$((fails + 1)); echo "FAIL: $*"; }

mkdir -p /run/pcscd "$tmp/drop" "$tmp/conf" "$tmp/bundle/ifd-uccid.bundle/Contents/Linux" || skip "cannot create /run/pcscd"
mount -t tmpfs tmpfs /run/pcscd || skip "cannot mount a tmpfs on /run/pcscd"
if [ -d /usr/lib/pcsc/drivers ]; then mount --bind "$tmp/drop" /usr/lib/pcsc/drivers || skip "bind mount"; fi
cp "$so" "$tmp/bundle/ifd-uccid.bundle/Contents/Linux/"
sed -e '/<key>ifdLogLevel<\/key>/{n;s|<string>.*</string>|<string>0x0003</string>|}' \
	"$top_builddir/ifd/Info.plist" > "$tmp/bundle/ifd-uccid.bundle/Contents/Info.plist"
lib=$tmp/bundle/ifd-uccid.bundle/Contents/Linux/libifd-uccid.so

"$vreader" --port 0 --profile pinpad --profile pinpad-t1 --descriptor "$data/GemPCPinpad.txt" \
	--descriptor "$data/SPR532.txt" --card t0 --descriptor "$data/GemPCPinpad.txt" \
	--descriptor "$data/ACS_ACR1251_Dual_Reader.txt" --control "$tmp/ctl" > "$tmp/vr.out" 2>&1 &
vr=$!
vreader_wait "$vr" "$tmp/vr.out" || exit 1
n=1
for name in pinpad pinpad-t1 gempc spr532 gempc-t0 acr1251; do
	dev=1-$n
	[ "$name" = acr1251 ] && dev=1-$n/1     # the keypad's interface: its first (PICC) has none
	printf 'FRIENDLYNAME "uccid %s"\nDEVICENAME usbip://127.0.0.1:%s/%s\nLIBPATH %s\n\n' "$name" "$port" "$dev" "$lib"
	n=$((n + 1))
done > "$tmp/conf/uccid"

readers_listed() { [ "$(timeout 5 opensc-tool -l 2>/dev/null | grep -c 'uccid ')" -ge 6 ]; }
log=$art/pcscd-pinpad-daemon.log
UCCID_IFD_DEADLINE_MS=3000 pcscd -f -a -d -c "$tmp/conf" > "$log" 2>&1 &
pc=$!
wait_until -p "$pc" "pcscd lists 6 readers" readers_listed || { tail -30 "$log"; exit 1; }

ask() {  # ask BUS LINE: one control request to reader BUS
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "reader $1" "$2"
}
# pin_case WHAT BUS KEYS CLIENT-ARGS...: the client waits in SCardControl; the person at the keypad
# (pcsc-pinpad keys: the control socket's "keypad" until it answers "ok waiting", then the keys)
# types KEYS once the reader waits for them (KEYS "-": none, the time-out ends it); the client checks
pin_case() {
	what=$1 bus=$2 keys=$3; shift 3
	cases=$((cases + 1))
	: > "$tmp/k.out"
	timeout 60 "$client" "$@" > "$tmp/c.out" 2>&1 &
	cl=$!
	if [ "$keys" = - ]; then
		timeout 60 "$client" --ctl "$tmp/ctl" keys "$bus" > "$tmp/k.out" 2>&1
	else
		# shellcheck disable=SC2086  # the keys are words
		timeout 60 "$client" --ctl "$tmp/ctl" keys "$bus" $keys > "$tmp/k.out" 2>&1
	fi
	if wait "$cl"; then pass "$what"; else failed "$what"; sed 's/^/    /' "$tmp/k.out"; fi
	cl=
	sed 's/^/    /' "$tmp/c.out"
}
plain() {  # plain WHAT CLIENT-ARGS...: a client run with no keypad
	what=$1; shift
	cases=$((cases + 1))
	if timeout 60 "$client" "$@" > "$tmp/c.out" 2>&1; then pass "$what"; else failed "$what"; fi
	sed 's/^/    /' "$tmp/c.out"
}

for r in "pinpad 1-1 0210" "pinpad-t1 1-2 0000" "gempc 1-3 0000" "spr532 1-4 0000" "gempc-t0 1-5 0000" \
	"acr1251 1-6/1 0000"; do
	set -- $r
	name="uccid $1" bus=$2 lcd=$3 tag=$1
	plain "$tag: features and properties" "$name" features "$lcd" 03
	pin_case "$tag: the right PIN" "$bus" "123456 ok" "$name" verify 9000
	plain "$tag: the card says verified" "$name" transmit 123456 9000
	pin_case "$tag: a wrong PIN, corrected once" "$bus" "1239 back 9 ok" "$name" verify 63C2
	pin_case "$tag: cancel" "$bus" "12 cancel" "$name" verify 6401
	pin_case "$tag: the keypad times out" "$bus" "123" "$name" verify 6400 1
	pin_case "$tag: no PIN block, Lc from the PIN (OpenSC without padding)" "$bus" "123456 ok" \
		"$name" verify 9000 30 var
	pin_case "$tag: change the PIN" "$bus" "123456 ok 24680 ok 24680 ok" "$name" modify 9000
	plain "$tag: the new PIN" "$name" transmit 24680 9000
	pin_case "$tag: confirmation differs" "$bus" "24680 ok 1111 ok 2222 ok" "$name" modify 6402
	pin_case "$tag: change it back" "$bus" "24680 ok 123456 ok 123456 ok" "$name" modify 9000
	plain "$tag: malformed structures refused" "$name" bad
	ask "$bus" keypad | grep -q '^error: slot 0: no PIN entry' && pass "$tag: the keypad was never asked" \
		|| failed "$tag: a PIN entry is waiting after the malformed structures"
done
# the driver worked around the real readers' firmware, and said so
grep -q "quirk pinpad-gempc" "$log" && grep -q "quirk pinpad-spr532" "$log" && pass "quirks named in pcscd's log" \
	|| failed "no pinpad quirk in pcscd's log"
kill -0 "$pc" 2>/dev/null && pass "pcscd survived" || failed "pcscd died"
echo "$passes passed, $fails failed; $cases PIN-pad cases (pcscd log: $log)"
[ "$fails" -eq 0 ]
