//! [`StateDict`] and saving one: PyTorch's `state_dict()`.
//!
//! Keys and order are PyTorch's: a module's own parameters, then its own persistent buffers,
//! then each child's entries depth-first; `None` entries and non-persistent buffers are left out.
//! Tied parameters are *not* de-duplicated: every path gets its key, as in PyTorch.

use indexmap::IndexMap;

use crate::hooks::storage::HookKind;
use crate::module::walk::{Key, Sink, Walk, Wants};
use crate::module::walk_sizes::{self, Walked};
use crate::{Buffer, Module, NameMap, Parameter, Tensor};

/// The per-module metadata PyTorch keeps in `state_dict._metadata[path]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModuleMetadata {
    /// The module type's state-dict format version (`#[module(version = N)]`, default 1);
    /// `None` when the state dict did not say (a safetensors file, a plain dict).
    pub version: Option<u32>,
}

/// An ordered map from dotted keys to tensors, plus per-module metadata keyed by module path
/// (`""` for the root).
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::StateDict;
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// let mut sd = StateDict::<T>::new();
/// sd.insert("fc.weight", T::zeros(ndarray::IxDyn(&[2, 2])));
/// sd.insert("fc.bias", T::zeros(ndarray::IxDyn(&[2])));
/// assert_eq!(sd.keys().collect::<Vec<_>>(), ["fc.weight", "fc.bias"]);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct StateDict<T> {
    entries: NameMap<T>,
    metadata: NameMap<ModuleMetadata>,
    /// Bumped by every change to the keys, so a load can tell whether a hook changed them.
    generation: u64,
}

impl<T> Default for StateDict<T> {
    fn default() -> Self {
        StateDict {
            entries: NameMap::new(),
            metadata: NameMap::new(),
            generation: 0,
        }
    }
}

impl<T> StateDict<T> {
    /// An empty state dict without metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts (or replaces, keeping its position) an entry; returns the previous value.
    pub fn insert(&mut self, key: impl AsRef<str>, value: T) -> Option<T> {
        self.generation += 1;
        self.entries.insert(key.as_ref(), value)
    }

    /// The entry under `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.entries.get(key)
    }

    /// Removes an entry, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<T> {
        self.generation += 1;
        self.entries.remove(key)
    }

    /// Whether there is an entry under `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.entries.iter()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keeps the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &T) -> bool) {
        self.generation += 1;
        self.entries.retain(|k, v| keep(k, v));
    }

    /// The position of `key` in the order.
    pub(crate) fn index_of(&self, key: &str) -> Option<usize> {
        self.entries.get_index_of(key)
    }

    /// The entry at `position` in the order.
    pub(crate) fn get_index(&self, position: usize) -> Option<(&str, &T)> {
        self.entries.get_index(position)
    }

    /// Changes whenever keys are added or removed.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The per-module metadata, keyed by module path.
    pub fn metadata(&self) -> &NameMap<ModuleMetadata> {
        &self.metadata
    }

    /// The per-module metadata, mutably.
    pub fn metadata_mut(&mut self) -> &mut NameMap<ModuleMetadata> {
        &mut self.metadata
    }
}

impl<T: Tensor> StateDict<T> {
    /// `(key, shape, dtype)` for every entry, in order, with PyTorch's dtype names: what
    /// `[(k, list(v.shape), str(v.dtype)) for k, v in sd.items()]` gives in Python, to compare a
    /// model's layout with a PyTorch one.
    pub fn summary(&self) -> Vec<(String, Vec<usize>, String)> {
        self.iter()
            .map(|(k, t)| (k.to_owned(), t.shape(), t.dtype().to_string()))
            .collect()
    }
}

impl<K: AsRef<str>, T> FromIterator<(K, T)> for StateDict<T> {
    fn from_iter<I: IntoIterator<Item = (K, T)>>(iter: I) -> Self {
        StateDict {
            entries: iter.into_iter().collect(),
            ..StateDict::default()
        }
    }
}

