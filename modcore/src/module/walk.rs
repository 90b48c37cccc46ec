//! [`Walk`]: the pre-order walk of a module tree that `named_modules`, `named_parameters`,
//! `named_buffers` and `state_dict` are built on.
//!
//! PyTorch's order is one rule: a module, then its own parameters, then its own buffers, then
//! each child the same way. A walk asks every module for exactly that through
//! `Module::walk`, with what the caller wants reported ([`Wants`]) and where to report it
//! (a [`Sink`]). `#[derive(Module)]` writes each type's declared members as direct calls
//! (`Module::walk_declared`), and a derived submodule field is walked by its own type's code,
//! statically: a tree of derived types is walked with no dynamic call per module or member
//! kind, and no registry probe beyond one null check where nothing was registered at run time.
//! What is only known at run time (a `Box<dyn Module>`, a container's entries, run-time
//! members) is walked through the trait object.
//!
//! The path of the module being walked is one buffer the walk extends and truncates. An entry
//! is reported as a [`Key`]: that path and the entry's own name, not yet joined, so a sink that
//! keeps names copies the module's path (written long before) and the member's name (a static
//! string) once each, and never reads back bytes the walk has just written (which stalls a
//! load on store forwarding, and was a quarter of a `named_parameters`).

use std::fmt;

use crate::module::generated::Declares;
use crate::module::member::{push_segment, Attr};
use crate::module::named::{append_joined, Named};
use crate::module::registry::Registry;
use crate::module::traversal::{AddressSet, TensorEntry};
use crate::{Buffer, MemberKind, Module, ModuleCore, Parameter, Tensor};

/// The dotted name of a walked entry: the path of its module and its own name.
#[derive(Clone, Copy)]
pub(crate) struct Key<'k> {
    pub(crate) parent: &'k str,
    pub(crate) name: &'k str,
}

impl<'k> Key<'k> {
    /// The key of `name` under `parent`.
    #[inline(always)]
    pub(crate) fn new(parent: &'k str, name: &'k str) -> Self {
        Key { parent, name }
    }

    /// Whether a dot goes between the two parts.
    #[inline(always)]
    fn dot(&self) -> bool {
        !self.parent.is_empty() && !self.name.is_empty()
    }

    /// The joined name, written into `buffer` (cleared first).
    #[inline]
    pub(crate) fn joined<'b>(&self, buffer: &'b mut String) -> &'b str {
        buffer.clear();
        self.write(buffer);
        buffer
    }

    /// Appends the joined name to `out`.
    #[inline(always)]
    pub(crate) fn write(&self, out: &mut String) {
        append_joined(out, self.parent, self.dot(), self.name);
    }
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dot = if self.dot() { "." } else { "" };
        write!(f, "{}{dot}{}", self.parent, self.name)
    }
}

/// Where a walk reports what it meets.
///
/// Each entry comes as its [`Key`]'s two parts, `parent` and `name`, not as a `Key`: a
/// four-word struct is passed through memory, and a sink reading it back in wider loads than
/// the walk wrote it stalls on store forwarding (a fifth of a `state_dict`); two `&str`s are
/// passed in registers. A sink rebuilds the key with [`Key::new`].
pub(crate) trait Sink<'a, T: Tensor> {
    /// A module, before its own entries and its children (needs [`Wants::modules`]), with its
    /// state-dict `version` (read where the module's type is static, so a derived type's is a
    /// constant, not a dynamic call).
    fn enter(&mut self, parent: &str, name: &str, module: &'a dyn Module<T>, version: u32) {
        let _ = (parent, name, module, version);
    }
    /// A module that has hooks, after [`enter`](Sink::enter) (needs [`Wants::hooked`]).
    fn enter_hooked(&mut self, parent: &str, name: &str, module: &'a dyn Module<T>) {
        let _ = (parent, name, module);
    }
    /// A module that has hooks, after its children (needs [`Wants::hooked`]).
    fn leave_hooked(&mut self, parent: &str, name: &str, module: &'a dyn Module<T>) {
        let _ = (parent, name, module);
    }
    /// A parameter that is not `None` (needs [`Wants::parameters`]).
    fn parameter(&mut self, parent: &str, name: &str, parameter: &'a Parameter<T>) {
        let _ = (parent, name, parameter);
    }
    /// A buffer that is not `None` (needs [`Wants::buffers`]).
    fn buffer(&mut self, parent: &str, name: &str, buffer: &'a Buffer<T>) {
        let _ = (parent, name, buffer);
    }
}

