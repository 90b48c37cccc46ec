use modcore::{Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
type Core = ModuleCore;

// Without `#[module(core)]` the alias is not known to be the core.
#[derive(Module)]
struct Net {
    state: Core,
    weight: Parameter<T>,
}

fn main() {}
