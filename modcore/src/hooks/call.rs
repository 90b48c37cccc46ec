//! The call path: PyTorch's `__call__` / `_call_impl`.
//!
//! With no forward hook anywhere, [`ModuleHooks::call`](crate::ModuleHooks::call) is `forward`
//! behind one check of two counters ([`has_call_hooks`]). Otherwise [`call_with_hooks`] runs, in
//! PyTorch's order: the backward hooks are collected, then global then local forward pre-hooks
//! run (each sees the arguments the previous one left), `forward`, then global then local forward
//! hooks (each sees the output the previous one left). Every loop runs over a snapshot (one
//! lock-free read of the global and of the module's hook lists, taken again after `forward` only
//! if a hook was registered or removed meanwhile), so hooks registered or removed while hooks run
//! take effect from the next call, and forward hooks registered inside `forward` or by a pre-hook
//! already run in this one. If a pre-hook, `forward` or a hook fails (returns an error or panics), the
//! `always_call` hooks that have not run yet run with the output so far (`None` if `forward` did
//! not finish), and then the original failure propagates unchanged; a panicking `always_call`
//! hook on that path is reported on stderr with PyTorch's warning text and otherwise ignored.

use std::any::{type_name, Any};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::hooks::forward::{ForwardKw, ForwardResult, HookTypeError};
use crate::hooks::storage::{
    global_call_hooks, global_hooks_if_any, HookEntry, HookKind, HookRegistry, Snapshot,
};
use crate::{Module, ModuleCore, Tensor};

/// `hook(module, args) -> new args`.
type ArgsPreHook<T, A> = Box<dyn Fn(&dyn Module<T>, &A) -> Option<A> + Send + Sync>;
/// `hook(module, args, kwargs) -> new (args, kwargs)`.
type KwargsPreHook<T, A, K> = Box<dyn Fn(&dyn Module<T>, &A, &K) -> Option<(A, K)> + Send + Sync>;
/// `hook(module, args, output) -> new output`.
type ArgsPostHook<T, A, O> = Box<dyn Fn(&dyn Module<T>, &A, &O) -> Option<O> + Send + Sync>;
/// `hook(module, args, kwargs, output) -> new output`.
type KwargsPostHook<T, A, K, O> =
    Box<dyn Fn(&dyn Module<T>, &A, &K, &O) -> Option<O> + Send + Sync>;
/// `hook(module, args, kwargs, output so far) -> new output`.
type AlwaysPostHook<T, A, K, O> =
    Box<dyn Fn(&dyn Module<T>, &A, &K, Option<&O>) -> Option<O> + Send + Sync>;

/// A typed local forward pre-hook.
pub(crate) enum PreHook<T: Tensor, A, K> {
    Args(ArgsPreHook<T, A>),
    Kwargs(KwargsPreHook<T, A, K>),
}

/// A typed local forward hook.
pub(crate) enum PostHook<T: Tensor, A, K, O> {
    Args(ArgsPostHook<T, A, O>),
    Kwargs(KwargsPostHook<T, A, K, O>),
    /// Runs even when the call fails; sees `None` when `forward` did not finish.
    Always(AlwaysPostHook<T, A, K, O>),
}

/// A type-erased forward pre-hook (global hooks, `register_forward_pre_hook_any`).
pub(crate) type AnyPreHook<T> =
    Box<dyn Fn(&dyn Module<T>, &dyn Any) -> Option<Box<dyn Any>> + Send + Sync>;

/// A type-erased forward hook: `hook(module, args, kwargs, output)`, with the arguments and the
/// output behind `&dyn Any` (`kwargs` is `&()` for modules without keyword arguments; `output`
/// is `None` only for `always_call` hooks on a failed call). A `Some` return must hold the
/// output type, else the call fails with a [`HookTypeError`].
///
/// Every closure of this signature implements it; it names the bound of
/// [`ModuleHooks::register_forward_hook_any`](crate::ModuleHooks::register_forward_hook_any) and
/// [`register_module_forward_hook`](crate::register_module_forward_hook).
pub trait AnyForwardHook<T: Tensor>:
    Fn(&dyn Module<T>, &dyn Any, &dyn Any, Option<&dyn Any>) -> Option<Box<dyn Any>>
    + Send
    + Sync
    + 'static
{
}

impl<T: Tensor, F> AnyForwardHook<T> for F where
    F: Fn(&dyn Module<T>, &dyn Any, &dyn Any, Option<&dyn Any>) -> Option<Box<dyn Any>>
        + Send
        + Sync
        + 'static
{
}

/// A stored type-erased forward hook.
pub(crate) type AnyPostHook<T> = Box<dyn AnyForwardHook<T>>;