/// What a walk with [`Wants::collect`] met: the lists `named_modules`, `named_parameters` and
/// `named_buffers` return.
pub(crate) struct Collected<'a, T: Tensor> {
    pub(crate) modules: Named<&'a dyn Module<T>>,
    pub(crate) parameters: Named<&'a Parameter<T>>,
    pub(crate) buffers: Named<&'a Buffer<T>>,
    /// With PyTorch's `remove_duplicate`, the identities of the shared tensors met so far.
    pub(crate) seen: Option<AddressSet>,
}

impl<T: Tensor> Default for Collected<'_, T> {
    fn default() -> Self {
        Collected {
            modules: Named::default(),
            parameters: Named::default(),
            buffers: Named::default(),
            seen: None,
        }
    }
}

impl<'a, T: Tensor> Collected<'a, T> {
    /// Adds `value`, called `name` under `parent`, to `named`, unless `seen` (if duplicates
    /// are removed) has met it. Only a value with several handles can be met twice, so only
    /// those are looked up.
    #[inline(always)]
    fn push<X: TensorEntry<T>>(
        seen: &mut Option<AddressSet>,
        named: &mut Named<&'a X>,
        parent: &str,
        name: &str,
        value: &'a X,
    ) {
        if let (Some(seen), Some(identity)) = (seen, value.shared_key()) {
            if !first_time(seen, identity) {
                return;
            }
        }
        named.push_key(Key::new(parent, name), value);
    }
}

/// Whether `identity` is met for the first time; out of line, so the walk's inlined code stays
/// small (only shared values are looked up at all).
#[inline(never)]
fn first_time(seen: &mut AddressSet, identity: usize) -> bool {
    seen.insert(identity)
}

/// A sink that is told nothing.
struct NoSink;

impl<T: Tensor> Sink<'_, T> for NoSink {}

/// What a walk reports, and how deep it goes.
#[derive(Clone, Copy, Default)]
pub(crate) struct Wants {
    /// Modules, entered, reported to the sink.
    pub(crate) modules: bool,
    /// What is wanted is collected into the walk's own lists ([`Collected`],
    /// [`Walk::run_collecting`]) rather than reported to the sink: written where the walk meets
    /// it, with no call to a sink, since those lists are all a `named_modules` or a
    /// `named_parameters` is.
    pub(crate) collect: bool,
    /// The root is not entered or left (`named_children`).
    pub(crate) skip_root: bool,
    /// Modules with hooks, entered and left: the walk tells them from the others where a
    /// module's type is known statically, so a sink that runs hooks makes no dynamic call for
    /// the (usual) modules without any.
    pub(crate) hooked: bool,
    pub(crate) parameters: bool,
    pub(crate) buffers: bool,
    /// Only the buffers a state dict saves.
    pub(crate) persistent_only: bool,
    /// How many levels of children are visited: 0 for the root's own entries only, 1 for its
    /// children (`named_children`), `usize::MAX` for the whole tree.
    pub(crate) depth: usize,
}

/// A walk in progress: the path of the current entry, what is wanted, and the sink. Made only
/// by this crate; `Module::walk` and the code `#[derive(Module)]` writes take it.
#[doc(hidden)]
pub struct Walk<'a, 's, T: Tensor> {
    path: String,
    wants: Wants,
    /// The depth of the module being walked (the root is 0).
    depth: usize,
    /// What was met, if [`Wants::collect`].
    collected: Collected<'a, T>,
    sink: &'s mut dyn Sink<'a, T>,
}

impl<'a, 's, T: Tensor> Walk<'a, 's, T> {
    /// Walks `root` (named `prefix`) and what `wants` asks for below it into `sink`.
    pub(crate) fn run(
        root: &'a dyn Module<T>,
        prefix: &str,
        wants: Wants,
        sink: &'s mut dyn Sink<'a, T>,
    ) {
        Self::run_at(root, &mut prefix.to_owned(), wants, sink);
    }

