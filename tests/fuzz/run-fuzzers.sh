#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build every fuzz harness with clang's libFuzzer (+ ASan, UBSan) and run each
# for a bounded time over a scratch copy of its committed corpus.
#
# usage: run-fuzzers.sh [-t SECONDS] [-m] BUILDDIR [HARNESS...]
#   BUILDDIR   a configured build tree (for config.h)
#   -t         seconds per harness (default 30)
#   -m         merge new interesting inputs back into tests/fuzz/corpus/
# Prints the executions of each harness; exits non-zero on any crash, leak or
# sanitizer report (the reproducer is kept in BUILDDIR/fuzz/).
set -eu
secs=30
merge=no
while getopts t:m o; do
	case $o in
	t) secs=$OPTARG ;;
	m) merge=yes ;;
	*) echo "usage: $0 [-t SECONDS] [-m] BUILDDIR [HARNESS...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
build=${1:?usage: $0 [-t SECONDS] [-m] BUILDDIR [HARNESS...]}
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$build" && pwd)
harnesses=${*:-message class_desc usb_desc atr t1 t0 usbip iccd pin}
CC_FUZZ=${CC_FUZZ:-clang}
out=$build/fuzz
mkdir -p "$out"

codec="field status message message_describe interrupt class_desc usb_desc atr pps timing t1_block t1 t0 iccd pin"
sources=""
for f in $codec; do sources="$sources $src/ccid/$f.c"; done
sources="$sources $src/usbip/usbip_wire.c"

status=0
for h in $harnesses; do
	bin=$out/fuzz_$h
	$CC_FUZZ -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-I"$src" -I"$build" $sources "$src/tests/fuzz/fuzz_$h.c" -o "$bin"
	scratch=$out/corpus_$h
	rm -rf "$scratch"; mkdir -p "$scratch"
	cp "$src/tests/fuzz/corpus/$h/"* "$scratch/"
	log=$out/fuzz_$h.log
	if (cd "$out" && "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$out/crash_${h}_" "$scratch") >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
		echo "fuzz $h: $execs executions in ${secs}s ($rate/s), no crash"
	else
		echo "fuzz $h: FAILED, see $log"
		tail -30 "$log"
		status=1
	fi
	if [ "$merge" = yes ]; then
		fresh=$out/merge_$h
		rm -rf "$fresh"; mkdir -p "$fresh"
		"$bin" -merge=1 "$fresh" "$src/tests/fuzz/corpus/$h" "$scratch" >/dev/null 2>&1
		rm -f "$src/tests/fuzz/corpus/$h/"*
		cp "$fresh/"* "$src/tests/fuzz/corpus/$h/"
		echo "fuzz $h: corpus now $(ls "$src/tests/fuzz/corpus/$h" | wc -l) files"
	fi
done
exit $status
