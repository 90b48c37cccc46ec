//! Compile-time rules of `#[derive(Module)]`: one misuse per file in `tests/ui/`, each with the
//! exact compiler output in its `.stderr`; and programs that must compile in `tests/ui/pass/`.
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}

/// No message may show the derive's internals: no `__`-prefixed name in any expected output.
#[test]
fn no_internal_names_in_compiler_messages() {
    for entry in std::fs::read_dir("tests/ui").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "stderr") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                !text.contains("__"),
                "{} shows an internal name",
                path.display()
            );
        }
    }
}
