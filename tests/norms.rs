//! GroupNorm, InstanceNorm2d and RMSNorm against PyTorch (`tests/fixtures/make_norms.py`): output, input and
//! parameter gradients, and print.

mod common;
use common::Fixture;

use modcore::nn::{Factory, GroupNorm, InstanceNorm2d, RMSNorm};

#[test]
fn group_norm_matches_pytorch() {
    let f = Fixture::load("norms");
    let factory = Factory::default();
    f.check_with_grads("group_norm", GroupNorm::new(2, 4).unwrap());
    f.check_with_grads(
        "group_norm_2d",
        GroupNorm::with_options(3, 6, 1e-3, true, true, &factory).unwrap(),
    );
    f.check_with_grads(
        "group_norm_plain",
        GroupNorm::with_options(1, 4, 1e-5, false, false, &factory).unwrap(),
    );
    assert_eq!(
        GroupNorm::new(3, 4).err().unwrap().to_string(),
        "num_channels must be divisible by num_groups"
    );
}

#[test]
fn rms_norm_matches_pytorch_with_and_without_eps() {
    let f = Fixture::load("norms");
    let factory = Factory::default();
    f.check_with_grads("rms_norm", RMSNorm::new(4).unwrap());
    f.check_with_grads(
        "rms_norm_eps",
        RMSNorm::with_options(&[3, 4], Some(1e-5), true, &factory).unwrap(),
    );
    f.check_with_grads(
        "rms_norm_plain",
        RMSNorm::with_options(&[4], None, false, &factory).unwrap(),
    );
}

#[test]
fn instance_norm_matches_pytorch_with_and_without_affine() {
    let f = Fixture::load("norms");
    f.check_with_grads("instance_norm", InstanceNorm2d::new(3).unwrap());
    let factory = Factory::default();
    f.check_with_grads(
        "instance_norm_affine",
        InstanceNorm2d::with_options(3, 1e-3, 0.1, true, false, &factory).unwrap(),
    );
}

#[test]
fn instance_norm_with_running_statistics_moves_them_in_training_and_uses_them_in_eval() {
    use modcore::{Module, ModuleHooks};
    let f = Fixture::load("norms");
    let factory = Factory::default();
    let tracked = |momentum, affine| {
        InstanceNorm2d::with_options(3, 1e-5, momentum, affine, true, &factory).unwrap()
    };
    let name = "instance_norm_tracked_train";
    f.check_with_grads(name, tracked(0.2, false));
    let mut norm = tracked(0.2, false);
    f.load_case(name, &mut norm);
    norm.call(f.get(&format!("{name}:in"))).unwrap();
    for (key, value) in norm.state_dict() {
        let expected = f.get(&format!("{name}:after.{key}"));
        let diff = common::max_abs_diff(&value, &expected);
        assert!(diff <= 1e-6, "{key} differs by {diff}");
    }
    let mut norm = tracked(0.1, true);
    norm.eval();
    f.check_with_grads("instance_norm_tracked_eval", norm);
}
