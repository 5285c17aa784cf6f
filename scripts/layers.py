#!/usr/bin/env python3
"""Checks that the modules of each crate form layers: no two source files of a
crate refer to each other, directly or through a longer cycle.

Usage: python3 scripts/layers.py [CRATE_DIR ...]   (default: every workspace crate)

A file's module path comes from its place under src/ (src/a/b.rs and
src/a/b/mod.rs are `a::b`; lib.rs, main.rs and bin/*.rs are roots). A file refers
to module `m` when it names `crate::m...` or `super::...` (resolved from its own
path). References to a module's own children are not dependencies of the parent on
its child (a parent declares and re-exports its children), so only references
between siblings, cousins and upward count; a child naming its parent (`super::`)
is an edge child -> parent, which is what a cycle through the parent needs.
Test modules (`#[cfg(test)]` files named tests.rs) are skipped. Exit 1 on a cycle,
printing it.
"""
import os
import re
import sys

ROOTS = {"lib", "main"}
CRATES = ["lottery-core", "lottery-net", "lottery-server", "lottery-log", "examples"]


def module_path(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[0] == "bin":
        return None
    if rel[-1] == "mod":
        rel = rel[:-1]
    if rel == [] or (len(rel) == 1 and rel[0] in ROOTS):
        return ()
    return tuple(rel)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def cfg_test_blocks_removed(text):
    # Drop `#[cfg(test)] mod tests { ... }` bodies: tests may reach anywhere.
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def references(text, here, is_mod_file):
    refs = set()
    for m in re.finditer(r"\bcrate((?:::\w+)+)", text):
        refs.add(tuple(m.group(1).split("::")[1:]))
    # `super` in a.rs or a/mod.rs (module a) means a's parent.
    base = here if is_mod_file or not here else here
    for m in re.finditer(r"\b((?:super::)+)(\w+(?:::\w+)*)", text):
        ups = m.group(1).count("super")
        parent = base[: len(base) - ups] if ups <= len(base) else ()
        refs.add(parent + tuple(m.group(2).split("::")))
    return refs


def resolve(ref, modules):
    # The longest prefix of ref that is a module file of the crate.
    for n in range(len(ref), 0, -1):
        if ref[:n] in modules:
            return ref[:n]
    return None


def crate_graph(crate):
    src = os.path.join(crate, "src")
    files = {}
    for dirpath, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs") and name != "tests.rs":
                path = os.path.join(dirpath, name)
                mod = module_path(src, path)
                if mod is not None:
                    files[mod] = path
    graph = {m: set() for m in files}
    for mod, path in files.items():
        with open(path, encoding="utf-8") as f:
            text = cfg_test_blocks_removed(strip_comments(f.read()))
        is_mod = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
        for ref in references(text, mod, is_mod):
            target = resolve(ref, files)
            if target is None or target == mod or target == ():
                continue
            # A parent reaching into its own children is declaration, not a layer.
            if target[: len(mod)] == mod:
                continue
            graph[mod].add(target)
    return graph


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


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    crates = sys.argv[1:] or [c for c in CRATES if os.path.isdir(c)]
    failed = False
    for crate in crates:
        graph = crate_graph(crate)
        name = lambda m: "::".join(m) or "(root)"
        comps = cycles(graph)
        for comp in comps:
            failed = True
            sub = {m: graph[m] & set(comp) for m in comp}
            cycle = find_cycle(sub)
            pairs = sorted(
                f"{name(a)} <-> {name(b)}" for a in comp for b in graph[a] & set(comp)
                if a < b and a in graph[b]
            )
            print(f"{crate}: modules in a cycle: {', '.join(name(m) for m in comp)}")
            print(f"    e.g. " + " -> ".join(name(m) for m in cycle))
            for pair in pairs:
                print(f"    mutual: {pair}")
        if not comps:
            print(f"{crate}: {len(graph)} modules, no cycle")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
