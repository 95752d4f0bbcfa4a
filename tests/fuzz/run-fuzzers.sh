#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build every fuzz harness with clang's libFuzzer (+ ASan, UBSan) and run each
# over a scratch copy of its committed corpus, for a time or a number of runs.
#
# usage: run-fuzzers.sh [-t SECONDS | -r RUNS] [-j JOBS] [-m] BUILDDIR [HARNESS...]
#   BUILDDIR   a configured build tree (its source is this script's)
#   -t         seconds per harness (default 30)
#   -r         executions per harness instead (libFuzzer's -runs)
#   -j         one run in JOBS processes sharing its corpus (libFuzzer's -fork;
#              -r counts the executions of them all)
#   -m         merge new interesting inputs back into tests/fuzz/corpus/
# The libraries are built once with clang in BUILDDIR/fuzz/tree (coverage,
# ASan, UBSan; configured on the first run), each harness is linked against
# them with the tool's or the IFD handler's sources it tests.  Prints the
# executions of each harness; exits non-zero on any crash, leak or sanitizer
# report (the reproducer is kept in BUILDDIR/fuzz/; commit it to the
# harness's corpus with the fix, so that make check replays it).
set -eu
secs=30
runs=
jobs=1
merge=no
usage="usage: $0 [-t SECONDS | -r RUNS] [-j JOBS] [-m] BUILDDIR [HARNESS...]"
while getopts t:r:j:m o; do
	case $o in
	t) secs=$OPTARG ;;
	r) runs=$OPTARG ;;
	j) jobs=$OPTARG ;;
	m) merge=yes ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
build=${1:?$usage}
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$build" && pwd)
all="message class_desc usb_desc atr t1 t0 iccd pin usbip suite script hex names ifd_config ifd_control lockfile vctl vserver vdesc vcard"
harnesses=${*:-$all}
CC_FUZZ=${CC_FUZZ:-clang}
out=$build/fuzz
tree=$out/tree
mkdir -p "$out" "$tree"

# The libraries, instrumented for coverage (fuzzer-no-link) and the sanitizers.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
if [ ! -f "$tree/Makefile" ]; then
	(cd "$tree" && "$src/configure" -q --disable-shared CC="$CC_FUZZ" \
		CFLAGS="-g -O1 -fsanitize=fuzzer-no-link $san -fno-omit-frame-pointer") >"$out/configure.log" 2>&1 || {
		tail -30 "$out/configure.log"; exit 1; }
fi
make -s -C "$tree" -j"$(nproc)" libccidcodec.la libusbipwire.la libuccidcore.la libvreader.la libifdcore.la \
	ifd/readers-table.c >"$out/make.log" 2>&1 || { tail -30 "$out/make.log"; exit 1; }
L=$tree/.libs
pcsc_cflags=$(pkg-config --cflags libpcsclite 2>/dev/null || echo -I/usr/include/PCSC)
usb_libs=$(pkg-config --libs libusb-1.0)

# What each harness links besides the codec.
link_of() {
	case $1 in
	message|class_desc|usb_desc|atr|t1|t0|iccd|pin) echo "$L/libccidcodec.a" ;;
	usbip) echo "$L/libusbipwire.a $L/libccidcodec.a" ;;
	suite) echo "$src/tool/hil/suite.c $src/tool/hil/suite_match.c $L/libuccidcore.a $L/libccidcodec.a" ;;
	script|hex) echo "$src/tool/script.c $src/tool/hex.c $src/tool/output.c $src/tool/session.c" \
		"$src/tool/trace.c $src/tool/pcap.c $src/tool/capture.c $L/libuccidcore.a $L/libccidcodec.a" ;;
	names|lockfile) echo "$L/libuccidcore.a $L/libusbipwire.a $L/libccidcodec.a" ;;
	ifd_config|ifd_control) echo "$pcsc_cflags $L/libifdcore.a $L/libvreader.a $L/libuccidcore.a" \
		"$L/libusbipwire.a $L/libccidcodec.a -ldl" ;;
	vctl|vserver|vdesc|vcard) echo "$L/libvreader.a $L/libusbipwire.a $L/libccidcodec.a" ;;
	*) echo "unknown harness $1" >&2; return 1 ;;
	esac
}

# The longest input worth trying: vctl runs each line as one command, cut at
# the control protocol's VCTL_LINE_MAX - 1 bytes, so a longer input only adds
# lines (and halves the rate); the others take whole messages and files.
max_len_of() {
	case $1 in
	vctl) echo 1024 ;;
	*) echo 8192 ;;
	esac
}

status=0
for h in $harnesses; do
	bin=$out/fuzz_$h
	# shellcheck disable=SC2046 # the link list is words
	$CC_FUZZ -std=gnu11 -g -O1 -fsanitize=fuzzer $san -I"$src" -I"$tree" \
		"$src/tests/fuzz/fuzz_$h.c" $(link_of "$h") $usb_libs -lpthread -o "$bin"
	scratch=$out/corpus_$h
	rm -rf "$scratch"; mkdir -p "$scratch"
	cp "$src/tests/fuzz/corpus/$h/"* "$scratch/"
	log=$out/fuzz_$h.log
	if [ -n "$runs" ]; then limit="-runs=$runs"; what="$runs runs"; else limit="-max_total_time=$secs"; what="${secs}s"; fi
	fork=; [ "$jobs" -gt 1 ] && { fork="-fork=$jobs"; what="$what, $jobs processes"; }
	start=$(date +%s)
	if (cd "$out" && "$bin" "$limit" $fork -print_final_stats=1 -timeout=10 -max_len="$(max_len_of "$h")" \
		-rss_limit_mb=2048 -artifact_prefix="$out/crash_${h}_" "$scratch") >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
		if [ -n "$fork" ]; then
			# the parent of a forked run prints no stats: its last "#N" line counts every job's
			execs=$(sed -n 's/^#\([0-9][0-9]*\):.*/\1/p' "$log" | tail -1)
			rate=$(( ${execs:-0} / ( $(date +%s) - start + 1 ) ))
		fi
		echo "fuzz $h: $execs executions in $(( $(date +%s) - start ))s ($rate/s, $what asked), no crash"
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
