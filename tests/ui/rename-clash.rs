use modcore::{Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
struct Net {
    core: ModuleCore,
    weight: Parameter<T>,
    #[module(rename = "weight")]
    other: Parameter<T>,
}

fn main() {}
