//! Spec §1 and §5.1: the per-instance state, its size, and hook storage with removable handles.

mod common;
use std::sync::Arc;

use common::*;
use modcore::{
    global_hooks, Error, HookFlag, HookKind, HookOptions, Module, ModuleCore, PythonType,
};

#[test]
fn module_core_fits_in_16_bytes() {
    assert!(std::mem::size_of::<ModuleCore>() <= 16);
    // A module with one declared parameter is the core plus one handle.
    assert_eq!(
        std::mem::size_of::<Linear>(),
        std::mem::size_of::<ModuleCore>() + 2 * std::mem::size_of::<usize>()
    );
}

#[test]
fn a_fresh_module_is_training_and_empty() {
    let m = empty();
    assert!(m.is_training());
    assert!(m.core().hooks_if_any().is_none(), "nothing allocated yet");
    assert!(m.named_parameters().is_empty());
    assert!(m.named_buffers().is_empty());
    assert!(m.named_children().is_empty());
    assert!(m.non_persistent_buffers().is_empty());
    let hooks = m.core().hooks().lock();
    for kind in [
        HookKind::BackwardPre,
        HookKind::Backward,
        HookKind::ForwardPre,
        HookKind::Forward,
        HookKind::StateDictPre,
        HookKind::StateDict,
        HookKind::LoadStateDictPre,
        HookKind::LoadStateDictPost,
    ] {
        assert_eq!(hooks.len(kind), 0);
    }
    assert_eq!(hooks.is_full_backward_hook(), None);
}

fn hook() -> Arc<dyn std::any::Any + Send + Sync> {
    Arc::new(())
}

/// Registers five hooks, prepending those in `prepends`, and returns their ids in firing order
/// as positions 0..5.
fn firing_order(kind: HookKind, prepends: &[usize]) -> Vec<usize> {
    let core = ModuleCore::new();
    let mut ids = Vec::new();
    let mut handles = Vec::new();
    for i in 0..5 {
        let options = HookOptions {
            prepend: prepends.contains(&i),
            ..HookOptions::default()
        };
        let handle = core.hooks().register(kind, hook(), options);
        ids.push(handle.id());
        handles.push(handle);
    }
    let order = core.hooks().lock().ids(kind);
    order
        .iter()
        .map(|id| ids.iter().position(|x| x == id).unwrap())
        .collect()
}

#[test]
fn prepend_puts_each_new_hook_in_front_of_earlier_prepends() {
    assert_eq!(firing_order(HookKind::Forward, &[1, 4]), [4, 1, 0, 2, 3]);
    assert_eq!(firing_order(HookKind::ForwardPre, &[0, 4]), [4, 0, 1, 2, 3]);
    assert_eq!(firing_order(HookKind::Backward, &[3, 4]), [4, 3, 0, 1, 2]);
    assert_eq!(
        firing_order(HookKind::BackwardPre, &[0, 1]),
        [1, 0, 2, 3, 4]
    );
}

#[test]
fn handle_ids_strictly_increase_across_kinds_and_modules() {
    let a = ModuleCore::new();
    let b = ModuleCore::new();
    let h1 = a
        .hooks()
        .register(HookKind::Forward, hook(), HookOptions::default());
    let h2 = b
        .hooks()
        .register(HookKind::StateDict, hook(), HookOptions::default());
    let h3 = global_hooks().register(HookKind::ForwardPre, hook(), HookOptions::default());
    let h4 = a
        .hooks()
        .register(HookKind::ForwardPre, hook(), HookOptions::default());
    assert!(h1.id() < h2.id() && h2.id() < h3.id() && h3.id() < h4.id());
    h3.remove();
}

