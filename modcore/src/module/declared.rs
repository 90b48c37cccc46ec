//! The declared members of a derived module, reached by their index in the static table.
//!
//! `#[derive(Module)]` writes one `match` from a member's table index to its field for each of
//! three accessors (`Module::member_attr`, `member_attr_mut`, `assign_member`), each arm a
//! static, inlined call; everything else a module does with its declared members (lookup by
//! name, the walks) is written once, here, over those. So the expansion is one arm per member
//! and accessor, and the compiler checks the shared code once rather than once per type.

use crate::module::collection::Place;
use crate::module::member::{push_segment, Attr, AttrMut, Value};
use crate::{MemberKind, Module, Tensor};

/// The table index of the declared member called `name`.
#[inline]
fn find<T: Tensor, M: Module<T> + ?Sized>(module: &M, name: &str) -> Option<usize> {
    module.members().iter().position(|m| m.name == name)
}

/// The place of the member at `index`: its index and flags.
#[inline]
fn place<T: Tensor, M: Module<T> + ?Sized>(module: &M, index: usize) -> Place {
    let persistent = module.members()[index].persistent;
    Place::new(index, persistent, module.registers_none(index))
}

/// `Module::declared_attr`.
#[inline]
pub(crate) fn attr<'a, T: Tensor, M: Module<T> + ?Sized>(
    module: &'a M,
    name: &str,
) -> Option<Attr<'a, T>> {
    module.member_attr(place(module, find(module, name)?))
}

/// `Module::declared_attr_mut`.
#[inline]
pub(crate) fn attr_mut<'a, T: Tensor, M: Module<T> + ?Sized>(
    module: &'a mut M,
    name: &str,
) -> Option<AttrMut<'a, T>> {
    let place = place(module, find(module, name)?);
    module.member_attr_mut(place)
}

/// `Module::assign_declared`.
#[inline]
pub(crate) fn assign<T: Tensor, M: Module<T> + ?Sized>(
    module: &mut M,
    name: &str,
    value: Value<T>,
) -> Option<Result<(), String>> {
    module.assign_member(find(module, name)?, value)
}

/// `Module::visit_declared`: each declared member of `kind`, in declaration order, under its
/// name; an unregistered `None` (a plain attribute) is skipped.
#[inline]
pub(crate) fn visit<'a, T: Tensor, M: Module<T> + ?Sized>(
    module: &'a M,
    kind: MemberKind,
    path: &mut String,
    f: &mut dyn FnMut(&mut String, Attr<'a, T>),
) {
    for (index, info) in module.members().iter().enumerate() {
        if info.kind != kind {
            continue;
        }
        match module.member_attr(place(module, index)) {
            None | Some(Attr::Plain) => {}
            Some(attr) => {
                let len = push_segment(path, info.name);
                f(path, attr);
                path.truncate(len);
            }
        }
    }
}

/// `Module::visit_declared_mut`.
#[inline]
pub(crate) fn visit_mut<T: Tensor, M: Module<T> + ?Sized>(
    module: &mut M,
    kind: MemberKind,
    path: &mut String,
    f: &mut dyn FnMut(&mut String, AttrMut<'_, T>),
) {
    for (index, info) in module.members().iter().enumerate() {
        if info.kind != kind {
            continue;
        }
        let place = place(module, index);
        match module.member_attr_mut(place) {
            None | Some(AttrMut::Plain) => {}
            Some(attr) => {
                let len = push_segment(path, info.name);
                f(path, attr);
                path.truncate(len);
            }
        }
    }
}
