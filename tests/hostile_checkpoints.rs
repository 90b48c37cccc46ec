//! Checkpoint files from the internet: crafted headers, special files, links out of the folder,
//! and a bounded mutation run. Every failure is a typed error and leaves the model as it was.

use std::path::{Path, PathBuf};

mod common;
use common::{handmade, scratch};

use candle_core::{DType as CDType, Device, Tensor};
use modcore::checkpoint::{self, CheckpointError, ShardLinks};
use modcore::nn::{BatchNorm1d, Linear};
use modcore::{Module, ModuleCore, StateDict};

#[derive(Module)]
struct Net {
    core: ModuleCore,
    fc: Linear,
    norm: BatchNorm1d,
}

fn net() -> Net {
    Net {
        core: ModuleCore::new(),
        fc: Linear::new(3, 2, true).unwrap(),
        norm: BatchNorm1d::new(2).unwrap(),
    }
}

fn format_error(path: &Path) -> String {
    match checkpoint::load_file::<Tensor>(path) {
        Err(CheckpointError::Format { message, .. }) => message,
        Err(other) => panic!("expected a format error, got {other}"),
        Ok(_) => panic!("{} loaded", path.display()),
    }
}

/// Every tensor of the model's state dict, as bytes.
fn snapshot<M: Module<Tensor>>(m: &M) -> Vec<(String, Vec<u8>)> {
    m.state_dict()
        .into_iter()
        .map(|(k, t)| (k, modcore::Tensor::to_bytes(&t).unwrap()))
        .collect()
}

#[test]
fn shapes_whose_sizes_overflow_are_refused() {
    // Zero elements, but strides of 2^66: candle's shape arithmetic would overflow.
    let path = handmade(
        "zero-huge.safetensors",
        r#"{"x":{"dtype":"F32","shape":[0,8589934592,8589934592],"data_offsets":[0,0]}}"#,
        &[],
    );
    assert_eq!(
        format_error(&path),
        "tensor \"x\": shape [0, 8589934592, 8589934592] of F32 overflows"
    );
    // Eight tensors of 2^61-1 bytes: their offsets add up past the data (and past 2^64).
    let n = (1u64 << 61) - 1;
    let entries: Vec<String> = (0..8)
        .map(|i| {
            format!(
                r#""t{i}":{{"dtype":"U8","shape":[{n}],"data_offsets":[{},{}]}}"#,
                i * n,
                (i + 1) * n
            )
        })
        .collect();
    let path = handmade(
        "huge-u8.safetensors",
        &format!("{{{}}}", entries.join(",")),
        &[0; 8],
    );
    assert_eq!(
        format_error(&path),
        format!("the entries cover {} bytes of data; the file has 8", 8 * n)
    );
}

#[test]
fn byte_ranges_must_tile_the_data() {
    let hole = handmade(
        "hole.safetensors",
        r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}"#,
        &[0; 6],
    );
    assert_eq!(
        format_error(&hole),
        "tensor \"b\" starts at byte 4 of the data, where byte 2 was expected (entries must tile the data)"
    );
    let overlap = handmade(
        "overlap.safetensors",
        r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#,
        &[0; 4],
    );
    assert!(format_error(&overlap).contains("tensor \"b\" starts at byte 2"));
    let long = handmade(
        "long-header.safetensors",
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
        &[0],
    );
    let mut bytes = std::fs::read(&long).unwrap();
    bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&long, bytes).unwrap();
    assert!(
        format_error(&long).starts_with("the header says it is 18446744073709551615 bytes long")
    );
}

#[test]
fn a_tensor_named_twice_is_refused() {
    let path = handmade(
        "twice.safetensors",
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
        &[1, 2],
    );
    assert_eq!(format_error(&path), "tensor \"a\" is in the header twice");
}

/// A one-shard checkpoint of `net()` in a fresh folder, with `index` as its index text.
fn sharded(folder: &str, index: &str) -> PathBuf {
    let dir = scratch(folder);
    std::fs::create_dir_all(&dir).unwrap();
    checkpoint::save_file(&net().state_dict(), dir.join("model.safetensors")).unwrap();
    let path = dir.join(checkpoint::INDEX_FILE);
    std::fs::write(&path, index).unwrap();
    path
}

#[test]
fn a_key_mapped_twice_is_refused() {
    let index = sharded(
        "mapped-twice",
        r#"{"weight_map": {"fc.weight": "model.safetensors", "fc.weight": "model.safetensors"}}"#,
    );
    let e = checkpoint::load_sharded::<Tensor>(&index).unwrap_err();
    assert!(matches!(e, CheckpointError::Index { .. }), "{e}");
    assert!(
        e.to_string().contains("\"fc.weight\" is mapped twice"),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn special_files_are_refused_without_blocking() {
    let fifo = scratch("fifo.safetensors");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("no mkfifo here; skipped");
        return;
    }
    let e = checkpoint::load_file::<Tensor>(&fifo).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: not a regular file", fifo.display())
    );
    let e = checkpoint::load_file::<Tensor>(std::env::temp_dir()).unwrap_err();
    assert!(matches!(e, CheckpointError::NotAFile { .. }), "{e}");
    // A shard that is a FIFO.
    let dir = scratch("fifo-shard");
    std::fs::create_dir_all(&dir).unwrap();
    let shard = dir.join("model.safetensors");
    let _ = std::fs::remove_file(&shard);
    std::process::Command::new("mkfifo")
        .arg(&shard)
        .status()
        .unwrap();
    let index = dir.join(checkpoint::INDEX_FILE);
    std::fs::write(
        &index,
        r#"{"weight_map": {"fc.weight": "model.safetensors"}}"#,
    )
    .unwrap();
    let e = checkpoint::load_sharded::<Tensor>(&index).unwrap_err();
    assert!(matches!(e, CheckpointError::NotAFile { .. }), "{e}");
}

