//! Training on candle against PyTorch: gradients by name, freezing, clipping and conversion on the
//! model of `tests/fixtures/make_training.py`, plus the properties PyTorch users rely on
//! (accumulation, `zero_grad`, tied parameters, copying loads, detached running statistics,
//! `no_grad`, candle-nn's optimizers).

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::Optimizer;
use modcore::checkpoint;
use modcore::nn::{
    clip_grad_norm_, clip_grad_value_, BatchNorm2d, Conv2d, Embedding, Factory, LayerNorm, Linear,
    GELU,
};
use modcore::prelude::*;
use modcore::{Module, StateDict};

#[derive(Module)]
struct Net {
    core: ModuleCore,
    conv: Conv2d,
    bn: BatchNorm2d,
    act: GELU,
    fc: Linear,
    emb: Embedding,
    ln: LayerNorm,
    head: Linear,
}

impl Net {
    fn new() -> Net {
        Net {
            core: ModuleCore::new(),
            conv: Conv2d::new(1, 4, (3, 3), (1, 1), (1, 1), 1, true).unwrap(),
            bn: BatchNorm2d::new(4).unwrap(),
            act: GELU::new(),
            fc: Linear::new(4 * 6 * 6, 8, true).unwrap(),
            emb: Embedding::new(10, 4).unwrap(),
            ln: LayerNorm::new(4).unwrap(),
            head: Linear::new(12, 5, true).unwrap(),
        }
    }

    /// The fixture's model with PyTorch's initial weights.
    fn pytorch(fixture: &StateDict<Tensor>) -> Net {
        let mut net = Net::new();
        let own: StateDict<Tensor> = fixture
            .iter()
            .filter(|(k, _)| !k.contains(':') && *k != "loss")
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect();
        net.load_state_dict(&own, true, false).unwrap();
        net
    }
}

impl Forward<Tensor, (Tensor, Tensor)> for Net {
    type Output = Tensor;
    fn forward(&self, (image, ids): (Tensor, Tensor)) -> ForwardResult<Tensor> {
        let x = self.act.call(self.bn.call(self.conv.call(image)?)?)?;
        let x = self.fc.call(x.flatten_from(1)?)?;
        let t = self.ln.call(self.emb.call(ids)?.mean(1)?)?;
        self.head.call(Tensor::cat(&[x, t], 1)?)
    }
}

fn fixture() -> StateDict<Tensor> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    checkpoint::load_file(dir.join("training.safetensors")).unwrap()
}

fn loss(net: &Net, fixture: &StateDict<Tensor>) -> Tensor {
    let image = fixture.get("input:image").unwrap().clone();
    let ids = fixture.get("input:ids").unwrap().clone();
    let logits = net.call((image, ids)).unwrap();
    common::cross_entropy(&logits, fixture.get("input:target").unwrap())
}

/// Every entry of `expected` under `prefix` equals the gradient of the same name, and nothing
/// else has one. (The file keeps keys sorted; `named_grads` keeps `named_parameters` order.)
fn assert_grads(grads: &modcore::NameMap<Tensor>, fixture: &StateDict<Tensor>, prefix: &str) {
    let expected: Vec<(&str, &Tensor)> = fixture
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?, v)))
        .filter(|(k, _)| *k != "total")
        .collect();
    let mut names: Vec<&str> = grads.keys().collect();
    names.sort_unstable();
    let expected_names: Vec<&str> = expected.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, expected_names, "{prefix}");
    for (name, want) in expected {
        let diff = common::max_abs_diff(grads.get(name).unwrap(), want);
        assert!(diff < 1e-5, "{prefix}{name}: max abs diff {diff}");
    }
}

