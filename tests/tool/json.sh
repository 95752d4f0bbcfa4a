#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# --json on every command, against the virtual reader: every line printed on
# standard output is parsed with python's json module, and every key of the
# examples in docs/json.md (for a stream, of the example with the same
# "event"; nested objects and the first element of arrays too) is in what the
# command printed.  Then every command once more with --json where it fails
# (a reader nobody serves, bad input): its error is an {"error":{"message"}}
# line on standard output.  The list of commands comes from uccid --json
# help, so a new command without a row here fails.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-json.XXXXXX")
export UCCID_LOCK_DIR="$tmp/locks"
pid=
holder=
passes=0
fails=0
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 parses the output"; exit 77; }

BAD=usbip://127.0.0.1:1/1-1   # port 1: connection refused, never a reader

# check HEADING FILE: FILE's lines are JSON and carry the keys of docs/json.md's examples under HEADING
cat >"$tmp/check.py" <<'EOF'
import json, re, sys
doc, heading, path = sys.argv[1:4]
sections, cur, block = {}, None, False
for l in open(doc, encoding="utf-8"):
    m = re.match(r'#+ (.*)', l)
    if m and not block:
        cur = m.group(1).strip()
        sections.setdefault(cur, [])
    elif l.startswith("```"):
        block = l.startswith("```json")
    elif block and l.strip():
        sections[cur].append(json.loads(l))
def names(title):
    return [re.sub(r'^uccid --json ', '', x) for x in re.findall(r'`([^`]*)`', title)]
examples = [e for k, v in sections.items() for e in v
            if any(n == heading or n.startswith(heading + " ") for n in names(k))]
errors = sections["Errors"]

def missing(ex, got, where=""):
    """The keys of ex (recursively) that got lacks."""
    if isinstance(ex, dict):
        if not isinstance(got, dict):
            return [where or "(top)"]
        out = []
        for k, v in ex.items():
            if k not in got:
                out.append(where + k)
            else:
                out += missing(v, got[k], where + k + ".")
        return out
    if isinstance(ex, list) and ex and isinstance(ex[0], (dict, list)):
        if not isinstance(got, list):
            return [where or "(top)"]
        return [m for g in got for m in missing(ex[0], g, where + "[].")]
    return []

bad, n = 0, 0
for i, line in enumerate(open(path, encoding="utf-8"), 1):
    if not line.strip():
        continue
    n += 1
    try:
        got = json.loads(line)
    except ValueError as e:
        print("FAIL: %s line %d is not JSON (%s): %s" % (heading, i, e, line[:200].rstrip()))
        bad += 1
        continue
    if isinstance(got, dict) and "error" in got:
        cands = [e for e in errors if set(e["error"]) <= set(got["error"])] if isinstance(got["error"], dict) else []
        if not cands:
            print("FAIL: %s line %d: an error without the documented keys: %s" % (heading, i, line[:200].rstrip()))
            bad += 1
        continue
    cands = examples
    if isinstance(got, dict) and "event" in got:
        cands = [e for e in examples if isinstance(e, dict) and e.get("event") == got["event"]]
    else:
        cands = [e for e in examples if not (isinstance(e, dict) and "event" in e)]
    if not cands:
        print("FAIL: %s line %d: no example in docs/json.md for %s" % (heading, i, line[:120].rstrip()))
        bad += 1
        continue
    best = min((missing(e, got) for e in cands), key=len)
    if best:
        print("FAIL: %s line %d lacks %s: %s" % (heading, i, ", ".join(best), line[:200].rstrip()))
        bad += 1
if n == 0 and len(sys.argv) < 5:
    print("FAIL: %s printed nothing" % heading)
    bad += 1
sys.exit(1 if bad else 0)
EOF
check() {  # check HEADING [empty-ok]: $tmp/out against docs/json.md's examples under HEADING
	if python3 "$tmp/check.py" "$top_srcdir/docs/json.md" "$1" "$tmp/out" ${2:+x}; then passes=$((passes + 1)); else
		fails=$((fails + 1)); sed 's/^/  out: /' "$tmp/out" | head -5 | cut -c1-300; fi
}

"$VREADER" --port 0 --profile tpdu-t1 --profile mechanical --control "$tmp/ctl" >"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1
R1=usbip://127.0.0.1:$port/1-1
R2=usbip://127.0.0.1:$port/1-2
ctl() { python3 "$top_srcdir/vreader/vrctl.py" "$tmp/ctl" "$@" >/dev/null; }

