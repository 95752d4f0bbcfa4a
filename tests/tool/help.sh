#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Help, table-driven from the tool's own option tables (uccid --json help),
# so that it cannot go stale: for every subcommand, "uccid CMD --help" and
# "-h" exit 0 and print its synopsis on stdout, "uccid help CMD" prints the
# same; uccid(1) lists the same commands and, on each command's line, the
# same long options as its table; every option of a table is accepted by
# its command (run once each with a sample value against a reader that
# cannot be opened: the parser lets it through, the open fails with 1), and
# an option not in the table is refused (2) naming it.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
MAN=$top_srcdir/docs/uccid.1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-help.XXXXXX")
export UCCID_LOCK_DIR="$tmp/locks"
passes=0
fails=0
trap 'rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 reads the tables"; exit 77; }

BAD=usbip://127.0.0.1:1/1-1   # port 1: connection refused, never a reader
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

run 0 --json help || exit 1
cp "$tmp/out" "$tmp/help.json"
# the tables: "CMD<TAB>SYNOPSIS" per command, "CMD<TAB>--OPT<TAB>ARG" per option (ARG - without one)
python3 - "$tmp/help.json" >"$tmp/cmds" 3>"$tmp/opts" <<'EOF' || { bad "uccid --json help is not its JSON"; exit 1; }
import json, os, sys
d = json.load(open(sys.argv[1]))
opts = os.fdopen(3, "w")
for c in d["commands"]:
    print("%s\t%s" % (c["name"], c["synopsis"]))
    for o in c["options"]:
        opts.write("%s\t--%s\t%s\n" % (c["name"], o["name"], o["arg"] or "-"))
EOF
[ "$(wc -l <"$tmp/cmds")" -ge 18 ] && ok || bad "uccid --json help lists $(wc -l <"$tmp/cmds") commands"

# uccid(1): the long options on each subcommand's line of SUBCOMMANDS, "CMD<TAB>--OPT"
python3 - "$MAN" >"$tmp/man-opts" 3>"$tmp/man-cmds" <<'EOF'
import os, re, sys
lines = open(sys.argv[1]).read().split("\n")
cmds = os.fdopen(3, "w")
sec = None
for i, l in enumerate(lines):
    if l.startswith(".SH "):
        sec = l[4:].strip()
        continue
    if sec != "SUBCOMMANDS" or l != ".TP" or i + 1 >= len(lines):
        continue
    m = re.match(r'\.B[IR]? (\w+)(.*)', lines[i + 1])
    if not m:
        continue
    cmds.write(m.group(1) + "\n")
    for o in sorted(set(re.findall(r'--([a-z][a-z-]*)', m.group(2).replace("\\-", "-")))):
        print("%s\t--%s" % (m.group(1), o))
EOF
cut -f1 "$tmp/cmds" | sort >"$tmp/a"
sort "$tmp/man-cmds" >"$tmp/b"
if diff "$tmp/a" "$tmp/b" >"$tmp/d"; then ok; else bad "commands: the tool's (<) and uccid(1)'s (>) differ"; cat "$tmp/d"; fi
grep -v "	--help	" "$tmp/opts" | cut -f1,2 | sort >"$tmp/a"
sort "$tmp/man-opts" >"$tmp/b"
if diff "$tmp/a" "$tmp/b" >"$tmp/d"; then ok; else bad "options: the tables (<) and uccid(1)'s lines (>) differ"; cat "$tmp/d"; fi

# --help, -h and help CMD, for every command
while IFS='	' read -r cmd syn; do
	run 0 "$cmd" --help || continue
	if [ "$(head -1 "$tmp/out")" = "usage: $syn" ]; then ok; else bad "$cmd --help: first line is not 'usage: $syn'"; head -2 "$tmp/out"; fi
	[ -s "$tmp/err" ] && bad "$cmd --help wrote on stderr"
	cp "$tmp/out" "$tmp/help.$cmd"
	run 0 "$cmd" -h && { cmp -s "$tmp/out" "$tmp/help.$cmd" && ok || bad "$cmd -h differs from $cmd --help"; }
	run 0 help "$cmd" && { cmp -s "$tmp/out" "$tmp/help.$cmd" && ok || bad "help $cmd differs from $cmd --help"; }
	# every option of the table is in the help text
	grep "^$cmd	" "$tmp/opts" | cut -f2 | while read -r o; do
		grep -qF -- "$o" "$tmp/help.$cmd" || echo "FAIL: $cmd --help lacks $o"
	done >"$tmp/lacks"
	[ -s "$tmp/lacks" ] && { cat "$tmp/lacks"; fails=$((fails + 1)); } || ok
	# an option that is not in the table is refused, named
	run 2 -r "$BAD" "$cmd" --no-such-option && has err "'--no-such-option' is not an option of $cmd"
done <"$tmp/cmds"
run 2 help nosuch && has err "no command 'nosuch'"
run 0 help && has out "Subcommands:"

# Every option accepted: a sample value per argument name, the arguments each command needs besides
printf '00A40400\n' >"$tmp/one.apdu"
printf 'test t\n  apdu 00A4040C07F0756363696401\n' >"$tmp/one.suite"
sample() {  # sample OPTION ARG
	[ "$1" = --rounds ] && { echo 10; return; }
	case $2 in
	N) echo 1 ;; SECONDS) echo 1 ;; D) echo reset ;; HEX) echo 00A40400 ;; SCRIPT) echo "$tmp/one.apdu" ;;
	FILE) echo "$tmp/junit.xml" ;; PATH) echo "$tmp/ctl" ;; DURATION) echo 5s ;; NAME=VALUE) echo X=1 ;;
	'[ALIAS=]NAME') echo "$BAD" ;; *) echo "FAIL: no sample for the argument $2" >&2; echo x ;;
	esac
}
needs() {  # needs CMD OPTION: the other arguments CMD needs with OPTION
	case $1 in
	decode) echo "atr 3B00" ;; apdu) [ "$2" = --file ] || echo 00A40400 ;; help) echo atr ;; trace) echo status ;;
	test) echo "$tmp/one.suite" ;; unlock) [ "$2" = --disposition ] || echo "--disposition reset" ;;
	locks) [ "$2" = --slots ] && echo "" ;; esac
}
while IFS='	' read -r cmd opt arg; do
	[ "$opt" = --help ] && continue
	# list --watch runs until a signal: given a USB/IP server instead, it says what --watch is for
	if [ "$cmd $opt" = "list --watch" ]; then
		run 2 list --watch usbip://127.0.0.1:1 && has err "--watch is for the USB buses"
		continue
	fi
	if [ "$arg" = - ]; then set -- "$opt"; else set -- "$opt" "$(sample "$opt" "$arg")"; fi
	# shellcheck disable=SC2046  # needs prints words
	${VALGRIND:-} "$UCCID" -r "$BAD" --no-wait "$cmd" "$@" $(needs "$cmd" "$opt") >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" = 2 ] || grep -q "not an option" "$tmp/err"; then
		bad "uccid $cmd $* exited $got: the option of its table was not accepted"; sed 's/^/  err: /' "$tmp/err" | head -3
	else
		ok
	fi
done <"$tmp/opts"

echo "help: $passes passed, $fails failed"
[ "$fails" = 0 ]
