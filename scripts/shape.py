#!/usr/bin/env python3
"""The workspace's shape rules, checked (CI runs this):

1. no two modules of a crate import each other, directly or through a longer
   cycle, in any crate of the workspace (its libraries and binaries;
   scripts/layers.py says what counts as an import, scripts/test_layers.py
   tries to fool it);
2. no production file of lottery-core or lottery-bet is 600 lines or longer (a file's
   `#[cfg(test)] mod tests { ... }` block does not count; test-only files
   named tests.rs do not count);
3. no function in lottery-server/src is longer than 60 lines, from the line of
   its `fn` to the line of its closing brace (test functions included);
4. every `pub enum` of a library crate is `#[non_exhaustive]` (binaries and
   test code aside), so that a variant can be added without breaking users;
5. no file both declares `pub mod x;` and re-exports from `x` (`pub use
   x::Item;`): an item has one public path (the crates' way is private
   modules with flat re-exports);
6. the crates point one way: lottery-bet (the bet's vocabulary and bytes)
   depends on and names no other crate of the workspace, and lottery-net
   (the wire protocol) never the lottery machine, lottery-core, in its
   library (`[dependencies]`, and its src/ code; its tests, benchmarks and
   examples may run a central). FORBIDDEN lists what each may not reach;
7. inside lottery-core, the lottery (src/lottery/) never imports the bet
   monitor (src/monitor/): the monitor is one ledger behind the seam.

Usage: python3 scripts/shape.py            (exit 1 and a list on a violation)
       python3 scripts/shape.py --report   (also print the largest of each)
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layers  # noqa: E402

MAX_CORE_FILE_LINES = 600

# Rule 6: the workspace crates a crate's library may not depend on or name.
WORKSPACE_CRATES = ["lottery-core", "lottery-net", "lottery-log", "lottery-tls",
                    "lottery-pg", "lottery-server", "lottery-examples"]
FORBIDDEN = {
    "lottery-bet": WORKSPACE_CRATES,
    "lottery-net": ["lottery-core", "lottery-pg", "lottery-server", "lottery-examples"],
}
MAX_SERVER_FN_LINES = 60

FN = re.compile(
    r"^[ \t]*(?:pub(?:\([^)]*\))?\s+)?(?:default\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?"
    r"(?:extern\s+(?:\"[^\"]*\"\s+)?)?fn\s+(\w+)",
    re.M,
)


def rust_files(src):
    for dirpath, _, names in os.walk(src):
        for name in sorted(names):
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def functions(path):
    """(name, first line, line count) of every function with a body. The text
    is read whole with comments and literals blanked (line breaks kept), so a
    brace in a string, a `;` in a parameter's type (`[u8; 4]`) or a string
    over several lines does not end or hide a function."""
    with open(path, encoding="utf-8") as f:
        text = layers.strip_comments(f.read())
    found = []
    for match in FN.finditer(text):
        depth, j = 0, match.end()
        while j < len(text):
            char = text[j]
            if char in "([":
                depth += 1
            elif char in ")]":
                depth -= 1
            elif char == ";" and depth == 0:
                break  # a declaration without a body
            elif char == "{" and depth == 0:
                end = layers.skip_block(text, j + 1)
                first = text.count("\n", 0, match.start() + len(match.group(0)) - len(match.group(0).lstrip()))
                last = text.count("\n", 0, end - 1)
                found.append((match.group(1), first + 1, last - first + 1))
                break
            j += 1
    return found


PUB_ENUM = re.compile(r"^[ \t]*pub enum (\w+)", re.M)
PUB_MOD = re.compile(r"^[ \t]*pub mod (\w+)\s*[;{]", re.M)
PUB_USE = re.compile(r"^[ \t]*pub use (?:self::)?(\w+)::", re.M)


def library_files():
    """The library source files of the workspace (no binary, no test file)."""
    for crate in [c for c in layers.CRATES if os.path.isdir(c)]:
        src = os.path.join(crate, "src")
        for path in rust_files(src):
            rel = os.path.relpath(path, src).split(os.sep)
            if rel[0] == "bin" or rel == ["main.rs"] or rel[-1] == "tests.rs":
                continue
            yield path


def code_of(path):
    """A file's text with comments and literals blanked and test blocks dropped."""
    with open(path, encoding="utf-8") as f:
        return layers.cfg_test_items_removed(layers.strip_comments(f.read()))


def exhaustive_enums(path):
    """(line, name) of each `pub enum` of the file without `#[non_exhaustive]`
    among the attributes before it."""
    text, found = code_of(path), []
    for match in PUB_ENUM.finditer(text):
        head = text[: match.start()]
        item_start = max(head.rfind("}"), head.rfind(";"), head.rfind("{")) + 1
        if "#[non_exhaustive]" not in head[item_start:]:
            found.append((head.count("\n") + 1, match.group(1)))
    return found


