use modcore::{Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
struct Net {
    core: ModuleCore,
    training: Parameter<T>,
}

fn main() {}
