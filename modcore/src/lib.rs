//! # modcore
//!
//! PyTorch's `nn.Module` bookkeeping for Rust. `#[derive(Module)]` reads a struct's fields at
//! compile time and turns its parameters, buffers and submodules into a static registration
//! table; the runtime gives the tree PyTorch's API: named traversal, lookup by dotted path,
//! `getattr`/`setattr` semantics with PyTorch's errors, run-time registration, hook storage,
//! and `train`/`eval`. Names, order and error text are PyTorch's wherever a user can see them.
//!
//! ```
//! # #[cfg(feature = "ndarray")] {
//! use modcore::{Buffer, Module, ModuleCore, Parameter};
//! use ndarray::{ArcArray, IxDyn};
//!
//! type Tensor = ArcArray<f32, IxDyn>;
//! fn zeros(shape: &[usize]) -> Tensor { Tensor::zeros(IxDyn(shape)) }
//!
//! #[derive(Module)]
//! struct Linear {
//!     core: ModuleCore,
//!     weight: Parameter<Tensor>,
//!     bias: Option<Parameter<Tensor>>,
//! }
//!
//! #[derive(Module)]
//! struct Block {
//!     core: ModuleCore,
//!     fc: Linear,
//!     #[buffer(persistent = false)]
//!     mask: Buffer<Tensor>,
//!     #[module(skip)]
//!     eps: f64,
//! }
//!
//! let mut block = Block {
//!     core: ModuleCore::new(),
//!     fc: Linear { core: ModuleCore::new(), weight: Parameter::new(zeros(&[2, 2])), bias: None },
//!     mask: Buffer::new(zeros(&[2])),
//!     eps: 1e-5,
//! };
//! let names: Vec<_> = block.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["fc.weight"]); // a None bias is kept as an attribute, skipped here
//! assert_eq!(block.non_persistent_buffers(), ["mask"]);
//! block.eval();
//! assert!(!block.fc.is_training());
//! # }
//! ```
//!
//! ## PyTorch names and modcore names
//!
//! | PyTorch                                   | modcore                                             |
//! |-------------------------------------------|-----------------------------------------------------|
//! | `class Net(nn.Module)` + `__init__`       | `#[derive(Module)] struct Net { core: ModuleCore, … }` |
//! | `nn.Parameter`, `nn.Buffer`               | [`Parameter`], [`Buffer`]                           |
//! | `self.bias = None` (kept as an entry)     | `bias: Option<Parameter<T>>` holding `None`         |
//! | `self.downsample = None` (plain attribute) | `downsample: Option<M>` holding `None`; `#[module(register_none)]` for `register_module(name, None)` |
//! | `nn.ModuleList` / `ParameterList` field   | `Vec<M>`, `[M; N]` (the container itself: `('layers', ModuleList)`, `layers.0.weight`) |
//! | `nn.ModuleDict` / `ParameterDict` field   | `IndexMap<String, M>`, `BTreeMap<String, M>`        |
//! | heterogeneous submodule                   | `Box<dyn Module<T>>`                                |
//! | `register_buffer(name, t, persistent=False)` | `#[buffer(persistent = false)]`, or [`Module::register_buffer`] |
//! | `named_parameters()` and the other `named_*` generators | [`Named`]: every name in one buffer, `(&str, v)` by reference, `(String, v)` by value |
//! | the `OrderedDict` of a state dict and its `_metadata` | [`NameMap`] (inside [`StateDict`]) |
//! | `getattr(m, name, None)`                  | [`Module::find_attr`]                               |
//! | `getattr` / `setattr` / `delattr` / `dir` | [`Module::get_attr`], [`Module::set_attr`], [`Module::del_attr`], [`Module::dir`] |
//! | `AttributeError`                          | [`AttributeError`], with a "Did you mean" hint       |
//! | `torch.utils.hooks.RemovableHandle`       | [`RemovableHandle`]                                 |
//! | `register_module_*_registration_hook`     | [`register_module_parameter_registration_hook`] and siblings |
//! | `state_dict()`, `load_state_dict(sd, strict, assign)` | [`Module::state_dict`], [`Module::load_state_dict`] |
//! | `_IncompatibleKeys`, the `RuntimeError` of a failed load | [`IncompatibleKeys`], [`LoadStateDictError`] |
//! | state-dict and load pre/post hooks        | [`ModuleHooks`]                                     |
//! | `forward`, `module(x)`, `module(x, **kw)` | [`Forward::forward`], [`ModuleHooks::call`], [`ModuleHooks::call_with_kwargs`] ([`ForwardKw`]) |
//! | `register_forward_pre_hook` / `register_forward_hook` (`prepend`, `with_kwargs`, `always_call`) | [`ModuleHooks`] methods with [`HookOptions`] (`always_call` only where the hook takes an `Option` output) |
//! | `register_module_forward_(pre_)hook`      | [`register_module_forward_pre_hook`], [`register_module_forward_hook`] ([`AnyForwardHook`]) |
//! | `register_full_backward_(pre_)hook` (candle) | [`ModuleHooks`] methods, `backward` module         |
//! | activation capture (no PyTorch API)       | [`capture::capture`]                                 |
//! | `nn.Sequential`, `ModuleList`, `ModuleDict`, `ParameterList`, `ParameterDict` | [`containers`] |
//! | `print(model)`, `extra_repr`              | [`Module::repr`], `{:?}`, `#[module(extra_repr = path)]` |
//! | `torch.nn` layers (candle), `device=`, `dtype=` | `nn` (feature `candle`), `nn::Factory`          |
//! | `p.grad`, `loss.backward()` (candle)      | [`Parameter::grad`], `CandleModule::backward`       |
//! | `model.zero_grad()`, `requires_grad_`, `{n: p.grad}` | [`Module::zero_grad`], [`Module::requires_grad_`] (and [`Module::requires_grad_for`]), [`Module::named_grads`] |
//! | `torch.no_grad()`, `torch.is_grad_enabled()` | [`no_grad`], [`NoGradGuard`], [`is_grad_enabled`] |
//! | `_apply`, `half()`, `to(dtype)`, `to(device)` | [`Module::apply_to_tensors`], [`Module::half`], [`Module::to_dtype`], `CandleModule::to_device` |
//! | `torch.nn.utils.clip_grad_norm_`, `clip_grad_value_` | `nn::clip_grad_norm_`, `nn::clip_grad_value_` |
//! | `torch.optim` (`SGD`, `Adam`, `AdamW`, `param_groups`, `state_dict`) | `optim` (feature `candle`) |
//! | `torch.optim.lr_scheduler`                | `optim::lr_scheduler`                               |
//! | `safetensors.torch.save_file` / `load_file`, sharded index files | [`checkpoint`]                  |
//!
//! ## Tensor backends
//!
//! modcore works with any type implementing [`Tensor`]. With feature `candle`, `candle_core::Tensor`
//! implements it; with feature `ndarray`, `ArcArray<A, IxDyn>` and `ArrayD<A>` do.
//!
//! ## Deliberate differences from PyTorch
//!
//! - Misuses Rust can see are compile errors: a struct without a `ModuleCore` field (PyTorch's
//!   "cannot assign module before Module.__init__() call"), a field that is neither a member nor
//!   `#[module(skip)]`, a member named `training` or `forward`, a name with a `.`.
//! - Declared members keep their kind and type; run-time registration covers the dynamic cases.
//! - Modules are owned by their parent, so a module appears once in the tree; parameters and
//!   buffers can be shared (tied) by cloning their handles.
//! - See the `attrs` rules on [`Module::set_attr`] for the attribute protocol's details.
//! - A failed `load_state_dict` changes nothing (PyTorch may have copied some entries before it
//!   raises); a file that keeps one key per group of tied parameters loads strictly.

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod error;
mod hooks;
mod lazy;
mod module;
mod state;
mod tensor;

