//! Compile-time rules of `#[derive(Module)]`: one misuse per file in `tests/ui/`, each with the
//! exact compiler output in its `.stderr`; and programs that must compile in `tests/ui/pass/`.
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
