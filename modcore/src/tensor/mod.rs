//! What the tree holds: tensors, and the two handles a module keeps them in.
//!
//! The [`Tensor`] trait (here) is the little modcore needs to know about a tensor. A module holds
//! tensors through shared handles: [`Parameter`](crate::Parameter) ([`parameter`], learned, with
//! `requires_grad`) and [`Buffer`](crate::Buffer) ([`buffer`], kept but not learned); cloning a
//! handle ties it. Real tensor types implement the trait in [`backend`], one per feature.
//!
//! modcore registers, names, finds, saves, converts and trains tensors, but does not define their
//! arithmetic. So the trait asks for what that needs: a shape, a dtype, an identity, bytes, and
//! (with defaults for backends without autograd) leaves, detaching and in-place writes. Real
//! implementations live behind features (`candle`, `ndarray`).

/// Tensor backends.
pub mod backend;
pub(crate) mod buffer;
pub(crate) mod grad_mode;
mod handle;
pub(crate) mod parameter;

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

impl DType {
    /// The legacy tensor type PyTorch's `torch.typename` gives a CPU tensor of this dtype
    /// (`torch.FloatTensor` for float32), as `ParameterDict` prints its entries.
    ///
    /// ```
    /// use modcore::DType;
    /// assert_eq!(DType::F32.legacy_type_name(), "torch.FloatTensor");
    /// assert_eq!(DType::I64.legacy_type_name(), "torch.LongTensor");
    /// ```
    pub fn legacy_type_name(&self) -> &'static str {
        match self {
            DType::Bool => "torch.BoolTensor",
            DType::U8 => "torch.ByteTensor",
            DType::I8 => "torch.CharTensor",
            DType::I16 => "torch.ShortTensor",
            DType::I32 => "torch.IntTensor",
            DType::I64 => "torch.LongTensor",
            DType::U32 => "torch.UInt32Tensor",
            DType::F16 => "torch.HalfTensor",
            DType::BF16 => "torch.BFloat16Tensor",
            DType::F32 => "torch.FloatTensor",
            DType::F64 => "torch.DoubleTensor",
            DType::Other(name) => name,
        }
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
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tensor type",
    label = "not a `modcore::Tensor`",
    note = "tensor types are `candle_core::Tensor` (feature `candle`), ndarray's `ArcArray<A, IxDyn>` and `ArrayD<A>` (feature `ndarray`), and your own types implementing `modcore::Tensor`"
)]
pub trait Tensor: Clone + Send + Sync + 'static {
    /// What identifies a tensor's storage: two handles to the same data have equal ids.
    type Id: Copy + Eq + Hash + fmt::Debug;

    /// The dimensions, outermost first; empty for a 0-dim tensor.
    fn shape(&self) -> Vec<usize>;

    /// Whether `other` has the same shape; backends compare their dimensions in place, where
    /// comparing two [`shape`](Tensor::shape)s would allocate twice.
    fn same_shape(&self, other: &Self) -> bool {
        self.shape() == other.shape()
    }

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

    /// The elements as little-endian bytes in row-major order: the layout of a safetensors file.
    fn to_bytes(&self) -> Result<Vec<u8>, TensorError> {
        Err(TensorError::unsupported::<Self>("to_bytes"))
    }

    /// A tensor made from little-endian row-major bytes (on the CPU, for device-aware backends).
    fn from_bytes(dtype: DType, shape: &[usize], bytes: &[u8]) -> Result<Self, TensorError> {
        let _ = (dtype, shape, bytes);
        Err(TensorError::unsupported::<Self>("from_bytes"))
    }

    /// The tensor converted to `dtype` (what PyTorch's `copy_` does when dtypes differ).
    fn to_dtype(&self, dtype: DType) -> Result<Self, TensorError> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        Err(TensorError::unsupported::<Self>("to_dtype"))
    }

    /// The same elements with another shape of the same element count.
    fn reshape(&self, shape: &[usize]) -> Result<Self, TensorError> {
        let _ = shape;
        Err(TensorError::unsupported::<Self>("reshape"))
    }

    /// A copy that shares no storage with `self` (PyTorch's `clone()`).
    fn deep_copy(&self) -> Result<Self, TensorError> {
        Self::from_bytes(self.dtype(), &self.shape(), &self.to_bytes()?)
    }

    /// A tensor of zeros with the shape, dtype and device of `self` (PyTorch's `zeros_like`).
    fn zeros_like(&self) -> Result<Self, TensorError> {
        let bytes = vec![0; self.elem_count() * self.dtype().size_in_bytes()];
        Self::from_bytes(self.dtype(), &self.shape(), &bytes)
    }

    // ---- autograd: what training needs. A backend without autograd (ndarray) keeps these
    // defaults, under which `requires_grad` is bookkeeping only. ----

    /// Whether this tensor is a leaf that records its gradient (candle: a `Var`).
    fn is_variable(&self) -> bool {
        false
    }

    /// These values as a leaf that records its gradient: `self` if it is one already, otherwise
    /// a copy that shares no graph and no storage with `self` (candle's `Var::from_tensor`).
    /// Without autograd, a clone.
    fn to_variable(&self) -> Result<Self, TensorError> {
        Ok(self.clone())
    }

    /// The same values cut from the graph, sharing storage: no gradient flows through the result
    /// (PyTorch's `detach()`). Without autograd, a clone.
    fn detach(&self) -> Self {
        self.clone()
    }

    /// `self` on the device `target` is on (PyTorch's `copy_` moves across devices). Single-device
    /// backends return a clone.
    fn to_device_of(&self, target: &Self) -> Result<Self, TensorError> {
        let _ = target;
        Ok(self.clone())
    }

    /// Writes `src` (same shape, dtype and device) into the storage of `self`, so every handle to
    /// that storage sees it; `Ok(false)` where the backend cannot, and the caller replaces the
    /// tensor instead. candle writes into variables (`Var::set`), which keeps them the same
    /// variable for an optimizer that holds them.
    fn write_in_place(&self, src: &Self) -> Result<bool, TensorError> {
        let _ = src;
        Ok(false)
    }
}

/// A tensor operation the backend could not perform.
///
/// ```
/// use modcore::TensorError;
/// let e = TensorError::new("cannot convert int64 to bool");
/// assert_eq!(e.to_string(), "cannot convert int64 to bool");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TensorError {
    message: String,
}

impl TensorError {
    /// An error with the backend's message.
    pub fn new(message: impl Into<String>) -> Self {
        TensorError {
            message: message.into(),
        }
    }

    fn unsupported<T: ?Sized>(operation: &str) -> Self {
        TensorError::new(format!(
            "{} does not support {operation}",
            std::any::type_name::<T>()
        ))
    }
}

/// PyTorch's spelling of a shape in messages: `torch.Size([3, 4])`.
pub(crate) fn torch_size(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("torch.Size([{}])", dims.join(", "))
}
