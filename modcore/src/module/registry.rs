//! The run-time registries of one module: what PyTorch keeps in `_parameters`, `_buffers`,
//! `_modules` and `_non_persistent_buffers_set`, for members registered while the program runs.

use std::collections::HashSet;

use indexmap::IndexMap;

use crate::{Buffer, Module, Parameter};

/// Insertion-ordered, as PyTorch's dicts: replacing a value keeps its position, removing and
/// re-adding moves it to the end (`shift_remove` keeps the order of the rest).
pub(crate) struct Registry<T> {
    pub(crate) parameters: Names<Option<Parameter<T>>>,
    pub(crate) buffers: Names<Option<Buffer<T>>>,
    pub(crate) non_persistent: HashSet<String, foldhash::fast::RandomState>,
    pub(crate) modules: Names<Option<Box<dyn Module<T>>>>,
}

/// An insertion-ordered map from member names, with a fast seeded hasher.
pub(crate) type Names<V> = IndexMap<String, V, foldhash::fast::RandomState>;

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
