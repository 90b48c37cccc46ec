"""The build-time cost of `#[derive(Module)]`: generates a crate with 200 structs of four members
each, once with the derive and once without, builds both after their dependencies are built, and
prints the extra time per struct. With `--burn`, does the same with burn's `#[derive(Module)]`
(needs the `burn` crate from crates.io; skipped if it does not build).

    python3 benches/compile_time.py [--burn]

The crates are written under `target/compile-time/`; each build is timed three times (touching
the source in between) and the fastest is kept.
"""
import os
import shutil
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


def build_time(path):
    target = os.path.join(OUT, "target")
    run = lambda: subprocess.run(["cargo", "build", "--quiet"], cwd=path, check=True,
                                 env={**os.environ, "CARGO_TARGET_DIR": target})
    run()  # dependencies
    best = float("inf")
    for _ in range(3):
        os.utime(os.path.join(path, "src", "lib.rs"))
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def compare(label, make):
    times = {}
    for derive in (False, True):
        name = f"{label}_{'derived' if derive else 'plain'}"
        times[derive] = build_time(write(name, *make(derive)))
    extra = (times[True] - times[False]) / N
    print(f"{label:8s} plain {times[False]:6.2f} s   derived {times[True]:6.2f} s   "
          f"extra per struct {extra * 1000:6.2f} ms")


def main():
    compare("modcore", modcore_crate)
    if "--burn" in sys.argv:
        try:
            compare("burn", burn_crate)
        except subprocess.CalledProcessError as e:
            print("burn did not build here:", e)


if __name__ == "__main__":
    main()
