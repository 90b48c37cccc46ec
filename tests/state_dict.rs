//! Spec §6: state_dict and load_state_dict in memory: keys, order, metadata, strictness, error
//! text, atomicity, dtype conversion, assign, tied weights, versions and the four hooks.

use std::sync::{Arc, Mutex};

use candle_core::{DType as CDType, Device, Tensor};
use modcore::{
    Buffer, DType, IncompatibleKeys, Module, ModuleCore, ModuleHooks, Parameter, StateDict,
    StateEntry,
};

fn t(values: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(values, shape, &Device::Cpu).unwrap()
}

fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, CDType::F32, &Device::Cpu).unwrap()
}

fn values(tensor: &Tensor) -> Vec<f32> {
    tensor.flatten_all().unwrap().to_vec1().unwrap()
}

fn keys<T>(sd: &StateDict<T>) -> Vec<&str> {
    sd.keys().collect()
}

#[derive(Module)]
struct Linear {
    core: ModuleCore,
    weight: Parameter<Tensor>,
    bias: Option<Parameter<Tensor>>,
}

fn linear(i: usize, o: usize) -> Linear {
    Linear {
        core: ModuleCore::new(),
        weight: Parameter::new(zeros(&[o, i])),
        bias: Some(Parameter::new(zeros(&[o]))),
    }
}

/// The spec's checked example: `p0`, a buffer, two Linears.
#[derive(Module)]
#[module(version = 3)]
struct Tied {
    core: ModuleCore,
    p0: Parameter<Tensor>,
    a: Linear,
    b: Linear,
    buf: Buffer<Tensor>,
    #[buffer(persistent = false)]
    scratch: Buffer<Tensor>,
}

fn tied() -> Tied {
    Tied {
        core: ModuleCore::new(),
        p0: Parameter::new(zeros(&[1])),
        a: linear(2, 2),
        b: linear(2, 2),
        buf: Buffer::new(zeros(&[1])),
        scratch: Buffer::new(zeros(&[1])),
    }
}

#[test]
fn keys_are_own_parameters_then_own_buffers_then_children() {
    let m = tied();
    let sd = m.state_dict();
    assert_eq!(
        keys(&sd),
        ["p0", "buf", "a.weight", "a.bias", "b.weight", "b.bias"]
    );
    let paths: Vec<&str> = sd.metadata().keys().collect();
    assert_eq!(paths, ["", "a", "b"]);
    assert_eq!(sd.metadata()[""].version, Some(3));
    assert_eq!(sd.metadata()["a"].version, Some(1));
}

#[test]
fn tied_parameters_appear_under_every_key_sharing_storage() {
    let mut m = tied();
    m.b.weight = m.a.weight.clone();
    let sd = m.state_dict();
    assert_eq!(sd.len(), 6);
    assert_eq!(
        modcore::Tensor::id(sd.get("a.weight").unwrap()),
        modcore::Tensor::id(sd.get("b.weight").unwrap())
    );
    assert_eq!(m.named_parameters().len(), 4);
}

#[test]
fn none_entries_and_non_persistent_buffers_are_left_out() {
    let mut m = tied();
    m.a.bias = None;
    m.register_buffer("nonebuf", None, true).unwrap();
    m.register_parameter("nonep", None).unwrap();
    m.register_module("empty", None).unwrap();
    m.register_buffer("npbuf", Some(zeros(&[1])), false)
        .unwrap();
    let sd = m.state_dict();
    assert_eq!(keys(&sd), ["p0", "buf", "a.weight", "b.weight", "b.bias"]);
}

#[test]
fn prefix_and_keep_vars() {
    let m = tied();
    let sd = m.state_dict_with_prefix("x.");
    assert_eq!(keys(&sd)[..3], ["x.p0", "x.buf", "x.a.weight"]);
    let paths: Vec<&str> = sd.metadata().keys().collect();
    assert_eq!(paths, ["x", "x.a", "x.b"]);
    let live = m.state_dict_keep_vars();
    match &live["a.weight"] {
        StateEntry::Parameter(p) => assert!(p.same(&m.a.weight)),
        StateEntry::Buffer(_) => panic!("a.weight is a parameter"),
    }
    assert!(matches!(&live["buf"], StateEntry::Buffer(b) if b.same(&m.buf)));
}