impl<T> IntoIterator for StateDict<T> {
    type Item = (String, T);
    type IntoIter = crate::state::name_map::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// A live entry of a module: PyTorch's `state_dict(keep_vars=True)` values.
pub enum StateEntry<'a, T> {
    /// A parameter handle (the same parameter, not a copy).
    Parameter(&'a Parameter<T>),
    /// A buffer handle.
    Buffer(&'a Buffer<T>),
}

impl<T: Tensor> StateEntry<'_, T> {
    /// The current tensor, detached (what `state_dict` saves: PyTorch's `param.detach()`).
    pub fn tensor(&self) -> T {
        match self {
            StateEntry::Parameter(p) => p.detached(),
            StateEntry::Buffer(b) => b.tensor(),
        }
    }
}

/// `hook(module, prefix, keep_vars)`, run before a module saves its entries.
pub(crate) type StateDictPreHook<T> = Box<dyn Fn(&dyn Module<T>, &str, bool) + Send + Sync>;
/// `hook(module, state_dict, prefix, local_metadata)`, run after a module and its children saved.
pub(crate) type StateDictPostHook<T> =
    Box<dyn Fn(&dyn Module<T>, &mut StateDict<T>, &str, &ModuleMetadata) + Send + Sync>;

/// Runs `call` for each hook of `kind` on `module` whose type is `H`, on a snapshot.
pub(crate) fn run_hooks<T: Tensor, H: 'static>(
    module: &dyn Module<T>,
    kind: HookKind,
    mut call: impl FnMut(&H),
) {
    let Some(hooks) = module.core().hooks_if_any() else {
        return;
    };
    let snapshot = hooks.snapshot();
    for (_, entry) in snapshot.iter(kind) {
        if let Some(hook) = entry.hook_as::<H>() {
            call(hook);
        }
    }
}

/// What a state dict holds of a module: its parameters and persistent buffers, and with
/// `recurse` its children's, depth-first.
fn saved(recurse: bool) -> Wants {
    Wants {
        parameters: true,
        buffers: true,
        persistent_only: true,
        depth: if recurse { usize::MAX } else { 0 },
        ..Wants::default()
    }
}

/// Calls `f` with every entry `state_dict` saves of `module` (with `recurse`, of the whole
/// tree; otherwise its own), in order, keyed under `path`, with the live handle.
pub(crate) fn for_each_entry<'a, T: Tensor>(
    module: &'a dyn Module<T>,
    path: &mut String,
    recurse: bool,
    f: impl FnMut(Key<'_>, StateEntry<'a, T>),
) {
    /// Generic over the callback, so it is inlined into the sink's methods.
    struct Entries<F>(F);
    impl<'a, T: Tensor, F: FnMut(Key<'_>, StateEntry<'a, T>)> Sink<'a, T> for Entries<F> {
        fn parameter(&mut self, parent: &str, name: &str, parameter: &'a Parameter<T>) {
            (self.0)(Key::new(parent, name), StateEntry::Parameter(parameter));
        }
        fn buffer(&mut self, parent: &str, name: &str, buffer: &'a Buffer<T>) {
            (self.0)(Key::new(parent, name), StateEntry::Buffer(buffer));
        }
    }
    Walk::run_at(module, path, saved(recurse), &mut Entries(f));
}

/// Runs the state-dict pre-hooks of the module at `parent`.`name`, a module with hooks.
fn run_pre_hooks<T: Tensor>(module: &dyn Module<T>, parent: &str, name: &str, keep_vars: bool) {
    let prefix = key_prefix(&Key::new(parent, name).to_string());
    run_hooks(module, HookKind::StateDictPre, |h: &StateDictPreHook<T>| {
        h(module, &prefix, keep_vars)
    });
}

