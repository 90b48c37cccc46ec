//! `torch.nn.functional`: convolutions, interpolation, softmax, log-softmax and the losses
//! training needs.

use candle_core::{DType, Tensor};

pub use super::convolution::{conv1d, conv2d, conv_transpose1d, conv_transpose2d};
pub use super::linear::linear;
pub use super::upsample::interpolate;

/// PyTorch's `F.cross_entropy(logits, target)` with class indices and the mean over the batch:
/// `logits` `(N, C)`, `target` `(N,)` integer classes. Computed as PyTorch does, through a
/// numerically stable log-softmax.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let logits = Tensor::new(&[[2f32, 0., 0.], [0., 0., 0.]], &Device::Cpu)?;
/// let target = Tensor::new(&[0u32, 2], &Device::Cpu)?;
/// let loss = modcore::nn::functional::cross_entropy(&logits, &target)?.to_scalar::<f32>()?;
/// let expected = ((1.0 + 2.0 * (-2f32).exp()).ln() + 3f32.ln()) / 2.0;
/// assert!((loss - expected).abs() < 1e-6);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn cross_entropy(logits: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    let log_probs = log_softmax(logits, -1)?;
    let classes = target.to_dtype(DType::U32)?.unsqueeze(1)?;
    log_probs.gather(&classes, 1)?.mean_all()?.neg()
}

/// The dimension `dim` names in a tensor of rank `rank` (negative counts from the end).
fn resolve(dim: isize, rank: usize) -> candle_core::Result<usize> {
    let resolved = if dim < 0 { rank as isize + dim } else { dim };
    usize::try_from(resolved)
        .ok()
        .filter(|&d| d < rank)
        .ok_or_else(|| {
            candle_core::Error::Msg(format!(
                "Dimension out of range (expected to be in range of [{}, {}], but got {dim})",
                -(rank as isize),
                rank as isize - 1
            ))
        })
}

/// `x - max(x)` along `dim`, the maximum detached (it cancels in the result and its gradient).
fn shifted(x: &Tensor, dim: usize) -> candle_core::Result<Tensor> {
    x.broadcast_sub(&x.max_keepdim(dim)?.detach())
}

/// PyTorch's `F.softmax(x, dim)`.
pub fn softmax(x: &Tensor, dim: isize) -> candle_core::Result<Tensor> {
    let dim = resolve(dim, x.rank())?;
    let e = shifted(x, dim)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(dim)?)
}

/// PyTorch's `F.log_softmax(x, dim)`.
pub fn log_softmax(x: &Tensor, dim: isize) -> candle_core::Result<Tensor> {
    let dim = resolve(dim, x.rank())?;
    let s = shifted(x, dim)?;
    s.broadcast_sub(&s.exp()?.sum_keepdim(dim)?.log()?)
}

/// PyTorch's `reduction=` of a loss: the mean (the default), the sum, or one loss per element.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// `'mean'`.
    #[default]
    Mean,
    /// `'sum'`.
    Sum,
    /// `'none'`: the element-wise losses.
    None,
}

impl Reduction {
    fn apply(self, losses: Tensor) -> candle_core::Result<Tensor> {
        match self {
            Reduction::Mean => losses.mean_all(),
            Reduction::Sum => losses.sum_all(),
            Reduction::None => Ok(losses),
        }
    }
}

/// `1.0` where `mask`, else `0.0`, in `like`'s dtype.
fn as_float(mask: &Tensor, like: &Tensor) -> candle_core::Result<Tensor> {
    mask.to_dtype(like.dtype())
}

/// `sign(x)` as PyTorch has it (0 at 0), detached.
fn sign(x: &Tensor) -> candle_core::Result<Tensor> {
    let x = x.detach();
    as_float(&x.gt(0.0)?, &x)? - as_float(&x.lt(0.0)?, &x)?
}

/// `|x|` with PyTorch's gradient: `sign(x)`, 0 at 0.
fn abs(x: &Tensor) -> candle_core::Result<Tensor> {
    x.mul(&sign(x)?)
}

/// PyTorch's `F.mse_loss(input, target, reduction)`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use modcore::nn::functional::{mse_loss, Reduction};
/// let x = Tensor::new(&[1f32, 2., 4., 3.], &Device::Cpu)?;
/// let y = Tensor::new(&[1f32, 0., 0., 3.], &Device::Cpu)?;
/// assert_eq!(mse_loss(&x, &y, Reduction::Mean)?.to_scalar::<f32>()?, 5.0);
/// assert_eq!(mse_loss(&x, &y, Reduction::Sum)?.to_scalar::<f32>()?, 20.0);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn mse_loss(
    input: &Tensor,
    target: &Tensor,
    reduction: Reduction,
) -> candle_core::Result<Tensor> {
    reduction.apply(input.sub(target)?.sqr()?)
}

/// PyTorch's `F.l1_loss(input, target, reduction)`.
pub fn l1_loss(
    input: &Tensor,
    target: &Tensor,
    reduction: Reduction,
) -> candle_core::Result<Tensor> {
    reduction.apply(abs(&input.sub(target)?)?)
}

/// PyTorch's `F.smooth_l1_loss(input, target, reduction, beta)`: `0.5 d² / beta` where
/// `|d| < beta`, `|d| - 0.5 beta` elsewhere; `beta = 0` is the L1 loss.
pub fn smooth_l1_loss(
    input: &Tensor,
    target: &Tensor,
    beta: f64,
    reduction: Reduction,
) -> candle_core::Result<Tensor> {
    let d = input.sub(target)?;
    let distance = abs(&d)?;
    if beta == 0.0 {
        return reduction.apply(distance);
    }
    let quadratic = d.sqr()?.affine(0.5 / beta, 0.0)?;
    let linear = distance.affine(1.0, -0.5 * beta)?;
    reduction.apply(
        distance
            .detach()
            .lt(beta)?
            .where_cond(&quadratic, &linear)?,
    )
}

