//! `torch.optim.lr_scheduler`: learning-rate schedules with PyTorch's formulas, step for step.
//!
//! A scheduler does not hold its optimizer (the optimizer must stay free to step): it takes it at
//! construction, which runs PyTorch's initial step, and at every [`LrScheduler::step`]. The
//! formulas are PyTorch's chainable ones (each step scales the group's current learning rate), so
//! a sequence equals PyTorch's `get_last_lr()` to the last bit of float64, and schedulers compose
//! as PyTorch's do: the first one records each group's `initial_lr`, later ones start from it.
//!
//! ```
//! use modcore::nn::Linear;
//! use modcore::optim::lr_scheduler::{CosineAnnealingLR, LinearLR, LrScheduler, SequentialLR};
//! use modcore::optim::{AdamW, AdamWOptions, Optimizer};
//!
//! let fc = Linear::new(2, 2, true)?;
//! let mut opt = AdamW::from_model(&fc, AdamWOptions { lr: 1e-3, ..Default::default() })?;
//! // Warm-up for 10 steps, then cosine over the remaining 90.
//! let warmup = LinearLR::new(&mut opt, 0.1, 1.0, 10)?;
//! let cosine = CosineAnnealingLR::new(&mut opt, 90, 0.0);
//! let mut schedule = SequentialLR::new(&mut opt, vec![Box::new(warmup), Box::new(cosine)], vec![10])?;
//! assert!((schedule.last_lr()[0] - 1e-4).abs() < 1e-12);
//! for _ in 0..10 {
//!     opt.step()?;
//!     schedule.step(&mut opt)?;
//! }
//! assert!((opt.lr(0) - 1e-3).abs() < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```

mod cosine;
mod decay;
mod lambda;
mod one_cycle;
mod sequential;

pub use cosine::CosineAnnealingLR;
pub use decay::{ExponentialLR, LinearLR, MultiStepLR, StepLR};
pub use lambda::LambdaLR;
pub use one_cycle::{Anneal, OneCycleLR, OneCycleOptions};
pub use sequential::SequentialLR;

use serde_json::Value;

use crate::optim::{OptimError, Optimizer, StateError};

/// What every scheduler keeps: PyTorch's `last_epoch`, `_step_count`, `base_lrs` and
/// `_last_lr`.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerState {
    /// The number of steps taken (0 after construction).
    pub last_epoch: i64,
    /// PyTorch's `_step_count`: 1 after construction.
    pub step_count: u64,
    /// Each group's `initial_lr`.
    pub base_lrs: Vec<f64>,
    /// The learning rates the last step set (`get_last_lr()`).
    pub last_lr: Vec<f64>,
    /// Whether the step running is the constructor's (PyTorch's `_is_initial`).
    is_initial: bool,
}

impl SchedulerState {
    /// A fresh scheduler's state (`last_epoch=-1`): every group's `initial_lr` set to its
    /// learning rate unless an earlier scheduler set it.
    pub(crate) fn new(optimizer: &mut dyn Optimizer) -> Self {
        let base_lrs = (0..optimizer.group_count())
            .map(|g| match optimizer.initial_lr(g) {
                Some(lr) => lr,
                None => {
                    let lr = optimizer.lr(g);
                    optimizer.set_initial_lr(g, lr);
                    lr
                }
            })
            .collect();
        SchedulerState {
            last_epoch: -1,
            step_count: 0,
            base_lrs,
            last_lr: Vec::new(),
            is_initial: false,
        }
    }

    /// Whether the step running is the constructor's.
    pub(crate) fn is_initial(&self) -> bool {
        self.is_initial
    }
}

/// A learning-rate scheduler: PyTorch's `LRScheduler`.
pub trait LrScheduler {
    /// The state every scheduler keeps.
    fn state(&self) -> &SchedulerState;

    /// The state, mutably.
    fn state_mut(&mut self) -> &mut SchedulerState;

    /// PyTorch's `get_lr()`: each group's next learning rate, from the state (`last_epoch`
    /// already advanced) and the optimizer's current ones.
    fn compute_lr(&mut self, optimizer: &mut dyn Optimizer) -> Result<Vec<f64>, OptimError>;

    /// PyTorch's `_get_closed_form_lr()`, for schedulers that have one: the learning rates at
    /// `last_epoch` from `base_lrs` alone (what `SequentialLR` uses at a milestone).
    fn closed_form_lr(&self) -> Option<Vec<f64>> {
        None
    }

    /// PyTorch's `scheduler.step()`, after `optimizer.step()`: advances one step and sets every
    /// group's learning rate.
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<(), OptimError> {
        self.state_mut().step_count += 1;
        update_lr(self, optimizer, None)
    }

    /// PyTorch's `get_last_lr()`.
    fn last_lr(&self) -> &[f64] {
        &self.state().last_lr
    }

