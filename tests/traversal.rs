//! Spec §4: children, named_modules, named_parameters/buffers, path lookup, apply, train/eval,
//! requires_grad_; and the member types (Option, Vec, arrays, maps, Box<dyn Module>).

mod common;
use std::collections::BTreeMap;

use common::*;
use indexmap::IndexMap;
use modcore::{Buffer, Module, ModuleCore, Parameter, Value};

/// `_create_basic_net`'s `Sequential(n)` as a struct: one child named "0".
#[derive(Module)]
struct Seq(ModuleCore, Net);

fn basic() -> (Layer, Net, Seq) {
    (Layer::new(), Net::new(), Seq(ModuleCore::new(), Net::new()))
}

#[test]
fn basic_net_parameters() {
    let (l, n, s) = basic();
    assert_eq!(names(l.named_parameters()), ["layer_dummy_param"]);
    assert_eq!(
        names(n.named_parameters()),
        ["dummy_param", "l1.layer_dummy_param"]
    );
    assert_eq!(
        names(n.named_parameters_with("", false, true)),
        ["dummy_param"]
    );
    assert_eq!(
        names(s.named_parameters()),
        ["0.dummy_param", "0.l1.layer_dummy_param"]
    );
    assert_eq!(s.parameters().len(), 2);
}

#[test]
fn basic_net_buffers() {
    let (l, n, s) = basic();
    assert_eq!(names(l.named_buffers()), ["layer_dummy_buf"]);
    assert_eq!(
        names(n.named_buffers()),
        ["dummy_buf", "l1.layer_dummy_buf"]
    );
    assert_eq!(names(n.named_buffers_with("", false, true)), ["dummy_buf"]);
    assert_eq!(
        names(s.named_buffers()),
        ["0.dummy_buf", "0.l1.layer_dummy_buf"]
    );
}

#[derive(Module)]
struct Tied {
    core: ModuleCore,
    param1: Parameter<T>,
    param2: Parameter<T>,
    buffer1: Buffer<T>,
    buffer2: Buffer<T>,
}

#[test]
fn tied_parameters_and_buffers_are_reported_once_unless_asked() {
    let p = param(&[2]);
    let b = Buffer::new(zeros(&[2]));
    let m = Tied {
        core: ModuleCore::new(),
        param1: p.clone(),
        param2: p,
        buffer1: b.clone(),
        buffer2: b,
    };
    assert_eq!(names(m.named_parameters()), ["param1"]);
    assert_eq!(
        names(m.named_parameters_with("", true, false)),
        ["param1", "param2"]
    );
    assert_eq!(names(m.named_buffers()), ["buffer1"]);
    assert_eq!(
        names(m.named_buffers_with("", true, false)),
        ["buffer1", "buffer2"]
    );
    assert_eq!(m.num_parameters(), 2);
}

#[derive(Module)]
struct TwoLinears {
    core: ModuleCore,
    p0: Parameter<T>,
    a: Linear,
    b: Linear,
}

#[test]
fn a_cross_module_tie_keeps_the_other_entries() {
    let a = Linear::new(2, 2);
    let mut b = Linear::new(2, 2);
    b.weight = a.weight.clone();
    let m = TwoLinears {
        core: ModuleCore::new(),
        p0: param(&[1]),
        a,
        b,
    };
    assert_eq!(
        names(m.named_parameters()),
        ["p0", "a.weight", "a.bias", "b.bias"]
    );
    assert_eq!(m.num_parameters(), 1 + 4 + 2 + 2);
}

#[test]
fn own_parameters_come_before_childrens() {
    // Declared after the child, reported before it (pre-order per module).
    #[derive(Module)]
    struct Late {
        core: ModuleCore,
        l1: Layer,
        dummy_param: Parameter<T>,
    }
    let m = Late {
        core: ModuleCore::new(),
        l1: Layer::new(),
        dummy_param: param(&[1]),
    };
    assert_eq!(
        names(m.named_parameters()),
        ["dummy_param", "l1.layer_dummy_param"]
    );
}

#[test]
fn prefixes() {
    let (_, _, s) = basic();
    assert_eq!(
        names(s.named_parameters_with("p", true, true)),
        ["p.0.dummy_param", "p.0.l1.layer_dummy_param"]
    );
    assert_eq!(
        names(s.named_modules_with("root")),
        ["root", "root.0", "root.0.l1"]
    );
}

#[test]
fn declared_then_run_time_members_in_insertion_order() {
    let mut n = Net::new();
    n.register_parameter("z_late", Some(param(&[1]))).unwrap();
    n.register_parameter("a_late", Some(param(&[1]))).unwrap();
    n.register_module("extra", Some(Box::new(Linear::new(1, 1))))
        .unwrap();
    assert_eq!(
        names(n.named_parameters()),
        [
            "dummy_param",
            "z_late",
            "a_late",
            "l1.layer_dummy_param",
            "extra.weight",
            "extra.bias"
        ]
    );
    assert_eq!(names(n.named_children()), ["l1", "extra"]);
    assert_eq!(names(n.named_modules()), ["", "l1", "extra"]);
}

