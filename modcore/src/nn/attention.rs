//! [`MultiheadAttention`]: PyTorch's `nn.MultiheadAttention`, computed as
//! `F.multi_head_attention_forward` computes it.

use candle_core::{DType, Tensor};

use super::dropout::dropout;
use super::functional::softmax;
use super::linear::{linear, NonDynamicallyQuantizableLinear};
use super::Factory;
use crate::{ForwardKw, ForwardResult, Module, ModuleCore, Parameter};

/// PyTorch's `nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, add_bias_kv,
/// add_zero_attn, kdim, vdim, batch_first)`.
///
/// Its parameters are PyTorch's, under PyTorch's names: `in_proj_weight` `(3E, E)` when keys and
/// values have the query's width, otherwise `q_proj_weight`, `k_proj_weight` and `v_proj_weight`
/// (the others are registered as `None`, as PyTorch registers them); `in_proj_bias`, `bias_k`,
/// `bias_v`, and `out_proj`, a [`NonDynamicallyQuantizableLinear`]. They are initialised as
/// `_reset_parameters` does (Xavier-uniform projections, zero biases, Xavier-normal `bias_k`
/// and `bias_v`).
///
/// Called with `(query, key, value)` — `(L, N, E)`, `(N, L, E)` with `batch_first`, or unbatched
/// `(L, E)` — and [`AttentionOptions`] as keyword arguments, it returns the output and, with
/// `need_weights`, the attention weights `(N, L, S)` (averaged over heads) or `(N, H, L, S)`.
/// Masks follow PyTorch: an integer mask (candle has no bool) is `True` where attention is
/// *not* allowed; a float mask is added to the scores.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use modcore::nn::{AttentionOptions, MultiheadAttention};
/// use modcore::{Module, ModuleHooks};
/// let mha = MultiheadAttention::new(8, 2)?;
/// assert_eq!(mha.repr(), "MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)\n)");
/// let keys: Vec<String> = mha.state_dict().keys().map(String::from).collect();
/// assert_eq!(keys, ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]);
/// let x = Tensor::randn(0f32, 1., (5, 3, 8), &Device::Cpu)?;
/// let (y, weights) = mha.call_with_kwargs((x.clone(), x.clone(), x), AttentionOptions::default())?;
/// assert_eq!(y.dims(), [5, 3, 8]);
/// assert_eq!(weights.unwrap().dims(), [3, 5, 5]);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate)]
pub struct MultiheadAttention {
    core: ModuleCore,
    /// `(3 * embed_dim, embed_dim)`: the query, key and value projections stacked, when
    /// `kdim == vdim == embed_dim`.
    pub in_proj_weight: Option<Parameter<Tensor>>,
    /// `(embed_dim, embed_dim)`, when the projections are separate.
    pub q_proj_weight: Option<Parameter<Tensor>>,
    /// `(embed_dim, kdim)`, when the projections are separate.
    pub k_proj_weight: Option<Parameter<Tensor>>,
    /// `(embed_dim, vdim)`, when the projections are separate.
    pub v_proj_weight: Option<Parameter<Tensor>>,
    /// `(3 * embed_dim,)`, with `bias`.
    pub in_proj_bias: Option<Parameter<Tensor>>,
    /// `(1, 1, embed_dim)`, appended to the keys with `add_bias_kv`.
    pub bias_k: Option<Parameter<Tensor>>,
    /// `(1, 1, embed_dim)`, appended to the values with `add_bias_kv`.
    pub bias_v: Option<Parameter<Tensor>>,
    /// The output projection.
    pub out_proj: NonDynamicallyQuantizableLinear,
    #[module(skip)]
    settings: AttentionSettings,
}

#[derive(Clone, Copy, Debug)]
struct AttentionSettings {
    embed_dim: usize,
    num_heads: usize,
    dropout: f64,
    add_zero_attn: bool,
    batch_first: bool,
}

