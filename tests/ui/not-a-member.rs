use modcore::{Module, ModuleCore};

#[derive(Module)]
struct Norm {
    core: ModuleCore,
    eps: f64,
}

fn main() {}
