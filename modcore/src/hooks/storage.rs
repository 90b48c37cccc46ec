//! Hook storage: ordered hook dictionaries, PyTorch's process-wide hook ids, and
//! [`RemovableHandle`].
//!
//! A module's hooks live in one [`HookTable`], allocated the first time a hook is registered.
//! Each kind of hook has its own insertion-ordered dictionary (id → hook), so `prepend` can
//! move a new hook to the front, as PyTorch's `OrderedDict.move_to_end(last=False)` does.
//! PyTorch keeps the `with_kwargs` and `always_call` flags of forward hooks in side
//! dictionaries keyed by the same id; here they are stored with the hook itself, so removing a
//! hook can never leave a flag behind (PyTorch leaks the global `with_kwargs` flag).
//! The side dictionaries remain observable through [`HookTable::ids_with`].
//!
//! Hooks are stored type-erased (`Arc<dyn Any + Send + Sync>`); the code that runs a kind of
//! hook knows its signature and downcasts. Every loop over hooks runs on a snapshot, so hooks
//! may register or remove hooks (of any kind, on any module) without deadlock, and a panicking
//! hook leaves the table usable. A snapshot is the registry's immutable lists, one per kind,
//! swapped in when a dictionary changed (`arc-swap`): taking it is one lock-free load, no lock
//! and no copy. Registering only marks the kind's list stale, and the next reader rebuilds it
//! once, so registering `n` hooks costs `O(n)`; removing rebuilds at once (removal is `O(n)` in
//! the dictionary already), so the lists never keep a removed hook alive.

use std::any::{Any, TypeId};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use arc_swap::ArcSwapOption;
use indexmap::IndexMap;

use crate::Error;

/// The kinds of hook dictionaries a module (or the process) keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// `_backward_pre_hooks` (full backward pre-hooks).
    BackwardPre,
    /// `_backward_hooks` (legacy or full backward hooks, never both).
    Backward,
    /// `_forward_pre_hooks`.
    ForwardPre,
    /// `_forward_hooks`.
    Forward,
    /// `_state_dict_pre_hooks`.
    StateDictPre,
    /// `_state_dict_hooks` (state-dict post-hooks).
    StateDict,
    /// `_load_state_dict_pre_hooks`.
    LoadStateDictPre,
    /// `_load_state_dict_post_hooks`.
    LoadStateDictPost,
    /// The global parameter-registration hooks.
    ParameterRegistration,
    /// The global buffer-registration hooks.
    BufferRegistration,
    /// The global module-registration hooks.
    ModuleRegistration,
}

impl HookKind {
    const COUNT: usize = 11;

    fn index(self) -> usize {
        self as usize
    }

    /// Whether hooks of this kind make `call` leave its fast path.
    fn runs_on_call(self) -> bool {
        matches!(
            self,
            HookKind::ForwardPre | HookKind::Forward | HookKind::BackwardPre | HookKind::Backward
        )
    }
}

/// A flag stored with a hook: PyTorch's side dictionaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookFlag {
    /// `_forward_hooks_with_kwargs` / `_forward_pre_hooks_with_kwargs`.
    WithKwargs,
    /// `_forward_hooks_always_called`.
    AlwaysCall,
}

/// How a hook is registered.
///
/// `always_call` is part of the type: [`HookOptions::always_call`] turns a
/// `HookOptions<OnSuccess>` (the default) into a `HookOptions<Always>`, which only the forward
/// hooks that can run on a failed call accept (the type-erased ones, whose `output` is an
/// `Option`, and the global ones). Passing it to a typed hook, whose `output` is a plain
/// reference, or to a pre-hook is a compile error rather than a flag that does nothing; a typed
/// hook that must always run is registered with
/// [`register_forward_hook_always_call`](crate::ModuleHooks::register_forward_hook_always_call).
///
/// ```
/// use modcore::{Always, HookOptions};
/// let o = HookOptions::default().prepend().with_kwargs();
/// assert!(o.prepend && o.with_kwargs && !o.is_always_call());
/// let a: HookOptions<Always> = o.always_call();
/// assert!(a.prepend && a.is_always_call());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookOptions<A: AlwaysCallFlag = OnSuccess> {
    /// Put the hook before every hook already in its dictionary.
    pub prepend: bool,
    /// The hook takes keyword arguments. The typed `register_*_with_kwargs` methods set it
    /// themselves; a type-erased forward hook registered without it sees `&()` as `kwargs`.
    pub with_kwargs: bool,
    /// [`OnSuccess`] or [`Always`]: whether the hook also runs when the call fails.
    pub always_call: A,
}

