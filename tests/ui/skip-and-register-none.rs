use modcore::{Module, ModuleCore};

#[derive(Module)]
struct Net {
    core: ModuleCore,
    #[module(skip, register_none)]
    eps: f64,
}

fn main() {}
