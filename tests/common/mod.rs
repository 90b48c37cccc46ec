//! Shared fixtures: tensors and small modules shaped like PyTorch's test networks.
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

use modcore::{Buffer, Forward, ForwardResult, Module, ModuleCore, Parameter};
use ndarray::{ArcArray, IxDyn};

/// The tensor type most tests use.
pub type T = ArcArray<f32, IxDyn>;

pub fn zeros(shape: &[usize]) -> T {
    T::zeros(IxDyn(shape))
}

pub fn param(shape: &[usize]) -> Parameter<T> {
    Parameter::new(zeros(shape))
}

pub fn names<V>(entries: impl IntoIterator<Item = (String, V)>) -> Vec<String> {
    entries.into_iter().map(|(n, _)| n).collect()
}

/// `nn.Linear`-like: weight and an optional bias.
#[derive(Module)]
pub struct Linear {
    pub core: ModuleCore,
    pub weight: Parameter<T>,
    pub bias: Option<Parameter<T>>,
}

impl Linear {
    pub fn new(i: usize, o: usize) -> Self {
        Linear {
            core: ModuleCore::new(),
            weight: param(&[o, i]),
            bias: Some(param(&[o])),
        }
    }
}

/// A module with nothing declared, like `nn.Module()`. Nothing in it names a tensor type, so
/// the type is pinned for inference.
#[derive(Module, Default)]
#[module(tensor = T)]
pub struct Empty {
    pub core: ModuleCore,
}

pub fn empty() -> Empty {
    Empty::default()
}

/// `_create_basic_net`'s `Layer`: one parameter, one buffer.
#[derive(Module)]
pub struct Layer {
    pub core: ModuleCore,
    pub layer_dummy_param: Parameter<T>,
    pub layer_dummy_buf: Buffer<T>,
}

impl Layer {
    pub fn new() -> Self {
        Layer {
            core: ModuleCore::new(),
            layer_dummy_param: param(&[3, 5]),
            layer_dummy_buf: Buffer::new(zeros(&[1, 3, 3, 7])),
        }
    }
}

/// `_create_basic_net`'s `Net`: a parameter, a buffer and a `Layer`.
#[derive(Module)]
pub struct Net {
    pub core: ModuleCore,
    pub dummy_param: Parameter<T>,
    pub dummy_buf: Buffer<T>,
    pub l1: Layer,
}

impl Net {
    pub fn new() -> Self {
        Net {
            core: ModuleCore::new(),
            dummy_param: param(&[3, 5]),
            dummy_buf: Buffer::new(zeros(&[7, 3, 3, 1])),
            l1: Layer::new(),
        }
    }
}

/// Serialises the tests of one binary that use process-wide hooks.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `forward(x) = x + 1`, on plain numbers so hook arithmetic is easy to check.
#[derive(Module, Default)]
#[module(tensor = candle_core::Tensor)]
pub struct AddOne {
    pub core: ModuleCore,
}

impl Forward<candle_core::Tensor, f64> for AddOne {
    type Output = f64;
    fn forward(&self, x: f64) -> ForwardResult<f64> {
        Ok(x + 1.0)
    }
}

/// The largest absolute difference between two candle tensors of one shape, in float64.
pub fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f64 {
    use candle_core::DType;
    assert_eq!(a.dims(), b.dims(), "shape");
    max_abs(&(a.to_dtype(DType::F64).unwrap() - b.to_dtype(DType::F64).unwrap()).unwrap())
}

/// The largest absolute value in a candle tensor, in float64.
pub fn max_abs(t: &candle_core::Tensor) -> f64 {
    t.to_dtype(candle_core::DType::F64)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
}

/// PyTorch's `F.cross_entropy` (mean reduction).
pub fn cross_entropy(
    logits: &candle_core::Tensor,
    target: &candle_core::Tensor,
) -> candle_core::Tensor {
    modcore::nn::functional::cross_entropy(logits, target).unwrap()
}

