//! [`NameMap`]: the insertion-ordered map behind [`StateDict`](crate::StateDict) and its
//! metadata.
//!
//! A state dict holds hundreds of dotted keys that are produced once, in order, by a walk of the
//! tree, and are mostly iterated (to save, to print) rather than looked up. So the keys live in
//! one buffer (no allocation per key), and the hash index over them is built by the first lookup
//! or insertion, not while the walk produces them. Once built, the index is kept up to date.

use std::fmt;
use std::hash::BuildHasher;
use std::ops::Index;
use std::sync::OnceLock;

use hashbrown::HashTable;

use crate::module::walk::Key;

/// An insertion-ordered map from names to values: PyTorch's `OrderedDict` as a state dict uses
/// it. Replacing a value keeps its position; removing one keeps the order of the others.
///
/// ```
/// use modcore::NameMap;
///
/// let mut m = NameMap::new();
/// m.insert("fc.weight", 1);
/// m.insert("fc.bias", 2);
/// m.insert("fc.weight", 3);
/// assert_eq!(m.keys().collect::<Vec<_>>(), ["fc.weight", "fc.bias"]);
/// assert_eq!(m["fc.weight"], 3);
/// assert_eq!(m.remove("fc.weight"), Some(3));
/// assert_eq!(m.get("fc.weight"), None);
/// ```
#[derive(Clone)]
pub struct NameMap<V> {
    /// Every key, back to back (removed keys leave their bytes until they are half the buffer).
    names: String,
    /// Each entry's key span in `names`. Kept apart from the values, so that appending an entry
    /// stores two words and a value where they are, rather than a three-field tuple built on the
    /// stack and copied out in wider loads than it was written with (a store-forwarding stall on
    /// every key of a `state_dict`).
    spans: Vec<(usize, usize)>,
    /// Each entry's value, in the same order.
    values: Vec<V>,
    /// Entry positions by key hash; built on the first lookup, then kept up to date.
    index: OnceLock<HashTable<usize>>,
    hasher: foldhash::fast::RandomState,
}

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        NameMap {
            names: String::new(),
            spans: Vec::new(),
            values: Vec::new(),
            index: OnceLock::new(),
            hasher: Default::default(),
        }
    }
}

