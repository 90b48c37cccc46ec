use modcore::{Module, ModuleCore};

#[derive(Module)]
#[buffer(persistent = false)]
struct Net {
    core: ModuleCore,
}

fn main() {}
