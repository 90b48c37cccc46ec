//! [`Parameter`]: a tensor a module learns, with `requires_grad`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use crate::tensor::grad_mode::is_grad_enabled;
use crate::tensor::handle::{handle_methods, Handle};
use crate::Tensor;

/// A learnable tensor registered on a module, PyTorch's `nn.Parameter`.
///
/// A `Parameter` is a shared handle: cloning it gives a second handle to the *same* parameter,
/// which is how weights are tied. Tied handles have one identity, so traversal reports them once
/// (as PyTorch's `named_parameters` does), and replacing the tensor through one handle is seen
/// through the other.
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::Parameter;
/// use ndarray::{ArcArray, IxDyn};
///
/// let w = Parameter::new(ArcArray::<f32, IxDyn>::zeros(IxDyn(&[2, 3])));
/// let tied = w.clone();
/// assert!(w.same(&tied));
/// assert!(w.requires_grad());
/// tied.set_requires_grad(false);
/// assert!(!w.requires_grad());
/// assert_eq!(w.shape(), vec![2, 3]);
/// # }
/// ```
pub struct Parameter<T> {
    /// The tensor (a leaf variable while gradients are recorded for it), `requires_grad` and
    /// the gradient.
    handle: Handle<T, ParameterState<T>>,
}

/// What a parameter keeps besides its tensor, shared by every tied handle.
pub(crate) struct ParameterState<T> {
    requires_grad: AtomicBool,
    /// PyTorch's `.grad`.
    grad: RwLock<Option<T>>,
    /// The detached handle of the current tensor, made on first use and cleared when the tensor
    /// is replaced: every name of a tied parameter, and every state dict, gets the same one.
    detached: RwLock<Option<T>>,
}

impl<T: Tensor> Parameter<T> {
    /// A new parameter holding `tensor`, with `requires_grad = true` (PyTorch's default).
    ///
    /// On candle the parameter holds a leaf variable (a `Var`), so `backward()` computes its
    /// gradient; a tensor that is not a variable yet is copied into one, as PyTorch's
    /// `nn.Parameter(t)` makes a leaf.
    ///
    /// # Panics
    ///
    /// If the backend cannot allocate that copy (a GPU out of memory; a CPU copy cannot fail).
    pub fn new(tensor: T) -> Self {
        Self::with_requires_grad(tensor, true)
    }

    /// A new parameter holding `tensor` with the given `requires_grad`. Panics as
    /// [`new`](Parameter::new) does.
    pub fn with_requires_grad(tensor: T, requires_grad: bool) -> Self {
        let tensor = if requires_grad { leaf(&tensor) } else { tensor };
        Parameter {
            handle: Handle::new(
                tensor,
                ParameterState {
                    requires_grad: AtomicBool::new(requires_grad),
                    grad: RwLock::new(None),
                    detached: RwLock::new(None),
                },
            ),
        }
    }

    /// The tensor to compute with (cheap for reference-counted tensors such as candle's): the
    /// leaf variable itself while gradients are recorded for this parameter, a detached handle to
    /// the same storage when `requires_grad` is off or inside [`no_grad`](crate::no_grad), so
    /// nothing is tracked through it.
    pub fn tensor(&self) -> T {
        if self.requires_grad() && is_grad_enabled() {
            self.read(T::clone)
        } else {
            self.detached()
        }
    }

    /// The tensor detached from any graph, sharing storage: what `state_dict` holds (PyTorch's
    /// `param.detach()`). The same detached tensor (one id) until the tensor changes.
    pub fn detached(&self) -> T {
        let cache = &self.state().detached;
        // A cached handle is returned without the tensor's lock: a replacement clears the cache
        // before it releases the tensor's write lock, so a handle found here belongs to the
        // tensor as it was before any replacement still in progress (that read comes first).
        if let Some(detached) = &*cache.read().unwrap_or_else(PoisonError::into_inner) {
            return detached.clone();
        }
        // Filled under the tensor's read lock, which a replacement waits for, so the cache
        // always belongs to the tensor read here.
        self.read(|tensor| {
            if let Some(detached) = &*cache.read().unwrap_or_else(PoisonError::into_inner) {
                return detached.clone();
            }
            let detached = tensor.detach();
            *cache.write().unwrap_or_else(PoisonError::into_inner) = Some(detached.clone());
            detached
        })
    }

