//! The pooling layers against PyTorch (`tests/fixtures/make_pools.py`): output, input gradient
//! (overlapping windows included) and print.

mod common;
use common::Fixture;

use modcore::nn::{AdaptiveAvgPool1d, AvgPool2d, MaxPool2d};

#[test]
fn average_and_max_pooling_match_pytorch_with_gradients() {
    let f = Fixture::load("pools");
    f.check_with_grads("avg_2", AvgPool2d::new(2, 2, 0));
    f.check_with_grads("avg_3_2_1", AvgPool2d::new(3, 2, 1));
    f.check_with_grads(
        "avg_no_pad_count",
        AvgPool2d::new(3, 2, 1).without_padding_in_count(),
    );
    f.check_with_grads("max_3_2_1", MaxPool2d::new(3, 2, 1));
}

#[test]
fn adaptive_average_pooling_in_one_dimension_matches_pytorch() {
    let f = Fixture::load("pools");
    f.check_with_grads("adaptive1d_3", AdaptiveAvgPool1d::new(3));
    f.check_with_grads("adaptive1d_4", AdaptiveAvgPool1d::new(4));
}

#[test]
fn a_zero_stride_or_kernel_is_an_error() {
    use modcore::Forward;
    let x = candle_core::Tensor::zeros(
        (1, 1, 4, 4),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let e = AvgPool2d::new(2, 0, 0).forward(x.clone()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "AvgPool2d: kernel_size (2) and stride (0) must be greater than zero"
    );
    assert!(MaxPool2d::new(0, 1, 0).forward(x).is_err());
}
