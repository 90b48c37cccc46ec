//! PyTorch's `F.conv1d`, `F.conv2d`, `F.conv_transpose1d` and `F.conv_transpose2d`, lowered onto
//! candle's `conv2d`, the one convolution whose gradient candle gets right in every case (in candle
//! 0.11 its `conv1d` input gradient was wrong even at stride 1: `tests/convs.rs` found it):
//! - a 1-D convolution is a 2-D one over inputs one row high;
//! - candle's 2-D convolution takes one stride and one dilation for both dimensions. A stride that
//!   differs per dimension runs at stride 1 and keeps every `s`-th output row and column; a
//!   dilation that differs is written into the kernel (zeros between its taps).
//! - candle has no gradient for `conv_transpose1d` and no groups for `conv_transpose2d`. A
//!   transposed convolution is the ordinary convolution of its input spread by the stride (zeros
//!   between elements) and padded by `dilation * (k - 1) - padding`, with the kernel flipped and
//!   its in/out channels swapped per group: PyTorch's definition, computed by ops that all have
//!   gradients.

use candle_core::Tensor;

/// An `int or (int, int)` argument of a 2-D layer, as PyTorch takes `kernel_size`, `stride`,
/// `padding` and `dilation`: `3` is `(3, 3)`.
///
/// ```
/// use modcore::nn::Pair;
/// assert_eq!(Pair::from(3), Pair(3, 3));
/// assert_eq!(Pair::from((1, 2)), Pair(1, 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair(pub usize, pub usize);

impl From<usize> for Pair {
    fn from(n: usize) -> Self {
        Pair(n, n)
    }
}

impl From<(usize, usize)> for Pair {
    fn from((a, b): (usize, usize)) -> Self {
        Pair(a, b)
    }
}

impl From<[usize; 2]> for Pair {
    fn from([a, b]: [usize; 2]) -> Self {
        Pair(a, b)
    }
}

impl Pair {
    pub(crate) fn to_vec(self) -> Vec<usize> {
        vec![self.0, self.1]
    }
}

/// `F.conv2d(x, weight, bias, stride, padding, dilation, groups)` on `(N, C, H, W)` inputs, with
/// `weight` `(out, in/groups, kh, kw)`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use modcore::nn::functional::conv2d;
/// let x = Tensor::ones((1, 1, 5, 5), candle_core::DType::F32, &Device::Cpu)?;
/// let w = Tensor::ones((1, 1, 3, 3), candle_core::DType::F32, &Device::Cpu)?;
/// let y = conv2d(&x, &w, None, (1, 2), 1, 1, 1)?;
/// assert_eq!(y.dims(), [1, 1, 5, 3]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: impl Into<Pair>,
    padding: impl Into<Pair>,
    dilation: impl Into<Pair>,
    groups: usize,
) -> candle_core::Result<Tensor> {
    let (stride, padding, dilation) = (stride.into(), padding.into(), dilation.into());
    check_positive("stride", &[stride.0, stride.1])?;
    check_positive("dilation", &[dilation.0, dilation.1])?;
    check_groups(groups)?;
    let (x, pad) = if padding.0 == padding.1 {
        (x.clone(), padding.0)
    } else {
        let x = x.pad_with_zeros(2, padding.0, padding.0)?;
        (x.pad_with_zeros(3, padding.1, padding.1)?, 0)
    };
    let (weight, dilation) = if dilation.0 == dilation.1 {
        (weight.clone(), dilation.0)
    } else {
        (spread(&spread(weight, 2, dilation.0)?, 3, dilation.1)?, 1)
    };
    let y = if stride.0 == stride.1 {
        x.conv2d(&weight, pad, stride.0, dilation, groups)?
    } else {
        let y = x.conv2d(&weight, pad, 1, dilation, groups)?;
        every_nth(&every_nth(&y, 2, stride.0)?, 3, stride.1)?
    };
    add_channel_bias(y, bias)
}