/// Whether a call of a module with this core must go through [`call_with_hooks`]: a forward
/// hook, pre-hook or backward hook is registered on it or globally. Otherwise PyTorch's
/// `__call__` is `forward` itself.
#[inline]
pub(crate) fn has_call_hooks(core: &ModuleCore) -> bool {
    let local = core.hooks_if_any().map_or(0, HookRegistry::call_hooks);
    local | global_call_hooks() != 0
}

/// One registry's hooks for the length of a call: its lists as they were taken, and the
/// generation they were taken at.
#[derive(Default)]
struct Taken {
    generation: u64,
    lists: Snapshot,
}

impl Taken {
    /// `registry`'s lists as they are now; nothing to take for a registry that holds no hook.
    #[inline(always)]
    fn of(registry: Option<&HookRegistry>) -> Self {
        match registry {
            Some(registry) => Taken {
                generation: registry.generation(),
                lists: registry.snapshot(),
            },
            None => Taken::default(),
        }
    }

    /// Takes `registry`'s lists again if a hook was registered or removed since (a registry
    /// that did not exist then has generation 0, as one that held nothing).
    #[inline]
    fn refresh(&mut self, registry: Option<&HookRegistry>) {
        if registry.map_or(0, HookRegistry::generation) != self.generation {
            *self = Taken::of(registry);
        }
    }
}

/// The global hooks and the module's, as they are now.
struct CallHooks<'m> {
    global: Taken,
    local: Taken,
    registry: Option<&'m HookRegistry>,
}

impl<'m> CallHooks<'m> {
    #[inline(always)]
    fn take(registry: Option<&'m HookRegistry>) -> Self {
        CallHooks {
            global: Taken::of(global_hooks_if_any()),
            local: Taken::of(registry),
            registry,
        }
    }

    /// Takes the hooks again if any changed since they were taken (hooks registered or removed
    /// by `forward` or by a pre-hook take effect for the forward hooks of the same call).
    #[inline]
    fn refresh(&mut self) {
        self.global.refresh(global_hooks_if_any());
        self.local.refresh(self.registry);
    }

    /// The hooks of `kind`: global ones, then the module's.
    #[inline]
    fn iter(&self, kind: HookKind) -> impl Iterator<Item = &(u64, HookEntry)> {
        self.global
            .lists
            .iter(kind)
            .chain(self.local.lists.iter(kind))
    }

    /// Whether a backward hook of either kind was stored globally or on the module.
    #[inline]
    fn any_backward(&self) -> bool {
        [&self.global.lists, &self.local.lists]
            .iter()
            .any(|lists| lists.has(HookKind::BackwardPre) || lists.has(HookKind::Backward))
    }
}

fn replacement<X: 'static>(
    value: Box<dyn Any>,
    hook: &'static str,
    id: u64,
) -> Result<X, HookTypeError> {
    value
        .downcast::<X>()
        .map(|v| *v)
        .map_err(|_| HookTypeError {
            hook,
            id,
            expected: type_name::<X>(),
        })
}

