//! [`Embedding`]: PyTorch's `nn.Embedding`.

use candle_core::{DType, Tensor};

use super::Factory;

use crate::{Forward, ForwardResult, ModuleCore, Parameter};

/// A lookup table of `num_embeddings` vectors of `embedding_dim`: PyTorch's `nn.Embedding`,
/// `weight` initialised from N(0, 1). Called with integer ids of any shape; returns the ids'
/// shape plus `embedding_dim`.
///
/// [`padding_idx`](Embedding::padding_idx) is PyTorch's `padding_idx=`: that row starts at zero
/// and gets no gradient.
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
    /// The row that gets no gradient, counted from 0.
    #[module(skip)]
    padding_idx: Option<usize>,
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
            padding_idx: None,
        })
    }

    /// PyTorch's `padding_idx=`: row `padding_idx` (negative counts from the end) is zeroed and
    /// gets no gradient from then on. Fails with PyTorch's message if it is out of range.
    ///
    /// ```
    /// use modcore::nn::Embedding;
    /// use modcore::Module;
    /// let wte = Embedding::new(10, 4)?.padding_idx(-1)?;
    /// assert_eq!(wte.repr(), "Embedding(10, 4, padding_idx=9)");
    /// assert_eq!(wte.weight.tensor().get(9)?.to_vec1::<f32>()?, [0.0; 4]);
    /// assert!(Embedding::new(10, 4)?.padding_idx(10).is_err());
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn padding_idx(self, padding_idx: isize) -> candle_core::Result<Self> {
        let rows = self.weight.shape()[0];
        let index = if padding_idx < 0 {
            rows as isize + padding_idx
        } else {
            padding_idx
        };
        let index = usize::try_from(index)
            .ok()
            .filter(|&i| i < rows)
            .ok_or_else(|| {
                candle_core::Error::Msg("Padding_idx must be within num_embeddings".to_owned())
            })?;
        let weight = self.weight.tensor();
        let keep = Tensor::arange(0u32, rows as u32, weight.device())?
            .ne(index as u32)?
            .unsqueeze(1)?;
        let zeroed = keep
            .broadcast_as(weight.shape())?
            .where_cond(&weight, &weight.zeros_like()?)?;
        self.weight.set_tensor(zeroed.detach());
        Ok(Embedding {
            padding_idx: Some(index),
            ..self
        })
    }

    fn describe(&self) -> String {
        let shape = self.weight.shape();
        match self.padding_idx {
            Some(p) => format!("{}, {}, padding_idx={p}", shape[0], shape[1]),
            None => format!("{}, {}", shape[0], shape[1]),
        }
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
        let mut rows = weight.index_select(&ids, 0)?;
        if let Some(p) = self.padding_idx {
            // The padding rows' values, detached: no gradient reaches that row of the table.
            let padding = ids.to_dtype(DType::U32)?.eq(p as u32)?.unsqueeze(1)?;
            let padding = padding.broadcast_as(rows.shape())?;
            rows = padding.where_cond(&rows.detach(), &rows)?;
        }
        Ok(rows.reshape(shape)?)
    }
}
