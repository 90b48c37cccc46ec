//! [`Named`]: what `named_parameters`, `named_buffers`, `named_modules` and `named_children`
//! return.
//!
//! A walk of a tree produces hundreds of dotted names that share most of their bytes. Rather
//! than one `String` per name (one allocation each), `Named` keeps every name in one buffer and
//! hands out `&str` slices of it: a whole `named_parameters` costs two growing allocations.
//! Iterating by value still yields `(String, V)` pairs, so
//! `for (name, p) in m.named_parameters()` reads as in PyTorch.

use std::fmt;

/// Dotted names with a value each, in traversal order, the names stored in one buffer.
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::{Module, ModuleCore, Parameter};
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// #[derive(Module)]
/// struct Affine { core: ModuleCore, weight: Parameter<T>, bias: Parameter<T> }
///
/// let zeros = || Parameter::new(T::zeros(ndarray::IxDyn(&[2])));
/// let m = Affine { core: ModuleCore::new(), weight: zeros(), bias: zeros() };
/// let named = m.named_parameters();
/// assert_eq!(named.len(), 2);
/// assert_eq!(named.names().collect::<Vec<_>>(), ["weight", "bias"]);
/// assert_eq!(named.get(1).unwrap().0, "bias");
/// for (name, p) in &named {
///     assert_eq!((name.len(), p.shape()), (name.len(), vec![2]));
/// }
/// // By value: owned names.
/// let owned: Vec<(String, _)> = named.into_iter().collect();
/// assert_eq!(owned[0].0, "weight");
/// # }
/// ```
#[derive(Clone)]
pub struct Named<V> {
    names: String,
    /// Where each name ends in `names` (it starts where the previous one ends), and its value.
    entries: Vec<(usize, V)>,
}

impl<V> Default for Named<V> {
    fn default() -> Self {
        Named {
            names: String::new(),
            entries: Vec::new(),
        }
    }
}

impl<V> Named<V> {
    /// Room for `entries` entries and `bytes` bytes of names before the buffers grow.
    pub(crate) fn with_capacity(entries: usize, bytes: usize) -> Self {
        Named {
            names: String::with_capacity(bytes),
            entries: Vec::with_capacity(entries),
        }
    }

    /// Appends an entry.
    pub(crate) fn push(&mut self, name: &str, value: V) {
        self.names.push_str(name);
        self.entries.push((self.names.len(), value));
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where entry `index`'s name starts in the buffer.
    fn start(&self, index: usize) -> usize {
        match index {
            0 => 0,
            _ => self.entries[index - 1].0,
        }
    }

    /// The name of entry `index`.
    fn name(&self, index: usize) -> &str {
        &self.names[self.start(index)..self.entries[index].0]
    }

    /// The names, in order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.name(i))
    }

    /// The values, in order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &V> + '_ {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The values, in order, without their names.
    pub fn into_values(self) -> impl ExactSizeIterator<Item = V> {
        self.entries.into_iter().map(|(_, v)| v)
    }

    /// Entries with owned names, as a `Vec`.
    pub fn into_vec(self) -> Vec<(String, V)> {
        self.into_iter().collect()
    }
}

impl<V: Copy> Named<V> {
    /// Entry `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<(&str, V)> {
        let value = self.entries.get(index)?.1;
        Some((self.name(index), value))
    }

    /// The entries, in order, as `(name, value)`.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            named: self,
            front: 0,
            back: self.len(),
        }
    }
}

/// Borrowing iterator over a [`Named`]: `(&str, V)`.
pub struct Iter<'n, V> {
    named: &'n Named<V>,
    front: usize,
    back: usize,
}

impl<'n, V: Copy> Iterator for Iter<'n, V> {
    type Item = (&'n str, V);

    fn next(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.front += 1;
        self.named.get(self.front - 1)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.back - self.front, Some(self.back - self.front))
    }
}

impl<V: Copy> DoubleEndedIterator for Iter<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        self.named.get(self.back)
    }
}

impl<V: Copy> ExactSizeIterator for Iter<'_, V> {}

impl<'n, V: Copy> IntoIterator for &'n Named<V> {
    type Item = (&'n str, V);
    type IntoIter = Iter<'n, V>;

    fn into_iter(self) -> Iter<'n, V> {
        self.iter()
    }
}

/// Owning iterator over a [`Named`]: `(String, V)`, each name copied out of the buffer.
pub struct IntoIter<V> {
    names: String,
    start: usize,
    entries: std::vec::IntoIter<(usize, V)>,
}

impl<V> Iterator for IntoIter<V> {
    type Item = (String, V);

    fn next(&mut self) -> Option<(String, V)> {
        let (end, value) = self.entries.next()?;
        let name = self.names[self.start..end].to_owned();
        self.start = end;
        Some((name, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl<V> ExactSizeIterator for IntoIter<V> {}

impl<V> IntoIterator for Named<V> {
    type Item = (String, V);
    type IntoIter = IntoIter<V>;

    fn into_iter(self) -> IntoIter<V> {
        IntoIter {
            names: self.names,
            start: 0,
            entries: self.entries.into_iter(),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for Named<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries((0..self.len()).map(|i| (self.name(i), &self.entries[i].1)))
            .finish()
    }
}