/// The keyword arguments of [`MultiheadAttention`]'s forward, with PyTorch's defaults
/// (`need_weights=True`, `average_attn_weights=True`, no masks).
#[derive(Clone, Debug)]
pub struct AttentionOptions {
    /// `(N, S)` (or `(S,)` unbatched): keys to ignore.
    pub key_padding_mask: Option<Tensor>,
    /// Whether to return the attention weights.
    pub need_weights: bool,
    /// `(L, S)` or `(N * num_heads, L, S)`.
    pub attn_mask: Option<Tensor>,
    /// Average the returned weights over the heads.
    pub average_attn_weights: bool,
}

impl Default for AttentionOptions {
    fn default() -> Self {
        AttentionOptions {
            key_padding_mask: None,
            need_weights: true,
            attn_mask: None,
            average_attn_weights: true,
        }
    }
}

/// Every option of PyTorch's `nn.MultiheadAttention` constructor besides `embed_dim` and
/// `num_heads`, with its defaults.
#[derive(Clone, Debug)]
pub struct AttentionConfig {
    /// Dropout on the attention weights in training (0.0).
    pub dropout: f64,
    /// Biases on the input and output projections (true).
    pub bias: bool,
    /// Learned `bias_k`, `bias_v` appended to keys and values (false).
    pub add_bias_kv: bool,
    /// A zero key and value appended (false).
    pub add_zero_attn: bool,
    /// The keys' width (`None`: `embed_dim`).
    pub kdim: Option<usize>,
    /// The values' width (`None`: `embed_dim`).
    pub vdim: Option<usize>,
    /// Inputs and outputs are `(N, L, E)` (false: `(L, N, E)`).
    pub batch_first: bool,
    /// `device=` and `dtype=`.
    pub factory: Factory,
}

impl Default for AttentionConfig {
    fn default() -> Self {
        AttentionConfig {
            dropout: 0.0,
            bias: true,
            add_bias_kv: false,
            add_zero_attn: false,
            kdim: None,
            vdim: None,
            batch_first: false,
            factory: Factory::default(),
        }
    }
}

impl MultiheadAttention {
    /// `nn.MultiheadAttention(embed_dim, num_heads)` with PyTorch's defaults, on the CPU in
    /// float32.
    pub fn new(embed_dim: usize, num_heads: usize) -> candle_core::Result<Self> {
        Self::with_config(embed_dim, num_heads, &AttentionConfig::default())
    }

    /// `nn.MultiheadAttention(embed_dim, num_heads, **config)`.
    pub fn with_config(
        embed_dim: usize,
        num_heads: usize,
        config: &AttentionConfig,
    ) -> candle_core::Result<Self> {
        if num_heads == 0 || embed_dim % num_heads != 0 {
            candle_core::bail!("embed_dim must be divisible by num_heads");
        }
        let f = &config.factory;
        let (kdim, vdim) = (
            config.kdim.unwrap_or(embed_dim),
            config.vdim.unwrap_or(embed_dim),
        );
        let xavier = |rows: usize, cols: usize| {
            let bound = (6.0 / (rows + cols) as f64).sqrt();
            f.uniform(&[rows, cols], bound).map(Parameter::new)
        };
        let (mut in_proj_weight, mut q, mut k, mut v) = (None, None, None, None);
        if kdim == embed_dim && vdim == embed_dim {
            in_proj_weight = Some(xavier(3 * embed_dim, embed_dim)?);
        } else {
            q = Some(xavier(embed_dim, embed_dim)?);
            k = Some(xavier(embed_dim, kdim)?);
            v = Some(xavier(embed_dim, vdim)?);
        }
        let zeros = |n: usize| f.zeros(&[n]).map(Parameter::new);
        let in_proj_bias = config.bias.then(|| zeros(3 * embed_dim)).transpose()?;
        let mut out_proj =
            NonDynamicallyQuantizableLinear::with_options(embed_dim, embed_dim, config.bias, f)?;
        if let Some(b) = &mut out_proj.bias {
            *b = zeros(embed_dim)?;
        }
        // xavier_normal_ on (1, 1, E): fan_in = fan_out = E.
        let std = (1.0 / embed_dim as f64).sqrt();
        let bias_kv = || -> candle_core::Result<Option<Parameter<Tensor>>> {
            let t = (f.normal(&[1, 1, embed_dim])? * std)?;
            Ok(config.add_bias_kv.then(|| Parameter::new(t)))
        };
        Ok(MultiheadAttention {
            core: ModuleCore::new(),
            in_proj_weight,
            q_proj_weight: q,
            k_proj_weight: k,
            v_proj_weight: v,
            in_proj_bias,
            bias_k: bias_kv()?,
            bias_v: bias_kv()?,
            out_proj,
            settings: AttentionSettings {
                embed_dim,
                num_heads,
                dropout: config.dropout,
                add_zero_attn: config.add_zero_attn,
                batch_first: config.batch_first,
            },
        })
    }

