//! Checkpoint files made by real PyTorch (`tests/fixtures/make_fixtures.py`): strict loads into
//! the same models declared with `#[derive(Module)]`, saves that reproduce the files byte for
//! byte, sharded checkpoints, and bad files that leave the model untouched.

use std::path::{Path, PathBuf};

mod common;
use common::{handmade, scratch};

use candle_core::{DType as CDType, Device, Tensor};
use modcore::checkpoint::{self, CheckpointError};
use modcore::{Buffer, DType, Module, ModuleCore, Parameter, StateDict};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, CDType::F32, &Device::Cpu).unwrap()
}

fn bytes(t: &Tensor) -> Vec<u8> {
    modcore::Tensor::to_bytes(t).unwrap()
}

// ---- the models, named as in make_fixtures.py -------------------------------------------------

#[derive(Module)]
struct Linear {
    core: ModuleCore,
    weight: Parameter<Tensor>,
    bias: Option<Parameter<Tensor>>,
}

fn linear(i: usize, o: usize, bias: bool) -> Linear {
    Linear {
        core: ModuleCore::new(),
        weight: Parameter::new(zeros(&[o, i])),
        bias: bias.then(|| Parameter::new(zeros(&[o]))),
    }
}

#[derive(Module, Default)]
struct ReLU {
    core: ModuleCore,
}

/// `nn.BatchNorm1d`: version 2 added `num_batches_tracked`.
#[derive(Module)]
#[module(version = 2, migrate = BatchNorm1d::migrate)]
struct BatchNorm1d {
    core: ModuleCore,
    weight: Parameter<Tensor>,
    bias: Parameter<Tensor>,
    running_mean: Buffer<Tensor>,
    running_var: Buffer<Tensor>,
    num_batches_tracked: Buffer<Tensor>,
}

impl BatchNorm1d {
    fn new(n: usize) -> Self {
        BatchNorm1d {
            core: ModuleCore::new(),
            weight: Parameter::new(zeros(&[n])),
            bias: Parameter::new(zeros(&[n])),
            running_mean: Buffer::new(zeros(&[n])),
            running_var: Buffer::new(zeros(&[n])),
            num_batches_tracked: Buffer::new(Tensor::new(-1i64, &Device::Cpu).unwrap()),
        }
    }

    fn migrate<T: modcore::Tensor>(
        &self,
        sd: &mut StateDict<T>,
        prefix: &str,
        version: Option<u32>,
    ) {
        let key = format!("{prefix}num_batches_tracked");
        if version.is_none_or(|v| v < 2) && !sd.contains_key(&key) {
            if let Ok(zero) = T::from_bytes(DType::I64, &[], &0i64.to_le_bytes()) {
                sd.insert(key, zero);
            }
        }
    }
}

#[derive(Module)]
struct Block {
    core: ModuleCore,
    fc1: Linear,
    act: ReLU,
    fc2: Linear,
    #[buffer(persistent = false)]
    mask: Buffer<Tensor>,
}

#[derive(Module)]
struct Nested {
    core: ModuleCore,
    scale: Parameter<Tensor>,
    embed: Linear,
    blocks: Vec<Block>,
    norm: BatchNorm1d,
    head: Linear,
}

fn nested() -> Nested {
    let block = || Block {
        core: ModuleCore::new(),
        fc1: linear(4, 8, true),
        act: ReLU::default(),
        fc2: linear(8, 4, false),
        mask: Buffer::new(zeros(&[4])),
    };
    Nested {
        core: ModuleCore::new(),
        scale: Parameter::new(zeros(&[])),
        embed: linear(3, 4, true),
        blocks: vec![block(), block()],
        norm: BatchNorm1d::new(4),
        head: linear(4, 2, true),
    }
}

#[derive(Module)]
struct Embedding {
    core: ModuleCore,
    weight: Parameter<Tensor>,
}

#[derive(Module)]
struct LayerNorm {
    core: ModuleCore,
    weight: Parameter<Tensor>,
    bias: Parameter<Tensor>,
}

#[derive(Module)]
struct Gpt2Block {
    core: ModuleCore,
    ln_1: LayerNorm,
    mlp: Linear,
}

