//! [`Conv1d`] and [`Conv2d`]: PyTorch's `nn.Conv1d` and `nn.Conv2d`, and what they share with
//! the transposed convolutions ([`ConvSettings`]).

use candle_core::Tensor;

use super::convolution::{conv1d, conv2d, Pair};
use super::{py_tuple, Factory};
use crate::{Forward, ForwardResult, ModuleCore, Parameter};

/// Declares a convolution layer `$name`: a `#[derive(Module)]` struct with `weight`, an optional
/// `bias` and its [`ConvSettings`], built by `from_settings` and printed by `describe`. The doc
/// comments at the head of the invocation document the struct.
macro_rules! convolution_layer {
    ($(#[$doc:meta])* $name:ident, $weight_doc:literal) => {
        $(#[$doc])*
        #[derive(crate::Module)]
        #[module(crate = crate, extra_repr = $name::describe)]
        pub struct $name {
            core: ModuleCore,
            #[doc = $weight_doc]
            pub weight: Parameter<Tensor>,
            /// (out_channels,), or `None` without bias.
            pub bias: Option<Parameter<Tensor>>,
            #[module(skip)]
            settings: ConvSettings,
        }

        impl $name {
            fn from_settings(
                settings: ConvSettings,
                bias: bool,
                factory: &Factory,
            ) -> candle_core::Result<Self> {
                let (weight, bias) = settings.parameters(bias, factory)?;
                Ok($name {
                    core: ModuleCore::new(),
                    weight,
                    bias,
                    settings,
                })
            }

            fn describe(&self) -> String {
                self.settings.describe(self.bias.is_some())
            }
        }
    };
}
pub(crate) use convolution_layer;

convolution_layer! {
    /// A 2-D convolution over `(N, C, H, W)` inputs: PyTorch's `nn.Conv2d` with zero padding.
    /// `weight` is `(out, in/groups, kh, kw)`; weights and bias are initialised uniformly in
    /// ±1/√fan_in as PyTorch does. Kernel size, stride, padding and dilation are each an int or a
    /// pair ([`Pair`]), and may differ between height and width.
    ///
    /// ```
    /// use modcore::nn::Conv2d;
    /// use modcore::Module;
    /// let conv = Conv2d::new(3, 64, 7, 2, 3, 1, false)?;
    /// assert_eq!(conv.repr(), "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)");
    /// let conv = Conv2d::new(3, 8, (3, 1), (2, 1), (1, 0), 1, true)?;
    /// assert_eq!(conv.repr(), "Conv2d(3, 8, kernel_size=(3, 1), stride=(2, 1), padding=(1, 0))");
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    Conv2d,
    "(out_channels, in_channels / groups, kernel_h, kernel_w)."
}

impl Conv2d {
    /// A convolution with PyTorch's arguments (no dilation), on the CPU in float32.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Pair>,
        stride: impl Into<Pair>,
        padding: impl Into<Pair>,
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

    /// Every argument of PyTorch's constructor (zero padding), `device` and `dtype` in
    /// `factory`.
    #[allow(clippy::too_many_arguments)]
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Pair>,
        stride: impl Into<Pair>,
        padding: impl Into<Pair>,
        dilation: impl Into<Pair>,
        groups: usize,
        bias: bool,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        let settings = ConvSettings {
            name: "Conv2d",
            in_channels,
            out_channels,
            kernel_size: kernel_size.into().to_vec(),
            stride: stride.into().to_vec(),
            padding: padding.into().to_vec(),
            dilation: dilation.into().to_vec(),
            output_padding: vec![0, 0],
            groups,
            transposed: false,
        };
        Self::from_settings(settings, bias, factory)
    }
}

impl Forward<Tensor, Tensor> for Conv2d {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let s = &self.settings;
        let bias = self.bias.as_ref().map(|b| b.tensor());
        Ok(conv2d(
            &x,
            &self.weight.tensor(),
            bias.as_ref(),
            pair(&s.stride),
            pair(&s.padding),
            pair(&s.dilation),
            s.groups,
        )?)
    }
}

convolution_layer! {
    /// A 1-D convolution over `(N, C, L)` inputs: PyTorch's `nn.Conv1d` with zero padding.
    /// `weight` is `(out, in/groups, k)`, initialised as PyTorch does.
    ///
    /// ```
    /// use modcore::nn::Conv1d;
    /// use modcore::Module;
    /// let conv = Conv1d::new(4, 8, 3, 1, 1, 1, true)?;
    /// assert_eq!(conv.repr(), "Conv1d(4, 8, kernel_size=(3,), stride=(1,), padding=(1,))");
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    Conv1d,
    "(out_channels, in_channels / groups, kernel_size)."
}

