use modcore::{Module, ModuleCore};

#[derive(Module)]
struct Net {
    #[module(rename = "state")]
    core: ModuleCore,
}

fn main() {}
