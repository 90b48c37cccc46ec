//! `modcore::optim::lr_scheduler` against `torch.optim.lr_scheduler`: over 100 steps, every
//! scheduler's `get_last_lr()` (and OneCycleLR's momenta) equal PyTorch's, from
//! `tests/fixtures/make_schedulers.py`.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use modcore::optim::lr_scheduler::{
    Anneal, CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR, LrScheduler, MultiStepLR,
    OneCycleLR, OneCycleOptions, SequentialLR, StepLR,
};
use modcore::optim::{Adam, AdamOptions, Optimizer, ParamGroup, ParamGroups, SgdOptions, SGD};
use modcore::Parameter;

/// PyTorch's sequences of one case: `lr[step][group]` and `momentum[step][group]`.
struct Case {
    lr: Vec<Vec<f64>>,
    momentum: Vec<Vec<f64>>,
}

fn cases() -> HashMap<String, Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schedulers.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let table = |v: &serde_json::Value| -> Vec<Vec<f64>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect()
    };
    json.as_object()
        .unwrap()
        .iter()
        .map(|(name, case)| {
            (
                name.clone(),
                Case {
                    lr: table(&case["lr"]),
                    momentum: table(&case["momentum"]),
                },
            )
        })
        .collect()
}

fn param() -> Parameter<Tensor> {
    Parameter::new(Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu).unwrap())
}

/// Two groups with learning rates 0.1 and 0.05, as the fixture's optimizers.
fn groups<O: Clone>(options: impl Fn(f64) -> O) -> ParamGroups<O> {
    ParamGroups::from_groups(
        [0.1, 0.05]
            .into_iter()
            .map(|lr| ParamGroup {
                params: vec![("p".to_owned(), param())],
                options: options(lr),
            })
            .collect(),
    )
}

fn sgd() -> SGD {
    SGD::new(groups(|lr| SgdOptions {
        lr,
        momentum: 0.9,
        ..Default::default()
    }))
    .unwrap()
}

fn adam() -> Adam {
    Adam::new(groups(|lr| AdamOptions {
        lr,
        ..Default::default()
    }))
    .unwrap()
}

/// Runs 100 rounds of `optimizer.step(); scheduler.step()` and compares with PyTorch.
fn check<O: Optimizer>(
    name: &str,
    mut optimizer: O,
    make: impl FnOnce(&mut O) -> Box<dyn LrScheduler>,
    momentum: bool,
) {
    let case = &cases()[name];
    let mut scheduler = make(&mut optimizer);
    let mut lrs = vec![scheduler.last_lr().to_vec()];
    let momenta = |o: &O| {
        (0..o.group_count())
            .map(|g| o.momentum(g).unwrap())
            .collect::<Vec<_>>()
    };
    let mut moms = vec![momenta(&optimizer)];
    for _ in 0..100 {
        optimizer.step().unwrap();
        scheduler.step(&mut optimizer).unwrap();
        lrs.push(scheduler.last_lr().to_vec());
        moms.push(momenta(&optimizer));
    }
    for (step, (ours, theirs)) in lrs.iter().zip(&case.lr).enumerate() {
        for (a, b) in ours.iter().zip(theirs) {
            assert!(
                (a - b).abs() <= 1e-15 * b.abs().max(1e-3),
                "{name} step {step}: {a} vs {b}"
            );
        }
    }
    assert_eq!(lrs.len(), case.lr.len());
    if momentum {
        for (step, (ours, theirs)) in moms.iter().zip(&case.momentum).enumerate() {
            for (a, b) in ours.iter().zip(theirs) {
                assert!(
                    (a - b).abs() <= 1e-15,
                    "{name} momentum step {step}: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn step_lr() {
    check("step", sgd(), |o| Box::new(StepLR::new(o, 30, 0.1)), false);
}

#[test]
fn multi_step_lr() {
    check(
        "multistep",
        sgd(),
        |o| Box::new(MultiStepLR::new(o, vec![30, 60, 60, 80], 0.5)),
        false,
    );
}

#[test]
fn exponential_lr() {
    check(
        "exponential",
        sgd(),
        |o| Box::new(ExponentialLR::new(o, 0.95)),
        false,
    );
}

#[test]
fn cosine_annealing_lr() {
    check(
        "cosine",
        sgd(),
        |o| Box::new(CosineAnnealingLR::new(o, 40, 0.001)),
        false,
    );
}

#[test]
fn linear_lr() {
    check(
        "linear",
        sgd(),
        |o| Box::new(LinearLR::new(o, 0.25, 1.0, 10).unwrap()),
        false,
    );
}

#[test]
fn lambda_lr() {
    check(
        "lambda",
        sgd(),
        |o| Box::new(LambdaLR::new(o, |epoch| 0.97f64.powf(epoch as f64))),
        false,
    );
}

#[test]
fn sequential_lr_warm_up_then_cosine() {
    check(
        "sequential",
        sgd(),
        |o| {
            let warmup = LinearLR::new(o, 0.1, 1.0, 10).unwrap();
            let cosine = CosineAnnealingLR::new(o, 90, 0.0);
            Box::new(
                SequentialLR::new(o, vec![Box::new(warmup), Box::new(cosine)], vec![10]).unwrap(),
            )
        },
        false,
    );
}

#[test]
fn one_cycle_lr_cycles_learning_rate_and_momentum() {
    check(
        "onecycle",
        sgd(),
        |o| Box::new(OneCycleLR::new(o, &[1.0, 0.5], 100, OneCycleOptions::default()).unwrap()),
        true,
    );
}

#[test]
fn one_cycle_lr_linear_three_phase_cycles_adams_beta1() {
    check(
        "onecycle_linear_three_phase",
        adam(),
        |o| {
            let options = OneCycleOptions {
                anneal: Anneal::Linear,
                three_phase: true,
                ..Default::default()
            };
            Box::new(OneCycleLR::new(o, &[0.8], 100, options).unwrap())
        },
        true,
    );
}

#[test]
fn schedulers_refuse_what_pytorch_refuses() {
    let mut o = sgd();
    assert_eq!(
        LinearLR::new(&mut o, 0.0, 1.0, 5)
            .err()
            .unwrap()
            .to_string(),
        "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."
    );
    let mut o = sgd();
    let one = Box::new(StepLR::new(&mut o, 1, 0.5));
    assert_eq!(
        SequentialLR::new(&mut o, vec![one], vec![3]).err().unwrap().to_string(),
        "Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers 1 and the number of milestones to be equal to 1"
    );
    let mut o = sgd();
    let mut cycle = OneCycleLR::new(&mut o, &[1.0], 2, OneCycleOptions::default()).unwrap();
    cycle.step(&mut o).unwrap();
    cycle.step(&mut o).unwrap();
    assert_eq!(
        cycle.step(&mut o).unwrap_err().to_string(),
        "Tried to step 3 times. The specified number of total steps is 2"
    );
}