    /// One step back, as `SequentialLR` undoes the initial steps of the schedulers it is given
    /// (PyTorch's `recursive_undo`).
    fn undo(&mut self) {
        self.state_mut().last_epoch -= 1;
    }

    /// The state to save, under PyTorch's `state_dict()` keys (`last_epoch`, `_step_count`,
    /// `base_lrs`, `_last_lr`; `SequentialLR` adds `_schedulers`).
    fn state_json(&self) -> Value {
        self.state().to_json()
    }

    /// Whether a saved state fits this scheduler (its keys, and one learning rate per group).
    fn check_state_json(&self, saved: &Value) -> Result<(), StateError> {
        SchedulerState::from_json(saved, self.state().base_lrs.len()).map(|_| ())
    }

    /// Resumes from a saved state ([`check_state_json`](LrScheduler::check_state_json) first:
    /// on an error nothing changes).
    fn load_state_json(&mut self, saved: &Value) -> Result<(), StateError> {
        let state = SchedulerState::from_json(saved, self.state().base_lrs.len())?;
        *self.state_mut() = state;
        Ok(())
    }
}

impl SchedulerState {
    /// PyTorch's keys.
    pub(crate) fn to_json(&self) -> Value {
        serde_json::json!({
            "last_epoch": self.last_epoch,
            "_step_count": self.step_count,
            "base_lrs": self.base_lrs,
            "_last_lr": self.last_lr,
        })
    }

    /// A state saved by [`to_json`](SchedulerState::to_json), for `groups` parameter groups.
    pub(crate) fn from_json(saved: &Value, groups: usize) -> Result<SchedulerState, StateError> {
        let bad = |what: &str| StateError::Format(format!("lr_scheduler: {what}"));
        let floats = |key: &str| -> Result<Vec<f64>, StateError> {
            let list = saved[key]
                .as_array()
                .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<_>>>())
                .ok_or_else(|| bad(&format!("`{key}` is not a list of numbers")))?;
            if list.len() != groups {
                return Err(bad(&format!(
                    "`{key}` has {} entries for {groups} groups",
                    list.len()
                )));
            }
            Ok(list)
        };
        Ok(SchedulerState {
            last_epoch: saved["last_epoch"]
                .as_i64()
                .ok_or_else(|| bad("no `last_epoch`"))?,
            step_count: saved["_step_count"]
                .as_u64()
                .ok_or_else(|| bad("no `_step_count`"))?,
            base_lrs: floats("base_lrs")?,
            last_lr: floats("_last_lr")?,
            is_initial: false,
        })
    }
}

/// PyTorch's `_update_lr(epoch)`: the next learning rates (closed form when `epoch` is given and
/// the scheduler has one) written into the optimizer.
pub(crate) fn update_lr<S: LrScheduler + ?Sized>(
    scheduler: &mut S,
    optimizer: &mut dyn Optimizer,
    epoch: Option<i64>,
) -> Result<(), OptimError> {
    let values = match epoch {
        None => {
            scheduler.state_mut().last_epoch += 1;
            scheduler.compute_lr(optimizer)?
        }
        Some(epoch) => {
            scheduler.state_mut().last_epoch = epoch;
            match scheduler.closed_form_lr() {
                Some(values) => values,
                None => scheduler.compute_lr(optimizer)?,
            }
        }
    };
    for (group, lr) in values.into_iter().enumerate() {
        optimizer.set_lr(group, lr);
    }
    scheduler.state_mut().last_lr = lrs(optimizer);
    Ok(())
}

/// PyTorch's `_initial_step()`: the step a constructor takes.
pub(crate) fn initial_step<S: LrScheduler + ?Sized>(
    scheduler: &mut S,
    optimizer: &mut dyn Optimizer,
) -> Result<(), OptimError> {
    scheduler.state_mut().step_count = 0;
    scheduler.state_mut().is_initial = true;
    let stepped = scheduler.step(optimizer);
    scheduler.state_mut().is_initial = false;
    stepped
}

/// Every group's current learning rate.
pub(crate) fn lrs(optimizer: &dyn Optimizer) -> Vec<f64> {
    (0..optimizer.group_count())
        .map(|g| optimizer.lr(g))
        .collect()
}

/// Every group's learning rate scaled by `factor(group, lr)`.
pub(crate) fn scaled(optimizer: &dyn Optimizer, factor: impl Fn(f64) -> f64) -> Vec<f64> {
    lrs(optimizer).into_iter().map(factor).collect()
}

/// The state methods every scheduler with a `state` field implements the same way.
macro_rules! state_accessors {
    () => {
        fn state(&self) -> &crate::optim::lr_scheduler::SchedulerState {
            &self.state
        }

        fn state_mut(&mut self) -> &mut crate::optim::lr_scheduler::SchedulerState {
            &mut self.state
        }
    };
}

pub(crate) use state_accessors;
