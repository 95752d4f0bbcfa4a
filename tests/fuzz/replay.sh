#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Replays every committed fuzz corpus through its harness (built without
# libFuzzer).  A crash or sanitizer report fails the test.
set -e
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
for name in message class_desc usb_desc atr t1 t0 usbip iccd pin suite script hex names lockfile ifd_config \
	ifd_control vctl vserver vdesc vcard; do
	corpus="$top_srcdir/tests/fuzz/corpus/$name"
	[ -d "$corpus" ] || { echo "missing corpus $corpus" >&2; exit 1; }
	printf '%s: ' "$name"
	${REPLAY_WRAPPER:-} "$top_builddir/tests/fuzz/replay_$name" "$corpus"
done
