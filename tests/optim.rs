//! `modcore::optim` against `torch.optim`: a small MLP's parameters after 20 steps on fixed
//! batches equal PyTorch's for every configuration of `tests/fixtures/make_optim.py`, plus
//! PyTorch's constructor errors and the skipping of frozen and tied parameters.

mod common;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use modcore::checkpoint;
use modcore::nn::{LayerNorm, Linear, ReLU};
use modcore::optim::{
    Adam, AdamOptions, AdamW, AdamWOptions, OptimError, Optimizer, ParamGroups, SgdOptions, SGD,
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

/// The fixture's model with PyTorch's initial weights.
fn mlp(fixture: &StateDict<Tensor>) -> Mlp {
    let mut m = Mlp {
        core: ModuleCore::new(),
        fc1: Linear::new(4, 8, true).unwrap(),
        act: ReLU::new(),
        ln: LayerNorm::new(8).unwrap(),
        fc2: Linear::new(8, 3, true).unwrap(),
    };
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
    for i in 0..20 {
        let x = fixture.get(&format!("batch:{i}:x")).unwrap().clone();
        let y = fixture.get(&format!("batch:{i}:y")).unwrap();
        opt.zero_grad();
        model
            .backward(&common::cross_entropy(&model.call(x).unwrap(), y))
            .unwrap();
        opt.step().unwrap();
    }
    for (name, p) in model.named_parameters() {
        let want = fixture.get(&format!("{config}:{name}")).unwrap();
        let diff = common::max_abs_diff(&p.tensor(), want);
        assert!(diff < 1e-5, "{config} {name}: max abs diff {diff}");
    }
}

#[test]
fn sgd_with_momentum() {
    check("sgd_momentum", |m| {
        let options = SgdOptions {
            lr: 0.1,
            momentum: 0.9,
            ..Default::default()
        };
        Box::new(SGD::from_model(m, options).unwrap())
    });
}

#[test]
fn sgd_with_nesterov_and_weight_decay() {
    check("sgd_nesterov_decay", |m| {
        let options = SgdOptions {
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.01,
            ..Default::default()
        };
        Box::new(SGD::from_model(m, options).unwrap())
    });
}

#[test]
fn sgd_with_dampening_maximizing() {
    check("sgd_dampening_maximize", |m| {
        let options = SgdOptions {
            lr: 0.05,
            momentum: 0.5,
            dampening: 0.3,
            maximize: true,
            ..Default::default()
        };
        Box::new(SGD::from_model(m, options).unwrap())
    });
}

#[test]
fn adam() {
    check("adam", |m| {
        let options = AdamOptions {
            lr: 0.01,
            ..Default::default()
        };
        Box::new(Adam::from_model(m, options).unwrap())
    });
}

#[test]
fn adam_with_amsgrad_and_weight_decay() {
    check("adam_amsgrad_decay", |m| {
        let options = AdamOptions {
            lr: 0.01,
            amsgrad: true,
            weight_decay: 0.01,
            ..Default::default()
        };
        Box::new(Adam::from_model(m, options).unwrap())
    });
}

#[test]
fn adamw_with_two_groups() {
    check("adamw_two_groups", |m| {
        let decay = AdamWOptions {
            lr: 0.01,
            weight_decay: 0.1,
            ..Default::default()
        };
        let no_decay = AdamWOptions {
            weight_decay: 0.0,
            ..decay.clone()
        };
        let groups = ParamGroups::new(m, decay).split_by(
            |name, p| name.ends_with("bias") || p.shape().len() == 1,
            no_decay,
        );
        Box::new(AdamW::new(groups).unwrap())
    });
}

#[test]
fn adamw_maximizing() {
    check("adamw_maximize", |m| {
        let options = AdamWOptions {
            lr: 0.01,
            maximize: true,
            ..Default::default()
        };
        Box::new(AdamW::from_model(m, options).unwrap())
    });
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
