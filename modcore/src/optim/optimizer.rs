//! The [`Optimizer`] trait, [`Optim`] (the parameter groups, per-parameter state and step loop
//! every optimizer shares; `SGD`, `Adam` and `AdamW` are `Optim` over their options type, an
//! [`Update`]), the error type, and how an update reads and writes a parameter.
//!
//! Updates run on the host in float32, element by element in PyTorch's order of operations
//! (`_single_tensor_*` of `torch.optim`), so results equal PyTorch's to float32 rounding: these
//! tensors are often tiny, and a few loops over a slice cost less than the dozen tensor
//! operations per parameter PyTorch's formulas take. The new values are written into the
//! parameter's variable (`Var::set`), so candle-nn, a second optimizer or anything else holding
//! the variable sees the step.

use candle_core::{DType, Tensor};

use serde_json::{Map, Value};

use crate::module::traversal::AddressSet;
use crate::optim::group::{ParamGroup, ParamGroups};
use crate::optim::state::{float, OptimizerState, StateError, StateValue};
use crate::{Module, Parameter, StateDict, TensorError};

/// What an optimizer does: PyTorch's `step`, `zero_grad` and the per-group learning rate
/// schedulers drive.
pub trait Optimizer {
    /// PyTorch's `optimizer.step()`: one update of every parameter that requires grad and has a
    /// gradient ([`Parameter::grad`]), each group with its own hyper-parameters. Tied
    /// parameters are one parameter and are updated once.
    fn step(&mut self) -> Result<(), OptimError>;

    /// PyTorch's `optimizer.zero_grad()` (`set_to_none=True`): every gradient of the
    /// optimizer's parameters cleared.
    fn zero_grad(&self);

    /// How many parameter groups there are.
    fn group_count(&self) -> usize;

    /// Group `group`'s learning rate (`param_groups[group]["lr"]`).
    fn lr(&self, group: usize) -> f64;

    /// Sets group `group`'s learning rate, as a scheduler does.
    fn set_lr(&mut self, group: usize, lr: f64);

    /// Group `group`'s `initial_lr`: the learning rate the first scheduler found, which later
    /// schedulers start from (PyTorch keeps it in `param_groups`).
    fn initial_lr(&self, group: usize) -> Option<f64>;

    /// Sets group `group`'s `initial_lr`.
    fn set_initial_lr(&mut self, group: usize, lr: f64);

    /// Group `group`'s momentum, as `OneCycleLR` cycles it: SGD's `momentum`, Adam's `beta1`.
    fn momentum(&self, group: usize) -> Option<f64>;

    /// Sets group `group`'s momentum (SGD's `momentum`, Adam's `beta1`).
    fn set_momentum(&mut self, group: usize, momentum: f64);

    /// PyTorch's `optimizer.state_dict()`: see [`OptimizerState`].
    fn state_dict(&self) -> Result<OptimizerState, OptimError>;

    /// PyTorch's `optimizer.load_state_dict(state)`, checked first: a state that does not fit (a
    /// group count or size, a parameter name, a shape, an unknown group key) is an error and the
    /// optimizer is unchanged.
    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<(), StateError>;
}

/// An optimizer's hyper-parameters, and its update rule on one parameter.
pub trait Update: Clone {
    /// What the optimizer keeps per parameter between steps (PyTorch's `optimizer.state[p]`).
    type State;

    /// PyTorch's constructor checks, with its `ValueError` texts.
    fn check(&self) -> Result<(), OptimError>;

    /// One step on one parameter: `values` updated in place from `grad`, `state` created on the
    /// first step.
    fn update(&self, state: &mut Option<Self::State>, values: &mut [f32], grad: &[f32]);

    /// The learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate.
    fn set_lr(&mut self, lr: f64);

    /// The momentum a scheduler may cycle (SGD's `momentum`, Adam's `beta1`); `None` if the
    /// optimizer has none.
    fn momentum(&self) -> Option<f64> {
        None
    }

    /// Sets that momentum.
    fn set_momentum(&mut self, momentum: f64) {
        let _ = momentum;
    }

    /// The hyper-parameters under PyTorch's `param_groups` keys (without `params`).
    fn to_group(&self) -> Map<String, Value>;

