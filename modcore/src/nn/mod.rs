//! Layers on the candle backend (feature `candle`), named, shaped, initialised and behaving as
//! PyTorch's `torch.nn` layers, so a PyTorch model ports by declaring the same tree and its
//! checkpoint loads strictly. Every layer is a `#[derive(Module)]` struct: the derive is the
//! product, these layers are its first users.
//!
//! | layer | parameters / buffers | notes |
//! |---|---|---|
//! | [`Linear`] | `weight` (out, in), `bias` | kaiming-uniform init, as PyTorch |
//! | [`Conv1d`], [`Conv2d`] | `weight` (out, in/groups, k…), `bias` | stride, padding, dilation (per dimension), groups |
//! | [`ConvTranspose1d`], [`ConvTranspose2d`] | `weight` (in, out/groups, k…), `bias` | output_padding, groups, dilation |
//! | [`Upsample`] | | nearest, linear, bilinear; `size` or `scale_factor` |
//! | [`BatchNorm1d`], [`BatchNorm2d`] | `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked` | version 2; batch statistics in training, running ones in eval |
//! | [`LayerNorm`] | `weight`, `bias` | |
//! | [`GroupNorm`] | `weight`, `bias` (num_channels,) | groups of channels |
//! | [`InstanceNorm2d`] | `weight`, `bias` with `affine` | no running statistics |
//! | [`RMSNorm`] | `weight` | `eps=None` is the dtype's machine epsilon |
//! | [`Embedding`] | `weight` (num, dim) | takes `u32`/`i64` ids |
//! | [`Dropout`] | | identity in eval |
//! | [`MultiheadAttention`] | `in_proj_weight` (or `q/k/v_proj_weight`), `in_proj_bias`, `bias_k`, `bias_v`, `out_proj` | `batch_first`, `kdim`/`vdim`, masks, `need_weights` |
//! | [`TransformerEncoderLayer`], [`TransformerDecoderLayer`], [`TransformerEncoder`], [`TransformerDecoder`], [`Transformer`] | PyTorch's submodules | `norm_first`, ReLU or GELU, masks |
//! | [`RNN`], [`LSTM`], [`GRU`] | `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, `weight_hr_l0`, `…_reverse` | `num_layers`, `bidirectional`, `batch_first`, `dropout`, `proj_size` |
//! | [`PReLU`] | `weight` (num_parameters,) | one slope per channel (dim 1) or one for all |
//! | [`ReLU`], [`ReLU6`], [`GELU`], [`SiLU`], [`Tanh`], [`Sigmoid`], [`LeakyReLU`], [`ELU`], [`Hardswish`], [`Hardsigmoid`], [`Mish`], [`Softplus`] | | PyTorch's gradients at the kinks |
//! | [`Softmax`], [`LogSoftmax`] | | `dim` may be negative |
//! | [`Identity`], [`Flatten`] | | |
//! | [`MSELoss`], [`L1Loss`], [`SmoothL1Loss`], [`BCEWithLogitsLoss`], [`NLLLoss`], [`CrossEntropyLoss`] | `weight`, `pos_weight` buffers where given | called with `(input, target)`; [`functional`] has each as a function |
//! | [`MaxPool2d`], [`AvgPool2d`], [`AdaptiveAvgPool1d`], [`AdaptiveAvgPool2d`] | | exact gradients for overlapping windows |
//!
//! Every layer with parameters takes PyTorch's `device=` and `dtype=` as a [`Factory`], the last
//! argument of its `with_options`; `new` builds on the CPU in float32. [`clip_grad_norm_`] and
//! [`clip_grad_value_`] are `torch.nn.utils`' gradient clipping ([`utils`]);
//! [`functional::cross_entropy`], [`functional::softmax`] and [`functional::log_softmax`] are
//! `F.cross_entropy`, `F.softmax` and `F.log_softmax`.
//!
//! Hyper-parameters print as Python floats (`Softplus(beta=2.0, threshold=5.0)`): PyTorch prints
//! what its constructor was given, so `Softplus(beta=2)` prints `beta=2` there; a Rust `f64` has
//! no int form, and a port passes floats.

mod activation;
mod attention;
mod conv;
mod conv_transpose;
mod convolution;
mod dropout;
mod embedding;
pub mod functional;
mod linear;
mod loss;
mod norm;
mod pool;
mod prelu;
mod recurrent;
mod softmax;
mod transformer;
mod upsample;
pub mod utils;

