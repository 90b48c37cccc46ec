use modcore::{Buffer, Module, ModuleCore};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
struct Net {
    core: ModuleCore,
    #[buffer(persist = false)]
    mask: Buffer<T>,
}

fn main() {}
