//! Collection fields as the containers they stand for: a `Vec<M>`, `[M; N]`,
//! `IndexMap<String, M>` or `BTreeMap<String, M>` field is a `ModuleList`, `ModuleDict`,
//! `ParameterList` or `ParameterDict` module wherever a user can look.
//!
//! PyTorch's containers are modules with their own `training` flag, hooks and state-dict
//! metadata, and their entries are theirs: `named_parameters` lists an owner's own parameters,
//! then `ps.0` (the `ParameterList`'s), in module order. A plain `Vec` has no room for that
//! state, so the owner keeps it: the first time a collection field is reached, the owner's core
//! allocates a [`CollectionModule`] for it (a `ModuleCore` and a pointer to the field), and
//! keeps it for the owner's lifetime. Every access to the field goes through [`Slot::view`] or
//! [`SlotMut::view_mut`], which point the view at the field's current address before handing it
//! out for as long as the field is borrowed, so the view is never read through a stale pointer
//! (a moved owner is re-pointed on its next access). The view type is private: no one else can
//! make one or move one.
//!
//! What a collection field gains is exactly what its container has in PyTorch: an entry in
//! `named_modules`, lookup and `set_submodule` through it, its own metadata key, load-error
//! order, repr, and hooks (it has no `forward`, like PyTorch's containers). A collection of
//! buffers, which PyTorch lacks, is a `BufferList`/`BufferDict` by the same rules.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::atomic::{AtomicPtr, Ordering};

use indexmap::IndexMap;

use crate::module::member::{push_index, push_segment, Attr, AttrMut, MemberAccess, Value};
use crate::module::repr::tensor_line;
use crate::{MemberInfo, MemberKind, Module, ModuleCore, Tensor};

/// Where a member sits in its owner: its index among the owner's members (or the item's
/// position in its container) and its flags. Made by the code `#[derive(Module)]` writes.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Place {
    index: usize,
    persistent: bool,
    pub(crate) register_none: bool,
}

impl Place {
    /// The `index`-th declared member, with its `#[buffer(persistent = …)]` and
    /// `#[module(register_none)]` flags.
    pub const fn new(index: usize, persistent: bool, register_none: bool) -> Self {
        Place {
            index,
            persistent,
            register_none,
        }
    }

    /// The member's index in its module's table.
    #[inline]
    pub fn index(self) -> usize {
        self.index
    }

    /// Whether a buffer here is saved in the state dict.
    #[inline]
    pub(crate) fn persistent(self) -> bool {
        self.persistent
    }
}

/// A member's [`Place`] and its owner's core, which keeps a collection field's container.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Slot<'a> {
    core: &'a ModuleCore,
    pub(crate) place: Place,
}

/// [`Slot`] for mutable access.
#[doc(hidden)]
pub struct SlotMut<'a> {
    core: &'a mut ModuleCore,
    pub(crate) place: Place,
}

impl<'a> Slot<'a> {
    /// The slot of the member at `place` of the module whose core is `core`.
    pub fn new(core: &'a ModuleCore, place: Place) -> Self {
        Slot { core, place }
    }

    /// The container module of the collection `items` in this slot, pointed at `items`.
    fn view<C: Send + Sync + 'static>(self, items: &'a C) -> &'a CollectionModule<C> {
        let Place {
            index, persistent, ..
        } = self.place;
        let view = self.core.view(index, || CollectionModule::new(persistent));
        view.items
            .store(items as *const C as *mut C, Ordering::Release);
        view
    }
}

impl<'a> SlotMut<'a> {
    /// The slot of the member at `place` of the module whose core is `core`.
    pub fn new(core: &'a mut ModuleCore, place: Place) -> Self {
        SlotMut { core, place }
    }

    /// The container module of the collection `items` in this slot, pointed at `items`.
    fn view_mut<C: Send + Sync + 'static>(self, items: &'a mut C) -> &'a mut CollectionModule<C> {
        let Place {
            index, persistent, ..
        } = self.place;
        let view = self
            .core
            .view_mut(index, || CollectionModule::new(persistent));
        *view.items.get_mut() = items;
        view
    }
}

/// The container module of one collection field: its own core, and the field it stands for.
pub(crate) struct CollectionModule<C> {
    core: ModuleCore,
    /// The field; set by `Slot::view`/`SlotMut::view_mut` before every use (see the module
    /// docs), with the access (shared or exclusive) the view is handed out with.
    items: AtomicPtr<C>,
    /// Whether buffer entries are saved (the field's `#[buffer(persistent = …)]`).
    persistent: bool,
    /// Sends and shares as the collection does.
    _items: PhantomData<C>,
}

