//! Trains a small CNN on scikit-learn's 8x8 handwritten digits with AdamW, a warm-up + cosine
//! schedule and gradient clipping, the way a PyTorch training script does, and checks itself
//! against PyTorch: the loss curve of the first 50 steps against PyTorch's run from the same
//! initial weights on the same batches (`tests/fixtures/make_digits.py`), then the test accuracy.
//!
//! ```sh
//! cargo run --release --example train_digits                     # 15 epochs, saves to target/train_digits
//! cargo run --release --example train_digits -- --steps 100      # stop after 100 steps
//! cargo run --release --example train_digits -- --resume         # continue from the saved state
//! ```
//!
//! Data: the UCI "Optical Recognition of Handwritten Digits" test set as scikit-learn ships it
//! (`sklearn.datasets.load_digits`, 1,797 images), split 1,437 / 360 by the fixture script.

use std::error::Error;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use modcore::checkpoint;
use modcore::containers::Sequential;
use modcore::nn::functional::cross_entropy;
use modcore::nn::{clip_grad_norm_, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU};
use modcore::optim::lr_scheduler::{CosineAnnealingLR, LinearLR, LrScheduler, SequentialLR};
use modcore::optim::{self, AdamW, AdamWOptions, Optimizer};
use modcore::prelude::*;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const TRAIN: usize = 1437;
const BATCH: usize = 64;
const EPOCHS: usize = 15;
const LR: f64 = 1e-3;
const WARMUP: i64 = 20;

/// The small CNN of `../shared/bench/pytorch_train_baseline.py`, without the convolutions'
/// biases: a bias before a BatchNorm is cancelled by it, so its gradient is float32 rounding
/// noise, which AdamW turns into steps of the full learning rate. With them, PyTorch's own loss
/// curve moves by 2.5e-4 within 50 steps when its initial weights are perturbed by 1e-7; without
/// them, by 2e-6 (torchvision's ResNets leave them out for the same reason).
#[derive(Module)]
pub struct Small {
    core: ModuleCore,
    c1: Conv2d,
    b1: BatchNorm2d,
    c2: Conv2d,
    b2: BatchNorm2d,
    head: Sequential<Tensor>,
    pool: MaxPool2d,
    relu: ReLU,
}

impl Small {
    /// The CNN; `conv_bias` gives the convolutions biases (the benchmark's baseline has them).
    pub fn new(conv_bias: bool) -> Result<Small> {
        let mut head = Sequential::new();
        head.push(Flatten::new(1))
            .push(Linear::new(32 * 2 * 2, 10, true)?);
        Ok(Small {
            core: ModuleCore::new(),
            c1: Conv2d::new(1, 16, (3, 3), (1, 1), (1, 1), 1, conv_bias)?,
            b1: BatchNorm2d::new(16)?,
            c2: Conv2d::new(16, 32, (3, 3), (1, 1), (1, 1), 1, conv_bias)?,
            b2: BatchNorm2d::new(32)?,
            head,
            pool: MaxPool2d::new(2, 2, 0),
            relu: ReLU::new(),
        })
    }
}

impl Forward<Tensor, Tensor> for Small {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        let x = self
            .pool
            .call(self.relu.call(self.b1.call(self.c1.call(x)?)?)?)?;
        let x = self
            .pool
            .call(self.relu.call(self.b2.call(self.c2.call(x)?)?)?)?;
        self.head.call(x)
    }
}

/// What a run did.
pub struct Report {
    /// Steps taken in total (including those of a resumed run).
    pub steps: usize,
    /// The largest difference between this run's losses and PyTorch's, over the first 50 steps
    /// this process ran (`None` if it ran none of them).
    pub loss_diff: Option<f64>,
    /// Accuracy on the 360 test images.
    pub accuracy: f64,
}

/// How to run.
pub struct Options {
    /// Stop after this many steps in total (the schedule is still the full one).
    pub steps: Option<usize>,
    /// Continue from the state saved in `dir`.
    pub resume: bool,
    /// Where the model, optimizer and schedule are saved at the end.
    pub dir: PathBuf,
    /// Draw a progress bar.
    pub progress: bool,
}

/// The example's batch order: a permutation of the training set per epoch (the fixture
/// script's `order`).
fn order(epoch: usize, n: usize) -> Vec<u32> {
    (0..n)
        .map(|i| ((i * 7919 + epoch * 104729) % n) as u32)
        .collect()
}

/// Images as `(N, 1, 8, 8)` float32 in [0, 1].
fn images(t: &Tensor) -> Result<Tensor> {
    Ok((t.to_dtype(DType::F32)?.unsqueeze(1)? / 16.0)?)
}

