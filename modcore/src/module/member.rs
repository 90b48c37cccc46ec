//! Member types: what a field of a derived module may hold, and how modcore reaches into it.
//!
//! [`Member`] classifies a field's type at compile time (parameter, buffer or module; one entry
//! or a collection of them). A field whose type is not a `Member` fails to compile with a
//! message saying to mark plain data `#[module(skip)]`. [`MemberAccess`] is how the code
//! `#[derive(Module)]` generates reads, visits and assigns a member for a tensor type `T`.
//!
//! | field type                        | PyTorch equivalent                           | names            |
//! |-----------------------------------|----------------------------------------------|------------------|
//! | `Parameter<T>`                    | `self.w = nn.Parameter(...)`                 | `w`              |
//! | `Buffer<T>`                       | `self.register_buffer("b", ...)`             | `b`              |
//! | a derived module, `Box<dyn Module<T>>` | `self.fc = nn.Linear(...)`              | `fc.*`           |
//! | `Option<M>`                       | the same, allowed to be `None`               | as `M`           |
//! | `Vec<M>`, `[M; N]`                | `nn.ModuleList` / `nn.ParameterList`         | `layers.0.*`, …  |
//! | `IndexMap<String, M>`, `BTreeMap<String, M>` | `nn.ModuleDict` / `nn.ParameterDict` | `heads.key.*` |
//! | `Box<M>`                          | as `M`                                       | as `M`           |
//!
//! A collection field *is* the container it stands for, wherever a user can look: it has an entry
//! of its own in `named_modules` (`('layers', ModuleList)`), its own training flag, hooks and
//! state-dict metadata, and paths walk through it; its entries belong to it, so they come after
//! the owner's own parameters and buffers, in module order, as in PyTorch. See
//! [`collection`](crate::module::collection) for how a plain `Vec` gets a `ModuleCore`.
//!
//! An `Option<M>` module field holding `None` is what torchvision's `self.downsample = None` is:
//! a plain attribute, not a registered `None` submodule, so it is not printed or listed.
//! `#[module(register_none)]` on the field gives `register_module(name, None)`'s behaviour
//! instead (a `(name): None` line in the printed tree).

use std::fmt;

use crate::module::collection::{Slot, SlotMut};
use crate::module::walk::Walk;
use crate::{Buffer, MemberKind, Module, Parameter, Tensor};

/// A type that may be a member of a derived module: parameters, buffers, modules, and
/// `Option`/`Vec`/array/`Box`/map wrappers of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module member",
    label = "not a parameter, buffer or module",
    note = "derive `Module` for it, or mark plain data `#[module(skip)]`",
    note = "members are `Parameter<_>`, `Buffer<_>`, derived modules, `Box<dyn Module<_>>`, and `Option`, `Vec`, arrays, `Box` and string-keyed maps of them"
)]
pub trait Member {
    /// Which registry the member belongs to: a collection is a container module. A module
    /// (what `#[derive(Module)]` declares) by default.
    const KIND: MemberKind = MemberKind::Module;
    /// Whether the member is a collection (a container of entries named by index or key).
    const COLLECTION: bool = false;
    /// The kind of the entries: `KIND` for a single member, the items' kind for a collection
    /// (`Parameter` for `Vec<Parameter<T>>`, which stands for a `ParameterList`).
    const ENTRY_KIND: MemberKind = Self::KIND;
    /// `(KIND, COLLECTION)`, what a row of the static table reads.
    #[doc(hidden)]
    const SHAPE: (MemberKind, bool) = (Self::KIND, Self::COLLECTION);
}

/// The tensor type a member holds, where its type says: what the `Debug` impl
/// `#[derive(Module)]` writes prints the tree with (`Parameter<X>` holds `X`; wrappers and
/// collections hold their items'; a derived module its pinned tensor type or its first member's).
#[doc(hidden)]
pub trait TensorOf {
    /// The tensor type.
    type Tensor: Tensor;
}

impl<T: Tensor> TensorOf for Parameter<T> {
    type Tensor = T;
}

impl<T: Tensor> TensorOf for Buffer<T> {
    type Tensor = T;
}

impl<T: Tensor> TensorOf for dyn Module<T> {
    type Tensor = T;
}

