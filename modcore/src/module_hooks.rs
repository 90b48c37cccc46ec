//! [`ModuleHooks`]: registering a module's hooks with typed signatures.
//!
//! The hooks are stored in the module's [`HookTable`](crate::HookTable) and removed with the
//! [`RemovableHandle`] registration returns. A hook's signature is checked when it is
//! registered, by the compiler. PyTorch's rules on return values become types: state-dict and
//! load post-hooks cannot return a value (PyTorch raises "state_dict post-hook must return None"
//! and an `AssertionError`); they edit what they are given in place.

use crate::hooks::{HookKind, HookOptions, RemovableHandle};
use crate::load::{LoadPostHook, LoadPreHook};
use crate::state_dict::{erase, StateDictPostHook, StateDictPreHook};
use crate::{IncompatibleKeys, LoadContext, Module, ModuleMetadata, StateDict, Tensor};

/// Hook registration for every module (and `dyn Module<T>`).
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
    /// `hook(module, prefix, keep_vars)` runs before this module saves its entries.
    fn register_state_dict_pre_hook(
        &self,
        hook: impl Fn(&dyn Module<T>, &str, bool) + Send + Sync + 'static,
    ) -> RemovableHandle {
        let hook: StateDictPreHook<T> = Box::new(hook);
        register(self, HookKind::StateDictPre, erase(hook))
    }

    /// `hook(module, state_dict, prefix, local_metadata)` runs after this module and its
    /// children saved their entries; it may edit the state dict in place.
    fn register_state_dict_post_hook(
        &self,
        hook: impl Fn(&dyn Module<T>, &mut StateDict<T>, &str, &ModuleMetadata) + Send + Sync + 'static,
    ) -> RemovableHandle {
        let hook: StateDictPostHook<T> = Box::new(hook);
        register(self, HookKind::StateDict, erase(hook))
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
        register(self, HookKind::LoadStateDictPre, erase(hook))
    }

    /// `hook(module, incompatible_keys)` runs after this module and all its descendants loaded,
    /// before strictness is applied: clearing keys here lets a strict load succeed, adding keys
    /// makes it fail.
    fn register_load_state_dict_post_hook(
        &self,
        hook: impl Fn(&dyn Module<T>, &mut IncompatibleKeys) + Send + Sync + 'static,
    ) -> RemovableHandle {
        let hook: LoadPostHook<T> = Box::new(hook);
        register(self, HookKind::LoadStateDictPost, erase(hook))
    }
}

impl<T: Tensor, M: Module<T> + ?Sized> ModuleHooks<T> for M {}

fn register<T: Tensor, M: Module<T> + ?Sized>(
    module: &M,
    kind: HookKind,
    hook: std::sync::Arc<dyn std::any::Any + Send + Sync>,
) -> RemovableHandle {
    module
        .core()
        .hooks()
        .register(kind, hook, HookOptions::default())
}
