use modcore::{Module, ModuleCore};

#[derive(Module)]
struct Net {
    core: ModuleCore,
    #[module(crate = modcore)]
    #[module(skip)]
    eps: f64,
}

fn main() {}
