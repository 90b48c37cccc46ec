//! Loading a state dict: PyTorch's `load_state_dict(state_dict, strict, assign)`.
//!
//! The load runs in two phases. The first walks the tree exactly as PyTorch's `load` does
//! (pre-order; per module: load pre-hooks, the module's version migration, its own entries,
//! its unexpected keys; then the children; then the module's load post-hooks) and *plans* every
//! copy, collecting missing keys, unexpected keys and error messages. Only if the plan has no
//! error (and, with `strict`, no missing or unexpected key) does the second phase write the
//! tensors. So a failed load changes nothing, where PyTorch may have copied some entries before
//! raising.
//!
//! Differences from PyTorch, all deliberate:
//! - atomicity, above;
//! - a missing key whose parameter is tied to a key that *is* loaded is not reported missing
//!   (checkpoints written by `save_pretrained`/`save_model` keep one name of each tied group);
//! - keys under a submodule registered as `None` are reported unexpected (PyTorch ignores them);
//! - modcore tensors are typed, so PyTorch's "expected torch.Tensor … but received" cannot occur.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::module::member::{Attr, AttrMut};
use crate::module::traversal::AddressSet;
use crate::module::walk::Key;
use crate::state::state_dict::{for_each_entry, key_prefix, run_hooks, StateDict, StateEntry};
use crate::tensor::torch_size;
use crate::{
    Buffer, HookKind, MemberKind, Module, ModuleMetadata, Named, Parameter, Tensor, TensorError,
};

/// The keys a load did not match: PyTorch's `_IncompatibleKeys`.
///
/// ```
/// use modcore::IncompatibleKeys;
/// let ok = IncompatibleKeys::default();
/// assert_eq!(ok.to_string(), "<All keys matched successfully>");
/// let bad = IncompatibleKeys { missing_keys: vec!["a.bias".into()], unexpected_keys: vec!["extra".into()] };
/// assert_eq!(bad.to_string(), "_IncompatibleKeys(missing_keys=['a.bias'], unexpected_keys=['extra'])");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncompatibleKeys {
    /// Entries of the model the state dict did not have, in traversal order.
    pub missing_keys: Vec<String>,
    /// Keys of the state dict the model has no entry for.
    pub unexpected_keys: Vec<String>,
}

impl IncompatibleKeys {
    /// Whether every key matched.
    pub fn is_empty(&self) -> bool {
        self.missing_keys.is_empty() && self.unexpected_keys.is_empty()
    }
}

fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|k| format!("'{k}'")).collect();
    format!("[{}]", quoted.join(", "))
}

impl fmt::Display for IncompatibleKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("<All keys matched successfully>");
        }
        write!(
            f,
            "_IncompatibleKeys(missing_keys={}, unexpected_keys={})",
            python_list(&self.missing_keys),
            python_list(&self.unexpected_keys)
        )
    }
}

/// A failed load: PyTorch's `RuntimeError: Error(s) in loading state_dict for Net:` with every
/// problem of the load, one per line. The model was not changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Error(s) in loading state_dict for {module}:\n\t{}", .lines.join("\n\t"))]
pub struct LoadStateDictError {
    /// The type name of the module `load_state_dict` was called on.
    pub module: String,
    /// The missing and unexpected keys (also reported in `lines` when the load was strict).
    pub keys: IncompatibleKeys,
    /// The message lines, in PyTorch's order: missing keys, unexpected keys, then the other
    /// errors (size mismatches, dtype conversions, messages added by hooks) in traversal order.
    pub lines: Vec<String>,
}

/// What load pre-hooks may read and edit, as PyTorch passes `strict`, `missing_keys`,
/// `unexpected_keys` and `error_msgs` to them.
#[derive(Debug, Default)]
pub struct LoadContext {
    /// Always `true` during the walk, as in PyTorch (strictness is applied at the end).
    pub strict: bool,
    /// The keys found so far, for every module loaded so far.
    pub keys: IncompatibleKeys,
    /// Error messages; any message fails the load, strict or not.
    pub error_msgs: Vec<String>,
}

/// `hook(module, state_dict, prefix, local_metadata, context)`, run first when a module loads.
pub(crate) type LoadPreHook<T> = Box<
    dyn Fn(&dyn Module<T>, &mut StateDict<T>, &str, &ModuleMetadata, &mut LoadContext)
        + Send
        + Sync,
>;
/// `hook(module, incompatible_keys)`, run after a module and its children loaded.
pub(crate) type LoadPostHook<T> = Box<dyn Fn(&dyn Module<T>, &mut IncompatibleKeys) + Send + Sync>;