impl Conv1d {
    /// A convolution with PyTorch's arguments (no dilation), on the CPU in float32.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        stride: usize,
        padding: usize,
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

    /// Every argument of PyTorch's constructor (zero padding), `device` and `dtype` in
    /// `factory`.
    #[allow(clippy::too_many_arguments)]
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
        bias: bool,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        let settings = ConvSettings {
            name: "Conv1d",
            in_channels,
            out_channels,
            kernel_size: vec![kernel_size],
            stride: vec![stride],
            padding: vec![padding],
            dilation: vec![dilation],
            output_padding: vec![0],
            groups,
            transposed: false,
        };
        Self::from_settings(settings, bias, factory)
    }
}

impl Forward<Tensor, Tensor> for Conv1d {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let s = &self.settings;
        let bias = self.bias.as_ref().map(|b| b.tensor());
        Ok(conv1d(
            &x,
            &self.weight.tensor(),
            bias.as_ref(),
            s.stride[0],
            s.padding[0],
            s.dilation[0],
            s.groups,
        )?)
    }
}

/// What PyTorch's `_ConvNd` keeps besides its parameters: one entry per spatial dimension in
/// each list.
#[derive(Clone, Debug)]
pub(crate) struct ConvSettings {
    pub(crate) name: &'static str,
    pub(crate) in_channels: usize,
    pub(crate) out_channels: usize,
    pub(crate) kernel_size: Vec<usize>,
    pub(crate) stride: Vec<usize>,
    pub(crate) padding: Vec<usize>,
    pub(crate) dilation: Vec<usize>,
    pub(crate) output_padding: Vec<usize>,
    pub(crate) groups: usize,
    pub(crate) transposed: bool,
}

impl ConvSettings {
    /// `weight` and `bias` as `_ConvNd.reset_parameters` makes them: uniform in ±1/√fan_in,
    /// where fan_in is `weight.size(1) * prod(kernel_size)` — `in/groups` for a convolution,
    /// `out/groups` for a transposed one.
    pub(crate) fn parameters(
        &self,
        bias: bool,
        factory: &Factory,
    ) -> candle_core::Result<(Parameter<Tensor>, Option<Parameter<Tensor>>)> {
        let (name, groups) = (self.name, self.groups);
        let (i, o) = (self.in_channels, self.out_channels);
        if groups == 0 || i % groups != 0 || o % groups != 0 {
            candle_core::bail!("{name}: in_channels ({i}) and out_channels ({o}) must be divisible by groups ({groups})");
        }
        let mut shape = if self.transposed {
            vec![i, o / groups]
        } else {
            vec![o, i / groups]
        };
        shape.extend(&self.kernel_size);
        let fan_in: usize = shape[1..].iter().product();
        let bound = 1.0 / (fan_in as f64).sqrt();
        let weight = Parameter::new(factory.uniform(&shape, bound)?);
        let bias = match bias {
            true => Some(Parameter::new(factory.uniform(&[o], bound)?)),
            false => None,
        };
        Ok((weight, bias))
    }

    /// PyTorch's `_ConvNd.extra_repr`: the non-default settings only.
    pub(crate) fn describe(&self, has_bias: bool) -> String {
        let mut text = format!(
            "{}, {}, kernel_size={}, stride={}",
            self.in_channels,
            self.out_channels,
            py_tuple(&self.kernel_size),
            py_tuple(&self.stride)
        );
        if self.padding.iter().any(|&p| p != 0) {
            text.push_str(&format!(", padding={}", py_tuple(&self.padding)));
        }
        if self.dilation.iter().any(|&d| d != 1) {
            text.push_str(&format!(", dilation={}", py_tuple(&self.dilation)));
        }
        if self.output_padding.iter().any(|&p| p != 0) {
            text.push_str(&format!(
                ", output_padding={}",
                py_tuple(&self.output_padding)
            ));
        }
        if self.groups != 1 {
            text.push_str(&format!(", groups={}", self.groups));
        }
        if !has_bias {
            text.push_str(", bias=False");
        }
        text
    }
}

/// The two entries of a 2-D setting.
pub(crate) fn pair(values: &[usize]) -> Pair {
    Pair(values[0], values[1])
}
