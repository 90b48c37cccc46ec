use modcore::{Module, ModuleCore};

#[derive(Module)]
struct View<'a> {
    core: ModuleCore,
    #[module(skip)]
    name: &'a str,
}

fn main() {}
