//! Normalisation: [`BatchNorm1d`], [`BatchNorm2d`], [`LayerNorm`], [`GroupNorm`],
//! [`InstanceNorm2d`] and [`RMSNorm`].

use candle_core::{DType, Tensor};

use super::{py_bool, py_float, py_tuple, Factory};
use crate::{Buffer, Forward, ForwardResult, Module, ModuleCore, Parameter, StateDict};

/// What the two batch norms share: PyTorch's `_BatchNorm` forward.
struct BatchNormParts<'a> {
    weight: Option<&'a Parameter<Tensor>>,
    bias: Option<&'a Parameter<Tensor>>,
    running_mean: Option<&'a Buffer<Tensor>>,
    running_var: Option<&'a Buffer<Tensor>>,
    num_batches_tracked: Option<&'a Buffer<Tensor>>,
    eps: f64,
    momentum: Option<f64>,
    training: bool,
}

impl BatchNormParts<'_> {
    fn forward(&self, x: &Tensor) -> ForwardResult<Tensor> {
        let channels = x.dim(1)?;
        let reduce: Vec<usize> = (0..x.rank()).filter(|&d| d != 1).collect();
        let mut along = vec![1; x.rank()];
        along[1] = channels;
        let tracked = (self.running_mean, self.running_var);
        let (mean, var) = match tracked {
            (Some(rm), Some(rv)) if !self.training => (
                rm.tensor().reshape(along.clone())?,
                rv.tensor().reshape(along.clone())?,
            ),
            _ => {
                let mean = x.mean_keepdim(reduce.clone())?;
                let var = x.broadcast_sub(&mean)?.sqr()?.mean_keepdim(reduce)?;
                if let ((Some(rm), Some(rv)), true) = (tracked, self.training) {
                    self.update_running(rm, rv, &mean, &var, x.elem_count() / channels)?;
                }
                (mean, var)
            }
        };
        let mut y = x
            .broadcast_sub(&mean)?
            .broadcast_div(&(var + self.eps)?.sqrt()?)?;
        if let Some(w) = self.weight {
            y = y.broadcast_mul(&w.tensor().reshape(along.clone())?)?;
        }
        if let Some(b) = self.bias {
            y = y.broadcast_add(&b.tensor().reshape(along)?)?;
        }
        Ok(y)
    }

    /// PyTorch's running-statistics update: momentum (or a cumulative average without one),
    /// the unbiased batch variance, and one more batch counted.
    fn update_running(
        &self,
        rm: &Buffer<Tensor>,
        rv: &Buffer<Tensor>,
        mean: &Tensor,
        var: &Tensor,
        n: usize,
    ) -> ForwardResult<()> {
        let mut factor = self.momentum.unwrap_or(0.0);
        if let Some(counter) = self.num_batches_tracked {
            let current = counter.tensor();
            let count = current.to_vec0::<i64>()? + 1;
            counter.set_tensor(Tensor::new(count, current.device())?);
            if self.momentum.is_none() {
                factor = 1.0 / count as f64;
            }
        }
        // The statistics are detached: a running mean never holds a training step's graph.
        let (mean, var) = (mean.detach(), var.detach());
        let unbiased = (var.flatten_all()? * (n as f64 / (n.max(2) - 1) as f64))?;
        let (old_mean, old_var) = (rm.tensor(), rv.tensor());
        let new_mean = ((&old_mean * (1.0 - factor))?
            + (mean.flatten_all()?.to_dtype(old_mean.dtype())? * factor)?)?;
        let new_var =
            ((&old_var * (1.0 - factor))? + (unbiased.to_dtype(old_var.dtype())? * factor)?)?;
        rm.set_tensor(new_mean);
        rv.set_tensor(new_var);
        Ok(())
    }
}

