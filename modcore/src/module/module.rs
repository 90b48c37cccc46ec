//! The [`Module`] trait: PyTorch's `nn.Module` API under Rust names.

use std::any::Any;

use indexmap::IndexMap;

use crate::module::collection::Place;
use crate::module::convert::{self, ApplyError};
use crate::module::declared;
use crate::module::member::{Attr, AttrMut, Value};
use crate::module::walk::{self, Walk};
use crate::module::{attrs, paths, training, traversal};
use crate::state::{load, state_dict};
use crate::{
    AttributeError, Buffer, DType, Error, IncompatibleKeys, LoadStateDictError, MemberInfo,
    MemberKind, ModuleCore, NameMap, Named, Parameter, StateDict, StateEntry, Tensor, TensorError,
};

/// A module: a node of a model's tree, holding parameters, buffers and submodules.
///
/// Implement it with `#[derive(Module)]`; the derive writes the hidden methods (the static
/// registration table, and a `match` from each declared member's table index to its field), and
/// every other method
/// is PyTorch's API, provided here. The trait is object safe: `Box<dyn Module<T>>` and
/// `&dyn Module<T>` work, and a module of any type can hold others as `Box<dyn Module<T>>`.
///
/// `T` is the tensor type. A module without parameters or buffers of a concrete tensor type
/// (`ReLU`, say) is a `Module<T>` for every `T`.
///
/// Order and names are PyTorch's: declared members in declaration order, then members registered
/// at run time in insertion order; nested names joined with `.`.
///
/// | PyTorch                                   | modcore                                      |
/// |-------------------------------------------|----------------------------------------------|
/// | `named_parameters(prefix, recurse, remove_duplicate)` | [`named_parameters`](Module::named_parameters), [`named_parameters_with`](Module::named_parameters_with) |
/// | `named_buffers`, `buffers`, `parameters`  | the same names                                |
/// | `named_children`, `children`, `named_modules`, `modules` | the same names                  |
/// | `get_submodule`, `get_parameter`, `get_buffer`, `set_submodule` | the same names           |
/// | `getattr`, `setattr`, `delattr`, `hasattr`, `dir` | [`get_attr`](Module::get_attr), [`set_attr`](Module::set_attr), [`del_attr`](Module::del_attr), [`has_attr`](Module::has_attr), [`dir`](Module::dir) |
/// | `register_parameter`, `register_buffer`, `add_module`/`register_module` | the same names (`register_module`) |
/// | `apply`, `train`, `eval`, `training`, `requires_grad_` | the same names; `training` is [`is_training`](Module::is_training) |
/// | `zero_grad()`, `zero_grad(set_to_none=False)` | [`zero_grad`](Module::zero_grad), [`zero_grad_with`](Module::zero_grad_with) |
/// | `{n: p.grad for n, p in named_parameters()}` | [`named_grads`](Module::named_grads) |
/// | `_apply(fn)`, `to(dtype)`, `half`, `bfloat16`, `float`, `double` | [`apply_to_tensors`](Module::apply_to_tensors), [`to_dtype`](Module::to_dtype), the same names |
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::{Buffer, Module, ModuleCore, Parameter};
/// use ndarray::{ArcArray, IxDyn};
/// type T = ArcArray<f32, IxDyn>;
/// fn zeros(shape: &[usize]) -> T { T::zeros(IxDyn(shape)) }
///
/// #[derive(Module)]
/// struct Linear {
///     core: ModuleCore,
///     weight: Parameter<T>,
///     bias: Option<Parameter<T>>,
/// }
///
/// #[derive(Module)]
/// struct Net {
///     core: ModuleCore,
///     fc1: Linear,
///     fc2: Linear,
///     scale: Parameter<T>,
/// }
///
/// let linear = |bias: bool| Linear {
///     core: ModuleCore::new(),
///     weight: Parameter::new(zeros(&[4, 4])),
///     bias: bias.then(|| Parameter::new(zeros(&[4]))),
/// };
/// let mut net = Net { core: ModuleCore::new(), fc1: linear(true), fc2: linear(false), scale: Parameter::new(zeros(&[])) };
///
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]);
///
/// net.register_buffer("steps", Some(zeros(&[1])), true).unwrap();
/// assert_eq!(net.get_submodule("fc2").unwrap().type_name(), "Linear");
/// assert_eq!(
///     net.get_attr("fc3").unwrap_err().to_string(),
///     "'Net' object has no attribute 'fc3'. Did you mean: 'fc1'?"
/// );
/// net.eval();
/// assert!(!net.fc1.is_training());
/// # }
/// ```
pub trait Module<T: Tensor>: AsModule<T> + Any + Send + Sync {
    // ---- written by #[derive(Module)] -------------------------------------------------------