    /// [`run`](Self::run) with `root`'s name in a buffer the walk uses for its paths (and
    /// gives back unchanged), so a caller walking many modules allocates none.
    pub(crate) fn run_at(
        root: &'a dyn Module<T>,
        path: &mut String,
        wants: Wants,
        sink: &'s mut dyn Sink<'a, T>,
    ) {
        let mut walk = Walk {
            path: std::mem::take(path),
            wants,
            depth: 0,
            collected: Collected::default(),
            sink,
        };
        walk.root(root);
        *path = walk.path;
    }

    /// Walks `root` (named `prefix`) and what `wants` asks for below it into `collected`
    /// ([`Wants::collect`]), and returns it.
    pub(crate) fn run_collecting(
        root: &'a dyn Module<T>,
        prefix: &str,
        wants: Wants,
        collected: Collected<'a, T>,
    ) -> Collected<'a, T> {
        let mut walk = Walk {
            path: prefix.to_owned(),
            wants: Wants {
                collect: true,
                ..wants
            },
            depth: 0,
            collected,
            sink: &mut NoSink,
        };
        walk.root(root);
        walk.collected
    }

    /// The root entered, walked and left.
    fn root(&mut self, root: &'a dyn Module<T>) {
        if self.wants.skip_root {
            root.walk(self);
        } else {
            self.enter("", root);
            root.walk(self);
            self.leave("", root);
        }
    }

    /// Reports `module`, called `name` under the current path, as entered.
    #[inline(always)]
    fn enter<M: Module<T> + ?Sized>(&mut self, name: &str, module: &'a M) {
        if self.wants.modules {
            if self.wants.collect {
                let key = Key::new(&self.path, name);
                self.collected.modules.push_key(key, module.as_dyn());
            } else {
                let version = module.version();
                self.sink.enter(&self.path, name, module.as_dyn(), version);
            }
        }
        if self.wants.hooked && module.core().hooks_if_any().is_some() {
            self.sink.enter_hooked(&self.path, name, module.as_dyn());
        }
    }

    /// Reports `module`, called `name` under the current path, as left if it has hooks.
    #[inline(always)]
    fn leave<M: Module<T> + ?Sized>(&mut self, name: &str, module: &'a M) {
        if self.wants.hooked && module.core().hooks_if_any().is_some() {
            self.sink.leave_hooked(&self.path, name, module.as_dyn());
        }
    }

    /// A child module called `name` of the module being walked: entered, walked under its
    /// path, left.
    #[inline(always)]
    pub(crate) fn child<M: Module<T> + ?Sized>(&mut self, name: &str, module: &'a M) {
        self.enter(name, module);
        let len = push_segment(&mut self.path, name);
        self.depth += 1;
        module.walk(self);
        self.depth -= 1;
        // SAFETY: `len` was the path's length, so it ends a character.
        unsafe { self.path.as_mut_vec().truncate(len) };
        self.leave(name, module);
    }

    /// A child of a type that declares the member kinds `declares`: walked as by
    /// [`child`](Self::child), unless nothing below it can be wanted (its type declares no
    /// member the walk reports and nothing was registered in it at run time). Such a leaf is
    /// only entered and left, with no path segment and no walk of its own: most modules of a
    /// model are leaves of a `named_modules`.
    #[inline(always)]
    pub(crate) fn child_declaring<M: Module<T>>(
        &mut self,
        name: &str,
        module: &'a M,
        declares: Declares,
    ) {
        let wanted = (self.wants.parameters && declares.parameters)
            || (self.wants.buffers && declares.buffers)
            || (self.depth + 1 < self.wants.depth && declares.modules);
        if wanted || module.core().registry::<T>().is_some() {
            self.child(name, module);
        } else {
            self.enter(name, module);
            self.leave(name, module);
        }
    }

    /// A parameter called `name` of the module being walked.
    #[inline(always)]
    pub(crate) fn parameter(&mut self, name: &str, parameter: &'a Parameter<T>) {
        if self.wants.collect {
            let named = &mut self.collected.parameters;
            Collected::push(&mut self.collected.seen, named, &self.path, name, parameter);
        } else {
            self.sink.parameter(&self.path, name, parameter);
        }
    }

    /// A buffer called `name` of the module being walked; a non-persistent one is skipped when
    /// only persistent ones are wanted.
    #[inline(always)]
    pub(crate) fn buffer(&mut self, name: &str, buffer: &'a Buffer<T>, persistent: bool) {
        if !persistent && self.wants.persistent_only {
            return;
        }
        if self.wants.collect {
            let named = &mut self.collected.buffers;
            Collected::push(&mut self.collected.seen, named, &self.path, name, buffer);
        } else {
            self.sink.buffer(&self.path, name, buffer);
        }
    }

    /// A member called `name`, as [`Attr`]; `None` entries and plain attributes are skipped.
    #[inline(always)]
    pub(crate) fn member(&mut self, name: &str, attr: Attr<'a, T>, persistent: bool) {
        match attr {
            Attr::Parameter(Some(p)) => self.parameter(name, p),
            Attr::Buffer(Some(b)) => self.buffer(name, b, persistent),
            Attr::Module(Some(m)) => self.child(name, m),
            _ => {}
        }
    }

    /// The members of `kind` registered at run time in `core`: one null check for a module
    /// that has none.
    #[inline(always)]
    fn registered(&mut self, core: &'a ModuleCore, kind: MemberKind) {
        if let Some(registry) = core.registry::<T>() {
            self.registered_in(registry, kind);
        }
    }

    fn registered_in(&mut self, registry: &'a Registry<T>, kind: MemberKind) {
        match kind {
            MemberKind::Parameter => {
                for (name, p) in &registry.parameters {
                    if let Some(p) = p {
                        self.parameter(name, p);
                    }
                }
            }
            MemberKind::Buffer => {
                for (name, b) in &registry.buffers {
                    if let Some(b) = b {
                        let persistent =
                            !(self.wants.persistent_only && registry.non_persistent.contains(name));
                        self.buffer(name, b, persistent);
                    }
                }
            }
            MemberKind::Module => {
                for (name, m) in &registry.modules {
                    if let Some(m) = m {
                        self.child(name, &**m);
                    }
                }
            }
        }
    }
}

