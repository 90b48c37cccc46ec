use modcore::{Module, ModuleCore};

#[derive(Module)]
struct Net {
    /// The module's state.
    #[module(skip)]
    core: ModuleCore,
}

fn main() {}
