//! PyTorch's own checkpoint files: what `torch.save` writes (`.pth`, `.pt`, `.bin`), read as
//! `torch.load(path, weights_only=True)` reads them, without running anything.
//!
//! A `torch.save` file is a zip archive: `<name>/data.pkl` (a pickle of the saved object, its
//! tensors as references to storages), `<name>/data/<key>` (each storage's raw bytes) and
//! `<name>/byteorder`. The pickle is read by modcore's own weights-only reader
//! (`state/pickle.rs`): candle-core's pickle reader accepts any global (it records it and goes
//! on, so a `__reduce__` payload is not refused with PyTorch's error), refuses views that are not
//! contiguous, ignores the byte order, and copies a container on every memo reference, which a
//! hostile file can make exponential. Only the tensors of the part asked for are read; each is
//! gathered from its storage by offset and strides (views and shared storages come out as
//! PyTorch's `torch.load` gives them) and byte-swapped from a big-endian writer.
//!
//! The legacy format of PyTorch before 1.6 (pickles followed by the raw storages, not a zip) is
//! read too, by the same reader, in the byte order its `sys_info` records.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use crate::state::checkpoint::{open_regular, CheckpointError};
use crate::state::pickle::{self, Key, Pickle, PickleError, TensorRef, Value};
use crate::{ModuleMetadata, StateDict, Tensor};

/// What `torch.load` returns, as plain data: the values weights-only loading allows.
#[derive(Clone, Debug, PartialEq)]
pub enum PthObject<T> {
    /// `None`.
    None,
    /// A `bool`.
    Bool(bool),
    /// An `int` (of up to 64 bits).
    Int(i64),
    /// A `float`.
    Float(f64),
    /// A `str` (also a `torch.device` or dtype, by name).
    Str(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// A `list`, `tuple`, `set` or `torch.Size`.
    List(Vec<PthObject<T>>),
    /// A `dict` or `OrderedDict`, in order, keyed by strings, ints, bools or `None`.
    Dict(Vec<(PthKey, PthObject<T>)>),
    /// A tensor or parameter.
    Tensor(T),
}

/// A dict key of a [`PthObject`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PthKey {
    /// A `str` key.
    Str(String),
    /// An `int` key (optimizer state is keyed by parameter index).
    Int(i64),
    /// A `bool` key.
    Bool(bool),
    /// `None`.
    None,
}

/// Reads a state dict saved with `torch.save(model.state_dict(), path)` (torchvision's `.pth`
/// files, Hugging Face's `pytorch_model.bin`): a dict of tensors, with PyTorch's `_metadata`
/// (module versions) when the file has it.
///
/// Only what `torch.load(path, weights_only=True)` accepts is read: tensors and the dicts,
/// lists and primitives around them. Any other global is refused by name
/// ([`CheckpointError::UnsupportedGlobal`]) and nothing in the file is ever run. A file whose
/// top level holds more than tensors (`{"model": …, "epoch": 3}`) is refused with the keys it has;
/// [`load_pth_entry`] picks one.
///
/// ```no_run
/// use modcore::checkpoint;
/// let sd: modcore::StateDict<candle_core::Tensor> = checkpoint::load_pth("resnet18-f37072fd.pth")?;
/// # Ok::<(), checkpoint::CheckpointError>(())
/// ```
pub fn load_pth<T: Tensor>(path: impl AsRef<Path>) -> Result<StateDict<T>, CheckpointError> {
    let path = path.as_ref();
    let mut archive = Archive::open(path)?;
    let root = archive.pickle.root.clone();
    archive.state_dict(&root, None)
}

