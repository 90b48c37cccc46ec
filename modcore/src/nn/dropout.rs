//! [`Dropout`]: PyTorch's `nn.Dropout`.

use candle_core::Tensor;

use super::py_float;
use crate::{Forward, ForwardResult, Module, ModuleCore};

/// Zeroes each element with probability `p` in training and scales the rest by `1/(1-p)`;
/// the identity in eval mode. PyTorch's `nn.Dropout`.
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = Dropout::describe)]
pub struct Dropout {
    core: ModuleCore,
    #[module(skip)]
    p: f64,
}

impl Dropout {
    /// Dropout with probability `p` (PyTorch's default is 0.5).
    pub fn new(p: f64) -> Self {
        Dropout {
            core: ModuleCore::new(),
            p,
        }
    }

    fn describe(&self) -> String {
        format!("p={}, inplace=False", py_float(self.p))
    }
}

impl Forward<Tensor, Tensor> for Dropout {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        if !self.is_training() {
            return Ok(x);
        }
        Ok(dropout(&x, self.p)?)
    }
}

/// `F.dropout(x, p, training=True)`: each element zeroed with probability `p`, the rest scaled
/// by `1/(1-p)`.
pub(crate) fn dropout(x: &Tensor, p: f64) -> candle_core::Result<Tensor> {
    if p == 0.0 {
        return Ok(x.clone());
    }
    if p >= 1.0 {
        return x.zeros_like();
    }
    let keep = x.rand_like(0.0, 1.0)?.ge(p)?.to_dtype(x.dtype())?;
    (x * keep)?.affine(1.0 / (1.0 - p), 0.0)
}