/// No flag set; only `HookOptions<OnSuccess>` has a default, so `HookOptions::default()` needs no
/// annotation.
impl Default for HookOptions<OnSuccess> {
    fn default() -> Self {
        HookOptions {
            prepend: false,
            with_kwargs: false,
            always_call: OnSuccess,
        }
    }
}

/// Whether a forward hook also runs when the call fails: [`OnSuccess`] or [`Always`].
pub trait AlwaysCallFlag: Copy + Default + sealed::Sealed {
    /// `always_call=True`.
    const ALWAYS: bool;
}

/// The hook runs only when the call succeeds (PyTorch's `always_call=False`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OnSuccess;

/// The hook also runs when the call fails (PyTorch's `always_call=True`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Always;

impl AlwaysCallFlag for OnSuccess {
    const ALWAYS: bool = false;
}

impl AlwaysCallFlag for Always {
    const ALWAYS: bool = true;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::OnSuccess {}
    impl Sealed for super::Always {}
}

impl<A: AlwaysCallFlag> HookOptions<A> {
    /// Sets `prepend`.
    pub fn prepend(mut self) -> Self {
        self.prepend = true;
        self
    }

    /// Sets `with_kwargs`.
    pub fn with_kwargs(mut self) -> Self {
        self.with_kwargs = true;
        self
    }

    /// Sets `always_call`: the hook also runs when the call fails.
    pub fn always_call(self) -> HookOptions<Always> {
        HookOptions {
            prepend: self.prepend,
            with_kwargs: self.with_kwargs,
            always_call: Always,
        }
    }

    /// Whether `always_call` is set.
    pub fn is_always_call(&self) -> bool {
        A::ALWAYS
    }
}

/// A stored hook: the callable, type-erased, and its flags.
#[derive(Clone)]
pub struct HookEntry {
    /// The hook; its concrete type depends on the [`HookKind`].
    pub(crate) hook: Arc<dyn Any + Send + Sync>,
    /// Registered with `with_kwargs`.
    pub with_kwargs: bool,
    /// Registered with `always_call`.
    pub always_call: bool,
    /// The concrete type of `hook`, read once when it is registered: a call tells a hook's
    /// signature by one comparison, where `downcast_ref` asks the vtable every time.
    type_id: TypeId,
}

impl HookEntry {
    /// The hook, if it is an `H`.
    #[inline(always)]
    pub(crate) fn hook_as<H: Any>(&self) -> Option<&H> {
        if self.type_id == TypeId::of::<H>() {
            // SAFETY: `type_id` is the type id of the value `hook` points to (it is set only
            // in `register`, from that value, and `hook` is never replaced), so it is an `H`.
            Some(unsafe { &*Arc::as_ptr(&self.hook).cast::<H>() })
        } else {
            None
        }
    }
}

/// PyTorch's `RemovableHandle.next_id`: one counter for every hook of every kind, never reused.
static NEXT_HOOK_ID: AtomicU64 = AtomicU64::new(0);

/// The hook dictionaries of one module, or of the process; [`HookRegistry::lock`] hands out a
/// copy.
#[derive(Clone, Default)]
pub struct HookTable {
    dicts: [IndexMap<u64, HookEntry>; HookKind::COUNT],
    /// `_is_full_backward_hook`: `None` until a backward hook is registered, then sticky.
    is_full_backward_hook: Option<bool>,
}

impl HookTable {
    /// The ids in `kind`'s dictionary, in firing order.
    pub fn ids(&self, kind: HookKind) -> Vec<u64> {
        self.dicts[kind.index()].keys().copied().collect()
    }