/// Reads the state dict saved under `key` of a checkpoint dict, as
/// `torch.load(path, weights_only=True)[key]` (`"model"`, `"state_dict"`, …); the rest of the
/// file's tensors are not read.
///
/// ```no_run
/// use modcore::checkpoint;
/// let sd: modcore::StateDict<candle_core::Tensor> = checkpoint::load_pth_entry("checkpoint.pt", "model")?;
/// # Ok::<(), checkpoint::CheckpointError>(())
/// ```
pub fn load_pth_entry<T: Tensor>(
    path: impl AsRef<Path>,
    key: &str,
) -> Result<StateDict<T>, CheckpointError> {
    let path = path.as_ref();
    let mut archive = Archive::open(path)?;
    let root = archive.pickle.root.clone();
    let found = match &root {
        Value::Dict(id) => archive
            .pickle
            .dict(*id)
            .and_then(|d| d.get(&Key::Str(key.into())))
            .cloned(),
        _ => None,
    };
    match found {
        Some(entry) => archive.state_dict(&entry, Some(key)),
        None => Err(CheckpointError::KeyNotFound {
            path: path.to_owned(),
            key: key.to_owned(),
            available: archive.top_level_keys(),
        }),
    }
}

/// Reads everything `torch.load(path, weights_only=True)` would return, as a [`PthObject`]
/// tree (every tensor read). An object that refers to one container from several places comes
/// out as copies; one that contains itself is refused.
///
/// ```no_run
/// use modcore::checkpoint::{self, PthKey, PthObject};
/// let object = checkpoint::load_pth_object::<candle_core::Tensor>("checkpoint.pt")?;
/// if let PthObject::Dict(entries) = object {
///     for (key, value) in entries {
///         if key == PthKey::Str("epoch".into()) {
///             println!("epoch {value:?}");
///         }
///     }
/// }
/// # Ok::<(), checkpoint::CheckpointError>(())
/// ```
pub fn load_pth_object<T: Tensor>(path: impl AsRef<Path>) -> Result<PthObject<T>, CheckpointError> {
    let mut archive = Archive::open(path.as_ref())?;
    let root = archive.pickle.root.clone();
    let mut budget = archive.pickle.containers.len() + 1;
    archive.object(&root, 0, &mut budget)
}

/// The depth of nesting a checkpoint may have (PyTorch's own pickler stops near 1000).
const MAX_DEPTH: usize = 256;

/// How much larger than its storage a view may come out ([`gather`] writes views out), unless
/// it stays under [`MAX_EXPANDED_BYTES`].
const MAX_EXPANSION: usize = 64;

/// The size up to which a view may expand its storage without limit.
const MAX_EXPANDED_BYTES: usize = 1 << 26;

/// How a legacy `torch.save` file starts: the pickle of its magic number,
/// `0x1950a86a20f9469cfc6c`.
const LEGACY_MAGIC: [u8; 15] = *b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";

/// Where the storages' bytes are.
enum Source {
    /// The zip format: `<prefix>data/<key>` entries.
    Zip {
        zip: zip::ZipArchive<std::fs::File>,
        /// The archive's folder name, with a trailing `/`.
        prefix: String,
    },
    /// The legacy format: the whole file, and each storage's byte range in it.
    Legacy {
        bytes: Vec<u8>,
        ranges: HashMap<String, std::ops::Range<usize>>,
    },
}

/// The pickle at byte `start` of `data`, and where it ends, with pickle errors as checkpoint
/// errors.
fn read_pickle(path: &Path, data: &[u8], start: usize) -> Result<(Pickle, usize), CheckpointError> {
    pickle::read_at(data, start).map_err(|e| match e {
        PickleError::Global(global) => CheckpointError::UnsupportedGlobal {
            path: path.to_owned(),
            global,
        },
        PickleError::Format { offset, message } => CheckpointError::PthFormat {
            path: path.to_owned(),
            message: format!("the pickle at byte {offset}: {message}"),
        },
    })
}

/// An open `torch.save` file and its read pickle.
struct Archive<'p> {
    path: &'p Path,
    source: Source,
    big_endian: bool,
    pickle: Pickle,
    /// Storage bytes by key, read when a tensor first needs them.
    storages: HashMap<String, Rc<Vec<u8>>>,
}