/// Implements `$trait` for every wrapper and collection of members (`Box`, `Option`, `Vec`,
/// arrays, string-keyed maps) whose items implement it, with `$body` as each impl's items.
macro_rules! through_wrappers {
    ($trait:ident { $($body:tt)* }) => {
        impl<M: $trait + ?Sized> $trait for Box<M> { $($body)* }
        impl<M: $trait> $trait for Option<M> { $($body)* }
        impl<M: $trait> $trait for Vec<M> { $($body)* }
        impl<M: $trait, const N: usize> $trait for [M; N] { $($body)* }
        impl<M: $trait> $trait for indexmap::IndexMap<String, M> { $($body)* }
        impl<M: $trait> $trait for std::collections::BTreeMap<String, M> { $($body)* }
    };
}

through_wrappers!(TensorOf {
    type Tensor = M::Tensor;
});

/// How generated code reads, visits and assigns a member holding tensors of type `T`.
///
/// `slot` is where the member sits in its owner: the owner's core, which keeps the container
/// module of a collection field, and the field's flags. Visiting calls `f` with the member (if
/// it is registered) and its dotted path in `path`; `f` may push onto `path` (to recurse) as
/// long as it restores it before returning.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module member for tensor type `{T}`",
    label = "not a parameter, buffer or module of `{T}`",
    note = "derive `Module` for it (with the same tensor type), or mark plain data `#[module(skip)]`"
)]
pub trait MemberAccess<T: Tensor>: Member {
    /// The member as an attribute (what `getattr` returns).
    fn attr<'a>(&'a self, slot: Slot<'a>) -> Attr<'a, T>;

    /// The member as a mutable attribute.
    fn attr_mut<'a>(&'a mut self, slot: SlotMut<'a>) -> AttrMut<'a, T>;

    /// Calls `f` with the member, unless it is an unregistered `None`.
    fn visit<'a>(
        &'a self,
        slot: Slot<'a>,
        path: &mut String,
        f: &mut dyn FnMut(&mut String, Attr<'a, T>),
    ) {
        let attr = self.attr(slot);
        if !matches!(attr, Attr::Plain) {
            f(path, attr)
        }
    }

    /// Calls `f` with the member, mutably, unless it is an unregistered `None`.
    fn visit_mut(
        &mut self,
        slot: SlotMut<'_>,
        path: &mut String,
        f: &mut dyn FnMut(&mut String, AttrMut<'_, T>),
    ) {
        let attr = self.attr_mut(slot);
        if !matches!(attr, AttrMut::Plain) {
            f(path, attr)
        }
    }

    /// Reports this member, called `name`, to a walk (see [`walk`](crate::module::walk)).
    /// A derived submodule overrides it to walk its own type's code directly.
    #[doc(hidden)]
    #[inline]
    fn walk_member<'a>(&'a self, slot: Slot<'a>, name: &str, walk: &mut Walk<'a, '_, T>) {
        walk.member(name, self.attr(slot), slot.place.persistent())
    }

    /// Builds the member from an assigned value, or returns the value's type name when the value
    /// does not fit.
    fn from_value(value: Value<T>) -> Result<Box<Self>, String>;

    /// Replaces the member with an assigned value; leaves it unchanged when the value does not
    /// fit, and returns the value's type name.
    fn assign(&mut self, value: Value<T>) -> Result<(), String>
    where
        Self: Sized,
    {
        *self = *Self::from_value(value)?;
        Ok(())
    }
}

/// What a name refers to on a module: PyTorch's `getattr(module, name)` for members.
pub enum Attr<'a, T: Tensor> {
    /// A parameter; `None` when registered as `None` (or an `Option` field holding `None`).
    Parameter(Option<&'a Parameter<T>>),
    /// A buffer; `None` when registered as `None`.
    Buffer(Option<&'a Buffer<T>>),
    /// A submodule (a collection field is one: the container it stands for); `None` when
    /// registered as `None`.
    Module(Option<&'a dyn Module<T>>),
    /// A plain field or a module attribute (`training`, `forward`, a `#[module(skip)]` field,
    /// an `Option` module field holding `None`): it exists, but it is not a registered member.
    Plain,
}

impl<T: Tensor> Clone for Attr<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Tensor> Copy for Attr<'_, T> {}

impl<'a, T: Tensor> Attr<'a, T> {
    /// The kind of registered member, or `None` for plain attributes.
    pub fn kind(&self) -> Option<MemberKind> {
        match self {
            Attr::Parameter(_) => Some(MemberKind::Parameter),
            Attr::Buffer(_) => Some(MemberKind::Buffer),
            Attr::Module(_) => Some(MemberKind::Module),
            Attr::Plain => None,
        }
    }

    /// The parameter, if this is a parameter that is not `None`.
    pub fn parameter(self) -> Option<&'a Parameter<T>> {
        match self {
            Attr::Parameter(p) => p,
            _ => None,
        }
    }

    /// The buffer, if this is a buffer that is not `None`.
    pub fn buffer(self) -> Option<&'a Buffer<T>> {
        match self {
            Attr::Buffer(b) => b,
            _ => None,
        }
    }

    /// The module, if this is a submodule that is not `None`.
    pub fn module(self) -> Option<&'a dyn Module<T>> {
        match self {
            Attr::Module(m) => m,
            _ => None,
        }
    }

    /// Whether this is a registered `None` entry.
    pub fn is_none(&self) -> bool {
        matches!(
            self,
            Attr::Parameter(None) | Attr::Buffer(None) | Attr::Module(None)
        )
    }

    /// The `None` entry of a kind.
    pub fn none(kind: MemberKind) -> Self {
        match kind {
            MemberKind::Parameter => Attr::Parameter(None),
            MemberKind::Buffer => Attr::Buffer(None),
            MemberKind::Module => Attr::Module(None),
        }
    }
}

