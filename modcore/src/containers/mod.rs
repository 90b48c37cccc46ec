//! PyTorch's containers: [`Sequential`], [`ModuleList`], [`ModuleDict`], [`ParameterList`] and
//! [`ParameterDict`].
//!
//! Each is a module whose entries are run-time members of its [`ModuleCore`],
//! named as PyTorch names them (`"0"`, `"1"`, … or the keys), so traversal, state dicts, hooks
//! and the printed tree work on them as on any module. Lists renumber their entries after a
//! removal, as PyTorch does. Where PyTorch has quirks, these containers take the consistent
//! behaviour and the docs of each method say so: every insertion validates its index (PyTorch's
//! `ModuleList.insert` does not), and entries are modules or parameters only (PyTorch's
//! `ParameterList` also stores plain objects).

mod module_dict;
mod module_list;
mod parameter_dict;
mod parameter_list;
mod sequential;

pub use module_dict::ModuleDict;
pub use module_list::ModuleList;
pub use parameter_dict::ParameterDict;
pub use parameter_list::ParameterList;
pub use sequential::Sequential;

use crate::module::registry::Registry;
use crate::{Error, ModuleCore, Tensor};

/// The position `index` names in a list of `len` entries: negative indices count from the end.
pub(crate) fn position(index: isize, len: usize) -> Result<usize, Error> {
    let len = len as isize;
    if (-len..len).contains(&index) {
        Ok(index.rem_euclid(len.max(1)) as usize)
    } else {
        Err(Error::IndexOutOfRange { index })
    }
}

/// Where `insert(index, …)` puts an entry in a list of `len`: `-len..=len`, negative from the end.
pub(crate) fn insert_position(index: isize, len: usize) -> Result<usize, Error> {
    let len = len as isize;
    if (-len..=len).contains(&index) {
        Ok(if index < 0 { index + len } else { index } as usize)
    } else {
        Err(Error::InsertOutOfRange { index })
    }
}

/// PyTorch's `ModuleDict` methods: attributes a key cannot shadow (#71203).
pub(crate) const MODULE_DICT_METHODS: &[&str] =
    &["keys", "items", "values", "update", "pop", "clear"];

/// PyTorch's `ParameterDict` methods.
pub(crate) const PARAMETER_DICT_METHODS: &[&str] = &[
    "keys",
    "items",
    "values",
    "update",
    "pop",
    "popitem",
    "clear",
    "copy",
    "get",
    "setdefault",
    "fromkeys",
];

/// Refuses a dict key that names one of the container's methods: `attribute 'keys' already exists`.
pub(crate) fn check_key(methods: &[&str], key: &str) -> Result<(), Error> {
    if methods.contains(&key) {
        return Err(Error::AlreadyExists {
            name: key.to_owned(),
        });
    }
    Ok(())
}

/// The run-time registry of a container's core; containers hold exactly their tensor type.
pub(crate) fn registry<T: Tensor>(core: &mut ModuleCore) -> &mut Registry<T> {
    match core.registry_or_create::<T>() {
        Ok(registry) => registry,
        // A container is a `Module<T>` for its own `T` only, so no other registry can exist.
        Err(held) => unreachable!("a container of {} holds {held}", std::any::type_name::<T>()),
    }
}

/// Renames the entries of `map` to `"0".."n-1"`, keeping their order.
pub(crate) fn renumber<V>(map: &mut crate::module::registry::Names<V>) {
    use compact_str::ToCompactString;
    let entries: Vec<V> = std::mem::take(map).into_values().collect();
    map.extend(
        entries
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_compact_string(), v)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_wrap_negative_indices_and_check_bounds() {
        assert_eq!(position(0, 3).unwrap(), 0);
        assert_eq!(position(-1, 3).unwrap(), 2);
        assert_eq!(position(-3, 3).unwrap(), 0);
        assert_eq!(
            position(3, 3).unwrap_err().to_string(),
            "index 3 is out of range"
        );
        assert_eq!(
            position(-4, 3).unwrap_err().to_string(),
            "index -4 is out of range"
        );
        assert_eq!(
            position(0, 0).unwrap_err().to_string(),
            "index 0 is out of range"
        );
        assert_eq!(insert_position(3, 3).unwrap(), 3);
        assert_eq!(insert_position(-2, 3).unwrap(), 1);
        assert_eq!(
            insert_position(-5, 3).unwrap_err().to_string(),
            "Index out of range: -5"
        );
    }
}

