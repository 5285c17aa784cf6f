#!/usr/bin/env python3
"""Checks that the modules of each crate form layers: no two source files of a
crate refer to each other, directly or through a longer cycle.

Usage: python3 scripts/layers.py [CRATE_DIR ...]   (default: every workspace crate)
       python3 scripts/layers.py --edges CRATE_DIR (also print every edge found)

A file's module path comes from its place under src/ (src/a/b.rs and
src/a/b/mod.rs are `a::b`; lib.rs and main.rs are roots). Each binary of
src/bin/ (bin/x.rs, or bin/x/main.rs with its modules beside it) is a crate of
its own and is checked as one.

What makes an edge from file F to file T: a path in F that resolves to an item
or module of T. Paths are read from `use` trees (grouped `{a, b::{c}}`,
`self::`, `super::`, `crate::`, `$crate::` and 2018-style relative first
segments), and from paths written in code (`crate::a::f()`, `super::X`,
`child::f()`). `super` counts from the module it is written in, inline
`mod x { ... }` blocks included. A path through a re-export (`crate::Bet`,
where lib.rs says `pub use bet::Bet`, or `super::X` that a mod.rs re-exports
from a sibling) resolves to the file that defines the item, not to the file
that re-exports it: a dependency hidden behind a flat re-export is still one.

A parent's `pub use child::X` and `mod child;` declare its children: they are
not an edge parent -> child. A parent that uses a child's item in its own code
(a private `use child::X`, or `child::f()`) does depend on it, and that edge
counts, as does every child -> parent edge (`super::X` for an item the parent
defines).

Test code is skipped: `#[cfg(test)] mod x { ... }` blocks, and the files of
modules declared `#[cfg(test)] mod x;` (tests.rs and its like). Exit 1 on a
cycle, printing it.

Not seen (none of these is used in the workspace today; a new one needs this
script taught first): `#[path = ...]` modules, macros invoked from another
module (`macro_rules!` with `#[macro_export]` resolves to the crate root),
`include!`, and an item reached through a glob re-export of another file
(`pub use a::*;` then `crate::Item`: the edge goes to the file that globs).
"""
import os
import re
import sys

ROOTS = {"lib", "main"}
CRATES = [
    "lottery-bet",
    "lottery-core",
    "lottery-net",
    "lottery-log",
    "lottery-tls",
    "lottery-config",
    "lottery-pg",
    "lottery-server",
    "examples",
]

# --- text --------------------------------------------------------------------

_LEXEME = re.compile(
    r"""
      (?P<block>/\*)                              # block comment (nested, below)
    | (?P<line>//[^\n]*)                          # line comment
    | (?P<raw>b?r(?P<hashes>\#*)")                # raw string, closed below
    | (?P<str>b?"(?:\\.|[^"\\])*")                # string
    | (?P<char>b?'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^'\\\n])')  # char
    """,
    re.X | re.S,
)


def strip_comments(text):
    """The text with comments, string and char literals blanked (lifetimes
    such as `'a` are kept): braces and paths inside them do not count. Line
    breaks stay, so line numbers do not move."""
    out, i = [], 0
    while True:
        m = _LEXEME.search(text, i)
        if not m:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:m.start()])
        if m.group("block"):
            depth, j = 1, m.end()
            while j < len(text) and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(" " + "\n" * text.count("\n", m.start(), j))
            i = j
        elif m.group("raw"):
            close = '"' + m.group("hashes")
            j = text.find(close, m.end())
            j = len(text) if j < 0 else j + len(close)
            out.append('""' + "\n" * text.count("\n", m.start(), j))
            i = j
        elif m.group("line"):
            i = m.end()
        else:
            lines = "\n" * text.count("\n", m.start(), m.end())
            out.append(('""' if m.group("str") else "' '") + lines)
            i = m.end()


def skip_block(text, j):
    """The index just past the `}` closing the block whose `{` ends before j."""
    depth = 1
    while j < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    return j


_CFG_TEST = r"#\[cfg\((?:test|all\(test(?:,[^\]]*)?\))\)\]"


