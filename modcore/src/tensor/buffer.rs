//! [`Buffer`]: a tensor a module keeps but does not learn.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crate::Tensor;

/// A tensor registered on a module that is not a parameter, PyTorch's buffer
/// (running statistics, masks, position tables).
///
/// Like [`Parameter`](crate::Parameter), a `Buffer` is a shared handle: clones are the same
/// buffer, reported once by `named_buffers`. Whether a buffer is saved in the state dict is a
/// property of the *name* it is registered under (`#[buffer(persistent = false)]` on a field, or
/// `persistent` in `register_buffer`), as in PyTorch.
///
/// ```
/// # #[cfg(feature = "ndarray")] {
/// use modcore::Buffer;
/// use ndarray::{ArcArray, IxDyn};
///
/// let mean = Buffer::new(ArcArray::<f32, IxDyn>::zeros(IxDyn(&[4])));
/// assert_eq!(mean.shape(), vec![4]);
/// assert!(mean.same(&mean.clone()));
/// # }
/// ```
pub struct Buffer<T> {
    inner: Arc<RwLock<T>>,
}

impl<T: Tensor> Buffer<T> {
    /// A new buffer holding `tensor`.
    pub fn new(tensor: T) -> Self {
        Buffer {
            inner: Arc::new(RwLock::new(tensor)),
        }
    }

    /// A handle to the current tensor.
    pub fn tensor(&self) -> T {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the tensor; every handle to this buffer sees the new value.
    pub fn set_tensor(&self, tensor: T) {
        *self.inner.write().unwrap_or_else(PoisonError::into_inner) = tensor;
    }

    /// The tensor's shape.
    pub fn shape(&self) -> Vec<usize> {
        self.read(Tensor::shape)
    }

    /// Runs `f` on the tensor without cloning it.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.inner.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl<T> Buffer<T> {
    /// Whether `self` and `other` are handles to the same buffer (Python's `is`).
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether another handle to this value exists. A value with one handle can appear only
    /// once in a tree, so traversals skip de-duplicating it.
    pub(crate) fn is_shared(&self) -> bool {
        Arc::strong_count(&self.inner) > 1
    }

    /// The identity used to report a shared buffer once.
    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.inner) as *const () as usize
    }
}

impl<T: Tensor> From<T> for Buffer<T> {
    fn from(tensor: T) -> Self {
        Buffer::new(tensor)
    }
}

impl<T> Clone for Buffer<T> {
    /// Another handle to the same buffer.
    fn clone(&self) -> Self {
        Buffer {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Tensor> fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.read(|t| write!(f, "Buffer[{} of size {:?}]", t.dtype(), t.shape()))
    }
}