#[test]
fn gradients_by_name_equal_pytorchs_grad() {
    let fixture = fixture();
    let net = Net::pytorch(&fixture);
    let loss = loss(&net, &fixture);
    assert!(common::max_abs_diff(&loss, fixture.get("loss").unwrap()) < 1e-5);
    net.backward(&loss).unwrap();
    let grads = net.named_grads();
    assert_grads(&grads, &fixture, "grad:");
    let order: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(grads.keys().collect::<Vec<_>>(), order);
    // The training-mode forward updated BatchNorm's statistics as PyTorch's did.
    for stat in ["running_mean", "running_var"] {
        let got = net
            .get_buffer(&format!("bn.{stat}"))
            .unwrap()
            .unwrap()
            .tensor();
        assert!(
            common::max_abs_diff(&got, fixture.get(&format!("after:bn.{stat}")).unwrap()) < 1e-6
        );
    }
    let tracked = net.bn.num_batches_tracked.as_ref().unwrap().tensor();
    assert_eq!(
        (tracked.dtype(), tracked.to_vec0::<i64>().unwrap()),
        (DType::I64, 1)
    );
}

#[test]
fn a_frozen_subtree_has_no_gradients_as_in_pytorch() {
    let fixture = fixture();
    let net = Net::pytorch(&fixture);
    net.conv.requires_grad_(false);
    net.emb.requires_grad_(false);
    net.backward(&loss(&net, &fixture)).unwrap();
    assert_grads(&net.named_grads(), &fixture, "frozen:");
    assert!(net.conv.weight.grad().is_none());

    // The same by pattern.
    let net = Net::pytorch(&fixture);
    assert_eq!(net.requires_grad_for("conv", false), 2);
    assert_eq!(net.requires_grad_for("emb.*", false), 1);
    net.backward(&loss(&net, &fixture)).unwrap();
    assert_grads(&net.named_grads(), &fixture, "frozen:");
}

#[test]
fn unfreezing_keeps_the_same_variable() {
    let net = Net::new();
    let var = net.fc.weight.var().unwrap();
    net.requires_grad_(false);
    assert!(net.fc.weight.var().is_none());
    assert!(!net.fc.weight.tensor().track_op());
    net.requires_grad_(true);
    assert_eq!(net.fc.weight.tensor().id(), var.as_tensor().id());
}

#[test]
fn clip_grad_norm_equals_pytorchs_total_norm_and_clipped_gradients() {
    let fixture = fixture();
    for (tag, norm_type) in [("2", 2.0), ("inf", f64::INFINITY), ("3", 3.0)] {
        let net = Net::pytorch(&fixture);
        net.backward(&loss(&net, &fixture)).unwrap();
        let total = clip_grad_norm_(net.parameters(), 0.05, norm_type, false).unwrap();
        let expected: f32 = fixture
            .get(&format!("clip{tag}:total"))
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(
            (total as f32 - expected).abs() < 1e-5 * expected.max(1.0),
            "{tag}: {total} vs {expected}"
        );
        assert_grads(&net.named_grads(), &fixture, &format!("clip{tag}:"));
    }
    let net = Net::pytorch(&fixture);
    net.backward(&loss(&net, &fixture)).unwrap();
    clip_grad_value_(net.parameters(), 0.01).unwrap();
    assert_grads(&net.named_grads(), &fixture, "value:");
}

#[test]
fn a_non_finite_norm_is_pytorchs_error_and_leaves_the_gradients() {
    let fc = Linear::new(2, 1, false).unwrap();
    let grad = Tensor::new(&[[f32::INFINITY, 1.0]], &Device::Cpu).unwrap();
    fc.weight.set_grad(Some(grad.clone()));
    let error = clip_grad_norm_(fc.parameters(), 1.0, 2.0, true).unwrap_err();
    assert_eq!(
        error.to_string(),
        "The total norm of order 2.0 for gradients from `parameters` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
    );
    assert_eq!(fc.weight.grad().unwrap().id(), grad.id());
    assert_eq!(
        clip_grad_norm_(
            Linear::new(2, 1, false).unwrap().parameters(),
            1.0,
            2.0,
            true
        )
        .unwrap(),
        0.0
    );
}

