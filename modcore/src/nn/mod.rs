//! Layers on the candle backend (feature `candle`), named, shaped, initialised and behaving as
//! PyTorch's `torch.nn` layers, so a PyTorch model ports by declaring the same tree and its
//! checkpoint loads strictly. Every layer is a `#[derive(Module)]` struct: the derive is the
//! product, these layers are its first users.
//!
//! | layer | parameters / buffers | notes |
//! |---|---|---|
//! | [`Linear`] | `weight` (out, in), `bias` | kaiming-uniform init, as PyTorch |
//! | [`Conv2d`] | `weight` (out, in/groups, kh, kw), `bias` | stride, padding, dilation, groups |
//! | [`BatchNorm1d`], [`BatchNorm2d`] | `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked` | version 2; batch statistics in training, running ones in eval |
//! | [`LayerNorm`] | `weight`, `bias` | |
//! | [`Embedding`] | `weight` (num, dim) | takes `u32`/`i64` ids |
//! | [`Dropout`] | | identity in eval |
//! | [`ReLU`], [`GELU`], [`Identity`], [`Flatten`] | | |
//! | [`MaxPool2d`], [`AdaptiveAvgPool2d`] | | |

mod activation;
mod conv;
mod dropout;
mod embedding;
mod linear;
mod norm;
mod pool;

pub use activation::{Flatten, Identity, ReLU, GELU};
pub use conv::Conv2d;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use norm::{BatchNorm1d, BatchNorm2d, LayerNorm};
pub use pool::{AdaptiveAvgPool2d, MaxPool2d};

use candle_core::{DType, Device, Tensor};

/// A tensor of `shape` uniform in `[-bound, bound)`: PyTorch's `kaiming_uniform_(a=sqrt(5))` and
/// bias initialisation both come down to this with `bound = 1/sqrt(fan_in)`.
pub(crate) fn uniform(shape: &[usize], bound: f64) -> candle_core::Result<Tensor> {
    Tensor::rand(-bound as f32, bound as f32, shape, &Device::Cpu)
}

pub(crate) fn ones(shape: &[usize]) -> candle_core::Result<Tensor> {
    Tensor::ones(shape, DType::F32, &Device::Cpu)
}

pub(crate) fn zeros(shape: &[usize]) -> candle_core::Result<Tensor> {
    Tensor::zeros(shape, DType::F32, &Device::Cpu)
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
