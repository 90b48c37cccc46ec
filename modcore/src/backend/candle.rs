//! `candle_core::Tensor` as a modcore [`Tensor`].

use candle_core::DType as CandleDType;

use crate::{DType, Tensor};

impl Tensor for candle_core::Tensor {
    type Id = candle_core::TensorId;

    fn shape(&self) -> Vec<usize> {
        self.dims().to_vec()
    }

    fn dtype(&self) -> DType {
        match candle_core::Tensor::dtype(self) {
            CandleDType::U8 => DType::U8,
            CandleDType::U32 => DType::U32,
            CandleDType::I16 => DType::I16,
            CandleDType::I32 => DType::I32,
            CandleDType::I64 => DType::I64,
            CandleDType::BF16 => DType::BF16,
            CandleDType::F16 => DType::F16,
            CandleDType::F32 => DType::F32,
            CandleDType::F64 => DType::F64,
            other => DType::Other(other.as_str()),
        }
    }

    fn id(&self) -> Self::Id {
        candle_core::Tensor::id(self)
    }

    fn elem_count(&self) -> usize {
        candle_core::Tensor::elem_count(self)
    }

    fn type_name(&self) -> &'static str {
        "candle_core::Tensor"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn reports_shape_dtype_and_shared_identity() {
        let t = candle_core::Tensor::zeros((2, 3), CandleDType::F32, &Device::Cpu).unwrap();
        assert_eq!(Tensor::shape(&t), vec![2, 3]);
        assert_eq!(Tensor::dtype(&t), DType::F32);
        assert_eq!(Tensor::elem_count(&t), 6);
        assert_eq!(Tensor::id(&t), Tensor::id(&t.clone()));
        let other = candle_core::Tensor::zeros((2, 3), CandleDType::I64, &Device::Cpu).unwrap();
        assert_ne!(Tensor::id(&t), Tensor::id(&other));
        assert_eq!(Tensor::dtype(&other), DType::I64);
    }
}
