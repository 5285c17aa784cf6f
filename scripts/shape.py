#!/usr/bin/env python3
"""The workspace's shape rules, checked (CI runs this):

1. no two modules of a crate import each other, directly or through a longer
   cycle (scripts/layers.py);
2. no production file of lottery-core is 600 lines or longer (a file's
   `#[cfg(test)] mod tests { ... }` block does not count; test-only files
   named tests.rs do not count);
3. no function in lottery-server/src is longer than 60 lines, from the line of
   its `fn` to the line of its closing brace (test functions included).

Usage: python3 scripts/shape.py            (exit 1 and a list on a violation)
       python3 scripts/shape.py --report   (also print the largest of each)
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layers  # noqa: E402

MAX_CORE_FILE_LINES = 600
MAX_SERVER_FN_LINES = 60

FN = re.compile(r"^\s*(?:pub(?:\([\w:]+\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")


def rust_files(src):
    for dirpath, _, names in os.walk(src):
        for name in sorted(names):
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def blank_literals(line):
    """The line with string and char literals and comments blanked, so that
    braces inside them are not counted."""
    line = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(?:\\.|[^'\\])'", "''", line)
    return re.sub(r"//.*", "", line)


def functions(path):
    """(name, first line, line count) of every function with a body."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    cleaned = [blank_literals(line) for line in lines]
    found = []
    for start, line in enumerate(cleaned):
        match = FN.match(line)
        if not match:
            continue
        depth, opened = 0, False
        for end in range(start, len(cleaned)):
            text = cleaned[end]
            if not opened and ";" in text and "{" not in text:
                break  # a declaration without a body
            for char in text:
                if char == "{":
                    depth += 1
                    opened = True
                elif char == "}":
                    depth -= 1
            if opened and depth == 0:
                found.append((match.group(1), start + 1, end - start + 1))
                break
    return found


def production_lines(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return len(layers.cfg_test_blocks_removed(text).rstrip("\n").split("\n"))


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    report = "--report" in sys.argv
    problems = []

    for crate in [c for c in layers.CRATES if os.path.isdir(c)]:
        for comp in layers.cycles(layers.crate_graph(crate)):
            problems.append(f"{crate}: modules in a cycle: " + ", ".join("::".join(m) for m in comp))

    sizes = sorted(
        ((production_lines(p), p) for p in rust_files("lottery-core/src") if not p.endswith("tests.rs")),
        reverse=True,
    )
    for lines, path in sizes:
        if lines >= MAX_CORE_FILE_LINES:
            problems.append(f"{path}: {lines} production lines (limit: under {MAX_CORE_FILE_LINES})")
    if report:
        print("largest lottery-core production files:", ", ".join(f"{p} {n}" for n, p in sizes[:3]))

    longest = sorted(
        ((count, f"{path}:{line} {name}") for path in rust_files("lottery-server/src")
         for name, line, count in functions(path)),
        reverse=True,
    )
    for count, where in longest:
        if count > MAX_SERVER_FN_LINES:
            problems.append(f"{where}: {count} lines (limit: {MAX_SERVER_FN_LINES})")
    if report:
        print("longest lottery-server functions:", ", ".join(f"{w} {n}" for n, w in longest[:3]))

    for problem in problems:
        print(problem)
    if not problems:
        print("shape: no cycle, core files under", MAX_CORE_FILE_LINES,
              "lines, server functions at most", MAX_SERVER_FN_LINES, "lines")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