#[test]
fn removal_is_idempotent_and_harmless_after_the_module_is_gone() {
    let m = empty();
    let h = m
        .core()
        .hooks()
        .register(HookKind::Forward, hook(), HookOptions::default());
    let other = m
        .core()
        .hooks()
        .register(HookKind::Forward, hook(), HookOptions::default());
    assert_eq!(h.dict_len(), Some(2));
    h.remove();
    h.remove();
    assert_eq!(h.dict_len(), Some(1));
    assert_eq!(m.core().hooks().lock().ids(HookKind::Forward), [other.id()]);
    drop(m);
    other.remove();
    assert_eq!(other.dict_len(), None);
}

#[test]
fn removing_a_flagged_hook_removes_its_flags() {
    let core = ModuleCore::new();
    let plain = core
        .hooks()
        .register(HookKind::Forward, hook(), HookOptions::default());
    let flagged = core.hooks().register(
        HookKind::Forward,
        hook(),
        HookOptions::default().with_kwargs().always_call(),
    );
    let pre = core.hooks().register(
        HookKind::ForwardPre,
        hook(),
        HookOptions::default().with_kwargs(),
    );
    {
        let table = core.hooks().lock();
        assert_eq!(
            table.ids_with(HookKind::Forward, HookFlag::WithKwargs),
            [flagged.id()]
        );
        assert_eq!(
            table.ids_with(HookKind::Forward, HookFlag::AlwaysCall),
            [flagged.id()]
        );
        assert_eq!(
            table.ids_with(HookKind::ForwardPre, HookFlag::WithKwargs),
            [pre.id()]
        );
    }
    flagged.remove();
    pre.remove();
    let table = core.hooks().lock();
    assert!(table
        .ids_with(HookKind::Forward, HookFlag::WithKwargs)
        .is_empty());
    assert!(table
        .ids_with(HookKind::Forward, HookFlag::AlwaysCall)
        .is_empty());
    assert!(table
        .ids_with(HookKind::ForwardPre, HookFlag::WithKwargs)
        .is_empty());
    assert_eq!(table.ids(HookKind::Forward), [plain.id()]);
}

#[test]
fn a_guard_removes_its_hook_when_dropped_and_a_handle_does_not() {
    let core = ModuleCore::new();
    {
        let guard = core
            .hooks()
            .register(HookKind::Forward, hook(), HookOptions::default())
            .guard();
        assert_eq!(guard.handle().dict_len(), Some(1));
    }
    assert_eq!(core.hooks().lock().len(HookKind::Forward), 0);
    let handle = core
        .hooks()
        .register(HookKind::Forward, hook(), HookOptions::default());
    drop(handle);
    assert_eq!(core.hooks().lock().len(HookKind::Forward), 1);
}

#[test]
fn the_backward_hook_kind_is_sticky() {
    let core = ModuleCore::new();
    core.hooks()
        .claim_backward_kind(true, "on a single Module")
        .unwrap();
    let h = core
        .hooks()
        .register(HookKind::Backward, hook(), HookOptions::default());
    h.remove();
    let e = core
        .hooks()
        .claim_backward_kind(false, "on a single Module")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Cannot use both regular backward hooks and full backward hooks on a single Module. Please use only one of them."
    );
    assert_eq!(e.python_type(), PythonType::RuntimeError);
    assert!(matches!(e, Error::MixedBackwardHooks { .. }));
    assert_eq!(core.hooks().lock().is_full_backward_hook(), Some(true));
}

#[test]
fn hooks_can_be_registered_and_removed_from_several_threads() {
    let core = ModuleCore::new();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..100 {
                    let h =
                        core.hooks()
                            .register(HookKind::Forward, hook(), HookOptions::default());
                    let _keep =
                        core.hooks()
                            .register(HookKind::ForwardPre, hook(), HookOptions::default());
                    h.remove();
                }
            });
        }
    });
    let table = core.hooks().lock();
    assert_eq!(table.len(HookKind::Forward), 0);
    assert_eq!(table.len(HookKind::ForwardPre), 400);
}

#[test]
fn modules_are_send_and_sync() {
    fn assert_send_sync<X: Send + Sync>() {}
    assert_send_sync::<Net>();
    assert_send_sync::<Box<dyn Module<T>>>();
    assert_send_sync::<ModuleCore>();
}
