use modcore::{Module, ModuleCore};

#[derive(Module)]
#[module(frozen)]
struct Net {
    core: ModuleCore,
}

fn main() {}