    /// The ids in `kind`'s dictionary that carry `flag` (PyTorch's side dictionaries).
    pub fn ids_with(&self, kind: HookKind, flag: HookFlag) -> Vec<u64> {
        self.dicts[kind.index()]
            .iter()
            .filter(|(_, e)| match flag {
                HookFlag::WithKwargs => e.with_kwargs,
                HookFlag::AlwaysCall => e.always_call,
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// The number of hooks of `kind`.
    pub fn len(&self, kind: HookKind) -> usize {
        self.dicts[kind.index()].len()
    }

    /// Whether no hook of any kind is stored.
    pub fn is_empty(&self) -> bool {
        self.dicts.iter().all(IndexMap::is_empty)
    }

    /// Every kind's list: the stale ones rebuilt from the dictionaries, the others shared with
    /// the current lists.
    fn lists(&self, shared: &Shared) -> Lists {
        let stale = shared.stale.load(Ordering::Acquire);
        let current = shared.lists.load();
        let mut lists = Lists::default();
        for (k, slot) in lists.0.iter_mut().enumerate() {
            *slot = match current.as_deref() {
                Some(old) if stale & (1 << k) == 0 => old.0[k].clone(),
                _ => {
                    let dict = &self.dicts[k];
                    (!dict.is_empty()).then(|| {
                        Arc::new(HookList(
                            dict.iter().map(|(id, e)| (*id, e.clone())).collect(),
                        ))
                    })
                }
            };
        }
        lists
    }

    /// PyTorch's `_is_full_backward_hook` tri-state.
    pub fn is_full_backward_hook(&self) -> Option<bool> {
        self.is_full_backward_hook
    }
}

/// A shared, lockable [`HookTable`]; handles keep a weak reference to it.
#[derive(Clone, Default)]
pub struct HookRegistry {
    shared: Arc<Shared>,
}

/// The table and, readable without the lock, how many of its hooks run on `call` and the
/// current lists.
#[derive(Default)]
struct Shared {
    table: Mutex<HookTable>,
    call_hooks: AtomicUsize,
    /// Every kind's hooks in firing order, as of the last rebuild: one load gives a call all
    /// the lists it needs.
    lists: ArcSwapOption<Lists>,
    /// One bit per kind whose dictionary changed since its list was built; set and cleared
    /// under the lock.
    stale: AtomicU32,
    /// One bit per kind whose dictionary holds a hook; set and cleared under the lock, so a
    /// reader of an empty kind touches nothing else.
    present: AtomicU32,
    /// Bumped under the lock by every change, so a call can tell whether the lists it holds
    /// are still current after `forward` ran.
    generation: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HookTable> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rebuilds the lists a change left stale, once, for every reader after it.
    #[cold]
    fn rebuild_lists(&self) {
        let old = self.swap_lists(&self.lock());
        // Dropped once the lock is released: it may hold the last reference to a hook.
        drop(old);
    }

    /// Stores lists rebuilt from `table` (which the caller holds locked) and clears the stale
    /// bits; the old lists are returned, for the caller to drop after releasing the lock.
    fn swap_lists(&self, table: &HookTable) -> Option<Arc<Lists>> {
        let old = self.lists.swap(Some(Arc::new(table.lists(self))));
        // Cleared after the new lists are stored: a reader that sees no stale bit sees them.
        self.stale.store(0, Ordering::Release);
        old
    }
}

/// Every kind's list (`None` for an empty kind).
#[derive(Default)]
pub(crate) struct Lists([Option<Arc<HookList>>; HookKind::COUNT]);

/// An immutable list of hooks in firing order: what a loop over hooks runs on. Whoever drops
/// the last reference to a hook drops it here, under the same rule as [`RemovableHandle::remove`]:
/// a panicking drop is reported, not propagated.
pub(crate) struct HookList(Vec<(u64, HookEntry)>);

impl Drop for HookList {
    fn drop(&mut self) {
        for (id, entry) in self.0.drain(..) {
            drop_reporting(id, entry);
        }
    }
}

/// Drops a hook, reporting a panic on stderr as Python reports an exception raised while an
/// object is deleted ("Exception ignored").
fn drop_reporting(id: u64, entry: HookEntry) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(move || drop(entry))) {
        let message = panic_message(&*panic);
        eprintln!("Exception ignored while removing hook {id}: {message}");
    }
}

/// The hooks of a registry at one moment, every kind: iterate one with [`Snapshot::iter`]. It
/// holds the lists through an `arc-swap` guard, which in the common case costs no reference
/// count; an empty registry holds nothing.
#[derive(Default)]
pub(crate) struct Snapshot(Option<arc_swap::Guard<Option<Arc<Lists>>>>);

impl Snapshot {
    /// Whether `kind` has a hook.
    #[inline]
    pub(crate) fn has(&self, kind: HookKind) -> bool {
        matches!(self.0.as_deref(), Some(Some(lists)) if lists.0[kind.index()].is_some())
    }

