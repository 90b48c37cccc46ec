//! Spec §8: Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict.

use candle_core::{DType, Device, Tensor};
use modcore::containers::{ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential};
use modcore::{Forward, ForwardResult, Module, ModuleCore, ModuleHooks, Parameter, PythonType};

fn t(values: &[f32]) -> Tensor {
    Tensor::new(values, &Device::Cpu).unwrap()
}

/// `x * factor`, with a parameter so state dicts have entries.
#[derive(Module)]
struct Scale {
    core: ModuleCore,
    factor: Parameter<Tensor>,
}

fn scale(f: f32) -> Scale {
    Scale {
        core: ModuleCore::new(),
        factor: Parameter::new(Tensor::new(f, &Device::Cpu).unwrap()),
    }
}

impl Forward<Tensor, Tensor> for Scale {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(x.broadcast_mul(&self.factor.tensor())?)
    }
}

#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct ReLU {
    core: ModuleCore,
}

impl Forward<Tensor, Tensor> for ReLU {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(x.relu()?)
    }
}

fn factor(m: &dyn Module<Tensor>) -> f32 {
    m.get_parameter("factor")
        .unwrap()
        .tensor()
        .to_vec0()
        .unwrap()
}

fn names<V>(entries: impl IntoIterator<Item = (String, V)>) -> Vec<String> {
    entries.into_iter().map(|(n, _)| n).collect()
}

#[test]
fn sequential_chains_forward_through_heterogeneous_modules() {
    let mut seq = Sequential::new();
    seq.push(scale(2.0)).push(ReLU::default()).push(scale(3.0));
    let y = seq.call(t(&[1.0, -1.0])).unwrap();
    assert_eq!(y.to_vec1::<f32>().unwrap(), [6.0, 0.0]);
    assert_eq!(names(seq.named_parameters()), ["0.factor", "2.factor"]);
    assert_eq!(
        seq.state_dict().keys().collect::<Vec<_>>(),
        ["0.factor", "2.factor"]
    );
    // An empty Sequential returns its input.
    let empty = Sequential::<Tensor>::new();
    assert_eq!(
        empty.call(t(&[5.0])).unwrap().to_vec1::<f32>().unwrap(),
        [5.0]
    );
    assert_eq!(empty.repr(), "Sequential()");
}

#[test]
fn sequential_indexing_is_positional_with_negative_indices() {
    let mut seq = Sequential::new();
    seq.push(scale(1.0)).push(scale(2.0)).push(scale(3.0));
    assert_eq!(factor(seq.get(0).unwrap()), 1.0);
    assert_eq!(factor(seq.get(-1).unwrap()), 3.0);
    assert_eq!(factor(seq.get(-3).unwrap()), 1.0);
    let e = seq.get(3).unwrap_err();
    assert_eq!(e.to_string(), "index 3 is out of range");
    assert_eq!(e.python_type(), PythonType::IndexError);
    assert_eq!(
        seq.get(-4).unwrap_err().to_string(),
        "index -4 is out of range"
    );
}

#[test]
fn sequential_set_keeps_names_and_removal_renumbers() {
    let mut named = Sequential::from_named([
        ("x".to_owned(), scale(1.0)),
        ("y".to_owned(), scale(2.0)),
        ("z".to_owned(), scale(3.0)),
    ])
    .unwrap();
    named.set(1, scale(20.0)).unwrap();
    assert_eq!(names(named.named_children()), ["x", "y", "z"]);
    assert_eq!(factor(named.get(1).unwrap()), 20.0);
    let removed = named.remove(0).unwrap();
    assert_eq!(factor(&*removed), 1.0);
    assert_eq!(names(named.named_children()), ["0", "1"]);
    named.remove(-1).unwrap();
    assert_eq!(names(named.named_children()), ["0"]);
    assert!(Sequential::from_named([("a.b".to_owned(), scale(1.0))]).is_err());
}

