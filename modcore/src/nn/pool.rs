//! Pooling: [`MaxPool2d`], [`AvgPool2d`], [`AdaptiveAvgPool1d`] and [`AdaptiveAvgPool2d`].

use candle_core::{DType, Tensor};

use super::py_bool;
use crate::{Forward, ForwardResult, ModuleCore};

/// PyTorch's `nn.MaxPool2d(kernel_size, stride, padding)` (dilation 1, floor mode), padding with
/// `-inf` as PyTorch does.
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = MaxPool2d::describe)]
pub struct MaxPool2d {
    core: ModuleCore,
    #[module(skip)]
    kernel_size: usize,
    #[module(skip)]
    stride: usize,
    #[module(skip)]
    padding: usize,
}

impl MaxPool2d {
    /// Square windows of `kernel_size`, moved by `stride`, over an input padded by `padding`.
    pub fn new(kernel_size: usize, stride: usize, padding: usize) -> Self {
        MaxPool2d {
            core: ModuleCore::new(),
            kernel_size,
            stride,
            padding,
        }
    }

    fn describe(&self) -> String {
        format!(
            "kernel_size={}, stride={}, padding={}, dilation=1, ceil_mode={}",
            self.kernel_size,
            self.stride,
            self.padding,
            py_bool(false)
        )
    }
}

/// Pads dimension `dim` with `before` and `after` elements of `value`.
fn pad_with(
    x: &Tensor,
    dim: usize,
    (before, after): (usize, usize),
    value: f32,
) -> candle_core::Result<Tensor> {
    if before + after == 0 {
        return Ok(x.clone());
    }
    let pad = |n: usize| -> candle_core::Result<Tensor> {
        let mut shape = x.dims().to_vec();
        shape[dim] = n;
        Tensor::full(value, shape, x.device())?.to_dtype(x.dtype())
    };
    let (head, tail) = (pad(before)?, pad(after)?);
    Tensor::cat(&[&head, x, &tail], dim)
}

/// Every `k`x`k` window, moved by `s`, of `x` (N, C, H, W) padded by `pad` elements of `value`:
/// (N, C, OH, OW, k*k), built from strided views, so that every element's gradient is exact
/// (candle's own pooling kernels have no gradient for overlapping windows).
fn windows(x: &Tensor, k: usize, s: usize, pad: usize, value: f32) -> ForwardResult<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    if k == 0 || s == 0 {
        return Err(format!("kernel_size ({k}) and stride ({s}) must be greater than zero").into());
    }
    let (h, w) = (h + 2 * pad, w + 2 * pad);
    if h < k || w < k {
        return Err(format!("input {h}x{w} (padded) is smaller than the kernel {k}").into());
    }
    let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
    // PyTorch's padding, and at the end room for `oh` strides from every offset of the window.
    let (end_h, end_w) = (
        (oh * s + k).saturating_sub(h),
        (ow * s + k).saturating_sub(w),
    );
    let x = pad_with(x, 2, (pad, pad + end_h), value)?;
    let x = pad_with(&x, 3, (pad, pad + end_w), value)?;
    let mut views = Vec::with_capacity(k * k);
    for di in 0..k {
        let rows = x
            .narrow(2, di, oh * s)?
            .reshape((n, c, oh, s, ()))?
            .narrow(3, 0, 1)?
            .squeeze(3)?;
        for dj in 0..k {
            let view = rows
                .narrow(3, dj, ow * s)?
                .reshape((n, c, oh, ow, s))?
                .narrow(4, 0, 1)?;
            views.push(view);
        }
    }
    Ok(Tensor::cat(&views, 4)?)
}

impl Forward<Tensor, Tensor> for MaxPool2d {
    type Output = Tensor;

    /// The maximum over every window, built from strided views of the padded input: candle's
    /// own `max_pool2d` scales the gradient of a window's maximum by the fraction of the window
    /// holding it (a quarter, for 2x2 windows) and has no gradient for overlapping windows. Here
    /// the first maximum of each window (in row-major order) is selected and gets the whole
    /// gradient, as in PyTorch, ties included (equal values are common: a background region
    /// gives the same activation everywhere).
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let windows = windows(
            &x,
            self.kernel_size,
            self.stride,
            self.padding,
            f32::NEG_INFINITY,
        )
        .map_err(|e| format!("MaxPool2d: {e}"))?;
        let detached = windows.detach();
        let is_max = detached
            .broadcast_eq(&detached.max_keepdim(4)?)?
            .to_dtype(DType::F32)?;
        let first = (&is_max * is_max.cumsum(4)?.eq(1.0)?.to_dtype(DType::F32)?)?;
        let zeros = windows.zeros_like()?;
        Ok(first.ne(0.0)?.where_cond(&windows, &zeros)?.sum(4)?)
    }
}

