//! The cost of `call` over `forward`: with no hook anywhere (the fast path, one check), and with
//! one pre-hook and one forward hook. Run with `cargo bench --bench call`.
//!
//! Compare the three in the same run; absolute times on shared machines are noise.

use candle_core::{DType, Device, Tensor};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use modcore::{Forward, ForwardResult, HookOptions, Module, ModuleCore, ModuleHooks};

/// PyTorch's `nn.Identity`, as in the PyTorch baseline (`bench/pytorch_baseline.py`).
#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct Identity {
    core: ModuleCore,
}

impl Forward<Tensor, Tensor> for Identity {
    type Output = Tensor;
    #[inline]
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(x)
    }
}

fn call(c: &mut Criterion) {
    let x = Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap();
    let ident = Identity::default();
    let mut group = c.benchmark_group("call");
    group.bench_function("forward_direct", |b| {
        b.iter(|| black_box(&ident).forward(black_box(&x).clone()))
    });
    group.bench_function("call_no_hooks", |b| {
        b.iter(|| black_box(&ident).call(black_box(&x).clone()))
    });
    let pre = ident.register_forward_pre_hook(|_, _: &Tensor| None, HookOptions::default());
    let post =
        ident.register_forward_hook(|_, _: &Tensor, _: &Tensor| None, HookOptions::default());
    group.bench_function("call_two_hooks", |b| {
        b.iter(|| black_box(&ident).call(black_box(&x).clone()))
    });
    pre.remove();
    post.remove();
    group.bench_function("call_hooks_removed", |b| {
        b.iter(|| black_box(&ident).call(black_box(&x).clone()))
    });
    group.finish();
}

criterion_group!(benches, call);
criterion_main!(benches);
