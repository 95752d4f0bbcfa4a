#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# What idle readers cost: N readers of uccid-vreader over USB/IP with a card
# each and nothing happening, watched first by N `uccid watch` processes,
# then by pcscd with uccid's IFD handler (in a private mount namespace, as
# tests/ifd/pcscd.sh).  Over SECONDS it counts the watchers' wake-ups —
# every time one of their threads went to sleep and was woken, from the
# kernel's per-thread context-switch counts in /proc (no perf needed) — and
# the USB/IP PDUs the server received (its "usbip counters").
# Usage: idle-bench.sh [N] [SECONDS]
set -eu
n=${1:-4}
secs=${2:-10}
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
top_builddir=$(cd "$top_builddir" && pwd)
vreader=$top_builddir/vreader/uccid-vreader
uccid=$top_builddir/tool/uccid
so=$top_builddir/.libs/libifd-uccid.so

if [ -z "${UCCID_IFD_NS:-}" ] && command -v unshare >/dev/null && unshare -m --propagation private true 2>/dev/null
then
	UCCID_IFD_NS=1 exec unshare -m --propagation private "$SHELL" "$0" "$@"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/idle-bench.XXXXXX")
vr= pc= watchers=
cleanup() {
	for p in $watchers $pc $vr; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${UCCID_IFD_NS:-}" ] && { umount /usr/lib/pcsc/drivers 2>/dev/null; umount /run/pcscd 2>/dev/null; }
	rm -rf "$tmp"
}
trap cleanup EXIT
export UCCID_LOCK_DIR=$tmp/locks

# The sum of voluntary and involuntary context switches of every thread of the given processes.
switches() {
	total=0
	for p in "$@"; do
		for f in /proc/"$p"/task/*/status; do
			s=$(awk '/ctxt_switches/ { n += $2 } END { print n + 0 }' "$f" 2>/dev/null || echo 0)
			total=$((total + s))
		done
	done
	echo "$total"
}
pdus() {
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "usbip counters" |
		awk '/^imports=/ { n = 0; for (i = 1; i <= NF; i++) { split($i, kv, "=");
			if (kv[1] == "unlinks") n += kv[2];
			if (kv[1] == "submit-in" || kv[1] == "submit-out") { m = split(kv[2], e, ",");
				for (j = 1; j <= m; j++) { split(e[j], c, ":"); n += c[2] } } } print n }'
}
# measure LABEL PID...: wake-ups and PDUs over $secs seconds
measure() {
	label=$1; shift
	w0=$(switches "$@"); p0=$(pdus)
	sleep "$secs"
	w1=$(switches "$@"); p1=$(pdus)
	awk -v l="$label" -v n="$n" -v s="$secs" -v w=$((w1 - w0)) -v p=$((p1 - p0)) 'BEGIN {
		printf "idle-bench: %s, %d idle readers over %d s: %.2f wake-ups/s and %.2f USB/IP PDUs/s per reader " \
		       "(%.0f wake-ups, %.0f PDUs per reader-minute)\n", l, n, s, w / s / n, p / s / n, w * 60 / s / n,
		       p * 60 / s / n }'
}

profiles=
i=0
while [ $i -lt "$n" ]; do profiles="$profiles --profile short-apdu"; i=$((i + 1)); done
# shellcheck disable=SC2086
"$vreader" --port 0 --control "$tmp/ctl" $profiles > "$tmp/vr.out" 2>&1 &
vr=$!
until grep -q '^listening' "$tmp/vr.out" 2>/dev/null && [ -S "$tmp/ctl" ]; do sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/vr.out")

# uccid watch: each prints the card it finds first; then nothing happens
i=1
while [ $i -le "$n" ]; do
	"$uccid" -r "usbip://127.0.0.1:$port/1-$i" watch > "$tmp/watch$i" 2>&1 &
	watchers="$watchers $!"
	i=$((i + 1))
done
i=1
while [ $i -le "$n" ]; do
	until grep -q 'inserted' "$tmp/watch$i"; do sleep 0.1; done
	i=$((i + 1))
done
# shellcheck disable=SC2086
measure "uccid watch" $watchers
# shellcheck disable=SC2086
kill $watchers; wait $watchers 2>/dev/null || true
watchers=

[ -f "$so" ] || { echo "idle-bench: no shared libifd-uccid.so: pcscd skipped"; exit 0; }
command -v pcscd >/dev/null || { echo "idle-bench: no pcscd: skipped"; exit 0; }
[ -n "${UCCID_IFD_NS:-}" ] || { echo "idle-bench: no mount namespace: pcscd skipped"; exit 0; }
mkdir -p /run/pcscd "$tmp/b/ifd-uccid.bundle/Contents/Linux" "$tmp/conf" "$tmp/drop"
mount -t tmpfs tmpfs /run/pcscd
[ -d /usr/lib/pcsc/drivers ] && mount --bind "$tmp/drop" /usr/lib/pcsc/drivers
cp "$so" "$tmp/b/ifd-uccid.bundle/Contents/Linux/"
cp "$top_builddir/ifd/Info.plist" "$tmp/b/ifd-uccid.bundle/Contents/"
i=1
while [ $i -le "$n" ]; do
	printf 'FRIENDLYNAME "uccid idle %s"\nDEVICENAME usbip://127.0.0.1:%s/1-%s\nLIBPATH %s\n\n' $i "$port" $i \
		"$tmp/b/ifd-uccid.bundle/Contents/Linux/libifd-uccid.so"
	i=$((i + 1))
done > "$tmp/conf/uccid"
pcscd -f ${PCSCD_DEBUG:+-d} -c "$tmp/conf" > "$tmp/pcscd.log" 2>&1 &
pc=$!
i=0
until [ "$(timeout 5 opensc-tool -l 2>/dev/null | grep -c 'uccid idle')" -ge "$n" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && { echo "idle-bench: pcscd did not list the readers"; exit 1; }
	sleep 0.2
done
# pcscd powers each card on when it finds it and off after its grace period: count once every card is off
i=1
while [ $i -le "$n" ]; do
	until python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "reader 1-$i" status > "$tmp/st" &&
		grep -q '^slot 0: card protocol' "$tmp/st"; do sleep 0.5; done
	i=$((i + 1))
done
measure "pcscd" "$pc"
if [ -n "${PCSCD_DEBUG:-}" ]; then tail -60 "$tmp/pcscd.log"; fi
exit 0
