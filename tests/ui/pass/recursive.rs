//! A tree of one module type, as PyTorch allows: pinned, inferred from a parameter, and generic.
use modcore::{Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
struct Tree {
    core: ModuleCore,
    value: Parameter<T>,
    child: Option<Box<Tree>>,
    kids: Vec<Tree>,
}

#[derive(Module)]
#[module(tensor = T)]
struct Chain {
    core: ModuleCore,
    next: Option<Box<Chain>>,
}

fn main() {
    let leaf = || Tree {
        core: ModuleCore::new(),
        value: Parameter::new(T::zeros(ndarray::IxDyn(&[1]))),
        child: None,
        kids: Vec::new(),
    };
    let mut root = leaf();
    root.child = Some(Box::new(leaf()));
    root.kids.push(leaf());
    let names: Vec<String> = root.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["value", "child.value", "kids.0.value"]);
    let chain = Chain {
        core: ModuleCore::new(),
        next: Some(Box::new(Chain { core: ModuleCore::new(), next: None })),
    };
    assert_eq!(chain.named_modules().len(), 2);
    println!("{root:?}");
}
