//! Spec §5.5 on the candle backend: full backward pre-hooks and full backward hooks, local and
//! global, with gradients checked against values computed by hand. Global hooks make this file
//! its own test binary; its tests run one at a time.

mod common;
use common::serial;
use std::sync::{Arc, Mutex};

use candle_core::{Device, Tensor, Var};
use modcore::{
    register_module_full_backward_hook, register_module_full_backward_pre_hook, Forward,
    ForwardResult, HookOptions, Module, ModuleCore, ModuleHooks,
};

/// `y = 3 x`, so `dy/dx = 3`.
#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct Triple {
    core: ModuleCore,
}

impl Forward<Tensor, Tensor> for Triple {
    type Output = Tensor;
    fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
        Ok((x * 3.0)?)
    }
}

fn var(values: &[f32]) -> Var {
    Var::new(values, &Device::Cpu).unwrap()
}

fn full(value: f32, like: &Tensor) -> Option<Tensor> {
    Some(like.ones_like().unwrap().affine(value as f64, 0.0).unwrap())
}

fn values(t: &Tensor) -> Vec<f32> {
    t.to_vec1().unwrap()
}

/// `sum(m(x))` backwards; the gradient of `x`.
fn grad_of_sum(m: &Triple, x: &Var) -> candle_core::Result<Vec<f32>> {
    let y = m.call(x.as_tensor().clone()).unwrap();
    let grads = y.sum_all()?.backward()?;
    Ok(values(grads.get(x).unwrap()))
}

type Log = Arc<Mutex<Vec<String>>>;

fn describe(grads: &[Option<Tensor>]) -> String {
    let parts: Vec<String> = grads
        .iter()
        .map(|g| {
            g.as_ref()
                .map_or("None".to_owned(), |t| format!("{:?}", values(t)))
        })
        .collect();
    parts.join(",")
}

#[test]
fn without_hooks_the_gradient_is_untouched() {
    let _serial = serial();
    assert_eq!(
        grad_of_sum(&Triple::default(), &var(&[1.0, 2.0])).unwrap(),
        [3.0, 3.0]
    );
}

#[test]
fn hooks_see_and_replace_gradients_in_pytorchs_order() {
    let _serial = serial();
    let m = Triple::default();
    let log: Log = Arc::default();
    let l = log.clone();
    let global_pre = register_module_full_backward_pre_hook(move |grad_output| {
        l.lock()
            .unwrap()
            .push(format!("global pre {}", describe(grad_output)));
        None
    });
    let l = log.clone();
    // The pre-hook doubles the gradient flowing into the module's output.
    let local_pre = m.register_full_backward_pre_hook(
        move |grad_output| {
            l.lock()
                .unwrap()
                .push(format!("local pre {}", describe(grad_output)));
            Some(vec![full(2.0, grad_output[0].as_ref().unwrap())])
        },
        HookOptions::default(),
    );
    let l = log.clone();
    let global_full = register_module_full_backward_hook(move |grad_input, grad_output| {
        l.lock().unwrap().push(format!(
            "global full {} | {}",
            describe(grad_input),
            describe(grad_output)
        ));
        None
    })
    .unwrap();
    let l = log.clone();
    // The full hook sees grad_input = 3 * 2 and replaces it with 0.5.
    let local_full = m
        .register_full_backward_hook(
            move |grad_input, grad_output| {
                l.lock().unwrap().push(format!(
                    "local full {} | {}",
                    describe(grad_input),
                    describe(grad_output)
                ));
                Some(vec![full(0.5, grad_input[0].as_ref().unwrap())])
            },
            HookOptions::default(),
        )
        .unwrap();
    let grad = grad_of_sum(&m, &var(&[1.0, 2.0])).unwrap();
    for h in [global_pre, local_pre, global_full, local_full] {
        h.remove();
    }
    assert_eq!(grad, [0.5, 0.5]);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "global pre [1.0, 1.0]",
            "local pre [1.0, 1.0]",
            "global full [6.0, 6.0] | [2.0, 2.0]",
            "local full [6.0, 6.0] | [2.0, 2.0]",
        ]
    );
    // Removed: back to the plain gradient.
    assert_eq!(grad_of_sum(&m, &var(&[1.0, 2.0])).unwrap(), [3.0, 3.0]);
}

#[test]
fn a_replacement_of_the_wrong_length_fails_the_backward_pass() {
    let _serial = serial();
    let m = Triple::default();
    let _h = m.register_full_backward_pre_hook(|_| Some(vec![None, None]), HookOptions::default());
    let e = grad_of_sum(&m, &var(&[1.0])).unwrap_err();
    assert!(
        e.to_string().contains(
            "Backward pre hook returned an invalid number of grad_output, got 2, but expected 1"
        ),
        "{e}"
    );
    let m = Triple::default();
    let _h = m
        .register_full_backward_hook(|_, _| Some(vec![]), HookOptions::default())
        .unwrap();
    let e = grad_of_sum(&m, &var(&[1.0])).unwrap_err();
    assert!(
        e.to_string().contains(
            "Backward hook returned an invalid number of grad_input, got 0, but expected 1"
        ),
        "{e}"
    );
}

