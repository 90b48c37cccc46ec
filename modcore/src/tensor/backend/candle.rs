//! `candle_core::Tensor` as a modcore [`Tensor`].

use candle_core::DType as CandleDType;
use candle_core::{Device, Var};

use crate::{DType, Tensor, TensorError};

fn candle_dtype(dtype: DType) -> Result<CandleDType, TensorError> {
    Ok(match dtype {
        DType::U8 => CandleDType::U8,
        DType::U32 => CandleDType::U32,
        DType::I16 => CandleDType::I16,
        DType::I32 => CandleDType::I32,
        DType::I64 => CandleDType::I64,
        DType::BF16 => CandleDType::BF16,
        DType::F16 => CandleDType::F16,
        DType::F32 => CandleDType::F32,
        DType::F64 => CandleDType::F64,
        other => return Err(TensorError::new(format!("candle has no dtype for {other}"))),
    })
}

fn error(e: candle_core::Error) -> TensorError {
    TensorError::new(e.to_string())
}

impl Tensor for candle_core::Tensor {
    type Id = candle_core::TensorId;

    fn shape(&self) -> Vec<usize> {
        self.dims().to_vec()
    }

    fn same_shape(&self, other: &Self) -> bool {
        self.dims() == other.dims()
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

    fn to_bytes(&self) -> Result<Vec<u8>, TensorError> {
        let flat = self.flatten_all().map_err(error)?;
        let bytes = match candle_core::Tensor::dtype(self) {
            CandleDType::U8 => flat.to_vec1::<u8>().map_err(error)?,
            CandleDType::U32 => le_bytes(flat.to_vec1::<u32>().map_err(error)?, u32::to_le_bytes),
            CandleDType::I16 => le_bytes(flat.to_vec1::<i16>().map_err(error)?, i16::to_le_bytes),
            CandleDType::I32 => le_bytes(flat.to_vec1::<i32>().map_err(error)?, i32::to_le_bytes),
            CandleDType::I64 => le_bytes(flat.to_vec1::<i64>().map_err(error)?, i64::to_le_bytes),
            CandleDType::BF16 => le_bytes(
                flat.to_vec1::<half::bf16>().map_err(error)?,
                half::bf16::to_le_bytes,
            ),
            CandleDType::F16 => le_bytes(
                flat.to_vec1::<half::f16>().map_err(error)?,
                half::f16::to_le_bytes,
            ),
            CandleDType::F32 => le_bytes(flat.to_vec1::<f32>().map_err(error)?, f32::to_le_bytes),
            CandleDType::F64 => le_bytes(flat.to_vec1::<f64>().map_err(error)?, f64::to_le_bytes),
            other => {
                return Err(TensorError::new(format!(
                    "cannot serialize candle dtype {}",
                    other.as_str()
                )))
            }
        };
        Ok(bytes)
    }

    fn from_bytes(dtype: DType, shape: &[usize], bytes: &[u8]) -> Result<Self, TensorError> {
        from_bytes_on(dtype, shape, bytes, &Device::Cpu)
    }

    fn to_dtype(&self, dtype: DType) -> Result<Self, TensorError> {
        candle_core::Tensor::to_dtype(self, candle_dtype(dtype)?).map_err(error)
    }

    fn reshape(&self, shape: &[usize]) -> Result<Self, TensorError> {
        candle_core::Tensor::reshape(self, shape).map_err(error)
    }

    fn deep_copy(&self) -> Result<Self, TensorError> {
        // `copy` records a graph edge to `self`; a deep copy is a new, untracked value.
        self.detach().copy().map_err(error)
    }

    fn zeros_like(&self) -> Result<Self, TensorError> {
        candle_core::Tensor::zeros_like(self).map_err(error)
    }

    fn is_variable(&self) -> bool {
        candle_core::Tensor::is_variable(self)
    }

    fn to_variable(&self) -> Result<Self, TensorError> {
        Var::from_tensor(self).map(Var::into_inner).map_err(error)
    }

    fn detach(&self) -> Self {
        candle_core::Tensor::detach(self)
    }

    fn to_device_of(&self, target: &Self) -> Result<Self, TensorError> {
        self.to_device(target.device()).map_err(error)
    }

    fn write_in_place(&self, src: &Self) -> Result<bool, TensorError> {
        if !self.is_variable() {
            return Ok(false);
        }
        let var = Var::from_tensor(self).map_err(error)?;
        if var.set(src).is_err() {
            // `set` refuses a source that shares the variable's storage (a state dict of the
            // model itself): copy it out first.
            var.set(&src.detach().copy().map_err(error)?)
                .map_err(error)?;
        }
        Ok(true)
    }
}

/// A tensor made on `device` from little-endian row-major bytes (what
/// [`checkpoint::load_file_on`](crate::checkpoint::load_file_on) uses).
pub fn from_bytes_on(
    dtype: DType,
    shape: &[usize],
    bytes: &[u8],
    device: &Device,
) -> Result<candle_core::Tensor, TensorError> {
    // candle has no bool: PyTorch's bools (one byte each) become u8 0/1.
    let dtype = if dtype == DType::Bool {
        CandleDType::U8
    } else {
        candle_dtype(dtype)?
    };
    if device.is_cpu() {
        return match dtype {
            CandleDType::U8 => cpu_from_le(bytes, shape, u8::from_le_bytes),
            CandleDType::U32 => cpu_from_le(bytes, shape, u32::from_le_bytes),
            CandleDType::I16 => cpu_from_le(bytes, shape, i16::from_le_bytes),
            CandleDType::I32 => cpu_from_le(bytes, shape, i32::from_le_bytes),
            CandleDType::I64 => cpu_from_le(bytes, shape, i64::from_le_bytes),
            CandleDType::BF16 => cpu_from_le(bytes, shape, half::bf16::from_le_bytes),
            CandleDType::F16 => cpu_from_le(bytes, shape, half::f16::from_le_bytes),
            CandleDType::F32 => cpu_from_le(bytes, shape, f32::from_le_bytes),
            CandleDType::F64 => cpu_from_le(bytes, shape, f64::from_le_bytes),
            other => {
                candle_core::Tensor::from_raw_buffer(bytes, other, shape, device).map_err(error)
            }
        };
    }
    candle_core::Tensor::from_raw_buffer(bytes, dtype, shape, device).map_err(error)
}

/// A CPU tensor decoded from little-endian bytes into memory reserved fallibly: a file that
/// declares more than the machine can hold is an error, not an abort of the process. The vector
/// becomes the tensor's storage without a copy.
fn cpu_from_le<E: candle_core::WithDType, const N: usize>(
    bytes: &[u8],
    shape: &[usize],
    from_le: fn([u8; N]) -> E,
) -> Result<candle_core::Tensor, TensorError> {
    let count = bytes.len() / N;
    if bytes.len() % N != 0
        || shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(count)
    {
        return Err(TensorError::new(format!(
            "{} bytes cannot hold a tensor of shape {shape:?} of {}",
            bytes.len(),
            E::DTYPE.as_str()
        )));
    }
    let mut values = Vec::new();
    values.try_reserve_exact(count).map_err(|_| {
        TensorError::new(format!(
            "cannot allocate {} bytes for a tensor of shape {shape:?}",
            bytes.len()
        ))
    })?;
    values.extend(bytes.chunks_exact(N).map(|chunk| {
        let mut array = [0u8; N];
        array.copy_from_slice(chunk);
        from_le(array)
    }));
    candle_core::Tensor::from_vec(values, shape, &Device::Cpu).map_err(error)
}

fn le_bytes<E, const N: usize>(values: Vec<E>, to_le: fn(E) -> [u8; N]) -> Vec<u8> {
    values.into_iter().flat_map(to_le).collect()
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

    #[test]
    fn bytes_round_trip_for_every_dtype() {
        for dtype in [
            DType::U8,
            DType::U32,
            DType::I16,
            DType::I32,
            DType::I64,
            DType::BF16,
            DType::F16,
            DType::F32,
            DType::F64,
        ] {
            let size = dtype.size_in_bytes();
            let bytes: Vec<u8> = (0..6 * size as u8).map(|i| i % 7).collect();
            let t = <candle_core::Tensor as Tensor>::from_bytes(dtype, &[2, 3], &bytes).unwrap();
            assert_eq!(Tensor::dtype(&t), dtype);
            assert_eq!(Tensor::shape(&t), vec![2, 3]);
            assert_eq!(t.to_bytes().unwrap(), bytes, "{dtype}");
        }
        let b = <candle_core::Tensor as Tensor>::from_bytes(DType::Bool, &[2], &[1, 0]).unwrap();
        assert_eq!(Tensor::dtype(&b), DType::U8);
    }

    #[test]
    fn converts_dtype_reshapes_and_copies() {
        let t =
            <candle_core::Tensor as Tensor>::from_bytes(DType::F32, &[1], &1.5f32.to_le_bytes())
                .unwrap();
        let d = Tensor::to_dtype(&t, DType::F64).unwrap();
        assert_eq!(d.to_bytes().unwrap(), 1.5f64.to_le_bytes());
        let s = Tensor::reshape(&t, &[]).unwrap();
        assert_eq!(Tensor::shape(&s), Vec::<usize>::new());
        let c = Tensor::deep_copy(&t).unwrap();
        assert_ne!(Tensor::id(&c), Tensor::id(&t));
        assert!(Tensor::to_dtype(&t, DType::Bool).is_err());
    }
}
