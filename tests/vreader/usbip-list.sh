#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Debian's real usbip tool against uccid-vreader exporting two readers:
# `usbip list -r` must show bus ids 1-1 and 1-2, VID:PID 1209:0001 and an
# interface of class 0b; when the
# host has no vhci-hcd, `usbip attach` is used as an import-only client (it
# imports before it looks for vhci-hcd): an unknown busid must be refused as
# "Device not found", and 1-1 must be importable twice in a row (the server
# releases the device when the client goes away).  Without Debian's usbip
# package the test is skipped (77): make check installs nothing, and
# scripts/common.sh lists usbip among the build dependencies.
set -eu
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
server=${USBIP_TEST_SERVER:-$top_builddir/vreader/uccid-vreader}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/usbip-list.XXXXXX")
pid=

cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
. "$top_srcdir/tests/tool/lib.sh"

fail() {
	echo "FAIL: $*" >&2
	for f in "$tmp"/*.out; do
		[ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	exit 1
}

find_usbip() {
	command -v usbip 2>/dev/null || { [ -x /usr/sbin/usbip ] && echo /usr/sbin/usbip; } || true
}

usbip=$(find_usbip)
if [ -z "$usbip" ]; then
	echo "SKIP: Debian's usbip tool is not installed (apt-get install usbip, or ./scripts/test.sh" \
		"which installs the build dependencies)"
	exit 77
fi
"$usbip" version >"$tmp/version.out" 2>&1 || fail "'$usbip version' does not run"
echo "using $usbip: $(cat "$tmp/version.out")"

[ -x "$server" ] || fail "no server program at $server"

# Port 0: the kernel picks a free port, and the server prints it.
${VALGRIND:-} "$server" --port 0 --listen 127.0.0.1 --profile tpdu-t1 --profile extended-apdu \
	>"$tmp/server.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/server.out" || fail "the server did not start listening"
echo "server on port $port"

# --- usbip list -r ----------------------------------------------------------
timeout 30 "$usbip" --tcp-port "$port" list -r 127.0.0.1 >"$tmp/list.out" 2>&1 ||
	fail "usbip list -r exited with $?"
cat "$tmp/list.out"
grep -q '^ *1-1: .*(1209:0001)$' "$tmp/list.out" || fail "busid 1-1 with 1209:0001 not listed"
grep -q '^ *1-2: .*(1209:0001)$' "$tmp/list.out" || fail "busid 1-2 with 1209:0001 not listed"
grep -q '^ *: *0 - .*(0b/00/00)$' "$tmp/list.out" || fail "interface 0 of class 0b not listed"
# Twice: each DEVLIST connection is closed by the server and the next one served.
timeout 30 "$usbip" --tcp-port "$port" list -r 127.0.0.1 >"$tmp/list2.out" 2>&1 ||
	fail "second usbip list -r exited with $?"
cmp -s "$tmp/list.out" "$tmp/list2.out" || fail "second listing differs"

# --- usbip attach as an import-only client ------------------------------------
# Never attach for real to the test host's kernel: only without vhci-hcd.
if [ -e /sys/devices/platform/vhci_hcd.0 ] || [ -d /sys/module/vhci_hcd ]; then
	echo "vhci-hcd present: not attaching to this host's kernel (import checks skipped)"
else
	timeout 30 "$usbip" --tcp-port "$port" attach -r 127.0.0.1 -b 9-9 >"$tmp/attach-unknown.out" 2>&1 &&
		fail "attach of an unknown busid succeeded"
	grep -q 'Device not found' "$tmp/attach-unknown.out" ||
		fail "unknown busid not refused with ST_NODEV (Device not found)"
	for n in 1 2; do
		timeout 30 "$usbip" --tcp-port "$port" attach -r 127.0.0.1 -b 1-1 >"$tmp/attach$n.out" 2>&1 || true
		grep -q 'failed - ' "$tmp/attach$n.out" && fail "import $n of 1-1 refused by the server"
		grep -q 'vhci_driver' "$tmp/attach$n.out" ||
			fail "import $n of 1-1: usbip did not get as far as vhci-hcd"
	done
	echo "import of 1-1 accepted twice, unknown busid refused"
fi

# --- the server is still alive and stops cleanly on SIGTERM ------------------
kill -0 "$pid" 2>/dev/null || fail "the server died"
kill "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "the server exited with $status after SIGTERM"
echo "PASS: usbip list -r shows 1-1 and 1-2 (1209:0001, class 0b)"