#[test]
fn children_skip_none_and_modules_are_pre_order() {
    #[derive(Module)]
    struct Tree {
        core: ModuleCore,
        l1: Linear,
        gone: Option<Linear>,
        subnet: Net,
    }
    let t = Tree {
        core: ModuleCore::new(),
        l1: Linear::new(1, 1),
        gone: None,
        subnet: Net::new(),
    };
    assert_eq!(names(t.named_children()), ["l1", "subnet"]);
    let types: Vec<_> = t.children().iter().map(|c| c.type_name()).collect();
    assert_eq!(types, ["Linear", "Net"]);
    // `gone: None` is torchvision's `self.downsample = None`: a plain attribute.
    assert!(matches!(t.get_attr("gone"), Ok(modcore::Attr::Plain)));
    let types: Vec<_> = t.modules().iter().map(|m| m.type_name()).collect();
    assert_eq!(types, ["Tree", "Linear", "Net", "Layer"]);
}

#[derive(Module)]
struct Stack {
    core: ModuleCore,
    layers: Vec<Linear>,
    heads: IndexMap<String, Linear>,
    sorted: BTreeMap<String, Linear>,
    pair: [Parameter<T>; 2],
    extra: Option<Vec<Parameter<T>>>,
    boxed: Box<dyn Module<T>>,
}

fn stack() -> Stack {
    let mut heads = IndexMap::new();
    heads.insert("z".to_owned(), Linear::new(1, 1));
    heads.insert("a".to_owned(), Linear::new(1, 1));
    let mut sorted = BTreeMap::new();
    sorted.insert("y".to_owned(), Linear::new(1, 1));
    sorted.insert("b".to_owned(), Linear::new(1, 1));
    Stack {
        core: ModuleCore::new(),
        layers: vec![Linear::new(1, 1), Linear::new(1, 1)],
        heads,
        sorted,
        pair: [param(&[1]), param(&[1])],
        extra: None,
        boxed: Box::new(Net::new()),
    }
}

#[test]
fn collections_are_the_pytorch_containers_they_stand_for() {
    let s = stack();
    // `pair` is a ParameterList: its parameters are its own, not the owner's.
    assert!(s.named_parameters_with("", false, true).is_empty());
    assert_eq!(
        names(s.named_children()),
        ["layers", "heads", "sorted", "pair", "boxed"]
    );
    assert_eq!(
        names(s.named_parameters())[..4],
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.weight",
            "layers.1.bias"
        ]
    );
    assert_eq!(names(s.named_parameters())[12..14], ["pair.0", "pair.1"]);
    assert_eq!(
        names(s.named_modules()),
        [
            "", "layers", "layers.0", "layers.1", "heads", "heads.z", "heads.a", "sorted",
            "sorted.b", "sorted.y", "pair", "boxed", "boxed.l1"
        ]
    );
    let types: Vec<_> = s.modules().iter().map(|m| m.type_name()).collect();
    assert_eq!(
        types[..5],
        ["Stack", "ModuleList", "Linear", "Linear", "ModuleDict"]
    );
    assert_eq!(types[10], "ParameterList");
}

#[test]
fn paths_walk_through_collections() {
    let mut s = stack();
    assert_eq!(s.get_submodule("layers.1").unwrap().type_name(), "Linear");
    assert_eq!(
        s.get_parameter("heads.a.weight").unwrap().shape(),
        vec![1, 1]
    );
    assert_eq!(s.get_parameter("pair.1").unwrap().shape(), vec![1]);
    assert_eq!(s.get_submodule("boxed.l1").unwrap().type_name(), "Layer");
    assert_eq!(
        s.get_submodule("layers.2").unwrap_err().to_string(),
        "ModuleList has no attribute `2`"
    );
    assert_eq!(
        s.get_submodule("heads.q").unwrap_err().to_string(),
        "ModuleDict has no attribute `q`"
    );
    assert_eq!(s.get_submodule("layers").unwrap().type_name(), "ModuleList");
    assert_eq!(
        s.get_submodule("pair.0").unwrap_err().to_string(),
        "`0` is not an nn.Module"
    );
    assert_eq!(
        s.get_parameter("pair.01").unwrap_err().to_string(),
        "ParameterList has no attribute `01`"
    );
    s.get_submodule_mut("layers.0").unwrap().eval();
    assert!(!s.layers[0].is_training());
    assert!(s.layers[1].is_training());
}

