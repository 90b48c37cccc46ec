//! The examples run as tests, so CI checks what they print against PyTorch: ResNet-18,
//! MobileNetV2, the ViT and the transformer encoder each return an error unless their keys,
//! printed tree and output match PyTorch's.

// Each model example includes `examples/support/pytorch_reference.rs` as its own module, as it
// does when built alone.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

#[allow(dead_code)]
#[path = "../examples/capture.rs"]
mod capture;

#[allow(dead_code)]
#[path = "../examples/resnet18.rs"]
mod resnet18;

#[test]
fn quickstart_runs() {
    quickstart::main().unwrap();
}

#[test]
fn capture_runs() {
    capture::main().unwrap();
}

#[test]
fn resnet18_matches_pytorch() {
    resnet18::main().unwrap();
}

#[allow(dead_code)]
#[path = "../examples/gpt2.rs"]
mod gpt2;

#[test]
fn gpt2_matches_pytorch() {
    gpt2::main().unwrap();
}

#[allow(dead_code)]
#[path = "../examples/train_digits.rs"]
mod train_digits;

/// A shortened run: 40 steps, saved, resumed to 60; the loss curve equals PyTorch's across the
/// resume.
#[test]
fn train_digits_matches_pytorch_and_resumes() {
    let dir = std::env::temp_dir().join(format!("modcore-digits-{}", std::process::id()));
    let mut options = train_digits::Options {
        steps: Some(40),
        resume: false,
        dir: dir.clone(),
        progress: false,
    };
    let first = train_digits::run(&options).unwrap();
    assert_eq!(first.steps, 40);
    assert!(first.loss_diff.unwrap() <= 1e-4, "{:?}", first.loss_diff);
    options.steps = Some(60);
    options.resume = true;
    let resumed = train_digits::run(&options).unwrap();
    assert_eq!(resumed.steps, 60);
    assert!(
        resumed.loss_diff.unwrap() <= 1e-4,
        "{:?}",
        resumed.loss_diff
    );
    assert!(resumed.accuracy > 0.8, "{}", resumed.accuracy);
    std::fs::remove_dir_all(dir).unwrap();
}

#[allow(dead_code)]
#[path = "../examples/mobilenet_v2.rs"]
mod mobilenet_v2;

#[test]
fn mobilenet_v2_matches_pytorch() {
    mobilenet_v2::main().unwrap();
}

#[allow(dead_code)]
#[path = "../examples/vit.rs"]
mod vit;

#[test]
fn vit_matches_pytorch() {
    vit::main().unwrap();
}

#[allow(dead_code)]
#[path = "../examples/transformer.rs"]
mod transformer;

#[test]
fn transformer_matches_pytorch() {
    transformer::main().unwrap();
}
