use modcore::{Module, ModuleCore};

#[derive(Module)]
#[module(version = "2")]
struct Norm {
    core: ModuleCore,
}

fn main() {}