    /// The module's [`ModuleCore`].
    fn core(&self) -> &ModuleCore;

    /// The module's [`ModuleCore`], mutably.
    fn core_mut(&mut self) -> &mut ModuleCore;

    /// The unqualified type name (`Net`), as PyTorch's `type(self).__name__`.
    fn type_name(&self) -> &'static str;

    /// The qualified type name (`my_crate::Net`), as PyTorch's `typename` shows a module.
    fn qualified_type_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// The static registration table: every declared member, in declaration order.
    fn members(&self) -> &'static [MemberInfo];

    /// The declared member at `place` (its index in [`members`](Module::members), and flags).
    #[doc(hidden)]
    fn member_attr(&self, place: Place) -> Option<Attr<'_, T>>;

    /// The declared member at `place`, mutably.
    #[doc(hidden)]
    fn member_attr_mut(&mut self, place: Place) -> Option<AttrMut<'_, T>>;

    /// Assigns the declared member at `index`; `Some(Err(type))` with the value's type name if
    /// the value does not fit the field.
    #[doc(hidden)]
    fn assign_member(&mut self, index: usize, value: Value<T>) -> Option<Result<(), String>>;

    /// Whether a `None` in the declared member at `index` is a registered `None` submodule
    /// (`#[module(register_none)]`) rather than a plain attribute.
    #[doc(hidden)]
    fn registers_none(&self, index: usize) -> bool {
        let _ = index;
        false
    }