#[test]
fn sequential_insert_normalises_and_checks_indices() {
    let mut seq = Sequential::new();
    seq.push(scale(1.0)).push(scale(2.0)).push(scale(3.0));
    seq.insert(1, scale(10.0)).unwrap();
    seq.insert(-2, scale(20.0)).unwrap();
    let factors: Vec<f32> = seq.iter().map(factor).collect();
    assert_eq!(factors, [1.0, 10.0, 20.0, 2.0, 3.0]);
    assert_eq!(names(seq.named_children()), ["0", "1", "2", "3", "4"]);
    assert_eq!(
        seq.insert(-7, scale(0.0)).unwrap_err().to_string(),
        "Index out of range: -7"
    );
    seq.insert(5, scale(6.0)).unwrap();
    assert_eq!(seq.len(), 6);
}

#[test]
fn sequential_prints_like_pytorch() {
    let mut seq = Sequential::new();
    seq.push(ReLU::default()).push(ReLU::default());
    assert_eq!(seq.repr(), "Sequential(\n  (0): ReLU()\n  (1): ReLU()\n)");
}

#[test]
fn module_list_append_extend_insert_remove_and_fold() {
    let mut list = ModuleList::<Tensor>::new();
    list.push(ReLU::default())
        .push(ReLU::default())
        .push(ReLU::default());
    list.push(scale(1.0)).push(ReLU::default());
    assert_eq!(
        list.repr(),
        "ModuleList(\n  (0-2): 3 x ReLU()\n  (3): Scale()\n  (4): ReLU()\n)"
    );
    list.remove(1).unwrap();
    assert_eq!(names(list.named_children()), ["0", "1", "2", "3"]);
    assert_eq!(list.get(2).unwrap().type_name(), "Scale");
    list.insert(0, Box::new(scale(5.0))).unwrap();
    assert_eq!(factor(list.get(0).unwrap()), 5.0);
    assert_eq!(
        list.insert(-9, Box::new(ReLU::default()))
            .unwrap_err()
            .to_string(),
        "Index out of range: -9"
    );
    list.set(-1, Box::new(scale(7.0))).unwrap();
    assert_eq!(factor(list.get(-1).unwrap()), 7.0);
    list.extend([Box::new(ReLU::default()) as Box<dyn Module<Tensor>>]);
    assert_eq!(list.len(), 6);
    assert_eq!(ModuleList::<Tensor>::new().repr(), "ModuleList()");
    let from: ModuleList<Tensor> = vec![Box::new(scale(1.0)) as Box<dyn Module<Tensor>>]
        .into_iter()
        .collect();
    assert_eq!(names(from.named_parameters()), ["0.factor"]);
}

#[test]
fn module_dict_keeps_order_and_refuses_its_own_attribute_names() {
    let mut md = ModuleDict::<Tensor>::new();
    md.insert("relu", Box::new(ReLU::default())).unwrap();
    md.update([
        (
            "scale".to_owned(),
            Box::new(scale(2.0)) as Box<dyn Module<Tensor>>,
        ),
        ("last".to_owned(), Box::new(ReLU::default())),
    ])
    .unwrap();
    md.insert("relu", Box::new(scale(9.0))).unwrap();
    assert_eq!(md.keys(), ["relu", "scale", "last"]);
    assert_eq!(factor(md.get("relu").unwrap()), 9.0);
    let e = md.get("zz").unwrap_err();
    assert_eq!(e.to_string(), "'zz'");
    assert_eq!(e.python_type(), PythonType::KeyError);
    for key in ["keys", "update", "training", "forward"] {
        let e = md.insert(key, Box::new(ReLU::default())).unwrap_err();
        assert_eq!(e.to_string(), format!("attribute '{key}' already exists"));
    }
    assert!(md.insert("a.b", Box::new(ReLU::default())).is_err());
    md.remove("scale").unwrap();
    assert_eq!(md.keys(), ["relu", "last"]);
    assert!(md.contains_key("last") && !md.contains_key("scale"));
    md.clear();
    assert!(md.is_empty());
}

