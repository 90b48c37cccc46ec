//! [`Named`]: what `named_parameters`, `named_buffers`, `named_modules` and `named_children`
//! return.
//!
//! A walk of a tree produces hundreds of dotted names that share most of their bytes. Rather
//! than one `String` per name (one allocation each), `Named` keeps every name in one buffer and
//! hands out `&str` slices of it: a whole `named_parameters` costs two growing allocations.
//! Iterating by value still yields `(String, V)` pairs, so
//! `for (name, p) in m.named_parameters()` reads as in PyTorch.

use std::fmt;

use crate::module::walk::Key;
use crate::module::walk_sizes::{self, Walked};
use crate::MemberKind;

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

    /// An empty result for a recursive walk that reports `kind`, with room for as many entries
    /// and name bytes as the last such walk on this thread returned ([`walk_sizes`]).
    pub(crate) fn for_walk(kind: MemberKind) -> Self {
        let (entries, bytes) = walk_sizes::reserve(Walked::Named(kind));
        Named::with_capacity(entries, bytes)
    }

    /// Records this walk result's size for the next [`for_walk`](Named::for_walk) of `kind`.
    pub(crate) fn walked(self, kind: MemberKind) -> Self {
        walk_sizes::record(Walked::Named(kind), self.entries.len(), self.names.len());
        self
    }

    /// Appends an entry a walk reported. Always inlined: a `Key` passed through memory is read
    /// back in wider loads than it was written with (a store-forwarding stall per entry).
    #[inline(always)]
    pub(crate) fn push_key(&mut self, key: Key<'_>, value: V) {
        key.write(&mut self.names);
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

/// Appends `head`, a dot if `dot`, and `tail` to `out`, with one capacity check and one length
/// update for the three parts: a joined name (`Key::write`) or a path segment
/// (`push_segment`).
#[inline(always)]
pub(crate) fn append_joined(out: &mut String, head: &str, dot: bool, tail: &str) {
    let len = head.len() + usize::from(dot) + tail.len();
    out.reserve(len);
    // SAFETY: `reserve` made room for `len` bytes after the current ones, which the parts fill
    // exactly; they are whole UTF-8 characters (two other strings and a dot), and the length
    // grows only after they are written.
    unsafe {
        let bytes = out.as_mut_vec();
        let dst = bytes.as_mut_ptr().add(bytes.len());
        copy_short(head, dst);
        if dot {
            *dst.add(head.len()) = b'.';
        }
        copy_short(tail, dst.add(len - tail.len()));
        bytes.set_len(bytes.len() + len);
    }
}

/// Writes `text`'s bytes at `dst`. Names and their segments are short, so they are moved
/// inline rather than through a call to `memcpy` (which was a fifth of a `named_parameters`):
/// up to 32 bytes as two overlapping loads and stores of the largest fitting width, one to
/// three bytes as three byte moves (a byte loop here is compiled back into a call to
/// `memcpy`); only longer texts go through `memcpy`.
///
/// # Safety
/// `dst` is writable for `text.len()` bytes and does not overlap `text`.
#[inline(always)]
unsafe fn copy_short(text: &str, dst: *mut u8) {
    /// Copies `len` bytes, `size <= len <= 2 * size`, as the first and the last `size`.
    ///
    /// # Safety
    /// `src` readable and `dst` writable for `len` bytes; they do not overlap.
    #[inline(always)]
    unsafe fn two<const SIZE: usize>(src: *const u8, dst: *mut u8, len: usize) {
        // SAFETY: both moves stay within the `len` bytes the caller vouches for.
        unsafe {
            let head = src.cast::<[u8; SIZE]>().read_unaligned();
            let tail = src.add(len - SIZE).cast::<[u8; SIZE]>().read_unaligned();
            dst.cast::<[u8; SIZE]>().write_unaligned(head);
            dst.add(len - SIZE)
                .cast::<[u8; SIZE]>()
                .write_unaligned(tail);
        }
    }
    let (src, len) = (text.as_ptr(), text.len());
    // SAFETY: every move stays within `text` and the `len` bytes at `dst` the caller vouches
    // for.
    unsafe {
        match len {
            33.. => std::ptr::copy_nonoverlapping(src, dst, len),
            16..=32 => two::<16>(src, dst, len),
            8..=15 => two::<8>(src, dst, len),
            4..=7 => two::<4>(src, dst, len),
            1..=3 => {
                *dst = *src;
                *dst.add(len / 2) = *src.add(len / 2);
                *dst.add(len - 1) = *src.add(len - 1);
            }
            0 => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::module::member::push_segment;
    use crate::module::walk::Key;

    #[test]
    fn segments_of_every_length_are_copied() {
        let source: String = ('a'..='z').chain('A'..='Z').chain("é中".chars()).collect();
        for start in 0..4 {
            for len in 0..=70.min(source.len() - start) {
                let Some(text) = source.get(start..start + len) else {
                    continue;
                };
                let mut buffer = String::from("x");
                push_segment(&mut buffer, text);
                assert_eq!(buffer, format!("x.{text}"));
                let mut joined = String::from("x");
                Key::new(text, "w").write(&mut joined);
                Key::new("p", text).write(&mut joined);
                let dot = if text.is_empty() { "" } else { "." };
                assert_eq!(joined, format!("x{text}{dot}wp{dot}{text}"));
            }
        }
    }
}
