//! Spec §5 (sections F and G of the checklist): the call path, local forward hooks, kwargs,
//! always_call, removal during a call, and thread safety. Global hooks are in `global_hooks.rs`
//! (their own process).

mod common;
use common::{AddOne, PanicsOnDrop};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use candle_core::Tensor;
use modcore::{
    Forward, ForwardKw, ForwardResult, HookFlag, HookKind, HookOptions, Module, ModuleCore,
    ModuleHooks, RemovableHandle,
};

/// `forward(x, bias=b) = x + b`: keyword arguments are a struct.
#[derive(Clone, Debug, PartialEq)]
struct Bias {
    bias: f64,
}

#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct KwModule {
    core: ModuleCore,
}

impl ForwardKw<Tensor, f64, Bias> for KwModule {
    type Output = f64;
    fn forward_kw(&self, x: f64, kw: Bias) -> ForwardResult<f64> {
        Ok(x + kw.bias)
    }
}

/// Fails on negative input, panics on NaN.
#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct Picky {
    core: ModuleCore,
}

impl Forward<Tensor, f64> for Picky {
    type Output = f64;
    fn forward(&self, x: f64) -> ForwardResult<f64> {
        if x.is_nan() {
            panic!("forward panicked");
        }
        if x < 0.0 {
            return Err("negative input".into());
        }
        Ok(x)
    }
}

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::default()
}

