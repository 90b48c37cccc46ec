//! The losses against PyTorch (`tests/fixtures/make_losses.py`): module and functional forms,
//! every reduction, class weights, `ignore_index`, label smoothing and `pos_weight`; the loss and
//! its input gradient within 1e-5 (the loss relative to its size), and the print.

mod common;
use common::{max_abs_diff, Fixture};

use candle_core::{Tensor, Var};
use modcore::nn::functional::{ClassLossOptions, Reduction};
use modcore::nn::{BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss};
use modcore::{Forward, Module};

fn fixture() -> Fixture {
    Fixture::load("losses")
}

/// Runs `loss` on case `name`'s input and target; compares the loss, the input's gradient and
/// the print with PyTorch's.
fn check<L: Module<Tensor> + Forward<Tensor, (Tensor, Tensor), Output = Tensor>>(
    f: &Fixture,
    name: &str,
    loss: L,
) {
    assert_eq!(loss.repr(), f.reprs[name], "{name}: repr");
    let x = Var::from_tensor(&f.get(&format!("{name}:in"))).unwrap();
    let out = loss
        .forward((x.as_tensor().clone(), f.get(&format!("{name}:target"))))
        .unwrap();
    let expected = f.get(&format!("{name}:out"));
    // Within 1e-5, relative to the loss where it exceeds 1 (a float32 sum of 20 squares).
    let scale = expected
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
        .max(1.0);
    let diff = max_abs_diff(&out, &expected) / f64::from(scale);
    assert!(diff <= 1e-5, "{name}: loss differs by {diff} (relative)");
    let scalar = match f.tensors.get(&format!("{name}:g")) {
        Some(g) => (&out * g).unwrap().sum_all().unwrap(),
        None => out,
    };
    let grads = scalar.backward().unwrap();
    let diff = max_abs_diff(
        grads.get(x.as_tensor()).unwrap(),
        &f.get(&format!("{name}:dx")),
    );
    assert!(diff <= 1e-5, "{name}: input gradient differs by {diff}");
}

#[test]
fn regression_losses_match_pytorch_for_every_reduction() {
    let f = fixture();
    check(&f, "mse", MSELoss::new());
    check(&f, "mse_sum", MSELoss::new().with_reduction(Reduction::Sum));
    check(
        &f,
        "mse_none",
        MSELoss::new().with_reduction(Reduction::None),
    );
    check(&f, "l1", L1Loss::new());
    check(&f, "smooth_l1", SmoothL1Loss::new());
    check(
        &f,
        "smooth_l1_beta",
        SmoothL1Loss::new()
            .with_beta(0.5)
            .with_reduction(Reduction::Sum),
    );
}

#[test]
fn binary_cross_entropy_with_logits_matches_pytorch_with_pos_weight() {
    let f = fixture();
    check(&f, "bce_logits", BCEWithLogitsLoss::default());
    let pos_weight = f.get("bce_logits_pos_weight:weight");
    let loss = BCEWithLogitsLoss::new(None, Some(pos_weight), Reduction::Mean);
    assert_eq!(loss.state_dict().keys().collect::<Vec<_>>(), ["pos_weight"]);
    check(&f, "bce_logits_pos_weight", loss);
}

#[test]
fn class_losses_match_pytorch_with_weights_ignore_index_and_smoothing() {
    let f = fixture();
    let options = |name: &str, ignore_index: i64, label_smoothing: f64| ClassLossOptions {
        weight: f.tensors.get(&format!("{name}:weight")).cloned(),
        ignore_index,
        label_smoothing,
        reduction: Reduction::Mean,
    };
    check(&f, "nll", NLLLoss::default());
    check(
        &f,
        "nll_weight_ignore",
        NLLLoss::new(options("nll_weight_ignore", 3, 0.0)),
    );
    check(&f, "cross_entropy", CrossEntropyLoss::default());
    check(
        &f,
        "cross_entropy_ignore",
        CrossEntropyLoss::new(options("cross_entropy_ignore", 1, 0.0)),
    );
    check(
        &f,
        "cross_entropy_smooth",
        CrossEntropyLoss::new(options("cross_entropy_smooth", -100, 0.1)),
    );
    check(
        &f,
        "cross_entropy_all",
        CrossEntropyLoss::new(options("cross_entropy_all", 3, 0.2)),
    );
    check(
        &f,
        "cross_entropy_sum",
        CrossEntropyLoss::new(ClassLossOptions {
            reduction: Reduction::Sum,
            ..Default::default()
        }),
    );
}