/// PyTorch's `state_dict(prefix=prefix)`: tensors sharing storage with the module's.
pub(crate) fn state_dict<T: Tensor>(module: &dyn Module<T>, prefix: &str) -> StateDict<T> {
    /// Saves each entry as it is met, and each module's metadata and hooks around its entries;
    /// post-hooks see (and may edit) everything saved so far.
    struct Saving<T> {
        out: StateDict<T>,
    }
    impl<'a, T: Tensor> Sink<'a, T> for Saving<T> {
        fn enter(&mut self, parent: &str, name: &str, _: &'a dyn Module<T>, version: u32) {
            let metadata = ModuleMetadata {
                version: Some(version),
            };
            self.out.metadata.push_key(Key::new(parent, name), metadata);
        }
        fn enter_hooked(&mut self, parent: &str, name: &str, module: &'a dyn Module<T>) {
            run_pre_hooks(module, parent, name, false);
        }
        fn leave_hooked(&mut self, parent: &str, name: &str, module: &'a dyn Module<T>) {
            let prefix = key_prefix(&Key::new(parent, name).to_string());
            let metadata = ModuleMetadata {
                version: Some(module.version()),
            };
            run_hooks(module, HookKind::StateDict, |h: &StateDictPostHook<T>| {
                h(module, &mut self.out, &prefix, &metadata)
            });
        }
        fn parameter(&mut self, parent: &str, name: &str, parameter: &'a Parameter<T>) {
            let key = Key::new(parent, name);
            self.out.entries.push_key(key, parameter.detached());
        }
        fn buffer(&mut self, parent: &str, name: &str, buffer: &'a Buffer<T>) {
            let key = Key::new(parent, name);
            self.out.entries.push_key(key, buffer.tensor());
        }
    }
    let wants = Wants {
        modules: true,
        hooked: true,
        ..saved(true)
    };
    let mut sink = Saving {
        out: StateDict {
            entries: reserved(Walked::StateDict),
            metadata: reserved(Walked::StateDictMetadata),
            generation: 0,
        },
    };
    Walk::run(module, prefix.trim_end_matches('.'), wants, &mut sink);
    let out = sink.out;
    walk_sizes::record(Walked::StateDict, out.len(), out.entries.key_bytes());
    let metadata = &out.metadata;
    walk_sizes::record(
        Walked::StateDictMetadata,
        metadata.len(),
        metadata.key_bytes(),
    );
    out
}

/// A map with room for as many entries as the last `what` on this thread had.
fn reserved<V>(what: Walked) -> NameMap<V> {
    let (entries, bytes) = walk_sizes::reserve(what);
    NameMap::with_capacity(entries, bytes)
}

/// PyTorch's `state_dict(keep_vars=True)`: the live parameter and buffer handles.
pub(crate) fn state_dict_keep_vars<'a, T: Tensor>(
    module: &'a dyn Module<T>,
) -> IndexMap<String, StateEntry<'a, T>> {
    /// Keeps each handle; runs the pre-hooks (post-hooks work on tensors).
    struct Keeping<'a, T> {
        out: IndexMap<String, StateEntry<'a, T>>,
    }
    impl<'a, T: Tensor> Sink<'a, T> for Keeping<'a, T> {
        fn enter_hooked(&mut self, parent: &str, name: &str, module: &'a dyn Module<T>) {
            run_pre_hooks(module, parent, name, true);
        }
        fn parameter(&mut self, parent: &str, name: &str, parameter: &'a Parameter<T>) {
            let key = Key::new(parent, name).to_string();
            self.out.insert(key, StateEntry::Parameter(parameter));
        }
        fn buffer(&mut self, parent: &str, name: &str, buffer: &'a Buffer<T>) {
            let key = Key::new(parent, name).to_string();
            self.out.insert(key, StateEntry::Buffer(buffer));
        }
    }
    let wants = Wants {
        hooked: true,
        ..saved(true)
    };
    let mut sink = Keeping {
        out: IndexMap::new(),
    };
    Walk::run(module, "", wants, &mut sink);
    sink.out
}

/// The key prefix of a module path: `""` for the root, `"a.b."` for `"a.b"`.
pub(crate) fn key_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    }
}
