//! [`OneCycleLR`]: the 1cycle policy (learning rate up then down, momentum the other way).

use std::f64::consts::PI;

use super::{initial_step, state_accessors, LrScheduler, SchedulerState};
use crate::optim::optimizer::invalid;
use crate::optim::{OptimError, Optimizer};

/// How [`OneCycleLR`] moves between two values: PyTorch's `anneal_strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anneal {
    /// `'cos'` (the default).
    Cos,
    /// `'linear'`.
    Linear,
}

impl Anneal {
    fn at(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Anneal::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            Anneal::Linear => (end - start) * pct + start,
        }
    }
}

/// Where a phase goes: the learning rates and momenta named as PyTorch's phases name them.
#[derive(Clone, Copy)]
enum Lr {
    Initial,
    Max,
    Min,
}

#[derive(Clone, Copy)]
enum Momentum {
    Max,
    Base,
}

struct Phase {
    end_step: f64,
    lr: (Lr, Lr),
    momentum: (Momentum, Momentum),
}

/// Each group's fixed points.
struct Group {
    initial_lr: f64,
    max_lr: f64,
    min_lr: f64,
    max_momentum: f64,
    base_momentum: f64,
}

/// PyTorch's `OneCycleLR(optimizer, max_lr, total_steps, pct_start=0.3, anneal_strategy='cos',
/// cycle_momentum=True, base_momentum=0.85, max_momentum=0.95, div_factor=25.0,
/// final_div_factor=1e4, three_phase=False)`. Build it with [`OneCycleLR::new`] and adjust the
/// public fields of [`OneCycleOptions`].
pub struct OneCycleLR {
    state: SchedulerState,
    total_steps: i64,
    phases: Vec<Phase>,
    anneal: Anneal,
    cycle_momentum: bool,
    groups: Vec<Group>,
}

/// `OneCycleLR`'s arguments besides `max_lr` and `total_steps`, with PyTorch's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct OneCycleOptions {
    /// The fraction of the cycle spent increasing the learning rate (0.3).
    pub pct_start: f64,
    /// How values move ([`Anneal::Cos`]).
    pub anneal: Anneal,
    /// Cycle the momentum inversely to the learning rate (`true`).
    pub cycle_momentum: bool,
    /// The lowest momentum (0.85).
    pub base_momentum: f64,
    /// The highest momentum (0.95).
    pub max_momentum: f64,
    /// `initial_lr = max_lr / div_factor` (25).
    pub div_factor: f64,
    /// `min_lr = initial_lr / final_div_factor` (1e4).
    pub final_div_factor: f64,
    /// Three phases (up, down to `initial_lr`, then to `min_lr`) instead of two (`false`).
    pub three_phase: bool,
}

impl Default for OneCycleOptions {
    fn default() -> Self {
        OneCycleOptions {
            pct_start: 0.3,
            anneal: Anneal::Cos,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        }
    }
}

