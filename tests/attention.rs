//! MultiheadAttention and the transformer layers against PyTorch
//! (`tests/fixtures/make_attention.py`): outputs, attention weights, input and parameter
//! gradients, keys and prints.

mod common;
use common::Fixture;

use candle_core::Tensor;
use modcore::nn::{
    AttentionConfig, AttentionOptions, DecoderMasks, EncoderMasks, LayerNorm, MultiheadAttention,
    Transformer, TransformerActivation, TransformerConfig, TransformerDecoder,
    TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer, TransformerMasks,
};
use modcore::{Module, ModuleHooks};

/// Calls an attention layer with `(query, key, value)` and `options`: the output and, where
/// returned, the weights.
fn attend(m: &MultiheadAttention, x: &[Tensor], options: AttentionOptions) -> Vec<Tensor> {
    let (y, w) = m
        .call_with_kwargs((x[0].clone(), x[1].clone(), x[2].clone()), options)
        .unwrap();
    std::iter::once(y).chain(w).collect()
}

#[test]
fn multihead_attention_matches_pytorch_with_gradients_and_weights() {
    let f = Fixture::load("attention");
    f.check_call("mha", MultiheadAttention::new(8, 2).unwrap(), |m, x| {
        attend(m, x, AttentionOptions::default())
    });
    f.check_call(
        "mha_unbatched",
        MultiheadAttention::new(8, 2).unwrap(),
        |m, x| attend(m, x, AttentionOptions::default()),
    );
    let config = AttentionConfig {
        kdim: Some(6),
        vdim: Some(5),
        batch_first: true,
        ..Default::default()
    };
    let m = MultiheadAttention::with_config(8, 4, &config).unwrap();
    let state = m.state_dict();
    let keys: Vec<&str> = state.keys().collect();
    assert_eq!(
        keys,
        [
            "q_proj_weight",
            "k_proj_weight",
            "v_proj_weight",
            "in_proj_bias",
            "out_proj.weight",
            "out_proj.bias"
        ]
    );
    f.check_call("mha_kdim_vdim_batch_first", m, |m, x| {
        attend(m, x, AttentionOptions::default())
    });
}

#[test]
fn multihead_attention_masks_bias_kv_and_zero_attention_match_pytorch() {
    let f = Fixture::load("attention");
    let name = "mha_masks_bias_kv_zero_attn";
    let config = AttentionConfig {
        add_bias_kv: true,
        add_zero_attn: true,
        ..Default::default()
    };
    let m = MultiheadAttention::with_config(8, 2, &config).unwrap();
    f.check_call(name, m, |m, x| {
        let options = AttentionOptions {
            attn_mask: f.mask(name, "attn_mask"),
            key_padding_mask: f.mask(name, "key_padding_mask"),
            average_attn_weights: false,
            ..Default::default()
        };
        attend(m, x, options)
    });
    let name = "mha_float_mask_no_bias";
    let config = AttentionConfig {
        bias: false,
        ..Default::default()
    };
    let m = MultiheadAttention::with_config(8, 2, &config).unwrap();
    f.check_call(name, m, |m, x| {
        let options = AttentionOptions {
            attn_mask: f.mask(name, "attn_mask"),
            need_weights: false,
            ..Default::default()
        };
        let out = attend(m, x, options);
        assert_eq!(out.len(), 1, "no weights without need_weights");
        out
    });
}

fn small(dim_feedforward: usize) -> TransformerConfig {
    TransformerConfig {
        dim_feedforward,
        dropout: 0.0,
        ..Default::default()
    }
}

