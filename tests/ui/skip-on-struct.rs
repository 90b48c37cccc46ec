use modcore::{Module, ModuleCore};

#[derive(Module)]
#[module(skip)]
struct Net {
    core: ModuleCore,
}

fn main() {}
