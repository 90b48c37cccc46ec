use std::collections::BTreeMap;

use indexmap::IndexMap;
use modcore::{Buffer, Module, ModuleCore, Parameter, Tensor};

#[derive(Module)]
struct Layer<X: Tensor> {
    core: ModuleCore,
    w: Parameter<X>,
}

#[derive(Module)]
struct Stack<X: Tensor, const N: usize>
where
    X: Clone,
{
    core: ModuleCore,
    layers: Vec<Layer<X>>,
    fixed: [Layer<X>; N],
    heads: IndexMap<String, Layer<X>>,
    sorted: BTreeMap<String, Option<Layer<X>>>,
    stats: Vec<Buffer<X>>,
}

#[derive(Module)]
struct Seq(ModuleCore, Layer<ndarray::ArcArray<f32, ndarray::IxDyn>>);

fn main() {
    fn count<X: Tensor, const N: usize>(s: &Stack<X, N>) -> usize {
        s.named_modules().len()
    }
    let _ = count::<ndarray::ArcArray<f32, ndarray::IxDyn>, 2>;
    let _ = Seq::MEMBERS;
}
