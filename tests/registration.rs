//! Spec §3: register_parameter, register_buffer, register_module (add_module).

mod common;
use common::*;
use modcore::{Error, MemberKind, Module, ModuleCore, Parameter, PythonType};

#[test]
fn register_parameter_rejects_a_dot_then_the_empty_name() {
    let mut m = empty();
    let e = m.register_parameter("a.b", None).unwrap_err();
    assert_eq!(e.to_string(), r#"parameter name can't contain ".""#);
    assert_eq!(e.python_type(), PythonType::KeyError);
    let e = m.register_parameter("", None).unwrap_err();
    assert_eq!(e.to_string(), r#"parameter name can't be empty string """#);
    assert!(m.dir().is_empty());
}

#[test]
fn register_parameter_on_a_reserved_name_already_exists() {
    let mut m = empty();
    let e = m.register_parameter("forward", None).unwrap_err();
    assert_eq!(e.to_string(), "attribute 'forward' already exists");
    let e = m.register_parameter("training", None).unwrap_err();
    assert_eq!(e.to_string(), "attribute 'training' already exists");
}

#[test]
fn register_parameter_on_a_buffer_module_or_plain_field_already_exists() {
    let mut m = empty();
    m.register_buffer("buf", Some(zeros(&[1])), true).unwrap();
    m.register_module("sub", Some(Box::new(empty()))).unwrap();
    for name in ["buf", "sub"] {
        let e = m.register_parameter(name, Some(param(&[1]))).unwrap_err();
        assert_eq!(e.to_string(), format!("attribute '{name}' already exists"));
    }
    // Declared members of another kind too.
    let mut net = Net::new();
    let e = net.register_parameter("dummy_buf", None).unwrap_err();
    assert_eq!(e.to_string(), "attribute 'dummy_buf' already exists");
    let e = net.register_parameter("l1", None).unwrap_err();
    assert_eq!(e.to_string(), "attribute 'l1' already exists");
}

#[test]
fn register_parameter_overwrites_in_place_including_with_none() {
    let mut m = empty();
    m.register_parameter("a", Some(param(&[1]))).unwrap();
    m.register_parameter("b", Some(param(&[1]))).unwrap();
    let replacement = param(&[2]);
    m.register_parameter("a", Some(replacement.clone()))
        .unwrap();
    assert_eq!(names(m.named_parameters()), ["a", "b"]);
    assert!(m.get_parameter("a").unwrap().same(&replacement));
    m.register_parameter("a", None).unwrap();
    assert_eq!(names(m.named_parameters()), ["b"]);
    assert!(m.get_attr("a").unwrap().is_none());
    assert!(m.has_attr("a"));
}

#[test]
fn register_parameter_on_a_declared_parameter_assigns_the_field() {
    let mut l = Linear::new(2, 2);
    let w = param(&[5, 5]);
    l.register_parameter("weight", Some(w.clone())).unwrap();
    assert!(l.weight.same(&w));
    l.register_parameter("bias", None).unwrap();
    assert!(l.bias.is_none());
    assert_eq!(names(l.named_parameters()), ["weight"]);
    // A non-Option field cannot hold None; the field is unchanged.
    let e = l.register_parameter("weight", None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot assign 'NoneType' to parameter 'weight' of 'Linear' (Parameter<T> expected)"
    );
    assert!(l.weight.same(&w));
}

#[test]
fn register_buffer_validation_order_and_messages() {
    let mut m = empty();
    assert_eq!(
        m.register_buffer("a.b", None, true)
            .unwrap_err()
            .to_string(),
        r#"buffer name can't contain ".""#
    );
    assert_eq!(
        m.register_buffer("", None, true).unwrap_err().to_string(),
        r#"buffer name can't be empty string """#
    );
    m.register_parameter("p", None).unwrap();
    m.register_module("sub", None).unwrap();
    for name in ["p", "sub", "training"] {
        let e = m
            .register_buffer(name, Some(zeros(&[1])), true)
            .unwrap_err();
        assert_eq!(e.to_string(), format!("attribute '{name}' already exists"));
        assert_eq!(e.python_type(), PythonType::KeyError);
    }
}

#[test]
fn register_buffer_overwrites_and_flips_persistence_both_ways() {
    let mut m = empty();
    m.register_buffer("buf", Some(zeros(&[1])), false).unwrap();
    assert_eq!(m.non_persistent_buffers(), ["buf"]);
    m.register_buffer("buf", Some(zeros(&[2])), true).unwrap();
    assert!(m.non_persistent_buffers().is_empty());
    m.register_buffer("buf", None, false).unwrap();
    assert_eq!(m.non_persistent_buffers(), ["buf"]);
    assert!(m.buffers().is_empty());
    assert!(m.get_buffer("buf").unwrap().is_none());
}

#[test]
fn declared_buffer_persistence_is_fixed() {
    #[derive(Module)]
    struct Stats {
        core: ModuleCore,
        #[buffer(persistent = false)]
        cache: modcore::Buffer<T>,
    }
    let mut s = Stats {
        core: ModuleCore::new(),
        cache: zeros(&[1]).into(),
    };
    let e = s
        .register_buffer("cache", Some(zeros(&[3])), true)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "buffer 'cache' of 'Stats' is declared with persistent = false; it cannot be registered with persistent = true"
    );
    assert_eq!(s.cache.shape(), vec![1]);
    s.register_buffer("cache", Some(zeros(&[3])), false)
        .unwrap();
    assert_eq!(s.cache.shape(), vec![3]);
}

#[test]
fn register_module_checks_existence_before_the_dot() {
    let mut m = empty();
    m.register_parameter("p", None).unwrap();
    m.register_buffer("b", None, true).unwrap();
    for name in ["p", "b", "forward"] {
        let e = m
            .register_module(name, Some(Box::new(empty())))
            .unwrap_err();
        assert_eq!(e.to_string(), format!("attribute '{name}' already exists"));
    }
    let e = m
        .register_module("name.with.dot", Some(Box::new(empty())))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"module name can't contain ".", got: name.with.dot"#
    );
    let e = m.register_module("", Some(Box::new(empty()))).unwrap_err();
    assert_eq!(e.to_string(), r#"module name can't be empty string """#);
    assert!(matches!(
        e,
        Error::EmptyName {
            kind: MemberKind::Module
        }
    ));
}

#[test]
fn register_module_none_and_replacement_keep_position() {
    let mut m = empty();
    m.register_module("a", Some(Box::new(Linear::new(1, 1))))
        .unwrap();
    m.register_module("empty", None).unwrap();
    m.register_module("c", Some(Box::new(empty()))).unwrap();
    assert!(m.get_attr("empty").unwrap().is_none());
    assert_eq!(names(m.named_children()), ["a", "c"]);
    m.register_module("a", Some(Box::new(empty()))).unwrap();
    assert_eq!(names(m.named_children()), ["a", "c"]);
    assert_eq!(m.get_submodule("a").unwrap().type_name(), "Empty");
    // Digit names are legal module names.
    m.register_module("0", Some(Box::new(empty()))).unwrap();
    m.register_module("1abc", None).unwrap();
    assert_eq!(names(m.named_children()), ["a", "c", "0"]);
}

#[test]
fn register_module_on_a_declared_module_checks_its_type() {
    let mut net = Net::new();
    let e = net
        .register_module("l1", Some(Box::new(Linear::new(1, 1))))
        .unwrap_err();
    assert!(e.to_string().starts_with("cannot assign '"));
    assert!(e
        .to_string()
        .ends_with("' to module 'l1' of 'Net' (Layer expected)"));
    assert_eq!(e.python_type(), PythonType::TypeError);
    let mut replacement = Layer::new();
    replacement.layer_dummy_param = param(&[9]);
    net.register_module("l1", Some(Box::new(replacement)))
        .unwrap();
    assert_eq!(net.l1.layer_dummy_param.shape(), vec![9]);
}

#[test]
fn parameters_default_to_requires_grad() {
    let p = Parameter::new(zeros(&[2]));
    assert!(p.requires_grad());
    let frozen = Parameter::with_requires_grad(zeros(&[2]), false);
    assert!(!frozen.requires_grad());
}
