//! [`CosineAnnealingLR`]: PyTorch's cosine annealing (SGDR without restarts).

use std::f64::consts::PI;

use super::{initial_step, lrs, state_accessors, LrScheduler, SchedulerState};
use crate::optim::{OptimError, Optimizer};

/// PyTorch's `CosineAnnealingLR(optimizer, T_max, eta_min)`: the learning rate follows half a
/// cosine from its initial value down to `eta_min` over `t_max` steps, then back up, with
/// PyTorch's chainable formula.
pub struct CosineAnnealingLR {
    state: SchedulerState,
    t_max: i64,
    eta_min: f64,
}

impl CosineAnnealingLR {
    /// The scheduler, after PyTorch's initial step.
    pub fn new(optimizer: &mut dyn Optimizer, t_max: i64, eta_min: f64) -> Self {
        let mut s = CosineAnnealingLR {
            state: SchedulerState::new(optimizer),
            t_max,
            eta_min,
        };
        let _ = initial_step(&mut s, optimizer);
        s
    }

    /// The closed form at `epoch` from a base learning rate.
    fn closed(&self, base: f64, epoch: i64) -> f64 {
        self.eta_min
            + (base - self.eta_min) * (1.0 + (epoch as f64 * PI / self.t_max as f64).cos()) / 2.0
    }
}

impl LrScheduler for CosineAnnealingLR {
    state_accessors!();

    fn compute_lr(&mut self, optimizer: &mut dyn Optimizer) -> Result<Vec<f64>, OptimError> {
        let (epoch, t_max) = (self.state.last_epoch, self.t_max as f64);
        if self.state.is_initial() {
            return Ok(lrs(optimizer));
        }
        if self.state.step_count == 1 && epoch > 0 {
            let bases = &self.state.base_lrs;
            return Ok(bases.iter().map(|&b| self.closed(b, epoch)).collect());
        }
        let current = lrs(optimizer).into_iter().zip(&self.state.base_lrs);
        if (epoch - 1 - self.t_max).rem_euclid(2 * self.t_max) == 0 {
            let cos = (PI / t_max).cos();
            return Ok(current
                .map(|(lr, &base)| lr + (base - self.eta_min) * (1.0 - cos) / 2.0)
                .collect());
        }
        let ratio = (1.0 + (PI * epoch as f64 / t_max).cos())
            / (1.0 + (PI * (epoch - 1) as f64 / t_max).cos());
        Ok(current
            .map(|(lr, _)| ratio * (lr - self.eta_min) + self.eta_min)
            .collect())
    }

    fn closed_form_lr(&self) -> Option<Vec<f64>> {
        let epoch = self.state.last_epoch;
        Some(
            self.state
                .base_lrs
                .iter()
                .map(|&b| self.closed(b, epoch))
                .collect(),
        )
    }
}
