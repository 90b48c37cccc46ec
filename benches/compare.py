"""Runs the PyTorch baseline and modcore's bookkeeping benchmark in one run on this machine,
and prints one table: workload, PyTorch, modcore, ratio.

    python3 benches/compare.py            # PyTorch side only if `import torch` works
    /work/torchenv/bin/python benches/compare.py
    /work/torchenv/bin/python benches/compare.py --rounds 3   # alternate the sides, medians

On a shared VM one run of either side can be off by a third; `--rounds N` runs the PyTorch
baseline and the Rust benchmark alternately N times and reports each row's median over the
rounds (the training rows run once).

The Rust side is `cargo bench --bench bookkeeping` (criterion); its medians are read from
`target/criterion/{bookkeeping,training}/*/new/estimates.json`. The training rows compare with
`pytorch_train_baseline.py` (a copy of `../shared/bench/pytorch_train_baseline.py`).
"""
import json
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = [
    # (PyTorch key, criterion benchmark, label)
    ("construct_s", "construct", "construct the 48-block model"),
    ("named_parameters_s", "named_parameters", "named_parameters (770)"),
    ("named_modules_s", "named_modules", "named_modules (531)"),
    ("state_dict_s", "state_dict", "state_dict"),
    ("load_state_dict_strict_s", "load_state_dict_strict", "load_state_dict (strict)"),
    ("get_submodule_deep_s", "get_submodule_deep", "get_submodule('blocks.47.mlp.fc2')"),
    ("getattr_submodule_s", "getattr_submodule", "attribute lookup: submodule"),
    ("getattr_param_s", "getattr_param", "attribute lookup: parameter"),
    ("call_no_hooks_s", "call_no_hooks", "call, no hooks"),
    ("forward_direct_s", "forward_direct", "forward, directly"),
    ("call_two_hooks_s", "call_two_hooks", "call, one pre- and one forward hook"),
    ("register_100_buffers_s", "register_100_buffers", "register 100 buffers"),
]
FLOORS = [
    # (PyTorch key, criterion benchmark that isolates a floor of modcore's design, label)
    ("named_parameters_s", "named_parameters_floor", "named_parameters: the names alone"),
    ("named_parameters_s", "visit_parameters_no_names", "named_parameters: the walk alone"),
    ("named_modules_s", "named_modules_floor", "named_modules: the names alone"),
    ("state_dict_s", "state_dict_floor", "state_dict: keys, metadata, a detached handle each"),
    ("call_two_hooks_s", "call_two_hooks_floor", "call with two hooks: the design floor"),
    ("register_100_buffers_s", "register_100_buffers_floor", "register 100 buffers: an IndexMap"),
]
TRAINING = [
    # (PyTorch key, criterion benchmark of the `training` group, label)
    ("adamw_step_foreach_False", "adamw_step", "AdamW step (770 params) vs foreach=False"),
    ("adamw_step_foreach_True", "adamw_step", "AdamW step (770 params) vs foreach=True"),
    ("train_step_small_cnn_b64", "train_step_small_cnn_b64", "train step, small CNN, batch 64"),
]


def pytorch(script="pytorch_baseline.py"):
    try:
        out = subprocess.run([sys.executable, os.path.join(ROOT, "benches", script)],
                             capture_output=True, text=True, check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print("PyTorch baseline not run:", e, file=sys.stderr)
        return {}
    values = {}
    for line in out.splitlines():
        m = re.match(r"(\S+)\s+([\d.]+)( us)?$", line.strip())
        if m:
            values[m.group(1)] = float(m.group(2)) * (1e-6 if m.group(3) else 1)
        elif line.startswith("torch"):
            values["torch"] = line.split()[-1]
    return values


def rust():
    out = subprocess.run(["cargo", "bench", "--bench", "bookkeeping", "--", "--warm-up-time", "1",
                          "--measurement-time", "3"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    memory = dict(re.findall(r"(bytes_per_\w+) ([\d.]+)", out))
    values = {}
    base = os.path.join(ROOT, "target", "criterion", "bookkeeping")
    for _, bench, _ in WORKLOADS + FLOORS + [(None, "named_parameters_hand_written", None)]:
        with open(os.path.join(base, bench, "new", "estimates.json")) as f:
            values[bench] = json.load(f)["median"]["point_estimate"] * 1e-9
    for _, bench, _ in TRAINING:
        with open(os.path.join(ROOT, "target", "criterion", "training", bench, "new", "estimates.json")) as f:
            values["training/" + bench] = json.load(f)["median"]["point_estimate"] * 1e-9
    return values, memory


def fmt(seconds):
    if seconds is None:
        return "-"
    return f"{seconds * 1e6:10.3f} us" if seconds >= 1e-6 else f"{seconds * 1e9:10.1f} ns"


def medians(rounds):
    """Each key's median over the rounds' dicts (non-numeric values from the first round)."""
    out = {}
    for key, value in rounds[0].items():
        values = [r[key] for r in rounds if key in r]
        out[key] = statistics.median(values) if isinstance(value, float) else value
    return out


def main():
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 1
    torch_rounds, rust_rounds = [], []
    for _ in range(rounds):
        torch_rounds.append(pytorch())
        values, memory = rust()
        rust_rounds.append(values)
    torch_values, rust_values = medians(torch_rounds), medians(rust_rounds)
    if rounds > 1:
        print(f"medians of {rounds} alternating rounds")
    print(f"{'workload':40s} {'PyTorch':>14s} {'modcore':>14s} {'ratio':>9s}")
    for key, bench, label in WORKLOADS:
        t, r = torch_values.get(key), rust_values[bench]
        ratio = f"{t / r:8.1f}x" if t else "-"
        print(f"{label:40s} {fmt(t):>14s} {fmt(r):>14s} {ratio:>9s}")
    overhead = rust_values["call_no_hooks"] - rust_values["forward_direct"]
    print(f"{'call overhead without hooks':40s} {'':>14s} {overhead * 1e9:11.1f} ns")
    for key, bench, label in FLOORS:
        t, r = torch_values.get(key), rust_values[bench]
        ratio = f"{t / r:8.1f}x" if t else "-"
        print(f"{label:40s} {fmt(t):>14s} {fmt(r):>14s} {ratio:>9s}")
    hand = rust_values["named_parameters_hand_written"]
    print(f"{'named_parameters vs hand-written Rust':40s} {'':>14s} {rust_values['named_parameters'] / hand:12.2f}x")
    for key, label in [("bytes_per_empty_module", "bytes per empty module"),
                       ("bytes_per_linear_4x4", "bytes per 4x4 Linear")]:
        t = torch_values.get(key if key != "bytes_per_linear_4x4" else "python_heap_bytes_per_linear_4x4")
        print(f"{label:40s} {t if t else '-':>14} {memory.get(key, '-'):>14}")
    train_values = pytorch("pytorch_train_baseline.py")
    for key, bench, label in TRAINING:
        t, r = train_values.get(key), rust_values["training/" + bench]
        ratio = f"{t / r:8.2f}x" if t else "-"
        print(f"{label:40s} {fmt(t):>14s} {fmt(r):>14s} {ratio:>9s}")
    if "torch" in torch_values:
        print("torch", torch_values["torch"])


if __name__ == "__main__":
    main()
