use modcore::{Module, ModuleCore};

#[derive(Module)]
#[module(tensor = f32)]
struct Net {
    core: ModuleCore,
}

fn main() {}