#[test]
fn get_submodule_errors_name_the_module_searched() {
    let n = Net::new();
    assert_eq!(n.get_submodule("").unwrap().type_name(), "Net");
    assert_eq!(
        n.get_submodule("l1.x").unwrap_err().to_string(),
        "Layer has no attribute `x`"
    );
    assert_eq!(
        n.get_submodule("dummy_param").unwrap_err().to_string(),
        "`dummy_param` is not an nn.Module"
    );
    assert_eq!(
        n.get_submodule("dummy_param.x").unwrap_err().to_string(),
        "`dummy_param` is not an nn.Module"
    );
    assert_eq!(
        n.get_submodule("core").unwrap_err().to_string(),
        "Net has no attribute `core`"
    );
}

#[test]
fn get_parameter_and_get_buffer() {
    let n = Net::new();
    assert!(n
        .get_parameter("l1.layer_dummy_param")
        .unwrap()
        .same(&n.l1.layer_dummy_param));
    assert_eq!(
        n.get_parameter("dummy_buf").unwrap_err().to_string(),
        "`dummy_buf` is not an nn.Parameter"
    );
    assert_eq!(
        n.get_buffer("dummy_param").unwrap_err().to_string(),
        "`dummy_param` is not a buffer"
    );
    assert_eq!(
        n.get_parameter("").unwrap_err().to_string(),
        "Net has no attribute ``"
    );
    assert_eq!(
        n.get_parameter("l1.nope").unwrap_err().to_string(),
        "Layer has no attribute `nope`"
    );
    assert!(n.get_buffer("l1.layer_dummy_buf").unwrap().is_some());
    let mut l = Linear::new(1, 1);
    l.bias = None;
    assert_eq!(
        l.get_parameter("bias").unwrap_err().to_string(),
        "`bias` is not an nn.Parameter"
    );
}

#[test]
fn get_buffer_resolves_nested_run_time_buffers() {
    let mut sub = empty();
    let mut subsub = empty();
    subsub
        .register_buffer("bar", Some(zeros(&[3])), true)
        .unwrap();
    sub.register_module("subsub", Some(Box::new(subsub)))
        .unwrap();
    let mut m = empty();
    m.register_module("sub", Some(Box::new(sub))).unwrap();
    assert_eq!(
        m.get_buffer("sub.subsub.bar").unwrap().unwrap().shape(),
        vec![3]
    );
}

#[test]
fn set_submodule_follows_the_docstring_example() {
    let mut a = empty();
    let mut b = empty();
    b.register_module("c", Some(Box::new(Linear::new(1, 1))))
        .unwrap();
    a.register_module("b", Some(Box::new(b))).unwrap();
    // Replace, strict or not.
    a.set_submodule("b.c", Box::new(Linear::new(2, 2)), true)
        .unwrap();
    assert_eq!(a.get_parameter("b.c.weight").unwrap().shape(), vec![2, 2]);
    a.set_submodule("b.c", Box::new(empty()), false).unwrap();
    assert_eq!(a.get_submodule("b.c").unwrap().type_name(), "Empty");
    // Strict on a missing name fails; not strict creates it.
    let e = a.set_submodule("b.d", Box::new(empty()), true).unwrap_err();
    assert_eq!(e.to_string(), "Empty has no attribute `d`");
    a.set_submodule("b.d", Box::new(empty()), false).unwrap();
    assert_eq!(names(a.named_modules()), ["", "b", "b.c", "b.d"]);
}

#[test]
fn set_submodule_errors() {
    let mut a = empty();
    a.register_parameter("p", Some(param(&[1]))).unwrap();
    assert_eq!(
        a.set_submodule("", Box::new(empty()), false)
            .unwrap_err()
            .to_string(),
        "Cannot set the submodule without a target name!"
    );
    assert_eq!(
        a.set_submodule("zz.l", Box::new(empty()), false)
            .unwrap_err()
            .to_string(),
        "Empty has no attribute `zz`"
    );
    assert_eq!(
        a.set_submodule("0", Box::new(empty()), true)
            .unwrap_err()
            .to_string(),
        "Empty has no attribute `0`"
    );
    assert_eq!(
        a.set_submodule("p", Box::new(empty()), false)
            .unwrap_err()
            .to_string(),
        "`p` is not an nn.Module"
    );
    // The `ModuleCore` field is no attribute: a non-strict set adds a submodule `core`.
    a.set_submodule("core", Box::new(empty()), false).unwrap();
    assert_eq!(a.get_submodule("core").unwrap().type_name(), "Empty");
}

#[test]
fn apply_is_post_order_and_train_eval_recurse() {
    let mut s = stack();
    let mut visited = Vec::new();
    s.apply(&mut |m| visited.push(m.type_name()));
    assert_eq!(
        visited,
        [
            "Linear",
            "Linear",
            "ModuleList",
            "Linear",
            "Linear",
            "ModuleDict",
            "Linear",
            "Linear",
            "ModuleDict",
            "ParameterList",
            "Layer",
            "Net",
            "Stack"
        ]
    );
    s.eval();
    assert!(s.modules().iter().all(|m| !m.is_training()));
    s.train(true);
    assert!(s.modules().iter().all(|m| m.is_training()));
}

