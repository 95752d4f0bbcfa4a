#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The corpus under the real pcscd (make check-readers-pcscd; not in make check):
# every real reader of tests/data/readers/ that the virtual reader presents
# faithfully, served by uccid-vreader --descriptor (its whole configuration)
# over USB/IP and named in a reader.conf by usbip://, as tests/ifd/pcscd.sh
# does (a kernel without vhci-hcd cannot attach them as USB devices), driven
# by pcscd with uccid's freshly built bundle.  Per reader, through
# libpcsclite (tests/ifd/pcsc-client): on its first CCID interface's first
# slot a short case-4 APDU (bench 1) and the extended-APDU contract (limits:
# an extended APDU goes through where the reader's dwMaxAPDUDataSize says so,
# and is refused with nothing sent where it says 0).  A reader the session
# refuses must not appear, and pcscd's log must carry uccid's reason.
# pcscd 1.9.9 holds at most 16 reader contexts (a slot is one): the readers
# go in batches of at most 16 slots, a vreader and a pcscd per batch.
# The corpus run's results (tests/check_corpus.tsv, CORPUS=) say which
# readers are driven; prints the figures at the end.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
top_builddir=$(cd "$top_builddir" && pwd)
top_srcdir=$(cd "$top_srcdir" && pwd)
so=$top_builddir/.libs/libifd-uccid.so
vreader=$top_builddir/vreader/uccid-vreader
client=$top_builddir/tests/ifd/pcsc-client
corpus=${CORPUS:-$top_builddir/tests/check_corpus.tsv}
art=$top_builddir/tests/ifd

skip() { echo "SKIP: $*"; exit 77; }
[ -f "$so" ] || skip "no shared libifd-uccid.so (configured with --disable-shared)"
[ -f "$corpus" ] || skip "no corpus results $corpus (run tests/check_corpus first)"
for p in pcscd opensc-tool; do command -v $p >/dev/null || skip "$p is not installed"; done

if [ -z "${UCCID_IFD_NS:-}" ]; then
	command -v unshare >/dev/null || skip "unshare is needed for a private /run/pcscd"
	unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace (not root?)"
	UCCID_IFD_NS=1 exec unshare -m --propagation private "$SHELL" "$0" "$@"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ifd-corpus.XXXXXX")
