//! Walking a module tree: children, modules, parameters and buffers in PyTorch's order.
//!
//! The walks are [`Walk`](crate::module::walk)s: `named_modules`, `named_parameters` and
//! `named_buffers` let the walk collect their lists itself, the visitors give it a sink that
//! calls the caller's function; only the names a caller keeps are copied. `visit_members` (a module's own entries of
//! one kind) is here too, for the operations that look at one module at a time.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use crate::module::member::{push_segment, Attr, AttrMut};
use crate::module::walk::{Collected, Key, Sink, Walk, Wants};
use crate::{Buffer, MemberKind, Module, Named, Parameter, Tensor};

/// Hashes the addresses that identify parameters and buffers: one multiplication (Fibonacci
/// hashing), where the default SipHash would dominate a traversal's cost.
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A set of parameter or buffer identities.
pub(crate) type AddressSet = HashSet<usize, BuildHasherDefault<AddressHasher>>;

/// A module's own entries of `kind`: declared members, then the run-time registry. Generic, so
/// that `Module::visit_members` of a derived type calls its own `visit_declared` directly.
#[inline]
pub(crate) fn visit_members<'a, T: Tensor, M: Module<T> + ?Sized>(
    module: &'a M,
    kind: MemberKind,
    path: &mut String,
    f: &mut dyn FnMut(&mut String, Attr<'a, T>),
) {
    module.visit_declared(kind, path, f);
    let Some(registry) = module.core().registry::<T>() else {
        return;
    };
    match kind {
        MemberKind::Parameter => {
            for (name, p) in &registry.parameters {
                let len = push_segment(path, name);
                f(path, Attr::Parameter(p.as_ref()));
                path.truncate(len);
            }
        }
        MemberKind::Buffer => {
            for (name, b) in &registry.buffers {
                let len = push_segment(path, name);
                f(path, Attr::Buffer(b.as_ref()));
                path.truncate(len);
            }
        }
        MemberKind::Module => {
            for (name, m) in &registry.modules {
                let len = push_segment(path, name);
                f(path, Attr::Module(m.as_deref()));
                path.truncate(len);
            }
        }
    }
}

/// A module's own entries of `kind`, mutably.
#[inline]
pub(crate) fn visit_members_mut<T: Tensor, M: Module<T> + ?Sized>(
    module: &mut M,
    kind: MemberKind,
    path: &mut String,
    f: &mut dyn FnMut(&mut String, AttrMut<'_, T>),
) {
    module.visit_declared_mut(kind, path, f);
    let Some(registry) = module.core_mut().registry_mut::<T>() else {
        return;
    };
    match kind {
        MemberKind::Parameter => {
            for (name, p) in &mut registry.parameters {
                let len = push_segment(path, name);
                f(path, AttrMut::Parameter(p.as_mut()));
                path.truncate(len);
            }
        }
        MemberKind::Buffer => {
            for (name, b) in &mut registry.buffers {
                let len = push_segment(path, name);
                f(path, AttrMut::Buffer(b.as_mut()));
                path.truncate(len);
            }
        }
        MemberKind::Module => {
            for (name, m) in &mut registry.modules {
                let len = push_segment(path, name);
                f(path, AttrMut::Module(m.as_deref_mut()));
                path.truncate(len);
            }
        }
    }
}

pub(crate) fn named_children<T: Tensor>(module: &dyn Module<T>) -> Named<&dyn Module<T>> {
    let wants = Wants {
        modules: true,
        skip_root: true,
        depth: 1,
        ..Wants::default()
    };
    Walk::run_collecting(module, "", wants, Collected::default()).modules
}

pub(crate) fn named_modules<'a, T: Tensor>(
    module: &'a dyn Module<T>,
    prefix: &str,
) -> Named<&'a dyn Module<T>> {
    let wants = Wants {
        modules: true,
        depth: usize::MAX,
        ..Wants::default()
    };
    let collected = Collected {
        modules: Named::for_walk(MemberKind::Module),
        ..Collected::default()
    };
    let collected = Walk::run_collecting(module, prefix, wants, collected);
    collected.modules.walked(MemberKind::Module)
}

