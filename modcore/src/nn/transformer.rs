//! PyTorch's transformer layers: [`TransformerEncoderLayer`], [`TransformerEncoder`],
//! [`TransformerDecoderLayer`], [`TransformerDecoder`] and [`Transformer`], with PyTorch's
//! submodule names, prints, initialisation and forward (post-norm, or pre-norm with
//! `norm_first`). The feed-forward activation is ReLU or GELU, the two PyTorch names by string;
//! PyTorch's fast inference path computes the same function, so it has no counterpart here.

use candle_core::{Device, Tensor};

use super::activation::relu;
use super::attention::{AttentionConfig, AttentionOptions, MultiheadAttention};
use super::{Dropout, Factory, LayerNorm, Linear};
use crate::{Forward, ForwardKw, ForwardResult, Module, ModuleCore};

/// The feed-forward activation of the transformer layers: PyTorch's `activation="relu"` (its
/// default) or `"gelu"` (the exact form).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransformerActivation {
    /// `F.relu`.
    Relu,
    /// `F.gelu`.
    Gelu,
}

/// The options every transformer layer takes after `d_model` and `nhead`, with PyTorch's
/// defaults.
#[derive(Clone, Debug)]
pub struct TransformerConfig {
    /// The feed-forward width (2048).
    pub dim_feedforward: usize,
    /// Dropout after attention, in the feed-forward block and on the attention weights (0.1).
    pub dropout: f64,
    /// The feed-forward activation (ReLU).
    pub activation: TransformerActivation,
    /// The layer norms' `eps` (1e-5).
    pub layer_norm_eps: f64,
    /// Inputs and outputs are `(N, L, E)` (false: `(L, N, E)`).
    pub batch_first: bool,
    /// Layer norm before attention and feed-forward (pre-norm) rather than after (false).
    pub norm_first: bool,
    /// Biases in the linear layers and layer norms (true).
    pub bias: bool,
    /// `device=` and `dtype=`.
    pub factory: Factory,
}

impl Default for TransformerConfig {
    fn default() -> Self {
        TransformerConfig {
            dim_feedforward: 2048,
            dropout: 0.1,
            activation: TransformerActivation::Relu,
            layer_norm_eps: 1e-5,
            batch_first: false,
            norm_first: false,
            bias: true,
            factory: Factory::default(),
        }
    }
}

impl TransformerConfig {
    fn attention(&self, d_model: usize, nhead: usize) -> candle_core::Result<MultiheadAttention> {
        let config = AttentionConfig {
            dropout: self.dropout,
            bias: self.bias,
            batch_first: self.batch_first,
            factory: self.factory.clone(),
            ..AttentionConfig::default()
        };
        MultiheadAttention::with_config(d_model, nhead, &config)
    }

    fn norm(&self, d_model: usize) -> candle_core::Result<LayerNorm> {
        LayerNorm::with_options(
            &[d_model],
            self.layer_norm_eps,
            true,
            self.bias,
            &self.factory,
        )
    }

    fn linear(&self, i: usize, o: usize) -> candle_core::Result<Linear> {
        Linear::with_options(i, o, self.bias, &self.factory)
    }
}

/// The masks of a [`TransformerEncoderLayer`] or [`TransformerEncoder`] call: PyTorch's
/// `src_mask` / `mask` and `src_key_padding_mask` (integer masks block where nonzero; float
/// masks are added).
#[derive(Clone, Debug, Default)]
pub struct EncoderMasks {
    /// `(S, S)` or `(N * nhead, S, S)`.
    pub src_mask: Option<Tensor>,
    /// `(N, S)`.
    pub src_key_padding_mask: Option<Tensor>,
}

