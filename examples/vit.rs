//! A small Vision Transformer in torchvision's layout (`conv_proj`, `class_token`,
//! `encoder.layers.encoder_layer_0…`, `heads.head`), declared with `#[derive(Module)]` on
//! modcore's `MultiheadAttention`: it prints as torchvision's `VisionTransformer`, loads its state
//! dict strictly, and gives its output (`tests/fixtures/make_models.py`: 32x32 images, patches
//! of 8, 2 layers, 2 heads, width 16).
//!
//! Run it with `cargo run --release --example vit`.

#[path = "support/pytorch_reference.rs"]
mod pytorch_reference;

use candle_core::Tensor;
use modcore::containers::Sequential;
use modcore::nn::{
    AttentionConfig, AttentionOptions, Conv2d, Dropout, Factory, LayerNorm, Linear,
    MultiheadAttention, GELU,
};
use modcore::{Forward, ForwardResult, Module, ModuleCore, ModuleHooks, Parameter};

/// torchvision's `MLPBlock` (a `Sequential` subclass): Linear, GELU, Dropout, Linear, Dropout.
#[derive(Module)]
struct MLPBlock {
    core: ModuleCore,
    #[module(rename = "0")]
    fc1: Linear,
    #[module(rename = "1")]
    act: GELU,
    #[module(rename = "2")]
    drop1: Dropout,
    #[module(rename = "3")]
    fc2: Linear,
    #[module(rename = "4")]
    drop2: Dropout,
}

impl Forward<Tensor, Tensor> for MLPBlock {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let x = self.drop1.call(self.act.call(self.fc1.call(x)?)?)?;
        self.drop2.call(self.fc2.call(x)?)
    }
}

fn layer_norm(dim: usize) -> candle_core::Result<LayerNorm> {
    LayerNorm::with_options(&[dim], 1e-6, true, true, &Factory::default())
}

/// torchvision's `EncoderBlock`: pre-norm self-attention and MLP, each with a residual.
#[derive(Module)]
struct EncoderBlock {
    core: ModuleCore,
    ln_1: LayerNorm,
    self_attention: MultiheadAttention,
    dropout: Dropout,
    ln_2: LayerNorm,
    mlp: MLPBlock,
}

impl EncoderBlock {
    fn new(num_heads: usize, hidden: usize, mlp_dim: usize) -> ForwardResult<Self> {
        let attention = AttentionConfig {
            batch_first: true,
            ..Default::default()
        };
        Ok(EncoderBlock {
            core: ModuleCore::new(),
            ln_1: layer_norm(hidden)?,
            self_attention: MultiheadAttention::with_config(hidden, num_heads, &attention)?,
            dropout: Dropout::new(0.0),
            ln_2: layer_norm(hidden)?,
            mlp: MLPBlock {
                core: ModuleCore::new(),
                fc1: Linear::new(hidden, mlp_dim, true)?,
                act: GELU::new(),
                drop1: Dropout::new(0.0),
                fc2: Linear::new(mlp_dim, hidden, true)?,
                drop2: Dropout::new(0.0),
            },
        })
    }
}

impl Forward<Tensor, Tensor> for EncoderBlock {
    type Output = Tensor;

    fn forward(&self, input: Tensor) -> ForwardResult<Tensor> {
        let x = self.ln_1.call(input.clone())?;
        let options = AttentionOptions {
            need_weights: false,
            ..Default::default()
        };
        let (x, _) = self
            .self_attention
            .call_with_kwargs((x.clone(), x.clone(), x), options)?;
        let x = (self.dropout.call(x)? + input)?;
        let y = self.mlp.call(self.ln_2.call(x.clone())?)?;
        Ok((x + y)?)
    }
}

/// torchvision's `Encoder`: position embedding, dropout, the blocks, a final layer norm.
#[derive(Module)]
struct Encoder {
    core: ModuleCore,
    pos_embedding: Parameter<Tensor>,
    dropout: Dropout,
    layers: Sequential<Tensor>,
    ln: LayerNorm,
}

impl Forward<Tensor, Tensor> for Encoder {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let x = x.broadcast_add(&self.pos_embedding.tensor())?;
        let x = self.layers.call(self.dropout.call(x)?)?;
        self.ln.call(x)
    }
}

/// torchvision's `VisionTransformer` (no representation layer).
#[derive(Module)]
struct VisionTransformer {
    core: ModuleCore,
    conv_proj: Conv2d,
    class_token: Parameter<Tensor>,
    encoder: Encoder,
    heads: Sequential<Tensor>,
    #[module(skip)]
    hidden: usize,
}

impl VisionTransformer {
    fn new(
        image_size: usize,
        patch_size: usize,
        num_layers: usize,
        num_heads: usize,
        hidden: usize,
        mlp_dim: usize,
        num_classes: usize,
    ) -> ForwardResult<Self> {
        let cpu = &candle_core::Device::Cpu;
        let seq_length = (image_size / patch_size).pow(2) + 1;
        let mut layers = Sequential::new();
        for i in 0..num_layers {
            let block = EncoderBlock::new(num_heads, hidden, mlp_dim)?;
            layers.push_named(&format!("encoder_layer_{i}"), block)?;
        }
        let mut heads = Sequential::new();
        heads.push_named("head", Linear::new(hidden, num_classes, true)?)?;
        Ok(VisionTransformer {
            core: ModuleCore::new(),
            conv_proj: Conv2d::new(3, hidden, patch_size, patch_size, 0, 1, true)?,
            class_token: Parameter::new(Tensor::zeros(
                (1, 1, hidden),
                candle_core::DType::F32,
                cpu,
            )?),
            encoder: Encoder {
                core: ModuleCore::new(),
                pos_embedding: Parameter::new(
                    (Tensor::randn(0f32, 1., (1, seq_length, hidden), cpu)? * 0.02)?,
                ),
                dropout: Dropout::new(0.0),
                layers,
                ln: layer_norm(hidden)?,
            },
            heads,
            hidden,
        })
    }
}

impl Forward<Tensor, Tensor> for VisionTransformer {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let n = x.dim(0)?;
        // (n, c, h, w) -> (n, hidden, n_h * n_w) -> (n, n_h * n_w, hidden)
        let x = self.conv_proj.call(x)?;
        let x = x.reshape((n, self.hidden, ()))?.transpose(1, 2)?;
        let token = self
            .class_token
            .tensor()
            .broadcast_as((n, 1, self.hidden))?;
        let x = self.encoder.call(Tensor::cat(&[&token, &x], 1)?)?;
        self.heads.call(x.narrow(1, 0, 1)?.squeeze(1)?)
    }
}

pub fn main() -> ForwardResult<()> {
    let reference = pytorch_reference::Reference::load("vit")?;
    let mut model = VisionTransformer::new(32, 8, 2, 2, 16, 32, 10)?;
    let keys: Vec<String> = model
        .state_dict()
        .keys()
        .take(4)
        .map(String::from)
        .collect();
    println!("first keys: {keys:?}");
    let input = reference.get("input")?;
    reference.check(&mut model, |m| m.call(input))?;
    Ok(())
}
