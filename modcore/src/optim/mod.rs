//! `torch.optim` for modcore (candle backend): optimizers with PyTorch's update formulas,
//! defaults and `ValueError`s, over parameter groups chosen by name.
//!
//! A model's parameters go into [`ParamGroups`] (every parameter in one group, then split by
//! pattern or predicate); an optimizer ([`SGD`], [`Adam`], [`AdamW`]) is built from the groups
//! and keeps each parameter's handle, its name and its state. [`Optimizer::step`] reads each
//! gradient from [`Parameter::grad`](crate::Parameter::grad), where
//! `model.backward(&loss)` put it, and writes the update into the parameter.
//!
//! | PyTorch | modcore |
//! |---|---|
//! | `SGD(model.parameters(), lr=0.1, momentum=0.9)` | `SGD::from_model(&model, SgdOptions { lr: 0.1, momentum: 0.9, ..Default::default() })?` |
//! | `AdamW([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}])` | `AdamW::new(ParamGroups::new(&model, options).split_by(…, no_decay))?` |
//! | `optimizer.step()`, `optimizer.zero_grad()` | [`Optimizer::step`], [`Optimizer::zero_grad`] |
//! | `optimizer.param_groups[i]["lr"]` | [`Optimizer::lr`], [`Optimizer::set_lr`], [`Optim::param_groups`] |
//! | `optimizer.state[p]` (`exp_avg`, `momentum_buffer`, …) | kept per parameter, in float32 |
//!
//! Differences from PyTorch, deliberate: state is float32 for every parameter dtype (PyTorch keeps
//! it in the parameter's dtype); the update runs on the host (see [`optimizer`]'s docs), one
//! parameter at a time (PyTorch's `foreach=False` order of operations).

mod adam;
mod group;
pub mod lr_scheduler;
pub mod optimizer;
mod sgd;
pub mod state;

pub use adam::{Adam, AdamOptions, AdamState, AdamW, AdamWOptions};
pub use group::{ParamGroup, ParamGroups};
pub use optimizer::{Optim, OptimError, Optimizer, Update};
pub use sgd::{SgdOptions, SGD};
pub use state::{load_file, save_file, OptimizerState, StateError, StateValue};
