//! Checkpoint files: safetensors files with PyTorch's key names and dtypes, the sharded
//! layout large models are published in (`model.safetensors.index.json` with a `weight_map`),
//! and the files `torch.save` writes ([`load_pth`], read as `torch.load(weights_only=True)`
//! reads them).
//!
//! Files are read through a memory map, so a tensor's bytes go from the page cache straight
//! into the backend's tensor: a large checkpoint is not copied into memory twice. Files are
//! written to a temporary name and renamed into place, so a failed save leaves no half file.
//!
//! A state dict saved here loads in PyTorch with `safetensors.torch.load_file` and
//! `model.load_state_dict(...)`, and a file PyTorch wrote loads here. Tied parameters are written
//! under every key (as `state_dict` lists them); loading tolerates files that keep only one key
//! of a tied group (see [`Module::load_state_dict`](crate::Module::load_state_dict)).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype as FileDtype, View};

use crate::state::header;
pub use crate::state::pth::{load_pth, load_pth_entry, load_pth_object, PthKey, PthObject};

use crate::{DType, LoadStateDictError, StateDict, Tensor, TensorError};

/// Why a checkpoint could not be read or written. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is not a valid safetensors file (truncated, corrupt, or a header that does not
    /// match the data).
    #[error("{}: not a valid safetensors file: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An entry has a dtype modcore does not know.
    #[error("{}: tensor \"{key}\" has dtype {dtype}, which modcore does not support", path.display())]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The entry.
        key: String,
        /// The file's dtype name.
        dtype: String,
    },
    /// The backend could not convert an entry.
    #[error("tensor \"{key}\": {source}")]
    Tensor {
        /// The entry.
        key: String,
        /// The backend's error.
        source: TensorError,
    },
    /// The index file of a sharded checkpoint is not valid.
    #[error("{}: not a valid checkpoint index: {message}", path.display())]
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The path is not a regular file (a directory, FIFO, socket or device).
    #[error("{}: not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// A shard of a sharded checkpoint resolves (through a symbolic link) to a file outside the
    /// index's folder; see [`ShardLinks`].
    #[error("shard {} resolves to {}, outside the checkpoint's folder", shard.display(), resolved.display())]
    OutsideFolder {
        /// The shard's path in the folder.
        shard: PathBuf,
        /// Where it resolves to.
        resolved: PathBuf,
    },
    /// The state dict did not load into the model.
    #[error(transparent)]
    Load(#[from] LoadStateDictError),
    /// A `torch.save` file is damaged: not a zip archive, no pickle, or a pickle that does not
    /// read.
    #[error("{}: not a valid torch.save file: {message}", path.display())]
    PthFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The pickle names a global that `torch.load(weights_only=True)` refuses (a `__reduce__`
    /// payload, a custom class). Nothing of the file was run.
    #[error("{}: Weights only load failed: Unsupported global: GLOBAL {global} was not an allowed global by default (modcore reads only what weights_only=True reads, and runs nothing)", path.display())]
    UnsupportedGlobal {
        /// The file.
        path: PathBuf,
        /// `module.name`, as `posix.system`.
        global: String,
    },
    /// [`load_pth_entry`]'s key is not in the checkpoint.
    #[error("{}: no entry {key:?}; the checkpoint's keys are {available:?}", path.display())]
    KeyNotFound {
        /// The file.
        path: PathBuf,
        /// The key asked for.
        key: String,
        /// The top-level keys the file has.
        available: Vec<String>,
    },
    /// What was to be read as a state dict is not a dict of tensors.
    #[error("{}: {} is {found}, not a state dict; the checkpoint's keys are {keys:?} (load_pth_entry reads one of them)", path.display(), key.as_ref().map_or("the saved object".to_owned(), |k| format!("entry {k:?}")))]
    NotAStateDict {
        /// The file.
        path: PathBuf,
        /// The entry, or `None` for the whole object.
        key: Option<String>,
        /// What it is.
        found: String,
        /// The top-level keys the file has.
        keys: Vec<String>,
    },
    /// A tensor of a `torch.save` file does not fit its storage, or its storage is missing.
    #[error("{}: tensor {key:?}: {message}", path.display())]
    PthStorage {
        /// The file.
        path: PathBuf,
        /// The tensor's key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    }
}

fn format_error(path: &Path, error: impl ToString) -> CheckpointError {
    CheckpointError::Format {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

fn file_dtype(dtype: DType) -> Option<FileDtype> {
    Some(match dtype {
        DType::Bool => FileDtype::BOOL,
        DType::U8 => FileDtype::U8,
        DType::I8 => FileDtype::I8,
        DType::I16 => FileDtype::I16,
        DType::I32 => FileDtype::I32,
        DType::I64 => FileDtype::I64,
        DType::U32 => FileDtype::U32,
        DType::F16 => FileDtype::F16,
        DType::BF16 => FileDtype::BF16,
        DType::F32 => FileDtype::F32,
        DType::F64 => FileDtype::F64,
        DType::Other(_) => return None,
    })
}

fn model_dtype(dtype: FileDtype) -> Option<DType> {
    Some(match dtype {
        FileDtype::BOOL => DType::Bool,
        FileDtype::U8 => DType::U8,
        FileDtype::I8 => DType::I8,
        FileDtype::I16 => DType::I16,
        FileDtype::I32 => DType::I32,
        FileDtype::I64 => DType::I64,
        FileDtype::U32 => DType::U32,
        FileDtype::F16 => DType::F16,
        FileDtype::BF16 => DType::BF16,
        FileDtype::F32 => DType::F32,
        FileDtype::F64 => DType::F64,
        _ => return None,
    })
}

/// One entry's bytes, as the safetensors writer wants them.
struct Raw {
    dtype: FileDtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> FileDtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        (&self.bytes[..]).into()
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn raw<T: Tensor>(key: &str, tensor: &T) -> Result<Raw, CheckpointError> {
    let dtype = tensor.dtype();
    let file = file_dtype(dtype).ok_or_else(|| CheckpointError::Tensor {
        key: key.to_owned(),
        source: TensorError::new(format!("dtype {dtype} cannot be saved")),
    })?;
    let bytes = tensor
        .to_bytes()
        .map_err(|source| CheckpointError::Tensor {
            key: key.to_owned(),
            source,
        })?;
    Ok(Raw {
        dtype: file,
        shape: tensor.shape(),
        bytes,
    })
}

/// Writes `entries` to `path` through a temporary file in the same directory.
fn write(
    entries: &[(&str, Raw)],
    metadata: Option<HashMap<String, String>>,
    path: &Path,
) -> Result<(), CheckpointError> {
    let tmp = temporary(path);
    // The mode a new file gets here (what `torch.save` and the index file get): safetensors
    // writes through a private temporary file of its own, which would leave the file 0600.
    let permissions = File::create(&tmp)
        .and_then(|f| f.metadata())
        .map_err(io_error(path))?
        .permissions();
    let data = entries.iter().map(|(k, r)| (*k, r));
    safetensors::serialize_to_file(data, metadata, &tmp).map_err(|e| match e {
        safetensors::SafeTensorError::IoError(source) => CheckpointError::Io {
            path: path.to_owned(),
            source,
        },
        other => format_error(path, other),
    })?;
    std::fs::set_permissions(&tmp, permissions).map_err(io_error(path))?;
    std::fs::rename(&tmp, path).map_err(io_error(path))
}

/// The temporary name `path` is written under before it is renamed into place.
fn temporary(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

/// Whether `name` is a shard name `save_sharded` writes (`model-00001-of-00003.safetensors`).
fn is_shard_name(name: &str) -> bool {
    let digits = |s: &str| s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit());
    name.strip_prefix("model-")
        .and_then(|rest| rest.strip_suffix(".safetensors"))
        .and_then(|rest| rest.split_once("-of-"))
        .is_some_and(|(i, n)| digits(i) && digits(n))
}

/// Saves a state dict as one safetensors file (PyTorch's
/// `safetensors.torch.save_file(model.state_dict(), path)`).
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::{checkpoint, StateDict};
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// let mut sd = StateDict::<T>::new();
/// sd.insert("fc.weight", T::from_elem(ndarray::IxDyn(&[2, 2]), 0.5));
/// let path = std::env::temp_dir().join("modcore-doc-save.safetensors");
/// checkpoint::save_file(&sd, &path).unwrap();
/// let back: StateDict<T> = checkpoint::load_file(&path).unwrap();
/// assert_eq!(back.get("fc.weight"), sd.get("fc.weight"));
/// # std::fs::remove_file(path).unwrap();
/// # }
/// ```
pub fn save_file<T: Tensor>(
    state_dict: &StateDict<T>,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    write(&raws(state_dict)?, None, path.as_ref())
}

/// Every entry of a state dict as the bytes a file holds.
fn raws<T: Tensor>(state_dict: &StateDict<T>) -> Result<Vec<(&str, Raw)>, CheckpointError> {
    state_dict
        .iter()
        .map(|(key, tensor)| Ok((key, raw(key, tensor)?)))
        .collect()
}

/// [`save_file`] with string metadata in the file's header (`__metadata__`, what
/// `safetensors.torch.save_file(tensors, path, metadata)` writes).
pub fn save_file_with_metadata<T: Tensor>(
    state_dict: &StateDict<T>,
    metadata: HashMap<String, String>,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    write(&raws(state_dict)?, Some(metadata), path.as_ref())
}

/// [`load_file`] with the header's string metadata (empty when the file has none).
pub fn load_file_with_metadata<T: Tensor>(
    path: impl AsRef<Path>,
) -> Result<(StateDict<T>, HashMap<String, String>), CheckpointError> {
    let mut metadata = HashMap::new();
    let state_dict = load_file_with(path.as_ref(), &T::from_bytes, Some(&mut metadata))?;
    Ok((state_dict, metadata))
}

/// Reads a safetensors file into a state dict, in the file's order (on the CPU, for
/// device-aware backends; see [`load_file_on`] for candle devices).
///
/// The header is checked before anything is read (see the errors of [`CheckpointError`]), and a
/// tensor larger than the memory the process can get is an error, not an abort.
///
/// The file is memory-mapped, like every safetensors reader's (PyTorch's included): if another
/// process truncates it while it is being read, this process is killed by `SIGBUS`. Load from a
/// file no one else writes to, or copy it first (`std::fs::copy` to a private path) when others
/// may.
pub fn load_file<T: Tensor>(path: impl AsRef<Path>) -> Result<StateDict<T>, CheckpointError> {
    load_file_with(path.as_ref(), &T::from_bytes, None)
}

/// How a loader makes a tensor from a file entry's dtype, shape and bytes.
type MakeTensor<'a, T> = &'a dyn Fn(DType, &[usize], &[u8]) -> Result<T, TensorError>;

/// [`load_file`] onto a candle device: every tensor is created on `device` straight from the
/// file's bytes (PyTorch's `load_file(path, device=…)`).
///
/// ```no_run
/// let sd = modcore::checkpoint::load_file_on("model.safetensors", &candle_core::Device::Cpu)?;
/// # Ok::<(), modcore::checkpoint::CheckpointError>(())
/// ```
#[cfg(feature = "candle")]
pub fn load_file_on(
    path: impl AsRef<Path>,
    device: &candle_core::Device,
) -> Result<StateDict<candle_core::Tensor>, CheckpointError> {
    load_file_with(
        path.as_ref(),
        &|dtype, shape, bytes| crate::backend::candle::from_bytes_on(dtype, shape, bytes, device),
        None,
    )
}

/// [`load_sharded`] onto a candle device.
#[cfg(feature = "candle")]
pub fn load_sharded_on(
    index: impl AsRef<Path>,
    device: &candle_core::Device,
) -> Result<StateDict<candle_core::Tensor>, CheckpointError> {
    load_sharded_with(
        index.as_ref(),
        &|dtype, shape, bytes| crate::backend::candle::from_bytes_on(dtype, shape, bytes, device),
        ShardLinks::default(),
    )
}

fn load_file_with<T: Tensor>(
    path: &Path,
    make: MakeTensor<'_, T>,
    header: Option<&mut HashMap<String, String>>,
) -> Result<StateDict<T>, CheckpointError> {
    let mut out = StateDict::new();
    read_entries(path, make, header, &mut |key, tensor| {
        out.insert(key, tensor);
    })?;
    Ok(out)
}

/// Reads the tensors of the safetensors file `path` in file order, handing each to `sink`.
fn read_entries<T: Tensor>(
    path: &Path,
    make: MakeTensor<'_, T>,
    header: Option<&mut HashMap<String, String>>,
    sink: &mut dyn FnMut(&str, T),
) -> Result<(), CheckpointError> {
    let file = open_regular(path)?;
    // SAFETY: the map is read-only and private to this function: every tensor is copied out of
    // it (`make`) before it is unmapped, and no reference into it escapes. As with every
    // memory-mapped reader (candle's, safetensors' own), the file must not be truncated while it
    // is being read: see `load_file`.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_error(path))?;
    let parsed = header::parse(&map).map_err(|e| format_error(path, e))?;
    if let (Some(header), Some(strings)) = (header, &parsed.metadata) {
        header.clone_from(strings);
    }
    for entry in &parsed.entries {
        let dtype = model_dtype(entry.dtype).ok_or_else(|| CheckpointError::UnsupportedDtype {
            path: path.to_owned(),
            key: entry.name.to_string(),
            dtype: entry.dtype.to_string(),
        })?;
        let tensor =
            make(dtype, parsed.shape(entry), parsed.data(&map, entry)).map_err(|source| {
                CheckpointError::Tensor {
                    key: entry.name.to_string(),
                    source,
                }
            })?;
        sink(&entry.name, tensor);
    }
    Ok(())
}

/// Opens `path` for reading if it is a regular file: a FIFO, device or directory would block
/// `open` or the read forever, or mean nothing.
pub(crate) fn open_regular(path: &Path) -> Result<File, CheckpointError> {
    let not_regular = || CheckpointError::NotAFile {
        path: path.to_owned(),
    };
    // Checked before opening (opening a FIFO blocks until a writer comes) and again on the open
    // file, in case the path was replaced in between.
    if !std::fs::metadata(path).map_err(io_error(path))?.is_file() {
        return Err(not_regular());
    }
    let file = File::open(path).map_err(io_error(path))?;
    if !file.metadata().map_err(io_error(path))?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// The name of the index file of a sharded checkpoint.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// Saves a state dict as shards of at most `max_shard_bytes` of tensor data each (a tensor
/// larger than that gets a shard of its own), named `model-00001-of-00003.safetensors`, …, plus
/// [`INDEX_FILE`] with `metadata.total_size` and the `weight_map` from key to shard, the layout
/// Hugging Face publishes large models in. Returns the index file's path.
///
/// Saving over an older checkpoint in `dir` replaces it: every file is written under a
/// temporary name and renamed into place, the index last, and then the older checkpoint's
/// shards that the new one does not have (`model-…-of-…` names of another count) are removed.
/// Shards and index get the mode any new file gets.
pub fn save_sharded<T: Tensor>(
    state_dict: &StateDict<T>,
    dir: impl AsRef<Path>,
    max_shard_bytes: usize,
) -> Result<PathBuf, CheckpointError> {
    let dir = dir.as_ref();
    let mut shards: Vec<Vec<(&str, Raw)>> = vec![Vec::new()];
    let mut shard_bytes = 0;
    let mut total = 0;
    for (key, tensor) in state_dict.iter() {
        let raw = raw(key, tensor)?;
        let size = raw.bytes.len();
        let current = shards.last_mut().expect("there is always a current shard");
        if !current.is_empty() && shard_bytes + size > max_shard_bytes {
            shards.push(Vec::new());
            shard_bytes = 0;
        }
        shard_bytes += size;
        total += size;
        shards.last_mut().expect("just pushed").push((key, raw));
    }
    let count = shards.len();
    let mut weight_map = serde_json::Map::new();
    let mut names = Vec::with_capacity(count);
    for (i, shard) in shards.iter().enumerate() {
        let name = format!("model-{:05}-of-{count:05}.safetensors", i + 1);
        write(shard, None, &dir.join(&name))?;
        for (key, _) in shard {
            weight_map.insert((*key).to_owned(), name.clone().into());
        }
        names.push(name);
    }
    let index = serde_json::json!({
        "metadata": { "total_size": total },
        "weight_map": weight_map,
    });
    // The index last, and whole (renamed into place); then the older checkpoint's shards that
    // the new ones did not overwrite go.
    let index_path = dir.join(INDEX_FILE);
    let text = serde_json::to_string_pretty(&index).map_err(|e| format_error(&index_path, e))?;
    let tmp = temporary(&index_path);
    std::fs::write(&tmp, text).map_err(io_error(&index_path))?;
    std::fs::rename(&tmp, &index_path).map_err(io_error(&index_path))?;
    remove_stale_shards(dir, &names)?;
    Ok(index_path)
}

/// Removes the shards of an older checkpoint saved in `dir` (shard names not in `current`,
/// which is sorted: the names are zero-padded and numbered in order).
fn remove_stale_shards(dir: &Path, current: &[String]) -> Result<(), CheckpointError> {
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_shard_name(name) && current.binary_search_by(|c| c.as_str().cmp(name)).is_err() {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    Ok(())
}

/// Reads a sharded checkpoint from its index file: every shard the `weight_map` names, merged,
/// in the index's key order. Keys a shard holds but the index does not map are refused, as are
/// keys the index maps to a shard that lacks them.
///
/// A shard that resolves outside the index's folder (a symbolic link) is refused; see
/// [`load_sharded_with_links`].
pub fn load_sharded<T: Tensor>(index: impl AsRef<Path>) -> Result<StateDict<T>, CheckpointError> {
    load_sharded_with(index.as_ref(), &T::from_bytes, ShardLinks::default())
}

/// [`load_sharded`], with `links` saying whether shards may resolve outside the index's folder.
///
/// ```no_run
/// use modcore::checkpoint::{load_sharded_with_links, ShardLinks};
/// // A folder whose shards link into a shared download cache.
/// let sd = load_sharded_with_links::<candle_core::Tensor>("model/model.safetensors.index.json", ShardLinks::Anywhere)?;
/// # Ok::<(), modcore::checkpoint::CheckpointError>(())
/// ```
pub fn load_sharded_with_links<T: Tensor>(
    index: impl AsRef<Path>,
    links: ShardLinks,
) -> Result<StateDict<T>, CheckpointError> {
    load_sharded_with(index.as_ref(), &T::from_bytes, links)
}

fn load_sharded_with<T: Tensor>(
    index: &Path,
    make: MakeTensor<'_, T>,
    links: ShardLinks,
) -> Result<StateDict<T>, CheckpointError> {
    let invalid = |message: String| CheckpointError::Index {
        path: index.to_owned(),
        message,
    };
    let text = std::io::read_to_string(open_regular(index)?).map_err(io_error(index))?;
    let map = serde_json::from_str::<header::Index>(&text)
        .map_err(|e| invalid(e.to_string()))?
        .weight_map
        .0;
    if map.is_empty() {
        return Err(invalid("the \"weight_map\" is empty".to_owned()));
    }
    let dir = index.parent().unwrap_or(Path::new("."));
    // Each shard's tensors by key: one removal per mapped key, in constant time (removing from
    // the state dict itself would shift every later entry, quadratic in the number of keys).
    let mut shards: HashMap<&str, Shard<T>> = HashMap::new();
    for (_, file) in &map {
        if file.contains('/') || file.contains('\\') || file == ".." || file.is_empty() {
            return Err(invalid(format!("shard \"{file}\" is not a file name")));
        }
        if !shards.contains_key(file.as_str()) {
            let path = dir.join(file);
            if links == ShardLinks::InsideFolder {
                check_inside(dir, &path)?;
            }
            let mut shard = Shard::default();
            read_entries(&path, make, None, &mut |key, tensor| {
                shard.insert(key.to_owned(), tensor);
            })?;
            shards.insert(file, shard);
        }
    }
    let mut out = StateDict::new();
    for (key, file) in &map {
        let shard = shards
            .get_mut(file.as_str())
            .ok_or_else(|| invalid(format!("no shard for \"{key}\"")))?;
        let tensor = shard
            .remove(key.as_str())
            .ok_or_else(|| invalid(format!("\"{key}\" is not in {file}")))?;
        out.insert(key, tensor);
    }
    if let Some((file, shard)) = shards.iter().find(|(_, s)| !s.is_empty()) {
        let key = shard.keys().min().map(String::as_str).unwrap_or_default();
        return Err(invalid(format!(
            "{file} holds \"{key}\", which the weight_map does not list"
        )));
    }
    Ok(out)
}

/// One shard's tensors by key, while a sharded load takes them out in the index's order.
type Shard<T> = HashMap<String, T, foldhash::fast::RandomState>;

/// Whether a sharded load may read a shard whose path resolves outside the index's folder (a
/// symbolic link pointing elsewhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ShardLinks {
    /// Refuse it with [`CheckpointError::OutsideFolder`] (the default: a downloaded folder could
    /// otherwise make the loader read any file on the machine).
    #[default]
    InsideFolder,
    /// Follow links wherever they point (a folder you made, such as one whose shards link into a
    /// shared cache).
    Anywhere,
}

/// Refuses `shard` if its resolved path is not inside `dir`'s.
fn check_inside(dir: &Path, shard: &Path) -> Result<(), CheckpointError> {
    let resolved_dir = dir.canonicalize().map_err(io_error(dir))?;
    let resolved = shard.canonicalize().map_err(io_error(shard))?;
    if resolved.starts_with(&resolved_dir) {
        Ok(())
    } else {
        Err(CheckpointError::OutsideFolder {
            shard: shard.to_owned(),
            resolved,
        })
    }
}
