//! [`Parameter`]: a tensor a module learns, with `requires_grad`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// The tensor, and `requires_grad`.
    handle: Handle<T, AtomicBool>,
}

impl<T: Tensor> Parameter<T> {
    /// A new parameter holding `tensor`, with `requires_grad = true` (PyTorch's default).
    pub fn new(tensor: T) -> Self {
        Self::with_requires_grad(tensor, true)
    }

    /// A new parameter holding `tensor` with the given `requires_grad`.
    pub fn with_requires_grad(tensor: T, requires_grad: bool) -> Self {
        Parameter {
            handle: Handle::new(tensor, AtomicBool::new(requires_grad)),
        }
    }

    /// Replaces the tensor; every tied handle sees the new value.
    pub fn set_tensor(&self, tensor: T) {
        self.handle.set(tensor);
    }
}

impl<T> Parameter<T> {
    /// Whether gradients are computed for this parameter.
    pub fn requires_grad(&self) -> bool {
        self.handle.state().load(Ordering::Relaxed)
    }

    /// Sets `requires_grad` for this parameter and every handle tied to it.
    pub fn set_requires_grad(&self, requires_grad: bool) {
        self.handle.state().store(requires_grad, Ordering::Relaxed);
    }
}

handle_methods!(Parameter, AtomicBool, "parameter");

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
