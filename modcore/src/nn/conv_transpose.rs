//! [`ConvTranspose1d`] and [`ConvTranspose2d`]: PyTorch's `nn.ConvTranspose1d` and
//! `nn.ConvTranspose2d`.

use candle_core::Tensor;

use super::conv::{convolution_layer, pair, ConvSettings};
use super::convolution::{conv_transpose1d, conv_transpose2d, Pair};
use super::Factory;
use crate::{Forward, ForwardResult, ModuleCore, Parameter};

convolution_layer! {
    /// A 2-D transposed convolution ("deconvolution") over `(N, C, H, W)` inputs: PyTorch's
    /// `nn.ConvTranspose2d`. `weight` is `(in, out/groups, kh, kw)`, initialised as PyTorch does
    /// (fan_in = `out/groups * kh * kw`). The output is
    /// `(H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1` high, and so wide.
    ///
    /// ```
    /// use modcore::nn::ConvTranspose2d;
    /// use modcore::{Module, ModuleHooks};
    /// let up = ConvTranspose2d::new(8, 4, 3, 2, 1, 1, 1, true)?;
    /// assert_eq!(up.repr(), "ConvTranspose2d(8, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))");
    /// let x = candle_core::Tensor::zeros((1, 8, 5, 5), candle_core::DType::F32, &candle_core::Device::Cpu)?;
    /// assert_eq!(up.call(x)?.dims(), [1, 4, 10, 10]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    ConvTranspose2d,
    "(in_channels, out_channels / groups, kernel_h, kernel_w)."
}

impl ConvTranspose2d {
    /// PyTorch's arguments in its order (no dilation), on the CPU in float32.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Pair>,
        stride: impl Into<Pair>,
        padding: impl Into<Pair>,
        output_padding: impl Into<Pair>,
        groups: usize,
        bias: bool,
    ) -> candle_core::Result<Self> {
        Self::with_options(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            output_padding,
            groups,
            bias,
            1,
            &Factory::default(),
        )
    }

    /// Every argument of PyTorch's constructor in its order (zero padding), `device` and `dtype`
    /// in `factory`.
    #[allow(clippy::too_many_arguments)]
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Pair>,
        stride: impl Into<Pair>,
        padding: impl Into<Pair>,
        output_padding: impl Into<Pair>,
        groups: usize,
        bias: bool,
        dilation: impl Into<Pair>,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        let settings = ConvSettings {
            name: "ConvTranspose2d",
            in_channels,
            out_channels,
            kernel_size: kernel_size.into().to_vec(),
            stride: stride.into().to_vec(),
            padding: padding.into().to_vec(),
            dilation: dilation.into().to_vec(),
            output_padding: output_padding.into().to_vec(),
            groups,
            transposed: true,
        };
        Self::from_settings(settings, bias, factory)
    }
}

impl Forward<Tensor, Tensor> for ConvTranspose2d {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let s = &self.settings;
        let bias = self.bias.as_ref().map(|b| b.tensor());
        Ok(conv_transpose2d(
            &x,
            &self.weight.tensor(),
            bias.as_ref(),
            pair(&s.stride),
            pair(&s.padding),
            pair(&s.output_padding),
            s.groups,
            pair(&s.dilation),
        )?)
    }
}

convolution_layer! {
    /// A 1-D transposed convolution over `(N, C, L)` inputs: PyTorch's `nn.ConvTranspose1d`.
    /// `weight` is `(in, out/groups, k)`.
    ///
    /// ```
    /// use modcore::nn::ConvTranspose1d;
    /// use modcore::Module;
    /// let up = ConvTranspose1d::new(4, 2, 4, 2, 1, 0, 1, false)?;
    /// assert_eq!(up.repr(), "ConvTranspose1d(4, 2, kernel_size=(4,), stride=(2,), padding=(1,), bias=False)");
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    ConvTranspose1d,
    "(in_channels, out_channels / groups, kernel_size)."
}

impl ConvTranspose1d {
    /// PyTorch's arguments in its order (no dilation), on the CPU in float32.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        stride: usize,
        padding: usize,
        output_padding: usize,
        groups: usize,
        bias: bool,
    ) -> candle_core::Result<Self> {
        Self::with_options(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            output_padding,
            groups,
            bias,
            1,
            &Factory::default(),
        )
    }

    /// Every argument of PyTorch's constructor in its order (zero padding), `device` and `dtype`
    /// in `factory`.
    #[allow(clippy::too_many_arguments)]
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        stride: usize,
        padding: usize,
        output_padding: usize,
        groups: usize,
        bias: bool,
        dilation: usize,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        let settings = ConvSettings {
            name: "ConvTranspose1d",
            in_channels,
            out_channels,
            kernel_size: vec![kernel_size],
            stride: vec![stride],
            padding: vec![padding],
            dilation: vec![dilation],
            output_padding: vec![output_padding],
            groups,
            transposed: true,
        };
        Self::from_settings(settings, bias, factory)
    }
}

impl Forward<Tensor, Tensor> for ConvTranspose1d {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let s = &self.settings;
        let bias = self.bias.as_ref().map(|b| b.tensor());
        Ok(conv_transpose1d(
            &x,
            &self.weight.tensor(),
            bias.as_ref(),
            s.stride[0],
            s.padding[0],
            s.output_padding[0],
            s.groups,
            s.dilation[0],
        )?)
    }
}