    /// These options with a saved group's values; the message of an unknown key or a value of
    /// the wrong type otherwise.
    fn with_group(&self, group: &Map<String, Value>) -> Result<Self, String>;

    /// The state under PyTorch's keys (`step`, `exp_avg`, `momentum_buffer`, …).
    fn save_state(state: &Self::State) -> Vec<(&'static str, StateValue)>;

    /// A state from its saved entries; the message of a missing or unknown one otherwise.
    fn load_state(entries: &[(String, StateValue)]) -> Result<Self::State, String>;
}

/// An optimizer: parameter groups with options `O`, and each parameter's state.
///
/// ```
/// use modcore::nn::Linear;
/// use modcore::optim::{Optimizer, SgdOptions, SGD};
/// use modcore::prelude::*;
/// use candle_core::{Device, Tensor};
///
/// let fc = Linear::new(1, 1, false)?;
/// fc.weight.set_tensor(Tensor::new(&[[1f32]], &Device::Cpu)?);
/// let mut sgd = SGD::from_model(&fc, SgdOptions { lr: 0.5, ..Default::default() })?;
/// fc.weight.set_grad(Some(Tensor::new(&[[0.2f32]], &Device::Cpu)?));
/// sgd.step()?;
/// assert_eq!(fc.weight.tensor().to_vec2::<f32>()?, [[0.9]]);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub struct Optim<O: Update> {
    groups: Vec<ParamGroup<O>>,
    /// `state[g][i]`: the state of parameter `i` of group `g`.
    state: Vec<Vec<Option<O::State>>>,
    /// Each group's `initial_lr`, once a scheduler has set it.
    initial_lrs: Vec<Option<f64>>,
}

impl<O: Update> Optim<O> {
    /// An optimizer over `groups`. Fails with PyTorch's error on an invalid option or a
    /// parameter in two groups.
    pub fn new(groups: ParamGroups<O>) -> Result<Self, OptimError> {
        let groups = groups.into_groups();
        let mut seen = AddressSet::default();
        for group in &groups {
            group.options.check()?;
            for (_, p) in &group.params {
                if !seen.insert(p.handle().key()) {
                    return Err(invalid(
                        "some parameters appear in more than one parameter group".to_owned(),
                    ));
                }
            }
        }
        let state = groups
            .iter()
            .map(|g| g.params.iter().map(|_| None).collect())
            .collect();
        let initial_lrs = vec![None; groups.len()];
        Ok(Optim {
            groups,
            state,
            initial_lrs,
        })
    }

    /// An optimizer over every parameter of `model`, in one group with `options`.
    pub fn from_model<M: Module<Tensor> + ?Sized>(
        model: &M,
        options: O,
    ) -> Result<Self, OptimError> {
        Self::new(ParamGroups::new(model, options))
    }

    /// The parameter groups (PyTorch's `param_groups`).
    pub fn param_groups(&self) -> &[ParamGroup<O>] {
        &self.groups
    }

    /// Group `group`'s options, to change a hyper-parameter between steps.
    pub fn options_mut(&mut self, group: usize) -> &mut O {
        &mut self.groups[group].options
    }
}

impl<O: Update> Optimizer for Optim<O> {
    fn step(&mut self) -> Result<(), OptimError> {
        for (group, states) in self.groups.iter().zip(&mut self.state) {
            for ((name, p), state) in group.params.iter().zip(states) {
                let Some(mut slices) = Slices::read(name, p)? else {
                    continue;
                };
                group
                    .options
                    .update(state, &mut slices.values, &slices.grad);
                slices.write(name, p)?;
            }
        }
        Ok(())
    }

    fn zero_grad(&self) {
        for group in &self.groups {
            for (_, p) in &group.params {
                p.set_grad(None);
            }
        }
    }

    fn group_count(&self) -> usize {
        self.groups.len()
    }

    fn lr(&self, group: usize) -> f64 {
        self.groups[group].options.lr()
    }

    fn set_lr(&mut self, group: usize, lr: f64) {
        self.groups[group].options.set_lr(lr)
    }

    fn initial_lr(&self, group: usize) -> Option<f64> {
        self.initial_lrs[group]
    }

