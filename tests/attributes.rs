//! Spec §2: the attribute protocol (getattr, setattr routing, delattr, dir) and AttributeError.

mod common;
use common::*;
use modcore::{Attr, Buffer, Error, Module, ModuleCore, PythonType, Value};

#[test]
fn getattr_serves_parameters_buffers_modules_and_plain_fields() {
    let net = Net::new();
    assert!(matches!(
        net.get_attr("dummy_param"),
        Ok(Attr::Parameter(Some(_)))
    ));
    assert!(matches!(
        net.get_attr("dummy_buf"),
        Ok(Attr::Buffer(Some(_)))
    ));
    assert!(matches!(net.get_attr("l1"), Ok(Attr::Module(Some(_)))));
    // The `ModuleCore` field has no PyTorch counterpart: it is no attribute.
    assert!(net.get_attr("core").is_err());
    assert!(matches!(net.get_attr("training"), Ok(Attr::Plain)));
    assert!(net.get_attr("l1").unwrap().module().unwrap().type_name() == "Layer");
}

#[test]
fn getattr_unknown_name_is_pytorchs_attribute_error() {
    let m = empty();
    let e = m.get_attr("nope").unwrap_err();
    assert_eq!(e.to_string(), "'Empty' object has no attribute 'nope'");
    let e = m.get_attr("trainin").unwrap_err();
    assert_eq!(e.to_string(), "'Empty' object has no attribute 'trainin'");
}

#[test]
fn attribute_error_suggests_run_time_members_too() {
    let mut m = empty();
    m.register_buffer("running_mean", Some(zeros(&[2])), true)
        .unwrap();
    let e = m.get_attr("running_maen").unwrap_err();
    assert_eq!(e.suggestion.as_deref(), Some("running_mean"));
    assert_eq!(e.name, "running_maen");
    assert_eq!(e.type_name, "Empty");
}

#[test]
fn a_none_parameter_reads_as_none_and_exists() {
    let mut l = Linear::new(2, 2);
    l.bias = None;
    assert!(matches!(l.get_attr("bias"), Ok(Attr::Parameter(None))));
    assert!(l.has_attr("bias"));
    assert_eq!(names(l.named_parameters()), ["weight"]);
}