impl<C> CollectionModule<C> {
    fn new(persistent: bool) -> Self {
        CollectionModule {
            core: ModuleCore::new(),
            items: AtomicPtr::new(std::ptr::null_mut()),
            persistent,
            _items: PhantomData,
        }
    }

    fn items(&self) -> &C {
        // SAFETY: a `&CollectionModule` exists only as returned by `Slot::view`, which stored a
        // pointer to the field borrowed for at least as long as that reference (or by
        // `SlotMut::view_mut`, from an exclusive borrow that outlives the view's). Concurrent
        // shared accesses store the same address: the owner cannot move while borrowed.
        unsafe { &*self.items.load(Ordering::Acquire) }
    }

    fn parts_mut(&mut self) -> (&mut C, &mut ModuleCore) {
        // SAFETY: a `&mut CollectionModule` exists only as returned by `SlotMut::view_mut`,
        // which stored a pointer from an exclusive borrow of the field that lasts at least as
        // long as this one; the core is a different object.
        let items = unsafe { &mut **self.items.get_mut() };
        (items, &mut self.core)
    }
}

/// A collection type (`Vec`, array, string-keyed map) seen as a container of its items.
#[doc(hidden)]
pub trait Collection<T: Tensor>: Send + Sync + 'static {
    /// The item type.
    type Item: MemberAccess<T> + crate::Member;
    /// Whether the keys are strings (a dict) rather than indices (a list).
    const KEYED: bool;
    /// The keys, in order.
    fn keys(&self) -> Vec<String>;
    /// Whether `key` names an item.
    fn contains(&self, key: &str) -> bool;
    /// The item under `key`, with its position (computed only if `position` is asked for).
    fn get(&self, key: &str, position: bool) -> Option<(usize, &Self::Item)>;
    /// The item under `key`, mutably.
    fn get_mut(&mut self, key: &str, position: bool) -> Option<(usize, &mut Self::Item)>;
    /// Calls `f(path, position, item)` for each item with its key appended to `path`.
    fn for_each<'a>(
        &'a self,
        path: &mut String,
        f: &mut dyn FnMut(&mut String, usize, &'a Self::Item),
    );
    /// Calls `f(path, position, item)` for each item, mutably.
    fn for_each_mut(
        &mut self,
        path: &mut String,
        f: &mut dyn FnMut(&mut String, usize, &mut Self::Item),
    );
}

/// The PyTorch container a collection of `kind` entries stands for.
fn container_name(kind: MemberKind, keyed: bool) -> &'static str {
    match (kind, keyed) {
        (MemberKind::Module, false) => "ModuleList",
        (MemberKind::Module, true) => "ModuleDict",
        (MemberKind::Parameter, false) => "ParameterList",
        (MemberKind::Parameter, true) => "ParameterDict",
        (MemberKind::Buffer, false) => "BufferList",
        (MemberKind::Buffer, true) => "BufferDict",
    }
}

/// The slot of an item: its container's core, its position, and the container's persistence.
/// A `None` item is a registered `None` (PyTorch's `ModuleList([None])`).
fn item_slot<C>(view: &CollectionModule<C>, position: usize) -> Slot<'_> {
    Slot::new(&view.core, Place::new(position, view.persistent, true))
}

/// The table row every item of a container shares (`PERSISTENT`: the container's persistence).
fn item_info<T: Tensor, C: Collection<T>, const PERSISTENT: bool>() -> &'static MemberInfo {
    use crate::Member;
    const {
        &MemberInfo {
            name: "",
            field: "",
            kind: <C::Item as Member>::KIND,
            collection: <C::Item as Member>::COLLECTION,
            persistent: PERSISTENT,
            ty: "",
            doc: "",
        }
    }
}

