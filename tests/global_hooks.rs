//! Spec §5: global forward hooks (PyTorch's `register_module_forward_*_hook`). They are
//! process-wide, so this file is its own test binary and its tests run one at a time.

mod common;
use common::{serial, AddOne};
use std::any::Any;
use std::sync::{Arc, Mutex};

use candle_core::Tensor;
use modcore::{
    register_module_forward_hook, register_module_forward_pre_hook, Forward, ForwardKw,
    ForwardResult, HookOptions, Module, ModuleCore, ModuleHooks,
};

#[derive(Clone)]
struct Bias(f64);

#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct KwModule {
    core: ModuleCore,
}

impl ForwardKw<Tensor, f64, Bias> for KwModule {
    type Output = f64;
    fn forward_kw(&self, x: f64, kw: Bias) -> ForwardResult<f64> {
        Ok(x + kw.0)
    }
}

type Log = Arc<Mutex<Vec<String>>>;

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

#[test]
fn global_hooks_run_before_local_ones_even_prepended() {
    let _serial = serial();
    let m = AddOne::default();
    let fired: Log = Arc::default();
    let f = fired.clone();
    let local_pre = m.register_forward_pre_hook(
        move |_, _: &f64| {
            f.lock().unwrap().push("local pre".into());
            None
        },
        HookOptions::default().prepend(),
    );
    let f = fired.clone();
    let local_post = m.register_forward_hook(
        move |_, _: &f64, _: &f64| {
            f.lock().unwrap().push("local forward".into());
            None
        },
        HookOptions::default().prepend(),
    );
    let f = fired.clone();
    let global_pre = register_module_forward_pre_hook::<Tensor>(move |_, _| {
        f.lock().unwrap().push("global pre".into());
        None
    });
    let f = fired.clone();
    let global_post = register_module_forward_hook::<Tensor>(
        move |_, _, _, _| {
            f.lock().unwrap().push("global forward".into());
            None
        },
        HookOptions::default(),
    );
    m.call(1.0).unwrap();
    for h in [local_pre, local_post, global_pre, global_post] {
        h.remove();
    }
    assert_eq!(
        entries(&fired),
        ["global pre", "local pre", "global forward", "local forward"]
    );
}

#[test]
fn a_global_hook_fires_for_every_call_of_every_module_until_removed() {
    let _serial = serial();
    let modules = [AddOne::default(), AddOne::default(), AddOne::default()];
    let count = Arc::new(Mutex::new(0));
    let c = count.clone();
    let handle = register_module_forward_hook::<Tensor>(
        move |m, _, _, _| {
            assert_eq!(m.type_name(), "AddOne");
            *c.lock().unwrap() += 1;
            None
        },
        HookOptions::default(),
    );
    for round in 1..=2 {
        for m in &modules {
            m.call(0.0).unwrap();
        }
        assert_eq!(*count.lock().unwrap(), 3 * round);
    }
    handle.remove();
    for m in &modules {
        m.call(0.0).unwrap();
    }
    assert_eq!(*count.lock().unwrap(), 6);
}

#[test]
fn global_hooks_replace_values_through_any_and_see_kwargs() {
    let _serial = serial();
    let pre = register_module_forward_pre_hook::<Tensor>(|_, args| {
        args.downcast_ref::<f64>()
            .map(|x| Box::new(x * 10.0) as Box<dyn Any>)
    });
    let seen: Log = Arc::default();
    let s = seen.clone();
    let post = register_module_forward_hook::<Tensor>(
        move |_, _, kwargs, out| {
            if let Some(Bias(b)) = kwargs.downcast_ref::<Bias>() {
                s.lock().unwrap().push(format!("bias {b}"));
            }
            out.and_then(|o| o.downcast_ref::<f64>())
                .map(|y| Box::new(-y) as Box<dyn Any>)
        },
        HookOptions::default().with_kwargs(),
    );
    let plain = AddOne::default().call(1.0).unwrap();
    let kw = KwModule::default()
        .call_with_kwargs(1.0, Bias(2.0))
        .unwrap();
    pre.remove();
    post.remove();
    assert_eq!(plain, -11.0);
    assert_eq!(kw, -12.0);
    assert_eq!(entries(&seen), ["bias 2"]);
}

#[test]
fn a_global_always_call_hook_runs_when_forward_fails() {
    let _serial = serial();
    #[derive(Module, Default)]
    #[module(tensor = Tensor)]
    struct Failing {
        core: ModuleCore,
    }
    impl Forward<Tensor, f64> for Failing {
        type Output = f64;
        fn forward(&self, _: f64) -> ForwardResult<f64> {
            Err("boom".into())
        }
    }
    let seen: Log = Arc::default();
    let s = seen.clone();
    let handle = register_module_forward_hook::<Tensor>(
        move |_, _, _, out| {
            s.lock()
                .unwrap()
                .push(format!("output present: {}", out.is_some()));
            None
        },
        HookOptions::default().always_call(),
    );
    let e = Failing::default().call(1.0).unwrap_err();
    handle.remove();
    assert_eq!(e.to_string(), "boom");
    assert_eq!(entries(&seen), ["output present: false"]);
}

#[test]
fn a_prepended_global_forward_hook_runs_before_the_other_global_ones() {
    let _serial = serial();
    let fired: Log = Arc::default();
    let hook = |name: &'static str| {
        let f = fired.clone();
        move |_: &dyn Module<Tensor>, _: &dyn Any, _: &dyn Any, _: Option<&dyn Any>| {
            f.lock().unwrap().push(name.into());
            None
        }
    };
    let first = register_module_forward_hook::<Tensor>(hook("first"), HookOptions::default());
    let front =
        register_module_forward_hook::<Tensor>(hook("front"), HookOptions::default().prepend());
    AddOne::default().call(1.0).unwrap();
    first.remove();
    front.remove();
    assert_eq!(entries(&fired), ["front", "first"]);
}
