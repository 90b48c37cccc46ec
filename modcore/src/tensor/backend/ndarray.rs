//! ndarray's dynamic-rank arrays as modcore [`Tensor`]s.

use ndarray::{ArcArray, ArrayD, IxDyn};

use crate::{DType, Tensor, TensorError};

/// An element type ndarray arrays may hold, with its PyTorch dtype and byte layout.
///
/// An array holds one element type, so an ndarray tensor loads only checkpoint entries of its own
/// dtype: converting dtypes needs a backend with dynamic dtypes, such as candle.
pub trait Element: Clone + Send + Sync + 'static {
    /// The dtype of arrays of this element.
    const DTYPE: DType;
    /// Reads one element from its `DTYPE.size_in_bytes()` little-endian bytes.
    fn read(bytes: &[u8]) -> Self;
    /// Appends the element's little-endian bytes.
    fn write(&self, out: &mut Vec<u8>);
}

macro_rules! element {
    ($($ty:ty => $dtype:ident),* $(,)?) => {
        $(impl Element for $ty {
            const DTYPE: DType = DType::$dtype;
            fn read(bytes: &[u8]) -> Self {
                let mut raw = [0; std::mem::size_of::<$ty>()];
                raw.copy_from_slice(bytes);
                <$ty>::from_le_bytes(raw)
            }
            fn write(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        })*
    };
}

element!(u8 => U8, i8 => I8, i16 => I16, i32 => I32, i64 => I64, u32 => U32, f32 => F32, f64 => F64);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn read(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

fn to_bytes<A: Element>(elements: impl Iterator<Item = A>, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len * A::DTYPE.size_in_bytes());
    elements.for_each(|e| e.write(&mut out));
    out
}

fn from_bytes<A: Element>(
    dtype: DType,
    shape: &[usize],
    bytes: &[u8],
) -> Result<ArrayD<A>, TensorError> {
    if dtype != A::DTYPE {
        return Err(TensorError::new(format!(
            "an ndarray array of {} cannot hold {dtype} data",
            A::DTYPE
        )));
    }
    let size = dtype.size_in_bytes();
    let count: usize = shape.iter().product();
    if bytes.len() != count * size {
        return Err(TensorError::new(format!(
            "{} bytes cannot hold {count} elements of {dtype}",
            bytes.len()
        )));
    }
    let elements: Vec<A> = bytes.chunks_exact(size).map(A::read).collect();
    ArrayD::from_shape_vec(IxDyn(shape), elements).map_err(|e| TensorError::new(e.to_string()))
}

fn reshape<A: Element>(array: ArrayD<A>, shape: &[usize]) -> Result<ArrayD<A>, TensorError> {
    let elements: Vec<A> = array.iter().cloned().collect();
    ArrayD::from_shape_vec(IxDyn(shape), elements).map_err(|e| TensorError::new(e.to_string()))
}

/// Implements `Tensor` for an ndarray array type; `$owned` turns an `ArrayD<A>` into it.
macro_rules! array_tensor {
    ($ty:ty, $owned:expr, $id_doc:literal) => {
        impl<A: Element> Tensor for $ty {
            type Id = usize;

            fn shape(&self) -> Vec<usize> {
                ndarray::ArrayBase::shape(self).to_vec()
            }

            fn same_shape(&self, other: &Self) -> bool {
                ndarray::ArrayBase::shape(self) == ndarray::ArrayBase::shape(other)
            }

            fn dtype(&self) -> DType {
                A::DTYPE
            }

            #[doc = $id_doc]
            fn id(&self) -> usize {
                self.as_ptr() as usize
            }

            fn to_bytes(&self) -> Result<Vec<u8>, TensorError> {
                Ok(to_bytes(self.iter().cloned(), self.len()))
            }

            fn from_bytes(
                dtype: DType,
                shape: &[usize],
                bytes: &[u8],
            ) -> Result<Self, TensorError> {
                from_bytes(dtype, shape, bytes).map($owned)
            }

            fn reshape(&self, shape: &[usize]) -> Result<Self, TensorError> {
                reshape(self.to_owned(), shape).map($owned)
            }

            fn deep_copy(&self) -> Result<Self, TensorError> {
                Ok(($owned)(self.to_owned()))
            }
        }
    };
}

array_tensor!(
    ArcArray<A, IxDyn>,
    ArrayD::into_shared,
    "The address of the first element: clones of an `ArcArray` share it."
);
array_tensor!(
    ArrayD<A>,
    std::convert::identity,
    "The address of the first element (an owned array's clone is a copy, with its own id)."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_arrays_share_identity_and_report_dtype() {
        let a = ArcArray::<f32, IxDyn>::zeros(IxDyn(&[2, 3]));
        assert_eq!(Tensor::shape(&a), vec![2, 3]);
        assert_eq!(Tensor::dtype(&a), DType::F32);
        assert_eq!(Tensor::elem_count(&a), 6);
        assert_eq!(Tensor::id(&a), Tensor::id(&a.clone()));
        let b = ArrayD::<i64>::zeros(IxDyn(&[]));
        assert_eq!(Tensor::elem_count(&b), 1);
        assert_eq!(Tensor::dtype(&b), DType::I64);
    }

    #[test]
    fn bytes_round_trip_and_wrong_dtypes_are_refused() {
        let bytes: Vec<u8> = [1.5f32, -2.0, 3.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let a = <ArcArray<f32, IxDyn> as Tensor>::from_bytes(DType::F32, &[3], &bytes).unwrap();
        assert_eq!(a.to_bytes().unwrap(), bytes);
        assert_eq!(Tensor::reshape(&a, &[1, 3]).unwrap().shape(), &[1, 3]);
        let e = <ArcArray<f32, IxDyn> as Tensor>::from_bytes(DType::F64, &[3], &bytes).unwrap_err();
        assert_eq!(
            e.to_string(),
            "an ndarray array of torch.float32 cannot hold torch.float64 data"
        );
        let e = <ArrayD<f32> as Tensor>::from_bytes(DType::F32, &[4], &bytes).unwrap_err();
        assert_eq!(
            e.to_string(),
            "12 bytes cannot hold 4 elements of torch.float32"
        );
        let flags = <ArrayD<bool> as Tensor>::from_bytes(DType::Bool, &[2], &[1, 0]).unwrap();
        assert_eq!(flags.to_bytes().unwrap(), [1, 0]);
    }
}
