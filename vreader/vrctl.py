#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uccid-vreader's control socket for the test scripts.

    vrctl.py SOCKET LINE...

Sends each LINE on one connection and copies its reply to standard output
before sending the next; a reply is one or more lines, the last starting
with "ok" or "error:" (uccid-vreader(1)).  Stops early when the vreader
closes the connection.  Every wait is bounded by a 10 s timeout.
"""
import socket
import sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rwb")
for line in sys.argv[2:]:
    f.write(line.encode() + b"\n")
    f.flush()
    while True:
        r = f.readline().decode()
        if not r:
            sys.exit(0)
        sys.stdout.write(r)
        if r.startswith(("ok", "error:")):
            break