impl<'p> Archive<'p> {
    fn open(path: &'p Path) -> Result<Self, CheckpointError> {
        let format = |message: String| CheckpointError::PthFormat {
            path: path.to_owned(),
            message,
        };
        let mut file = open_regular(path)?;
        let mut head = [0u8; LEGACY_MAGIC.len()];
        let read = file.read(&mut head).unwrap_or(0);
        if head[..read] == LEGACY_MAGIC[..] {
            return Self::open_legacy(path, file);
        }
        let file = open_regular(path)?;
        let mut zip =
            zip::ZipArchive::new(file).map_err(|e| format(format!("not a zip archive ({e})")))?;
        let pickle_name = zip
            .file_names()
            .filter_map(Result::ok)
            .find(|n| n.ends_with("data.pkl") && n.matches('/').count() == 1)
            .map(|n| n.to_string())
            .ok_or_else(|| format("no <name>/data.pkl in the archive".into()))?;
        let prefix = pickle_name.trim_end_matches("data.pkl").to_owned();
        let data = read_entry(&mut zip, &pickle_name, None).map_err(format)?;
        let big_endian = match read_entry(&mut zip, &format!("{prefix}byteorder"), Some(16)) {
            Ok(order) => match order.as_slice() {
                b"little" => false,
                b"big" => true,
                other => {
                    return Err(format(format!(
                        "byteorder {:?}",
                        String::from_utf8_lossy(other)
                    )))
                }
            },
            Err(_) => false, // files from before PyTorch 1.10 are little-endian and do not say
        };
        let (pickle, _) = read_pickle(path, &data, 0)?;
        Ok(Archive {
            path,
            source: Source::Zip { zip, prefix },
            big_endian,
            pickle,
            storages: HashMap::new(),
        })
    }

    /// The format of `torch.save` before PyTorch 1.6: a magic number, the protocol version and
    /// the writer's `sys_info` (its byte order), each a pickle; the object's pickle; a pickle of
    /// the storage keys; then each storage in that order, its element count (8 bytes) before
    /// its elements.
    fn open_legacy(path: &'p Path, mut file: std::fs::File) -> Result<Self, CheckpointError> {
        let format = |message: &str| CheckpointError::PthFormat {
            path: path.to_owned(),
            message: format!("legacy format: {message}"),
        };
        let mut bytes = Vec::new();
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        bytes
            .try_reserve_exact(usize::try_from(size).unwrap_or(usize::MAX))
            .map_err(|_| format("the file does not fit in memory"))?;
        std::io::Seek::rewind(&mut file)
            .and_then(|_| file.read_to_end(&mut bytes))
            .map_err(|source| CheckpointError::Io {
                path: path.to_owned(),
                source,
            })?;
        let (version, at) = read_pickle(path, &bytes, LEGACY_MAGIC.len())?;
        if !matches!(version.root, Value::Int(1001)) {
            return Err(format("protocol version is not 1001"));
        }
        let (sys_info, at) = read_pickle(path, &bytes, at)?;
        let little = match &sys_info.root {
            Value::Dict(id) => sys_info
                .dict(*id)
                .and_then(|d| d.get(&Key::Str("little_endian".into())))
                .cloned(),
            _ => None,
        };
        let big_endian = match little {
            Some(Value::Bool(little)) => !little,
            _ => return Err(format("sys_info does not say the byte order")),
        };
        let (pickle, at) = read_pickle(path, &bytes, at)?;
        let (keys, mut at) = read_pickle(path, &bytes, at)?;
        let Value::Seq(keys_id) = keys.root else {
            return Err(format("the storage keys are not a list"));
        };
        let sizes: HashMap<&str, usize> = pickle
            .storages
            .iter()
            .map(|s| (s.key.as_str(), s.dtype.size_in_bytes()))
            .collect();
        let mut ranges = HashMap::new();
        for key in keys.seq(keys_id) {
            let Value::Str(key) = key else {
                return Err(format("a storage key that is not a string"));
            };
            let size = *sizes
                .get(&**key)
                .ok_or_else(|| format(&format!("storage {key} is not referred to")))?;
            let count: [u8; 8] = bytes
                .get(at..at + 8)
                .and_then(|c| c.try_into().ok())
                .ok_or_else(|| format("the file ends inside the storages"))?;
            let count = match big_endian {
                true => u64::from_be_bytes(count),
                false => u64::from_le_bytes(count),
            };
            let start = at + 8;
            let end = usize::try_from(count)
                .ok()
                .and_then(|n| n.checked_mul(size))
                .and_then(|n| n.checked_add(start))
                .filter(|&end| end <= bytes.len())
                .ok_or_else(|| format(&format!("storage {key} runs past the end of the file")))?;
            ranges.insert(key.to_string(), start..end);
            at = end;
        }
        Ok(Archive {
            path,
            source: Source::Legacy { bytes, ranges },
            big_endian,
            pickle,
            storages: HashMap::new(),
        })
    }

