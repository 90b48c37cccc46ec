//! The PyTorch baseline's workloads (`benches/pytorch_baseline.py`, a copy of
//! `../shared/bench/pytorch_baseline.py`) on modcore with the candle backend: a 48-block
//! transformer-shaped model (531 modules, 770 parameters, 4x4 tensors, so only bookkeeping is
//! measured). `benches/compare.py` runs both and prints the ratios.
//!
//! Run with `cargo bench --bench bookkeeping`.

use candle_core::{DType, Device, Tensor};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use modcore::containers::ModuleList;
use modcore::nn::functional::cross_entropy;

/// The example's CNN, with the convolutions' biases of the PyTorch baseline's.
#[allow(dead_code)]
#[path = "../examples/train_digits.rs"]
mod train_digits;
use modcore::nn::{clip_grad_norm_, Conv2d, Identity, LayerNorm, Linear, MaxPool2d};
use modcore::optim::{AdamW, AdamWOptions, Optimizer};
use modcore::{CandleModule, Forward, HookOptions, Module, ModuleCore, ModuleHooks, StateDict};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::measure;

#[derive(Module)]
struct Attn {
    core: ModuleCore,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
}

#[derive(Module)]
struct Mlp {
    core: ModuleCore,
    fc1: Linear,
    fc2: Linear,
}

#[derive(Module)]
struct Block {
    core: ModuleCore,
    ln1: LayerNorm,
    attn: Attn,
    ln2: LayerNorm,
    mlp: Mlp,
}

#[derive(Module)]
struct Net {
    core: ModuleCore,
    blocks: ModuleList<Tensor>,
    ln_f: LayerNorm,
}

fn linear(d: usize) -> Linear {
    Linear::new(d, d, true).unwrap()
}

fn block(d: usize) -> Block {
    Block {
        core: ModuleCore::new(),
        ln1: LayerNorm::new(d).unwrap(),
        attn: Attn {
            core: ModuleCore::new(),
            q: linear(d),
            k: linear(d),
            v: linear(d),
            o: linear(d),
        },
        ln2: LayerNorm::new(d).unwrap(),
        mlp: Mlp {
            core: ModuleCore::new(),
            fc1: linear(d),
            fc2: linear(d),
        },
    }
}

fn net() -> Net {
    let mut blocks = ModuleList::new();
    for _ in 0..48 {
        blocks.push(block(4));
    }
    Net {
        core: ModuleCore::new(),
        blocks,
        ln_f: LayerNorm::new(4).unwrap(),
    }
}

/// The hand-written baseline: the same 770 names, built by code that knows the layout.
fn hand_written_names(net: &Net) -> Vec<String> {
    let mut out = Vec::with_capacity(770);
    for i in 0..48 {
        for (m, ps) in [
            ("ln1", &["weight", "bias"][..]),
            ("attn.q", &["weight", "bias"]),
            ("attn.k", &["weight", "bias"]),
            ("attn.v", &["weight", "bias"]),
            ("attn.o", &["weight", "bias"]),
            ("ln2", &["weight", "bias"]),
            ("mlp.fc1", &["weight", "bias"]),
            ("mlp.fc2", &["weight", "bias"]),
        ] {
            for p in ps {
                out.push(format!("blocks.{i}.{m}.{p}"));
            }
        }
    }
    out.push("ln_f.weight".to_owned());
    out.push("ln_f.bias".to_owned());
    black_box(net);
    out
}

/// `entries`' names, and `value` of each, written into buffers sized up front: what any
/// traversal that materialises names pays, with the walk itself free.
fn names_alone<V, W>(
    entries: &[(String, V)],
    value: impl Fn(&V) -> W,
) -> (String, Vec<(usize, W)>) {
    let mut names = String::with_capacity(entries.iter().map(|(n, _)| n.len()).sum());
    let mut out = Vec::with_capacity(entries.len());
    for (name, v) in entries {
        names.push_str(name);
        out.push((names.len(), value(v)));
    }
    (names, out)
}

#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct Empty {
    core: ModuleCore,
}

/// Live heap bytes per value made by `make`, over `n` values.
fn heap_per<X>(n: usize, make: impl Fn() -> X) -> f64 {
    let (values, live, _) = measure(|| (0..n).map(|_| make()).collect::<Vec<X>>());
    let per = live as f64 / n as f64 - std::mem::size_of::<X>() as f64;
    drop(values);
    per
}