/// Fills in `num_batches_tracked` for state dicts from before version 2 (PyTorch's
/// `_BatchNorm._load_from_state_dict`).
fn add_num_batches_tracked<T: crate::Tensor>(
    sd: &mut StateDict<T>,
    prefix: &str,
    version: Option<u32>,
) {
    let key = format!("{prefix}num_batches_tracked");
    if version.is_none_or(|v| v < 2) && !sd.contains_key(&key) {
        if let Ok(zero) = T::from_bytes(crate::DType::I64, &[], &0i64.to_le_bytes()) {
            sd.insert(key, zero);
        }
    }
}

macro_rules! batch_norm {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(crate::Module)]
        #[module(crate = crate, version = 2, migrate = $name::migrate, extra_repr = $name::describe)]
        pub struct $name {
            core: ModuleCore,
            /// γ, `None` without `affine`.
            pub weight: Option<Parameter<Tensor>>,
            /// β, `None` without `affine`.
            pub bias: Option<Parameter<Tensor>>,
            /// The running mean, `None` without `track_running_stats`.
            pub running_mean: Option<Buffer<Tensor>>,
            /// The running (unbiased) variance.
            pub running_var: Option<Buffer<Tensor>>,
            /// The number of training batches seen (int64).
            pub num_batches_tracked: Option<Buffer<Tensor>>,
            #[module(skip)]
            num_features: usize,
            #[module(skip)]
            eps: f64,
            #[module(skip)]
            momentum: Option<f64>,
        }

        impl $name {
            /// PyTorch's defaults: `eps=1e-05, momentum=0.1, affine=True, track_running_stats=True`,
            /// on the CPU in float32.
            pub fn new(num_features: usize) -> candle_core::Result<Self> {
                Self::with_options(num_features, 1e-5, Some(0.1), true, true, &Factory::default())
            }

            /// Every argument of PyTorch's constructor, `device` and `dtype` in `factory`
            /// (`num_batches_tracked` is int64 whatever the dtype).
            pub fn with_options(
                num_features: usize,
                eps: f64,
                momentum: Option<f64>,
                affine: bool,
                track_running_stats: bool,
                factory: &Factory,
            ) -> candle_core::Result<Self> {
                let n = [num_features];
                let (weight, bias) = if affine {
                    (Some(Parameter::new(factory.ones(&n)?)), Some(Parameter::new(factory.zeros(&n)?)))
                } else {
                    (None, None)
                };
                let (running_mean, running_var, num_batches_tracked) = if track_running_stats {
                    (
                        Some(Buffer::new(factory.zeros(&n)?)),
                        Some(Buffer::new(factory.ones(&n)?)),
                        Some(Buffer::new(Tensor::zeros((), DType::I64, &factory.device)?)),
                    )
                } else {
                    (None, None, None)
                };
                Ok($name {
                    core: ModuleCore::new(),
                    weight,
                    bias,
                    running_mean,
                    running_var,
                    num_batches_tracked,
                    num_features,
                    eps,
                    momentum,
                })
            }

            fn migrate<T: crate::Tensor>(&self, sd: &mut StateDict<T>, prefix: &str, version: Option<u32>) {
                add_num_batches_tracked(sd, prefix, version)
            }

            fn describe(&self) -> String {
                format!(
                    "{}, eps={}, momentum={}, affine={}, bias={}, track_running_stats={}",
                    self.num_features,
                    py_float(self.eps),
                    self.momentum.map_or("None".to_owned(), py_float),
                    py_bool(self.weight.is_some()),
                    py_bool(self.bias.is_some()),
                    py_bool(self.running_mean.is_some())
                )
            }
        }

        impl Forward<Tensor, Tensor> for $name {
            type Output = Tensor;

            fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
                BatchNormParts {
                    weight: self.weight.as_ref(),
                    bias: self.bias.as_ref(),
                    running_mean: self.running_mean.as_ref(),
                    running_var: self.running_var.as_ref(),
                    num_batches_tracked: self.num_batches_tracked.as_ref(),
                    eps: self.eps,
                    momentum: self.momentum,
                    training: self.is_training(),
                }
                .forward(&x)
            }
        }
    };
}

