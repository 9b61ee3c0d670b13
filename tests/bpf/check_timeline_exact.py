#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks a timeline's times exactly (what speedscope and Perfetto compute from them).

  check_timeline_exact.py FILE

Every "ts" and "dur" is printed in microseconds with exactly three decimals (integer
nanoseconds); read as exact decimals, no complete ("X") slice on a track overlaps its
successor: each slice either ends before the next one starts or contains it whole.
Prints the problems (at most 20) and exits 1, or prints a summary line.
"""
import json
import re
import sys
from collections import defaultdict
from decimal import Decimal


def main(path):
    raw = open(path).read()
    problems = []
    for m in re.finditer(r'"(ts|dur)":(-?[0-9.eE+-]+)', raw):
        if not re.fullmatch(r"[0-9]+\.[0-9]{3}", m.group(2)):
            problems.append(f"{m.group(1)} {m.group(2)} is not fixed-precision microseconds")
            if len(problems) >= 20:
                break
    doc = json.loads(raw, parse_float=Decimal)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    tracks = defaultdict(list)
    for e in events:
        if e.get("ph") == "X":
            tracks[(e["pid"], e["tid"])].append((Decimal(e["ts"]), Decimal(e["dur"])))
    nslices = overlaps = 0
    for track, sl in tracks.items():
        sl.sort(key=lambda s: (s[0], -s[1]))
        open_ends = []
        for ts, dur in sl:
            nslices += 1
            end = ts + dur
            while open_ends and open_ends[-1] <= ts:
                open_ends.pop()
            if open_ends and end > open_ends[-1]:
                overlaps += 1
                if len(problems) < 20:
                    problems.append(f"track {track}: slice at {ts} (+{dur}) overlaps one "
                                    f"ending at {open_ends[-1]}")
            open_ends.append(end)
    if overlaps and len(problems) >= 20:
        problems.append(f"{overlaps} overlaps in all")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"ok: {nslices} slices on {len(tracks)} tracks, fixed precision, no overlap")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