impl<T: Tensor, C: Collection<T>> Module<T> for CollectionModule<C> {
    fn core(&self) -> &ModuleCore {
        &self.core
    }
    fn core_mut(&mut self) -> &mut ModuleCore {
        &mut self.core
    }
    fn type_name(&self) -> &'static str {
        container_name(<C::Item as crate::Member>::KIND, C::KEYED)
    }
    fn qualified_type_name(&self) -> &'static str {
        self.type_name()
    }
    fn members(&self) -> &'static [MemberInfo] {
        &[]
    }
    /// A container has no declared members of its own: its items are reached by key below.
    fn member_attr(&self, _: Place) -> Option<Attr<'_, T>> {
        None
    }
    fn member_attr_mut(&mut self, _: Place) -> Option<AttrMut<'_, T>> {
        None
    }
    fn assign_member(&mut self, _: usize, _: Value<T>) -> Option<Result<(), String>> {
        None
    }
    fn declared_info(&self, name: &str) -> Option<&'static MemberInfo> {
        self.items().contains(name).then(|| {
            if self.persistent {
                item_info::<T, C, true>()
            } else {
                item_info::<T, C, false>()
            }
        })
    }
    fn declared_names(&self) -> Vec<String> {
        self.items().keys()
    }
    fn declared_attr(&self, name: &str) -> Option<Attr<'_, T>> {
        let nested = <C::Item as crate::Member>::COLLECTION;
        let (position, item) = self.items().get(name, nested)?;
        Some(item.attr(item_slot(self, position)))
    }
    fn declared_attr_mut(&mut self, name: &str) -> Option<AttrMut<'_, T>> {
        let nested = <C::Item as crate::Member>::COLLECTION;
        let persistent = self.persistent;
        let (items, core) = self.parts_mut();
        let (position, item) = items.get_mut(name, nested)?;
        Some(item.attr_mut(SlotMut::new(core, Place::new(position, persistent, true))))
    }
    fn assign_declared(&mut self, name: &str, value: Value<T>) -> Option<Result<(), String>> {
        let (items, _) = self.parts_mut();
        let (_, item) = items.get_mut(name, false)?;
        Some(item.assign(value))
    }
    fn visit_declared<'a>(
        &'a self,
        kind: MemberKind,
        path: &mut String,
        f: &mut dyn FnMut(&mut String, Attr<'a, T>),
    ) {
        if <C::Item as crate::Member>::KIND != kind {
            return;
        }
        self.items().for_each(path, &mut |path, position, item| {
            item.visit(item_slot(self, position), path, f)
        });
    }
    fn visit_declared_mut(
        &mut self,
        kind: MemberKind,
        path: &mut String,
        f: &mut dyn FnMut(&mut String, AttrMut<'_, T>),
    ) {
        if <C::Item as crate::Member>::KIND != kind {
            return;
        }
        let persistent = self.persistent;
        let (items, core) = self.parts_mut();
        items.for_each_mut(path, &mut |path, position, item| {
            let slot = SlotMut::new(&mut *core, Place::new(position, persistent, true));
            item.visit_mut(slot, path, f)
        });
    }
    fn non_persistent_buffers(&self) -> Vec<String> {
        let mut out = crate::module::traversal::non_persistent_buffers(self);
        if !self.persistent && <C::Item as crate::Member>::KIND == MemberKind::Buffer {
            out.splice(0..0, self.items().keys());
        }
        out
    }
    fn folds_repr(&self) -> bool {
        <C::Item as crate::Member>::KIND == MemberKind::Module && !C::KEYED
    }
    /// PyTorch's `ParameterList.extra_repr` and `ParameterDict.extra_repr`: one
    /// `  (key): Parameter containing: [dtype of size …]` line per entry, where the dict names
    /// the dtype by its legacy tensor type (`torch.FloatTensor`), as PyTorch's does.
    fn extra_repr(&self) -> String {
        if <C::Item as crate::Member>::KIND == MemberKind::Module {
            return String::new();
        }
        let mut lines = Vec::new();
        self.visit_declared(
            <C::Item as crate::Member>::KIND,
            &mut String::new(),
            &mut |key, entry| {
                let text = match entry {
                    Attr::Parameter(Some(p)) => p.read(|t| tensor_line("Parameter", t, C::KEYED)),
                    Attr::Buffer(Some(b)) => b.read(|t| tensor_line("Tensor", t, C::KEYED)),
                    _ => "None".to_owned(),
                };
                lines.push(format!("  ({key}): {text}"));
            },
        );
        lines.join("\n")
    }
}

/// The index a sequence key names: PyTorch's keys are `str(i)`, so `"01"` and `"-1"` name nothing.
fn parse_index(key: &str) -> Option<usize> {
    let canonical =
        key == "0" || (!key.starts_with('0') && key.bytes().all(|b| b.is_ascii_digit()));
    if canonical {
        key.parse().ok()
    } else {
        None
    }
}

