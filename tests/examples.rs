//! The examples run as tests, so CI checks what they print against PyTorch: ResNet-18 returns an
//! error unless its keys, printed tree and output match PyTorch's.

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
