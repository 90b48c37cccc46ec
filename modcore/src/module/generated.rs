//! What the code `#[derive(Module)]` writes calls besides the `Module` trait
//! (`modcore::derive_support`): the table's rows, the
//! member accessors' arms and the `Debug` impl's body.

use crate::module::collection::{Place, Slot, SlotMut};
use crate::module::member::{Attr, AttrMut, MemberAccess, TensorOf, Value};
use crate::module::walk::Walk;
use crate::{MemberInfo, MemberKind, Module, ModuleCore, Tensor};

/// A module that can print itself: one with a tensor type ([`TensorOf`]) it is a module of.
pub trait Printable: TensorOf + Module<<Self as TensorOf>::Tensor> {}

impl<M: TensorOf + Module<M::Tensor>> Printable for M {}

/// `Debug::fmt` of a derived module: its printed tree.
pub fn debug<M: Printable>(module: &M, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str(&module.repr())
}

/// A row of the static table; `kind` and `collection` come from the field type's
/// [`Member::SHAPE`](crate::Member::SHAPE), read in the expansion at the field's span (a type
/// that is no member is reported there, with no note naming this function).
pub const fn row(
    name: &'static str,
    field: &'static str,
    (kind, collection): (MemberKind, bool),
    persistent: bool,
    ty: &'static str,
    doc: &'static str,
) -> MemberInfo {
    MemberInfo {
        name,
        field,
        kind,
        collection,
        persistent,
        ty,
        doc,
    }
}

/// An arm of `Module::member_attr`: the member at `place` of the module whose core is `core`.
#[inline]
pub fn at<'a, T: Tensor, M: MemberAccess<T>>(
    member: &'a M,
    core: &'a ModuleCore,
    place: Place,
) -> Option<Attr<'a, T>> {
    Some(member.attr(Slot::new(core, place)))
}

/// An arm of `Module::member_attr_mut`.
#[inline]
pub fn at_mut<'a, T: Tensor, M: MemberAccess<T>>(
    member: &'a mut M,
    core: &'a mut ModuleCore,
    place: Place,
) -> Option<AttrMut<'a, T>> {
    Some(member.attr_mut(SlotMut::new(core, place)))
}

/// An arm of `Module::assign_member`.
#[inline]
pub fn assign<T: Tensor, M: MemberAccess<T>>(
    member: &mut M,
    value: Value<T>,
) -> Option<Result<(), String>> {
    Some(member.assign(value))
}

/// A statement of `Module::walk_declared`: `module`'s member `field`, row `index` of its table,
/// if it is of the walked `kind` (a constant per field, so each call folds to the member's own
/// code, and its name and persistence to constants of the table).
#[inline(always)]
pub fn walk_field<'a, T: Tensor, M: Module<T>, F: MemberAccess<T>>(
    module: &'a M,
    field: &'a F,
    index: usize,
    kind: MemberKind,
    walk: &mut Walk<'a, '_, T>,
) {
    if F::KIND == kind {
        let info = &module.members()[index];
        let place = Place::new(index, info.persistent, module.registers_none(index));
        field.walk_member(Slot::new(module.core(), place), info.name, walk)
    }
}

/// What `Module::assign_member` returns (a short name keeps the derive's output short).
pub type Assigned = Option<Result<(), String>>;

/// What `MemberAccess::from_value` returns.
pub type FromValue<S> = Result<Box<S>, String>;

/// Which kinds of members a derived type declares, from its table: a constant the derive
/// passes to [`walk_child`], so a walk can tell statically that a leaf has nothing it wants.
#[derive(Clone, Copy)]
pub struct Declares {
    pub(crate) parameters: bool,
    pub(crate) buffers: bool,
    /// Submodules or collections (which are container modules).
    pub(crate) modules: bool,
}

/// The kinds `members` (a type's table) declares, evaluated at compile time.
pub const fn declares(members: &[MemberInfo]) -> Declares {
    let mut declares = Declares {
        parameters: false,
        buffers: false,
        modules: false,
    };
    let mut i = 0;
    while i < members.len() {
        match members[i].kind {
            MemberKind::Parameter => declares.parameters = true,
            MemberKind::Buffer => declares.buffers = true,
            MemberKind::Module => declares.modules = true,
        }
        i += 1;
    }
    declares
}

/// `MemberAccess::walk_member` of a derived module: the child walked by its own type's code,
/// `declares` being its type's [`declares`].
#[inline]
pub fn walk_child<'a, T: Tensor, M: Module<T>>(
    module: &'a M,
    declares: Declares,
    name: &str,
    walk: &mut Walk<'a, '_, T>,
) {
    walk.child_declaring(name, module, declares)
}