#[test]
fn setattr_parameter_adds_one_parameter_and_a_plain_tensor_none() {
    let mut m = empty();
    m.set_attr("param_name", Value::parameter(zeros(&[2])))
        .unwrap();
    assert_eq!(m.parameters().len(), 1);
    // A plain tensor on an unknown name would be an unregistered attribute in PyTorch.
    let e = m.set_attr("var", Value::Tensor(zeros(&[2]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot assign a plain tensor to 'var' of 'Empty': it is not a registered member; use register_buffer, register_parameter or register_module"
    );
    assert_eq!(m.parameters().len(), 1);
    assert!(!m.has_attr("var"));
}

#[test]
fn setattr_tensor_over_a_parameter_is_a_type_error() {
    let mut m = empty();
    m.set_attr("param_attr", Value::parameter(zeros(&[2])))
        .unwrap();
    let e = m
        .set_attr("param_attr", Value::Tensor(zeros(&[2])))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot assign 'Tensor' as parameter 'param_attr' (torch.nn.Parameter or None expected)"
    );
    assert_eq!(e.python_type(), PythonType::TypeError);
    let e = m
        .set_attr("param_attr", Value::module(empty()))
        .unwrap_err();
    assert!(matches!(e, Error::NotAParameterValue { .. }));
}

#[test]
fn setattr_none_over_a_parameter_keeps_the_key() {
    let mut m = empty();
    m.set_attr("a", Value::parameter(zeros(&[1]))).unwrap();
    m.set_attr("b", Value::parameter(zeros(&[1]))).unwrap();
    m.set_attr("a", Value::None).unwrap();
    assert!(matches!(m.get_attr("a"), Ok(Attr::Parameter(None))));
    assert_eq!(names(m.named_parameters()), ["b"]);
    // Back to a parameter: the old position.
    m.set_attr("a", Value::parameter(zeros(&[1]))).unwrap();
    assert_eq!(names(m.named_parameters()), ["a", "b"]);
}

#[test]
fn none_on_an_unknown_name_is_refused() {
    let mut m = empty();
    let e = m.set_attr("a", Value::None).unwrap_err();
    assert!(matches!(e, Error::Unregistered { value: "None", .. }));
    assert!(!m.has_attr("a"));
}

#[test]
fn replace_keeps_position_delete_then_readd_moves_to_the_end() {
    let mut m = empty();
    for name in ["a", "b", "c"] {
        m.set_attr(name, Value::parameter(zeros(&[1]))).unwrap();
    }
    m.set_attr("a", Value::parameter(zeros(&[2]))).unwrap();
    assert_eq!(names(m.named_parameters()), ["a", "b", "c"]);
    m.del_attr("a").unwrap();
    m.set_attr("a", Value::parameter(zeros(&[1]))).unwrap();
    assert_eq!(names(m.named_parameters()), ["b", "c", "a"]);
}

#[test]
fn the_same_position_rules_hold_for_submodules() {
    let mut m = empty();
    for name in ["a", "b", "c"] {
        m.set_attr(name, Value::module(empty())).unwrap();
    }
    m.set_attr("a", Value::None).unwrap();
    assert_eq!(names(m.named_children()), ["b", "c"]);
    m.set_attr("a", Value::module(Linear::new(1, 1))).unwrap();
    assert_eq!(names(m.named_children()), ["a", "b", "c"]);
    m.del_attr("b").unwrap();
    m.set_attr("b", Value::module(empty())).unwrap();
    assert_eq!(names(m.named_children()), ["a", "c", "b"]);
}

#[test]
fn setattr_parameter_over_a_submodule_moves_the_name() {
    let mut m = empty();
    m.set_attr("sub", Value::module(empty())).unwrap();
    m.set_attr("sub", Value::parameter(zeros(&[1]))).unwrap();
    assert!(matches!(m.get_attr("sub"), Ok(Attr::Parameter(Some(_)))));
    assert!(m.named_children().is_empty());
}

#[test]
fn setattr_module_over_a_buffer_removes_the_buffer() {
    let mut m = empty();
    m.register_buffer("b", Some(zeros(&[1])), false).unwrap();
    m.set_attr("b", Value::module(empty())).unwrap();
    assert!(matches!(m.get_attr("b"), Ok(Attr::Module(Some(_)))));
    assert!(m.buffers().is_empty());
    assert!(m.non_persistent_buffers().is_empty());
}

#[test]
fn setattr_tensor_over_a_buffer_re_registers_it_keeping_persistence() {
    let mut m = empty();
    m.register_buffer("b", Some(zeros(&[1])), false).unwrap();
    m.set_attr("b", Value::Tensor(zeros(&[4]))).unwrap();
    assert_eq!(m.get_buffer("b").unwrap().unwrap().shape(), vec![4]);
    assert_eq!(m.non_persistent_buffers(), ["b"]);
    // None too keeps persistence.
    m.set_attr("b", Value::None).unwrap();
    assert_eq!(m.non_persistent_buffers(), ["b"]);
    m.set_attr("b", Value::Tensor(zeros(&[1]))).unwrap();
    assert_eq!(m.non_persistent_buffers(), ["b"]);
    assert_eq!(m.buffers().len(), 1);
}

#[test]
fn setattr_over_a_submodule_only_takes_modules_or_none() {
    let mut m = empty();
    m.set_attr("sub", Value::module(empty())).unwrap();
    let e = m.set_attr("sub", Value::buffer(zeros(&[1]))).unwrap_err();
    // Types show as class names, one convention for every message.
    assert_eq!(
        e.to_string(),
        "cannot assign 'Buffer' as child module 'sub' (torch.nn.Module or None expected)"
    );
}

#[test]
fn nn_buffer_values_carry_persistence() {
    let mut m = empty();
    m.set_attr("buf", Value::non_persistent_buffer(zeros(&[1])))
        .unwrap();
    assert_eq!(m.buffers().len(), 1);
    assert_eq!(m.non_persistent_buffers(), ["buf"]);
    // Overwriting with a persistent one flips it, and back.
    m.set_attr("buf", Value::buffer(zeros(&[1]))).unwrap();
    assert!(m.non_persistent_buffers().is_empty());
    m.set_attr("buf", Value::non_persistent_buffer(zeros(&[1])))
        .unwrap();
    assert_eq!(m.non_persistent_buffers(), ["buf"]);
    // A parameter takes the name over and clears the flag.
    m.set_attr("buf", Value::parameter(zeros(&[1]))).unwrap();
    assert!(m.non_persistent_buffers().is_empty());
    assert_eq!(m.parameters().len(), 1);
    assert!(m.buffers().is_empty());
}

#[test]
fn deleting_a_non_persistent_buffer_clears_its_flag() {
    let mut m = empty();
    m.set_attr("buf", Value::non_persistent_buffer(zeros(&[1])))
        .unwrap();
    m.del_attr("buf").unwrap();
    assert!(m.buffers().is_empty());
    assert!(m.non_persistent_buffers().is_empty());
    m.register_buffer("buf", Some(zeros(&[1])), true).unwrap();
    assert!(m.non_persistent_buffers().is_empty());
}

#[test]
fn delattr_unknown_is_an_attribute_error_and_declared_fields_stay() {
    let mut net = Net::new();
    let e = net.del_attr("nope").unwrap_err();
    assert_eq!(e.to_string(), "'Net' object has no attribute 'nope'");
    assert_eq!(e.python_type(), PythonType::AttributeError);
    let e = net.del_attr("l1").unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot delete 'l1' of 'Net': it is a declared field"
    );
    assert!(net.has_attr("l1"));
}