#[cfg(feature = "candle")]
pub use crate::hooks::backward;
pub use crate::hooks::capture;
pub use crate::module::named;
pub use crate::state::{checkpoint, name_map};
pub use crate::tensor::backend;

pub mod containers;
#[cfg(feature = "candle")]
pub mod nn;
#[cfg(feature = "candle")]
pub mod optim;

pub use crate::error::{AttributeError, Error, PythonType};
pub use crate::hooks::call::AnyForwardHook;
pub use crate::hooks::forward::{Forward, ForwardError, ForwardKw, ForwardResult, HookTypeError};
pub use crate::hooks::global::{
    register_module_buffer_registration_hook, register_module_forward_hook,
    register_module_forward_pre_hook, register_module_module_registration_hook,
    register_module_parameter_registration_hook,
};
#[cfg(feature = "candle")]
pub use crate::hooks::global::{
    register_module_full_backward_hook, register_module_full_backward_pre_hook,
};
pub use crate::hooks::module_hooks::{ModuleHooks, Output};
pub use crate::hooks::storage::{
    global_hooks, Always, AlwaysCallFlag, HookEntry, HookFlag, HookGuard, HookKind, HookOptions,
    HookRegistry, HookTable, OnSuccess, RemovableHandle,
};
pub use crate::module::attrs::RESERVED_NAMES;
#[cfg(feature = "candle")]
pub use crate::module::candle::CandleModule;
pub use crate::module::convert::ApplyError;
pub use crate::module::core::ModuleCore;
pub use crate::module::member::{Attr, AttrMut, Member, MemberAccess, Value};
pub use crate::module::module::Module;
pub use crate::module::named::Named;
pub use crate::module::table::{MemberInfo, MemberKind};
pub use crate::state::load::{IncompatibleKeys, LoadContext, LoadStateDictError};
pub use crate::state::name_map::NameMap;
pub use crate::state::state_dict::{ModuleMetadata, StateDict, StateEntry};
pub use crate::tensor::buffer::Buffer;
pub use crate::tensor::grad_mode::{is_grad_enabled, no_grad, NoGradGuard};
pub use crate::tensor::parameter::Parameter;
pub use crate::tensor::{DType, Tensor, TensorError};
/// The ordered map `IndexMap<String, M>` members use (`nn.ModuleDict` order), re-exported so
/// the version always matches.
pub use indexmap::IndexMap;

