//! The activation layers of `modcore::nn` against PyTorch (`tests/fixtures/make_activations.py`):
//! for each case, PyTorch's output, the gradient of `sum(layer(x) * g)` with respect to the input
//! and to the parameters, and the printed form, on inputs well past every kink.

mod common;
use common::Fixture;

use candle_core::{Tensor, Var};
use modcore::nn::{
    Hardsigmoid, Hardswish, LeakyReLU, LogSoftmax, Mish, PReLU, ReLU6, SiLU, Sigmoid, Softmax,
    Softplus, Tanh, ELU,
};
use modcore::{Forward, Module, ModuleHooks};

fn fixture() -> Fixture {
    Fixture::load("activations")
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    common::max_abs_diff(a, b)
}

impl Fixture {
    /// Loads the case's parameters, runs its input, and compares output, gradients and repr.
    fn check<M>(&self, name: &str, mut layer: M)
    where
        M: Module<Tensor> + Forward<Tensor, Tensor, Output = Tensor>,
    {
        self.load_case(name, &mut layer);
        assert_eq!(layer.repr(), self.reprs[name], "{name}: repr");

        let x = Var::from_tensor(&self.get(&format!("{name}:in"))).unwrap();
        let y = layer.call(x.as_tensor().clone()).unwrap();
        let diff = max_abs_diff(&y, &self.get(&format!("{name}:out")));
        assert!(diff <= 1e-5, "{name}: output differs by {diff}");

        let loss = (&y * self.get(&format!("{name}:g")))
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let dx = grads.get(x.as_tensor()).expect("the input has a gradient");
        let diff = max_abs_diff(dx, &self.get(&format!("{name}:dx")));
        assert!(diff <= 1e-5, "{name}: input gradient differs by {diff}");
        for (key, p) in layer.named_parameters() {
            let grad = grads.get(&p.tensor()).expect("a parameter gradient");
            let diff = max_abs_diff(grad, &self.get(&format!("{name}:d.{key}")));
            assert!(diff <= 1e-5, "{name}: gradient of {key} differs by {diff}");
        }
    }
}

#[test]
fn pointwise_activations_match_pytorch_in_value_gradient_and_print() {
    let f = fixture();
    f.check("relu6", ReLU6::new());
    f.check("relu6_inplace", ReLU6::inplace());
    f.check("silu", SiLU::new());
    f.check("tanh", Tanh::new());
    f.check("sigmoid", Sigmoid::new());
    f.check("leaky_relu", LeakyReLU::default());
    f.check("leaky_relu_02", LeakyReLU::new(0.2).with_inplace());
    f.check("elu", ELU::default());
    f.check("elu_alpha", ELU::new(0.5));
    f.check("hardswish", Hardswish::new());
    f.check("hardsigmoid", Hardsigmoid::new());
    f.check("mish", Mish::new());
    f.check("softplus", Softplus::default());
    f.check("softplus_beta", Softplus::new(2.0, 5.0));
}

#[test]
fn softmax_and_log_softmax_match_pytorch_along_any_dimension() {
    let f = fixture();
    f.check("softmax", Softmax::new(1));
    f.check("softmax_last", Softmax::new(-1));
    f.check("log_softmax", LogSoftmax::new(1));
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
    f.check("prelu", PReLU::new(1, 0.25).unwrap());
    f.check("prelu_channels", PReLU::new(3, 0.1).unwrap());
    // PyTorch's init: every slope is `init`.
    let fresh = PReLU::new(3, 0.1).unwrap();
    assert_eq!(
        fresh.weight.tensor().to_vec1::<f32>().unwrap(),
        [0.1f32, 0.1, 0.1]
    );
}
