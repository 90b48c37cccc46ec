//! [`Sequential`]: PyTorch's `nn.Sequential`.

use std::any::TypeId;
use std::collections::HashMap;
use std::marker::PhantomData;

use compact_str::ToCompactString;

use super::{list, registry};
use crate::{Error, Forward, ForwardResult, Module, ModuleCore, ModuleHooks, Tensor};

/// Calls a module of one concrete type, known when it was added, through its hooks.
type CallFn<T> = fn(&dyn Module<T>, T) -> ForwardResult<T>;

fn call_as<T: Tensor, M: Forward<T, T, Output = T>>(m: &dyn Module<T>, x: T) -> ForwardResult<T> {
    match m.downcast_ref::<M>() {
        Some(m) => m.call(x),
        None => Err(format!(
            "{} is not a {}",
            m.type_name(),
            crate::error::short_type_name(std::any::type_name::<M>())
        )
        .into()),
    }
}

/// Modules called in order, each on the previous one's output: PyTorch's `nn.Sequential`.
///
/// Entries are named `"0"`, `"1"`, … (or the names given to [`Sequential::from_named`]);
/// indexing is positional, negative indices count from the end, and removing renumbers the
/// entries to `"0".."n-1"` as PyTorch does. Entries may be of any module type that maps a `T` to a
/// `T`; each is called through its hooks.
///
/// ```
/// # #[cfg(feature = "candle")] {
/// use candle_core::{Device, Tensor};
/// use modcore::containers::Sequential;
/// use modcore::{Forward, ForwardResult, Module, ModuleCore, ModuleHooks};
///
/// #[derive(Module, Default)]
/// #[module(tensor = Tensor)]
/// struct AddOne { core: ModuleCore }
/// impl Forward<Tensor, Tensor> for AddOne {
///     type Output = Tensor;
///     fn forward(&self, x: Tensor) -> ForwardResult<Tensor> { Ok((x + 1.0)?) }
/// }
///
/// let mut seq = Sequential::new();
/// seq.push(AddOne::default()).push(AddOne::default());
/// let y = seq.call(Tensor::new(&[1f32], &Device::Cpu)?)?;
/// assert_eq!(y.to_vec1::<f32>()?, [3.0]);
/// assert_eq!(seq.repr(), "Sequential(\n  (0): AddOne()\n  (1): AddOne()\n)");
/// # }
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate, tensor = T)]
pub struct Sequential<T: Tensor> {
    core: ModuleCore,
    /// How to call each module type this sequence holds.
    #[module(skip)]
    calls: HashMap<TypeId, CallFn<T>>,
    #[module(skip)]
    _tensor: PhantomData<fn() -> T>,
}

super::empty_container!(Sequential, "An empty sequence: its forward returns its input.", calls: HashMap::new());

impl<T: Tensor> Sequential<T> {
    /// A sequence with the given names (PyTorch's `Sequential(OrderedDict(...))`); the names are
    /// validated as `register_module` does.
    pub fn from_named<M>(entries: impl IntoIterator<Item = (String, M)>) -> Result<Self, Error>
    where
        M: Forward<T, T, Output = T>,
    {
        let mut seq = Self::new();
        for (name, module) in entries {
            seq.calls.insert(TypeId::of::<M>(), call_as::<T, M>);
            seq.register_module(&name, Some(Box::new(module)))?;
        }
        Ok(seq)
    }

    super::list_accessors!();

    /// Appends a module as entry `len` (registration hooks included); returns the sequence.
    pub fn push<M: Forward<T, T, Output = T>>(&mut self, module: M) -> &mut Self {
        self.calls.insert(TypeId::of::<M>(), call_as::<T, M>);
        let name = self.len().to_compact_string();
        let module = list::registered(&*self, &name, Box::new(module));
        self.modules_mut().insert(name, module);
        self
    }

    /// Appends a module under `name` (PyTorch's `add_module` on a `Sequential`), validated as
    /// `register_module` does; an existing entry of that name is replaced in place, as
    /// `add_module` does. With it a named sequence may mix layer types, as DenseNet's
    /// `features` does (`Sequential(OrderedDict([("conv0", …), ("norm0", …), …]))`).
    ///
    /// ```
    /// # #[cfg(feature = "candle")] {
    /// use modcore::containers::Sequential;
    /// use modcore::nn::{MaxPool2d, ReLU};
    /// use modcore::Module;
    /// let mut features = Sequential::<candle_core::Tensor>::new();
    /// features.push_named("relu0", ReLU::new())?.push_named("pool0", MaxPool2d::new(2, 2, 0))?;
    /// assert_eq!(features.named_children().names().collect::<Vec<_>>(), ["relu0", "pool0"]);
    /// # }
    /// # Ok::<(), modcore::Error>(())
    /// ```
    pub fn push_named<M: Forward<T, T, Output = T>>(
        &mut self,
        name: &str,
        module: M,
    ) -> Result<&mut Self, Error> {
        self.register_module(name, Some(Box::new(module)))?;
        self.calls.insert(TypeId::of::<M>(), call_as::<T, M>);
        Ok(self)
    }

