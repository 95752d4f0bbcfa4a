#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# uccid test, the hardware-in-the-loop runner, against the virtual reader:
# the example suites of tests/hil/suites/ pass, with a plan that matches and
# a JUnit report that python's XML parser reads; a failing step is "not ok"
# with the frames around it and exit status 1; a bad suite is refused with
# FILE:LINE before any reader is touched (exit 2); timeouts end steps and
# suites; the virtual reader's control socket errors reach the report.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
SUITES=$top_srcdir/tests/hil/suites
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-test.XXXXXX")
pid=
passes=0
fails=0
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"

command -v python3 >/dev/null || { echo "SKIP: python3 is needed to check the JUnit XML"; exit 77; }
export UCCID_LOCK_DIR="$tmp/locks"
mkdir -p "$UCCID_LOCK_DIR"

"$VREADER" --port 0 --profile tpdu-t1 --profile tpdu-t0 --profile extended-apdu --profile multi-slot \
	--control "$tmp/ctl" >"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1
B=usbip://127.0.0.1:$port
READERS="-r card=$B/1-1 -r t0=$B/1-2 -r ext=$B/1-3 -r multi=$B/1-4"

run() {  # run STATUS ARGS...
	want=$1; shift
	${VALGRIND:-} "$UCCID" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" = "$want" ]; then passes=$((passes + 1)); return 0; fi
	echo "FAIL: uccid $* exited $got, want $want"; sed 's/^/  out: /' "$tmp/out" | head -40; sed 's/^/  err: /' "$tmp/err" | head
	fails=$((fails + 1)); return 1
}
has() {
	if grep -qF -- "$2" "$tmp/$1"; then passes=$((passes + 1)); else
		echo "FAIL: $1 lacks '$2'"; sed 's/^/  | /' "$tmp/$1" | head -40; fails=$((fails + 1)); fi
}
hasnt() {
	if ! grep -qF -- "$2" "$tmp/$1"; then passes=$((passes + 1)); else
		echo "FAIL: $1 has '$2'"; grep -F -- "$2" "$tmp/$1" | head; fails=$((fails + 1)); fi
}
# junit FILE TESTS FAILURES: well-formed, and the counts add up
junit() {
	if python3 - "$@" <<'PY'; then passes=$((passes + 1)); else fails=$((fails + 1)); fi
import sys, xml.etree.ElementTree as ET
path, tests, failures = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
root = ET.parse(path).getroot()
assert root.tag == "testsuites", root.tag
cases = root.findall("./testsuite/testcase")
failed = [c for c in cases if c.find("failure") is not None]
assert len(cases) == tests, f"{len(cases)} testcases, want {tests}"
assert len(failed) == failures, f"{len(failed)} failures, want {failures}"
assert int(root.get("tests")) == tests and int(root.get("failures")) == failures, root.attrib
for s in root.findall("testsuite"):
    assert int(s.get("tests")) == len(s.findall("testcase")), s.attrib
    assert s.get("name") and s.get("timestamp") and s.get("file"), s.attrib
for c in cases:
    assert c.get("name") and c.get("classname") and float(c.get("time")) >= 0, c.attrib
for c in failed:
    f = c.find("failure")
    assert f.get("message") and "step: " in (f.text or ""), ET.tostring(c)
PY
}

# ---- the example suites pass, TAP plan and JUnit counts agree ----
run 0 test --control "$tmp/ctl" $READERS --junit "$tmp/all.xml" \
	"$SUITES/basic.suite" "$SUITES/events.suite" "$SUITES/faults.suite" "$SUITES/extended.suite" \
	"$SUITES/multi-slot.suite" "$SUITES/locks.suite"
has out "TAP version 13"
plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tmp/out")
oks=$(grep -c '^ok ' "$tmp/out")
[ -n "$plan" ] && [ "$plan" = "$oks" ] && [ "$plan" -ge 25 ] && passes=$((passes + 1)) ||
	{ echo "FAIL: plan '$plan' but $oks ok lines"; fails=$((fails + 1)); }
hasnt out "not ok"
has out "ok 2 - basic: select the application"
has out "# suite events"
junit "$tmp/all.xml" "$plan" 0

# ---- a failing step: not ok, the report with frames, exit 1, JUnit <failure> ----
cat >"$tmp/fail.suite" <<'S'
suite failing
reader card
power
apdu 00A4040C07F0756363696401 expect 6A82 # a step outside a test block is a test of its own
test a wrong expectation
  apdu 00A4040C07F0756363696401 expect 6A82
  apdu 00A4040C07F0756363696401