impl<T: Tensor> fmt::Debug for Attr<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attr::Parameter(p) => f.debug_tuple("Parameter").field(p).finish(),
            Attr::Buffer(b) => f.debug_tuple("Buffer").field(b).finish(),
            Attr::Module(m) => f
                .debug_tuple("Module")
                .field(&m.map(|m| m.type_name()))
                .finish(),
            Attr::Plain => f.write_str("Plain"),
        }
    }
}

/// A mutable view of what a name refers to on a module.
pub enum AttrMut<'a, T: Tensor> {
    /// A parameter.
    Parameter(Option<&'a mut Parameter<T>>),
    /// A buffer.
    Buffer(Option<&'a mut Buffer<T>>),
    /// A submodule (or collection field).
    Module(Option<&'a mut dyn Module<T>>),
    /// A plain field or module attribute.
    Plain,
}

impl<'a, T: Tensor> AttrMut<'a, T> {
    /// The module, if this is a submodule that is not `None`.
    pub fn module(self) -> Option<&'a mut dyn Module<T>> {
        match self {
            AttrMut::Module(m) => m,
            _ => None,
        }
    }

    /// The `None` entry of a kind.
    pub fn none(kind: MemberKind) -> Self {
        match kind {
            MemberKind::Parameter => AttrMut::Parameter(None),
            MemberKind::Buffer => AttrMut::Buffer(None),
            MemberKind::Module => AttrMut::Module(None),
        }
    }
}

/// A value assigned with `Module::set_attr`: what PyTorch's `__setattr__` routes by type.
pub enum Value<T: Tensor> {
    /// An `nn.Parameter`.
    Parameter(Parameter<T>),
    /// An `nn.Buffer(tensor, persistent=…)`.
    Buffer {
        /// The buffer.
        buffer: Buffer<T>,
        /// Whether it is saved in the state dict.
        persistent: bool,
    },
    /// A plain tensor: re-registers an existing buffer (keeping its persistence); PyTorch would
    /// store it as an unregistered attribute anywhere else, which modcore refuses.
    Tensor(T),
    /// A module.
    Module(Box<dyn Module<T>>),
    /// `None`.
    None,
}

impl<T: Tensor> Value<T> {
    /// A parameter value.
    pub fn parameter(tensor: T) -> Self {
        Value::Parameter(Parameter::new(tensor))
    }

    /// A persistent buffer value (`nn.Buffer(tensor)`).
    pub fn buffer(tensor: T) -> Self {
        Value::Buffer {
            buffer: Buffer::new(tensor),
            persistent: true,
        }
    }

    /// A non-persistent buffer value (`nn.Buffer(tensor, persistent=False)`).
    pub fn non_persistent_buffer(tensor: T) -> Self {
        Value::Buffer {
            buffer: Buffer::new(tensor),
            persistent: false,
        }
    }

    /// A module value.
    pub fn module(module: impl Module<T>) -> Self {
        Value::Module(Box::new(module))
    }

    /// The value's class name, as error messages show it: `Parameter`, `Buffer`, `Tensor`, the
    /// module's type name (`Linear`), `NoneType` (PyTorch's `type(value).__name__`).
    ///
    /// ```
    /// # #[cfg(feature = "ndarray")] {
    /// use modcore::Value;
    /// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
    /// assert_eq!(Value::<T>::parameter(T::zeros(ndarray::IxDyn(&[1]))).type_name(), "Parameter");
    /// assert_eq!(Value::<T>::None.type_name(), "NoneType");
    /// # }
    /// ```
    pub fn type_name(&self) -> String {
        match self {
            Value::Parameter(_) => "Parameter",
            Value::Buffer { .. } => "Buffer",
            Value::Tensor(_) => "Tensor",
            Value::Module(m) => m.type_name(),
            Value::None => "NoneType",
        }
        .to_owned()
    }
}

impl<T: Tensor> From<Parameter<T>> for Value<T> {
    fn from(parameter: Parameter<T>) -> Self {
        Value::Parameter(parameter)
    }
}

impl<T: Tensor> From<Buffer<T>> for Value<T> {
    /// A persistent buffer.
    fn from(buffer: Buffer<T>) -> Self {
        Value::Buffer {
            buffer,
            persistent: true,
        }
    }
}

impl<T: Tensor> From<Box<dyn Module<T>>> for Value<T> {
    fn from(module: Box<dyn Module<T>>) -> Self {
        Value::Module(module)
    }
}

#[doc(hidden)]
/// Appends `.segment` (or `segment` at the root) to `path`; returns the length to truncate back to.
#[inline]
pub fn push_segment(path: &mut String, segment: &str) -> usize {
    let len = path.len();
    crate::module::named::append_joined(path, "", len != 0, segment);
    len
}

#[doc(hidden)]
/// Appends `.index` to `path`; returns the length to truncate back to.
pub fn push_index(path: &mut String, index: usize) -> usize {
    use fmt::Write;
    let len = path.len();
    if len != 0 {
        path.push('.');
    }
    // Writing to a String cannot fail.
    let _ = write!(path, "{index}");
    len
}

// ---- leaves -------------------------------------------------------------------------------

/// Implements `Member` and `MemberAccess` for a leaf handle type that is one entry of `$kind`.
macro_rules! leaf_member {
    ($ty:ident, $kind:ident, |$this:ident, $slot:ident, $name:ident, $walk:ident| $walk_member:expr, |$value:ident| $from_value:expr) => {
        impl<T> Member for $ty<T> {
            const KIND: MemberKind = MemberKind::$kind;
        }

        impl<T: Tensor> MemberAccess<T> for $ty<T> {
            fn attr<'a>(&'a self, _: Slot<'a>) -> Attr<'a, T> {
                Attr::$kind(Some(self))
            }
            fn attr_mut<'a>(&'a mut self, _: SlotMut<'a>) -> AttrMut<'a, T> {
                AttrMut::$kind(Some(self))
            }
            #[inline(always)]
            fn walk_member<'a>(
                &'a self,
                $slot: Slot<'a>,
                $name: &str,
                $walk: &mut Walk<'a, '_, T>,
            ) {
                let $this = self;
                $walk_member
            }
            fn from_value($value: Value<T>) -> Result<Box<Self>, String> {
                $from_value.map(Box::new)
            }
        }
    };
}