/// The masks of a [`TransformerDecoderLayer`] or [`TransformerDecoder`] call, PyTorch's names.
#[derive(Clone, Debug, Default)]
pub struct DecoderMasks {
    /// `(T, T)` or `(N * nhead, T, T)`.
    pub tgt_mask: Option<Tensor>,
    /// `(T, S)` or `(N * nhead, T, S)`.
    pub memory_mask: Option<Tensor>,
    /// `(N, T)`.
    pub tgt_key_padding_mask: Option<Tensor>,
    /// `(N, S)`.
    pub memory_key_padding_mask: Option<Tensor>,
}

/// The masks of a [`Transformer`] call, PyTorch's names.
#[derive(Clone, Debug, Default)]
pub struct TransformerMasks {
    /// The encoder's self-attention mask.
    pub src_mask: Option<Tensor>,
    /// The decoder's self-attention mask.
    pub tgt_mask: Option<Tensor>,
    /// The decoder's attention over the memory.
    pub memory_mask: Option<Tensor>,
    /// `(N, S)`.
    pub src_key_padding_mask: Option<Tensor>,
    /// `(N, T)`.
    pub tgt_key_padding_mask: Option<Tensor>,
    /// `(N, S)`.
    pub memory_key_padding_mask: Option<Tensor>,
}

/// PyTorch's `nn.TransformerEncoderLayer(d_model, nhead, **config)`: self-attention and a
/// feed-forward block, each with dropout, a residual connection and a layer norm.
///
/// ```
/// use modcore::nn::{TransformerConfig, TransformerEncoderLayer};
/// use modcore::{Module, ModuleHooks};
/// let config = TransformerConfig { dim_feedforward: 16, ..Default::default() };
/// let layer = TransformerEncoderLayer::new(8, 2, &config)?;
/// assert!(layer.repr().starts_with("TransformerEncoderLayer(\n  (self_attn): MultiheadAttention("));
/// let x = candle_core::Tensor::zeros((5, 3, 8), candle_core::DType::F32, &candle_core::Device::Cpu)?;
/// assert_eq!(layer.call(x)?.dims(), [5, 3, 8]);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate)]
pub struct TransformerEncoderLayer {
    core: ModuleCore,
    /// Self-attention.
    pub self_attn: MultiheadAttention,
    /// `d_model → dim_feedforward`.
    pub linear1: Linear,
    /// Inside the feed-forward block.
    pub dropout: Dropout,
    /// `dim_feedforward → d_model`.
    pub linear2: Linear,
    /// Around self-attention.
    pub norm1: LayerNorm,
    /// Around the feed-forward block.
    pub norm2: LayerNorm,
    /// After self-attention.
    pub dropout1: Dropout,
    /// After the feed-forward block.
    pub dropout2: Dropout,
    #[module(skip)]
    shape: LayerShape,
}

/// What a transformer layer was built with, to build its copies.
#[derive(Clone, Debug)]
struct LayerShape {
    d_model: usize,
    nhead: usize,
    config: TransformerConfig,
}

impl TransformerEncoderLayer {
    /// `nn.TransformerEncoderLayer(d_model, nhead, **config)`.
    pub fn new(
        d_model: usize,
        nhead: usize,
        config: &TransformerConfig,
    ) -> candle_core::Result<Self> {
        let c = config;
        Ok(TransformerEncoderLayer {
            core: ModuleCore::new(),
            self_attn: c.attention(d_model, nhead)?,
            linear1: c.linear(d_model, c.dim_feedforward)?,
            dropout: Dropout::new(c.dropout),
            linear2: c.linear(c.dim_feedforward, d_model)?,
            norm1: c.norm(d_model)?,
            norm2: c.norm(d_model)?,
            dropout1: Dropout::new(c.dropout),
            dropout2: Dropout::new(c.dropout),
            shape: LayerShape {
                d_model,
                nhead,
                config: c.clone(),
            },
        })
    }

    fn self_attention(&self, x: &Tensor, masks: &EncoderMasks) -> ForwardResult<Tensor> {
        let y = attention(
            &self.self_attn,
            x,
            x,
            masks.src_mask.clone(),
            masks.src_key_padding_mask.clone(),
        )?;
        self.dropout1.forward(y)
    }

