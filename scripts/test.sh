#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Quick start, part two: install what is missing, build, and run the whole
# test suite (make check).  Extra arguments go to configure on the first run.
set -eu
. "$(dirname "$0")/common.sh"
uccid_install_deps
uccid_build "$@"
make -C "$BUILD" -j"$(nproc)" check || {
	find "$BUILD/tests" -name '*.log' -newer "$BUILD/Makefile" -exec grep -l -E '^(FAIL|ERROR)' {} + \
		| while read -r log; do echo "==> $log"; tail -40 "$log"; done
	exit 1
}