leaf_member!(
    Parameter,
    Parameter,
    |p, _slot, name, walk| walk.parameter(name, p),
    |value| match value {
        Value::Parameter(p) => Ok(p),
        other => Err(other.type_name()),
    }
);

leaf_member!(
    Buffer,
    Buffer,
    |b, slot, name, walk| walk.buffer(name, b, slot.place.persistent()),
    |value| match value {
        Value::Buffer { buffer, .. } => Ok(buffer),
        Value::Tensor(t) => Ok(Buffer::new(t)),
        other => Err(other.type_name()),
    }
);

impl<T: Tensor> Member for dyn Module<T> {
    const KIND: MemberKind = MemberKind::Module;
}

impl<T: Tensor> MemberAccess<T> for dyn Module<T> {
    fn attr<'a>(&'a self, _: Slot<'a>) -> Attr<'a, T> {
        Attr::Module(Some(self))
    }
    fn attr_mut<'a>(&'a mut self, _: SlotMut<'a>) -> AttrMut<'a, T> {
        AttrMut::Module(Some(self))
    }
    fn from_value(value: Value<T>) -> Result<Box<Self>, String> {
        match value {
            Value::Module(m) => Ok(m),
            other => Err(other.type_name()),
        }
    }
}

/// What `#[buffer(...)]` may be put on: a buffer, or a wrapper or collection of buffers.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`#[buffer(...)]` is on a field of type `{Self}`, which holds no buffers",
    label = "not a `Buffer<_>`",
    note = "`#[buffer(persistent = false)]` belongs on a `Buffer<T>` field (or an `Option`, `Vec`, array or map of them)"
)]
pub trait BufferField {}

