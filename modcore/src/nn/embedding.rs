//! [`Embedding`]: PyTorch's `nn.Embedding`.

use candle_core::{DType, Tensor};

use super::Factory;

use crate::{Forward, ForwardResult, ModuleCore, Parameter};

/// A lookup table of `num_embeddings` vectors of `embedding_dim`: PyTorch's `nn.Embedding`,
/// `weight` initialised from N(0, 1). Called with integer ids of any shape; returns the ids'
/// shape plus `embedding_dim`.
///
/// ```
/// use modcore::nn::Embedding;
/// use modcore::{Module, ModuleHooks};
/// let wte = Embedding::new(10, 4)?;
/// assert_eq!(wte.repr(), "Embedding(10, 4)");
/// let ids = candle_core::Tensor::new(&[[1u32, 2, 3]], &candle_core::Device::Cpu)?;
/// assert_eq!(wte.call(ids)?.dims(), [1, 3, 4]);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(crate::Module)]
#[module(crate = crate, extra_repr = Embedding::describe)]
pub struct Embedding {
    core: ModuleCore,
    /// (num_embeddings, embedding_dim).
    pub weight: Parameter<Tensor>,
}

impl Embedding {
    /// A table of `num_embeddings` vectors of `embedding_dim`, on the CPU in float32.
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> candle_core::Result<Self> {
        Self::with_options(num_embeddings, embedding_dim, &Factory::default())
    }

    /// A table with `device` and `dtype` from `factory`.
    pub fn with_options(
        num_embeddings: usize,
        embedding_dim: usize,
        factory: &Factory,
    ) -> candle_core::Result<Self> {
        let weight = factory.normal(&[num_embeddings, embedding_dim])?;
        Ok(Embedding {
            core: ModuleCore::new(),
            weight: Parameter::new(weight),
        })
    }

    fn describe(&self) -> String {
        let shape = self.weight.shape();
        format!("{}, {}", shape[0], shape[1])
    }
}

impl Forward<Tensor, Tensor> for Embedding {
    type Output = Tensor;

    fn forward(&self, ids: Tensor) -> ForwardResult<Tensor> {
        let mut shape = ids.dims().to_vec();
        let ids = match ids.dtype() {
            DType::U32 | DType::I64 | DType::U8 => ids.flatten_all()?,
            other => ids
                .flatten_all()?
                .to_dtype(DType::U32)
                .map_err(|e| format!("Embedding needs integer ids, got {other:?}: {e}"))?,
        };
        let weight = self.weight.tensor();
        shape.push(weight.dim(1)?);
        Ok(weight.index_select(&ids, 0)?.reshape(shape)?)
    }
}
