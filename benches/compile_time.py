"""The build-time cost of `#[derive(Module)]`: generates a crate with 200 structs of four members
each, once with the derive and once without, and reports the extra `cargo build` and
`cargo check` time per struct and the expanded lines per struct. With `--burn`, does the same
with burn's `#[derive(Module)]` (needs the `burn` crate from crates.io; skipped if it does not
build).

    python3 benches/compile_time.py [--burn] [--rounds N] [--incremental]

The crates are written under `target/compile-time/`. After the dependencies are built, the plain
and derived crates are built alternately (touching the source before each build), `--rounds`
times (default 9), and the medians are compared: alternating keeps a drifting machine load from
landing on one side. Expanded lines are counted with
`RUSTC_BOOTSTRAP=1 cargo rustc -- -Zunpretty=expanded`.

Builds are full builds of the measured crate (`CARGO_INCREMENTAL=0`): with incremental
compilation on, a touched but unchanged file is rebuilt from the incremental cache, which
measures how much cached work is reloaded rather than what the derive costs to compile.
`--incremental` measures that instead.
"""
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "compile-time")
N = 200

TENSOR = """
#[derive(Clone)]
pub struct T(std::sync::Arc<[f32; 4]>);
impl modcore::Tensor for T {
    type Id = usize;
    fn shape(&self) -> Vec<usize> { vec![4] }
    fn dtype(&self) -> modcore::DType { modcore::DType::F32 }
    fn id(&self) -> usize { std::sync::Arc::as_ptr(&self.0) as usize }
}
"""


def modcore_crate(derive):
    body = ["#![allow(unused_imports)]", "use modcore::{Buffer, Module, ModuleCore, Parameter};", TENSOR]
    for i in range(N):
        attr = "#[derive(Module)]\n" if derive else "#[allow(dead_code)]\n"
        body.append(
            f"{attr}pub struct S{i} {{ core: ModuleCore, w: Parameter<T>, b: Option<Parameter<T>>, "
            f"stats: Buffer<T>, child: Leaf }}"
        )
    leaf_attr = "#[derive(Module)]\n#[module(tensor = T)]\n" if derive else "#[allow(dead_code)]\n"
    body.insert(3, f"{leaf_attr}pub struct Leaf {{ core: ModuleCore }}")
    deps = f'modcore = {{ path = "{os.path.join(ROOT, "modcore")}" }}'
    return deps, "\n".join(body)


def burn_crate(derive):
    # burn 0.22's tensors carry their rank only (`Tensor<1>`), no backend parameter.
    body = ["#![allow(unused_imports)]", "use burn::module::{Module, Param};", "use burn::tensor::Tensor;"]
    for i in range(N):
        attr = "#[derive(Module, Debug)]\n" if derive else "#[allow(dead_code)]\n#[derive(Debug)]\n"
        body.append(
            f"{attr}pub struct S{i} {{ w: Param<Tensor<1>>, b: Option<Param<Tensor<1>>>, "
            f"stats: Param<Tensor<1>>, extra: Param<Tensor<1>> }}"
        )
    return 'burn = { version = "*", default-features = false, features = ["std"] }', "\n".join(body)


def write(name, deps, source):
    path = os.path.join(OUT, name)
    os.makedirs(os.path.join(path, "src"), exist_ok=True)
    with open(os.path.join(path, "Cargo.toml"), "w") as f:
        f.write(f'[package]\nname = "{name}"\nversion = "0.0.0"\nedition = "2021"\n\n'
                f"[workspace]\n\n[dependencies]\n{deps}\n")
    with open(os.path.join(path, "src", "lib.rs"), "w") as f:
        f.write(source + "\n")
    return path


INCREMENTAL = "1" if "--incremental" in sys.argv else "0"


def timed(path, command):
    target = os.path.join(OUT, "target")
    env = {**os.environ, "CARGO_TARGET_DIR": target, "CARGO_INCREMENTAL": INCREMENTAL}
    os.utime(os.path.join(path, "src", "lib.rs"))
    start = time.perf_counter()
    subprocess.run(["cargo", command, "--quiet"], cwd=path, check=True, env=env)
    return time.perf_counter() - start


def expanded_lines(path):
    target = os.path.join(OUT, "target")
    env = {**os.environ, "CARGO_TARGET_DIR": target, "RUSTC_BOOTSTRAP": "1"}
    out = subprocess.run(["cargo", "rustc", "--quiet", "--", "-Zunpretty=expanded"], cwd=path,
                         check=True, env=env, capture_output=True, text=True).stdout
    return out.count("\n")


def compare(label, make, rounds):
    paths = {d: write(f"{label}_{'derived' if d else 'plain'}", *make(d)) for d in (False, True)}
    for path in paths.values():
        timed(path, "build")  # dependencies
        timed(path, "check")
    samples = {(d, c): [] for d in (False, True) for c in ("build", "check")}
    for _ in range(rounds):
        for command in ("build", "check"):
            for derive in (False, True):
                samples[(derive, command)].append(timed(paths[derive], command))
    lines = {d: expanded_lines(paths[d]) for d in (False, True)}
    report = [f"{label:8s}"]
    for command in ("build", "check"):
        plain = statistics.median(samples[(False, command)])
        derived = statistics.median(samples[(True, command)])
        report.append(f"{command} +{(derived - plain) / N * 1000:5.2f} ms/struct")
    report.append(f"expanded +{(lines[True] - lines[False]) / N:5.1f} lines/struct")
    print("   ".join(report))


def main():
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 9
    compare("modcore", modcore_crate, rounds)
    if "--burn" in sys.argv:
        try:
            compare("burn", burn_crate, rounds)
        except subprocess.CalledProcessError as e:
            print("burn did not build here:", e)


if __name__ == "__main__":
    main()
