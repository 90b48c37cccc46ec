//! [`SGD`]: PyTorch's `torch.optim.SGD` (momentum, dampening, weight decay, Nesterov, maximize).

use serde_json::{Map, Value};

use crate::optim::optimizer::{check_lr_and_decay, invalid, py, Optim, OptimError, Update};
use crate::optim::state::{boolean, float, implementation_flags, known_keys, StateValue};

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

    fn to_group(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("lr".to_owned(), self.lr.into());
        map.insert("momentum".to_owned(), self.momentum.into());
        map.insert("dampening".to_owned(), self.dampening.into());
        map.insert("weight_decay".to_owned(), self.weight_decay.into());
        map.insert("nesterov".to_owned(), self.nesterov.into());
        map.insert("maximize".to_owned(), self.maximize.into());
        implementation_flags(&mut map, false);
        map
    }

    fn with_group(&self, group: &Map<String, Value>) -> Result<Self, String> {
        known_keys(
            group,
            &[
                "lr",
                "momentum",
                "dampening",
                "weight_decay",
                "nesterov",
                "maximize",
            ],
        )?;
        Ok(SgdOptions {
            lr: float(group, "lr")?.unwrap_or(self.lr),
            momentum: float(group, "momentum")?.unwrap_or(self.momentum),
            dampening: float(group, "dampening")?.unwrap_or(self.dampening),
            weight_decay: float(group, "weight_decay")?.unwrap_or(self.weight_decay),
            nesterov: boolean(group, "nesterov")?.unwrap_or(self.nesterov),
            maximize: boolean(group, "maximize")?.unwrap_or(self.maximize),
        })
    }

    fn save_state(state: &Vec<f32>) -> Vec<(&'static str, StateValue)> {
        vec![("momentum_buffer", StateValue::Values(state.clone()))]
    }

    fn load_state(entries: &[(String, StateValue)]) -> Result<Vec<f32>, String> {
        match entries {
            [(key, value)] if key == "momentum_buffer" => Ok(value.values()),
            _ => Err(format!(
                "expected `momentum_buffer`, got {:?}",
                entries.iter().map(|(k, _)| k).collect::<Vec<_>>()
            )),
        }
    }

    fn set_momentum(&mut self, momentum: f64) {
        self.momentum = momentum;
    }
}