    fn set_initial_lr(&mut self, group: usize, lr: f64) {
        self.initial_lrs[group] = Some(lr);
    }

    fn momentum(&self, group: usize) -> Option<f64> {
        self.groups[group].options.momentum()
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) {
        self.groups[group].options.set_momentum(momentum)
    }

    fn state_dict(&self) -> Result<OptimizerState, OptimError> {
        let mut tensors = StateDict::new();
        let mut param_groups = Vec::with_capacity(self.groups.len());
        let mut param_names = Vec::new();
        for (g, (group, states)) in self.groups.iter().zip(&self.state).enumerate() {
            let mut map = group.options.to_group();
            if let Some(lr) = self.initial_lrs[g] {
                map.insert("initial_lr".to_owned(), lr.into());
            }
            let mut indices = Vec::with_capacity(group.params.len());
            for ((name, p), state) in group.params.iter().zip(states) {
                let index = param_names.len();
                for (key, value) in state.iter().flat_map(O::save_state) {
                    let tensor = value
                        .to_tensor(&p.shape())
                        .map_err(|e| tensor_error(name, e))?;
                    tensors.insert(format!("state.{index}.{key}"), tensor);
                }
                indices.push(Value::from(index));
                param_names.push(name.clone());
            }
            map.insert("params".to_owned(), Value::Array(indices));
            param_groups.push(map);
        }
        Ok(OptimizerState {
            tensors,
            param_groups,
            param_names,
        })
    }

    fn load_state_dict(&mut self, saved: &OptimizerState) -> Result<(), StateError> {
        if saved.param_groups.len() != self.groups.len() {
            return Err(StateError::GroupCount);
        }
        let params: Vec<(&str, &Parameter<Tensor>)> = self
            .groups
            .iter()
            .flat_map(|g| g.params.iter().map(|(n, p)| (n.as_str(), p)))
            .collect();
        let entries = saved_entries(saved, &params)?;
        let mut options = Vec::with_capacity(self.groups.len());
        let mut initial_lrs = Vec::with_capacity(self.groups.len());
        let mut states = Vec::with_capacity(self.groups.len());
        let mut entries = entries.into_iter();
        for (g, (group, map)) in self.groups.iter().zip(&saved.param_groups).enumerate() {
            let size = map.get("params").and_then(Value::as_array).map(Vec::len);
            if size != Some(group.params.len()) {
                return Err(StateError::GroupSize);
            }
            let problem = |message| StateError::Group { group: g, message };
            options.push(group.options.with_group(map).map_err(problem)?);
            initial_lrs.push(float(map, "initial_lr").map_err(problem)?);
            let mut group_states = Vec::with_capacity(group.params.len());
            for (name, _) in &group.params {
                let saved = entries.next().unwrap_or_default();
                group_states.push(if saved.is_empty() {
                    None
                } else {
                    Some(
                        O::load_state(&saved)
                            .map_err(|e| StateError::Entry(format!("`{name}`: {e}")))?,
                    )
                });
            }
            states.push(group_states);
        }
        for (group, options) in self.groups.iter_mut().zip(options) {
            group.options = options;
        }
        self.initial_lrs = initial_lrs;
        self.state = states;
        Ok(())
    }
}

/// Each parameter's saved state entries, by index, checked against the parameter's name and
/// shape.
fn saved_entries(
    saved: &OptimizerState,
    params: &[(&str, &Parameter<Tensor>)],
) -> Result<Vec<Vec<(String, StateValue)>>, StateError> {
    if saved.param_names.len() != params.len() {
        return Err(StateError::GroupSize);
    }
    for (index, (saved, (model, _))) in saved.param_names.iter().zip(params).enumerate() {
        if saved != model {
            return Err(StateError::Name {
                index,
                saved: saved.clone(),
                model: (*model).to_owned(),
            });
        }
    }
    let mut entries: Vec<Vec<(String, StateValue)>> = vec![Vec::new(); params.len()];
    for (key, tensor) in saved.tensors.iter() {
        let malformed = || StateError::Entry(format!("`{key}` is not `state.<index>.<name>`"));
        let rest = key.strip_prefix("state.").ok_or_else(malformed)?;
        let (index, name) = rest.split_once('.').ok_or_else(malformed)?;
        let index: usize = index.parse().map_err(|_| malformed())?;
        let (param_name, p) = params.get(index).ok_or_else(|| {
            StateError::Entry(format!("`{key}`: there are {} parameters", params.len()))
        })?;
        let shape = p.shape();
        if tensor.rank() != 0 && tensor.dims() != shape.as_slice() {
            return Err(StateError::Shape {
                key: key.to_owned(),
                name: (*param_name).to_owned(),
                saved: tensor.dims().to_vec(),
                model: shape,
            });
        }
        let value = StateValue::from_tensor(tensor)
            .map_err(|e| StateError::Entry(format!("`{key}`: {e}")))?;
        entries[index].push((name.to_owned(), value));
    }
    Ok(entries)
}

