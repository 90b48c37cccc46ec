//! What `#[derive(Module)]` generates: the static registration table, names (rename, skip,
//! tuple structs), the runtime path override, and generated code that passes strict lints.

#![deny(warnings, unused, nonstandard_style, rust_2018_idioms, missing_docs)]

mod common;
use common::{param, zeros, Linear, T};
use modcore::{Buffer, MemberInfo, MemberKind, Module, ModuleCore, Parameter};

/// A block with every kind of field.
#[derive(Module)]
pub struct Block {
    core: ModuleCore,
    /// The first norm.
    ln1: Linear,
    /// A learnable scale.
    /// Second line.
    #[module(rename = "gamma")]
    scale: Parameter<T>,
    #[buffer(persistent = false)]
    mask: Buffer<T>,
    layers: Vec<Linear>,
    #[module(skip)]
    eps: f64,
}

fn block() -> Block {
    Block {
        core: ModuleCore::new(),
        ln1: Linear::new(2, 2),
        scale: param(&[2]),
        mask: Buffer::new(zeros(&[2])),
        layers: vec![Linear::new(2, 2)],
        eps: 1e-5,
    }
}

#[test]
fn the_static_table_describes_every_declared_member_in_order() {
    let rows: &[MemberInfo] = Block::MEMBERS;
    assert_eq!(
        rows,
        [
            MemberInfo {
                name: "ln1",
                field: "ln1",
                kind: MemberKind::Module,
                collection: false,
                persistent: true,
                ty: "Linear",
                doc: "The first norm.",
            },
            MemberInfo {
                name: "gamma",
                field: "scale",
                kind: MemberKind::Parameter,
                collection: false,
                persistent: true,
                ty: "Parameter<T>",
                doc: "A learnable scale.\nSecond line.",
            },
            MemberInfo {
                name: "mask",
                field: "mask",
                kind: MemberKind::Buffer,
                collection: false,
                persistent: false,
                ty: "Buffer<T>",
                doc: "",
            },
            MemberInfo {
                name: "layers",
                field: "layers",
                kind: MemberKind::Module,
                collection: true,
                persistent: true,
                ty: "Vec<Linear>",
                doc: "",
            },
        ]
    );
    assert_eq!(block().members(), Block::MEMBERS);
}

#[test]
fn rename_and_skip_shape_the_names() {
    let b = block();
    let names: Vec<String> = b.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "gamma",
            "ln1.weight",
            "ln1.bias",
            "layers.0.weight",
            "layers.0.bias"
        ]
    );
    assert!(b.get_attr("scale").is_err());
    assert!(b.get_parameter("gamma").unwrap().same(&b.scale));
    assert!(matches!(b.get_attr("eps"), Ok(modcore::Attr::Plain)));
    assert_eq!(b.type_name(), "Block");
    assert_eq!(b.qualified_type_name(), "derive::Block");
    assert_eq!(b.eps, 1e-5);
}

/// `nn.Sequential`-like: members numbered among member fields only.
#[derive(Module)]
pub struct Pair(ModuleCore, Linear, #[module(skip)] u8, Linear);

#[test]
fn tuple_structs_number_their_members() {
    let p = Pair(ModuleCore::new(), Linear::new(1, 1), 7, Linear::new(1, 1));
    let names: Vec<String> = p.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias"]);
    assert_eq!(Pair::MEMBERS[1].field, "3");
    assert_eq!(p.2, 7);
    assert!(p.plain_fields().is_empty());
}

/// The runtime re-exported under another path.
pub mod rt {
    pub use modcore::*;
}

/// Uses `#[module(crate = ...)]`.
#[derive(rt::Module)]
#[module(crate = crate::rt)]
pub struct Moved {
    core: rt::ModuleCore,
    w: rt::Parameter<T>,
}

#[test]
fn the_runtime_path_can_be_overridden() {
    let m = Moved {
        core: rt::ModuleCore::new(),
        w: param(&[1]),
    };
    assert_eq!(m.named_parameters().len(), 1);
}

/// Generated code must not pick up names from the user's scope.
mod shadowed {
    #![allow(dead_code, non_camel_case_types)]
    use super::T;
    use modcore::{Module as M, ModuleCore, Parameter};

    struct Result;
    struct Option;
    struct Some;
    struct None;
    struct Ok;
    struct Err;
    struct Box;
    struct String;
    struct Vec;
    struct Send;
    struct Sync;
    mod core {}
    mod std {}

    /// A module defined where the prelude's names mean something else.
    #[derive(M)]
    pub struct Shadowed {
        pub core: ModuleCore,
        pub w: Parameter<T>,
        pub inner: ::std::option::Option<super::Linear>,
    }
}

#[test]
fn generated_code_is_hygienic() {
    let s = shadowed::Shadowed {
        core: ModuleCore::new(),
        w: param(&[1]),
        inner: None,
    };
    assert_eq!(s.named_parameters().len(), 1);
    // A `None` module field is a plain attribute, as `self.inner = None` is in PyTorch.
    assert!(s.get_attr("inner").unwrap().module().is_none());
}

/// A private member type inside a public module.
#[derive(Module)]
struct Private {
    core: ModuleCore,
}

/// Public, with a private member type: no `private_bounds` warning escapes.
#[derive(Module)]
pub struct Public {
    core: ModuleCore,
    inner: Private,
    w: Parameter<T>,
}

#[test]
fn private_member_types_in_public_modules_compile_without_warnings() {
    let p = Public {
        core: ModuleCore::new(),
        inner: Private {
            core: ModuleCore::new(),
        },
        w: param(&[1]),
    };
    assert_eq!(p.named_modules().len(), 2);
    let _ = (&p.inner.core, &p.core);
}

/// A raw identifier names its member without the `r#`, a version may carry a suffix, and a core
/// behind an alias is marked.
#[derive(Module)]
#[module(version = 2u8)]
struct Keywords {
    #[module(core)]
    state: CoreAlias,
    r#type: Parameter<T>,
}

type CoreAlias = ModuleCore;

#[test]
fn raw_identifiers_suffixed_versions_and_aliased_cores() {
    let k = Keywords {
        state: ModuleCore::new(),
        r#type: param(&[1]),
    };
    assert_eq!(Keywords::MEMBERS[0].name, "type");
    assert_eq!(k.state_dict().keys().collect::<Vec<_>>(), ["type"]);
    assert_eq!(k.version(), 2);
    assert!(k.get_parameter("type").is_ok());
    assert!(!k.has_attr("state"));
}
