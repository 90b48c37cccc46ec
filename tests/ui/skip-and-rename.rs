use modcore::{Module, ModuleCore};

#[derive(Module)]
struct Net {
    core: ModuleCore,
    #[module(skip, rename = "e")]
    eps: f64,
}

fn main() {}