/// One planned write: the entry to write and the (converted) value, named by its key.
type Planned<'a, T> = (StateEntry<'a, T>, T);

/// What a walk of the model, before any hook runs, tells a load: where each of the model's
/// entries is in the state dict, and which module reports each key no entry takes.
///
/// PyTorch reports a key as unexpected in the module it falls under (the deepest module whose
/// path is a dotted prefix of the key), when that module loads: post-hooks of later modules see
/// it and may remove it. Computing the owners once, from the module paths, replaces PyTorch's
/// per-module scan of every key under the module's prefix.
struct Layout {
    /// The state dict's generation these positions and owners are for.
    generation: u64,
    /// For each entry of the model, in walk order, its position in the state dict (cleared
    /// when the keys change).
    positions: Vec<Option<usize>>,
    /// `(owner's pre-order index, state-dict position)` of each key no entry takes, sorted.
    unexpected: Vec<(usize, usize)>,
}

impl Layout {
    fn new<T: Tensor>(module: &dyn Module<T>, state_dict: &StateDict<T>) -> Self {
        let mut positions = Vec::new();
        let mut taken = vec![false; state_dict.len()];
        let mut name = String::new();
        for_each_entry(module, &mut String::new(), true, |key, _| {
            let position = state_dict.index_of(key.joined(&mut name));
            if let Some(p) = position {
                taken[p] = true;
            }
            positions.push(position);
        });
        let mut layout = Layout {
            generation: state_dict.generation(),
            positions,
            unexpected: Vec::new(),
        };
        if taken.contains(&false) {
            layout.unexpected = owners(module, state_dict, |p, _| !taken[p]);
        }
        layout
    }

    /// Recomputes the owners after a hook or a migration changed the state dict's keys (the
    /// positions are then not used any more).
    fn refresh<T: Tensor>(&mut self, module: &dyn Module<T>, state_dict: &StateDict<T>) {
        let mut keys = HashSet::new();
        for_each_entry(module, &mut String::new(), true, |key, _| {
            keys.insert(key.to_string());
        });
        self.unexpected = owners(module, state_dict, |_, key| !keys.contains(key));
        self.generation = state_dict.generation();
        self.positions.clear();
    }

    /// The state-dict positions of the unexpected keys module `index` (pre-order) reports.
    fn reported_by(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let start = self.unexpected.partition_point(|&(owner, _)| owner < index);
        self.unexpected[start..]
            .iter()
            .take_while(move |&&(owner, _)| owner == index)
            .map(|&(_, position)| position)
    }
}

/// `(owner's pre-order index, position)` for the state-dict keys `unexpected` selects, sorted.
fn owners<T: Tensor>(
    module: &dyn Module<T>,
    state_dict: &StateDict<T>,
    unexpected: impl Fn(usize, &str) -> bool,
) -> Vec<(usize, usize)> {
    let named = module.named_modules();
    // Each module by (its parent's index, its own name segment): a key's owner is found by
    // walking its segments down from the root, hashing each segment once (hashing every dotted
    // prefix of a key instead is quadratic in a long key's length).
    let index: HashMap<&str, usize> = named.names().zip(0..).collect();
    let children: HashMap<(usize, &str), usize> = named
        .names()
        .zip(0..)
        .filter_map(|(name, i)| {
            let (parent, segment) = name.rsplit_once('.').unwrap_or(("", name));
            let parent = index.get(parent).filter(|_| !name.is_empty())?;
            Some(((*parent, segment), i))
        })
        .collect();
    let owner = |key: &str| {
        let mut owner = 0;
        let mut rest = key;
        while let Some((segment, tail)) = rest.split_once('.') {
            match children.get(&(owner, segment)) {
                Some(&child) => owner = child,
                None => break,
            }
            rest = tail;
        }
        owner
    };
    let mut out: Vec<(usize, usize)> = state_dict
        .keys()
        .enumerate()
        .filter(|&(position, key)| unexpected(position, key))
        .map(|(position, key)| (owner(key), position))
        .collect();
    out.sort_unstable();
    out
}

/// The first phase: everything PyTorch's `load` does except the writes.
struct Planner<'a, 'b, T: Tensor> {
    root: &'a dyn Module<T>,
    /// The caller's state dict, copied only if a load pre-hook or a migration needs to edit it.
    state_dict: Cow<'b, StateDict<T>>,
    layout: Layout,
    /// The next entry's index in `layout.positions`, and the next module's pre-order index.
    next_entry: usize,
    next_module: usize,
    assign: bool,
    context: LoadContext,
    plan: Named<Planned<'a, T>>,
    /// A key joined for a lookup, reused.
    key: String,
}

