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
//! Collections are flattened: their entries are named like a `ModuleList`'s, so state-dict keys
//! match PyTorch's, but the collection itself is not a module (it has no hooks and no entry of
//! its own in `named_modules`). Use the containers (`Sequential`, `ModuleList`, …) where the list
//! itself must be a module.

use std::collections::BTreeMap;
use std::fmt;

use indexmap::IndexMap;

use crate::{Buffer, MemberKind, Module, Parameter, Tensor};

/// A type that may be a member of a derived module: parameters, buffers, modules, and
/// `Option`/`Vec`/array/`Box`/map wrappers of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module member",
    label = "not a parameter, buffer or module",
    note = "mark plain data `#[module(skip)]`",
    note = "members are `Parameter<_>`, `Buffer<_>`, derived modules, `Box<dyn Module<_>>`, and `Option`, `Vec`, arrays, `Box` and string-keyed maps of them"
)]
pub trait Member {
    /// Which registry the member's entries belong to.
    const KIND: MemberKind;
    /// Whether the member holds several entries, named by index or key.
    const COLLECTION: bool = false;
}

/// How generated code reads, visits and assigns a member holding tensors of type `T`.
///
/// Visiting calls `f` once per entry with the entry's full dotted path in `path`; `f` may push
/// onto `path` (to recurse) as long as it restores it before returning.
pub trait MemberAccess<T: Tensor> {
    /// The member as an attribute (what `getattr` returns).
    fn attr(&self) -> Attr<'_, T>;

    /// The member as a mutable attribute.
    fn attr_mut(&mut self) -> AttrMut<'_, T>;