/// `Module::walk`: a module's own parameters, its own buffers, then its children, each kind
/// declared members first. Generic, so a derived type's `walk_declared` is a direct call.
#[inline]
pub(crate) fn module<'a, T: Tensor, M: Module<T> + ?Sized>(
    module: &'a M,
    walk: &mut Walk<'a, '_, T>,
) {
    if walk.wants.parameters {
        module.walk_declared(MemberKind::Parameter, walk);
        walk.registered(module.core(), MemberKind::Parameter);
    }
    if walk.wants.buffers {
        module.walk_declared(MemberKind::Buffer, walk);
        walk.registered(module.core(), MemberKind::Buffer);
    }
    if walk.depth < walk.wants.depth {
        module.walk_declared(MemberKind::Module, walk);
        walk.registered(module.core(), MemberKind::Module);
    }
}

/// `Module::walk_declared` of a module the derive did not write: its declared members through
/// `visit_declared`, a buffer's persistence from `non_persistent_buffers`.
pub(crate) fn declared<'a, T: Tensor, M: Module<T> + ?Sized>(
    module: &'a M,
    kind: MemberKind,
    walk: &mut Walk<'a, '_, T>,
) {
    // The visit appends each member's name to `name`, which starts empty: so it holds just
    // that name.
    let mut name = String::new();
    // Looked up only for modules that have a buffer, and only for state dicts.
    let mut non_persistent = None;
    module.visit_declared(kind, &mut name, &mut |name, attr| {
        let persistent = !walk.wants.persistent_only
            || !matches!(attr, Attr::Buffer(Some(_)))
            || is_persistent(
                non_persistent.get_or_insert_with(|| module.non_persistent_buffers()),
                name,
            );
        walk.member(name, attr, persistent);
    });
}

/// Whether the buffer called `local` (its name under its module) is persistent, given the
/// module's non-persistent names (a name also covers the entries under it).
fn is_persistent(non_persistent: &[String], local: &str) -> bool {
    !non_persistent.iter().any(|name| {
        local == name || (local.starts_with(name.as_str()) && local[name.len()..].starts_with('.'))
    })
}
