//! Convolutions, transposed convolutions and upsampling against PyTorch
//! (`tests/fixtures/make_convs.py`): output, input and parameter gradients, and print.

mod common;
use common::Fixture;

use modcore::nn::{
    Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, Factory, Upsample, UpsampleMode,
};

#[test]
fn one_dimensional_convolutions_match_pytorch_with_gradients() {
    let f = Fixture::load("convs");
    f.check_with_grads("conv1d", Conv1d::new(3, 4, 3, 1, 0, 1, true).unwrap());
    let conv = Conv1d::with_options(4, 6, 3, 2, 2, 2, 2, false, &Factory::default()).unwrap();
    f.check_with_grads("conv1d_all", conv);
}

#[test]
fn two_dimensional_convolutions_with_per_dimension_stride_and_dilation_match_pytorch() {
    let f = Fixture::load("convs");
    f.check_with_grads("conv2d_grad", Conv2d::new(2, 4, 3, 2, 1, 1, true).unwrap());
    let conv = Conv2d::new(2, 3, 3, (1, 2), 1, 1, true).unwrap();
    f.check_with_grads("conv2d_stride_1_2", conv);
    let conv = Conv2d::with_options(
        4,
        2,
        (3, 2),
        (2, 1),
        (2, 0),
        (2, 1),
        2,
        true,
        &Factory::default(),
    )
    .unwrap();
    f.check_with_grads("conv2d_dilation_2_1", conv);
}

#[test]
fn transposed_convolutions_match_pytorch_with_gradients() {
    let f = Fixture::load("convs");
    let t2 = |i, o, k, s, p, op| ConvTranspose2d::new(i, o, k, s, p, op, 1, true).unwrap();
    f.check_with_grads("convT2d", t2(3, 2, 3, 1, 0, 0));
    f.check_with_grads("convT2d_stride", t2(4, 2, 3, 2, 1, 1));
    f.check_with_grads("convT2d_crop", t2(2, 2, 2, 3, 2, 0));
    let grouped = ConvTranspose2d::with_options(
        4,
        6,
        (3, 2),
        (2, 1),
        (0, 1),
        0,
        2,
        false,
        (1, 2),
        &Factory::default(),
    )
    .unwrap();
    f.check_with_grads("convT2d_groups", grouped);
    let t1 = ConvTranspose1d::new(3, 4, 4, 2, 1, 0, 1, true).unwrap();
    f.check_with_grads("convT1d", t1);
    let t1 = ConvTranspose1d::with_options(4, 2, 3, 3, 1, 2, 2, true, 2, &Factory::default());
    f.check_with_grads("convT1d_all", t1.unwrap());
}

#[test]
fn upsampling_matches_pytorch_with_gradients() {
    let f = Fixture::load("convs");
    let bilinear = |align_corners| UpsampleMode::Bilinear { align_corners };
    let nearest = UpsampleMode::Nearest;
    f.check_with_grads("up_nearest_2", Upsample::with_scale_factor(&[2.0], nearest));
    f.check_with_grads("up_nearest_size", Upsample::with_size(&[5, 7], nearest));
    f.check_with_grads(
        "up_nearest_1_5",
        Upsample::with_scale_factor(&[1.5], nearest),
    );
    let up = Upsample::with_scale_factor(&[2.0], bilinear(false));
    f.check_with_grads("up_bilinear", up);
    f.check_with_grads(
        "up_bilinear_size",
        Upsample::with_size(&[5, 3], bilinear(false)),
    );
    let up = Upsample::with_scale_factor(&[1.5, 2.5], bilinear(true));
    f.check_with_grads("up_bilinear_corners", up);
    let linear = UpsampleMode::Linear {
        align_corners: false,
    };
    f.check_with_grads("up_linear", Upsample::with_size(&[9], linear));
}

#[test]
fn misuse_is_an_error_in_pytorchs_words() {
    use modcore::Forward;
    let zeros = |shape: &[usize]| {
        candle_core::Tensor::zeros(shape, candle_core::DType::F32, &candle_core::Device::Cpu)
            .unwrap()
    };
    let e = ConvTranspose2d::new(2, 2, 3, 2, 0, 2, 1, true)
        .unwrap()
        .forward(zeros(&[1, 2, 3, 3]))
        .unwrap_err();
    assert_eq!(
        first_line(&e),
        "output padding must be smaller than either stride or dilation, but got \
         output_padding_height: 2, output_padding_width: 2, stride_height: 2, stride_width: 2, \
         dilation_height: 1, dilation_width: 1"
    );
    let e = Conv2d::new(2, 2, 3, (1, 0), 0, 1, true)
        .unwrap()
        .forward(zeros(&[1, 2, 5, 5]))
        .unwrap_err();
    assert_eq!(first_line(&e), "non-positive stride is not supported");
    let e = Conv1d::new(4, 6, 3, 1, 0, 4, true).err().unwrap();
    assert_eq!(
        first_line(&e),
        "Conv1d: in_channels (4) and out_channels (6) must be divisible by groups (4)"
    );
    let up = Upsample::with_scale_factor(
        &[2.0],
        UpsampleMode::Linear {
            align_corners: false,
        },
    );
    assert!(up.forward(zeros(&[1, 2, 3, 3])).is_err());
}

/// An error's message without the backtrace candle appends under `RUST_BACKTRACE`.
fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

#[test]
fn weights_are_shaped_and_bounded_as_pytorchs_reset_parameters_makes_them() {
    let largest = |p: &modcore::Parameter<candle_core::Tensor>| common::max_abs(&p.tensor());
    // fan_in = weight.size(1) * kernel: out/groups for a transposed convolution.
    let t = ConvTranspose2d::new(4, 8, 3, 1, 0, 0, 2, true).unwrap();
    assert_eq!(t.weight.shape(), [4, 4, 3, 3]);
    let bound = 1.0 / 6.0;
    assert!(largest(&t.weight) <= bound && largest(&t.weight) > 0.9 * bound);
    assert!(largest(t.bias.as_ref().unwrap()) <= bound);
    let c = Conv1d::new(8, 4, 2, 1, 0, 2, false).unwrap();
    assert_eq!(c.weight.shape(), [4, 4, 2]);
    let bound = 1.0 / 8f64.sqrt();
    assert!(largest(&c.weight) <= bound && largest(&c.weight) > 0.8 * bound);
}
