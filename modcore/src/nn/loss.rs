//! The loss modules: [`MSELoss`], [`L1Loss`], [`SmoothL1Loss`], [`BCEWithLogitsLoss`],
//! [`NLLLoss`], [`CrossEntropyLoss`]. Each is called with `(input, target)` and computes its
//! `nn::functional` form; like PyTorch's, they print without their options, and class or
//! positive weights are buffers (`weight`, `pos_weight`) of their state dict.

use candle_core::Tensor;

use crate::nn::functional::{self, ClassLossOptions, Reduction};
use crate::{Buffer, Forward, ForwardResult, ModuleCore};

/// A loss of `(input, target)` with only a reduction, computing `$f`.
macro_rules! pointwise_loss {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty = $default:expr),* }, |$this:ident, $x:ident, $y:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(crate::Module)]
        #[module(crate = crate, tensor = Tensor)]
        pub struct $name {
            core: ModuleCore,
            #[module(skip)]
            reduction: Reduction,
            $(#[module(skip)] $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    core: ModuleCore::new(),
                    reduction: Reduction::Mean,
                    $($field: $default,)*
                }
            }
        }

        impl $name {
            #[doc = concat!("PyTorch's `nn.", stringify!($name), "()`.")]
            pub fn new() -> Self {
                Self::default()
            }

            /// The same loss with `reduction=`.
            pub fn with_reduction(self, reduction: Reduction) -> Self {
                $name { reduction, ..self }
            }
        }

        impl Forward<Tensor, (Tensor, Tensor)> for $name {
            type Output = Tensor;
            fn forward(&self, ($x, $y): (Tensor, Tensor)) -> ForwardResult<Tensor> {
                let $this = self;
                Ok($body?)
            }
        }
    };
}

pointwise_loss!(
    /// PyTorch's `nn.MSELoss(reduction='mean')`.
    MSELoss {},
    |this, x, y| functional::mse_loss(&x, &y, this.reduction)
);

pointwise_loss!(
    /// PyTorch's `nn.L1Loss(reduction='mean')`.
    L1Loss {},
    |this, x, y| functional::l1_loss(&x, &y, this.reduction)
);

pointwise_loss!(
    /// PyTorch's `nn.SmoothL1Loss(reduction='mean', beta=1.0)`; [`SmoothL1Loss::with_beta`]
    /// sets `beta`.
    SmoothL1Loss { beta: f64 = 1.0 },
    |this, x, y| functional::smooth_l1_loss(&x, &y, this.beta, this.reduction)
);

impl SmoothL1Loss {
    /// The same loss with `beta=`.
    pub fn with_beta(self, beta: f64) -> Self {
        SmoothL1Loss { beta, ..self }
    }
}

/// PyTorch's `nn.BCEWithLogitsLoss(weight=None, reduction='mean', pos_weight=None)`.
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor)]
pub struct BCEWithLogitsLoss {
    core: ModuleCore,
    /// The weight of each element (broadcast), as PyTorch's `weight` buffer.
    pub weight: Option<Buffer<Tensor>>,
    /// The weight of positive targets per class, as PyTorch's `pos_weight` buffer.
    pub pos_weight: Option<Buffer<Tensor>>,
    #[module(skip)]
    reduction: Reduction,
}

impl BCEWithLogitsLoss {
    /// PyTorch's arguments.
    pub fn new(weight: Option<Tensor>, pos_weight: Option<Tensor>, reduction: Reduction) -> Self {
        BCEWithLogitsLoss {
            core: ModuleCore::new(),
            weight: weight.map(Buffer::new),
            pos_weight: pos_weight.map(Buffer::new),
            reduction,
        }
    }
}

impl Default for BCEWithLogitsLoss {
    fn default() -> Self {
        BCEWithLogitsLoss::new(None, None, Reduction::Mean)
    }
}

impl Forward<Tensor, (Tensor, Tensor)> for BCEWithLogitsLoss {
    type Output = Tensor;
    fn forward(&self, (x, y): (Tensor, Tensor)) -> ForwardResult<Tensor> {
        let weight = self.weight.as_ref().map(Buffer::tensor);
        let pos_weight = self.pos_weight.as_ref().map(Buffer::tensor);
        Ok(functional::binary_cross_entropy_with_logits(
            &x,
            &y,
            weight.as_ref(),
            pos_weight.as_ref(),
            self.reduction,
        )?)
    }
}

/// A loss over class targets with PyTorch's `weight` buffer and options.
macro_rules! class_loss {
    ($(#[$doc:meta])* $name:ident, $f:path) => {
        $(#[$doc])*
        #[derive(crate::Module)]
        #[module(crate = crate, tensor = Tensor)]
        pub struct $name {
            core: ModuleCore,
            /// One weight per class, as PyTorch's `weight` buffer.
            pub weight: Option<Buffer<Tensor>>,
            #[module(skip)]
            options: ClassLossOptions,
        }

        impl $name {
            /// PyTorch's arguments (`weight` in `options` becomes the `weight` buffer).
            pub fn new(mut options: ClassLossOptions) -> Self {
                $name {
                    core: ModuleCore::new(),
                    weight: options.weight.take().map(Buffer::new),
                    options,
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::new(ClassLossOptions::default())
            }
        }

        impl Forward<Tensor, (Tensor, Tensor)> for $name {
            type Output = Tensor;
            fn forward(&self, (x, target): (Tensor, Tensor)) -> ForwardResult<Tensor> {
                let options = ClassLossOptions {
                    weight: self.weight.as_ref().map(Buffer::tensor),
                    ..self.options.clone()
                };
                Ok($f(&x, &target, &options)?)
            }
        }
    };
}

class_loss!(
    /// PyTorch's `nn.NLLLoss(weight=None, ignore_index=-100, reduction='mean')` over
    /// log-probabilities (N, C) and class targets (N,).
    NLLLoss,
    functional::nll_loss_with
);

class_loss!(
    /// PyTorch's `nn.CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean',
    /// label_smoothing=0.0)` over logits (N, C) and class targets (N,).
    ///
    /// ```
    /// use modcore::nn::functional::ClassLossOptions;
    /// use modcore::nn::CrossEntropyLoss;
    /// use modcore::Module;
    /// let w = candle_core::Tensor::new(&[1f32, 2., 3.], &candle_core::Device::Cpu)?;
    /// let loss = CrossEntropyLoss::new(ClassLossOptions { weight: Some(w), ..Default::default() });
    /// assert_eq!(loss.repr(), "CrossEntropyLoss()");
    /// assert_eq!(loss.state_dict().keys().collect::<Vec<_>>(), ["weight"]);
    /// # Ok::<(), candle_core::Error>(())
    /// ```
    CrossEntropyLoss,
    functional::cross_entropy_with
);