    fn feed_forward(&self, x: &Tensor) -> ForwardResult<Tensor> {
        let block = [&self.linear1, &self.linear2];
        let dropouts = [&self.dropout, &self.dropout2];
        feed_forward(self.shape.config.activation, block, dropouts, x)
    }
}

impl ForwardKw<Tensor, Tensor, EncoderMasks> for TransformerEncoderLayer {
    type Output = Tensor;

    fn forward_kw(&self, x: Tensor, masks: EncoderMasks) -> ForwardResult<Tensor> {
        if self.shape.config.norm_first {
            let x = (&x + self.self_attention(&self.norm1.forward(x.clone())?, &masks)?)?;
            Ok((&x + self.feed_forward(&self.norm2.forward(x.clone())?)?)?)
        } else {
            let x = self
                .norm1
                .forward((&x + self.self_attention(&x, &masks)?)?)?;
            self.norm2.forward((&x + self.feed_forward(&x)?)?)
        }
    }
}

impl Forward<Tensor, Tensor> for TransformerEncoderLayer {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        self.forward_kw(x, EncoderMasks::default())
    }
}

/// PyTorch's `nn.TransformerDecoderLayer(d_model, nhead, **config)`: self-attention, attention
/// over the encoder's output (the memory) and a feed-forward block. Called with
/// `(tgt, memory)`.
#[derive(crate::Module)]
#[module(crate = crate)]
pub struct TransformerDecoderLayer {
    core: ModuleCore,
    /// Self-attention.
    pub self_attn: MultiheadAttention,
    /// Attention over the memory.
    pub multihead_attn: MultiheadAttention,
    /// `d_model → dim_feedforward`.
    pub linear1: Linear,
    /// Inside the feed-forward block.
    pub dropout: Dropout,
    /// `dim_feedforward → d_model`.
    pub linear2: Linear,
    /// Around self-attention.
    pub norm1: LayerNorm,
    /// Around attention over the memory.
    pub norm2: LayerNorm,
    /// Around the feed-forward block.
    pub norm3: LayerNorm,
    /// After self-attention.
    pub dropout1: Dropout,
    /// After attention over the memory.
    pub dropout2: Dropout,
    /// After the feed-forward block.
    pub dropout3: Dropout,
    #[module(skip)]
    shape: LayerShape,
}

impl TransformerDecoderLayer {
    /// `nn.TransformerDecoderLayer(d_model, nhead, **config)`.
    pub fn new(
        d_model: usize,
        nhead: usize,
        config: &TransformerConfig,
    ) -> candle_core::Result<Self> {
        let c = config;
        Ok(TransformerDecoderLayer {
            core: ModuleCore::new(),
            self_attn: c.attention(d_model, nhead)?,
            multihead_attn: c.attention(d_model, nhead)?,
            linear1: c.linear(d_model, c.dim_feedforward)?,
            dropout: Dropout::new(c.dropout),
            linear2: c.linear(c.dim_feedforward, d_model)?,
            norm1: c.norm(d_model)?,
            norm2: c.norm(d_model)?,
            norm3: c.norm(d_model)?,
            dropout1: Dropout::new(c.dropout),
            dropout2: Dropout::new(c.dropout),
            dropout3: Dropout::new(c.dropout),
            shape: LayerShape {
                d_model,
                nhead,
                config: c.clone(),
            },
        })
    }

    fn self_attention(&self, x: &Tensor, masks: &DecoderMasks) -> ForwardResult<Tensor> {
        let y = attention(
            &self.self_attn,
            x,
            x,
            masks.tgt_mask.clone(),
            masks.tgt_key_padding_mask.clone(),
        )?;
        self.dropout1.forward(y)
    }

