//! [`Linear`]: PyTorch's `nn.Linear`, and [`NonDynamicallyQuantizableLinear`], the same layer
//! under the name `nn.MultiheadAttention` gives its output projection.

use candle_core::Tensor;

use super::{py_bool, Factory};
use crate::{Forward, ForwardResult, ModuleCore, Parameter};

/// `y = x W^T + b`: PyTorch's `nn.Linear`, with `weight` of shape (out, in) and an optional
/// `bias`, both initialised uniformly in ±1/√in as PyTorch does.
///
/// ```
/// use modcore::nn::Linear;
/// use modcore::{Module, ModuleHooks};
/// let fc = Linear::new(3, 2, true)?;
/// assert_eq!(fc.repr(), "Linear(in_features=3, out_features=2, bias=True)");
/// let y = fc.call(candle_core::Tensor::zeros((5, 3), candle_core::DType::F32, &candle_core::Device::Cpu)?)?;
/// assert_eq!(y.dims(), [5, 2]);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate, extra_repr = Linear::describe)]
pub struct Linear {
    core: ModuleCore,
    /// (out_features, in_features).
    pub weight: Parameter<Tensor>,
    /// (out_features,), or `None` without bias.
    pub bias: Option<Parameter<Tensor>>,
}

impl Linear {
    /// A layer from `in_features` to `out_features`, PyTorch-initialised, on the CPU in float32.
    pub fn new(in_features: usize, out_features: usize, bias: bool) -> candle_core::Result<Self> {
        Self::with_options(in_features, out_features, bias, &Factory::default())
    }

    /// Every argument of PyTorch's constructor, `device` and `dtype` in `factory`.
    pub fn with_options(
        in_features: usize,
        out_features: usize,
        bias: bool,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        let bound = 1.0 / (in_features as f64).sqrt();
        Ok(Linear {
            core: ModuleCore::new(),
            weight: Parameter::new(factory.uniform(&[out_features, in_features], bound)?),
            bias: if bias {
                Some(Parameter::new(factory.uniform(&[out_features], bound)?))
            } else {
                None
            },
        })
    }

    fn describe(&self) -> String {
        describe(&self.weight, self.bias.is_some())
    }
}

impl Forward<Tensor, Tensor> for Linear {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(forward(&x, &self.weight, self.bias.as_ref())?)
    }
}

/// PyTorch's `NonDynamicallyQuantizableLinear`: a [`Linear`] under another name, which
/// [`MultiheadAttention`](super::MultiheadAttention)'s `out_proj` is, and prints as.
///
/// ```
/// use modcore::nn::NonDynamicallyQuantizableLinear;
/// use modcore::Module;
/// let fc = NonDynamicallyQuantizableLinear::new(4, 4, true)?;
/// assert_eq!(fc.repr(), "NonDynamicallyQuantizableLinear(in_features=4, out_features=4, bias=True)");
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate, extra_repr = NonDynamicallyQuantizableLinear::describe)]
pub struct NonDynamicallyQuantizableLinear {
    core: ModuleCore,
    /// (out_features, in_features).
    pub weight: Parameter<Tensor>,
    /// (out_features,), or `None` without bias.
    pub bias: Option<Parameter<Tensor>>,
}

impl NonDynamicallyQuantizableLinear {
    /// As [`Linear::new`].
    pub fn new(in_features: usize, out_features: usize, bias: bool) -> candle_core::Result<Self> {
        Self::with_options(in_features, out_features, bias, &Factory::default())
    }

    /// As [`Linear::with_options`].
    pub fn with_options(
        in_features: usize,
        out_features: usize,
        bias: bool,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        let Linear { weight, bias, .. } =
            Linear::with_options(in_features, out_features, bias, factory)?;
        Ok(NonDynamicallyQuantizableLinear {
            core: ModuleCore::new(),
            weight,
            bias,
        })
    }

    fn describe(&self) -> String {
        describe(&self.weight, self.bias.is_some())
    }
}

impl Forward<Tensor, Tensor> for NonDynamicallyQuantizableLinear {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(forward(&x, &self.weight, self.bias.as_ref())?)
    }
}

fn describe(weight: &Parameter<Tensor>, bias: bool) -> String {
    let shape = weight.shape();
    format!(
        "in_features={}, out_features={}, bias={}",
        shape[1],
        shape[0],
        py_bool(bias)
    )
}

fn forward(
    x: &Tensor,
    weight: &Parameter<Tensor>,
    bias: Option<&Parameter<Tensor>>,
) -> candle_core::Result<Tensor> {
    linear(x, &weight.tensor(), bias.map(|b| b.tensor()).as_ref())
}

/// PyTorch's `F.linear(x, weight, bias)`: `x W^T + b` over the last dimension, for `weight`
/// `(out, in)`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[[1f32, 2.]], &Device::Cpu)?;
/// let w = Tensor::new(&[[1f32, 0.], [1., 1.]], &Device::Cpu)?;
/// let y = modcore::nn::functional::linear(&x, &w, None)?;
/// assert_eq!(y.to_vec2::<f32>()?, [[1.0, 3.0]]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let y = x.broadcast_matmul(&weight.t()?)?;
    match bias {
        Some(b) => y.broadcast_add(b),
        None => Ok(y),
    }
}
