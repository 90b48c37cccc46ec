use modcore::{Module, ModuleCore};

#[derive(Module)]
struct Net {
    core: ModuleCore,
    #[module(skip)]
    #[buffer(persistent = false)]
    eps: f64,
}

fn main() {}