    /// The query, key and value projection weights, each `(E, width)`.
    fn projection_weights(&self) -> candle_core::Result<[Tensor; 3]> {
        let e = self.settings.embed_dim;
        if let Some(w) = &self.in_proj_weight {
            let w = w.tensor();
            return Ok([
                w.narrow(0, 0, e)?,
                w.narrow(0, e, e)?,
                w.narrow(0, 2 * e, e)?,
            ]);
        }
        let get = |p: &Option<Parameter<Tensor>>| {
            p.as_ref()
                .map(|p| p.tensor())
                .ok_or_else(|| candle_core::Error::Msg("a projection weight is missing".into()))
        };
        Ok([
            get(&self.q_proj_weight)?,
            get(&self.k_proj_weight)?,
            get(&self.v_proj_weight)?,
        ])
    }

    /// `F.multi_head_attention_forward` on `(L, N, E)` inputs.
    fn attend(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        options: &AttentionOptions,
    ) -> ForwardResult<(Tensor, Option<Tensor>)> {
        let AttentionSettings {
            embed_dim,
            num_heads,
            ..
        } = self.settings;
        let (tgt_len, bsz, width) = query.dims3()?;
        if width != embed_dim {
            return Err(format!(
                "was expecting embedding dimension of {embed_dim}, but got {width}"
            )
            .into());
        }
        let head_dim = embed_dim / num_heads;
        let [wq, wk, wv] = self.projection_weights()?;
        let [bq, bk, bv] = match &self.in_proj_bias {
            Some(b) => {
                let b = b.tensor();
                let e = embed_dim;
                [
                    Some(b.narrow(0, 0, e)?),
                    Some(b.narrow(0, e, e)?),
                    Some(b.narrow(0, 2 * e, e)?),
                ]
            }
            None => [None, None, None],
        };
        let mut q = linear(query, &wq, bq.as_ref())?;
        let mut k = linear(key, &wk, bk.as_ref())?;
        let mut v = linear(value, &wv, bv.as_ref())?;

        let mut attn_mask = options
            .attn_mask
            .as_ref()
            .map(|m| float_mask(m, q.dtype()))
            .transpose()?;
        if let Some(m) = &attn_mask {
            attn_mask = Some(match m.rank() {
                2 => m.unsqueeze(0)?,
                _ => m.clone(),
            });
        }
        let mut key_padding_mask = options
            .key_padding_mask
            .as_ref()
            .map(|m| float_mask(m, q.dtype()))
            .transpose()?;

        if let (Some(bias_k), Some(bias_v)) = (&self.bias_k, &self.bias_v) {
            k = Tensor::cat(&[&k, &bias_k.tensor().repeat((1, bsz, 1))?], 0)?;
            v = Tensor::cat(&[&v, &bias_v.tensor().repeat((1, bsz, 1))?], 0)?;
            attn_mask = attn_mask.map(|m| pad_last(&m)).transpose()?;
            key_padding_mask = key_padding_mask.map(|m| pad_last(&m)).transpose()?;
        }

        let heads = |t: &Tensor| -> candle_core::Result<Tensor> {
            let len = t.dim(0)?;
            t.reshape((len, bsz * num_heads, head_dim))?.transpose(0, 1)
        };
        q = heads(&q)?;
        k = heads(&k)?;
        v = heads(&v)?;
        if self.settings.add_zero_attn {
            let zeros = Tensor::zeros((bsz * num_heads, 1, head_dim), k.dtype(), k.device())?;
            k = Tensor::cat(&[&k, &zeros], 1)?;
            v = Tensor::cat(&[&v, &zeros], 1)?;
            attn_mask = attn_mask.map(|m| pad_last(&m)).transpose()?;
            key_padding_mask = key_padding_mask.map(|m| pad_last(&m)).transpose()?;
        }
        let src_len = k.dim(1)?;

        if let Some(kpm) = key_padding_mask {
            if kpm.dims() != [bsz, src_len] {
                return Err(format!(
                    "expecting key_padding_mask shape of ({bsz}, {src_len}), but got {:?}",
                    kpm.dims()
                )
                .into());
            }
            let kpm = kpm
                .reshape((bsz, 1, 1, src_len))?
                .broadcast_as((bsz, num_heads, 1, src_len))?
                .reshape((bsz * num_heads, 1, src_len))?;
            attn_mask = Some(match attn_mask {
                Some(m) => m.broadcast_add(&kpm)?,
                None => kpm,
            });
        }

        let scale = (1.0 / head_dim as f64).sqrt();
        let mut scores = (q * scale)?.matmul(&k.t()?.contiguous()?)?;
        if let Some(m) = &attn_mask {
            scores = scores.broadcast_add(m)?;
        }
        let mut weights = softmax(&scores, -1)?;
        if self.is_training() && self.settings.dropout > 0.0 {
            weights = dropout(&weights, self.settings.dropout)?;
        }
        let out = weights.matmul(&v.contiguous()?)?;
        let out = out.transpose(0, 1)?.reshape((tgt_len * bsz, embed_dim))?;
        let out_bias = self.out_proj.bias.as_ref().map(|b| b.tensor());
        let out = linear(&out, &self.out_proj.weight.tensor(), out_bias.as_ref())?
            .reshape((tgt_len, bsz, embed_dim))?;
        if !options.need_weights {
            return Ok((out, None));
        }
        let weights = weights.reshape((bsz, num_heads, tgt_len, src_len))?;
        let weights = match options.average_attn_weights {
            true => weights.mean(1)?,
            false => weights,
        };
        Ok((out, Some(weights)))
    }
}

