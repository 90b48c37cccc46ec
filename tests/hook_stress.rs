//! A bounded concurrency stress run of the hook tables (a few seconds in a debug build): threads
//! call a module while another registers and removes hooks, including hooks that own other
//! hooks' guards and hooks whose captured state panics when dropped. Every call count is exact.

mod common;
use common::{AddOne, PanicsOnDrop};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use modcore::{HookOptions, Module, ModuleHooks};

const CALLERS: usize = 2;
const CALLS: usize = 100_000;
const CHURNS: usize = 20_000;

#[test]
fn calls_registrations_and_removals_from_many_threads_keep_exact_counts() {
    let m = AddOne::default();
    let every_call = Arc::new(AtomicUsize::new(0));
    let counter = every_call.clone();
    let _permanent = m
        .register_forward_hook(
            move |_, _: &f64, _: &f64| {
                counter.fetch_add(1, Ordering::Relaxed);
                None
            },
            HookOptions::default(),
        )
        .guard();
    let transient_calls = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));

    std::thread::scope(|s| {
        for _ in 0..CALLERS {
            s.spawn(|| {
                for _ in 0..CALLS {
                    // Hooks return `None` (or the same value), so the output is exact.
                    assert_eq!(m.call(1.0).unwrap(), 2.0);
                }
            });
        }
        s.spawn(|| {
            for i in 0..CHURNS {
                let seen = transient_calls.clone();
                // An inner hook, owned (through its guard) by an outer one.
                let inner = m
                    .register_forward_hook(
                        move |_, _: &f64, y: &f64| {
                            seen.fetch_add(1, Ordering::Relaxed);
                            Some(*y)
                        },
                        HookOptions::default(),
                    )
                    .guard();
                let poison = (i % 1000 == 0).then(|| PanicsOnDrop);
                let gone = DropCounter(dropped.clone());
                let outer = m.register_forward_pre_hook(
                    move |_, _: &f64| {
                        let _own = (&inner, &poison, &gone);
                        None
                    },
                    HookOptions::default(),
                );
                // Removing the outer hook drops the inner guard (removing the inner hook) and,
                // every thousandth time, a value whose drop panics: no deadlock, no lost count.
                outer.remove();
                assert_eq!(outer.dict_len(), Some(0));
            }
        });
    });

    assert_eq!(every_call.load(Ordering::Relaxed), CALLERS * CALLS);
    assert_eq!(dropped.load(Ordering::Relaxed), CHURNS);
    assert!(transient_calls.load(Ordering::Relaxed) <= CALLERS * CALLS);
    // Only the permanent hook is left, and calls are back to exactly one hook.
    assert_eq!(m.core().hooks().call_hooks(), 1);
    assert_eq!(m.call(1.0).unwrap(), 2.0);
    assert_eq!(every_call.load(Ordering::Relaxed), CALLERS * CALLS + 1);
}

/// Counts its drops.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A hook removed while a call runs it is dropped by the call, its last holder: a panicking drop
/// there is reported, as on `remove`, and the call still returns its output.
#[test]
fn a_call_that_drops_the_last_reference_to_a_removed_hook_survives_a_panicking_drop() {
    let m = AddOne::default();
    let handle: Arc<std::sync::Mutex<Option<modcore::RemovableHandle>>> = Arc::default();
    let own_handle = handle.clone();
    let poison = PanicsOnDrop;
    let registered = m.register_forward_pre_hook(
        move |_, _: &f64| {
            let _own = &poison;
            // Removes itself: from here on, only this call's snapshot holds the hook.
            if let Some(h) = own_handle.lock().unwrap().take() {
                h.remove();
            }
            None
        },
        HookOptions::default(),
    );
    *handle.lock().unwrap() = Some(registered);
    assert_eq!(m.call(1.0).unwrap(), 2.0);
    assert_eq!(m.core().hooks().call_hooks(), 0);
    assert_eq!(m.call(1.0).unwrap(), 2.0);
}
