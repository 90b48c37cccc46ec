//! The [`Tensor`] trait: the little modcore needs to know about a tensor.
//!
//! modcore never computes with tensors; it registers, names, finds and (later) saves them.
//! So the trait asks only for what bookkeeping needs: a shape, a dtype, an element count and
//! an identity. Real implementations live behind features (`candle`, `ndarray`).

use std::fmt;
use std::hash::Hash;

/// The element type of a tensor, named as PyTorch names it (`torch.float32` is [`DType::F32`]).
///
/// ```
/// use modcore::DType;
/// assert_eq!(DType::F32.to_string(), "torch.float32");
/// assert_eq!(DType::I64.size_in_bytes(), 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// `torch.bool`
    Bool,
    /// `torch.uint8`
    U8,
    /// `torch.int8`
    I8,
    /// `torch.int16`
    I16,
    /// `torch.int32`
    I32,
    /// `torch.int64`
    I64,
    /// `torch.uint32`
    U32,
    /// `torch.float16`
    F16,
    /// `torch.bfloat16`
    BF16,
    /// `torch.float32`
    F32,
    /// `torch.float64`
    F64,
    /// A dtype PyTorch has no name for, with the backend's own name.
    Other(&'static str),
}

impl DType {
    /// The size of one element in bytes (0 for [`DType::Other`], whose size is unknown here).
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
            DType::Other(_) => 0,
        }
    }

    /// Whether PyTorch counts this dtype as floating point (what `.to(dtype)` converts).
    pub fn is_floating_point(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            DType::Bool => "torch.bool",
            DType::U8 => "torch.uint8",
            DType::I8 => "torch.int8",
            DType::I16 => "torch.int16",
            DType::I32 => "torch.int32",
            DType::I64 => "torch.int64",
            DType::U32 => "torch.uint32",
            DType::F16 => "torch.float16",
            DType::BF16 => "torch.bfloat16",
            DType::F32 => "torch.float32",
            DType::F64 => "torch.float64",
            DType::Other(name) => name,
        };
        f.write_str(name)
    }
}

/// A tensor type modcore can register as a parameter or buffer.
///
/// Implemented for `candle_core::Tensor` (feature `candle`) and for ndarray's `ArcArray<A, IxDyn>`
/// and `ArrayD<A>` (feature `ndarray`). Implement it for your own tensor type to use modcore with
/// another backend:
///
/// ```
/// use modcore::{DType, Tensor};
///
/// #[derive(Clone)]
/// struct Scalar(std::sync::Arc<f32>);
///
/// impl Tensor for Scalar {
///     type Id = usize;
///     fn shape(&self) -> Vec<usize> { Vec::new() }
///     fn dtype(&self) -> DType { DType::F32 }
///     fn id(&self) -> usize { std::sync::Arc::as_ptr(&self.0) as usize }
/// }
///
/// let t = Scalar(std::sync::Arc::new(1.0));
/// assert_eq!(t.elem_count(), 1);
/// assert_eq!(t.id(), t.clone().id());
/// ```
pub trait Tensor: Clone + Send + Sync + 'static {
    /// What identifies a tensor's storage: two handles to the same data have equal ids.
    type Id: Copy + Eq + Hash + fmt::Debug;

    /// The dimensions, outermost first; empty for a 0-dim tensor.
    fn shape(&self) -> Vec<usize>;

    /// The element type.
    fn dtype(&self) -> DType;

    /// The identity of the underlying storage, used to notice tensors shared between entries.
    fn id(&self) -> Self::Id;

    /// The number of elements: the product of the shape (1 for a 0-dim tensor).
    fn elem_count(&self) -> usize {
        self.shape().iter().product()
    }

    /// The name this tensor type shows in error messages (PyTorch's `typename`).
    fn type_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}
