//! A small GPT-2 named like Hugging Face's (`transformer.h.0.attn.c_attn.weight`, …), with the
//! token embedding and the LM head tied, loads a checkpoint PyTorch wrote
//! (`tests/fixtures/make_gpt2.py`) strictly and reproduces PyTorch's logits on a fixed prompt.
//!
//! Run it with `cargo run --release --example gpt2`.

use std::path::Path;

use candle_core::{DType, Device, Tensor, D};
use modcore::checkpoint;
use modcore::nn::{Dropout, Embedding, LayerNorm, Linear};
use modcore::{Forward, ForwardResult, Module, ModuleCore, ModuleHooks, Parameter, StateDict};

/// Hugging Face's `Conv1D`: a linear layer with its weight stored as (in, out).
#[derive(Module)]
#[module(extra_repr = Conv1D::describe)]
struct Conv1D {
    core: ModuleCore,
    weight: Parameter<Tensor>,
    bias: Parameter<Tensor>,
}

impl Conv1D {
    fn new(nx: usize, nf: usize) -> candle_core::Result<Self> {
        Ok(Conv1D {
            core: ModuleCore::new(),
            weight: Parameter::new((Tensor::randn(0f32, 1f32, (nx, nf), &Device::Cpu)? * 0.02)?),
            bias: Parameter::new(Tensor::zeros(nf, DType::F32, &Device::Cpu)?),
        })
    }

    fn describe(&self) -> String {
        let shape = self.weight.shape();
        format!("nf={}, nx={}", shape[1], shape[0])
    }
}

impl Forward<Tensor, Tensor> for Conv1D {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(x.broadcast_matmul(&self.weight.tensor())?
            .broadcast_add(&self.bias.tensor())?)
    }
}

/// Hugging Face's `NewGELUActivation`: GELU's tanh approximation.
#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct NewGELUActivation {
    core: ModuleCore,
}

impl Forward<Tensor, Tensor> for NewGELUActivation {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok(x.gelu()?)
    }
}

#[derive(Module)]
struct GPT2Attention {
    core: ModuleCore,
    c_attn: Conv1D,
    c_proj: Conv1D,
    attn_dropout: Dropout,
    resid_dropout: Dropout,
    #[module(skip)]
    n_head: usize,
}

/// `softmax` over the last dimension.
fn softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    let e = x.broadcast_sub(&x.max_keepdim(D::Minus1)?)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

impl Forward<Tensor, Tensor> for GPT2Attention {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let (b, t, c) = x.dims3()?;
        let (h, d) = (self.n_head, c / self.n_head);
        let qkv = self.c_attn.call(x)?;
        let heads = |i: usize| -> candle_core::Result<Tensor> {
            qkv.narrow(2, i * c, c)?
                .reshape((b, t, h, d))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (heads(0)?, heads(1)?, heads(2)?);
        let scores = (q.matmul(&k.t()?)? / (d as f64).sqrt())?;
        let causal = Tensor::tril2(t, DType::U8, &Device::Cpu)?.broadcast_as(scores.shape())?;
        let masked = causal.where_cond(
            &scores,
            &Tensor::full(f32::NEG_INFINITY, scores.shape(), &Device::Cpu)?,
        )?;
        let attn = self.attn_dropout.call(softmax(&masked)?)?;
        let y = attn.matmul(&v)?.transpose(1, 2)?.reshape((b, t, c))?;
        self.resid_dropout.call(self.c_proj.call(y)?)
    }
}

#[derive(Module)]
struct GPT2MLP {
    core: ModuleCore,
    c_fc: Conv1D,
    c_proj: Conv1D,
    act: NewGELUActivation,
    dropout: Dropout,
}

impl Forward<Tensor, Tensor> for GPT2MLP {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        self.dropout
            .call(self.c_proj.call(self.act.call(self.c_fc.call(x)?)?)?)
    }
}

#[derive(Module)]
struct GPT2Block {
    core: ModuleCore,
    ln_1: LayerNorm,
    attn: GPT2Attention,
    ln_2: LayerNorm,
    mlp: GPT2MLP,
}

impl Forward<Tensor, Tensor> for GPT2Block {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let x = (&x + self.attn.call(self.ln_1.call(x.clone())?)?)?;
        Ok((&x + self.mlp.call(self.ln_2.call(x.clone())?)?)?)
    }
}

#[derive(Module)]
struct GPT2Model {
    core: ModuleCore,
    wte: Embedding,
    wpe: Embedding,
    drop: Dropout,
    h: Vec<GPT2Block>,
    ln_f: LayerNorm,
}

