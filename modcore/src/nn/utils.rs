//! `torch.nn.utils` gradient clipping: [`clip_grad_norm_`] and [`clip_grad_value_`], on the
//! gradients [`Parameter::grad`] holds.

use candle_core::Tensor;

use super::py_float;
use crate::Parameter;

/// Why a clipping failed; the gradients are unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ClipGradError {
    /// PyTorch's `RuntimeError` with `error_if_nonfinite=True`.
    #[error("The total norm of order {} for gradients from `parameters` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`", py_float(*norm_type))]
    NonFinite {
        /// The norm type asked for.
        norm_type: f64,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
}

/// PyTorch's `clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)`: the norm of
/// every gradient taken together (the `norm_type`-norm of the per-parameter norms, computed in
/// the gradients' dtype), and each gradient scaled by `max_norm / (total_norm + 1e-6)` when that
/// is below 1. Returns the total norm before clipping. `norm_type` is any `p > 0`,
/// `f64::INFINITY` (the largest magnitude) or `0` (the number of non-zero entries); parameters
/// without a gradient are skipped, and with none the total norm is 0.
///
/// ```
/// use modcore::nn::{clip_grad_norm_, Linear};
/// use modcore::prelude::*;
/// use candle_core::{Device, Tensor};
///
/// let fc = Linear::new(3, 1, false)?;
/// fc.weight.set_grad(Some(Tensor::new(&[[3f32, 4., 0.]], &Device::Cpu)?));
/// let norm = clip_grad_norm_(fc.parameters(), 1.0, 2.0, false)?;
/// assert_eq!(norm, 5.0);
/// let clipped = fc.weight.grad().unwrap().to_vec2::<f32>()?;
/// assert!((clipped[0][0] - 0.6).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub fn clip_grad_norm_<'a>(
    parameters: impl IntoIterator<Item = &'a Parameter<Tensor>>,
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<f64, ClipGradError> {
    let with_grads: Vec<(&Parameter<Tensor>, Tensor)> = parameters
        .into_iter()
        .filter_map(|p| p.grad().map(|g| (p, g)))
        .collect();
    let Some((_, first)) = with_grads.first() else {
        return Ok(0.0);
    };
    let norms = with_grads
        .iter()
        .map(|(_, g)| vector_norm(&g.flatten_all()?, norm_type))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let stacked = Tensor::stack(&norms, 0)?.to_dtype(first.dtype())?;
    let total = vector_norm(&stacked, norm_type)?;
    let total_norm = total
        .to_dtype(candle_core::DType::F64)?
        .to_scalar::<f64>()?;
    if error_if_nonfinite && !total_norm.is_finite() {
        return Err(ClipGradError::NonFinite { norm_type });
    }
    // As PyTorch: `max_norm / (total_norm + 1e-6)` clamped to 1, in the gradients' dtype, and
    // every gradient multiplied by it, 1.0 included.
    let max_norm = Tensor::new(max_norm, total.device())?.to_dtype(total.dtype())?;
    let coefficient = max_norm.div(&(&total + 1e-6)?)?.minimum(1.0)?;
    let clipped = with_grads
        .iter()
        .map(|(_, g)| g.broadcast_mul(&coefficient.to_dtype(g.dtype())?))
        .collect::<candle_core::Result<Vec<_>>>()?;
    for ((p, _), g) in with_grads.iter().zip(clipped) {
        p.set_grad(Some(g));
    }
    Ok(total_norm)
}

/// `torch.linalg.vector_norm(x, ord)` of a flat tensor, as a 0-dim tensor.
fn vector_norm(x: &Tensor, ord: f64) -> candle_core::Result<Tensor> {
    if ord == f64::INFINITY {
        x.abs()?.max(0)
    } else if ord == f64::NEG_INFINITY {
        x.abs()?.min(0)
    } else if ord == 0.0 {
        x.ne(0.0)?.to_dtype(x.dtype())?.sum(0)
    } else if ord == 1.0 {
        x.abs()?.sum(0)
    } else if ord == 2.0 {
        x.sqr()?.sum(0)?.sqrt()
    } else {
        x.abs()?.powf(ord)?.sum(0)?.powf(1.0 / ord)
    }
}

/// PyTorch's `clip_grad_value_(parameters, clip_value)`: every gradient clamped to
/// `[-clip_value, clip_value]`; parameters without a gradient are skipped.
///
/// ```
/// use modcore::nn::{clip_grad_value_, Linear};
/// use modcore::prelude::*;
/// use candle_core::{Device, Tensor};
///
/// let fc = Linear::new(2, 1, false)?;
/// fc.weight.set_grad(Some(Tensor::new(&[[3f32, -0.5]], &Device::Cpu)?));
/// clip_grad_value_(fc.parameters(), 1.0)?;
/// assert_eq!(fc.weight.grad().unwrap().to_vec2::<f32>()?, [[1.0, -0.5]]);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub fn clip_grad_value_<'a>(
    parameters: impl IntoIterator<Item = &'a Parameter<Tensor>>,
    clip_value: f64,
) -> Result<(), ClipGradError> {
    let clipped = parameters
        .into_iter()
        .filter_map(|p| p.grad().map(|g| (p, g)))
        .map(|(p, g)| Ok((p, g.clamp(-clip_value, clip_value)?)))
        .collect::<candle_core::Result<Vec<_>>>()?;
    for (p, g) in clipped {
        p.set_grad(Some(g));
    }
    Ok(())
}
