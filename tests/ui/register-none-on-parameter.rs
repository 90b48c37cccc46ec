use modcore::{Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
struct Net {
    core: ModuleCore,
    // A parameter holding `None` is always registered (`register_parameter(name, None)`).
    #[module(register_none)]
    bias: Option<Parameter<T>>,
}

fn main() {}
