use std::collections::HashMap;

use modcore::{Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
struct Heads {
    core: ModuleCore,
    heads: HashMap<String, Parameter<T>>,
}

fn main() {}