fn push(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

fn prepend_if(prepend: bool) -> HookOptions {
    HookOptions {
        prepend,
        ..HookOptions::default()
    }
}

#[test]
fn forward_hooks_fire_in_registration_order_with_prepend() {
    let m = AddOne::default();
    let fired = log();
    let mut handles = Vec::new();
    for i in 0..5 {
        let f = fired.clone();
        handles.push(m.register_forward_hook(
            move |_, _: &f64, _: &f64| {
                push(&f, i.to_string());
                None
            },
            prepend_if(i == 1 || i == 4),
        ));
    }
    assert_eq!(m.call(1.0).unwrap(), 2.0);
    assert_eq!(entries(&fired), ["4", "1", "0", "2", "3"]);
    // Calling `forward` directly runs no hooks.
    assert_eq!(m.forward(1.0).unwrap(), 2.0);
    assert_eq!(entries(&fired).len(), 5);
}

#[test]
fn pre_hooks_fire_in_registration_order_with_prepend() {
    let m = AddOne::default();
    let fired = log();
    let _handles: Vec<RemovableHandle> = (0..5)
        .map(|i| {
            let f = fired.clone();
            m.register_forward_pre_hook(
                move |_, _: &f64| {
                    push(&f, i.to_string());
                    None
                },
                prepend_if(i == 0 || i == 4),
            )
        })
        .collect();
    m.call(1.0).unwrap();
    assert_eq!(entries(&fired), ["4", "0", "1", "2", "3"]);
}

#[test]
fn pre_hooks_run_before_forward_hooks_and_replace_inputs_and_outputs() {
    let m = AddOne::default();
    let fired = log();
    let (f1, f2) = (fired.clone(), fired.clone());
    // Like relu as a pre-hook and negation as a forward hook: -(relu(x) + 1).
    let _pre = m.register_forward_pre_hook(
        move |_, x: &f64| {
            push(&f1, "pre");
            Some(x.max(0.0))
        },
        HookOptions::default(),
    );
    let _post = m.register_forward_hook(
        move |_, args: &f64, out: &f64| {
            push(&f2, format!("forward sees args {args}"));
            Some(-out)
        },
        HookOptions::default(),
    );
    assert_eq!(m.call(-5.0).unwrap(), -1.0);
    assert_eq!(m.call(2.0).unwrap(), -3.0);
    assert_eq!(entries(&fired)[..2], ["pre", "forward sees args 0"]);
}

#[test]
fn each_hook_sees_what_the_previous_one_left() {
    let m = AddOne::default();
    let _a = m.register_forward_pre_hook(|_, x: &f64| Some(x * 10.0), HookOptions::default());
    let _b = m.register_forward_pre_hook(|_, x: &f64| Some(x + 1.0), HookOptions::default());
    let _c = m.register_forward_hook(|_, _: &f64, y: &f64| Some(y * 2.0), HookOptions::default());
    let _d = m.register_forward_hook(|_, _: &f64, y: &f64| Some(y - 3.0), HookOptions::default());
    // ((1 * 10 + 1) + 1) * 2 - 3
    assert_eq!(m.call(1.0).unwrap(), 21.0);
}

#[test]
fn kwargs_hooks_see_and_replace_keyword_arguments() {
    let m = KwModule::default();
    assert_eq!(m.call_with_kwargs(1.0, Bias { bias: 2.0 }).unwrap(), 3.0);
    let pre = m.register_forward_pre_hook_with_kwargs(
        |_, x: &f64, kw: &Bias| {
            Some((
                *x,
                Bias {
                    bias: kw.bias * 2.0,
                },
            ))
        },
        HookOptions::default(),
    );
    // x + 2 * bias
    assert_eq!(m.call_with_kwargs(1.0, Bias { bias: 2.0 }).unwrap(), 5.0);
    let post = m.register_forward_hook_with_kwargs(
        |_, _: &f64, kw: &Bias, out: &f64| Some(out + kw.bias),
        HookOptions::default(),
    );
    // x + 4 * bias: the forward hook sees the kwargs as the pre-hook left them.
    assert_eq!(m.call_with_kwargs(1.0, Bias { bias: 2.0 }).unwrap(), 9.0);
    {
        let table = m.core().hooks().lock();
        assert_eq!(
            table.ids_with(HookKind::ForwardPre, HookFlag::WithKwargs),
            [pre.id()]
        );
        assert_eq!(
            table.ids_with(HookKind::Forward, HookFlag::WithKwargs),
            [post.id()]
        );
    }
    pre.remove();
    post.remove();
    let table = m.core().hooks().lock();
    assert!(table
        .ids_with(HookKind::ForwardPre, HookFlag::WithKwargs)
        .is_empty());
    assert!(table
        .ids_with(HookKind::Forward, HookFlag::WithKwargs)
        .is_empty());
}

#[test]
fn hooks_that_remove_their_own_handle_during_the_call() {
    let m = AddOne::default();
    let slots: Arc<Mutex<Vec<RemovableHandle>>> = Arc::default();
    for _ in 0..2 {
        let s = slots.clone();
        let handle = m.register_forward_hook(
            move |_, _: &f64, out: &f64| {
                if let Some(h) = s.lock().unwrap().pop() {
                    h.remove();
                }
                Some(out * 2.0)
            },
            HookOptions::default(),
        );
        slots.lock().unwrap().insert(0, handle);
    }
    assert_eq!(m.call(1.0).unwrap(), 8.0);
    assert_eq!(m.core().hooks().lock().len(HookKind::Forward), 0);
    assert_eq!(m.call(1.0).unwrap(), 2.0);
}

#[test]
fn removing_a_later_hook_during_a_call_takes_effect_from_the_next_call() {
    let m = AddOne::default();
    let fired = log();
    let later: Arc<Mutex<Option<RemovableHandle>>> = Arc::default();
    let (f, l) = (fired.clone(), later.clone());
    let _first = m.register_forward_hook(
        move |_, _: &f64, _: &f64| {
            push(&f, "first");
            if let Some(h) = l.lock().unwrap().as_ref() {
                h.remove();
            }
            None
        },
        HookOptions::default(),
    );
    let f = fired.clone();
    *later.lock().unwrap() = Some(m.register_forward_hook(
        move |_, _: &f64, _: &f64| {
            push(&f, "second");
            None
        },
        HookOptions::default(),
    ));
    m.call(0.0).unwrap();
    m.call(0.0).unwrap();
    assert_eq!(entries(&fired), ["first", "second", "first"]);
}

#[test]
fn a_hook_registered_while_hooks_run_fires_from_the_next_call() {
    let m = Arc::new(AddOne::default());
    let fired = log();
    let registered: Arc<Mutex<Vec<RemovableHandle>>> = Arc::default();
    let (f, r, weak) = (fired.clone(), registered.clone(), Arc::downgrade(&m));
    let _adder = m.register_forward_hook(
        move |_, _: &f64, _: &f64| {
            push(&f, "adder");
            let first_call = r.lock().unwrap().is_empty();
            if let (Some(m), true) = (weak.upgrade(), first_call) {
                let f = f.clone();
                let h = m.register_forward_hook(
                    move |_, _: &f64, _: &f64| {
                        push(&f, "added");
                        None
                    },
                    HookOptions::default(),
                );
                r.lock().unwrap().push(h);
            }
            None
        },
        HookOptions::default(),
    );
    m.call(0.0).unwrap();
    assert_eq!(entries(&fired), ["adder"]);
    m.call(0.0).unwrap();
    assert_eq!(entries(&fired), ["adder", "adder", "added"]);
}

/// Registers a forward hook on itself inside `forward`.
#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct SelfHooking {
    core: ModuleCore,
}