/// `F.conv1d(x, weight, bias, stride, padding, dilation, groups)` on `(N, C, L)` inputs, with
/// `weight` `(out, in/groups, k)`.
pub fn conv1d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
) -> candle_core::Result<Tensor> {
    let y = conv2d(
        &x.unsqueeze(2)?,
        &weight.unsqueeze(2)?,
        bias,
        (1, stride),
        (0, padding),
        (1, dilation),
        groups,
    )?;
    y.squeeze(2)
}

/// `F.conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation)` on
/// `(N, C, H, W)` inputs, with `weight` `(in, out/groups, kh, kw)`: the output is
/// `(H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1` high (and so wide).
///
/// ```
/// use candle_core::{Device, Tensor};
/// use modcore::nn::functional::conv_transpose2d;
/// let x = Tensor::ones((1, 2, 4, 4), candle_core::DType::F32, &Device::Cpu)?;
/// let w = Tensor::ones((2, 3, 3, 3), candle_core::DType::F32, &Device::Cpu)?;
/// let y = conv_transpose2d(&x, &w, None, 2, 1, 1, 1, 1)?;
/// assert_eq!(y.dims(), [1, 3, 8, 8]);
/// # Ok::<(), candle_core::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: impl Into<Pair>,
    padding: impl Into<Pair>,
    output_padding: impl Into<Pair>,
    groups: usize,
    dilation: impl Into<Pair>,
) -> candle_core::Result<Tensor> {
    let (stride, padding) = (stride.into(), padding.into());
    let (output_padding, dilation) = (output_padding.into(), dilation.into());
    check_positive("stride", &[stride.0, stride.1])?;
    check_positive("dilation", &[dilation.0, dilation.1])?;
    check_groups(groups)?;
    let (c_in, c_out_per_group, kh, kw) = weight.dims4()?;
    let input_channels = x.dim(1)?;
    if input_channels != c_in || c_in % groups != 0 {
        candle_core::bail!(
            "conv_transpose2d: the input has {input_channels} channels, the weight {c_in} (which must divide by groups={groups})"
        );
    }
    let dims = [
        (2, stride.0, padding.0, output_padding.0, dilation.0, kh),
        (3, stride.1, padding.1, output_padding.1, dilation.1, kw),
    ];
    let mut x = x.clone();
    for (dim, s, p, op, d, k) in dims {
        if op >= s && op >= d {
            candle_core::bail!(
                "output padding must be smaller than either stride or dilation, but got output_padding_height: {}, output_padding_width: {}, stride_height: {}, stride_width: {}, dilation_height: {}, dilation_width: {}",
                output_padding.0, output_padding.1, stride.0, stride.1, dilation.0, dilation.1
            );
        }
        let reach = (d * (k - 1)) as isize - p as isize;
        x = pad_or_crop(&spread(&x, dim, s)?, dim, reach, reach + op as isize)?;
    }
    // (in, out/g, kh, kw) flipped, as (out, in/g, kh, kw) per group.
    let flipped = reversed(&reversed(weight, 2)?, 3)?;
    let kernel = flipped
        .reshape((groups, c_in / groups, c_out_per_group, kh, kw))?
        .transpose(1, 2)?
        .reshape((groups * c_out_per_group, c_in / groups, kh, kw))?;
    let y = conv2d(&x, &kernel, None, 1, 0, dilation, groups)?;
    add_channel_bias(y, bias)
}

/// `F.conv_transpose1d(x, weight, bias, stride, padding, output_padding, groups, dilation)` on
/// `(N, C, L)` inputs, with `weight` `(in, out/groups, k)`.
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose1d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    padding: usize,
    output_padding: usize,
    groups: usize,
    dilation: usize,
) -> candle_core::Result<Tensor> {
    let y = conv_transpose2d(
        &x.unsqueeze(2)?,
        &weight.unsqueeze(2)?,
        bias,
        (1, stride),
        (0, padding),
        (0, output_padding),
        groups,
        (1, dilation),
    )?;
    y.squeeze(2)
}

