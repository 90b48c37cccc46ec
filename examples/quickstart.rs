//! A small model declared with `#[derive(Module)]` on the candle backend: its parameters and
//! buffers by name, lookups (and an `AttributeError` with a suggestion), a buffer registered at
//! run time, train/eval, and a checkpoint saved and loaded back with PyTorch's keys.
//!
//! Run it with `cargo run --example quickstart`.

use candle_core::{DType, Device, Tensor};
use modcore::{checkpoint, Buffer, Module, ModuleCore, Parameter, StateDict};

/// PyTorch's `nn.Linear`: `weight` of shape (out, in) and an optional `bias`.
#[derive(Module)]
struct Linear {
    core: ModuleCore,
    weight: Parameter<Tensor>,
    bias: Option<Parameter<Tensor>>,
}

/// PyTorch's `nn.LayerNorm`.
#[derive(Module)]
struct LayerNorm {
    core: ModuleCore,
    weight: Parameter<Tensor>,
    bias: Parameter<Tensor>,
    #[module(skip)]
    eps: f64,
}

/// A transformer-style MLP block.
#[derive(Module)]
struct Block {
    core: ModuleCore,
    ln: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    /// A causal mask, rebuilt at load time, so not saved.
    #[buffer(persistent = false)]
    mask: Buffer<Tensor>,
}

/// The model: two blocks in a list, and a final norm.
#[derive(Module)]
struct Model {
    core: ModuleCore,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
}

fn zeros(shape: &[usize]) -> candle_core::Result<Tensor> {
    Tensor::zeros(shape, DType::F32, &Device::Cpu)
}

fn linear(i: usize, o: usize, bias: bool) -> candle_core::Result<Linear> {
    Ok(Linear {
        core: ModuleCore::new(),
        weight: Parameter::new(zeros(&[o, i])?),
        bias: if bias {
            Some(Parameter::new(zeros(&[o])?))
        } else {
            None
        },
    })
}

fn layer_norm(d: usize) -> candle_core::Result<LayerNorm> {
    Ok(LayerNorm {
        core: ModuleCore::new(),
        weight: Parameter::new(Tensor::ones(d, DType::F32, &Device::Cpu)?),
        bias: Parameter::new(zeros(&[d])?),
        eps: 1e-5,
    })
}

fn block(d: usize) -> candle_core::Result<Block> {
    Ok(Block {
        core: ModuleCore::new(),
        ln: layer_norm(d)?,
        fc1: linear(d, 4 * d, true)?,
        fc2: linear(4 * d, d, false)?,
        mask: Buffer::new(zeros(&[d, d])?),
    })
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let d = 4;
    let mut model = Model {
        core: ModuleCore::new(),
        blocks: vec![block(d)?, block(d)?],
        ln_f: layer_norm(d)?,
    };

    println!("named_parameters ({} scalars):", model.num_parameters());
    for (name, p) in model.named_parameters() {
        println!("  {name:<20} {:?}", p.shape());
    }
    println!("named_buffers:");
    for (name, b) in model.named_buffers() {
        println!("  {name:<20} {:?}", b.shape());
    }

    // Lookups by name, as with getattr / get_submodule in PyTorch.
    let fc1 = model.get_submodule("blocks.1.fc1")?;
    println!("blocks.1.fc1 is a {}", fc1.type_name());
    println!(
        "ln_f.eps (plain data) = {}, ln_f.weight = {:?}",
        model.ln_f.eps,
        model.get_parameter("ln_f.weight")?.shape()
    );
    if let Err(e) = model.get_attr("ln_ff") {
        println!("AttributeError: {e}");
    }
    if let Err(e) = model.get_submodule("blocks.2") {
        println!("AttributeError: {e}");
    }

    // Registering at run time, like register_buffer in PyTorch.
    let steps = Tensor::zeros((), DType::I64, &Device::Cpu)?;
    model.register_buffer("num_batches_tracked", Some(steps), true)?;
    let names: Vec<String> = model.named_buffers().into_iter().map(|(n, _)| n).collect();
    println!("after register_buffer: {names:?}");
    println!(
        "non-persistent buffers of blocks.0: {:?}",
        model.blocks[0].non_persistent_buffers()
    );

    // train / eval reach every module of the tree.
    model.eval();
    let training: Vec<bool> = model.modules().iter().map(|m| m.is_training()).collect();
    println!("after eval(): training = {training:?}");
    model.train(true);
    println!(
        "after train(true): blocks.0.ln.training = {}",
        model.blocks[0].ln.is_training()
    );

    // A checkpoint PyTorch can read: `safetensors.torch.load_file(path)` gives the same keys.
    let path = std::env::temp_dir().join("modcore-quickstart.safetensors");
    model
        .ln_f
        .weight
        .set_tensor(Tensor::full(3f32, d, &Device::Cpu)?);
    checkpoint::save_file(&model.state_dict(), &path)?;
    let mut fresh = Model {
        core: ModuleCore::new(),
        blocks: vec![block(d)?, block(d)?],
        ln_f: layer_norm(d)?,
    };
    let steps = Tensor::zeros((), DType::I64, &Device::Cpu)?;
    fresh.register_buffer("num_batches_tracked", Some(steps), true)?;
    let loaded: StateDict<Tensor> = checkpoint::load_file(&path)?;
    let keys = fresh.load_state_dict(&loaded, true, false)?;
    println!(
        "saved {} entries to {}, loaded them back strictly: {keys}; ln_f.weight = {:?}",
        loaded.len(),
        path.display(),
        fresh.ln_f.weight.tensor().to_vec1::<f32>()?
    );
    let mut extra = loaded.clone();
    extra.insert("blocks.0.fc3.weight", zeros(&[1])?);
    if let Err(e) = fresh.load_state_dict(&extra, true, false) {
        println!("a strict load with an extra key fails, and changes nothing:\n{e}");
    }
    Ok(())
}