    /// `kind`'s hooks in firing order.
    #[inline]
    pub(crate) fn iter(&self, kind: HookKind) -> std::slice::Iter<'_, (u64, HookEntry)> {
        let list = match self.0.as_deref() {
            Some(Some(lists)) => lists.0[kind.index()].as_deref(),
            _ => None,
        };
        match list {
            Some(list) => list.0.iter(),
            None => [].iter(),
        }
    }
}

impl HookRegistry {
    /// A copy of the table as it is now (PyTorch's hook dictionaries, read). No lock is held once
    /// it returns, so hooks can be registered and removed while it is in use, as in
    /// `for id in reg.lock().ids(kind) { … remove … }`.
    pub fn lock(&self) -> HookTable {
        self.shared.lock().clone()
    }

    /// Every kind's hooks in firing order: the current lists, taken without the lock unless a
    /// change since the last reader left one stale (which is then rebuilt, once).
    #[inline(always)]
    pub(crate) fn snapshot(&self) -> Snapshot {
        let shared = &*self.shared;
        if shared.present.load(Ordering::Acquire) == 0 {
            return Snapshot::default();
        }
        if shared.stale.load(Ordering::Acquire) != 0 {
            shared.rebuild_lists();
        }
        Snapshot(Some(shared.lists.load()))
    }

    /// A number that changes whenever a hook is registered or removed.
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// The number of forward and backward hooks, read without locking: what `call` checks
    /// before it leaves its fast path.
    #[inline]
    pub fn call_hooks(&self) -> usize {
        self.shared.call_hooks.load(Ordering::Acquire)
    }

    /// Stores `hook` under a fresh process-wide id and returns the handle that removes it.
    pub fn register<A: AlwaysCallFlag>(
        &self,
        kind: HookKind,
        hook: Arc<dyn Any + Send + Sync>,
        options: HookOptions<A>,
    ) -> RemovableHandle {
        let id = NEXT_HOOK_ID.fetch_add(1, Ordering::Relaxed);
        let mut table = self.shared.lock();
        if kind.runs_on_call() {
            self.shared.call_hooks.fetch_add(1, Ordering::AcqRel);
        }
        let dict = &mut table.dicts[kind.index()];
        dict.insert(
            id,
            HookEntry {
                type_id: (*hook).type_id(),
                hook,
                with_kwargs: options.with_kwargs,
                always_call: A::ALWAYS,
            },
        );
        if options.prepend {
            let last = dict.len() - 1;
            dict.move_index(last, 0);
        }
        let bit = 1 << kind.index();
        self.shared.stale.fetch_or(bit, Ordering::AcqRel);
        self.shared.present.fetch_or(bit, Ordering::AcqRel);
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        drop(table);
        RemovableHandle {
            id,
            kind,
            table: Arc::downgrade(&self.shared),
        }
    }

    /// Records which kind of backward hook this registry holds: legacy (`full = false`) or full.
    /// The choice is sticky, as in PyTorch: once made, the other kind is refused even after
    /// every backward hook was removed.
    pub fn claim_backward_kind(&self, full: bool, scope: &'static str) -> Result<(), Error> {
        let mut table = self.shared.lock();
        match table.is_full_backward_hook {
            Some(held) if held != full => Err(Error::MixedBackwardHooks { scope }),
            _ => {
                table.is_full_backward_hook = Some(full);
                Ok(())
            }
        }
    }
}

/// Removes the hook it was returned for: PyTorch's `torch.utils.hooks.RemovableHandle`.
///
/// Removal is idempotent, and harmless after the module is gone (the handle only holds a weak
/// reference). Dropping a handle does *not* remove the hook, as in PyTorch; use
/// [`RemovableHandle::guard`] for PyTorch's `with handle:` form.
///
/// ```
/// use modcore::{HookKind, HookOptions, ModuleCore};
/// use std::sync::Arc;
///
/// let core = ModuleCore::new();
/// let handle = core.hooks().register(HookKind::Forward, Arc::new(()), HookOptions::default());
/// assert_eq!(handle.dict_len(), Some(1));
/// handle.remove();
/// handle.remove(); // harmless
/// assert_eq!(handle.dict_len(), Some(0));
/// ```
#[derive(Debug)]
#[must_use = "a hook can only be removed through its handle"]
pub struct RemovableHandle {
    id: u64,
    kind: HookKind,
    table: Weak<Shared>,
}

