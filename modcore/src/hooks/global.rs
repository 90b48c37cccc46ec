//! The global registration hooks: PyTorch's `register_module_{parameter,buffer,module}_registration_hook`.
//!
//! They run whenever a member is registered at run time (`register_*`, `set_attr`,
//! `set_submodule`), in registration order, each seeing the value as the previous one left it;
//! a hook that returns `Some` replaces the value being registered. As in PyTorch, parameter hooks
//! do not run for `None`, buffer and module hooks do.
//!
//! Declared members are not registered at run time (a struct literal assigns them), so these
//! hooks do not see them; that is the one place where compile-time registration is observably
//! different from PyTorch's `__setattr__`.
//!
//! The hooks are typed by tensor type: a hook registered for `Module<A>` runs only for modules
//! registering tensors of type `A`.

use std::any::Any;
use std::sync::Arc;

use crate::hooks::call::{AnyForwardHook, AnyPostHook, AnyPreHook};
use crate::hooks::storage::{
    global_hooks, global_hooks_if_any, AlwaysCallFlag, HookKind, HookOptions, RemovableHandle,
};
use crate::{Buffer, Module, Parameter, Tensor};

type ParameterHook<T> =
    Box<dyn Fn(&dyn Module<T>, &str, &Parameter<T>) -> Option<Parameter<T>> + Send + Sync>;
type BufferHook<T> =
    Box<dyn Fn(&dyn Module<T>, &str, Option<&Buffer<T>>) -> Option<Buffer<T>> + Send + Sync>;
type ModuleHook<T> = Box<
    dyn Fn(&dyn Module<T>, &str, Option<&dyn Module<T>>) -> Option<Box<dyn Module<T>>>
        + Send
        + Sync,
>;

/// Registers a hook run for every parameter registered at run time on any module:
/// `hook(module, name, parameter)`; a `Some` return replaces the parameter.
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::{register_module_parameter_registration_hook, Module, ModuleCore, Parameter};
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// #[derive(Module)]
/// #[module(tensor = T)] // nothing declared names the tensor type
/// struct Empty { core: ModuleCore }
///
/// let handle = register_module_parameter_registration_hook::<T>(|_module, _name, p| {
///     p.set_requires_grad(false); // freeze everything registered from now on
///     None
/// });
/// let mut m = Empty { core: ModuleCore::new() };
/// m.register_parameter("w", Some(Parameter::new(T::zeros(ndarray::IxDyn(&[2]))))).unwrap();
/// assert!(!m.get_parameter("w").unwrap().requires_grad());
/// handle.remove();
/// # }
/// ```
pub fn register_module_parameter_registration_hook<T: Tensor>(
    hook: impl Fn(&dyn Module<T>, &str, &Parameter<T>) -> Option<Parameter<T>> + Send + Sync + 'static,
) -> RemovableHandle {
    let hook: ParameterHook<T> = Box::new(hook);
    global_hooks().register(
        HookKind::ParameterRegistration,
        Arc::new(hook),
        HookOptions::default(),
    )
}

/// Registers a hook run for every buffer registered at run time, `None` included:
/// `hook(module, name, buffer)`; a `Some` return replaces the buffer.
pub fn register_module_buffer_registration_hook<T: Tensor>(
    hook: impl Fn(&dyn Module<T>, &str, Option<&Buffer<T>>) -> Option<Buffer<T>> + Send + Sync + 'static,
) -> RemovableHandle {
    let hook: BufferHook<T> = Box::new(hook);
    global_hooks().register(
        HookKind::BufferRegistration,
        Arc::new(hook),
        HookOptions::default(),
    )
}

/// Registers a hook run for every submodule registered at run time, `None` included:
/// `hook(module, name, submodule)`; a `Some` return replaces the submodule.
pub fn register_module_module_registration_hook<T: Tensor>(
    hook: impl Fn(&dyn Module<T>, &str, Option<&dyn Module<T>>) -> Option<Box<dyn Module<T>>>
        + Send
        + Sync
        + 'static,
) -> RemovableHandle {
    let hook: ModuleHook<T> = Box::new(hook);
    global_hooks().register(
        HookKind::ModuleRegistration,
        Arc::new(hook),
        HookOptions::default(),
    )
}

