//! [`ModuleHooks`]: registering a module's hooks with typed signatures.
//!
//! The hooks are stored in the module's [`HookTable`](crate::HookTable) and removed with the
//! [`RemovableHandle`] registration returns. A hook's signature is checked when it is
//! registered, by the compiler. PyTorch's rules on return values become types: state-dict and
//! load post-hooks cannot return a value (PyTorch raises "state_dict post-hook must return None"
//! and an `AssertionError`); they edit what they are given in place.

use std::any::Any;
use std::sync::Arc;

use crate::hooks::call::{self, AnyForwardHook, AnyPostHook, AnyPreHook, PostHook, PreHook};
use crate::hooks::forward::{ForwardKw, ForwardResult};
use crate::hooks::storage::{AlwaysCallFlag, HookKind, HookOptions, RemovableHandle};
use crate::state::load::{LoadPostHook, LoadPreHook};
use crate::state::state_dict::{StateDictPostHook, StateDictPreHook};
use crate::{IncompatibleKeys, LoadContext, Module, ModuleMetadata, StateDict, Tensor};

/// The output type of a module called with `A` and keyword arguments `K`.
pub type Output<M, T, A, K = ()> = <M as ForwardKw<T, A, K>>::Output;

/// Calling a module through its hooks, and registering hooks, for every module (and, for the
/// type-erased and state-dict hooks, `dyn Module<T>`).
///
/// Forward hooks are typed: a hook is registered for the argument, keyword-argument and output
/// types of one [`Forward`](crate::Forward)/[`ForwardKw`] signature of the module, and a hook
/// with the wrong types does not compile. The `*_any` variants (and the global hooks) see
/// `&dyn Any` and run on every call.
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::{Module, ModuleCore, ModuleHooks, Parameter};
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// #[derive(Module)]
/// struct Linear { core: ModuleCore, weight: Parameter<T> }
///
/// let m = Linear { core: ModuleCore::new(), weight: Parameter::new(T::zeros(ndarray::IxDyn(&[2]))) };
/// // Rename a key on save, as a checkpoint converter would.
/// let handle = m.register_state_dict_post_hook(|_, sd, prefix, _| {
///     if let Some(w) = sd.remove(&format!("{prefix}weight")) {
///         sd.insert(format!("{prefix}kernel"), w);
///     }
/// });
/// assert_eq!(m.state_dict().keys().collect::<Vec<_>>(), ["kernel"]);
/// handle.remove();
/// assert_eq!(m.state_dict().keys().collect::<Vec<_>>(), ["weight"]);
/// # }
/// ```
pub trait ModuleHooks<T: Tensor>: Module<T> {
    /// PyTorch's `module(x)`: `forward` wrapped in the forward hooks (see the `call` docs in
    /// the crate). With no hook anywhere, it costs one branch over `forward`.
    #[inline]
    fn call<A>(&self, args: A) -> ForwardResult<Output<Self, T, A>>
    where
        Self: ForwardKw<T, A, ()>,
        A: Clone + 'static,
        Output<Self, T, A>: 'static,
    {
        self.call_with_kwargs(args, ())
    }

    /// PyTorch's `module(*args, **kwargs)`, for a module that takes keyword arguments.
    #[inline]
    fn call_with_kwargs<A, K>(&self, args: A, kwargs: K) -> ForwardResult<Output<Self, T, A, K>>
    where
        Self: ForwardKw<T, A, K>,
        A: Clone + 'static,
        K: Clone + 'static,
        Output<Self, T, A, K>: 'static,
    {
        if call::has_call_hooks(self.core()) {
            call::call_with_hooks(self, args, kwargs)
        } else {
            self.forward_kw(args, kwargs)
        }
    }

