//! `checkpoint::load_pth`: `torch.save` files read as `torch.load(weights_only=True)` reads them,
//! against tensors PyTorch loaded (`tests/fixtures/make_pth.py`), and hostile files.

mod common;

use std::io::Write;
use std::path::PathBuf;

use candle_core::Tensor;
use modcore::checkpoint::{self, CheckpointError, PthKey, PthObject};
use modcore::containers::Sequential;
use modcore::nn::{BatchNorm1d, Linear};
use modcore::{Module, StateDict};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pth")
        .join(name)
}

/// A tensor that keeps the dtype, shape and bytes it was made from: what the reader decoded,
/// for any dtype (candle has no int8).
#[derive(Clone, Debug, PartialEq)]
struct Raw(std::sync::Arc<(modcore::DType, Vec<usize>, Vec<u8>)>);

impl modcore::Tensor for Raw {
    type Id = usize;
    fn shape(&self) -> Vec<usize> {
        self.0 .1.clone()
    }
    fn dtype(&self) -> modcore::DType {
        self.0 .0
    }
    fn id(&self) -> usize {
        std::sync::Arc::as_ptr(&self.0) as usize
    }
    fn from_bytes(
        dtype: modcore::DType,
        shape: &[usize],
        bytes: &[u8],
    ) -> Result<Self, modcore::TensorError> {
        Ok(Raw(std::sync::Arc::new((
            dtype,
            shape.to_vec(),
            bytes.to_vec(),
        ))))
    }
}

fn expected(prefix: &str) -> StateDict<Raw> {
    let all: StateDict<Raw> = checkpoint::load_file(fixture("expected.safetensors")).unwrap();
    all.iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_owned(), v.clone())))
        .collect()
}

/// The same keys, and tensors equal in dtype, shape and every byte (`expected.safetensors`
/// keeps its keys sorted, so order is checked apart).
fn assert_same(ours: &StateDict<Raw>, theirs: &StateDict<Raw>) {
    let entries = |sd: &StateDict<Raw>| -> std::collections::BTreeMap<String, Raw> {
        sd.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect()
    };
    assert_eq!(entries(ours), entries(theirs));
}

fn keys<T>(sd: &StateDict<T>) -> Vec<&str> {
    sd.keys().collect()
}

#[test]
fn a_state_dict_reads_with_its_metadata_and_loads_strictly() {
    let path = fixture("state_dict.pth");
    assert_same(
        &checkpoint::load_pth(&path).unwrap(),
        &expected("state_dict/"),
    );
    let sd: StateDict<Tensor> = checkpoint::load_pth(&path).unwrap();
    let order = [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ];
    assert_eq!(keys(&sd), order, "PyTorch's order");
    let versions: Vec<(String, Option<u32>)> = sd
        .metadata()
        .iter()
        .map(|(k, m)| (k.to_owned(), m.version))
        .collect();
    assert_eq!(
        versions,
        [
            ("".into(), Some(1)),
            ("0".into(), Some(1)),
            ("1".into(), Some(2))
        ]
    );
    let mut model = Sequential::new();
    model.push(Linear::new(3, 4, true).unwrap());
    model.push(BatchNorm1d::new(4).unwrap());
    let keys = model.load_state_dict(&sd, true, false).unwrap();
    assert!(keys.is_empty());
}