fn full_state() -> StateDict<Tensor> {
    let mut sd = StateDict::new();
    sd.insert("p0", t(&[1.0], &[1]));
    sd.insert("buf", t(&[2.0], &[1]));
    sd.insert("a.weight", t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]));
    sd.insert("a.bias", t(&[5.0, 6.0], &[2]));
    sd.insert("b.weight", t(&[7.0, 8.0, 9.0, 10.0], &[2, 2]));
    sd.insert("b.bias", t(&[11.0, 12.0], &[2]));
    sd
}

#[test]
fn loading_copies_values_in_and_keeps_identity() {
    let mut m = tied();
    let weight = m.a.weight.clone();
    let result = m.load_state_dict(&full_state(), true, false).unwrap();
    assert!(result.is_empty());
    assert_eq!(result.to_string(), "<All keys matched successfully>");
    assert!(m.a.weight.same(&weight));
    assert_eq!(values(&weight.tensor()), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(values(&m.buf.tensor()), [2.0]);
    assert_eq!(values(&m.b.bias.as_ref().unwrap().tensor()), [11.0, 12.0]);
}

#[test]
fn pytorchs_error_text_lists_everything_in_order() {
    let mut m = tied();
    let mut sd = full_state();
    sd.remove("a.bias");
    sd.insert("extra", t(&[0.0], &[1]));
    sd.insert("q.r.s", t(&[0.0], &[1]));
    sd.insert("a.zzz", t(&[0.0], &[1]));
    sd.insert("p0", t(&[0.0, 0.0, 0.0], &[3]));
    let e = m.load_state_dict(&sd, true, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error(s) in loading state_dict for Tied:\n\
         \tMissing key(s) in state_dict: \"a.bias\". \n\
         \tUnexpected key(s) in state_dict: \"extra\", \"q.r.s\", \"a.zzz\". \n\
         \tsize mismatch for p0: copying a param with shape torch.Size([3]) from checkpoint, the shape in current model is torch.Size([1])."
    );
    assert_eq!(e.keys.missing_keys, ["a.bias"]);
    // Nothing was loaded: the load is atomic.
    assert_eq!(values(&m.a.weight.tensor()), [0.0; 4]);
    assert_eq!(values(&m.buf.tensor()), [0.0]);
}

#[test]
fn non_strict_loads_report_keys_but_size_mismatches_still_fail() {
    let mut m = tied();
    let mut sd = full_state();
    sd.remove("b.weight");
    sd.insert("extra", t(&[0.0], &[1]));
    sd.insert("extra.param", t(&[0.0], &[1]));
    let keys = m.load_state_dict(&sd, false, false).unwrap();
    assert_eq!(
        keys,
        IncompatibleKeys {
            missing_keys: vec!["b.weight".into()],
            unexpected_keys: vec!["extra".into(), "extra.param".into()],
        }
    );
    assert!(keys.to_string().contains("Incompatible"));
    // The partial load updated what was given and left the rest.
    assert_eq!(values(&m.a.weight.tensor()), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(values(&m.b.weight.tensor()), [0.0; 4]);

    let mut bad = full_state();
    bad.insert("buf", t(&[1.0, 2.0], &[2]));
    for strict in [true, false] {
        let e = tied().load_state_dict(&bad, strict, false).unwrap_err();
        assert_eq!(
            e.lines,
            ["size mismatch for buf: copying a param with shape torch.Size([2]) from checkpoint, the shape in current model is torch.Size([1])."]
        );
    }
}

#[test]
fn bad_suffixes_module_keys_none_entries_and_non_persistent_keys_are_unexpected() {
    let mut m = tied();
    m.a.bias = None;
    m.register_buffer("npbuf", Some(zeros(&[1])), false)
        .unwrap();
    m.register_module("gone", None).unwrap();
    let mut sd = full_state();
    sd.remove("a.bias");
    for key in [
        "a.bad_suffix",
        "a.weight.bad_suffix",
        "a.bias",
        "scratch",
        "npbuf",
        "b",
        "gone.weight",
    ] {
        sd.insert(key, t(&[0.0], &[1]));
    }
    let keys = m.load_state_dict(&sd, false, false).unwrap();
    assert!(keys.missing_keys.is_empty());
    assert_eq!(
        keys.unexpected_keys,
        [
            "scratch",
            "npbuf",
            "b",
            "gone.weight",
            "a.bad_suffix",
            "a.weight.bad_suffix",
            "a.bias"
        ]
    );
}

#[test]
fn a_module_with_only_a_non_persistent_buffer_loads_an_empty_dict() {
    #[derive(Module)]
    struct Cache {
        core: ModuleCore,
        #[buffer(persistent = false)]
        cache: Buffer<Tensor>,
    }
    let mut m = Cache {
        core: ModuleCore::new(),
        cache: Buffer::new(zeros(&[2])),
    };
    assert!(m.state_dict().is_empty());
    assert!(m
        .load_state_dict(&StateDict::new(), true, false)
        .unwrap()
        .is_empty());
}

#[test]
fn a_zero_dim_entry_accepts_a_one_element_vector() {
    #[derive(Module)]
    struct Scalar {
        core: ModuleCore,
        s: Parameter<Tensor>,
    }
    let mut m = Scalar {
        core: ModuleCore::new(),
        s: Parameter::new(zeros(&[])),
    };
    let mut sd = StateDict::new();
    sd.insert("s", t(&[4.0], &[1]));
    m.load_state_dict(&sd, true, false).unwrap();
    assert_eq!(m.s.shape(), Vec::<usize>::new());
    assert_eq!(values(&m.s.tensor()), [4.0]);
}

#[test]
fn copy_mode_converts_to_the_modules_dtype() {
    let mut m = linear(1, 1);
    let mut sd = StateDict::new();
    sd.insert("weight", Tensor::new(&[[2.5f64]], &Device::Cpu).unwrap());
    sd.insert("bias", Tensor::new(&[1u8], &Device::Cpu).unwrap());
    m.load_state_dict(&sd, true, false).unwrap();
    assert_eq!(m.weight.read(modcore::Tensor::dtype), DType::F32);
    assert_eq!(values(&m.weight.tensor()), [2.5]);
    assert_eq!(values(&m.bias.as_ref().unwrap().tensor()), [1.0]);
}

#[test]
fn assign_installs_the_checkpoint_tensors_and_keeps_requires_grad() {
    let mut m = tied();
    m.b.weight = m.a.weight.clone();
    m.a.weight.set_requires_grad(false);
    let old = m.a.weight.clone();
    let sd = full_state();
    m.load_state_dict(&sd, true, true).unwrap();
    assert!(!m.a.weight.same(&old));
    assert!(!m.a.weight.requires_grad());
    assert_eq!(
        modcore::Tensor::id(&m.a.weight.tensor()),
        modcore::Tensor::id(sd.get("a.weight").unwrap())
    );
    // assign unties, as in PyTorch.
    assert!(!m.a.weight.same(&m.b.weight));
    assert_eq!(
        modcore::Tensor::id(&m.buf.tensor()),
        modcore::Tensor::id(sd.get("buf").unwrap())
    );
    // A different shape is still refused.
    let mut wrong = full_state();
    wrong.insert("a.weight", t(&[0.0], &[1]));
    let e = tied().load_state_dict(&wrong, true, true).unwrap_err();
    assert!(e
        .to_string()
        .contains("size mismatch for a.weight: copying a param with shape"));
}

#[test]
fn tied_weights_stay_tied_and_the_last_key_wins() {
    let mut m = tied();
    m.b.weight = m.a.weight.clone();
    m.load_state_dict(&full_state(), true, false).unwrap();
    assert!(m.a.weight.same(&m.b.weight));
    assert_eq!(values(&m.a.weight.tensor()), [7.0, 8.0, 9.0, 10.0]);
    // A file that keeps one name of the tied pair still loads strictly.
    let mut dedup = full_state();
    dedup.remove("b.weight");
    let keys = m.load_state_dict(&dedup, true, false).unwrap();
    assert!(keys.is_empty());
    assert_eq!(values(&m.b.weight.tensor()), [1.0, 2.0, 3.0, 4.0]);
}

#[derive(Module)]
#[module(version = 2, migrate = Counter::migrate)]
struct Counter {
    core: ModuleCore,
    running_mean: Buffer<Tensor>,
    num_batches_tracked: Buffer<Tensor>,
}

impl Counter {
    /// BatchNorm's rule: state dicts before version 2 have no `num_batches_tracked`; fill it with 0.
    fn migrate<T: modcore::Tensor>(
        &self,
        sd: &mut StateDict<T>,
        prefix: &str,
        version: Option<u32>,
    ) {
        let key = format!("{prefix}num_batches_tracked");
        if version.is_none_or(|v| v < 2) && !sd.contains_key(&key) {
            if let Ok(zero) = T::from_bytes(DType::I64, &[], &0i64.to_le_bytes()) {
                sd.insert(key, zero);
            }
        }
    }
}

fn counter() -> Counter {
    Counter {
        core: ModuleCore::new(),
        running_mean: Buffer::new(zeros(&[2])),
        num_batches_tracked: Buffer::new(Tensor::new(5i64, &Device::Cpu).unwrap()),
    }
}

#[test]
fn version_1_state_dicts_are_migrated() {
    let mut sd = StateDict::new();
    sd.insert("running_mean", t(&[1.0, 2.0], &[2]));
    // No metadata: the version is unknown, so the migration runs.
    let mut m = counter();
    m.load_state_dict(&sd, true, false).unwrap();
    assert_eq!(m.num_batches_tracked.tensor().to_vec0::<i64>().unwrap(), 0);
    // Version 2 says the key should be there: it is missing.
    sd.metadata_mut()
        .insert(String::new(), modcore::ModuleMetadata { version: Some(2) });
    let e = counter().load_state_dict(&sd, true, false).unwrap_err();
    assert_eq!(e.keys.missing_keys, ["num_batches_tracked"]);
    assert_eq!(counter().state_dict().metadata()[""].version, Some(2));
}

type Log = Arc<Mutex<Vec<String>>>;

#[test]
fn state_dict_hooks_run_root_pre_child_pre_child_post_root_post() {
    let m = tied();
    let log: Log = Arc::default();
    let (l1, l2, l3, l4) = (log.clone(), log.clone(), log.clone(), log.clone());
    let h1 = m.register_state_dict_pre_hook(move |_, prefix, keep_vars| {
        l1.lock()
            .unwrap()
            .push(format!("root pre {prefix:?} {keep_vars}"))
    });
    let h2 = m.a.register_state_dict_pre_hook(move |_, prefix, _| {
        l2.lock().unwrap().push(format!("child pre {prefix:?}"))
    });
    let h3 =
        m.a.register_state_dict_post_hook(move |_, sd, prefix, meta| {
            l3.lock().unwrap().push(format!(
                "child post {prefix:?} {} {:?}",
                sd.len(),
                meta.version
            ))
        });
    let h4 = m.register_state_dict_post_hook(move |_, sd, _, _| {
        l4.lock().unwrap().push(format!("root post {}", sd.len()));
        sd.insert("added", t(&[0.0], &[1]));
    });
    let sd = m.state_dict();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "root pre \"\" false",
            "child pre \"a.\"",
            "child post \"a.\" 4 Some(1)",
            "root post 6"
        ]
    );
    assert_eq!(keys(&sd).last(), Some(&"added"));
    let _ = m.state_dict_keep_vars();
    assert_eq!(log.lock().unwrap()[4], "root pre \"\" true");
    for h in [h1, h2, h3, h4] {
        h.remove();
    }
    assert_eq!(m.state_dict().len(), 6);
}