impl<'a, T: Tensor> Planner<'a, '_, T> {
    fn module(&mut self, module: &'a dyn Module<T>, path: &mut String) {
        let index = self.next_module;
        self.next_module += 1;
        let hooked = module.core().hooks_if_any().is_some();
        if hooked || module.migrates() {
            self.edit(module, path);
        }
        let mut name = std::mem::take(&mut self.key);
        for_each_entry(module, path, false, |key, target| {
            let entry = self.next_entry;
            self.next_entry += 1;
            let unchanged = self.state_dict.generation() == self.layout.generation;
            let position = match (unchanged, self.layout.positions.get(entry)) {
                (true, Some(&position)) => position,
                _ => self.state_dict.index_of(key.joined(&mut name)),
            };
            match position.and_then(|p| self.state_dict.get_index(p)) {
                None => self.context.keys.missing_keys.push(key.to_string()),
                Some((_, value)) => {
                    let value = value.clone();
                    self.check(key, target, value);
                }
            }
        });
        self.key = name;
        if self.state_dict.generation() != self.layout.generation {
            self.layout.refresh(self.root, &self.state_dict);
        }
        let unexpected = self.layout.reported_by(index);
        let keys = unexpected.filter_map(|p| self.state_dict.get_index(p));
        (self.context.keys.unexpected_keys).extend(keys.map(|(key, _)| key.to_owned()));

        module.visit_members(MemberKind::Module, path, &mut |path, entry| {
            if let Attr::Module(Some(child)) = entry {
                self.module(child, path);
            }
        });
        if hooked {
            run_hooks(
                module,
                HookKind::LoadStateDictPost,
                |h: &LoadPostHook<T>| h(module, &mut self.context.keys),
            );
        }
    }

    /// The module's load pre-hooks and its version migration, which may edit the state dict.
    fn edit(&mut self, module: &'a dyn Module<T>, path: &str) {
        let prefix = key_prefix(path);
        let metadata = self
            .state_dict
            .metadata()
            .get(path)
            .copied()
            .unwrap_or_default();
        run_hooks(module, HookKind::LoadStateDictPre, |h: &LoadPreHook<T>| {
            h(
                module,
                self.state_dict.to_mut(),
                &prefix,
                &metadata,
                &mut self.context,
            )
        });
        if module.migrates() {
            module.migrate_state_dict(self.state_dict.to_mut(), &prefix, metadata.version);
        }
    }

    /// Shape and dtype checks of one entry, then its planned write.
    fn check(&mut self, key: Key<'_>, target: StateEntry<'a, T>, mut value: T) {
        let current = target.tensor();
        if !current.same_shape(&value) {
            let (model_shape, value_shape) = (current.shape(), value.shape());
            // PyTorch's backward-compatibility rule: a 0-dim entry accepts a 1-element 1-dim
            // tensor.
            if !(model_shape.is_empty() && value_shape == [1]) {
                self.context.error_msgs.push(format!(
                    "size mismatch for {key}: copying a param with shape {} from checkpoint, the shape in current model is {}.",
                    torch_size(&value_shape),
                    torch_size(&model_shape)
                ));
                return;
            }
            match value.reshape(&[]) {
                Ok(v) => value = v,
                Err(e) => return self.copy_error(key, &model_shape, &value_shape, &e.to_string()),
            }
        }
        if !self.assign {
            match copy_source(&target, &current, value) {
                Ok(v) => value = v,
                Err(e) => {
                    let shape = current.shape();
                    return self.copy_error(key, &shape, &shape, &e.to_string());
                }
            }
        }
        self.plan.push_key(key, (target, value));
    }

    fn copy_error(&mut self, key: Key<'_>, model: &[usize], checkpoint: &[usize], error: &str) {
        self.context.error_msgs.push(format!(
            "While copying the parameter named \"{key}\", whose dimensions in the model are {} and whose dimensions in the checkpoint are {}, an exception occurred : ('{error}',).",
            torch_size(model),
            torch_size(checkpoint)
        ));
    }
}

