//! [`Buffer`]: a tensor a module keeps but does not learn.

use std::fmt;

use crate::tensor::handle::{handle_methods, Handle};
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
    handle: Handle<T>,
}

impl<T: Tensor> Buffer<T> {
    /// A new buffer holding `tensor`, detached: a buffer never records gradients.
    pub fn new(tensor: T) -> Self {
        Buffer {
            handle: Handle::new(tensor.detach(), ()),
        }
    }

    /// A handle to the current tensor.
    pub fn tensor(&self) -> T {
        self.read(T::clone)
    }

    /// Replaces the tensor; every handle to this buffer sees the new value. The tensor is
    /// detached first, so an update computed from a graph (a running mean) never keeps that
    /// graph alive.
    pub fn set_tensor(&self, tensor: T) {
        self.handle.set(tensor.detach());
    }
}

handle_methods!(Buffer, (), "buffer");

impl<T: Tensor> From<T> for Buffer<T> {
    fn from(tensor: T) -> Self {
        Buffer::new(tensor)
    }
}

impl<T: Tensor> fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.read(|t| write!(f, "Buffer[{} of size {:?}]", t.dtype(), t.shape()))
    }
}
