#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks what `async-inspect profile` writes, independently of the C code that wrote it.

  profile_check.py folded FOLDED          line format; prints the total sample count
  profile_check.py share FOLDED FUNC      percent of on-task samples whose task is FUNC
  profile_check.py svg SVG FOLDED         well-formed XML whose frames match FOLDED
  profile_check.py pprof PB_GZ FOLDED     gunzip + protobuf decode; samples match FOLDED

Exits 0 when the check passes, 1 (with the reason on stderr) otherwise.
"""
import gzip
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter

LINE = re.compile(r"^(\S.*) (\d+)$")


def die(msg):
    print("profile_check: " + msg, file=sys.stderr)
    sys.exit(1)


def read_folded(path):
    stacks = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            m = LINE.match(line)
            if not m:
                die(f"{path}:{n}: not 'frame;frame count': {line!r}")
            frames = m.group(1).split(";")
            if any(not fr for fr in frames):
                die(f"{path}:{n}: empty frame in {line!r}")
            key = tuple(frames)
            if key in stacks:
                die(f"{path}:{n}: stack printed twice")
            count = int(m.group(2))
            if count <= 0:
                die(f"{path}:{n}: count must be positive")
            stacks[key] = count
    return stacks


def tree_frames(stacks):
    """Counter of (depth, x, name, count) of every merged frame, laid out like the writer
    does: children in first-seen order, which is the folded file's line order."""
    root = {}
    for frames, count in stacks.items():
        kids = root
        for fr in frames:
            nd = kids.setdefault(fr, [0, {}])
            nd[0] += count
            kids = nd[1]
    out = Counter()

    def walk(kids, depth, x):
        for name, (count, sub) in kids.items():
            out[(depth, x, name, count)] += 1
            walk(sub, depth + 1, x)
            x += count

    walk(root, 0, 0)
    return out


def cmd_folded(args):
    stacks = read_folded(args[0])
    print(sum(stacks.values()))


def cmd_share(args):
    stacks = read_folded(args[0])
    func = args[1]
    on_task = sum(c for fr, c in stacks.items() if not fr[0].startswith("["))
    mine = sum(c for fr, c in stacks.items() if fr[0] == func)
    if not on_task:
        die("no on-task samples")
    print(f"{100.0 * mine / on_task:.1f}")


def cmd_svg(args):
    svg_path, folded_path = args
    stacks = read_folded(folded_path)
    try:
        root = ET.parse(svg_path).getroot()
    except ET.ParseError as e:
        die(f"{svg_path}: not well-formed XML: {e}")
    ns = "{http://www.w3.org/2000/svg}"
    if root.tag != ns + "svg":
        die(f"{svg_path}: root element is {root.tag}")
    total = sum(stacks.values())
    if int(root.get("data-total", "-1")) != total:
        die(f"svg total {root.get('data-total')} != folded total {total}")
    got = Counter()
    by_depth = {}
    for g in root.iter(ns + "g"):
        if g.get("class") != "f":
            continue
        d, name, c, x = (int(g.get("data-depth")), g.get("data-name"),
                         int(g.get("data-count")), int(g.get("data-x")))
        title = g.find(ns + "title")
        if title is None or not title.text.startswith(f"{name} ({c} samples"):
            die(f"frame {name!r}: title does not name it")
        if g.find(ns + "rect") is None:
            die(f"frame {name!r}: no rect")
        got[(d, x, name, c)] += 1
        by_depth.setdefault(d, []).append((x, c))
    want = tree_frames(stacks)
    if got != want:
        die(f"svg frames differ from folded: missing {sorted(want - got)[:5]}, "
            f"extra {sorted(got - want)[:5]}")
    # Frames at one depth never overlap and stay within the total.
    for d, spans in by_depth.items():
        spans.sort()
        end = 0
        for x, c in spans:
            if x < end or x + c > total:
                die(f"overlapping frames at depth {d}")
            end = x + c
    if root.find(ns + "script") is None:
        die("no script: not interactive")
    print(sum(got.values()))


def varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, i
        shift += 7


def fields(buf):
    i = 0
    while i < len(buf):
        tag, i = varint(buf, i)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            v, i = varint(buf, i)
            yield num, v
        elif wire == 2:
            n, i = varint(buf, i)
            yield num, buf[i:i + n]
            i += n
        else:
            die(f"unexpected wire type {wire}")


def packed(v):
    if isinstance(v, int):
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = varint(v, i)
        out.append(x)
    return out


def cmd_pprof(args):
    pb_path, folded_path = args
    stacks = read_folded(folded_path)
    with open(pb_path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":
        die("not gzip")
    buf = gzip.decompress(raw)
    strings, samples, locs, funcs, types = [], [], {}, {}, 0
    period = 0
    for num, v in fields(buf):
        if num == 1:
            types += 1
        elif num == 2:
            loc_ids, vals = [], []
            for n2, v2 in fields(v):
                if n2 == 1:
                    loc_ids += packed(v2)
                elif n2 == 2:
                    vals += packed(v2)
            samples.append((loc_ids, vals))
        elif num == 4:
            lid, fid = 0, 0
            for n2, v2 in fields(v):
                if n2 == 1:
                    lid = v2
                elif n2 == 4:
                    for n3, v3 in fields(v2):
                        if n3 == 1:
                            fid = v3
            locs[lid] = fid
        elif num == 5:
            fid, name = 0, 0
            for n2, v2 in fields(v):
                if n2 == 1:
                    fid = v2
                elif n2 == 2:
                    name = v2
            funcs[fid] = name
        elif num == 6:
            strings.append(v.decode("utf-8"))
        elif num == 12:
            period = v
    if not strings or strings[0] != "":
        die("string_table[0] must be empty")
    if types != 2 or not period:
        die(f"sample types {types}, period {period}")
    if not locs or not funcs:
        die("no locations or functions")
    got = {}
    for loc_ids, vals in samples:
        if len(vals) != 2 or vals[1] != vals[0] * period:
            die(f"sample values {vals} (period {period})")
        names = tuple(strings[funcs[locs[lid]]] for lid in reversed(loc_ids))
        got[names] = got.get(names, 0) + vals[0]
    total = sum(stacks.values())
    if sum(got.values()) != total:
        die(f"pprof total {sum(got.values())} != folded total {total}")
    if got != stacks:
        die("pprof stacks differ from folded stacks")
    print(f"{len(samples)} samples, {len(locs)} locations, {len(funcs)} functions, total {total}")


def main():
    cmds = {"folded": (cmd_folded, 1), "share": (cmd_share, 2), "svg": (cmd_svg, 2),
            "pprof": (cmd_pprof, 2)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) - 2 != cmds[sys.argv[1]][1]:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmds[sys.argv[1]][0](sys.argv[2:])


if __name__ == "__main__":
    main()