#[test]
fn a_nested_checkpoint_is_read_by_key_or_whole() {
    let path = fixture("checkpoint.pth");
    let e = checkpoint::load_pth::<Tensor>(&path).unwrap_err();
    assert!(matches!(e, CheckpointError::NotAStateDict { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(r#"the checkpoint's keys are ["model", "epoch", "optimizer", "note"]"#),
        "{e}"
    );
    let sd: StateDict<Raw> = checkpoint::load_pth_entry(&path, "model").unwrap();
    assert_same(&sd, &expected("checkpoint/model/"));
    let e = checkpoint::load_pth_entry::<Tensor>(&path, "state_dict").unwrap_err();
    assert!(matches!(e, CheckpointError::KeyNotFound { .. }), "{e}");

    let PthObject::Dict(entries) = checkpoint::load_pth_object::<Tensor>(&path).unwrap() else {
        panic!("a dict")
    };
    let get = |k: &str| {
        entries
            .iter()
            .find(|(key, _)| *key == PthKey::Str(k.into()))
            .map(|(_, v)| v)
    };
    assert!(matches!(get("epoch"), Some(PthObject::Int(3))));
    assert!(matches!(get("note"), Some(PthObject::Str(s)) if s == "nested"));
    // optimizer.state_dict(): {"state": {0: {"momentum_buffer": tensor}, …}, "param_groups": [...]}
    let Some(PthObject::Dict(optimizer)) = get("optimizer") else {
        panic!("optimizer")
    };
    let PthObject::Dict(state) = &optimizer[0].1 else {
        panic!("state")
    };
    assert_eq!(state[0].0, PthKey::Int(0));
    let PthObject::List(groups) = &optimizer[1].1 else {
        panic!("param_groups")
    };
    let PthObject::Dict(group) = &groups[0] else {
        panic!("a group")
    };
    let lr = group.iter().find(|(k, _)| *k == PthKey::Str("lr".into()));
    assert!(matches!(lr, Some((_, PthObject::Float(v))) if *v == 0.1));
}

#[test]
fn every_dtype_views_of_shared_storages_and_both_byte_orders_read_as_pytorch_reads_them() {
    let dtypes: StateDict<Raw> = checkpoint::load_pth(fixture("dtypes.pth")).unwrap();
    assert_same(&dtypes, &expected("dtypes/"));
    assert_eq!(keys(&dtypes)[..3], ["float32", "float64", "float16"]);
    let views: StateDict<Raw> = checkpoint::load_pth(fixture("views.pth")).unwrap();
    assert_same(&views, &expected("views/"));
    let swapped: StateDict<Raw> = checkpoint::load_pth(fixture("big_endian.pth")).unwrap();
    assert_same(&swapped, &expected("views/"));
    // On candle, whose dtypes lack int8, the tensor is named in the error.
    let e = checkpoint::load_pth::<Tensor>(fixture("dtypes.pth")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("tensor \"int8\": candle has no dtype for torch.int8"),
        "{e}"
    );
}

#[test]
fn a_reduce_payload_is_refused_by_name_and_never_runs() {
    let marker = std::path::Path::new("/tmp/modcore-pth-payload-ran");
    let _ = std::fs::remove_file(marker);
    for (file, global) in [
        ("payload.pth", "posix.system"),
        ("payload_exec.pth", "builtins.exec"),
    ] {
        let e = checkpoint::load_pth::<Tensor>(fixture(file)).unwrap_err();
        match &e {
            CheckpointError::UnsupportedGlobal { global: g, .. } => assert_eq!(g, global),
            other => panic!("{other}"),
        }
        assert!(e
            .to_string()
            .contains(&format!("Unsupported global: GLOBAL {global}")));
        assert!(checkpoint::load_pth_object::<Tensor>(fixture(file)).is_err());
        assert!(!marker.exists(), "the payload of {file} ran");
    }
}

#[test]
fn the_legacy_format_reads_as_the_zip_format_does() {
    let legacy: StateDict<Raw> = checkpoint::load_pth(fixture("legacy.pth")).unwrap();
    assert_same(&legacy, &expected("views/"));
    assert_eq!(
        keys(&legacy),
        [
            "base",
            "row",
            "column",
            "transposed",
            "strided",
            "expanded",
            "offset"
        ]
    );
    // Cut anywhere, it is an error, not a panic.
    let bytes = std::fs::read(fixture("legacy.pth")).unwrap();
    for cut in [16, 40, bytes.len() / 2, bytes.len() - 3] {
        let path = common::scratch("cut_legacy.pth");
        std::fs::write(&path, &bytes[..cut]).unwrap();
        assert!(checkpoint::load_pth::<Raw>(&path).is_err(), "cut at {cut}");
    }
}

/// A `torch.save`-shaped archive `name` with `pickle` as its `data.pkl` and `storages`.
fn archive(name: &str, pickle: &[u8], storages: &[(&str, &[u8])]) -> PathBuf {
    let path = common::scratch(name);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("archive/data.pkl", options).unwrap();
    zip.write_all(pickle).unwrap();
    zip.start_file("archive/byteorder", options).unwrap();
    zip.write_all(b"little").unwrap();
    for (key, bytes) in storages {
        zip.start_file(format!("archive/data/{key}"), options)
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

/// `{"w": _rebuild_tensor_v2(FloatStorage "0" of `numel`, offset, (size,), (stride,))}`.
fn one_tensor_pickle(numel: u8, offset: u8, size: u8, stride: u8) -> Vec<u8> {
    let mut p = b"\x80\x02}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK".to_vec();
    p.push(numel);
    p.extend_from_slice(b"tQK");
    p.push(offset);
    p.push(b'K');
    p.push(size);
    p.extend_from_slice(b"\x85K");
    p.push(stride);
    p.extend_from_slice(b"\x85\x89}tRu.");
    p
}

#[test]
fn hostile_archives_are_errors_not_panics_hangs_or_huge_allocations() {
    let four = [0u8; 16];
    // A well-formed one first, so the hand-made pickle is known to be right.
    let ok = archive("ok.pth", &one_tensor_pickle(4, 1, 3, 1), &[("0", &four)]);
    let sd: StateDict<Tensor> = checkpoint::load_pth(&ok).unwrap();
    assert_eq!(sd.get("w").unwrap().dims(), [3]);

    let past_end = archive("past.pth", &one_tensor_pickle(4, 1, 3, 2), &[("0", &four)]);
    let e = checkpoint::load_pth::<Tensor>(&past_end).unwrap_err();
    assert!(matches!(e, CheckpointError::PthStorage { .. }), "{e}");
    let short = archive("short.pth", &one_tensor_pickle(8, 0, 8, 1), &[("0", &four)]);
    assert!(matches!(
        checkpoint::load_pth::<Tensor>(&short).unwrap_err(),
        CheckpointError::PthStorage { .. }
    ));
    // Stride 0 over one element, 2^40 elements: refused, not allocated.
    let mut huge = one_tensor_pickle(4, 0, 1, 0);
    let at = huge.len() - 12; // the `K\x01` of the shape
    huge.splice(
        at..at + 2,
        b"\x8a\x06\x00\x00\x00\x00\x00\x01".iter().copied(),
    );
    let huge = archive("huge.pth", &huge, &[("0", &four)]);
    let e = checkpoint::load_pth::<Raw>(&huge).unwrap_err();
    assert!(e.to_string().contains("expands to"), "{e}");
    let missing = archive("missing.pth", &one_tensor_pickle(4, 0, 4, 1), &[]);
    assert!(checkpoint::load_pth::<Tensor>(&missing).is_err());

    // A list that holds itself: the tree it stands for is infinite.
    let cycle = archive("cycle.pth", b"\x80\x02]q\x00h\x00a.", &[]);
    assert!(matches!(
        checkpoint::load_pth_object::<Tensor>(&cycle).unwrap_err(),
        CheckpointError::PthFormat { .. }
    ));
    // 2^40 paths through 40 shared lists: refused at once, not expanded.
    let mut laughs = b"\x80\x02]q\x00".to_vec();
    for i in 1..=40u8 {
        laughs.extend_from_slice(&[b'(', b'h', i - 1, b'h', i - 1, b'l', b'q', i]);
    }
    laughs.push(b'.');
    let laughs = archive("laughs.pth", &laughs, &[]);
    assert!(checkpoint::load_pth_object::<Tensor>(&laughs).is_err());

    // Every single-byte corruption of a real pickle: an error or a result, never a panic.
    let real = std::fs::read(fixture("state_dict.pth")).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(real)).unwrap();
    let mut pickle = vec![];
    std::io::Read::read_to_end(
        &mut zip.by_name("state_dict/data.pkl").unwrap(),
        &mut pickle,
    )
    .unwrap();
    let mut storages = vec![];
    for i in 0..7 {
        let mut bytes = vec![];
        std::io::Read::read_to_end(
            &mut zip.by_name(&format!("state_dict/data/{i}")).unwrap(),
            &mut bytes,
        )
        .unwrap();
        storages.push((i.to_string(), bytes));
    }
    let storages: Vec<(&str, &[u8])> = storages
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..400 {
        let mut mutated = pickle.clone();
        for _ in 0..1 + round % 3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed % mutated.len() as u64) as usize;
            mutated[at] = (seed >> 32) as u8;
        }
        let path = archive("mutated.pth", &mutated, &storages);
        let _ = checkpoint::load_pth::<Tensor>(&path);
        let _ = checkpoint::load_pth_object::<Tensor>(&path);
    }
    let noise = common::scratch("noise.pth");
    std::fs::write(&noise, b"PK\x03\x04 definitely not a zip").unwrap();
    assert!(matches!(
        checkpoint::load_pth::<Tensor>(&noise).unwrap_err(),
        CheckpointError::PthFormat { .. }
    ));
}
