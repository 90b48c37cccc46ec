//! Parameter-free layers: the element-wise activations ([`ReLU`], [`ReLU6`], [`GELU`],
//! [`SiLU`], [`Tanh`], [`Sigmoid`], [`LeakyReLU`], [`ELU`], [`Hardswish`], [`Hardsigmoid`],
//! [`Mish`], [`Softplus`]), [`Identity`] and [`Flatten`].
//!
//! Each computes PyTorch's value and PyTorch's gradient, kinks included: where PyTorch's backward
//! formula picks a side at a kink (`ReLU6` passes no gradient at 0 or 6, `Hardswish` has slope
//! `x/3 + 1/2` on `[-3, 3]`), the layer is written piecewise with the same sides. Branches that
//! would overflow where they are not selected (`exp` of a large input) take a clamped input, so
//! no `0 * inf` reaches a gradient.
//!
//! `inplace` is accepted where PyTorch's constructor has it, and printed where PyTorch prints it;
//! candle's tensors are immutable, so the layer computes the same either way.

use candle_core::Tensor;

use crate::nn::py_float;
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
pub(crate) fn relu(x: &Tensor) -> candle_core::Result<Tensor> {
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

/// A `Default` + `new()` activation without hyper-parameters, computing `$f(x)`.
macro_rules! plain_activation {
    ($(#[$doc:meta])* $name:ident, $f:expr) => {
        $(#[$doc])*
        #[derive(crate::Module, Default)]
        #[module(crate = crate, tensor = Tensor)]
        pub struct $name {
            core: ModuleCore,
        }

        impl $name {
            #[doc = concat!("PyTorch's `nn.", stringify!($name), "()`.")]
            pub fn new() -> Self {
                Self::default()
            }
        }

        impl Forward<Tensor, Tensor> for $name {
            type Output = Tensor;
            fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
                let f: fn(&Tensor) -> candle_core::Result<Tensor> = $f;
                Ok(f(&x)?)
            }
        }
    };
}

/// An activation whose only option is `inplace` (printed `inplace=True`, as PyTorch does),
/// computing `$f(x)`.
macro_rules! inplace_activation {
    ($(#[$doc:meta])* $name:ident, $f:expr) => {
        $(#[$doc])*
        #[derive(crate::Module, Default)]
        #[module(crate = crate, tensor = Tensor, extra_repr = $name::describe)]
        pub struct $name {
            core: ModuleCore,
            #[module(skip)]
            inplace: bool,
        }

        impl $name {
            #[doc = concat!("PyTorch's `nn.", stringify!($name), "()`.")]
            pub fn new() -> Self {
                Self::default()
            }

            #[doc = concat!("PyTorch's `nn.", stringify!($name), "(inplace=True)`.")]
            pub fn inplace() -> Self {
                $name {
                    core: ModuleCore::new(),
                    inplace: true,
                }
            }

            fn describe(&self) -> String {
                inplace_text(self.inplace).to_owned()
            }
        }

        impl Forward<Tensor, Tensor> for $name {
            type Output = Tensor;
            fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
                let f: fn(&Tensor) -> candle_core::Result<Tensor> = $f;
                Ok(f(&x)?)
            }
        }
    };
}

fn inplace_text(inplace: bool) -> &'static str {
    if inplace {
        "inplace=True"
    } else {
        ""
    }
}

/// `x` where `mask`, else `other`.
fn select(mask: &Tensor, x: &Tensor, other: &Tensor) -> candle_core::Result<Tensor> {
    mask.where_cond(x, other)
}

/// `1 / (1 + exp(-x))`, computed as `(tanh(x / 2) + 1) / 2`: no overflow for any `x`.
pub(crate) fn sigmoid(x: &Tensor) -> candle_core::Result<Tensor> {
    x.affine(0.5, 0.0)?.tanh()?.affine(0.5, 0.5)
}

/// `log(1 + exp(x))` without overflow: `max(x, 0) + log(1 + exp(-|x|))`.
fn softplus(x: &Tensor) -> candle_core::Result<Tensor> {
    let positive = x.maximum(0.0)?;
    let tail = (x.abs()?.neg()?.exp()? + 1.0)?.log()?;
    positive + tail
}

inplace_activation!(
    /// PyTorch's `nn.ReLU6`: `min(max(x, 0), 6)`, with no gradient at 0 or 6 (PyTorch's
    /// `hardtanh` backward).
    ReLU6,
    |x| {
        let inside = x.gt(0.0)?.mul(&x.lt(6.0)?)?;
        select(&inside, x, &x.clamp(0.0, 6.0)?.detach())
    }
);

inplace_activation!(
    /// PyTorch's `nn.SiLU`: `x * sigmoid(x)`.
    SiLU,
    |x| x.mul(&sigmoid(x)?)
);

plain_activation!(
    /// PyTorch's `nn.Tanh`.
    Tanh,
    |x| x.tanh()
);

plain_activation!(
    /// PyTorch's `nn.Sigmoid`: `1 / (1 + exp(-x))`.
    Sigmoid,
    sigmoid
);

plain_activation!(
    /// PyTorch's `nn.Hardswish`: `0` below -3, `x * (x + 3) / 6` on `[-3, 3]`, `x` above, with
    /// PyTorch's slopes (`x / 3 + 1/2` on `[-3, 3]`).
    Hardswish,
    |x| {
        let middle = x.mul(&x.affine(1.0 / 6.0, 0.5)?)?;
        let upper = select(&x.le(3.0)?, &middle, x)?;
        select(&x.lt(-3.0)?, &x.zeros_like()?, &upper)
    }
);

plain_activation!(
    /// PyTorch's `nn.Hardsigmoid`: `0` up to -3, `x / 6 + 1/2` between, `1` from 3, with no
    /// gradient at -3 or 3.
    Hardsigmoid,
    |x| {
        let middle = x.affine(1.0 / 6.0, 0.5)?;
        let upper = select(&x.ge(3.0)?, &x.ones_like()?, &middle)?;
        select(&x.le(-3.0)?, &x.zeros_like()?, &upper)
    }
);

plain_activation!(
    /// PyTorch's `nn.Mish`: `x * tanh(softplus(x))`.
    Mish,
    |x| x.mul(&softplus(x)?.tanh()?)
);

/// PyTorch's `nn.LeakyReLU(negative_slope=0.01, inplace=False)`: `x` above 0, `negative_slope *
/// x` from 0 down (PyTorch's gradient at 0 is the slope).
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = LeakyReLU::describe)]
pub struct LeakyReLU {
    core: ModuleCore,
    #[module(skip)]
    negative_slope: f64,
    #[module(skip)]
    inplace: bool,
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new(0.01)
    }
}

