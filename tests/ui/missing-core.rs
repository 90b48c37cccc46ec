use modcore::{Module, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
struct Net {
    weight: Parameter<T>,
}

fn main() {}
