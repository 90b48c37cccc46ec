//! The module tree: what `nn.Module` is.
//!
//! One node of the tree is three things. The user's struct holds the declared members as plain
//! fields; `#[derive(Module)]` reads them at compile time and emits the type's static table
//! ([`table`]: a `MEMBERS` const of [`MemberInfo`](crate::MemberInfo) and a `match` from table
//! index to field), through which the node reaches its fields by the [`member`] types' accessors. The
//! node's [`ModuleCore`](crate::ModuleCore) ([`core`]) holds what PyTorch's `Module.__init__`
//! sets up per instance: the training flag, and, allocated on first use, the run-time
//! [`registry`] and the hook table.
//!
//! The [`Module`](crate::Module) trait ([`module`]) joins the two: every operation looks in the
//! static table first and the run-time registry second. On top of that one view sit the
//! attribute protocol ([`attrs`]), dotted-path lookup ([`paths`]), the walks in PyTorch's order
//! ([`traversal`], returning [`Named`](crate::Named) from [`named`]), the printed tree
//! ([`repr`]), gradients and freezing ([`training`]) and whole-model conversion ([`convert`];
//! on candle, gradients from a backward pass and devices in `candle`).
//!
//! A collection field (`Vec<M>`, maps) is the container module it stands for: its state lives
//! in the owner's core, pointed at the field on each access ([`collection`]). The derive writes
//! one `match` from table index to field; what a module does with its declared members is
//! written once, over that ([`declared`]), and the rest of the expansion's helpers are in
//! [`generated`].

pub(crate) mod attrs;
#[cfg(feature = "candle")]
pub(crate) mod candle;
pub(crate) mod collection;
pub(crate) mod convert;
pub(crate) mod core;
pub(crate) mod declared;
pub(crate) mod generated;
pub(crate) mod member;
// The folder is the tree; the file is its trait. The name is the concept's in both places.
#[allow(clippy::module_inception)]
pub(crate) mod module;
pub mod named;
pub(crate) mod paths;
pub(crate) mod registry;
pub(crate) mod repr;
pub(crate) mod table;
pub(crate) mod training;
pub(crate) mod traversal;
pub(crate) mod walk;
pub(crate) mod walk_sizes;