/// A kind of tensor entry a walk reports (parameters or buffers), and how it tells two
/// entries apart.
pub(crate) trait TensorEntry<T: Tensor> {
    const KIND: MemberKind;
    fn extract(attr: Attr<'_, T>) -> Option<&Self>;
    /// The value's identity, if another handle to it exists (a value with one handle cannot be
    /// met twice).
    fn shared_key(&self) -> Option<usize>;
    /// The list of a walk's [`Collected`] this kind goes into.
    fn collected<'c, 'a>(collected: &'c mut Collected<'a, T>) -> &'c mut Named<&'a Self>;
}

impl<T: Tensor> TensorEntry<T> for Parameter<T> {
    const KIND: MemberKind = MemberKind::Parameter;
    #[inline]
    fn extract(attr: Attr<'_, T>) -> Option<&Self> {
        attr.parameter()
    }
    #[inline]
    fn collected<'c, 'a>(collected: &'c mut Collected<'a, T>) -> &'c mut Named<&'a Self> {
        &mut collected.parameters
    }
    #[inline]
    fn shared_key(&self) -> Option<usize> {
        self.handle().shared_key()
    }
}

impl<T: Tensor> TensorEntry<T> for Buffer<T> {
    const KIND: MemberKind = MemberKind::Buffer;
    #[inline]
    fn extract(attr: Attr<'_, T>) -> Option<&Self> {
        attr.buffer()
    }
    #[inline]
    fn collected<'c, 'a>(collected: &'c mut Collected<'a, T>) -> &'c mut Named<&'a Self> {
        &mut collected.buffers
    }
    #[inline]
    fn shared_key(&self) -> Option<usize> {
        self.handle().shared_key()
    }
}

/// What a walk of `X` entries wants: with `recurse` the whole tree's, otherwise the root's.
fn tensors_wanted<T: Tensor, X: TensorEntry<T>>(recurse: bool) -> Wants {
    Wants {
        parameters: X::KIND == MemberKind::Parameter,
        buffers: X::KIND == MemberKind::Buffer,
        depth: if recurse { usize::MAX } else { 0 },
        ..Wants::default()
    }
}

/// PyTorch's `_named_members`: for each module in `named_modules` order (or just this one
/// without `recurse`), its own entries of one kind, skipping `None` and, with
/// `remove_duplicate`, entries already reported (by identity, across the whole walk). Generic
/// over `f`, so a caller's own sink is called directly, not through a second dynamic call.
fn visit_tensors<'a, T: Tensor, X: TensorEntry<T> + 'a, F: FnMut(Key<'_>, &'a X)>(
    module: &'a dyn Module<T>,
    prefix: &str,
    recurse: bool,
    remove_duplicate: bool,
    f: F,
) {
    struct Tensors<X, F> {
        seen: Option<AddressSet>,
        f: F,
        _entry: std::marker::PhantomData<fn(&X)>,
    }

    impl<'a, X: 'a, F: FnMut(Key<'_>, &'a X)> Tensors<X, F> {
        #[inline]
        fn report<T: Tensor>(&mut self, key: Key<'_>, value: &'a X)
        where
            X: TensorEntry<T>,
        {
            // Only a value with several handles can be met twice; checking the handle count
            // is cheaper than hashing every entry.
            if let (Some(seen), Some(key)) = (&mut self.seen, value.shared_key()) {
                if !seen.insert(key) {
                    return;
                }
            }
            (self.f)(key, value);
        }
    }

    impl<'a, T: Tensor, X: TensorEntry<T> + 'a, F: FnMut(Key<'_>, &'a X)> Sink<'a, T>
        for Tensors<X, F>
    {
        #[inline]
        fn parameter(&mut self, parent: &str, name: &str, parameter: &'a Parameter<T>) {
            if let Some(value) = X::extract(Attr::Parameter(Some(parameter))) {
                self.report(Key::new(parent, name), value);
            }
        }
        #[inline]
        fn buffer(&mut self, parent: &str, name: &str, buffer: &'a Buffer<T>) {
            if let Some(value) = X::extract(Attr::Buffer(Some(buffer))) {
                self.report(Key::new(parent, name), value);
            }
        }
    }

    let wants = tensors_wanted::<T, X>(recurse);
    let mut sink = Tensors {
        seen: remove_duplicate.then(AddressSet::default),
        f,
        _entry: std::marker::PhantomData,
    };
    Walk::run(module, prefix, wants, &mut sink);
}

/// `named_parameters` / `named_buffers`.
pub(crate) fn named_tensors<'a, T: Tensor, X: TensorEntry<T> + 'a>(
    module: &'a dyn Module<T>,
    prefix: &str,
    recurse: bool,
    remove_duplicate: bool,
) -> Named<&'a X> {
    let wants = tensors_wanted::<T, X>(recurse);
    let mut collected = Collected {
        seen: remove_duplicate.then(AddressSet::default),
        ..Collected::default()
    };
    // Only a whole-tree walk is sized from the last one (a module's own entries are few).
    if recurse {
        *X::collected(&mut collected) = Named::for_walk(X::KIND);
    }
    let mut collected = Walk::run_collecting(module, prefix, wants, collected);
    let out = std::mem::take(X::collected(&mut collected));
    match recurse {
        true => out.walked(X::KIND),
        false => out,
    }
}

pub(crate) fn visit_parameters<'a, T: Tensor>(
    module: &'a dyn Module<T>,
    prefix: &str,
    recurse: bool,
    remove_duplicate: bool,
    f: &mut dyn FnMut(&str, &'a Parameter<T>),
) {
    visit_joined(module, prefix, recurse, remove_duplicate, f)
}

pub(crate) fn visit_buffers<'a, T: Tensor>(
    module: &'a dyn Module<T>,
    prefix: &str,
    recurse: bool,
    remove_duplicate: bool,
    f: &mut dyn FnMut(&str, &'a Buffer<T>),
) {
    visit_joined(module, prefix, recurse, remove_duplicate, f)
}

/// [`visit_tensors`] for a caller that wants each name as one `&str`: joined in one reused
/// buffer.
fn visit_joined<'a, T: Tensor, X: TensorEntry<T> + 'a>(
    module: &'a dyn Module<T>,
    prefix: &str,
    recurse: bool,
    remove_duplicate: bool,
    f: &mut dyn FnMut(&str, &'a X),
) {
    let mut name = String::new();
    visit_tensors(module, prefix, recurse, remove_duplicate, |key, value| {
        f(key.joined(&mut name), value)
    })
}

pub(crate) fn non_persistent_buffers<T: Tensor>(module: &dyn Module<T>) -> Vec<String> {
    let declared = module
        .members()
        .iter()
        .filter(|m| m.kind == MemberKind::Buffer && !m.persistent);
    let mut out: Vec<String> = declared.map(|m| m.name.to_owned()).collect();
    if let Some(registry) = module.core().registry::<T>() {
        // Report them in buffer order, not in the set's hash order.
        out.extend(
            registry
                .buffers
                .keys()
                .filter(|name| registry.non_persistent.contains(*name))
                .map(|name| name.to_string()),
        );
    }
    out
}
