//! [`LambdaLR`]: a learning rate given by a function of the step.

use super::{initial_step, state_accessors, LrScheduler, SchedulerState};
use crate::optim::{OptimError, Optimizer};

/// A factor of the step number, one per group or one for all.
type Lambda = Box<dyn Fn(i64) -> f64 + Send>;

/// PyTorch's `LambdaLR(optimizer, lr_lambda)`: each group's learning rate is its `initial_lr`
/// times `lr_lambda(step)`.
pub struct LambdaLR {
    state: SchedulerState,
    lambdas: Vec<Lambda>,
}

impl LambdaLR {
    /// One function for every group.
    pub fn new(
        optimizer: &mut dyn Optimizer,
        lr_lambda: impl Fn(i64) -> f64 + Clone + Send + 'static,
    ) -> Self {
        let lambdas = (0..optimizer.group_count())
            .map(|_| Box::new(lr_lambda.clone()) as Lambda)
            .collect();
        Self::with_lambdas(optimizer, lambdas)
    }

    /// One function per group, in group order (PyTorch's list of `lr_lambda`s). Groups without
    /// a function keep a factor of 1.
    pub fn with_lambdas(optimizer: &mut dyn Optimizer, lambdas: Vec<Lambda>) -> Self {
        let mut s = LambdaLR {
            state: SchedulerState::new(optimizer),
            lambdas,
        };
        let _ = initial_step(&mut s, optimizer);
        s
    }
}

impl LrScheduler for LambdaLR {
    state_accessors!();

    fn compute_lr(&mut self, _optimizer: &mut dyn Optimizer) -> Result<Vec<f64>, OptimError> {
        let epoch = self.state.last_epoch;
        Ok(self
            .state
            .base_lrs
            .iter()
            .enumerate()
            .map(|(g, base)| base * self.lambdas.get(g).map_or(1.0, |f| f(epoch)))
            .collect())
    }
}