/// `Default` and `new()` of a container: an empty core (and the given fields' initial values).
/// Written out because `#[derive(Default)]` would ask `T: Default` of the tensor type.
macro_rules! empty_container {
    ($name:ident, $doc:literal $(, $field:ident: $init:expr)*) => {
        impl<T: Tensor> Default for $name<T> {
            fn default() -> Self {
                $name {
                    core: ModuleCore::new(),
                    $($field: $init,)*
                    _tensor: PhantomData,
                }
            }
        }

        impl<T: Tensor> $name<T> {
            #[doc = $doc]
            pub fn new() -> Self {
                Self::default()
            }
        }
    };
}

pub(crate) use empty_container;

/// The accessors `Sequential` and `ModuleList` share: both keep their entries as the run-time
/// modules of their core, in order.
macro_rules! list_accessors {
    () => {
        fn modules(&self) -> Option<&list::Modules<T>> {
            self.core.registry::<T>().map(|r| &r.modules)
        }

        fn modules_mut(&mut self) -> &mut list::Modules<T> {
            &mut registry::<T>(&mut self.core).modules
        }

        /// The number of entries.
        pub fn len(&self) -> usize {
            self.modules().map_or(0, |m| m.len())
        }

        /// Whether the list is empty.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// The entry at `index` (negative counts from the end), or `index {i} is out of range`.
        pub fn get(&self, index: isize) -> Result<&dyn Module<T>, Error> {
            match self.modules() {
                Some(modules) => list::get(modules, index),
                None => Err(Error::IndexOutOfRange { index }),
            }
        }

        /// The entry at `index`, mutably.
        pub fn get_mut(&mut self, index: isize) -> Result<&mut dyn Module<T>, Error> {
            list::get_mut(self.modules_mut(), index)
        }
    };
}

pub(crate) use list_accessors;

/// The list operations `Sequential` and `ModuleList` share, on their registry's modules.
pub(crate) mod list {

    use super::{insert_position, position, renumber};
    use crate::hooks::global::run_module_hooks;
    use crate::{Error, Module, Tensor};

    pub(crate) type Modules<T> = crate::module::registry::Names<Option<Box<dyn Module<T>>>>;

    fn present<'a, T: Tensor>(
        key: &str,
        m: Option<&'a dyn Module<T>>,
    ) -> Result<&'a dyn Module<T>, Error> {
        m.ok_or_else(|| Error::NotAModule {
            name: key.to_owned(),
        })
    }

    pub(crate) fn get<T: Tensor>(
        modules: &Modules<T>,
        index: isize,
    ) -> Result<&dyn Module<T>, Error> {
        let at = position(index, modules.len())?;
        let (key, m) = modules
            .get_index(at)
            .ok_or(Error::IndexOutOfRange { index })?;
        present(key, m.as_deref())
    }

    pub(crate) fn get_mut<T: Tensor>(
        modules: &mut Modules<T>,
        index: isize,
    ) -> Result<&mut dyn Module<T>, Error> {
        let at = position(index, modules.len())?;
        let (key, m) = modules
            .get_index_mut(at)
            .ok_or(Error::IndexOutOfRange { index })?;
        let key = key.to_string();
        m.as_deref_mut().ok_or(Error::NotAModule { name: key })
    }

    /// Runs the module-registration hooks as `add_module(name, m)` would, on `owner`.
    pub(crate) fn registered<T: Tensor>(
        owner: &dyn Module<T>,
        name: &str,
        m: Box<dyn Module<T>>,
    ) -> Option<Box<dyn Module<T>>> {
        run_module_hooks(owner, name, Some(m))
    }

    pub(crate) fn insert<T: Tensor>(
        modules: &mut Modules<T>,
        index: isize,
        m: Option<Box<dyn Module<T>>>,
    ) -> Result<(), Error> {
        let at = insert_position(index, modules.len())?;
        modules.shift_insert(at, Default::default(), m);
        renumber(modules);
        Ok(())
    }

    /// Moves the entries from position `at` on out of `modules`, keeping their names.
    pub(crate) fn split_off<T: Tensor>(modules: &mut Modules<T>, at: usize) -> Modules<T> {
        let at = at.min(modules.len());
        modules.split_off(at)
    }

    pub(crate) fn remove<T: Tensor>(
        modules: &mut Modules<T>,
        index: isize,
    ) -> Result<Option<Box<dyn Module<T>>>, Error> {
        let at = position(index, modules.len())?;
        let (_, m) = modules
            .shift_remove_index(at)
            .ok_or(Error::IndexOutOfRange { index })?;
        renumber(modules);
        Ok(m)
    }
}
