use modcore::{Module, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

// No ModuleCore, an unknown attribute and a bad rename: all three reported in one build.
#[derive(Module)]
struct Net {
    #[module(frozen)]
    weight: Parameter<T>,
    #[module(rename = "a.b")]
    bias: Parameter<T>,
}

fn main() {}