fn check_positive(what: &str, values: &[usize]) -> candle_core::Result<()> {
    if values.contains(&0) {
        candle_core::bail!("non-positive {what} is not supported");
    }
    Ok(())
}

fn check_groups(groups: usize) -> candle_core::Result<()> {
    if groups == 0 {
        candle_core::bail!("non-positive groups is not supported");
    }
    Ok(())
}

/// `y + bias` with the bias along dimension 1.
fn add_channel_bias(y: Tensor, bias: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let Some(bias) = bias else { return Ok(y) };
    let mut shape = vec![1; y.rank()];
    shape[1] = bias.elem_count();
    y.broadcast_add(&bias.reshape(shape)?)
}

/// `t` with `step - 1` zeros between consecutive elements along `dim`.
fn spread(t: &Tensor, dim: usize, step: usize) -> candle_core::Result<Tensor> {
    let len = t.dim(dim)?;
    if step == 1 || len == 0 {
        return Ok(t.clone());
    }
    let mut zeros_shape = t.dims().to_vec();
    zeros_shape.insert(dim + 1, step - 1);
    let zeros = Tensor::zeros(zeros_shape, t.dtype(), t.device())?;
    let mut merged = t.dims().to_vec();
    merged[dim] = len * step;
    Tensor::cat(&[&t.unsqueeze(dim + 1)?, &zeros], dim + 1)?
        .reshape(merged)?
        .narrow(dim, 0, (len - 1) * step + 1)
}

/// Every `step`-th element of `t` along `dim`, from the first.
fn every_nth(t: &Tensor, dim: usize, step: usize) -> candle_core::Result<Tensor> {
    let len = t.dim(dim)? as u32;
    let indices: Vec<u32> = (0..len).step_by(step).collect();
    let count = indices.len();
    t.contiguous()?
        .index_select(&Tensor::from_vec(indices, count, t.device())?, dim)
}

/// `t` reversed along `dim`.
fn reversed(t: &Tensor, dim: usize) -> candle_core::Result<Tensor> {
    let len = t.dim(dim)?;
    let indices: Vec<u32> = (0..len as u32).rev().collect();
    t.contiguous()?
        .index_select(&Tensor::from_vec(indices, len, t.device())?, dim)
}

/// `t` padded with zeros along `dim` by `before` and `after` elements, or cut by as many where
/// they are negative.
fn pad_or_crop(t: &Tensor, dim: usize, before: isize, after: isize) -> candle_core::Result<Tensor> {
    let len = t.dim(dim)? as isize;
    let (cut_before, cut_after) = ((-before).max(0), (-after).max(0));
    if cut_before + cut_after > len {
        candle_core::bail!(
            "conv_transpose: padding leaves no output along dimension {dim} (input {len} long)"
        );
    }
    let t = t.narrow(
        dim,
        cut_before as usize,
        (len - cut_before - cut_after) as usize,
    )?;
    t.pad_with_zeros(dim, before.max(0) as usize, after.max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn arange(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor::arange(0f32, n as f32, &Device::Cpu)
            .unwrap()
            .reshape(shape)
            .unwrap()
    }

    #[test]
    fn spreading_and_taking_every_nth_invert_each_other() {
        let t = arange(&[2, 3]);
        let s = spread(&t, 1, 3).unwrap();
        assert_eq!(
            s.to_vec2::<f32>().unwrap(),
            [[0., 0., 0., 1., 0., 0., 2.], [3., 0., 0., 4., 0., 0., 5.]]
        );
        assert_eq!(
            every_nth(&s, 1, 3).unwrap().to_vec2::<f32>().unwrap(),
            t.to_vec2::<f32>().unwrap()
        );
    }

    #[test]
    fn padding_and_cropping() {
        let t = arange(&[1, 4]);
        let y = pad_or_crop(&t, 1, -1, 2).unwrap();
        assert_eq!(y.to_vec2::<f32>().unwrap(), [[1., 2., 3., 0., 0.]]);
        assert!(pad_or_crop(&t, 1, -3, -2).is_err());
    }
}
