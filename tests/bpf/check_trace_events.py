#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Validates a Chrome trace-event JSON file (what `async-inspect report --timeline` writes).

  check_trace_events.py FILE [--tasks N] [--polls N] [--min-flows N]

Checks: the document shape; the fields each phase requires, with their types; begin/end
pairs matched per track; complete ("X") slices properly nested per track; timestamps
non-decreasing per track; every flow id has exactly one start ("s") and one finish ("f")
with the same name, the start not after the finish, each bound to a slice on its track.
With --tasks/--polls it also checks the number of task tracks and poll slices. Prints one
line per problem (at most 20) and exits 1 if there were any, else prints a summary line.
"""
import json
import sys
from collections import defaultdict

EPS = 0.0015  # us; timestamps are printed with ns precision

REQUIRED = {
    "X": {"name": str, "ts": (int, float), "dur": (int, float)},
    "B": {"name": str, "ts": (int, float)},
    "E": {"ts": (int, float)},
    "i": {"name": str, "ts": (int, float)},
    "I": {"name": str, "ts": (int, float)},
    "M": {"name": str, "args": dict},
    "s": {"name": str, "ts": (int, float), "id": (int, str), "cat": str},
    "t": {"name": str, "ts": (int, float), "id": (int, str), "cat": str},
    "f": {"name": str, "ts": (int, float), "id": (int, str), "cat": str},
}
METADATA = {"process_name", "process_labels", "process_sort_index", "thread_name",
            "thread_sort_index"}


def main(argv):
    path = argv[1]
    want = {}
    i = 2
    while i < len(argv):
        want[argv[i].lstrip("-")] = int(argv[i + 1])
        i += 2
    problems = []

    def bad(msg):
        if len(problems) < 20:
            problems.append(msg)
        else:
            problems.append(None)

    with open(path) as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    if not isinstance(events, list):
        print("traceEvents is not a list")
        return 1

    last_ts = defaultdict(lambda: -1.0)
    stacks = defaultdict(list)  # B/E
    slices = defaultdict(list)  # X per track: (ts, end)
    flows = defaultdict(list)
    task_tracks = set()
    polls = 0
    for n, e in enumerate(events):
        if not isinstance(e, dict):
            bad(f"event {n} is not an object")
            continue
        ph = e.get("ph")
        if ph not in REQUIRED:
            bad(f"event {n}: unknown phase {ph!r}")
            continue
        for field, typ in list(REQUIRED[ph].items()) + [("pid", int), ("tid", int)]:
            if field not in e or not isinstance(e[field], typ) or isinstance(e[field], bool):
                bad(f"event {n} ({ph}): field {field!r} missing or not {typ}")
        if "ts" in e and isinstance(e["ts"], (int, float)) and e["ts"] < 0:
            bad(f"event {n}: negative ts")
        track = (e.get("pid"), e.get("tid"))
        if ph == "M":
            if e.get("name") not in METADATA:
                bad(f"event {n}: unknown metadata {e.get('name')!r}")
            elif e["name"].endswith("_name") and not isinstance(e["args"].get("name"), str):
                bad(f"event {n}: {e['name']} without args.name")
            elif e["name"].endswith("_sort_index") and not isinstance(
                    e["args"].get("sort_index"), int):
                bad(f"event {n}: {e['name']} without args.sort_index")
            if e.get("name") == "thread_name" and e.get("tid", 0) >= 1000000000:
                task_tracks.add(track)
            continue
        if ph in "XBE":
            if e["ts"] + EPS < last_ts[track]:
                bad(f"event {n}: ts {e['ts']} goes back on track {track} (last {last_ts[track]})")
            last_ts[track] = max(last_ts[track], e["ts"])
        if ph == "X":
            if e["dur"] < 0:
                bad(f"event {n}: negative dur")
            slices[track].append((e["ts"], e["ts"] + e["dur"], n))
            if e.get("cat") == "poll":
                polls += 1
        elif ph == "B":
            stacks[track].append(n)
        elif ph == "E":
            if not stacks[track]:
                bad(f"event {n}: E without B on track {track}")
            else:
                stacks[track].pop()
        elif ph in "stf":
            flows[(e.get("cat"), e["id"])].append((ph, e["ts"], track, e["name"], n))

    for track, st in stacks.items():
        if st:
            bad(f"track {track}: {len(st)} B events never ended")
    for track, sl in slices.items():
        open_ends = []
        for ts, end, n in sorted(sl, key=lambda s: (s[0], -s[1])):
            while open_ends and open_ends[-1] <= ts + EPS:
                open_ends.pop()
            if open_ends and end > open_ends[-1] + EPS:
                bad(f"event {n}: slice [{ts}, {end}] overlaps its parent on track {track}")
            open_ends.append(end)

    def bound(track, ts):
        return any(s - EPS <= ts <= e + EPS for s, e, _ in slices.get(track, ()))

    for key, fl in flows.items():
        phases = sorted(p for p, *_ in fl)
        if phases.count("s") != 1 or phases.count("f") != 1:
            bad(f"flow {key}: phases {phases}, want one s and one f")
            continue
        s = next(x for x in fl if x[0] == "s")
        f = next(x for x in fl if x[0] == "f")
        if s[3] != f[3]:
            bad(f"flow {key}: names differ")
        if s[1] > f[1] + EPS:
            bad(f"flow {key}: starts at {s[1]} after it finishes at {f[1]}")
        for x in (s, f):
            if not bound(x[2], x[1]):
                bad(f"flow {key}: {x[0]} at {x[1]} is inside no slice of track {x[2]}")

    if "tasks" in want and len(task_tracks) != want["tasks"]:
        bad(f"{len(task_tracks)} task tracks, expected {want['tasks']}")
    if "polls" in want and polls != want["polls"]:
        bad(f"{polls} poll slices, expected {want['polls']}")
    if "min-flows" in want and len(flows) < want["min-flows"]:
        bad(f"{len(flows)} flows, expected at least {want['min-flows']}")

    if problems:
        for p in problems:
            print(p if p else "... more problems")
        return 1
    print(f"ok: {len(events)} events, {len(task_tracks)} task tracks, {polls} poll slices, "
          f"{len(flows)} flows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