    /// Stores `tensor` as is (a leaf already, if the parameter requires grad).
    pub(crate) fn replace(&self, tensor: T) {
        self.handle.update(|slot| {
            *slot = tensor;
            *self
                .state()
                .detached
                .write()
                .unwrap_or_else(PoisonError::into_inner) = None;
        });
    }

    /// Replaces the tensor; every tied handle sees the new value (PyTorch's `p.data = t`). While
    /// `requires_grad` is on, the new tensor becomes a leaf variable (copied unless it is one).
    /// The gradient is kept. Panics as [`new`](Parameter::new) does.
    pub fn set_tensor(&self, tensor: T) {
        let tensor = if self.requires_grad() {
            leaf(&tensor)
        } else {
            tensor
        };
        self.replace(tensor);
    }

    /// Sets `requires_grad` for this parameter and every handle tied to it (PyTorch's
    /// `p.requires_grad_(flag)`). Turning it off is a flag flip: [`tensor`](Parameter::tensor)
    /// then hands out detached tensors, so no gradient is computed through the parameter.
    /// Turning it back on makes the tensor a leaf variable again (the same variable if it was
    /// one; a copy otherwise). Panics as [`new`](Parameter::new) does.
    pub fn set_requires_grad(&self, requires_grad: bool) {
        if requires_grad && !self.read(T::is_variable) {
            self.replace(self.read(leaf));
        }
        self.state()
            .requires_grad
            .store(requires_grad, Ordering::Relaxed);
    }

    /// The gradient accumulated so far (PyTorch's `p.grad`); `None` before the first backward
    /// pass and after [`zero_grad`](crate::Module::zero_grad).
    pub fn grad(&self) -> Option<T> {
        self.state()
            .grad
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets or clears the gradient (PyTorch's `p.grad = g`).
    pub fn set_grad(&self, grad: Option<T>) {
        *self
            .state()
            .grad
            .write()
            .unwrap_or_else(PoisonError::into_inner) = grad;
    }

    /// PyTorch's `param.copy_(value)` under `no_grad`, for a `value` a load has planned (the
    /// parameter's shape, dtype and device; its own storage unless the parameter is a variable):
    /// written into the variable in place, so the parameter stays the variable an optimizer
    /// holds; otherwise the tensor is replaced.
    pub(crate) fn copy_planned(&self, value: T) {
        if !self.read(|t| t.write_in_place(&value)).unwrap_or(false) {
            self.set_tensor(value);
        }
    }

    /// Runs `f` on the gradient slot, under its lock: how a backward pass accumulates into it.
    #[cfg(feature = "candle")]
    pub(crate) fn update_grad<R>(&self, f: impl FnOnce(&mut Option<T>) -> R) -> R {
        f(&mut self
            .state()
            .grad
            .write()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

/// `tensor` as a leaf variable; see the panics of [`Parameter::new`].
fn leaf<T: Tensor>(tensor: &T) -> T {
    match tensor.to_variable() {
        Ok(leaf) => leaf,
        Err(e) => panic!("cannot make a parameter's leaf variable: {e}"),
    }
}

impl<T> Parameter<T> {
    /// Whether gradients are computed for this parameter.
    pub fn requires_grad(&self) -> bool {
        self.state().requires_grad.load(Ordering::Relaxed)
    }

    fn state(&self) -> &ParameterState<T> {
        self.handle.state()
    }
}

#[cfg(feature = "candle")]
impl Parameter<candle_core::Tensor> {
    /// The parameter's candle variable while it requires grad, for candle-nn's optimizers
    /// (`candle_nn::AdamW::new(vars, …)`): the optimizer writes into the variable, and the
    /// parameter sees every step. `None` for a frozen parameter.
    pub fn var(&self) -> Option<candle_core::Var> {
        if !self.requires_grad() {
            return None;
        }
        // Only a variable itself: `Var::from_tensor` would copy anything else, and the optimizer
        // would then train a tensor the parameter does not hold.
        self.read(|t| {
            t.is_variable()
                .then(|| candle_core::Var::from_tensor(t).ok())
                .flatten()
        })
    }
}

handle_methods!(Parameter, ParameterState<T>, "parameter");

impl<T: Tensor> fmt::Debug for Parameter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.read(|t| {
            write!(
                f,
                "Parameter containing: [{} of size {:?}]",
                t.dtype(),
                t.shape()
            )
        })
    }
}