batch_norm!(
    /// PyTorch's `nn.BatchNorm1d` over `(N, C)` or `(N, C, L)`: batch statistics (and running
    /// statistics updated) in training, running statistics in eval. State-dict version 2.
    BatchNorm1d
);
batch_norm!(
    /// PyTorch's `nn.BatchNorm2d` over `(N, C, H, W)`; see [`BatchNorm1d`].
    ///
    /// ```
    /// use modcore::nn::BatchNorm2d;
    /// use modcore::Module;
    /// let bn = BatchNorm2d::new(64)?;
    /// assert_eq!(bn.repr(), "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)");
    /// assert_eq!(bn.state_dict().keys().collect::<Vec<_>>(), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    BatchNorm2d
);

/// PyTorch's `nn.LayerNorm(normalized_shape, eps=1e-05, elementwise_affine=True)`: normalises
/// over the last dimensions with the biased variance.
#[derive(crate::Module)]
#[module(crate = crate, extra_repr = LayerNorm::describe)]
pub struct LayerNorm {
    core: ModuleCore,
    /// γ, of `normalized_shape`.
    pub weight: Option<Parameter<Tensor>>,
    /// β, of `normalized_shape`.
    pub bias: Option<Parameter<Tensor>>,
    #[module(skip)]
    normalized_shape: Vec<usize>,
    #[module(skip)]
    eps: f64,
}

impl LayerNorm {
    /// PyTorch's defaults over a last dimension of `size`, on the CPU in float32.
    pub fn new(size: usize) -> candle_core::Result<Self> {
        Self::with_options(&[size], 1e-5, true, true, &Factory::default())
    }

    /// Every option of PyTorch's constructor, `device` and `dtype` in `factory` (`bias` only
    /// counts with `elementwise_affine`, as in PyTorch).
    pub fn with_options(
        normalized_shape: &[usize],
        eps: f64,
        elementwise_affine: bool,
        bias: bool,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        let (weight, bias) = affine_parameters(
            normalized_shape,
            elementwise_affine,
            elementwise_affine && bias,
            factory,
        )?;
        Ok(LayerNorm {
            core: ModuleCore::new(),
            weight,
            bias,
            normalized_shape: normalized_shape.to_vec(),
            eps,
        })
    }

    fn describe(&self) -> String {
        format!(
            "{}, eps={}, elementwise_affine={}, bias={}",
            py_tuple(&self.normalized_shape),
            py_float(self.eps),
            py_bool(self.weight.is_some()),
            py_bool(self.bias.is_some())
        )
    }
}

impl Forward<Tensor, Tensor> for LayerNorm {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let rank = x.rank();
        let dims: Vec<usize> = (rank - self.normalized_shape.len()..rank).collect();
        let mean = x.mean_keepdim(dims.clone())?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(dims)?;
        let mut y = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        if let Some(w) = &self.weight {
            y = y.broadcast_mul(&w.tensor())?;
        }
        if let Some(b) = &self.bias {
            y = y.broadcast_add(&b.tensor())?;
        }
        Ok(y)
    }
}

/// An optional `weight` and `bias`.
type Affine = (Option<Parameter<Tensor>>, Option<Parameter<Tensor>>);

/// `weight` and `bias` of `shape` (ones and zeros) where asked for.
fn affine_parameters(
    shape: &[usize],
    weight: bool,
    bias: bool,
    factory: &Factory,
) -> candle_core::Result<Affine> {
    let weight = weight
        .then(|| factory.ones(shape).map(Parameter::new))
        .transpose()?;
    let bias = bias
        .then(|| factory.zeros(shape).map(Parameter::new))
        .transpose()?;
    Ok((weight, bias))
}

