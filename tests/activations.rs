//! The activation layers of `modcore::nn` against PyTorch (`tests/fixtures/make_activations.py`):
//! for each case, PyTorch's output, the gradient of `sum(layer(x) * g)` with respect to the input
//! and to the parameters, and the printed form, on inputs well past every kink.

mod common;
use common::Fixture;

use modcore::nn::{
    Hardsigmoid, Hardswish, LeakyReLU, LogSoftmax, Mish, PReLU, ReLU6, SiLU, Sigmoid, Softmax,
    Softplus, Tanh, ELU,
};
use modcore::Forward;

fn fixture() -> Fixture {
    Fixture::load("activations")
}

#[test]
fn pointwise_activations_match_pytorch_in_value_gradient_and_print() {
    let f = fixture();
    f.check_with_grads("relu6", ReLU6::new());
    f.check_with_grads("relu6_inplace", ReLU6::inplace());
    f.check_with_grads("silu", SiLU::new());
    f.check_with_grads("tanh", Tanh::new());
    f.check_with_grads("sigmoid", Sigmoid::new());
    f.check_with_grads("leaky_relu", LeakyReLU::default());
    f.check_with_grads("leaky_relu_02", LeakyReLU::new(0.2).with_inplace());
    f.check_with_grads("elu", ELU::default());
    f.check_with_grads("elu_alpha", ELU::new(0.5));
    f.check_with_grads("hardswish", Hardswish::new());
    f.check_with_grads("hardsigmoid", Hardsigmoid::new());
    f.check_with_grads("mish", Mish::new());
    f.check_with_grads("softplus", Softplus::default());
    f.check_with_grads("softplus_beta", Softplus::new(2.0, 5.0));
}

#[test]
fn softmax_and_log_softmax_match_pytorch_along_any_dimension() {
    let f = fixture();
    f.check_with_grads("softmax", Softmax::new(1));
    f.check_with_grads("softmax_last", Softmax::new(-1));
    f.check_with_grads("log_softmax", LogSoftmax::new(1));
    let e = Softmax::new(3)
        .forward(f.get("softmax:in"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Dimension out of range (expected to be in range of [-3, 2], but got 3)"),
        "{e}"
    );
}

#[test]
fn prelu_learns_one_slope_or_one_per_channel() {
    let f = fixture();
    f.check_with_grads("prelu", PReLU::new(1, 0.25).unwrap());
    f.check_with_grads("prelu_channels", PReLU::new(3, 0.1).unwrap());
    // PyTorch's init: every slope is `init`.
    let fresh = PReLU::new(3, 0.1).unwrap();
    assert_eq!(
        fresh.weight.tensor().to_vec1::<f32>().unwrap(),
        [0.1f32, 0.1, 0.1]
    );
}
