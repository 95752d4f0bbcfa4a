# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the shell tests: wait for what another process does -- a line in
# its output, a state a client can see -- instead of a nap that guesses how
# long it takes.
# Every wait re-checks its condition every 50 ms, gives up when the process
# it waits on has exited (a line it printed just before counts), and at the
# latest after $UCCID_TEST_WAIT seconds (default 60: valgrind and a loaded
# machine are slow; a wait ends within 50 ms of its event, however long it allows).
# On failure a wait prints "FAIL: ..." and returns 1.  Variables of these
# functions start with _w so that they leave the caller's alone.

# alive PID: the process exists and is not a zombie waiting to be reaped
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0
	# the state follows the command name in parentheses (proc(5))
	case $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) in
	Z* | X* | "") return 1 ;;
	esac
	return 0
}

now_ms() {  # the time in ms (GNU date)
	echo $(($(date +%s%N) / 1000000))
}

# wait_until [-p PID] [-t SECONDS] WHAT COMMAND...: run COMMAND until it
# succeeds; WHAT names the event in the failure message.
wait_until() {
	_wpid='' _wsecs=${UCCID_TEST_WAIT:-60}
	while :; do
		case $1 in
		-p) _wpid=$2; shift 2 ;;
		-t) _wsecs=$2; shift 2 ;;
		*) break ;;
		esac
	done
	_wwhat=$1
	shift
	_wend=$(($(now_ms) + _wsecs * 1000))
	until "$@"; do
		if [ -n "$_wpid" ] && ! alive "$_wpid"; then
			"$@" && return 0
			echo "FAIL: $_wwhat: process $_wpid exited first"
			return 1
		fi
		if [ "$(now_ms)" -ge "$_wend" ]; then
			echo "FAIL: $_wwhat: not within $_wsecs s"
			return 1
		fi
		sleep 0.05
	done
}

# lines_match FILE ERE COUNT: at least COUNT lines of FILE match ERE
lines_match() {
	_wn=$(grep -cE -- "$2" "$1" 2>/dev/null || :)
	[ "${_wn:-0}" -ge "$3" ]
}

# wait_for [-p PID] [-t SECONDS] [-n COUNT] FILE ERE: until COUNT lines (default 1)
# of FILE match the extended regular expression ERE; on failure FILE is shown.
wait_for() {
	_wopts='' _wcount=1
	while :; do
		case $1 in
		-p | -t) _wopts="$_wopts $1 $2"; shift 2 ;;
		-n) _wcount=$2; shift 2 ;;
		*) break ;;
		esac
	done
	# shellcheck disable=SC2086  # _wopts is options and numbers only
	wait_until $_wopts "line $_wcount matching /$2/ in $(basename "$1")" lines_match "$1" "$2" "$_wcount" && return 0
	sed 's/^/  | /' "$1" 2>/dev/null | tail -20
	return 1
}

# vreader_wait PID OUT: until uccid-vreader (PID, its output in OUT) listens;
# sets port.  Its banner ("listening on ADDR:PORT", then one line per reader)
# is written with one fflush, after the control socket is in place.
vreader_wait() {
	port=
	wait_for -p "$1" "$2" '^listening on .*:[0-9]+$' || { echo "FAIL: uccid-vreader did not start"; return 1; }
	# shellcheck disable=SC2034  # for the caller
	port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$2")
}

# The checks of the tool's tests, counting in the caller's $passes and $fails
# and writing to the caller's $tmp.  A test with checks of another shape
# defines its own after sourcing this file.
# run STATUS ARGS...: $UCCID ARGS (under $VALGRIND) exits STATUS; its output in $tmp/out and $tmp/err
run() {
	want=$1; shift
	${VALGRIND:-} "$UCCID" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" = "$want" ]; then passes=$((passes + 1)); return 0; fi
	echo "FAIL: uccid $* exited $got, want $want"; sed 's/^/  out: /' "$tmp/out" | head; sed 's/^/  err: /' "$tmp/err" | head
	fails=$((fails + 1)); return 1
}
# has FILE TEXT: $tmp/FILE holds TEXT
has() {
	if grep -qF -- "$2" "$tmp/$1"; then passes=$((passes + 1)); else
		echo "FAIL: $1 lacks '$2'"; sed 's/^/  | /' "$tmp/$1" | head -20; fails=$((fails + 1)); fi
}