/// PyTorch's `nn.GroupNorm(num_groups, num_channels, eps=1e-05, affine=True, bias=True)`: each
/// sample's channels split into `num_groups` groups, each normalised over its channels and
/// positions (biased variance), then scaled and shifted per channel.
///
/// ```
/// use modcore::nn::GroupNorm;
/// use modcore::Module;
/// let gn = GroupNorm::new(2, 4)?;
/// assert_eq!(gn.repr(), "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)");
/// assert!(GroupNorm::new(3, 4).is_err());
/// # Ok::<(), candle_core::Error>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate, extra_repr = GroupNorm::describe)]
pub struct GroupNorm {
    core: ModuleCore,
    /// γ, (num_channels,).
    pub weight: Option<Parameter<Tensor>>,
    /// β, (num_channels,).
    pub bias: Option<Parameter<Tensor>>,
    #[module(skip)]
    num_groups: usize,
    #[module(skip)]
    num_channels: usize,
    #[module(skip)]
    eps: f64,
}

impl GroupNorm {
    /// PyTorch's defaults, on the CPU in float32.
    pub fn new(num_groups: usize, num_channels: usize) -> candle_core::Result<Self> {
        Self::with_options(
            num_groups,
            num_channels,
            1e-5,
            true,
            true,
            &Factory::default(),
        )
    }

    /// Every argument of PyTorch's constructor (`bias` counts only with `affine`), `device` and
    /// `dtype` in `factory`. Fails with PyTorch's message if the channels do not split evenly.
    pub fn with_options(
        num_groups: usize,
        num_channels: usize,
        eps: f64,
        affine: bool,
        bias: bool,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        if num_groups == 0 || num_channels % num_groups != 0 {
            return Err(candle_core::Error::Msg(
                "num_channels must be divisible by num_groups".to_owned(),
            ));
        }
        let (weight, bias) = affine_parameters(&[num_channels], affine, affine && bias, factory)?;
        Ok(GroupNorm {
            core: ModuleCore::new(),
            weight,
            bias,
            num_groups,
            num_channels,
            eps,
        })
    }

    fn describe(&self) -> String {
        format!(
            "{}, {}, eps={}, affine={}, bias={}",
            self.num_groups,
            self.num_channels,
            py_float(self.eps),
            py_bool(self.weight.is_some()),
            py_bool(self.bias.is_some())
        )
    }
}

/// `p` shaped `(C, 1, …)` to broadcast over dimension 1 of a tensor of `rank`.
fn per_channel(p: &Parameter<Tensor>, rank: usize) -> candle_core::Result<Tensor> {
    let t = p.tensor();
    let mut shape = vec![t.elem_count()];
    shape.resize(rank.max(2) - 1, 1);
    t.reshape(shape)
}

/// `x` (N, C, …) normalised within each of `groups` groups of channels per sample (biased
/// variance), then scaled and shifted per channel.
fn group_normalise(
    x: &Tensor,
    groups: usize,
    eps: f64,
    (weight, bias): (&Option<Parameter<Tensor>>, &Option<Parameter<Tensor>>),
) -> candle_core::Result<Tensor> {
    let dims = x.dims().to_vec();
    let grouped = x.reshape((dims[0], groups, ()))?;
    let mean = grouped.mean_keepdim(2)?;
    let centered = grouped.broadcast_sub(&mean)?;
    let var = centered.sqr()?.mean_keepdim(2)?;
    let mut y = centered
        .broadcast_div(&(var + eps)?.sqrt()?)?
        .reshape(dims.as_slice())?;
    if let Some(w) = weight {
        y = y.broadcast_mul(&per_channel(w, dims.len())?)?;
    }
    if let Some(b) = bias {
        y = y.broadcast_add(&per_channel(b, dims.len())?)?;
    }
    Ok(y)
}

/// Refuses an input that is not (N, `channels`, …).
fn expect_channels(layer: &str, x: &Tensor, channels: usize) -> ForwardResult<()> {
    let dims = x.dims();
    if dims.len() < 2 || dims[1] != channels {
        return Err(format!("{layer} expects (N, {channels}, …) input, got {dims:?}").into());
    }
    Ok(())
}

impl Forward<Tensor, Tensor> for GroupNorm {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let name = format!("GroupNorm({}, {})", self.num_groups, self.num_channels);
        expect_channels(&name, &x, self.num_channels)?;
        let affine = (&self.weight, &self.bias);
        Ok(group_normalise(&x, self.num_groups, self.eps, affine)?)
    }
}

