//! `modcore::optim` against `torch.optim`: a small MLP's parameters after 20 steps on fixed
//! batches equal PyTorch's for every configuration of `tests/fixtures/make_optim.py`, plus
//! PyTorch's constructor errors and the skipping of frozen and tied parameters.

mod common;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use modcore::checkpoint;
use modcore::nn::clip_grad_norm_;
use modcore::nn::{LayerNorm, Linear, ReLU};
use modcore::optim::lr_scheduler::{CosineAnnealingLR, LinearLR, LrScheduler, SequentialLR};
use modcore::optim::{
    self, Adam, AdamOptions, AdamW, AdamWOptions, Optim, OptimError, Optimizer, ParamGroups,
    SgdOptions, StateError, Update, SGD,
};
use modcore::prelude::*;
use modcore::{Module, StateDict};

#[derive(Module)]
struct Mlp {
    core: ModuleCore,
    fc1: Linear,
    act: ReLU,
    ln: LayerNorm,
    fc2: Linear,
}

impl Forward<Tensor, Tensor> for Mlp {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        self.fc2
            .call(self.ln.call(self.act.call(self.fc1.call(x)?)?)?)
    }
}

fn fixture() -> StateDict<Tensor> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    checkpoint::load_file(dir.join("optim.safetensors")).unwrap()
}

/// The model with fresh random weights.
fn fresh_mlp() -> Mlp {
    Mlp {
        core: ModuleCore::new(),
        fc1: Linear::new(4, 8, true).unwrap(),
        act: ReLU::new(),
        ln: LayerNorm::new(8).unwrap(),
        fc2: Linear::new(8, 3, true).unwrap(),
    }
}

/// The fixture's model with PyTorch's initial weights.
fn mlp(fixture: &StateDict<Tensor>) -> Mlp {
    let mut m = fresh_mlp();
    let own: StateDict<Tensor> = fixture
        .iter()
        .filter(|(k, _)| !k.contains(':'))
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect();
    m.load_state_dict(&own, true, false).unwrap();
    m
}

/// 20 steps on the fixture's batches, then every parameter compared with PyTorch's.
fn check(config: &str, make: impl FnOnce(&Mlp) -> Box<dyn Optimizer>) {
    let fixture = fixture();
    let model = mlp(&fixture);
    let mut opt = make(&model);
    run(&model, opt.as_mut(), None, &fixture, 0..20);
    for (name, p) in model.named_parameters() {
        let want = fixture.get(&format!("{config}:{name}")).unwrap();
        let diff = common::max_abs_diff(&p.tensor(), want);
        assert!(diff < 1e-5, "{config} {name}: max abs diff {diff}");
    }
}

/// [`check`] for an optimizer over the model's parameters in one group with `options`.
fn check_options<O: Update + 'static>(config: &str, options: O) {
    check(config, |m| Box::new(Optim::from_model(m, options).unwrap()));
}

#[test]
fn sgd_with_momentum() {
    check_options(
        "sgd_momentum",
        SgdOptions {
            lr: 0.1,
            momentum: 0.9,
            ..Default::default()
        },
    );
}

#[test]
fn sgd_with_nesterov_and_weight_decay() {
    check_options(
        "sgd_nesterov_decay",
        SgdOptions {
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.01,
            ..Default::default()
        },
    );
}

#[test]
fn sgd_with_dampening_maximizing() {
    check_options(
        "sgd_dampening_maximize",
        SgdOptions {
            lr: 0.05,
            momentum: 0.5,
            dampening: 0.3,
            maximize: true,
            ..Default::default()
        },
    );
}

#[test]
fn adam() {
    check_options(
        "adam",
        AdamOptions {
            lr: 0.01,
            ..Default::default()
        },
    );
}

#[test]
fn adam_with_amsgrad_and_weight_decay() {
    check_options(
        "adam_amsgrad_decay",
        AdamOptions {
            lr: 0.01,
            amsgrad: true,
            weight_decay: 0.01,
            ..Default::default()
        },
    );
}