pub fn run(options: &Options) -> Result<Report> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let data = checkpoint::load_file::<Tensor>(fixtures.join("digits.safetensors"))?;
    let get = |key: &str| {
        data.get(key)
            .cloned()
            .ok_or(format!("no {key} in the fixture"))
    };
    let (train_x, train_y) = (images(&get("train_x")?)?, get("train_y")?);
    let (test_x, test_y) = (images(&get("test_x")?)?, get("test_y")?);
    let pytorch_losses = get("losses")?.to_vec1::<f64>()?;

    let mut model = Small::new(false)?;
    let steps_per_epoch = TRAIN.div_ceil(BATCH);
    let total = EPOCHS * steps_per_epoch;
    let mut opt = AdamW::from_model(
        &model,
        AdamWOptions {
            lr: LR,
            ..Default::default()
        },
    )?;
    let warmup = LinearLR::new(&mut opt, 0.1, 1.0, WARMUP)?;
    let cosine = CosineAnnealingLR::new(&mut opt, total as i64 - WARMUP, 0.0);
    let mut schedule = SequentialLR::new(
        &mut opt,
        vec![Box::new(warmup), Box::new(cosine)],
        vec![WARMUP],
    )?;

    if options.resume {
        let saved = checkpoint::load_file(options.dir.join("model.safetensors"))?;
        model.load_state_dict(&saved, true, false)?;
        optim::load_file(
            options.dir.join("optimizer.safetensors"),
            &mut opt,
            Some(&mut schedule),
        )?;
    } else {
        // PyTorch's initial weights, so the loss curves can be compared.
        let init: StateDict<Tensor> = data
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("init.")?.to_owned(), v.clone())))
            .collect();
        model.load_state_dict(&init, true, false)?;
    }

    let start = schedule.state().last_epoch as usize;
    let end = options.steps.unwrap_or(total).min(total);
    let bar = if options.progress {
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")?);
    bar.set_position(start as u64);
    let mut loss_diff: Option<f64> = None;
    model.train(true);
    for step in start..end {
        let (epoch, k) = (step / steps_per_epoch, step % steps_per_epoch);
        let order = order(epoch, TRAIN);
        let batch = &order[k * BATCH..((k + 1) * BATCH).min(TRAIN)];
        let index = Tensor::new(batch, &Device::Cpu)?;
        let (x, y) = (
            train_x.index_select(&index, 0)?,
            train_y.index_select(&index, 0)?,
        );
        opt.zero_grad();
        let loss = cross_entropy(&model.call(x)?, &y)?;
        model.backward(&loss)?;
        clip_grad_norm_(model.parameters(), 1.0, 2.0, false)?;
        opt.step()?;
        schedule.step(&mut opt)?;
        let loss = f64::from(loss.to_scalar::<f32>()?);
        if let Some(&theirs) = pytorch_losses.get(step) {
            loss_diff = Some(loss_diff.unwrap_or(0.0).max((loss - theirs).abs()));
        }
        bar.set_message(format!(
            "epoch {} step {step} loss {loss:.4} lr {:.2e}",
            epoch + 1,
            opt.lr(0)
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();

    std::fs::create_dir_all(&options.dir)?;
    checkpoint::save_file(&model.state_dict(), options.dir.join("model.safetensors"))?;
    optim::save_file(
        options.dir.join("optimizer.safetensors"),
        &opt,
        Some(&schedule),
    )?;

    model.eval();
    let predictions = modcore::no_grad(|| model.call(test_x))?.argmax(1)?;
    let correct = predictions
        .eq(&test_y.to_dtype(predictions.dtype())?)?
        .to_dtype(DType::F32)?
        .sum_all()?
        .to_scalar::<f32>()?;
    Ok(Report {
        steps: end.max(start),
        loss_diff,
        accuracy: f64::from(correct) / test_y.dim(0)? as f64,
    })
}

pub fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = match args.iter().position(|a| a == "--steps") {
        Some(i) => Some(args.get(i + 1).ok_or("--steps needs a number")?.parse()?),
        None => None,
    };
    let options = Options {
        steps,
        resume: args.iter().any(|a| a == "--resume"),
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("target/train_digits"),
        progress: true,
    };
    let report = run(&options)?;
    println!("steps: {}", report.steps);
    match report.loss_diff {
        Some(diff) => {
            println!("max abs diff of the loss curve against PyTorch (first 50 steps): {diff:.2e}")
        }
        None => println!("(no step of the first 50 ran: nothing to compare with PyTorch)"),
    }
    println!("test accuracy: {:.2} %", 100.0 * report.accuracy);
    Ok(())
}
