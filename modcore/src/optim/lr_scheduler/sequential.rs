//! [`SequentialLR`]: schedulers one after another, switching at milestones (warm-up then
//! cosine).

use super::{initial_step, state_accessors, update_lr, LrScheduler, SchedulerState};
use crate::optim::optimizer::invalid;
use serde_json::Value;

use crate::optim::{OptimError, Optimizer, StateError};

/// PyTorch's `SequentialLR(optimizer, schedulers, milestones)`: `schedulers[i]` runs from
/// `milestones[i - 1]` on; at a milestone the next one starts from its closed form at step 0.
/// As in PyTorch, the schedulers must have been built on the same optimizer just before; their
/// initial steps are undone and the first one's is run again.
pub struct SequentialLR {
    state: SchedulerState,
    schedulers: Vec<Box<dyn LrScheduler + Send>>,
    milestones: Vec<i64>,
}

impl SequentialLR {
    /// The sequence, set up as PyTorch's constructor does.
    pub fn new(
        optimizer: &mut dyn Optimizer,
        schedulers: Vec<Box<dyn LrScheduler + Send>>,
        milestones: Vec<i64>,
    ) -> Result<Self, OptimError> {
        if schedulers.is_empty() {
            return Err(invalid(
                "SequentialLR expects at least one scheduler, but got no scheduler.".to_owned(),
            ));
        }
        if milestones.len() + 1 != schedulers.len() {
            return Err(invalid(format!(
                "Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers {} and the number of milestones to be equal to {}",
                schedulers.len(),
                milestones.len()
            )));
        }
        let mut s = SequentialLR {
            state: SchedulerState::new(optimizer),
            schedulers,
            milestones,
        };
        s.state.last_epoch = 0;
        for g in 0..optimizer.group_count() {
            if let Some(lr) = optimizer.initial_lr(g) {
                optimizer.set_lr(g, lr);
            }
        }
        s.undo();
        let first = s.index(0);
        initial_step(s.schedulers[first].as_mut(), optimizer)?;
        s.state.last_lr = s.schedulers[first].last_lr().to_vec();
        Ok(s)
    }

    /// Which scheduler runs at `epoch` (Python's `bisect_right`).
    fn index(&self, epoch: i64) -> usize {
        self.milestones.partition_point(|&m| m <= epoch)
    }
}

impl LrScheduler for SequentialLR {
    state_accessors!();

    /// Not used: [`step`](LrScheduler::step) delegates to the running scheduler.
    fn compute_lr(&mut self, _optimizer: &mut dyn Optimizer) -> Result<Vec<f64>, OptimError> {
        Ok(self.state.last_lr.clone())
    }

    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<(), OptimError> {
        self.state.last_epoch += 1;
        let epoch = self.state.last_epoch;
        let index = self.index(epoch);
        let scheduler = self.schedulers[index].as_mut();
        if index > 0 && self.milestones[index - 1] == epoch {
            update_lr(scheduler, optimizer, Some(0))?;
        } else {
            scheduler.step(optimizer)?;
        }
        self.state.last_lr = scheduler.last_lr().to_vec();
        Ok(())
    }

    /// PyTorch's `recursive_undo`: every inner scheduler one step back.
    fn undo(&mut self) {
        for scheduler in &mut self.schedulers {
            scheduler.undo();
        }
    }

    fn state_json(&self) -> Value {
        let mut json = self.state.to_json();
        let inner: Vec<Value> = self.schedulers.iter().map(|s| s.state_json()).collect();
        json["_schedulers"] = Value::Array(inner);
        json
    }

    fn check_state_json(&self, saved: &Value) -> Result<(), StateError> {
        SchedulerState::from_json(saved, self.state.base_lrs.len())?;
        let inner = saved["_schedulers"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        if inner.len() != self.schedulers.len() {
            return Err(StateError::Format(format!(
                "lr_scheduler: {} inner schedulers saved, {} here",
                inner.len(),
                self.schedulers.len()
            )));
        }
        for (scheduler, saved) in self.schedulers.iter().zip(inner) {
            scheduler.check_state_json(saved)?;
        }
        Ok(())
    }

    fn load_state_json(&mut self, saved: &Value) -> Result<(), StateError> {
        self.check_state_json(saved)?;
        self.state = SchedulerState::from_json(saved, self.state.base_lrs.len())?;
        for (scheduler, saved) in self
            .schedulers
            .iter_mut()
            .zip(saved["_schedulers"].as_array().into_iter().flatten())
        {
            scheduler.load_state_json(saved)?;
        }
        Ok(())
    }
}