#[derive(Module)]
struct Transformer {
    core: ModuleCore,
    wte: Embedding,
    h: Vec<Gpt2Block>,
    ln_f: LayerNorm,
}

#[derive(Module)]
struct Gpt2 {
    core: ModuleCore,
    transformer: Transformer,
    lm_head: Linear,
}

fn gpt2() -> Gpt2 {
    let (vocab, d) = (10, 4);
    let norm = || LayerNorm {
        core: ModuleCore::new(),
        weight: Parameter::new(zeros(&[d])),
        bias: Parameter::new(zeros(&[d])),
    };
    let wte = Embedding {
        core: ModuleCore::new(),
        weight: Parameter::new(zeros(&[vocab, d])),
    };
    // The LM head is the token embedding: one parameter under two names.
    let lm_head = Linear {
        core: ModuleCore::new(),
        weight: wte.weight.clone(),
        bias: None,
    };
    Gpt2 {
        core: ModuleCore::new(),
        transformer: Transformer {
            core: ModuleCore::new(),
            wte,
            h: vec![Gpt2Block {
                core: ModuleCore::new(),
                ln_1: norm(),
                mlp: linear(d, d, true),
            }],
            ln_f: norm(),
        },
        lm_head,
    }
}

#[derive(Module)]
struct Dtypes {
    core: ModuleCore,
    f32: Parameter<Tensor>,
    f16: Buffer<Tensor>,
    bf16: Buffer<Tensor>,
    f64: Buffer<Tensor>,
    i64: Buffer<Tensor>,
    flag: Buffer<Tensor>,
}

fn dtypes() -> Dtypes {
    let of = |shape: &[usize], dtype| Tensor::zeros(shape, dtype, &Device::Cpu).unwrap();
    Dtypes {
        core: ModuleCore::new(),
        f32: Parameter::new(of(&[2, 3], CDType::F32)),
        f16: Buffer::new(of(&[3], CDType::F16)),
        bf16: Buffer::new(of(&[3], CDType::BF16)),
        f64: Buffer::new(of(&[2], CDType::F64)),
        i64: Buffer::new(of(&[2], CDType::I64)),
        // candle has no bool: PyTorch's bools load as u8.
        flag: Buffer::new(of(&[3], CDType::U8)),
    }
}