impl Forward<Tensor, (f64, Log)> for SelfHooking {
    type Output = f64;
    fn forward(&self, (x, log): (f64, Log)) -> ForwardResult<f64> {
        let h = self.register_forward_hook(
            move |_, _: &(f64, Log), _: &f64| {
                push(&log, "registered in forward");
                None
            },
            HookOptions::default(),
        );
        std::mem::forget(h);
        Ok(x)
    }
}

#[test]
fn a_hook_registered_inside_forward_fires_only_if_the_call_was_already_hooked() {
    let fresh = SelfHooking::default();
    let fired = log();
    fresh.call((0.0, fired.clone())).unwrap();
    assert!(
        entries(&fired).is_empty(),
        "fast path: decided before forward ran"
    );
    let hooked = SelfHooking::default();
    let _any = hooked.register_forward_pre_hook(|_, _: &(f64, Log)| None, HookOptions::default());
    let fired = log();
    hooked.call((0.0, fired.clone())).unwrap();
    assert_eq!(entries(&fired), ["registered in forward"]);
}

#[test]
fn a_guard_removes_its_hook_at_the_end_of_the_scope() {
    let m = AddOne::default();
    {
        let _guard = m
            .register_forward_hook(
                |_, _: &f64, y: &f64| Some(y * 100.0),
                HookOptions::default(),
            )
            .guard();
        assert_eq!(m.call(1.0).unwrap(), 200.0);
    }
    assert_eq!(m.call(1.0).unwrap(), 2.0);
}

fn always(m: &Picky, log: &Log, name: &'static str, prepend: bool) -> RemovableHandle {
    let log = log.clone();
    m.register_forward_hook_always_call(
        move |_, x: &f64, _: &(), out: Option<&f64>| {
            push(&log, format!("{name} x={x} out={out:?}"));
            None
        },
        prepend_if(prepend),
    )
}

#[test]
fn always_call_hooks_run_once_when_nothing_fails() {
    let m = Picky::default();
    let fired = log();
    let h = always(&m, &fired, "always", false);
    assert_eq!(m.call(2.0).unwrap(), 2.0);
    assert_eq!(entries(&fired), ["always x=2 out=Some(2.0)"]);
    assert_eq!(
        m.core()
            .hooks()
            .lock()
            .ids_with(HookKind::Forward, HookFlag::AlwaysCall),
        [h.id()]
    );
    h.remove();
    assert!(m
        .core()
        .hooks()
        .lock()
        .ids_with(HookKind::Forward, HookFlag::AlwaysCall)
        .is_empty());
}

