//! ResNet-18, declared with `#[derive(Module)]` and named like torchvision's, loads a `.pth`
//! checkpoint PyTorch wrote (`tests/fixtures/make_resnet18.py`) strictly, prints the same tree as PyTorch's
//! `print(model)`, and reproduces PyTorch's eval-mode output on a fixed input.
//!
//! Run it with `cargo run --release --example resnet18`.

use std::path::Path;

use candle_core::Tensor;
use modcore::checkpoint;
use modcore::containers::Sequential;
use modcore::nn::{AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU};
use modcore::{Forward, ForwardResult, Module, ModuleCore, ModuleHooks, StateDict};

/// torchvision's `BasicBlock`. A `downsample` holding `None` is what torchvision's
/// `self.downsample = None` is: a plain attribute, so it is neither printed nor listed.
#[derive(Module)]
struct BasicBlock {
    core: ModuleCore,
    conv1: Conv2d,
    bn1: BatchNorm2d,
    relu: ReLU,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    downsample: Option<Sequential<Tensor>>,
}

fn conv3x3(i: usize, o: usize, stride: usize) -> candle_core::Result<Conv2d> {
    Conv2d::new(i, o, (3, 3), (stride, stride), (1, 1), 1, false)
}

impl BasicBlock {
    fn new(inplanes: usize, planes: usize, stride: usize) -> modcore::ForwardResult<Self> {
        let downsample = if stride != 1 || inplanes != planes {
            let mut downsample = Sequential::new();
            downsample
                .push(Conv2d::new(
                    inplanes,
                    planes,
                    (1, 1),
                    (stride, stride),
                    (0, 0),
                    1,
                    false,
                )?)
                .push(BatchNorm2d::new(planes)?);
            Some(downsample)
        } else {
            None
        };
        Ok(BasicBlock {
            core: ModuleCore::new(),
            conv1: conv3x3(inplanes, planes, stride)?,
            bn1: BatchNorm2d::new(planes)?,
            relu: ReLU::inplace(),
            conv2: conv3x3(planes, planes, 1)?,
            bn2: BatchNorm2d::new(planes)?,
            downsample,
        })
    }
}

impl Forward<Tensor, Tensor> for BasicBlock {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let out = self
            .relu
            .call(self.bn1.call(self.conv1.call(x.clone())?)?)?;
        let out = self.bn2.call(self.conv2.call(out)?)?;
        let identity = match &self.downsample {
            Some(downsample) => downsample.call(x)?,
            None => x,
        };
        self.relu.call((out + identity)?)
    }
}

/// torchvision's `ResNet` with `BasicBlock`s, `[2, 2, 2, 2]`: ResNet-18.
#[derive(Module)]
struct ResNet {
    core: ModuleCore,
    conv1: Conv2d,
    bn1: BatchNorm2d,
    relu: ReLU,
    maxpool: MaxPool2d,
    layer1: Sequential<Tensor>,
    layer2: Sequential<Tensor>,
    layer3: Sequential<Tensor>,
    layer4: Sequential<Tensor>,
    avgpool: AdaptiveAvgPool2d,
    fc: Linear,
}

impl ResNet {
    fn resnet18(num_classes: usize) -> ForwardResult<Self> {
        let layer =
            |inplanes: usize, planes: usize, stride: usize| -> ForwardResult<Sequential<Tensor>> {
                let mut seq = Sequential::new();
                seq.push(BasicBlock::new(inplanes, planes, stride)?)
                    .push(BasicBlock::new(planes, planes, 1)?);
                Ok(seq)
            };
        Ok(ResNet {
            core: ModuleCore::new(),
            conv1: Conv2d::new(3, 64, (7, 7), (2, 2), (3, 3), 1, false)?,
            bn1: BatchNorm2d::new(64)?,
            relu: ReLU::inplace(),
            maxpool: MaxPool2d::new(3, 2, 1),
            layer1: layer(64, 64, 1)?,
            layer2: layer(64, 128, 2)?,
            layer3: layer(128, 256, 2)?,
            layer4: layer(256, 512, 2)?,
            avgpool: AdaptiveAvgPool2d::new((1, 1)),
            fc: Linear::new(512, num_classes, true)?,
        })
    }
}

impl Forward<Tensor, Tensor> for ResNet {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let x = self
            .maxpool
            .call(self.relu.call(self.bn1.call(self.conv1.call(x)?)?)?)?;
        let x = self
            .layer4
            .call(self.layer3.call(self.layer2.call(self.layer1.call(x)?)?)?)?;
        let x = self.avgpool.call(x)?.flatten_from(1)?;
        self.fc.call(x)
    }
}

pub fn main() -> ForwardResult<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resnet18");
    let mut model = ResNet::resnet18(1000)?;

    // The same keys, order, shapes and dtypes as torchvision's state dict.
    let torchvision_keys: Vec<(String, Vec<usize>, String)> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("keys.json"))?)?;
    let ours = model.state_dict().summary();
    let same_keys = ours == torchvision_keys;
    println!(
        "state_dict: {} entries, identical to torchvision's: {same_keys}",
        ours.len()
    );

    // The printed tree is PyTorch's `print(model)`.
    let printed = std::fs::read_to_string(dir.join("repr.txt"))?;
    let same_tree = model.repr() == printed.trim_end();
    println!("printed tree identical to PyTorch's: {same_tree}");

    // The checkpoint as torchvision publishes its weights, `torch.save(model.state_dict())`
    // (here of the model in half precision), loaded strictly into the float32 model.
    let checkpoint: StateDict<Tensor> = checkpoint::load_pth(dir.join("resnet18.f16.pth"))?;
    let keys = model.load_state_dict(&checkpoint, true, false)?;
    println!("strict load: {keys}");

    model.eval();
    let io: StateDict<Tensor> = checkpoint::load_file(dir.join("io.safetensors"))?;
    let (input, expected) = (
        io.get("input").ok_or("no input")?,
        io.get("output").ok_or("no output")?,
    );
    let output = model.call(input.clone())?;
    let diff = (&output - expected)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    println!(
        "eval output {:?}, first logits {:?}",
        output.dims(),
        &output.get(0)?.to_vec1::<f32>()?[..5]
    );
    println!(
        "max abs difference from PyTorch's output: {diff:e} (within 1e-4: {})",
        diff < 1e-4
    );
    if diff >= 1e-4 || !same_keys || !same_tree {
        return Err("ResNet-18 does not match PyTorch".into());
    }
    Ok(())
}
