//! Places where a ported model must show PyTorch's tree, order and text exactly (issue 13):
//! collection fields as containers, `None` submodules, container reprs, named mixed
//! `Sequential`s, `always_call` chains and type names in errors. Every expectation is PyTorch's
//! own answer, written to `tests/fixtures/exact.json` by `tests/fixtures/make_exact.py`, which
//! builds the same models field for field.

mod common;
use std::any::Any;

use candle_core::{DType, Device, Tensor};
use indexmap::IndexMap;
use modcore::containers::Sequential;
use modcore::nn::{BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU};
use modcore::{
    Buffer, Forward, ForwardResult, HookOptions, Module, ModuleCore, ModuleHooks, Parameter,
    StateDict, Value,
};
use serde_json::Value as Json;

fn expected() -> Json {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/exact.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn strings(json: &Json) -> Vec<String> {
    let items = json.as_array().unwrap();
    items
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// `[[name, type], …]` as `named_modules` pairs.
fn pairs(json: &Json) -> Vec<(String, String)> {
    let items = json.as_array().unwrap();
    items
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_owned(),
                p[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap()
}

fn param(shape: &[usize]) -> Parameter<Tensor> {
    Parameter::new(zeros(shape))
}

fn modules(m: &dyn Module<Tensor>) -> Vec<(String, String)> {
    m.named_modules()
        .into_iter()
        .map(|(n, m)| (n, m.type_name().to_owned()))
        .collect()
}

/// The tree PyTorch's `tree()` in the script reports.
fn assert_tree(m: &dyn Module<Tensor>, expected: &Json) {
    let names = |entries: Vec<String>| entries;
    assert_eq!(
        names(m.named_parameters().into_iter().map(|(n, _)| n).collect()),
        strings(&expected["parameters"])
    );
    assert_eq!(
        names(m.named_buffers().into_iter().map(|(n, _)| n).collect()),
        strings(&expected["buffers"])
    );
    assert_eq!(modules(m), pairs(&expected["modules"]));
    assert_eq!(
        names(m.named_children().into_iter().map(|(n, _)| n).collect()),
        strings(&expected["children"])
    );
    let sd = m.state_dict();
    assert_eq!(
        sd.keys().collect::<Vec<_>>(),
        strings(&expected["state_dict"])
    );
    assert_eq!(
        sd.metadata().keys().collect::<Vec<_>>(),
        strings(&expected["metadata"])
    );
    assert_eq!(m.repr(), expected["repr"].as_str().unwrap());
}

// ---- collection fields ----------------------------------------------------------------------

#[derive(Module)]
struct Mixed {
    core: ModuleCore,
    p: Parameter<Tensor>,
    ps: Vec<Parameter<Tensor>>,
    a: Linear,
    pd: IndexMap<String, Parameter<Tensor>>,
    b: Buffer<Tensor>,
}

fn mixed() -> Mixed {
    let mut m = Mixed {
        core: ModuleCore::new(),
        p: param(&[1]),
        ps: vec![param(&[2]), param(&[3])],
        a: Linear::new(2, 2, true).unwrap(),
        pd: IndexMap::from([("k".to_owned(), param(&[1]))]),
        b: Buffer::new(zeros(&[1])),
    };
    m.register_parameter("rp", Some(param(&[1]))).unwrap();
    m.register_buffer("rb", Some(zeros(&[1])), true).unwrap();
    m
}

#[test]
fn collection_fields_are_containers_in_every_walk_and_in_the_state_dict() {
    let expected = expected();
    let mut m = mixed();
    assert_tree(&m, &expected["mixed"]);
    let keys = m.load_state_dict(&StateDict::new(), false, false).unwrap();
    assert_eq!(keys.missing_keys, strings(&expected["mixed"]["missing"]));
    // The container is a module of its own: lookups and debug printing see it.
    assert_eq!(m.get_submodule("ps").unwrap().type_name(), "ParameterList");
    assert_eq!(m.get_parameter("pd.k").unwrap().shape(), vec![1]);
    assert_eq!(
        format!("{m:?}"),
        expected["mixed"]["repr"].as_str().unwrap()
    );
}

#[derive(Module)]
struct Lists {
    core: ModuleCore,
    vec: Vec<Linear>,
    a: Linear,
}

fn lists() -> Lists {
    Lists {
        core: ModuleCore::new(),
        vec: vec![Linear::new(1, 1, true).unwrap()],
        a: Linear::new(1, 1, true).unwrap(),
    }
}

#[test]
fn unexpected_keys_are_reported_by_the_container_they_fall_under() {
    let expected = expected();
    let mut m = lists();
    let mut sd = m.state_dict();
    for extra in ["a.zzz", "vec.0.zzz", "vec.5.weight", "vec.zzz", "extra"] {
        sd.insert(extra, zeros(&[1]));
    }
    let keys = m.load_state_dict(&sd, false, false).unwrap();
    assert_eq!(keys.unexpected_keys, strings(&expected["unexpected"]));
}

#[test]
fn a_collection_field_has_its_own_training_flag_path_errors_and_set_submodule() {
    let expected = expected();
    let mut m = lists();
    assert_eq!(modules(&m), pairs(&expected["lists_modules"]));
    m.get_submodule_mut("vec").unwrap().eval();
    let training: Vec<Json> = m
        .named_modules()
        .into_iter()
        .map(|(n, x)| serde_json::json!([n, x.is_training()]))
        .collect();
    assert_eq!(Json::Array(training), expected["lists_training"]);
    assert_eq!(
        m.get_submodule("vec.x").unwrap_err().to_string(),
        expected["lists_no_attribute"].as_str().unwrap()
    );
    m.set_submodule("vec.0", Box::new(Linear::new(1, 3, true).unwrap()), true)
        .unwrap();
    assert_eq!(
        m.state_dict().keys().collect::<Vec<_>>(),
        strings(&expected["lists_after_set"])
    );
    assert_eq!(m.vec[0].weight.shape(), vec![3, 1]);
    // Moving the owner keeps its containers: the next access points them at the new place.
    let moved = Box::new(m);
    assert!(!moved.get_submodule("vec").unwrap().is_training());
    assert_eq!(
        moved.get_parameter("vec.0.weight").unwrap().shape(),
        vec![3, 1]
    );
}

#[derive(Module)]
struct Nested {
    core: ModuleCore,
    grid: Vec<Vec<Linear>>,
    heads: IndexMap<String, Vec<Linear>>,
}

#[test]
fn nested_collections_are_nested_containers() {
    let linear = || Linear::new(1, 1, true).unwrap();
    let m = Nested {
        core: ModuleCore::new(),
        grid: vec![vec![linear()], vec![linear()]],
        heads: IndexMap::from([("x".to_owned(), vec![linear()])]),
    };
    assert_tree(&m, &expected()["nested"]);
}

// ---- `None` submodules ----------------------------------------------------------------------

#[derive(Module)]
struct Block {
    core: ModuleCore,
    conv: Linear,
    downsample: Option<Linear>,
}

#[derive(Module)]
struct RegisteredBlock {
    core: ModuleCore,
    conv: Linear,
    #[module(register_none)]
    downsample: Option<Linear>,
}

#[test]
fn a_none_module_field_is_a_plain_attribute_unless_registered() {
    let expected = expected();
    let plain = Block {
        core: ModuleCore::new(),
        conv: Linear::new(1, 1, true).unwrap(),
        downsample: None,
    };
    assert_tree(&plain, &expected["none_plain"]);
    assert_eq!(
        plain.has_attr("downsample"),
        expected["none_plain"]["has_attr"].as_bool().unwrap()
    );
    let registered = RegisteredBlock {
        core: ModuleCore::new(),
        conv: Linear::new(1, 1, true).unwrap(),
        downsample: None,
    };
    // Named `Block` in PyTorch.
    let repr = registered.repr().replacen("RegisteredBlock", "Block", 1);
    assert_eq!(repr, expected["none_registered"]["repr"].as_str().unwrap());
    assert_eq!(
        modules(&registered)[1..],
        pairs(&expected["none_registered"]["modules"])[1..]
    );
}

// ---- container reprs ------------------------------------------------------------------------

#[derive(Module)]
struct Params {
    core: ModuleCore,
    pl: Vec<Parameter<Tensor>>,
    pd: IndexMap<String, Parameter<Tensor>>,
}

#[test]
fn parameter_dicts_print_the_legacy_tensor_type_and_lists_the_dtype() {
    let typed =
        |shape: &[usize], dtype| Parameter::new(Tensor::zeros(shape, dtype, &Device::Cpu).unwrap());
    let m = Params {
        core: ModuleCore::new(),
        pl: vec![typed(&[2, 3], DType::F32), typed(&[1], DType::F64)],
        // PyTorch's `ParameterDict({...})` sorts a plain dict's keys.
        pd: IndexMap::from([
            ("h".to_owned(), typed(&[2], DType::F16)),
            ("w".to_owned(), typed(&[1], DType::F32)),
        ]),
    };
    assert_eq!(m.repr(), expected()["params_repr"].as_str().unwrap());
}

// ---- a named Sequential of mixed layers -----------------------------------------------------

fn floats(json: &Json) -> Vec<f32> {
    json.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn a_named_sequential_mixes_layer_types_and_runs() {
    let expected = &expected()["sequential"];
    let mut features = Sequential::<Tensor>::new();
    features
        .push_named(
            "conv0",
            Conv2d::new(1, 2, (3, 3), (1, 1), (1, 1), 1, false).unwrap(),
        )
        .unwrap()
        .push_named("relu0", ReLU::new())
        .unwrap();
    // `insert_named` keeps the other names where PyTorch's `insert` fails on them.
    features
        .insert_named(1, "norm0", BatchNorm2d::new(2).unwrap())
        .unwrap();
    features
        .push_named("pool0", MaxPool2d::new(2, 2, 0))
        .unwrap();
    assert_eq!(features.repr(), expected["repr"].as_str().unwrap());
    assert_eq!(
        features.state_dict().keys().collect::<Vec<_>>(),
        strings(&expected["state_dict"])
    );
    assert_eq!(
        features
            .insert_named(0, "relu0", ReLU::new())
            .unwrap_err()
            .to_string(),
        "attribute 'relu0' already exists"
    );
    // `add_module` on a taken name replaces the entry in place.
    features.push_named("relu0", ReLU::inplace()).unwrap();
    assert_eq!(features.get(2).unwrap().repr(), "ReLU(inplace=True)");
    features.push_named("relu0", ReLU::new()).unwrap();

    let weight = Tensor::from_vec(floats(&expected["weight"]), (2, 1, 3, 3), &Device::Cpu).unwrap();
    features
        .get_parameter("conv0.weight")
        .unwrap()
        .set_tensor(weight);
    features.eval();
    let x = Tensor::from_vec(floats(&expected["x"]), (1, 1, 4, 4), &Device::Cpu).unwrap();
    let y = features.call(x).unwrap();
    assert_eq!(y.dims(), [1, 2, 2, 2]);
    let want = Tensor::from_vec(floats(&expected["y"]), (1, 2, 2, 2), &Device::Cpu).unwrap();
    assert!(common::max_abs_diff(&y, &want) < 1e-5);
}

// ---- always_call ----------------------------------------------------------------------------

#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct Failing {
    core: ModuleCore,
}

impl Forward<Tensor, f64> for Failing {
    type Output = f64;
    fn forward(&self, _: f64) -> ForwardResult<f64> {
        Err("boom".into())
    }
}

#[test]
fn always_call_hooks_chain_their_outputs_on_a_failed_call() {
    use std::sync::{Arc, Mutex};
    let expected = &expected()["always_call"];
    let m = Failing::default();
    let seen: Arc<Mutex<Vec<Json>>> = Arc::default();
    let record = |name: &'static str, replace: Option<f64>| {
        let seen = seen.clone();
        move |_: &dyn Module<Tensor>, _: &dyn Any, _: &dyn Any, out: Option<&dyn Any>| {
            let out = out.and_then(|o| o.downcast_ref::<f64>()).copied();
            seen.lock().unwrap().push(serde_json::json!([name, out]));
            replace.map(|r| Box::new(r) as Box<dyn Any>)
        }
    };
    let _first = m.register_forward_hook_any(
        record("first", Some(7.0)),
        HookOptions::default().always_call(),
    );
    let _second =
        m.register_forward_hook_any(record("second", None), HookOptions::default().always_call());
    let e = m.call(1.0).unwrap_err();
    assert_eq!(e.to_string(), expected["error"].as_str().unwrap());
    assert_eq!(Json::Array(seen.lock().unwrap().clone()), expected["seen"]);
}

// ---- type names in errors -------------------------------------------------------------------

#[derive(Module)]
struct Slots {
    core: ModuleCore,
    fc: Linear,
    w: Parameter<Tensor>,
}

/// PyTorch's text with its `torch.typename` paths shortened to class names, the one convention
/// modcore's messages follow.
fn class_names(pytorch: &str) -> String {
    pytorch
        .replace("'torch.FloatTensor'", "'Tensor'")
        .replace("'torch.nn.modules.linear.Linear'", "'Linear'")
}

#[test]
fn errors_name_types_by_class_name() {
    let expected = &expected()["errors"];
    let mut s = Slots {
        core: ModuleCore::new(),
        fc: Linear::new(1, 1, true).unwrap(),
        w: param(&[1]),
    };
    let e = s.set_attr("fc", Value::Tensor(zeros(&[1]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        class_names(expected["tensor_as_module"].as_str().unwrap())
    );
    let e = s
        .set_attr("w", Value::module(Linear::new(1, 1, true).unwrap()))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        class_names(expected["module_as_parameter"].as_str().unwrap())
    );
}
