//! [`Handle`]: the shared handle behind [`Parameter`](crate::Parameter) and
//! [`Buffer`](crate::Buffer).
//!
//! A handle is one tensor behind a lock, reference-counted: cloning the handle gives the same
//! value (tied weights), replacing the tensor through one handle is seen through every other, and
//! the value's address is its identity (Python's `is`), by which traversals report it once.

use std::sync::{Arc, PoisonError, RwLock};

/// A shared tensor slot with per-value state `S` (a parameter's `requires_grad`; nothing for a
/// buffer).
pub(crate) struct Handle<T, S = ()> {
    inner: Arc<Slot<T, S>>,
}

struct Slot<T, S> {
    tensor: RwLock<T>,
    state: S,
}

impl<T, S> Handle<T, S> {
    /// A new value holding `tensor`.
    pub(crate) fn new(tensor: T, state: S) -> Self {
        Handle {
            inner: Arc::new(Slot {
                tensor: RwLock::new(tensor),
                state,
            }),
        }
    }

    /// Runs `f` on the tensor without cloning it. A lock poisoned by a panic elsewhere still
    /// holds a whole tensor (writes are single assignments), so it is read through.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self
            .inner
            .tensor
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the tensor for every handle to this value.
    pub(crate) fn set(&self, tensor: T) {
        *self
            .inner
            .tensor
            .write()
            .unwrap_or_else(PoisonError::into_inner) = tensor;
    }

    /// Runs `f` on the tensor under the write lock (a read-modify-write no other handle can
    /// interleave with).
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self
            .inner
            .tensor
            .write()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// The value's own state, shared by every handle.
    pub(crate) fn state(&self) -> &S {
        &self.inner.state
    }

    /// Whether `self` and `other` are handles to the same value (Python's `is`).
    pub(crate) fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The identity used to report a shared value once.
    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.inner) as *const () as usize
    }

    /// The identity, if another handle to this value exists. A value with one handle can appear
    /// only once in a tree, so traversals skip de-duplicating it.
    #[inline]
    pub(crate) fn shared_key(&self) -> Option<usize> {
        (Arc::strong_count(&self.inner) > 1).then(|| self.key())
    }
}

impl<T, S> Clone for Handle<T, S> {
    /// Another handle to the same value.
    fn clone(&self) -> Self {
        Handle {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// The methods `Parameter` and `Buffer` share, on a `handle: Handle<T, $state>` field: reading
/// the tensor, identity, and `Clone` as another handle to the same value.
macro_rules! handle_methods {
    ($ty:ident, $state:ty, $what:literal) => {
        impl<T: Tensor> $ty<T> {
            /// The tensor's shape.
            pub fn shape(&self) -> Vec<usize> {
                self.read(Tensor::shape)
            }

            /// The tensor's dtype.
            pub fn dtype(&self) -> crate::DType {
                self.read(Tensor::dtype)
            }

            /// The number of elements of the tensor.
            pub fn elem_count(&self) -> usize {
                self.read(Tensor::elem_count)
            }

            /// Runs `f` on the tensor without cloning it.
            pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
                self.handle.read(f)
            }
        }

        impl<T> $ty<T> {
            #[doc = concat!("Whether `self` and `other` are handles to the same ", $what, " (Python's `is`).")]
            pub fn same(&self, other: &Self) -> bool {
                self.handle.same(&other.handle)
            }

            /// The shared slot this handle points to.
            pub(crate) fn handle(&self) -> &crate::tensor::handle::Handle<T, $state> {
                &self.handle
            }
        }

        impl<T> Clone for $ty<T> {
            #[doc = concat!("Another handle to the same ", $what, ": the two are tied.")]
            fn clone(&self) -> Self {
                $ty {
                    handle: self.handle.clone(),
                }
            }
        }
    };
}
pub(crate) use handle_methods;
