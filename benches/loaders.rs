//! The loaders on large and hostile inputs (issue 15's targets), candle backend:
//! - 80k keys through `load_sharded` (8 shards) against `load_file` of the same tensors: at most
//!   2x (printed as a ratio from alternating runs, then each timed by criterion);
//! - a non-strict load with one 1 MB unexpected key (`"a." * 500_000 + "w"`): at most 10 ms;
//! - peak heap while loading a header of 200k zero-byte tensors: at most 2x the header plus what
//!   the loaded state dict keeps (printed).
//!
//! Run with `cargo bench --bench loaders`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use modcore::checkpoint;
use modcore::nn::Linear;
use modcore::{Module, StateDict};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::measure;

const KEYS: usize = 80_000;

fn folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("modcore-bench-loaders-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 80k one-element tensors, saved as one file and as 8 shards.
fn checkpoints(dir: &Path) -> (PathBuf, PathBuf) {
    let mut sd = StateDict::<Tensor>::new();
    for i in 0..KEYS {
        let t = Tensor::new(&[i as f32], &Device::Cpu).unwrap();
        sd.insert(format!("blocks.{}.layer.{}.weight", i / 100, i % 100), t);
    }
    let single = dir.join("single.safetensors");
    checkpoint::save_file(&sd, &single).unwrap();
    let shards = dir.join("sharded");
    std::fs::create_dir_all(&shards).unwrap();
    let index = checkpoint::save_sharded(&sd, &shards, KEYS * 4 / 8).unwrap();
    (single, index)
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// `load_sharded` over `load_file`, alternating the two, 7 rounds, medians.
fn sharded_ratio(single: &Path, index: &Path) -> f64 {
    let (mut file, mut sharded) = (Vec::new(), Vec::new());
    for round in 0..7 {
        for side in [round % 2, 1 - round % 2] {
            let start = Instant::now();
            if side == 0 {
                black_box(checkpoint::load_file::<Tensor>(single).unwrap());
                file.push(start.elapsed().as_secs_f64());
            } else {
                black_box(checkpoint::load_sharded::<Tensor>(index).unwrap());
                sharded.push(start.elapsed().as_secs_f64());
            }
        }
    }
    median(sharded) / median(file)
}

/// A header of `n` zero-byte tensors; returns the file and the header's length.
fn zero_byte_tensors(dir: &Path, n: usize) -> (PathBuf, usize) {
    let entries: Vec<String> = (0..n)
        .map(|i| format!(r#""t{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#))
        .collect();
    let header = format!("{{{}}}", entries.join(","));
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    let path = dir.join("zero-byte.safetensors");
    std::fs::write(&path, bytes).unwrap();
    (path, header.len())
}

/// Peak heap during the load over (2 x header + what the loaded state dict keeps).
fn header_memory(path: &Path, header: usize) -> (isize, isize, f64) {
    let (sd, kept, peak) = measure(|| checkpoint::load_file::<Tensor>(path).unwrap());
    drop(black_box(sd));
    (
        peak,
        kept,
        peak as f64 / (2 * header as isize + kept) as f64,
    )
}

fn loaders(c: &mut Criterion) {
    let dir = folder();
    let (single, index) = checkpoints(&dir);
    println!(
        "load_sharded / load_file, 80k keys (alternating, medians): {:.2} (target <= 2)",
        sharded_ratio(&single, &index)
    );
    let (zero, header) = zero_byte_tensors(&dir, 200_000);
    let (peak, kept, ratio) = header_memory(&zero, header);
    println!(
        "200k zero-byte tensors: header {header} B, peak heap {peak} B, state dict keeps {kept} B: \
         peak / (2 x header + kept) = {ratio:.2} (target <= 1)"
    );

    let mut g = c.benchmark_group("loaders");
    g.sample_size(10);
    g.bench_function("load_file_80k", |b| {
        b.iter(|| checkpoint::load_file::<Tensor>(&single).unwrap())
    });
    g.bench_function("load_sharded_80k", |b| {
        b.iter(|| checkpoint::load_sharded::<Tensor>(&index).unwrap())
    });
    let mut model = Linear::new(4, 4, true).unwrap();
    let mut sd = model.state_dict();
    sd.insert(
        "a.".repeat(500_000) + "w",
        Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap(),
    );
    g.bench_function("load_state_dict_1mb_unexpected_key", |b| {
        b.iter(|| model.load_state_dict(&sd, false, false).unwrap())
    });
    g.bench_function("load_file_200k_zero_byte_tensors", |b| {
        b.iter(|| checkpoint::load_file::<Tensor>(&zero).unwrap())
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, loaders);
criterion_main!(benches);
