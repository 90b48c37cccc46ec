//! [`ModuleCore`]: the per-instance state `nn.Module.__init__` sets up.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use crate::hooks::storage::HookRegistry;
use crate::lazy::LazyBox;
use crate::module::registry::Registry;
use crate::Tensor;

/// The per-instance state of a module: PyTorch's `training` flag, the run-time registries
/// (`_parameters`, `_buffers`, `_modules`, `_non_persistent_buffers_set`) and the hook
/// dictionaries.
///
/// Every derived module holds exactly one `ModuleCore` field. Declared members do not live here:
/// `#[derive(Module)]` knows them at compile time. Only what is registered at run time does, and
/// it is allocated on first use, so a module without run-time members or hooks carries 16 bytes.
///
/// | PyTorch (`Module.__init__`)                  | modcore                                   |
/// |----------------------------------------------|-------------------------------------------|
/// | `training`                                   | [`ModuleCore::is_training`], `Module::train` |
/// | `_parameters`, `_buffers`, `_modules`        | run-time members (`register_*`, `set_attr`) |
/// | `_non_persistent_buffers_set`                | `Module::non_persistent_buffers`           |
/// | the hook `OrderedDict`s, `_is_full_backward_hook` | [`ModuleCore::hooks`]                  |
///
/// ```
/// use modcore::ModuleCore;
/// let core = ModuleCore::new();
/// assert!(core.is_training());
/// assert!(std::mem::size_of::<ModuleCore>() <= 16);
/// ```
pub struct ModuleCore {
    training: bool,
    state: LazyBox<CoreState>,
}

/// What `ModuleCore` allocates on first use.
#[derive(Default)]
struct CoreState {
    /// The run-time members, a `Registry<T>` for the module's tensor type.
    members: Option<TypedRegistry>,
    hooks: HookRegistry,
    /// The container modules of the owner's collection fields, by field (or item) position
    /// and view type; see [`collection`](crate::module::collection). Entries are never removed
    /// before the core is dropped, so references into their boxes stay valid while the core
    /// is borrowed.
    views: Mutex<Views>,
}

type Views = HashMap<(usize, TypeId), Box<dyn Any + Send + Sync>, foldhash::fast::RandomState>;

/// A `Registry<T>` with its tensor type erased, that type's name for error messages, and the
/// registry's type id: a registration and a walk compare it with one constant instead of asking
/// the box for its type through a dynamic call (`downcast_ref`).
struct TypedRegistry {
    registry: Box<dyn Any + Send + Sync>,
    tensor_type: &'static str,
    type_id: TypeId,
}

impl TypedRegistry {
    fn new<T: Tensor>() -> Self {
        TypedRegistry {
            registry: Box::new(Registry::<T>::default()),
            tensor_type: std::any::type_name::<T>(),
            type_id: TypeId::of::<Registry<T>>(),
        }
    }

    #[inline]
    fn get<T: Tensor>(&self) -> Option<&Registry<T>> {
        let registry: *const (dyn Any + Send + Sync) = &*self.registry;
        // SAFETY: the box holds a value of the type `type_id` was taken of, `Registry<T>`.
        (self.type_id == TypeId::of::<Registry<T>>())
            .then(|| unsafe { &*registry.cast::<Registry<T>>() })
    }

    #[inline]
    fn get_mut<T: Tensor>(&mut self) -> Option<&mut Registry<T>> {
        let registry: *mut (dyn Any + Send + Sync) = &mut *self.registry;
        // SAFETY: as in `get`, and the borrow is unique.
        (self.type_id == TypeId::of::<Registry<T>>())
            .then(|| unsafe { &mut *registry.cast::<Registry<T>>() })
    }
}

impl ModuleCore {
    /// A fresh core: training mode, no run-time members, no hooks. Allocates nothing.
    pub const fn new() -> Self {
        ModuleCore {
            training: true,
            state: LazyBox::new(),
        }
    }

    /// PyTorch's `training` flag.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Sets this module's own `training` flag (`Module::train` also recurses into children).
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// The module's hook dictionaries, allocated on first use. Takes `&self` so hooks can be
    /// registered while the module is in use (from a hook, or from another thread).
    pub fn hooks(&self) -> &HookRegistry {
        &self.state.get_or_init(CoreState::default).hooks
    }

    /// The hook dictionaries if any hook was ever registered, without allocating.
    #[inline]
    pub fn hooks_if_any(&self) -> Option<&HookRegistry> {
        self.state.get().map(|s| &s.hooks)
    }

    /// The run-time members for tensor type `T`, if any were registered.
    #[inline]
    pub(crate) fn registry<T: Tensor>(&self) -> Option<&Registry<T>> {
        self.state.get()?.members.as_ref()?.get()
    }

    /// The run-time members for tensor type `T`, if any were registered.
    pub(crate) fn registry_mut<T: Tensor>(&mut self) -> Option<&mut Registry<T>> {
        self.state.get_mut()?.members.as_mut()?.get_mut()
    }

    /// The run-time members for tensor type `T`, created if needed. Fails with the name of the
    /// tensor type already held when the module has members of another tensor type.
    pub(crate) fn registry_or_create<T: Tensor>(
        &mut self,
    ) -> Result<&mut Registry<T>, &'static str> {
        let state = self.state.get_or_init_mut(CoreState::default);
        let typed = state.members.get_or_insert_with(TypedRegistry::new::<T>);
        let held = typed.tensor_type;
        typed.get_mut().ok_or(held)
    }
}

impl ModuleCore {
    /// The view kept under `index`, made by `make` the first time.
    pub(crate) fn view<V: Any + Send + Sync>(&self, index: usize, make: impl FnOnce() -> V) -> &V {
        let state = self.state.get_or_init(CoreState::default);
        let mut views = state.views.lock().unwrap_or_else(PoisonError::into_inner);
        let view = views
            .entry((index, TypeId::of::<V>()))
            .or_insert_with(|| Box::new(make()));
        let view: *const V = view
            .downcast_ref::<V>()
            .expect("views are keyed by their type");
        drop(views);
        // SAFETY: the box is owned by `state.views`, which never removes or replaces an entry
        // while the core is alive and shared (only `Drop` frees them), and moving the box
        // within the map does not move its contents; so the pointee outlives `&self`.
        unsafe { &*view }
    }

    /// The view kept under `index`, mutably, made by `make` the first time.
    pub(crate) fn view_mut<V: Any + Send + Sync>(
        &mut self,
        index: usize,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        let state = self.state.get_or_init_mut(CoreState::default);
        let views = state
            .views
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        views
            .entry((index, TypeId::of::<V>()))
            .or_insert_with(|| Box::new(make()))
            .downcast_mut::<V>()
            .expect("views are keyed by their type")
    }
}

impl Default for ModuleCore {
    fn default() -> Self {
        ModuleCore::new()
    }
}

impl fmt::Debug for ModuleCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleCore")
            .field("training", &self.training)
            .field("allocated", &self.state.get().is_some())
            .finish()
    }
}