#[test]
fn load_pre_hooks_see_the_state_dict_and_can_rename_keys_for_children() {
    let mut m = tied();
    let seen: Log = Arc::default();
    let s = seen.clone();
    // Old checkpoints called `a.weight` `a.w`: the parent renames before `a` loads.
    let _rename = m.register_load_state_dict_pre_hook(move |_, sd, prefix, _, ctx| {
        s.lock().unwrap().push(format!(
            "{prefix:?} strict={} missing={}",
            ctx.strict,
            ctx.keys.missing_keys.len()
        ));
        if let Some(w) = sd.remove("a.w") {
            sd.insert("a.weight", w);
        }
    });
    let s = seen.clone();
    let _child =
        m.a.register_load_state_dict_pre_hook(move |_, sd, prefix, _, _| {
            s.lock().unwrap().push(format!(
                "{prefix:?} has a.weight={}",
                sd.contains_key("a.weight")
            ));
        });
    let mut sd = full_state();
    let w = sd.remove("a.weight").unwrap();
    sd.insert("a.w", w);
    m.load_state_dict(&sd, true, false).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        ["\"\" strict=true missing=0", "\"a.\" has a.weight=true"]
    );
    assert_eq!(values(&m.a.weight.tensor()), [1.0, 2.0, 3.0, 4.0]);
    // The caller's state dict is not changed.
    assert!(sd.contains_key("a.w"));
}