#[test]
fn when_no_input_needs_a_gradient_full_hooks_fire_with_none() {
    let _serial = serial();
    /// `y = x * w` with a learnable `w` (a candle `Var`, plain data here): the input needs no
    /// gradient.
    #[derive(Module)]
    struct Wrapper {
        core: ModuleCore,
        #[module(skip)]
        w: Var,
    }
    impl Forward<Tensor, Tensor> for Wrapper {
        type Output = Tensor;
        fn forward(&self, x: Tensor) -> ForwardResult<Tensor> {
            Ok(x.mul(self.w.as_tensor())?)
        }
    }
    let m = Wrapper {
        core: ModuleCore::new(),
        w: var(&[2.0, 2.0]),
    };
    let log: Log = Arc::default();
    let l = log.clone();
    let handle = ModuleHooks::<Tensor>::register_full_backward_hook(
        &m,
        move |grad_input, grad_output| {
            l.lock().unwrap().push(format!(
                "{} | {}",
                describe(grad_input),
                describe(grad_output)
            ));
            None
        },
        HookOptions::default(),
    )
    .unwrap();
    let x = Tensor::new(&[1f32, 5.0], &Device::Cpu).unwrap();
    let y = ModuleHooks::<Tensor>::call(&m, x).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(values(grads.get(&m.w).unwrap()), [1.0, 5.0]);
    assert_eq!(*log.lock().unwrap(), ["None | [1.0, 1.0]"]);
    handle.remove();
    // Returning a gradient for an input that needs none is refused.
    let _bad = ModuleHooks::<Tensor>::register_full_backward_hook(
        &m,
        |_, g| Some(g.to_vec()),
        HookOptions::default(),
    )
    .unwrap();
    let y =
        ModuleHooks::<Tensor>::call(&m, Tensor::new(&[1f32, 5.0], &Device::Cpu).unwrap()).unwrap();
    let e = y.sum_all().unwrap().backward().unwrap_err();
    assert!(e.to_string().contains(
        "Backward hook for Modules where no input requires gradient should always return None or None for all gradients."
    ));
}

#[test]
fn full_hooks_refuse_a_module_already_set_to_legacy_hooks() {
    let _serial = serial();
    let m = Triple::default();
    m.core()
        .hooks()
        .claim_backward_kind(false, "on a single Module")
        .unwrap();
    let e = m
        .register_full_backward_hook(|_, _| None, HookOptions::default())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Cannot use both regular backward hooks and full backward hooks on a single Module. Please use only one of them."
    );
}

#[test]
fn backward_hooks_fire_in_prepend_order_and_only_during_backward() {
    let _serial = serial();
    let m = Triple::default();
    let log: Log = Arc::default();
    let mut handles = Vec::new();
    for i in 0..5 {
        let l = log.clone();
        handles.push(
            m.register_full_backward_hook(
                move |_, _| {
                    l.lock().unwrap().push(format!("full {i}"));
                    None
                },
                HookOptions {
                    prepend: i >= 3,
                    ..HookOptions::default()
                },
            )
            .unwrap(),
        );
        let l = log.clone();
        handles.push(m.register_full_backward_pre_hook(
            move |_| {
                l.lock().unwrap().push(format!("pre {i}"));
                None
            },
            HookOptions {
                prepend: i <= 1,
                ..HookOptions::default()
            },
        ));
    }
    let l = log.clone();
    handles.push(m.register_forward_hook(
        move |_, _: &Tensor, _: &Tensor| {
            l.lock().unwrap().push("forward".into());
            None
        },
        HookOptions::default(),
    ));
    let x = var(&[1.0]);
    let y = m.call(x.as_tensor().clone()).unwrap();
    assert_eq!(*log.lock().unwrap(), ["forward"]);
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "forward", "pre 1", "pre 0", "pre 2", "pre 3", "pre 4", "full 4", "full 3", "full 0",
            "full 1", "full 2"
        ]
    );
}

#[test]
fn a_pre_hook_returning_zeros_zeroes_the_input_gradient() {
    let _serial = serial();
    let m = Triple::default();
    let _h = m.register_full_backward_pre_hook(
        |g| Some(vec![Some(g[0].as_ref().unwrap().zeros_like().unwrap())]),
        HookOptions::default(),
    );
    assert_eq!(grad_of_sum(&m, &var(&[1.0, 2.0])).unwrap(), [0.0, 0.0]);
}

/// Spec §5.3, `inner()` step 1: the backward hooks of a call are collected before its forward
/// pre-hooks run, so a backward hook a pre-hook registers takes effect from the next call.
#[test]
fn a_backward_hook_registered_by_a_pre_hook_counts_from_the_next_call() {
    let _serial = serial();
    let m: &'static Triple = Box::leak(Box::default());
    let ran = Arc::new(Mutex::new(0));
    let count = ran.clone();
    let registered = Arc::new(Mutex::new(false));
    let _pre = m.register_forward_pre_hook(
        move |_, _: &Tensor| {
            let mut done = registered.lock().unwrap();
            if !*done {
                *done = true;
                let count = count.clone();
                let handle = m
                    .register_full_backward_hook(
                        move |_, _| {
                            *count.lock().unwrap() += 1;
                            None
                        },
                        HookOptions::default(),
                    )
                    .unwrap();
                std::mem::forget(handle);
            }
            None
        },
        HookOptions::default(),
    );
    assert_eq!(grad_of_sum(m, &var(&[1.0])).unwrap(), [3.0]);
    assert_eq!(
        *ran.lock().unwrap(),
        0,
        "not in the call that registered it"
    );
    assert_eq!(grad_of_sum(m, &var(&[1.0])).unwrap(), [3.0]);
    assert_eq!(*ran.lock().unwrap(), 1);
}