/// AdamW's canonical two groups, as the fixture's: no weight decay on biases and norm weights.
fn two_groups(model: &Mlp) -> ParamGroups<AdamWOptions> {
    let decay = AdamWOptions {
        lr: 0.01,
        weight_decay: 0.1,
        ..Default::default()
    };
    let no_decay = AdamWOptions {
        weight_decay: 0.0,
        ..decay.clone()
    };
    ParamGroups::new(model, decay).split_by(
        |name, p| name.ends_with("bias") || p.shape().len() == 1,
        no_decay,
    )
}

#[test]
fn adamw_with_two_groups() {
    check("adamw_two_groups", |m| {
        Box::new(AdamW::new(two_groups(m)).unwrap())
    });
}

#[test]
fn adamw_maximizing() {
    check_options(
        "adamw_maximize",
        AdamWOptions {
            lr: 0.01,
            maximize: true,
            ..Default::default()
        },
    );
}

#[test]
fn invalid_options_are_pytorchs_value_errors() {
    let m = mlp(&fixture());
    let error = |e: OptimError| e.to_string();
    let lr = SGD::from_model(
        &m,
        SgdOptions {
            lr: -1.0,
            ..Default::default()
        },
    );
    assert_eq!(error(lr.err().unwrap()), "Invalid learning rate: -1.0");
    let nesterov = SGD::from_model(
        &m,
        SgdOptions {
            nesterov: true,
            ..Default::default()
        },
    );
    assert_eq!(
        error(nesterov.err().unwrap()),
        "Nesterov momentum requires a momentum and zero dampening"
    );
    let beta = Adam::from_model(
        &m,
        AdamOptions {
            betas: (1.0, 0.999),
            ..Default::default()
        },
    );
    assert_eq!(
        error(beta.err().unwrap()),
        "Invalid beta parameter at index 0: 1.0"
    );
    let eps = AdamW::from_model(
        &m,
        AdamWOptions {
            eps: -1e-8,
            ..Default::default()
        },
    );
    assert_eq!(error(eps.err().unwrap()), "Invalid epsilon value: -1e-08");
    let decay = AdamW::from_model(
        &m,
        AdamWOptions {
            weight_decay: -0.1,
            ..Default::default()
        },
    );
    assert_eq!(
        error(decay.err().unwrap()),
        "Invalid weight_decay value: -0.1"
    );
    let mut twice = ParamGroups::new(&m, SgdOptions::default()).into_groups();
    twice.push(twice[0].clone());
    let twice = SGD::new(ParamGroups::from_groups(twice));
    assert_eq!(
        error(twice.err().unwrap()),
        "some parameters appear in more than one parameter group"
    );
}