/// Runs the global hooks of `kind` whose type is `H`, on a snapshot, chaining replacements
/// (nothing to read if no global hook was ever registered).
#[inline]
fn run<H: 'static, V>(kind: HookKind, mut value: V, call: impl Fn(&H, &V) -> Option<V>) -> V {
    let Some(hooks) = global_hooks_if_any() else {
        return value;
    };
    let hooks = hooks.snapshot();
    for (_, entry) in hooks.iter(kind) {
        if let Some(hook) = entry.hook_as::<H>() {
            if let Some(replacement) = call(hook, &value) {
                value = replacement;
            }
        }
    }
    value
}

pub(crate) fn run_parameter_hooks<T: Tensor>(
    module: &dyn Module<T>,
    name: &str,
    param: Parameter<T>,
) -> Parameter<T> {
    run(
        HookKind::ParameterRegistration,
        param,
        |hook: &ParameterHook<T>, p| hook(module, name, p),
    )
}

pub(crate) fn run_buffer_hooks<T: Tensor>(
    module: &dyn Module<T>,
    name: &str,
    buffer: Option<Buffer<T>>,
) -> Option<Buffer<T>> {
    run(
        HookKind::BufferRegistration,
        buffer,
        |hook: &BufferHook<T>, b| hook(module, name, b.as_ref()).map(Some),
    )
}

pub(crate) fn run_module_hooks<T: Tensor>(
    module: &dyn Module<T>,
    name: &str,
    child: Option<Box<dyn Module<T>>>,
) -> Option<Box<dyn Module<T>>> {
    run(
        HookKind::ModuleRegistration,
        child,
        |hook: &ModuleHook<T>, m| hook(module, name, m.as_deref()).map(Some),
    )
}

/// Registers a global forward pre-hook, run before every module's forward pre-hooks on every
/// call: `hook(module, args)`, with the arguments type-erased; a `Some` return must hold the
/// argument type, else the call fails. (PyTorch's `register_module_forward_pre_hook`.)
pub fn register_module_forward_pre_hook<T: Tensor>(
    hook: impl Fn(&dyn Module<T>, &dyn Any) -> Option<Box<dyn Any>> + Send + Sync + 'static,
) -> RemovableHandle {
    let hook: AnyPreHook<T> = Box::new(hook);
    global_hooks().register(HookKind::ForwardPre, Arc::new(hook), HookOptions::default())
}

/// Registers a global forward hook, run before every module's forward hooks on every call:
/// `hook(module, args, kwargs, output)`; with `always_call` it also runs when a call fails
/// (`output` is then `None` if `forward` did not finish). (PyTorch's
/// `register_module_forward_hook`.) `kwargs` is `&()` unless the hook is registered
/// `with_kwargs`, and for modules without keyword arguments; `prepend`, which PyTorch's
/// global function lacks, puts it before the other global forward hooks.
pub fn register_module_forward_hook<T: Tensor>(
    hook: impl AnyForwardHook<T>,
    options: HookOptions<impl AlwaysCallFlag>,
) -> RemovableHandle {
    let hook: AnyPostHook<T> = Box::new(hook);
    global_hooks().register(HookKind::Forward, Arc::new(hook), options)
}

/// PyTorch's `register_module_full_backward_pre_hook` (candle backend): runs before every
/// module's own backward pre-hooks.
#[cfg(feature = "candle")]
pub fn register_module_full_backward_pre_hook(
    hook: impl crate::hooks::backward::FullBackwardPreHook,
) -> RemovableHandle {
    let hook: crate::hooks::backward::BackwardPreHook = Box::new(hook);
    global_hooks().register(
        HookKind::BackwardPre,
        Arc::new(hook),
        HookOptions::default(),
    )
}

/// PyTorch's `register_module_full_backward_hook` (candle backend): runs before every module's
/// own full backward hooks. Fails if the global backward-hook kind was set to legacy hooks.
#[cfg(feature = "candle")]
pub fn register_module_full_backward_hook(
    hook: impl crate::hooks::backward::FullBackwardHook,
) -> Result<RemovableHandle, crate::Error> {
    global_hooks().claim_backward_kind(true, "as a global Module hook")?;
    let hook: crate::hooks::backward::BackwardHook = Box::new(hook);
    Ok(global_hooks().register(HookKind::Backward, Arc::new(hook), HookOptions::default()))
}