    /// Calls `f` for each entry of the member (one, or one per collection item).
    fn visit<'a>(&'a self, path: &mut String, f: &mut dyn FnMut(&mut String, Attr<'a, T>));

    /// Calls `f` for each entry of the member, mutably.
    fn visit_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&mut String, AttrMut<'_, T>));

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
    /// A submodule; `None` when registered as `None`.
    Module(Option<&'a dyn Module<T>>),
    /// A collection field (`Vec`, array, map) whose items are named by index or key.
    Collection(&'a dyn Collection<T>),
    /// A plain field or a module attribute (`training`, `forward`, a `#[module(skip)]` field):
    /// it exists, but it is not a registered member.
    Plain,
}

impl<T: Tensor> Clone for Attr<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Tensor> Copy for Attr<'_, T> {}

impl<'a, T: Tensor> Attr<'a, T> {
    /// The kind of registered member, or `None` for collections and plain attributes.
    pub fn kind(&self) -> Option<MemberKind> {
        match self {
            Attr::Parameter(_) => Some(MemberKind::Parameter),
            Attr::Buffer(_) => Some(MemberKind::Buffer),
            Attr::Module(_) => Some(MemberKind::Module),
            Attr::Collection(_) | Attr::Plain => None,
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
            Attr::Collection(c) => f.debug_tuple("Collection").field(&c.keys()).finish(),
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
    /// A submodule.
    Module(Option<&'a mut dyn Module<T>>),
    /// A collection field.
    Collection(&'a mut dyn Collection<T>),
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

/// A collection member (`Vec`, array, map) seen through its items.
pub trait Collection<T: Tensor>: Send + Sync {
    /// The item under `key` (a decimal index for sequences, the key for maps).
    fn item(&self, key: &str) -> Option<Attr<'_, T>>;
    /// The item under `key`, mutably.
    fn item_mut(&mut self, key: &str) -> Option<AttrMut<'_, T>>;
    /// The keys in order.
    fn keys(&self) -> Vec<String>;
    /// The PyTorch container this collection stands for (`ModuleList`, `ParameterDict`, …),
    /// used as the owner in path errors.
    fn type_name(&self) -> &'static str;
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

    /// The value's type name, as error messages show it (PyTorch's `typename`).
    pub fn type_name(&self) -> String {
        match self {
            Value::Parameter(_) => std::any::type_name::<Parameter<T>>().to_owned(),
            Value::Buffer { buffer, .. } => buffer.read(|t| t.type_name()).to_owned(),
            Value::Tensor(t) => t.type_name().to_owned(),
            Value::Module(m) => m.qualified_type_name().to_owned(),
            Value::None => "NoneType".to_owned(),
        }
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
    if len != 0 {
        path.push('.');
    }
    path.push_str(segment);
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
    ($ty:ident, $kind:ident, |$value:ident| $from_value:expr) => {
        impl<T> Member for $ty<T> {
            const KIND: MemberKind = MemberKind::$kind;
        }

        impl<T: Tensor> MemberAccess<T> for $ty<T> {
            fn attr(&self) -> Attr<'_, T> {
                Attr::$kind(Some(self))
            }
            fn attr_mut(&mut self) -> AttrMut<'_, T> {
                AttrMut::$kind(Some(self))
            }
            fn visit<'a>(&'a self, path: &mut String, f: &mut dyn FnMut(&mut String, Attr<'a, T>)) {
                f(path, Attr::$kind(Some(self)))
            }
            fn visit_mut(
                &mut self,
                path: &mut String,
                f: &mut dyn FnMut(&mut String, AttrMut<'_, T>),
            ) {
                f(path, AttrMut::$kind(Some(self)))
            }
            fn from_value($value: Value<T>) -> Result<Box<Self>, String> {
                $from_value.map(Box::new)
            }
        }
    };
}

leaf_member!(Parameter, Parameter, |value| match value {
    Value::Parameter(p) => Ok(p),
    other => Err(other.type_name()),
});

leaf_member!(Buffer, Buffer, |value| match value {
    Value::Buffer { buffer, .. } => Ok(buffer),
    Value::Tensor(t) => Ok(Buffer::new(t)),
    other => Err(other.type_name()),
});

impl<T: Tensor> Member for dyn Module<T> {
    const KIND: MemberKind = MemberKind::Module;
}

impl<T: Tensor> MemberAccess<T> for dyn Module<T> {
    fn attr(&self) -> Attr<'_, T> {
        Attr::Module(Some(self))
    }
    fn attr_mut(&mut self) -> AttrMut<'_, T> {
        AttrMut::Module(Some(self))
    }
    fn visit<'a>(&'a self, path: &mut String, f: &mut dyn FnMut(&mut String, Attr<'a, T>)) {
        f(path, Attr::Module(Some(self)))
    }
    fn visit_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&mut String, AttrMut<'_, T>)) {
        f(path, AttrMut::Module(Some(self)))
    }
    fn from_value(value: Value<T>) -> Result<Box<Self>, String> {
        match value {
            Value::Module(m) => Ok(m),
            other => Err(other.type_name()),
        }
    }
}

/// A row of the static table. A generic function, so that a field whose type is not a
/// [`Member`] gets exactly one error, under the field's type.
#[doc(hidden)]
pub const fn member_info<M: Member + ?Sized>(
    name: &'static str,
    field: &'static str,
    persistent: bool,
    ty: &'static str,
    doc: &'static str,
) -> crate::MemberInfo {
    crate::MemberInfo {
        name,
        field,
        kind: M::KIND,
        collection: M::COLLECTION,
        persistent,
        ty,
        doc,
    }
}

/// `from_value` for a derived module type `M`: accepts a module value of exactly that type.
#[doc(hidden)]
pub fn module_from_value<T: Tensor, M: Module<T>>(value: Value<T>) -> Result<Box<M>, String> {
    match value {
        Value::Module(m) => {
            let found = m.qualified_type_name();
            m.into_any().downcast::<M>().map_err(|_| found.to_owned())
        }
        other => Err(other.type_name()),
    }
}

// ---- wrappers -----------------------------------------------------------------------------

impl<M: Member> Member for Option<M> {
    const KIND: MemberKind = M::KIND;
    const COLLECTION: bool = M::COLLECTION;
}

impl<T: Tensor, M: MemberAccess<T> + Member> MemberAccess<T> for Option<M> {
    fn attr(&self) -> Attr<'_, T> {
        match self {
            Some(m) => m.attr(),
            None => Attr::none(M::KIND),
        }
    }
    fn attr_mut(&mut self) -> AttrMut<'_, T> {
        match self {
            Some(m) => m.attr_mut(),
            None => AttrMut::none(M::KIND),
        }
    }
    fn visit<'a>(&'a self, path: &mut String, f: &mut dyn FnMut(&mut String, Attr<'a, T>)) {
        match self {
            Some(m) => m.visit(path, f),
            None if !M::COLLECTION => f(path, Attr::none(M::KIND)),
            None => {}
        }
    }
    fn visit_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&mut String, AttrMut<'_, T>)) {
        match self {
            Some(m) => m.visit_mut(path, f),
            None if !M::COLLECTION => f(path, AttrMut::none(M::KIND)),
            None => {}
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
}

impl<T: Tensor, M: MemberAccess<T> + ?Sized> MemberAccess<T> for Box<M> {
    fn attr(&self) -> Attr<'_, T> {
        (**self).attr()
    }
    fn attr_mut(&mut self) -> AttrMut<'_, T> {
        (**self).attr_mut()
    }
    fn visit<'a>(&'a self, path: &mut String, f: &mut dyn FnMut(&mut String, Attr<'a, T>)) {
        (**self).visit(path, f)
    }
    fn visit_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&mut String, AttrMut<'_, T>)) {
        (**self).visit_mut(path, f)
    }
    fn from_value(value: Value<T>) -> Result<Box<Self>, String> {
        M::from_value(value).map(Box::new)
    }
}

// ---- collections --------------------------------------------------------------------------

/// The PyTorch container a collection of `kind` stands for.
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

/// A collection's key, as it is appended to a path: an index or a map key.
trait PathKey {
    /// Appends `.key` to `path`; returns the length to truncate back to.
    fn push_onto(self, path: &mut String) -> usize;
}

impl PathKey for usize {
    fn push_onto(self, path: &mut String) -> usize {
        push_index(path, self)
    }
}

impl PathKey for &String {
    fn push_onto(self, path: &mut String) -> usize {
        push_segment(path, self)
    }
}

/// Implements `Member`, `MemberAccess` and `Collection` for a collection type: a sequence (keys
/// are indices, `entries` enumerates) or a string-keyed map (`keyed`). `entries` turns
/// `iter()`/`iter_mut()` into `(key, item)` pairs; `index` turns a key string into what `get`
/// takes; `keys` lists the keys of `$this`.
macro_rules! collection_member {
    (
        [$($gen:tt)*] $ty:ty,
        keyed: $keyed:literal,
        entries: [$($entries:tt)*],
        index: |$key:ident| $index:expr,
        keys: |$this:ident| $keys:expr $(,)?
    ) => {
        impl<$($gen)*> Member for $ty {
            const KIND: MemberKind = M::KIND;
            const COLLECTION: bool = true;
        }

        impl<T: Tensor, $($gen)*> MemberAccess<T> for $ty
        where
            M: MemberAccess<T> + Member + Send + Sync,
        {
            fn attr(&self) -> Attr<'_, T> {
                Attr::Collection(self)
            }
            fn attr_mut(&mut self) -> AttrMut<'_, T> {
                AttrMut::Collection(self)
            }
            fn visit<'a>(&'a self, path: &mut String, f: &mut dyn FnMut(&mut String, Attr<'a, T>)) {
                for (key, item) in self.iter() $($entries)* {
                    let len = key.push_onto(path);
                    item.visit(path, f);
                    path.truncate(len);
                }
            }
            fn visit_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&mut String, AttrMut<'_, T>)) {
                for (key, item) in self.iter_mut() $($entries)* {
                    let len = key.push_onto(path);
                    item.visit_mut(path, f);
                    path.truncate(len);
                }
            }
            fn from_value(value: Value<T>) -> Result<Box<Self>, String> {
                // A collection is assigned as a whole only through its field; `set_attr` cannot
                // build one.
                Err(value.type_name())
            }
        }

        impl<T: Tensor, $($gen)*> Collection<T> for $ty
        where
            M: MemberAccess<T> + Member + Send + Sync,
        {
            fn item(&self, $key: &str) -> Option<Attr<'_, T>> {
                self.get($index).map(MemberAccess::attr)
            }
            fn item_mut(&mut self, $key: &str) -> Option<AttrMut<'_, T>> {
                self.get_mut($index).map(MemberAccess::attr_mut)
            }
            fn keys(&self) -> Vec<String> {
                let $this = self;
                $keys
            }
            fn type_name(&self) -> &'static str {
                container_name(M::KIND, $keyed)
            }
        }
    };
}

collection_member!([M: Member] Vec<M>,
    keyed: false,
    entries: [.enumerate()],
    index: |key| parse_index(key)?,
    keys: |this| (0..this.len()).map(|i| i.to_string()).collect(),
);
collection_member!([M: Member, const N: usize] [M; N],
    keyed: false,
    entries: [.enumerate()],
    index: |key| parse_index(key)?,
    keys: |this| (0..this.len()).map(|i| i.to_string()).collect(),
);
collection_member!([M: Member] IndexMap<String, M>,
    keyed: true,
    entries: [],
    index: |key| key,
    keys: |this| this.keys().cloned().collect(),
);
collection_member!([M: Member] BTreeMap<String, M>,
    keyed: true,
    entries: [],
    index: |key| key,
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