    fn memory_attention(
        &self,
        x: &Tensor,
        memory: &Tensor,
        masks: &DecoderMasks,
    ) -> ForwardResult<Tensor> {
        let y = attention(
            &self.multihead_attn,
            x,
            memory,
            masks.memory_mask.clone(),
            masks.memory_key_padding_mask.clone(),
        )?;
        self.dropout2.forward(y)
    }

    fn feed_forward(&self, x: &Tensor) -> ForwardResult<Tensor> {
        let block = [&self.linear1, &self.linear2];
        let dropouts = [&self.dropout, &self.dropout3];
        feed_forward(self.shape.config.activation, block, dropouts, x)
    }
}

impl ForwardKw<Tensor, (Tensor, Tensor), DecoderMasks> for TransformerDecoderLayer {
    type Output = Tensor;

    fn forward_kw(
        &self,
        (x, memory): (Tensor, Tensor),
        masks: DecoderMasks,
    ) -> ForwardResult<Tensor> {
        if self.shape.config.norm_first {
            let x = (&x + self.self_attention(&self.norm1.forward(x.clone())?, &masks)?)?;
            let x =
                (&x + self.memory_attention(&self.norm2.forward(x.clone())?, &memory, &masks)?)?;
            Ok((&x + self.feed_forward(&self.norm3.forward(x.clone())?)?)?)
        } else {
            let x = self
                .norm1
                .forward((&x + self.self_attention(&x, &masks)?)?)?;
            let x = self
                .norm2
                .forward((&x + self.memory_attention(&x, &memory, &masks)?)?)?;
            self.norm3.forward((&x + self.feed_forward(&x)?)?)
        }
    }
}

impl Forward<Tensor, (Tensor, Tensor)> for TransformerDecoderLayer {
    type Output = Tensor;

    fn forward(&self, args: (Tensor, Tensor)) -> ForwardResult<Tensor> {
        self.forward_kw(args, DecoderMasks::default())
    }
}