#[cfg(unix)]
#[test]
fn shards_linking_out_of_the_folder_are_refused_unless_allowed() {
    let outside = scratch("outside.safetensors");
    checkpoint::save_file(&net().state_dict(), &outside).unwrap();
    let dir = scratch("linked");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("model.safetensors")).unwrap();
    let index = dir.join(checkpoint::INDEX_FILE);
    let keys: Vec<String> = net()
        .state_dict()
        .keys()
        .map(|k| format!("\"{k}\": \"model.safetensors\""))
        .collect();
    std::fs::write(
        &index,
        format!("{{\"weight_map\": {{{}}}}}", keys.join(", ")),
    )
    .unwrap();
    let e = checkpoint::load_sharded::<Tensor>(&index).unwrap_err();
    let CheckpointError::OutsideFolder { shard, resolved } = &e else {
        panic!("expected OutsideFolder, got {e}");
    };
    assert_eq!(shard, &dir.join("model.safetensors"));
    assert_eq!(resolved, &outside.canonicalize().unwrap());
    let sd: StateDict<Tensor> =
        checkpoint::load_sharded_with_links(&index, ShardLinks::Anywhere).unwrap();
    assert_eq!(sd.len(), keys.len());
    // A link that stays inside the folder is followed by default.
    let inner = dir.join("real.safetensors");
    std::fs::copy(&outside, &inner).unwrap();
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    std::os::unix::fs::symlink(&inner, dir.join("model.safetensors")).unwrap();
    assert!(checkpoint::load_sharded::<Tensor>(&index).is_ok());
}

#[test]
fn a_megabyte_key_is_reported_not_choked_on() {
    let mut m = net();
    let mut sd = m.state_dict();
    let key = "a.".repeat(500_000) + "weight";
    sd.insert(
        key.clone(),
        Tensor::zeros(2, CDType::F32, &Device::Cpu).unwrap(),
    );
    let keys = m.load_state_dict(&sd, false, false).unwrap();
    assert_eq!(keys.unexpected_keys, [key]);
}

/// A small xorshift generator: the mutation run is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutates a valid file `20_000` times (bytes flipped, digits changed, cuts and insertions,
/// mostly in the header): every load either succeeds or fails with a typed error, and a failed
/// load leaves the model exactly as it was.
#[test]
fn mutated_checkpoints_never_panic_or_change_a_model_they_fail_to_load() {
    let seed_model = net();
    let running_mean = seed_model.norm.running_mean.as_ref().unwrap();
    running_mean.set_tensor(Tensor::new(&[0.5f32, -0.5], &Device::Cpu).unwrap());
    let seed_path = scratch("seed.safetensors");
    checkpoint::save_file(&seed_model.state_dict(), &seed_path).unwrap();
    let seed = std::fs::read(&seed_path).unwrap();
    let header_end = 8 + u64::from_le_bytes(seed[..8].try_into().unwrap()) as usize;
    let path = scratch("mutant.safetensors");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut model = net();
    let mut before = snapshot(&model);
    let (mut loaded, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let mut bytes = seed.clone();
        for _ in 0..1 + rng.below(3) {
            let at = if rng.below(4) == 0 {
                rng.below(bytes.len())
            } else {
                rng.below(header_end.min(bytes.len()))
            };
            match rng.below(6) {
                0 => bytes[at] ^= 1 << rng.below(8),
                1 => bytes[at] = b"0123456789"[rng.below(10)],
                2 => bytes[at] = b"{}[]\",:"[rng.below(7)],
                3 => bytes.truncate(at),
                4 => bytes.insert(at, b"9"[0]),
                _ => {
                    bytes.remove(at);
                }
            }
            if bytes.is_empty() {
                break;
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let result = checkpoint::load_file::<Tensor>(&path)
            .map_err(|e| e.to_string())
            .and_then(|sd| {
                model
                    .load_state_dict(&sd, true, false)
                    .map_err(|e| e.to_string())
            });
        match result {
            Ok(_) => {
                loaded += 1;
                before = snapshot(&model);
            }
            Err(_) => {
                refused += 1;
                assert_eq!(snapshot(&model), before, "a failed load changed the model");
            }
        }
    }
    assert_eq!(loaded + refused, 20_000);
    assert!(refused > 10_000, "{refused} refused");
}

/// Under an address-space limit of about 5.7 GiB, a sparse file that really holds a 4 GiB
/// tensor maps (4 GiB) but cannot be copied out (4 GiB more): the load is an error, and the
/// process lives. Runs itself in a child process with `ulimit -v`.
#[cfg(unix)]
#[test]
fn a_tensor_larger_than_the_memory_left_is_an_error_not_an_abort() {
    const CHILD: &str = "MODCORE_BIG_TENSOR_CHILD";
    if let Some(path) = std::env::var_os(CHILD) {
        let e = checkpoint::load_file::<Tensor>(&path).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("cannot allocate 4294967296 bytes for a tensor of shape [4294967296]"),
            "{e}"
        );
        return;
    }
    let path = scratch("sparse-4gib.safetensors");
    let header = r#"{"big":{"dtype":"U8","shape":[4294967296],"data_offsets":[0,4294967296]}}"#;
    let mut start = (header.len() as u64).to_le_bytes().to_vec();
    start.extend_from_slice(header.as_bytes());
    std::fs::write(&path, &start).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(start.len() as u64 + (1 << 32)).unwrap();
    drop(file);
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 6000000 && exec \"$0\" --exact a_tensor_larger_than_the_memory_left_is_an_error_not_an_abort --nocapture")
        .arg(std::env::current_exe().unwrap())
        .env(CHILD, &path)
        .status()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(status.success(), "the child died: {status}");
}
