//! What the code `#[derive(Module)]` writes calls, one helper per per-member operation, so the
//! expansion is one short line per member and operation (`modcore::derive_support`). Each is
//! generic and inlined: the derived module's dispatch stays static.

use crate::module::collection::{Place, Slot, SlotMut};
use crate::module::member::TensorOf;
use crate::module::member::{push_segment, Attr, AttrMut, MemberAccess, Value};
use crate::{MemberInfo, MemberKind, Module, ModuleCore, Tensor};

/// A module that can print itself: one with a tensor type ([`TensorOf`]) it is a module of.
pub trait Printable: TensorOf + Module<<Self as TensorOf>::Tensor> {}

impl<M: TensorOf + Module<M::Tensor>> Printable for M {}

/// `Debug::fmt` of a derived module: its printed tree.
pub fn debug<M: Printable>(module: &M, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str(&module.repr())
}

/// A row of the static table; `kind` and `collection` come from the field type's
/// [`Member::SHAPE`](crate::Member::SHAPE), read in the expansion at the field's span.
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

/// `declared_attr` for one member.
#[inline]
pub fn attr<'a, T: Tensor, M: MemberAccess<T> + ?Sized>(
    member: &'a M,
    core: &'a ModuleCore,
    place: Place,
) -> Option<Attr<'a, T>> {
    Some(member.attr(Slot::new(core, place)))
}

/// `declared_attr_mut` for one member.
#[inline]
pub fn attr_mut<'a, T: Tensor, M: MemberAccess<T> + ?Sized>(
    member: &'a mut M,
    core: &'a mut ModuleCore,
    place: Place,
) -> Option<AttrMut<'a, T>> {
    Some(member.attr_mut(SlotMut::new(core, place)))
}

/// `assign_declared` for one member.
#[inline]
pub fn assign<T: Tensor, M: MemberAccess<T>>(
    member: &mut M,
    value: Value<T>,
) -> Option<Result<(), String>> {
    Some(member.assign(value))
}

/// `visit_declared` for one member: reports it under `name` if it is of `kind`.
#[inline]
pub fn visit<'a, T: Tensor, M: MemberAccess<T> + ?Sized>(
    member: &'a M,
    core: &'a ModuleCore,
    (place, name): (Place, &str),
    kind: MemberKind,
    path: &mut String,
    f: &mut dyn FnMut(&mut String, Attr<'a, T>),
) {
    if M::KIND == kind {
        let len = push_segment(path, name);
        member.visit(Slot::new(core, place), path, f);
        path.truncate(len);
    }
}

/// `visit_declared_mut` for one member.
#[inline]
pub fn visit_mut<T: Tensor, M: MemberAccess<T> + ?Sized>(
    member: &mut M,
    core: &mut ModuleCore,
    (place, name): (Place, &str),
    kind: MemberKind,
    path: &mut String,
    f: &mut dyn FnMut(&mut String, AttrMut<'_, T>),
) {
    if M::KIND == kind {
        let len = push_segment(path, name);
        member.visit_mut(SlotMut::new(core, place), path, f);
        path.truncate(len);
    }
}
