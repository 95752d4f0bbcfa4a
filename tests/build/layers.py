#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every call goes down a layer (docs/design.md, "Layers").

Reads the symbols each object file of the libraries defines and uses (nm),
and fails on:
  - a cycle between files (a file that, through others, calls itself);
  - a component that uses one above it (COMPONENTS: ccid, usbip, lockmgr, transport, session, ifd,
    vreader, the tool's selftest/ and hil/, the tool);
  - in session/, a call to a file of the same or a higher layer than the
    caller's (the order in session/session_priv.h's comment, repeated here).
Usage: layers.py BUILDDIR
"""
import os
import subprocess
import sys

# session/: lowest first; files on one line are one layer and may not call each other
SESSION_LAYERS = [
    ["log"],
    ["quirks", "openlock"],
    ["card"],
    ["link", "iccd", "passive"],
    ["engine"],
    ["commands", "charlevel"],
    ["gate", "t1xfr"],
    ["power", "apdu", "events", "secure"],
    ["locks"],
    ["session"],
    ["open"],
]
# components, lowest first: each may use only those before it
COMPONENTS = ["ccid", "usbip", "lockmgr", "transport", "session", "ifd", "vreader", "tool:base", "tool/selftest",
              "tool/hil", "tool"]
# tool/'s own base, below its selftest/ and hil/: what every subcommand shares
TOOL_BASE = {"output", "hex", "pcap", "capture", "pingpong", "trace", "session", "script"}
# the objects of a program: "<program>-<file>.o"
PROGRAM_PREFIX = {"tool/selftest": "uccid-", "tool/hil": "uccid-", "tool": "uccid-"}


def objects(build):
    """(component, file stem) -> object path, for the convenience libraries' objects."""
    found = {}
    for comp in COMPONENTS:
        for d in (os.path.join(build, comp), os.path.join(build, comp, ".libs")):
            if not os.path.isdir(d):
                continue
            for f in sorted(os.listdir(d)):
                prefix = PROGRAM_PREFIX.get(comp)
                if prefix and f.endswith(".o") and f.startswith(prefix):
                    found.setdefault((comp, f[len(prefix):-2]), os.path.join(d, f))
                elif not prefix and f.endswith(".o") and f.startswith("lib") and "_la-" in f:
                    stem = f.split("_la-", 1)[1][:-2]
                    found.setdefault((comp, stem), os.path.join(d, f))
    return found


def symbols(path):
    out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDRB":
            defined.add(parts[2])
    return defined, used


def cycles(edges, nodes):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def main():
    build = sys.argv[1]
    objs = objects(build)
    if not any(c == "session" for c, _ in objs):
        print("FAIL: no session objects under", build)
        return 1
    owner, uses = {}, {}
    for key, path in objs.items():
        d, u = symbols(path)
        for s in d:
            owner.setdefault(s, key)
        uses[key] = u
    edges = {}
    for key, u in uses.items():
        for s in u:
            if s in owner and owner[s] != key:
                edges.setdefault(key, set()).add(owner[s])
    fail = 0
    for c in cycles(edges, list(objs)):
        print("FAIL: files call each other:", " <-> ".join("%s/%s.c" % k for k in c))
        fail = 1
    def comp(key):
        return "tool:base" if key[0] == "tool" and key[1] in TOOL_BASE else key[0]

    comp_edges = {}
    for a, bs in edges.items():
        for b in bs:
            if comp(a) != comp(b):
                comp_edges.setdefault(comp(a), set()).add(comp(b))
    for a, bs in comp_edges.items():
        for b in bs:
            if COMPONENTS.index(b) > COMPONENTS.index(a):
                why = sorted("%s/%s.c -> %s/%s.c" % (x + y) for x in objs for y in edges.get(x, ())
                             if comp(x) == a and comp(y) == b)
                print("FAIL: %s uses %s, a component above it: %s" % (a, b, "; ".join(why)))
                fail = 1
    rank = {f: i for i, layer in enumerate(SESSION_LAYERS) for f in layer}
    for (comp, stem) in objs:
        if comp == "session" and stem not in rank:
            print("FAIL: session/%s.c is in no layer of tests/build/layers.py" % stem)
            fail = 1
    for a, bs in edges.items():
        for b in bs:
            if a[0] == b[0] == "session" and a[1] in rank and b[1] in rank and rank[b[1]] >= rank[a[1]]:
                print("FAIL: session/%s.c calls session/%s.c, which is not below it" % (a[1], b[1]))
                fail = 1
    n_edges = sum(len(v) for v in edges.values())
    if not fail:
        print("ok: %d files, %d file-to-file uses, no cycle; session/ in %d layers, every call goes down"
              % (len(objs), n_edges, len(SESSION_LAYERS)))
    return fail


if __name__ == "__main__":
    sys.exit(main())