/// What `#[module(register_none)]` may be put on: an `Option` of a submodule.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`#[module(register_none)]` is on a field of type `{Self}`, which is not an `Option` of a submodule",
    label = "not `Option<M>` with `M` a module",
    note = "a parameter or buffer holding `None` is always a registered `None`"
)]
pub trait OptionalSubmodule {}

/// A single submodule type: a derived module, `dyn Module<T>`, or a `Box` of one.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a submodule, so `#[module(register_none)]` does not apply",
    label = "not a module",
    note = "`#[module(register_none)]` belongs on an `Option<M>` field with `M` a module; a parameter or buffer holding `None` is always a registered `None`"
)]
pub trait Submodule {}

impl<T> BufferField for Buffer<T> {}
through_wrappers!(BufferField {});

impl<M: Submodule> OptionalSubmodule for Option<M> {}
impl<T: Tensor> Submodule for dyn Module<T> {}
impl<M: Submodule + ?Sized> Submodule for Box<M> {}

/// `from_value` for a derived module type `M`: accepts a module value of exactly that type.
#[doc(hidden)]
pub fn module_from_value<T: Tensor, M: Module<T>>(value: Value<T>) -> Result<Box<M>, String> {
    match value {
        Value::Module(m) => {
            let found = m.type_name();
            m.into_any().downcast::<M>().map_err(|_| found.to_owned())
        }
        other => Err(other.type_name()),
    }
}

// ---- wrappers -----------------------------------------------------------------------------

impl<M: Member> Member for Option<M> {
    const KIND: MemberKind = M::KIND;
    const COLLECTION: bool = M::COLLECTION;
    const ENTRY_KIND: MemberKind = M::ENTRY_KIND;
}

impl<T: Tensor, M: MemberAccess<T> + Member> MemberAccess<T> for Option<M> {
    /// `None` is a registered `None` entry (`register_parameter(name, None)`), except for a
    /// module field not marked `#[module(register_none)]` and for collections, where it is a
    /// plain attribute (`self.downsample = None`).
    fn attr<'a>(&'a self, slot: Slot<'a>) -> Attr<'a, T> {
        match self {
            Some(m) => m.attr(slot),
            None if M::KIND != MemberKind::Module
                || (slot.place.register_none && !M::COLLECTION) =>
            {
                Attr::none(M::KIND)
            }
            None => Attr::Plain,
        }
    }
    fn attr_mut<'a>(&'a mut self, slot: SlotMut<'a>) -> AttrMut<'a, T> {
        match self {
            Some(m) => m.attr_mut(slot),
            None if M::KIND != MemberKind::Module
                || (slot.place.register_none && !M::COLLECTION) =>
            {
                AttrMut::none(M::KIND)
            }
            None => AttrMut::Plain,
        }
    }
    /// `None` is skipped by every walk, whatever it stands for. Always inlined: a forwarder
    /// left out of line costs a call per optional member (a `Linear`'s bias).
    #[inline(always)]
    fn walk_member<'a>(&'a self, slot: Slot<'a>, name: &str, walk: &mut Walk<'a, '_, T>) {
        if let Some(m) = self {
            m.walk_member(slot, name, walk)
        }
    }
    fn from_value(value: Value<T>) -> Result<Box<Self>, String> {
        match value {
            Value::None => Ok(Box::new(None)),
            value => M::from_value(value).map(|m| Box::new(Some(*m))),
        }
    }
}

impl<M: Member + ?Sized> Member for Box<M> {
    const KIND: MemberKind = M::KIND;
    const COLLECTION: bool = M::COLLECTION;
    const ENTRY_KIND: MemberKind = M::ENTRY_KIND;
}

impl<T: Tensor, M: MemberAccess<T> + ?Sized> MemberAccess<T> for Box<M> {
    fn attr<'a>(&'a self, slot: Slot<'a>) -> Attr<'a, T> {
        (**self).attr(slot)
    }
    fn attr_mut<'a>(&'a mut self, slot: SlotMut<'a>) -> AttrMut<'a, T> {
        (**self).attr_mut(slot)
    }
    #[inline]
    fn walk_member<'a>(&'a self, slot: Slot<'a>, name: &str, walk: &mut Walk<'a, '_, T>) {
        (**self).walk_member(slot, name, walk)
    }
    fn from_value(value: Value<T>) -> Result<Box<Self>, String> {
        M::from_value(value).map(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_with_dots() {
        let mut path = String::new();
        let root = push_segment(&mut path, "layers");
        let item = push_index(&mut path, 3);
        assert_eq!(path, "layers.3");
        path.truncate(item);
        assert_eq!(path, "layers");
        path.truncate(root);
        assert_eq!(path, "");
    }
}
