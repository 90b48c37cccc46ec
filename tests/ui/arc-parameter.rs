use std::sync::Arc;

use modcore::{Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
struct Tied {
    core: ModuleCore,
    weight: Arc<Parameter<T>>,
}

fn main() {}
