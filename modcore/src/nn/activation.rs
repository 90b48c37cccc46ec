//! Parameter-free layers: [`ReLU`], [`GELU`], [`Identity`], [`Flatten`].

use candle_core::Tensor;

use crate::{Forward, ForwardResult, ModuleCore};

/// PyTorch's `nn.ReLU`. `ReLU::inplace()` prints as `ReLU(inplace=True)`, as torchvision's
/// models do; tensors are immutable in candle, so both compute the same.
#[derive(crate::Module, Default)]
#[module(crate = crate, tensor = Tensor, extra_repr = ReLU::describe)]
pub struct ReLU {
    core: ModuleCore,
    #[module(skip)]
    inplace: bool,
}

impl ReLU {
    /// A ReLU.
    pub fn new() -> Self {
        Self::default()
    }

    /// PyTorch's `ReLU(inplace=True)`.
    pub fn inplace() -> Self {
        ReLU {
            core: ModuleCore::new(),
            inplace: true,
        }
    }

    fn describe(&self) -> String {
        if self.inplace {
            "inplace=True".to_owned()
        } else {
            String::new()
        }
    }
}

impl Forward<Tensor, Tensor> for ReLU {
    type Output = Tensor;
    /// `max(x, 0)` with PyTorch's gradient: 1 where `x > 0`, 0 elsewhere, 0 included (candle's
    /// own `relu` passes the gradient at 0).
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(relu(&x)?)
    }
}

/// `max(x, 0)` with PyTorch's gradient at 0 (none).
fn relu(x: &Tensor) -> candle_core::Result<Tensor> {
    x.gt(0.0)?.where_cond(x, &x.zeros_like()?)
}

/// PyTorch's `nn.GELU`: the exact (`erf`) form by default, the `tanh` approximation on request.
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = GELU::describe)]
pub struct GELU {
    core: ModuleCore,
    #[module(skip)]
    tanh: bool,
}

impl Default for GELU {
    fn default() -> Self {
        GELU::new()
    }
}

impl GELU {
    /// `approximate='none'`.
    pub fn new() -> Self {
        GELU {
            core: ModuleCore::new(),
            tanh: false,
        }
    }

    /// `approximate='tanh'`.
    pub fn tanh() -> Self {
        GELU {
            core: ModuleCore::new(),
            tanh: true,
        }
    }

    fn describe(&self) -> String {
        format!("approximate='{}'", if self.tanh { "tanh" } else { "none" })
    }
}

impl Forward<Tensor, Tensor> for GELU {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(if self.tanh { x.gelu()? } else { x.gelu_erf()? })
    }
}

/// PyTorch's `nn.Identity`.
#[derive(crate::Module, Default)]
#[module(crate = crate, tensor = Tensor)]
pub struct Identity {
    core: ModuleCore,
}

impl Identity {
    /// An identity.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Forward<Tensor, Tensor> for Identity {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(x)
    }
}

/// PyTorch's `nn.Flatten(start_dim=1, end_dim=-1)`.
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = Flatten::describe)]
pub struct Flatten {
    core: ModuleCore,
    #[module(skip)]
    start_dim: usize,
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten {
            core: ModuleCore::new(),
            start_dim: 1,
        }
    }
}

impl Flatten {
    /// Flattens every dimension from `start_dim` to the last.
    pub fn new(start_dim: usize) -> Self {
        Flatten {
            core: ModuleCore::new(),
            start_dim,
        }
    }

    fn describe(&self) -> String {
        format!("start_dim={}, end_dim=-1", self.start_dim)
    }
}

impl Forward<Tensor, Tensor> for Flatten {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(x.flatten_from(self.start_dim)?)
    }
}