fn bookkeeping(c: &mut Criterion) {
    let model = net();
    assert_eq!(model.named_modules().len(), 531);
    assert_eq!(model.parameters().len(), 770);
    assert_eq!(
        hand_written_names(&model),
        model
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    );

    // Memory, printed once: bytes per empty module and per 4x4 Linear (inline size + heap).
    let empty = std::mem::size_of::<Empty>() as f64 + heap_per(10_000, Empty::default);
    let lin = std::mem::size_of::<Linear>() as f64 + heap_per(2_000, || linear(4));
    println!("memory: bytes_per_empty_module {empty} bytes_per_linear_4x4 {lin}");

    let mut g = c.benchmark_group("bookkeeping");
    g.bench_function("construct", |b| b.iter(net));
    g.bench_function("named_parameters", |b| {
        b.iter(|| black_box(&model).named_parameters())
    });
    g.bench_function("named_parameters_hand_written", |b| {
        b.iter(|| hand_written_names(black_box(&model)))
    });
    // Writing the 770 names and references into pre-sized buffers, without any walk: the part
    // of `named_parameters` no traversal design avoids.
    let expected = model.named_parameters().into_vec();
    g.bench_function("named_parameters_floor", |b| {
        b.iter(|| names_alone(black_box(&expected), |p| *p))
    });
    g.bench_function("visit_parameters_no_names", |b| {
        b.iter(|| {
            let mut count = 0;
            black_box(&model).visit_parameters("", true, true, &mut |name, _| count += name.len());
            count
        })
    });
    g.bench_function("named_modules", |b| {
        b.iter(|| black_box(&model).named_modules())
    });
    // The same for the 531 module names: what `named_modules` costs with a free walk.
    let modules = model.named_modules().into_vec();
    g.bench_function("named_modules_floor", |b| {
        b.iter(|| names_alone(black_box(&modules), |m| *m))
    });
    g.bench_function("state_dict", |b| b.iter(|| black_box(&model).state_dict()));
    // What any state dict of owned, detached tensors with PyTorch's keys and metadata costs on
    // candle, with the walk free: each parameter's key and detached handle (read under a lock,
    // since a tied handle can replace the tensor; cloned, and dropped with the result), and each
    // module's path and version, written into buffers sized up front.
    g.bench_function("state_dict_floor", |b| {
        b.iter(|| {
            let entries = names_alone(black_box(&expected), |p| p.detached());
            let metadata = names_alone(black_box(&modules), |m| m.version());
            (entries, metadata)
        })
    });
    let sd: StateDict<Tensor> = model.state_dict();
    let mut target = net();
    g.bench_function("load_state_dict_strict", |b| {
        b.iter(|| target.load_state_dict(black_box(&sd), true, false).unwrap())
    });
    g.bench_function("get_submodule_deep", |b| {
        b.iter(|| {
            black_box(&model)
                .get_submodule(black_box("blocks.47.mlp.fc2"))
                .unwrap()
                .type_name()
        })
    });
    let blk = block(4);
    g.bench_function("getattr_submodule", |b| {
        b.iter(|| {
            black_box(&blk)
                .get_attr(black_box("attn"))
                .unwrap()
                .module()
                .is_some()
        })
    });
    let lin = linear(4);
    g.bench_function("getattr_param", |b| {
        b.iter(|| {
            black_box(&lin)
                .get_attr(black_box("weight"))
                .unwrap()
                .parameter()
                .is_some()
        })
    });
    let ident = Identity::new();
    let x = Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap();
    g.bench_function("call_no_hooks", |b| {
        b.iter(|| black_box(&ident).call(black_box(&x).clone()))
    });
    g.bench_function("forward_direct", |b| {
        b.iter(|| black_box(&ident).forward(black_box(&x).clone()))
    });
    let pre = ident.register_forward_pre_hook(|_, _: &Tensor| None, HookOptions::default());
    let post =
        ident.register_forward_hook(|_, _: &Tensor, _: &Tensor| None, HookOptions::default());
    g.bench_function("call_two_hooks", |b| {
        b.iter(|| black_box(&ident).call(black_box(&x).clone()))
    });
    pre.remove();
    post.remove();
    // The floor of a hooked call in this design: one lock-free load of the hook lists (an
    // `arc-swap` guard), the extra handle of the input that the forward hooks see (a candle
    // tensor clone: an atomic increment and decrement), `forward`, and the two boxed hooks.
    type Pre = Box<dyn Fn(&Tensor) -> Option<Tensor> + Send + Sync>;
    type Post = Box<dyn Fn(&Tensor, &Tensor) -> Option<Tensor> + Send + Sync>;
    let lists: arc_swap::ArcSwapOption<(Pre, Post)> = arc_swap::ArcSwapOption::from_pointee((
        Box::new(|_: &Tensor| None) as Pre,
        Box::new(|_: &Tensor, _: &Tensor| None) as Post,
    ));
    g.bench_function("call_two_hooks_floor", |b| {
        b.iter(|| {
            let x = black_box(&x).clone();
            let hooks = lists.load();
            let (pre, post) = hooks.as_deref().unwrap();
            let x = pre(&x).unwrap_or(x);
            let y = black_box(&ident).forward(x.clone()).unwrap();
            post(&x, &y).unwrap_or(y)
        })
    });
    g.bench_function("register_100_buffers", |b| {
        b.iter(|| {
            let mut m = Empty::default();
            for i in 0..100 {
                m.register_buffer(&format!("b{i}"), None, true).unwrap();
            }
            m
        })
    });
    // What any registry of owned names costs: the same 100 formatted names inserted into an
    // insertion-ordered hash map, with no checks and no module.
    g.bench_function("register_100_buffers_floor", |b| {
        b.iter(|| {
            let mut m = indexmap::IndexMap::<String, Option<Tensor>>::new();
            for i in 0..100 {
                m.insert(format!("b{i}"), None);
            }
            m
        })
    });
    g.finish();
}

