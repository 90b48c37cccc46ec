use modcore::Module;

#[derive(Module)]
struct Nothing;

fn main() {}
