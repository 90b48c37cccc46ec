//! [`CandleModule`]: what a module on candle adds to [`Module`]: gradients from candle's
//! backward pass, the variables candle-nn's optimizers take, and moving to a device.

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};

use crate::module::convert::{self, ApplyError};
use crate::{Module, Parameter, TensorError};

/// Training and device methods of every `Module<candle_core::Tensor>` (in the prelude).
///
/// | PyTorch | modcore |
/// |---|---|
/// | `loss.backward()` (fills every `p.grad`) | [`backward`](CandleModule::backward), or `loss.backward()?` then [`accumulate_grads`](CandleModule::accumulate_grads) |
/// | `p.grad` | [`Parameter::grad`](crate::Parameter::grad); all of them: [`Module::named_grads`] |
/// | `model.to(device)` | [`to_device`](CandleModule::to_device) |
/// | `optimizer = AdamW(model.parameters())` with candle-nn | `candle_nn::AdamW::new(model.vars(), …)` |
///
/// ```
/// use modcore::nn::Linear;
/// use modcore::prelude::*;
/// use candle_core::{Device, Tensor};
///
/// let fc = Linear::new(3, 1, true)?;
/// let x = Tensor::ones((4, 3), candle_core::DType::F32, &Device::Cpu)?;
/// let loss = fc.call(x)?.sqr()?.mean_all()?;
/// fc.backward(&loss)?;
/// let grads = fc.named_grads();
/// assert_eq!(grads.keys().collect::<Vec<_>>(), ["weight", "bias"]);
/// fc.zero_grad();
/// assert!(fc.weight.grad().is_none());
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub trait CandleModule: Module<Tensor> {
    /// PyTorch's `loss.backward()`: computes the gradients of `loss` and adds each trainable
    /// parameter's to its [`grad`](crate::Parameter::grad), so gradients accumulate over
    /// micro-batches until [`zero_grad`](Module::zero_grad).
    fn backward(&self, loss: &Tensor) -> Result<(), TensorError> {
        let grads = loss
            .backward()
            .map_err(|e| TensorError::new(e.to_string()))?;
        self.accumulate_grads(&grads)
    }

    /// Adds the gradients of a candle backward pass to the parameters that require grad: each
    /// parameter's gradient once (tied parameters are one variable), frozen parameters left
    /// alone. A parameter the pass did not reach keeps its gradient. A failure (an addition the
    /// backend refuses) changes nothing: gradients this call stored are cleared again.
    fn accumulate_grads(&self, grads: &GradStore) -> Result<(), TensorError> {
        // One pass stores every gradient whose slot is empty (the common case: one lock per
        // parameter) and sets aside those to add to; the sums are made next, and if one fails
        // the stored ones are cleared again, so a failure changes nothing.
        let mut stored: Vec<&Parameter<Tensor>> = Vec::new();
        let mut to_add: Vec<(&Parameter<Tensor>, Tensor, Tensor)> = Vec::new();
        self.visit_parameters("", true, true, &mut |_, p| {
            if !p.requires_grad() {
                return;
            }
            let Some(new) = p.read(|t| grads.get(t).map(Tensor::detach)) else {
                return;
            };
            p.update_grad(|slot| match slot {
                None => {
                    *slot = Some(new);
                    stored.push(p);
                }
                Some(old) => to_add.push((p, old.clone(), new)),
            });
        });
        let sums = to_add
            .into_iter()
            .map(|(p, old, new)| Ok((p, (old + new)?)))
            .collect::<candle_core::Result<Vec<_>>>();
        match sums {
            Ok(sums) => {
                for (p, sum) in sums {
                    p.update_grad(|slot| *slot = Some(sum));
                }
                Ok(())
            }
            Err(e) => {
                for p in stored {
                    p.set_grad(None);
                }
                Err(TensorError::new(e.to_string()))
            }
        }
    }

    /// The variable of every parameter that requires grad, in `named_parameters` order and tied
    /// parameters once: what candle-nn's optimizers take (`candle_nn::AdamW::new(model.vars(),
    /// params)`). The optimizer updates the model in place.
    fn vars(&self) -> Vec<Var> {
        let mut vars = Vec::new();
        self.visit_parameters("", true, true, &mut |_, p| vars.extend(p.var()));
        vars
    }

    /// PyTorch's `model.to(device)`: every parameter, gradient and buffer moved to `device`,
    /// children first, parameters keeping their identity (and staying leaf variables). Atomic:
    /// on failure, the error names the entry and the model is unchanged.
    fn to_device(&mut self, device: &Device) -> Result<(), ApplyError> {
        convert::apply(self.as_dyn(), &mut |t| {
            t.to_device(device)
                .map_err(|e| TensorError::new(e.to_string()))
        })
    }
}

impl<M: Module<Tensor> + ?Sized> CandleModule for M {}
