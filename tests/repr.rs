//! Spec §7: the printed tree (`repr`, `Debug`), `extra_repr`, and collections printed as the
//! PyTorch containers they stand for.

use candle_core::{DType, Device, Tensor};
use indexmap::IndexMap;
use modcore::{Module, ModuleCore, Parameter};

fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap()
}

#[derive(Module)]
#[module(extra_repr = Linear::describe)]
struct Linear {
    core: ModuleCore,
    weight: Parameter<Tensor>,
    bias: Option<Parameter<Tensor>>,
}

impl Linear {
    fn new(i: usize, o: usize) -> Self {
        Linear {
            core: ModuleCore::new(),
            weight: Parameter::new(zeros(&[o, i])),
            bias: Some(Parameter::new(zeros(&[o]))),
        }
    }

    /// PyTorch's `Linear.extra_repr`.
    fn describe(&self) -> String {
        let shape = self.weight.shape();
        format!(
            "in_features={}, out_features={}, bias={}",
            shape[1],
            shape[0],
            if self.bias.is_some() { "True" } else { "False" }
        )
    }
}

#[derive(Module, Default)]
#[module(tensor = Tensor)]
struct ReLU {
    core: ModuleCore,
}

#[derive(Module)]
#[module(extra_repr = Inner::describe)]
struct Inner {
    core: ModuleCore,
    conv: Linear,
}

impl Inner {
    fn describe(&self) -> String {
        "k=1\nj=2".to_owned()
    }
}

#[derive(Module)]
#[module(tensor = Tensor)]
struct Empty {
    core: ModuleCore,
}

#[derive(Module)]
struct Outer {
    core: ModuleCore,
    inner: Inner,
    lst: Vec<Box<dyn Module<Tensor>>>,
    /// PyTorch's `register_module("nothing", None)`.
    #[module(register_none)]
    nothing: Option<Linear>,
    empty: Empty,
    el: Vec<ReLU>,
    pl: Vec<Parameter<Tensor>>,
    heads: IndexMap<String, ReLU>,
}

#[test]
fn the_printed_tree_matches_pytorchs() {
    let lst: Vec<Box<dyn Module<Tensor>>> = vec![
        Box::new(ReLU::default()),
        Box::new(ReLU::default()),
        Box::new(ReLU::default()),
        Box::new(Linear::new(1, 1)),
        Box::new(ReLU::default()),
    ];
    let mut heads = IndexMap::new();
    heads.insert("a".to_owned(), ReLU::default());
    let outer = Outer {
        core: ModuleCore::new(),
        inner: Inner {
            core: ModuleCore::new(),
            conv: Linear::new(3, 3),
        },
        lst,
        nothing: None,
        empty: Empty {
            core: ModuleCore::new(),
        },
        el: Vec::new(),
        pl: vec![Parameter::new(zeros(&[2, 3])), Parameter::new(zeros(&[4]))],
        heads,
    };
    let expected = "\
Outer(
  (inner): Inner(
    k=1
    j=2
    (conv): Linear(in_features=3, out_features=3, bias=True)
  )
  (lst): ModuleList(
    (0-2): 3 x ReLU()
    (3): Linear(in_features=1, out_features=1, bias=True)
    (4): ReLU()
  )
  (nothing): None
  (empty): Empty()
  (el): ModuleList()
  (pl): ParameterList(
      (0): Parameter containing: [torch.float32 of size 2x3]
      (1): Parameter containing: [torch.float32 of size 4]
  )
  (heads): ModuleDict(
    (a): ReLU()
  )
)";
    assert_eq!(outer.repr(), expected);
    let boxed: Box<dyn Module<Tensor>> = Box::new(outer);
    assert_eq!(format!("{boxed:?}"), expected);
}

#[test]
fn simple_cases() {
    assert_eq!(Module::<Tensor>::repr(&ReLU::default()), "ReLU()");
    assert_eq!(
        Linear::new(1, 1).repr(),
        "Linear(in_features=1, out_features=1, bias=True)"
    );
    #[derive(Module)]
    #[module(extra_repr = OneLineChild::describe)]
    struct OneLineChild {
        core: ModuleCore,
        c: ReLU,
    }
    impl OneLineChild {
        fn describe(&self) -> String {
            "x=1".into()
        }
    }
    let m = OneLineChild {
        core: ModuleCore::new(),
        c: ReLU::default(),
    };
    assert_eq!(m.repr(), "OneLineChild(\n  x=1\n  (c): ReLU()\n)");
    // A single parameter in a list prints on one line, with PyTorch's two extra spaces.
    #[derive(Module)]
    struct Holder {
        core: ModuleCore,
        pl: Vec<Parameter<Tensor>>,
    }
    let h = Holder {
        core: ModuleCore::new(),
        pl: vec![Parameter::new(zeros(&[1]))],
    };
    assert_eq!(
        h.repr(),
        "Holder(\n  (pl): ParameterList(  (0): Parameter containing: [torch.float32 of size 1])\n)"
    );
}

#[test]
fn nested_lists_fold_and_run_time_children_print_after_declared_ones() {
    #[derive(Module)]
    struct Nest {
        core: ModuleCore,
        outer: Vec<Vec<ReLU>>,
    }
    let mut n = Nest {
        core: ModuleCore::new(),
        outer: vec![
            vec![ReLU::default(), ReLU::default()],
            vec![ReLU::default(), ReLU::default()],
        ],
    };
    n.register_module("late", Some(Box::new(ReLU::default())))
        .unwrap();
    n.register_module("gone", None).unwrap();
    assert_eq!(
        n.repr(),
        "Nest(\n  (outer): ModuleList(\n    (0-1): 2 x ModuleList(\n      (0-1): 2 x ReLU()\n    )\n  )\n  (late): ReLU()\n  (gone): None\n)"
    );
}