/// PyTorch's `nn.InstanceNorm2d(num_features, eps=1e-05, momentum=0.1, affine=False,
/// track_running_stats=False)`: each sample's channels normalised over their positions. With
/// `track_running_stats`, training also moves `running_mean` and `running_var` by the batch's
/// mean instance statistics (unbiased variance), and eval normalises with them, as
/// `F.instance_norm` does; `num_batches_tracked` is kept for the state dict but, as in PyTorch,
/// never counts.
///
/// ```
/// use modcore::nn::InstanceNorm2d;
/// use modcore::Module;
/// let norm = InstanceNorm2d::new(3)?;
/// assert_eq!(norm.repr(), "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)");
/// # Ok::<(), candle_core::Error>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate, extra_repr = InstanceNorm2d::describe)]
pub struct InstanceNorm2d {
    core: ModuleCore,
    /// γ, (num_features,), with `affine`.
    pub weight: Option<Parameter<Tensor>>,
    /// β, (num_features,), with `affine`.
    pub bias: Option<Parameter<Tensor>>,
    /// (num_features,), with `track_running_stats`.
    pub running_mean: Option<Buffer<Tensor>>,
    /// (num_features,), with `track_running_stats`.
    pub running_var: Option<Buffer<Tensor>>,
    /// int64 scalar, with `track_running_stats`.
    pub num_batches_tracked: Option<Buffer<Tensor>>,
    #[module(skip)]
    num_features: usize,
    #[module(skip)]
    eps: f64,
    #[module(skip)]
    momentum: f64,
}

impl InstanceNorm2d {
    /// PyTorch's defaults (no affine parameters, no running statistics), on the CPU in float32.
    pub fn new(num_features: usize) -> candle_core::Result<Self> {
        Self::with_options(num_features, 1e-5, 0.1, false, false, &Factory::default())
    }

    /// Every argument of PyTorch's constructor, `device` and `dtype` in `factory`.
    pub fn with_options(
        num_features: usize,
        eps: f64,
        momentum: f64,
        affine: bool,
        track_running_stats: bool,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        let (weight, bias) = affine_parameters(&[num_features], affine, affine, factory)?;
        let (running_mean, running_var, num_batches_tracked) = match track_running_stats {
            true => (
                Some(Buffer::new(factory.zeros(&[num_features])?)),
                Some(Buffer::new(factory.ones(&[num_features])?)),
                Some(Buffer::new(Tensor::new(0i64, &factory.device)?)),
            ),
            false => (None, None, None),
        };
        Ok(InstanceNorm2d {
            core: ModuleCore::new(),
            weight,
            bias,
            running_mean,
            running_var,
            num_batches_tracked,
            num_features,
            eps,
            momentum,
        })
    }

    /// PyTorch's `_NormBase.extra_repr`.
    fn describe(&self) -> String {
        format!(
            "{}, eps={}, momentum={}, affine={}, bias={}, track_running_stats={}",
            self.num_features,
            py_float(self.eps),
            py_float(self.momentum),
            py_bool(self.weight.is_some()),
            py_bool(self.bias.is_some()),
            py_bool(self.running_mean.is_some())
        )
    }

    /// `running = (1 - momentum) * running + momentum * batch mean of the instance statistics`.
    fn update_running(
        &self,
        x: &Tensor,
        rm: &Buffer<Tensor>,
        rv: &Buffer<Tensor>,
    ) -> ForwardResult<()> {
        let (n, c) = (x.dim(0)?, x.dim(1)?);
        let per_instance = x.detach().reshape((n, c, ()))?;
        let count = per_instance.dim(2)?;
        let mean = per_instance.mean_keepdim(2)?;
        let var = per_instance.broadcast_sub(&mean)?.sqr()?.mean(2)?;
        let unbiased = (var * (count as f64 / (count.max(2) - 1) as f64))?;
        let m = self.momentum;
        for (buffer, batch) in [(rm, mean.squeeze(2)?), (rv, unbiased)] {
            let old = buffer.tensor();
            let batch = batch.mean(0)?.to_dtype(old.dtype())?;
            buffer.set_tensor(((&old * (1.0 - m))? + (batch * m)?)?);
        }
        Ok(())
    }
}