#[test]
fn always_call_hooks_run_when_forward_fails_and_the_error_propagates() {
    let m = Picky::default();
    let fired = log();
    let f = fired.clone();
    let _normal = m.register_forward_hook(
        move |_, _: &f64, _: &f64| {
            push(&f, "normal");
            None
        },
        HookOptions::default(),
    );
    let _always = always(&m, &fired, "always", false);
    let e = m.call(-1.0).unwrap_err();
    assert_eq!(e.to_string(), "negative input");
    assert_eq!(entries(&fired), ["always x=-1 out=None"]);
}

#[test]
fn always_call_hooks_run_when_forward_panics_and_the_panic_propagates_unchanged() {
    let m = Picky::default();
    let fired = log();
    let _always = always(&m, &fired, "always", false);
    let panic = catch_unwind(AssertUnwindSafe(|| m.call(f64::NAN))).unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"forward panicked"));
    assert_eq!(entries(&fired), ["always x=NaN out=None"]);
    // The module is still usable.
    assert_eq!(m.call(3.0).unwrap(), 3.0);
}

#[test]
fn always_call_hooks_run_when_a_pre_hook_panics() {
    let m = Picky::default();
    let fired = log();
    let _pre = m.register_forward_pre_hook(
        |_, _: &f64| panic!("pre-hook failed"),
        HookOptions::default(),
    );
    let _always = always(&m, &fired, "always", false);
    let panic = catch_unwind(AssertUnwindSafe(|| m.call(1.0))).unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"pre-hook failed"));
    assert_eq!(entries(&fired), ["always x=1 out=None"]);
}

#[test]
fn a_panicking_always_call_hook_on_the_failure_path_does_not_replace_the_error() {
    let m = Picky::default();
    let fired = log();
    let _thrower = m.register_forward_hook_always_call(
        |_, _: &f64, _: &(), _: Option<&f64>| panic!("always hook failed"),
        prepend_if(true),
    );
    let _other = always(&m, &fired, "other", false);
    let e = m.call(-1.0).unwrap_err();
    assert_eq!(e.to_string(), "negative input");
    assert_eq!(entries(&fired), ["other x=-1 out=None"]);
}

#[test]
fn an_always_call_hook_failing_in_the_normal_path_is_not_rerun() {
    let m = Picky::default();
    let fired = log();
    let _first = always(&m, &fired, "first", false);
    let f = fired.clone();
    let _thrower = m.register_forward_hook_always_call(
        move |_, _: &f64, _: &(), _: Option<&f64>| {
            push(&f, "thrower");
            panic!("always hook failed")
        },
        HookOptions::default(),
    );
    let f = fired.clone();
    let _normal = m.register_forward_hook(
        move |_, _: &f64, _: &f64| {
            push(&f, "normal");
            None
        },
        HookOptions::default(),
    );
    let _last = always(&m, &fired, "last", false);
    let panic = catch_unwind(AssertUnwindSafe(|| m.call(1.0))).unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"always hook failed"));
    // `first` and `thrower` ran normally; the handler ran only `last` (with the output so far);
    // the ordinary hook after the failure did not run.
    assert_eq!(
        entries(&fired),
        [
            "first x=1 out=Some(1.0)",
            "thrower",
            "last x=1 out=Some(1.0)"
        ]
    );
}

#[test]
fn hooks_can_be_added_and_removed_while_other_threads_call_the_module() {
    let m = AddOne::default();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..500 {
                    let y = m.call(1.0).unwrap();
                    assert!(y == 2.0 || y == 20.0, "{y}");
                    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        s.spawn(|| {
            for _ in 0..200 {
                let h = m.register_forward_hook(
                    |_, _: &f64, y: &f64| Some(y * 10.0),
                    HookOptions::default(),
                );
                h.remove();
            }
        });
    });
    assert_eq!(calls.into_inner(), 1000);
    assert_eq!(m.core().hooks().lock().len(HookKind::Forward), 0);
    assert_eq!(m.call(1.0).unwrap(), 2.0);
}