/// Declares `$name`, a stack of `$layer`s (PyTorch's `TransformerEncoder` and
/// `TransformerDecoder`): the layers in `layers`, a `ModuleList`, then an optional `norm`. The doc
/// comments at the head of the invocation document the struct.
macro_rules! layer_stack {
    ($(#[$doc:meta])* $name:ident, $layer:ident, $arg:ident) => {
        $(#[$doc])*
        #[derive(crate::Module)]
        #[module(crate = crate)]
        pub struct $name {
            core: ModuleCore,
            /// The layers, in order.
            pub layers: Vec<$layer>,
            /// Applied to the last layer's output.
            pub norm: Option<LayerNorm>,
        }

        impl $name {
            /// `num_layers` copies of the layer, then `norm`.
            pub fn new(
                $arg: $layer,
                num_layers: usize,
                norm: Option<LayerNorm>,
            ) -> candle_core::Result<Self> {
                Ok($name {
                    core: ModuleCore::new(),
                    layers: copies($arg, num_layers)?,
                    norm,
                })
            }

            /// The final norm, if there is one.
            fn finish(&self, x: Tensor) -> ForwardResult<Tensor> {
                match &self.norm {
                    Some(norm) => norm.forward(x),
                    None => Ok(x),
                }
            }
        }
    };
}

layer_stack! {
    /// PyTorch's `nn.TransformerEncoder(encoder_layer, num_layers, norm)`: `num_layers` copies of
    /// the layer in `layers` (a `ModuleList`; the copies start with the layer's parameters, as
    /// PyTorch's deep copies do), then the optional final `norm`.
    ///
    /// ```
    /// use modcore::nn::{TransformerConfig, TransformerEncoder, TransformerEncoderLayer};
    /// use modcore::Module;
    /// let config = TransformerConfig { dim_feedforward: 16, ..Default::default() };
    /// let encoder = TransformerEncoder::new(TransformerEncoderLayer::new(8, 2, &config)?, 3, None)?;
    /// assert!(encoder.repr().starts_with("TransformerEncoder(\n  (layers): ModuleList(\n    (0-2): 3 x TransformerEncoderLayer("));
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    TransformerEncoder, TransformerEncoderLayer, encoder_layer
}

impl ForwardKw<Tensor, Tensor, EncoderMasks> for TransformerEncoder {
    type Output = Tensor;

    fn forward_kw(&self, x: Tensor, masks: EncoderMasks) -> ForwardResult<Tensor> {
        let mut x = x;
        for layer in &self.layers {
            x = layer.forward_kw(x, masks.clone())?;
        }
        self.finish(x)
    }
}

impl Forward<Tensor, Tensor> for TransformerEncoder {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        self.forward_kw(x, EncoderMasks::default())
    }
}

layer_stack! {
    /// PyTorch's `nn.TransformerDecoder(decoder_layer, num_layers, norm)`, called with
    /// `(tgt, memory)`.
    TransformerDecoder, TransformerDecoderLayer, decoder_layer
}

impl ForwardKw<Tensor, (Tensor, Tensor), DecoderMasks> for TransformerDecoder {
    type Output = Tensor;

    fn forward_kw(
        &self,
        (x, memory): (Tensor, Tensor),
        masks: DecoderMasks,
    ) -> ForwardResult<Tensor> {
        let mut x = x;
        for layer in &self.layers {
            x = layer.forward_kw((x, memory.clone()), masks.clone())?;
        }
        self.finish(x)
    }
}

impl Forward<Tensor, (Tensor, Tensor)> for TransformerDecoder {
    type Output = Tensor;

    fn forward(&self, args: (Tensor, Tensor)) -> ForwardResult<Tensor> {
        self.forward_kw(args, DecoderMasks::default())
    }
}

/// PyTorch's `nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, **config)`:
/// an encoder and a decoder, each ending in a layer norm, every parameter of more than one
/// dimension re-drawn Xavier-uniform as PyTorch's `_reset_parameters` does. Called with
/// `(src, tgt)`.
#[derive(crate::Module)]
#[module(crate = crate)]
pub struct Transformer {
    core: ModuleCore,
    /// The encoder.
    pub encoder: TransformerEncoder,
    /// The decoder.
    pub decoder: TransformerDecoder,
}

impl Transformer {
    /// `nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, **config)`
    /// (PyTorch's defaults are 512, 8, 6, 6).
    pub fn new(
        d_model: usize,
        nhead: usize,
        num_encoder_layers: usize,
        num_decoder_layers: usize,
        config: &TransformerConfig,
    ) -> candle_core::Result<Self> {
        let encoder_layer = TransformerEncoderLayer::new(d_model, nhead, config)?;
        let encoder = TransformerEncoder::new(
            encoder_layer,
            num_encoder_layers,
            Some(config.norm(d_model)?),
        )?;
        let decoder_layer = TransformerDecoderLayer::new(d_model, nhead, config)?;
        let decoder = TransformerDecoder::new(
            decoder_layer,
            num_decoder_layers,
            Some(config.norm(d_model)?),
        )?;
        let model = Transformer {
            core: ModuleCore::new(),
            encoder,
            decoder,
        };
        for (_, p) in model.named_parameters() {
            let shape = p.shape();
            if shape.len() > 1 {
                let (fan_in, fan_out) = (shape[1], shape[0]);
                let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
                p.set_tensor(config.factory.uniform(&shape, bound)?);
            }
        }
        Ok(model)
    }

    /// PyTorch's `Transformer.generate_square_subsequent_mask(sz)`: a float `(sz, sz)` mask,
    /// `-inf` above the diagonal and 0 elsewhere, so that position `i` attends to `0..=i`.
    pub fn generate_square_subsequent_mask(
        sz: usize,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let values: Vec<f32> = (0..sz * sz)
            .map(|i| {
                if i % sz > i / sz {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        Tensor::from_vec(values, (sz, sz), device)
    }
}

impl ForwardKw<Tensor, (Tensor, Tensor), TransformerMasks> for Transformer {
    type Output = Tensor;

    fn forward_kw(
        &self,
        (src, tgt): (Tensor, Tensor),
        masks: TransformerMasks,
    ) -> ForwardResult<Tensor> {
        let memory = self.encoder.forward_kw(
            src,
            EncoderMasks {
                src_mask: masks.src_mask,
                src_key_padding_mask: masks.src_key_padding_mask,
            },
        )?;
        self.decoder.forward_kw(
            (tgt, memory),
            DecoderMasks {
                tgt_mask: masks.tgt_mask,
                memory_mask: masks.memory_mask,
                tgt_key_padding_mask: masks.tgt_key_padding_mask,
                memory_key_padding_mask: masks.memory_key_padding_mask,
            },
        )
    }
}

impl Forward<Tensor, (Tensor, Tensor)> for Transformer {
    type Output = Tensor;

    fn forward(&self, args: (Tensor, Tensor)) -> ForwardResult<Tensor> {
        self.forward_kw(args, TransformerMasks::default())
    }
}

/// `self_attn(x, kv, kv, attn_mask, key_padding_mask, need_weights=False)[0]`.
fn attention(
    attn: &MultiheadAttention,
    x: &Tensor,
    kv: &Tensor,
    attn_mask: Option<Tensor>,
    key_padding_mask: Option<Tensor>,
) -> ForwardResult<Tensor> {
    let options = AttentionOptions {
        attn_mask,
        key_padding_mask,
        need_weights: false,
        average_attn_weights: true,
    };
    Ok(attn
        .forward_kw((x.clone(), kv.clone(), kv.clone()), options)?
        .0)
}

/// `dropout_out(linear2(dropout(activation(linear1(x)))))`: PyTorch's `_ff_block`.
fn feed_forward(
    activation: TransformerActivation,
    [linear1, linear2]: [&Linear; 2],
    [dropout, dropout_out]: [&Dropout; 2],
    x: &Tensor,
) -> ForwardResult<Tensor> {
    let h = activate(activation, &linear1.forward(x.clone())?)?;
    let y = linear2.forward(dropout.forward(h)?)?;
    dropout_out.forward(y)
}

fn activate(activation: TransformerActivation, x: &Tensor) -> candle_core::Result<Tensor> {
    match activation {
        TransformerActivation::Relu => relu(x),
        TransformerActivation::Gelu => x.gelu_erf(),
    }
}

/// A transformer layer that can build a fresh copy of itself.
trait Layer: Module<Tensor> + Sized {
    fn shape(&self) -> &LayerShape;
    fn build(shape: &LayerShape) -> candle_core::Result<Self>;
}

impl Layer for TransformerEncoderLayer {
    fn shape(&self) -> &LayerShape {
        &self.shape
    }
    fn build(s: &LayerShape) -> candle_core::Result<Self> {
        TransformerEncoderLayer::new(s.d_model, s.nhead, &s.config)
    }
}

impl Layer for TransformerDecoderLayer {
    fn shape(&self) -> &LayerShape {
        &self.shape
    }
    fn build(s: &LayerShape) -> candle_core::Result<Self> {
        TransformerDecoderLayer::new(s.d_model, s.nhead, &s.config)
    }
}

/// `first` and `n - 1` fresh layers given its state and mode (PyTorch's `_get_clones`
/// deep-copies the layer; no two copies share a tensor).
fn copies<M: Layer>(first: M, n: usize) -> candle_core::Result<Vec<M>> {
    let state = first.state_dict();
    let mut layers = Vec::with_capacity(n);
    for _ in 1..n {
        let mut layer = M::build(first.shape())?;
        layer
            .load_state_dict(&state, true, false)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        layer.train(first.is_training());
        layers.push(layer);
    }
    if n > 0 {
        layers.insert(0, first);
    }
    Ok(layers)
}
