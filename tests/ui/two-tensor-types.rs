use modcore::{Buffer, Module, ModuleCore, Parameter};

#[derive(Module)]
struct Mixed {
    core: ModuleCore,
    weight: Parameter<candle_core::Tensor>,
    mask: Buffer<ndarray::ArcArray<f32, ndarray::IxDyn>>,
}

fn main() {}
