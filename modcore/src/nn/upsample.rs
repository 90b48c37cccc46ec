//! [`Upsample`]: PyTorch's `nn.Upsample`, and [`interpolate`], its `F.interpolate`, for the
//! nearest, linear (1-D) and bilinear (2-D) modes. Every output element is gathered from the
//! input by index with PyTorch's source-index arithmetic (done in the input's float type, as
//! PyTorch's CPU kernels do), so any size or scale factor works and has gradients.

use candle_core::{DType, Tensor};

use super::py_float;
use crate::{Forward, ForwardResult, ModuleCore};

/// PyTorch's `mode=` of [`Upsample`] and [`interpolate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpsampleMode {
    /// `'nearest'`: each output element copies the input element its position falls on.
    Nearest,
    /// `'linear'`, for `(N, C, L)` inputs.
    Linear {
        /// PyTorch's `align_corners` (`None` there is `false`).
        align_corners: bool,
    },
    /// `'bilinear'`, for `(N, C, H, W)` inputs.
    Bilinear {
        /// PyTorch's `align_corners` (`None` there is `false`).
        align_corners: bool,
    },
}

impl UpsampleMode {
    fn name(self) -> &'static str {
        match self {
            UpsampleMode::Nearest => "nearest",
            UpsampleMode::Linear { .. } => "linear",
            UpsampleMode::Bilinear { .. } => "bilinear",
        }
    }
}

/// The output's spatial size, given as PyTorch's `size=` or `scale_factor=`: one value for every
/// spatial dimension, or one per dimension.
#[derive(Clone, Debug, PartialEq)]
pub enum Resize {
    /// `size=`: the output size.
    Size(Vec<usize>),
    /// `scale_factor=`: each input size is multiplied by it and rounded down, and source
    /// positions are `dst / scale_factor` (PyTorch with `recompute_scale_factor=None`).
    ScaleFactor(Vec<f64>),
}

/// PyTorch's `nn.Upsample(size | scale_factor, mode, align_corners)`.
///
/// ```
/// use modcore::nn::{Upsample, UpsampleMode};
/// use modcore::{Module, ModuleHooks};
/// let up = Upsample::with_scale_factor(&[2.0], UpsampleMode::Nearest);
/// assert_eq!(up.repr(), "Upsample(scale_factor=2.0, mode='nearest')");
/// let x = candle_core::Tensor::zeros((1, 3, 4, 5), candle_core::DType::F32, &candle_core::Device::Cpu)?;
/// assert_eq!(up.call(x)?.dims(), [1, 3, 8, 10]);
/// let up = Upsample::with_size(&[6, 7], UpsampleMode::Bilinear { align_corners: false });
/// assert_eq!(up.repr(), "Upsample(size=(6, 7), mode='bilinear')");
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate, tensor = Tensor, extra_repr = Upsample::describe)]
pub struct Upsample {
    core: ModuleCore,
    #[module(skip)]
    resize: Resize,
    #[module(skip)]
    mode: UpsampleMode,
}

impl Upsample {
    /// `nn.Upsample(scale_factor=…, mode=…)`: one factor for every spatial dimension, or one
    /// per dimension.
    pub fn with_scale_factor(scale_factor: &[f64], mode: UpsampleMode) -> Self {
        Self::new(Resize::ScaleFactor(scale_factor.to_vec()), mode)
    }

    /// `nn.Upsample(size=…, mode=…)`: one size for every spatial dimension, or one per
    /// dimension.
    pub fn with_size(size: &[usize], mode: UpsampleMode) -> Self {
        Self::new(Resize::Size(size.to_vec()), mode)
    }

    /// `nn.Upsample` resizing as `resize` says.
    pub fn new(resize: Resize, mode: UpsampleMode) -> Self {
        Upsample {
            core: ModuleCore::new(),
            resize,
            mode,
        }
    }

    /// PyTorch's `Upsample.extra_repr`: an int or float when one value was given, a tuple
    /// otherwise.
    fn describe(&self) -> String {
        let info = match &self.resize {
            Resize::ScaleFactor(f) => {
                let items: Vec<String> = f.iter().map(|&x| py_float(x)).collect();
                format!("scale_factor={}", python_value(&items))
            }
            Resize::Size(s) => {
                let items: Vec<String> = s.iter().map(usize::to_string).collect();
                format!("size={}", python_value(&items))
            }
        };
        format!("{info}, mode='{}'", self.mode.name())
    }
}

/// One value bare, several as a tuple.
fn python_value(items: &[String]) -> String {
    match items {
        [one] => one.clone(),
        _ => format!("({})", items.join(", ")),
    }
}

impl Forward<Tensor, Tensor> for Upsample {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(interpolate(&x, &self.resize, self.mode)?)
    }
}