    fn top_level_keys(&self) -> Vec<String> {
        match &self.pickle.root {
            Value::Dict(id) => self
                .pickle
                .dict(*id)
                .map(|d| d.keys().map(key_text).collect())
                .unwrap_or_default(),
            _ => vec![],
        }
    }

    /// `value` as a state dict: a dict whose every value is a tensor.
    fn state_dict<T: Tensor>(
        &mut self,
        value: &Value,
        at: Option<&str>,
    ) -> Result<StateDict<T>, CheckpointError> {
        let Value::Dict(id) = value else {
            return Err(self.not_state_dict(at, format!("a {}", pickle::kind(value))));
        };
        let entries: Vec<(Key, Value)> = match self.pickle.dict(*id) {
            Some(d) => d.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            None => vec![],
        };
        let mut out = StateDict::new();
        for (key, v) in &entries {
            let name = key_text(key);
            let Value::Tensor(t) = v else {
                let found = format!("a dict whose entry {name:?} is a {}", pickle::kind(v));
                return Err(self.not_state_dict(at, found));
            };
            let tensor = self.tensor(&name, t)?;
            out.insert(name, tensor);
        }
        self.read_metadata(*id, &mut out);
        Ok(out)
    }

    /// The error for an entry `at` (or the whole object) that is `found`, not a state dict.
    fn not_state_dict(&self, at: Option<&str>, found: String) -> CheckpointError {
        CheckpointError::NotAStateDict {
            path: self.path.to_owned(),
            key: at.map(str::to_owned),
            found,
            keys: self.top_level_keys(),
        }
    }

    /// The `_metadata` attribute PyTorch's `state_dict()` sets: `{prefix: {"version": n}}`.
    fn read_metadata<T>(&self, dict: usize, out: &mut StateDict<T>) {
        let Some(Value::Dict(state)) = self.pickle.dict_state.get(&dict) else {
            return;
        };
        let metadata = self
            .pickle
            .dict(*state)
            .and_then(|d| d.get(&Key::Str("_metadata".into())));
        let Some(Value::Dict(metadata)) = metadata else {
            return;
        };
        for (prefix, entry) in self.pickle.dict(*metadata).into_iter().flatten() {
            let (Key::Str(prefix), Value::Dict(entry)) = (prefix, entry) else {
                continue;
            };
            let version = self
                .pickle
                .dict(*entry)
                .and_then(|d| d.get(&Key::Str("version".into())));
            let version = match version {
                Some(Value::Int(v)) => u32::try_from(*v).ok(),
                _ => None,
            };
            out.metadata_mut()
                .insert(&**prefix, ModuleMetadata { version });
        }
    }

