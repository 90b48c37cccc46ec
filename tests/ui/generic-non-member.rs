use modcore::{Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

// A generic wrapper is a module for every `M` that is a member; `f32` is not, which is reported
// where it is used as a module.
#[derive(Module)]
struct Wrapper<M> {
    core: ModuleCore,
    scale: Parameter<T>,
    inner: M,
}

fn main() {
    let w = Wrapper { core: ModuleCore::new(), scale: Parameter::new(T::zeros(ndarray::IxDyn(&[1]))), inner: 1.0f32 };
    let _ = w.named_parameters();
}
