//! [`ModuleList`]: PyTorch's `nn.ModuleList`.

use std::marker::PhantomData;

use compact_str::ToCompactString;

use super::{list, registry};
use crate::{Error, Module, ModuleCore, Tensor};

/// A list of submodules named `"0"`, `"1"`, …: PyTorch's `nn.ModuleList`. It is a module (it has
/// hooks, a `named_modules` entry and a printed form with runs folded: `(0-11): 12 x Block(...)`)
/// but no `forward`, so calling it does not compile (PyTorch raises `NotImplementedError`).
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::containers::ModuleList;
/// use modcore::{Module, ModuleCore, Parameter};
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// #[derive(Module)]
/// struct Layer { core: ModuleCore, w: Parameter<T> }
/// let layer = || Layer { core: ModuleCore::new(), w: Parameter::new(T::zeros(ndarray::IxDyn(&[1]))) };
///
/// let mut h = ModuleList::<T>::new();
/// h.push(layer()).push(layer()).push(layer());
/// h.remove(0).unwrap();
/// let names: Vec<String> = h.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.w", "1.w"]);
/// assert_eq!(h.get(-1).unwrap().type_name(), "Layer");
/// assert_eq!(h.get(2).unwrap_err().to_string(), "index 2 is out of range");
/// # }
/// ```
#[derive(crate::Module)]
#[module(crate = crate, tensor = T)]
pub struct ModuleList<T: Tensor> {
    core: ModuleCore,
    #[module(skip)]
    _tensor: PhantomData<fn() -> T>,
}

super::empty_container!(ModuleList, "An empty list.");

impl<T: Tensor> ModuleList<T> {
    super::list_accessors!();

    /// Appends a module as entry `len` (PyTorch's `append`, registration hooks included);
    /// returns the list, so appends chain.
    pub fn push(&mut self, module: impl Module<T>) -> &mut Self {
        self.push_boxed(Box::new(module))
    }

    /// Appends a boxed module.
    pub fn push_boxed(&mut self, module: Box<dyn Module<T>>) -> &mut Self {
        let name = self.len().to_compact_string();
        let module = list::registered(&*self, &name, module);
        self.modules_mut().insert(name, module);
        self
    }

    /// Appends every module (PyTorch's `extend`).
    pub fn extend(&mut self, modules: impl IntoIterator<Item = Box<dyn Module<T>>>) -> &mut Self {
        for m in modules {
            self.push_boxed(m);
        }
        self
    }

    /// Inserts before `index` (`-len..=len`, negative from the end) and renumbers. Unlike
    /// PyTorch's `ModuleList.insert`, the index is checked like `Sequential.insert`'s.
    pub fn insert(&mut self, index: isize, module: Box<dyn Module<T>>) -> Result<(), Error> {
        let module = list::registered(&*self, &index.to_string(), module);
        list::insert(self.modules_mut(), index, module)
    }

    /// Replaces the entry at `index` (PyTorch's `ml[i] = m`), keeping its name.
    pub fn set(&mut self, index: isize, module: Box<dyn Module<T>>) -> Result<(), Error> {
        let at = super::position(index, self.len())?;
        self.set_attr(&at.to_string(), crate::Value::Module(module))
    }

    /// Removes the entry at `index`, renumbers the rest, and returns it (PyTorch's `pop`).
    pub fn remove(&mut self, index: isize) -> Result<Box<dyn Module<T>>, Error> {
        let removed = list::remove(self.modules_mut(), index)?;
        removed.ok_or(Error::NotAModule {
            name: index.to_string(),
        })
    }

    /// Moves the entries from position `at` on into a new list, renumbered from 0 (as PyTorch's
    /// `ml[at:]` is); `self` keeps the ones before.
    pub fn split_off(&mut self, at: usize) -> ModuleList<T> {
        let tail = list::split_off(self.modules_mut(), at);
        tail.into_values().flatten().collect()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Module<T>> {
        self.modules()
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|m| m.as_deref())
    }
}

impl<T: Tensor> FromIterator<Box<dyn Module<T>>> for ModuleList<T> {
    fn from_iter<I: IntoIterator<Item = Box<dyn Module<T>>>>(iter: I) -> Self {
        let mut list = ModuleList::new();
        list.extend(iter);
        list
    }
}