impl OneCycleLR {
    /// The scheduler over `total_steps` steps, each group peaking at its `max_lrs` entry (one
    /// entry for every group, or one per group). Sets each group's `initial_lr` (and momentum)
    /// and runs PyTorch's initial step; PyTorch's `ValueError`s otherwise.
    pub fn new(
        optimizer: &mut dyn Optimizer,
        max_lrs: &[f64],
        total_steps: i64,
        options: OneCycleOptions,
    ) -> Result<Self, OptimError> {
        if total_steps <= 0 {
            return Err(invalid(format!(
                "Expected positive integer total_steps, but got {total_steps}"
            )));
        }
        let pct = options.pct_start;
        if !(0.0..=1.0).contains(&pct) {
            return Err(invalid(format!(
                "Expected float between 0 and 1 pct_start, but got {}",
                crate::optim::optimizer::py(pct)
            )));
        }
        let count = optimizer.group_count();
        if max_lrs.len() != 1 && max_lrs.len() != count {
            return Err(invalid(format!(
                "expected {count} values for max_lr, got {}",
                max_lrs.len()
            )));
        }
        if options.cycle_momentum && (0..count).any(|g| optimizer.momentum(g).is_none()) {
            return Err(invalid(
                "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
                    .to_owned(),
            ));
        }
        let total = total_steps as f64;
        // PyTorch's `_schedule_phases`: up to `max_lr`, then down (to `min_lr`, or to
        // `initial_lr` and then `min_lr`), momentum the other way.
        let up = phase(
            pct * total - 1.0,
            (Lr::Initial, Lr::Max),
            (Momentum::Max, Momentum::Base),
        );
        let down = (Momentum::Base, Momentum::Max);
        let phases = if options.three_phase {
            vec![
                up,
                phase(2.0 * pct * total - 2.0, (Lr::Max, Lr::Initial), down),
                phase(
                    total - 1.0,
                    (Lr::Initial, Lr::Min),
                    (Momentum::Max, Momentum::Max),
                ),
            ]
        } else {
            vec![up, phase(total - 1.0, (Lr::Max, Lr::Min), down)]
        };
        let groups: Vec<Group> = (0..count)
            .map(|g| {
                let max_lr = if max_lrs.len() == 1 {
                    max_lrs[0]
                } else {
                    max_lrs[g]
                };
                let initial_lr = max_lr / options.div_factor;
                Group {
                    initial_lr,
                    max_lr,
                    min_lr: initial_lr / options.final_div_factor,
                    max_momentum: options.max_momentum,
                    base_momentum: options.base_momentum,
                }
            })
            .collect();
        for (g, group) in groups.iter().enumerate() {
            optimizer.set_initial_lr(g, group.initial_lr);
            if options.cycle_momentum {
                optimizer.set_momentum(g, group.max_momentum);
            }
        }
        let mut s = OneCycleLR {
            state: SchedulerState::new(optimizer),
            total_steps,
            phases,
            anneal: options.anneal,
            cycle_momentum: options.cycle_momentum,
            groups,
        };
        initial_step(&mut s, optimizer)?;
        Ok(s)
    }
}

fn phase(end_step: f64, lr: (Lr, Lr), momentum: (Momentum, Momentum)) -> Phase {
    Phase {
        end_step,
        lr,
        momentum,
    }
}

impl Group {
    fn lr(&self, which: Lr) -> f64 {
        match which {
            Lr::Initial => self.initial_lr,
            Lr::Max => self.max_lr,
            Lr::Min => self.min_lr,
        }
    }

    fn momentum(&self, which: Momentum) -> f64 {
        match which {
            Momentum::Max => self.max_momentum,
            Momentum::Base => self.base_momentum,
        }
    }
}

impl LrScheduler for OneCycleLR {
    state_accessors!();

    fn compute_lr(&mut self, optimizer: &mut dyn Optimizer) -> Result<Vec<f64>, OptimError> {
        let step = self.state.last_epoch;
        if step > self.total_steps {
            return Err(invalid(format!(
                "Tried to step {step} times. The specified number of total steps is {}",
                self.total_steps
            )));
        }
        let step = step as f64;
        let mut lrs = Vec::with_capacity(self.groups.len());
        for (g, group) in self.groups.iter().enumerate() {
            let mut start_step = 0.0;
            let last = self.phases.len() - 1;
            for (i, phase) in self.phases.iter().enumerate() {
                if step <= phase.end_step || i == last {
                    let pct = (step - start_step) / (phase.end_step - start_step);
                    let (from, to) = phase.lr;
                    lrs.push(self.anneal.at(group.lr(from), group.lr(to), pct));
                    if self.cycle_momentum {
                        let (from, to) = phase.momentum;
                        let momentum =
                            self.anneal
                                .at(group.momentum(from), group.momentum(to), pct);
                        optimizer.set_momentum(g, momentum);
                    }
                    break;
                }
                start_step = phase.end_step;
            }
        }
        Ok(lrs)
    }
}
