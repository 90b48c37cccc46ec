//! Activation capture: run a small model once and collect the outputs of the submodules whose
//! paths match a pattern (`blocks.*.mlp`), with every hook removed afterwards.
//!
//! Run it with `cargo run --example capture`.

use candle_core::{DType, Device, Tensor};
use modcore::capture::{capture, Capture};
use modcore::{Forward, ForwardResult, HookKind, Module, ModuleCore, ModuleHooks, Parameter};

/// `nn.Linear`: `y = x W^T + b`.
#[derive(Module)]
struct Linear {
    core: ModuleCore,
    weight: Parameter<Tensor>,
    bias: Parameter<Tensor>,
}

impl Linear {
    /// Deterministic weights, so the printout is the same on every run.
    fn new(i: usize, o: usize, seed: f64) -> candle_core::Result<Self> {
        let w = Tensor::arange(0f32, (i * o) as f32, &Device::Cpu)?
            .reshape((o, i))?
            .affine(0.01, seed)?
            .sin()?;
        Ok(Linear {
            core: ModuleCore::new(),
            weight: Parameter::new(w),
            bias: Parameter::new(Tensor::full(0.1f32, o, &Device::Cpu)?),
        })
    }
}

impl Forward<Tensor, Tensor> for Linear {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let y = x.matmul(&self.weight.tensor().t()?)?;
        Ok(y.broadcast_add(&self.bias.tensor())?)
    }
}

/// `fc2(relu(fc1(x)))`.
#[derive(Module)]
struct Mlp {
    core: ModuleCore,
    fc1: Linear,
    fc2: Linear,
}

impl Forward<Tensor, Tensor> for Mlp {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let h = self.fc1.call(x)?.relu()?;
        self.fc2.call(h)
    }
}

/// A residual block: `x + mlp(x)`.
#[derive(Module)]
struct Block {
    core: ModuleCore,
    mlp: Mlp,
}

impl Forward<Tensor, Tensor> for Block {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok((&x + self.mlp.call(x.clone())?)?)
    }
}

#[derive(Module)]
struct Model {
    core: ModuleCore,
    blocks: Vec<Block>,
    head: Linear,
}

impl Forward<Tensor, Tensor> for Model {
    type Output = Tensor;
    fn forward(&self, mut x: Tensor) -> ForwardResult<Tensor> {
        for block in &self.blocks {
            x = block.call(x)?;
        }
        self.head.call(x)
    }
}

pub fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let d = 4;
    let block = |seed: f64| -> candle_core::Result<Block> {
        Ok(Block {
            core: ModuleCore::new(),
            mlp: Mlp {
                core: ModuleCore::new(),
                fc1: Linear::new(d, 2 * d, seed)?,
                fc2: Linear::new(2 * d, d, seed + 1.0)?,
            },
        })
    };
    let model = Model {
        core: ModuleCore::new(),
        blocks: vec![block(0.0)?, block(2.0)?, block(4.0)?],
        head: Linear::new(d, 2, 6.0)?,
    };
    let x = Tensor::arange(0f32, (2 * d) as f32, &Device::Cpu)?
        .reshape((2, d))?
        .to_dtype(DType::F32)?;

    let (y, mlps) = capture::<Tensor, Tensor, _>(&model, "blocks.*.mlp", Capture::Outputs, || {
        model.call(x.clone())
    });
    println!("model output: {:?}", y?.to_vec2::<f32>()?);
    for (path, activation) in &mlps {
        println!(
            "{path:<14} output {:?}: first row {:?}",
            activation.dims(),
            activation.get(0)?.to_vec1::<f32>()?
        );
    }

    let (_, inputs) =
        capture::<Tensor, Tensor, _>(&model, "**.fc2", Capture::Inputs, || model.call(x.clone()));
    let paths: Vec<&str> = inputs.iter().map(|(p, _)| p.as_str()).collect();
    println!("inputs captured at {paths:?}");

    // The hooks are gone: the model is back on the fast path.
    let hooked = model
        .named_modules()
        .iter()
        .filter(|(_, m)| {
            m.core()
                .hooks_if_any()
                .is_some_and(|h| h.lock().len(HookKind::Forward) > 0)
        })
        .count();
    println!("modules still hooked after capture: {hooked}");
    Ok(())
}
