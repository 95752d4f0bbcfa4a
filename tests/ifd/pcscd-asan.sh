#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# make check-pcscd-asan: uccid's IFD handler inside the real pcscd under
# AddressSanitizer and UndefinedBehaviorSanitizer.  pcscd is not
# instrumented; the handler is (tests/ifd/libifd-uccid-san.so, built from
# the sources of a tree configured with -fsanitize=address,undefined), and
# the sanitizer runtimes are preloaded into pcscd (LD_PRELOAD), which is
# how a sanitized dlopen'ed module runs in a host that was not built with
# them.  Against uccid-vreader: connect / transmit / disconnect loops with
# every disposition, transmit loops, control codes, card swaps, clients
# killed in the middle of a transaction, and every fault of the virtual
# reader.  Then pcscd is stopped: any AddressSanitizer or UBSan report, and
# any leak whose allocation went through the handler, fails the test (the
# leaks of pcscd and its libraries are not ours and are only counted).
# ROUNDS (default 10) scales the loops.  Runs in a private mount namespace
# like pcscd.sh.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
top_builddir=$(cd "$top_builddir" && pwd)
so=$top_builddir/tests/ifd/libifd-uccid-san.so
vreader=$top_builddir/vreader/uccid-vreader
client=$top_builddir/tests/ifd/pcsc-client
ROUNDS=${ROUNDS:-10}
CC=${CC:-cc}

skip() { echo "SKIP: $*"; exit 77; }
[ -f "$so" ] || { echo "FAIL: no $so"; exit 1; }
# not a sanitizer build: this target means nothing there, and says so
nm -D "$so" | grep -q ' U __asan_init' ||
	{ echo "FAIL: $so is not built with -fsanitize=address (configure CFLAGS=-fsanitize=address,undefined)"; exit 1; }
command -v pcscd >/dev/null || skip "pcscd is not installed"
command -v python3 >/dev/null || skip "python3 is needed as the control socket client"
asan=$($CC -print-file-name=libasan.so)
ubsan=$($CC -print-file-name=libubsan.so)
[ -f "$asan" ] || { echo "FAIL: $CC has no libasan.so ($asan)"; exit 1; }
preload=$asan
nm -D "$so" | grep -q ' U __ubsan_' && preload="$asan $ubsan"

if [ -z "${UCCID_IFD_NS:-}" ]; then
	command -v unshare >/dev/null || skip "unshare is needed for a private /run/pcscd"
	unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace (not root?)"
	UCCID_IFD_NS=1 exec unshare -m --propagation private "$SHELL" "$0" "$@"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ifd-pcscd-asan.XXXXXX")