impl<V> NameMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `entries` entries and `bytes` bytes of keys.
    pub(crate) fn with_capacity(entries: usize, bytes: usize) -> Self {
        NameMap {
            names: String::with_capacity(bytes),
            spans: Vec::with_capacity(entries),
            values: Vec::with_capacity(entries),
            ..NameMap::default()
        }
    }

    /// The bytes the keys take (with those of removed keys not yet dropped).
    pub(crate) fn key_bytes(&self) -> usize {
        self.names.len()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn key_at(&self, position: usize) -> &str {
        let (start, end) = self.spans[position];
        &self.names[start..end]
    }

    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    fn index(&self) -> &HashTable<usize> {
        self.index.get_or_init(|| {
            let mut table = HashTable::with_capacity(self.len());
            for position in 0..self.len() {
                let hash = self.hash(self.key_at(position));
                table.insert_unique(hash, position, |&p| self.hash(self.key_at(p)));
            }
            table
        })
    }

    /// The position of `key` in the order.
    pub fn get_index_of(&self, key: &str) -> Option<usize> {
        self.index()
            .find(self.hash(key), |&p| self.key_at(p) == key)
            .copied()
    }

    /// The entry at `position` in the order.
    pub fn get_index(&self, position: usize) -> Option<(&str, &V)> {
        let (start, end) = *self.spans.get(position)?;
        Some((&self.names[start..end], &self.values[position]))
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.get_index_of(key).map(|p| &self.values[p])
    }

    /// The value under `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let position = self.get_index_of(key)?;
        Some(&mut self.values[position])
    }

    /// Whether there is an entry under `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get_index_of(key).is_some()
    }

    /// Inserts (or replaces, keeping its position) an entry; returns the previous value.
    pub fn insert(&mut self, key: impl AsRef<str>, value: V) -> Option<V> {
        let key = key.as_ref();
        if let Some(position) = self.get_index_of(key) {
            return Some(std::mem::replace(&mut self.values[position], value));
        }
        self.append(key, value);
        None
    }

    /// Appends an entry whose key the caller knows is new, when no lookup has happened yet
    /// (a walk producing distinct paths); otherwise inserts.
    pub(crate) fn push_new(&mut self, key: &str, value: V) {
        if self.index.get().is_some() {
            self.insert(key, value);
        } else {
            self.append(key, value);
        }
    }

    /// [`push_new`](Self::push_new) of a key a walk reported, written straight into the
    /// key buffer.
    #[inline(always)]
    pub(crate) fn push_key(&mut self, key: Key<'_>, value: V) {
        if self.index.get().is_some() {
            self.insert(key.to_string(), value);
        } else {
            let start = self.names.len();
            key.write(&mut self.names);
            self.spans.push((start, self.names.len()));
            self.values.push(value);
        }
    }

    /// Appends an entry whose key is not in the map.
    fn append(&mut self, key: &str, value: V) {
        let NameMap {
            names,
            spans,
            values,
            index,
            hasher,
        } = self;
        let start = names.len();
        names.push_str(key);
        spans.push((start, names.len()));
        values.push(value);
        if let Some(index) = index.get_mut() {
            let rehash = |&p: &usize| {
                let (start, end) = spans[p];
                hasher.hash_one(&names[start..end])
            };
            index.insert_unique(hasher.hash_one(key), spans.len() - 1, rehash);
        }
    }

    /// Removes an entry, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let position = self.get_index_of(key)?;
        self.spans.remove(position);
        let value = self.values.remove(position);
        self.reindex();
        Some(value)
    }

    /// Keeps the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut V) -> bool) {
        let names = &self.names;
        let kept: Vec<bool> = (self.spans.iter().zip(&mut self.values))
            .map(|(&(start, end), value)| keep(&names[start..end], value))
            .collect();
        let mut verdicts = kept.iter();
        self.spans.retain(|_| verdicts.next() == Some(&true));
        let mut verdicts = kept.iter();
        self.values.retain(|_| verdicts.next() == Some(&true));
        self.reindex();
    }

    /// Entries were removed: drop the bytes of removed keys once they are most of the buffer,
    /// and rebuild the index if there was one (a built index stays built, so that `push_new`
    /// knows whether lookups happened).
    fn reindex(&mut self) {
        let live: usize = self.spans.iter().map(|(start, end)| end - start).sum();
        if self.names.len() > 2 * live {
            let mut names = String::with_capacity(live);
            for (start, end) in &mut self.spans {
                let key = &self.names[*start..*end];
                *start = names.len();
                names.push_str(key);
                *end = names.len();
            }
            self.names = names;
        }
        if self.index.take().is_some() {
            self.index();
        }
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.spans
            .iter()
            .map(|&(start, end)| &self.names[start..end])
    }

    /// The values in order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.values.iter()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &V)> + ExactSizeIterator {
        self.keys().zip(&self.values)
    }

    /// The entries in order, values mutably.
    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&str, &mut V)> + ExactSizeIterator {
        let names = &self.names;
        (self.spans.iter())
            .map(|&(start, end)| &names[start..end])
            .zip(&mut self.values)
    }
}

impl<V> Index<&str> for NameMap<V> {
    type Output = V;

    /// The value under `key`; panics if there is none, as `IndexMap` does.
    fn index(&self, key: &str) -> &V {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no entry under {key:?}"),
        }
    }
}

impl<K: AsRef<str>, V> FromIterator<(K, V)> for NameMap<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = NameMap::new();
        for (key, value) in iter {
            map.insert(key.as_ref(), value);
        }
        map
    }
}

impl<K: AsRef<str>, V> Extend<(K, V)> for NameMap<V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key.as_ref(), value);
        }
    }
}

/// Owning iterator over a [`NameMap`]: `(String, V)`.
pub struct IntoIter<V> {
    names: String,
    spans: std::vec::IntoIter<(usize, usize)>,
    values: std::vec::IntoIter<V>,
}

impl<V> Iterator for IntoIter<V> {
    type Item = (String, V);

    fn next(&mut self) -> Option<(String, V)> {
        let (start, end) = self.spans.next()?;
        let value = self.values.next()?;
        Some((self.names[start..end].to_owned(), value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl<V> ExactSizeIterator for IntoIter<V> {}

impl<V> IntoIterator for NameMap<V> {
    type Item = (String, V);
    type IntoIter = IntoIter<V>;

    fn into_iter(self) -> IntoIter<V> {
        IntoIter {
            names: self.names,
            spans: self.spans.into_iter(),
            values: self.values.into_iter(),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for NameMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: PartialEq> PartialEq for NameMap<V> {
    /// Same entries in the same order.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}