pub use activation::{
    Flatten, Hardsigmoid, Hardswish, Identity, LeakyReLU, Mish, ReLU, ReLU6, SiLU, Sigmoid,
    Softplus, Tanh, ELU, GELU,
};
pub use attention::{AttentionConfig, AttentionOptions, MultiheadAttention};
pub use conv::{Conv1d, Conv2d};
pub use conv_transpose::{ConvTranspose1d, ConvTranspose2d};
pub use convolution::Pair;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::{Linear, NonDynamicallyQuantizableLinear};
pub use loss::{BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss};
pub use norm::{BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm, RMSNorm};
pub use pool::{AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use prelu::PReLU;
pub use recurrent::{Nonlinearity, RnnConfig, GRU, LSTM, RNN};
pub use softmax::{LogSoftmax, Softmax};
pub use transformer::{
    DecoderMasks, EncoderMasks, Transformer, TransformerActivation, TransformerConfig,
    TransformerDecoder, TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer,
    TransformerMasks,
};
pub use upsample::{Resize, Upsample, UpsampleMode};
pub use utils::{clip_grad_norm_, clip_grad_value_, ClipGradError};

use candle_core::{DType, Device, Tensor};

/// PyTorch's factory arguments `device=` and `dtype=`: where a layer creates its parameters and
/// buffers, and their floating-point dtype (integer buffers such as `num_batches_tracked` stay
/// int64). The last argument of every layer's `with_options`; `new` uses the default, the CPU and
/// float32, as PyTorch does.
///
/// ```
/// use modcore::nn::{Factory, Linear};
/// use candle_core::{DType, Device};
/// let fc = Linear::with_options(4, 2, true, &Factory::new(&Device::Cpu, DType::F64))?;
/// assert_eq!(fc.weight.tensor().dtype(), DType::F64);
/// # Ok::<(), candle_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Factory {
    /// Where tensors are created.
    pub device: Device,
    /// The dtype of floating-point tensors.
    pub dtype: DType,
}

impl Factory {
    /// Tensors on `device`, floating-point ones of `dtype`.
    pub fn new(device: &Device, dtype: DType) -> Self {
        Factory {
            device: device.clone(),
            dtype,
        }
    }

    /// A tensor of `shape` uniform in `[-bound, bound)`: PyTorch's `kaiming_uniform_(a=sqrt(5))`
    /// and bias initialisation both come down to this with `bound = 1/sqrt(fan_in)`. Drawn in
    /// float64 for a float64 layer, in float32 (then cast) otherwise, as PyTorch draws in the
    /// parameter's dtype.
    pub(crate) fn uniform(&self, shape: &[usize], bound: f64) -> candle_core::Result<Tensor> {
        if self.dtype == DType::F64 {
            return Tensor::rand(-bound, bound, shape, &self.device);
        }
        Tensor::rand(-bound as f32, bound as f32, shape, &self.device)?.to_dtype(self.dtype)
    }

    /// A tensor of `shape` drawn from N(0, 1) (PyTorch's `normal_`).
    pub(crate) fn normal(&self, shape: &[usize]) -> candle_core::Result<Tensor> {
        if self.dtype == DType::F64 {
            return Tensor::randn(0f64, 1f64, shape, &self.device);
        }
        Tensor::randn(0f32, 1f32, shape, &self.device)?.to_dtype(self.dtype)
    }

    pub(crate) fn ones(&self, shape: &[usize]) -> candle_core::Result<Tensor> {
        Tensor::ones(shape, self.dtype, &self.device)
    }

    pub(crate) fn full(&self, shape: &[usize], value: f64) -> candle_core::Result<Tensor> {
        Tensor::full(value, shape, &self.device)?.to_dtype(self.dtype)
    }

    pub(crate) fn zeros(&self, shape: &[usize]) -> candle_core::Result<Tensor> {
        Tensor::zeros(shape, self.dtype, &self.device)
    }
}

impl Default for Factory {
    /// The CPU and float32.
    fn default() -> Self {
        Factory::new(&Device::Cpu, DType::F32)
    }
}

/// Python's `repr` of a float, as PyTorch prints hyper-parameters: `1e-05`, `0.1`, `1.0`.
pub(crate) fn py_float(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e16) {
        let text = format!("{x:e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) => {
                let (sign, digits) = match exponent.strip_prefix('-') {
                    Some(d) => ("-", d),
                    None => ("+", exponent),
                };
                format!("{mantissa}e{sign}{digits:0>2}")
            }
            None => text,
        }
    } else {
        let text = format!("{x}");
        if text.contains('.') || text.contains("inf") || text.contains("NaN") {
            text
        } else {
            format!("{text}.0")
        }
    }
}

/// Python's `True`/`False`.
pub(crate) fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A Python tuple of ints: `(3, 3)`, `(4,)`.
pub(crate) fn py_tuple(items: &[usize]) -> String {
    match items {
        [one] => format!("({one},)"),
        _ => {
            let parts: Vec<String> = items.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_reprs() {
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(0.1), "0.1");
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.5), "0.5");
        assert_eq!(py_float(1e-12), "1e-12");
        assert_eq!(py_tuple(&[3, 3]), "(3, 3)");
        assert_eq!(py_tuple(&[4]), "(4,)");
    }
}
