#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# uccid lock / unlock / locks and the busy errors, against the virtual reader
# over USB/IP, proved by its journal: a lock held by one uccid process makes
# another wait or fail naming it; "uccid unlock --disposition" makes the
# holder carry out the disposition (RESET: one warm IccPowerOn, UNPOWER:
# IccPowerOff, EJECT: Mechanical 02 on the mechanism profile); LEAVE keeps
# the verified PIN for the next APDU in the same session; a holder killed with
# SIGKILL is reported and its card reset before the next one gets it.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-locks.XXXXXX")
export UCCID_LOCK_DIR="$tmp/locks"
pid=
holder=
passes=0
fails=0
trap '[ -n "$holder" ] && kill -9 "$holder" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"

"$VREADER" --port 0 --profile short-apdu --profile mechanical --control "$tmp/ctl" >"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1
R1=usbip://127.0.0.1:$port/1-1
R2=usbip://127.0.0.1:$port/1-2

has() {
	if grep -qE -- "$2" "$tmp/$1"; then passes=$((passes + 1)); else
		echo "FAIL: $1 lacks /$2/"; sed 's/^/  | /' "$tmp/$1" | head -20; fails=$((fails + 1)); fi
}
lacks() {
	if grep -qE -- "$2" "$tmp/$1"; then
		echo "FAIL: $1 has /$2/"; sed 's/^/  | /' "$tmp/$1" | head -20; fails=$((fails + 1)); else passes=$((passes + 1)); fi
}
ctl() {  # ctl LINE...: the replies of one control connection into $tmp/ctl.out
	python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "$@" >"$tmp/ctl.out"
}
# The host's commands in the journal of reader $1 slot 0 since entry $2, one per line.
journal_from() {
	ctl "reader $1" "journal 0 $2"
	grep ' host ' "$tmp/ctl.out" | sed 's/^[0-9]* host PC_to_RDR_//' >"$tmp/journal"
}
journal_end() {
	ctl "reader $1" "journal 0"
	sed -n 's/^ok \([0-9]*\) entries.*/\1/p' "$tmp/ctl.out"
}
# Start "uccid lock" on $1 with its stdin a fifo we keep open; waits until it has the lock.
# Its output file is emptied here, not only by the redirection in the child, which may come
# after the first look at it: the last holder's "locked by pid" would do for this one's.
start_holder() {
	rm -f "$tmp/in"; mkfifo "$tmp/in"
	: >"$tmp/holder.out"
	"$UCCID" -r "$1" lock <"$tmp/in" >"$tmp/holder.out" 2>"$tmp/holder.err" &
	holder=$!
	exec 3>"$tmp/in"
	wait_for -p "$holder" "$tmp/holder.out" "^slot 0 locked by pid $holder;" ||
		{ echo "FAIL: uccid lock did not lock"; cat "$tmp/holder.err"; fails=$((fails + 1)); }
}
# Send the holder one APDU and wait for its answer, the holder's Nth ("< SW ..."); the
# status word goes to $tmp/sw.
holder_apdu() {  # holder_apdu APDU N
	echo "$1" >&3
	wait_for -p "$holder" -n "$2" "$tmp/holder.out" '^< ' || fails=$((fails + 1))
	sed -n 's/^< \([0-9A-F]*\).*/\1/p' "$tmp/holder.out" | sed -n "${2}p" >"$tmp/sw"
}
stop_holder() {
	exec 3>&-
	wait "$holder"; holder_status=$?
	holder=
}

# -- a held reader: another uccid fails at once naming the holder, or waits and gives up
start_holder "$R1"
holder_apdu "00 20 00 80 06 31 32 33 34 35 36" 1
has sw "^9000$"
run 1 --no-wait -r "$R1" atr && has err "reader busy: in use by uccid \\(pid $holder\\) since [0-9-]+ [0-9:]+"
run 1 --wait=0.5 -r "$R1" status && has err "in use by uccid \\(pid $holder\\)"
run 1 --no-wait -r "$R1" selftest && has err "in use by uccid \\(pid $holder\\)"
run 0 -r "$R1" locks && has out "reader +held by uccid \\(pid $holder\\)" && has out "slot 0 +held by uccid \\(pid $holder\\)"
run 0 -r "$R1" --json locks && has out '"what":"reader","state":"held","pid":'"$holder"',"program":"uccid"'
# -- LEAVE keeps the PIN for the holder's next APDU; then unlock RESET from outside
echo "unlock leave" >&3
echo "lock" >&3
holder_apdu "00200080" 2
has sw "^9000$"
mark=$(journal_end 1-1)
run 0 -r "$R1" unlock --disposition reset && has out "slot 0 unlocked by pid $holder with reset"
stop_holder
[ "$holder_status" = 0 ] && passes=$((passes + 1)) || { echo "FAIL: uccid lock exited $holder_status"; fails=$((fails + 1)); }
has holder.out "unlocked \\(reset\\): reset"
journal_from 1-1 "$mark"
# the disposition's warm reset comes first (the IccPowerOff after it is uccid lock closing the reader)
head -n 1 "$tmp/journal" >"$tmp/first"
has first "^IccPowerOn .*warm"
lacks journal "cold"

# -- UNPOWER through a script line
printf 'lock\n00 20 00 80 06 31 32 33 34 35 36\nunlock unpower\n' >"$tmp/s1"
mark=$(journal_end 1-1)
run 0 -r "$R1" apdu -f "$tmp/s1" && has out "unlocked \\(unpower\\): unpowered"
journal_from 1-1 "$mark"
has journal "^IccPowerOff"
printf 'lock\nunlock sideways\n' >"$tmp/s2"
run 2 -r "$R1" apdu -f "$tmp/s2" && has err "'sideways' is not a disposition"
run 1 -r "$R1" unlock --disposition reset && has err "slot 0 is not locked"
run 2 -r "$R1" unlock && has err "usage"
run 2 -r "$R1" unlock --disposition sideways && has err "not a disposition"
# times in seconds (--wait, lock --timeout): bad ones are refused before the reader is opened
for t in abc -1 86401 5x ''; do
	run 2 -r "$R1" --wait="$t" locks && has err "--wait takes a time in seconds \\(0..86400\\) or 'forever', not '$t'"
	run 2 -r "$R1" lock --timeout "$t" && has err "--timeout takes a time in seconds \\(0..86400\\) or 'forever', not '$t'"
done

# -- EJECT on the mechanism profile: Mechanical 02, the card leaves
start_holder "$R2"
mark=$(journal_end 1-2)
run 0 -r "$R2" unlock --disposition eject && has out "with eject"
stop_holder
has holder.out "unlocked \\(eject\\): ejected"
journal_from 1-2 "$mark"
has journal "^Mechanical .*b7=02"
run 0 -r "$R2" status && has out "no card"
ctl "reader 1-2" "insert"

# -- a holder killed with SIGKILL: the next owner hears of it, and the card was reset first
start_holder "$R1"
holder_apdu "00 20 00 80 06 31 32 33 34 35 36" 1
has sw "^9000$"
dead=$holder
kill -9 "$holder"; wait "$holder" 2>/dev/null; holder=
exec 3>&-
run 0 -r "$R1" locks && has out "slot 0 +abandoned by uccid \\(pid $dead\\)"
mark=$(journal_end 1-1)
start_holder "$R1"
has holder.out "the previous holder, uccid \\(pid $dead\\), died holding the card; abandon disposition: reset"
holder_apdu "00200080" 1
has sw "^63C3$"
stop_holder
journal_from 1-1 "$mark"
has journal "^IccPowerOn .*warm"

echo "locks.sh: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
