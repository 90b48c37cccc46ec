//! The layers of `modcore::nn` against PyTorch: each case of `tests/fixtures/make_layers.py`
//! loads PyTorch's parameters strictly, runs PyTorch's input, and must give PyTorch's output (and
//! printed form, and for batch norm in training the updated running statistics).

mod common;
use common::Fixture;

use candle_core::{DType, Tensor};
use modcore::nn::{
    AdaptiveAvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Embedding, Flatten, Identity,
    LayerNorm, Linear, MaxPool2d, ReLU, GELU,
};
use modcore::{Forward, Module, ModuleHooks};

fn fixture() -> Fixture {
    Fixture::load("layers")
}

impl Fixture {
    /// Loads the case's parameters, runs its input, and compares output and repr.
    fn check<M>(&self, name: &str, mut layer: M, train: bool)
    where
        M: Module<Tensor> + Forward<Tensor, Tensor, Output = Tensor>,
    {
        self.load_case(name, &mut layer);
        layer.train(train);
        let y = layer.call(self.get(&format!("{name}:in"))).unwrap();
        close(name, &y, &self.get(&format!("{name}:out")));
        assert_eq!(layer.repr(), self.reprs[name], "{name}: repr");
        if train {
            for (key, after) in self.sub(&format!("{name}:after.")).iter() {
                let ours = layer.state_dict().get(key).unwrap().clone();
                close(&format!("{name} {key} after one step"), &ours, after);
            }
        }
    }
}

fn close(what: &str, ours: &Tensor, theirs: &Tensor) {
    assert_eq!(ours.dims(), theirs.dims(), "{what}: shape");
    let diff = common::max_abs_diff(ours, theirs);
    assert!(diff < 1e-5, "{what}: max abs difference {diff}");
}

#[test]
fn linear() {
    let f = fixture();
    f.check("linear", Linear::new(3, 2, true).unwrap(), false);
    f.check("linear_nobias", Linear::new(3, 5, false).unwrap(), false);
}

#[test]
fn conv2d() {
    let f = fixture();
    f.check(
        "conv",
        Conv2d::new(2, 4, (3, 3), (2, 2), (1, 1), 1, true).unwrap(),
        false,
    );
    f.check(
        "conv_groups",
        Conv2d::new(4, 6, (3, 1), (1, 1), (1, 2), 2, false).unwrap(),
        false,
    );
    f.check(
        "conv_dilated",
        Conv2d::with_options(
            2,
            2,
            (3, 3),
            (1, 1),
            (2, 2),
            2,
            1,
            true,
            &Default::default(),
        )
        .unwrap(),
        false,
    );
}

#[test]
fn batch_norm_eval_and_train() {
    let f = fixture();
    f.check("bn2d_eval", BatchNorm2d::new(3).unwrap(), false);
    f.check("bn2d_train", BatchNorm2d::new(3).unwrap(), true);
    f.check("bn1d_train", BatchNorm1d::new(3).unwrap(), true);
    f.check(
        "bn1d_nomomentum",
        BatchNorm1d::with_options(3, 1e-5, None, true, true, &Default::default()).unwrap(),
        true,
    );
}

#[test]
fn layer_norm_activations_pooling_and_shapes() {
    let f = fixture();
    f.check("ln", LayerNorm::new(4).unwrap(), false);
    f.check("gelu", GELU::new(), false);
    f.check("gelu_tanh", GELU::tanh(), false);
    f.check("relu", ReLU::new(), false);
    f.check("maxpool", MaxPool2d::new(3, 2, 1), false);
    f.check("adaptive", AdaptiveAvgPool2d::new((2, 3)), false);
    f.check("adaptive_1x1", AdaptiveAvgPool2d::new((1, 1)), false);
    f.check("flatten", Flatten::new(1), false);
    f.check("identity", Identity::new(), false);
    f.check("dropout_eval", Dropout::new(0.3), false);
}

#[test]
fn embedding_looks_up_int64_ids() {
    let f = fixture();
    f.check("embedding", Embedding::new(10, 4).unwrap(), false);
}

#[test]
fn dropout_in_training_zeroes_and_rescales() {
    let d = Dropout::new(0.5);
    let x = Tensor::ones(10_000, DType::F32, &candle_core::Device::Cpu).unwrap();
    let y: Vec<f32> = d.call(x).unwrap().to_vec1().unwrap();
    assert!(y.iter().all(|v| *v == 0.0 || *v == 2.0));
    let kept = y.iter().filter(|v| **v == 2.0).count();
    assert!((4000..6000).contains(&kept), "{kept}");
}

#[test]
fn initialisation_follows_pytorchs_bounds_and_defaults() {
    let fc = Linear::new(16, 8, true).unwrap();
    let bound = 1.0 / 4.0;
    let w: Vec<f32> = fc.weight.tensor().flatten_all().unwrap().to_vec1().unwrap();
    assert!(w.iter().all(|v| v.abs() <= bound));
    let bn = BatchNorm2d::new(4).unwrap();
    assert_eq!(
        bn.running_var
            .as_ref()
            .unwrap()
            .tensor()
            .to_vec1::<f32>()
            .unwrap(),
        [1.0; 4]
    );
    assert_eq!(
        bn.num_batches_tracked
            .as_ref()
            .unwrap()
            .tensor()
            .to_vec0::<i64>()
            .unwrap(),
        0
    );
    assert_eq!(bn.version(), 2);
    let no_stats =
        BatchNorm1d::with_options(4, 1e-3, Some(0.01), false, false, &Default::default()).unwrap();
    assert!(no_stats.state_dict().is_empty());
    assert_eq!(
        no_stats.repr(),
        "BatchNorm1d(4, eps=0.001, momentum=0.01, affine=False, bias=False, track_running_stats=False)"
    );
}

#[test]
fn embedding_padding_idx_starts_at_zero_and_gets_no_gradient() {
    let wte = Embedding::new(5, 3).unwrap().padding_idx(1).unwrap();
    assert_eq!(wte.repr(), "Embedding(5, 3, padding_idx=1)");
    let ids = Tensor::new(&[1u32, 2, 1, 0, 2], &candle_core::Device::Cpu).unwrap();
    let y = wte.call(ids).unwrap();
    assert_eq!(y.get(0).unwrap().to_vec1::<f32>().unwrap(), [0.0; 3]);
    let grads = y.sum_all().unwrap().backward().unwrap();
    let grad = grads
        .get(&wte.weight.tensor())
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    // PyTorch: each row's gradient counts its ids, except the padding row's, which stays 0.
    assert_eq!(grad, [[1.0; 3], [0.0; 3], [2.0; 3], [0.0; 3], [0.0; 3]]);
    assert_eq!(
        Embedding::new(5, 3)
            .unwrap()
            .padding_idx(-6)
            .unwrap_err()
            .to_string(),
        "Padding_idx must be within num_embeddings"
    );
}