/// The `(key, shape, dtype)` list PyTorch wrote next to a fixture.
fn pytorch_keys(name: &str) -> Vec<(String, Vec<usize>, String)> {
    let text = std::fs::read_to_string(fixture(&format!("{name}.keys.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn model_keys<M: Module<Tensor>>(m: &M) -> Vec<(String, Vec<usize>, String)> {
    m.state_dict().summary()
}

/// Loads the fixture strictly, checks every value, saves it back and compares the files.
fn round_trip<M: Module<Tensor>>(mut model: M, name: &str) -> M {
    assert_eq!(
        model_keys(&model),
        pytorch_keys(name),
        "{name}: keys, order, shapes, dtypes"
    );
    let file: StateDict<Tensor> =
        checkpoint::load_file(fixture(&format!("{name}.safetensors"))).unwrap();
    let keys = model.load_state_dict(&file, true, false).unwrap();
    assert!(keys.is_empty(), "{name}: {keys}");
    let saved = model.state_dict();
    for (key, tensor) in file.iter() {
        assert_eq!(
            bytes(saved.get(key).unwrap()),
            bytes(tensor),
            "{name}: {key}"
        );
    }
    let out = scratch(&format!("{name}.safetensors"));
    checkpoint::save_file(&saved, &out).unwrap();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(fixture(&format!("{name}.safetensors"))).unwrap(),
        "{name}: the file saved from Rust equals the one PyTorch wrote"
    );
    model
}

#[test]
fn nested_modules_module_lists_and_batch_norm_round_trip() {
    let m = round_trip(nested(), "nested");
    assert_eq!(
        m.norm
            .num_batches_tracked
            .tensor()
            .to_vec0::<i64>()
            .unwrap(),
        3
    );
    assert_eq!(m.scale.shape(), Vec::<usize>::new());
    // The non-persistent masks were neither saved nor loaded.
    assert_eq!(
        m.blocks[0].mask.tensor().to_vec1::<f32>().unwrap(),
        [0.0; 4]
    );
}

#[test]
fn tied_weights_round_trip_and_stay_tied() {
    let m = round_trip(gpt2(), "gpt2");
    assert!(m.transformer.wte.weight.same(&m.lm_head.weight));
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert!(!names.contains(&"lm_head.weight".to_owned()));
    assert!(m.state_dict().contains_key("lm_head.weight"));
}

#[test]
fn a_file_with_one_key_per_tied_group_loads_strictly() {
    let file: StateDict<Tensor> = checkpoint::load_file(fixture("gpt2_dedup.safetensors")).unwrap();
    assert_eq!(file.len(), 7);
    let mut m = gpt2();
    assert!(m.load_state_dict(&file, true, false).unwrap().is_empty());
    let reference: StateDict<Tensor> = checkpoint::load_file(fixture("gpt2.safetensors")).unwrap();
    assert_eq!(
        bytes(&m.lm_head.weight.tensor()),
        bytes(reference.get("lm_head.weight").unwrap())
    );
}

#[test]
fn every_common_dtype_loads() {
    assert_eq!(
        model_keys(&dtypes())
            .iter()
            .map(|k| k.2.as_str())
            .collect::<Vec<_>>(),
        [
            "torch.float32",
            "torch.float16",
            "torch.bfloat16",
            "torch.float64",
            "torch.int64",
            "torch.uint8"
        ]
    );
    let file: StateDict<Tensor> = checkpoint::load_file(fixture("dtypes.safetensors")).unwrap();
    let dtypes_in_file: Vec<String> = file
        .iter()
        .map(|(_, t)| modcore::Tensor::dtype(t).to_string())
        .collect();
    assert_eq!(dtypes_in_file.len(), 6);
    let mut m = dtypes();
    m.load_state_dict(&file, true, false).unwrap();
    assert_eq!(m.i64.tensor().to_vec1::<i64>().unwrap(), [7, -3]);
    assert_eq!(m.flag.tensor().to_vec1::<u8>().unwrap(), [1, 0, 1]);
    for key in ["f32", "f16", "bf16", "f64", "i64"] {
        assert_eq!(
            bytes(m.state_dict().get(key).unwrap()),
            bytes(file.get(key).unwrap()),
            "{key}"
        );
    }
}

#[test]
fn a_version_1_batch_norm_checkpoint_is_migrated() {
    let file: StateDict<Tensor> = checkpoint::load_file(fixture("nested_v1.safetensors")).unwrap();
    assert!(!file.contains_key("norm.num_batches_tracked"));
    let mut m = nested();
    assert!(m.load_state_dict(&file, true, false).unwrap().is_empty());
    assert_eq!(
        m.norm
            .num_batches_tracked
            .tensor()
            .to_vec0::<i64>()
            .unwrap(),
        0
    );
}

#[test]
fn sharded_checkpoints_load_and_save() {
    let sharded: StateDict<Tensor> =
        checkpoint::load_sharded(fixture("sharded/model.safetensors.index.json")).unwrap();
    let single: StateDict<Tensor> = checkpoint::load_file(fixture("nested.safetensors")).unwrap();
    assert_eq!(sharded.len(), single.len());
    let mut m = nested();
    assert!(m.load_state_dict(&sharded, true, false).unwrap().is_empty());

    let dir = scratch("sharded-out");
    std::fs::create_dir_all(&dir).unwrap();
    let index = checkpoint::save_sharded(&m.state_dict(), &dir, 300).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&index).unwrap()).unwrap();
    let total: usize = m.state_dict().iter().map(|(_, t)| bytes(t).len()).sum();
    assert_eq!(json["metadata"]["total_size"], total);
    let files: std::collections::BTreeSet<&str> = json["weight_map"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(files.len() > 1, "{files:?}");
    assert!(files
        .iter()
        .all(|f| f.ends_with(&format!("-of-{:05}.safetensors", files.len()))));
    let back: StateDict<Tensor> = checkpoint::load_sharded(&index).unwrap();
    for (key, tensor) in single.iter() {
        assert_eq!(bytes(back.get(key).unwrap()), bytes(tensor), "{key}");
    }
}

#[test]
fn saving_over_an_older_sharded_checkpoint_replaces_it() {
    let dir = scratch("sharded-over");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let m = nested();
    std::fs::write(dir.join("notes.txt"), "kept").unwrap();
    checkpoint::save_sharded(&m.state_dict(), &dir, 300).unwrap();
    let index = checkpoint::save_sharded(&m.state_dict(), &dir, usize::MAX).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "model-00001-of-00001.safetensors",
            "model.safetensors.index.json",
            "notes.txt"
        ]
    );
    assert_eq!(
        checkpoint::load_sharded::<Tensor>(&index).unwrap().len(),
        m.state_dict().len()
    );
    let mode = |name: &str| std::fs::metadata(dir.join(name)).unwrap().permissions();
    assert_eq!(
        mode("model-00001-of-00001.safetensors"),
        mode("model.safetensors.index.json")
    );
    assert_eq!(mode("model.safetensors.index.json"), mode("notes.txt"));
}

