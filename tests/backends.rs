//! The same derived modules on both real backends: candle-core and ndarray.

use candle_core::{DType as CandleDType, Device, Tensor};
use modcore::{Buffer, DType, Module, ModuleCore, Parameter, Value};
use ndarray::{ArcArray, ArrayD, IxDyn};

/// Nothing here names a tensor type: a `Module<T>` for every backend.
#[derive(Module, Default)]
struct ReLU {
    core: ModuleCore,
}

/// Generic over the backend, like burn's modules.
#[derive(Module)]
struct Linear<X: modcore::Tensor> {
    core: ModuleCore,
    weight: Parameter<X>,
    bias: Option<Parameter<X>>,
}

#[derive(Module)]
struct Mlp<X: modcore::Tensor> {
    core: ModuleCore,
    fc1: Linear<X>,
    act: ReLU,
    fc2: Linear<X>,
    #[buffer(persistent = false)]
    mask: Buffer<X>,
}

fn names<V>(entries: impl IntoIterator<Item = (String, V)>) -> Vec<String> {
    entries.into_iter().map(|(n, _)| n).collect()
}

fn mlp<X: modcore::Tensor>(zeros: impl Fn(&[usize]) -> X) -> Mlp<X> {
    let linear = |i: usize, o: usize| Linear {
        core: ModuleCore::new(),
        weight: Parameter::new(zeros(&[o, i])),
        bias: Some(Parameter::new(zeros(&[o]))),
    };
    Mlp {
        core: ModuleCore::new(),
        fc1: linear(4, 8),
        act: ReLU::default(),
        fc2: linear(8, 2),
        mask: Buffer::new(zeros(&[4])),
    }
}

fn check_mlp<X: modcore::Tensor>(m: &mut Mlp<X>) {
    assert_eq!(
        names(m.named_parameters()),
        ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    );
    assert_eq!(names(m.named_modules()), ["", "fc1", "act", "fc2"]);
    assert_eq!(m.non_persistent_buffers(), ["mask"]);
    assert_eq!(m.num_parameters(), 4 * 8 + 8 + 8 * 2 + 2);
    assert_eq!(m.get_parameter("fc2.weight").unwrap().shape(), vec![2, 8]);
    let dtype = m.fc1.weight.read(|t| t.dtype());
    assert_eq!(dtype, DType::F32);
    m.eval();
    // `ReLU` is a module for every tensor type: name the one meant.
    assert!(!Module::<X>::is_training(&m.act));
}

#[test]
fn candle_models() {
    let zeros = |shape: &[usize]| Tensor::zeros(shape, CandleDType::F32, &Device::Cpu).unwrap();
    let mut m = mlp(zeros);
    check_mlp(&mut m);
    // Heterogeneous children through Box<dyn Module<candle_core::Tensor>>.
    Module::<Tensor>::register_module(&mut m.act, "inner", Some(Box::new(ReLU::default())))
        .unwrap();
    let boxed: Box<dyn Module<Tensor>> = Box::new(m);
    assert_eq!(
        names(boxed.named_modules()),
        ["", "fc1", "act", "act.inner", "fc2"]
    );
}

#[test]
fn candle_tied_weights_share_one_tensor() {
    let zeros = |shape: &[usize]| Tensor::zeros(shape, CandleDType::F32, &Device::Cpu).unwrap();
    let mut m = mlp(zeros);
    m.set_attr("tied", Value::Parameter(m.fc1.weight.clone()))
        .unwrap();
    assert_eq!(m.parameters().len(), 4);
    assert_eq!(m.named_parameters_with("", true, false).len(), 5);
    let replacement = Tensor::ones((8, 4), CandleDType::F32, &Device::Cpu).unwrap();
    m.get_parameter("tied")
        .unwrap()
        .set_tensor(replacement.clone());
    // Both names see the one new tensor: a leaf variable holding the replacement's values.
    let tied = m.get_parameter("tied").unwrap().tensor();
    assert_eq!(
        modcore::Tensor::id(&m.fc1.weight.tensor()),
        modcore::Tensor::id(&tied)
    );
    assert!(tied.is_variable());
    assert_eq!(
        tied.to_vec2::<f32>().unwrap(),
        replacement.to_vec2::<f32>().unwrap()
    );
}

#[test]
fn ndarray_models() {
    let zeros = |shape: &[usize]| ArcArray::<f32, IxDyn>::zeros(IxDyn(shape));
    check_mlp(&mut mlp(zeros));
    let owned = |shape: &[usize]| ArrayD::<f32>::zeros(IxDyn(shape));
    check_mlp(&mut mlp(owned));
}

#[test]
fn integer_buffers_keep_their_dtype() {
    let mut relu = ReLU::default();
    let steps = Tensor::zeros((), CandleDType::I64, &Device::Cpu).unwrap();
    Module::<Tensor>::register_buffer(&mut relu, "num_batches_tracked", Some(steps), true).unwrap();
    let b = Module::<Tensor>::get_buffer(&relu, "num_batches_tracked")
        .unwrap()
        .unwrap();
    assert_eq!(b.read(modcore::Tensor::dtype), DType::I64);
    assert_eq!(b.shape(), Vec::<usize>::new());
}

#[test]
fn one_module_holds_one_tensor_type_at_run_time() {
    let mut relu = ReLU::default();
    let candle = Tensor::zeros(1, CandleDType::F32, &Device::Cpu).unwrap();
    Module::<Tensor>::register_buffer(&mut relu, "a", Some(candle), true).unwrap();
    let nd = ArcArray::<f32, IxDyn>::zeros(IxDyn(&[1]));
    let e = Module::<ArcArray<f32, IxDyn>>::register_buffer(&mut relu, "b", Some(nd), true)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "'ReLU' already holds run-time members of tensor type Tensor; cannot register 'b' of tensor type ArrayBase<OwnedArcRepr<f32>, Dim<IxDynImpl>, f32>"
    );
}
