//! Saving and resuming an optimizer (and its scheduler): PyTorch's `optimizer.state_dict()`
//! layout in one safetensors file.
//!
//! The file holds each parameter's state as tensors named `state.<i>.<key>` (`state.0.exp_avg`,
//! `state.3.momentum_buffer`; `i` counts the parameters group after group, as PyTorch's
//! indices do), and in its metadata the `param_groups` (PyTorch's keys, with `params` lists of
//! indices) as JSON, `param_names` (each index's parameter name, so a file can be checked
//! against the model it is loaded into) and, when given, `lr_scheduler` (the scheduler's
//! state). Floats round-trip exactly, so a resumed run continues bit for bit.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::{Map, Value};

use crate::optim::lr_scheduler::LrScheduler;
use crate::optim::Optimizer;
use crate::state::checkpoint::{self, CheckpointError};
use crate::StateDict;

/// PyTorch's `optimizer.state_dict()`, plus each parameter index's name.
#[derive(Clone, Debug)]
pub struct OptimizerState {
    /// Every parameter's state, under `state.<index>.<key>`.
    pub tensors: StateDict<Tensor>,
    /// PyTorch's `param_groups`: each group's hyper-parameters and its `params` indices.
    pub param_groups: Vec<Map<String, Value>>,
    /// The name of each parameter index.
    pub param_names: Vec<String>,
}

/// Why a saved optimizer state does not fit; the optimizer is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// PyTorch's `ValueError` on a different number of groups.
    #[error("loaded state dict has a different number of parameter groups")]
    GroupCount,
    /// PyTorch's `ValueError` on a group of another size.
    #[error("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")]
    GroupSize,
    /// The file was saved for another model: parameter `index` has another name.
    #[error("parameter {index} is `{saved}` in the saved state but `{model}` in the optimizer")]
    Name {
        /// The parameter index.
        index: usize,
        /// Its name in the file.
        saved: String,
        /// Its name in the optimizer.
        model: String,
    },
    /// A state tensor whose shape is not its parameter's.
    #[error("state `{key}` has shape {saved:?}, the parameter `{name}` has {model:?}")]
    Shape {
        /// The state key (`state.0.exp_avg`).
        key: String,
        /// The parameter's name.
        name: String,
        /// The saved shape.
        saved: Vec<usize>,
        /// The parameter's shape.
        model: Vec<usize>,
    },
    /// A group key this optimizer does not have, or a value of the wrong type.
    #[error("parameter group {group}: {message}")]
    Group {
        /// The group index.
        group: usize,
        /// What is wrong.
        message: String,
    },
    /// A state entry that is missing, unknown or malformed.
    #[error("state: {0}")]
    Entry(String),
    /// The file's metadata is missing or not valid JSON.
    #[error("{0}")]
    Format(String),
    /// The file could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Saves `optimizer`'s state (and `scheduler`'s) to one safetensors file.
pub fn save_file(
    path: impl AsRef<Path>,
    optimizer: &dyn Optimizer,
    scheduler: Option<&dyn LrScheduler>,
) -> Result<(), StateError> {
    let state = optimizer
        .state_dict()
        .map_err(|e| StateError::Entry(e.to_string()))?;
    let mut metadata = HashMap::new();
    metadata.insert(
        "param_groups".to_owned(),
        Value::from(state.param_groups.clone()).to_string(),
    );
    metadata.insert(
        "param_names".to_owned(),
        Value::from(state.param_names.clone()).to_string(),
    );
    if let Some(scheduler) = scheduler {
        metadata.insert(
            "lr_scheduler".to_owned(),
            scheduler.state_json().to_string(),
        );
    }
    checkpoint::save_file_with_metadata(&state.tensors, metadata, path)?;
    Ok(())
}