#[test]
fn half_and_bfloat16_give_pytorchs_state_dict_dtypes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let expected: HashMap<String, HashMap<String, String>> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("training.dtypes.json")).unwrap())
            .unwrap();
    for conversion in ["half", "bfloat16"] {
        let mut net = Net::new();
        match conversion {
            "half" => net.half().unwrap(),
            _ => net.bfloat16().unwrap(),
        }
        let got: HashMap<String, String> = net
            .state_dict()
            .iter()
            .map(|(k, v)| (k.to_owned(), modcore::Tensor::dtype(v).to_string()))
            .collect();
        assert_eq!(got, expected[conversion], "{conversion}");
        // Still leaf variables, that train.
        assert!(net.fc.weight.tensor().is_variable());
        let sum = net.fc.weight.tensor().sum_all().unwrap();
        net.backward(&sum).unwrap();
        let weight_dtype = net.fc.weight.read(|t| t.dtype());
        assert_eq!(net.fc.weight.grad().unwrap().dtype(), weight_dtype);
    }
}

#[derive(Module)]
struct Tied {
    core: ModuleCore,
    scale: Parameter<Tensor>,
    a: Linear,
    b: Linear,
}

fn tied() -> Tied {
    let a = Linear::new(2, 2, false).unwrap();
    let mut b = Linear::new(2, 2, false).unwrap();
    b.weight = a.weight.clone();
    Tied {
        core: ModuleCore::new(),
        scale: Parameter::new(Tensor::new(2f32, &Device::Cpu).unwrap()),
        a,
        b,
    }
}

#[test]
fn conversion_goes_children_first_keeps_ties_and_identity() {
    let mut m = tied();
    m.a.weight.set_grad(Some(
        Tensor::ones((2, 2), DType::F32, &Device::Cpu).unwrap(),
    ));
    let mut shapes = Vec::new();
    m.apply_to_tensors(&mut |t| {
        shapes.push(t.dims().to_vec());
        Ok(t.clone())
    })
    .unwrap();
    // a.weight, its gradient, then (b.weight is a.weight) the parent's scale.
    assert_eq!(shapes, [vec![2, 2], vec![2, 2], vec![]]);

    let handle = m.b.weight.clone();
    m.double().unwrap();
    assert!(m.a.weight.same(&m.b.weight) && handle.same(&m.a.weight));
    assert_eq!(handle.read(|t| t.dtype()), DType::F64);
    assert_eq!(m.a.weight.grad().unwrap().dtype(), DType::F64);
    assert!(m.scale.tensor().is_variable());
    // A conversion that changes nothing keeps the variables as they are.
    let var = m.scale.tensor().id();
    m.double().unwrap();
    assert_eq!(m.scale.tensor().id(), var);
}

#[test]
fn a_failed_conversion_names_the_key_and_changes_nothing() {
    let mut m = tied();
    let before = m.a.weight.tensor().id();
    let error = m
        .apply_to_tensors(&mut |t| {
            if t.rank() == 0 {
                Err(modcore::TensorError::new("no scalars"))
            } else {
                t.to_dtype(DType::F64)
                    .map_err(|e| modcore::TensorError::new(e.to_string()))
            }
        })
        .unwrap_err();
    assert_eq!(error.key(), "scale");
    assert_eq!(error.to_string(), "cannot convert `scale`: no scalars");
    assert_eq!(m.a.weight.tensor().id(), before);
    assert_eq!(m.a.weight.read(|t| t.dtype()), DType::F32);
}

#[test]
fn tied_parameters_have_one_gradient_and_gradients_accumulate_until_zero_grad() {
    let m = tied();
    let x = Tensor::ones((1, 2), DType::F32, &Device::Cpu).unwrap();
    let step = || {
        let y = (m.a.call(x.clone()).unwrap() + m.b.call(x.clone()).unwrap()).unwrap();
        let loss = y
            .sum_all()
            .unwrap()
            .broadcast_mul(&m.scale.tensor())
            .unwrap();
        m.backward(&loss).unwrap();
    };
    step();
    let grads = m.named_grads();
    assert_eq!(grads.keys().collect::<Vec<_>>(), ["scale", "a.weight"]);
    // d/dW of 2 * (sum(W x) + sum(W x)) with x = 1: 4 everywhere.
    assert_eq!(
        grads.get("a.weight").unwrap().to_vec2::<f32>().unwrap(),
        [[4.0, 4.0], [4.0, 4.0]]
    );
    step();
    assert_eq!(
        m.a.weight.grad().unwrap().to_vec2::<f32>().unwrap(),
        [[8.0, 8.0], [8.0, 8.0]]
    );
    m.zero_grad_with(false).unwrap();
    assert_eq!(
        m.a.weight.grad().unwrap().to_vec2::<f32>().unwrap(),
        [[0.0, 0.0], [0.0, 0.0]]
    );
    m.zero_grad();
    assert!(m.a.weight.grad().is_none() && m.named_grads().is_empty());
    // zero_grad_with(false) leaves parameters without a gradient without one.
    m.zero_grad_with(false).unwrap();
    assert!(m.scale.grad().is_none());
}