# Each command's result.
run 0 --json help && check help
run 0 --json decode message 81000000000008010000 && check decode
run 0 --json decode atr 3B 9B 96 81 31 20 4D 75 63 63 69 64 20 76 63 61 72 64 EA && check decode
run 0 --json list "usbip://127.0.0.1:$port" && check "list usbip://HOST"
# the USB buses: an array, maybe empty on this machine
if ${VALGRIND:-} "$UCCID" --json list >"$tmp/out" 2>"$tmp/err"; then check list empty-ok; else check list; fi
run 0 -r "$R1" --json info && check info && has out '"clocks_khz":{"source":"GET_CLOCK_FREQUENCIES"'
run 0 -r "$R1" --json atr && check atr
run 0 -r "$R1" --json apdu 00A4040C07F0756363696401 00200080 && check apdu
run 0 -r "$R1" --json status && check status
run 0 -r "$R1" reset --cold --json && check reset && has out '"done":"cold reset"'
run 0 -r "$R1" --json reset && check reset && has out '"done":"warm reset"'
run 0 -r "$R1" --json poweroff && check reset && has out '"done":"powered off"'
run 0 -r "$R2" --json eject && check reset && has out '"done":"ejected"'
ctl "reader 1-2" insert
run 0 -r "$R1" --json eject && check reset && has out '"done":"latched"'
run 0 -r "$R1" --json unlatch && check unlatch && has out '"was_latched":true'
run 0 -r "$R1" --json locks && check locks
run 0 -r "$R1" --json bench --rounds 10 && check bench
run 0 -r "$R1" --json selftest && check selftest
run 0 -r "$R1" --json trace status && check "trace COMMAND" && has out '"type":"PC_to_RDR_GetSlotStatus"'
printf 'test t\n  apdu 00A4040C07F0756363696401 expect 9000\ntest u\n  apdu 00A4040C07F0756363696401 expect 6A82\n' \
	>"$tmp/s.suite"
run 1 -r "$R1" --json test "$tmp/s.suite" && check test && has out '"status":"fail"'

# lock: a stream, an error line where a script line fails (stdin:3), the unlock's disposition
printf '00A4040C07F0756363696401\nreset\nzz\n' >"$tmp/script"
${VALGRIND:-} "$UCCID" -r "$R1" --json lock --disposition unpower <"$tmp/script" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && passes=$((passes + 1)) || { echo "FAIL: lock with a bad line did not exit 1"; fails=$((fails + 1)); }
check lock && has out '"event":"reset"' && has out '"message":"stdin:3: bad hex' && has out '"disposition":"unpower"'

# unlock: ask a lock holder that waits on a fifo
mkfifo "$tmp/in"
"$UCCID" -r "$R1" --json lock <"$tmp/in" >"$tmp/holder.out" 2>"$tmp/holder.err" &
holder=$!
exec 3>"$tmp/in"
if wait_for -p "$holder" "$tmp/holder.out" '"event":"locked"'; then
	run 0 -r "$R1" --json unlock --disposition leave && check unlock && has out "\"pid\":$holder"
	wait_until -p "$holder" "the holder's unlock" sh -c "! kill -0 $holder 2>/dev/null"
	cp "$tmp/holder.out" "$tmp/out"
	check lock && has out '"event":"unlocked","slot":0,"disposition":"leave"'
else
	fails=$((fails + 1))
fi
exec 3>&-
holder=

# watch: a stream with times, the ATR on insertion, a hardware error decoded
: >"$tmp/watch.out"
"$UCCID" -r "$R1" --json watch >"$tmp/watch.out" 2>"$tmp/watch.err" &
w=$!
wait_for -p $w "$tmp/watch.out" '"event":"inserted"' || fails=$((fails + 1))
ctl "reader 1-1" remove insert hwerror
wait_for -p $w "$tmp/watch.out" '"event":"hardware-error"' || fails=$((fails + 1))
kill -TERM $w
wait $w && passes=$((passes + 1)) || { echo "FAIL: watch did not end with 0 on SIGTERM"; fails=$((fails + 1)); }
cp "$tmp/watch.out" "$tmp/out"
check watch && has out '"event":"removed"' && has out '"meaning":"overcurrent"' &&
	has out '"atr":"3B' && grep -qE '"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}[+-][0-9]{4}"' "$tmp/out" &&
	passes=$((passes + 1)) || { echo "FAIL: watch's times"; fails=$((fails + 1)); }

# Each command failing, its error on stdout: a row per command of uccid --json help (none may be missing)
"$UCCID" --json help | python3 -c 'import json, sys; print("\n".join(c["name"] for c in json.load(sys.stdin)["commands"]))' \
	>"$tmp/cmds"
while read -r cmd; do
	case $cmd in
	decode) set -- decode atr 3B ;; help) set -- help nosuch ;; list) set -- list usbip://127.0.0.1:1 ;;
	apdu) set -- -r "$BAD" apdu 00A40400 ;; unlock) set -- -r "$BAD" unlock --disposition reset ;;
	locks) set -- -r "$BAD" locks --slots 0 ;; test) set -- -r "$BAD" test "$tmp/none.suite" ;;
	trace) set -- -r "$BAD" trace status ;; lock) set -- -r "$BAD" lock ;;
	*) set -- -r "$BAD" "$cmd" ;;
	esac
	${VALGRIND:-} "$UCCID" --no-wait --json "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	if [ $? = 0 ]; then echo "FAIL: uccid --json $* did not fail"; fails=$((fails + 1)); continue; fi
	if grep -q '"error":{"message":' "$tmp/out"; then check "$cmd"; else
		echo "FAIL: uccid --json $*: no error object on stdout"; sed 's/^/  err: /' "$tmp/err" | head -3
		fails=$((fails + 1))
	fi
done <"$tmp/cmds"

echo "json: $passes passed, $fails failed"
[ "$fails" = 0 ]