#[test]
fn encoder_layers_and_encoders_match_pytorch() {
    let f = Fixture::load("attention");
    let layer = TransformerEncoderLayer::new(8, 2, &small(16)).unwrap();
    f.check_call("encoder_layer", layer, |m, x| {
        vec![m.call(x[0].clone()).unwrap()]
    });

    let name = "encoder_layer_norm_first_gelu";
    let config = TransformerConfig {
        activation: TransformerActivation::Gelu,
        norm_first: true,
        batch_first: true,
        ..small(12)
    };
    let layer = TransformerEncoderLayer::new(8, 2, &config).unwrap();
    f.check_call(name, layer, |m, x| {
        let masks = EncoderMasks {
            src_key_padding_mask: f.mask(name, "src_key_padding_mask"),
            ..Default::default()
        };
        vec![m.call_with_kwargs(x[0].clone(), masks).unwrap()]
    });

    let name = "encoder";
    let layer = TransformerEncoderLayer::new(8, 2, &small(16)).unwrap();
    let encoder = TransformerEncoder::new(layer, 2, Some(LayerNorm::new(8).unwrap())).unwrap();
    f.check_call(name, encoder, |m, x| {
        let masks = EncoderMasks {
            src_mask: f.mask(name, "mask"),
            ..Default::default()
        };
        vec![m.call_with_kwargs(x[0].clone(), masks).unwrap()]
    });
}

#[test]
fn decoder_layers_decoders_and_the_transformer_match_pytorch() {
    let f = Fixture::load("attention");
    let name = "decoder_layer";
    let layer = TransformerDecoderLayer::new(8, 2, &small(16)).unwrap();
    f.check_call(name, layer, |m, x| {
        let masks = DecoderMasks {
            tgt_mask: f.mask(name, "tgt_mask"),
            memory_key_padding_mask: f.mask(name, "memory_key_padding_mask"),
            ..Default::default()
        };
        vec![m
            .call_with_kwargs((x[0].clone(), x[1].clone()), masks)
            .unwrap()]
    });

    let config = TransformerConfig {
        norm_first: true,
        bias: false,
        ..small(16)
    };
    let layer = TransformerDecoderLayer::new(8, 2, &config).unwrap();
    let decoder = TransformerDecoder::new(layer, 2, None).unwrap();
    f.check_call("decoder", decoder, |m, x| {
        vec![m.call((x[0].clone(), x[1].clone())).unwrap()]
    });

    let name = "transformer";
    let config = TransformerConfig {
        batch_first: true,
        ..small(16)
    };
    let model = Transformer::new(8, 2, 2, 1, &config).unwrap();
    f.check_call(name, model, |m, x| {
        let masks = TransformerMasks {
            tgt_mask: f.mask(name, "tgt_mask"),
            ..Default::default()
        };
        vec![m
            .call_with_kwargs((x[0].clone(), x[1].clone()), masks)
            .unwrap()]
    });
}

#[test]
fn the_subsequent_mask_and_the_copied_layers_are_pytorchs() {
    let mask = Transformer::generate_square_subsequent_mask(3, &candle_core::Device::Cpu).unwrap();
    let inf = f32::NEG_INFINITY;
    assert_eq!(
        mask.to_vec2::<f32>().unwrap(),
        [[0.0, inf, inf], [0.0, 0.0, inf], [0.0, 0.0, 0.0]]
    );
    // `_get_clones` deep-copies: the copies start equal and share no tensor.
    let layer = TransformerEncoderLayer::new(8, 2, &small(16)).unwrap();
    let encoder = TransformerEncoder::new(layer, 2, None).unwrap();
    let w = |i: usize| encoder.layers[i].linear1.weight.tensor();
    assert_eq!(common::max_abs_diff(&w(0), &w(1)), 0.0);
    encoder.layers[0]
        .linear1
        .weight
        .set_tensor(w(0).zeros_like().unwrap());
    assert!(common::max_abs_diff(&w(0), &w(1)) > 0.0);
    // PyTorch's Transformer re-draws every matrix Xavier-uniform.
    let model = Transformer::new(8, 2, 1, 1, &small(16)).unwrap();
    let bound = (6.0f64 / 24.0).sqrt();
    let largest = common::max_abs(&model.encoder.layers[0].linear1.weight.tensor());
    assert!(largest <= bound && largest > 0.8 * bound);
}