/// PyTorch's `_call_impl` with hooks: `forward` wrapped in them; see the module docs.
#[inline(never)]
pub(crate) fn call_with_hooks<T, A, K, M>(
    module: &M,
    args: A,
    kwargs: K,
) -> ForwardResult<M::Output>
where
    T: Tensor,
    M: ForwardKw<T, A, K> + ?Sized,
    A: Clone + 'static,
    K: Clone + 'static,
    M::Output: 'static,
{
    let this = module.as_dyn();
    let mut hooks = CallHooks::take(module.core().hooks_if_any());
    let mut args = args;
    let mut kwargs = kwargs;
    let mut output: Option<M::Output> = None;
    let mut always_called: Vec<u64> = Vec::new();

    let outcome = catch_unwind(AssertUnwindSafe(|| -> ForwardResult<()> {
        for (id, entry) in hooks.iter(HookKind::ForwardPre) {
            let id = *id;
            if let Some(hook) = entry.hook_as::<PreHook<T, A, K>>() {
                match hook {
                    PreHook::Args(h) => {
                        if let Some(new) = h(this, &args) {
                            args = new;
                        }
                    }
                    PreHook::Kwargs(h) => {
                        if let Some((new_args, new_kwargs)) = h(this, &args, &kwargs) {
                            args = new_args;
                            kwargs = new_kwargs;
                        }
                    }
                }
            } else if let Some(hook) = entry.hook_as::<AnyPreHook<T>>() {
                if let Some(new) = hook(this, &args) {
                    args = replacement(new, "forward pre-hook", id)?;
                }
            }
        }
        // The backward hooks are those of before the pre-hooks ran, as PyTorch collects them.
        #[cfg(feature = "candle")]
        let backward = match hooks.any_backward() {
            true => backward_hooks(&hooks, &mut args)?,
            false => None,
        };
        output = Some(module.forward_kw(args.clone(), kwargs.clone())?);
        hooks.refresh();
        for (id, entry) in hooks.iter(HookKind::Forward) {
            let id = *id;
            if entry.always_call {
                always_called.push(id);
            }
            let Some(current) = output.as_ref() else {
                break;
            };
            let new = if let Some(hook) = entry.hook_as::<PostHook<T, A, K, M::Output>>() {
                match hook {
                    PostHook::Args(h) => h(this, &args, current),
                    PostHook::Kwargs(h) => h(this, &args, &kwargs, current),
                    PostHook::Always(h) => h(this, &args, &kwargs, Some(current)),
                }
            } else if let Some(hook) = entry.hook_as::<AnyPostHook<T>>() {
                match hook(this, &args, kwargs_for(entry, &kwargs), Some(current)) {
                    Some(new) => Some(replacement(new, "forward hook", id)?),
                    None => None,
                }
            } else {
                None
            };
            if let Some(new) = new {
                output = Some(new);
            }
        }
        #[cfg(feature = "candle")]
        if let Some(wrapping) = backward {
            let tensor = output
                .as_mut()
                .and_then(|o| (o as &mut dyn Any).downcast_mut());
            if let Some(tensor) = tensor {
                crate::hooks::backward::wrap_output(tensor, wrapping)?;
            }
        }
        Ok(())
    }));

    let failure = match (outcome, output) {
        (Ok(Ok(())), Some(output)) => return Ok(output),
        (failure, output) => {
            run_always_called(this, &args, &kwargs, output, &always_called);
            failure
        }
    };
    match failure {
        Ok(Err(error)) => Err(error),
        Err(panic) => resume_unwind(panic),
        // Not reached: a successful pass always leaves an output.
        Ok(Ok(())) => Err("forward left no output".into()),
    }
}

/// Sets up the backward hooks of a call whose argument is a candle tensor.
#[cfg(feature = "candle")]
fn backward_hooks<A: 'static>(
    hooks: &CallHooks<'_>,
    args: &mut A,
) -> ForwardResult<Option<crate::hooks::backward::Wrapping>> {
    let Some(input) = (args as &mut dyn Any).downcast_mut::<candle_core::Tensor>() else {
        return Ok(None);
    };
    let entries = |kind| hooks.iter(kind).map(|(_, e)| e.clone()).collect();
    let wrapping = crate::hooks::backward::wrap_input(
        input,
        entries(HookKind::BackwardPre),
        entries(HookKind::Backward),
    )?;
    Ok(wrapping)
}

/// The failure path: every `always_call` hook that has not run yet, global ones first, each
/// seeing the output the previous one left (PyTorch's `except` branch of `_call_impl`).
fn run_always_called<T: Tensor, A: 'static, K: 'static, O: 'static>(
    this: &dyn Module<T>,
    args: &A,
    kwargs: &K,
    mut output: Option<O>,
    already: &[u64],
) {
    let hooks = CallHooks::take(this.core().hooks_if_any());
    let scoped = (hooks.global.lists.iter(HookKind::Forward))
        .map(|h| ("global module", h))
        .chain(
            hooks
                .local
                .lists
                .iter(HookKind::Forward)
                .map(|h| ("module", h)),
        );
    for (scope, (id, entry)) in scoped {
        if !entry.always_call || already.contains(id) {
            continue;
        }
        let ran = catch_unwind(AssertUnwindSafe(|| {
            if let Some(PostHook::Always(h)) = entry.hook_as::<PostHook<T, A, K, O>>() {
                h(this, args, kwargs, output.as_ref())
            } else if let Some(hook) = entry.hook_as::<AnyPostHook<T>>() {
                let current = output.as_ref().map(|o| o as &dyn Any);
                hook(this, args, kwargs_for(entry, kwargs), current)
                    .and_then(|new| new.downcast::<O>().ok().map(|new| *new))
            } else {
                None
            }
        }));
        match ran {
            Ok(Some(new)) => output = Some(new),
            Ok(None) => {}
            Err(panic) => {
                let message = crate::hooks::storage::panic_message(&*panic);
                eprintln!(
                    "UserWarning: {scope} forward hook with ``always_call=True`` raised an exception that was silenced as another error was raised in forward: {message}"
                );
            }
        }
    }
}

/// What a type-erased forward hook sees as `kwargs`: the call's, if it was registered
/// `with_kwargs`, else `&()` (PyTorch calls it as `hook(module, args, output)`).
fn kwargs_for<'k, K: 'static>(entry: &HookEntry, kwargs: &'k K) -> &'k dyn Any {
    if entry.with_kwargs {
        kwargs
    } else {
        &()
    }
}
