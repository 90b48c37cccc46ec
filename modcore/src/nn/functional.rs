//! `torch.nn.functional`: softmax, log-softmax and the losses training needs.

use candle_core::{DType, Tensor};

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
