//! The static registration table `#[derive(Module)]` emits for every derived type.

use std::fmt;

/// What a registered member is: PyTorch's three registries.
///
/// ```
/// use modcore::MemberKind;
/// assert_eq!(MemberKind::Parameter.to_string(), "parameter");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberKind {
    /// An entry of `_parameters`.
    Parameter,
    /// An entry of `_buffers`.
    Buffer,
    /// An entry of `_modules`.
    Module,
}

impl fmt::Display for MemberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemberKind::Parameter => "parameter",
            MemberKind::Buffer => "buffer",
            MemberKind::Module => "module",
        })
    }
}

/// One declared member of a derived module: a row of its static registration table.
///
/// `#[derive(Module)]` emits these as `pub const MEMBERS: &[MemberInfo]` on the type, in
/// declaration order; reading them costs nothing at run time.
///
/// ```
/// use modcore::{Buffer, MemberKind, Module, ModuleCore, Parameter};
/// # #[cfg(feature = "ndarray")] {
/// type T = ndarray::ArcArray<f32, ndarray::IxDyn>;
///
/// #[derive(Module)]
/// struct Norm {
///     core: ModuleCore,
///     /// The scale.
///     weight: Parameter<T>,
///     #[buffer(persistent = false)]
///     cache: Buffer<T>,
///     #[module(skip)]
///     eps: f64,
/// }
///
/// let rows: Vec<_> = Norm::MEMBERS.iter().map(|m| (m.name, m.kind, m.persistent)).collect();
/// assert_eq!(rows, [("weight", MemberKind::Parameter, true), ("cache", MemberKind::Buffer, false)]);
/// assert_eq!(Norm::MEMBERS[0].doc, "The scale.");
/// assert_eq!(Norm::MEMBERS[0].ty, "Parameter<T>");
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// The member's name in paths and state-dict keys (the field name, or its `rename`).
    pub name: &'static str,
    /// The Rust field it is stored in (`"0"`, `"1"`, … for tuple structs).
    pub field: &'static str,
    /// Parameter, buffer or module; `Module` for a collection field, which is the container
    /// module it stands for.
    pub kind: MemberKind,
    /// Whether the field is a collection (`Vec`, array, map), a container whose entries are
    /// named `name.0`, `name.1`, … or `name.key`.
    pub collection: bool,
    /// For buffers (and collections of them), whether they are saved in the state dict; `true`
    /// for every other kind.
    pub persistent: bool,

    /// The field's type as written in the source.
    pub ty: &'static str,
    /// The field's doc comment.
    pub doc: &'static str,
}
