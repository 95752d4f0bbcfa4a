#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every call between files goes down a layer (tests/build/layers.py).
exec python3 "${top_srcdir:?}/tests/build/layers.py" "${top_builddir:?}"
