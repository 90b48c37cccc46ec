use modcore::{Module, ModuleCore, Parameter};

#[derive(Module)]
struct Norm<X> {
    core: ModuleCore,
    #[buffer(persistent = false)]
    scale: Parameter<X>,
}

fn main() {}