#[test]
fn load_sharded_keeps_the_index_key_order() {
    let dir = scratch("sharded-order");
    std::fs::create_dir_all(&dir).unwrap();
    let mut sd = StateDict::<Tensor>::new();
    for key in ["a", "b", "c"] {
        sd.insert(key, zeros(&[1]));
    }
    checkpoint::save_file(&sd, dir.join("one.safetensors")).unwrap();
    let index = dir.join(checkpoint::INDEX_FILE);
    let map = r#"{"weight_map": {"c": "one.safetensors", "a": "one.safetensors", "b": "one.safetensors"}}"#;
    std::fs::write(&index, map).unwrap();
    let loaded: StateDict<Tensor> = checkpoint::load_sharded(&index).unwrap();
    assert_eq!(loaded.keys().collect::<Vec<_>>(), ["c", "a", "b"]);
}

#[test]
fn an_empty_weight_map_is_an_error() {
    let dir = scratch("sharded-empty");
    std::fs::create_dir_all(&dir).unwrap();
    let index = dir.join(checkpoint::INDEX_FILE);
    std::fs::write(&index, r#"{"weight_map": {}}"#).unwrap();
    let e = checkpoint::load_sharded::<Tensor>(&index).unwrap_err();
    assert!(matches!(e, CheckpointError::Index { .. }));
    assert!(
        e.to_string().ends_with("the \"weight_map\" is empty"),
        "{e}"
    );
}

// ---- bad input: a typed error, and the model unchanged ----------------------------------------

fn untouched(m: &Nested) {
    assert_eq!(bytes(&m.embed.weight.tensor()), bytes(&zeros(&[4, 3])));
    assert_eq!(
        m.norm
            .num_batches_tracked
            .tensor()
            .to_vec0::<i64>()
            .unwrap(),
        -1
    );
}

fn load_into(m: &mut Nested, path: &Path) -> Result<(), CheckpointError> {
    let sd: StateDict<Tensor> = checkpoint::load_file(path)?;
    m.load_state_dict(&sd, true, false)?;
    Ok(())
}

#[test]
fn truncated_and_corrupt_files_are_format_errors() {
    let bytes = std::fs::read(fixture("nested.safetensors")).unwrap();
    let truncated = scratch("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let garbage = scratch("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a checkpoint at all").unwrap();
    let empty = scratch("empty.safetensors");
    std::fs::write(&empty, b"").unwrap();
    let mut m = nested();
    for path in [&truncated, &garbage, &empty] {
        let e = load_into(&mut m, path).unwrap_err();
        assert!(matches!(e, CheckpointError::Format { .. }), "{e}");
        assert!(
            e.to_string().contains("not a valid safetensors file"),
            "{e}"
        );
        untouched(&m);
    }
    let e = load_into(&mut m, &scratch("no-such-file.safetensors")).unwrap_err();
    assert!(matches!(e, CheckpointError::Io { .. }));
}

#[test]
fn a_header_that_lies_about_sizes_is_refused() {
    // 4 f32 elements need 16 bytes; the header claims 8.
    let path = handmade(
        "lying.safetensors",
        r#"{"embed.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    let e = load_into(&mut nested(), &path).unwrap_err();
    assert!(matches!(e, CheckpointError::Format { .. }), "{e}");
    // Offsets past the end of the data.
    let path = handmade(
        "past-end.safetensors",
        r#"{"embed.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
        &[0; 8],
    );
    assert!(matches!(
        load_into(&mut nested(), &path).unwrap_err(),
        CheckpointError::Format { .. }
    ));
}

#[test]
fn unknown_and_unsupported_dtypes_are_refused() {
    let path = handmade(
        "unknown.safetensors",
        r#"{"embed.bias":{"dtype":"Q7","shape":[4],"data_offsets":[0,16]}}"#,
        &[0; 16],
    );
    let e = load_into(&mut nested(), &path).unwrap_err();
    assert!(matches!(e, CheckpointError::Format { .. }), "{e}");
    let path = handmade(
        "fp8.safetensors",
        r#"{"embed.bias":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"#,
        &[0; 4],
    );
    let e = load_into(&mut nested(), &path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: tensor \"embed.bias\" has dtype F8_E4M3, which modcore does not support",
            path.display()
        )
    );
}

#[test]
fn shape_mismatches_missing_and_unexpected_keys_are_reported_together() {
    let mut sd: StateDict<Tensor> = checkpoint::load_file(fixture("nested.safetensors")).unwrap();
    sd.insert("head.bias", zeros(&[3]));
    sd.remove("blocks.1.fc2.weight");
    sd.insert("blocks.0.fc1", zeros(&[1])); // a key naming a module, not a tensor
    sd.insert("blocks.2.fc1.weight", zeros(&[8, 4]));
    let mut m = nested();
    let e = m.load_state_dict(&sd, true, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error(s) in loading state_dict for Nested:\n\
         \tMissing key(s) in state_dict: \"blocks.1.fc2.weight\". \n\
         \tUnexpected key(s) in state_dict: \"blocks.2.fc1.weight\", \"blocks.0.fc1\". \n\
         \tsize mismatch for head.bias: copying a param with shape torch.Size([3]) from checkpoint, the shape in current model is torch.Size([2])."
    );
    untouched(&m);
}

#[test]
fn dtypes_convert_on_copy_and_ndarray_refuses_foreign_dtypes() {
    let mut m = nested();
    let mut sd: StateDict<Tensor> = checkpoint::load_file(fixture("nested.safetensors")).unwrap();
    // A float counter is converted to the model's int64, as PyTorch's copy_ does.
    sd.insert(
        "norm.num_batches_tracked",
        Tensor::new(1.5f32, &Device::Cpu).unwrap(),
    );
    m.load_state_dict(&sd, true, false).unwrap();
    assert_eq!(
        m.norm
            .num_batches_tracked
            .tensor()
            .to_vec0::<i64>()
            .unwrap(),
        1
    );

    // ndarray arrays hold one dtype: an f64 entry cannot be copied into an f32 array.
    type Nd = ndarray::ArcArray<f32, ndarray::IxDyn>;
    #[derive(Module)]
    struct Small {
        core: ModuleCore,
        w: Parameter<Nd>,
    }
    let mut small = Small {
        core: ModuleCore::new(),
        w: Parameter::new(Nd::zeros(ndarray::IxDyn(&[2]))),
    };
    let mut sd: StateDict<Nd> = StateDict::new();
    sd.insert("w", Nd::zeros(ndarray::IxDyn(&[2])));
    let path = scratch("small.safetensors");
    checkpoint::save_file(&sd, &path).unwrap();
    let loaded: StateDict<Nd> = checkpoint::load_file(&path).unwrap();
    assert!(small
        .load_state_dict(&loaded, true, false)
        .unwrap()
        .is_empty());
    let f64_file = handmade(
        "f64.safetensors",
        r#"{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}"#,
        &[0; 16],
    );
    let e = checkpoint::load_file::<Nd>(&f64_file).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tensor \"w\": an ndarray array of torch.float32 cannot hold torch.float64 data"
    );
}