/// Implements `Member`, `MemberAccess` and `Collection` for a collection type: a sequence
/// (`keyed: false`, keys are indices) or a string-keyed map (`keyed: true`). `get` and
/// `get_mut` look a key up as `(position, item)`, computing the position only when asked.
macro_rules! collection_member {
    (sequence [$($gen:tt)*] $ty:ty) => {
        collection_member!([$($gen)*] $ty,
            keyed: false,
            push: |path, position, _key| push_index(path, position),
            iter: |this| this.iter().map(|item| ((), item)),
            iter_mut: |this| this.iter_mut().map(|item| ((), item)),
            get: |this, key, _position| {
                let i = parse_index(key)?;
                this.as_slice().get(i).map(|item| (i, item))
            },
            get_mut: |this, key, _position| {
                let i = parse_index(key)?;
                this.as_mut_slice().get_mut(i).map(|item| (i, item))
            },
            keys: |this| (0..this.len()).map(|i| i.to_string()).collect(),
        );
    };
    (
        [$($gen:tt)*] $ty:ty,
        keyed: $keyed:literal,
        push: |$path:ident, $pos:ident, $key:ident| $push:expr,
        iter: |$this:ident| $iter:expr,
        iter_mut: |$this_mut:ident| $iter_mut:expr,
        get: |$g:ident, $gkey:ident, $want:ident| $get:expr,
        get_mut: |$gm:ident, $gmkey:ident, $want_mut:ident| $get_mut:expr,
        keys: |$k:ident| $keys:expr $(,)?
    ) => {
        impl<$($gen)*> crate::Member for $ty {
            const KIND: MemberKind = MemberKind::Module;
            const COLLECTION: bool = true;
            const ENTRY_KIND: MemberKind = M::KIND;
        }

        impl<T: Tensor, $($gen)*> MemberAccess<T> for $ty
        where
            M: MemberAccess<T> + crate::Member + Send + Sync + 'static,
        {
            fn attr<'a>(&'a self, slot: Slot<'a>) -> Attr<'a, T> {
                Attr::Module(Some(slot.view(self)))
            }
            fn attr_mut<'a>(&'a mut self, slot: SlotMut<'a>) -> AttrMut<'a, T> {
                AttrMut::Module(Some(slot.view_mut(self)))
            }
            fn from_value(value: Value<T>) -> Result<Box<Self>, String> {
                // A collection is assigned as a whole only through its field; `set_attr` cannot
                // build one.
                Err(value.type_name())
            }
        }

        impl<T: Tensor, $($gen)*> Collection<T> for $ty
        where
            M: MemberAccess<T> + crate::Member + Send + Sync + 'static,
        {
            type Item = M;
            const KEYED: bool = $keyed;
            fn keys(&self) -> Vec<String> {
                let $k = self;
                $keys
            }
            fn contains(&self, key: &str) -> bool {
                Collection::<T>::get(self, key, false).is_some()
            }
            fn get(&self, $gkey: &str, $want: bool) -> Option<(usize, &M)> {
                let $g = self;
                $get
            }
            fn get_mut(&mut self, $gmkey: &str, $want_mut: bool) -> Option<(usize, &mut M)> {
                let $gm = self;
                $get_mut
            }
            fn for_each<'a>(&'a self, path: &mut String, f: &mut dyn FnMut(&mut String, usize, &'a M)) {
                let $this = self;
                for ($pos, ($key, item)) in $iter.enumerate() {
                    let $path = &mut *path;
                    let len = $push;
                    f(path, $pos, item);
                    path.truncate(len);
                }
            }
            fn for_each_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&mut String, usize, &mut M)) {
                let $this_mut = self;
                for ($pos, ($key, item)) in $iter_mut.enumerate() {
                    let $path = &mut *path;
                    let len = $push;
                    f(path, $pos, item);
                    path.truncate(len);
                }
            }
        }
    };
}

collection_member!(sequence [M: crate::Member] Vec<M>);
collection_member!(sequence [M: crate::Member, const N: usize] [M; N]);
collection_member!([M: crate::Member] IndexMap<String, M>,
    keyed: true,
    push: |path, _position, key| push_segment(path, key),
    iter: |this| this.iter(),
    iter_mut: |this| this.iter_mut(),
    get: |this, key, _position| this.get_full(key).map(|(i, _, item)| (i, item)),
    get_mut: |this, key, _position| this.get_full_mut(key).map(|(i, _, item)| (i, item)),
    keys: |this| this.keys().cloned().collect(),
);
collection_member!([M: crate::Member] BTreeMap<String, M>,
    keyed: true,
    push: |path, _position, key| push_segment(path, key),
    iter: |this| this.iter(),
    iter_mut: |this| this.iter_mut(),
    // The position (a scan) is only needed for nested collections, whose containers it keys.
    get: |this, key, position| {
        let at = if position { this.range::<str, _>((Unbounded, Excluded(key))).count() } else { 0 };
        this.get(key).map(|item| (at, item))
    },
    get_mut: |this, key, position| {
        let at = if position { this.range::<str, _>((Unbounded, Excluded(key))).count() } else { 0 };
        this.get_mut(key).map(|item| (at, item))
    },
    keys: |this| this.keys().cloned().collect(),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_keys_are_canonical_decimal() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("12"), Some(12));
        assert_eq!(parse_index("01"), None);
        assert_eq!(parse_index("-1"), None);
        assert_eq!(parse_index(""), None);
        assert_eq!(parse_index("1a"), None);
    }
}