    /// Inserts a module under `name` before position `index` (`-len..=len`), keeping every other
    /// entry's name; fails if `name` is taken. (PyTorch's `insert` renumbers, and fails on a
    /// named sequence; this is its named form.)
    pub fn insert_named<M: Forward<T, T, Output = T>>(
        &mut self,
        index: isize,
        name: &str,
        module: M,
    ) -> Result<(), Error> {
        let len = self.len();
        let at = super::insert_position(index, len)?;
        if self.has_attr(name) {
            return Err(Error::AlreadyExists {
                name: name.to_owned(),
            });
        }
        self.push_named(name, module)?;
        self.modules_mut().move_index(len, at);
        Ok(())
    }

    /// Inserts before `index` (`-len..=len`) and renumbers every entry.
    pub fn insert<M: Forward<T, T, Output = T>>(
        &mut self,
        index: isize,
        module: M,
    ) -> Result<(), Error> {
        self.calls.insert(TypeId::of::<M>(), call_as::<T, M>);
        let module = list::registered(&*self, &index.to_string(), Box::new(module));
        list::insert(self.modules_mut(), index, module)
    }

    /// Replaces the entry at `index`, keeping its name (PyTorch's `s[i] = m`).
    pub fn set<M: Forward<T, T, Output = T>>(
        &mut self,
        index: isize,
        module: M,
    ) -> Result<(), Error> {
        let at = super::position(index, self.len())?;
        let name = match self.modules().and_then(|m| m.get_index(at)) {
            Some((name, _)) => name.clone(),
            None => return Err(Error::IndexOutOfRange { index }),
        };
        self.calls.insert(TypeId::of::<M>(), call_as::<T, M>);
        self.set_attr(&name, crate::Value::module(module))
    }

    /// Removes the entry at `index`, renumbers the rest to `"0".."n-1"`, and returns it.
    pub fn remove(&mut self, index: isize) -> Result<Box<dyn Module<T>>, Error> {
        list::remove(self.modules_mut(), index)?.ok_or(Error::NotAModule {
            name: index.to_string(),
        })
    }

    /// Moves the entries from position `at` on into a new sequence, keeping their names (as
    /// PyTorch's slicing `s[at:]` keeps the original keys); `self` keeps the ones before.
    /// PyTorch's slices share their modules; Rust modules have one owner, so they move.
    pub fn split_off(&mut self, at: usize) -> Sequential<T> {
        let tail = list::split_off(self.modules_mut(), at);
        let mut out = Sequential {
            calls: self.calls.clone(),
            ..Sequential::new()
        };
        *out.modules_mut() = tail;
        out
    }

    /// Appends every entry of `other`, renumbered after this sequence's (PyTorch's `s += other`).
    pub fn append(&mut self, other: Sequential<T>) -> &mut Self {
        let mut other = other;
        self.calls.extend(other.calls.drain());
        let moved: Vec<_> = std::mem::take(other.modules_mut()).into_values().collect();
        for module in moved {
            let name = self.len().to_compact_string();
            let module = module.and_then(|m| list::registered(&*self, &name, m));
            self.modules_mut().insert(name, module);
        }
        self
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Module<T>> {
        self.modules()
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|m| m.as_deref())
    }
}

impl<T: Tensor> std::ops::Add for Sequential<T> {
    type Output = Sequential<T>;

    /// PyTorch's `s + other`: a sequence of both, renumbered from 0.
    fn add(self, other: Sequential<T>) -> Sequential<T> {
        let mut out = Sequential::new();
        out.append(self).append(other);
        out
    }
}

impl<T: Tensor> Forward<T, T> for Sequential<T> {
    type Output = T;

    /// Calls each entry on the previous one's output; `None` entries are skipped.
    fn forward(&self, input: T) -> ForwardResult<T> {
        let mut x = input;
        for module in self.iter() {
            let call = self.calls.get(&module.as_any().type_id()).ok_or_else(|| {
                format!(
                    "Sequential cannot call {}: it was not added through Sequential's methods \
                     (`push`, `push_named`, `insert`, `set`, `from_named`)",
                    module.type_name()
                )
            })?;
            x = call(module, x)?;
        }
        Ok(x)
    }
}