vr= pc= fails=0
cleanup() {
	[ -n "$pc" ] && kill "$pc" 2>/dev/null && wait "$pc" 2>/dev/null
	[ -n "$vr" ] && kill "$vr" 2>/dev/null && wait "$vr" 2>/dev/null
	umount /usr/lib/pcsc/drivers 2>/dev/null; umount /run/pcscd 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$top_srcdir/tests/tool/lib.sh"

mkdir -p /run/pcscd "$tmp/drop" "$tmp/conf" "$tmp/bundle/ifd-uccid.bundle/Contents/Linux" || skip "mkdir"
mount -t tmpfs tmpfs /run/pcscd || skip "cannot mount a tmpfs on /run/pcscd"
if [ -d /usr/lib/pcsc/drivers ]; then mount --bind "$tmp/drop" /usr/lib/pcsc/drivers || skip "bind mount"; fi
cp "$so" "$tmp/bundle/ifd-uccid.bundle/Contents/Linux/"
cp "$top_builddir/ifd/Info.plist" "$tmp/bundle/ifd-uccid.bundle/Contents/Info.plist"
lib=$tmp/bundle/ifd-uccid.bundle/Contents/Linux/libifd-uccid.so

# One line per reader: file, slots, class, expected (driven/refused), reason; the first
# CCID interface's row (a usbip:// name reaches the first CCID interface).  Readers the
# virtual reader could not present as they are would be counted apart (pcscd would prove
# nothing about them): since it simulates character level and ICCD tokens, none is.
awk -F '\t' '!/^#/ && !($1 in seen) { seen[$1] = 1; print $1 "\t" $8 "\t" $6 "\t" $10 "\t" $11 }' "$corpus" \
	> "$tmp/readers"
total=$(wc -l < "$tmp/readers")
apart='not simulated|presents it as CCID'
grep -E "$apart" "$tmp/readers" > "$tmp/apart" || :
grep -v -E "$apart" "$tmp/readers" > "$tmp/todo" || :

t0=$(now_ms)
driven=0 refused=0 batches=0 want=0
: > "$tmp/results"
readers_listed() { [ "$(timeout 5 opensc-tool -l 2>/dev/null < /dev/null | grep -c 'uccid c')" -ge "$want" ]; }

# run_batch: $tmp/batch (lines as $tmp/readers) under one vreader and one pcscd
run_batch() {
	batches=$((batches + 1))
	args= n=1 want=0
	: > "$tmp/conf/uccid"
	while IFS="$(printf '\t')" read -r file slots cls exp why <&4; do
		args="$args -d $top_srcdir/tests/data/readers/$file"
		printf 'FRIENDLYNAME "uccid c%03d"\nDEVICENAME usbip://127.0.0.1:@PORT@/1-%s\nLIBPATH %s\n\n' \
			"$n" "$n" "$lib" >> "$tmp/conf/uccid"
		[ "$exp" = driven ] && want=$((want + slots))
		n=$((n + 1))
	done 4< "$tmp/batch"
	# shellcheck disable=SC2086  # one word per option
	"$vreader" --port 0 $args --control "$tmp/ctl" > "$tmp/vr.out" 2>&1 < /dev/null &
	vr=$!
	vreader_wait "$vr" "$tmp/vr.out" || { cat "$tmp/vr.out"; fails=$((fails + 1)); return; }
	sed -i "s/@PORT@/$port/" "$tmp/conf/uccid"
	log=$art/pcscd-corpus-$batches.log
	UCCID_IFD_DEADLINE_MS=5000 pcscd -f -a -d -c "$tmp/conf" > "$log" 2>&1 < /dev/null &
	pc=$!
	wait_until -p "$pc" -t 30 "pcscd lists $want reader slots" readers_listed || fails=$((fails + 1))
	n=1
	while IFS="$(printf '\t')" read -r file slots cls exp why <&4; do
		name=$(printf 'uccid c%03d' "$n")
		if [ "$exp" = driven ]; then
			if timeout 30 "$client" --ctl "$tmp/ctl" --bus "1-$n" bench 1 "$name" > "$tmp/o1" 2>&1 < /dev/null &&
				timeout 30 "$client" --ctl "$tmp/ctl" --bus "1-$n" limits "$name" > "$tmp/o2" 2>&1 < /dev/null &&
				! grep -q FAIL "$tmp/o1" "$tmp/o2"; then
				driven=$((driven + 1))
				printf '%s\t%s\tdriven\n' "$file" "$cls" >> "$tmp/results"
			else
				fails=$((fails + 1))
				echo "FAIL: $file ($cls): not driven under pcscd"
				sed 's/^/    /' "$tmp/o1" "$tmp/o2"
			fi
		else
			# refused: absent from pcscd's list, and uccid's reason (its field) in the log
			field=${why%% *}
			if ! timeout 5 opensc-tool -l 2>/dev/null < /dev/null | grep -q "$name" && grep -q "$field" "$log"; then
				refused=$((refused + 1))
				printf '%s\t%s\trefused\n' "$file" "$cls" >> "$tmp/results"
			else
				fails=$((fails + 1))
				echo "FAIL: $file ($cls): should be refused with '$why'"
			fi
		fi
		n=$((n + 1))
	done 4< "$tmp/batch"
	kill "$pc"; wait "$pc" 2>/dev/null; pc=
	kill "$vr"; wait "$vr" 2>/dev/null; vr=
}

# batches of at most 16 readers and 16 slots (pcscd's reader contexts)
: > "$tmp/batch"
nb=0 ns=0
while IFS="$(printf '\t')" read -r rfile rslots rrest <&3; do
	if [ $nb -ge 16 ] || [ $((ns + rslots)) -gt 16 ]; then
		run_batch
		: > "$tmp/batch"
		nb=0 ns=0
	fi
	printf '%s\t%s\t%s\n' "$rfile" "$rslots" "$rrest" >> "$tmp/batch"
	nb=$((nb + 1)) ns=$((ns + rslots))
done 3< "$tmp/todo"
[ -s "$tmp/batch" ] && run_batch

apart=$(wc -l < "$tmp/apart")
secs=$(( ($(now_ms) - t0) / 1000 ))
echo "corpus under pcscd: $total readers; $driven driven, $refused refused as the corpus run says," \
	"$apart not presented faithfully by the virtual reader; $fails failures; $batches batches, $secs s"
cut -f2,3 "$tmp/results" | sort | uniq -c | sed 's/^/    /'
cut -f1,3 "$tmp/apart" | sed 's/^/    apart: /'
[ "$fails" -eq 0 ]
