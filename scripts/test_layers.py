#!/usr/bin/env python3
"""Tests of scripts/layers.py: small crates written to a temporary directory,
each trying one way to hide a cycle from the check (or to make one up).

Usage: python3 scripts/test_layers.py   (CI runs it beside scripts/shape.py)
"""
import os
import re
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import layers  # noqa: E402


def cycles_of(files):
    """The cycles layers.py finds in a crate made of files {path under src: text}."""
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            path = os.path.join(root, "src", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(textwrap.dedent(text))
        found = {}
        for label, crate in layers.crates_of(root):
            graph = {m: set(t) for m, t in crate.edges().items()}
            comps = layers.cycles(graph)
            if comps:
                found[os.path.relpath(label, root) if os.sep in label else "lib"] = [
                    sorted("::".join(m) or "(root)" for m in comp) for comp in comps
                ]
        return found


class Cycles(unittest.TestCase):
    def assert_cycle(self, files, *modules):
        found = cycles_of(files)
        self.assertIn(sorted(modules), [c for comps in found.values() for c in comps], found)

    def assert_none(self, files):
        self.assertEqual(cycles_of(files), {})

    def test_plain_crate_paths(self):
        self.assert_cycle({
            "lib.rs": "mod a; mod b;",
            "a.rs": "use crate::b::Y; pub struct X;",
            "b.rs": "use crate::a::X; pub struct Y;",
        }, "a", "b")

    def test_grouped_use_trees(self):
        self.assert_cycle({
            "lib.rs": "mod a; mod b;",
            "a.rs": "use crate::{b::{Y, Z}}; pub struct X;",
            "b.rs": "use crate::{\n    a::X,\n}; pub struct Y; pub struct Z;",
        }, "a", "b")

    def test_through_the_roots_flat_reexports(self):
        # Each names the other's item only by its flat path.
        self.assert_cycle({
            "lib.rs": "mod a; mod b; pub use a::X; pub use b::Y;",
            "a.rs": "use crate::Y; pub struct X;",
            "b.rs": "pub struct Y; fn f() -> crate::X { crate::X }",
        }, "a", "b")

    def test_through_a_parents_reexports_with_super(self):
        self.assert_cycle({
            "lib.rs": "mod p;",
            "p/mod.rs": "mod a; mod b; pub(crate) use a::X; pub(crate) use b::Y;",
            "p/a.rs": "use super::{Y}; pub struct X;",
            "p/b.rs": "use super::X; pub struct Y;",
        }, "p::a", "p::b")

    def test_a_longer_cycle(self):
        self.assert_cycle({
            "lib.rs": "mod a; mod b; mod c;",
            "a.rs": "use crate::b::B; pub struct A;",
            "b.rs": "use crate::c::C; pub struct B;",
            "c.rs": "pub struct C; fn f(_: crate::a::A) {}",
        }, "a", "b", "c")

    def test_super_inside_an_inline_module(self):
        # In a.rs, `mod inner { use super::super::b::Y; }` is the crate's b.
        self.assert_cycle({
            "lib.rs": "mod a; mod b;",
            "a.rs": "pub struct X;\nmod inner {\n    use super::super::b::Y;\n}\n",
            "b.rs": "use crate::a::X; pub struct Y;",
        }, "a", "b")

    def test_self_paths_and_macro_crate_paths(self):
        self.assert_cycle({
            "lib.rs": "mod a; mod b;",
            "a.rs": "macro_rules! m { () => { $crate::b::Y } } pub struct X;",
            "b.rs": "use self::inner::Z; mod inner { pub use crate::a::X as Z; } pub struct Y;",
        }, "a", "b")

    def test_a_parent_using_its_child_that_uses_it(self):
        self.assert_cycle({
            "lib.rs": "mod p;",
            "p/mod.rs": "mod c; use c::Engine; pub(crate) struct Ticket; fn f(_: Engine) {}",
            "p/c.rs": "use super::Ticket; pub(crate) struct Engine(Ticket);",
        }, "p", "p::c")

    def test_a_parent_calling_its_child_by_a_relative_path(self):
        self.assert_cycle({
            "lib.rs": "mod p;",
            "p/mod.rs": "mod c; pub(crate) struct T; fn f() { c::run() }",
            "p/c.rs": "pub(crate) fn run() { let _ = super::T; }",
        }, "p", "p::c")

    def test_binaries_are_crates_of_their_own(self):
        found = cycles_of({
            "lib.rs": "",
            "bin/tool/main.rs": "mod a; mod b;",
            "bin/tool/a.rs": "use crate::b::Y; pub struct X;",
            "bin/tool/b.rs": "use crate::a::X; pub struct Y;",
        })
        self.assertEqual(list(found.values()), [[["a", "b"]]], found)


class NoCycles(unittest.TestCase):
    def test_a_parent_reexporting_its_children(self):
        cycles = cycles_of({
            "lib.rs": "mod p; pub use p::{A, B};",
            "p/mod.rs": "mod a; mod b; pub use a::A; pub use b::B; pub struct Shared;",
            "p/a.rs": "use super::Shared; pub struct A(Shared);",
            "p/b.rs": "use super::Shared; use crate::A; pub struct B(A);",
        })
        self.assertEqual(cycles, {})

    def test_comments_strings_and_other_crates(self):
        cycles = cycles_of({
            "lib.rs": "mod a; mod b;",
            "a.rs": "use crate::b::Y; pub struct X;",
            "b.rs": textwrap.dedent('''\
                //! Unlike [`crate::a::X`], this /* crate::a::X */ is Y.
                /* nested /* crate::a::X */ still a comment crate::a::X */
                pub struct Y;
                const URL: &str = "see crate::a::X";
                const RAW: &str = r#"crate::a::X "quoted" "#;
                const C: char = '{';
                fn f<'a>(x: &'a str) -> &'a str { std::convert::identity(x) }
                fn g() -> impl Iterator<Item = u8> + use<> { std::iter::empty() }
                '''),
        })
        self.assertEqual(cycles, {})

    def test_tests_may_reach_anywhere(self):
        cycles = cycles_of({
            "lib.rs": "mod a; mod b;",
            "a.rs": "use crate::b::Y; pub struct X;\n#[cfg(test)]\nmod support;\n",
            "a/support.rs": "use crate::b::Y;",
            "b.rs": ("pub struct Y;\n#[cfg(test)]\nuse crate::a::X;\n"
                     "#[cfg(test)]\nmod tests {\n    use crate::a::X;\n    fn f() { { } }\n}\n"
                     "#[cfg(test)]\nmod tests2;\n"),
            "b/tests2.rs": "use crate::a::X;",
        })
        self.assertEqual(cycles, {})


class Functions(unittest.TestCase):
    """shape.py's function lengths (the 60-line rule of lottery-server)."""

    def lengths(self, text):
        import shape
        with tempfile.NamedTemporaryFile("w", suffix=".rs", delete=False) as f:
            f.write(textwrap.dedent(text))
        try:
            return {name: count for name, _, count in shape.functions(f.name)}
        finally:
            os.unlink(f.name)

    def test_a_semicolon_in_a_parameter_does_not_hide_the_function(self):
        self.assertEqual(self.lengths("""\
            fn copy(
                into: &mut [u8; 4],
            ) {
                into[0] = 1;
            }
            """), {"copy": 5})

    def test_braces_in_literals_and_comments_do_not_count(self):
        self.assertEqual(self.lengths("""\
            pub(crate) fn sql() -> &'static str {
                let _ = '}';
                // }
                "SELECT '}'
                 FROM t }"
            }
            fn next() {}
            """), {"sql": 6, "next": 1})

    def test_declarations_without_a_body_are_not_functions(self):
        self.assertEqual(self.lengths("trait T {\n    fn f(&self, x: [u8; 2]);\n    fn g() {}\n}\n"), {"g": 1})


class PublicApi(unittest.TestCase):
    """shape.py's rules 4 and 5 (non_exhaustive enums, one path per item)."""

    def check(self, text, rule):
        import shape
        with tempfile.NamedTemporaryFile("w", suffix=".rs", delete=False) as f:
            f.write(textwrap.dedent(text))
        try:
            return getattr(shape, rule)(f.name)
        finally:
            os.unlink(f.name)

    def test_a_pub_enum_needs_non_exhaustive_among_its_attributes(self):
        found = self.check("""\
            /// Documented.
            #[derive(Debug)]
            #[non_exhaustive]
            pub enum Fine { A }
            #[derive(Debug)]
            // #[non_exhaustive] in a comment is none
            pub enum Open { A }
            pub(crate) enum Inner { A }
            #[cfg(test)]
            mod tests {
                pub enum Test { A }
            }
            """, "exhaustive_enums")
        self.assertEqual(found, [(7, "Open")])

    def test_a_pub_mod_reexported_flat_has_two_paths(self):
        found = self.check("""\
            pub mod config;
            pub mod log;
            mod session;
            pub use config::Settings;
            pub use self::session::run;
            """, "modules_under_two_paths")
        self.assertEqual(found, ["config"])


class CrateRules(unittest.TestCase):
    """shape.py's rule 6 (which workspace crate a crate's library may reach)."""

    def found(self, cargo, files, forbidden):
        import shape
        with tempfile.TemporaryDirectory() as root:
            with open(os.path.join(root, "Cargo.toml"), "w", encoding="utf-8") as f:
                f.write(textwrap.dedent(cargo))
            for rel, text in files.items():
                path = os.path.join(root, "src", rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(textwrap.dedent(text))
            return sorted((os.path.relpath(w.split(":")[0], root), c)
                          for w, c in shape.forbidden_uses(root, forbidden))

    def test_a_dependency_or_a_path_in_code_is_found_and_dev_dependencies_are_not(self):
        found = self.found("""\
            [dependencies]
            lottery-bet.workspace = true
            lottery-core = { path = "../lottery-core" }  # forbidden
            [dev-dependencies]
            lottery-server.workspace = true
            [target.'cfg(unix)'.dependencies]
            lottery-pg.workspace = true
            """, {
            "lib.rs": """\
                //! lottery_server::Server in a comment is none
                use lottery_bet::Bet;
                const S: &str = "lottery_core::Central";
                fn f() { let _ = lottery_core::MAX_AGENCIES; }
                """,
        }, ["lottery-core", "lottery-server", "lottery-pg"])
        self.assertEqual(found, [("Cargo.toml", "lottery-core"), ("Cargo.toml", "lottery-pg"),
                                 ("src/lib.rs", "lottery-core")])

    def test_a_folder_importing_another_is_found(self):
        import shape
        with tempfile.TemporaryDirectory() as root:
            files = {
                "lib.rs": "mod lottery;\nmod monitor;\n",
                "lottery/mod.rs": "pub(crate) mod central;\n",
                "lottery/central.rs": "use crate::monitor::journal::Record;\npub struct Central;\n",
                "monitor/mod.rs": "pub(crate) mod journal;\nuse crate::lottery::central::Central;\n",
                "monitor/journal.rs": "pub struct Record;\n",
            }
            for rel, text in files.items():
                path = os.path.join(root, "src", rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
            self.assertEqual(shape.folder_imports(root, "lottery", "monitor"),
                             [("lottery::central", "monitor::journal")])
            self.assertEqual(shape.folder_imports(root, "monitor", "lottery"),
                             [("monitor", "lottery::central")])

    def test_the_workspace_keeps_its_crate_rules(self):
        import shape
        os.chdir(os.path.join(HERE, ".."))
        for crate, forbidden in shape.FORBIDDEN.items():
            self.assertEqual(shape.forbidden_uses(crate, forbidden), [], crate)
        self.assertEqual(shape.folder_imports("lottery-core", "lottery", "monitor"), [])


class Workspace(unittest.TestCase):
    def test_every_workspace_member_is_checked(self):
        with open(os.path.join(HERE, "..", "Cargo.toml"), encoding="utf-8") as f:
            members = re.search(r"^members\s*=\s*\[([^\]]*)\]", f.read(), re.M).group(1)
        self.assertEqual(sorted(re.findall(r'"([^"]+)"', members)), sorted(layers.CRATES))


if __name__ == "__main__":
    unittest.main()
