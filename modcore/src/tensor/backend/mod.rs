//! [`Tensor`](crate::Tensor) implementations for real tensor crates, one per feature.
//!
//! - `candle`: `candle_core::Tensor`. Identity is candle's `TensorId`, shared by clones.
//! - `ndarray`: `ArcArray<A, IxDyn>` (clones share data, so tied tensors are noticed) and
//!   `ArrayD<A>` (owned), for `A` in `bool`, `u8`, `i8`, `i16`, `i32`, `i64`, `u32`, `f32`, `f64`.

#[cfg(feature = "candle")]
pub mod candle;
#[cfg(feature = "ndarray")]
pub mod ndarray;