/// Derives [`Module`] (and [`Member`], so the type can be a member of other modules) for a
/// struct, and emits its static registration table as `pub const MEMBERS: &[MemberInfo]`.
///
/// Every field is a member unless marked `#[module(skip)]`; a field whose type is not a member
/// type fails to compile with a message saying so. The struct needs exactly one
/// [`ModuleCore`] field (the compile-time form of PyTorch's "cannot assign module before
/// Module.__init__() call").
///
/// | attribute | on | effect |
/// |---|---|---|
/// | `#[module(skip)]` | field | plain data: not registered, not traversed |
/// | `#[module(core)]` | field | this field is the `ModuleCore` (needed only when its type is an alias) |
/// | `#[module(rename = "name")]` | field | the member's name in paths and keys (non-empty, no `.`, unique) |
/// | `#[module(register_none)]` | `Option` module field | `None` is a registered `None` submodule (`register_module(name, None)`, printed `(name): None`), not a plain attribute |
/// | `#[buffer(persistent = false)]` | buffer field (or collection of buffers) | left out of the state dict |
/// | `#[module(crate = path)]` | struct | where the `modcore` crate is, if renamed |
/// | `#[module(tensor = Type)]` | struct | implement `Module<Type>` only; without it the tensor type is the one the `Parameter<X>`/`Buffer<X>` fields name (two different ones are an error), and a module without such fields is a `Module<T>` for every `T` its members allow |
/// | `#[module(version = N)]` | struct | the state-dict format version saved in the metadata (PyTorch's `_version`, default 1) |
/// | `#[module(extra_repr = path)]` | struct | `fn(&Self) -> String`: the text inside the printed parentheses (PyTorch's `extra_repr`) |
/// | `#[module(migrate = path)]` | struct | `fn(&self, &mut StateDict<T>, prefix: &str, version: Option<u32>)` upgrading older state dicts before they load (PyTorch's `_load_from_state_dict` override); make it generic over `T: Tensor`, or pin `tensor` |
///
/// Named structs name members after their fields; tuple structs number their member fields
/// `"0"`, `"1"`, … (the `ModuleCore` and skipped fields take no number), as `nn.Sequential` does.
/// Generic structs keep their parameters, bounds and where-clauses. Enums and unions are refused:
/// an enum has no fixed set of members. Without `tensor = …`, the derive implements
/// `Module<T>` for every tensor type `T` the members allow, so a struct with `Parameter<Tensor>`
/// fields is a `Module<Tensor>`, and one with no tensor members (an activation) works with
/// every backend.
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::{Buffer, Module, ModuleCore, Parameter};
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// #[derive(Module)]
/// struct Attention {
///     core: ModuleCore,
///     #[module(rename = "c_attn")]
///     qkv: Parameter<T>,
///     #[buffer(persistent = false)]
///     bias: Buffer<T>,
///     #[module(skip)]
///     heads: usize,
/// }
///
/// assert_eq!(Attention::MEMBERS[0].name, "c_attn");
/// assert_eq!(Attention::MEMBERS[0].field, "qkv");
/// # }
/// ```
pub use modcore_derive::Module;

/// What most programs import: `use modcore::prelude::*;`.
pub mod prelude {
    #[cfg(feature = "candle")]
    pub use crate::CandleModule;
    pub use crate::{
        Buffer, Forward, ForwardKw, ForwardResult, HookOptions, Module, ModuleCore, ModuleHooks,
        Parameter, StateDict,
    };
}

/// The README's example, compiled and run as a doctest.
#[cfg(all(doctest, feature = "candle"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// What code generated by `#[derive(Module)]` uses. Not a public API. (Named so that the
/// compiler messages that show its paths read plainly.)
#[doc(hidden)]
pub mod derive_support {
    pub use crate::module::collection::{Place, Slot, SlotMut};
    pub use crate::module::generated::{
        assign, at, at_mut, debug, declares, row, walk_child, walk_field, Assigned, Declares,
        FromValue, Printable,
    };
    pub use crate::module::member::{
        module_from_value, BufferField, OptionalSubmodule, Submodule, TensorOf,
    };
    pub use crate::module::module::AsModule;
    pub use crate::module::walk::Walk;
    pub use crate::{
        Attr, AttrMut, Member, MemberAccess, MemberInfo, MemberKind, Module, ModuleCore, StateDict,
        Tensor, Value,
    };
    pub use ::core::any::Any;
    pub use ::core::fmt::{Formatter, Result as FmtResult};
    pub use ::std::boxed::Box;
    pub use ::std::string::String;
}
