//! [`ModuleDict`]: PyTorch's `nn.ModuleDict`.

use std::marker::PhantomData;

use crate::{Attr, Error, Module, ModuleCore, Tensor};

/// Submodules by name, in insertion order: PyTorch's `nn.ModuleDict`. Keys are validated as
/// `register_module` names (so `"keys"` or `"training"` are refused with PyTorch's
/// `attribute 'keys' already exists`); replacing a key keeps its position.
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::containers::ModuleDict;
/// use modcore::{Module, ModuleCore};
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// #[derive(Module, Default)]
/// #[module(tensor = T)]
/// struct Head { core: ModuleCore }
///
/// let mut heads = ModuleDict::<T>::new();
/// heads.insert("cls", Box::new(Head::default())).unwrap();
/// heads.insert("box", Box::new(Head::default())).unwrap();
/// assert_eq!(heads.keys(), ["cls", "box"]);
/// assert_eq!(heads.get("mask").unwrap_err().to_string(), "'mask'");
/// assert_eq!(heads.insert("keys", Box::new(Head::default())).unwrap_err().to_string(), "attribute 'keys' already exists");
/// # }
/// ```
#[derive(crate::Module)]
#[module(crate = crate, tensor = T)]
pub struct ModuleDict<T: Tensor> {
    core: ModuleCore,
    #[module(skip)]
    _tensor: PhantomData<fn() -> T>,
}

super::empty_container!(ModuleDict, "An empty dict.");

impl<T: Tensor> ModuleDict<T> {
    /// Adds or replaces `key` (PyTorch's `md[key] = m`). As in PyTorch, a key may not be one of
    /// the container's own attributes (`keys`, `items`, `values`, `update`, `pop`, `clear`, or
    /// any module attribute).
    pub fn insert(&mut self, key: &str, module: Box<dyn Module<T>>) -> Result<(), Error> {
        super::check_key(super::MODULE_DICT_METHODS, key)?;
        self.register_module(key, Some(module))
    }

    /// Adds every pair in order (PyTorch's `update`).
    pub fn update(
        &mut self,
        entries: impl IntoIterator<Item = (String, Box<dyn Module<T>>)>,
    ) -> Result<(), Error> {
        entries
            .into_iter()
            .try_for_each(|(key, module)| self.insert(&key, module))
    }

    /// The module under `key`, or PyTorch's `KeyError: 'key'`.
    pub fn get(&self, key: &str) -> Result<&dyn Module<T>, Error> {
        self.core
            .registry::<T>()
            .and_then(|r| r.modules.get(key))
            .and_then(|m| m.as_deref())
            .ok_or_else(|| Error::KeyNotFound {
                key: key.to_owned(),
            })
    }

    /// Removes `key` and returns its module (PyTorch's `pop`).
    pub fn remove(&mut self, key: &str) -> Result<Box<dyn Module<T>>, Error> {
        let missing = || Error::KeyNotFound {
            key: key.to_owned(),
        };
        let removed = super::registry::<T>(&mut self.core)
            .modules
            .shift_remove(key);
        removed.flatten().ok_or_else(missing)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        matches!(self.get_attr(key), Ok(Attr::Module(Some(_))))
    }

    /// The keys in order.
    pub fn keys(&self) -> Vec<String> {
        self.core
            .registry::<T>()
            .map(|r| r.modules.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.core.registry::<T>().map_or(0, |r| r.modules.len())
    }

    /// Whether the dict is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        if let Some(registry) = self.core.registry_mut::<T>() {
            registry.modules.clear();
        }
    }
}
