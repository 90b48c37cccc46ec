//! `nn.TransformerEncoder(nn.TransformerEncoderLayer(d_model=16, nhead=4,
//! dim_feedforward=32), num_layers=2)`, built from `modcore::nn` as a PyTorch user writes it: it
//! prints as PyTorch's, loads its state dict strictly, and gives its eval-mode output on a short
//! sequence under a causal mask (`tests/fixtures/make_models.py`).
//!
//! Run it with `cargo run --release --example transformer`.

#[path = "support/pytorch_reference.rs"]
mod pytorch_reference;

use modcore::nn::{EncoderMasks, TransformerConfig, TransformerEncoder, TransformerEncoderLayer};
use modcore::{ForwardResult, ModuleHooks};

pub fn main() -> ForwardResult<()> {
    let reference = pytorch_reference::Reference::load("transformer")?;
    let config = TransformerConfig {
        dim_feedforward: 32,
        ..Default::default()
    };
    let layer = TransformerEncoderLayer::new(16, 4, &config)?;
    let mut encoder = TransformerEncoder::new(layer, 2, None)?;
    let (input, mask) = (reference.get("input")?, reference.get("mask")?);
    println!("input (sequence, batch, d_model) = {:?}", input.dims());
    reference.check(&mut encoder, |m| {
        let masks = EncoderMasks {
            src_mask: Some(mask),
            ..Default::default()
        };
        m.call_with_kwargs(input, masks)
    })?;
    Ok(())
}
