use modcore::{Buffer, Module, ModuleCore, Parameter};
type T = ndarray::ArcArray<f32, ndarray::IxDyn>;

#[derive(Module)]
struct Linear {
    core: ModuleCore,
    weight: Parameter<T>,
    bias: Option<Parameter<T>>,
}

#[derive(Module)]
struct Net {
    core: ModuleCore,
    fc: Linear,
    #[buffer(persistent = false)]
    mask: Buffer<T>,
    #[module(rename = "head")]
    out: Box<dyn Module<T>>,
    #[module(skip)]
    eps: f64,
}

fn main() {
    let z = |s: &[usize]| T::zeros(ndarray::IxDyn(s));
    let fc = Linear { core: ModuleCore::new(), weight: Parameter::new(z(&[2, 2])), bias: None };
    let head = Linear { core: ModuleCore::new(), weight: Parameter::new(z(&[1, 2])), bias: None };
    let net = Net { core: ModuleCore::new(), fc, mask: Buffer::new(z(&[2])), out: Box::new(head), eps: 0.0 };
    assert_eq!(net.named_parameters().len(), 2);
    assert_eq!(net.eps, 0.0);
}