/// Gradients by name on the same model: turning a candle `GradStore` into every parameter's
/// `grad` (`accumulate_grads` into empty slots, the `zero_grad` between runs untimed), reading
/// them back by name, and freezing; `named_parameters` again in the same group for the ratios.
fn training(c: &mut Criterion) {
    let model = net();
    let mut total: Option<Tensor> = None;
    for p in model.parameters() {
        let sum = p.tensor().sum_all().unwrap();
        total = Some(match total {
            None => sum,
            Some(t) => (t + sum).unwrap(),
        });
    }
    let store = total.unwrap().backward().unwrap();
    model.accumulate_grads(&store).unwrap();
    assert_eq!(model.named_grads().len(), 770);

    let mut g = c.benchmark_group("training");
    g.bench_function("named_parameters", |b| {
        b.iter(|| black_box(&model).named_parameters())
    });
    g.bench_function("accumulate_grads", |b| {
        b.iter_batched(
            || model.zero_grad(),
            |()| black_box(&model).accumulate_grads(black_box(&store)),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("named_grads", |b| {
        b.iter(|| black_box(&model).named_grads())
    });
    g.bench_function("zero_grad", |b| b.iter(|| black_box(&model).zero_grad()));
    g.bench_function("freeze_then_unfreeze", |b| {
        b.iter(|| {
            black_box(&model).requires_grad_(false);
            black_box(&model).requires_grad_(true);
        })
    });
    // PyTorch's side: `../shared/bench/pytorch_train_baseline.py`, `adamw_step_foreach_*`.
    // Every parameter needs a gradient again (`zero_grad` above cleared them).
    model.accumulate_grads(&store).unwrap();
    let mut adamw = AdamW::from_model(&model, AdamWOptions::default()).unwrap();
    g.bench_function("adamw_step", |b| b.iter(|| adamw.step().unwrap()));

    // PyTorch's side: `train_step_small_cnn_b64` of the same script (its model, batch of 64).
    let cnn = train_digits::Small::new(true).unwrap();
    let x = Tensor::randn(0f32, 1f32, (64, 1, 8, 8), &Device::Cpu).unwrap();
    let y = Tensor::new(&[3u32; 64], &Device::Cpu).unwrap();
    let mut cnn_opt = AdamW::from_model(&cnn, AdamWOptions::default()).unwrap();
    // Its parts, to say where the step's time goes.
    let pool_input = Tensor::randn(0f32, 1f32, (64, 16, 8, 8), &Device::Cpu).unwrap();
    g.bench_function("train_step_maxpool_only", |b| {
        b.iter(|| MaxPool2d::new(2, 2, 0).call(pool_input.clone()).unwrap())
    });
    g.bench_function("train_step_conv1_only", |b| {
        let input = Tensor::randn(0f32, 1f32, (64, 1, 8, 8), &Device::Cpu).unwrap();
        let conv = Conv2d::new(1, 16, (3, 3), (1, 1), (1, 1), 1, true).unwrap();
        b.iter(|| conv.call(input.clone()).unwrap())
    });
    g.bench_function("train_step_forward_only", |b| {
        b.iter(|| cross_entropy(&cnn.call(x.clone()).unwrap(), &y).unwrap())
    });
    g.bench_function("train_step_forward_backward", |b| {
        b.iter(|| {
            let loss = cross_entropy(&cnn.call(x.clone()).unwrap(), &y).unwrap();
            loss.backward().unwrap()
        })
    });
    g.bench_function("train_step_small_cnn_b64", |b| {
        b.iter(|| {
            cnn_opt.zero_grad();
            let loss = cross_entropy(&cnn.call(x.clone()).unwrap(), &y).unwrap();
            cnn.backward(&loss).unwrap();
            clip_grad_norm_(cnn.parameters(), 1.0, 2.0, false).unwrap();
            cnn_opt.step().unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bookkeeping, training);
criterion_main!(benches);