    /// `hook(module, args)` runs before `forward`; a `Some` return replaces the arguments.
    fn register_forward_pre_hook<A: 'static>(
        &self,
        hook: impl Fn(&dyn Module<T>, &A) -> Option<A> + Send + Sync + 'static,
        options: HookOptions,
    ) -> RemovableHandle
    where
        Self: ForwardKw<T, A, ()>,
    {
        let hook: PreHook<T, A, ()> = PreHook::Args(Box::new(hook));
        register_with(self, HookKind::ForwardPre, hook, kwargs(options, false))
    }

    /// `hook(module, args, kwargs)` runs before `forward`; a `Some` return replaces both
    /// (PyTorch's `with_kwargs=True`).
    fn register_forward_pre_hook_with_kwargs<A: 'static, K: 'static>(
        &self,
        hook: impl Fn(&dyn Module<T>, &A, &K) -> Option<(A, K)> + Send + Sync + 'static,
        options: HookOptions,
    ) -> RemovableHandle
    where
        Self: ForwardKw<T, A, K>,
    {
        let hook: PreHook<T, A, K> = PreHook::Kwargs(Box::new(hook));
        register_with(self, HookKind::ForwardPre, hook, kwargs(options, true))
    }

    /// `hook(module, args, output)` runs after `forward`; a `Some` return replaces the output.
    fn register_forward_hook<A: 'static, O: 'static>(
        &self,
        hook: impl Fn(&dyn Module<T>, &A, &O) -> Option<O> + Send + Sync + 'static,
        options: HookOptions,
    ) -> RemovableHandle
    where
        Self: ForwardKw<T, A, (), Output = O>,
    {
        let hook: PostHook<T, A, (), O> = PostHook::Args(Box::new(hook));
        register_with(self, HookKind::Forward, hook, kwargs(options, false))
    }

    /// `hook(module, args, kwargs, output)` runs after `forward` (PyTorch's `with_kwargs=True`).
    fn register_forward_hook_with_kwargs<A: 'static, K: 'static, O: 'static>(
        &self,
        hook: impl Fn(&dyn Module<T>, &A, &K, &O) -> Option<O> + Send + Sync + 'static,
        options: HookOptions,
    ) -> RemovableHandle
    where
        Self: ForwardKw<T, A, K, Output = O>,
    {
        let hook: PostHook<T, A, K, O> = PostHook::Kwargs(Box::new(hook));
        register_with(self, HookKind::Forward, hook, kwargs(options, true))
    }

    /// `hook(module, args, kwargs, output)` runs after `forward`, and also when the call fails
    /// (`output` is then what there was, `None` if `forward` did not finish): PyTorch's
    /// `always_call=True`. For a module without keyword arguments `kwargs` is `&()`.
    fn register_forward_hook_always_call<A: 'static, K: 'static, O: 'static>(
        &self,
        hook: impl Fn(&dyn Module<T>, &A, &K, Option<&O>) -> Option<O> + Send + Sync + 'static,
        options: HookOptions<impl AlwaysCallFlag>,
    ) -> RemovableHandle
    where
        Self: ForwardKw<T, A, K, Output = O>,
    {
        let hook: PostHook<T, A, K, O> = PostHook::Always(Box::new(hook));
        let options = options.always_call();
        register_with(self, HookKind::Forward, hook, options)
    }

    /// PyTorch's `register_full_backward_pre_hook` (candle backend): `hook(grad_output)` runs when
    /// the gradient with respect to this module's output is ready; `Some` replaces it. See the
    /// [`backward`](crate::hooks::backward) module.
    #[cfg(feature = "candle")]
    fn register_full_backward_pre_hook(
        &self,
        hook: impl crate::hooks::backward::FullBackwardPreHook,
        options: HookOptions,
    ) -> RemovableHandle {
        let hook: crate::hooks::backward::BackwardPreHook = Box::new(hook);
        register_with(self, HookKind::BackwardPre, hook, kwargs(options, false))
    }

    /// PyTorch's `register_full_backward_hook` (candle backend): `hook(grad_input, grad_output)`
    /// runs when the gradient with respect to this module's input is ready; `Some` replaces
    /// `grad_input`. Fails if the module's backward-hook kind was set to legacy hooks.
    #[cfg(feature = "candle")]
    fn register_full_backward_hook(
        &self,
        hook: impl crate::hooks::backward::FullBackwardHook,
        options: HookOptions,
    ) -> Result<RemovableHandle, crate::Error> {
        self.core()
            .hooks()
            .claim_backward_kind(true, "on a single Module")?;
        let hook: crate::hooks::backward::BackwardHook = Box::new(hook);
        Ok(register_with(
            self,
            HookKind::Backward,
            hook,
            kwargs(options, false),
        ))
    }

    /// A type-erased pre-hook, `hook(module, args)`, run on every call of this module whatever
    /// its signature; a `Some` return must hold the argument type, else the call fails.
    fn register_forward_pre_hook_any(
        &self,
        hook: impl Fn(&dyn Module<T>, &dyn Any) -> Option<Box<dyn Any>> + Send + Sync + 'static,
        options: HookOptions,
    ) -> RemovableHandle {
        let hook: AnyPreHook<T> = Box::new(hook);
        register_with(self, HookKind::ForwardPre, hook, kwargs(options, false))
    }

    /// A type-erased forward hook, `hook(module, args, kwargs, output)`, run on every call of
    /// this module; `output` is `None` only for `always_call` hooks on a failed call, and
    /// `kwargs` is `&()` unless the hook was registered `with_kwargs`.
    fn register_forward_hook_any(
        &self,
        hook: impl AnyForwardHook<T>,
        options: HookOptions<impl AlwaysCallFlag>,
    ) -> RemovableHandle {
        let hook: AnyPostHook<T> = Box::new(hook);
        register_with(self, HookKind::Forward, hook, options)
    }

    /// `hook(module, prefix, keep_vars)` runs before this module saves its entries.
    fn register_state_dict_pre_hook(
        &self,
        hook: impl Fn(&dyn Module<T>, &str, bool) + Send + Sync + 'static,
    ) -> RemovableHandle {
        let hook: StateDictPreHook<T> = Box::new(hook);
        register_with(self, HookKind::StateDictPre, hook, HookOptions::default())
    }

    /// `hook(module, state_dict, prefix, local_metadata)` runs after this module and its
    /// children saved their entries; it may edit the state dict in place.
    fn register_state_dict_post_hook(
        &self,
        hook: impl Fn(&dyn Module<T>, &mut StateDict<T>, &str, &ModuleMetadata) + Send + Sync + 'static,
    ) -> RemovableHandle {
        let hook: StateDictPostHook<T> = Box::new(hook);
        register_with(self, HookKind::StateDict, hook, HookOptions::default())
    }

    /// `hook(module, state_dict, prefix, local_metadata, context)` runs first when this module
    /// loads; it may edit the state dict (rename keys for this module and its children) and the
    /// context (add error messages, which fail the load).
    fn register_load_state_dict_pre_hook(
        &self,
        hook: impl Fn(&dyn Module<T>, &mut StateDict<T>, &str, &ModuleMetadata, &mut LoadContext)
            + Send
            + Sync
            + 'static,
    ) -> RemovableHandle {
        let hook: LoadPreHook<T> = Box::new(hook);
        register_with(
            self,
            HookKind::LoadStateDictPre,
            hook,
            HookOptions::default(),
        )
    }

    /// `hook(module, incompatible_keys)` runs after this module and all its descendants loaded,
    /// before strictness is applied: clearing keys here lets a strict load succeed, adding keys
    /// makes it fail.
    fn register_load_state_dict_post_hook(
        &self,
        hook: impl Fn(&dyn Module<T>, &mut IncompatibleKeys) + Send + Sync + 'static,
    ) -> RemovableHandle {
        let hook: LoadPostHook<T> = Box::new(hook);
        register_with(
            self,
            HookKind::LoadStateDictPost,
            hook,
            HookOptions::default(),
        )
    }
}

impl<T: Tensor, M: Module<T> + ?Sized> ModuleHooks<T> for M {}

/// Stores a hook in the module's table, type-erased.
fn register_with<T: Tensor, M: Module<T> + ?Sized, H: Send + Sync + 'static>(
    module: &M,
    kind: HookKind,
    hook: H,
    options: HookOptions<impl AlwaysCallFlag>,
) -> RemovableHandle {
    module
        .core()
        .hooks()
        .register(kind, Arc::new(hook), options)
}

/// `options` with the `with_kwargs` flag a typed hook's signature implies.
fn kwargs(options: HookOptions, with_kwargs: bool) -> HookOptions {
    HookOptions {
        with_kwargs,
        ..options
    }
}