def cfg_test_blocks_removed(text):
    """Drop `#[cfg(test)] mod x { ... }` bodies: what shape.py does not count
    as a production line."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        i = skip_block(text, m.end())
    out.append(text[i:])
    return "".join(out)


def cfg_test_items_removed(text):
    """Drop `#[cfg(test)] mod x { ... }` bodies (tests may reach anywhere) and
    `#[cfg(test)]` items that are one `use ...;` or `mod x;`."""
    out, i = [], 0
    for m in re.finditer(_CFG_TEST + r"\s*(?:pub(?:\([\w:\s]+\))?\s+)?(mod\s+\w+\s*\{|(?:use|mod)\b[^;{]*;)", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        i = skip_block(text, m.end()) if m.group(1).endswith("{") else m.end()
    out.append(text[i:])
    return "".join(out)


def test_only_children(text):
    """Names of the file modules this text declares `#[cfg(test)] mod x;`."""
    return set(re.findall(_CFG_TEST + r"\s*(?:pub(?:\([\w:\s]+\))?\s+)?mod\s+(\w+)\s*;", text))


# --- tokens and use trees -----------------------------------------------------

_TOKEN = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*|::|[{}();,*]|\S")


def tokens(text):
    return _TOKEN.findall(text)


def parse_use_tree(toks, i):
    """Parse a use tree at toks[i]; returns (list of (segments, alias|None|'*'), next index)."""
    prefix = []
    while i < len(toks):
        t = toks[i]
        if t == "::":
            i += 1
            continue
        if t == "{":
            items, i = [], i + 1
            while i < len(toks) and toks[i] != "}":
                sub, j = parse_use_tree(toks, i)
                items.extend((prefix + s, a) for s, a in sub)
                i = j if j > i else i + 1  # a token no use tree has: skip it
                if i < len(toks) and toks[i] == ",":
                    i += 1
            return items, i + 1
        if t == "*":
            return [(prefix, "*")], i + 1
        if not re.match(r"\$?[A-Za-z_]", t):
            break
        if t == "as":
            alias = toks[i + 1]
            return [(prefix, alias)], i + 2
        prefix.append(t)
        i += 1
    return [(prefix, None)], i


class Scan:
    """What one file says: its inline modules, its use declarations and the
    paths written in its code, each in the module scope it appears in."""

    def __init__(self, module, text):
        self.inline = set()  # inline module paths (sync::imp)
        self.uses = []  # (scope, segments, alias, is_pub)
        self.paths = []  # (scope, segments)
        toks = tokens(text)
        stack = []  # (scope, depth at which it closes)
        depth, i = 0, 0
        scope = module
        while i < len(toks):
            t = toks[i]
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                if stack and stack[-1][1] == depth:
                    scope = stack.pop()[0]
            elif t == "mod" and i + 2 < len(toks) and toks[i + 2] == "{":
                stack.append((scope, depth))
                scope = scope + (toks[i + 1],)
                self.inline.add(scope)
                depth += 1
                i += 3
                continue
            elif t == "use" and i + 1 < len(toks) and re.match(r"\$?[A-Za-z_]|::|\{", toks[i + 1]):
                # (`impl Trait + use<'a>` is no use declaration)
                is_pub = i > 0 and (toks[i - 1] == "pub" or (toks[i - 1] == ")" and "pub" in toks[max(0, i - 6):i]))
                start = i + 1
                if start < len(toks) and toks[start] == "::":
                    start += 1
                items, i = parse_use_tree(toks, start)
                for segs, alias in items:
                    if segs:
                        self.uses.append((scope, tuple(segs), alias, is_pub))
                continue
            elif re.match(r"\$?[A-Za-z_]", t) and i + 1 < len(toks) and toks[i + 1] == "::" and not (i and toks[i - 1] == "::"):
                segs, j = [t], i + 1
                while j + 1 < len(toks) and toks[j] == "::" and re.match(r"[A-Za-z_]", toks[j + 1]):
                    segs.append(toks[j + 1])
                    j += 2
                self.paths.append((scope, tuple(segs)))
                i = j
                continue
            i += 1


# --- a crate's modules ---------------------------------------------------------


def module_path(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    if rel == [] or (len(rel) == 1 and rel[0] in ROOTS):
        return ()
    return tuple(rel)


def crate_roots(crate):
    """(src dir of the crate, files) for the library and each binary."""
    src = os.path.join(crate, "src")
    out = []
    lib = [os.path.join(dp, n) for dp, dns, ns in os.walk(src) for n in ns
           if n.endswith(".rs") and not os.path.relpath(dp, src).split(os.sep)[0] == "bin"]
    out.append((src, lib))
    bin_dir = os.path.join(src, "bin")
    if os.path.isdir(bin_dir):
        for name in sorted(os.listdir(bin_dir)):
            p = os.path.join(bin_dir, name)
            if name.endswith(".rs"):
                out.append((bin_dir, [p]))
            elif os.path.isdir(p):
                files = [os.path.join(dp, n) for dp, _, ns in os.walk(p) for n in ns if n.endswith(".rs")]
                out.append((p, files))
    return out


class Crate:
    def __init__(self, src, paths):
        texts, self.files = {}, {}
        for path in paths:
            mod = module_path(src, path)
            if mod is None:
                continue
            if os.path.basename(src) == "bin":
                mod = ()  # a one-file binary: its own root
            with open(path, encoding="utf-8") as f:
                texts[mod] = cfg_test_items_removed(strip_comments(f.read()))
            self.files[mod] = path
        # Files of `#[cfg(test)] mod x;` children (and their children) are tests.
        tests = set()
        for mod, text in texts.items():
            for child in test_only_children(text):
                tests.add(mod + (child,))
        for mod in list(self.files):
            if any(mod[: len(t)] == t for t in tests) or os.path.basename(self.files[mod]) == "tests.rs":
                del self.files[mod]
                del texts[mod]
        self.scans = {mod: Scan(mod, text) for mod, text in texts.items()}
        self.modules = set(self.files)
        self.file_of = {m: m for m in self.files}
        for mod, scan in self.scans.items():
            for inline in scan.inline:
                self.modules.add(inline)
                self.file_of[inline] = mod
        self.imports, self.globs = {}, {}
        for mod, scan in self.scans.items():
            for scope, segs, alias, is_pub in scan.uses:
                absolute = self.absolute(scope, segs, in_use=True)
                if absolute is None:
                    continue
                if alias == "*":
                    self.globs.setdefault(scope, []).append(absolute)
                    continue
                name = alias or segs[-1]
                if name == "self":
                    name = segs[-2] if len(segs) > 1 else None
                    absolute = absolute[:-1] if absolute and absolute[-1] == "self" else absolute
                if name and name != "_":
                    self.imports.setdefault(scope, {})[name] = absolute

    def absolute(self, scope, segs, in_use):
        """The path from the crate root that segs names in scope, or None for
        another crate's path (std, csv, ...)."""
        head = segs[0]
        if head in ("crate", "$crate"):
            return segs[1:]
        if head == "self":
            return scope + segs[1:]
        if head == "super":
            base, k = scope, 0
            while k < len(segs) and segs[k] == "super":
                base, k = base[:-1], k + 1
            return base + segs[k:]
        if scope + (head,) in self.modules:
            return scope + segs
        if not in_use and head in self.imports.get(scope, {}):
            return self.imports[scope][head] + segs[1:]
        return None

    def resolve(self, path, seen=()):
        """The module (file or inline) where the item path names is defined."""
        cur = ()
        for k, seg in enumerate(path):
            if seg == "self":
                continue
            if cur + (seg,) in self.modules:
                cur = cur + (seg,)
                continue
            target = self.imports.get(cur, {}).get(seg)
            if target is not None and (cur, seg) not in seen:
                return self.resolve(target + tuple(path[k + 1:]), seen + ((cur, seg),))
            return cur
        return cur

    def edges(self):
        """{file module: {file module it depends on: example path}}."""
        graph = {m: {} for m in self.files}
        for mod, scan in self.scans.items():
            refs = [(s, segs, p, True) for s, segs, alias, p in scan.uses if alias != "*"]
            refs += [(s, segs, False, False) for s, segs in scan.paths]
            for scope, segs, is_pub, in_use in refs:
                absolute = self.absolute(scope, segs, in_use)
                if absolute is None:
                    continue
                target = self.file_of.get(self.resolve(tuple(absolute)))
                if target is None or target == mod:
                    continue
                # A parent declaring or re-exporting its own child is not a layer.
                if target[: len(mod)] == mod and in_use and is_pub:
                    continue
                graph[mod].setdefault(target, "::".join(segs))
            for scope, globbed in self.globs.items():
                if self.file_of.get(scope) != mod:
                    continue
                for g in globbed:
                    target = self.file_of.get(self.resolve(tuple(g)))
                    if target is not None and target != mod and target[: len(mod)] != mod:
                        graph[mod].setdefault(target, "::".join(g) + "::*")
        return graph


