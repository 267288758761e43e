#!/usr/bin/env python3
"""No two files of lib/ call each other (docs/ARCHITECTURE.md).

From the library's object files (nm): for every pair of files where each
uses a symbol the other defines, print both symbols and fail. The files then
form layers: a file only calls files below it, so each can be read, tested
and changed knowing only what it calls.

usage: layering.py LIBRARY   (the built library; its objects are in LIBRARY.p)
"""
import collections
import glob
import os
import subprocess
import sys


def symbols(objdir):
    defs, uses = {}, collections.defaultdict(set)
    objs = sorted(glob.glob(os.path.join(objdir, "*.o")))
    for o in objs:
        f = os.path.basename(o)[:-len(".c.o")]
        out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDRBC":
                defs[p[2]] = f
            elif len(p) == 2 and p[0] == "U":
                uses[f].add(p[1])
    return objs, defs, uses


def main():
    objdir = sys.argv[1] + ".p"
    objs, defs, uses = symbols(objdir)
    if len(objs) < 20:
        print(f"FAIL: {len(objs)} object files in {objdir}; expected the library's")
        return 1
    calls = collections.defaultdict(dict)   # file -> {file it calls: a symbol}
    for f, us in uses.items():
        for s in sorted(us):
            if s in defs and defs[s] != f:
                calls[f].setdefault(defs[s], s)
    bad = 0
    for a in sorted(calls):
        for b, s in sorted(calls[a].items()):
            if a < b and a in calls.get(b, {}):
                print(f"FAIL: lib/{a}.c and lib/{b}.c call each other ({s}; {calls[b][a]})")
                bad += 1
    edges = sum(len(v) for v in calls.values())
    print(f"{len(objs)} files, {edges} file-to-file dependencies, {bad} pairs calling each other")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
