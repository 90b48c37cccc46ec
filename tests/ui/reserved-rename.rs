use modcore::{Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
struct Net {
    core: ModuleCore,
    #[module(rename = "forward")]
    weight: Parameter<T>,
}

fn main() {}
