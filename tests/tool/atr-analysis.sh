#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The defective ATRs of pcsc-tools' smartcard_list.txt (those ccid_atr_parse_lenient
# has findings for, listed by tests/check_atr_corpus --defective): `uccid --json
# decode atr` explains each with exit 0, and its findings say what pcsc-tools'
# ATR_analysis complains of.  ATR_analysis runs offline: its cache directory
# (XDG_CACHE_HOME) gets a fresh copy of the installed list, so it never downloads one.
#
# ATR_analysis's model: after the interface bytes, exactly K + 1 bytes left
# means the last is TCK (checked: "WRONG CHECKSUM, expected XX"); fewer than K
# is "ATR is truncated: N byte(s)"; more is "ATR is too long: N extra byte(s)".
# It does not know when TCK is required.  So our findings predict its
# complaints: wrong-tck -> checksum XX; extra-bytes of 1 byte -> checksum (it
# takes the byte for a TCK), of N > 1 -> too long N; extra-after-tck N -> too long
# N + 1 and no checksum (it sees no TCK then); missing-historical N -> truncated
# N, unless nothing follows the interface bytes (it stops without a word);
# unexpected-tck and missing-tck -> nothing (a correct TCK; a TCK it does not miss).
set -u
top_builddir=${top_builddir:-.}
UCCID=${UCCID:-$top_builddir/tool/uccid}
LIST=${UCCID_ATR_LIST:-/usr/share/pcsc/smartcard_list.txt}
if ! command -v ATR_analysis >/dev/null || [ ! -r "$LIST" ] || ! command -v python3 >/dev/null; then
	echo "SKIP: needs ATR_analysis and $LIST (Debian's pcsc-tools) and python3"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/cache"
cp "$LIST" "$tmp/cache/smartcard_list.txt"
touch "$tmp/cache/smartcard_list.txt"

"$top_builddir/tests/check_atr_corpus" --defective >"$tmp/defective" || exit 1
[ -s "$tmp/defective" ] || { echo "FAIL: no defective ATR listed"; exit 1; }

XDG_CACHE_HOME=$tmp/cache HOME=$tmp UCCID=$UCCID VALGRIND=${VALGRIND:-} python3 - "$tmp/defective" <<'EOF'
import concurrent.futures, json, os, re, subprocess, sys

uccid = os.environ["UCCID"]
wrap = os.environ["VALGRIND"].split()
atrs = [l.strip() for l in open(sys.argv[1]) if l.strip()]
kinds, agree, differ, complained = {}, 0, [], 0

def theirs(hexatr):
    out = subprocess.run(["ATR_analysis", hexatr], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL).stdout
    c = set()
    m = re.search(r"WRONG CHECKSUM, expected ([0-9A-F]{2})", out)
    if m:
        c.add(("checksum", m.group(1)))
    m = re.search(r"ATR is truncated: (\d+) byte", out)
    if m:
        c.add(("truncated", int(m.group(1))))
    m = re.search(r"ATR is too long: (\d+) extra byte", out)
    if m:
        c.add(("too long", int(m.group(1))))
    if "Updating" in out:
        sys.exit("FAIL: ATR_analysis tried to download its list")
    return c

def ours(hexatr):
    p = subprocess.run(wrap + [uccid, "--json", "decode", "atr", hexatr], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        sys.exit("FAIL: uccid decode atr %s exited %d: %s" % (hexatr, p.returncode, p.stderr))
    f = json.loads(p.stdout)["findings"]
    if not f:
        sys.exit("FAIL: uccid decode atr %s: no finding" % hexatr)
    c = set()
    for x in f:
        kinds[x["defect"]] = kinds.get(x["defect"], 0) + 1
        n = int(x["found"].split()[0]) if x["defect"] in ("extra-bytes", "extra-after-tck") else 0
        if x["defect"] == "wrong-tck":
            c.add(("checksum", x["expected"]))
        elif x["defect"] == "extra-bytes":
            if n == 1:
                data = bytes.fromhex(hexatr)
                xor = 0
                for b in data[1:-1]:
                    xor ^= b
                c.add(("checksum", "%02X" % xor))
            else:
                c.add(("too long", n))
        elif x["defect"] == "extra-after-tck":
            c.add(("too long", n + 1))
        elif x["defect"] == "missing-historical":
            k = json.loads(p.stdout)["fields"][1]["value"] & 0x0F
            # it stops without a word when nothing follows the interface bytes
            if int(x["found"]) > 0:
                c.add(("truncated", k - int(x["found"])))
    # with bytes after TCK it sees no TCK, so checks none
    if any(t[0] == "too long" for t in c):
        c = {t for t in c if t[0] != "checksum"}
    return c, [x["defect"] for x in f]

def both(a):
    return a, ours(a), theirs(a)

# two at a time: ATR_analysis is a perl start-up each
with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
    for a, (mine, defects), got in ex.map(both, atrs):
        complained += bool(got)
        if mine == got:
            agree += 1
        else:
            differ.append((a, defects, sorted(mine), sorted(got)))

print("%d defective ATRs: findings %s" % (len(atrs), ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
print("ATR_analysis complains of %d of them; our findings predict its complaints (or silence) for %d of %d"
      % (complained, agree, len(atrs)))
for d in differ:
    print("DIFFER: %s: ours %s -> %s, ATR_analysis %s" % d)
sys.exit(1 if differ else 0)
EOF
