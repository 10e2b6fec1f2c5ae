#!/usr/bin/env python3
"""A flame graph (SVG) from `perf script` output, written for this project (no code from other
flame graph tools). Stacks are folded per thread name (the bottom frame of each tower), Swift
symbols demangled with `swift demangle --simplified` when the toolchain is there.

    perf record -F 999 -g -o perf.data -- .build/release/harmonybatch bench pipeline ...
    perf script -i perf.data | scripts/flamegraph.py --title "bench pipeline" > flame.svg

Options: --title TEXT, --width PIXELS (default 1200), --min-percent P (hide frames narrower
than P % of all samples; default 0.1), --threads a,b (keep only these thread names).
"""
import argparse
import collections
import html
import re
import shutil
import subprocess
import sys


def read_stacks(lines, keep_threads):
    """Yields (thread, [frames root first]) for each sample of `perf script` text."""
    thread, frames = None, []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if thread is not None and frames:
                yield thread, list(reversed(frames))
            thread, frames = None, []
        elif not line[0].isspace():
            # "comm  pid/tid  time: period event:" — the thread name may hold spaces.
            thread = re.split(r"\s+\d+(/\d+)?\s+", line, maxsplit=1)[0].strip()
            if keep_threads and thread not in keep_threads:
                thread = None
            frames = []
        elif thread is not None:
            parts = line.split(None, 1)
            symbol = parts[1] if len(parts) > 1 else parts[0]
            symbol = re.sub(r"\+0x[0-9a-f]+$", "", symbol.split(" (")[0])
            frames.append(symbol)
    if thread is not None and frames:
        yield thread, list(reversed(frames))


def demangler(symbols):
    """Maps each Swift symbol to its simplified demangled name (itself when unavailable)."""
    swift = shutil.which("swift")
    mangled = sorted(s for s in symbols if s.startswith("$s"))
    if not swift or not mangled:
        return {}
    out = subprocess.run(
        [swift, "demangle", "--simplified", "--compact"], input="\n".join(mangled),
        capture_output=True, text=True).stdout.split("\n")
    return {m: d.strip() or m for m, d in zip(mangled, out)}


def short(name):
    """Drops generic arguments and parameter lists, which make Swift names unreadably long."""
    depth, text = 0, []
    for ch in name:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth = max(0, depth - 1)
        elif depth == 0:
            text.append(ch)
    result = "".join(text).strip()
    return result or name


class Node:
    def __init__(self, name):
        self.name, self.count, self.children = name, 0, collections.OrderedDict()

    def child(self, name):
        if name not in self.children:
            self.children[name] = Node(name)
        return self.children[name]


def colour(name, depth):
    """Warm colours, stable per name; threads (depth 1) in blue."""
    if depth == 1:
        return "rgb(110,150,215)"
    h = sum(ord(c) * (i + 1) for i, c in enumerate(name)) % 97
    return "rgb(%d,%d,%d)" % (205 + h % 50, 90 + (h * 7) % 120, 40 + (h * 3) % 50)


def render(root, title, width, min_fraction):
    row, pad, top = 16, 10, 40
    total = root.count
    boxes = []

    def walk(node, x, depth):
        boxes.append((node, x, depth))
        offset = x
        for child in sorted(node.children.values(), key=lambda n: n.name):
            if child.count / total >= min_fraction:
                walk(child, offset, depth + 1)
            offset += child.count

    walk(root, 0, 0)
    height = top + row * (max(d for _, _, d in boxes) + 1) + pad
    scale = (width - 2 * pad) / total
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="monospace" '
        'font-size="11">' % (width, height),
        '<rect width="100%%" height="100%%" fill="#fafafa"/>',
        '<text x="%d" y="20" font-size="15">%s (%d samples; hover a frame for its share)</text>'
        % (pad, html.escape(title), total),
    ]
    for node, x, depth in boxes:
        w = node.count * scale
        y = height - pad - row * (depth + 1)
        share = 100.0 * node.count / total
        label = node.name if depth else "all"
        out.append('<g><title>%s: %d samples, %.2f%%</title>' % (html.escape(label), node.count, share))
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" stroke="#fafafa" '
                   'stroke-width="0.5"/>' % (pad + x * scale, y, max(w, 0.5), row - 1, colour(label, depth)))
        chars = int(w / 6.6)
        if chars >= 3:
            text = label if len(label) <= chars else label[: chars - 2] + ".."
            out.append('<text x="%.1f" y="%d">%s</text>' % (pad + x * scale + 2, y + row - 4, html.escape(text)))
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--title", default="flame graph")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--min-percent", type=float, default=0.1)
    parser.add_argument("--threads", default="")
    args = parser.parse_args()
    keep = set(t for t in args.threads.split(",") if t)
    samples = list(read_stacks(sys.stdin, keep))
    names = demangler({f for _, frames in samples for f in frames})
    root = Node("all")
    for thread, frames in samples:
        root.count += 1
        node = root.child(thread)
        node.count += 1
        for frame in frames:
            node = node.child(short(names.get(frame, frame)))
            node.count += 1
    if not root.count:
        sys.exit("flamegraph.py: no samples with call chains in the input")
    sys.stdout.write(render(root, args.title, args.width, args.min_percent / 100))


if __name__ == "__main__":
    main()
