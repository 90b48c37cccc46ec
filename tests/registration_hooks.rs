//! Spec §3.4: the global registration hooks. They are process-wide, so this file is its own
//! test binary and its tests take a lock, so no other test registers members meanwhile.

mod common;
use std::sync::{Arc, Mutex};

use common::*;
use modcore::{
    register_module_buffer_registration_hook, register_module_module_registration_hook,
    register_module_parameter_registration_hook, Buffer, Module, Parameter, Value,
};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

#[test]
fn parameter_hooks_see_every_run_time_parameter_but_not_none() {
    let _serial = serial();
    let seen = log();
    let s = seen.clone();
    let handle = register_module_parameter_registration_hook::<T>(move |m, name, _| {
        s.lock().unwrap().push(format!("{}.{name}", m.type_name()));
        None
    });
    let mut m = empty();
    m.register_parameter("a", Some(param(&[1]))).unwrap();
    m.register_parameter("none", None).unwrap();
    m.set_attr("b", Value::parameter(zeros(&[1]))).unwrap();
    let mut l = Linear::new(1, 1);
    l.set_attr("weight", Value::parameter(zeros(&[2, 2])))
        .unwrap();
    handle.remove();
    m.register_parameter("after", Some(param(&[1]))).unwrap();
    assert_eq!(entries(&seen), ["Empty.a", "Empty.b", "Linear.weight"]);
}

#[test]
fn a_hooks_return_value_is_what_gets_stored_and_hooks_chain() {
    let _serial = serial();
    let replacement = param(&[7]);
    let r = replacement.clone();
    let first = register_module_parameter_registration_hook::<T>(move |_, _, _| Some(r.clone()));
    let seen_by_second = log();
    let s = seen_by_second.clone();
    let second = register_module_parameter_registration_hook::<T>(move |_, _, p| {
        s.lock().unwrap().push(format!("{:?}", p.shape()));
        None
    });
    let mut m = empty();
    m.register_parameter("w", Some(param(&[1]))).unwrap();
    first.remove();
    second.remove();
    assert!(m.get_parameter("w").unwrap().same(&replacement));
    assert_eq!(entries(&seen_by_second), ["[7]"]);
}

#[test]
fn buffer_hooks_run_for_none_and_may_replace() {
    let _serial = serial();
    let seen = log();
    let s = seen.clone();
    let handle = register_module_buffer_registration_hook::<T>(move |_, name, b| {
        s.lock().unwrap().push(format!("{name}:{}", b.is_some()));
        (name == "filled").then(|| Buffer::new(zeros(&[3])))
    });
    let mut m = empty();
    m.register_buffer("b", Some(zeros(&[1])), true).unwrap();
    m.register_buffer("none", None, true).unwrap();
    m.register_buffer("filled", None, false).unwrap();
    m.set_attr("b", Value::Tensor(zeros(&[2]))).unwrap();
    handle.remove();
    assert_eq!(
        entries(&seen),
        ["b:true", "none:false", "filled:false", "b:true"]
    );
    assert_eq!(m.get_buffer("filled").unwrap().unwrap().shape(), vec![3]);
    assert_eq!(m.non_persistent_buffers(), ["filled"]);
}

#[test]
fn module_hooks_run_for_setattr_add_module_and_none_and_may_replace() {
    let _serial = serial();
    let seen = log();
    let s = seen.clone();
    let handle = register_module_module_registration_hook::<T>(move |_, name, m| {
        s.lock()
            .unwrap()
            .push(format!("{name}:{}", m.map_or("None", |m| m.type_name())));
        (name == "swap").then(|| Box::new(Linear::new(1, 1)) as Box<dyn Module<T>>)
    });
    let mut m = empty();
    m.register_module("a", Some(Box::new(empty()))).unwrap();
    m.set_attr("b", Value::module(Net::new())).unwrap();
    m.set_attr("b", Value::None).unwrap();
    m.register_module("none", None).unwrap();
    m.register_module("swap", Some(Box::new(empty()))).unwrap();
    let mut n = Net::new();
    n.set_attr("l1", Value::module(Layer::new())).unwrap();
    handle.remove();
    assert_eq!(
        entries(&seen),
        [
            "a:Empty",
            "b:Net",
            "b:None",
            "none:None",
            "swap:Empty",
            "l1:Layer"
        ]
    );
    assert_eq!(m.get_submodule("swap").unwrap().type_name(), "Linear");
}

#[test]
fn hooks_are_typed_by_tensor_type() {
    let _serial = serial();
    type Other = ndarray::ArcArray<f64, ndarray::IxDyn>;
    let seen = log();
    let s = seen.clone();
    let handle = register_module_parameter_registration_hook::<Other>(move |_, name, _| {
        s.lock().unwrap().push(name.to_owned());
        None
    });
    let mut m = empty();
    m.register_parameter("f32_param", Some(Parameter::new(zeros(&[1]))))
        .unwrap();
    handle.remove();
    assert!(entries(&seen).is_empty());
}

#[test]
fn a_hook_may_register_hooks_while_running() {
    let _serial = serial();
    let inner_handles = Arc::new(Mutex::new(Vec::new()));
    let h = inner_handles.clone();
    let outer = register_module_parameter_registration_hook::<T>(move |_, _, _| {
        h.lock()
            .unwrap()
            .push(register_module_parameter_registration_hook::<T>(
                |_, _, _| None,
            ));
        None
    });
    let mut m = empty();
    m.register_parameter("a", Some(param(&[1]))).unwrap();
    outer.remove();
    for handle in inner_handles.lock().unwrap().drain(..) {
        handle.remove();
    }
    assert!(m.has_attr("a"));
}
