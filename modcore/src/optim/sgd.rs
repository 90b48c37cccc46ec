//! [`SGD`]: PyTorch's `torch.optim.SGD` (momentum, dampening, weight decay, Nesterov, maximize).

use crate::optim::optimizer::{check_lr_and_decay, invalid, py, Optim, OptimError, Update};

/// PyTorch's `torch.optim.SGD`.
pub type SGD = Optim<SgdOptions>;

/// `torch.optim.SGD`'s arguments, with its defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SgdOptions {
    /// The learning rate (default `1e-3`).
    pub lr: f64,
    /// The momentum factor (default 0).
    pub momentum: f64,
    /// Dampening for momentum (default 0).
    pub dampening: f64,
    /// L2 penalty added to the gradient (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum (default `false`).
    pub nesterov: bool,
    /// Maximise the objective instead of minimising it (default `false`).
    pub maximize: bool,
}

impl Default for SgdOptions {
    fn default() -> Self {
        SgdOptions {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        }
    }
}

impl Update for SgdOptions {
    /// The momentum buffer.
    type State = Vec<f32>;

    fn check(&self) -> Result<(), OptimError> {
        check_lr_and_decay(self.lr, self.weight_decay)?;
        if self.momentum < 0.0 {
            return Err(invalid(format!(
                "Invalid momentum value: {}",
                py(self.momentum)
            )));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(invalid(
                "Nesterov momentum requires a momentum and zero dampening".to_owned(),
            ));
        }
        Ok(())
    }

    /// PyTorch's `_single_tensor_sgd`, element by element.
    fn update(&self, state: &mut Option<Vec<f32>>, values: &mut [f32], grad: &[f32]) {
        let (weight_decay, momentum) = (self.weight_decay as f32, self.momentum as f32);
        let keep = (1.0 - self.dampening) as f32;
        let first = state.is_none();
        let buffer = state.get_or_insert_with(|| vec![0.0; values.len()]);
        let step = -self.lr as f32;
        for ((p, &g), b) in values.iter_mut().zip(grad).zip(buffer.iter_mut()) {
            let mut g = if self.maximize { -g } else { g };
            if self.weight_decay != 0.0 {
                g += weight_decay * *p;
            }
            if self.momentum != 0.0 {
                *b = if first { g } else { *b * momentum + keep * g };
                g = if self.nesterov { g + momentum * *b } else { *b };
            }
            *p += step * g;
        }
        if self.momentum == 0.0 {
            // PyTorch keeps no momentum buffer without momentum.
            *state = None;
        }
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }

    fn set_momentum(&mut self, momentum: f64) {
        self.momentum = momentum;
    }
}
