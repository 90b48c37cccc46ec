use modcore::{Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
#[module(version = 2, migrate = Scale::migrate)]
struct Scale {
    core: ModuleCore,
    factor: Parameter<T>,
}

impl Scale {
    fn migrate(&self, prefix: &str) {
        let _ = prefix;
    }
}

fn main() {}
