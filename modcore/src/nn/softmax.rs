//! [`Softmax`] and [`LogSoftmax`] over one dimension.

use candle_core::Tensor;

use crate::nn::functional::{log_softmax, softmax};
use crate::{Forward, ForwardResult, ModuleCore};

macro_rules! softmax_layer {
    ($(#[$doc:meta])* $name:ident, $f:ident) => {
        $(#[$doc])*
        #[derive(crate::Module)]
        #[module(crate = crate, tensor = Tensor, extra_repr = $name::describe)]
        pub struct $name {
            core: ModuleCore,
            #[module(skip)]
            dim: isize,
        }

        impl $name {
            #[doc = concat!("PyTorch's `nn.", stringify!($name), "(dim)`; a negative `dim` counts from the end.")]
            pub fn new(dim: isize) -> Self {
                $name {
                    core: ModuleCore::new(),
                    dim,
                }
            }

            fn describe(&self) -> String {
                format!("dim={}", self.dim)
            }
        }

        impl Forward<Tensor, Tensor> for $name {
            type Output = Tensor;
            fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
                Ok($f(&x, self.dim)?)
            }
        }
    };
}

softmax_layer!(
    /// PyTorch's `nn.Softmax(dim)`: `exp(x) / sum(exp(x))` along `dim`, computed from `x -
    /// max(x)` so that no `exp` overflows.
    ///
    /// ```
    /// use modcore::nn::Softmax;
    /// use modcore::{Forward, Module};
    /// let layer = Softmax::new(-1);
    /// assert_eq!(layer.repr(), "Softmax(dim=-1)");
    /// let x = candle_core::Tensor::new(&[[1f32, 1.], [0., 1000.]], &candle_core::Device::Cpu)?;
    /// assert_eq!(layer.forward(x)?.to_vec2::<f32>()?, [[0.5, 0.5], [0., 1.]]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    Softmax,
    softmax
);

softmax_layer!(
    /// PyTorch's `nn.LogSoftmax(dim)`: `x - log(sum(exp(x)))` along `dim`, shifted by the
    /// maximum.
    LogSoftmax,
    log_softmax
);