#[test]
fn declared_fields_keep_their_kind() {
    let mut net = Net::new();
    let e = net
        .set_attr("dummy_param", Value::module(empty()))
        .unwrap_err();
    assert!(e
        .to_string()
        .ends_with("as parameter 'dummy_param' (torch.nn.Parameter or None expected)"));
    let e = net
        .set_attr("l1", Value::parameter(zeros(&[1])))
        .unwrap_err();
    assert!(e
        .to_string()
        .ends_with("as child module 'l1' (torch.nn.Module or None expected)"));
    // `core` is not taken: the `ModuleCore` field is no attribute, so this registers a
    // run-time parameter, as PyTorch would.
    net.set_attr("core", Value::parameter(zeros(&[1]))).unwrap();
    assert!(matches!(net.get_attr("core"), Ok(Attr::Parameter(Some(_)))));
    let e = net
        .set_attr("training", Value::parameter(zeros(&[1])))
        .unwrap_err();
    assert_eq!(e.to_string(), "attribute 'training' already exists");
}

#[test]
fn setattr_on_declared_fields_assigns_them() {
    let mut net = Net::new();
    let p = param(&[8]);
    net.set_attr("dummy_param", p.clone().into()).unwrap();
    assert!(net.dummy_param.same(&p));
    net.set_attr("dummy_buf", Value::Tensor(zeros(&[6])))
        .unwrap();
    assert_eq!(net.dummy_buf.shape(), vec![6]);
    net.set_attr("l1", Value::module(Layer::new())).unwrap();
    let e = net.set_attr("dummy_buf", Value::None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot assign 'NoneType' to buffer 'dummy_buf' of 'Net' (Buffer<T> expected)"
    );
    assert_eq!(net.dummy_buf.shape(), vec![6]);
}

#[test]
fn failed_setattr_leaves_the_module_unchanged() {
    let mut m = empty();
    m.register_buffer("b", Some(zeros(&[1])), false).unwrap();
    // A bad name fails before the buffer is removed (PyTorch removes first).
    let e = m
        .set_attr("a.b", Value::parameter(zeros(&[1])))
        .unwrap_err();
    assert_eq!(e.to_string(), r#"parameter name can't contain ".""#);
    assert_eq!(m.dir(), ["b"]);
    assert_eq!(m.non_persistent_buffers(), ["b"]);
}

#[test]
fn dir_lists_members_sorted_without_digit_names_and_each_exists() {
    #[derive(Module)]
    struct Holder {
        core: ModuleCore,
        zeta: Buffer<T>,
        alpha: Linear,
        #[module(skip)]
        eps: f64,
    }
    let mut h = Holder {
        core: ModuleCore::new(),
        zeta: zeros(&[1]).into(),
        alpha: Linear::new(1, 1),
        eps: 0.1,
    };
    h.register_module("0", Some(Box::new(empty()))).unwrap();
    h.register_parameter("beta", None).unwrap();
    assert_eq!(h.dir(), ["alpha", "beta", "eps", "zeta"]);
    for name in h.dir() {
        assert!(h.has_attr(&name), "{name}");
    }
    assert_eq!(h.eps, 0.1);
}

#[test]
fn has_attr_covers_reserved_module_attributes() {
    let m = empty();
    for name in ["training", "forward", "state_dict"] {
        assert!(m.has_attr(name), "{name}");
    }
    assert!(!m.has_attr("nope"));
    assert!(!m.has_attr("core"));
}