#[test]
fn a_loaded_twin_shares_no_storage_and_variables_stay_connected() {
    let trained = Net::new();
    let mut twin = {
        let mut twin = Net::new();
        let var = twin.fc.weight.var().unwrap();
        twin.load_state_dict(&trained.state_dict(), true, false)
            .unwrap();
        // The twin's parameter is still the variable an optimizer took before the load.
        assert_eq!(twin.fc.weight.tensor().id(), var.as_tensor().id());
        assert_eq!(
            common::max_abs_diff(var.as_tensor(), &trained.fc.weight.tensor()),
            0.0
        );
        twin
    };
    // Training the twin leaves the original as it was.
    let before = trained.fc.weight.tensor().to_vec2::<f32>().unwrap();
    let mut sgd = candle_nn::SGD::new(twin.vars(), 0.5).unwrap();
    let x = Tensor::ones((2, 1, 6, 6), DType::F32, &Device::Cpu).unwrap();
    let ids = Tensor::new(&[[1u32, 2, 3], [4, 5, 6]], &Device::Cpu).unwrap();
    sgd.backward_step(
        &twin
            .call((x, ids))
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(trained.fc.weight.tensor().to_vec2::<f32>().unwrap(), before);
    assert_ne!(twin.fc.weight.tensor().to_vec2::<f32>().unwrap(), before);
    // A model loading its own state dict is unchanged.
    let own = twin.state_dict();
    twin.load_state_dict(&own, true, false).unwrap();
    assert_eq!(
        common::max_abs_diff(&twin.fc.weight.tensor(), own.get("fc.weight").unwrap()),
        0.0
    );
}

#[test]
fn a_load_casts_to_the_models_dtype_and_assign_keeps_requires_grad() {
    let source = Net::new();
    let mut wide = Net::new();
    wide.double().unwrap();
    wide.load_state_dict(&source.state_dict(), true, false)
        .unwrap();
    assert_eq!(wide.fc.weight.read(|t| t.dtype()), DType::F64);
    assert!(common::max_abs_diff(&wide.fc.weight.tensor(), &source.fc.weight.tensor()) < 1e-7);
    assert_eq!(
        wide.bn
            .num_batches_tracked
            .as_ref()
            .unwrap()
            .tensor()
            .dtype(),
        DType::I64
    );

    let mut assigned = Net::new();
    assigned.head.requires_grad_(false);
    assigned
        .load_state_dict(&source.state_dict(), true, true)
        .unwrap();
    assert!(assigned.fc.weight.requires_grad() && assigned.fc.weight.tensor().is_variable());
    assert!(!assigned.head.weight.requires_grad());
}

#[test]
fn running_statistics_hold_no_graph_over_a_thousand_steps() {
    let bn = BatchNorm2d::new(3).unwrap();
    let conv = Conv2d::new(1, 3, (3, 3), (1, 1), (1, 1), 1, true).unwrap();
    let x = Tensor::randn(0f32, 1f32, (4, 1, 5, 5), &Device::Cpu).unwrap();
    // The graph an eval-mode output carries: the nodes a backward pass from it reaches.
    let eval_graph = |bn: &mut BatchNorm2d| {
        bn.eval();
        let out = bn.call(conv.call(x.clone()).unwrap()).unwrap();
        bn.train(true);
        out.sum_all().unwrap().backward().unwrap().get_ids().count()
    };
    let mut bn = bn;
    let mut first = None;
    for step in 0..1000 {
        let y = bn.call(conv.call(x.clone()).unwrap()).unwrap();
        conv.backward(&y.sqr().unwrap().mean_all().unwrap())
            .unwrap();
        conv.zero_grad();
        if step == 0 {
            first = Some(eval_graph(&mut bn));
        }
    }
    for stat in [&bn.running_mean, &bn.running_var, &bn.num_batches_tracked] {
        assert!(!stat.as_ref().unwrap().tensor().track_op());
    }
    assert_eq!(Some(eval_graph(&mut bn)), first);
    let tracked = bn.num_batches_tracked.as_ref().unwrap().tensor();
    assert_eq!(tracked.to_vec0::<i64>().unwrap(), 1000);
}

#[test]
fn no_grad_records_no_graph() {
    let fc = Linear::new(3, 2, true).unwrap();
    let x = Tensor::ones((1, 3), DType::F32, &Device::Cpu).unwrap();
    assert!(fc.call(x.clone()).unwrap().track_op());
    let y = modcore::no_grad(|| fc.call(x.clone())).unwrap();
    assert!(!y.track_op());
    {
        let _guard = modcore::NoGradGuard::new();
        assert!(!fc.call(x.clone()).unwrap().track_op());
        assert!(!modcore::is_grad_enabled());
    }
    assert!(modcore::is_grad_enabled());
}

#[test]
fn candle_nns_adamw_trains_a_modcore_model() {
    let fixture = fixture();
    let net = Net::pytorch(&fixture);
    net.emb.requires_grad_(false);
    let emb_before = net.emb.weight.tensor().to_vec2::<f32>().unwrap();
    let mut opt = candle_nn::AdamW::new_lr(net.vars(), 0.01).unwrap();
    let first = loss(&net, &fixture).to_scalar::<f32>().unwrap();
    for _ in 0..20 {
        opt.backward_step(&loss(&net, &fixture)).unwrap();
    }
    let last = loss(&net, &fixture).to_scalar::<f32>().unwrap();
    assert!(last < first * 0.5, "{first} -> {last}");
    assert_eq!(
        net.emb.weight.tensor().to_vec2::<f32>().unwrap(),
        emb_before
    );
}

#[test]
fn layers_take_a_device_and_a_dtype() {
    let factory = Factory::new(&Device::Cpu, DType::F64);
    let bn = BatchNorm2d::with_options(4, 1e-5, Some(0.1), true, true, &factory).unwrap();
    let dtypes: Vec<String> = bn
        .state_dict()
        .iter()
        .map(|(_, t)| modcore::Tensor::dtype(t).to_string())
        .collect();
    assert_eq!(
        dtypes,
        [
            "torch.float64",
            "torch.float64",
            "torch.float64",
            "torch.float64",
            "torch.int64"
        ]
    );
    let conv = Conv2d::with_options(
        2,
        4,
        (3, 3),
        (1, 1),
        (0, 0),
        1,
        1,
        true,
        &Factory::new(&Device::Cpu, DType::F16),
    )
    .unwrap();
    assert_eq!(conv.weight.read(|t| t.dtype()), DType::F16);
    let emb = Embedding::with_options(5, 3, &factory).unwrap();
    assert_eq!(emb.weight.read(|t| t.dtype()), DType::F64);
    let ln = LayerNorm::with_options(&[3], 1e-5, true, true, &factory).unwrap();
    assert_eq!(ln.weight.as_ref().unwrap().read(|t| t.dtype()), DType::F64);
}

#[test]
fn checkpoints_load_onto_a_device() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let sd = checkpoint::load_file_on(dir.join("training.safetensors"), &Device::Cpu).unwrap();
    assert!(sd.get("fc.weight").unwrap().device().is_cpu());
    let mut net = Net::new();
    net.to_device(&Device::Cpu).unwrap();
    assert!(net.fc.weight.tensor().is_variable());
}