def modules_under_two_paths(path):
    """Each `pub mod x` of the file that it also re-exports from."""
    text = code_of(path)
    return sorted(set(PUB_MOD.findall(text)) & set(PUB_USE.findall(text)))


def production_lines(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # Literals blanked first (line breaks kept), so a brace in a test's string
    # cannot make the test block swallow the production code after it.
    return len(layers.cfg_test_blocks_removed(layers.strip_comments(text)).rstrip("\n").split("\n"))


def dependencies(cargo_toml):
    """The package names under `[dependencies]` (and its target-specific
    forms) of a Cargo.toml: what the library is built with, not its tests."""
    found, section = [], None
    with open(cargo_toml, encoding="utf-8") as f:
        for line in f:
            stripped = line.split("#", 1)[0].strip()
            header = re.match(r"^\[(.+)\]$", stripped)
            if header:
                section = header.group(1)
                continue
            if section == "dependencies" or (section or "").endswith(".dependencies") \
                    and not (section or "").endswith("dev-dependencies") \
                    and not (section or "").endswith("build-dependencies"):
                name = re.match(r"^([A-Za-z0-9_-]+)\s*(?:\.|=)", stripped)
                if name:
                    found.append(name.group(1))
    return found


def forbidden_uses(crate_dir, forbidden):
    """(where, crate) of each forbidden workspace crate that `crate_dir`'s
    library depends on (Cargo.toml) or names in its src/ code (comments and
    literals aside, test blocks included: a unit test cannot reach a crate
    the library does not depend on anyway)."""
    found = [(os.path.join(crate_dir, "Cargo.toml"), dep)
             for dep in dependencies(os.path.join(crate_dir, "Cargo.toml")) if dep in forbidden]
    names = {c.replace("-", "_"): c for c in forbidden}
    pattern = re.compile(r"\b(" + "|".join(sorted(names)) + r")\s*::")
    for path in rust_files(os.path.join(crate_dir, "src")):
        with open(path, encoding="utf-8") as f:
            text = layers.strip_comments(f.read())
        for match in pattern.finditer(text):
            found.append((f"{path}:{text.count(chr(10), 0, match.start()) + 1}", names[match.group(1)]))
    return found


def folder_imports(crate_dir, source, target):
    """(from, to) of each import edge from a module under the folder
    `source` of the crate's library to one under `target` (test code aside,
    as layers.py reads it)."""
    found = []
    for label, parsed in layers.crates_of(crate_dir):
        for module, targets in parsed.edges().items():
            if module[:1] == (source,):
                found += [(layers.name(module), layers.name(t)) for t in targets if t[:1] == (target,)]
    return sorted(found)


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    report = "--report" in sys.argv
    problems = []

    for crate in [c for c in layers.CRATES if os.path.isdir(c)]:
        for label, parsed in layers.crates_of(crate):
            graph = {m: set(t) for m, t in parsed.edges().items()}
            for comp in layers.cycles(graph):
                problems.append(f"{label}: modules in a cycle: " + ", ".join(layers.name(m) for m in comp))

    sizes = sorted(
        ((production_lines(p), p) for crate in ("lottery-core", "lottery-bet")
         for p in rust_files(f"{crate}/src") if not p.endswith("tests.rs")),
        reverse=True,
    )
    for lines, path in sizes:
        if lines >= MAX_CORE_FILE_LINES:
            problems.append(f"{path}: {lines} production lines (limit: under {MAX_CORE_FILE_LINES})")
    if report:
        print("largest lottery-core and lottery-bet production files:", ", ".join(f"{p} {n}" for n, p in sizes[:3]))

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

    for path in library_files():
        for line, name in exhaustive_enums(path):
            problems.append(f"{path}:{line}: pub enum {name} is not #[non_exhaustive]")
        for module in modules_under_two_paths(path):
            problems.append(f"{path}: pub mod {module} is also re-exported from (two paths)")

    for crate, forbidden in FORBIDDEN.items():
        for where, other in forbidden_uses(crate, forbidden):
            problems.append(f"{where}: {crate} must not depend on {other}")

    for module, target in folder_imports("lottery-core", "lottery", "monitor"):
        problems.append(f"lottery-core: {module} (the lottery) imports {target} (the bet monitor)")

    for problem in problems:
        print(problem)
    if not problems:
        print("shape: no cycle, core and bet files under", MAX_CORE_FILE_LINES,
              "lines, server functions at most", MAX_SERVER_FN_LINES,
              "lines, public enums non_exhaustive, one path per public item,",
              "lottery-bet below every crate, lottery-net free of lottery-core,",
              "lottery-core's lottery free of its monitor")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
