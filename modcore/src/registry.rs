//! The run-time registries of one module: what PyTorch keeps in `_parameters`, `_buffers`,
//! `_modules` and `_non_persistent_buffers_set`, for members registered while the program runs.

use std::collections::HashSet;

use indexmap::IndexMap;

use crate::{Buffer, Module, Parameter};

/// Insertion-ordered, as PyTorch's dicts: replacing a value keeps its position, removing and
/// re-adding moves it to the end (`shift_remove` keeps the order of the rest).
pub(crate) struct Registry<T> {
    pub(crate) parameters: IndexMap<String, Option<Parameter<T>>>,
    pub(crate) buffers: IndexMap<String, Option<Buffer<T>>>,
    pub(crate) non_persistent: HashSet<String>,
    pub(crate) modules: IndexMap<String, Option<Box<dyn Module<T>>>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry {
            parameters: IndexMap::new(),
            buffers: IndexMap::new(),
            non_persistent: HashSet::new(),
            modules: IndexMap::new(),
        }
    }
}