test the next test still runs
  apdu 00A4040C07F0756363696401 expect 9000
test data that does not match
  apdu 8010000004 expect-data 00 01 02 04
S
run 1 test -r "$B/1-1" --junit "$tmp/fail.xml" "$tmp/fail.suite"
has out "1..5"
has out "not ok 2 - failing: apdu 00A4040C07F0756363696401 expect 6A82"
has out "not ok 3 - failing: a wrong expectation"
has out "# step: $tmp/fail.suite:6: apdu 00A4040C07F0756363696401 expect 6A82"
has out "# failed: SW 9000 (success); expected 6A82"
has out "# frames (the last"
has out "# * > "
has out "PC_to_RDR_XfrBlock slot 0"
has out "ok 4 - failing: the next test still runs"
has out "not ok 5 - failing: data that does not match"
has out "# failed: the data does not match the pattern"
has out "# expected data: 00 01 02 04"
has out "# 5 tests, 2 passed, 3 failed"
junit "$tmp/fail.xml" 5 3

# ---- names that need escaping stay well-formed XML ----
printf 'suite esc <&> "q"\nreader card\ntest a <b> & "c" \047d\047 \351t\351\n  apdu 00A4040C07F0756363696401 expect 6A8\077\n' >"$tmp/esc.suite"
run 1 test -r "$B/1-1" --junit "$tmp/esc.xml" "$tmp/esc.suite"
junit "$tmp/esc.xml" 1 1

# ---- the control socket: an error answer fails the step; no socket is an error too ----
printf 'reader card\nvreader fault no-such-fault\n' >"$tmp/vr.suite"
run 1 test -r "$B/1-1" --control "$tmp/ctl" "$tmp/vr.suite"
has out "the virtual reader answered: error:"
run 1 test -r "$B/1-1" "$tmp/vr.suite"
has out "no control socket: name it in the suite (control PATH) or run with --control PATH"

# ---- timeouts: a suite's timeout ends it, the rest is reported not run ----
printf 'reader card\nsuite-timeout 500ms\nsleep 2s\npower\n' >"$tmp/slow.suite"
run 1 test -r "$B/1-1" "$tmp/slow.suite"
has out "# failed: the suite's timeout (500 ms) passed while sleeping"
has out "not ok 2 - slow: power"
has out "# failed: not run: the suite's timeout (500 ms) had passed"
printf 'reader card\npower\nwait-event removed 300ms\n' >"$tmp/ev.suite"
run 1 test -r "$B/1-1" "$tmp/ev.suite"
has out "# failed: no 'removed' event within"

# ---- readers: unbound aliases, unknown aliases, unreachable readers ----
printf 'reader a\nreader b\nuse b\npower\n' >"$tmp/two.suite"
run 2 test -r "a=$B/1-1" "$tmp/two.suite"
has err "$tmp/two.suite:2: reader 'b' has no name: declare it with one or run with --reader b=NAME"
hasnt out "TAP version"
run 2 test -r "zz=$B/1-1" "$tmp/two.suite"
has err "no suite declares a reader 'zz'"
run 1 test -r "usbip://127.0.0.1:$port/9-9" "$tmp/ev.suite"
has out "cannot open reader usbip://127.0.0.1:$port/9-9"

# ---- a bad suite is refused with FILE:LINE, before any reader is touched ----
printf 'reader card\npower\napdu 00A4 04 0G expect 9000\n' >"$tmp/bad.suite"
run 2 test -r "$B/1-1" "$tmp/fail.suite" "$tmp/bad.suite"
has err "$tmp/bad.suite:3: apdu: '00A4040G' is not hex"
hasnt out "TAP version"
printf 'apdu 00A4040C07F0756363696401 expect 9X00\n' >"$tmp/bad.suite"
run 2 test "$tmp/bad.suite" && has err "bad.suite:1: expect: '9X00' is not a status word"
run 2 test "$tmp/missing.suite" && has err "missing.suite: No such file or directory"
run 2 test && has err "give one or more suite files"
run 2 test --timeout 5x "$tmp/fail.suite" && has err "--timeout: '5x' is not a duration"
# --json: a JSON object per line (plan, suite, each test, summary), the failure's report in "detail"
run 1 --json test -r "$B/1-1" "$tmp/fail.suite" && has out '"event":"plan"' && has out '"status":"fail"' &&
	has out '"event":"summary"' && python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/out" &&
	passes=$((passes + 1)) || { echo "FAIL: uccid --json test: not JSON lines"; fails=$((fails + 1)); }
run 0 test --help && has out "usage: uccid test"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