#[test]
fn an_error_added_by_a_pre_hook_fails_even_a_non_strict_load() {
    let mut m = linear(1, 1);
    let _h = m.register_load_state_dict_pre_hook(|_, _, _, _, ctx| {
        ctx.error_msgs.push("custom error".into())
    });
    let e = m
        .load_state_dict(&StateDict::new(), false, false)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error(s) in loading state_dict for Linear:\n\tcustom error"
    );
}

#[test]
fn unexpected_keys_follow_edits_a_child_pre_hook_makes() {
    let mut m = tied();
    let _h =
        m.a.register_load_state_dict_pre_hook(|_, sd, prefix, _, _| {
            if let Some(w) = sd.remove(&format!("{prefix}w")) {
                sd.insert(format!("{prefix}weight"), w);
            }
            sd.insert(format!("{prefix}added"), t(&[0.0], &[1]));
            // Under the root, which has already loaded: not reported, as in PyTorch.
            sd.insert("late", t(&[0.0], &[1]));
        });
    let mut sd = full_state();
    let w = sd.remove("a.weight").unwrap();
    sd.insert("a.w", w);
    sd.insert("extra", t(&[0.0], &[1]));
    sd.insert("b.stale", t(&[0.0], &[1]));
    let keys = m.load_state_dict(&sd, false, false).unwrap();
    assert!(keys.missing_keys.is_empty());
    assert_eq!(keys.unexpected_keys, ["extra", "a.added", "b.stale"]);
    assert_eq!(values(&m.a.weight.tensor()), [1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn load_post_hooks_run_child_first_and_can_change_the_outcome() {
    let mut m = tied();
    let log: Log = Arc::default();
    let l = log.clone();
    let child = m.a.register_load_state_dict_post_hook(move |_, keys| {
        l.lock()
            .unwrap()
            .push(format!("a {:?}", keys.unexpected_keys));
    });
    let l = log.clone();
    let clear = m.register_load_state_dict_post_hook(move |_, keys| {
        l.lock().unwrap().push("root".into());
        keys.missing_keys.clear();
        keys.unexpected_keys.clear();
    });
    let mut sd = full_state();
    sd.insert("extra", t(&[0.0], &[1]));
    // The root hook clears the lists: the strict load with an extra key succeeds.
    assert!(m.load_state_dict(&sd, true, false).unwrap().is_empty());
    assert_eq!(*log.lock().unwrap(), ["a [\"extra\"]", "root"]);
    clear.remove();
    // Keys a hook adds make a strict load fail, and the hooks ran although the load failed.
    let _add = m.register_load_state_dict_post_hook(|_, keys| {
        keys.missing_keys.push("foo".into());
        keys.unexpected_keys.push("bar".into());
    });
    let e = m.load_state_dict(&full_state(), true, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error(s) in loading state_dict for Tied:\n\tMissing key(s) in state_dict: \"foo\". \n\tUnexpected key(s) in state_dict: \"bar\". "
    );
    assert_eq!(log.lock().unwrap().len(), 3);
    child.remove();
}

#[test]
fn every_child_pre_hook_sees_its_own_keys() {
    let mut m = tied();
    let counts: Log = Arc::default();
    let mut handles = Vec::new();
    for (name, child) in m.named_children() {
        let c = counts.clone();
        let expected = child.state_dict().len();
        handles.push(
            child.register_load_state_dict_pre_hook(move |_, sd, prefix, _, _| {
                let own = sd.keys().filter(|k| k.starts_with(prefix)).count();
                c.lock().unwrap().push(format!("{name} {own}/{expected}"));
            }),
        );
    }
    m.load_state_dict(&full_state(), true, false).unwrap();
    assert_eq!(*counts.lock().unwrap(), ["a 2/2", "b 2/2"]);
}

/// A tensor type whose backend cannot convert dtypes.
#[derive(Clone)]
struct Rigid(DType, Vec<usize>);

impl modcore::Tensor for Rigid {
    type Id = usize;
    fn shape(&self) -> Vec<usize> {
        self.1.clone()
    }
    fn dtype(&self) -> DType {
        self.0
    }
    fn id(&self) -> usize {
        0
    }
    fn to_dtype(&self, dtype: DType) -> Result<Self, modcore::TensorError> {
        Err(modcore::TensorError::new(format!(
            "cannot convert {} to {dtype}",
            self.0
        )))
    }
}

#[test]
fn a_failed_dtype_conversion_is_reported_with_pytorchs_wording() {
    #[derive(Module)]
    struct W {
        core: ModuleCore,
        w: Parameter<Rigid>,
        v: Parameter<Rigid>,
    }
    let mut m = W {
        core: ModuleCore::new(),
        w: Parameter::new(Rigid(DType::F32, vec![2])),
        v: Parameter::new(Rigid(DType::F32, vec![2])),
    };
    let mut sd = StateDict::new();
    sd.insert("w", Rigid(DType::I64, vec![2]));
    sd.insert("v", Rigid(DType::Bool, vec![2]));
    let e = m.load_state_dict(&sd, false, false).unwrap_err();
    assert_eq!(
        e.lines,
        [
            "While copying the parameter named \"w\", whose dimensions in the model are torch.Size([2]) and whose dimensions in the checkpoint are torch.Size([2]), an exception occurred : ('cannot convert torch.int64 to torch.float32',).",
            "While copying the parameter named \"v\", whose dimensions in the model are torch.Size([2]) and whose dimensions in the checkpoint are torch.Size([2]), an exception occurred : ('cannot convert torch.bool to torch.float32',)."
        ]
    );
    assert_eq!(m.w.read(modcore::Tensor::dtype), DType::F32);
}

/// `detached()` (what `state_dict` holds) reads its cache without the tensor's lock: while
/// another thread replaces the tensor, every read is one of the values set, and never an older
/// one than a read before it.
#[test]
fn detached_reads_during_replacements_see_whole_values_in_order() {
    let zeros = Tensor::zeros(4, CDType::F32, &Device::Cpu).unwrap();
    let p = modcore::Parameter::with_requires_grad(zeros, false);
    let writer = p.clone();
    std::thread::scope(|s| {
        s.spawn(move || {
            for k in 1..=2000 {
                writer.set_tensor(Tensor::full(k as f32, 4, &Device::Cpu).unwrap());
            }
        });
        let mut last = 0.0f32;
        for _ in 0..20_000 {
            let values: Vec<f32> = p.detached().to_vec1().unwrap();
            assert!(values.iter().all(|&v| v == values[0]), "{values:?}");
            assert!(values[0] >= last, "{} after {last}", values[0]);
            last = values[0];
        }
    });
    let values: Vec<f32> = p.detached().to_vec1().unwrap();
    assert_eq!(values, [2000.0; 4]);
}