#[test]
fn frozen_parameters_are_skipped_and_tied_ones_updated_once() {
    let a = Linear::new(2, 2, false).unwrap();
    let mut b = Linear::new(2, 2, false).unwrap();
    b.weight = a.weight.clone();
    #[derive(Module)]
    struct Tied {
        core: ModuleCore,
        a: Linear,
        b: Linear,
        frozen: Linear,
    }
    let m = Tied {
        core: ModuleCore::new(),
        a,
        b,
        frozen: Linear::new(2, 2, false).unwrap(),
    };
    m.frozen.requires_grad_(false);
    let mut sgd = SGD::from_model(
        &m,
        SgdOptions {
            lr: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(sgd.param_groups()[0].params.len(), 2);
    let ones = Tensor::ones((2, 2), DType::F32, &Device::Cpu).unwrap();
    m.a.weight.set_tensor(ones.clone());
    m.a.weight.set_grad(Some(ones.clone()));
    m.frozen.weight.set_grad(Some(ones.clone()));
    let frozen = m.frozen.weight.tensor().to_vec2::<f32>().unwrap();
    sgd.step().unwrap();
    // One step of 1.0 - 1.0 * 1.0, not two.
    assert_eq!(
        m.b.weight.tensor().to_vec2::<f32>().unwrap(),
        [[0.0, 0.0], [0.0, 0.0]]
    );
    assert_eq!(m.frozen.weight.tensor().to_vec2::<f32>().unwrap(), frozen);
    sgd.set_lr(0, 0.5);
    assert_eq!(sgd.lr(0), 0.5);
    sgd.zero_grad();
    assert!(m.a.weight.grad().is_none());
}

/// The model, AdamW with two groups, and warm-up then cosine: the resume test's training setup.
fn setup(model: &Mlp) -> (AdamW, SequentialLR) {
    let mut opt = AdamW::new(two_groups(model)).unwrap();
    let warmup = LinearLR::new(&mut opt, 0.2, 1.0, 5).unwrap();
    let cosine = CosineAnnealingLR::new(&mut opt, 15, 0.0);
    let schedule =
        SequentialLR::new(&mut opt, vec![Box::new(warmup), Box::new(cosine)], vec![5]).unwrap();
    (opt, schedule)
}

/// Steps `steps` of the fixture's batches: `zero_grad`, backward, (with a schedule, clipping
/// to norm 1 and) the optimizer's step, the schedule's step.
fn run(
    model: &Mlp,
    opt: &mut dyn Optimizer,
    mut schedule: Option<&mut dyn LrScheduler>,
    fixture: &StateDict<Tensor>,
    steps: std::ops::Range<usize>,
) {
    for i in steps {
        let x = fixture.get(&format!("batch:{i}:x")).unwrap().clone();
        let y = fixture.get(&format!("batch:{i}:y")).unwrap();
        opt.zero_grad();
        model
            .backward(&common::cross_entropy(&model.call(x).unwrap(), y))
            .unwrap();
        if schedule.is_some() {
            clip_grad_norm_(model.parameters(), 1.0, 2.0, false).unwrap();
        }
        opt.step().unwrap();
        if let Some(schedule) = schedule.as_deref_mut() {
            schedule.step(opt).unwrap();
        }
    }
}

fn values(model: &Mlp) -> Vec<Vec<f32>> {
    model
        .named_parameters()
        .into_iter()
        .map(|(_, p)| p.tensor().flatten_all().unwrap().to_vec1().unwrap())
        .collect()
}

#[test]
fn ten_steps_saved_and_resumed_equal_twenty_uninterrupted_bit_for_bit() {
    let fixture = fixture();
    let dir = std::env::temp_dir().join(format!("modcore-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let straight = mlp(&fixture);
    let (mut opt, mut schedule) = setup(&straight);
    run(&straight, &mut opt, Some(&mut schedule), &fixture, 0..20);

    let first = mlp(&fixture);
    let (mut opt, mut schedule) = setup(&first);
    run(&first, &mut opt, Some(&mut schedule), &fixture, 0..10);
    checkpoint::save_file(&first.state_dict(), dir.join("model.safetensors")).unwrap();
    optim::save_file(dir.join("optimizer.safetensors"), &opt, Some(&schedule)).unwrap();
    drop((first, opt, schedule));

    // A fresh model (other initial weights) and a fresh optimizer and schedule.
    let mut resumed = fresh_mlp();
    let (mut opt, mut schedule) = setup(&resumed);
    let saved = checkpoint::load_file(dir.join("model.safetensors")).unwrap();
    resumed.load_state_dict(&saved, true, false).unwrap();
    optim::load_file(
        dir.join("optimizer.safetensors"),
        &mut opt,
        Some(&mut schedule),
    )
    .unwrap();
    assert_eq!(schedule.state().last_epoch, 10);
    run(&resumed, &mut opt, Some(&mut schedule), &fixture, 10..20);

    assert_eq!(values(&resumed), values(&straight));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_saved_layout_is_pytorchs() {
    let fixture = fixture();
    let model = mlp(&fixture);
    let (mut opt, mut schedule) = setup(&model);
    run(&model, &mut opt, Some(&mut schedule), &fixture, 0..1);
    let state = opt.state_dict().unwrap();
    let keys: Vec<&str> = state.tensors.keys().take(3).collect();
    assert_eq!(
        keys,
        ["state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq"]
    );
    assert_eq!(
        state.param_names,
        [
            "fc1.weight",
            "fc2.weight",
            "fc1.bias",
            "ln.weight",
            "ln.bias",
            "fc2.bias"
        ]
    );
    let group = serde_json::Value::Object(state.param_groups[1].clone());
    assert_eq!(group["params"], serde_json::json!([2, 3, 4, 5]));
    assert_eq!(group["betas"], serde_json::json!([0.9, 0.999]));
    assert_eq!(group["decoupled_weight_decay"], serde_json::json!(true));
    assert_eq!(group["initial_lr"], serde_json::json!(0.01));
    assert_eq!(state.tensors.get("state.1.exp_avg").unwrap().dims(), [3, 8]);
}

#[test]
fn a_state_that_does_not_fit_is_an_error_and_changes_nothing() {
    let fixture = fixture();
    let model = mlp(&fixture);
    let (mut opt, mut schedule) = setup(&model);
    run(&model, &mut opt, Some(&mut schedule), &fixture, 0..2);
    let good = opt.state_dict().unwrap();
    let before = |o: &AdamW| {
        let s = o.state_dict().unwrap();
        (
            s.tensors.keys().map(str::to_owned).collect::<Vec<_>>(),
            s.param_groups,
        )
    };
    let reference = before(&opt);

    let mut unknown = good.clone();
    unknown.param_groups[0].insert("bogus".to_owned(), 1.into());
    let error = opt.load_state_dict(&unknown).unwrap_err();
    assert_eq!(error.to_string(), "parameter group 0: unknown key `bogus`");

    let mut renamed = good.clone();
    renamed.param_names[2] = "head.weight".to_owned();
    assert!(matches!(
        opt.load_state_dict(&renamed),
        Err(StateError::Name { index: 2, .. })
    ));

    let mut reshaped = good.clone();
    reshaped.tensors.insert(
        "state.0.exp_avg",
        Tensor::zeros((3, 3), DType::F32, &Device::Cpu).unwrap(),
    );
    assert!(matches!(
        opt.load_state_dict(&reshaped),
        Err(StateError::Shape { .. })
    ));

    let mut fewer = good.clone();
    fewer.param_groups.pop();
    assert!(matches!(
        opt.load_state_dict(&fewer),
        Err(StateError::GroupCount)
    ));

    // Another model: a different parameter count.
    let fc = Linear::new(4, 8, true).unwrap();
    let mut other = AdamW::new(
        ParamGroups::new(&fc, AdamWOptions::default()).split("bias", AdamWOptions::default()),
    )
    .unwrap();
    assert!(matches!(
        other.load_state_dict(&good),
        Err(StateError::GroupSize)
    ));

    assert_eq!(before(&opt), reference);
    opt.load_state_dict(&good).unwrap();
}

#[test]
fn state_survives_freezing_conversion_and_loading_the_model() {
    let fixture = fixture();
    let mut model = mlp(&fixture);
    let mut opt = AdamW::from_model(
        &model,
        AdamWOptions {
            lr: 0.01,
            ..Default::default()
        },
    )
    .unwrap();
    run(&model, &mut opt, None, &fixture, 0..2);
    // Frozen: skipped, its state kept.
    model.fc1.requires_grad_(false);
    let frozen = model.fc1.weight.tensor().to_vec2::<f32>().unwrap();
    run(&model, &mut opt, None, &fixture, 2..3);
    assert_eq!(model.fc1.weight.tensor().to_vec2::<f32>().unwrap(), frozen);
    model.fc1.requires_grad_(true);
    // Converted to float64, then loaded from another model: the same handles, still trained.
    model.double().unwrap();
    model
        .load_state_dict(&mlp(&fixture).state_dict(), true, false)
        .unwrap();
    let before = model
        .fc2
        .weight
        .tensor()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let x = fixture
        .get("batch:3:x")
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    let y = fixture.get("batch:3:y").unwrap();
    opt.zero_grad();
    model
        .backward(&common::cross_entropy(&model.call(x).unwrap(), y))
        .unwrap();
    opt.step().unwrap();
    assert_eq!(model.fc2.weight.read(|t| t.dtype()), DType::F64);
    let after = model
        .fc2
        .weight
        .tensor()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    assert_ne!(after, before);
    let state = opt.state_dict().unwrap();
    assert_eq!(
        state
            .tensors
            .get("state.0.step")
            .unwrap()
            .to_scalar::<f32>()
            .unwrap(),
        3.0
    );
}
