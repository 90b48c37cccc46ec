//! Gradient mode: PyTorch's `torch.no_grad()` and `torch.is_grad_enabled()`.
//!
//! Inside a no-grad scope, [`Parameter::tensor`](crate::Parameter::tensor) hands out detached
//! tensors, so computations on a model's parameters record no graph (for inputs that do not
//! require gradients themselves). The mode is per thread, as PyTorch's is.

use std::cell::Cell;
use std::marker::PhantomData;

thread_local! {
    /// How many no-grad scopes are open on this thread.
    static NO_GRAD_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Whether parameters record gradients on this thread: `false` inside [`no_grad`] or while a
/// [`NoGradGuard`] lives (PyTorch's `torch.is_grad_enabled()`).
///
/// ```
/// assert!(modcore::is_grad_enabled());
/// modcore::no_grad(|| assert!(!modcore::is_grad_enabled()));
/// assert!(modcore::is_grad_enabled());
/// ```
pub fn is_grad_enabled() -> bool {
    NO_GRAD_DEPTH.with(Cell::get) == 0
}

/// Runs `f` with gradients disabled on this thread: PyTorch's `with torch.no_grad():`. For
/// inference, so no graph is built through the model's parameters.
///
/// ```
/// # #[cfg(feature = "candle")] {
/// use modcore::nn::Linear;
/// use modcore::ModuleHooks;
/// let fc = Linear::new(3, 2, true)?;
/// let x = candle_core::Tensor::zeros((1, 3), candle_core::DType::F32, &candle_core::Device::Cpu)?;
/// let y = modcore::no_grad(|| fc.call(x))?;
/// assert!(!y.track_op()); // nothing to backpropagate into
/// # }
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Disables gradients on this thread until dropped (the guard form of [`no_grad`]). Guards nest.
#[must_use = "gradients are enabled again as soon as the guard is dropped"]
pub struct NoGradGuard {
    /// Not `Send`: the mode belongs to the thread that opened the scope.
    _thread: PhantomData<*const ()>,
}

impl NoGradGuard {
    /// Opens a no-grad scope on this thread.
    pub fn new() -> Self {
        NO_GRAD_DEPTH.with(|d| d.set(d.get() + 1));
        NoGradGuard {
            _thread: PhantomData,
        }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        NO_GRAD_DEPTH.with(|d| d.set(d.get() - 1));
    }
}