/// PyTorch's `nn.AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False,
/// count_include_pad=True)`: the mean over every window, the zero padding counted unless
/// `count_include_pad` is off. (`ceil_mode` and `divisor_override` are not offered.)
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = AvgPool2d::describe)]
pub struct AvgPool2d {
    core: ModuleCore,
    #[module(skip)]
    kernel_size: usize,
    #[module(skip)]
    stride: usize,
    #[module(skip)]
    padding: usize,
    #[module(skip)]
    count_include_pad: bool,
}

impl AvgPool2d {
    /// Square windows of `kernel_size`, moved by `stride` (PyTorch's `stride=None` is
    /// `kernel_size`), over an input zero-padded by `padding`.
    pub fn new(kernel_size: usize, stride: usize, padding: usize) -> Self {
        AvgPool2d {
            core: ModuleCore::new(),
            kernel_size,
            stride,
            padding,
            count_include_pad: true,
        }
    }

    /// The same pooling with `count_include_pad=False`: each window's mean over the input
    /// elements it covers.
    pub fn without_padding_in_count(self) -> Self {
        AvgPool2d {
            count_include_pad: false,
            ..self
        }
    }

    fn describe(&self) -> String {
        format!(
            "kernel_size={}, stride={}, padding={}",
            self.kernel_size, self.stride, self.padding
        )
    }
}

impl Forward<Tensor, Tensor> for AvgPool2d {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let (k, s, pad) = (self.kernel_size, self.stride, self.padding);
        let sums = windows(&x, k, s, pad, 0.0)
            .map_err(|e| format!("AvgPool2d: {e}"))?
            .sum(4)?;
        if self.count_include_pad {
            return Ok(sums.affine(1.0 / (k * k) as f64, 0.0)?);
        }
        let ones = x.ones_like()?.detach();
        let counts = windows(&ones, k, s, pad, 0.0)?.sum(4)?;
        Ok(sums.div(&counts)?)
    }
}

/// PyTorch's `nn.AdaptiveAvgPool1d(output_size)`: averages (N, C, L) or (C, L) over the windows
/// PyTorch computes, `[floor(i*L/out), ceil((i+1)*L/out))`.
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = AdaptiveAvgPool1d::describe)]
pub struct AdaptiveAvgPool1d {
    core: ModuleCore,
    #[module(skip)]
    output_size: usize,
}

impl AdaptiveAvgPool1d {
    /// Pools the last dimension to `output_size`.
    pub fn new(output_size: usize) -> Self {
        AdaptiveAvgPool1d {
            core: ModuleCore::new(),
            output_size,
        }
    }

    fn describe(&self) -> String {
        format!("output_size={}", self.output_size)
    }
}

impl Forward<Tensor, Tensor> for AdaptiveAvgPool1d {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let last = x
            .rank()
            .checked_sub(1)
            .ok_or("AdaptiveAvgPool1d: a scalar input")?;
        let size = x.dim(last)?;
        let cells = (0..self.output_size)
            .map(|i| {
                let (start, len) = window(i, self.output_size, size);
                x.narrow(last, start, len)?.mean_keepdim(last)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Tensor::cat(&cells, last)?)
    }
}

/// PyTorch's `nn.AdaptiveAvgPool2d(output_size)`: averages over the windows PyTorch computes,
/// `[floor(i*H/out), ceil((i+1)*H/out))`.
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = AdaptiveAvgPool2d::describe)]
pub struct AdaptiveAvgPool2d {
    core: ModuleCore,
    #[module(skip)]
    output_size: (usize, usize),
}

impl AdaptiveAvgPool2d {
    /// Pools to `output_size` (height, width).
    pub fn new(output_size: (usize, usize)) -> Self {
        AdaptiveAvgPool2d {
            core: ModuleCore::new(),
            output_size,
        }
    }

    fn describe(&self) -> String {
        format!(
            "output_size=({}, {})",
            self.output_size.0, self.output_size.1
        )
    }
}

/// The input window of output cell `i` of `out` over a dimension of `size`.
fn window(i: usize, out: usize, size: usize) -> (usize, usize) {
    let start = i * size / out;
    let end = ((i + 1) * size).div_ceil(out);
    (start, end - start)
}

impl Forward<Tensor, Tensor> for AdaptiveAvgPool2d {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let (h, w) = (x.dim(2)?, x.dim(3)?);
        let (oh, ow) = self.output_size;
        let mut rows = Vec::with_capacity(oh);
        for i in 0..oh {
            let (r0, rn) = window(i, oh, h);
            let mut cells = Vec::with_capacity(ow);
            for j in 0..ow {
                let (c0, cn) = window(j, ow, w);
                cells.push(
                    x.narrow(2, r0, rn)?
                        .narrow(3, c0, cn)?
                        .mean_keepdim((2, 3))?,
                );
            }
            rows.push(Tensor::cat(&cells, 3)?);
        }
        Ok(Tensor::cat(&rows, 2)?)
    }
}
