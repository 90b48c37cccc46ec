use modcore::{Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
#[module(extra_repr = Scale::describe)]
struct Scale {
    core: ModuleCore,
    factor: Parameter<T>,
}

impl Scale {
    fn describe(&self) -> usize {
        1
    }
}

fn main() {}