vr= pc= holder= fails=0 passes=0
cleanup() {
	[ -n "$holder" ] && kill -9 "$holder" 2>/dev/null
	[ -n "$pc" ] && kill "$pc" 2>/dev/null && wait "$pc" 2>/dev/null
	[ -n "$vr" ] && kill "$vr" 2>/dev/null && wait "$vr" 2>/dev/null
	umount /usr/lib/pcsc/drivers 2>/dev/null; umount /run/pcscd 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$top_srcdir/tests/tool/lib.sh"
pass() { passes=$((passes + 1)); }
failed() { fails=$((fails + 1)); echo "FAIL: $*"; }

mkdir -p /run/pcscd "$tmp/drop" "$tmp/conf" "$tmp/bundle/ifd-uccid.bundle/Contents/Linux" || skip "cannot create /run/pcscd"
mount -t tmpfs tmpfs /run/pcscd || skip "cannot mount a tmpfs on /run/pcscd"
if [ -d /usr/lib/pcsc/drivers ]; then mount --bind "$tmp/drop" /usr/lib/pcsc/drivers || skip "bind mount"; fi
cp "$so" "$tmp/bundle/ifd-uccid.bundle/Contents/Linux/libifd-uccid.so"
cp "$top_builddir/ifd/Info.plist" "$tmp/bundle/ifd-uccid.bundle/Contents/Info.plist"
lib=$tmp/bundle/ifd-uccid.bundle/Contents/Linux/libifd-uccid.so

"$vreader" --port 0 --profile tpdu-t1 --profile extended-apdu --profile multi-slot --control "$tmp/ctl" \
	> "$tmp/vr.out" 2>&1 &
vr=$!
vreader_wait "$vr" "$tmp/vr.out" || exit 1
n=1
for name in t1 ext multi; do
	printf 'FRIENDLYNAME "uccid %s"\nDEVICENAME usbip://127.0.0.1:%s/1-%s\nLIBPATH %s\n\n' "$name" "$port" $n "$lib"
	n=$((n + 1))
done > "$tmp/conf/uccid"
ask() { python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "$@"; }
run() {  # run NAME COMMAND...: one client run; its output shown when it fails
	name=$1; shift
	if "$@" > "$tmp/out" 2>&1; then pass; else failed "$name"; sed 's/^/    /' "$tmp/out" | tail -20; fi
}

readers_listed() { [ "$(timeout 5 opensc-tool -l 2>/dev/null | grep -c 'uccid ')" -ge 6 ]; }
# The sanitizers write their reports to files named by pid; a report ends pcscd (halt_on_error).
LD_PRELOAD=$preload \
ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:log_path=$tmp/asan:detect_odr_violation=0${PCSCD_ASAN_OPTIONS:+:$PCSCD_ASAN_OPTIONS}" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$tmp/ubsan" \
UCCID_IFD_DEADLINE_MS=3000 pcscd -f -a -c "$tmp/conf" > "$tmp/pcscd.log" 2>&1 &
pc=$!
wait_until -p "$pc" "pcscd lists 6 readers" readers_listed ||
	{ failed "pcscd did not list the readers"; tail -30 "$tmp/pcscd.log"; cat "$tmp"/asan.* 2>/dev/null | head -60; exit 1; }
grep -q libasan "/proc/$pc/maps" && pass || failed "pcscd runs without the ASan runtime"
grep -q libifd-uccid "/proc/$pc/maps" && pass || failed "pcscd has not loaded the handler"

C="timeout 120 $client --ctl $tmp/ctl"
i=0
while [ $i -lt "$ROUNDS" ]; do
	run "session t1 $i" $C --bus 1-1 session "uccid t1"
	[ $((i % 3)) = 0 ] && run "session extended $i" $C --bus 1-2 session "uccid ext" --extended
	[ $((i % 3)) = 1 ] && run "session multi-slot $i" $C --bus 1-3 session "uccid multi 02 00"
	i=$((i + 1))
done
run "transmit loop" $C --bus 1-1 bench "uccid t1" $((ROUNDS * 50))
run "control codes" $C --bus 1-1 control "uccid t1" 0
ask "reader 1-1" "remove 0" "insert 0" > /dev/null    # the latched card out and back
run "card swaps" $C --bus 1-1 swaps "uccid t1" $((ROUNDS * 2))

# clients killed in the middle of a transaction; the next one gets a reset card
i=0
while [ $i -lt 3 ]; do
	: > "$tmp/hold"
	$client --ctl "$tmp/ctl" hold "uccid t1" > "$tmp/hold" 2>&1 &
	holder=$!
	wait_for -p $holder "$tmp/hold" '^holding$' || failed "the holder did not start"
	mark=$(ask "reader 1-1" "journal 0" | sed -n 's/^ok \([0-9]*\) entries$/\1/p')
	kill -9 $holder; wait $holder 2>/dev/null; holder=
	run "killed holder $i" $C --bus 1-1 after-kill "uccid t1" "${mark:-0}"
	i=$((i + 1))
done

# every fault of the virtual reader, on every answer until cleared, then once
for f in mute garbage truncated length-huge wrong-seq slot-busy stall hw-error; do
	run "fault $f" $C --bus 1-1 fault "uccid t1" $f 3000 0
done
run "fault endless-wtx" $C --bus 1-1 fault "uccid t1" endless-wtx 3000 1
for f in mute slot-busy; do
	run "fault $f once" $C --bus 1-1 fault "uccid t1" $f 3000 1 recover
done
kill -0 "$pc" 2>/dev/null && pass || failed "pcscd died"

kill "$pc"; wait "$pc"; pc=

# The reports.  LeakSanitizer prints one block per leak ("Direct leak of ..." and its stack):
# ours are those whose stack has a frame in the handler.
for f in "$tmp"/asan.* "$tmp"/ubsan.*; do
	[ -f "$f" ] || continue
	if grep -q 'ERROR: AddressSanitizer\|runtime error:' "$f"; then
		failed "a sanitizer report from pcscd with the handler ($(basename "$f"))"; head -80 "$f"
	fi
	# LeakSanitizer could not look (it failed where a dlopen'ed module's TLS is dynamic: the
	# handler is built -ftls-model=initial-exec for that): not a pass
	if grep -q 'LeakSanitizer has encountered a fatal error' "$f"; then
		failed "LeakSanitizer failed in pcscd ($(basename "$f"))"; tail -8 "$f"
	fi
	# a frame of the handler: its module, or (symbolized) a function in one of its source folders
	awk -v ours='libifd-uccid|(^|[ /])(ifd|session|transport|lockmgr|ccid|usbip|util)/[A-Za-z0-9_]+[.][ch]:' '
	     /^(Direct|Indirect) leak/ { if (blk ~ ours) { print blk; n++ } blk = $0; next }
	     /^$/ { if (blk ~ ours) { print blk; n++ } blk = ""; next }
	     { blk = blk "\n" $0 }
	     END { if (blk ~ ours) print blk }' "$f" > "$tmp/ours"
	if [ -s "$tmp/ours" ]; then failed "leaks through the handler"; head -80 "$tmp/ours"; fi
	all=$(grep -c '^\(Direct\|Indirect\) leak' "$f")
	mine=$(grep -c '^\(Direct\|Indirect\) leak' "$tmp/ours")
	[ "$all" -gt "$mine" ] && echo "note: $((all - mine)) leak reports without a handler frame (pcscd's own) in $(basename "$f")"
done

echo "pcscd-asan: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