#[test]
fn train_reaches_run_time_submodules() {
    let mut m = empty();
    m.register_module("inner", Some(Box::new(Net::new())))
        .unwrap();
    m.eval();
    assert!(!m.get_submodule("inner.l1").unwrap().is_training());
}

#[test]
fn requires_grad_sets_every_parameter_and_leaves_buffers() {
    let n = Net::new();
    n.requires_grad_(false);
    assert!(n.parameters().iter().all(|p| !p.requires_grad()));
    n.requires_grad_(true);
    assert!(n.parameters().iter().all(|p| p.requires_grad()));
}

#[test]
fn visit_parameters_matches_named_parameters() {
    let s = stack();
    let mut visited = Vec::new();
    s.visit_parameters("", true, true, &mut |name, _| visited.push(name.to_owned()));
    assert_eq!(visited, names(s.named_parameters()));
}

#[test]
fn boxed_modules_are_object_safe_and_downcast() {
    let mut boxed: Box<dyn Module<T>> = Box::new(Net::new());
    boxed.set_attr("extra", Value::buffer(zeros(&[1]))).unwrap();
    assert_eq!(
        names(boxed.named_buffers()),
        ["dummy_buf", "extra", "l1.layer_dummy_buf"]
    );
    let net: &Net = boxed.downcast_ref::<Net>().unwrap();
    assert_eq!(net.dummy_param.shape(), vec![3, 5]);
    assert!(boxed.downcast_ref::<Layer>().is_none());
    let as_ref: &dyn Module<T> = &*boxed;
    assert_eq!(as_ref.qualified_type_name(), "traversal::common::Net");
}

#[test]
fn generic_structs_keep_their_bounds() {
    #[derive(Module)]
    struct Wrap<M, X: modcore::Tensor>
    where
        M: Send,
    {
        core: ModuleCore,
        inner: M,
        scale: Parameter<X>,
    }
    let w = Wrap {
        core: ModuleCore::new(),
        inner: Linear::new(2, 2),
        scale: param(&[1]),
    };
    assert_eq!(
        names(w.named_parameters()),
        ["scale", "inner.weight", "inner.bias"]
    );
    assert_eq!(Wrap::<Linear, T>::MEMBERS[0].ty, "M");
}

/// A walk reports a leaf (a child whose type declares nothing the walk wants) without walking
/// it, unless members were registered in it at run time: those are reported as before.
#[test]
fn leaves_with_run_time_members_are_walked() {
    #[derive(Module)]
    struct Pair {
        core: ModuleCore,
        act: Empty,
        fc: Linear,
        depth2: Seq,
    }
    let mut m = Pair {
        core: ModuleCore::new(),
        act: empty(),
        fc: Linear::new(1, 1),
        depth2: basic().2,
    };
    let modules = ["", "act", "fc", "depth2", "depth2.0", "depth2.0.l1"];
    assert_eq!(names(m.named_modules()), modules);
    let buffers = ["depth2.0.dummy_buf", "depth2.0.l1.layer_dummy_buf"];
    assert_eq!(names(m.named_buffers()), buffers);

    m.act
        .register_buffer("steps", Some(zeros(&[1])), true)
        .unwrap();
    m.act
        .register_module("inner", Some(Box::new(Linear::new(1, 1))))
        .unwrap();
    m.fc.register_module("lora", Some(Box::new(empty())))
        .unwrap();
    assert_eq!(
        names(m.named_modules()),
        [
            "",
            "act",
            "act.inner",
            "fc",
            "fc.lora",
            "depth2",
            "depth2.0",
            "depth2.0.l1"
        ]
    );
    assert_eq!(names(m.named_children()), ["act", "fc", "depth2"]);
    assert_eq!(
        names(m.named_buffers()),
        ["act.steps", buffers[0], buffers[1]]
    );
    assert_eq!(
        names(m.named_parameters()),
        [
            "act.inner.weight",
            "act.inner.bias",
            "fc.weight",
            "fc.bias",
            "depth2.0.dummy_param",
            "depth2.0.l1.layer_dummy_param"
        ]
    );
    let keys: Vec<String> = m.state_dict().keys().map(str::to_owned).collect();
    assert_eq!(
        keys,
        [
            "act.steps",
            "act.inner.weight",
            "act.inner.bias",
            "fc.weight",
            "fc.bias",
            "depth2.0.dummy_param",
            "depth2.0.dummy_buf",
            "depth2.0.l1.layer_dummy_param",
            "depth2.0.l1.layer_dummy_buf"
        ]
    );
}
