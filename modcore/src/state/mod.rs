//! State dicts and checkpoints.
//!
//! Saving flows from the module tree to a file: [`state_dict`] walks the tree in PyTorch's order
//! and appends each persistent entry, and each module's metadata, to a
//! [`StateDict`](crate::StateDict), whose keys live in a [`NameMap`](crate::NameMap)
//! ([`name_map`]); [`checkpoint`] writes it as a safetensors file (or shards) with PyTorch's
//! keys and dtypes.
//!
//! Loading flows back: [`checkpoint`] reads a file into a `StateDict` (its header checked first, in
//! [`header`]), and [`load`] first plans
//! every copy by walking the tree as PyTorch's `load` does (hooks, migrations, missing and
//! unexpected keys, shape checks), then writes the tensors only if the plan has no error.

pub mod checkpoint;
pub(crate) mod header;
pub(crate) mod load;
pub mod name_map;
pub(crate) mod pickle;
pub(crate) mod pth;
pub(crate) mod state_dict;
