//! [`Adam`] and [`AdamW`]: PyTorch's `torch.optim.Adam` and `torch.optim.AdamW` (bias
//! correction, `eps` outside the square root, `amsgrad`, `maximize`; AdamW's decoupled weight
//! decay).

use serde_json::{Map, Value};

use crate::optim::optimizer::{check_lr_and_decay, invalid, py, Optim, OptimError, Update};
use crate::optim::state::{boolean, float, implementation_flags, known_keys, StateValue};

/// PyTorch's `torch.optim.Adam`: weight decay added to the gradient (L2).
pub type Adam = Optim<AdamOptions>;

/// PyTorch's `torch.optim.AdamW`: weight decay applied to the parameter (decoupled).
pub type AdamW = Optim<AdamWOptions>;

/// What Adam keeps per parameter: PyTorch's `step`, `exp_avg`, `exp_avg_sq` and, with
/// `amsgrad`, `max_exp_avg_sq`, in float32.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamState {
    /// The number of steps taken.
    pub step: f64,
    /// The first moment.
    pub exp_avg: Vec<f32>,
    /// The second moment.
    pub exp_avg_sq: Vec<f32>,
    /// The running maximum of the second moment (`amsgrad` only).
    pub max_exp_avg_sq: Option<Vec<f32>>,
}

/// Declares an options type of the Adam family with PyTorch's defaults.
macro_rules! adam_options {
    ($(#[$doc:meta])* $name:ident, weight_decay = $decay:expr, decoupled = $decoupled:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            /// The learning rate (default `1e-3`).
            pub lr: f64,
            /// The moments' decay rates (default `(0.9, 0.999)`).
            pub betas: (f64, f64),
            /// Added to the denominator, outside the square root (default `1e-8`).
            pub eps: f64,
            /// The weight decay.
            pub weight_decay: f64,
            /// Use the maximum of past second moments (default `false`).
            pub amsgrad: bool,
            /// Maximise the objective instead of minimising it (default `false`).
            pub maximize: bool,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    lr: 1e-3,
                    betas: (0.9, 0.999),
                    eps: 1e-8,
                    weight_decay: $decay,
                    amsgrad: false,
                    maximize: false,
                }
            }
        }

        impl Update for $name {
            type State = AdamState;

            fn check(&self) -> Result<(), OptimError> {
                check(self.lr, self.eps, self.betas, self.weight_decay)
            }

            fn update(&self, state: &mut Option<AdamState>, values: &mut [f32], grad: &[f32]) {
                let hyper = Hyper {
                    lr: self.lr,
                    betas: self.betas,
                    eps: self.eps,
                    weight_decay: self.weight_decay,
                    amsgrad: self.amsgrad,
                    maximize: self.maximize,
                    decoupled: $decoupled,
                };
                adam(&hyper, state, values, grad)
            }

            fn lr(&self) -> f64 {
                self.lr
            }

            fn set_lr(&mut self, lr: f64) {
                self.lr = lr;
            }

            fn momentum(&self) -> Option<f64> {
                Some(self.betas.0)
            }

            fn to_group(&self) -> Map<String, Value> {
                let mut map = Map::new();
                map.insert("lr".to_owned(), self.lr.into());
                map.insert("betas".to_owned(), vec![self.betas.0, self.betas.1].into());
                map.insert("eps".to_owned(), self.eps.into());
                map.insert("weight_decay".to_owned(), self.weight_decay.into());
                map.insert("amsgrad".to_owned(), self.amsgrad.into());
                map.insert("maximize".to_owned(), self.maximize.into());
                implementation_flags(&mut map, true);
                map.insert("decoupled_weight_decay".to_owned(), $decoupled.into());
                map
            }

            fn with_group(&self, group: &Map<String, Value>) -> Result<Self, String> {
                let (lr, betas, eps, weight_decay, amsgrad, maximize) = read_group(
                    group,
                    (self.lr, self.betas, self.eps, self.weight_decay, self.amsgrad, self.maximize),
                    $decoupled,
                )?;
                Ok($name { lr, betas, eps, weight_decay, amsgrad, maximize })
            }

            fn save_state(state: &AdamState) -> Vec<(&'static str, StateValue)> {
                save_state(state)
            }

            fn load_state(entries: &[(String, StateValue)]) -> Result<AdamState, String> {
                load_state(entries)
            }

            fn set_momentum(&mut self, momentum: f64) {
                self.betas.0 = momentum;
            }
        }
    };
}

adam_options!(
    /// `torch.optim.Adam`'s arguments, with its defaults (`weight_decay` 0, added to the
    /// gradient).
    AdamOptions,
    weight_decay = 0.0,
    decoupled = false
);

adam_options!(
    /// `torch.optim.AdamW`'s arguments, with its defaults (`weight_decay` `1e-2`, applied to the
    /// parameter).
    AdamWOptions,
    weight_decay = 1e-2,
    decoupled = true
);

/// PyTorch's Adam checks.
fn check(lr: f64, eps: f64, betas: (f64, f64), weight_decay: f64) -> Result<(), OptimError> {
    check_lr_and_decay(lr, weight_decay)?;
    if eps < 0.0 {
        return Err(invalid(format!("Invalid epsilon value: {}", py(eps))));
    }
    for (index, beta) in [betas.0, betas.1].into_iter().enumerate() {
        if !(0.0..1.0).contains(&beta) {
            return Err(invalid(format!(
                "Invalid beta parameter at index {index}: {}",
                py(beta)
            )));
        }
    }
    Ok(())
}

