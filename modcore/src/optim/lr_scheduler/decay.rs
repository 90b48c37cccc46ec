//! Schedules that scale the learning rate by fixed factors: [`StepLR`], [`MultiStepLR`],
//! [`ExponentialLR`] and [`LinearLR`].

use super::{initial_step, lrs, scaled, state_accessors, LrScheduler, SchedulerState};
use crate::optim::optimizer::invalid;
use crate::optim::{OptimError, Optimizer};

/// PyTorch's `StepLR(optimizer, step_size, gamma)`: every `step_size` steps the learning rate is
/// multiplied by `gamma` (PyTorch's default 0.1).
pub struct StepLR {
    state: SchedulerState,
    step_size: i64,
    gamma: f64,
}

impl StepLR {
    /// The scheduler, after PyTorch's initial step.
    pub fn new(optimizer: &mut dyn Optimizer, step_size: i64, gamma: f64) -> Self {
        let mut s = StepLR {
            state: SchedulerState::new(optimizer),
            step_size,
            gamma,
        };
        // The initial step of a schedule without failure modes cannot fail.
        let _ = initial_step(&mut s, optimizer);
        s
    }
}

impl LrScheduler for StepLR {
    state_accessors!();

    fn compute_lr(&mut self, optimizer: &mut dyn Optimizer) -> Result<Vec<f64>, OptimError> {
        let epoch = self.state.last_epoch;
        if epoch == 0 || epoch % self.step_size != 0 {
            return Ok(lrs(optimizer));
        }
        Ok(scaled(optimizer, |lr| lr * self.gamma))
    }

    fn closed_form_lr(&self) -> Option<Vec<f64>> {
        let power = self.state.last_epoch.div_euclid(self.step_size) as f64;
        Some(
            self.state
                .base_lrs
                .iter()
                .map(|b| b * self.gamma.powf(power))
                .collect(),
        )
    }
}

/// PyTorch's `MultiStepLR(optimizer, milestones, gamma)`: at each milestone the learning rate is
/// multiplied by `gamma` (by `gamma^n` for a milestone listed `n` times).
pub struct MultiStepLR {
    state: SchedulerState,
    /// Sorted, repeats kept (PyTorch's `Counter`).
    milestones: Vec<i64>,
    gamma: f64,
}

impl MultiStepLR {
    /// The scheduler, after PyTorch's initial step.
    pub fn new(optimizer: &mut dyn Optimizer, milestones: Vec<i64>, gamma: f64) -> Self {
        let mut milestones = milestones;
        milestones.sort_unstable();
        let mut s = MultiStepLR {
            state: SchedulerState::new(optimizer),
            milestones,
            gamma,
        };
        let _ = initial_step(&mut s, optimizer);
        s
    }
}

impl LrScheduler for MultiStepLR {
    state_accessors!();

    fn compute_lr(&mut self, optimizer: &mut dyn Optimizer) -> Result<Vec<f64>, OptimError> {
        let epoch = self.state.last_epoch;
        let count = self.milestones.iter().filter(|&&m| m == epoch).count();
        if count == 0 {
            return Ok(lrs(optimizer));
        }
        Ok(scaled(optimizer, |lr| lr * self.gamma.powf(count as f64)))
    }

    fn closed_form_lr(&self) -> Option<Vec<f64>> {
        let passed = self
            .milestones
            .partition_point(|&m| m <= self.state.last_epoch) as f64;
        Some(
            self.state
                .base_lrs
                .iter()
                .map(|b| b * self.gamma.powf(passed))
                .collect(),
        )
    }
}

/// PyTorch's `ExponentialLR(optimizer, gamma)`: the learning rate multiplied by `gamma` every
/// step.
pub struct ExponentialLR {
    state: SchedulerState,
    gamma: f64,
}

impl ExponentialLR {
    /// The scheduler, after PyTorch's initial step.
    pub fn new(optimizer: &mut dyn Optimizer, gamma: f64) -> Self {
        let mut s = ExponentialLR {
            state: SchedulerState::new(optimizer),
            gamma,
        };
        let _ = initial_step(&mut s, optimizer);
        s
    }
}

impl LrScheduler for ExponentialLR {
    state_accessors!();

    fn compute_lr(&mut self, optimizer: &mut dyn Optimizer) -> Result<Vec<f64>, OptimError> {
        if self.state.is_initial() {
            return Ok(lrs(optimizer));
        }
        Ok(scaled(optimizer, |lr| lr * self.gamma))
    }

    fn closed_form_lr(&self) -> Option<Vec<f64>> {
        let epoch = self.state.last_epoch as f64;
        Some(
            self.state
                .base_lrs
                .iter()
                .map(|b| b * self.gamma.powf(epoch))
                .collect(),
        )
    }
}

/// PyTorch's `LinearLR(optimizer, start_factor, end_factor, total_iters)` (defaults 1/3, 1.0,
/// 5): the learning rate's factor moves linearly from `start_factor` to `end_factor` over
/// `total_iters` steps, the usual warm-up.
pub struct LinearLR {
    state: SchedulerState,
    start_factor: f64,
    end_factor: f64,
    total_iters: i64,
}

impl LinearLR {
    /// The scheduler, after PyTorch's initial step; PyTorch's `ValueError`s for factors out of
    /// range.
    pub fn new(
        optimizer: &mut dyn Optimizer,
        start_factor: f64,
        end_factor: f64,
        total_iters: i64,
    ) -> Result<Self, OptimError> {
        if start_factor > 1.0 || start_factor <= 0.0 {
            return Err(invalid(
                "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."
                    .to_owned(),
            ));
        }
        if !(0.0..=1.0).contains(&end_factor) {
            return Err(invalid(
                "Ending multiplicative factor expected to be between 0 and 1.".to_owned(),
            ));
        }
        let mut s = LinearLR {
            state: SchedulerState::new(optimizer),
            start_factor,
            end_factor,
            total_iters,
        };
        initial_step(&mut s, optimizer)?;
        Ok(s)
    }
}

impl LrScheduler for LinearLR {
    state_accessors!();

    fn compute_lr(&mut self, optimizer: &mut dyn Optimizer) -> Result<Vec<f64>, OptimError> {
        let epoch = self.state.last_epoch;
        if epoch == 0 {
            return Ok(scaled(optimizer, |lr| lr * self.start_factor));
        }
        if self.state.is_initial() || epoch > self.total_iters {
            return Ok(lrs(optimizer));
        }
        let span = self.end_factor - self.start_factor;
        let factor =
            1.0 + span / (self.total_iters as f64 * self.start_factor + (epoch - 1) as f64 * span);
        Ok(scaled(optimizer, |lr| lr * factor))
    }

    fn closed_form_lr(&self) -> Option<Vec<f64>> {
        let done = self.total_iters.min(self.state.last_epoch) as f64;
        let factor = self.start_factor
            + (self.end_factor - self.start_factor) * done / self.total_iters as f64;
        Some(self.state.base_lrs.iter().map(|b| b * factor).collect())
    }
}
