//! [`Parameter`]: a tensor a module learns, with `requires_grad`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

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
    inner: Arc<ParameterInner<T>>,
}

struct ParameterInner<T> {
    tensor: RwLock<T>,
    requires_grad: AtomicBool,
}

impl<T: Tensor> Parameter<T> {
    /// A new parameter holding `tensor`, with `requires_grad = true` (PyTorch's default).
    pub fn new(tensor: T) -> Self {
        Self::with_requires_grad(tensor, true)
    }

    /// A new parameter holding `tensor` with the given `requires_grad`.
    pub fn with_requires_grad(tensor: T, requires_grad: bool) -> Self {
        Parameter {
            inner: Arc::new(ParameterInner {
                tensor: RwLock::new(tensor),
                requires_grad: AtomicBool::new(requires_grad),
            }),
        }
    }

    /// A handle to the current tensor (cheap for reference-counted tensors such as candle's).
    pub fn tensor(&self) -> T {
        self.inner
            .tensor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the tensor; every tied handle sees the new value.
    pub fn set_tensor(&self, tensor: T) {
        *self
            .inner
            .tensor
            .write()
            .unwrap_or_else(PoisonError::into_inner) = tensor;
    }

    /// The tensor's shape.
    pub fn shape(&self) -> Vec<usize> {
        self.read(Tensor::shape)
    }

    /// The number of elements of the tensor.
    pub fn elem_count(&self) -> usize {
        self.read(Tensor::elem_count)
    }

    /// Runs `f` on the tensor without cloning it.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self
            .inner
            .tensor
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

impl<T> Parameter<T> {
    /// Whether gradients are computed for this parameter.
    pub fn requires_grad(&self) -> bool {
        self.inner.requires_grad.load(Ordering::Relaxed)
    }

    /// Sets `requires_grad` for this parameter and every handle tied to it.
    pub fn set_requires_grad(&self, requires_grad: bool) {
        self.inner
            .requires_grad
            .store(requires_grad, Ordering::Relaxed);
    }

    /// Whether `self` and `other` are handles to the same parameter (Python's `is`).
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether another handle to this value exists. A value with one handle can appear only
    /// once in a tree, so traversals skip de-duplicating it.
    pub(crate) fn is_shared(&self) -> bool {
        Arc::strong_count(&self.inner) > 1
    }

    /// The identity used to report a tied parameter once.
    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.inner) as *const () as usize
    }
}

impl<T> Clone for Parameter<T> {
    /// Another handle to the same parameter: the two are tied.
    fn clone(&self) -> Self {
        Parameter {
            inner: Arc::clone(&self.inner),
        }
    }
}

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
