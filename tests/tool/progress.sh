#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Long runs on a terminal: bench, selftest and test show a progress line on
# standard error when it is a terminal (here a pseudo-terminal), and SIGTERM
# (or SIGINT) ends them with what was done printed — bench's figures of the
# round trips measured, selftest's results of the probes run, test's results
# with the tests left reported "not run: interrupted" and its summary and
# JUnit file — and exit status 1.  The signal is sent once the progress line
# shows the run under way, not after a guessed time.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-progress.XXXXXX")
export UCCID_LOCK_DIR="$tmp/locks"
pid=
passes=0
fails=0
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 provides the terminal"; exit 77; }

# on_tty SIGNAL ERE ARGS...: uccid ARGS with stderr on a pseudo-terminal; once ERE shows on it, SIGNAL.
# Writes $tmp/out (stdout), $tmp/tty (what the terminal got); returns uccid's exit status.
cat >"$tmp/on_tty.py" <<'EOF'
import os, pty, re, select, signal, subprocess, sys, time
sig, pattern, out, tty = getattr(signal, sys.argv[1]), re.compile(sys.argv[2].encode()), sys.argv[3], sys.argv[4]
master, slave = pty.openpty()
with open(out, "wb") as o:
    p = subprocess.Popen(sys.argv[5:], stdin=subprocess.DEVNULL, stdout=o, stderr=slave)
os.close(slave)
seen, sent, deadline = b"", False, time.monotonic() + float(os.environ.get("UCCID_TEST_WAIT", "60"))
while True:
    r, _, _ = select.select([master], [], [], 0.05)
    if r:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            break
        seen += chunk
    if not sent and pattern.search(seen):
        p.send_signal(sig)
        sent = True
    if p.poll() is not None and not r:
        break
    if time.monotonic() > deadline:
        p.kill()
        print("FAIL: %s did not show /%s/ or end in time" % (sys.argv[5:], sys.argv[2]))
        break
open(tty, "wb").write(seen)
rc = p.wait()
if not sent:
    print("FAIL: the terminal never showed /%s/" % sys.argv[2])
    rc = 99
sys.exit(rc)
EOF
on_tty() {
	want=$1 sig=$2 re=$3; shift 3
	python3 "$tmp/on_tty.py" "$sig" "$re" "$tmp/out" "$tmp/tty" ${VALGRIND:-} "$UCCID" "$@"
	got=$?
	if [ "$got" = "$want" ]; then passes=$((passes + 1)); return 0; fi
	echo "FAIL: uccid $* ($sig) exited $got, want $want"; sed 's/^/  out: /' "$tmp/out" | head
	tr '\r' '\n' <"$tmp/tty" | sed 's/^/  tty: /' | tail -5
	fails=$((fails + 1)); return 1
}

"$VREADER" --port 0 --profile tpdu-t1 --control "$tmp/ctl" >"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1
R1=usbip://127.0.0.1:$port/1-1
ctl() { python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "$@" >/dev/null; }

# bench: progress on the terminal; SIGTERM: the figures of the round trips done
on_tty 1 SIGTERM '5 bytes: [0-9]+/1000000' -r "$R1" bench --rounds 1000000 && has out "5      uccid" &&
	has out "(interrupted: " && has out "interrupted: the figures above are of the round trips done" &&
	has tty "bench: interrupted"
on_tty 1 SIGINT '5 bytes: [0-9]+/1000000' -r "$R1" --json bench --rounds 1000000 && has out '"interrupted":true' &&
	python3 -c 'import json, sys; d = json.loads(open(sys.argv[1]).readline()); assert d["results"][0]["rounds"] < 1000000' \
		"$tmp/out" && passes=$((passes + 1)) || { echo "FAIL: bench --json interrupted"; fails=$((fails + 1)); }

# selftest: each answer 200 ms late, so that the probes take long; SIGTERM after the third shows
ctl "fault latency 200 count=0"
on_tty 1 SIGTERM 'selftest: \[3/' -r "$R1" selftest && has out "descriptor" && has tty "selftest: interrupted after"
ctl "fault clear"

# test: the second test waits for an event that does not come; SIGTERM while it does
cat >"$tmp/long.suite" <<'S'
test first
  power
  apdu 00A4040C07F0756363696401 expect 9000
test second
  wait-event removed 60s
test third
  apdu 00A4040C07F0756363696401 expect 9000
S
on_tty 1 SIGTERM 'test 2 of 3: second' -r "$R1" test --junit "$tmp/j.xml" "$tmp/long.suite" &&
	has out "ok 1 - long: first" && has out "ok 2 - long: second # SKIP not run: interrupted" &&
	has out "ok 3 - long: third # SKIP not run: interrupted" && has out "# 3 tests, 1 passed, 0 failed, some not run" &&
	has tty "test: interrupted" && has j.xml 'skipped="2"'

echo "progress: $passes passed, $fails failed"
[ "$fails" = 0 ]