/// PyTorch's `load_state_dict`; see the module docs.
pub(crate) fn load_state_dict<T: Tensor>(
    module: &mut dyn Module<T>,
    state_dict: &StateDict<T>,
    strict: bool,
    assign: bool,
) -> Result<IncompatibleKeys, LoadStateDictError> {
    let type_name = module.type_name().to_owned();
    let mut planner = Planner {
        root: &*module,
        state_dict: Cow::Borrowed(state_dict),
        layout: Layout::new(&*module, state_dict),
        next_entry: 0,
        next_module: 0,
        assign,
        context: LoadContext {
            strict: true,
            ..LoadContext::default()
        },
        plan: Named::default(),
        key: String::new(),
    };
    planner.module(&*module, &mut String::new());
    let Planner { context, plan, .. } = planner;
    let LoadContext {
        keys: mut incompatible,
        error_msgs,
        ..
    } = context;

    // A tied parameter loaded under one of its names is not missing under the others.
    if !incompatible.missing_keys.is_empty() {
        let loaded: AddressSet = plan
            .values()
            .map(|(target, _)| target_key(target))
            .collect();
        let tied_and_loaded = tied_keys(&*module, &loaded);
        incompatible
            .missing_keys
            .retain(|k| !tied_and_loaded.contains(k));
    }

    let mut lines = Vec::new();
    if strict {
        if !incompatible.missing_keys.is_empty() {
            lines.push(format!(
                "Missing key(s) in state_dict: {}. ",
                quoted(&incompatible.missing_keys)
            ));
        }
        if !incompatible.unexpected_keys.is_empty() {
            lines.push(format!(
                "Unexpected key(s) in state_dict: {}. ",
                quoted(&incompatible.unexpected_keys)
            ));
        }
    }
    lines.extend(error_msgs);
    if !lines.is_empty() {
        return Err(LoadStateDictError {
            module: type_name,
            keys: incompatible,
            lines,
        });
    }

    if assign {
        let values: HashMap<String, T> = plan.into_iter().map(|(k, (_, v))| (k, v)).collect();
        assign_all(module, &values);
    } else {
        // In order, so the last of several tied keys wins, as in PyTorch.
        for (target, value) in plan.into_values() {
            match target {
                StateEntry::Parameter(p) => p.copy_planned(value),
                StateEntry::Buffer(b) => b.set_tensor(value),
            }
        }
    }
    Ok(incompatible)
}

/// What PyTorch's `target.copy_(value)` writes: `value` in the target's dtype and on its device,
/// and, unless the target is a variable written in place, a tensor of its own, so the model never
/// shares storage with the state dict it loaded (or with another model loaded from it).
fn copy_source<T: Tensor>(
    target: &StateEntry<'_, T>,
    current: &T,
    value: T,
) -> Result<T, TensorError> {
    let mut fresh = false;
    let mut value = value;
    if value.dtype() != current.dtype() {
        value = value.to_dtype(current.dtype())?;
        fresh = true;
    }
    let moved = value.to_device_of(current)?;
    fresh |= moved.id() != value.id();
    let in_place = matches!(target, StateEntry::Parameter(p) if p.read(T::is_variable));
    if fresh || in_place {
        Ok(moved)
    } else {
        moved.deep_copy()
    }
}

fn quoted(keys: &[String]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    quoted.join(", ")
}

fn target_key<T>(target: &StateEntry<'_, T>) -> usize {
    match target {
        StateEntry::Parameter(p) => p.handle().key(),
        StateEntry::Buffer(b) => b.handle().key(),
    }
}

/// The state-dict keys whose parameter or buffer is one of `loaded`.
fn tied_keys<T: Tensor>(module: &dyn Module<T>, loaded: &AddressSet) -> HashSet<String> {
    let mut out = HashSet::new();
    for_each_entry(module, &mut String::new(), true, |key, entry| {
        if loaded.contains(&target_key(&entry)) {
            out.insert(key.to_string());
        }
    });
    out
}

/// `assign=True`: every loaded entry gets a new handle holding the checkpoint's tensor
/// (parameters keep the module's `requires_grad`). Tied parameters are untied, as in PyTorch.
fn assign_all<T: Tensor>(module: &mut dyn Module<T>, values: &HashMap<String, T>) {
    fn walk<T: Tensor>(module: &mut dyn Module<T>, path: &mut String, values: &HashMap<String, T>) {
        module.visit_members_mut(MemberKind::Parameter, path, &mut |key, entry| {
            if let (AttrMut::Parameter(Some(p)), Some(v)) = (entry, values.get(key.as_str())) {
                *p = Parameter::with_requires_grad(v.clone(), p.requires_grad());
            }
        });
        module.visit_members_mut(MemberKind::Buffer, path, &mut |key, entry| {
            if let (AttrMut::Buffer(Some(b)), Some(v)) = (entry, values.get(key.as_str())) {
                *b = Buffer::new(v.clone());
            }
        });
        module.visit_members_mut(MemberKind::Module, path, &mut |key, entry| {
            if let AttrMut::Module(Some(child)) = entry {
                walk(child, key, values);
            }
        });
    }
    walk(module, &mut String::new(), values);
}
