//! MobileNetV2 in torchvision's layout (`features`, `classifier`, `Conv2dNormActivation`,
//! `InvertedResidual`), declared with `#[derive(Module)]`: it prints as torchvision's model,
//! loads its state dict strictly, and gives its output (`tests/fixtures/make_models.py`, a
//! `width_mult=0.25` model on 32x32 inputs to keep the fixture small).
//!
//! Run it with `cargo run --release --example mobilenet_v2`.

#[path = "support/pytorch_reference.rs"]
mod pytorch_reference;

use candle_core::Tensor;
use modcore::containers::Sequential;
use modcore::nn::{BatchNorm2d, Conv2d, Dropout, Linear, ReLU6};
use modcore::{Forward, ForwardResult, Module, ModuleCore, ModuleHooks};

/// torchvision's `Conv2dNormActivation` (a `Sequential` subclass): convolution, batch norm,
/// ReLU6, as children `0`, `1`, `2`.
#[derive(Module)]
struct Conv2dNormActivation {
    core: ModuleCore,
    #[module(rename = "0")]
    conv: Conv2d,
    #[module(rename = "1")]
    norm: BatchNorm2d,
    #[module(rename = "2")]
    activation: ReLU6,
}

impl Conv2dNormActivation {
    fn new(i: usize, o: usize, kernel: usize, stride: usize, groups: usize) -> ForwardResult<Self> {
        let padding = (kernel - 1) / 2;
        Ok(Conv2dNormActivation {
            core: ModuleCore::new(),
            conv: Conv2d::new(i, o, kernel, stride, padding, groups, false)?,
            norm: BatchNorm2d::new(o)?,
            activation: ReLU6::inplace(),
        })
    }
}

impl Forward<Tensor, Tensor> for Conv2dNormActivation {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let x = self.norm.call(self.conv.call(x)?)?;
        self.activation.call(x)
    }
}

/// torchvision's `InvertedResidual`: expand (1x1), depthwise (3x3), project (1x1), with a
/// residual connection when the shape allows.
#[derive(Module)]
struct InvertedResidual {
    core: ModuleCore,
    conv: Sequential<Tensor>,
    #[module(skip)]
    use_res_connect: bool,
}

impl InvertedResidual {
    fn new(inp: usize, oup: usize, stride: usize, expand_ratio: usize) -> ForwardResult<Self> {
        let hidden = inp * expand_ratio;
        let mut conv = Sequential::new();
        if expand_ratio != 1 {
            conv.push(Conv2dNormActivation::new(inp, hidden, 1, 1, 1)?);
        }
        conv.push(Conv2dNormActivation::new(
            hidden, hidden, 3, stride, hidden,
        )?)
        .push(Conv2d::new(hidden, oup, 1, 1, 0, 1, false)?)
        .push(BatchNorm2d::new(oup)?);
        Ok(InvertedResidual {
            core: ModuleCore::new(),
            conv,
            use_res_connect: stride == 1 && inp == oup,
        })
    }
}

impl Forward<Tensor, Tensor> for InvertedResidual {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let y = self.conv.call(x.clone())?;
        Ok(if self.use_res_connect { (x + y)? } else { y })
    }
}

/// torchvision's `_make_divisible`: `v` rounded to a multiple of `divisor`, never down by more
/// than 10 %.
fn make_divisible(v: f64, divisor: usize) -> usize {
    let rounded = ((v + divisor as f64 / 2.0) as usize / divisor * divisor).max(divisor);
    if (rounded as f64) < 0.9 * v {
        rounded + divisor
    } else {
        rounded
    }
}

/// torchvision's `MobileNetV2(num_classes, width_mult)`.
#[derive(Module)]
struct MobileNetV2 {
    core: ModuleCore,
    features: Sequential<Tensor>,
    classifier: Sequential<Tensor>,
}

impl MobileNetV2 {
    fn new(num_classes: usize, width_mult: f64) -> ForwardResult<Self> {
        // t (expansion), c (channels), n (repeats), s (first stride)
        let setting = [
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        ];
        let mut input = make_divisible(32.0 * width_mult, 8);
        let last = make_divisible(1280.0 * width_mult.max(1.0), 8);
        let mut features = Sequential::new();
        features.push(Conv2dNormActivation::new(3, input, 3, 2, 1)?);
        for (t, c, n, s) in setting {
            let output = make_divisible(c as f64 * width_mult, 8);
            for i in 0..n {
                let stride = if i == 0 { s } else { 1 };
                features.push(InvertedResidual::new(input, output, stride, t)?);
                input = output;
            }
        }
        features.push(Conv2dNormActivation::new(input, last, 1, 1, 1)?);
        let mut classifier = Sequential::new();
        classifier
            .push(Dropout::new(0.2))
            .push(Linear::new(last, num_classes, true)?);
        Ok(MobileNetV2 {
            core: ModuleCore::new(),
            features,
            classifier,
        })
    }
}

impl Forward<Tensor, Tensor> for MobileNetV2 {
    type Output = Tensor;

    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let x = self.features.call(x)?;
        // `adaptive_avg_pool2d(x, (1, 1))` and `flatten(x, 1)`
        let x = x.mean_keepdim(3)?.mean_keepdim(2)?.flatten_from(1)?;
        self.classifier.call(x)
    }
}

pub fn main() -> ForwardResult<()> {
    let reference = pytorch_reference::Reference::load("mobilenet_v2")?;
    let mut model = MobileNetV2::new(10, 0.25)?;
    println!("{} parameters", model.num_parameters());
    let input = reference.get("input")?;
    reference.check(&mut model, |m| m.call(input))?;
    Ok(())
}