impl RemovableHandle {
    /// The process-wide id of the hook.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The dictionary the hook was added to.
    pub fn kind(&self) -> HookKind {
        self.kind
    }

    /// Removes the hook (and its flags). Does nothing if it is already gone.
    ///
    /// The hook is taken out under the lock and dropped after it is released, so a hook that
    /// owns another hook's handle or guard can be removed (dropping it removes the other). If
    /// dropping it panics, the removal still counts and the panic is reported on stderr, as
    /// Python reports an exception raised while an object is deleted ("Exception ignored"). A
    /// call running on a snapshot that still holds the hook finishes with it, and the last
    /// holder drops it, by the same rule.
    pub fn remove(&self) {
        let Some(shared) = self.table.upgrade() else {
            return;
        };
        let (removed, list) = {
            let mut table = shared.lock();
            let removed = table.dicts[self.kind.index()].shift_remove(&self.id);
            // The list is rebuilt now (removal is `O(n)` in the dictionary already), so that the
            // current list does not keep the hook alive and no reader sees a list without it
            // and without the others.
            let list = match removed {
                Some(_) => {
                    if self.kind.runs_on_call() {
                        shared.call_hooks.fetch_sub(1, Ordering::AcqRel);
                    }
                    let bit = 1 << self.kind.index();
                    shared.stale.fetch_or(bit, Ordering::AcqRel);
                    let old = shared.swap_lists(&table);
                    if table.dicts[self.kind.index()].is_empty() {
                        shared.present.fetch_and(!bit, Ordering::AcqRel);
                    }
                    shared.generation.fetch_add(1, Ordering::AcqRel);
                    old
                }
                None => None,
            };
            (removed, list)
        };
        drop(list);
        if let Some(entry) = removed {
            drop_reporting(self.id, entry);
        }
    }

    /// The number of hooks in the dictionary this hook was added to, or `None` if its module
    /// is gone (PyTorch's `len(handle.hooks_dict_ref())`).
    pub fn dict_len(&self) -> Option<usize> {
        let shared = self.table.upgrade()?;
        let len = shared.lock().len(self.kind);
        Some(len)
    }

    /// A guard that removes the hook when dropped: PyTorch's `with module.register_…(h):`.
    pub fn guard(self) -> HookGuard {
        HookGuard(self)
    }
}

/// Removes its hook when dropped. Made by [`RemovableHandle::guard`].
#[derive(Debug)]
#[must_use = "the hook is removed as soon as the guard is dropped"]
pub struct HookGuard(RemovableHandle);

impl HookGuard {
    /// The handle inside.
    pub fn handle(&self) -> &RemovableHandle {
        &self.0
    }
}

impl Drop for HookGuard {
    fn drop(&mut self) {
        self.0.remove();
    }
}

impl std::fmt::Debug for HookTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookTable")
            .field(
                "hooks",
                &self.dicts.iter().map(IndexMap::len).sum::<usize>(),
            )
            .field("is_full_backward_hook", &self.is_full_backward_hook)
            .finish()
    }
}

/// The text a panic was raised with (`panic!("…")`), or nothing.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// The process-wide hooks: PyTorch's `_global_*_hooks` dictionaries in
/// `torch.nn.modules.module`, shared by every module of every tensor type.
pub fn global_hooks() -> &'static HookRegistry {
    GLOBAL.get_or_init(HookRegistry::default)
}

static GLOBAL: std::sync::OnceLock<HookRegistry> = std::sync::OnceLock::new();

/// The process-wide registry, if a global hook was ever registered (or it was asked for).
#[inline]
pub(crate) fn global_hooks_if_any() -> Option<&'static HookRegistry> {
    GLOBAL.get()
}

/// The number of global forward and backward hooks, without allocating the registry.
#[inline]
pub(crate) fn global_call_hooks() -> usize {
    global_hooks_if_any().map_or(0, HookRegistry::call_hooks)
}
