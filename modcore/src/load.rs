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
use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::ops::Bound;

use crate::member::{Attr, AttrMut};
use crate::state_dict::{key_prefix, run_hooks, StateDict, StateEntry};
use crate::tensor::torch_size;
use crate::traversal::AddressSet;
use crate::{Buffer, HookKind, MemberKind, Module, ModuleMetadata, Parameter, Tensor};

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

/// One planned write.
struct Planned<'a, T> {
    key: String,
    target: StateEntry<'a, T>,
    value: T,
}

/// The first phase: everything PyTorch's `load` does except the writes.
struct Planner<'a, 'b, T: Tensor> {
    /// The caller's state dict, copied only if a load pre-hook or a migration needs to edit it.
    state_dict: Cow<'b, StateDict<T>>,
    /// The state dict's keys, sorted, so the keys under a prefix are one range; rebuilt when a
    /// hook or a migration changed the keys (the generation they were taken at).
    sorted: Option<(u64, BTreeSet<String>)>,
    assign: bool,
    context: LoadContext,
    plan: Vec<Planned<'a, T>>,
}

impl<'a, T: Tensor> Planner<'a, '_, T> {
    fn module(&mut self, module: &'a dyn Module<T>, path: &mut String) {
        let prefix = key_prefix(path);
        let metadata = self
            .state_dict
            .metadata()
            .get(path.as_str())
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

        let mut local: Vec<(String, StateEntry<'a, T>)> = Vec::new();
        let mut children: Vec<(String, &'a dyn Module<T>)> = Vec::new();
        crate::state_dict::walk_own(module, path, &mut |key, entry| {
            local.push((key.to_owned(), entry))
        });
        module.visit_members(MemberKind::Module, path, &mut |key, entry| {
            if let Attr::Module(Some(child)) = entry {
                children.push((key.to_owned(), child));
            }
        });
        for (key, target) in local.iter() {
            match self.state_dict.get(key) {
                None => self.context.keys.missing_keys.push(key.clone()),
                Some(value) => self.check(key, target, value.clone()),
            }
        }
        self.unexpected(&prefix, &local, &children);
        for (mut child_path, child) in children {
            self.module(child, &mut child_path);
        }
        run_hooks(
            module,
            HookKind::LoadStateDictPost,
            |h: &LoadPostHook<T>| h(module, &mut self.context.keys),
        );
    }

    /// Shape and dtype checks of one entry, then its planned write.
    fn check(&mut self, key: &str, target: &StateEntry<'a, T>, value: T) {
        let current = target.tensor();
        let (model_shape, mut value_shape) = (current.shape(), value.shape());
        let mut value = value;
        // PyTorch's backward-compatibility rule: a 0-dim entry accepts a 1-element 1-dim tensor.
        if model_shape.is_empty() && value_shape == [1] {
            match value.reshape(&[]) {
                Ok(v) => {
                    value = v;
                    value_shape = Vec::new();
                }
                Err(e) => return self.copy_error(key, &model_shape, &value_shape, &e.to_string()),
            }
        }
        if model_shape != value_shape {
            self.context.error_msgs.push(format!(
                "size mismatch for {key}: copying a param with shape {} from checkpoint, the shape in current model is {}.",
                torch_size(&value_shape),
                torch_size(&model_shape)
            ));
            return;
        }
        if !self.assign && value.dtype() != current.dtype() {
            match value.to_dtype(current.dtype()) {
                Ok(v) => value = v,
                Err(e) => return self.copy_error(key, &model_shape, &value_shape, &e.to_string()),
            }
        }
        let target = match target {
            StateEntry::Parameter(p) => StateEntry::Parameter(*p),
            StateEntry::Buffer(b) => StateEntry::Buffer(*b),
        };
        self.plan.push(Planned {
            key: key.to_owned(),
            target,
            value,
        });
    }

    fn copy_error(&mut self, key: &str, model: &[usize], checkpoint: &[usize], error: &str) {
        self.context.error_msgs.push(format!(
            "While copying the parameter named \"{key}\", whose dimensions in the model are {} and whose dimensions in the checkpoint are {}, an exception occurred : ('{error}',).",
            torch_size(model),
            torch_size(checkpoint)
        ));
    }

    /// The keys under `prefix` that are neither one of this module's entries nor under one of
    /// its children, in state-dict order. Each module looks only at the keys under its prefix
    /// (one range of the sorted keys), so a load costs keys × depth, not keys × modules.
    fn unexpected(
        &mut self,
        prefix: &str,
        local: &[(String, StateEntry<'a, T>)],
        children: &[(String, &'a dyn Module<T>)],
    ) {
        let generation = self.state_dict.generation();
        if self.sorted.as_ref().is_none_or(|(g, _)| *g != generation) {
            let keys = self.state_dict.keys().map(str::to_owned).collect();
            self.sorted = Some((generation, keys));
        }
        let Some((_, sorted)) = &self.sorted else {
            return;
        };
        let local: HashSet<&str> = local.iter().map(|(k, _)| k.as_str()).collect();
        let children: HashSet<&str> = children.iter().map(|(k, _)| k.as_str()).collect();
        let mut found: Vec<(usize, &str)> = sorted
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|key| key.starts_with(prefix))
            .filter(|key| !local.contains(key.as_str()))
            .filter(|key| {
                // Under a child: the key continues past one of the children's names.
                !key.match_indices('.')
                    .any(|(at, _)| at > prefix.len() && children.contains(&key[..at]))
            })
            .map(|key| {
                (
                    self.state_dict.index_of(key).unwrap_or(usize::MAX),
                    key.as_str(),
                )
            })
            .collect();
        found.sort_unstable();
        self.context
            .keys
            .unexpected_keys
            .extend(found.into_iter().map(|(_, key)| key.to_owned()));
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
        state_dict: Cow::Borrowed(state_dict),
        sorted: None,
        assign,
        context: LoadContext {
            strict: true,
            ..LoadContext::default()
        },
        plan: Vec::new(),
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
        let loaded: AddressSet = plan.iter().map(|p| target_key(&p.target)).collect();
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
        let values: std::collections::HashMap<String, T> =
            plan.into_iter().map(|p| (p.key, p.value)).collect();
        assign_all(module, &values);
    } else {
        // In order, so the last of several tied keys wins, as in PyTorch.
        for planned in plan {
            match planned.target {
                StateEntry::Parameter(p) => p.set_tensor(planned.value),
                StateEntry::Buffer(b) => b.set_tensor(planned.value),
            }
        }
    }
    Ok(incompatible)
}

fn quoted(keys: &[String]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    quoted.join(", ")
}

fn target_key<T>(target: &StateEntry<'_, T>) -> usize {
    match target {
        StateEntry::Parameter(p) => p.key(),
        StateEntry::Buffer(b) => b.key(),
    }
}

/// The state-dict keys whose parameter or buffer is one of `loaded`.
fn tied_keys<T: Tensor>(module: &dyn Module<T>, loaded: &AddressSet) -> HashSet<String> {
    let mut out = HashSet::new();
    crate::state_dict::walk(
        module,
        &mut String::new(),
        &mut |key, entry| {
            if loaded.contains(&target_key(&entry)) {
                out.insert(key.to_owned());
            }
        },
        &mut |_, _, _| {},
    );
    out
}

/// `assign=True`: every loaded entry gets a new handle holding the checkpoint's tensor
/// (parameters keep the module's `requires_grad`). Tied parameters are untied, as in PyTorch.
fn assign_all<T: Tensor>(
    module: &mut dyn Module<T>,
    values: &std::collections::HashMap<String, T>,
) {
    fn walk<T: Tensor>(
        module: &mut dyn Module<T>,
        path: &mut String,
        values: &std::collections::HashMap<String, T>,
    ) {
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
