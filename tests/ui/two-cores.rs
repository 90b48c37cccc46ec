use modcore::{Module, ModuleCore};

#[derive(Module)]
struct Net {
    core: ModuleCore,
    other: ModuleCore,
}

fn main() {}