    /// The names of declared plain fields (`#[module(skip)]`; not the `ModuleCore`, which has no
    /// PyTorch counterpart).
    #[doc(hidden)]
    fn plain_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// The table row of the declared member called `name` (for a container, any of its items).
    #[doc(hidden)]
    fn declared_info(&self, name: &str) -> Option<&'static MemberInfo> {
        self.members().iter().find(|m| m.name == name)
    }

    /// The names of the declared members (for a container, its keys).
    #[doc(hidden)]
    fn declared_names(&self) -> Vec<String> {
        self.members().iter().map(|m| m.name.to_owned()).collect()
    }

    /// Whether the printed tree folds runs of equal children (`(0-2): 3 x Block(...)`), as
    /// PyTorch's `ModuleList.__repr__` does.
    #[doc(hidden)]
    fn folds_repr(&self) -> bool {
        self.as_any().is::<crate::containers::ModuleList<T>>()
    }

    /// The declared member called `name`.
    #[doc(hidden)]
    fn declared_attr(&self, name: &str) -> Option<Attr<'_, T>> {
        declared::attr(self, name)
    }

    /// The declared member called `name`, mutably.
    #[doc(hidden)]
    fn declared_attr_mut(&mut self, name: &str) -> Option<AttrMut<'_, T>> {
        declared::attr_mut(self, name)
    }

    /// Assigns the declared member called `name`; `None` if there is none, `Some(Err(type))`
    /// with the value's type name if the value does not fit the field.
    #[doc(hidden)]
    fn assign_declared(&mut self, name: &str, value: Value<T>) -> Option<Result<(), String>> {
        declared::assign(self, name, value)
    }

    /// Calls `f` for each entry of the declared members of `kind`, in declaration order.
    #[doc(hidden)]
    fn visit_declared<'a>(
        &'a self,
        kind: MemberKind,
        path: &mut String,
        f: &mut dyn FnMut(&mut String, Attr<'a, T>),
    ) {
        declared::visit(self, kind, path, f)
    }

    /// Calls `f` for each entry of the declared members of `kind`, mutably.
    #[doc(hidden)]
    fn visit_declared_mut(
        &mut self,
        kind: MemberKind,
        path: &mut String,
        f: &mut dyn FnMut(&mut String, AttrMut<'_, T>),
    ) {
        declared::visit_mut(self, kind, path, f)
    }

    /// Walks this module for a traversal: its own entries, then its children (see
    /// [`walk`](crate::module::walk)). Not meant to be overridden.
    #[doc(hidden)]
    #[inline]
    fn walk<'a>(&'a self, walk: &mut Walk<'a, '_, T>) {
        walk::module(self, walk)
    }

    /// Reports the declared members of `kind` to a walk, in declaration order.
    /// `#[derive(Module)]` writes it as one direct call per member.
    #[doc(hidden)]
    fn walk_declared<'a>(&'a self, kind: MemberKind, walk: &mut Walk<'a, '_, T>) {
        walk::declared(self, kind, walk)
    }

    /// The state-dict format version of this module type: `#[module(version = N)]`, default 1
    /// (PyTorch's class attribute `_version`), saved in the state dict's metadata.
    fn version(&self) -> u32 {
        1
    }

    /// Upgrades this module's entries of a state dict saved by an older version, before they are
    /// loaded (PyTorch's `_load_from_state_dict` override that reads `local_metadata["version"]`).
    /// `#[module(migrate = path)]` sets it; `version` is `None` when the state dict did not say.
    fn migrate_state_dict(
        &self,
        state_dict: &mut StateDict<T>,
        prefix: &str,
        version: Option<u32>,
    ) {
        let _ = (state_dict, prefix, version);
    }

    /// Whether [`migrate_state_dict`](Module::migrate_state_dict) does anything (so a load
    /// copies the state dict only when something may edit it).
    #[doc(hidden)]
    fn migrates(&self) -> bool {
        false
    }

    /// The text inside the module's parentheses when printed (PyTorch's `extra_repr`), such as
    /// `in_features=4, out_features=8, bias=True`. `#[module(extra_repr = path)]` sets it.
    fn extra_repr(&self) -> String {
        String::new()
    }

    /// PyTorch's `repr(module)`: the printed tree, `Name(extra)` with one `(name): child` line per
    /// submodule (including `None` ones), collection fields printed as the containers they stand
    /// for. `Debug` on `dyn Module<T>` prints the same.
    fn repr(&self) -> String {
        crate::module::repr::repr(self.as_dyn())
    }

    // ---- members of this module ---------------------------------------------------------------

    /// Calls `f` for each of this module's own entries of `kind` (declared, then registered at
    /// run time), including `None` entries, with the entry's name appended to `path`.
    /// The allocation-free primitive every traversal is built on.
    fn visit_members<'a>(
        &'a self,
        kind: MemberKind,
        path: &mut String,
        f: &mut dyn FnMut(&mut String, Attr<'a, T>),
    ) {
        traversal::visit_members(self, kind, path, f)
    }

    /// Calls `f` for each of this module's own entries of `kind`, mutably.
    fn visit_members_mut(
        &mut self,
        kind: MemberKind,
        path: &mut String,
        f: &mut dyn FnMut(&mut String, AttrMut<'_, T>),
    ) {
        traversal::visit_members_mut(self, kind, path, f)
    }

    /// The names of this module's own non-persistent buffers (PyTorch's
    /// `_non_persistent_buffers_set`), declared ones first.
    fn non_persistent_buffers(&self) -> Vec<String> {
        traversal::non_persistent_buffers(self.as_dyn())
    }

    // ---- traversal ---------------------------------------------------------------------------

    /// The direct submodules with their names, skipping `None` entries.
    fn named_children(&self) -> Named<&dyn Module<T>> {
        traversal::named_children(self.as_dyn())
    }

    /// The direct submodules, skipping `None` entries.
    fn children(&self) -> Vec<&dyn Module<T>> {
        self.named_children().values().copied().collect()
    }

    /// Every module of the tree, pre-order, starting with `self` under the name `""`.
    ///
    /// Modules are owned by their parent, so a module appears once; PyTorch's
    /// `remove_duplicate` has nothing to remove.
    fn named_modules(&self) -> Named<&dyn Module<T>> {
        self.named_modules_with("")
    }

    /// [`named_modules`](Module::named_modules) with every name prefixed by `prefix`.
    fn named_modules_with(&self, prefix: &str) -> Named<&dyn Module<T>> {
        traversal::named_modules(self.as_dyn(), prefix)
    }

    /// Every module of the tree, pre-order, starting with `self`.
    fn modules(&self) -> Vec<&dyn Module<T>> {
        self.named_modules().values().copied().collect()
    }

    /// Every parameter of the tree with its dotted name; a tied parameter once, under its first
    /// name; `None` entries skipped.
    fn named_parameters(&self) -> Named<&Parameter<T>> {
        self.named_parameters_with("", true, true)
    }

    /// PyTorch's `named_parameters(prefix, recurse, remove_duplicate)`.
    fn named_parameters_with(
        &self,
        prefix: &str,
        recurse: bool,
        remove_duplicate: bool,
    ) -> Named<&Parameter<T>> {
        traversal::named_tensors(self.as_dyn(), prefix, recurse, remove_duplicate)
    }

    /// Every parameter of the tree, tied ones once.
    fn parameters(&self) -> Vec<&Parameter<T>> {
        let mut out = Vec::new();
        self.visit_parameters("", true, true, &mut |_, p| out.push(p));
        out
    }

    /// Calls `f` with each parameter and its name, in `named_parameters` order, without
    /// allocating the names.
    fn visit_parameters<'a>(
        &'a self,
        prefix: &str,
        recurse: bool,
        remove_duplicate: bool,
        f: &mut dyn FnMut(&str, &'a Parameter<T>),
    ) {
        traversal::visit_parameters(self.as_dyn(), prefix, recurse, remove_duplicate, f)
    }

    /// Every buffer of the tree with its dotted name; a shared buffer once; `None` skipped.
    fn named_buffers(&self) -> Named<&Buffer<T>> {
        self.named_buffers_with("", true, true)
    }

    /// PyTorch's `named_buffers(prefix, recurse, remove_duplicate)`.
    fn named_buffers_with(
        &self,
        prefix: &str,
        recurse: bool,
        remove_duplicate: bool,
    ) -> Named<&Buffer<T>> {
        traversal::named_tensors(self.as_dyn(), prefix, recurse, remove_duplicate)
    }

    /// Every buffer of the tree, shared ones once.
    fn buffers(&self) -> Vec<&Buffer<T>> {
        let mut out = Vec::new();
        self.visit_buffers("", true, true, &mut |_, b| out.push(b));
        out
    }

    /// Calls `f` with each buffer and its name, in `named_buffers` order.
    fn visit_buffers<'a>(
        &'a self,
        prefix: &str,
        recurse: bool,
        remove_duplicate: bool,
        f: &mut dyn FnMut(&str, &'a Buffer<T>),
    ) {
        traversal::visit_buffers(self.as_dyn(), prefix, recurse, remove_duplicate, f)
    }

    /// The number of scalars in the parameters of the tree, tied parameters counted once.
    fn num_parameters(&self) -> usize {
        let mut count = 0;
        self.visit_parameters("", true, true, &mut |_, p| count += p.elem_count());
        count
    }

    // ---- path lookup -------------------------------------------------------------------------

    /// The submodule at a dotted path (`""` is `self`), with PyTorch's errors:
    /// ``Net has no attribute `x` `` and `` `x` is not an nn.Module ``.
    fn get_submodule(&self, target: &str) -> Result<&dyn Module<T>, Error> {
        paths::get_submodule(self.as_dyn(), target)
    }

    /// The submodule at a dotted path, mutably.
    fn get_submodule_mut(&mut self, target: &str) -> Result<&mut dyn Module<T>, Error> {
        paths::get_submodule_mut(self.as_dyn_mut(), target)
    }

    /// The parameter at a dotted path, or `` `x` is not an nn.Parameter `` (also for `None`).
    fn get_parameter(&self, target: &str) -> Result<&Parameter<T>, Error> {
        paths::get_parameter(self.as_dyn(), target)
    }

    /// The buffer at a dotted path; `Ok(None)` for a buffer registered as `None` (as PyTorch
    /// returns `None`), or `` `x` is not a buffer ``.
    fn get_buffer(&self, target: &str) -> Result<Option<&Buffer<T>>, Error> {
        paths::get_buffer(self.as_dyn(), target)
    }

    /// Replaces or (unless `strict`) creates the submodule at a dotted path, through
    /// [`set_attr`](Module::set_attr) on its parent.
    fn set_submodule(
        &mut self,
        target: &str,
        module: Box<dyn Module<T>>,
        strict: bool,
    ) -> Result<(), Error> {
        paths::set_submodule(self.as_dyn_mut(), target, module, strict)
    }

    // ---- the attribute protocol ----------------------------------------------------------------

    /// PyTorch's `getattr` for members: parameters, buffers, modules (declared, then run-time),
    /// or [`Attr::Plain`] for plain fields; else an [`AttributeError`] with a suggestion.
    #[inline]
    fn get_attr(&self, name: &str) -> Result<Attr<'_, T>, AttributeError> {
        self.find_attr(name)
            .ok_or_else(|| attrs::attribute_error(self.as_dyn(), name))
    }

    /// [`get_attr`](Module::get_attr) without the error: `None` where `get_attr` fails.
    /// Declared members are found by a `match` in the module's own code (no dynamic call).
    #[inline]
    fn find_attr(&self, name: &str) -> Option<Attr<'_, T>> {
        match self.declared_attr(name) {
            Some(attr) => Some(attr),
            None => attrs::find_run_time_attr(self.as_dyn(), name),
        }
    }

    /// [`get_attr`](Module::get_attr), mutably.
    fn get_attr_mut(&mut self, name: &str) -> Result<AttrMut<'_, T>, AttributeError> {
        attrs::get_attr_mut(self.as_dyn_mut(), name)
    }

    /// PyTorch's `hasattr`: a member, a plain field, or an attribute every module has
    /// (`training`, `forward`, the `Module` methods).
    fn has_attr(&self, name: &str) -> bool {
        attrs::has_attr(self.as_dyn(), name)
    }

    /// PyTorch's `setattr`, routing the value by its kind exactly as `Module.__setattr__` does
    /// (see [`Value`]); declared fields accept only values of their type.
    fn set_attr(&mut self, name: &str, value: Value<T>) -> Result<(), Error> {
        attrs::set_attr(self.as_dyn_mut(), name, value)
    }

    /// PyTorch's `delattr` for run-time members. Declared fields cannot be deleted.
    fn del_attr(&mut self, name: &str) -> Result<(), Error> {
        attrs::del_attr(self.as_dyn_mut(), name)
    }

    /// PyTorch's `dir()` restricted to members and fields: sorted, names starting with a digit
    /// left out.
    fn dir(&self) -> Vec<String> {
        attrs::dir(self.as_dyn())
    }

    // ---- registration ------------------------------------------------------------------------

    /// PyTorch's `register_parameter`: adds (or replaces) a parameter, `None` allowed.
    fn register_parameter(&mut self, name: &str, param: Option<Parameter<T>>) -> Result<(), Error> {
        attrs::register_parameter(self.as_dyn_mut(), name, param)
    }

    /// PyTorch's `register_buffer`: adds (or replaces) a buffer, `None` allowed; a
    /// non-persistent buffer is left out of the state dict.
    fn register_buffer(
        &mut self,
        name: &str,
        tensor: Option<T>,
        persistent: bool,
    ) -> Result<(), Error> {
        let buffer = tensor.map(Buffer::new);
        attrs::register_buffer(self.as_dyn_mut(), name, buffer, persistent)
    }

    /// PyTorch's `add_module` / `register_module`: adds (or replaces) a submodule, `None` allowed.
    #[doc(alias = "add_module")]
    fn register_module(
        &mut self,
        name: &str,
        module: Option<Box<dyn Module<T>>>,
    ) -> Result<(), Error> {
        attrs::register_module(self.as_dyn_mut(), name, module)
    }

    // ---- state dicts ----------------------------------------------------------------------------

    /// PyTorch's `state_dict()`: every parameter and persistent buffer of the tree under its
    /// dotted key (tied parameters under each of their keys), with per-module metadata. The
    /// tensors share storage with the module's (PyTorch's `detach()`); see
    /// [`Tensor::deep_copy`] for copies.
    fn state_dict(&self) -> StateDict<T> {
        state_dict::state_dict(self.as_dyn(), "")
    }

    /// [`state_dict`](Module::state_dict) with every key (and metadata path) under `prefix`
    /// (`"encoder."`).
    fn state_dict_with_prefix(&self, prefix: &str) -> StateDict<T> {
        state_dict::state_dict(self.as_dyn(), prefix)
    }

    /// PyTorch's `state_dict(keep_vars=True)`: the live parameter and buffer handles, in
    /// `state_dict` order. (State-dict post-hooks, which work on tensors, do not run.)
    fn state_dict_keep_vars(&self) -> IndexMap<String, StateEntry<'_, T>> {
        state_dict::state_dict_keep_vars(self.as_dyn())
    }

    /// PyTorch's `load_state_dict(state_dict, strict, assign)`: copies every entry in (converting
    /// dtypes to the module's, keeping parameter identity and ties), or with `assign` installs the
    /// state dict's tensors as new parameters and buffers. Returns the missing and unexpected keys;
    /// fails with every problem listed (PyTorch's message) and then changes nothing.
    fn load_state_dict(
        &mut self,
        state_dict: &StateDict<T>,
        strict: bool,
        assign: bool,
    ) -> Result<IncompatibleKeys, LoadStateDictError> {
        load::load_state_dict(self.as_dyn_mut(), state_dict, strict, assign)
    }

    // ---- whole-tree operations ---------------------------------------------------------------

    /// Calls `f` on every module of the tree, children before their parent (post-order).
    fn apply(&mut self, f: &mut dyn FnMut(&mut dyn Module<T>)) {
        self.visit_members_mut(MemberKind::Module, &mut String::new(), &mut |_, child| {
            if let AttrMut::Module(Some(child)) = child {
                child.apply(f);
            }
        });
        f(self.as_dyn_mut())
    }

    /// Sets training mode on this module and every descendant.
    fn train(&mut self, mode: bool) {
        self.core_mut().set_training(mode);
        self.visit_members_mut(MemberKind::Module, &mut String::new(), &mut |_, child| {
            if let AttrMut::Module(Some(child)) = child {
                child.train(mode);
            }
        });
    }

    /// Evaluation mode: `train(false)`.
    fn eval(&mut self) {
        self.train(false)
    }

    /// PyTorch's `training` flag.
    fn is_training(&self) -> bool {
        self.core().is_training()
    }

    // ---- training ----------------------------------------------------------------------------

    /// Sets `requires_grad` on every parameter of the tree (buffers are untouched): PyTorch's
    /// `requires_grad_`. Call it on a submodule (`model.encoder.requires_grad_(false)`) to freeze
    /// that subtree; on candle a frozen parameter computes no gradient (see
    /// [`Parameter::set_requires_grad`]). On ndarray, which has no autograd, the flag is
    /// bookkeeping only.
    fn requires_grad_(&self, requires_grad: bool) {
        self.visit_parameters("", true, true, &mut |_, p| {
            p.set_requires_grad(requires_grad)
        });
    }

    /// Sets `requires_grad` on the parameters selected by `pattern`, a dotted path with the glob
    /// syntax of [`capture`](crate::capture) (`*` one segment, `**` any number) matched against
    /// each parameter's name and the paths of the modules holding it: `"encoder"` and
    /// `"encoder.*"` freeze the whole encoder, `"**.bias"` every bias. Returns how many parameter
    /// names matched (tied aliases count), so a typo that matches nothing can be caught.
    ///
    /// ```
    /// # #[cfg(feature = "ndarray")] {
    /// use modcore::{Module, ModuleCore, Parameter};
    /// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
    /// #[derive(Module)]
    /// struct Layer { core: ModuleCore, weight: Parameter<T>, bias: Parameter<T> }
    /// #[derive(Module)]
    /// struct Net { core: ModuleCore, encoder: Layer, head: Layer }
    ///
    /// let layer = || Layer { core: ModuleCore::new(), weight: Parameter::new(T::zeros(ndarray::IxDyn(&[2]))), bias: Parameter::new(T::zeros(ndarray::IxDyn(&[2]))) };
    /// let net = Net { core: ModuleCore::new(), encoder: layer(), head: layer() };
    /// assert_eq!(net.requires_grad_for("encoder.*", false), 2);
    /// assert_eq!(net.requires_grad_for("**.bias", false), 2);
    /// let trainable: Vec<String> = net.named_parameters().into_iter()
    ///     .filter(|(_, p)| p.requires_grad()).map(|(n, _)| n).collect();
    /// assert_eq!(trainable, ["head.weight"]);
    /// # }
    /// ```
    fn requires_grad_for(&self, pattern: &str, requires_grad: bool) -> usize {
        training::requires_grad_for(self.as_dyn(), pattern, requires_grad)
    }

    /// PyTorch's `zero_grad()` (`set_to_none=True`, its default): every parameter's gradient
    /// becomes `None`.
    fn zero_grad(&self) {
        // Clearing cannot fail.
        let _ = training::zero_grad(self.as_dyn(), true);
    }

    /// PyTorch's `zero_grad(set_to_none)`: with `false`, every existing gradient is replaced by
    /// zeros of its shape, detached (parameters without a gradient keep none). Fails only if the
    /// backend cannot make the zeros, and then changes nothing.
    fn zero_grad_with(&self, set_to_none: bool) -> Result<(), TensorError> {
        training::zero_grad(self.as_dyn(), set_to_none)
    }

    /// Every gradient by name, PyTorch's `{n: p.grad for n, p in named_parameters()}`: in
    /// `named_parameters` order, tied parameters once, only parameters that require grad and have
    /// a gradient (frozen ones are absent).
    fn named_grads(&self) -> NameMap<T> {
        training::named_grads(self.as_dyn())
    }

    // ---- conversion --------------------------------------------------------------------------

    /// PyTorch's `_apply(fn)`: replaces every parameter (given detached), parameter gradient
    /// and buffer by `f` of it, children before their parent, shared tensors once. Parameters
    /// keep their identity and, if they require grad, become leaf variables of the new tensor.
    /// Atomic: on an error (naming the entry) the model is unchanged.
    fn apply_to_tensors(
        &mut self,
        f: &mut dyn FnMut(&T) -> Result<T, TensorError>,
    ) -> Result<(), ApplyError> {
        convert::apply(self.as_dyn(), f)
    }

    /// PyTorch's `to(dtype)`: floating-point parameters, gradients and buffers become `dtype`;
    /// integer and bool ones keep theirs (`num_batches_tracked` stays int64).
    fn to_dtype(&mut self, dtype: DType) -> Result<(), ApplyError> {
        convert::to_dtype(self.as_dyn(), dtype)
    }

    /// PyTorch's `half()`: [`to_dtype`](Module::to_dtype)`(DType::F16)`.
    fn half(&mut self) -> Result<(), ApplyError> {
        self.to_dtype(DType::F16)
    }

    /// PyTorch's `bfloat16()`.
    fn bfloat16(&mut self) -> Result<(), ApplyError> {
        self.to_dtype(DType::BF16)
    }

    /// PyTorch's `float()`: float32.
    fn float(&mut self) -> Result<(), ApplyError> {
        self.to_dtype(DType::F32)
    }

    /// PyTorch's `double()`: float64.
    fn double(&mut self) -> Result<(), ApplyError> {
        self.to_dtype(DType::F64)
    }
}

