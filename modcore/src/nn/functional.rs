//! `torch.nn.functional`: the losses training needs.

use candle_core::{DType, Tensor, D};

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
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let log_sum_exp = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let log_probs = shifted.broadcast_sub(&log_sum_exp)?;
    let classes = target.to_dtype(DType::U32)?.unsqueeze(1)?;
    log_probs.gather(&classes, 1)?.mean_all()?.neg()
}