impl Forward<Tensor, Tensor> for GPT2Model {
    type Output = Tensor;
    fn forward(&self, ids: Tensor) -> ForwardResult<Tensor> {
        let t = ids.dim(1)?;
        let positions = Tensor::arange(0u32, t as u32, &Device::Cpu)?.unsqueeze(0)?;
        let mut x = self.drop.call(
            self.wte
                .call(ids)?
                .broadcast_add(&self.wpe.call(positions)?)?,
        )?;
        for block in &self.h {
            x = block.call(x)?;
        }
        self.ln_f.call(x)
    }
}

#[derive(Module)]
struct GPT2LMHeadModel {
    core: ModuleCore,
    transformer: GPT2Model,
    lm_head: Linear,
}

impl GPT2LMHeadModel {
    fn new(
        vocab: usize,
        positions: usize,
        width: usize,
        layers: usize,
        heads: usize,
    ) -> ForwardResult<Self> {
        let block = || -> ForwardResult<GPT2Block> {
            Ok(GPT2Block {
                core: ModuleCore::new(),
                ln_1: LayerNorm::new(width)?,
                attn: GPT2Attention {
                    core: ModuleCore::new(),
                    c_attn: Conv1D::new(width, 3 * width)?,
                    c_proj: Conv1D::new(width, width)?,
                    attn_dropout: Dropout::new(0.1),
                    resid_dropout: Dropout::new(0.1),
                    n_head: heads,
                },
                ln_2: LayerNorm::new(width)?,
                mlp: GPT2MLP {
                    core: ModuleCore::new(),
                    c_fc: Conv1D::new(width, 4 * width)?,
                    c_proj: Conv1D::new(4 * width, width)?,
                    act: NewGELUActivation::default(),
                    dropout: Dropout::new(0.1),
                },
            })
        };
        let wte = Embedding::new(vocab, width)?;
        let mut lm_head = Linear::new(width, vocab, false)?;
        // Tied: one parameter, two names (`named_parameters` lists it once, `state_dict` twice).
        lm_head.weight = wte.weight.clone();
        Ok(GPT2LMHeadModel {
            core: ModuleCore::new(),
            transformer: GPT2Model {
                core: ModuleCore::new(),
                wte,
                wpe: Embedding::new(positions, width)?,
                drop: Dropout::new(0.1),
                h: (0..layers).map(|_| block()).collect::<ForwardResult<_>>()?,
                ln_f: LayerNorm::new(width)?,
            },
            lm_head,
        })
    }
}

impl Forward<Tensor, Tensor> for GPT2LMHeadModel {
    type Output = Tensor;
    fn forward(&self, ids: Tensor) -> ForwardResult<Tensor> {
        self.lm_head.call(self.transformer.call(ids)?)
    }
}

pub fn main() -> ForwardResult<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpt2");
    let mut model = GPT2LMHeadModel::new(100, 32, 32, 2, 4)?;

    let hf_keys: Vec<(String, Vec<usize>, String)> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("keys.json"))?)?;
    let ours = model.state_dict().summary();
    let same_keys = ours == hf_keys;
    println!(
        "state_dict: {} entries, identical to Hugging Face's: {same_keys}",
        ours.len()
    );
    println!(
        "parameters: {} named (the tied LM head counted once), {} scalars",
        model.named_parameters().len(),
        model.num_parameters()
    );
    let printed = std::fs::read_to_string(dir.join("repr.txt"))?;
    let same_tree = model.repr() == printed.trim_end();
    println!("printed tree identical to PyTorch's: {same_tree}");

    let checkpoint: StateDict<Tensor> = checkpoint::load_file(dir.join("model.safetensors"))?;
    println!(
        "strict load: {}",
        model.load_state_dict(&checkpoint, true, false)?
    );
    let tied = model.lm_head.weight.same(&model.transformer.wte.weight);
    println!("embedding and LM head still tied: {tied}");

    model.eval();
    let io: StateDict<Tensor> = checkpoint::load_file(dir.join("io.safetensors"))?;
    let (ids, expected) = (
        io.get("input_ids").ok_or("no ids")?,
        io.get("logits").ok_or("no logits")?,
    );
    let logits = model.call(ids.clone())?;
    let diff = (&logits - expected)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    println!(
        "logits {:?}, max abs difference from PyTorch's: {diff:e} (within 1e-4: {})",
        logits.dims(),
        diff < 1e-4
    );
    if diff >= 1e-4 || !same_keys || !same_tree || !tied {
        return Err("GPT-2 does not match PyTorch".into());
    }
    Ok(())
}