/// A path for `name` in a scratch folder of this test binary and process.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let binary = std::env::current_exe().unwrap();
    let stem = binary.file_stem().unwrap().to_string_lossy().into_owned();
    let dir = std::env::temp_dir().join(format!("modcore-{stem}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A safetensors file in the scratch folder with a hand-written header.
pub fn handmade(name: &str, header: &str, data: &[u8]) -> std::path::PathBuf {
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(data);
    let path = scratch(name);
    std::fs::write(&path, file).unwrap();
    path
}

/// A fixture made by PyTorch: `tests/fixtures/<stem>.safetensors` (tensors by case) and
/// `<stem>.repr.json` (each case's printed layer).
pub struct Fixture {
    pub tensors: modcore::StateDict<candle_core::Tensor>,
    pub reprs: std::collections::HashMap<String, String>,
}

impl Fixture {
    pub fn load(stem: &str) -> Fixture {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let tensors =
            modcore::checkpoint::load_file(dir.join(format!("{stem}.safetensors"))).unwrap();
        let reprs = std::fs::read_to_string(dir.join(format!("{stem}.repr.json"))).unwrap();
        Fixture {
            tensors,
            reprs: serde_json::from_str(&reprs).unwrap(),
        }
    }

    pub fn get(&self, key: &str) -> candle_core::Tensor {
        self.tensors
            .get(key)
            .unwrap_or_else(|| panic!("no {key}"))
            .clone()
    }

    /// Loads case `name`'s parameters and buffers into `layer`, strictly.
    pub fn load_case<M: Module<candle_core::Tensor>>(&self, name: &str, layer: &mut M) {
        let keys = layer
            .load_state_dict(&self.sub(&format!("{name}.")), true, false)
            .unwrap();
        assert!(keys.is_empty(), "{name}: {keys}");
    }

    /// Loads case `name` (its parameters strictly), runs its input, and compares the output,
    /// the gradients of `sum(layer(x) * g)` for the input and every parameter (within 1e-5),
    /// and the printed layer with PyTorch's.
    pub fn check_with_grads<M>(&self, name: &str, mut layer: M)
    where
        M: Module<candle_core::Tensor>
            + Forward<candle_core::Tensor, candle_core::Tensor, Output = candle_core::Tensor>,
    {
        use modcore::ModuleHooks;
        self.load_case(name, &mut layer);
        assert_eq!(layer.repr(), self.reprs[name], "{name}: repr");

        let x = candle_core::Var::from_tensor(&self.get(&format!("{name}:in"))).unwrap();
        let y = layer.call(x.as_tensor().clone()).unwrap();
        self.check_outputs_and_grads(name, &layer, &[y], &[(x, format!("{name}:dx"))]);
    }

    /// As [`check_with_grads`](Fixture::check_with_grads), for a layer called with several
    /// inputs (`<name>:in0`, `<name>:in1`, …) by `call`, which returns the output and any
    /// further results (`<name>:out1`, … where PyTorch saved them).
    pub fn check_call<M: Module<candle_core::Tensor>>(
        &self,
        name: &str,
        mut layer: M,
        call: impl Fn(&M, &[candle_core::Tensor]) -> Vec<candle_core::Tensor>,
    ) {
        self.load_case(name, &mut layer);
        assert_eq!(layer.repr(), self.reprs[name], "{name}: repr");
        let inputs: Vec<(candle_core::Var, String)> = (0..)
            .map_while(|i| {
                let x = self.tensors.get(&format!("{name}:in{i}"))?;
                let var = candle_core::Var::from_tensor(x).unwrap();
                Some((var, format!("{name}:dx{i}")))
            })
            .collect();
        let xs: Vec<candle_core::Tensor> =
            inputs.iter().map(|(v, _)| v.as_tensor().clone()).collect();
        let outputs = call(&layer, &xs);
        self.check_outputs_and_grads(name, &layer, &outputs, &inputs);
    }

    /// The mask `<name>:mask.<key>`, if PyTorch was given one.
    pub fn mask(&self, name: &str, key: &str) -> Option<candle_core::Tensor> {
        self.tensors.get(&format!("{name}:mask.{key}")).cloned()
    }

    fn check_outputs_and_grads<M: Module<candle_core::Tensor>>(
        &self,
        name: &str,
        layer: &M,
        outputs: &[candle_core::Tensor],
        inputs: &[(candle_core::Var, String)],
    ) {
        for (i, y) in outputs.iter().enumerate() {
            let key = match i {
                0 => format!("{name}:out"),
                _ => format!("{name}:out{i}"),
            };
            let diff = max_abs_diff(y, &self.get(&key));
            assert!(diff <= 1e-5, "{key}: output differs by {diff}");
        }
        let loss = (&outputs[0] * self.get(&format!("{name}:g")))
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        for (x, key) in inputs {
            let dx = grads.get(x.as_tensor()).expect("the input has a gradient");
            let diff = max_abs_diff(dx, &self.get(key));
            assert!(diff <= 1e-5, "{key}: input gradient differs by {diff}");
        }
        for (key, p) in layer.named_parameters() {
            let grad = grads.get(&p.tensor()).expect("a parameter gradient");
            let diff = max_abs_diff(grad, &self.get(&format!("{name}:d.{key}")));
            assert!(diff <= 1e-5, "{name}: gradient of {key} differs by {diff}");
        }
    }

    /// The entries under `prefix`, with the prefix taken off.
    pub fn sub(&self, prefix: &str) -> modcore::StateDict<candle_core::Tensor> {
        self.tensors
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_owned(), v.clone())))
            .collect()
    }
}

/// A value whose drop panics, as a hook's captured state might.
pub struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("drop failed (expected: a test's hook state)");
    }
}