impl Forward<Tensor, Tensor> for InstanceNorm2d {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let name = format!("InstanceNorm2d({})", self.num_features);
        expect_channels(&name, &x, self.num_features)?;
        let tracked = (&self.running_mean, &self.running_var);
        if let (Some(rm), Some(rv), false) = (tracked.0, tracked.1, self.is_training()) {
            let parts = BatchNormParts {
                weight: self.weight.as_ref(),
                bias: self.bias.as_ref(),
                running_mean: Some(rm),
                running_var: Some(rv),
                num_batches_tracked: None,
                eps: self.eps,
                momentum: Some(self.momentum),
                training: false,
            };
            return parts.forward(&x);
        }
        if let (Some(rm), Some(rv)) = tracked {
            self.update_running(&x, rm, rv)?;
        }
        let affine = (&self.weight, &self.bias);
        Ok(group_normalise(&x, self.num_features, self.eps, affine)?)
    }
}

/// PyTorch's `nn.RMSNorm(normalized_shape, eps=None, elementwise_affine=True)`: `x / sqrt(mean(x²)
/// + eps) * weight` over the last dimensions; with `eps` `None`, the machine epsilon of the
/// input's dtype (`torch.finfo(x.dtype).eps`).
///
/// ```
/// use modcore::nn::RMSNorm;
/// use modcore::Module;
/// let norm = RMSNorm::new(4)?;
/// assert_eq!(norm.repr(), "RMSNorm((4,), eps=None, elementwise_affine=True)");
/// # Ok::<(), candle_core::Error>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate, extra_repr = RMSNorm::describe)]
pub struct RMSNorm {
    core: ModuleCore,
    /// The scale, of `normalized_shape`.
    pub weight: Option<Parameter<Tensor>>,
    #[module(skip)]
    normalized_shape: Vec<usize>,
    #[module(skip)]
    eps: Option<f64>,
}

impl RMSNorm {
    /// PyTorch's defaults over a last dimension of `size`, on the CPU in float32.
    pub fn new(size: usize) -> candle_core::Result<Self> {
        Self::with_options(&[size], None, true, &Factory::default())
    }

    /// Every argument of PyTorch's constructor, `device` and `dtype` in `factory`.
    pub fn with_options(
        normalized_shape: &[usize],
        eps: Option<f64>,
        elementwise_affine: bool,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        let (weight, _) = affine_parameters(normalized_shape, elementwise_affine, false, factory)?;
        Ok(RMSNorm {
            core: ModuleCore::new(),
            weight,
            normalized_shape: normalized_shape.to_vec(),
            eps,
        })
    }

    fn describe(&self) -> String {
        format!(
            "{}, eps={}, elementwise_affine={}",
            py_tuple(&self.normalized_shape),
            self.eps.map_or_else(|| "None".to_owned(), py_float),
            py_bool(self.weight.is_some())
        )
    }
}

/// `torch.finfo(dtype).eps`.
fn machine_epsilon(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => f64::EPSILON,
        DType::F16 => 0.0009765625,
        DType::BF16 => 0.0078125,
        _ => f64::from(f32::EPSILON),
    }
}

impl Forward<Tensor, Tensor> for RMSNorm {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let rank = x.rank();
        let dims: Vec<usize> = (rank.saturating_sub(self.normalized_shape.len())..rank).collect();
        let eps = self.eps.unwrap_or_else(|| machine_epsilon(x.dtype()));
        let rms = (x.sqr()?.mean_keepdim(dims)? + eps)?.sqrt()?;
        let mut y = x.broadcast_div(&rms)?;
        if let Some(w) = &self.weight {
            y = y.broadcast_mul(&w.tensor())?;
        }
        Ok(y)
    }
}