def crates_of(crate):
    """Every crate (library, binaries) under a package directory, with a name."""
    out = []
    for src, paths in crate_roots(crate):
        rel = os.path.relpath(src if len(paths) != 1 or os.path.basename(src) != "bin" else paths[0],
                              os.path.join(crate, "src"))
        name = crate if rel == "." else f"{crate} ({rel})"
        out.append((name, Crate(src, paths)))
    return out


def crate_graph(crate):
    """The library's module graph of one package: {module: set of modules}."""
    lib = crates_of(crate)[0][1]
    return {m: set(t) for m, t in lib.edges().items()}


def cycles(graph):
    """Every strongly connected component with more than one module (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def find_cycle(graph):
    color, stack = {}, []

    def visit(node):
        color[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if color.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in color:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        color[node] = 2
        return None

    for node in sorted(graph):
        if node not in color:
            found = visit(node)
            if found:
                return found
    return None


def name(m):
    return "::".join(m) or "(root)"


def check(crate_dir, show_edges=False, out=print):
    """Print each crate's cycles (or that it has none); True when one has a cycle."""
    failed = False
    for label, crate in crates_of(crate_dir):
        edges = crate.edges()
        graph = {m: set(t) for m, t in edges.items()}
        if show_edges:
            for a in sorted(edges):
                for b, via in sorted(edges[a].items()):
                    out(f"    {name(a)} -> {name(b)}   ({via})")
        comps = cycles(graph)
        for comp in comps:
            failed = True
            sub = {m: graph[m] & set(comp) for m in comp}
            cycle = find_cycle(sub)
            out(f"{label}: modules in a cycle: {', '.join(name(m) for m in comp)}")
            out("    e.g. " + " -> ".join(
                f"{name(a)} ({edges[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {name(cycle[-1])}")
        if not comps:
            out(f"{label}: {len(graph)} modules, no cycle")
    return failed


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show = "--edges" in sys.argv
    crates = args or [c for c in CRATES if os.path.isdir(c)]
    failed = False
    for crate in crates:
        failed |= check(crate, show)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
