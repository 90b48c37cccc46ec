//! [`Conv2d`]: PyTorch's `nn.Conv2d`.

use candle_core::Tensor;

use super::{py_tuple, Factory};
use crate::{Forward, ForwardResult, ModuleCore, Parameter};

/// A 2-D convolution over `(N, C, H, W)` inputs: PyTorch's `nn.Conv2d` with zero padding.
/// `weight` is `(out, in/groups, kh, kw)`; weights and bias are initialised uniformly in
/// ±1/√fan_in as PyTorch does. Padding may differ between height and width; stride and dilation
/// must be the same for both (a limit of candle's convolution), which every torchvision model
/// satisfies.
///
/// ```
/// use modcore::nn::Conv2d;
/// use modcore::Module;
/// let conv = Conv2d::new(3, 64, (7, 7), (2, 2), (3, 3), 1, false)?;
/// assert_eq!(conv.repr(), "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)");
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate, extra_repr = Conv2d::describe)]
pub struct Conv2d {
    core: ModuleCore,
    /// (out_channels, in_channels / groups, kernel_h, kernel_w).
    pub weight: Parameter<Tensor>,
    /// (out_channels,), or `None` without bias.
    pub bias: Option<Parameter<Tensor>>,
    #[module(skip)]
    stride: (usize, usize),
    #[module(skip)]
    padding: (usize, usize),
    #[module(skip)]
    dilation: usize,
    #[module(skip)]
    groups: usize,
}

impl Conv2d {
    /// A convolution with PyTorch's arguments (no dilation), on the CPU in float32.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        groups: usize,
        bias: bool,
    ) -> candle_core::Result<Self> {
        Self::with_options(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            1,
            groups,
            bias,
            &Factory::default(),
        )
    }

    /// Every argument of PyTorch's constructor (zero padding; `dilation` the same for both
    /// dimensions), `device` and `dtype` in `factory`.
    #[allow(clippy::too_many_arguments)]
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: usize,
        groups: usize,
        bias: bool,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        if stride.0 != stride.1 {
            candle_core::bail!("Conv2d: stride {stride:?} differs between height and width, which candle does not support");
        }
        if groups == 0 || in_channels % groups != 0 || out_channels % groups != 0 {
            candle_core::bail!("Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by groups ({groups})");
        }
        let fan_in = in_channels / groups * kernel_size.0 * kernel_size.1;
        let bound = 1.0 / (fan_in as f64).sqrt();
        let shape = [
            out_channels,
            in_channels / groups,
            kernel_size.0,
            kernel_size.1,
        ];
        Ok(Conv2d {
            core: ModuleCore::new(),
            weight: Parameter::new(factory.uniform(&shape, bound)?),
            bias: if bias {
                Some(Parameter::new(factory.uniform(&[out_channels], bound)?))
            } else {
                None
            },
            stride,
            padding,
            dilation,
            groups,
        })
    }

    /// PyTorch's `Conv2d.extra_repr`: the non-default settings only.
    fn describe(&self) -> String {
        let shape = self.weight.shape();
        let mut text = format!(
            "{}, {}, kernel_size={}, stride={}",
            shape[1] * self.groups,
            shape[0],
            py_tuple(&[shape[2], shape[3]]),
            py_tuple(&[self.stride.0, self.stride.1])
        );
        if self.padding != (0, 0) {
            text.push_str(&format!(
                ", padding={}",
                py_tuple(&[self.padding.0, self.padding.1])
            ));
        }
        if self.dilation != 1 {
            text.push_str(&format!(
                ", dilation={}",
                py_tuple(&[self.dilation, self.dilation])
            ));
        }
        if self.groups != 1 {
            text.push_str(&format!(", groups={}", self.groups));
        }
        if self.bias.is_none() {
            text.push_str(", bias=False");
        }
        text
    }
}

impl Forward<Tensor, Tensor> for Conv2d {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let (ph, pw) = self.padding;
        let (x, padding) = if ph == pw {
            (x, ph)
        } else {
            (x.pad_with_zeros(2, ph, ph)?.pad_with_zeros(3, pw, pw)?, 0)
        };
        let y = x.conv2d(
            &self.weight.tensor(),
            padding,
            self.stride.0,
            self.dilation,
            self.groups,
        )?;
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(&b.tensor().reshape((1, (), 1, 1))?)?,
            None => y,
        })
    }
}