/// PyTorch's `F.interpolate(x, size | scale_factor, mode, align_corners)` for `(N, C, L)` and
/// `(N, C, H, W)` inputs.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use modcore::nn::functional::interpolate;
/// use modcore::nn::{Resize, UpsampleMode};
/// let x = Tensor::new(&[[[1f32, 3.]]], &Device::Cpu)?;
/// let y = interpolate(&x, &Resize::Size(vec![4]), UpsampleMode::Linear { align_corners: true })?;
/// assert_eq!(y.to_vec3::<f32>()?, [[[1.0, 1.6666666, 2.3333333, 3.0]]]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn interpolate(x: &Tensor, resize: &Resize, mode: UpsampleMode) -> candle_core::Result<Tensor> {
    let spatial = x.rank().saturating_sub(2);
    let wanted = match mode {
        UpsampleMode::Nearest => spatial == 1 || spatial == 2,
        UpsampleMode::Linear { .. } => spatial == 1,
        UpsampleMode::Bilinear { .. } => spatial == 2,
    };
    if !wanted {
        candle_core::bail!(
            "interpolate: mode '{}' does not take a {}-D input (shape {:?})",
            mode.name(),
            x.rank(),
            x.dims()
        );
    }
    let given = match resize {
        Resize::Size(s) => s.len(),
        Resize::ScaleFactor(f) => f.len(),
    };
    if given != 1 && given != spatial {
        candle_core::bail!(
            "interpolate: {given} sizes or scale factors for an input with {spatial} spatial dimensions"
        );
    }
    let mut y = x.clone();
    for i in 0..spatial {
        let dim = 2 + i;
        let input = x.dim(dim)?;
        let pick = |n: usize| if given == 1 { 0 } else { n };
        let (output, factor) = match resize {
            Resize::Size(s) => (s[pick(i)], None),
            Resize::ScaleFactor(f) => {
                let f = f[pick(i)];
                if !(f > 0.0 && f.is_finite()) {
                    candle_core::bail!("interpolate: scale factor {f} must be positive and finite");
                }
                ((input as f64 * f).floor() as usize, Some(f))
            }
        };
        if output == 0 || input == 0 {
            candle_core::bail!(
                "interpolate: input ({input}) and output ({output}) sizes must be greater than 0"
            );
        }
        let line = Line {
            input,
            output,
            factor,
            wide: x.dtype() == DType::F64,
        };
        y = match mode {
            UpsampleMode::Nearest => gather(&y, dim, &line.nearest())?,
            UpsampleMode::Linear { align_corners } | UpsampleMode::Bilinear { align_corners } => {
                let (first, second, weight) = line.linear(align_corners);
                let shape: Vec<usize> = (0..x.rank())
                    .map(|d| if d == dim { output } else { 1 })
                    .collect();
                let w1 = Tensor::from_vec(weight, output, x.device())?
                    .reshape(shape)?
                    .to_dtype(x.dtype())?;
                let w0 = w1.affine(-1.0, 1.0)?;
                let a = gather(&y, dim, &first)?.broadcast_mul(&w0)?;
                (a + gather(&y, dim, &second)?.broadcast_mul(&w1)?)?
            }
        };
    }
    Ok(y)
}

/// One spatial dimension being resized.
struct Line {
    input: usize,
    output: usize,
    /// The scale factor the user gave, if they gave one.
    factor: Option<f64>,
    /// Index arithmetic in float64 (a float64 input) rather than float32.
    wide: bool,
}

impl Line {
    /// PyTorch's `compute_scales_value`: `1 / scale_factor` if one was given, `in / out`
    /// otherwise.
    fn scale(&self) -> f64 {
        match self.factor {
            Some(f) => 1.0 / f,
            None => self.input as f64 / self.output as f64,
        }
    }

    /// Rounded as PyTorch's kernels round: to float32 unless the input is float64.
    fn round(&self, x: f64) -> f64 {
        if self.wide {
            x
        } else {
            x as f32 as f64
        }
    }

    /// PyTorch's `nearest_idx`: `min(floor(dst * scale), in - 1)`.
    fn nearest(&self) -> Vec<u32> {
        let scale = self.round(self.scale());
        (0..self.output)
            .map(|dst| {
                let src = self.round(dst as f64 * scale).floor() as usize;
                src.min(self.input - 1) as u32
            })
            .collect()
    }

    /// PyTorch's linear source indices and weights: for each output element the two input
    /// elements it lies between and the weight of the second.
    fn linear(&self, align_corners: bool) -> (Vec<u32>, Vec<u32>, Vec<f64>) {
        let scale = if align_corners {
            match self.output {
                1 => 0.0,
                out => (self.input - 1) as f64 / (out - 1) as f64,
            }
        } else {
            self.scale()
        };
        let scale = self.round(scale);
        let (mut first, mut second, mut weight) = (vec![], vec![], vec![]);
        for dst in 0..self.output {
            let src = if align_corners {
                self.round(scale * dst as f64)
            } else {
                self.round(self.round(scale * (dst as f64 + 0.5)) - 0.5)
                    .max(0.0)
            };
            let i0 = (src as usize).min(self.input - 1);
            let i1 = if i0 < self.input - 1 { i0 + 1 } else { i0 };
            first.push(i0 as u32);
            second.push(i1 as u32);
            weight.push(self.round(src - i0 as f64).clamp(0.0, 1.0));
        }
        (first, second, weight)
    }
}

fn gather(x: &Tensor, dim: usize, indices: &[u32]) -> candle_core::Result<Tensor> {
    x.contiguous()?
        .index_select(&Tensor::new(indices, x.device())?, dim)
}