    fn object<T: Tensor>(
        &mut self,
        value: &Value,
        depth: usize,
        budget: &mut usize,
    ) -> Result<PthObject<T>, CheckpointError> {
        let format = |message: &str| CheckpointError::PthFormat {
            path: self.path.to_owned(),
            message: message.to_owned(),
        };
        if depth > MAX_DEPTH {
            return Err(format("nested deeper than 256 levels"));
        }
        if matches!(value, Value::Seq(_) | Value::Dict(_)) {
            // Each container is expanded once; more means it is shared or contains itself.
            *budget = budget
                .checked_sub(1)
                .ok_or_else(|| format("a container is shared or contains itself"))?;
        }
        Ok(match value {
            Value::None => PthObject::None,
            Value::Bool(b) => PthObject::Bool(*b),
            Value::Int(i) => PthObject::Int(*i),
            Value::Float(f) => PthObject::Float(*f),
            Value::Str(s) => PthObject::Str(s.to_string()),
            Value::Bytes(b) => PthObject::Bytes(b.to_vec()),
            Value::Seq(id) => {
                let items = self.pickle.seq(*id).to_vec();
                let mut out = Vec::with_capacity(items.len());
                for item in &items {
                    out.push(self.object(item, depth + 1, budget)?);
                }
                PthObject::List(out)
            }
            Value::Dict(id) => {
                let entries: Vec<(Key, Value)> = self
                    .pickle
                    .dict(*id)
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in &entries {
                    out.push((pth_key(k), self.object(v, depth + 1, budget)?));
                }
                PthObject::Dict(out)
            }
            Value::Tensor(t) => PthObject::Tensor(self.tensor("(object)", t)?),
            Value::Storage(_) | Value::Global(_) => {
                return Err(format(&format!(
                    "a bare {} where data was expected",
                    pickle::kind(value)
                )))
            }
        })
    }

    /// The bytes of storage `key`, read once.
    fn storage(&mut self, key: &str) -> Result<Rc<Vec<u8>>, String> {
        if let Some(bytes) = self.storages.get(key) {
            return Ok(bytes.clone());
        }
        let bytes = Rc::new(match &mut self.source {
            Source::Zip { zip, prefix } => read_entry(zip, &format!("{prefix}data/{key}"), None)?,
            Source::Legacy { bytes, ranges } => {
                let range = ranges.get(key).ok_or(format!("no storage {key}"))?;
                bytes[range.clone()].to_vec()
            }
        });
        self.storages.insert(key.to_owned(), bytes.clone());
        Ok(bytes)
    }

    /// Tensor `name`: its elements gathered from its storage by offset and strides.
    fn tensor<T: Tensor>(&mut self, name: &str, t: &TensorRef) -> Result<T, CheckpointError> {
        let storage_error = |message: String| CheckpointError::PthStorage {
            path: self.path.to_owned(),
            key: name.to_owned(),
            message,
        };
        let dtype = t.storage.dtype;
        let size = dtype.size_in_bytes();
        let bytes = self.storage(&t.storage.key).map_err(storage_error)?;
        if Some(bytes.len()) != t.storage.numel.checked_mul(size) {
            return Err(storage_error(format!(
                "storage {} holds {} bytes, not {} elements of {size} bytes",
                t.storage.key,
                bytes.len(),
                t.storage.numel
            )));
        }
        let data = gather(&bytes, t, size, self.big_endian).map_err(storage_error)?;
        T::from_bytes(dtype, &t.shape, &data).map_err(|source| CheckpointError::Tensor {
            key: name.to_owned(),
            source,
        })
    }
}