/// PyTorch's `F.binary_cross_entropy_with_logits(input, target, weight, pos_weight=pos_weight,
/// reduction=reduction)`, computed without overflow for any logit:
/// `(1 - y) x + (1 + (pos_weight - 1) y) (log(1 + exp(-|x|)) + max(-x, 0))`, times `weight`.
pub fn binary_cross_entropy_with_logits(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    pos_weight: Option<&Tensor>,
    reduction: Reduction,
) -> candle_core::Result<Tensor> {
    let softplus_neg = (abs(input)?.neg()?.exp()? + 1.0)?
        .log()?
        .add(&input.neg()?.maximum(0.0)?)?;
    let log_weight = match pos_weight {
        Some(pw) => target.broadcast_mul(&(pw - 1.0)?)?.affine(1.0, 1.0)?,
        None => target.ones_like()?,
    };
    let mut losses = target
        .affine(-1.0, 1.0)?
        .mul(input)?
        .add(&log_weight.mul(&softplus_neg)?)?;
    if let Some(w) = weight {
        losses = losses.broadcast_mul(w)?;
    }
    reduction.apply(losses)
}

/// The options of [`nll_loss_with`] and [`cross_entropy_with`]: PyTorch's keyword arguments.
#[derive(Clone, Debug)]
pub struct ClassLossOptions {
    /// `weight=`: one weight per class.
    pub weight: Option<Tensor>,
    /// `ignore_index=` (-100 by default): targets of this class contribute nothing, and are not
    /// counted in the mean.
    pub ignore_index: i64,
    /// `label_smoothing=` (cross entropy only).
    pub label_smoothing: f64,
    /// `reduction=`.
    pub reduction: Reduction,
}

impl Default for ClassLossOptions {
    fn default() -> Self {
        ClassLossOptions {
            weight: None,
            ignore_index: -100,
            label_smoothing: 0.0,
            reduction: Reduction::Mean,
        }
    }
}

/// PyTorch's `F.nll_loss(log_probs, target, weight, ignore_index=…, reduction=…)` for
/// `log_probs` (N, C) and integer `target` (N,): the mean is weighted, over the targets not
/// ignored.
pub fn nll_loss_with(
    log_probs: &Tensor,
    target: &Tensor,
    options: &ClassLossOptions,
) -> candle_core::Result<Tensor> {
    let (picked, weights, _) = picked_log_probs(log_probs, target, options)?;
    let losses = picked.mul(&weights)?.neg()?;
    weighted_reduce(losses, &weights, options.reduction)
}

/// `log_probs[i, target_i]`, the weight of each row (its class's, 0 where ignored), and 1 for
/// each row not ignored.
fn picked_log_probs(
    log_probs: &Tensor,
    target: &Tensor,
    options: &ClassLossOptions,
) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let target = target.to_dtype(DType::I64)?;
    let kept = target.ne(options.ignore_index as f64)?;
    let safe = kept
        .where_cond(&target, &target.zeros_like()?)?
        .to_dtype(DType::U32)?;
    let picked = log_probs.gather(&safe.unsqueeze(1)?, 1)?.squeeze(1)?;
    let class_weight = match &options.weight {
        Some(w) => w.index_select(&safe, 0)?.to_dtype(log_probs.dtype())?,
        None => picked.ones_like()?.detach(),
    };
    let kept = as_float(&kept, log_probs)?;
    let weights = class_weight.mul(&kept)?.detach();
    Ok((picked, weights, kept))
}

/// Sums, weighted means or returns per-row `losses`.
fn weighted_reduce(
    losses: Tensor,
    weights: &Tensor,
    reduction: Reduction,
) -> candle_core::Result<Tensor> {
    match reduction {
        Reduction::Mean => losses.sum_all()?.div(&weights.sum_all()?),
        other => other.apply(losses),
    }
}

/// PyTorch's `F.cross_entropy(logits, target, weight, ignore_index=…, reduction=…,
/// label_smoothing=…)` for `logits` (N, C) and integer `target` (N,): the negative
/// log-likelihood of [`log_softmax`], mixed with the uniform distribution's by
/// `label_smoothing` as PyTorch mixes them (weighted, and normalised like the weighted mean).
pub fn cross_entropy_with(
    logits: &Tensor,
    target: &Tensor,
    options: &ClassLossOptions,
) -> candle_core::Result<Tensor> {
    let log_probs = log_softmax(logits, -1)?;
    let (picked, weights, kept) = picked_log_probs(&log_probs, target, options)?;
    let nll = weighted_reduce(picked.mul(&weights)?.neg()?, &weights, options.reduction)?;
    let eps = options.label_smoothing;
    if eps == 0.0 {
        return Ok(nll);
    }
    let classes = log_probs.dim(1)?;
    let per_class = match &options.weight {
        Some(w) => log_probs.broadcast_mul(&w.to_dtype(log_probs.dtype())?.unsqueeze(0)?)?,
        None => log_probs.clone(),
    };
    let smooth = per_class.sum(1)?.neg()?.mul(&kept)?;
    let smooth = match options.reduction {
        Reduction::Mean => smooth.sum_all()?.div(&weights.sum_all()?)?,
        other => other.apply(smooth)?,
    };
    nll.affine(1.0 - eps, 0.0)?
        .add(&smooth.affine(eps / classes as f64, 0.0)?)
}