impl LeakyReLU {
    /// PyTorch's `nn.LeakyReLU(negative_slope)`.
    pub fn new(negative_slope: f64) -> Self {
        LeakyReLU {
            core: ModuleCore::new(),
            negative_slope,
            inplace: false,
        }
    }

    /// The same layer with `inplace=True` (printed; the result is the same).
    pub fn with_inplace(self) -> Self {
        LeakyReLU {
            inplace: true,
            ..self
        }
    }

    fn describe(&self) -> String {
        with_inplace(
            format!("negative_slope={}", py_float(self.negative_slope)),
            self.inplace,
        )
    }
}

/// `text`, then `, inplace=True` if `inplace`.
fn with_inplace(text: String, inplace: bool) -> String {
    if inplace {
        format!("{text}, {}", inplace_text(true))
    } else {
        text
    }
}

impl Forward<Tensor, Tensor> for LeakyReLU {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(select(
            &x.gt(0.0)?,
            &x,
            &x.affine(self.negative_slope, 0.0)?,
        )?)
    }
}

/// PyTorch's `nn.ELU(alpha=1.0, inplace=False)`: `x` above 0, `alpha * (exp(x) - 1)` from 0
/// down.
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = ELU::describe)]
pub struct ELU {
    core: ModuleCore,
    #[module(skip)]
    alpha: f64,
    #[module(skip)]
    inplace: bool,
}

impl Default for ELU {
    fn default() -> Self {
        ELU::new(1.0)
    }
}

impl ELU {
    /// PyTorch's `nn.ELU(alpha)`.
    pub fn new(alpha: f64) -> Self {
        ELU {
            core: ModuleCore::new(),
            alpha,
            inplace: false,
        }
    }

    /// The same layer with `inplace=True` (printed; the result is the same).
    pub fn with_inplace(self) -> Self {
        ELU {
            inplace: true,
            ..self
        }
    }

    fn describe(&self) -> String {
        with_inplace(format!("alpha={}", py_float(self.alpha)), self.inplace)
    }
}

impl Forward<Tensor, Tensor> for ELU {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let negative = x.minimum(0.0)?.exp()?.affine(self.alpha, -self.alpha)?;
        Ok(select(&x.gt(0.0)?, &x, &negative)?)
    }
}

/// PyTorch's `nn.Softplus(beta=1.0, threshold=20.0)`: `log(1 + exp(beta * x)) / beta`, and `x`
/// itself where `beta * x > threshold`.
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = Softplus::describe)]
pub struct Softplus {
    core: ModuleCore,
    #[module(skip)]
    beta: f64,
    #[module(skip)]
    threshold: f64,
}

impl Default for Softplus {
    fn default() -> Self {
        Softplus::new(1.0, 20.0)
    }
}

impl Softplus {
    /// PyTorch's `nn.Softplus(beta, threshold)`.
    pub fn new(beta: f64, threshold: f64) -> Self {
        Softplus {
            core: ModuleCore::new(),
            beta,
            threshold,
        }
    }

    fn describe(&self) -> String {
        format!(
            "beta={}, threshold={}",
            py_float(self.beta),
            py_float(self.threshold)
        )
    }
}

impl Forward<Tensor, Tensor> for Softplus {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let scaled = x.affine(self.beta, 0.0)?;
        let smooth = softplus(&scaled)?.affine(1.0 / self.beta, 0.0)?;
        Ok(select(&scaled.gt(self.threshold)?, &x, &smooth)?)
    }
}