/// The elements of `t` in row-major order, little-endian, from `storage` (elements of `size`
/// bytes). Every index is checked against the storage; the output is reserved fallibly.
fn gather(storage: &[u8], t: &TensorRef, size: usize, big_endian: bool) -> Result<Vec<u8>, String> {
    let count = t
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or("a shape whose size overflows")?;
    let numel = storage.len() / size.max(1);
    let mut out = Vec::new();
    if count > 0 {
        // The last element the view reaches must be in the storage.
        t
            .shape
            .iter()
            .zip(&t.stride)
            .try_fold(t.offset, |end, (&d, &s)| end.checked_add((d - 1).checked_mul(s)?))
            .filter(|&end| end < numel)
            .ok_or_else(|| {
                format!(
                    "a view (offset {}, shape {:?}, stride {:?}) reaching past its storage of {numel} elements",
                    t.offset, t.shape, t.stride
                )
            })?;
        let total = count
            .checked_mul(size)
            .ok_or("a tensor whose size overflows")?;
        // PyTorch loads an expanded view (stride 0) as a view; here every element is written
        // out, so a few bytes of file could ask for terabytes. Expansion is bounded instead.
        if total
            > MAX_EXPANSION
                .saturating_mul(storage.len())
                .max(MAX_EXPANDED_BYTES)
        {
            return Err(format!(
                "a view of {} bytes that expands to {total} bytes (shape {:?}, stride {:?}); views expanding more than {MAX_EXPANSION}x past {MAX_EXPANDED_BYTES} bytes are refused",
                storage.len(),
                t.shape,
                t.stride
            ));
        }
        out.try_reserve_exact(total)
            .map_err(|_| format!("{total} bytes could not be allocated"))?;
        let contiguous = is_contiguous(&t.shape, &t.stride);
        if contiguous {
            out.extend_from_slice(&storage[t.offset * size..(t.offset + count) * size]);
        } else {
            let mut index = vec![0usize; t.shape.len()];
            for _ in 0..count {
                let at = t.offset
                    + index
                        .iter()
                        .zip(&t.stride)
                        .map(|(i, s)| i * s)
                        .sum::<usize>();
                out.extend_from_slice(&storage[at * size..(at + 1) * size]);
                for d in (0..index.len()).rev() {
                    index[d] += 1;
                    if index[d] < t.shape[d] {
                        break;
                    }
                    index[d] = 0;
                }
            }
        }
    }
    if big_endian && size > 1 {
        out.chunks_exact_mut(size).for_each(<[u8]>::reverse);
    }
    Ok(out)
}

/// Whether `stride` is the row-major stride of `shape` (dimensions of size 1 may have any).
fn is_contiguous(shape: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1;
    for (&d, &s) in shape.iter().zip(stride).rev() {
        if d != 1 && s != expected {
            return false;
        }
        expected *= d;
    }
    true
}

/// Reads entry `name` of the archive (stored entries only: `torch.save` compresses nothing),
/// at most `limit` bytes.
fn read_entry(
    zip: &mut zip::ZipArchive<std::fs::File>,
    name: &str,
    limit: Option<u64>,
) -> Result<Vec<u8>, String> {
    let entry = zip.by_name(name).map_err(|e| format!("{name}: {e}"))?;
    let size = entry.size();
    if limit.is_some_and(|l| size > l) {
        return Err(format!("{name}: {size} bytes"));
    }
    let mut out = Vec::new();
    out.try_reserve_exact(usize::try_from(size).unwrap_or(usize::MAX))
        .map_err(|_| format!("{name}: {size} bytes could not be allocated"))?;
    entry
        .take(size)
        .read_to_end(&mut out)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(out)
}

fn key_text(key: &Key) -> String {
    match key {
        Key::Str(s) => s.to_string(),
        Key::Int(i) => i.to_string(),
        Key::Bool(true) => "True".into(),
        Key::Bool(false) => "False".into(),
        Key::None => "None".into(),
    }
}

fn pth_key(key: &Key) -> PthKey {
    match key {
        Key::Str(s) => PthKey::Str(s.to_string()),
        Key::Int(i) => PthKey::Int(*i),
        Key::Bool(b) => PthKey::Bool(*b),
        Key::None => PthKey::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguity_ignores_the_strides_of_unit_dimensions() {
        assert!(is_contiguous(&[2, 3], &[3, 1]));
        assert!(is_contiguous(&[1, 3], &[7, 1]));
        assert!(!is_contiguous(&[3, 2], &[1, 3]));
        assert!(is_contiguous(&[], &[]));
    }
}