#[test]
fn type_erased_hooks_run_on_every_call_and_check_replacements() {
    let m = AddOne::default();
    let h = m.register_forward_hook_any(
        |_, args, _, out| {
            let x = args.downcast_ref::<f64>().copied().unwrap_or_default();
            let y = out
                .and_then(|o| o.downcast_ref::<f64>())
                .copied()
                .unwrap_or_default();
            Some(Box::new(x + y))
        },
        HookOptions::default(),
    );
    assert_eq!(m.call(1.0).unwrap(), 3.0);
    h.remove();
    let _wrong =
        m.register_forward_hook_any(|_, _, _, _| Some(Box::new("text")), HookOptions::default());
    let e = m.call(1.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "forward hook {} returned a value that is not a `f64`",
            _wrong.id()
        )
    );
    _wrong.remove();
    let pre =
        m.register_forward_pre_hook_any(|_, _| Some(Box::new("text")), HookOptions::default());
    assert_eq!(
        m.call(1.0).unwrap_err().to_string(),
        format!(
            "forward pre-hook {} returned a value that is not a `f64`",
            pre.id()
        )
    );
}

#[test]
fn a_type_erased_hook_sees_kwargs_only_when_registered_with_kwargs() {
    let m = KwModule::default();
    let seen = log();
    for with_kwargs in [false, true] {
        let s = seen.clone();
        let options = HookOptions {
            with_kwargs,
            ..HookOptions::default()
        };
        let _h = m
            .register_forward_hook_any(
                move |_, _, kwargs, _| {
                    let bias = kwargs.downcast_ref::<Bias>().map(|b| b.bias);
                    let unit = kwargs.is::<()>();
                    push(
                        &s,
                        format!("with_kwargs={with_kwargs} bias={bias:?} unit={unit}"),
                    );
                    None
                },
                options,
            )
            .guard();
        m.call_with_kwargs(1.0, Bias { bias: 2.0 }).unwrap();
    }
    // PyTorch calls a hook registered without `with_kwargs` as `hook(module, args, output)`.
    assert_eq!(
        entries(&seen),
        [
            "with_kwargs=false bias=None unit=true",
            "with_kwargs=true bias=Some(2.0) unit=false"
        ]
    );
}

#[test]
fn removing_a_hook_that_owns_another_hooks_guard_removes_both() {
    let m = AddOne::default();
    let inner = m
        .register_forward_hook(|_, _: &f64, _: &f64| None, HookOptions::default())
        .guard();
    let outer = m.register_forward_hook(
        move |_, _: &f64, _: &f64| {
            let _keep = &inner;
            None
        },
        HookOptions::default(),
    );
    assert_eq!(outer.dict_len(), Some(2));
    // Dropping the outer hook drops the inner guard, which removes the inner hook: no deadlock.
    outer.remove();
    assert_eq!(outer.dict_len(), Some(0));
    assert_eq!(m.core().hooks().call_hooks(), 0);
}

#[test]
fn hooks_can_be_removed_while_iterating_over_the_table() {
    let m = AddOne::default();
    let handles: Vec<RemovableHandle> = (0..3)
        .map(|_| m.register_forward_hook(|_, _: &f64, _: &f64| None, HookOptions::default()))
        .collect();
    for id in m.core().hooks().lock().ids(HookKind::Forward) {
        let handle = handles.iter().find(|h| h.id() == id).unwrap();
        handle.remove();
    }
    assert_eq!(m.core().hooks().lock().len(HookKind::Forward), 0);
}

#[test]
fn a_hook_whose_state_panics_on_drop_is_still_removed() {
    let m = AddOne::default();
    let state = PanicsOnDrop;
    let h = m.register_forward_hook(
        move |_, _: &f64, _: &f64| {
            let _keep = &state;
            None
        },
        HookOptions::default(),
    );
    assert_eq!(m.core().hooks().call_hooks(), 1);
    h.remove(); // the drop's panic is reported, not propagated
    assert_eq!(m.core().hooks().call_hooks(), 0);
    assert_eq!(h.dict_len(), Some(0));
    assert_eq!(m.call(1.0).unwrap(), 2.0);
}
