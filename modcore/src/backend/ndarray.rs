//! ndarray's dynamic-rank arrays as modcore [`Tensor`]s.

use ndarray::{ArcArray, ArrayD, IxDyn};

use crate::{DType, Tensor};

/// An element type ndarray arrays may hold, with its PyTorch dtype.
pub trait Element: Clone + Send + Sync + 'static {
    /// The dtype of arrays of this element.
    const DTYPE: DType;
}

macro_rules! element {
    ($($ty:ty => $dtype:ident),* $(,)?) => {
        $(impl Element for $ty { const DTYPE: DType = DType::$dtype; })*
    };
}

element!(bool => Bool, u8 => U8, i8 => I8, i16 => I16, i32 => I32, i64 => I64, u32 => U32, f32 => F32, f64 => F64);

impl<A: Element> Tensor for ArcArray<A, IxDyn> {
    type Id = usize;

    fn shape(&self) -> Vec<usize> {
        ArcArray::shape(self).to_vec()
    }

    fn dtype(&self) -> DType {
        A::DTYPE
    }

    /// The address of the first element: clones of an `ArcArray` share it.
    fn id(&self) -> usize {
        self.as_ptr() as usize
    }
}

impl<A: Element> Tensor for ArrayD<A> {
    type Id = usize;

    fn shape(&self) -> Vec<usize> {
        ArrayD::shape(self).to_vec()
    }

    fn dtype(&self) -> DType {
        A::DTYPE
    }

    /// The address of the first element (an owned array's clone is a copy, with its own id).
    fn id(&self) -> usize {
        self.as_ptr() as usize
    }
}

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
}