#[test]
fn parameter_list_converts_tensors_and_prints_like_pytorch() {
    let mut pl = ParameterList::<Tensor>::new();
    pl.push_tensor(Tensor::zeros((2, 3), DType::F32, &Device::Cpu).unwrap());
    assert_eq!(
        pl.repr(),
        "ParameterList(  (0): Parameter containing: [torch.float32 of size 2x3])"
    );
    pl.push(Parameter::new(t(&[1.0, 2.0, 3.0, 4.0])));
    assert_eq!(names(pl.named_parameters()), ["0", "1"]);
    assert_eq!(pl.get(-1).unwrap().shape(), vec![4]);
    assert_eq!(
        pl.get(2).unwrap_err().to_string(),
        "index 2 is out of range"
    );
    assert_eq!(pl.iter().count(), 2);
}

#[test]
fn parameter_dict_looks_keys_up_as_attributes() {
    let mut pd = ParameterDict::<Tensor>::new();
    pd.insert("b", Parameter::new(t(&[1.0]))).unwrap();
    pd.insert("a", Parameter::new(t(&[1.0, 2.0]))).unwrap();
    assert_eq!(pd.keys(), ["b", "a"]);
    assert_eq!(
        pd.repr(),
        // PyTorch's quirk: a ParameterDict names the legacy tensor type, a ParameterList the dtype.
        "ParameterDict(\n    (b): Parameter containing: [torch.FloatTensor of size 1]\n    (a): Parameter containing: [torch.FloatTensor of size 2]\n)"
    );
    let e = pd.get("zz").unwrap_err();
    assert_eq!(
        e.to_string(),
        "'ParameterDict' object has no attribute 'zz'"
    );
    assert_eq!(pd.remove("b").unwrap().shape(), vec![1]);
    assert_eq!(pd.keys(), ["a"]);
    assert!(pd.insert("update", Parameter::new(t(&[1.0]))).is_err());
}

#[test]
fn containers_nest_in_derived_modules_with_pytorchs_names() {
    #[derive(Module)]
    struct Net {
        core: ModuleCore,
        features: Sequential<Tensor>,
        heads: ModuleList<Tensor>,
    }
    let mut features = Sequential::new();
    features.push(scale(1.0)).push(ReLU::default());
    let mut heads = ModuleList::new();
    heads.push(scale(2.0));
    let net = Net {
        core: ModuleCore::new(),
        features,
        heads,
    };
    assert_eq!(
        names(net.named_modules()),
        [
            "",
            "features",
            "features.0",
            "features.1",
            "heads",
            "heads.0"
        ]
    );
    assert_eq!(
        net.state_dict().keys().collect::<Vec<_>>(),
        ["features.0.factor", "heads.0.factor"]
    );
    assert_eq!(
        net.repr(),
        "Net(\n  (features): Sequential(\n    (0): Scale()\n    (1): ReLU()\n  )\n  (heads): ModuleList(\n    (0): Scale()\n  )\n)"
    );
}

#[test]
fn sequential_split_off_keeps_names_and_addition_renumbers() {
    let mut named = Sequential::from_named([
        ("x".to_owned(), scale(1.0)),
        ("y".to_owned(), scale(2.0)),
        ("z".to_owned(), scale(3.0)),
    ])
    .unwrap();
    let tail = named.split_off(1);
    assert_eq!(names(tail.named_children()), ["y", "z"]);
    assert_eq!(names(named.named_children()), ["x"]);
    // The tail can still run: it knows how to call its modules.
    assert_eq!(
        tail.call(t(&[1.0])).unwrap().to_vec1::<f32>().unwrap(),
        [6.0]
    );
    let both = named + tail;
    assert_eq!(names(both.named_children()), ["0", "1", "2"]);
    let factors: Vec<f32> = both.iter().map(factor).collect();
    assert_eq!(factors, [1.0, 2.0, 3.0]);
    let mut list = ModuleList::<Tensor>::new();
    list.push(scale(1.0)).push(scale(2.0)).push(scale(3.0));
    let rest = list.split_off(1);
    assert_eq!(names(rest.named_children()), ["0", "1"]);
    assert_eq!(list.len(), 1);
}