/// The hyper-parameters of one Adam step.
struct Hyper {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled: bool,
}

/// PyTorch's `_single_tensor_adam` (which AdamW runs with `decoupled_weight_decay=True`), element
/// by element: scalars are computed in float64 as Python does, tensors in float32.
fn adam(h: &Hyper, state: &mut Option<AdamState>, values: &mut [f32], grad: &[f32]) {
    let n = values.len();
    let state = state.get_or_insert_with(|| AdamState {
        step: 0.0,
        exp_avg: vec![0.0; n],
        exp_avg_sq: vec![0.0; n],
        max_exp_avg_sq: h.amsgrad.then(|| vec![0.0; n]),
    });
    state.step += 1.0;
    let (beta1, beta2) = h.betas;
    let bias_correction1 = 1.0 - beta1.powf(state.step);
    let bias_correction2_sqrt = (1.0 - beta2.powf(state.step)).sqrt() as f32;
    let step_size = -(h.lr / bias_correction1) as f32;
    let decay = (1.0 - h.lr * h.weight_decay) as f32;
    let (l2, weight1, beta2_f, weight2) = (
        h.weight_decay as f32,
        (1.0 - beta1) as f32,
        beta2 as f32,
        (1.0 - beta2) as f32,
    );
    let eps = h.eps as f32;
    let mut max = state.max_exp_avg_sq.as_deref_mut();
    for i in 0..n {
        let mut g = if h.maximize { -grad[i] } else { grad[i] };
        if h.weight_decay != 0.0 {
            if h.decoupled {
                values[i] *= decay;
            } else {
                g += l2 * values[i];
            }
        }
        let m = &mut state.exp_avg[i];
        *m = lerp(*m, g, weight1);
        let v = &mut state.exp_avg_sq[i];
        *v = *v * beta2_f + weight2 * g * g;
        let second = match max.as_deref_mut() {
            Some(max) => {
                max[i] = max[i].max(*v);
                max[i]
            }
            None => *v,
        };
        let denom = second.sqrt() / bias_correction2_sqrt + eps;
        values[i] += step_size * (*m / denom);
    }
}

/// `torch.lerp(start, end, weight)` as PyTorch's kernel computes it.
fn lerp(start: f32, end: f32, weight: f32) -> f32 {
    if weight.abs() < 0.5 {
        start + weight * (end - start)
    } else {
        end - (end - start) * (1.0 - weight)
    }
}

/// The options of an Adam group: `lr, betas, eps, weight_decay, amsgrad, maximize`.
type AdamGroup = (f64, (f64, f64), f64, f64, bool, bool);

/// A saved Adam-family group over the current options; `decoupled` must match the saved
/// `decoupled_weight_decay` (an Adam state does not load into AdamW).
fn read_group(
    group: &Map<String, Value>,
    current: AdamGroup,
    decoupled: bool,
) -> Result<AdamGroup, String> {
    // `decoupled_weight_decay` is PyTorch's own key for the two kinds of Adam.
    let keys = [
        "lr",
        "betas",
        "eps",
        "weight_decay",
        "amsgrad",
        "maximize",
        "decoupled_weight_decay",
    ];
    known_keys(group, &keys)?;
    if let Some(saved) = boolean(group, "decoupled_weight_decay")? {
        if saved != decoupled {
            return Err(format!(
                "`decoupled_weight_decay` is {saved}, this optimizer's is {decoupled}"
            ));
        }
    }
    let betas = match group.get("betas") {
        None => current.1,
        Some(v) => match v
            .as_array()
            .map(|a| a.iter().map(Value::as_f64).collect::<Vec<_>>())
        {
            Some(b) if b.len() == 2 && b.iter().all(Option::is_some) => {
                (b[0].unwrap_or_default(), b[1].unwrap_or_default())
            }
            _ => return Err(format!("`betas` is {v}, not two numbers")),
        },
    };
    Ok((
        float(group, "lr")?.unwrap_or(current.0),
        betas,
        float(group, "eps")?.unwrap_or(current.2),
        float(group, "weight_decay")?.unwrap_or(current.3),
        boolean(group, "amsgrad")?.unwrap_or(current.4),
        boolean(group, "maximize")?.unwrap_or(current.5),
    ))
}

fn save_state(state: &AdamState) -> Vec<(&'static str, StateValue)> {
    let mut entries = vec![
        ("step", StateValue::Scalar(state.step)),
        ("exp_avg", StateValue::Values(state.exp_avg.clone())),
        ("exp_avg_sq", StateValue::Values(state.exp_avg_sq.clone())),
    ];
    if let Some(max) = &state.max_exp_avg_sq {
        entries.push(("max_exp_avg_sq", StateValue::Values(max.clone())));
    }
    entries
}

fn load_state(entries: &[(String, StateValue)]) -> Result<AdamState, String> {
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    if let Some((key, _)) = entries
        .iter()
        .find(|(k, _)| !["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"].contains(&k.as_str()))
    {
        return Err(format!("unknown entry `{key}`"));
    }
    let missing = |key: &str| format!("no `{key}`");
    let state = AdamState {
        step: get("step")
            .and_then(StateValue::scalar)
            .ok_or_else(|| missing("step"))?,
        exp_avg: get("exp_avg").ok_or_else(|| missing("exp_avg"))?.values(),
        exp_avg_sq: get("exp_avg_sq")
            .ok_or_else(|| missing("exp_avg_sq"))?
            .values(),
        max_exp_avg_sq: get("max_exp_avg_sq").map(StateValue::values),
    };
    Ok(state)
}