/// Why an optimizer could not be built or could not step.
#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    /// A hyper-parameter out of range, with PyTorch's `ValueError` text
    /// (`Invalid learning rate: -1.0`).
    #[error("{0}")]
    InvalidOption(String),
    /// A gradient whose shape is not its parameter's.
    #[error("the gradient of `{name}` has shape {grad:?}, the parameter {param:?}")]
    GradShape {
        /// The parameter's name.
        name: String,
        /// The gradient's shape.
        grad: Vec<usize>,
        /// The parameter's shape.
        param: Vec<usize>,
    },
    /// A tensor operation failed.
    #[error("`{name}`: {source}")]
    Tensor {
        /// The parameter's name.
        name: String,
        /// The backend's error.
        source: TensorError,
    },
}

/// One parameter's values and gradient on the host, in float32, for an update; `None` when the
/// parameter is skipped (frozen, or no gradient).
pub(crate) struct Slices {
    pub(crate) values: Vec<f32>,
    pub(crate) grad: Vec<f32>,
}

impl Slices {
    pub(crate) fn read(name: &str, p: &Parameter<Tensor>) -> Result<Option<Slices>, OptimError> {
        if !p.requires_grad() {
            return Ok(None);
        }
        let Some(grad) = p.grad() else {
            return Ok(None);
        };
        let value = p.detached();
        if grad.dims() != value.dims() {
            return Err(OptimError::GradShape {
                name: name.to_owned(),
                grad: grad.dims().to_vec(),
                param: value.dims().to_vec(),
            });
        }
        let host = |t: &Tensor| -> candle_core::Result<Vec<f32>> {
            t.flatten_all()?.to_dtype(DType::F32)?.to_vec1()
        };
        let read = || {
            Ok(Slices {
                values: host(&value)?,
                grad: host(&grad)?,
            })
        };
        read()
            .map(Some)
            .map_err(|e: candle_core::Error| tensor_error(name, e))
    }

    /// Writes the updated values back into the parameter, in its dtype and on its device.
    pub(crate) fn write(self, name: &str, p: &Parameter<Tensor>) -> Result<(), OptimError> {
        let current = p.detached();
        let write = || -> candle_core::Result<()> {
            let new = Tensor::from_vec(self.values, current.shape(), current.device())?
                .to_dtype(current.dtype())?;
            if !crate::Tensor::write_in_place(&p.read(Tensor::clone), &new).unwrap_or(false) {
                p.set_tensor(new);
            }
            Ok(())
        };
        write().map_err(|e| tensor_error(name, e))
    }
}

fn tensor_error(name: &str, e: candle_core::Error) -> OptimError {
    OptimError::Tensor {
        name: name.to_owned(),
        source: TensorError::new(e.to_string()),
    }
}

/// PyTorch's checks of the hyper-parameters every optimizer shares.
pub(crate) fn check_lr_and_decay(lr: f64, weight_decay: f64) -> Result<(), OptimError> {
    if lr < 0.0 {
        return Err(invalid(format!("Invalid learning rate: {}", py(lr))));
    }
    if weight_decay < 0.0 {
        return Err(invalid(format!(
            "Invalid weight_decay value: {}",
            py(weight_decay)
        )));
    }
    Ok(())
}

pub(crate) fn invalid(message: String) -> OptimError {
    OptimError::InvalidOption(message)
}

/// A float as Python prints it in these messages.
pub(crate) fn py(x: f64) -> String {
    crate::nn::py_float(x)
}
