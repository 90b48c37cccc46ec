//! The run-time registries of one module: what PyTorch keeps in `_parameters`, `_buffers`,
//! `_modules` and `_non_persistent_buffers_set`, for members registered while the program runs.

use std::collections::HashSet;

use indexmap::IndexMap;

use crate::{Buffer, MemberKind, Module, Parameter};

/// Insertion-ordered, as PyTorch's dicts: replacing a value keeps its position, removing and
/// re-adding moves it to the end (`shift_remove` keeps the order of the rest).
pub(crate) struct Registry<T> {
    pub(crate) parameters: Names<Option<Parameter<T>>>,
    pub(crate) buffers: Names<Option<Buffer<T>>>,
    pub(crate) non_persistent: HashSet<Name, foldhash::fast::RandomState>,
    pub(crate) modules: Names<Option<Box<dyn Module<T>>>>,
}

/// An insertion-ordered map from member names, with a fast seeded hasher.
pub(crate) type Names<V> = IndexMap<Name, V, foldhash::fast::RandomState>;

/// A member name: stored inline up to 24 bytes (every name a model usually has), so a
/// registration copies the caller's `&str` without allocating, as PyTorch's interned names cost
/// nothing per `register_buffer`.
pub(crate) type Name = compact_str::CompactString;

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry {
            parameters: Names::default(),
            buffers: Names::default(),
            non_persistent: HashSet::default(),
            modules: Names::default(),
        }
    }
}

impl<T> Registry<T> {
    /// The kind of the run-time member named `name`, if any, without probing the map of kind
    /// `skipped` (nor any empty map: most modules register one kind, and an empty map is
    /// skipped before the name is hashed).
    pub(crate) fn kind_of(&self, name: &str, skipped: Option<MemberKind>) -> Option<MemberKind> {
        let probe = |kind, len: usize| Some(kind) != skipped && len != 0;
        if probe(MemberKind::Parameter, self.parameters.len()) && self.parameters.contains_key(name)
        {
            Some(MemberKind::Parameter)
        } else if probe(MemberKind::Buffer, self.buffers.len()) && self.buffers.contains_key(name) {
            Some(MemberKind::Buffer)
        } else if probe(MemberKind::Module, self.modules.len()) && self.modules.contains_key(name) {
            Some(MemberKind::Module)
        } else {
            None
        }
    }
}