/// Loads a file [`save_file`] wrote into `optimizer` (and `scheduler`). Everything is checked
/// before anything changes: on an error both are as they were.
pub fn load_file(
    path: impl AsRef<Path>,
    optimizer: &mut dyn Optimizer,
    scheduler: Option<&mut dyn LrScheduler>,
) -> Result<(), StateError> {
    let (tensors, metadata) = checkpoint::load_file_with_metadata::<Tensor>(path)?;
    let json = |key: &str| -> Result<Value, StateError> {
        let text = metadata
            .get(key)
            .ok_or_else(|| StateError::Format(format!("no `{key}` in the file's metadata")))?;
        serde_json::from_str(text).map_err(|e| StateError::Format(format!("`{key}`: {e}")))
    };
    let param_groups = match json("param_groups")? {
        Value::Array(groups) => groups
            .into_iter()
            .map(|g| match g {
                Value::Object(map) => Ok(map),
                other => Err(StateError::Format(format!("a parameter group is {other}"))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => return Err(StateError::Format(format!("`param_groups` is {other}"))),
    };
    let param_names = match json("param_names")? {
        Value::Array(names) => names
            .into_iter()
            .map(|n| n.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| StateError::Format("`param_names` holds a non-string".to_owned()))?,
        other => return Err(StateError::Format(format!("`param_names` is {other}"))),
    };
    let state = OptimizerState {
        tensors,
        param_groups,
        param_names,
    };
    // The scheduler's state is checked first: the optimizer changes only if both fit.
    let scheduler_state = match scheduler {
        Some(s) => Some((s, json("lr_scheduler")?)),
        None => None,
    };
    if let Some((s, v)) = &scheduler_state {
        s.check_state_json(v)?;
    }
    optimizer.load_state_dict(&state)?;
    if let Some((s, v)) = scheduler_state {
        s.load_state_json(&v)?;
    }
    Ok(())
}

/// A state value as saved: a scalar (PyTorch's `step`, a 0-dim float32 tensor) or the
/// parameter-shaped values.
#[derive(Clone, Debug, PartialEq)]
pub enum StateValue {
    /// A 0-dim tensor.
    Scalar(f64),
    /// A tensor of the parameter's shape, flattened.
    Values(Vec<f32>),
}

impl StateValue {
    pub(crate) fn to_tensor(&self, shape: &[usize]) -> candle_core::Result<Tensor> {
        match self {
            StateValue::Scalar(x) => Tensor::new(*x as f32, &Device::Cpu),
            StateValue::Values(v) => Tensor::from_vec(v.clone(), shape, &Device::Cpu),
        }
    }

    pub(crate) fn from_tensor(t: &Tensor) -> candle_core::Result<StateValue> {
        let t = t.to_dtype(candle_core::DType::F32)?;
        if t.rank() == 0 {
            return Ok(StateValue::Scalar(f64::from(t.to_scalar::<f32>()?)));
        }
        Ok(StateValue::Values(t.flatten_all()?.to_vec1()?))
    }
}

/// A group key's value as a float, or the reason it is not one.
pub(crate) fn float(map: &Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("`{key}` is {v}, not a number")),
    }
}

/// A group key's value as a bool.
pub(crate) fn boolean(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| format!("`{key}` is {v}, not a bool")),
    }
}

/// The flags PyTorch's groups carry that select an implementation, not a formula: written as
/// PyTorch writes them, accepted on load.
pub(crate) const IMPLEMENTATION_KEYS: &[&str] =
    &["foreach", "capturable", "differentiable", "fused"];

/// PyTorch's implementation flags, as its groups hold them (`capturable` for Adam only).
pub(crate) fn implementation_flags(map: &mut Map<String, Value>, capturable: bool) {
    map.insert("foreach".to_owned(), Value::Null);
    if capturable {
        map.insert("capturable".to_owned(), false.into());
    }
    map.insert("differentiable".to_owned(), false.into());
    map.insert("fused".to_owned(), Value::Null);
}

impl StateValue {
    /// The values of a parameter-shaped entry (a 0-dim parameter's state reads as a scalar).
    pub(crate) fn values(&self) -> Vec<f32> {
        match self {
            StateValue::Scalar(x) => vec![*x as f32],
            StateValue::Values(v) => v.clone(),
        }
    }

    /// A scalar entry's value.
    pub(crate) fn scalar(&self) -> Option<f64> {
        match self {
            StateValue::Scalar(x) => Some(*x),
            StateValue::Values(v) if v.len() == 1 => Some(f64::from(v[0])),
            StateValue::Values(_) => None,
        }
    }
}

/// Checks that a saved group has only `known` keys (besides `params`, `initial_lr` and PyTorch's
/// implementation flags).
pub(crate) fn known_keys(group: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    for key in group.keys() {
        let key = key.as_str();
        if !(known.contains(&key)
            || IMPLEMENTATION_KEYS.contains(&key)
            || key == "params"
            || key == "initial_lr")
        {
            return Err(format!("unknown key `{key}`"));
        }
    }
    Ok(())
}
