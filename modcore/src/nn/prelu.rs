//! [`PReLU`]: a ReLU whose negative slope is learned.

use candle_core::Tensor;

use crate::nn::Factory;
use crate::{Forward, ForwardResult, ModuleCore, Parameter};

/// PyTorch's `nn.PReLU(num_parameters=1, init=0.25)`: `x` above 0, `weight * x` from 0 down,
/// with one learned slope for the whole input or one per channel (dimension 1).
///
/// ```
/// use modcore::nn::PReLU;
/// use modcore::Module;
/// let layer = PReLU::new(3, 0.25)?;
/// assert_eq!(layer.repr(), "PReLU(num_parameters=3)");
/// assert_eq!(layer.state_dict().keys().collect::<Vec<_>>(), ["weight"]);
/// # Ok::<(), candle_core::Error>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = PReLU::describe)]
pub struct PReLU {
    core: ModuleCore,
    /// The slopes, (num_parameters,).
    pub weight: Parameter<Tensor>,
}

impl PReLU {
    /// `num_parameters` slopes (1, or the number of channels), each `init`, on the CPU in
    /// float32.
    pub fn new(num_parameters: usize, init: f64) -> candle_core::Result<Self> {
        Self::with_options(num_parameters, init, &Factory::default())
    }

    /// Every argument of PyTorch's constructor, `device` and `dtype` in `factory`.
    pub fn with_options(
        num_parameters: usize,
        init: f64,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        Ok(PReLU {
            core: ModuleCore::new(),
            weight: Parameter::new(factory.full(&[num_parameters], init)?),
        })
    }

    fn describe(&self) -> String {
        format!("num_parameters={}", self.weight.shape()[0])
    }
}

impl Forward<Tensor, Tensor> for PReLU {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let weight = self.weight.tensor();
        let count = weight.elem_count();
        // One slope per channel: shaped (C, 1, …) to broadcast over dimension 1.
        let slope = if count == 1 || x.rank() < 2 {
            weight
        } else {
            let mut shape = vec![count];
            shape.resize(x.rank() - 1, 1);
            weight.reshape(shape)?
        };
        let negative = x.broadcast_mul(&slope)?;
        Ok(x.gt(0.0)?.where_cond(&x, &negative)?)
    }
}