/// What every module is besides its API: `self` as a `dyn Module` and as `Any`. Written once,
/// for every sized module type, so neither the derive nor a hand-written impl repeats it.
#[doc(hidden)]
pub trait AsModule<T: Tensor> {
    /// `self` as a trait object.
    fn as_dyn(&self) -> &dyn Module<T>;

    /// `self` as a mutable trait object.
    fn as_dyn_mut(&mut self) -> &mut dyn Module<T>;

    /// `self` as `Any`, for downcasting.
    fn as_any(&self) -> &dyn Any;

    /// `self` as mutable `Any`, for downcasting.
    fn as_any_mut(&mut self) -> &mut dyn Any;

    /// The boxed module as `Box<dyn Any>`, for downcasting.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Tensor, M: Module<T>> AsModule<T> for M {
    #[inline]
    fn as_dyn(&self) -> &dyn Module<T> {
        self
    }
    #[inline]
    fn as_dyn_mut(&mut self) -> &mut dyn Module<T> {
        self
    }
    #[inline]
    fn as_any(&self) -> &dyn Any {
        self
    }
    #[inline]
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    #[inline]
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl<T: Tensor> std::fmt::Debug for dyn Module<T> {
    /// PyTorch's printed tree ([`Module::repr`]).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repr())
    }
}

impl<T: Tensor> dyn Module<T> {
    /// The module as its concrete type, if it is one.
    pub fn downcast_ref<M: Module<T>>(&self) -> Option<&M> {
        self.as_any().downcast_ref()
    }

    /// The module as its concrete type, mutably, if it is one.
    pub fn downcast_mut<M: Module<T>>(&mut self) -> Option<&mut M> {
        self.as_any_mut().downcast_mut()
    }
}