impl ForwardKw<Tensor, (Tensor, Tensor, Tensor), AttentionOptions> for MultiheadAttention {
    type Output = (Tensor, Option<Tensor>);

    fn forward_kw(
        &self,
        (query, key, value): (Tensor, Tensor, Tensor),
        options: AttentionOptions,
    ) -> ForwardResult<Self::Output> {
        let batched = query.rank() == 3;
        let layout = |t: Tensor| -> candle_core::Result<Tensor> {
            match (batched, self.settings.batch_first) {
                (false, _) => t.unsqueeze(1),
                (true, true) => t.transpose(0, 1),
                (true, false) => Ok(t),
            }
        };
        let mut options = options;
        if !batched {
            options.key_padding_mask = options
                .key_padding_mask
                .map(|m| m.unsqueeze(0))
                .transpose()?;
        }
        let (q, k, v) = (layout(query)?, layout(key)?, layout(value)?);
        let (out, weights) = self.attend(&q, &k, &v, &options)?;
        Ok(match (batched, self.settings.batch_first) {
            (false, _) => (out.squeeze(1)?, weights.map(|w| w.squeeze(0)).transpose()?),
            (true, true) => (out.transpose(0, 1)?, weights),
            (true, false) => (out, weights),
        })
    }
}

/// PyTorch's `_canonical_mask`: a float mask as it is, an integer ("bool") one as `-inf` where
/// it is nonzero and 0 elsewhere.
pub(crate) fn float_mask(mask: &Tensor, dtype: DType) -> candle_core::Result<Tensor> {
    if mask.dtype().is_float() {
        return mask.to_dtype(dtype);
    }
    let blocked = mask.to_dtype(DType::F32)?.ne(0.0)?;
    let zeros = Tensor::zeros(mask.dims(), dtype, mask.device())?;
    let minus_inf = Tensor::full(f32::NEG_INFINITY, mask.dims(), mask.device())?.to_dtype(dtype)?;
    blocked.where_cond(&minus_inf, &zeros)
}

/// `mask` with one more (zero) column at the end.
fn pad_last(mask: &Tensor) -> candle_core::Result<Tensor> {
    mask.pad_with_zeros(mask.rank() - 1, 0, 1)
}
