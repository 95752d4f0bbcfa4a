#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The lock files in the lock directory (docs/locks.md), against the virtual
# reader over USB/IP: a session leaves none behind (issue 15: every reader
# name ever tried left two, and /run/uccid grew without bound), nor does a
# failed open or "uccid locks"; a dead holder's slot file stays until its card
# was reset; a corrupted slot-lock file or record is an error that "uccid
# locks" and the next session name, never a silent fall-back to locks within
# one process (the abandon reset is still carried out).
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-lockfiles.XXXXXX")
locks=$tmp/locks
export UCCID_LOCK_DIR="$locks"
pid=
holder=
passes=0
fails=0
trap '[ -n "$holder" ] && kill -9 "$holder" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"

"$VREADER" --port 0 --profile short-apdu >"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1
R=usbip://127.0.0.1:$port/1-1

lacks() {  # lacks FILE TEXT: $tmp/FILE does not hold TEXT
	if grep -qF -- "$2" "$tmp/$1"; then echo "FAIL: $1 has '$2'"; sed 's/^/  | /' "$tmp/$1" | head -20
		fails=$((fails + 1)); else passes=$((passes + 1)); fi
}
# the files in the lock directory, one per line ("" when none)
listing() { ls -A "$locks" 2>/dev/null >"$tmp/ls"; }
empty() {  # empty WHAT
	listing
	if [ -s "$tmp/ls" ]; then echo "FAIL: $1 left lock files:"; sed 's/^/  | /' "$tmp/ls"; fails=$((fails + 1))
	else passes=$((passes + 1)); fi
}

# -- sessions, failed opens and questions leave nothing behind
mkdir -p "$locks"
run 0 -r "$R" atr && empty "a session"
run 0 -r "$R" apdu 00A4040C07F0756363696401 && empty "a second session"
run 1 --no-wait -r "usbip://127.0.0.1:1/1-1" atr && empty "an open that failed"
run 0 -r "usbip://127.0.0.1:$port/1-7" locks && empty "uccid locks of a name never opened"
printf 'lock\n00A4040C07F0756363696401\nunlock reset\n' >"$tmp/script"
run 0 -r "$R" apdu -f "$tmp/script" && empty "a lock and an unlock"

# -- a process waiting for the reader while its holder leaves (and removes the open lock
#    file): it opens the name again and gets the reader
rm -f "$tmp/in"; mkfifo "$tmp/in"
: >"$tmp/holder.out"
"$UCCID" -r "$R" lock <"$tmp/in" >"$tmp/holder.out" 2>"$tmp/holder.err" &
holder=$!
exec 3>"$tmp/in"
wait_for -p "$holder" "$tmp/holder.out" "^slot 0 locked by pid $holder;" ||
	{ echo "FAIL: uccid lock did not lock"; cat "$tmp/holder.err"; fails=$((fails + 1)); }
"$UCCID" --wait=30 -r "$R" atr >"$tmp/waiter.out" 2>"$tmp/waiter.err" 3>&- &
waiter=$!
# the waiter sleeps on the open lock file: its record 0 (at byte 64) counts it (sleepers, byte 4)
sleepers() { [ "$(od -An -tu4 -j68 -N4 "$locks"/open_* 2>/dev/null | tr -d ' ')" = 1 ]; }
wait_until -p "$waiter" "the waiter sleeping on the open lock" sleepers || fails=$((fails + 1))
exec 3>&-
wait "$holder"; holder=
if wait "$waiter"; then passes=$((passes + 1)); else
	echo "FAIL: the waiter did not get the reader"; sed 's/^/  | /' "$tmp/waiter.err"; fails=$((fails + 1)); fi
has waiter.out "ATR"
empty "a hand-over to a waiting process"

# -- a holder killed with the card locked: its slot file stays, for the reset
rm -f "$tmp/in"; mkfifo "$tmp/in"
: >"$tmp/holder.out"
"$UCCID" -r "$R" lock <"$tmp/in" >"$tmp/holder.out" 2>"$tmp/holder.err" &
holder=$!
exec 3>"$tmp/in"
wait_for -p "$holder" "$tmp/holder.out" "^slot 0 locked by pid $holder;" ||
	{ echo "FAIL: uccid lock did not lock"; cat "$tmp/holder.err"; fails=$((fails + 1)); }
kill -9 "$holder"; wait "$holder" 2>/dev/null; dead=$holder; holder=
exec 3>&-
listing
slotfile=$(grep -v '^open_' "$tmp/ls" | head -n 1)
if [ -n "$slotfile" ]; then passes=$((passes + 1)); else
	echo "FAIL: no slot lock file after a holder died"; fails=$((fails + 1)); fi
run 0 -r "$R" locks && has out "abandoned by uccid (pid $dead)"

# -- corrupted: a bad magic, then a record no release leaves
if [ -n "$slotfile" ]; then
	cp "$locks/$slotfile" "$tmp/good"
	printf 'garbage!' | dd of="$locks/$slotfile" bs=1 conv=notrunc 2>/dev/null
	run 1 -r "$R" locks && has err "lock file $locks/$slotfile: magic is \"garbage!\", not \"uccid-lk\""
	run 1 -r "$R" atr && has err "lock file $locks/$slotfile: magic is \"garbage!\""
	has err "remove it once no process uses the reader"
	# record 0 (at byte 64): state (byte 12 of it) 7
	cp "$tmp/good" "$locks/$slotfile"
	printf '\007' | dd of="$locks/$slotfile" bs=1 seek=76 conv=notrunc 2>/dev/null
	run 1 -r "$R" locks && has err "slot 0: lock file $locks/$slotfile: slot 0: record state 7 is neither free (0) nor held (1)"
	lacks out "no slot is locked"
	# the next holder resets the card, as after a dead holder
	printf 'lock\nunlock leave\n' >"$tmp/script"
	run 0 -r "$R" apdu -f "$tmp/script" && has err "died holding the card; reset: ok"
	run 0 -r "$R" locks && has out "no slot is locked"
fi
empty "the sessions after the dead holder"

echo "lockfiles.sh: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
