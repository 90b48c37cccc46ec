//! The call path and every hook dictionary.
//!
//! Hooks are stored in [`storage`]: a [`HookTable`](crate::HookTable) per module (inside its
//! `ModuleCore`, allocated by the first registration) and one process-wide table for the global
//! hooks, with PyTorch's process-wide ids and [`RemovableHandle`](crate::RemovableHandle). They
//! are registered with typed signatures through [`ModuleHooks`](crate::ModuleHooks)
//! ([`module_hooks`]) and the `register_module_*` functions ([`global`]).
//!
//! A call flows through [`call`]: `module.call(args)` runs the global and local forward
//! pre-hooks, the module's [`Forward`](crate::Forward) ([`forward`]), then the forward hooks;
//! with backward hooks on candle, [`backward`] wraps the input and output so the gradient pass
//! runs them. [`capture`] is the scoped use most programs want: register hooks on the modules a
//! pattern matches, run once, collect, remove.

#[cfg(feature = "candle")]
pub mod backward;
pub(crate) mod call;
pub mod capture;
pub(crate) mod forward;
pub(crate) mod global;
pub(crate) mod module_hooks;
pub(crate) mod storage;
